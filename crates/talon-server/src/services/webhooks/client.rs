//! The HTTP client deliveries go out through: no redirects, no proxy, a timeout, and (unless private
//! targets are allowed) two guards on where it connects.
//!
//! Endpoint URLs are parsed with `url`, the WHATWG parser reqwest itself uses, so `127.0.0.%31` or
//! `127.0.0.1.` is seen as the address it is, not as a host name. At delivery, a host name goes through
//! a resolver that drops forbidden addresses (an IP-literal host never reaches a resolver), and every
//! connection, whatever its host, is checked once the socket is connected: the peer address the kernel
//! reports is the one refused or allowed, before any HTTP bytes are written. That check also defeats
//! DNS rebinding, and it holds even if a parser somewhere disagrees about what the URL names.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use talon_domain::webhook::{is_forbidden_target, literal_address, parse_endpoint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the URL's host is a private, loopback or link-local address")]
    Forbidden,
}

#[derive(Debug, thiserror::Error)]
#[error("the webhook delivery client could not be built: {0}")]
pub struct ClientError(#[from] reqwest::Error);

/// Refuses an endpoint whose host is, or resolves to, a forbidden address. A host that does not resolve
/// now is accepted (every delivery checks the address it connects to).
pub async fn check_target(url: &url::Url, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    if let Some(ip) = literal_address(url) {
        return if is_forbidden_target(ip) { Err(TargetError::Forbidden) } else { Ok(()) };
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return Ok(()) };
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.iter().any(|a| is_forbidden_target(a.ip())) { Err(TargetError::Forbidden) } else { Ok(()) }
        }
        Err(_) => Ok(()),
    }
}

/// Before a delivery: refuses a stored URL that no longer parses or that names a forbidden address.
pub fn check_before_sending(raw: &str, allow_private: bool) -> Result<(), String> {
    let url = parse_endpoint(raw).map_err(|e| format!("The webhook URL is not valid: {e}"))?;
    match literal_address(&url) {
        Some(ip) if !allow_private && is_forbidden_target(ip) => Err(forbidden_message(ip)),
        _ => Ok(()),
    }
}

fn forbidden_message(ip: IpAddr) -> String {
    format!("The target {ip} is a private, loopback, link-local or otherwise internal address")
}

struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| !is_forbidden_target(a.ip())).collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves only to private, loopback or link-local addresses").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum PeerError {
    #[error("{}", forbidden_message(*.0))]
    Forbidden(IpAddr),
    #[error("the connected address could not be read, so the connection was refused")]
    Unknown,
}

/// Wraps reqwest's connector: a connection whose peer is a forbidden address is dropped unused.
#[derive(Clone)]
struct PeerGuardLayer;

impl<S> tower::Layer<S> for PeerGuardLayer {
    type Service = PeerGuard<S>;
    fn layer(&self, inner: S) -> PeerGuard<S> {
        PeerGuard { inner }
    }
}

#[derive(Clone)]
struct PeerGuard<S> {
    inner: S,
}

impl<S, Request> tower::Service<Request> for PeerGuard<S>
where
    S: tower::Service<Request>,
    S::Response: Connection + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let connection = connecting.await.map_err(Into::into)?;
            let mut extras = http::Extensions::new();
            connection.connected().get_extras(&mut extras);
            // Fails closed: a connection whose peer cannot be read is not used.
            let peer = extras.get::<HttpInfo>().map(|info| info.remote_addr().ip()).ok_or(PeerError::Unknown)?;
            if is_forbidden_target(peer) {
                return Err(PeerError::Forbidden(peer).into());
            }
            Ok(connection)
        })
    }
}

/// The delivery client. Failing to build it is an error at start: there is no unguarded fallback.
pub fn build(timeout: Duration, allow_private: bool) -> Result<reqwest::Client, ClientError> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would connect on our behalf, out of the guard's sight.
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Talon-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(8);
    let builder = if allow_private {
        builder
    } else {
        builder.dns_resolver(std::sync::Arc::new(GuardedResolver)).connector_layer(PeerGuardLayer)
    };
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    /// Whatever a guard in front of the client misses, the connection itself is refused: an IP-literal
    /// host skips every resolver, and the peer check still drops it before a byte is written.
    #[tokio::test]
    async fn a_connection_to_an_internal_peer_is_dropped_unused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut bytes = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut bytes)).await;
            bytes
        });
        let client = build(Duration::from_secs(5), false).unwrap();
        let error = client.post(format!("http://{addr}/hook")).body("{}").send().await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        let mut cause: &dyn std::error::Error = &error;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        assert!(cause.to_string().contains("127.0.0.1 is a private, loopback"), "{cause}");
        assert!(received.await.unwrap().is_empty(), "no request reached the internal service");
    }

    #[test]
    fn stored_urls_are_checked_as_the_client_reads_them() {
        assert!(check_before_sending("http://127.0.0.%31:8080/", false).unwrap_err().contains("127.0.0.1"));
        assert!(check_before_sending("http://127.0.0.%31:8080/", true).is_ok());
        assert!(check_before_sending("https://example.com/hook", false).is_ok());
        assert!(check_before_sending("gopher://example.com/", false).is_err());
    }
}
