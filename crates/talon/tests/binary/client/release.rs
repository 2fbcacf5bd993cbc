//! `talon split|promote|abort` (canary splits) and `talon merge` (a fork merged back, its conflicts
//! listed until resolved).

use super::{ClientEnv, text};

fn write_prompt(env: &ClientEnv, dir: &str, prompt: &str) {
    std::fs::write(env.path(&format!("{dir}/prompt.md")), prompt).unwrap();
}

#[test]
fn a_split_is_started_promoted_and_aborted() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Counter"]);
    write_prompt(&env, "counter", "Count.\n");
    env.ok(&["push", "counter"]);
    write_prompt(&env, "counter", "Count again.\n");
    env.ok(&["push", "counter"]);
    env.ok(&["agents", "label", "counter", "production", "1"]);

    let started = env.ok(&["split", "counter", "production=90", "2=10"]);
    assert!(started.contains("counter serves a canary split: production 90%, v2 10%"), "{started}");
    let promoted = env.json(&["promote", "counter", "2"]);
    assert!(promoted["split"].is_null(), "{promoted}");
    assert!(env.ok(&["split", "counter", "1=50", "2=50"]).contains("v1 50%, v2 50%"));
    assert!(env.ok(&["promote", "counter", "production"]).contains("serves production alone"));

    env.ok(&["split", "counter", "1=50", "2=50"]);
    let aborted = env.ok(&["abort", "counter"]);
    assert!(aborted.contains("counter split aborted"), "{aborted}");
    // Nothing left to abort; weights that do not add up; an arm that is no VERSION=WEIGHT.
    let out = env.run(&["abort", "counter"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = env.run(&["split", "counter", "1=50", "2=60"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = env.run(&["split", "counter", "1=50", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("VERSION=WEIGHT"), "{}", text(&out.stderr));
}

#[test]
fn a_fork_is_merged_back_its_conflicts_resolved() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Counter"]);
    write_prompt(&env, "counter", "One.\nTwo.\nThree.\n");
    env.ok(&["push", "counter"]);
    env.ok(&["fork", "counter", "--name", "Counter EU"]);
    env.ok(&["pull", "counter-eu", "eu"]);
    write_prompt(&env, "counter", "One.\nTwo, said the parent.\nThree.\n");
    env.ok(&["push", "counter"]);
    write_prompt(&env, "eu", "One.\nTwo, said the fork.\nThree.\n");
    env.ok(&["push", "eu"]);

    // The conflict is listed, and nothing is merged until it is resolved.
    let out = env.run(&["merge", "counter", "--from", "counter-eu", "--preview"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(listed.contains("1 conflict:") && listed.contains("  prompt"), "{listed}");
    assert!(listed.contains("Two, said the parent.") && listed.contains("Two, said the fork."), "{listed}");
    let out = env.run(&["merge", "counter", "--from", "counter-eu"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 unresolved conflict (prompt)"), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("theirs:"), "{}", text(&out.stdout));
    assert!(env.ok(&["show", "counter"]).contains("counter v2"));

    let merged = env.ok(&["merge", "counter", "--from", "counter-eu@2", "--theirs", "prompt", "-m", "Take EU"]);
    assert!(merged.contains("merged counter-eu v2 into counter v3"), "{merged}");
    let shown = env.ok(&["show", "counter"]);
    assert!(shown.contains("Two, said the fork.") && shown.contains("Take EU"), "{shown}");

    // A later change of the fork merges cleanly.
    write_prompt(&env, "eu", "One.\nTwo, said the fork.\nThree, in Europe.\n");
    env.ok(&["push", "eu"]);
    let preview = env.ok(&["merge", "counter", "--from", "counter-eu", "--preview"]);
    assert!(preview.contains("no conflicts") && preview.contains("Three, in Europe."), "{preview}");
    let merged = env.json(&["merge", "counter", "--from", "counter-eu"]);
    assert_eq!(merged["versionNumber"], 4, "{merged}");
    assert!(env.ok(&["show", "counter"]).contains("Three, in Europe."));
}
