//! The official `openai` Python package against `/v1`, JSON and streaming: it must work unmodified.
//! The package comes from PyPI (`python3 -m pip install openai`; `.ci/run` installs it).

use crate::common::TestApp;
use serde_json::json;
use talon_store::Backend;

on_both_databases!(the_official_python_sdk_works_unmodified);

async fn the_official_python_sdk_works_unmodified(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "You help."})).await;
    assert_eq!(app.post("/api/agents/support-bot/deploy", Some(&user.token), json!({})).await.status(), 200);
    let key = app.api_key(&user, &["chat"]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_sdk.py");
    let output =
        tokio::process::Command::new("python3").args([script, &app.base, &key]).output().await.expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed (is `openai` installed?):\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "ok");
}
