//! A mock upstream for tests: an OpenAI-compatible `/v1/chat/completions` and an Anthropic
//! `/v1/messages` on 127.0.0.1:0. The requested model picks the behaviour: `ok` (three words, a finish
//! and usage), `fail-500`, `fail-429` (Retry-After: 3), `fail-400`, `slow` (2 s before answering), `cut`
//! (two words, then the stream ends without `[DONE]`), `stall` (two words 5 s apart), `instant` (`ok`
//! without pauses, for benchmarks), `chunks-64` (64 chunks 20 ms apart), `drip` (a word every 50 ms
//! for 10 s, to hold an answer open), `fail-503-utf8` (a 503 whose body has a two-byte character across
//! byte 1024), `silent` (nothing for 60 s), `flood` (20,000 chunks of 1 KB at once, to fill socket
//! buffers).

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

pub type Seen = Arc<Mutex<Vec<Value>>>;

fn sse(events: Vec<String>, pause: Duration, finish: bool) -> Response {
    let stream = futures::stream::iter(events.into_iter().enumerate()).then(move |(i, e)| async move {
        // Even a zero sleep waits for the timer's next tick (about a millisecond): skip it.
        if i > 0 && !pause.is_zero() {
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
        "fail-503-utf8" => (StatusCode::SERVICE_UNAVAILABLE, format!("{}é and more", "x".repeat(1023))).into_response(),
        "silent" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            sse(words, Duration::ZERO, true)
        }
        "flood" => {
            let line = "z".repeat(1024);
            sse((0..20_000).map(|_| openai_chunk(&line)).collect(), Duration::ZERO, true)
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            sse(words, Duration::ZERO, true)
        }
        "cut" => sse(words[..2].to_vec(), Duration::ZERO, false),
        "instant" => {
            let mut events = words;
            events.push(format!(
                "data: {}\n\n",
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
            ));
            sse(events, Duration::ZERO, true)
        }
        "chunks-64" => {
            let events = (0..64).map(|i| openai_chunk(&format!(" w{i}"))).collect();
            sse(events, Duration::from_millis(20), true)
        }
        "drip" => sse((0..200).map(|i| openai_chunk(&format!(" d{i}"))).collect(), Duration::from_millis(50), true),
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

/// A running mock upstream: `base` ends in `/v1`; `seen` holds every request body it received.
pub struct Upstream {
    pub base: String,
    pub seen: Seen,
}

pub async fn upstream() -> Upstream {
    upstream_on("127.0.0.1:0").await
}

/// The mock upstream on a given address (benchmarks run it as a separate process).
pub async fn upstream_on(address: &str) -> Upstream {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/v1/chat/completions", post(openai))
        .route("/v1/messages", post(anthropic))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { base, seen }
}

/// A base URL on which nothing listens.
pub async fn refused() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}
