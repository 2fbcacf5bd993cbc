//! The dashboard over real HTTP, as a browser without JavaScript uses it: a session cookie, forms
//! carrying the anti-forgery token, redirects followed by hand. (The browser tests under
//! `tests/browser/` drive the same pages in Chromium.)

mod agents;
mod audit;
mod auth;
mod evaluations;
mod keys;
mod labels;
mod marketplace;
mod playground;
mod release;
mod tasks;
mod usage;
mod webhooks;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};

use crate::common::{PASSWORD, TestApp};

/// One browser signed in to the dashboard: its session cookie and the page's anti-forgery token.
pub struct Browser {
    pub base: String,
    client: Client,
    pub cookie: String,
    pub csrf: String,
}

/// A page as fetched: its status, where it redirects, its HTML.
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub html: String,
}

impl Browser {
    /// Registers `email` through the API, then signs in through the dashboard's form.
    pub async fn register(app: &TestApp, email: &str) -> Browser {
        app.register(email).await;
        Browser::sign_in(app, email).await
    }

    pub async fn sign_in(app: &TestApp, email: &str) -> Browser {
        let client = Client::builder().redirect(Policy::none()).build().unwrap();
        let response = client
            .post(format!("{}/login", app.base))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "sign in as {email}");
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut browser = Browser { base: app.base.clone(), client, cookie, csrf: String::new() };
        let page = browser.get("/agents").await;
        assert_eq!(page.status, 200, "{}", page.html);
        browser.csrf = meta_csrf(&page.html).expect("the page's csrf-token meta");
        browser
    }

    pub async fn get(&self, path: &str) -> Page {
        let response =
            self.client.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await.unwrap();
        Page::read(response).await
    }

    /// Posts a form with this session's anti-forgery token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("_csrf", &self.csrf));
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        Page::read(response).await
    }

    /// Posts a form and follows its redirect with a GET, as a browser does.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.post(path, fields).await;
        match (&page.location, page.status) {
            (Some(to), 302 | 303) => self.get(to).await,
            _ => page,
        }
    }

    /// A request of the dashboard's scripts: JSON with the token in `X-CSRF-Token`.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

impl Page {
    pub async fn read(response: Response) -> Page {
        let status = response.status().as_u16();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Page { status, location, html: response.text().await.unwrap() }
    }

    pub fn contains(&self, text: &str) -> bool {
        self.html.contains(text)
    }
}

/// `talon_session=…` from a response's `Set-Cookie`.
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("talon_session=") && !v.starts_with("talon_session=;"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

fn meta_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf-token\" content=\"")? + "name=\"csrf-token\" content=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}
