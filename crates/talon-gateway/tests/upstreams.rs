//! The gateway against in-process upstreams (OpenAI-compatible and Anthropic) with faults on demand:
//! the model name picks the behaviour.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};
use talon_gateway::types::{ChatChunk, ChatMessage, ChatRequest};
use talon_gateway::{Gateway, ProviderConfig, ProviderError, ProviderKind};

type Seen = Arc<Mutex<Vec<Value>>>;

fn sse(events: Vec<String>, pause: Duration, finish: bool) -> Response {
    let stream = futures::stream::iter(events.into_iter().enumerate()).then(move |(i, e)| async move {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        Ok::<_, std::io::Error>(e)
    });
    let tail = futures::stream::iter(if finish { vec![Ok("data: [DONE]\n\n".to_owned())] } else { vec![] });
    Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream.chain(tail))).unwrap()
}

fn openai_chunk(content: &str) -> String {
    format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": content}}]}))
}

async fn openai(State(seen): State<Seen>, body: axum::Json<Value>) -> Response {
    seen.lock().unwrap().push(body.0.clone());
    let words = ["Hello", " from", " upstream"].map(openai_chunk).to_vec();
    match body["model"].as_str().unwrap_or_default() {
        "fail-500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "fail-429" => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3")], "slow down").into_response(),
        "fail-400" => (StatusCode::BAD_REQUEST, "bad request").into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            sse(words, Duration::ZERO, true)
        }
        "cut" => sse(words[..2].to_vec(), Duration::ZERO, false),
        "stall" => sse(vec![words[0].clone(), words[1].clone()], Duration::from_secs(5), true),
        _ => {
            let mut events = words;
            events.push(format!(
                "data: {}\n\n",
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            ));
            events.push(format!(
                "data: {}\n\n",
                json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
            ));
            sse(events, Duration::from_millis(5), true)
        }
    }
}

async fn anthropic(State(seen): State<Seen>, body: axum::Json<Value>) -> Response {
    seen.lock().unwrap().push(body.0.clone());
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let events = vec![
        event("message_start", json!({"message": {"usage": {"input_tokens": 11}}})),
        event("content_block_start", json!({"index": 0, "content_block": {"type": "text", "text": ""}})),
        event("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "Bonjour"}})),
        event("content_block_stop", json!({"index": 0})),
        event("message_delta", json!({"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}})),
        event("message_stop", json!({})),
    ];
    sse(events, Duration::ZERO, false)
}

struct Upstream {
    base: String,
    seen: Seen,
}

async fn upstream() -> Upstream {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { base, seen }
}

/// A base URL on which nothing listens.
async fn refused() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

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
