//! How the marketplace is run: its fee, how long a delivery waits for approval, sandbox deposits,
//! where uploads go, and the address its links point at.

use std::path::PathBuf;
use std::time::Duration;

use talon_domain::marketplace::FeeRate;

/// Uploads larger than this are refused with 413.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
pub const DEFAULT_AUTO_APPROVE: Duration = Duration::from_secs(72 * 3600);

#[derive(Debug, Clone)]
pub struct MarketplaceSettings {
    /// Taken from each release (`TALON_MARKETPLACE_FEE_BPS`, default 1000 = 10 %).
    pub fee: FeeRate,
    /// A delivered contract is approved on its own this long after delivery.
    pub auto_approve_after: Duration,
    /// Anyone may credit their own wallet (`POST /api/v1/wallet/deposits`): for trying the marketplace
    /// out, never for real money.
    pub sandbox: bool,
    /// Where uploaded files are kept (`<data dir>/uploads` by default).
    pub uploads_dir: PathBuf,
    pub max_upload_bytes: usize,
    /// The server's public address, for the links it hands out (`claim_url`, `deliver_url`, …).
    pub public_url: String,
}

impl Default for MarketplaceSettings {
    fn default() -> Self {
        Self {
            fee: FeeRate::default(),
            auto_approve_after: DEFAULT_AUTO_APPROVE,
            sandbox: false,
            uploads_dir: PathBuf::from("./talon-data/uploads"),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            public_url: "http://127.0.0.1:3000".to_owned(),
        }
    }
}
