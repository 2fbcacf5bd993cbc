//! The dashboard's stylesheet and script, compiled into the binary and served with a content hash in
//! their address, so browsers keep them until the binary changes.

use std::sync::LazyLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

static CSS_HREF: LazyLock<String> = LazyLock::new(|| format!("/assets/app.css?v={}", short_hash(CSS)));
static JS_HREF: LazyLock<String> = LazyLock::new(|| format!("/assets/app.js?v={}", short_hash(JS)));

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

pub fn css_href() -> &'static str {
    &CSS_HREF
}

pub fn js_href() -> &'static str {
    &JS_HREF
}

const FOREVER: &str = "public, max-age=31536000, immutable";

pub async fn css() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, FOREVER)], CSS)
}

pub async fn js() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, FOREVER)], JS)
}
