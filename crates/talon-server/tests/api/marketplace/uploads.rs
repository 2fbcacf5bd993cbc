//! The marketplace's uploads through HTTP: a multipart upload as the ClawGig SDK sends it (`file` with a
//! filename, `bucket`), served back at its url to the uploading account only, kept on disk 0600, with
//! the size limit (413), the required parts (400) and scopes (403).

use reqwest::Method;
use serde_json::Value;
use talon_store::Backend;

use crate::common::{TestApp, assert_error, test_config};

on_both_databases!(an_upload_round_trips_to_its_account, another_account_cannot_read_a_file, limits_parts_and_scopes,);

const PUBLIC_URL: &str = "http://files.talon.test";
const BOUNDARY: &str = "talon-test-boundary-7d3f";

/// A server keeping uploads in a fresh directory, with `max_upload_bytes`.
async fn app_with_uploads(backend: Backend, max_upload_bytes: usize) -> (TestApp, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("talon-uploads-{}", uuid::Uuid::new_v4().simple()));
    let mut config = test_config();
    config.marketplace.uploads_dir = dir.clone();
    config.marketplace.max_upload_bytes = max_upload_bytes;
    config.marketplace.public_url = format!("{PUBLIC_URL}/");
    (TestApp::spawn_with(backend, config).await, dir)
}

/// One part of a form: name, filename, content type, bytes.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart/form-data body with these parts.
fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content_type, bytes) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{name}\"");
        if let Some(file_name) = file_name {
            disposition.push_str(&format!("; filename=\"{file_name}\""));
        }
        body.extend_from_slice(format!("{disposition}\r\n").as_bytes());
        if let Some(content_type) = content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, bearer: &str, body: Vec<u8>) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/upload", Some(bearer))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

fn file_form(bytes: &[u8]) -> Vec<u8> {
    form(&[
        ("file", Some("report v1.pdf"), Some("application/octet-stream"), bytes),
        ("bucket", None, None, b"attachments"),
    ])
}

/// The path of a file's url on this server.
fn path_of(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL).unwrap().to_owned()
}

async fn an_upload_round_trips_to_its_account(backend: Backend) {
    let (app, dir) = app_with_uploads(backend, 4 * 1024 * 1024).await;
    let agent = app.market_agent("agent@example.com").await;
    // Over the 2 MB every other route takes: the upload route has a limit of its own.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(3 * 1024 * 1024).collect();
    let response = upload(&app, &agent.key, file_form(&bytes)).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let url = body["data"]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{PUBLIC_URL}/api/v1/files/upl_")), "{url}");
    assert!(url.ends_with("/report%20v1%2Epdf"), "{url}");
    let path = body["data"]["path"].as_str().unwrap();
    assert!(path.starts_with("attachments/upl_") && path.ends_with("/report v1.pdf"), "{path}");

    for bearer in [&agent.key, &agent.owner.token] {
        let got = app.get(&path_of(url), bearer).await;
        assert_eq!(got.status(), 200);
        let header = |name: &str| got.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("content-type"), "application/pdf", "from the extension, not the part");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(header("content-disposition").starts_with("attachment; filename=\"report v1.pdf\""));
        assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    // Idempotency-Key works on uploads too, over the general body limit: the replay names the same file.
    let keyed = |key: &'static str| {
        app.request(Method::POST, "/api/v1/upload", Some(&agent.key))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("idempotency-key", key)
            .body(file_form(&bytes))
    };
    let first = keyed("upload-1").send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = keyed("upload-1").send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), first);

    // A session may upload too; a name with a path keeps only its last segment.
    let form = form(&[("bucket", None, None, b"deliveries"), ("file", Some("../../etc/notes"), None, b"hello")]);
    let response = upload(&app, &agent.owner.token, form).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let url = body["data"]["url"].as_str().unwrap();
    assert!(url.ends_with("/notes"), "{url}");
    let got = app.get(&path_of(url), &agent.key).await;
    assert_eq!(got.headers()["content-type"], "application/octet-stream");
    assert_eq!(got.text().await.unwrap(), "hello");

    // On disk: named by upload id, readable by the server's user only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(files.len(), 3);
    for file in files {
        assert!(file.file_name().to_str().unwrap().starts_with("upl_"));
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
    let _ = std::fs::remove_dir_all(dir);
}

async fn another_account_cannot_read_a_file(backend: Backend) {
    let (app, dir) = app_with_uploads(backend, 1024 * 1024).await;
    let agent = app.market_agent("agent@example.com").await;
    let stranger = app.market_agent("stranger@example.com").await;
    let response = upload(&app, &agent.key, file_form(b"secret plans")).await;
    let body: Value = response.json().await.unwrap();
    let path = path_of(body["data"]["url"].as_str().unwrap());
    for bearer in [&stranger.key, &stranger.owner.token] {
        assert_error(app.get(&path, bearer).await, 404, "NOT_FOUND").await;
    }
    let wrong_name = format!("{}/other.pdf", path.rsplit_once('/').unwrap().0);
    assert_error(app.get(&wrong_name, &agent.key).await, 404, "NOT_FOUND").await;
    for missing in ["/api/v1/files/upl_00000000000000000000000000000000/x", "/api/v1/files/nope/x"] {
        assert_error(app.get(missing, &agent.key).await, 404, "NOT_FOUND").await;
    }
    let id = path.split('/').nth(4).unwrap();
    let bare = uuid::Uuid::parse_str(id.trim_start_matches("upl_")).unwrap();
    let by_bare = app.get(&format!("/api/v1/files/{bare}/report%20v1.pdf"), &agent.key).await;
    assert_eq!(by_bare.status(), 200);
    let _ = std::fs::remove_dir_all(dir);
}

async fn limits_parts_and_scopes(backend: Backend) {
    let (app, dir) = app_with_uploads(backend, 1000).await;
    let agent = app.market_agent("agent@example.com").await;

    assert_eq!(upload(&app, &agent.key, file_form(&[7; 1000])).await.status(), 201, "exactly the limit");
    let over = upload(&app, &agent.key, file_form(&[7; 1001])).await;
    assert_error(over, 413, "PAYLOAD_TOO_LARGE").await;
    // Far over: refused by its length before it is read.
    let huge = upload(&app, &agent.key, file_form(&vec![7; 200 * 1024])).await;
    assert_error(huge, 413, "PAYLOAD_TOO_LARGE").await;

    let no_file = upload(&app, &agent.key, form(&[("bucket", None, None, b"attachments")])).await;
    let body = assert_error(no_file, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "file");
    let bad_bucket = form(&[("file", Some("a.txt"), None, b"x"), ("bucket", None, None, b"Not/A/Bucket")]);
    let body = assert_error(upload(&app, &agent.key, bad_bucket).await, 400, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"][0]["field"], "bucket");
    let json = app.request(Method::POST, "/api/v1/upload", Some(&agent.key)).json(&serde_json::json!({"file": "x"}));
    assert_eq!(json.send().await.unwrap().status(), 400);
    let broken = app
        .request(Method::POST, "/api/v1/upload", Some(&agent.key))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nno end"))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);

    let no_scope = {
        let body = serde_json::json!({"name": "none", "scopes": ["agents:read"], "agentId": agent.agent_id});
        let response = app.post("/api/api-keys", Some(&agent.owner.token), body).await;
        response.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned()
    };
    assert_error(upload(&app, &no_scope, file_form(b"x")).await, 403, "FORBIDDEN").await;
    let unauthenticated = app
        .request(Method::POST, "/api/v1/upload", None)
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(file_form(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let response = upload(&app, &agent.key, file_form(b"mine")).await;
    let body: Value = response.json().await.unwrap();
    let path = path_of(body["data"]["url"].as_str().unwrap());
    assert_error(app.get(&path, &no_scope).await, 403, "FORBIDDEN").await;

    // Refused uploads leave nothing behind: the two kept files only.
    let kept = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(kept, 2);
    let _ = std::fs::remove_dir_all(dir);
}
