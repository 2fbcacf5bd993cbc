//! Datasets, evaluations and the label gate from the dashboard: `/agents/{agent}/evaluations` creates a
//! dataset and starts an evaluation, `/agents/{agent}/datasets/{name}` replaces or deletes one, the
//! report at `/agents/{agent}/evaluations/{id}` shows each version's pass rate once the runtime has
//! answered every case (`test/echo` repeats the input), and the agent page's label form may require an
//! evaluation, whose refusal names the failing cases.

use serde_json::{Value, json};
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::{TestApp, User};

on_both_databases!(
    a_dataset_is_created_replaced_and_deleted_from_the_pages,
    an_evaluation_started_from_the_form_reports_its_pass_rates,
    a_label_that_requires_an_evaluation_names_the_failing_cases,
    others_and_forged_forms_change_nothing,
);

/// Two cases: `echoes` passes (the echo holds "hello"), `refuses` fails (the echo is not "no").
const DATASET: &str = r#"{
  "description": "Echo checks",
  "cases": [
    {"name": "echoes", "input": "hello world", "checks": [{"type": "contains", "value": "hello"}]},
    {"name": "refuses", "input": "say yes", "checks": [{"type": "exact", "value": "no"}]}
  ]
}"#;

/// Text as the pages write it inside HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An agent `support-bot` of `user`'s (model `test/echo`) with two versions: its id.
async fn agent_with_two_versions(app: &TestApp, user: &User) -> String {
    let agent = app.create_agent(&user.token, json!({"name": "Support Bot", "prompt": "one"})).await;
    let id = agent["id"].as_str().unwrap().to_owned();
    app.new_version(&user.token, &id, json!({"prompt": "two"})).await;
    id
}

async fn datasets(app: &TestApp, user: &User, id: &str) -> Vec<Value> {
    app.get_json(&format!("/api/agents/{id}/datasets"), &user.token).await["data"].as_array().unwrap().clone()
}

async fn evaluations(app: &TestApp, user: &User, id: &str) -> Vec<Value> {
    app.get_json(&format!("/api/agents/{id}/evaluations"), &user.token).await["data"].as_array().unwrap().clone()
}

/// Polls the report page until the evaluation has completed (for at most 30 s): the page as last read.
async fn completed_report(browser: &Browser, path: &str) -> Page {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = browser.get(path).await;
        assert_eq!(page.status, 200, "{}", page.html);
        if page.contains("<span class=\"badge completed\">completed</span>") || std::time::Instant::now() > deadline {
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Starts an evaluation of `smoke` on `versions` from the form: the report's path.
async fn start_from_the_form(browser: &Browser, versions: &[&str]) -> String {
    let mut fields = vec![("dataset", "smoke"), ("concurrency", "2")];
    fields.extend(versions.iter().map(|v| ("version", *v)));
    let started = browser.post("/agents/support-bot/evaluations", &fields).await;
    assert_eq!(started.status, 303, "{}", started.html);
    let path = started.location.expect("the report's address");
    assert!(path.starts_with("/agents/support-bot/evaluations/eval_"), "{path}");
    path
}

async fn a_dataset_is_created_replaced_and_deleted_from_the_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let id = agent_with_two_versions(&app, &user).await;

    let agent_page = browser.get("/agents/support-bot").await;
    assert!(agent_page.contains("href=\"/agents/support-bot/evaluations\""), "{}", agent_page.html);
    let empty = browser.get("/agents/support-bot/evaluations").await;
    assert_eq!(empty.status, 200, "{}", empty.html);
    assert!(empty.contains("No datasets yet") && empty.contains("Create a dataset first."), "{}", empty.html);
    assert!(empty.contains("No evaluations on this page."), "{}", empty.html);

    // JSON that does not parse: the form again with the error beside it and the text kept.
    let broken = "{\"cases\": [";
    let refused = browser.post("/agents/support-bot/datasets", &[("name", "smoke"), ("json", broken)]).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.contains("id=\"new-dataset-error\""), "{}", refused.html);
    assert!(refused.contains("The dataset is not valid JSON"), "{}", refused.html);
    assert!(refused.contains(&escaped(broken)) && refused.contains("value=\"smoke\""), "{}", refused.html);
    // A check the service refuses (a regex that does not compile): named by its place.
    let bad_check =
        r#"{"cases": [{"name": "a", "input": "x", "checks": [{"type": "regex", "pattern": "(unclosed"}]}]}"#;
    let refused = browser.post("/agents/support-bot/datasets", &[("name", "smoke"), ("json", bad_check)]).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.contains("cases[0].checks[0].pattern"), "{}", refused.html);
    assert!(refused.contains(&escaped(bad_check)), "the text is kept: {}", refused.html);
    // A name that is no dataset name.
    let refused = browser.post("/agents/support-bot/datasets", &[("name", "Smoke Test"), ("json", DATASET)]).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(datasets(&app, &user, &id).await.is_empty(), "nothing was written");

    let created = browser.post("/agents/support-bot/datasets", &[("name", "smoke"), ("json", DATASET)]).await;
    assert_eq!((created.status, created.location.as_deref()), (303, Some("/agents/support-bot/datasets/smoke")));
    let shown = browser.get("/agents/support-bot/datasets/smoke").await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    assert!(shown.contains("<td>echoes</td>") && shown.contains("<td>refuses</td>"), "{}", shown.html);
    assert!(shown.contains("contains “hello”") && shown.contains("is exactly “no”"), "{}", shown.html);
    assert!(shown.contains("<dt>Revision</dt><dd>1</dd>"), "{}", shown.html);
    // The same name again is a conflict, shown on the form.
    let again = browser.post("/agents/support-bot/datasets", &[("name", "smoke"), ("json", DATASET)]).await;
    assert_eq!(again.status, 409, "{}", again.html);

    // Replacing: bad JSON changes nothing and keeps the text; good JSON is revision 2.
    let refused = browser.post("/agents/support-bot/datasets/smoke", &[("json", "[1, 2]")]).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.contains("id=\"dataset-error\"") && refused.contains("[1, 2]</textarea>"), "{}", refused.html);
    assert_eq!(datasets(&app, &user, &id).await[0]["revision"], 1);
    let one_case = r#"{"cases": [{"name": "only", "input": "hi", "checks": [{"type": "contains", "value": "hi"}]}]}"#;
    let saved = browser.post("/agents/support-bot/datasets/smoke", &[("json", one_case)]).await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/agents/support-bot/datasets/smoke")));
    let saved = browser.get("/agents/support-bot/datasets/smoke").await;
    assert!(saved.contains("<dt>Revision</dt><dd>2</dd>"), "{}", saved.html);
    assert!(saved.contains("<td>only</td>") && !saved.contains("<td>echoes</td>"), "{}", saved.html);
    let listed = browser.get("/agents/support-bot/evaluations").await;
    assert!(listed.contains("href=\"/agents/support-bot/datasets/smoke\""), "{}", listed.html);
    assert!(listed.contains("<option value=\"smoke\">smoke (1 cases)</option>"), "{}", listed.html);

    let deleted = browser.post("/agents/support-bot/datasets/smoke/delete", &[]).await;
    assert_eq!((deleted.status, deleted.location.as_deref()), (303, Some("/agents/support-bot/evaluations")));
    assert!(datasets(&app, &user, &id).await.is_empty());
    assert_eq!(browser.get("/agents/support-bot/datasets/smoke").await.status, 404);
}

async fn an_evaluation_started_from_the_form_reports_its_pass_rates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let id = agent_with_two_versions(&app, &user).await;
    browser.submit("/agents/support-bot/datasets", &[("name", "smoke"), ("json", DATASET)]).await;

    let page = browser.get("/agents/support-bot/evaluations").await;
    for label in ["Dataset", "Version 2 (head)", "Version 1", "Concurrency", "Start evaluation"] {
        assert!(page.contains(label), "{label}: {}", page.html);
    }
    // Without a version, or with a dataset that does not exist: the page again, nothing started.
    let none = browser.post("/agents/support-bot/evaluations", &[("dataset", "smoke")]).await;
    assert_eq!(none.status, 400, "{}", none.html);
    assert!(none.contains("Check at least one version to evaluate"), "{}", none.html);
    let unknown = browser.post("/agents/support-bot/evaluations", &[("dataset", "nope"), ("version", "1")]).await;
    assert_eq!(unknown.status, 404, "{}", unknown.html);
    assert!(unknown.contains("Start an evaluation") && unknown.contains("Dataset not found"), "{}", unknown.html);
    assert!(evaluations(&app, &user, &id).await.is_empty());

    let path = start_from_the_form(&browser, &["1", "2"]).await;
    let report = completed_report(&browser, &path).await;
    assert!(report.contains("<span class=\"badge completed\">completed</span>"), "{}", report.html);
    assert!(!report.contains("data-live") && !report.contains("Cancel evaluation"), "{}", report.html);
    assert!(report.contains("<dt>Settled</dt><dd>4 of 4 results</dd>"), "{}", report.html);
    let row = |n: i64| {
        format!(
            "<a href=\"/agents/support-bot/versions/{n}\">Version {n}</a></th><td class=\"num\">50 %</td>\
             <td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">0</td>"
        )
    };
    assert!(report.contains(&row(1)) && report.contains(&row(2)), "{}", report.html);
    // Each case per version: its status, the failed check's detail, the answer, the task.
    assert!(report.contains("<th scope=\"row\">echoes</th>"), "{}", report.html);
    assert!(report.contains("<span class=\"badge passed\">passed</span>"), "{}", report.html);
    assert!(report.contains("<span class=\"badge failed\">failed</span>"), "{}", report.html);
    assert!(report.contains("<code>exact</code>: "), "the failed check: {}", report.html);
    assert!(report.contains("<code class=\"excerpt\">say yes</code>"), "the answer: {}", report.html);
    assert!(report.contains("href=\"/tasks/task_"), "{}", report.html);
    assert!(report.contains("No case has a different verdict between the versions."), "{}", report.html);

    let listed = browser.get("/agents/support-bot/evaluations").await;
    assert!(listed.contains("<span class=\"badge completed\">completed</span>"), "{}", listed.html);
    assert!(listed.contains("v1 50 %, v2 50 %") && listed.contains(&format!("href=\"{path}\"")), "{}", listed.html);
    // A completed evaluation cannot be cancelled.
    assert_eq!(browser.post(&format!("{path}/cancel"), &[]).await.status, 409);
    assert_eq!(evaluations(&app, &user, &id).await.len(), 1);
}

async fn a_label_that_requires_an_evaluation_names_the_failing_cases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let id = agent_with_two_versions(&app, &user).await;
    browser.submit("/agents/support-bot/datasets", &[("name", "smoke"), ("json", DATASET)]).await;
    let path = start_from_the_form(&browser, &["2"]).await;
    completed_report(&browser, &path).await;
    let labels = || async { app.get_json(&format!("/api/agents/{id}/labels"), &user.token).await["data"].clone() };

    let page = browser.get("/agents/support-bot").await;
    assert!(page.contains("Require evaluation on") && page.contains("<option value=\"smoke\">smoke</option>"));
    let strict =
        [("label", "production"), ("version", "2"), ("require_dataset", "smoke"), ("require_min_pass_rate", "100")];
    let refused = browser.post("/agents/support-bot/labels", &strict).await;
    assert_eq!(refused.status, 409, "{}", refused.html);
    assert!(refused.contains("Version 2 passed 50%"), "{}", refused.html);
    assert!(refused.contains("Case `refuses` did not pass") && !refused.contains("`echoes`"), "{}", refused.html);
    assert!(refused.contains("<h1>Support Bot</h1>"), "the agent's page again: {}", refused.html);
    assert_eq!(labels().await, json!([]), "nothing was moved");
    // A rate that is no percentage is refused before anything is asked.
    let odd =
        [("label", "production"), ("version", "2"), ("require_dataset", "smoke"), ("require_min_pass_rate", "150")];
    assert_eq!(browser.post("/agents/support-bot/labels", &odd).await.status, 400);

    let lenient =
        [("label", "production"), ("version", "2"), ("require_dataset", "smoke"), ("require_min_pass_rate", "50")];
    let moved = browser.submit("/agents/support-bot/labels", &lenient).await;
    assert_eq!(moved.status, 200, "{}", moved.html);
    assert!(moved.contains("(requires an evaluation on smoke passing at least 50 %)"), "{}", moved.html);
    assert_eq!(labels().await[0]["requireEvaluation"], json!({"dataset": "smoke", "minPassRate": 0.5}));

    // The requirement stays with the label: version 1 was never evaluated.
    let unevaluated = browser.post("/agents/support-bot/labels", &[("label", "production"), ("version", "1")]).await;
    assert_eq!(unevaluated.status, 409, "{}", unevaluated.html);
    assert!(unevaluated.contains("Version 1 has no completed evaluation on dataset"), "{}", unevaluated.html);
    // Removing it lets the label move.
    let dropped = [("label", "production"), ("version", "1"), ("require_none", "1")];
    let moved = browser.post("/agents/support-bot/labels", &dropped).await;
    assert_eq!(moved.status, 303, "{}", moved.html);
    let label = &labels().await[0];
    assert_eq!((label["version"].clone(), label["requireEvaluation"].clone()), (json!(1), Value::Null), "{label}");
}

async fn others_and_forged_forms_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("you@example.com").await;
    let browser = Browser::sign_in(&app, "you@example.com").await;
    let id = agent_with_two_versions(&app, &user).await;
    browser.submit("/agents/support-bot/datasets", &[("name", "smoke"), ("json", DATASET)]).await;
    let report = start_from_the_form(&browser, &["2"]).await;
    let evaluation = report.rsplit('/').next().unwrap().to_owned();
    completed_report(&browser, &report).await;

    let new_dataset = [("name", "other"), ("json", DATASET)];
    let replace = [("json", DATASET)];
    let start = [("dataset", "smoke"), ("version", "2")];
    let posts: [(String, &[(&str, &str)]); 5] = [
        (format!("/agents/{id}/datasets"), &new_dataset),
        (format!("/agents/{id}/datasets/smoke"), &replace),
        (format!("/agents/{id}/datasets/smoke/delete"), &[]),
        (format!("/agents/{id}/evaluations"), &start),
        (format!("/agents/{id}/evaluations/{evaluation}/cancel"), &[]),
    ];

    // Without the token nothing changes.
    for (path, fields) in &posts {
        assert_eq!(browser.post_raw(path, fields).await.status, 403, "{path}");
    }

    // Another account sees none of it, by the agent's id, or through an agent of its own.
    let stranger = app.register("stranger@example.com").await;
    app.create_agent(&stranger.token, json!({"name": "Support Bot", "prompt": "mine"})).await;
    let other = Browser::sign_in(&app, &stranger.email).await;
    for path in [
        format!("/agents/{id}/evaluations"),
        format!("/agents/{id}/datasets/smoke"),
        format!("/agents/{id}/evaluations/{evaluation}"),
        format!("/agents/support-bot/evaluations/{evaluation}"),
        "/agents/support-bot/datasets/smoke".to_owned(),
        "/agents/support-bot/evaluations/not-an-id".to_owned(),
    ] {
        assert_eq!(other.get(&path).await.status, 404, "{path}");
    }
    for (path, fields) in &posts {
        assert_eq!(other.post(path, fields).await.status, 404, "{path}");
    }
    assert_eq!(other.post(&format!("/agents/support-bot/evaluations/{evaluation}/cancel"), &[]).await.status, 404);

    let kept = datasets(&app, &user, &id).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!((kept[0]["name"].clone(), kept[0]["revision"].clone()), (json!("smoke"), json!(1)));
    assert_eq!(evaluations(&app, &user, &id).await.len(), 1);
}
