//! The page shell every dashboard page is drawn in, and the small pieces pages share: times, status
//! badges, the hidden anti-forgery field.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{CSRF_FIELD, SignedIn};

/// The sections of the navigation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Agents,
    Playground,
    Usage,
    Tasks,
    Webhooks,
    Keys,
    Marketplace,
}

impl Section {
    const ALL: [Section; 7] = [
        Section::Agents,
        Section::Playground,
        Section::Usage,
        Section::Tasks,
        Section::Webhooks,
        Section::Keys,
        Section::Marketplace,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Agents => "Agents",
            Section::Playground => "Playground",
            Section::Usage => "Usage",
            Section::Tasks => "Tasks",
            Section::Webhooks => "Webhooks",
            Section::Keys => "API keys",
            Section::Marketplace => "Marketplace",
        }
    }

    fn href(self) -> &'static str {
        match self {
            Section::Agents => "/agents",
            Section::Playground => "/playground",
            Section::Usage => "/usage",
            Section::Tasks => "/tasks",
            Section::Webhooks => "/webhooks",
            Section::Keys => "/keys",
            Section::Marketplace => "/marketplace",
        }
    }
}

/// A page for a signed-in session: the navigation, the notice left by the last action, the content.
pub fn page(session: &SignedIn, section: Section, title: &str, content: Markup) -> Markup {
    document(
        title,
        Some(&session.csrf),
        html! {
            a.skip href="#main" { "Skip to content" }
            header.top {
                a.brand href="/" { "Talon" }
                nav aria-label="Sections" {
                    ul {
                        @for s in Section::ALL {
                            li {
                                a href=(s.href()) aria-current=[(s == section).then_some("page")] { (s.label()) }
                            }
                        }
                    }
                }
                div.account {
                    span { (session.email()) }
                    form method="post" action="/logout" {
                        (csrf_field(session))
                        button.link type="submit" { "Sign out" }
                    }
                }
            }
            main #main tabindex="-1" {
                @if let Some(notice) = &session.notice {
                    p.notice role="status" { (notice) }
                }
                (content)
            }
        },
    )
}

/// A page outside a session (sign-in, register, errors).
pub fn bare(title: &str, content: Markup) -> Markup {
    document(
        title,
        None,
        html! {
            header.top { a.brand href="/" { "Talon" } }
            (content)
        },
    )
}

fn document(title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(token) = csrf { meta name="csrf-token" content=(token); }
                title { (title) " · Talon" }
                link rel="stylesheet" href=(assets::css_href());
                script src=(assets::js_href()) defer {}
            }
            body { (body) }
        }
    }
}

/// The hidden field carrying the session's anti-forgery token in a form.
pub fn csrf_field(session: &SignedIn) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A time as people read it ("3 min ago"), with the exact UTC time on hover and for machines.
pub fn when(at: DateTime<Utc>) -> Markup {
    let exact = at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    html! { time datetime=(at.to_rfc3339()) title=(exact) { (ago(Utc::now() - at)) } }
}

fn ago(elapsed: chrono::Duration) -> String {
    let seconds = elapsed.num_seconds();
    match seconds {
        s if s < 0 => "just now".to_owned(),
        0..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// A status as a coloured badge; the colour class is the status's own name.
pub fn badge(status: &str) -> Markup {
    html! { span class={ "badge " (status) } { (status) } }
}

/// Text that is shown as-is, in a fixed-width block (prompts, JSON).
pub fn code_block(text: &str) -> Markup {
    html! { pre.code { code { (text) } } }
}

/// Pretty JSON for reading.
pub fn json_block(value: &serde_json::Value) -> Markup {
    code_block(&serde_json::to_string_pretty(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(chrono::Duration::seconds(5)), "5 s ago");
        assert_eq!(ago(chrono::Duration::seconds(125)), "2 min ago");
        assert_eq!(ago(chrono::Duration::hours(5)), "5 h ago");
        assert_eq!(ago(chrono::Duration::days(3)), "3 days ago");
        assert_eq!(ago(chrono::Duration::seconds(-3)), "just now");
    }

    #[test]
    fn text_is_escaped() {
        let html = badge("<script>").into_string();
        assert!(!html.contains("<script>"), "{html}");
    }
}
