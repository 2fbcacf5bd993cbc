//! Where a webhook may point: the URL rules, and the addresses it may never reach (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::validation::ValidationErrors;

const URL_MAX_CHARS: usize = 2048;
/// The same message wherever a target is refused (creation, update, delivery).
pub const FORBIDDEN_TARGET: &str =
    "Must not point at a private, loopback, link-local, multicast or cloud-metadata address";

/// Checks an endpoint URL: http(s), a host, no credentials, at most 2048 characters. It is parsed by the
/// WHATWG parser the delivery client uses (`url`), so the host checked here is the host connected to:
/// `127.0.0.%31`, `127.0.0.1.`, `0x7f.1` or full-width digits come back as the IP address they are.
/// Returns the normalised URL, which is what is stored and called.
pub fn validate_url(raw: &str, errors: &mut ValidationErrors) -> Option<url::Url> {
    if raw.chars().count() > URL_MAX_CHARS {
        errors.add("url", "Must be at most 2048 characters");
        return None;
    }
    match parse_endpoint(raw) {
        Ok(url) => Some(url),
        Err(message) => {
            errors.add("url", message);
            None
        }
    }
}

/// Parses an endpoint URL as the delivery client will.
pub fn parse_endpoint(raw: &str) -> Result<url::Url, &'static str> {
    let url = url::Url::parse(raw.trim()).map_err(|_| "Must be a valid http:// or https:// URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("Must be an http:// or https:// URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Must not contain credentials");
    }
    match url.host() {
        None => Err("Must have a host"),
        Some(url::Host::Domain("")) => Err("Must have a host"),
        Some(url::Host::Domain(name)) if !is_host_name(name) => {
            Err("Must have a host name of letters, digits, hyphens and dots, ending in a name")
        }
        Some(_) => Ok(url),
    }
}

/// A DNS host name as the document's pattern states it: dot-separated labels of letters and digits,
/// hyphens only inside a label (`xn--` names included), the last label starting with a letter. The URL
/// parser lets through characters no DNS name has (`*`, `_`, …).
fn is_host_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let last_starts_with_letter = labels.last().and_then(|l| l.bytes().next()).is_some_and(|b| b.is_ascii_alphabetic());
    labels.iter().all(label_ok) && last_starts_with_letter
}

/// The address an endpoint names, when its host is an IP address rather than a name.
pub fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Addresses a webhook may never reach unless private targets are allowed: anything not globally
/// routable (loopback, private, shared/CGNAT, link-local with cloud metadata, unspecified, `0/8`,
/// broadcast, multicast, reserved, benchmarking, documentation, unique- and site-local IPv6), and IPv6
/// forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) when that address is one.
pub fn is_forbidden_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(v6: Ipv6Addr) -> bool {
    let s = v6.segments();
    let embedded_v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    // ::a.b.c.d (compatible, which includes :: and ::1) and ::ffff:a.b.c.d (mapped).
    if s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff) {
        return v6.is_unspecified() || v6.is_loopback() || is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // NAT64: 64:ff9b::/96 (well-known) and 64:ff9b:1::/48 (local use, always internal).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return true;
    }
    // 6to4 carries the IPv4 address after the prefix; Teredo carries the client's, inverted.
    if s[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(s[1], s[2]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return is_forbidden_v4(embedded_v4(!s[6], !s[7]));
    }
    v6.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still internal)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only 100::/64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_the_delivery_client_reads_them() {
        let ok = parse_endpoint("https://your-app.com/webhooks/Talon").unwrap();
        assert_eq!(
            (ok.scheme(), ok.host_str(), ok.port_or_known_default()),
            ("https", Some("your-app.com"), Some(443))
        );
        assert_eq!(literal_address(&ok), None);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for disguised in [
            "http://127.0.0.1:8080/x",
            "http://127.0.0.1.:8080/",
            "http://127.0.0.%31/",
            "http://127.0.0.1%2e/",
            "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/",
            "http://127\u{3002}0\u{3002}0\u{3002}1/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
        ] {
            let url = parse_endpoint(disguised).unwrap();
            assert_eq!(literal_address(&url), Some(loopback), "{disguised}");
            assert!(is_forbidden_target(loopback));
        }
        assert_eq!(parse_endpoint("http://127.0.0.%31:8080").unwrap().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(
            literal_address(&parse_endpoint("http://169.254.169.%32%35%34/").unwrap()),
            Some("169.254.169.254".parse().unwrap())
        );
        assert_eq!(literal_address(&parse_endpoint("http://[::1]:9000/").unwrap()), Some("::1".parse().unwrap()));
        for bad in
            ["ftp://x.com", "https://", "https://user:pw@x.com/", "https://user@x.com/", "http://x.com:99999/", "x.com"]
        {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        let mut errors = ValidationErrors::new();
        assert!(validate_url(&format!("https://x.com/{}", "a".repeat(2048)), &mut errors).is_none());
        assert_eq!(errors.fields()[0].field, "url");
    }

    #[test]
    fn host_names_are_dns_names() {
        for good in
            ["https://hooks.example.com/x", "http://localhost:8080", "https://xn--bcher-kva.de", "https://bücher.de"]
        {
            assert!(parse_endpoint(good).is_ok(), "{good}");
        }
        for bad in [
            "http://example.com*",
            "http://ex_ample.com",
            "http://-a.com",
            "http://a-.com",
            "http://a..com",
            "http://a.1com",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        assert!(parse_endpoint("http://8.8.8.8/hook").is_ok());
    }

    #[test]
    fn forbidden_targets() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::5",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert!(is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "64:ff9b::5db8:d822", "::ffff:93.184.216.34", "2002:5db8:d822::"]
        {
            assert!(!is_forbidden_target(ip.parse().unwrap()), "{ip}");
        }
    }
}
