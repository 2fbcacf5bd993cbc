//! Webhooks: the account's endpoints, creating one (its signing secret shown once), and a webhook's
//! page: enable or disable, a test ping, a new secret (shown once), deleting, and the delivery log with
//! redelivery. Every action goes through the webhook service as `/api/webhooks` does, so the same
//! address rules (no internal targets) and validation apply.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::event::EVENT_TYPES;
use talon_domain::webhook::{Delivery, DeliveryStatus, Webhook, WebhookSecret};
use talon_domain::{DeliveryId, WebhookId};
use talon_store::Page;

use super::redirect::see_other;
use crate::services::webhooks::{NewWebhook, WebhookChanges};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::form::{CsrfForm, NoFields, all_values};
use crate::web::layout::{self, Section, badge, csrf_field, when};
use crate::web::session::SignedIn;

/// Deliveries a page of the log shows.
const DELIVERIES_PER_PAGE: i64 = 20;
/// How much of a response the log shows (the store keeps its first 2 KB).
const EXCERPT_CHARS: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(show))
        .route("/webhooks/{id}/active", post(set_active))
        .route("/webhooks/{id}/test", post(ping))
        .route("/webhooks/{id}/rotate-secret", post(rotate_secret))
        .route("/webhooks/{id}/delete", post(delete))
        .route("/webhooks/{id}/deliveries/{delivery}/redeliver", post(redeliver))
}

/// The create form as typed, kept to show it again with an error.
#[derive(Debug, Default)]
struct NewWebhookForm {
    url: String,
    events: Vec<String>,
    description: String,
}

impl NewWebhookForm {
    fn read(pairs: &[(String, String)]) -> Self {
        let first = |name: &str| all_values(pairs, name).into_iter().next().unwrap_or_default();
        NewWebhookForm { url: first("url"), events: all_values(pairs, "events"), description: first("description") }
    }
}

#[derive(Deserialize)]
struct ActiveForm {
    active: bool,
}

#[derive(Deserialize)]
struct LogQuery {
    page: Option<String>,
}

async fn list(State(state): State<AppState>, session: SignedIn) -> Result<Markup, WebError> {
    let webhooks = state.webhooks.list(&session.caller()).await?;
    Ok(list_page(&session, &webhooks, &NewWebhookForm::default(), None))
}

async fn create(
    State(state): State<AppState>,
    CsrfForm(session, pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let form = NewWebhookForm::read(&pairs);
    let description = form.description.trim();
    let new = NewWebhook {
        url: form.url.trim().to_owned(),
        events: form.events.clone(),
        description: (!description.is_empty()).then(|| description.to_owned()),
        active: None,
    };
    let caller = session.caller();
    match state.webhooks.create(&caller, new).await {
        Ok((webhook, secret)) => Ok(secret_page(&session, &webhook, &secret, true).into_response()),
        Err(e) => {
            let error = WebError::from(e);
            let webhooks = state.webhooks.list(&caller).await?;
            Ok((error.status(), list_page(&session, &webhooks, &form, Some(&error.message()))).into_response())
        }
    }
}

async fn show(
    State(state): State<AppState>,
    session: SignedIn,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Markup, WebError> {
    let id = webhook_id(&id)?;
    let page = match query.page.as_deref().filter(|p| !p.is_empty()) {
        None => 1,
        Some(raw) => raw.parse::<i64>().ok().filter(|p| (1..=1_000_000).contains(p)).ok_or_else(|| {
            WebError::bad_request("The page of the delivery log must be a whole number from 1 to 1000000")
        })?,
    };
    let caller = session.caller();
    let offset = (page - 1) * DELIVERIES_PER_PAGE;
    let (webhook, deliveries) = tokio::try_join!(
        state.webhooks.get(&caller, id),
        state.webhooks.deliveries(&caller, id, offset, DELIVERIES_PER_PAGE),
    )?;
    Ok(webhook_page(&session, &webhook, &deliveries, page))
}

async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<ActiveForm>,
) -> Result<Response, WebError> {
    let changes = WebhookChanges { active: Some(form.active), ..WebhookChanges::default() };
    let webhook = state.webhooks.update(&session.caller(), webhook_id(&id)?, changes).await?;
    let notice =
        if webhook.active { "Webhook enabled" } else { "Webhook disabled: nothing is delivered until it is enabled" };
    Ok(see_other(&format!("/webhooks/{}", webhook.id), notice))
}

async fn ping(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let delivery = state.webhooks.ping(&session.caller(), webhook_id(&id)?).await?;
    Ok(see_other(&format!("/webhooks/{}", delivery.webhook_id), "Test ping queued: it appears in the delivery log"))
}

async fn rotate_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Markup, WebError> {
    let (webhook, secret) = state.webhooks.rotate_secret(&session.caller(), webhook_id(&id)?).await?;
    Ok(secret_page(&session, &webhook, &secret, false))
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    state.webhooks.delete(&session.caller(), webhook_id(&id)?).await?;
    Ok(see_other("/webhooks", "Webhook deleted"))
}

async fn redeliver(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    CsrfForm(session, NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, WebError> {
    let delivery = DeliveryId::parse(&delivery).map_err(|_| WebError::not_found("Delivery"))?;
    let delivery = state.webhooks.redeliver(&session.caller(), webhook_id(&id)?, delivery).await?;
    Ok(see_other(&format!("/webhooks/{}", delivery.webhook_id), "Delivery queued to be sent again"))
}

/// A webhook id from the path; text that cannot name a webhook is "not found", as an unknown one is.
fn webhook_id(raw: &str) -> Result<WebhookId, WebError> {
    WebhookId::parse(raw).map_err(|_| WebError::not_found("Webhook"))
}

fn status_badge(webhook: &Webhook) -> Markup {
    badge(if webhook.active { "active" } else { "disabled" })
}

fn list_page(session: &SignedIn, webhooks: &[Webhook], form: &NewWebhookForm, error: Option<&str>) -> Markup {
    let content = html! {
        h1 { "Webhooks" }
        p.muted { "Talon posts the account's events to these addresses, signed with each webhook's secret." }
        @if webhooks.is_empty() {
            p { "No webhooks yet." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Description" }
                    th scope="col" { "Status" } th scope="col" { "Created" }
                } }
                tbody {
                    @for webhook in webhooks {
                        tr {
                            td { a href={ "/webhooks/" (webhook.id) } { (webhook.url) } }
                            td { (webhook.events.join(", ")) }
                            td { (webhook.description) }
                            td { (status_badge(webhook)) }
                            td { (when(webhook.created_at)) }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="new-webhook-heading" {
            h2 #new-webhook-heading { "New webhook" }
            form method="post" action="/webhooks" {
                (csrf_field(session))
                @if let Some(error) = error { p.error role="alert" { (error) } }
                label for="webhook-url" { "URL" }
                input #webhook-url type="url" name="url" value=(form.url) required maxlength="2048"
                    placeholder="https://example.com/hooks/talon" aria-describedby="webhook-url-hint";
                p #webhook-url-hint .hint { "An http(s) address reachable from the internet; internal addresses are refused." }
                fieldset {
                    legend { "Events" }
                    div.checks {
                        label.inline {
                            input type="checkbox" name="events" value="*" checked[form.events.iter().any(|e| e == "*")];
                            "Every event (*)"
                        }
                        @for event in EVENT_TYPES {
                            label.inline {
                                input type="checkbox" name="events" value=(event) checked[form.events.iter().any(|e| e == event)];
                                (event)
                            }
                        }
                    }
                }
                label for="webhook-description" { "Description" }
                input #webhook-description type="text" name="description" value=(form.description) maxlength="500"
                    aria-describedby="webhook-description-hint";
                p #webhook-description-hint .hint { "Optional: what the endpoint is for." }
                p { button type="submit" { "Create webhook" } }
            }
        }
    };
    layout::page(session, Section::Webhooks, "Webhooks", content)
}

/// The one page that shows a signing secret: after creating the webhook or rotating its secret.
fn secret_page(session: &SignedIn, webhook: &Webhook, secret: &WebhookSecret, created: bool) -> Markup {
    let title = if created { "Webhook created" } else { "New signing secret" };
    let content = html! {
        h1 { (title) }
        @if created {
            p { "Deliveries to " code { (webhook.url) } " are signed with this secret." }
        } @else {
            p { "Deliveries to " code { (webhook.url) } " are now signed with this secret; the previous one keeps signing alongside it for 24 hours." }
        }
        p.notice role="status" { strong { "Copy the secret now: it is never shown again." } }
        p {
            code #webhook-secret .secret { (secret.expose()) }
            " "
            button.secondary type="button" data-copy="webhook-secret" { "Copy" }
        }
        p.hint {
            "Each delivery carries " code { "X-Talon-Signature: sha256=…" } " (HMAC-SHA256 of the body) and the Standard Webhooks "
            code { "webhook-id" } ", " code { "webhook-timestamp" } " and " code { "webhook-signature" } " headers."
        }
        p { a href={ "/webhooks/" (webhook.id) } { "Go to the webhook" } }
    };
    layout::page(session, Section::Webhooks, title, content)
}

fn webhook_page(session: &SignedIn, webhook: &Webhook, deliveries: &Page<Delivery>, page: i64) -> Markup {
    let base = format!("/webhooks/{}", webhook.id);
    let content = html! {
        p { a href="/webhooks" { "← Webhooks" } }
        h1 { "Webhook " span.muted { (webhook.url) } }
        dl.facts {
            dt { "URL" } dd { code { (webhook.url) } }
            dt { "Events" } dd { (webhook.events.join(", ")) }
            dt { "Description" } dd { @if webhook.description.is_empty() { span.muted { "none" } } @else { (webhook.description) } }
            dt { "Status" }
            dd {
                (status_badge(webhook))
                @if let Some(reason) = &webhook.disabled_reason { " " (reason) }
            }
            dt { "Created" } dd { (when(webhook.created_at)) }
            dt { "Changed" } dd { (when(webhook.updated_at)) }
        }
        div.toolbar {
            form method="post" action={ (base) "/test" } {
                (csrf_field(session))
                button type="submit" { "Send test ping" }
            }
            form method="post" action={ (base) "/active" } {
                (csrf_field(session))
                @if webhook.active {
                    input type="hidden" name="active" value="false";
                    button.secondary type="submit" { "Disable" }
                } @else {
                    input type="hidden" name="active" value="true";
                    button.secondary type="submit" { "Enable" }
                }
            }
            form method="post" action={ (base) "/rotate-secret" }
                data-confirm="Make a new signing secret? The current one keeps signing for 24 hours." {
                (csrf_field(session))
                button.secondary type="submit" { "Rotate secret" }
            }
            form method="post" action={ (base) "/delete" } data-confirm="Delete this webhook and its delivery log?" {
                (csrf_field(session))
                button.danger type="submit" { "Delete webhook" }
            }
        }
        h2 { "Deliveries" }
        div #deliveries data-live="2000" {
            (delivery_log(session, &base, deliveries, page))
        }
    };
    layout::page(session, Section::Webhooks, "Webhook", content)
}

fn delivery_log(session: &SignedIn, base: &str, deliveries: &Page<Delivery>, page: i64) -> Markup {
    let pages = (deliveries.total + DELIVERIES_PER_PAGE - 1) / DELIVERIES_PER_PAGE;
    html! {
        @if deliveries.items.is_empty() {
            p { "Nothing delivered yet. " @if page == 1 { "Send a test ping to try the endpoint." } }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Event" } th scope="col" { "Status" } th.num scope="col" { "Status code" }
                    th.num scope="col" { "Attempts" } th scope="col" { "Response" } th scope="col" { "When" }
                    th scope="col" { "Action" }
                } }
                tbody {
                    @for delivery in &deliveries.items {
                        tr {
                            td { code { (delivery.event_kind) } }
                            td { (badge(delivery.status.as_str())) }
                            td.num { @if let Some(code) = delivery.last_status_code { (code) } @else { "—" } }
                            td.num { (delivery.attempts) }
                            td { (response_excerpt(delivery)) }
                            td { (when(delivery.updated_at)) }
                            td {
                                @if delivery.status != DeliveryStatus::Sending {
                                    form method="post" action={ (base) "/deliveries/" (delivery.id) "/redeliver" } {
                                        (csrf_field(session))
                                        button.secondary type="submit" { "Redeliver" }
                                    }
                                } @else { "sending…" }
                            }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.toolbar aria-label="Delivery log pages" {
                @if page > 1 { a href={ (base) "?page=" (page - 1) } { "Newer deliveries" } }
                span.muted { "Page " (page) " of " (pages) }
                @if page < pages { a href={ (base) "?page=" (page + 1) } { "Older deliveries" } }
            }
        }
    }
}

/// The start of the last response, or why there was none.
fn response_excerpt(delivery: &Delivery) -> Markup {
    let excerpt = |text: &str| {
        let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
        if text.chars().nth(EXCERPT_CHARS).is_some() {
            cut.push('…');
        }
        cut
    };
    html! {
        @if let Some(body) = delivery.last_response_body.as_deref().filter(|b| !b.is_empty()) {
            code.excerpt { (excerpt(body)) }
        }
        @if let Some(error) = &delivery.last_error {
            span.error { (excerpt(error)) }
        }
    }
}
