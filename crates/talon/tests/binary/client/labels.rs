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

    env.ok(&["agents", "unlabel", "counter", "staging"]);
    assert_eq!(env.json(&["agents", "labels", "counter"])["data"].as_array().unwrap().len(), 1);
    let out = env.run(&["agents", "label", "counter", "Prod", "1"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("label"), "{}", text(&out.stderr));
}
