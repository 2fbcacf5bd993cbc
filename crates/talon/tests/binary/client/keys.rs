//! `talon keys …`: a key is created with its scopes and shown once, listed, used, and refused once
//! revoked; without scopes and without a terminal to ask on, creating one is a usage error.

use reqwest::Method;
use serde_json::{Value, json};

use super::{ClientEnv, text};

fn listed(env: &ClientEnv, id: &str) -> Option<Value> {
    env.json(&["keys", "ls"])["data"].as_array().unwrap().iter().find(|key| key["id"] == id).cloned()
}

#[test]
fn keys_are_created_listed_used_and_revoked() {
    let env = ClientEnv::start();
    let out = env.run(&["keys", "create", "ci"]);
    assert_eq!(out.status.code(), Some(2), "no terminal and no --scope: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--scope"), "{}", text(&out.stderr));
    let out = env.run(&["keys", "create", "ci", "--scope", "agents:delete"]);
    assert_eq!(out.status.code(), Some(2), "an unknown scope: {}", text(&out.stderr));

    let created =
        env.json(&["keys", "create", "ci", "--scope", "agents:read", "--scope", "chat", "--expires-in", "30"]);
    let (key, id) = (created["key"].as_str().unwrap(), created["id"].as_str().unwrap());
    assert_eq!(created["scopes"], json!(["agents:read", "chat"]));
    assert!(created["expiresAt"].is_string(), "{created}");
    let row = listed(&env, id).unwrap();
    assert!(key.starts_with(row["keyPrefix"].as_str().unwrap()) && row.get("key").is_none(), "{row}");
    let table = env.ok(&["keys", "ls"]);
    let line = table.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("agents:read,chat"), "{line}");

    // The key signs in on its own; once revoked, it is refused (exit 3).
    let out = env.command(&["whoami"]).env("TALON_API_KEY", key).output().unwrap();
    assert!(out.status.success() && text(&out.stdout).contains(&env.email), "{}", text(&out.stderr));
    assert!(env.ok(&["keys", "revoke", id]).contains(id));
    let out = env.command(&["whoami"]).env("TALON_API_KEY", key).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(listed(&env, id).is_none());
}

#[tokio::test]
async fn a_key_can_be_restricted_to_one_agent_named_by_its_slug() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Scoped"]);
    env.ok(&["push", "scoped"]);
    let (_, agent) = env.api(Method::GET, "/api/agents/scoped", None).await;
    let created = env.json(&["keys", "create", "one agent", "--scope", "agents:read", "--agent", "scoped"]);
    assert_eq!(created["agentId"], agent["id"], "{created}");
    let out = env.run(&["keys", "create", "nobody's", "--scope", "chat", "--agent", "nobody"]);
    assert_eq!(out.status.code(), Some(1), "an unknown agent: {}", text(&out.stderr));
}
