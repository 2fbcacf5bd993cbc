//! Reading a list a window at a time: by position (`page`/`limit`, an offset) or by keyset (the rows
//! after or before a row's id), which costs the same on the millionth row as on the first.

use uuid::Uuid;

use crate::db::Bind;

/// One window of a list: its rows in list order, how many rows the whole list has, and whether more
/// rows lie beyond the window in the direction it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// A window read by position: more rows follow when the window ends before the total.
    pub fn positioned(items: Vec<T>, total: i64, offset: i64) -> Page<T> {
        let has_more = offset + (items.len() as i64) < total;
        Page { items, total, has_more }
    }
}

/// Which rows of a list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// `limit` rows from position `offset`.
    Offset { offset: i64, limit: i64 },
    /// `limit` rows after the row with this id, in list order.
    After { id: Uuid, limit: i64 },
    /// The `limit` rows just before the row with this id, in list order.
    Before { id: Uuid, limit: i64 },
}

/// The direction of a list's order by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Ascending,
    Descending,
}

/// A window as SQL over a list ordered by `column`: the condition to add, the `ORDER BY … LIMIT …` tail
/// (one row more than asked, which tells whether more follow), and whether the rows come back in
/// reverse list order. Its parameters, from `$n` on, are bound by `Window::bind`: the cursor (if any),
/// the row limit, the offset (if any); bound rather than written in, so that every page of a list is
/// one prepared statement.
pub(crate) struct WindowSql {
    pub condition: Option<String>,
    pub tail: String,
    pub reversed: bool,
}

impl Window {
    pub fn limit(&self) -> i64 {
        match *self {
            Window::Offset { limit, .. } | Window::After { limit, .. } | Window::Before { limit, .. } => limit,
        }
    }

    /// Binds the parameters of `sql`'s condition and tail, in their order.
    pub(crate) fn bind<'q, Q: Bind<'q>>(&self, query: Q) -> Q {
        match *self {
            Window::Offset { offset, limit } => query.bind(limit + 1).bind(offset),
            Window::After { id, limit } | Window::Before { id, limit } => query.bind(id).bind(limit + 1),
        }
    }

    /// The SQL of this window over `column` in `order`; `n` is the number of its first parameter.
    pub(crate) fn sql(&self, column: &str, order: Order, n: usize) -> WindowSql {
        let (forward, backward) = match order {
            Order::Ascending => (("ASC", ">"), ("DESC", "<")),
            Order::Descending => (("DESC", "<"), ("ASC", ">")),
        };
        match *self {
            Window::Offset { .. } => WindowSql {
                condition: None,
                tail: format!("ORDER BY {column} {} LIMIT ${n} OFFSET ${}", forward.0, n + 1),
                reversed: false,
            },
            Window::After { .. } => WindowSql {
                condition: Some(format!("{column} {} ${n}", forward.1)),
                tail: format!("ORDER BY {column} {} LIMIT ${}", forward.0, n + 1),
                reversed: false,
            },
            Window::Before { .. } => WindowSql {
                condition: Some(format!("{column} {} ${n}", backward.1)),
                tail: format!("ORDER BY {column} {} LIMIT ${}", backward.0, n + 1),
                reversed: true,
            },
        }
    }

    /// The window's page from the rows `sql` read (up to one more than the limit).
    pub(crate) fn page<T>(&self, mut rows: Vec<T>, total: i64, reversed: bool) -> Page<T> {
        let limit = usize::try_from(self.limit()).unwrap_or(0);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        if reversed {
            rows.reverse();
        }
        Page { items: rows, total, has_more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_tells_that_more_follow_and_is_not_returned() {
        let window = Window::Offset { offset: 0, limit: 2 };
        assert_eq!(window.page(vec![1, 2, 3], 9, false), Page { items: vec![1, 2], total: 9, has_more: true });
        assert_eq!(window.page(vec![1, 2], 2, false), Page { items: vec![1, 2], total: 2, has_more: false });
    }

    #[test]
    fn a_window_before_a_row_reads_backwards_and_returns_list_order() {
        let window = Window::Before { id: Uuid::nil(), limit: 2 };
        let sql = window.sql("t.id", Order::Descending, 4);
        assert_eq!(sql.condition.as_deref(), Some("t.id > $4"));
        assert_eq!(sql.tail, "ORDER BY t.id ASC LIMIT $5");
        assert!(sql.reversed);
        assert_eq!(window.page(vec![7, 8, 9], 9, true), Page { items: vec![8, 7], total: 9, has_more: true });
    }

    #[test]
    fn a_window_after_a_row_continues_in_list_order() {
        let sql = Window::After { id: Uuid::nil(), limit: 20 }.sql("a.id", Order::Ascending, 2);
        assert_eq!(sql.condition.as_deref(), Some("a.id > $2"));
        assert_eq!(sql.tail, "ORDER BY a.id ASC LIMIT $3");
        assert!(!sql.reversed);
        let offset = Window::Offset { offset: 40, limit: 20 }.sql("a.id", Order::Ascending, 2);
        assert_eq!(offset.condition, None);
        assert_eq!(offset.tail, "ORDER BY a.id ASC LIMIT $2 OFFSET $3");
    }
}
