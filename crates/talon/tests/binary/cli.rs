//! The `talon` binary as a user runs it: help, serve on a free port, the Quick Start, graceful stop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const TALON: &str = env!("CARGO_BIN_EXE_talon");

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("talon-cli-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[test]
fn help_lists_every_command() {
    let out = Command::new(TALON).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "migrate", "seed", "set-plan", "set-role", "credit"] {
        assert!(text.contains(command), "{command} in help:\n{text}");
    }
}

type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Starts `talon serve` on port 0 and returns the child and the address its log announces.
fn start(data_dir: &std::path::Path) -> (Child, String) {
    let (child, address, _) = start_logging(data_dir);
    (child, address)
}

/// `start`, also keeping every line the server logs (at the default level).
fn start_logging(data_dir: &std::path::Path) -> (Child, String, Log) {
    let mut child = Command::new(TALON)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("TALON_DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env_remove("REDIS_URL")
        .env_remove("TALON_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("TALON_LOG_FORMAT")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on http://".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    let log = Log::default();
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    (child, address, log)
}

#[tokio::test]
async fn serve_answers_the_quick_start_and_stops_on_sigterm() {
    let dir = temp_dir();
    let (mut child, address, log) = start_logging(&dir);
    let client = reqwest::Client::new();
    let credentials = json!({"email": "you@example.com", "password": "your-secure-password"});
    let register = client.post(format!("http://{address}/api/auth/register")).json(&credentials).send().await.unwrap();
    assert_eq!(register.status(), 202);
    let login = client.post(format!("http://{address}/api/auth/login")).json(&credentials).send().await.unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    assert!(dir.join("talon.db").exists(), "SQLite database in the data dir");
    let secret = std::fs::read_to_string(dir.join("jwt-secret")).unwrap();
    assert!(secret.len() >= 32, "generated JWT secret kept in the data dir");

    // At the default level each request is one line, and no credential is ever in it.
    let me = client
        .get(format!("http://{address}/api/auth/me"))
        .bearer_auth(&token)
        .header("x-request-id", "cli-log-me")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // The line is written as the response goes out, and read from the child's stderr by another
    // thread: give it a moment to arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lines = loop {
        let lines = log.lock().unwrap().clone();
        let complete = ["cli-log-me", "/api/auth/login"].iter().all(|needle| lines.iter().any(|l| l.contains(needle)));
        if complete || std::time::Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let line = lines.iter().find(|l| l.contains("request_id=\"cli-log-me\"")).unwrap_or_else(|| panic!("{lines:#?}"));
    for field in ["INFO", "method=GET", "route=\"/api/auth/me\"", "status=200", "latency_ms=", "account_id="] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(lines.iter().any(|l| l.contains("route=\"/api/auth/login\"") && l.contains("status=200")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains(&token)), "the session token reached the log");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = wait(&mut child, Duration::from_secs(10)).expect("stopped after SIGTERM");
    assert!(status.success(), "clean exit: {status}");

    // Restarted, it keeps its data and its secret: the old session is still valid.
    let (mut child, address) = start(&dir);
    let me = client.get(format!("http://{address}/api/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn seed_creates_a_demo_account_once() {
    let dir = temp_dir();
    let run = || {
        Command::new(TALON)
            .arg("seed")
            .env("TALON_DATA_DIR", &dir)
            .env_remove("DATABASE_URL")
            .env_remove("TALON_LISTEN")
            .env_remove("TALON_URL")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success());
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(text.contains("Created the demo account demo@talon.local"), "{text}");
    assert!(text.contains("/api/auth/login"), "{text}");
    let second = String::from_utf8(run().stdout).unwrap();
    assert!(second.contains("already exists"), "{second}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn seed_prints_the_login_call_for_the_address_serve_listens_on() {
    let dir = temp_dir();
    let seed = |args: &[&str], listen: &str| {
        let out = Command::new(TALON)
            .arg("seed")
            .args(args)
            .env("TALON_DATA_DIR", &dir)
            .env("TALON_LISTEN", listen)
            .env_remove("DATABASE_URL")
            .env_remove("TALON_URL")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let text = seed(&[], "127.0.0.1:4321");
    assert!(text.contains("curl -X POST http://127.0.0.1:4321/api/auth/login"), "{text}");
    let text = seed(&["--listen", "0.0.0.0:8080"], "127.0.0.1:4321");
    assert!(text.contains("curl -X POST http://127.0.0.1:8080/api/auth/login"), "{text}");
    let text = seed(&["--url", "https://talon.example.com"], "127.0.0.1:4321");
    assert!(text.contains("curl -X POST https://talon.example.com/api/auth/login"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn set_role_and_credit_work_on_the_database() {
    let dir = temp_dir();
    let talon = |args: &[&str]| {
        let out = Command::new(TALON)
            .args(args)
            .env("TALON_DATA_DIR", &dir)
            .env_remove("DATABASE_URL")
            .env_remove("TALON_LISTEN")
            .env_remove("TALON_URL")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    assert!(talon(&["seed"]).0);
    let (ok, out, err) = talon(&["set-role", "demo@talon.local", "operator"]);
    assert!(ok, "{err}");
    assert!(out.contains("demo@talon.local is now operator"), "{out}");
    assert!(talon(&["set-role", "Demo@Talon.local", "user"]).0, "emails are matched case-insensitively");
    let (ok, _, err) = talon(&["set-role", "nobody@talon.local", "operator"]);
    assert!(!ok && err.contains("no account"), "{err}");
    assert!(!talon(&["set-role", "demo@talon.local", "admin"]).0, "only operator or user");

    let (ok, out, err) = talon(&["credit", "demo@talon.local", "12.5", "--reference", "wire-1"]);
    assert!(ok, "{err}");
    assert!(out.contains("Credited 12.5 USDC") && out.contains("balance is 12.5 USDC"), "{out}");
    let (ok, out, err) = talon(&["credit", "demo@talon.local", "0.25", "--reference", "wire-2"]);
    assert!(ok && out.contains("balance is 12.75 USDC"), "{out}{err}");
    let (ok, _, err) = talon(&["credit", "demo@talon.local", "1", "--reference", "wire-1"]);
    assert!(!ok && err.contains("already credited"), "{err}");
    for amount in ["0", "-1", "1.0000001", "ten"] {
        assert!(!talon(&["credit", "demo@talon.local", amount, "--reference", "wire-x"]).0, "{amount}");
    }
    let (ok, _, err) = talon(&["credit", "nobody@talon.local", "1", "--reference", "wire-3"]);
    assert!(!ok && err.contains("no account"), "{err}");
    assert!(!talon(&["credit", "demo@talon.local", "1"]).0, "the reference is required");
    std::fs::remove_dir_all(dir).unwrap();
}

fn wait(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().ok();
    None
}
