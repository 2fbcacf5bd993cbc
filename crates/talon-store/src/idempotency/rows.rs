//! Idempotency rows and their conversion into reservations.

use crate::{Reservation, StoredResponse};

#[derive(sqlx::FromRow)]
pub(crate) struct IdempotencyRow {
    pub fingerprint: Vec<u8>,
    pub response_status: Option<i32>,
    pub response_content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
}

impl IdempotencyRow {
    pub fn into_reservation(self) -> Reservation {
        match (self.response_status, self.response_body) {
            (Some(status), Some(body)) => Reservation::Completed {
                fingerprint: self.fingerprint,
                response: StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    content_type: self.response_content_type,
                    body,
                },
            },
            _ => Reservation::InFlight { fingerprint: self.fingerprint },
        }
    }
}
