//! The client commands end to end: a `talon serve` child on a free port and a temporary folder, and
//! the `talon` binary run against it as a user would, with its own config folder.

mod agents;
mod audit;
mod evaluations;
mod keys;
mod labels;
mod openclaw;
mod release;
mod usage;
mod webhooks;
mod work;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use talon_store::Backend;
use talon_store::testing::TestDatabase;

pub const TALON: &str = env!("CARGO_BIN_EXE_talon");
pub const PASSWORD: &str = "client-test-password";

/// A server of its own (SQLite, or PostgreSQL when `database_url` is given), an account on it, and a
/// client config folder signed in to it.
pub struct ClientEnv {
    pub dir: PathBuf,
    pub url: String,
    pub email: String,
    server: Child,
    /// The server's database when it is not the default SQLite file in `dir`.
    database: Option<TestDatabase>,
}

impl ClientEnv {
    /// A server on SQLite with a signed-in client.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server on a PostgreSQL database of its own with a signed-in client.
    pub fn start_on_postgres() -> Self {
        // Made on a thread of its own, so that async tests may call this too.
        let database = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(TestDatabase::new(Backend::Postgres)).expect("a test database (is PostgreSQL running?)")
        })
        .join()
        .unwrap();
        let mut env = Self::start_with(&[("DATABASE_URL", database.url.as_str())]);
        env.database = Some(database);
        env
    }

    /// Like `start`, with extra environment for the server (e.g. `TALON_WEBHOOK_ALLOW_PRIVATE`).
    pub fn start_with(server_env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("talon-client-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(dir.join("work")).unwrap();
        let mut command = Command::new(TALON);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TALON_DATA_DIR", dir.join("data"))
            .env("RUST_LOG", "info")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("TALON_CONFIG")
            .env_remove("TALON_LOG_FORMAT")
            .stderr(Stdio::piped());
        for (name, value) in server_env {
            command.env(name, value);
        }
        let mut server = command.spawn().unwrap();
        let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
        let address = loop {
            let line = lines.next().expect("server exited before listening").unwrap();
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on http://".len()..].split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
        let url = format!("http://{address}");
        let email = format!("client-{}@example.com", unique());
        assert!(register(&url, &email), "registering {email}");
        let env = ClientEnv { dir, url, email, server, database: None };
        let login = env.run_with_stdin(
            &["login", "--url", &env.url.clone(), "--email", &env.email.clone(), "--password-stdin"],
            PASSWORD,
        );
        assert!(login.status.success(), "login: {}", text(&login.stderr));
        env
    }

    /// The folder commands run in (`<dir>/work`).
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// A `talon` command with this client's config folder, run in `work()`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(TALON);
        command
            .args(args)
            .current_dir(self.work())
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("NO_COLOR", "1")
            .env_remove("TALON_URL")
            .env_remove("TALON_API_KEY")
            .env_remove("TALON_PROFILE")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and expects success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "talon {}: {}\n{}", args.join(" "), text(&out.stderr), text(&out.stdout));
        text(&out.stdout)
    }

    /// Runs with `--json` and parses what it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("talon {}: not JSON ({e}): {out}", args.join(" ")))
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The credential the client saved, to call the API directly in a test.
    pub fn credential(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("config/talon/config.toml")).unwrap();
        let config: toml::Table = toml::from_str(&text).unwrap();
        config["profiles"]["default"]["credential"].as_str().unwrap().to_owned()
    }

    /// Calls the API directly with the client's credential.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let mut request = client.request(method, format!("{}{path}", self.url)).bearer_auth(self.credential());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.work().join(relative)
    }
}

impl Drop for ClientEnv {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Only once the server is gone.
        drop(self.database.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn unique() -> u128 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128;
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() * 1000 + n
}

pub fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Registers `email` (on a thread of its own, so that async tests may call this too).
fn register(url: &str, email: &str) -> bool {
    let (url, body) = (format!("{url}/api/auth/register"), json!({"email": email, "password": PASSWORD}));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().is_success()
        })
    })
    .join()
    .unwrap()
}
