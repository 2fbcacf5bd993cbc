//! What a successful form answers: `303 See Other` to the page showing the result, with a one-time
//! notice for that page.

use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};

use crate::web::session::notice_cookie;

/// `303` to `path` (a path of this site), leaving `notice` for the page there.
pub fn see_other(path: &str, notice: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = path.parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    let (name, value) = notice_cookie(notice);
    response.headers_mut().append(name, value);
    response
}
