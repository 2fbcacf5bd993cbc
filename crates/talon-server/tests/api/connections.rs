//! Connections are bounded: a client that does not finish its request headers within the header
//! timeout is disconnected, and beyond the connection cap new clients wait until a place frees up.
//! (No database is involved; the server runs on SQLite.)

use std::time::Duration;

use crate::common::{TestApp, test_config};
use talon_store::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound for something that should happen after a one-second timeout.
const WELL_AFTER_THE_TIMEOUT: Duration = Duration::from_secs(10);

async fn app(header_timeout: Duration, max_connections: usize) -> TestApp {
    let mut config = test_config();
    config.header_timeout = header_timeout;
    config.max_connections = max_connections;
    TestApp::spawn_with(Backend::Sqlite, config).await
}

/// Reads until the server closes the connection; panics if it has not within `WELL_AFTER_THE_TIMEOUT`.
async fn closed_by_server(stream: &mut TcpStream) {
    let mut sink = Vec::new();
    let read = tokio::time::timeout(WELL_AFTER_THE_TIMEOUT, stream.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the server kept a connection open past the header timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = app(Duration::from_secs(1), 64).await;
    let mut partial = TcpStream::connect(app.addr).await.unwrap();
    partial.write_all(b"GET /healthz HTTP/1.1\r\nHost: talon\r\nX-Slow: ").await.unwrap();
    let mut silent = TcpStream::connect(app.addr).await.unwrap();
    closed_by_server(&mut partial).await;
    closed_by_server(&mut silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_timeout() {
    let app = app(Duration::from_secs(1), 64).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: talon\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    closed_by_server(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_cap_a_client_waits_until_a_place_frees_up() {
    let app = app(Duration::from_secs(60), 2).await;
    let first_idle = TcpStream::connect(app.addr).await.unwrap();
    let _second_idle = TcpStream::connect(app.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut third = TcpStream::connect(app.addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: talon\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let early = tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(early.is_err() && answer.is_empty(), "a third connection is not served while two hold the places");

    drop(first_idle);
    tokio::time::timeout(WELL_AFTER_THE_TIMEOUT, third.read_to_end(&mut answer))
        .await
        .expect("served once a place freed up")
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_holding_every_place_do_not_stop_health_checks_for_long() {
    let app = app(Duration::from_secs(1), 3).await;
    let _idle: Vec<TcpStream> = futures::future::join_all((0..3).map(|_| TcpStream::connect(app.addr)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = reqwest::Client::new().get(app.url("/healthz")).timeout(WELL_AFTER_THE_TIMEOUT).send().await;
    assert_eq!(health.expect("answered once the idle connections timed out").status(), 200);
}
