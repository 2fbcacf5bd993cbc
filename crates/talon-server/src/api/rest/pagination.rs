//! Query-string pagination: `page`/`limit` on the registry surfaces, with keyset cursors
//! (`startingAfter`/`endingBefore`) beside them on the lists that grow without bound, and
//! `limit`/`offset` on `/api/v1`.

use serde::{Deserialize, Serialize};
use talon_domain::validation::ValidationErrors;
use talon_store::{Page, Window};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::error::ApiError;
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

/// `?page=&limit=`, or instead of `page` a cursor: `startingAfter` (the items after this one, in list
/// order) or `endingBefore` (the items just before it). A cursor costs the same however deep it is;
/// a page number costs in proportion to its depth. Each list declares these parameters with the pattern
/// of its own ids (`AgentListQuery`, `ListTasksQuery`) and hands them over here.
#[derive(Debug, Default)]
pub struct CursorPageQuery {
    pub page: Option<Bounded<1, 2147483647>>,
    pub limit: Option<Bounded<1, MAX_LIMIT>>,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

impl CursorPageQuery {
    /// The window to read and its page number (none when read by cursor); `parse` reads an item id of
    /// this list (`agent_…`, `task_…`), and a cursor it cannot read is a 400 naming the parameter.
    pub fn window(&self, parse: impl Fn(&str) -> Option<Uuid>) -> Result<(Option<i64>, Window), ApiError> {
        let limit = self.limit.map_or(DEFAULT_LIMIT, Bounded::get);
        let cursor = |name: &str, raw: &str| {
            parse(raw).ok_or_else(|| {
                ApiError::validation(ValidationErrors::single(name, "must be the id of an item of this list"))
            })
        };
        match (&self.starting_after, &self.ending_before, self.page) {
            (Some(_), Some(_), _) => Err(ApiError::validation(ValidationErrors::single(
                "endingBefore",
                "give startingAfter or endingBefore, not both",
            ))),
            (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
                Err(ApiError::validation(ValidationErrors::single("page", "give a page or a cursor, not both")))
            }
            (Some(after), None, None) => Ok((None, Window::After { id: cursor("startingAfter", after)?, limit })),
            (None, Some(before), None) => Ok((None, Window::Before { id: cursor("endingBefore", before)?, limit })),
            (None, None, page) => {
                let page = page.map_or(1, Bounded::get);
                Ok((Some(page), Window::Offset { offset: (page - 1) * limit, limit }))
            }
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// The page number; absent when the page was read by cursor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    pub limit: i64,
    pub total: i64,
    pub total_pages: i64,
    /// Whether more items lie beyond this page, in the direction it was read.
    pub has_more: bool,
    /// When more items lie beyond this page, the cursor that reads them: pass it as `startingAfter`
    /// (or, for a page read with `endingBefore`, as `endingBefore`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl Pagination {
    /// The pagination of a page read by number from a list without cursors.
    pub fn new(page: i64, limit: i64, total: i64) -> Self {
        Pagination {
            page: Some(page),
            limit,
            total,
            total_pages: total_pages(total, limit),
            has_more: page.saturating_mul(limit) < total,
            next_cursor: None,
        }
    }

    /// The pagination of a window read from a list with cursors; `id` names an item as the cursor
    /// parameters take it.
    pub fn of_window<T>(page: Option<i64>, window: Window, read: &Page<T>, id: impl Fn(&T) -> String) -> Self {
        let limit = window.limit();
        let edge = match window {
            Window::Before { .. } => read.items.first(),
            Window::Offset { .. } | Window::After { .. } => read.items.last(),
        };
        Pagination {
            page,
            limit,
            total: read.total,
            total_pages: total_pages(read.total, limit),
            has_more: read.has_more,
            next_cursor: edge.filter(|_| read.has_more).map(id),
        }
    }
}

fn total_pages(total: i64, limit: i64) -> i64 {
    (total + limit - 1) / limit
}
