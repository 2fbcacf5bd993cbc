//! `talon agents labels|label|unlabel`: an agent's labels, listed, moved and deleted.

use super::{ClientEnv, text};

#[test]
fn labels_are_listed_moved_and_deleted() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Counter"]);
    env.ok(&["push", "counter"]);
    std::fs::write(env.path("counter/prompt.md"), "Count again.\n").unwrap();
    env.ok(&["push", "counter"]);

    let moved = env.ok(&["agents", "label", "counter", "production", "1"]);
    assert!(moved.contains("counter@production now names v1"), "{moved}");
    env.ok(&["agents", "label", "counter", "staging", "production"]);
    env.ok(&["agents", "label", "counter", "production", "2"]);
    let listed = env.ok(&["agents", "labels", "counter"]);
    let rows: Vec<&str> = listed.lines().skip(1).collect();
    assert!(rows[0].starts_with("production") && rows[0].contains("v2"), "{listed}");
    assert!(rows[1].starts_with("staging") && rows[1].contains("v1"), "{listed}");
    let json = env.json(&["agents", "labels", "counter"]);
    assert_eq!(json["data"].as_array().unwrap().len(), 2);

    // AGENT@LABEL names the version a label points at, wherever AGENT@N does.
    assert!(env.ok(&["show", "counter@staging"]).contains("counter v1"));
    env.ok(&["pull", "counter@staging", "staged"]);
    let staged = std::fs::read_to_string(env.path("staged/prompt.md")).unwrap();
    assert_ne!(staged, "Count again.\n", "v1's prompt");
    assert!(env.ok(&["deploy", "counter@production"]).contains("production (pinned)"));
    let out = env.run_with_stdin(&["chat", "counter@staging", "--json"], "labelled");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((answer["content"].as_str(), answer["version"].as_str()), (Some("labelled"), Some("1")));

    env.ok(&["agents", "unlabel", "counter", "staging"]);
    assert_eq!(env.json(&["agents", "labels", "counter"])["data"].as_array().unwrap().len(), 1);
    let out = env.run(&["agents", "label", "counter", "Prod", "1"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("label"), "{}", text(&out.stderr));
}
