//! Signing in and out of the dashboard, the session cookie, and the anti-forgery rules.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use talon_store::Backend;

use super::{Browser, Page};
use crate::common::{PASSWORD, TestApp};

on_both_databases!(
    pages_send_a_browser_without_a_session_to_sign_in,
    signing_in_sets_an_http_only_same_site_cookie,
    a_wrong_password_shows_the_form_again_with_the_error,
    registering_signs_in,
    a_form_without_the_token_or_from_another_site_changes_nothing,
    signing_out_ends_the_session,
    an_api_key_is_not_a_dashboard_session,
);

/// Every dashboard page but sign-in and registration; the browser tests visit each one too.
pub const PAGES: &[&str] = &[
    "/",
    "/agents",
    "/tasks",
    "/webhooks",
    "/keys",
    "/marketplace",
    "/playground",
    "/usage",
    "/agents/support-bot/evaluations",
    "/agents/support-bot/datasets/smoke",
    "/agents/support-bot/evaluations/eval_0193a6a0a3b27c40b5c1d2e3f4a5b6c7",
];

async fn pages_send_a_browser_without_a_session_to_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    for path in PAGES {
        let response = client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/login"), "{path} → {location}");
        // A forged or stale cookie is no session either.
        let response = client
            .get(format!("{}{path}", app.base))
            .header(COOKIE, "talon_session=eyJhbGciOiJIUzI1NiJ9.e30.forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{path} with a forged cookie");
    }
    // After signing in, the browser comes back to the page it asked for, query and all.
    let response = client.get(format!("{}/agents?q=x", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login?next=%2Fagents%3Fq%3Dx");
    for public in ["/login", "/register", "/assets/app.css", "/assets/app.js"] {
        let response = client.get(format!("{}{public}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{public}");
    }
}

async fn signing_in_sets_an_http_only_same_site_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("alice@example.com").await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/login", app.base))
        .form(&[("email", "alice@example.com"), ("password", PASSWORD), ("next", "/tasks")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/tasks");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP without a trusted proxy: {cookie}");
    // Behind a trusted proxy that says the browser used HTTPS, the cookie is sent over HTTPS only.
    let mut config = crate::common::test_config();
    config.trust_proxy = true;
    let proxied = TestApp::spawn_with(backend, config).await;
    proxied.register("bob@example.com").await;
    let response = client
        .post(format!("{}/login", proxied.base))
        .header("x-forwarded-proto", "https")
        .form(&[("email", "bob@example.com"), ("password", PASSWORD), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));
    assert_eq!(response.headers()["location"], "/agents", "never back to another site");
}

async fn a_wrong_password_shows_the_form_again_with_the_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("alice@example.com").await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/login", app.base))
        .form(&[("email", "alice@example.com"), ("password", "wrong password!")])
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(SET_COOKIE).is_none());
    let page = Page::read(response).await;
    assert_eq!(page.status, 401);
    assert!(page.contains("Invalid email or password"), "{}", page.html);
    assert!(page.contains("value=\"alice@example.com\""), "the email is kept");
}

async fn registering_signs_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/register", app.base))
        .form(&[("email", "new@example.com"), ("password", "short")])
        .send()
        .await
        .unwrap();
    let page = Page::read(response).await;
    assert_eq!(page.status, 400);
    assert!(page.contains("password"), "{}", page.html);
    let response = client
        .post(format!("{}/register", app.base))
        .form(&[("email", "new@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(super::session_cookie(&response).is_some());
}

async fn a_form_without_the_token_or_from_another_site_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = Browser::register(&app, "alice@example.com").await;
    let page = alice.post_raw("/logout", &[]).await;
    assert_eq!(page.status, 403, "no token");
    let page = alice.post_raw("/logout", &[("_csrf", "00ff")]).await;
    assert_eq!(page.status, 403, "a wrong token");
    let bob = Browser::register(&app, "bob@example.com").await;
    let page = alice.post_raw("/logout", &[("_csrf", &bob.csrf)]).await;
    assert_eq!(page.status, 403, "another session's token");
    assert_eq!(alice.get("/agents").await.status, 200, "still signed in");
    // The right token from a page of another site.
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/logout", app.base))
        .header(COOKIE, &alice.cookie)
        .header("origin", "http://evil.example")
        .form(&[("_csrf", alice.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(alice.get("/agents").await.status, 200, "still signed in");
}

async fn signing_out_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = Browser::register(&app, "alice@example.com").await;
    let page = alice.post("/logout", &[]).await;
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/login")));
    // The old cookie, replayed, is no longer a session.
    let page = alice.get("/agents").await;
    assert_eq!(page.status, 303);
}

async fn an_api_key_is_not_a_dashboard_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.register("alice@example.com").await;
    let key = app.api_key(&user, &["agents:read"]).await;
    let client = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
    let response =
        client.get(format!("{}/agents", app.base)).header(COOKIE, format!("talon_session={key}")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    // Nor is a bearer session token: the dashboard reads its cookie only.
    let response = client.get(format!("{}/agents", app.base)).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(response.status(), 303);
}
