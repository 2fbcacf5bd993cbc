//! Query-string pagination: `page`/`limit` on the registry surfaces, `limit`/`offset` on `/api/v1`.

use std::collections::HashMap;

use serde::Serialize;
use talon_domain::ValidationErrors;
use utoipa::ToSchema;

use crate::api::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

fn number(
    params: &HashMap<String, String>,
    name: &str,
    min: i64,
    max: i64,
    default: i64,
    errors: &mut ValidationErrors,
) -> i64 {
    match params.get(name) {
        None => default,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.add(name, format!("Must be an integer from {min} to {max}"));
                default
            }
        },
    }
}

/// `page` (from 1) and `limit` (1 to 100); returns `(page, limit, offset)`.
pub fn page_and_limit(params: &HashMap<String, String>) -> Result<(i64, i64, i64), ApiError> {
    let mut errors = ValidationErrors::new();
    let page = number(params, "page", 1, i64::from(i32::MAX), 1, &mut errors);
    let limit = number(params, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &mut errors);
    errors.finish((page, limit, (page - 1) * limit)).map_err(ApiError::validation)
}

/// `limit` (1 to 100) and `offset` (from 0).
pub fn limit_and_offset(params: &HashMap<String, String>) -> Result<(i64, i64), ApiError> {
    let mut errors = ValidationErrors::new();
    let limit = number(params, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, &mut errors);
    let offset = number(params, "offset", 0, i64::MAX / 2, 0, &mut errors);
    errors.finish((limit, offset)).map_err(ApiError::validation)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: i64,
    pub limit: i64,
    pub total: i64,
    pub total_pages: i64,
}

impl Pagination {
    pub fn new(page: i64, limit: i64, total: i64) -> Self {
        Pagination { page, limit, total, total_pages: (total + limit - 1) / limit }
    }
}
