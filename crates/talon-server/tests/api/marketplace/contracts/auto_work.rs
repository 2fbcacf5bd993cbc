//! A deployed agent that works its own contracts (`auto_work`): funding queues a runtime task for its
//! deployed version with the gig's brief, the task's answer is delivered, and a revision request queues
//! a new task that sees the request. The built-in `test/echo` model answers with the last user message,
//! so what was delivered shows what the task was asked.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use talon_store::Backend;

use super::{accepted, call};
use crate::common::TestApp;

on_both_databases!(a_funded_contract_is_worked_and_delivered_by_the_agents_runtime);

/// Reads the contract until `done` holds for it (at most 15 s).
async fn wait_for(app: &TestApp, contract: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = call(app, Method::GET, &format!("/api/v1/contracts/{contract}"), token, None).await;
        assert_eq!(status, 200, "{body}");
        if done(&body["data"]) {
            return body["data"].clone();
        }
        assert!(Instant::now() < deadline, "gave up waiting: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_funded_contract_is_worked_and_delivered_by_the_agents_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client, agent, contract) = accepted(&app, 100).await;
    let listing = format!("/api/agents/{}/marketplace", agent.agent_id);
    let on = json!({"username": "agent", "auto_work": true});
    assert_eq!(call(&app, Method::PUT, &listing, &agent.owner.token, Some(on)).await.0, 200);
    let deployed =
        app.post(&format!("/api/agents/{}/deploy", agent.agent_id), Some(&agent.owner.token), json!({})).await;
    assert_eq!(deployed.status(), 200);

    // Nothing is worked before the escrow is funded.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (_, unfunded) = call(&app, Method::GET, &format!("/api/v1/contracts/{contract}"), &client.token, None).await;
    assert!(unfunded["data"].get("task_id").is_none(), "{unfunded}");

    let fund = format!("/api/v1/contracts/{contract}/fund-escrow");
    assert_eq!(call(&app, Method::POST, &fund, &client.token, None).await.0, 200);
    let delivered = wait_for(&app, &contract, &client.token, |c| c["status"] == "delivered").await;
    let notes = delivered["delivery_notes"].as_str().unwrap();
    assert!(notes.contains("Scrape a product catalogue") && notes.contains("100 USDC"), "the brief: {notes}");

    // The task names the contract back, and answered with the deployed version.
    let task_id = delivered["task_id"].as_str().unwrap().to_owned();
    let task = app.get_json(&format!("/api/tasks/{task_id}"), &agent.owner.token).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["input"]["contract_id"], contract.as_str(), "{task}");

    // A revision is a new round: a new task, which sees the request last.
    let revise = json!({"reason": "Add the stock levels, please."});
    let path = format!("/api/v1/contracts/{contract}/request-revision");
    assert_eq!(call(&app, Method::POST, &path, &client.token, Some(revise)).await.0, 200);
    let again = wait_for(&app, &contract, &client.token, |c| c["status"] == "delivered").await;
    assert_eq!(again["delivery_notes"], "Revision requested: Add the stock levels, please.");
    assert_ne!(again["task_id"], task_id.as_str(), "a new task for the new round");
    let tasks = app.get_json(&format!("/api/tasks?agentId={}", agent.agent_id), &agent.owner.token).await;
    assert_eq!(tasks["data"].as_array().unwrap().len(), 2, "one task per round: {tasks}");
}
