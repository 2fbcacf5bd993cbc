//! `talon audit`: the account's audit log, filtered and paged, as a table or JSON.

use super::{ClientEnv, text};

#[test]
fn audit_lists_who_changed_what_newest_first() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Counter"]);
    env.ok(&["push", "counter"]);
    env.ok(&["deploy", "counter"]);

    let log = env.json(&["audit", "--agent", "counter"]);
    let actions: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["agent.deployed", "version.created", "agent.created"], "{log}");
    assert!(log["data"].as_array().unwrap().iter().all(|e| e["actor"]["type"] == "session"), "{log}");

    let first = env.ok(&["audit", "--agent", "counter", "--limit", "1"]);
    assert!(first.contains("agent.deployed") && !first.contains("agent.created"), "{first}");
    let next = first.lines().last().unwrap().rsplit(' ').next().unwrap().to_owned();
    assert!(next.starts_with("aud_"), "{first}");
    let older = env.ok(&["audit", "--agent", "counter", "--limit", "1", "--after", &next]);
    assert!(older.contains("version.created"), "{older}");

    let out = env.run(&["audit", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
