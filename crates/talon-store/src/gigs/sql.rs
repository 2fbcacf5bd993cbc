//! `GigStore` for every store. Statements are portable except the full-text condition: an FTS5 `MATCH`
//! on SQLite, `@@ plainto_tsquery` on PostgreSQL. Search statements are assembled from the filters
//! present, each a literal condition or a numbered placeholder, never user text inside the SQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use talon_domain::event::{Event, GIG_POSTED};
use talon_domain::marketplace::{AgentService, Gig, GigSort, GigStatus, SearchQuery};
use talon_domain::{AgentId, GigId, ServiceId, UserId};
use uuid::Uuid;

use super::rows::{GIG_COLUMNS, GigRow, ProfileMatchRow, SERVICE_COLUMNS, ServiceRow, bind_gig, bind_service};
use super::{GigNotice, ListedService, ServiceFilter};
use crate::db::{Db, Portable, outbox, run};
use crate::{GigStore, Page, StoreError};

const INSERT_GIG: &str = "INSERT INTO gigs (id, client_id, created_by_agent_id, title, description, category, \
     skills_required, budget_micros, budget_type, status, moderation_status, moderation_reason, deadline, \
     deliverables, max_proposals, max_revisions, proposal_count, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

const INSERT_SKILL: &str = "INSERT INTO gig_skills (skill, gig_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";

/// Every profile that may hear of a gig; categories and skills are JSON lists, matched in Rust.
const MATCHABLE_PROFILES: &str = "SELECT agent_id, user_id, skills, categories FROM marketplace_profiles \
     WHERE status <> 'suspended' ORDER BY agent_id";

/// Only an open gig without a contract is cancelled.
const CANCEL_GIG: &str = "UPDATE gigs SET status = 'cancelled', updated_at = $2 \
     WHERE id = $1 AND status = 'open' AND NOT EXISTS (SELECT 1 FROM contracts WHERE gig_id = $1)";

const REJECT_PENDING_PROPOSALS: &str =
    "UPDATE proposals SET status = 'rejected', updated_at = $2 WHERE gig_id = $1 AND status = 'pending'";

const INSERT_SERVICE: &str = "INSERT INTO agent_services (id, agent_id, title, description, category, \
     starting_price_micros, delivery_time_days, revisions, tags, is_active, orders_completed, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// A value bound to an assembled statement.
enum Arg {
    Text(String),
    Int(i64),
    Id(Uuid),
}

/// `WHERE` conditions with their arguments, numbered as they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    args: Vec<Arg>,
    /// The placeholders of a skills filter, written per statement (see `search_statements`).
    skills: Option<String>,
}

impl Conditions {
    /// The placeholder of a new argument.
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    fn push(&mut self, condition: String) {
        self.sql.push(condition);
    }

    fn clause(&self) -> String {
        self.sql.join(" AND ")
    }
}

/// Binds `$args` to `$query` in order.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(text) => query.bind(text.as_str()),
                Arg::Int(n) => query.bind(*n),
                Arg::Id(id) => query.bind(*id),
            };
        }
        query
    }};
}

/// A full-text query that only ever holds words: each word is quoted as an FTS5 string (so no word
/// is read as an operator or column filter) and FTS5 ANDs them.
fn fts5_match(words: &[String]) -> String {
    words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

/// The conditions of a search: listed gigs (the literal conditions let the partial indexes serve),
/// then each filter present.
fn search_conditions(db: &Db, query: &SearchQuery) -> Conditions {
    let mut c = Conditions::default();
    c.push("status = 'open' AND moderation_status = 'approved'".into());
    if !query.words.is_empty() {
        let condition = match db {
            Db::Sqlite { .. } => {
                let p = c.arg(Arg::Text(fts5_match(&query.words)));
                format!("rowid IN (SELECT rowid FROM gigs_fts WHERE gigs_fts MATCH {p})")
            }
            Db::Postgres(_) => {
                let p = c.arg(Arg::Text(query.words.join(" ")));
                format!("search_vector @@ plainto_tsquery('english', {p})")
            }
        };
        c.push(condition);
    }
    if let Some(category) = query.category {
        let p = c.arg(Arg::Text(category.as_str().into()));
        c.push(format!("category = {p}"));
    }
    if !query.skills.is_empty() {
        let list: Vec<String> = query.skills.iter().map(|s| c.arg(Arg::Text(s.clone()))).collect();
        c.skills = Some(list.join(", "));
    }
    if let Some(min) = query.min_budget {
        let p = c.arg(Arg::Int(min.as_micros()));
        c.push(format!("budget_micros >= {p}"));
    }
    if let Some(max) = query.max_budget {
        let p = c.arg(Arg::Int(max.as_micros()));
        c.push(format!("budget_micros <= {p}"));
    }
    if let Some(up_to) = query.up_to {
        let p = c.arg(Arg::Id(*up_to.as_uuid()));
        c.push(format!("id <= {p}"));
    }
    c
}

/// Each sort ends in the id, newest first, so the order is total; each has an index over listed gigs.
fn order_by(sort: GigSort) -> &'static str {
    match sort {
        GigSort::Newest => "id DESC",
        GigSort::BudgetDesc => "budget_micros DESC, id DESC",
        GigSort::BudgetAsc => "budget_micros, id DESC",
        GigSort::Deadline => "(deadline IS NULL), deadline, id DESC",
    }
}

/// The page's ids come from the index alone (skipping `offset` entries costs no row reads), then only
/// the page's rows are read.
///
/// A skills filter is written twice over: the count gathers the gigs from the skills index (`IN`),
/// while the page probes each gig met along the sort's index (`EXISTS`) and stops once it is full.
/// With no filter at all, SQLite is told to count the smallest index of listed gigs rather than scan
/// the table.
///
/// `probe_text`: on SQLite, a text filter matching many gigs is checked along the sort's index (the
/// matches' rowids gathered once, then probed) rather than by reading every matching gig and sorting
/// them; the page then stops as soon as it is full.
fn search_statements(db: &Db, query: &SearchQuery, probe_text: bool) -> (String, String, Conditions) {
    let mut c = search_conditions(db, query);
    let clause = c.clause();
    let (count_clause, page_clause) = match &c.skills {
        None => (clause.clone(), clause),
        Some(list) => (
            format!("{clause} AND id IN (SELECT gig_id FROM gig_skills WHERE skill IN ({list}))"),
            format!(
                "{clause} AND EXISTS (SELECT 1 FROM gig_skills s WHERE s.gig_id = gigs.id AND s.skill IN ({list}))"
            ),
        ),
    };
    let unfiltered = query.words.is_empty()
        && query.category.is_none()
        && query.skills.is_empty()
        && query.min_budget.is_none()
        && query.max_budget.is_none();
    let hint = if unfiltered && matches!(db, Db::Sqlite { .. }) { " INDEXED BY gigs_listed_newest" } else { "" };
    let count = format!("SELECT COUNT(*) FROM gigs{hint} WHERE {count_clause}");
    let order = order_by(query.sort);
    let limit = c.arg(Arg::Int(query.limit));
    let offset = c.arg(Arg::Int(query.offset));
    let along = if probe_text { format!(" INDEXED BY {}", sort_index(query)) } else { String::new() };
    let page = format!(
        "SELECT {GIG_COLUMNS} FROM gigs WHERE id IN \
         (SELECT id FROM gigs{along} WHERE {page_clause} ORDER BY {order} LIMIT {limit} OFFSET {offset}) ORDER BY {order}"
    );
    (count, page, c)
}

/// The index over listed gigs that yields the search's order (SQLite names).
fn sort_index(query: &SearchQuery) -> &'static str {
    match (query.sort, query.category.is_some()) {
        (GigSort::Newest, false) => "gigs_listed_newest",
        (GigSort::BudgetDesc, false) => "gigs_listed_budget",
        (GigSort::BudgetAsc, false) => "gigs_listed_budget_asc",
        (GigSort::Deadline, false) => "gigs_listed_deadline_first",
        (GigSort::Newest, true) => "gigs_listed_category",
        (GigSort::BudgetDesc, true) => "gigs_listed_category_budget",
        (GigSort::BudgetAsc, true) => "gigs_listed_category_budget_asc",
        (GigSort::Deadline, true) => "gigs_listed_category_deadline",
    }
}

/// Above this many matches, a SQLite text search is checked along the sort's index.
const PROBE_TEXT_ABOVE: i64 = 1_000;

/// Whether a SQLite text search matches enough gigs to probe them along the sort's index: the page
/// then walks about `limit × listed / total` index entries, against gathering and sorting every gig
/// the words match. The search's own total decides, so no second pass over the full-text index.
fn probe_text(db: &Db, query: &SearchQuery, total: i64) -> bool {
    matches!(db, Db::Sqlite { .. }) && !query.words.is_empty() && total > PROBE_TEXT_ABOVE
}

/// Whether a search's statements are prepared once and reused. On PostgreSQL they are planned with
/// their values at every call instead (an unnamed statement): after a few calls a prepared statement's
/// generic plan takes over, which cannot see how common a word or a category is, and for a word in a
/// fifth of the gigs it gathered all of them (18,000 rows, 66 ms) rather than walk the sort's index for
/// one page (about 150 rows, under a millisecond).
fn prepared(db: &Db) -> bool {
    matches!(db, Db::Sqlite { .. })
}

#[async_trait]
impl<S: Portable> GigStore for S {
    async fn insert_gig(&self, gig: &Gig, notice: &GigNotice) -> Result<usize, StoreError> {
        let mut tx = self.db().begin().await?;
        run!(tx.conn(), |c| bind_gig(sqlx::query(INSERT_GIG), gig).execute(c).await.map(|_| ()))?;
        for skill in &gig.skills_required {
            let skill = skill.to_lowercase();
            run!(tx.conn(), |c| {
                sqlx::query(INSERT_SKILL).bind(skill.as_str()).bind(gig.id.as_uuid()).execute(c).await.map(|_| ())
            })?;
        }
        let profiles: Vec<ProfileMatchRow> =
            run!(tx.conn(), |c| sqlx::query_as(MATCHABLE_PROFILES).fetch_all(c).await)?;
        let exclude = notice.exclude_agent.map(|a| *a.as_uuid());
        let events: Vec<Event> = profiles
            .iter()
            .filter(|p| Some(p.agent_id) != exclude)
            .filter(|p| {
                let (categories, skills) = p.lists();
                gig.matches_agent(&categories, &skills)
            })
            .take(notice.max_agents)
            .map(|p| {
                Event::for_agent(
                    UserId::from_uuid(p.user_id),
                    AgentId::from_uuid(p.agent_id),
                    GIG_POSTED,
                    notice.data.clone(),
                )
            })
            .collect();
        outbox::record(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(events.len())
    }

    async fn gig(&self, id: GigId) -> Result<Option<Gig>, StoreError> {
        let statement = format!("SELECT {GIG_COLUMNS} FROM gigs WHERE id = $1");
        let row: Option<GigRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn client_gigs(
        &self,
        client: UserId,
        status: Option<GigStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<Gig>, StoreError> {
        let mut c = Conditions::default();
        let p = c.arg(Arg::Id(*client.as_uuid()));
        c.push(format!("client_id = {p}"));
        if let Some(status) = status {
            let p = c.arg(Arg::Text(status.as_str().into()));
            c.push(format!("status = {p}"));
        }
        let clause = c.clause();
        let count = format!("SELECT COUNT(*) FROM gigs WHERE {clause}");
        let (l, o) = (c.arg(Arg::Int(limit)), c.arg(Arg::Int(offset)));
        let page = format!("SELECT {GIG_COLUMNS} FROM gigs WHERE {clause} ORDER BY id DESC LIMIT {l} OFFSET {o}");
        fetch_page(self.db(), &count, &page, &c.args, offset).await
    }

    async fn cancel_gig(&self, id: GigId, now: DateTime<Utc>) -> Result<Option<Gig>, StoreError> {
        let mut tx = self.db().begin().await?;
        let cancelled = run!(tx.conn(), |c| {
            sqlx::query(CANCEL_GIG).bind(id.as_uuid()).bind(now).execute(c).await.map(|d| d.rows_affected())
        })?;
        if cancelled == 0 {
            return Ok(None);
        }
        run!(tx.conn(), |c| {
            sqlx::query(REJECT_PENDING_PROPOSALS).bind(id.as_uuid()).bind(now).execute(c).await.map(|_| ())
        })?;
        let statement = format!("SELECT {GIG_COLUMNS} FROM gigs WHERE id = $1");
        let row: GigRow = run!(tx.conn(), |c| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_one(c).await)?;
        tx.commit().await?;
        Ok(Some(row.try_into()?))
    }

    async fn search_gigs(&self, query: &SearchQuery, known_total: Option<i64>) -> Result<Page<Gig>, StoreError> {
        let db = self.db();
        let prepared = prepared(db);
        let total = match known_total {
            Some(total) => total,
            None => {
                let (count, _, c) = search_statements(db, query, false);
                let filters = &c.args[..c.args.len() - 2];
                let (total,): (i64,) = run!(db.reader(), |e| {
                    bind_all!(sqlx::query_as(&count), filters).persistent(prepared).fetch_one(e).await
                })?;
                total
            }
        };
        let (_, page, c) = search_statements(db, query, probe_text(db, query, total));
        let rows: Vec<GigRow> =
            run!(db.reader(), |e| bind_all!(sqlx::query_as(&page), &c.args).persistent(prepared).fetch_all(e).await)?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(Page::positioned(items, total, query.offset))
    }

    async fn gig_listing_version(&self) -> Result<i64, StoreError> {
        let version: i64 = run!(self.db().reader(), |e| {
            sqlx::query_scalar("SELECT CAST(version AS BIGINT) FROM gig_listing_version WHERE id = 1")
                .fetch_one(e)
                .await
        })?;
        Ok(version)
    }

    async fn insert_service(&self, service: &AgentService) -> Result<(), StoreError> {
        run!(self.db().writer(), |e| {
            bind_service(sqlx::query(INSERT_SERVICE), service).execute(e).await.map(|_| ())
        })?;
        Ok(())
    }

    async fn service(&self, id: ServiceId) -> Result<Option<ListedService>, StoreError> {
        let statement = format!(
            "SELECT {SERVICE_COLUMNS} FROM agent_services s \
             LEFT JOIN marketplace_profiles p ON p.agent_id = s.agent_id WHERE s.id = $1 AND s.is_active"
        );
        let row: Option<ServiceRow> =
            run!(self.db().reader(), |e| sqlx::query_as(&statement).bind(id.as_uuid()).fetch_optional(e).await)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list_services(&self, filter: &ServiceFilter) -> Result<Page<ListedService>, StoreError> {
        let mut c = Conditions::default();
        c.push("s.is_active".into());
        if let Some(category) = filter.category {
            let p = c.arg(Arg::Text(category.as_str().into()));
            c.push(format!("s.category = {p}"));
        }
        if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let escaped = search.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let p = c.arg(Arg::Text(format!("%{escaped}%")));
            c.push(format!("(LOWER(s.title) LIKE {p} ESCAPE '\\' OR LOWER(s.description) LIKE {p} ESCAPE '\\')"));
        }
        let clause = c.clause();
        let count = format!("SELECT COUNT(*) FROM agent_services s WHERE {clause}");
        let (l, o) = (c.arg(Arg::Int(filter.limit)), c.arg(Arg::Int(filter.offset)));
        let page = format!(
            "SELECT {SERVICE_COLUMNS} FROM agent_services s \
             LEFT JOIN marketplace_profiles p ON p.agent_id = s.agent_id \
             WHERE {clause} ORDER BY s.id DESC LIMIT {l} OFFSET {o}"
        );
        let total_args = c.args.len() - 2;
        let (total,): (i64,) = run!(self.db().reader(), |e| {
            bind_all!(sqlx::query_as(&count), &c.args[..total_args]).fetch_one(e).await
        })?;
        let rows: Vec<ServiceRow> =
            run!(self.db().reader(), |e| bind_all!(sqlx::query_as(&page), &c.args).fetch_all(e).await)?;
        let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
        Ok(Page::positioned(items, total, filter.offset))
    }

    async fn delete_service(&self, agent: AgentId, id: ServiceId) -> Result<bool, StoreError> {
        let deleted = run!(self.db().writer(), |e| {
            sqlx::query("DELETE FROM agent_services WHERE id = $1 AND agent_id = $2")
                .bind(id.as_uuid())
                .bind(agent.as_uuid())
                .execute(e)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(deleted == 1)
    }
}

/// Runs a count (binding all but the last two arguments, the page's limit and offset) and a page of
/// gigs.
async fn fetch_page(db: &Db, count: &str, page: &str, args: &[Arg], offset: i64) -> Result<Page<Gig>, StoreError> {
    let filters = &args[..args.len().saturating_sub(2)];
    let (total,): (i64,) = run!(db.reader(), |e| bind_all!(sqlx::query_as(count), filters).fetch_one(e).await)?;
    let rows: Vec<GigRow> = run!(db.reader(), |e| bind_all!(sqlx::query_as(page), args).fetch_all(e).await)?;
    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?;
    Ok(Page::positioned(items, total, offset))
}

#[cfg(test)]
mod tests {
    use super::fts5_match;

    #[test]
    fn fts5_words_are_quoted_strings() {
        assert_eq!(fts5_match(&["near".into(), "a\"b".into()]), r#""near" "a""b""#);
    }
}
