//! The agents pages: the searchable list and the create form; an agent's page, its editor (conditional
//! on the head it was loaded from), the version pages, the side-by-side comparison, the actions and the
//! lineage picture. Another account's agent is not found and a form without the token changes nothing.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::{TestApp, User, code_review_agent};

on_both_databases!(
    the_list_shows_agents_and_searches_the_whole_account,
    creating_an_agent_shows_it_and_a_refused_one_keeps_the_input,
    committing_moves_the_head_and_a_stale_head_is_refused,
    compare_shows_removed_and_added_lines_and_the_other_changes,
    actions_change_what_the_api_reports,
    the_lineage_is_a_picture_with_a_link_per_visible_node,
    another_accounts_agent_is_not_found_and_nothing_changes,
    another_accounts_public_agent_is_read_only_and_forkable,
    forms_without_the_token_change_nothing,
);

/// An account signed in both to the API (`user`) and to the dashboard (`browser`).
async fn signed_in(app: &TestApp, email: &str) -> (User, Browser) {
    let user = app.register(email).await;
    let browser = Browser::sign_in(app, email).await;
    (user, browser)
}

/// Creates an agent through the API; its JSON.
async fn agent(app: &TestApp, user: &User, body: Value) -> Value {
    app.create_agent(&user.token, body).await
}

async fn api_agent(app: &TestApp, user: &User, agent: &str) -> Value {
    app.get_json(&format!("/api/agents/{agent}"), &user.token).await
}

async fn version_total(app: &TestApp, user: &User, agent: &str) -> i64 {
    app.get_json(&format!("/api/agents/{agent}/versions"), &user.token).await["pagination"]["total"].as_i64().unwrap()
}

async fn agent_total(app: &TestApp, user: &User) -> i64 {
    app.get_json("/api/agents", &user.token).await["pagination"]["total"].as_i64().unwrap()
}

/// The address of the link whose text is `text`, unescaped.
fn link(page: &Page, text: &str) -> Option<String> {
    let end = page.html.find(&format!("\">{text}</a>"))?;
    let start = page.html[..end].rfind("href=\"")? + "href=\"".len();
    Some(page.html[start..end].replace("&amp;", "&"))
}

/// Whether the page lists an agent, by the link to it.
fn lists(page: &Page, slug: &str) -> bool {
    page.contains(&format!("href=\"/agents/{slug}\""))
}

/// The editor's fields for committing `prompt` on top of the agent's current version.
fn editor_fields(current: &Value, prompt: &str, message: &str) -> Vec<(String, String)> {
    let version = &current["currentVersion"];
    vec![
        ("prompt".into(), prompt.into()),
        ("model".into(), version["model"]["primary"].as_str().unwrap().into()),
        ("tools".into(), version["tools"].to_string()),
        ("config".into(), version["config"].to_string()),
        ("commit_message".into(), message.into()),
        ("head".into(), current["currentVersionId"].as_str().unwrap().into()),
    ]
}

/// Posts a form and follows its redirect as a browser does, carrying the one-time notice the answer
/// leaves for the next page.
async fn submit_with_notice(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> Page {
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let mut all = fields.to_vec();
    all.push(("_csrf", &browser.csrf));
    let url = |path: &str| format!("{}{path}", browser.base);
    let response = client.post(url(path)).header(COOKIE, &browser.cookie).form(&all).send().await.unwrap();
    assert_eq!(response.status(), 303, "{path}");
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    let notice = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("talon_notice="))
        .and_then(|v| v.split(';').next())
        .expect("a notice")
        .to_owned();
    let cookies = format!("{}; {notice}", browser.cookie);
    Page::read(client.get(url(&location)).header(COOKIE, cookies).send().await.unwrap()).await
}

fn borrowed(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn the_list_shows_agents_and_searches_the_whole_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let (bob, _) = signed_in(&app, "bob@example.com").await;
    for i in 0..21 {
        agent(&app, &user, json!({"name": format!("Filler {i}"), "prompt": "p"})).await;
    }
    // Listed oldest first, so these are on the second page.
    agent(&app, &user, json!({"name": "Support Bot", "prompt": "Help."})).await;
    agent(&app, &user, json!({"name": "Billing Helper", "slug": "invoices", "prompt": "Bill."})).await;
    agent(&app, &bob, json!({"name": "Support Desk", "prompt": "Bob's."})).await;
    app.new_version(&user.token, "support-bot", json!({"prompt": "Help more."})).await;
    app.post("/api/agents/support-bot/deploy", Some(&user.token), json!({"version": 1})).await;

    let first = alice.get("/agents").await;
    assert_eq!(first.status, 200);
    for part in ["for=\"agent-search\">Search agents</label>", "name=\"q\"", "23 agents"] {
        assert!(first.contains(part), "{part}: {}", first.html);
    }
    assert!(lists(&first, "filler-0") && lists(&first, "filler-19"));
    assert!(!lists(&first, "support-bot"), "a page holds 20 agents");
    let next = link(&first, "Next page").expect("a link to the next page");
    let second = alice.get(&next).await;
    assert_eq!(second.status, 200);
    assert!(lists(&second, "filler-20") && lists(&second, "support-bot") && lists(&second, "invoices"));
    assert!(!lists(&second, "filler-0"));
    // Head v2, serving the pinned v1.
    let row_at = second.html.find("href=\"/agents/support-bot\"").unwrap();
    let row = &second.html[row_at..row_at + second.html[row_at..].find("</tr>").unwrap()];
    for part in ["<code>support-bot</code>", "badge deployed", "<td>v2</td>", "<td>v1</td>"] {
        assert!(row.contains(part), "{part}: {row}");
    }
    let back = alice.get(&link(&second, "Previous page").expect("a link back")).await;
    assert!(lists(&back, "filler-0"));

    // A search reaches every page of the account, by name or slug, ignoring case; it shows no total.
    let found = alice.get("/agents?q=SUPPORT").await;
    assert_eq!(found.status, 200);
    assert!(lists(&found, "support-bot") && !lists(&found, "filler-1"), "{}", found.html);
    assert!(!found.contains("Support Desk"), "never another account's");
    assert!(!found.contains("23 agents") && found.contains("value=\"SUPPORT\""));
    let by_slug = alice.get("/agents?q=invoices").await;
    assert!(lists(&by_slug, "invoices") && !lists(&by_slug, "support-bot"));
    let nothing = alice.get("/agents?q=%25").await;
    assert!(nothing.contains("No agent matches this search."), "% is no wildcard: {}", nothing.html);
    let fillers = alice.get("/agents?q=filler").await;
    assert!(lists(&fillers, "filler-0") && !lists(&fillers, "filler-20"));
    let more = alice.get(&link(&fillers, "Next page").expect("more fillers")).await;
    assert!(lists(&more, "filler-20") && !lists(&more, "support-bot"), "the search goes on: {}", more.html);
    assert_eq!(alice.get("/agents?after=nonsense").await.status, 400);
}

async fn creating_an_agent_shows_it_and_a_refused_one_keeps_the_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let form = alice.get("/agents").await;
    for label in ["Name", "Slug (optional)", "Model", "Prompt"] {
        assert!(form.contains(&format!("\">{label}</label>")), "{label}: {}", form.html);
    }
    assert!(form.contains("Create agent"));

    let fields = [("name", "Support Bot"), ("slug", ""), ("model", ""), ("prompt", "You are helpful.")];
    let shown = submit_with_notice(&alice, "/agents", &fields).await;
    assert!(shown.contains("<h1>Support Bot</h1>"), "on the agent's page: {}", shown.html);
    assert!(shown.contains("<p class=\"notice\" role=\"status\">Agent “Support Bot” created</p>"), "{}", shown.html);
    let api = api_agent(&app, &user, "support-bot").await;
    assert_eq!(api["currentVersion"]["prompt"], "You are helpful.");
    assert_eq!(api["currentVersion"]["model"]["primary"], "test/echo", "the API's default model");

    let with_slug = [("name", "Other"), ("slug", "helper"), ("model", "local/llama"), ("prompt", "Hi.")];
    assert_eq!(alice.post("/agents", &with_slug).await.location.as_deref(), Some("/agents/helper"));
    assert_eq!(api_agent(&app, &user, "helper").await["currentVersion"]["model"]["primary"], "local/llama");

    // Refused: the form again with the error and the input kept, and nothing created.
    let taken = alice.post("/agents", &[("name", "Again"), ("slug", "helper"), ("prompt", "Kept prompt")]).await;
    assert_eq!(taken.status, 409);
    assert!(taken.contains("role=\"alert\"") && taken.contains("helper"), "{}", taken.html);
    assert!(taken.contains("value=\"Again\"") && taken.contains("Kept prompt"));
    let empty = alice.post("/agents", &[("name", "No prompt"), ("prompt", " ")]).await;
    assert_eq!(empty.status, 400);
    assert!(empty.contains("prompt") && empty.contains("value=\"No prompt\""), "{}", empty.html);
    let unknown = alice.post("/agents", &[("name", "X"), ("model", "nowhere/model"), ("prompt", "p")]).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.contains("nowhere/model"), "{}", unknown.html);
    assert_eq!(agent_total(&app, &user).await, 2);
}

async fn committing_moves_the_head_and_a_stale_head_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let created = agent(&app, &user, code_review_agent()).await;
    let slug = created["slug"].as_str().unwrap().to_owned();
    let v1 = api_agent(&app, &user, &slug).await;

    let page = alice.get(&format!("/agents/{slug}")).await;
    assert_eq!(page.status, 200);
    let head_field = format!("name=\"head\" value=\"{}\"", v1["currentVersionId"].as_str().unwrap());
    for part in [
        "<h1>Code Review Agent</h1>",
        "for=\"edit-prompt\">Prompt</label>",
        "Commit message",
        "Commit version",
        &head_field,
    ] {
        assert!(page.contains(part), "{part}: {}", page.html);
    }
    assert!(page.contains("You are an expert code reviewer...") && page.contains("github_api"));

    let fields = editor_fields(&v1, "You review code briefly.", "Shorter answers");
    let page = submit_with_notice(&alice, &format!("/agents/{slug}/versions"), &borrowed(&fields)).await;
    let v2 = api_agent(&app, &user, &slug).await;
    assert_eq!(v2["currentVersion"]["versionNumber"], 2);
    assert_eq!(v2["currentVersion"]["commitMessage"], "Shorter answers");
    assert_eq!(v2["currentVersion"]["tools"], v1["currentVersion"]["tools"], "tools carried over");
    assert_eq!(v2["currentVersion"]["config"], v1["currentVersion"]["config"]);
    for part in
        ["Version 2 committed", "Head: version 2", "Shorter answers", &format!("href=\"/agents/{slug}/versions/2\"")]
    {
        assert!(page.contains(part), "{part}: {}", page.html);
    }

    // Committed from a page loaded before version 2: refused, the text kept, nothing created.
    let stale = editor_fields(&v1, "My own rewrite.", "Mine");
    let refused = alice.post(&format!("/agents/{slug}/versions"), &borrowed(&stale)).await;
    assert_eq!(refused.status, 409);
    assert!(refused.contains("The head moved: version 2 was committed"), "{}", refused.html);
    assert!(refused.contains("My own rewrite.") && refused.contains("value=\"Mine\""));
    assert_eq!(version_total(&app, &user, &slug).await, 2);

    // Unchanged content creates nothing; bad JSON is refused with its field named.
    let same = editor_fields(&v2, "You review code briefly.", "");
    let unchanged = submit_with_notice(&alice, &format!("/agents/{slug}/versions"), &borrowed(&same)).await;
    assert!(unchanged.contains("Nothing changed"), "{}", unchanged.html);
    // A browser posts a textarea's line breaks as CRLF; they are stored as LF, and are no change.
    let crlf = editor_fields(&v2, "You review code briefly.\r\nSecond line.", "Two lines");
    assert_eq!(alice.post(&format!("/agents/{slug}/versions"), &borrowed(&crlf)).await.status, 303);
    let v3 = api_agent(&app, &user, &slug).await;
    assert_eq!(v3["currentVersion"]["prompt"], "You review code briefly.\nSecond line.");
    let again = editor_fields(&v3, "You review code briefly.\r\nSecond line.", "");
    let unchanged = submit_with_notice(&alice, &format!("/agents/{slug}/versions"), &borrowed(&again)).await;
    assert!(unchanged.contains("Nothing changed: version 3 is still the head"), "{}", unchanged.html);
    // The parser drops a newline right after <textarea>: one is written so that the prompt's stays.
    assert!(unchanged.contains("name=\"prompt\" required>\nYou review code briefly.\nSecond line.</textarea>"));
    let v2 = v3;
    let mut bad = editor_fields(&v2, "Another.", "");
    bad[3].1 = "{not json".into();
    let refused = alice.post(&format!("/agents/{slug}/versions"), &borrowed(&bad)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.contains("Config: not a JSON object") && refused.contains("{not json"), "{}", refused.html);
    bad[3].1 = "{\"temperature\": 9}".into();
    let refused = alice.post(&format!("/agents/{slug}/versions"), &borrowed(&bad)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.contains("temperature"), "{}", refused.html);
    assert_eq!(version_total(&app, &user, &slug).await, 3);

    // A version's own page.
    let v1_page = alice.get(&format!("/agents/{slug}/versions/1")).await;
    assert_eq!(v1_page.status, 200);
    assert!(v1_page.contains("You are an expert code reviewer...") && v1_page.contains("Roll back to version 1"));
    for missing in ["/versions/4", "/versions/0", "/versions/x"] {
        assert_eq!(alice.get(&format!("/agents/{slug}{missing}")).await.status, 404, "{missing}");
    }
}

async fn compare_shows_removed_and_added_lines_and_the_other_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let body = json!({"name": "Differ", "prompt": "line one\nline two\nline three", "config": {"temperature": 0.3}});
    agent(&app, &user, body).await;
    let change = json!({
        "prompt": "line one\nline 2\nline three\nline four",
        "config": {"temperature": 0.9, "maxTokens": 100},
        "tools": [{"name": "search", "description": "Search", "parameters": {}}]
    });
    let (status, _) = app.new_version(&user.token, "differ", change).await;
    assert_eq!(status, 201);

    let agent_page = alice.get("/agents/differ").await;
    for part in [
        "for=\"compare-from\">From</label>",
        "for=\"compare-to\">To</label>",
        "href=\"/agents/differ/compare?from=1&amp;to=2\"",
    ] {
        assert!(agent_page.contains(part), "{part}: {}", agent_page.html);
    }
    let page = alice.get("/agents/differ/compare?from=1&to=2").await;
    assert_eq!(page.status, 200);
    for part in [
        "<table class=\"diff\">",
        "<td class=\"n\">1</td><td>line one</td><td class=\"n\">1</td><td>line one</td>",
        "<td class=\"del\">line two</td>",
        "<td class=\"ins\">line 2</td>",
        "<td class=\"n\"></td><td class=\"none\"></td><td class=\"n\">4</td><td class=\"ins\">line four</td>",
        "<ul class=\"changes\">",
        "<li class=\"changed\">Config temperature: <code>0.3</code> → <code>0.9</code></li>",
        "<li class=\"added\">Config <code>maxTokens</code> set to <code>100</code></li>",
        "<li class=\"added\">Tool <code>search</code> added</li>",
    ] {
        assert!(page.contains(part), "{part}: {}", page.html);
    }
    let back = alice.get("/agents/differ/compare?from=2&to=1").await;
    assert!(back.contains("<td class=\"del\">line four</td>") && back.contains("<li class=\"removed\">Tool"));
    let same = alice.get("/agents/differ/compare?from=2&to=2").await;
    assert_eq!(same.status, 200);
    assert!(same.contains("the same definition") && !same.contains("class=\"del\"") && !same.contains("class=\"ins\""));
    let default = alice.get("/agents/differ/compare").await;
    assert!(default.contains("<td class=\"del\">line two</td>"), "the head and the version before it");
    for bad in ["from=3&to=1", "from=1&to=9", "from=0&to=1", "from=x&to=1", "from=-1&to=2"] {
        assert_eq!(alice.get(&format!("/agents/differ/compare?{bad}")).await.status, 404, "{bad}");
    }
}

async fn actions_change_what_the_api_reports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    agent(&app, &user, json!({"name": "Runner", "prompt": "First."})).await;
    app.new_version(&user.token, "runner", json!({"prompt": "Second."})).await;
    let v1_id = app.get_json("/api/agents/runner/versions/1", &user.token).await["id"].clone();
    let page = alice.get("/agents/runner").await;
    for button in [
        ">Deploy</button>",
        ">Stop</button>",
        ">Fork</button>",
        ">Make public</button>",
        ">Turn API access on</button>",
    ] {
        assert!(page.contains(button), "{button}: {}", page.html);
    }
    let back = Some("/agents/runner");

    let deployed = alice.post("/agents/runner/deploy", &[("version", "")]).await;
    assert_eq!((deployed.status, deployed.location.as_deref()), (303, back));
    let api = api_agent(&app, &user, "runner").await;
    assert_eq!((api["status"].clone(), api["deployedVersionId"].clone()), (json!("deployed"), Value::Null));
    let shown = submit_with_notice(&alice, "/agents/runner/deploy", &[]).await;
    assert!(shown.contains("Deployed: serving the head") && shown.contains("following new versions"), "{}", shown.html);

    assert_eq!(alice.post("/agents/runner/deploy", &[("version", "1")]).await.status, 303);
    assert_eq!(api_agent(&app, &user, "runner").await["deployedVersionId"], v1_id);
    assert!(alice.get("/agents/runner").await.contains("Version 1</a> (pinned)"));
    assert_eq!(alice.post("/agents/runner/deploy", &[("version", "7")]).await.status, 404);

    assert_eq!(alice.post("/agents/runner/stop", &[]).await.location.as_deref(), back);
    assert_eq!(api_agent(&app, &user, "runner").await["status"], "stopped");
    assert_eq!(alice.post("/agents/runner/stop", &[]).await.status, 409, "not running");

    let rolled = submit_with_notice(&alice, "/agents/runner/rollback", &[("version", "1")]).await;
    assert!(rolled.contains("Rolled back: version 3 has the content of version 1"), "{}", rolled.html);
    let api = api_agent(&app, &user, "runner").await;
    assert_eq!(
        (api["currentVersion"]["versionNumber"].clone(), api["currentVersion"]["prompt"].clone()),
        (json!(3), json!("First."))
    );

    assert_eq!(alice.post("/agents/runner/profile", &[("public", "true")]).await.location.as_deref(), back);
    assert_eq!(api_agent(&app, &user, "runner").await["public"], true);
    assert_eq!(alice.post("/agents/runner/profile", &[("api_access", "true")]).await.status, 303);
    let api = api_agent(&app, &user, "runner").await;
    assert_eq!((api["public"].clone(), api["apiAccess"].clone()), (json!(true), json!(true)));
    assert!(alice.get("/agents/runner").await.contains(">Make private</button>"));
    alice.post("/agents/runner/profile", &[("public", "false")]).await;
    assert_eq!(api_agent(&app, &user, "runner").await["public"], false);
    assert_eq!(alice.post("/agents/runner/profile", &[("public", "maybe")]).await.status, 400);

    let forked = alice.post("/agents/runner/fork", &[("name", "Runner Two")]).await;
    assert_eq!((forked.status, forked.location.as_deref()), (303, Some("/agents/runner-two")), "{}", forked.html);
    let fork = api_agent(&app, &user, "runner-two").await;
    assert_eq!(fork["parentAgent"]["id"], api["id"]);
    assert_eq!(fork["currentVersion"]["prompt"], "First.");
    assert_eq!(api_agent(&app, &user, "runner").await["forkCount"], 1);
    let fork_page = alice.get("/agents/runner-two").await;
    assert!(fork_page.contains("Forked from") && fork_page.contains(">Runner</a>"), "{}", fork_page.html);
}

async fn the_lineage_is_a_picture_with_a_link_per_visible_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    let (_, bob) = signed_in(&app, "bob@example.com").await;
    let root = agent(&app, &user, json!({"name": "Root", "prompt": "Root.", "public": true})).await;
    alice.post("/agents/root/fork", &[("name", "Child A")]).await;
    alice.post("/agents/root/fork", &[("name", "Child B")]).await;
    alice.post("/agents/child-a/fork", &[("name", "Grandchild")]).await;
    // Bob's private fork of the public root is his alone.
    let root_id = root["id"].as_str().unwrap();
    assert_eq!(bob.post(&format!("/agents/{root_id}/fork"), &[("name", "Bobs Secret Fork")]).await.status, 303);

    let page = alice.get("/agents/child-a/lineage").await;
    assert_eq!(page.status, 200);
    let start = page.html.find("<svg class=\"lineage\"").expect("the picture");
    let svg = &page.html[start..start + page.html[start..].find("</svg>").unwrap()];
    assert!(svg.contains("<title id=\"lineage-title\">The fork tree of Child A: 4 agents</title>"), "{svg}");
    assert_eq!(svg.matches("<a href=\"/agents/agent_").count(), 4, "one link per node: {svg}");
    assert_eq!(svg.matches("<rect ").count(), 4);
    let child_a = api_agent(&app, &user, "child-a").await["id"].as_str().unwrap().to_owned();
    assert!(svg.contains(&format!("<a href=\"/agents/{child_a}\" aria-current=\"page\" class=\"current\">")), "{svg}");
    assert!(!page.contains("Bobs Secret Fork"), "another account's private fork never shows");
    assert!(page.contains("<ul class=\"lineage-list\">") && page.contains(">Grandchild</a>"));
    assert!(alice.get("/agents/child-a").await.contains("href=\"/agents/child-a/lineage\">Lineage</a>"));
    // Every node's link opens its agent.
    assert_eq!(alice.get(&format!("/agents/{child_a}")).await.status, 200);
}

async fn another_accounts_agent_is_not_found_and_nothing_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, _) = signed_in(&app, "alice@example.com").await;
    let (bob_user, bob) = signed_in(&app, "bob@example.com").await;
    let created = agent(&app, &user, json!({"name": "Private", "prompt": "Mine."})).await;
    let id = created["id"].as_str().unwrap();
    let before = api_agent(&app, &user, id).await;
    for path in [
        format!("/agents/{id}"),
        "/agents/private".to_owned(),
        format!("/agents/{id}/versions/1"),
        format!("/agents/{id}/compare?from=1&to=1"),
        format!("/agents/{id}/lineage"),
        "/agents/not%20a%20slug".to_owned(),
    ] {
        let page = bob.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.contains("Mine."), "{path}");
    }
    let head = before["currentVersionId"].as_str().unwrap();
    let posts: [(&str, Vec<(&str, &str)>); 6] = [
        ("versions", vec![("prompt", "Bob's"), ("model", "test/echo"), ("head", head)]),
        ("deploy", vec![("version", "")]),
        ("stop", vec![]),
        ("rollback", vec![("version", "1")]),
        ("fork", vec![("name", "Stolen")]),
        ("profile", vec![("public", "true")]),
    ];
    for (action, fields) in &posts {
        let page = bob.post(&format!("/agents/{id}/{action}"), fields).await;
        assert_eq!(page.status, 404, "{action}: {}", page.html);
    }
    assert_eq!(api_agent(&app, &user, id).await, before, "nothing changed");
    assert_eq!(version_total(&app, &user, id).await, 1);
    assert_eq!(agent_total(&app, &bob_user).await, 0, "no fork was made");
}

async fn another_accounts_public_agent_is_read_only_and_forkable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, _) = signed_in(&app, "alice@example.com").await;
    let (bob_user, bob) = signed_in(&app, "bob@example.com").await;
    let shared = agent(&app, &user, json!({"name": "Shared", "prompt": "Public prompt.", "public": true})).await;
    let id = shared["id"].as_str().unwrap();
    let page = bob.get(&format!("/agents/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.contains("Public prompt.") && page.contains(">Fork</button>"), "{}", page.html);
    for owner_only in ["Commit version", ">Deploy</button>", ">Stop</button>", "Make private", "alice@example.com"] {
        assert!(!page.contains(owner_only), "{owner_only}");
    }
    assert_eq!(bob.post(&format!("/agents/{id}/deploy"), &[("version", "")]).await.status, 404);
    let forked = bob.post(&format!("/agents/{id}/fork"), &[]).await;
    assert_eq!(forked.location.as_deref(), Some("/agents/shared-fork"), "{}", forked.html);
    assert_eq!(api_agent(&app, &bob_user, "shared-fork").await["currentVersion"]["prompt"], "Public prompt.");
    assert_eq!(api_agent(&app, &user, id).await["status"], "idle");
}

async fn forms_without_the_token_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (user, alice) = signed_in(&app, "alice@example.com").await;
    agent(&app, &user, json!({"name": "Guarded", "prompt": "Safe."})).await;
    let before = api_agent(&app, &user, "guarded").await;
    let head = before["currentVersionId"].as_str().unwrap();
    let posts: [(&str, Vec<(&str, &str)>); 7] = [
        ("/agents", vec![("name", "Forged"), ("prompt", "p")]),
        ("/agents/guarded/versions", vec![("prompt", "Forged."), ("model", "test/echo"), ("head", head)]),
        ("/agents/guarded/deploy", vec![("version", "")]),
        ("/agents/guarded/stop", vec![]),
        ("/agents/guarded/rollback", vec![("version", "1")]),
        ("/agents/guarded/fork", vec![("name", "Forged fork")]),
        ("/agents/guarded/profile", vec![("public", "true")]),
    ];
    for (path, fields) in &posts {
        assert_eq!(alice.post_raw(path, fields).await.status, 403, "{path} without a token");
        let mut wrong = fields.clone();
        wrong.push(("_csrf", "00ff"));
        assert_eq!(alice.post_raw(path, &wrong).await.status, 403, "{path} with a wrong token");
    }
    assert_eq!(api_agent(&app, &user, "guarded").await, before, "nothing changed");
    assert_eq!(agent_total(&app, &user).await, 1);
    assert_eq!(version_total(&app, &user, "guarded").await, 1);
}
