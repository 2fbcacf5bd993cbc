//! The answer's chunk stream as the caller receives it, wrapped to enforce the answer's deadline, hold
//! the concurrency permit, and account the answer exactly once: when the stream ends, fails, times out
//! or is dropped because the caller went away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use talon_domain::usage::{Outcome, UsageRecord};
use talon_gateway::types::{ChatChunk, Usage, estimate_tokens};
use talon_gateway::{ChunkStream, ProviderError};

use super::health::{AgentHealth, Deployed};
use crate::limits::Permit;
use crate::services::usage::UsageService;

/// What is known of an answer while it streams, turned into its usage record when it ends.
pub(super) struct Meter {
    /// The record with everything but the measurements filled in.
    pub record: UsageRecord,
    pub arrived: Instant,
    pub upstream_started: Instant,
    pub first_chunk_at: Option<Instant>,
    pub estimated_prompt_tokens: u64,
    pub estimated_completion_tokens: u64,
    pub reported: Option<Usage>,
    pub usage: Arc<UsageService>,
    /// Told how the answer ended, to mark an agent whose answers keep failing.
    pub health: Arc<AgentHealth>,
    pub deployed: Deployed,
}

impl Meter {
    fn observe(&mut self, chunk: &ChatChunk) {
        if let Some(content) = &chunk.content {
            self.estimated_completion_tokens += estimate_tokens(content);
        }
        if chunk.usage.is_some() {
            self.reported = chunk.usage;
        }
    }

    /// Records the answer: in the usage log, and in the metrics.
    pub fn finish(mut self, outcome: Outcome) {
        let ended = Instant::now();
        let latency = ended.duration_since(self.arrived);
        let upstream = ended.duration_since(self.upstream_started);
        let (prompt, completion) = match self.reported {
            Some(usage) => (usage.prompt_tokens, usage.completion_tokens),
            None => (self.estimated_prompt_tokens, self.estimated_completion_tokens),
        };
        let first_token = self.first_chunk_at.map(|at| at.duration_since(self.arrived));
        let source = self.record.source.as_str();
        metrics::counter!("talon_chat_requests_total", "source" => source, "outcome" => outcome.as_str(),
            "fallback" => if self.record.fell_back { "true" } else { "false" })
        .increment(1);
        metrics::histogram!("talon_chat_duration_seconds", "source" => source).record(latency.as_secs_f64());
        // Talon's own share: from the request's arrival to the upstream call (authentication, limits,
        // resolving the agent), which is the answer's time minus the upstream's.
        metrics::histogram!("talon_chat_overhead_seconds", "source" => source)
            .record(latency.saturating_sub(upstream).as_secs_f64());
        if let Some(first_token) = first_token {
            metrics::histogram!("talon_chat_time_to_first_token_seconds", "source" => source)
                .record(first_token.as_secs_f64());
        }
        metrics::counter!("talon_chat_tokens_total", "kind" => "prompt").increment(prompt);
        metrics::counter!("talon_chat_tokens_total", "kind" => "completion").increment(completion);
        self.record.prompt_tokens = prompt;
        self.record.completion_tokens = completion;
        self.record.latency_us = micros(latency);
        self.record.first_token_us = first_token.map(micros);
        self.record.outcome = outcome;
        let usage = self.usage.clone();
        usage.record(self.record);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub(super) struct Metered {
    inner: ChunkStream,
    deadline: Option<(Pin<Box<tokio::time::Sleep>>, Duration)>,
    /// `Some` until the answer is accounted.
    meter: Option<Meter>,
    ended: bool,
    _permit: Permit,
}

impl Metered {
    pub fn new(inner: ChunkStream, meter: Meter, deadline: Option<(Instant, Duration)>, permit: Permit) -> Self {
        let deadline = deadline.map(|(at, limit)| (Box::pin(tokio::time::sleep_until(at.into())), limit));
        Self { inner, deadline, meter: Some(meter), ended: false, _permit: permit }
    }

    /// The stream ended by itself (not dropped by a caller who went away).
    fn finish(&mut self, outcome: Outcome) {
        self.ended = true;
        if let Some(meter) = self.meter.take() {
            match outcome {
                Outcome::Ok => meter.health.succeeded(meter.record.agent_id),
                Outcome::UpstreamError | Outcome::Timeout => meter.health.failed(meter.deployed),
                Outcome::ClientClosed => {}
            }
            meter.finish(outcome);
        }
    }
}

impl Stream for Metered {
    type Item = Result<ChatChunk, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some((sleep, limit)) = self.deadline.as_mut() {
            let limit = *limit;
            if sleep.as_mut().poll(cx).is_ready() {
                self.finish(Outcome::Timeout);
                return Poll::Ready(Some(Err(ProviderError::Deadline(limit))));
            }
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(meter) = self.meter.as_mut() {
                    meter.observe(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish(Outcome::UpstreamError);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.finish(Outcome::Ok);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        // Dropped before its end: the caller went away (or stopped reading).
        if let Some(meter) = self.meter.take() {
            meter.finish(Outcome::ClientClosed);
        }
    }
}
