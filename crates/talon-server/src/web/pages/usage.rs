//! `/usage`: what an agent served over the last day, week or month: totals, a row per version, and
//! charts per hour or day of requests, failures, tokens and latency, from the usage service the API's
//! `GET /api/agents/:id/usage` uses.

mod chart;

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::{DateTime, Duration, Timelike, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use talon_domain::agent::{Agent, AgentRef};
use talon_domain::time::now;
use talon_domain::usage::{Period, UsageRange, VersionUsage};
use talon_store::Window;

use self::chart::{Chart, Kind, Series};
use crate::services::usage::{SeriesPoint, UsageSeries, UsageSummary};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::layout::{self, Section};
use crate::web::session::SignedIn;

/// The agents the Agent select offers at most (the one shown is always among them).
const AGENT_CHOICES: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new().route("/usage", get(usage_page))
}

#[derive(Deserialize)]
pub struct UsageQuery {
    agent: Option<String>,
    period: Option<String>,
    version: Option<String>,
}

/// The periods the page offers, each drawn per hour or per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Day,
    Week,
    Month,
}

impl Span {
    const ALL: [Span; 3] = [Span::Day, Span::Week, Span::Month];

    fn parse(value: Option<&str>) -> Result<Span, WebError> {
        match value.unwrap_or("") {
            "" | "7d" => Ok(Span::Week),
            "24h" => Ok(Span::Day),
            "30d" => Ok(Span::Month),
            _ => Err(WebError::bad_request("The period must be 24h, 7d or 30d")),
        }
    }

    fn value(self) -> &'static str {
        match self {
            Span::Day => "24h",
            Span::Week => "7d",
            Span::Month => "30d",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Span::Day => "Last 24 hours",
            Span::Week => "Last 7 days",
            Span::Month => "Last 30 days",
        }
    }

    /// How finely the charts are drawn, and how many of those periods they show.
    fn buckets(self) -> (Period, i64) {
        match self {
            Span::Day => (Period::Hour, 24),
            Span::Week => (Period::Hour, 24 * 7),
            Span::Month => (Period::Day, 30),
        }
    }

    /// The whole periods before the current one and the current one so far, so that the totals and the
    /// charts cover the same answers.
    fn range(self, now: DateTime<Utc>) -> UsageRange {
        let (period, count) = self.buckets();
        let length = if period == Period::Day { Duration::days(1) } else { Duration::hours(1) };
        UsageRange { from: period.start_of(now) - length * (count as i32 - 1), to: now }
    }

    /// The x axis's name for a point: the hour within a day, the day within a week or a month (a
    /// week's hours are named at midnight only).
    fn axis_label(self, at: DateTime<Utc>) -> String {
        match self {
            Span::Day => at.format("%H:%M").to_string(),
            Span::Week if at.hour() != 0 => String::new(),
            Span::Week | Span::Month => at.format("%d %b").to_string(),
        }
    }

    /// A period as a sentence names it.
    fn point_label(self, at: DateTime<Utc>) -> String {
        let format = match self {
            Span::Day => "%H:%M",
            Span::Week => "%d %b %H:%M",
            Span::Month => "%d %b",
        };
        at.format(format).to_string()
    }

    fn per(self) -> &'static str {
        if self == Span::Month { "day" } else { "hour" }
    }
}

pub async fn usage_page(
    State(state): State<AppState>,
    session: SignedIn,
    Query(query): Query<UsageQuery>,
) -> Result<Markup, WebError> {
    let caller = session.caller();
    let span = Span::parse(query.period.as_deref())?;
    let version = match query.version.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| WebError::bad_request("The version must be a version number (1, 2, …)"))?,
        ),
    };
    let agents = state.registry.list_agents(&caller, false, Window::Offset { offset: 0, limit: AGENT_CHOICES }).await?;
    let chosen = query.agent.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    let Some(chosen) = chosen.or_else(|| agents.items.first().map(|a| a.slug.clone())) else {
        return Ok(layout::page(&session, Section::Usage, "Usage", no_agents()));
    };
    let reference = AgentRef::parse(&chosen).ok_or_else(|| WebError::not_found("Agent"))?;
    let range = span.range(now());
    let summary = state.usage.summary(&caller, &reference, range).await?;
    let series = state.usage.series(&caller, &reference, range, span.buckets().0, version).await?;
    let report = Report { span, version, summary: &summary, series: &series };
    let content = html! {
        h1 { "Usage" }
        (choices(&agents.items, &summary.agent, span))
        (report.render())
    };
    Ok(layout::page(&session, Section::Usage, "Usage", content))
}

fn no_agents() -> Markup {
    html! {
        h1 { "Usage" }
        p { "You have no agents yet, so there is no usage to show. " a href="/agents" { "Create an agent" } "." }
    }
}

/// The Agent and Period selects (a GET form: the page's address says what it shows).
fn choices(agents: &[Agent], shown: &Agent, span: Span) -> Markup {
    let listed = agents.iter().any(|a| a.id == shown.id);
    html! {
        form.toolbar method="get" action="/usage" {
            label for="usage-agent" { "Agent" }
            select #usage-agent name="agent" {
                @if !listed { option value=(shown.slug) selected { (shown.metadata.name) " (" (shown.slug) ")" } }
                @for agent in agents {
                    option value=(agent.slug) selected[agent.id == shown.id] { (agent.metadata.name) " (" (agent.slug) ")" }
                }
            }
            label for="usage-period" { "Period" }
            select #usage-period name="period" {
                @for s in Span::ALL {
                    option value=(s.value()) selected[s == span] { (s.label()) }
                }
            }
            button type="submit" { "Show" }
        }
    }
}

struct Report<'a> {
    span: Span,
    version: Option<i64>,
    summary: &'a UsageSummary,
    series: &'a UsageSeries,
}

impl Report<'_> {
    fn render(&self) -> Markup {
        let agent = &self.summary.agent;
        let shown = match self.version {
            Some(n) => self.summary.versions.iter().find(|v| v.version == n).cloned().unwrap_or_default(),
            None => self.summary.total.clone(),
        };
        let all_versions = format!("/usage?agent={}&period={}", encode(&agent.slug), self.span.value());
        html! {
            h2 {
                (agent.metadata.name) " · " (self.span.label())
                @if let Some(n) = self.version { " · version " (n) }
            }
            @if self.version.is_some() { p { a href=(all_versions) { "Show all versions" } } }
            (totals(&shown))
            h2 { "Per version" }
            (self.versions_table())
            p.hint { "Times are UTC. Latency percentiles (p95) are not recorded; the slowest answer is shown instead." }
            h2 { "Over time" }
            (self.charts())
            (self.figures_table())
        }
    }

    fn versions_table(&self) -> Markup {
        let agent = &self.summary.agent;
        if self.summary.versions.is_empty() {
            return html! { p { "No requests in this period." } };
        }
        html! {
            table #usage-versions {
                thead { tr {
                    th scope="col" { "Version" } th.num scope="col" { "Requests" } th.num scope="col" { "Failures" }
                    th.num scope="col" { "Input tokens" } th.num scope="col" { "Output tokens" }
                    th.num scope="col" { "Average latency" } th.num scope="col" { "Slowest" } th scope="col" { "Chart" }
                } }
                tbody {
                    @for v in &self.summary.versions {
                        tr aria-current=[(self.version == Some(v.version)).then_some("true")] {
                            th scope="row" { a href={ "/agents/" (agent.slug) } { "Version " (v.version) } }
                            td.num { (count(v.requests)) } td.num { (count(v.failed)) }
                            td.num { (count(v.prompt_tokens)) } td.num { (count(v.completion_tokens)) }
                            td.num { (millis(v.avg_latency_ms)) } td.num { (millis(v.max_latency_ms)) }
                            td { a href={ "/usage?agent=" (encode(&agent.slug)) "&period=" (self.span.value()) "&version=" (v.version) } {
                                "Chart version " (v.version)
                            } }
                        }
                    }
                }
                @if self.summary.versions.len() > 1 {
                    tfoot { tr {
                        @let t = &self.summary.total;
                        th scope="row" { "All versions" }
                        td.num { (count(t.requests)) } td.num { (count(t.failed)) }
                        td.num { (count(t.prompt_tokens)) } td.num { (count(t.completion_tokens)) }
                        td.num { (millis(t.avg_latency_ms)) } td.num { (millis(t.max_latency_ms)) } td {}
                    } }
                }
            }
        }
    }

    fn charts(&self) -> Markup {
        let points = &self.series.points;
        let labels: Vec<String> = points.iter().map(|p| self.span.axis_label(p.start)).collect();
        let values = |f: fn(&SeriesPoint) -> Option<f64>| points.iter().map(f).collect::<Vec<_>>();
        let per = self.span.per();
        let empty = "No requests in this period";
        let requests_title = format!("Requests per {per}");
        let failures_title = format!("Failures per {per}");
        let tokens_title = format!("Tokens per {per}");
        let latency_title = format!("Latency per {per} (ms)");
        let charts = [
            Chart {
                id: "chart-requests",
                title: &requests_title,
                kind: Kind::Bars,
                whole: true,
                labels: &labels,
                series: vec![Series { name: "Requests", values: values(|p| Some(p.requests as f64)) }],
                summary: self.peak_summary(("request", "requests"), |p| p.requests),
                empty,
            },
            Chart {
                id: "chart-failures",
                title: &failures_title,
                kind: Kind::Bars,
                whole: true,
                labels: &labels,
                series: vec![Series { name: "Failures", values: values(|p| Some(p.failed as f64)) }],
                summary: self.peak_summary(("failure", "failures"), |p| p.failed),
                empty: "No failures in this period",
            },
            Chart {
                id: "chart-tokens",
                title: &tokens_title,
                kind: Kind::Lines,
                whole: true,
                labels: &labels,
                series: vec![
                    Series { name: "Input", values: values(|p| Some(p.prompt_tokens as f64)) },
                    Series { name: "Output", values: values(|p| Some(p.completion_tokens as f64)) },
                ],
                summary: self.tokens_summary(),
                empty,
            },
            Chart {
                id: "chart-latency",
                title: &latency_title,
                kind: Kind::Lines,
                whole: false,
                labels: &labels,
                series: vec![
                    Series { name: "Average", values: values(|p| p.avg_latency_ms) },
                    Series { name: "Slowest", values: values(|p| p.max_latency_ms) },
                ],
                summary: self.latency_summary(),
                empty,
            },
        ];
        html! {
            div.charts {
                @for c in &charts { (chart::render(c)) }
            }
        }
    }

    /// "12 requests in all; the most in one hour was 5 (03 Dec 14:00)."
    fn peak_summary(&self, (one, many): (&str, &str), of: fn(&SeriesPoint) -> u64) -> String {
        let points = &self.series.points;
        let total: u64 = points.iter().map(of).sum();
        let peak = points.iter().filter(|p| of(p) > 0).max_by_key(|p| (of(p), std::cmp::Reverse(p.start)));
        match peak {
            Some(p) => format!(
                "{} {} in all; the most in one {per} was {} ({}).",
                count(total),
                if total == 1 { one } else { many },
                count(of(p)),
                self.span.point_label(p.start),
                per = self.span.per()
            ),
            None => format!("No {many} in this period."),
        }
    }

    fn tokens_summary(&self) -> String {
        let points = &self.series.points;
        let input: u64 = points.iter().map(|p| p.prompt_tokens).sum();
        let output: u64 = points.iter().map(|p| p.completion_tokens).sum();
        format!("{} input and {} output tokens in all.", count(input), count(output))
    }

    fn latency_summary(&self) -> String {
        let points = &self.series.points;
        let requests: u64 = points.iter().map(|p| p.requests).sum();
        let weighted: f64 = points.iter().filter_map(|p| p.avg_latency_ms.map(|a| a * p.requests as f64)).sum();
        let slowest =
            points.iter().filter_map(|p| p.max_latency_ms.map(|m| (m, p.start))).max_by(|a, b| a.0.total_cmp(&b.0));
        match slowest {
            Some((max, at)) if requests > 0 => format!(
                "{} on average; the slowest answer took {} ({}).",
                millis(weighted / requests as f64),
                millis(max),
                self.span.point_label(at)
            ),
            _ => "No requests in this period.".to_owned(),
        }
    }

    /// The charts' figures as a table, for reading exact values: the periods with answers only.
    fn figures_table(&self) -> Markup {
        let busy: Vec<&SeriesPoint> = self.series.points.iter().filter(|p| p.requests > 0).collect();
        if busy.is_empty() {
            return html! {};
        }
        let per = self.span.per();
        html! {
            details.figures {
                summary { "Figures per " (per) " (" (busy.len()) " with requests)" }
                table {
                    thead { tr {
                        th scope="col" { "Start (UTC)" } th.num scope="col" { "Requests" } th.num scope="col" { "Failures" }
                        th.num scope="col" { "Input tokens" } th.num scope="col" { "Output tokens" }
                        th.num scope="col" { "Average latency" } th.num scope="col" { "Slowest" }
                    } }
                    tbody {
                        @for p in busy {
                            tr {
                                th scope="row" { (p.start.format("%Y-%m-%d %H:%M")) }
                                td.num { (count(p.requests)) } td.num { (count(p.failed)) }
                                td.num { (count(p.prompt_tokens)) } td.num { (count(p.completion_tokens)) }
                                td.num { (p.avg_latency_ms.map_or_else(String::new, millis)) }
                                td.num { (p.max_latency_ms.map_or_else(String::new, millis)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The totals of the agent (or the chosen version) over the period.
fn totals(usage: &VersionUsage) -> Markup {
    html! {
        dl.facts.totals #usage-totals {
            dt { "Requests" } dd { (count(usage.requests)) }
            dt { "Failures" } dd { (count(usage.failed)) }
            dt { "Input tokens" } dd { (count(usage.prompt_tokens)) }
            dt { "Output tokens" } dd { (count(usage.completion_tokens)) }
            dt { "Average latency" } dd { (if usage.requests > 0 { millis(usage.avg_latency_ms) } else { "–".to_owned() }) }
            dt { "Slowest answer" } dd { (if usage.requests > 0 { millis(usage.max_latency_ms) } else { "–".to_owned() }) }
        }
    }
}

/// A count with thousands separated: `12,345`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn millis(ms: f64) -> String {
    if ms >= 100.0 { format!("{} ms", count(ms.round() as u64)) } else { format!("{ms:.1} ms") }
}

/// What a query value escapes: all but letters, digits and `-_.~` (so a slug reads as itself).
const QUERY_VALUE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_end_now_and_start_on_a_whole_hour_or_day() {
        let now = at("2026-12-03T14:25:00Z");
        assert_eq!(Span::Day.range(now), UsageRange { from: at("2026-12-02T15:00:00Z"), to: now });
        assert_eq!(Span::Week.range(now).from, at("2026-11-26T15:00:00Z"));
        assert_eq!(Span::Month.range(now).from, at("2026-11-04T00:00:00Z"));
        assert_eq!(Span::Week.axis_label(at("2026-12-03T00:00:00Z")), "03 Dec");
        assert_eq!(Span::Week.axis_label(at("2026-12-03T01:00:00Z")), "");
        assert_eq!(Span::Day.axis_label(at("2026-12-03T01:00:00Z")), "01:00");
        assert_eq!(Span::parse(None).unwrap(), Span::Week);
        assert_eq!(Span::parse(Some("30d")).unwrap(), Span::Month);
        assert!(Span::parse(Some("1y")).is_err());
    }

    #[test]
    fn figures_read_naturally() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(millis(3.04), "3.0 ms");
        assert_eq!(millis(1234.4), "1,234 ms");
    }
}
