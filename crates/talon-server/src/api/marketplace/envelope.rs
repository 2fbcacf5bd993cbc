//! The ClawGig SDK's response shapes: every success is `{"data": …}`, and a page object sits inside
//! that envelope whole (`{"data": {"data": [...], "total", "limit", "offset"}}`), since the SDK unwraps
//! one `data` and reads `total` from what is left.

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// `{"data": T}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// One page of a filtered list: `total` counts every match, not just this page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T> {
    pub data: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// `{"message": …}`, what deletions and confirmations answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

impl Message {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// 200 with `{"data": value}`.
pub fn ok<T: Serialize>(value: T) -> Json<Data<T>> {
    Json(Data { data: value })
}

/// 201 with `{"data": value}`.
pub fn created<T: Serialize>(value: T) -> (StatusCode, Json<Data<T>>) {
    (StatusCode::CREATED, Json(Data { data: value }))
}
