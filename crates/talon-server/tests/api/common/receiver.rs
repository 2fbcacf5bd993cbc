//! A webhook receiver for tests: a small HTTP server on 127.0.0.1:0 that records every request and
//! answers from a script (200 once the script runs out), and a black hole that accepts connections and
//! never answers.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// One scripted answer: status, headers, and how long to wait before answering.
type Answer = (u16, Vec<(&'static str, String)>, Duration);

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Answer>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url: format!("http://{addr}/hooks"), inner }
    }

    /// The next requests get these answers, in order.
    pub fn respond_with(&self, status: u16, headers: &[(&'static str, &str)]) {
        let headers = headers.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.inner.lock().unwrap().script.push_back((status, headers, Duration::ZERO));
    }

    /// The next request is recorded as it arrives, then answered with `status` after `delay`.
    pub fn respond_slowly(&self, status: u16, delay: Duration) {
        self.inner.lock().unwrap().script.push_back((status, Vec::new(), delay));
    }

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|rest| rest.split('/').next()).unwrap().parse().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits (up to 15 s) until at least `n` requests arrived, and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received();
            if received.len() >= n || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let (status, headers, delay) = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received { headers, body, at: Instant::now() });
        inner.script.pop_front().unwrap_or((200, Vec::new(), Duration::ZERO))
    };
    tokio::time::sleep(delay).await;
    let mut response = (StatusCode::from_u16(status).unwrap(), "received").into_response();
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A socket that accepts connections and never answers; it counts what it accepted.
pub struct BlackHole {
    pub url: String,
    accepted: Arc<AtomicUsize>,
}

impl BlackHole {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        BlackHole { url: format!("http://{addr}/hooks"), accepted }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
