//! Datasets: created, listed, read, replaced (each save the next revision) and deleted; every broken
//! rule refused naming its field with nothing written; another account's agent is not found; keys need
//! agents:read and agents:write (and tasks:write to start an evaluation).

use serde_json::{Value, json};
use talon_store::Backend;

use super::{dataset, put, read, start};
use crate::common::{TestApp, User, assert_error};

on_both_databases!(
    datasets_are_created_listed_replaced_and_deleted,
    broken_datasets_are_refused_naming_the_field,
    datasets_and_evaluations_are_private_and_scoped,
);

/// An account with an echo agent (it answers each case with its input): the app, user and agent id.
async fn echo_agent(backend: Backend) -> (TestApp, User, String) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let agent =
        app.create_agent(&user.token, json!({"name": "Echo", "prompt": "p", "model": {"primary": "test/echo"}})).await;
    (app, user, agent["id"].as_str().unwrap().to_owned())
}

fn contains(value: &str) -> Value {
    json!({"type": "contains", "value": value})
}

fn case(name: &str, input: &str, checks: Value) -> Value {
    json!({"name": name, "input": input, "checks": checks})
}

async fn datasets_are_created_listed_replaced_and_deleted(backend: Backend) {
    let (app, user, id) = echo_agent(backend).await;
    let base = format!("/api/agents/{id}/datasets");
    let cases = json!([
        case("greets", "hello", json!([contains("hello")])),
        {"name": "totals", "input": {"prompt": "{\"total\": 42}"},
         "checks": [{"type": "numeric", "path": "$.total", "expected": 42, "tolerance": 0},
                    {"type": "exact", "value": "X", "ignoreCase": true}]},
    ]);
    let created = dataset(&app, &user.token, &id, json!({"name": "smoke", "description": "d", "cases": cases})).await;
    assert!(created["id"].as_str().unwrap().starts_with("ds_"), "{created}");
    assert_eq!(
        (created["agentId"].as_str(), created["name"].as_str(), created["description"].as_str()),
        (Some(id.as_str()), Some("smoke"), Some("d"))
    );
    assert_eq!(created["revision"], 1);
    // The cases come back as sent, with each check's defaults filled in.
    let mut expected = cases.clone();
    expected[0]["checks"][0]["ignoreCase"] = json!(false);
    expected[1]["checks"][0]["expected"] = json!(42.0);
    expected[1]["checks"][0]["tolerance"] = json!(0.0);
    assert_eq!(created["cases"], expected);
    assert_eq!(app.get_json(&format!("{base}/smoke"), &user.token).await, created);

    let duplicate = app.post(&base, Some(&user.token), json!({"name": "smoke", "cases": cases})).await;
    assert_error(duplicate, 409, "CONFLICT").await;

    // PUT replaces the cases and counts a revision; PUT of a new name creates it.
    let replacement = json!({"cases": [case("shouts", "HEY", json!([contains("HEY")]))]});
    let (status, replaced) = read(put(&app, &format!("{base}/smoke"), &user.token, replacement).await).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!((replaced["id"].as_str(), replaced["revision"].as_i64()), (created["id"].as_str(), Some(2)));
    let names: Vec<&str> = replaced["cases"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shouts"]);
    assert_eq!(replaced["description"], "", "the whole content is replaced");
    let (status, fresh) = read(
        put(
            &app,
            &format!("{base}/regression"),
            &user.token,
            json!({"cases": [case("a", "a", json!([contains("a")]))]}),
        )
        .await,
    )
    .await;
    assert_eq!((status, fresh["revision"].as_i64(), fresh["name"].as_str()), (201, Some(1), Some("regression")));

    let listed = app.get_json(&base, &user.token).await;
    let summaries: Vec<(&str, i64, i64)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["caseCount"].as_i64().unwrap(), d["revision"].as_i64().unwrap()))
        .collect();
    assert_eq!(summaries, [("regression", 1, 1), ("smoke", 1, 2)]);
    assert!(listed["data"][0].get("cases").is_none(), "a list leaves the cases out");

    assert_eq!(app.delete(&format!("{base}/smoke"), &user.token).await.status(), 204);
    assert_error(app.get(&format!("{base}/smoke"), &user.token).await, 404, "NOT_FOUND").await;
    assert_error(app.delete(&format!("{base}/smoke"), &user.token).await, 404, "NOT_FOUND").await;
    assert_eq!(app.get_json(&base, &user.token).await["data"].as_array().unwrap().len(), 1);
}

async fn broken_datasets_are_refused_naming_the_field(backend: Backend) {
    let (app, user, id) = echo_agent(backend).await;
    let stranger = app.register("stranger@example.com").await;
    let foreign = app.create_agent(&stranger.token, json!({"name": "Their Judge", "prompt": "p"})).await;
    let base = format!("/api/agents/{id}/datasets");
    let fine = case("fine", "x", json!([contains("x")]));
    let with_check = |check: Value| json!({"name": "smoke", "cases": [{"name": "c", "input": "x", "checks": [check]}]});
    let judge = |agent: &str| json!({"type": "judge", "agent": agent, "criteria": "Is it polite?"});
    let refused = [
        (json!({"name": "Bad Name", "cases": [fine]}), "name"),
        (json!({"name": "smoke", "cases": []}), "cases"),
        (json!({"name": "smoke", "cases": [fine, case("two", "y", json!([contains("y")])), fine]}), "cases[2].name"),
        (with_check(json!({"type": "regex", "pattern": "(unclosed"})), "cases[0].checks[0].pattern"),
        (with_check(json!({"type": "jsonSchema", "schema": {"type": "bogus"}})), "cases[0].checks[0].schema"),
        (
            with_check(json!({"type": "numeric", "path": "total", "expected": 1, "tolerance": 0})),
            "cases[0].checks[0].path",
        ),
        (
            with_check(json!({"type": "numeric", "path": "$.total", "expected": 1, "tolerance": -0.5})),
            "cases[0].checks[0].tolerance",
        ),
    ];
    for (body, field) in refused {
        let response = app.post(&base, Some(&user.token), body.clone()).await;
        let error = assert_error(response, 400, "VALIDATION_ERROR").await;
        let fields: Vec<&str> =
            error["error"]["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, [field], "{body}: {error}");
    }
    // A judge that names no agent of the caller's (another account's, by slug or id, or none) is "not
    // found" at its place, as an unknown agent is wherever a body names one.
    for judged in [foreign["slug"].as_str().unwrap(), foreign["id"].as_str().unwrap(), "no-such-agent", "x@nope"] {
        let response = app.post(&base, Some(&user.token), with_check(judge(judged))).await;
        let error = assert_error(response, 404, "NOT_FOUND").await;
        assert_eq!(error["error"]["details"][0]["field"], "cases[0].checks[0].agent", "{judged}: {error}");
    }
    // An unknown check type is refused at its `type`. (The body parser then reports the enclosing
    // lists as missing too, as it does for any list whose item cannot be read.)
    let response = app.post(&base, Some(&user.token), with_check(json!({"type": "vibes", "value": "x"}))).await;
    let error = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "cases[0].checks[0].type", "{error}");
    let message = error["error"]["details"][0]["message"].as_str().unwrap();
    assert!(message.contains("\"jsonSchema\"") && message.contains("\"judge\""), "{message}");
    // PUT checks the name in its path and the content alike.
    let response = put(&app, &format!("{base}/Bad%20Name"), &user.token, json!({"cases": [fine]})).await;
    let error = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "name", "{error}");
    let response = put(&app, &format!("{base}/smoke"), &user.token, json!({"cases": []})).await;
    let error = assert_error(response, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "cases", "{error}");
    assert_eq!(app.get_json(&base, &user.token).await["data"], json!([]), "nothing was written");

    // A replacement that breaks a rule leaves the dataset as it was.
    dataset(&app, &user.token, &id, json!({"name": "smoke", "cases": [fine]})).await;
    let broken = json!({"cases": [{"name": "c", "input": "x", "checks": [{"type": "regex", "pattern": "("}]}]});
    assert_error(put(&app, &format!("{base}/smoke"), &user.token, broken).await, 400, "VALIDATION_ERROR").await;
    let kept = app.get_json(&format!("{base}/smoke"), &user.token).await;
    assert_eq!((kept["revision"].as_i64(), kept["cases"][0]["name"].as_str()), (Some(1), Some("fine")));
}

async fn datasets_and_evaluations_are_private_and_scoped(backend: Backend) {
    let (app, user, id) = echo_agent(backend).await;
    let cases = json!([case("echoes", "ping", json!([contains("ping")]))]);
    dataset(&app, &user.token, &id, json!({"name": "smoke", "cases": cases})).await;
    let evaluation = start(&app, &user.token, &id, json!({"dataset": "smoke", "versions": [1]})).await;
    let eval_id = evaluation["id"].as_str().unwrap();
    assert!(eval_id.starts_with("eval_"), "{evaluation}");
    let base = format!("/api/agents/{id}");
    let body = json!({"cases": cases});
    let start_body = json!({"dataset": "smoke", "versions": [1]});

    // Another account: no such agent, on every route.
    let stranger = app.register("stranger@example.com").await;
    let token = stranger.token.as_str();
    let not_found = [
        app.post(&format!("{base}/datasets"), Some(token), json!({"name": "mine", "cases": cases})).await,
        app.get(&format!("{base}/datasets"), token).await,
        app.get(&format!("{base}/datasets/smoke"), token).await,
        put(&app, &format!("{base}/datasets/smoke"), token, body.clone()).await,
        app.delete(&format!("{base}/datasets/smoke"), token).await,
        app.post(&format!("{base}/evaluations"), Some(token), start_body.clone()).await,
        app.get(&format!("{base}/evaluations"), token).await,
        app.get(&format!("{base}/evaluations/{eval_id}"), token).await,
        app.post(&format!("{base}/evaluations/{eval_id}/cancel"), Some(token), json!({})).await,
    ];
    for response in not_found {
        assert_error(response, 404, "NOT_FOUND").await;
    }
    // Nor is the evaluation found through the stranger's own agent, or another agent of the owner's.
    let theirs = app.create_agent(token, json!({"name": "Theirs", "prompt": "p"})).await;
    let theirs = theirs["id"].as_str().unwrap();
    assert_error(app.get(&format!("/api/agents/{theirs}/evaluations/{eval_id}"), token).await, 404, "NOT_FOUND").await;
    let other = app.create_agent(&user.token, json!({"name": "Other", "prompt": "p"})).await;
    let other = other["id"].as_str().unwrap();
    let path = format!("/api/agents/{other}/evaluations/{eval_id}");
    assert_error(app.get(&path, &user.token).await, 404, "NOT_FOUND").await;
    assert_error(app.get(&format!("/api/agents/{other}/datasets/smoke"), &user.token).await, 404, "NOT_FOUND").await;

    // Keys: reads need agents:read, writes agents:write, and starting an evaluation tasks:write too.
    let reader = app.api_key(&user, &["agents:read"]).await;
    let writer = app.api_key(&user, &["agents:write", "tasks:read"]).await;
    let no_tasks = app.api_key(&user, &["agents:read", "agents:write"]).await;
    let runner = app.api_key(&user, &["agents:read", "agents:write", "tasks:write"]).await;
    let forbidden = [
        app.post(&format!("{base}/datasets"), Some(&reader), json!({"name": "mine", "cases": cases})).await,
        put(&app, &format!("{base}/datasets/smoke"), &reader, body.clone()).await,
        app.delete(&format!("{base}/datasets/smoke"), &reader).await,
        app.post(&format!("{base}/evaluations"), Some(&reader), start_body.clone()).await,
        app.post(&format!("{base}/evaluations/{eval_id}/cancel"), Some(&reader), json!({})).await,
        app.get(&format!("{base}/datasets"), &writer).await,
        app.get(&format!("{base}/datasets/smoke"), &writer).await,
        app.get(&format!("{base}/evaluations"), &writer).await,
        app.get(&format!("{base}/evaluations/{eval_id}"), &writer).await,
        app.post(&format!("{base}/evaluations"), Some(&no_tasks), start_body.clone()).await,
    ];
    for response in forbidden {
        assert_error(response, 403, "FORBIDDEN").await;
    }
    let kept = app.get_json(&format!("{base}/datasets/smoke"), &reader).await;
    assert_eq!(kept["revision"], 1, "no refused write changed it");
    let listed = app.get_json(&format!("{base}/evaluations"), &reader).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(app.get_json(&format!("{base}/evaluations/{eval_id}"), &reader).await["id"], eval_id);
    start(&app, &runner, &id, start_body).await;
    let listed = app.get_json(&format!("{base}/evaluations"), &reader).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
}
