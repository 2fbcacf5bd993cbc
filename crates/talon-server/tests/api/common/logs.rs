//! Everything the tests of this binary log at `info` and above, as JSON lines. The subscriber is global
//! to the process, so it is installed once for every test that reads the log; each reads only the lines
//! of its own requests or webhooks.

use std::io::Write;
use std::sync::{Mutex, Once};

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (once per process); the server logs at its default level, `info`.
pub fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt().json().with_max_level(tracing::Level::INFO).with_writer(|| Capture).init();
    });
}

/// The parsed JSON lines logged so far.
pub fn lines() -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
}

/// Everything logged so far, as text.
pub fn text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}
