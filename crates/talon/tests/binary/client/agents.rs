//! Sign-in and agents as code: init → push → diff → push → log → pull, conditional pushes, and the
//! errors and exit codes a script relies on.

use reqwest::Method;
use serde_json::json;

use super::{ClientEnv, TALON, text, write};

#[test]
fn login_keeps_a_private_profile_and_whoami_reads_it() {
    let env = ClientEnv::start();
    let config = env.dir.join("config/talon/config.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(config.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert!(env.ok(&["whoami"]).contains(&env.email));
    assert_eq!(env.json(&["whoami"])["email"], env.email);

    // A wrong password is an auth failure (exit 3) and leaves the profile as it was.
    let out = env
        .run_with_stdin(&["login", "--url", &env.url, "--email", &env.email, "--password-stdin"], "wrong-password-1");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("request req_"), "the server's request id is shown: {}", text(&out.stderr));
    assert!(env.ok(&["whoami"]).contains(&env.email));

    env.ok(&["logout"]);
    let out = env.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(3), "signed out: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("talon login"));

    // An environment key overrides the (now empty) profile.
    let out = env.command(&["whoami"]).env("TALON_API_KEY", "tln_not_a_key").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out =
        env.command(&["whoami"]).env("TALON_URL", "http://127.0.0.1:1").env("TALON_API_KEY", "tln_x").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "an unreachable server is a server error: {}", text(&out.stderr));
}

#[test]
fn init_push_diff_pull_round_trip_on_sqlite() {
    init_push_diff_pull_round_trip(ClientEnv::start());
}

#[test]
fn init_push_diff_pull_round_trip_on_postgres() {
    init_push_diff_pull_round_trip(ClientEnv::start_on_postgres());
}

fn init_push_diff_pull_round_trip(env: ClientEnv) {
    env.ok(&["init", "--name", "Support Bot"]);
    let dir = env.path("support-bot");
    write(&dir.join("prompt.md"), "You help customers.\nBe brief.\n");
    write(
        &dir.join("tools/lookup.json"),
        r#"{"type": "function", "function": {"name": "lookup", "description": "Finds an order", "parameters": {"type": "object"}}}"#,
    );
    let diff = env.ok(&["diff", "support-bot"]);
    assert!(diff.contains("is new"), "{diff}");
    assert!(env.ok(&["push", "support-bot"]).contains("created, v1"));
    assert!(env.ok(&["diff", "support-bot"]).contains("No changes against v1"));
    assert!(env.ok(&["push", "support-bot"]).contains("nothing to push (at v1)"));

    // A change: the diff shows it like git, the push makes v2 with the message.
    write(&dir.join("prompt.md"), "You help customers.\nBe kind.\n");
    let manifest = std::fs::read_to_string(dir.join("talon.toml")).unwrap();
    assert!(manifest.contains("[config]"), "{manifest}");
    write(&dir.join("talon.toml"), &manifest.replace("[config]", "[config]\ntemperature = 0.4"));
    let diff = env.ok(&["diff", "support-bot"]);
    for expected in ["-Be brief.", "+Be kind.", "+config.temperature: 0.4", "--- a/prompt.md (v1)"] {
        assert!(diff.contains(expected), "{expected} in:\n{diff}");
    }
    let json = env.json(&["diff", "support-bot"]);
    assert_eq!(json["head"], 1);
    assert_eq!(json["diff"]["config"]["added"]["temperature"], 0.4);
    assert!(env.ok(&["push", "support-bot", "-m", "Kinder"]).contains("v1 → v2 (prompt, config)"));
    let log = env.ok(&["log", "support-bot"]);
    let first = log.lines().next().unwrap();
    assert!(first.starts_with("v2 (head)") && first.ends_with("Kinder"), "{log}");
    assert_eq!(env.json(&["log", "support-bot"])["data"].as_array().unwrap().len(), 2);

    // Pulled elsewhere, the folder is the same agent: pushing it changes nothing.
    env.ok(&["pull", "support-bot", "copy"]);
    assert_eq!(std::fs::read_to_string(env.path("copy/prompt.md")).unwrap(), "You help customers.\nBe kind.\n");
    assert!(env.path("copy/tools/lookup.json").exists());
    assert!(env.ok(&["push", "copy"]).contains("nothing to push (at v2)"));
    env.ok(&["pull", "support-bot@1", "old"]);
    assert_eq!(std::fs::read_to_string(env.path("old/prompt.md")).unwrap(), "You help customers.\nBe brief.\n");

    // A profile field alone is a PATCH, not a version.
    let manifest = std::fs::read_to_string(env.path("copy/talon.toml")).unwrap();
    write(&env.path("copy/talon.toml"), &manifest.replace("apiAccess = false", "apiAccess = true"));
    assert!(env.ok(&["push", "copy"]).contains("updated apiAccess (still v2)"));
    let shown = env.json(&["show", "support-bot"]);
    assert_eq!(shown["versionNumber"], 2);

    env.ok(&["rollback", "support-bot", "1"]);
    assert!(env.ok(&["show", "support-bot"]).contains("Be brief."));
    env.ok(&["deploy", "support-bot@1"]);
    let agents = env.json(&["agents", "ls"]);
    assert_eq!(agents["data"][0]["status"], "deployed");
    env.ok(&["stop", "support-bot"]);
    env.ok(&["fork", "support-bot", "--name", "Support Bot EU"]);
    let tree = env.ok(&["lineage", "support-bot"]);
    assert!(tree.contains("└── Support Bot EU v1"), "{tree}");
}

#[tokio::test]
async fn a_push_behind_the_head_is_refused_and_says_who_moved_it() {
    let env = ClientEnv::start();
    env.ok(&["init", "--name", "Shared"]);
    env.ok(&["push", "shared"]);
    // Someone else pushes v2 meanwhile.
    let (status, _) = env
        .api(
            Method::POST,
            "/api/agents/shared/versions",
            Some(json!({"prompt": "theirs", "commitMessage": "Their change"})),
        )
        .await;
    assert_eq!(status, 201);
    write(&env.path("shared/prompt.md"), "mine");
    let out = env.run(&["push", "shared", "--expect", "1"]);
    assert_eq!(out.status.code(), Some(1), "a conflict is a refusal");
    let err = text(&out.stderr);
    assert!(err.contains("shared is at v2") && err.contains("Their change") && err.contains(&env.email), "{err}");
    let (_, head) = env.api(Method::GET, "/api/agents/shared", None).await;
    assert_eq!(head["currentVersion"]["prompt"], "theirs", "nothing was written");
    assert!(env.ok(&["push", "shared", "--expect", "2"]).contains("v2 → v3"));
}

#[test]
fn bad_input_is_a_usage_error_or_names_the_file() {
    let env = ClientEnv::start();
    let out = env.run(&["pull", "x@Latest"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = env.run(&["push", "nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("talon.toml is missing"), "{}", text(&out.stderr));
    // The server's field errors are printed with its message.
    env.ok(&["init", "--name", "Bad Model", "--model", "nowhere/none"]);
    let out = env.run(&["push", "bad-model"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("VALIDATION_ERROR") && err.contains("model") && err.contains("nowhere"), "{err}");
    let out = env.run(&["pull", "no-such-agent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("NOT_FOUND"), "{}", text(&out.stderr));
}

#[test]
fn help_covers_every_client_command() {
    let out = std::process::Command::new(TALON).arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for command in [
        "login",
        "logout",
        "whoami",
        "init",
        "pull",
        "diff",
        "push",
        "log",
        "show",
        "rollback",
        "fork",
        "lineage",
        "deploy",
        "stop",
        "agents",
        "completions",
    ] {
        assert!(help.contains(&format!("  {command} ")), "{command} in:\n{help}");
    }
    let out = std::process::Command::new(TALON).args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success() && text(&out.stdout).contains("_talon"));
}
