//! Key scopes: the URL prefixes a stored key is trusted for.
//!
//! A scope is a scheme, a host, a port and a path prefix that ends on a segment boundary.
//! Both the scope and the URL it is matched against are normalised the same way: scheme
//! lower-cased, the host in the one canonical form origins and lock keys use
//! (`location::canonical_host`: `127.1`, `0x7f000001` and `[::ffff:127.0.0.1]` are
//! `127.0.0.1`; names lower-cased, one trailing dot dropped), default ports made explicit,
//! percent-escapes of unreserved characters decoded and other escapes upper-cased. Anything
//! a server could resolve to a path *outside* the prefix is never covered:
//!
//! - a `.` or `..` segment, literal or percent-encoded (`%2e%2E`), also hidden behind an
//!   encoded separator (`a%2F..%2Fb`) or a path parameter (`..;x`), makes a URL uncovered
//!   by every scope and a scope malformed;
//! - hosts are compared exactly: `h.com` covers neither `h.com.evil`, `evilh.com` nor
//!   `h.com.evil.com`;
//! - user info (`user@host`), queries and fragments are refused in scopes.
//!
//! Scopes are `https://`; `http://` is accepted only for loopback hosts (`localhost`,
//! `127.0.0.0/8`, `::1`), for local mirrors and tests, where no network path exists to tamper
//! with. (Downloading over `http://` still needs `--allow-http`, and still needs the
//! signature.)

use std::fmt;

use crate::error::{Error, Result};
use crate::location::HttpUrl;
use crate::term::sanitize;

/// A normalised URL prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    https: bool,
    host: String,
    port: u16,
    /// Normalised path, starting with `/`.
    path: String,
}

impl Scope {
    /// Parse and normalise a `--scope` value. Malformed scopes are usage errors (64).
    pub fn parse(raw: &str) -> Result<Scope> {
        let bad = |why: &str| {
            Error::usage(format!("invalid --scope {}: {why}", sanitize(raw))).hint(
                "a scope is a URL prefix such as https://example.com/releases/ (https, or http \
                 for localhost only; no user info, query, fragment or `.`/`..` segments)",
            )
        };
        if raw.contains('?') || raw.contains('#') {
            return Err(bad("a scope has no query (?) or fragment (#)"));
        }
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
        {
            return Err(bad(
                "spaces, control and non-ASCII characters are not allowed",
            ));
        }
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| bad("not an absolute URL"))?;
        let authority = rest.split('/').next().unwrap_or("");
        if authority.contains('@') {
            return Err(bad("user info (user@host) is not allowed"));
        }
        if authority.contains('%') {
            return Err(bad("percent-escapes in the host are not allowed"));
        }
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("the scheme must be https"));
        }
        let url = HttpUrl::parse(raw).map_err(|e| bad(e.message()))?;
        let host = normalise_host(url.host());
        if !valid_host(&host) {
            return Err(bad("not a valid host name or IP address"));
        }
        if !url.is_https() && !is_loopback(&host) {
            return Err(bad(
                "http:// scopes are allowed only for localhost and 127.x.x.x; use https://",
            ));
        }
        let path = normalise_path(url.path()).map_err(bad)?;
        Ok(Scope {
            https: url.is_https(),
            host,
            port: url.port(),
            path,
        })
    }

    /// Whether this scope covers `url`.
    pub fn covers(&self, url: &HttpUrl) -> bool {
        if url.is_https() != self.https
            || url.port() != self.port
            || normalise_host(url.host()) != self.host
        {
            return false;
        }
        let Ok(path) = normalise_path(url.path()) else {
            return false;
        };
        if self.path.ends_with('/') {
            path.starts_with(&self.path)
        } else {
            path == self.path
                || path
                    .strip_prefix(&self.path)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

impl fmt::Display for Scope {
    /// The canonical form: default ports omitted, IPv6 hosts in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]", self.host)?;
        } else {
            write!(f, "{scheme}://{}", self.host)?;
        }
        if self.port != default {
            write!(f, ":{}", self.port)?;
        }
        f.write_str(&self.path)
    }
}

/// Why a URL's path cannot be matched against scopes, if it cannot.
pub fn unmatchable_path(url: &HttpUrl) -> Option<&'static str> {
    normalise_path(url.path()).err()
}

fn normalise_host(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    match h.strip_suffix('.') {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => h,
    }
}

fn valid_host(host: &str) -> bool {
    if host.contains(':') {
        return host
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// Loopback hosts, where `http://` scopes are allowed.
fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "::1" {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts[0] == "127"
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u8>().is_ok()
        })
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|v| v as u8)
}

/// Normalise a URL path for prefix matching: decode escapes of unreserved characters,
/// upper-case the others, and refuse dot segments (in any disguise) and broken escapes.
fn normalise_path(path: &str) -> std::result::Result<String, &'static str> {
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return Err("the path must start with /");
    }
    if path.contains('\\') {
        return Err("the path contains a backslash");
    }
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let (norm, decoded) = normalise_segment(seg)?;
        if hides_dot_segment(&decoded) {
            return Err("the path has `.` or `..` segments");
        }
        out.push_str(&norm);
    }
    Ok(out)
}

/// The segment with unreserved escapes decoded and others upper-cased, and the segment fully
/// decoded (bytes), for the dot-segment check.
fn normalise_segment(seg: &str) -> std::result::Result<(String, Vec<u8>), &'static str> {
    let b = seg.as_bytes();
    let mut norm = String::with_capacity(seg.len());
    let mut decoded = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) else {
                return Err("the path has a malformed percent-escape");
            };
            let v = hi << 4 | lo;
            decoded.push(v);
            if is_unreserved(v) {
                norm.push(v as char);
            } else {
                norm.push_str(&format!("%{v:02X}"));
            }
            i += 3;
        } else {
            decoded.push(b[i]);
            norm.push(b[i] as char);
            i += 1;
        }
    }
    Ok((norm, decoded))
}

/// Whether a fully decoded segment is, or hides, a dot segment: `.`, `..`, `a/../b` (from an
/// encoded separator), `..;param` (path parameters, as some servers strip them).
fn hides_dot_segment(decoded: &[u8]) -> bool {
    decoded.split(|&c| c == b'/' || c == b'\\').any(|part| {
        let part = part.split(|&c| c == b';').next().unwrap_or(&[]);
        part == b"." || part == b".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(scope: &str, url: &str) -> bool {
        Scope::parse(scope)
            .unwrap_or_else(|e| panic!("scope {scope}: {e}"))
            .covers(&HttpUrl::parse(url).unwrap_or_else(|e| panic!("url {url}: {e}")))
    }

    #[test]
    fn prefix_on_segment_boundaries() {
        assert!(covers("https://h.com/a/", "https://h.com/a/x.sh"));
        assert!(covers("https://h.com/a/", "https://h.com/a/b/c/x.sh"));
        assert!(covers("https://h.com/a", "https://h.com/a/x.sh"));
        assert!(covers("https://h.com/a", "https://h.com/a"));
        assert!(!covers("https://h.com/a", "https://h.com/ab/x.sh"));
        assert!(!covers("https://h.com/a/", "https://h.com/ab/x.sh"));
        assert!(!covers("https://h.com/a/", "https://h.com/a"));
        assert!(!covers("https://h.com/a/", "https://h.com/"));
        assert!(covers("https://h.com", "https://h.com/anything"));
        assert!(covers("https://h.com/", "https://h.com/x?q=1"));
        assert!(
            !covers("https://h.com/A/", "https://h.com/a/x"),
            "paths are case-sensitive"
        );
    }

    #[test]
    fn look_alike_hosts_never_match() {
        for url in [
            "https://h.com.evil/a/x",
            "https://evilh.com/a/x",
            "https://h.com.evil.com/a/x",
            "https://evil.com/h.com/a/x",
            "https://sub.h.com/a/x",
            "https://h.co/a/x",
            "https://h-com/a/x",
        ] {
            assert!(!covers("https://h.com/a/", url), "{url}");
        }
        assert!(covers("https://h.com/a/", "https://H.COM/a/x"));
        assert!(covers("https://h.com/a/", "https://h.com./a/x"));
        assert!(covers("https://H.Com./a/", "https://h.com/a/x"));
    }

    #[test]
    fn schemes_and_ports() {
        assert!(covers("https://h.com/", "https://h.com:443/x"));
        assert!(covers("https://h.com:443/", "https://h.com/x"));
        assert!(covers("HTTPS://h.com/", "https://h.com/x"));
        assert!(!covers("https://h.com/", "https://h.com:8443/x"));
        assert!(!covers("https://h.com:8443/", "https://h.com/x"));
        assert!(covers("https://h.com:8443/", "https://h.com:8443/x"));
        assert!(!covers("https://h.com/", "http://h.com/x"));
        assert!(!covers("https://localhost/", "http://localhost:443/x"));
        assert!(covers("http://127.0.0.1:8080/", "http://127.0.0.1:8080/x"));
        assert!(!covers("http://127.0.0.1:8080/", "http://127.0.0.1:8081/x"));
        assert!(!covers("http://127.0.0.1:8080/", "http://127.0.0.2:8080/x"));
        assert!(covers("http://localhost/", "http://localhost:80/x"));
        assert!(covers("https://[::1]:9/", "https://[::1]:9/x"));
    }

    #[test]
    fn host_spellings_are_compared_canonically() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://127.1:8080/x",
            "http://2130706433:8080/x",
            "http://0x7f000001:8080/x",
            "http://127.000.000.001:8080/x",
            "http://[::ffff:127.0.0.1]:8080/x",
        ] {
            assert!(covers("http://127.1:8080/", url), "{url}");
            assert!(covers("http://[::ffff:7f00:1]:8080/", url), "{url}");
            assert!(!covers("http://127.0.0.2:8080/", url), "{url}");
        }
        assert!(covers("https://[0:0::1]:9/", "https://[::1]:9/x"));
        let c = |s: &str| Scope::parse(s).unwrap().to_string();
        assert_eq!(c("http://0x7f000001:9/a/"), "http://127.0.0.1:9/a/");
        assert_eq!(c("https://[::FFFF:127.0.0.1]/"), "https://127.0.0.1/");
        assert!(Scope::parse("http://127.0.0.1.:9/").is_err());
        assert!(Scope::parse("https://1.2.3.4.5/").is_err());
    }

    #[test]
    fn dot_segments_never_escape_a_scope() {
        for url in [
            "https://h.com/a/../b/x",
            "https://h.com/a/./x",
            "https://h.com/a/%2e%2e/b/x",
            "https://h.com/a/%2E%2e/b/x",
            "https://h.com/a/.%2e/b/x",
            "https://h.com/a/%2e/x",
            "https://h.com/a/x%2F..%2F..%2Fb",
            "https://h.com/a/x%2f..%2fb",
            "https://h.com/a/x%5C..%5Cb",
            "https://h.com/a/..;/b/x",
            "https://h.com/a/..%3Bx/b",
            "https://h.com/a/..",
            "https://h.com/a/.",
        ] {
            assert!(!covers("https://h.com/a/", url), "{url}");
            assert!(!covers("https://h.com/", url), "{url}");
        }
        // Dots that are not whole segments are ordinary characters.
        assert!(covers("https://h.com/a/", "https://h.com/a/..x/x.sh"));
        assert!(covers(
            "https://h.com/a/",
            "https://h.com/a/v1.2.3/x.tar.gz"
        ));
        assert!(covers("https://h.com/a/", "https://h.com/a/.well-known/x"));
    }

    #[test]
    fn percent_encoding_is_normalised() {
        // Unreserved characters are decoded on both sides...
        assert!(covers("https://h.com/%61/", "https://h.com/a/x"));
        assert!(covers("https://h.com/a/", "https://h.com/%61/x"));
        assert!(covers("https://h.com/~u/", "https://h.com/%7Eu/x"));
        assert!(covers("https://h.com/%7eu/", "https://h.com/~u/x"));
        // ...others only have their hex digits upper-cased: an encoded slash is not a slash.
        assert!(covers("https://h.com/a%2fb/", "https://h.com/a%2Fb/x"));
        assert!(!covers("https://h.com/a/", "https://h.com/a%2Fb/x"));
        assert!(!covers("https://h.com/a/b/", "https://h.com/a%2Fb/x"));
        assert!(covers("https://h.com/a%20b/", "https://h.com/a%20b/x"));
        // The prefix boundary is a real `/`, not an escaped one.
        assert!(!covers("https://h.com/a", "https://h.com/a%2F/x"));
    }

    #[test]
    fn malformed_scopes_are_usage_errors() {
        for s in [
            "",
            "h.com/a/",
            "/a/",
            "ftp://h.com/",
            "file:///etc/",
            "https://user@h.com/",
            "https://user:pw@h.com/",
            "https://h.com@evil.com/",
            "https://h.com/a?x=1",
            "https://h.com/a#x",
            "https://h.com/a/../b/",
            "https://h.com/a/./b/",
            "https://h.com/%2e%2e/",
            "https://h.com/a/%zz/",
            "https://h.com/a/%4/",
            "http://h.com/",
            "http://10.0.0.1/",
            "http://127.0.0.1.evil.com/",
            "https:///a/",
            "https://h com/",
            "https://h.com/a b/",
            "https://h..com/",
            "https://*.h.com/",
            "https://h%2ecom/",
            "https://hé.com/",
        ] {
            let err = Scope::parse(s).expect_err(s);
            assert_eq!(err.exit_code(), 64, "{s}: {err}");
        }
    }

    #[test]
    fn canonical_form() {
        let c = |s: &str| Scope::parse(s).unwrap().to_string();
        assert_eq!(c("HTTPS://H.COM:443"), "https://h.com/");
        assert_eq!(
            c("https://h.com:8443/a/%7e/%2f"),
            "https://h.com:8443/a/~/%2F"
        );
        assert_eq!(c("http://127.0.0.1:80/x/"), "http://127.0.0.1/x/");
        assert_eq!(c("http://LOCALHOST:9/"), "http://localhost:9/");
        assert_eq!(c("https://[::1]:444/"), "https://[::1]:444/");
        assert_eq!(c("https://h.com./a"), "https://h.com/a");
        // Round trip.
        for s in [
            "https://h.com/a/",
            "http://127.0.0.1:1234/",
            "https://[::1]:444/x",
        ] {
            assert_eq!(Scope::parse(&c(s)).unwrap().to_string(), c(s));
        }
    }
}
