//! Signing in, registering and signing out.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::extract::ClientAddr;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields, PublicForm};
use crate::web::layout;
use crate::web::session::{SignedIn, clear_session_cookie, safe_return_path, served_over_tls, session_cookie};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CredentialsForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// `/`: the agents, or the sign-in page for a browser without a session.
pub async fn home(_session: SignedIn) -> Redirect {
    Redirect::to("/agents")
}

pub async fn login_page(Query(query): Query<Next>) -> Markup {
    login_form(None, "", query.next.as_deref())
}

pub async fn register_page() -> Markup {
    register_form(None, "")
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    PublicForm(form): PublicForm<CredentialsForm>,
) -> Result<Response, WebError> {
    let next = form.next.as_deref().and_then(safe_return_path);
    match sign_in(&state, client, &form.email, &form.password).await {
        Ok(token) => Ok(signed_in_response(&state, &headers, &token, next.unwrap_or("/agents"))),
        Err(e) => {
            let status = e.status();
            Ok((status, login_form(Some(&e.message()), &form.email, next)).into_response())
        }
    }
}

pub async fn register(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    PublicForm(form): PublicForm<CredentialsForm>,
) -> Result<Response, WebError> {
    let registered: Result<(), WebError> = async {
        state.auth_guard.admit_register(client).await?;
        let _hashing = state.auth_guard.hashing_place().await?;
        state.accounts.register(Some(&form.email), Some(&form.password)).await?;
        Ok(())
    }
    .await;
    if let Err(e) = registered {
        return Ok((e.status(), register_form(Some(&e.message()), &form.email)).into_response());
    }
    // Registration answers the same whether or not the email had an account; signing in with the
    // password just given tells the two apart only to whoever knows that password.
    match sign_in(&state, client, &form.email, &form.password).await {
        Ok(token) => Ok(signed_in_response(&state, &headers, &token, "/agents")),
        Err(_) => Ok(login_form(Some("Registered. Sign in to continue."), &form.email, None).into_response()),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let (id, expires_at) = session.principal.session()?;
    state.accounts.logout(session.principal.account.id, id, expires_at).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(SET_COOKIE, clear_session_cookie());
    Ok(response)
}

async fn sign_in(state: &AppState, client: std::net::IpAddr, email: &str, password: &str) -> Result<String, WebError> {
    state.auth_guard.admit_login(client, Some(email)).await.map_err(ApiError::from)?;
    let _hashing = state.auth_guard.hashing_place().await.map_err(ApiError::from)?;
    let session = state.accounts.login(Some(email), Some(password)).await?;
    Ok(session.token)
}

fn signed_in_response(state: &AppState, headers: &HeaderMap, token: &str, to: &str) -> Response {
    let max_age = i64::try_from(state.jwt.ttl().as_secs()).unwrap_or(i64::MAX);
    let mut response = axum::http::StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(SET_COOKIE, session_cookie(token, max_age, served_over_tls(headers, state)));
    if let Ok(location) = to.parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn login_form(error: Option<&str>, email: &str, next: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            main.narrow {
                h1 { "Sign in to Talon" }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form.panel method="post" action="/login" {
                    @if let Some(next) = next { input type="hidden" name="next" value=(next); }
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    p { button type="submit" { "Sign in" } }
                }
                p { "No account yet? " a href="/register" { "Register" } }
            }
        },
    )
}

fn register_form(error: Option<&str>, email: &str) -> Markup {
    layout::bare(
        "Register",
        html! {
            main.narrow {
                h1 { "Create a Talon account" }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form.panel method="post" action="/register" {
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="new-password" minlength="8" required
                        aria-describedby="password-hint";
                    p #password-hint .hint { "At least 8 characters." }
                    p { button type="submit" { "Register" } }
                }
                p { "Already registered? " a href="/login" { "Sign in" } }
            }
        },
    )
}
