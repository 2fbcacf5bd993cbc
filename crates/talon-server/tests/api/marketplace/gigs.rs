//! The marketplace's gigs and services through HTTP: posting (client and hiring), reading and who may
//! read, search with every filter and sort, full-text `q`, page walks while gigs are posted, the
//! client's list, cancelling, services, and scopes.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use crate::common::{TestApp, User, assert_error};

on_both_databases!(
    posting_answers_the_created_shape,
    bad_postings_list_every_field,
    client_routes_refuse_agent_keys_and_missing_scopes,
    search_filters_and_sorts,
    text_query_matches_title_or_description_words,
    page_walk_neither_repeats_nor_skips_while_gigs_are_posted,
    who_may_read_and_cancel_a_gig,
    the_client_list_shows_only_own_gigs,
    services_list_get_create_delete,
);

const LONG: &str = "A detailed description of the work, long enough to pass the fifty character minimum.";

fn gig(title: &str, category: &str, skills: &[&str], budget: f64) -> Value {
    json!({"title": title, "description": LONG, "category": category, "skills_required": skills, "budget_usdc": budget})
}

async fn post_gig(app: &TestApp, token: &str, body: Value) -> String {
    let response = app.post("/api/v1/gigs", Some(token), body).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["data"]["gig_id"].as_str().unwrap().to_owned()
}

/// The page object inside the envelope.
async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/gigs?{query}"), token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    body["data"].clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect()
}

async fn found(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    ids(&search(app, token, query).await)
}

fn days(n: i64) -> String {
    (Utc::now() + Duration::days(n)).to_rfc3339()
}

async fn posting_answers_the_created_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let mut body = gig("Port a parser to Rust", "code", &["Rust", "parsing"], 85.5);
    body["deadline"] = json!("2099-12-31T23:59:59Z");
    body["deliverables"] = json!("A crate with tests");
    body["budget_type"] = json!("hourly");
    body["max_proposals"] = json!(10);
    body["max_revisions"] = json!(0);
    let response = app.post("/api/v1/gigs", Some(&alice.token), body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let data = &created["data"];
    let keys: Vec<&str> = data.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 6, "{created}");
    assert!(data["gig_id"].as_str().unwrap().starts_with("gig_"));
    assert_eq!(
        (&data["title"], &data["status"], &data["moderation_status"], &data["moderation_reason"]),
        (&json!("Port a parser to Rust"), &json!("open"), &json!("approved"), &Value::Null)
    );
    assert!(data["created_at"].is_string());

    let id = data["gig_id"].as_str().unwrap();
    let read = app.get_json(&format!("/api/v1/gigs/{id}"), &alice.token).await;
    let g = &read["data"];
    let mut keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "budget_type",
            "budget_usdc",
            "category",
            "client_id",
            "created_at",
            "created_by_agent_id",
            "deadline",
            "deliverables",
            "description",
            "id",
            "max_proposals",
            "moderation_status",
            "proposal_count",
            "skills_required",
            "status",
            "title",
            "updated_at"
        ]
    );
    assert_eq!(g["budget_usdc"], json!(85.5));
    assert_eq!(g["skills_required"], json!(["Rust", "parsing"]));
    assert_eq!(
        (&g["budget_type"], &g["max_proposals"], &g["proposal_count"]),
        (&json!("hourly"), &json!(10), &json!(0))
    );
    assert_eq!((&g["client_id"], &g["created_by_agent_id"]), (&json!(alice.id), &Value::Null));
    assert!(g["deadline"].as_str().unwrap().starts_with("2099-12-31T23:59:59"));
    assert_eq!(g["deliverables"], "A crate with tests");
    // The bare UUID names the same gig.
    let bare = id.strip_prefix("gig_").unwrap();
    let bare = format!("{}-{}-{}-{}-{}", &bare[..8], &bare[8..12], &bare[12..16], &bare[16..20], &bare[20..]);
    assert_eq!(app.get_json(&format!("/api/v1/gigs/{bare}"), &alice.token).await["data"]["id"], id);

    // Hiring: an autonomous agent posts with its own key; the client is the account holding it. An
    // agent its account hires for is refused.
    let hirer = app.listed_agent("hirer@example.com").await;
    let refused =
        app.post("/api/v1/agents/me/gigs", Some(&hirer.key), gig("Translate a page", "translation", &[], 20.0)).await;
    assert_error(refused, 403, "FORBIDDEN").await;
    app.make_autonomous(backend, &hirer).await;
    let response =
        app.post("/api/v1/agents/me/gigs", Some(&hirer.key), gig("Translate a page", "translation", &[], 20.0)).await;
    assert_eq!(response.status(), 201);
    let posted: Value = response.json().await.unwrap();
    let hired =
        app.get_json(&format!("/api/v1/gigs/{}", posted["data"]["gig_id"].as_str().unwrap()), &alice.token).await;
    assert_eq!(
        (&hired["data"]["created_by_agent_id"], &hired["data"]["client_id"]),
        (&json!(hirer.agent_id), &json!(hirer.owner.id))
    );
    // A session is no agent.
    let response =
        app.post("/api/v1/agents/me/gigs", Some(&alice.token), gig("Translate a page", "translation", &[], 20.0)).await;
    assert_error(response, 403, "FORBIDDEN").await;
}

async fn bad_postings_list_every_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bad = json!({"title": "abc", "description": "short", "category": "cooking", "skills_required": ["x".repeat(31)],
        "budget_usdc": 0, "budget_type": "weekly", "deadline": "2001-01-01T00:00:00Z", "deliverables": "d".repeat(5001),
        "max_proposals": 201, "max_revisions": 11});
    let body = assert_error(app.post("/api/v1/gigs", Some(&alice.token), bad).await, 400, "VALIDATION_ERROR").await;
    let fields: Vec<&str> =
        body["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "title",
            "description",
            "category",
            "skills_required",
            "budget_usdc",
            "budget_type",
            "deadline",
            "deliverables",
            "max_proposals",
            "max_revisions"
        ]
    );
    let missing = app.post("/api/v1/gigs", Some(&alice.token), json!({"title": "Only a title"})).await;
    let body = assert_error(missing, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "description", "{body}");
    let mut unknown = gig("A fine title", "code", &[], 10.0);
    unknown["budget"] = json!(10);
    assert_error(app.post("/api/v1/gigs", Some(&alice.token), unknown).await, 400, "VALIDATION_ERROR").await;
    let mut precise = gig("A fine title", "code", &[], 10.0);
    precise["budget_usdc"] = json!(0.0000001);
    assert_error(app.post("/api/v1/gigs", Some(&alice.token), precise).await, 400, "VALIDATION_ERROR").await;
    assert_eq!(search(&app, &alice.token, "").await["total"], 0, "nothing was posted");

    // JSON Schema counts 41.0 as an integer, and a float's noise is not a seventh decimal.
    let mut whole = gig("Port a parser", "code", &["rust"], 7.0 * 0.000_001);
    whole["max_proposals"] = json!(41.0);
    let id = post_gig(&app, &alice.token, whole).await;
    let posted = app.get_json(&format!("/api/v1/gigs/{id}"), &alice.token).await;
    assert_eq!((&posted["data"]["max_proposals"], &posted["data"]["budget_usdc"]), (&json!(41), &json!(0.000007)));
}

async fn client_routes_refuse_agent_keys_and_missing_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let id = post_gig(&app, &alice.token, gig("Port a parser", "code", &[], 10.0)).await;
    let agent = app.market_agent("agent@example.com").await;
    let refused = app.post("/api/v1/gigs", Some(&agent.key), gig("Port a parser", "code", &[], 10.0)).await;
    let body = assert_error(refused, 403, "FORBIDDEN").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("/api/v1/agents/me/gigs"), "{body}");
    assert_error(app.get("/api/v1/client/gigs", &agent.key).await, 403, "FORBIDDEN").await;
    let cancel =
        app.request(Method::POST, &format!("/api/v1/gigs/{id}/cancel"), Some(&agent.key)).send().await.unwrap();
    assert_error(cancel, 403, "FORBIDDEN").await;
    // The agent key reads the marketplace.
    assert_eq!(found(&app, &agent.key, "").await, [id.as_str()]);
    assert_eq!(app.get_json(&format!("/api/v1/gigs/{id}"), &agent.key).await["data"]["id"], id);

    let reader = app.api_key(&alice, &["marketplace:read"]).await;
    assert_error(
        app.post("/api/v1/gigs", Some(&reader), gig("Port a parser", "code", &[], 10.0)).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let cancel = app.request(Method::POST, &format!("/api/v1/gigs/{id}/cancel"), Some(&reader)).send().await.unwrap();
    assert_error(cancel, 403, "FORBIDDEN").await;
    assert_eq!(found(&app, &reader, "").await, [id.as_str()]);
    let other = app.api_key(&alice, &["agents:read"]).await;
    for path in [
        "/api/v1/gigs".to_owned(),
        format!("/api/v1/gigs/{id}"),
        "/api/v1/client/gigs".into(),
        "/api/v1/services".into(),
    ] {
        assert_error(app.get(&path, &other).await, 403, "FORBIDDEN").await;
    }
    // An account-wide key with both scopes is a client.
    let writer = app.api_key(&alice, &["marketplace:read", "marketplace:write"]).await;
    post_gig(&app, &writer, gig("Port a parser", "code", &[], 10.0)).await;
    assert_error(app.get("/api/v1/gigs", "not-a-key").await, 401, "UNAUTHORIZED").await;
}

async fn search_filters_and_sorts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let t = &alice.token;
    let mut g0 = gig("Rust parser port", "code", &["Rust", "Parsing"], 100.0);
    g0["deadline"] = json!(days(3));
    let g0 = post_gig(&app, t, g0).await;
    let g1 = post_gig(&app, t, gig("Logo design", "design", &["Figma"], 50.0)).await;
    let mut g2 = gig("Data pipeline", "data", &["python", "SQL"], 200.0);
    g2["deadline"] = json!(days(1));
    let g2 = post_gig(&app, t, g2).await;
    let mut g3 = gig("Blog posts", "content", &["writing"], 50.0);
    g3["deadline"] = json!(days(2));
    let g3 = post_gig(&app, t, g3).await;
    let g4 = post_gig(&app, t, gig("Rust CLI tool", "code", &["rust", "cli"], 300.0)).await;
    let gone = post_gig(&app, t, gig("Cancelled rust gig", "code", &["rust"], 150.0)).await;
    let cancelled = app.request(Method::POST, &format!("/api/v1/gigs/{gone}/cancel"), Some(t)).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);

    let page = search(&app, t, "").await;
    assert_eq!((&page["total"], &page["limit"], &page["offset"]), (&json!(5), &json!(20), &json!(0)));
    assert_eq!(ids(&page), [g4.as_str(), g3.as_str(), g2.as_str(), g1.as_str(), g0.as_str()]);
    assert_eq!(found(&app, t, "sort=newest").await, [g4.as_str(), g3.as_str(), g2.as_str(), g1.as_str(), g0.as_str()]);
    assert_eq!(
        found(&app, t, "sort=budget_desc").await,
        [g4.as_str(), g2.as_str(), g0.as_str(), g3.as_str(), g1.as_str()]
    );
    assert_eq!(
        found(&app, t, "sort=budget_asc").await,
        [g3.as_str(), g1.as_str(), g0.as_str(), g2.as_str(), g4.as_str()]
    );
    assert_eq!(
        found(&app, t, "sort=deadline").await,
        [g2.as_str(), g3.as_str(), g0.as_str(), g4.as_str(), g1.as_str()]
    );
    assert_eq!(found(&app, t, "category=code").await, [g4.as_str(), g0.as_str()]);
    assert_eq!(found(&app, t, "skills=RUST,figma").await, [g4.as_str(), g1.as_str(), g0.as_str()]);
    assert_eq!(found(&app, t, "skills=sql").await, [g2.as_str()]);
    assert_eq!(found(&app, t, "min_budget=50&max_budget=100").await, [g3.as_str(), g1.as_str(), g0.as_str()]);
    assert_eq!(found(&app, t, "min_budget=100.5").await, [g4.as_str(), g2.as_str()]);
    assert_eq!(found(&app, t, "max_budget=49.99").await, Vec::<String>::new());
    assert_eq!(found(&app, t, "category=code&skills=cli&sort=budget_asc").await, [g4.as_str()]);
    let page = search(&app, t, "category=code&min_budget=100&max_budget=300&limit=1").await;
    assert_eq!((ids(&page), &page["total"]), (vec![g4.clone()], &json!(2)));
    let page = search(&app, t, "limit=2&offset=1").await;
    assert_eq!(
        (ids(&page), &page["total"], &page["limit"], &page["offset"]),
        (vec![g3.clone(), g2.clone()], &json!(5), &json!(2), &json!(1))
    );
    assert_eq!(search(&app, t, "offset=10").await["total"], 5);

    for bad in [
        "min_budget=20&max_budget=10",
        "sort=oldest",
        "limit=101",
        "limit=0",
        "offset=-1",
        "offset=10001",
        "category=cooking",
        "min_budget=abc",
    ] {
        let body = assert_error(app.get(&format!("/api/v1/gigs?{bad}"), t).await, 400, "VALIDATION_ERROR").await;
        assert!(!body["error"]["details"].as_array().unwrap().is_empty(), "{bad}: {body}");
    }
}

async fn text_query_matches_title_or_description_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let t = &alice.token;
    let parser = post_gig(&app, t, gig("Rust parser port", "code", &[], 100.0)).await;
    let mut warehouse = gig("Data pipeline", "data", &[], 200.0);
    warehouse["description"] =
        json!("Load the warehouse every night from our Postgres replica, with retries and alerts.");
    let warehouse = post_gig(&app, t, warehouse).await;
    let cli = post_gig(&app, t, gig("Rust CLI tool", "code", &[], 300.0)).await;
    let gone = post_gig(&app, t, gig("Rust cancelled thing", "code", &[], 300.0)).await;
    app.request(Method::POST, &format!("/api/v1/gigs/{gone}/cancel"), Some(t)).send().await.unwrap();

    assert_eq!(found(&app, t, "q=rust").await, [cli.as_str(), parser.as_str()]);
    assert_eq!(found(&app, t, "q=RUST%20parser").await, [parser.as_str()]);
    assert_eq!(found(&app, t, "q=warehouse").await, [warehouse.as_str()], "a description word");
    assert_eq!(found(&app, t, "q=Parsers").await, [parser.as_str()], "stemmed");
    assert!(found(&app, t, "q=rust%20warehouse").await.is_empty(), "every word must match");
    let page = search(&app, t, "q=rust&category=code&sort=budget_asc").await;
    assert_eq!((ids(&page), &page["total"]), (vec![parser.clone(), cli.clone()], &json!(2)));
    // Full-text syntax is never read from the query: these are words, or nothing.
    for raw in ["%22", "*", "NEAR(", "rust%22%20OR%20%22x", "title:rust", "-rust", "AND", "%5E", "(", "rust*"] {
        let response = app.get(&format!("/api/v1/gigs?q={raw}"), t).await;
        assert_eq!(response.status(), 200, "{raw}");
    }
    assert_eq!(found(&app, t, "q=title%3Arust").await.len(), 0, "`title` is a word here, and no gig has it");
    assert_eq!(found(&app, t, "q=rust*").await, [cli.as_str(), parser.as_str()]);
    assert_eq!(found(&app, t, "q=%20%20").await.len(), 3, "no words, no text filter");
    let long = "x".repeat(201);
    assert_error(app.get(&format!("/api/v1/gigs?q={long}"), t).await, 400, "VALIDATION_ERROR").await;
}

async fn page_walk_neither_repeats_nor_skips_while_gigs_are_posted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let walker = app.market_agent("walker@example.com").await;
    let mut posted: Vec<String> = Vec::new();
    for i in 0..7 {
        posted.push(
            post_gig(&app, &alice.token, gig(&format!("Gig number {i}"), "code", &[], 10.0 + f64::from(i))).await,
        );
    }
    for sort in ["newest", "budget_asc"] {
        let expected = found(&app, &walker.key, &format!("sort={sort}&category=code&limit=100")).await;
        let mut seen: Vec<String> = Vec::new();
        let mut offset = 0;
        loop {
            let page = search(&app, &walker.key, &format!("sort={sort}&category=code&limit=2&offset={offset}")).await;
            let items = ids(&page);
            seen.extend(items.iter().cloned());
            // Gigs posted while the walk goes on, each sorting first under `newest` (and last under budget_asc).
            let budget = if sort == "newest" { 10.0 } else { 1000.0 };
            post_gig(&app, &alice.token, gig("Posted mid-walk", "code", &[], budget)).await;
            offset += 2;
            if items.len() < 2 || offset >= page["total"].as_i64().unwrap() {
                break;
            }
        }
        assert_eq!(seen, expected, "{sort}: each gig of the snapshot once, in order");
    }
    let oldest_first: Vec<String> = posted.iter().rev().cloned().collect();
    let newest = found(&app, &walker.key, "sort=newest&category=code&limit=100").await;
    assert_eq!(newest[newest.len() - 7..], oldest_first[..]);
    // A new walk sees what was posted meanwhile.
    assert_eq!(search(&app, &walker.key, "limit=2").await["total"], 7 + 4 + 6);
}

async fn who_may_read_and_cancel_a_gig(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let id = post_gig(&app, &alice.token, gig("Port a parser", "code", &[], 10.0)).await;
    let path = format!("/api/v1/gigs/{id}");
    assert_eq!(app.get_json(&path, &bob.token).await["data"]["status"], "open", "a listed gig is public");
    let cancel = |token: String| {
        let app = &app;
        let id = id.clone();
        async move { app.request(Method::POST, &format!("/api/v1/gigs/{id}/cancel"), Some(&token)).send().await.unwrap() }
    };
    assert_error(cancel(bob.token.clone()).await, 404, "NOT_FOUND").await;
    let response = cancel(alice.token.clone()).await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["data"]["status"], "cancelled");
    assert_eq!(cancelled["data"]["id"], id);
    let body = assert_error(cancel(alice.token.clone()).await, 409, "CONFLICT").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("cancelled"), "{body}");
    // Unlisted now: its client still reads it, nobody else does.
    assert_eq!(app.get_json(&path, &alice.token).await["data"]["status"], "cancelled");
    assert_error(app.get(&path, &bob.token).await, 404, "NOT_FOUND").await;
    let agent = app.market_agent("agent@example.com").await;
    assert_error(app.get(&path, &agent.key).await, 404, "NOT_FOUND").await;
    for unknown in
        ["gig_00000000000000000000000000000000", "nonexistent", "gig_xyz", "00000000-0000-0000-0000-000000000000"]
    {
        assert_error(app.get(&format!("/api/v1/gigs/{unknown}"), &alice.token).await, 404, "NOT_FOUND").await;
        assert_error(cancel_path(&app, &alice, unknown).await, 404, "NOT_FOUND").await;
    }
}

async fn cancel_path(app: &TestApp, user: &User, id: &str) -> reqwest::Response {
    app.request(Method::POST, &format!("/api/v1/gigs/{id}/cancel"), Some(&user.token)).send().await.unwrap()
}

async fn the_client_list_shows_only_own_gigs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let a1 = post_gig(&app, &alice.token, gig("First of alice", "code", &[], 10.0)).await;
    let a2 = post_gig(&app, &alice.token, gig("Second of alice", "data", &[], 10.0)).await;
    let b1 = post_gig(&app, &bob.token, gig("First of bob", "code", &[], 10.0)).await;
    assert_eq!(cancel_path(&app, &alice, &a1).await.status(), 200);
    let mine = app.get_json("/api/v1/client/gigs", &alice.token).await["data"].clone();
    assert_eq!(
        (ids(&mine), &mine["total"], &mine["limit"], &mine["offset"]),
        (vec![a2.clone(), a1.clone()], &json!(2), &json!(20), &json!(0))
    );
    let cancelled = app.get_json("/api/v1/client/gigs?status=cancelled", &alice.token).await["data"].clone();
    assert_eq!((ids(&cancelled), &cancelled["total"]), (vec![a1.clone()], &json!(1)));
    let paged = app.get_json("/api/v1/client/gigs?limit=1&offset=1", &alice.token).await["data"].clone();
    assert_eq!((ids(&paged), &paged["total"]), (vec![a1.clone()], &json!(2)));
    assert_eq!(ids(&app.get_json("/api/v1/client/gigs", &bob.token).await["data"]), [b1]);
    for bad in ["status=done", "limit=0", "limit=101", "offset=-1"] {
        assert_error(app.get(&format!("/api/v1/client/gigs?{bad}"), &alice.token).await, 400, "VALIDATION_ERROR").await;
    }
}

async fn services_list_get_create_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let coder = app.market_agent("coder@example.com").await;
    let writer = app.market_agent("writer@example.com").await;
    let body = json!({"title": "Code review within a day", "description": "I review one pull request of up to 1,000 lines.",
        "category": "code", "starting_price_usdc": 25.5, "delivery_time_days": 1, "tags": ["rust"]});
    let response = app.post("/api/v1/agent/services", Some(&coder.key), body).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let s = &created["data"];
    let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agent_id",
            "average_rating",
            "category",
            "created_at",
            "delivery_time_days",
            "description",
            "id",
            "is_active",
            "orders_completed",
            "revisions",
            "starting_price",
            "tags",
            "title",
            "updated_at"
        ]
    );
    assert_eq!(
        (&s["agent_id"], &s["starting_price"], &s["average_rating"], &s["revisions"]),
        (&json!(coder.agent_id), &json!(25.5), &json!(0.0), &json!(1))
    );
    let review = s["id"].as_str().unwrap().to_owned();
    let essay = json!({"title": "Essays on anything", "description": "Long-form writing, researched.", "category": "content",
        "starting_price_usdc": 40, "delivery_time_days": 3, "revisions": 2});
    let response = app.post("/api/v1/agent/services", Some(&writer.key), essay).await;
    assert_eq!(response.status(), 201);
    let essay = response.json::<Value>().await.unwrap()["data"]["id"].as_str().unwrap().to_owned();

    let all = app.get_json("/api/v1/services", &coder.key).await["data"].clone();
    assert_eq!(
        (ids(&all), &all["total"], &all["limit"], &all["offset"]),
        (vec![essay.clone(), review.clone()], &json!(2), &json!(20), &json!(0))
    );
    let code = app.get_json("/api/v1/services?category=code", &writer.key).await["data"].clone();
    assert_eq!((ids(&code), &code["total"]), (vec![review.clone()], &json!(1)));
    assert_eq!(
        ids(&app.get_json("/api/v1/services?search=PULL%20request", &writer.key).await["data"]),
        [review.as_str()]
    );
    assert_eq!(ids(&app.get_json("/api/v1/services?search=100%25", &writer.key).await["data"]), Vec::<String>::new());
    assert_eq!(ids(&app.get_json("/api/v1/services?limit=1&offset=1", &writer.key).await["data"]), [review.as_str()]);
    assert_error(app.get("/api/v1/services?category=food", &writer.key).await, 400, "VALIDATION_ERROR").await;
    let one = app.get_json(&format!("/api/v1/services/{review}"), &writer.owner.token).await;
    assert_eq!(one["data"]["title"], "Code review within a day");
    assert_error(app.get("/api/v1/services/svc_00000000000000000000000000000000", &writer.key).await, 404, "NOT_FOUND")
        .await;
    assert_error(app.get("/api/v1/services/nonsense", &writer.key).await, 404, "NOT_FOUND").await;

    // Only the offering agent withdraws it; a session is no agent.
    assert_error(app.delete(&format!("/api/v1/agent/services/{review}"), &writer.key).await, 404, "NOT_FOUND").await;
    assert_error(app.delete(&format!("/api/v1/agent/services/{review}"), &coder.owner.token).await, 403, "FORBIDDEN")
        .await;
    let response = app.delete(&format!("/api/v1/agent/services/{review}"), &coder.key).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["data"]["message"], "Service deleted");
    assert_error(app.get(&format!("/api/v1/services/{review}"), &writer.key).await, 404, "NOT_FOUND").await;
    let service = json!({"title": "Code review", "description": "d", "category": "code", "starting_price_usdc": 1, "delivery_time_days": 1});
    let refused = app.post("/api/v1/agent/services", Some(&coder.owner.token), service).await;
    assert_error(refused, 403, "FORBIDDEN").await;
    let bad =
        json!({"title": "x", "description": "", "category": "food", "starting_price_usdc": 0, "delivery_time_days": 0});
    let body =
        assert_error(app.post("/api/v1/agent/services", Some(&coder.key), bad).await, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"].as_array().unwrap().len(), 5, "{body}");
    let reader = app.api_key(&coder.owner, &["marketplace:read"]).await;
    let body = json!({"title": "Code review", "description": "d", "category": "code", "starting_price_usdc": 1, "delivery_time_days": 1});
    assert_error(app.post("/api/v1/agent/services", Some(&reader), body).await, 403, "FORBIDDEN").await;
}
