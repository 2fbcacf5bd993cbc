//! What the portable statements cannot share: how each database claims rows under concurrency (tasks
//! keep theirs in `tasks::postgres` and `tasks::sqlite`), and how it reads into JSON text.

/// The statements and choices that differ between the databases; `sqlite::DIALECT` and
/// `postgres::DIALECT` fill it in.
pub(crate) struct Dialect {
    /// Reads undispatched outbox events inside the fan-out transaction.
    pub pending_events: &'static str,
    /// Whether the fair delivery pick runs on a reader before the claim (one claimer per database),
    /// rather than inside the claim statement (`claim_deliveries`).
    pub pick_on_reader: bool,
    /// Picks and claims deliveries in one statement; `RETURNING` follows. Unused with `pick_on_reader`.
    pub claim_deliveries: fn() -> String,
    /// The delivery columns a claim returns.
    pub delivery_returning: fn() -> String,
    /// How many cases a dataset's `cases` (JSON text) holds, as a BIGINT: datasets are listed without
    /// reading their cases out.
    pub dataset_case_count: &'static str,
}
