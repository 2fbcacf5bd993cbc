//! The client address that per-address limits count against: the socket peer, or, behind a load
//! balancer and only when the operator says so (`TALON_TRUST_PROXY`), the address the balancer
//! appended to `X-Forwarded-For`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// The calling client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Served without connection info (a router driven directly), every caller shares one address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip());
        Ok(ClientAddr(client_address(peer, &parts.headers, state.settings.trust_proxy)))
    }
}

/// With `trust_proxy`, the right-most `X-Forwarded-For` entry: the one the trusted balancer appended
/// for the peer it saw. Entries to its left come from the client and could say anything.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    if !trust_proxy {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|value| value.to_str().ok())
        .and_then(|list| list.rsplit(',').next())
        .and_then(|hop| hop.trim().parse().ok())
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        assert_eq!(client_address(PEER, &headers(&["203.0.113.7"]), false), PEER);
    }

    #[test]
    fn the_right_most_hop_is_the_client_when_trusted() {
        let spoofed = headers(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(client_address(PEER, &spoofed, true), "203.0.113.7".parse::<IpAddr>().unwrap());
        let two_lines = headers(&["1.2.3.4", "2001:db8::1"]);
        assert_eq!(client_address(PEER, &two_lines, true), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_unreadable_header_falls_back_to_the_peer() {
        assert_eq!(client_address(PEER, &headers(&["not an address"]), true), PEER);
        assert_eq!(client_address(PEER, &HeaderMap::new(), true), PEER);
    }
}
