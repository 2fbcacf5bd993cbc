//! Query-string pagination: `page`/`limit` on the registry surfaces, `limit`/`offset` on `/api/v1`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::extract::Bounded;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// `?page=&limit=`: pages from 1, 1 to 100 items a page (20 unless asked).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page, from 1.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 2147483647, default = 1)]
    page: Option<Bounded<1, 2147483647>>,
    /// Items a page, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<Bounded<1, MAX_LIMIT>>,
}

impl PageQuery {
    /// `(page, limit, offset)`.
    pub fn resolve(&self) -> (i64, i64, i64) {
        let page = self.page.map_or(1, Bounded::get);
        let limit = self.limit.map_or(DEFAULT_LIMIT, Bounded::get);
        (page, limit, (page - 1) * limit)
    }
}

/// `?limit=&offset=`: 1 to 100 items (20 unless asked), skipping `offset` from 0.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitOffsetQuery {
    /// Items to return, 1 to 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<Bounded<1, MAX_LIMIT>>,
    /// Items to skip, from 0.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4611686018427387903_i64, default = 0)]
    offset: Option<Bounded<0, 4611686018427387903>>,
}

impl LimitOffsetQuery {
    /// `(limit, offset)`.
    pub fn resolve(&self) -> (i64, i64) {
        (self.limit.map_or(DEFAULT_LIMIT, Bounded::get), self.offset.map_or(0, Bounded::get))
    }
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
