//! The gate (`requireEvaluation`): a label move, a deploy (each arm of a split) or a promote lets a
//! version through only when its newest completed evaluation on the dataset's current revision reaches
//! the pass rate; a label keeps its gate until null removes it.

use serde_json::{Value, json};
use talon_store::Backend;

use super::{WRONG_CASES, evaluate, put, read, smoke, version};
use crate::common::{TestApp, assert_error};

on_both_databases!(
    the_gate_admits_only_versions_that_passed,
    the_gate_needs_an_evaluation_of_the_current_revision,
    a_dataset_deleted_and_made_again_needs_a_new_evaluation,
);

fn gate() -> Value {
    json!({"dataset": "smoke", "minPassRate": 0.9})
}

/// The 409 a refused version gets: its message, and the cases its details name.
async fn refused(response: reqwest::Response) -> (String, Vec<String>) {
    let error = assert_error(response, 409, "CONFLICT").await;
    let details = error["error"]["details"].as_array().unwrap();
    let cases = details
        .iter()
        .map(|d| {
            assert_eq!(d["field"], "requireEvaluation", "{error}");
            let message = d["message"].as_str().unwrap();
            let case = message.strip_prefix("Case `").and_then(|m| m.strip_suffix("` did not pass"));
            case.unwrap_or_else(|| panic!("{message}")).to_owned()
        })
        .collect();
    (error["error"]["message"].as_str().unwrap().to_owned(), cases)
}

async fn moved(app: &TestApp, path: &str, token: &str, body: Value) -> Value {
    let (status, label) = read(put(app, path, token, body).await).await;
    assert_eq!(status, 200, "PUT {path}: {label}");
    label
}

async fn deployed_version(app: &TestApp, token: &str, agent: &str) -> Value {
    app.get_json(&format!("/api/agents/{agent}"), token).await["deployedVersionId"].clone()
}

async fn the_gate_admits_only_versions_that_passed(backend: Backend) {
    let (app, _up, user, id) = smoke(backend).await;
    let token = user.token.as_str();
    let label = format!("/api/agents/{id}/labels/production");
    let (message, cases) =
        refused(put(&app, &label, token, json!({"versionId": 1, "requireEvaluation": gate()})).await).await;
    assert!(message.contains("Version 1 has no completed evaluation on dataset `smoke`"), "{message}");
    assert!(cases.is_empty(), "{cases:?}");

    evaluate(&app, token, &id, "smoke", json!([1, 2])).await;
    let (message, cases) =
        refused(put(&app, &label, token, json!({"versionId": 2, "requireEvaluation": gate()})).await).await;
    assert_eq!(cases, WRONG_CASES, "{message}");
    assert!(message.contains("Version 2 passed 40%") && message.contains("required 90%"), "{message}");
    assert!(WRONG_CASES.iter().all(|case| message.contains(&format!("`{case}`"))), "{message}");
    assert_eq!(app.get_json(&format!("/api/agents/{id}/labels"), token).await["data"], json!([]), "nothing written");

    // Version 1 passed: the label points at it and keeps the gate.
    let label_now = moved(&app, &label, token, json!({"versionId": 1, "requireEvaluation": gate()})).await;
    assert_eq!((&label_now["version"], &label_now["requireEvaluation"]), (&json!(1), &gate()));
    let (_, cases) = refused(put(&app, &label, token, json!({"versionId": 2})).await).await;
    assert_eq!(cases, WRONG_CASES, "a move without requireEvaluation keeps the label's");
    let listed = app.get_json(&format!("/api/agents/{id}/labels"), token).await;
    assert_eq!((&listed["data"][0]["version"], &listed["data"][0]["requireEvaluation"]), (&json!(1), &gate()));
    // A rate version 2 reaches lets it through, exactly at the bound.
    let low = json!({"dataset": "smoke", "minPassRate": 0.4});
    let label_now = moved(&app, &label, token, json!({"versionId": 2, "requireEvaluation": low})).await;
    assert_eq!((&label_now["version"], &label_now["requireEvaluation"]), (&json!(2), &low));
    // Null removes the gate, and the move goes through.
    moved(&app, &label, token, json!({"versionId": 1, "requireEvaluation": gate()})).await;
    let label_now = moved(&app, &label, token, json!({"versionId": 2, "requireEvaluation": null})).await;
    assert_eq!((&label_now["version"], &label_now["requireEvaluation"]), (&json!(2), &Value::Null));
    moved(&app, &label, token, json!({"versionId": 1})).await;

    // A deploy of version 2, a split with it as an arm, or a promote to it: refused, nothing deployed.
    let deploy = format!("/api/agents/{id}/deploy");
    let (_, cases) =
        refused(app.post(&deploy, Some(token), json!({"versionId": 2, "requireEvaluation": gate()})).await).await;
    assert_eq!(cases, WRONG_CASES);
    let split =
        json!({"split": [{"versionId": 1, "weight": 90}, {"versionId": 2, "weight": 10}], "requireEvaluation": gate()});
    let (_, cases) = refused(app.post(&deploy, Some(token), split).await).await;
    assert_eq!(cases, WRONG_CASES);
    assert_eq!(deployed_version(&app, token, &id).await, Value::Null);
    let (status, agent) =
        read(app.post(&deploy, Some(token), json!({"versionId": 1, "requireEvaluation": gate()})).await).await;
    assert_eq!((status, &agent["status"]), (200, &json!("deployed")), "{agent}");
    let v1 = agent["deployedVersionId"].clone();
    assert!(v1.is_string(), "{agent}");
    let promote = json!({"versionId": 2, "requireEvaluation": gate()});
    let (_, cases) = refused(app.post(&format!("{deploy}/promote"), Some(token), promote).await).await;
    assert_eq!(cases, WRONG_CASES);
    assert_eq!(deployed_version(&app, token, &id).await, v1);

    // A dataset the agent does not have.
    let unknown = json!({"versionId": 1, "requireEvaluation": {"dataset": "nope", "minPassRate": 0.5}});
    for response in [put(&app, &label, token, unknown.clone()).await, app.post(&deploy, Some(token), unknown).await] {
        let error = assert_error(response, 404, "NOT_FOUND").await;
        assert_eq!(error["error"]["details"][0]["field"], "requireEvaluation.dataset", "{error}");
    }
    let bad_rate = json!({"versionId": 1, "requireEvaluation": {"dataset": "smoke", "minPassRate": 1.5}});
    let error = assert_error(put(&app, &label, token, bad_rate).await, 400, "VALIDATION_ERROR").await;
    assert_eq!(error["error"]["details"][0]["field"], "requireEvaluation.minPassRate", "{error}");
}

async fn the_gate_needs_an_evaluation_of_the_current_revision(backend: Backend) {
    let (app, _up, user, id) = smoke(backend).await;
    let token = user.token.as_str();
    let label = format!("/api/agents/{id}/labels/production");
    let deploy = format!("/api/agents/{id}/deploy");
    evaluate(&app, token, &id, "smoke", json!([1, 2])).await;

    // A version never evaluated, though it would pass.
    assert_eq!(version(&app, &user, &id, "right").await, 3);
    let (message, cases) =
        refused(put(&app, &label, token, json!({"versionId": 3, "requireEvaluation": gate()})).await).await;
    assert!(message.contains("Version 3 has no completed evaluation"), "{message}");
    assert!(cases.is_empty());
    refused(app.post(&deploy, Some(token), json!({"versionId": 3, "requireEvaluation": gate()})).await).await;
    moved(&app, &label, token, json!({"versionId": 1, "requireEvaluation": gate()})).await;

    // The dataset's next revision: version 1's evaluation no longer counts.
    let (status, replaced) = read(
        put(&app, &format!("/api/agents/{id}/datasets/smoke"), token, json!({"cases": super::smoke_cases()})).await,
    )
    .await;
    assert_eq!((status, &replaced["revision"]), (200, &json!(2)), "{replaced}");
    let (message, cases) = refused(put(&app, &label, token, json!({"versionId": 1})).await).await;
    assert!(message.contains("revision 1") && message.contains("revision 2"), "{message}");
    assert!(cases.is_empty());
    refused(app.post(&deploy, Some(token), json!({"versionId": 1, "requireEvaluation": gate()})).await).await;

    let report = evaluate(&app, token, &id, "smoke", json!([1, 3])).await;
    assert_eq!(report["datasetRevision"], 2);
    assert_eq!(moved(&app, &label, token, json!({"versionId": 3})).await["version"], 3);
    assert_eq!(moved(&app, &label, token, json!({"versionId": 1})).await["version"], 1);
    let (status, agent) =
        read(app.post(&deploy, Some(token), json!({"versionId": 3, "requireEvaluation": gate()})).await).await;
    assert_eq!((status, &agent["status"]), (200, &json!("deployed")), "{agent}");
}

async fn a_dataset_deleted_and_made_again_needs_a_new_evaluation(backend: Backend) {
    let (app, _up, user, id) = smoke(backend).await;
    let token = user.token.as_str();
    let label = format!("/api/agents/{id}/labels/production");
    evaluate(&app, token, &id, "smoke", json!([1, 2])).await;
    moved(&app, &label, token, json!({"versionId": 1, "requireEvaluation": gate()})).await;

    // Made again under the same name, the dataset is at revision 1 once more; the evaluation of the
    // deleted one (also of revision 1) says nothing about it.
    let path = format!("/api/agents/{id}/datasets/smoke");
    assert_eq!(app.delete(&path, token).await.status(), 204);
    let cases = json!([{"name": "new", "input": "Say hello", "checks": [{"type": "exact", "value": "Goodbye"}]}]);
    let made = super::dataset(&app, token, &id, json!({"name": "smoke", "cases": cases})).await;
    assert_eq!(made["revision"], 1);
    let (message, cases) = refused(put(&app, &label, token, json!({"versionId": 1})).await).await;
    assert!(message.contains("Version 1 has no completed evaluation"), "{message}");
    assert!(cases.is_empty());
    let report = evaluate(&app, token, &id, "smoke", json!([1])).await;
    assert_eq!(report["summaries"][0]["passRate"], 0.0);
    let (_, cases) = refused(put(&app, &label, token, json!({"versionId": 1})).await).await;
    assert_eq!(cases, ["new"]);
}
