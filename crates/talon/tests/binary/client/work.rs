//! Tasks, the worker and chat from the command line.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::{ClientEnv, text};

/// An agent pushed from a folder (model `test/echo`), deployed when `deployed`.
fn agent(env: &ClientEnv, name: &str, deployed: bool) -> String {
    env.ok(&["init", "--name", name]);
    let slug = name.to_lowercase().replace(' ', "-");
    env.ok(&["push", &slug]);
    if deployed {
        env.ok(&["deploy", &slug]);
    }
    slug
}

#[tokio::test]
async fn tasks_are_created_listed_shown_and_cancelled() {
    let env = ClientEnv::start();
    let slug = agent(&env, "Reviewer", false);
    let created = env.json(&["tasks", "create", &slug, "Review PR 7", "--input", r#"{"pr": 7}"#, "--priority", "high"]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!((created["status"].as_str(), created["priority"].as_str()), (Some("queued"), Some("high")));
    assert_eq!(created["input"], json!({"pr": 7}));
    let listed = env.json(&["tasks", "ls", "--status", "queued", "--agent", &slug]);
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert!(env.ok(&["tasks", "ls"]).contains("Review PR 7"));
    assert!(env.ok(&["tasks", "show", &id]).contains("\"pr\": 7"));
    assert_eq!(env.json(&["tasks", "cancel", &id])["status"], "cancelled");
    let out = env.run(&["tasks", "create", &slug, "Bad", "--input", "{not json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = env.run(&["tasks", "show", "task_00000000000000000000000000000000"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[tokio::test]
async fn the_worker_completes_with_stdout_and_fails_with_stderr_and_the_exit_code() {
    let env = ClientEnv::start();
    let slug = agent(&env, "Shell", false);
    let create = |title: &str, input: Value| {
        let body = json!({"agentId": slug, "title": title, "input": input, "executor": "external", "maxAttempts": 1});
        env.api(Method::POST, "/api/tasks", Some(body))
    };
    let (status, good) = create("good", json!({"n": 1})).await;
    assert_eq!(status, 201, "{good}");
    let (_, bad) = create("bad", json!({"fail": true})).await;
    let (_, plain) = create("plain", json!({"n": 2})).await;
    // Reads the task's input from stdin; JSON out completes, `fail` in the input exits 3.
    let script = r#"input=$(cat); case "$input" in *fail*) echo "boom" >&2; exit 3;; *n\":2*) echo "not json";; *) printf '{"echo": %s}' "$input";; esac"#;
    let out = env.run(&["worker", &slug, "--max-tasks", "3", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert_eq!(printed.matches("completed").count(), 2, "{printed}");
    assert_eq!(printed.matches("failed").count(), 1, "{printed}");

    let task = |id: &Value| format!("/api/tasks/{}", id.as_str().unwrap());
    let (_, good) = env.api(Method::GET, &task(&good["id"]), None).await;
    assert_eq!((good["status"].as_str(), &good["output"]), (Some("completed"), &json!({"echo": {"n": 1}})));
    let (_, bad) = env.api(Method::GET, &task(&bad["id"]), None).await;
    assert_eq!(bad["status"], "failed");
    assert_eq!(bad["error"], "exit 3: boom");
    let (_, plain) = env.api(Method::GET, &task(&plain["id"]), None).await;
    assert_eq!(plain["output"], json!({"text": "not json\n"}));
}

#[tokio::test]
async fn ctrl_c_lets_the_running_command_finish_and_reports_it() {
    let env = ClientEnv::start();
    let slug = agent(&env, "Slow", false);
    let body = json!({"agentId": slug, "title": "slow", "executor": "external"});
    let (_, task) = env.api(Method::POST, "/api/tasks", Some(body)).await;
    let mut worker = env
        .command(&["worker", &slug, "--", "sh", "-c", "cat >/dev/null; sleep 1; echo '{\"done\": true}'"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let path = format!("/api/tasks/{}", task["id"].as_str().unwrap());
    let started = Instant::now();
    while env.api(Method::GET, &path, None).await.1["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(10), "the worker never claimed the task");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let interrupted = std::process::Command::new("kill").args(["-INT", &worker.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let out = tokio::task::spawn_blocking(move || {
        let status = worker.wait().unwrap();
        let mut stdout = String::new();
        std::io::Read::read_to_string(worker.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        (status, stdout)
    })
    .await
    .unwrap();
    assert!(out.0.success(), "the worker stops cleanly: {:?}", out.0);
    assert!(out.1.contains("completed"), "{}", out.1);
    let (_, finished) = env.api(Method::GET, &path, None).await;
    assert_eq!((finished["status"].as_str(), &finished["output"]), (Some("completed"), &json!({"done": true})));
}

#[tokio::test]
async fn chat_reads_one_message_from_stdin_and_streams_the_answer() {
    let env = ClientEnv::start();
    let slug = agent(&env, "Echo", true);
    let out = env.run_with_stdin(&["chat", &slug], "hello from a pipe\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello from a pipe\n");
    let out = env.run_with_stdin(&["chat", &format!("{slug}@1"), "--json"], "pinned");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((answer["content"].as_str(), answer["version"].as_str()), (Some("pinned"), Some("1")));
    assert_eq!(answer["model"], "test/echo");
    let out = env.run_with_stdin(&["chat", "nobody"], "hi");
    assert_eq!(out.status.code(), Some(1), "an unknown agent: {}", text(&out.stderr));
    let out = env.run_with_stdin(&["chat", &slug], "   ");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_worker_waits_for_an_unreachable_server_instead_of_exiting() {
    let env = ClientEnv::start();
    let mut worker = env
        .command(&["worker", "anything", "--", "true"])
        .env("TALON_URL", "http://127.0.0.1:1")
        .env("TALON_API_KEY", "tln_unused")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(worker.try_wait().unwrap().is_none(), "the worker is still waiting for the server");
    let interrupted = std::process::Command::new("kill").args(["-INT", &worker.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let out = worker.wait_with_output().unwrap();
    assert!(out.status.success(), "Ctrl-C while waiting stops cleanly: {:?}", out.status);
    let err = text(&out.stderr);
    assert!(err.contains("claim failed") && err.contains("retrying in 1 s"), "{err}");
}
