//! A server told to stop finishes what its workers hold: a runtime task being answered when the shutdown
//! begins is completed with its answer, not left running until its lease lapses.

use serde_json::json;
use talon_gateway::testing::upstream;
use talon_gateway::{ProviderConfig, ProviderKind};
use talon_store::Backend;

use crate::common::TestApp;

on_both_databases!(a_runtime_answer_in_flight_at_shutdown_is_recorded);

async fn a_runtime_answer_in_flight_at_shutdown_is_recorded(backend: Backend) {
    let up = upstream().await;
    let mut config = crate::common::test_config();
    config.providers.push(ProviderConfig {
        name: "up".into(),
        kind: ProviderKind::Openai,
        base_url: up.base.clone(),
        api_key_env: None,
    });
    let app = TestApp::spawn_with(backend, config.clone()).await;
    let user = app.register("drain@example.com").await;
    // The mock upstream's `slow` model answers after 2 seconds.
    let agent =
        app.create_agent(&user.token, json!({"name": "Slow", "prompt": "p", "model": {"primary": "up/slow"}})).await;
    let id = agent["id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/api/agents/{id}/deploy"), Some(&user.token), json!({})).await.status(), 200);
    let task =
        app.create_task(&user.token, json!({"agentId": id, "title": "Drain", "input": {"prompt": "hello"}})).await;
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    app.wait_for_task_status(&path, &user.token, "running").await;

    let db = app.stop().await;
    config.runtime_workers = 0;
    let after = TestApp::start(db, config).await;
    let token = after
        .post("/api/auth/login", None, json!({"email": "drain@example.com", "password": crate::common::PASSWORD}))
        .await;
    let token = token.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let settled = after.get_json(&path, &token).await;
    assert_eq!(settled["status"], "completed", "{settled}");
    assert!(settled["output"].is_object(), "{settled}");
}
