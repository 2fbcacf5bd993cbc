//! API keys: creating one with its scopes, an optional agent restriction and expiry (the key shown
//! once), the account's live keys, and revoking one. Keys are managed by sessions only, which the
//! dashboard always is; the rules are the API key service's and `NewApiKey`'s, as for `/api/api-keys`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, Utc};
use maud::{Markup, html};
use talon_domain::agent::Agent;
use talon_domain::time::now;
use talon_domain::{AgentId, ApiKey, ApiKeyId, ApiKeySecret, NewApiKey, Scope};

use super::redirect::see_other;
use super::tasks::agent_choices;
use crate::api::error::ApiError;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields, all_values};
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

/// The longest expiry the form offers: ten years.
const MAX_EXPIRY_DAYS: i64 = 3650;

pub fn routes() -> Router<AppState> {
    Router::new().route("/keys", get(list).post(create)).route("/keys/{id}/revoke", post(revoke))
}

/// The create form as typed, kept to show it again with an error.
#[derive(Debug, Default)]
struct NewKeyForm {
    name: String,
    scopes: Vec<String>,
    agent: String,
    expires_days: String,
}

impl NewKeyForm {
    fn read(pairs: &[(String, String)]) -> Self {
        let first = |name: &str| all_values(pairs, name).into_iter().next().unwrap_or_default();
        NewKeyForm {
            name: first("name"),
            scopes: all_values(pairs, "scopes"),
            agent: first("agent"),
            expires_days: first("expires_days"),
        }
    }

    /// The key as `NewApiKey` checks it; the expiry in days becomes a time that many days from now.
    fn new_key(&self) -> Result<NewApiKey, WebError> {
        let at = now();
        let days = self.expires_days.trim();
        let expires_at = match days {
            "" => None,
            raw => {
                let days = raw.parse::<i64>().ok().filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d)).ok_or_else(|| {
                    WebError::bad_request(format!(
                        "Expires in days must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or empty for a key that never expires"
                    ))
                })?;
                Some(at + Duration::days(days))
            }
        };
        let agent = Some(self.agent.trim()).filter(|a| !a.is_empty());
        NewApiKey::parse(Some(&self.name), Some(&self.scopes), agent, expires_at, at)
            .map_err(|e| WebError::from(ApiError::validation(e)))
    }
}

/// What the page shows: the live keys and the agents a key may be restricted to.
struct Keys {
    keys: Vec<ApiKey>,
    agents: Vec<Agent>,
}

async fn keys(state: &AppState, session: &SignedIn) -> Result<Keys, WebError> {
    let caller = session.caller();
    let (keys, agents) = tokio::try_join!(
        async { state.api_keys.list(caller.account.id).await.map_err(WebError::from) },
        agent_choices(state, &caller),
    )?;
    Ok(Keys { keys, agents })
}

async fn list(State(state): State<AppState>, session: SignedIn) -> Result<Markup, WebError> {
    let keys = keys(&state, &session).await?;
    Ok(keys_page(&session, &keys, None, &NewKeyForm::default(), None))
}

async fn create(
    State(state): State<AppState>,
    CsrfForm(session, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = NewKeyForm::read(&pairs);
    let created = match form.new_key() {
        Ok(new) => state.api_keys.create(&session.caller(), new).await.map_err(WebError::from),
        Err(e) => Err(e),
    };
    match created {
        Ok((key, secret)) => {
            let keys = keys(&state, &session).await?;
            Ok(keys_page(&session, &keys, Some((&key, &secret)), &NewKeyForm::default(), None).into_response())
        }
        Err(e) => {
            let keys = keys(&state, &session).await?;
            Ok((e.status(), keys_page(&session, &keys, None, &form, Some(&e.message()))).into_response())
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let id = ApiKeyId::parse(&id).map_err(|_| WebError::not_found("API key"))?;
    state.api_keys.revoke(&session.caller(), id).await?;
    Ok(see_other("/keys", "Key revoked: requests with it are refused from now on"))
}

fn keys_page(
    session: &SignedIn,
    keys: &Keys,
    created: Option<(&ApiKey, &ApiKeySecret)>,
    form: &NewKeyForm,
    error: Option<&str>,
) -> Markup {
    let agent_names: HashMap<AgentId, &str> = keys.agents.iter().map(|a| (a.id, a.metadata.name.as_str())).collect();
    let at = Utc::now();
    let content = html! {
        h1 { "API keys" }
        @if let Some((key, secret)) = created {
            section.panel aria-labelledby="new-key-heading" {
                h2 #new-key-heading { "New key: " (key.name) }
                p.notice role="status" { strong { "Copy the key now: it is never shown again." } }
                p {
                    code #new-key .secret { (secret.expose()) }
                    " "
                    button.secondary type="button" data-copy="new-key" { "Copy" }
                }
                p.hint { "Send it as " code { "Authorization: Bearer tln_…" } "." }
            }
        }
        h2 { "The account's keys" }
        @if keys.keys.is_empty() {
            p { "No API keys yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Scopes" }
                    th scope="col" { "Agent" } th scope="col" { "Created" } th scope="col" { "Last used" }
                    th scope="col" { "Expires" } th scope="col" { "Action" }
                } }
                tbody {
                    @for key in &keys.keys {
                        tr {
                            td { (key.name) }
                            td { code { (key.key_prefix) "…" } }
                            td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            td {
                                @if let Some(agent) = key.agent_id {
                                    @if let Some(name) = agent_names.get(&agent) { (name) } @else { code { (agent) } }
                                } @else {
                                    span.muted { "every agent" }
                                }
                            }
                            td { (when(key.created_at)) }
                            td { @if let Some(used) = key.last_used_at { (when(used)) } @else { "never" } }
                            td {
                                @if let Some(expiry) = key.expires_at {
                                    @if expiry <= at { (badge("expired")) " " }
                                    time datetime=(expiry.to_rfc3339()) { (expiry.format("%Y-%m-%d %H:%M UTC")) }
                                } @else {
                                    "never"
                                }
                            }
                            td {
                                form method="post" action={ "/keys/" (key.id) "/revoke" }
                                    data-confirm={ "Revoke the key “" (key.name) "”? Requests with it are refused from then on." } {
                                    (csrf_field(session))
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="create-key-heading" {
            h2 #create-key-heading { "Create a key" }
            (key_form(session, &keys.agents, form, error))
        }
    };
    layout::page(session, Section::Keys, "API keys", content)
}

fn key_form(session: &SignedIn, agents: &[Agent], form: &NewKeyForm, error: Option<&str>) -> Markup {
    html! {
        form method="post" action="/keys" {
            (csrf_field(session))
            @if let Some(error) = error { p.error role="alert" { (error) } }
            label for="key-name" { "Name" }
            input #key-name type="text" name="name" value=(form.name) required maxlength="100";
            fieldset {
                legend { "Scopes" }
                div.checks {
                    @for scope in Scope::ALL {
                        label.inline {
                            input type="checkbox" name="scopes" value=(scope.as_str())
                                checked[form.scopes.iter().any(|s| s == scope.as_str())];
                            (scope.as_str())
                        }
                    }
                }
            }
            label for="key-agent" { "Restrict to agent" }
            select #key-agent name="agent" aria-describedby="key-agent-hint" {
                option value="" { "No restriction" }
                @for agent in agents {
                    @let id = agent.id.to_string();
                    option value=(id) selected[form.agent == id] { (agent.metadata.name) " (" (agent.slug) ")" }
                }
            }
            p #key-agent-hint .hint { "Optional. A restricted key reaches that agent only, and nothing that spans the account." }
            label for="key-expires" { "Expires in days" }
            input #key-expires type="number" name="expires_days" min="1" max=(MAX_EXPIRY_DAYS) step="1"
                value=(form.expires_days) aria-describedby="key-expires-hint";
            p #key-expires-hint .hint { "Optional. Empty: the key works until it is revoked." }
            p { button type="submit" { "Create key" } }
        }
    }
}
