//! Binding written once for both databases, so a domain value's argument list lives in one function.

use sqlx::postgres::PgArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Encode, Postgres, Sqlite, Type};

/// A value both databases can bind.
pub(crate) trait Value<'q>:
    'q + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres>
{
}

impl<'q, T> Value<'q> for T where T: 'q + Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> {}

/// A statement of either database, so binders such as `agents::rows::bind_agent` are written once:
/// `fn bind_x<'q, Q: Bind<'q>>(query: Q, x: &X) -> Q`.
pub(crate) trait Bind<'q>: Sized {
    fn bind<T: Value<'q>>(self, value: T) -> Self;
}

impl<'q> Bind<'q> for Query<'q, Sqlite, SqliteArguments<'q>> {
    fn bind<T: Value<'q>>(self, value: T) -> Self {
        Query::bind(self, value)
    }
}

impl<'q> Bind<'q> for Query<'q, Postgres, PgArguments> {
    fn bind<T: Value<'q>>(self, value: T) -> Self {
        Query::bind(self, value)
    }
}

impl<'q, O> Bind<'q> for QueryAs<'q, Sqlite, O, SqliteArguments<'q>> {
    fn bind<T: Value<'q>>(self, value: T) -> Self {
        QueryAs::bind(self, value)
    }
}

impl<'q, O> Bind<'q> for QueryAs<'q, Postgres, O, PgArguments> {
    fn bind<T: Value<'q>>(self, value: T) -> Self {
        QueryAs::bind(self, value)
    }
}
