//! Gigs: posting records `gig.posted` for the matching agents in the same transaction; cancelling.

use chrono::Utc;
use serde_json::json;
use sqlx::Connection;
use talon_domain::marketplace::{Gig, GigDraft, GigStatus, NewGig, SearchQuery};
use talon_domain::{Account, AgentId};
use talon_store::testing::TestDatabase;
use talon_store::{Backend, GigNotice};

use crate::common::agent_fixtures::agent;
use crate::common::{account, db};

on_both_databases!(gig_posted_reaches_matching_agents_only, cancel_only_while_open);

/// Runs one statement with its text arguments straight on the test database.
async fn exec(db: &TestDatabase, backend: Backend, statement: &str, args: &[&str]) {
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let mut q = sqlx::query(statement);
            for a in args {
                q = q.bind(*a);
            }
            q.execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let mut q = sqlx::query(statement);
            for a in args {
                q = q.bind(*a);
            }
            q.execute(&mut conn).await.unwrap();
        }
    }
}

/// The agents (as `agent_…` ids) that got a `gig.posted`, with the account each went to.
async fn gig_posted(db: &TestDatabase, backend: Backend) -> Vec<(uuid::Uuid, uuid::Uuid, String)> {
    let statement = "SELECT agent_id, user_id, data FROM events WHERE kind = 'gig.posted' ORDER BY agent_id";
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(statement).fetch_all(&mut conn).await.unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(statement).fetch_all(&mut conn).await.unwrap()
        }
    }
}

async fn listed_agent(
    db: &TestDatabase,
    backend: Backend,
    holder: &Account,
    name: &str,
    status: &str,
    categories: &str,
    skills: &str,
) -> AgentId {
    let (a, v) = agent(holder, name, None);
    db.store.insert_agent(&a, &v, &[]).await.unwrap();
    let (id, user) = (a.id.as_uuid().to_string(), holder.id.as_uuid().to_string());
    let now = Utc::now().to_rfc3339();
    let statement = match backend {
        Backend::Sqlite => {
            "INSERT INTO marketplace_profiles (agent_id, user_id, username, name, status, categories, skills, created_at, updated_at)
             VALUES (unhex(replace($1, '-', '')), unhex(replace($2, '-', '')), $3, $3, $4, $5, $6, $7, $7)"
        }
        Backend::Postgres => {
            "INSERT INTO marketplace_profiles (agent_id, user_id, username, name, status, categories, skills, created_at, updated_at)
             VALUES (CAST($1 AS UUID), CAST($2 AS UUID), $3, $3, $4, $5, $6, CAST($7 AS TIMESTAMPTZ), CAST($7 AS TIMESTAMPTZ))"
        }
    };
    exec(db, backend, statement, &[&id, &user, name, status, categories, skills, &now]).await;
    a.id
}

fn new_gig(client: &Account, category: &str, skills: &[&str]) -> Gig {
    let draft = GigDraft {
        title: "Port a parser to Rust".into(),
        description: "Port our CSV parser from Python to Rust, keeping every test green and the API identical.".into(),
        category: category.into(),
        skills_required: Some(skills.iter().map(|s| (*s).to_owned()).collect()),
        budget_usdc: 120.0,
        ..GigDraft::default()
    };
    Gig::post(NewGig::validate(draft, Utc::now()).unwrap(), client.id, None, crate::common::now())
}

async fn gig_posted_reaches_matching_agents_only(backend: Backend) {
    let db = db(backend).await;
    let (alice, bob) = (account("alice@example.com"), account("bob@example.com"));
    db.store.create_account(&alice, "h").await.unwrap();
    db.store.create_account(&bob, "h").await.unwrap();
    let coder = listed_agent(&db, backend, &bob, "coder", "active", r#"["code"]"#, "[]").await;
    let rustacean = listed_agent(&db, backend, &bob, "rustacean", "pending", r#"["data"]"#, r#"["RUST"]"#).await;
    listed_agent(&db, backend, &bob, "painter", "active", r#"["design"]"#, r#"["python"]"#).await;
    listed_agent(&db, backend, &bob, "banned", "suspended", r#"["code"]"#, "[]").await;
    let poster = listed_agent(&db, backend, &alice, "poster", "active", r#"["code"]"#, "[]").await;

    let gig = new_gig(&alice, "code", &["Rust", "rust", "SQL"]);
    let notice =
        GigNotice { data: json!({"gig_id": gig.id.to_string()}), exclude_agent: Some(poster), max_agents: 1000 };
    assert_eq!(db.store.insert_gig(&gig, &notice).await.unwrap(), 2);
    let mut expected = vec![*coder.as_uuid(), *rustacean.as_uuid()];
    expected.sort();
    let events = gig_posted(&db, backend).await;
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), expected);
    assert!(events.iter().all(|e| e.1 == *bob.id.as_uuid()));
    let data: serde_json::Value = serde_json::from_str(&events[0].2).unwrap();
    assert_eq!(data["gig_id"], gig.id.to_string());
    assert_eq!(db.store.gig(gig.id).await.unwrap().unwrap(), gig);

    // The cap holds, and duplicate skills in one gig are one skill.
    let second = new_gig(&alice, "code", &["rust"]);
    let capped = GigNotice { max_agents: 1, ..notice };
    assert_eq!(db.store.insert_gig(&second, &capped).await.unwrap(), 1);
    let by_skill = SearchQuery { skills: vec!["rust".into()], limit: 10, ..SearchQuery::default() };
    let page = db.store.search_gigs(&by_skill, None).await.unwrap();
    assert_eq!((page.total, page.items.iter().map(|g| g.id).collect::<Vec<_>>()), (2, vec![second.id, gig.id]));
}

async fn cancel_only_while_open(backend: Backend) {
    let db = db(backend).await;
    let alice = account("alice@example.com");
    db.store.create_account(&alice, "h").await.unwrap();
    let gig = new_gig(&alice, "data", &[]);
    let notice = GigNotice { data: json!({}), exclude_agent: None, max_agents: 1000 };
    db.store.insert_gig(&gig, &notice).await.unwrap();
    let before = db.store.gig_listing_version().await.unwrap();
    let cancelled = db.store.cancel_gig(gig.id, Utc::now()).await.unwrap().unwrap();
    assert!(db.store.gig_listing_version().await.unwrap() > before, "cancelling changes the listing");
    assert_eq!(cancelled.status, GigStatus::Cancelled);
    assert!(db.store.cancel_gig(gig.id, Utc::now()).await.unwrap().is_none());
    let page = db.store.search_gigs(&SearchQuery { limit: 10, ..SearchQuery::default() }, None).await.unwrap();
    assert_eq!(page.total, 0);
    let mine = db.store.client_gigs(alice.id, Some(GigStatus::Cancelled), 10, 0).await.unwrap();
    assert_eq!(mine.items, vec![cancelled]);
}
