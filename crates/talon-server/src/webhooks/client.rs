//! The HTTP client deliveries go out through: no redirects, a timeout, and (unless private targets are
//! allowed) a resolver that refuses loopback, private, link-local and metadata addresses. Checking the
//! addresses the connection will actually use, rather than the URL's text, also defeats DNS rebinding.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use talon_domain::webhook::{is_forbidden_target, url_parts};

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the URL's host is a private, loopback or link-local address")]
    Forbidden,
}

/// Refuses an endpoint whose host is, or resolves to, a forbidden address. A host that does not resolve
/// now is accepted (delivery checks again).
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    let Ok(endpoint) = url_parts::parse(url) else { return Ok(()) };
    if let Some(ip) = endpoint.ip_literal() {
        return if is_forbidden_target(ip) { Err(TargetError::Forbidden) } else { Ok(()) };
    }
    match tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.iter().any(|a| is_forbidden_target(a.ip())) { Err(TargetError::Forbidden) } else { Ok(()) }
        }
        Err(_) => Ok(()),
    }
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

pub fn build(timeout: Duration, allow_private: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("Talon-Webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(8);
    let builder = if allow_private { builder } else { builder.dns_resolver(std::sync::Arc::new(GuardedResolver)) };
    builder.build().unwrap_or_else(|_| reqwest::Client::new())
}
