//! A Python client generated from `/openapi.json` by `openapi-python-client` (from PyPI; `.ci/run` installs
//! it) creates an agent, adds a version, compares the two, creates and claims a task and registers a
//! webhook: the document is a contract a generator can build a working client from.

use std::path::Path;

use talon_store::Backend;

use crate::common::TestApp;

on_both_databases!(a_generated_python_client_works_against_the_server);

async fn a_generated_python_client_works_against_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("generated@example.com").await;
    let document = app.client.get(format!("{}/openapi.json", app.base)).send().await.unwrap().text().await.unwrap();
    let scratch = Scratch::new();
    let spec = scratch.path().join("openapi.json");
    std::fs::write(&spec, document).unwrap();
    let package = scratch.path().join("talon_client");
    let generated = tokio::process::Command::new("openapi-python-client")
        .arg("generate")
        .arg("--path")
        .arg(&spec)
        .args(["--meta", "none", "--output-path"])
        .arg(&package)
        .output()
        .await
        .expect("openapi-python-client runs (is it installed?)");
    let report =
        format!("{}{}", String::from_utf8_lossy(&generated.stdout), String::from_utf8_lossy(&generated.stderr));
    assert!(generated.status.success(), "generation failed:\n{report}");
    // A part of the document the generator could not read is left out of the client, with a warning.
    assert!(!report.contains("Warning"), "the generator could not read all of the document:\n{report}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_client.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(scratch.path())
        .arg(&app.base)
        .arg(&user.token)
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && stdout.trim() == "ok", "the generated client failed:\n{stdout}\n{stderr}");
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("talon-python-client-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
