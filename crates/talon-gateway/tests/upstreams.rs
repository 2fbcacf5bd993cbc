//! The gateway against in-process upstreams (OpenAI-compatible and Anthropic) with faults on demand:
//! the model name picks the behaviour.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use talon_gateway::testing::{Upstream, refused, upstream};
use talon_gateway::types::{ChatChunk, ChatMessage, ChatRequest};
use talon_gateway::{Gateway, ProviderConfig, ProviderError, ProviderKind};

fn gateway(up: &Upstream, down: &str) -> Gateway {
    let provider = |name: &str, kind, base: &str| ProviderConfig {
        name: name.into(),
        kind,
        base_url: base.into(),
        api_key_env: None,
    };
    let mut gateway = Gateway::new(
        &[
            provider("up", ProviderKind::Openai, &up.base),
            provider("down", ProviderKind::Openai, down),
            provider("claude", ProviderKind::Anthropic, &up.base),
        ],
        reqwest::Client::new(),
    );
    gateway.first_token_timeout = Duration::from_millis(500);
    gateway.idle_timeout = Duration::from_millis(500);
    gateway
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::text("system", "You are terse."), ChatMessage::text("user", "Say hello")],
        tools: vec![json!({"type": "function", "function": {"name": "lookup", "description": "d", "parameters": {}}})],
        temperature: Some(0.3),
        max_tokens: Some(100),
        user: None,
    }
}

async fn collect(stream: talon_gateway::ChunkStream) -> Vec<Result<ChatChunk, ProviderError>> {
    stream.collect().await
}

fn text(chunks: &[Result<ChatChunk, ProviderError>]) -> String {
    chunks.iter().filter_map(|c| c.as_ref().ok()?.content.clone()).collect()
}

#[tokio::test]
async fn streams_and_sends_the_request_upstream() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    let opened = gateway.open(&["up/ok"], &request()).await.unwrap();
    assert_eq!((opened.model.as_str(), opened.fell_back), ("up/ok", false));
    let chunks = collect(opened.stream).await;
    assert_eq!(text(&chunks), "Hello from upstream");
    assert!(chunks.iter().all(Result::is_ok));
    assert_eq!(chunks.last().unwrap().as_ref().unwrap().usage.unwrap().total_tokens, 12);
    let sent = up.seen.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "ok");
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You are terse."}));
    assert_eq!(sent["tools"][0]["function"]["name"], "lookup");
    assert_eq!((sent["temperature"].as_f64(), sent["max_tokens"].as_u64()), (Some(0.3), Some(100)));
    assert_eq!(sent["stream"], true);
}

#[tokio::test]
async fn falls_back_on_500_429_connect_refused_and_a_slow_first_token() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    for primary in ["up/fail-500", "up/fail-429", "down/anything", "up/slow"] {
        let opened = gateway.open(&[primary, "up/ok"], &request()).await.unwrap_or_else(|e| panic!("{primary}: {e}"));
        assert_eq!(opened.model, "up/ok", "{primary}");
        assert!(opened.fell_back);
        assert_eq!(text(&collect(opened.stream).await), "Hello from upstream");
    }
}

#[tokio::test]
async fn a_client_error_does_not_fall_back() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    let error = gateway.open(&["up/fail-400", "up/ok"], &request()).await.err().unwrap();
    assert_eq!(error.attempts.len(), 1);
    assert!(matches!(error.last(), Some(ProviderError::Status { status: 400, .. })));
    let error = gateway.open(&["up/fail-429"], &request()).await.err().unwrap();
    assert!(
        matches!(error.last(), Some(ProviderError::Status { status: 429, retry_after: Some(d), .. }) if d.as_secs() == 3)
    );
}

#[tokio::test]
async fn a_cut_stream_ends_in_an_error_without_falling_back() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    let opened = gateway.open(&["up/cut", "up/ok"], &request()).await.unwrap();
    assert_eq!(opened.model, "up/cut", "content had started: no fallback");
    let chunks = collect(opened.stream).await;
    assert_eq!(text(&chunks), "Hello from");
    assert_eq!(chunks.last().unwrap(), &Err(ProviderError::Cut));
}

#[tokio::test]
async fn a_stalled_stream_ends_in_an_error() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    let opened = gateway.open(&["up/stall"], &request()).await.unwrap();
    let chunks = collect(opened.stream).await;
    assert_eq!(text(&chunks), "Hello");
    assert!(matches!(chunks.last().unwrap(), Err(ProviderError::Stalled(_))));
}

#[tokio::test]
async fn anthropic_is_translated_both_ways() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    let opened = gateway.open(&["claude/claude-test"], &request()).await.unwrap();
    let chunks = collect(opened.stream).await;
    assert_eq!(text(&chunks), "Bonjour");
    let last = chunks.last().unwrap().as_ref().unwrap();
    assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    assert_eq!(last.usage.unwrap().total_tokens, 13);
    let sent = up.seen.lock().unwrap()[0].clone();
    assert_eq!(sent["system"], "You are terse.");
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "Say hello"}]));
    assert_eq!(sent["tools"][0]["input_schema"], json!({}));
}

#[tokio::test]
async fn the_echo_provider_is_deterministic_and_says_it_is_a_test() {
    let up = upstream().await;
    let gateway = gateway(&up, &refused().await);
    assert!(
        gateway.knows("test/echo") && gateway.knows("up/anything") && !gateway.knows("nope/x") && !gateway.knows("up/")
    );
    let opened = gateway.open(&["test/echo"], &request()).await.unwrap();
    assert!(opened.test_provider);
    let chunks = collect(opened.stream).await;
    let words: Vec<_> = chunks.iter().filter_map(|c| c.as_ref().ok()?.content.clone()).collect();
    assert_eq!(words, ["Say ", "hello"]);
    assert_eq!(chunks.last().unwrap().as_ref().unwrap().finish_reason.as_deref(), Some("stop"));
    assert!(gateway.open(&["test/other"], &request()).await.is_err());
}
