//! Where things come from: an `http(s)://` URL or a local path.
//!
//! URLs are parsed with the `http` crate's `Uri` (which ureq already uses); this module adds
//! what verun needs on top: the canonical form (for origins, scopes, lock keys, and what is
//! actually requested), the origin (for the independent-checksum rule), the file name (for
//! `file:` binding and checksum entries), redirect resolution (RFC 3986 §5.2) and
//! `.minisig` siblings.
//!
//! # One canonical form
//!
//! A host can be spelled many ways that reach the same server: `127.1`, `2130706433`,
//! `0x7f000001`, `0177.0.0.1` and `127.000.000.001` are all 127.0.0.1 to the resolver
//! (`inet_aton` in glibc and musl: one to four parts, each decimal, `0`-octal or
//! `0x`-hex), `[::ffff:127.0.0.1]` connects to 127.0.0.1 too, and `A.Test.` is `a.test`.
//! [`canonical_host`] turns each into one form, the one verun compares *and* requests, so
//! the address contacted is the one judged:
//!
//! - IPv4 in any `inet_aton` spelling: dotted decimal (`127.0.0.1`);
//! - IPv6: RFC 5952 compressed form (`::1`); an IPv4-mapped address: its IPv4 address;
//! - names: lower case, one trailing dot removed.
//!
//! Hosts a resolver could read differently from verun are refused (64): characters other
//! than letters, digits, `-`, `_` and `.` (percent-escapes among them), empty labels, a
//! name whose last label starts with a digit but which is no valid IPv4 spelling
//! (`1.2.3.4.5`, `256.1.1.1`, `08`), a numeric host with a trailing dot (a DNS name to the
//! resolver, not an address), and IPv6 zone ids.

use std::fmt;
use std::path::PathBuf;

use ureq::http::Uri;

use crate::error::{Error, Result};

/// A parsed `http://` or `https://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// As given (shown in messages).
    raw: String,
    /// The canonical form: scheme, canonical host, port only when not the default, path,
    /// query. What is requested, and what lock entries and rollback marks are keyed by.
    canonical: String,
    https: bool,
    host: String,
    port: u16,
    path: String,
    query: Option<String>,
}

/// The origin of a URL: scheme, host, port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The canonical host ([`canonical_host`]).
    pub host: String,
    /// Explicit or default port.
    pub port: u16,
}

impl HttpUrl {
    /// Parse an absolute `http(s)://` URL. Other schemes are usage errors.
    pub fn parse(s: &str) -> Result<HttpUrl> {
        let bad = |why: &str| {
            Error::usage(format!("invalid URL {}: {why}", crate::term::sanitize(s)))
                .hint("give an absolute https:// URL")
        };
        let uri: Uri = s.parse().map_err(|_| bad("not a valid URL"))?;
        let https = match uri.scheme_str() {
            Some(sch) if sch.eq_ignore_ascii_case("https") => true,
            Some(sch) if sch.eq_ignore_ascii_case("http") => false,
            Some(other) => {
                return Err(Error::usage(format!(
                    "unsupported URL scheme {}: in {}",
                    crate::term::sanitize(other),
                    crate::term::sanitize(s)
                ))
                .hint("verun downloads only over https:// (or http:// with --allow-http)"));
            }
            None => return Err(bad("no scheme")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user info in URLs is not supported"));
        }
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        let host = canonical_host(authority.host()).map_err(|why| {
            Error::usage(format!("invalid URL {}: {why}", crate::term::sanitize(s))).hint(
                "spell the host as a plain name or a dotted-decimal / [IPv6] address (e.g. example.com, 127.0.0.1, [::1])",
            )
        })?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let mut url = HttpUrl {
            raw: s.to_string(),
            canonical: String::new(),
            https,
            host,
            port,
            path,
            query: uri.query().map(str::to_string),
        };
        url.canonical = url.compose();
        Ok(url)
    }

    fn compose(&self) -> String {
        let mut out = format!(
            "{}://{}{}",
            if self.https { "https" } else { "http" },
            self.authority(),
            self.path
        );
        if let Some(q) = &self.query {
            out.push('?');
            out.push_str(q);
        }
        out
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The canonical host ([`canonical_host`]), without brackets for IPv6.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Port (explicit or the scheme's default).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path (percent-encoded, as in the URL), starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The canonical URL: what is requested, and the key of lock entries, rollback marks
    /// and the cache. Two spellings of one URL (`https://127.1/x`, `https://127.0.0.1:443/x`)
    /// have the same canonical form.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The URL as given.
    pub fn given(&self) -> &str {
        &self.raw
    }

    /// The origin: scheme, host, port.
    pub fn origin(&self) -> Origin {
        Origin {
            scheme: if self.https { "https" } else { "http" },
            host: self.host.clone(),
            port: self.port,
        }
    }

    /// The last path segment, percent-decoded: the payload's file name.
    pub fn file_name(&self) -> String {
        let seg = self.path.rsplit('/').next().unwrap_or("");
        percent_decode(seg)
    }

    /// The URL of a sibling file: this URL with `suffix` appended to its path (`.minisig`).
    pub fn with_suffix(&self, suffix: &str) -> HttpUrl {
        let mut url = HttpUrl {
            path: format!("{}{suffix}", self.path),
            ..self.clone()
        };
        url.canonical = url.compose();
        url.raw = url.canonical.clone();
        url
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolve a redirect's `Location` (a URI reference) against this URL, exactly as
    /// RFC 3986 §5.2 says (§5.2.2 transform references, §5.2.3 merge paths, §5.2.4 remove
    /// dot segments). The fragment is dropped (it is never sent). A result that is not an
    /// `http(s)` URL with a host is an error.
    pub fn join(&self, location: &str) -> Result<HttpUrl> {
        let r = Reference::parse(location.trim());
        let (scheme, authority, path, query);
        if let Some(sch) = r.scheme {
            scheme = sch.to_string();
            authority = r.authority.map(str::to_string);
            path = remove_dot_segments(r.path);
            query = r.query;
        } else {
            scheme = if self.https { "https" } else { "http" }.to_string();
            if let Some(auth) = r.authority {
                authority = Some(auth.to_string());
                path = remove_dot_segments(r.path);
                query = r.query;
            } else {
                authority = Some(self.authority());
                if r.path.is_empty() {
                    path = self.path.clone();
                    query = r.query.or(self.query.as_deref());
                } else {
                    path = if r.path.starts_with('/') {
                        remove_dot_segments(r.path)
                    } else {
                        // §5.2.3: the base always has an authority and a path of at least `/`.
                        let dir = match self.path.rfind('/') {
                            Some(i) => &self.path[..=i],
                            None => "/",
                        };
                        remove_dot_segments(&format!("{dir}{}", r.path))
                    };
                    query = r.query;
                }
            }
        }
        // §5.3 recomposition (without the fragment).
        let mut joined = format!("{scheme}:");
        if let Some(a) = authority {
            joined.push_str("//");
            joined.push_str(&a);
        }
        joined.push_str(&path);
        if let Some(q) = query {
            joined.push('?');
            joined.push_str(q);
        }
        HttpUrl::parse(&joined)
    }
}

/// A URI reference split into its components (RFC 3986 appendix B).
struct Reference<'a> {
    scheme: Option<&'a str>,
    authority: Option<&'a str>,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Reference<'a> {
    fn parse(s: &'a str) -> Reference<'a> {
        // ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?
        let s = s.split('#').next().unwrap_or("");
        let (scheme, rest) = match s.find([':', '/', '?', '#']) {
            Some(i) if i > 0 && s.as_bytes()[i] == b':' => (Some(&s[..i]), &s[i + 1..]),
            _ => (None, s),
        };
        let (authority, rest) = match rest.strip_prefix("//") {
            Some(r) => {
                let end = r.find(['/', '?']).unwrap_or(r.len());
                (Some(&r[..end]), &r[end..])
            }
            None => (None, rest),
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        Reference {
            scheme,
            authority,
            path,
            query,
        }
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(input: &str) -> String {
    let mut input = input;
    let mut output = String::with_capacity(input.len());
    let pop_last = |out: &mut String| match out.rfind('/') {
        Some(i) => out.truncate(i),
        None => out.clear(),
    };
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest; // A
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest; // A
        } else if input.starts_with("/./") {
            input = &input[2..]; // B: "/./" -> "/"
        } else if input == "/." {
            input = "/"; // B
        } else if input.starts_with("/../") {
            input = &input[3..]; // C: "/../" -> "/"
            pop_last(&mut output);
        } else if input == "/.." {
            input = "/"; // C
            pop_last(&mut output);
        } else if input == "." || input == ".." {
            input = ""; // D
        } else {
            // E: the first segment, with its leading "/" if any, up to the next "/".
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    output
}

/// The canonical form of a URL's host as `http::Uri` gives it (IPv6 in brackets), or why
/// it is refused. See the module documentation.
pub fn canonical_host(host: &str) -> std::result::Result<String, &'static str> {
    use std::net::Ipv6Addr;
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or("unbalanced brackets around the host")?;
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| "not a valid IPv6 address (zone ids are not supported)")?;
        return Ok(match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => ip.to_string(),
        });
    }
    let lower = host.to_ascii_lowercase();
    if !lower
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(
            "the host has characters a resolver may read differently (only letters, digits, `-`, `_` and `.` are allowed)",
        );
    }
    let (name, trailing_dot) = match lower.strip_suffix('.') {
        Some(n) => (n, true),
        None => (lower.as_str(), false),
    };
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err("the host has an empty label");
    }
    if name.len() > 253 || name.split('.').any(|l| l.len() > 63) {
        return Err("the host name is too long");
    }
    let last = name.rsplit('.').next().unwrap_or("");
    if last.starts_with(|c: char| c.is_ascii_digit()) {
        if trailing_dot {
            return Err(
                "a numeric host with a trailing dot is a DNS name to the resolver, not an address",
            );
        }
        return inet_aton(name)
            .map(|ip| ip.to_string())
            .ok_or("the host looks like an IPv4 address but is not a valid one");
    }
    Ok(name.to_string())
}

/// An IPv4 address in any spelling `inet_aton` (glibc, musl) accepts without trailing
/// characters: one to four parts, each decimal, `0`-prefixed octal or `0x`-prefixed hex;
/// the last part fills the remaining bytes. `None` for anything else (out of range parts,
/// `08`, an empty `0x`).
fn inet_aton(s: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x") {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (*p, 10)
        };
        if digits.is_empty() && radix == 16 {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        if digits.len() > 11 {
            return None; // beyond 32 bits in every radix
        }
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        values.push(v);
    }
    let (last, init) = values.split_last()?;
    if init.iter().any(|&v| v > 0xff) {
        return None;
    }
    let last_bits = 8 * (4 - init.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    let mut n: u64 = 0;
    for (i, v) in init.iter().enumerate() {
        n |= v << (24 - 8 * i as u32);
    }
    n |= last;
    Some(std::net::Ipv4Addr::from(n as u32))
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::term::sanitize(&self.raw))
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpUrl({:?})", self.raw)
    }
}

/// Where a signature or checksum list is: a URL or a local file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// Downloaded.
    Url(HttpUrl),
    /// Read from disk.
    Path(PathBuf),
}

impl Location {
    /// `http://` and `https://` (and any `scheme://`) are URLs; everything else is a path.
    pub fn parse(s: &str) -> Result<Location> {
        if s.contains("://") {
            HttpUrl::parse(s).map(Location::Url)
        } else if s.is_empty() {
            Err(Error::usage("empty location").hint("give a URL or a file path"))
        } else {
            Ok(Location::Path(PathBuf::from(s)))
        }
    }

    /// The file name (last URL segment or path component).
    pub fn file_name(&self) -> String {
        match self {
            Location::Url(u) => u.file_name(),
            Location::Path(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    /// The same location with `suffix` appended (`.minisig`).
    pub fn with_suffix(&self, suffix: &str) -> Location {
        match self {
            Location::Url(u) => Location::Url(u.with_suffix(suffix)),
            Location::Path(p) => {
                let mut s = p.clone().into_os_string();
                s.push(suffix);
                Location::Path(PathBuf::from(s))
            }
        }
    }

    /// The origin, for URLs; `None` for local files.
    pub fn origin(&self) -> Option<Origin> {
        match self {
            Location::Url(u) => Some(u.origin()),
            Location::Path(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Url(u) => u.fmt(f),
            Location::Path(p) => f.write_str(&crate::term::sanitize(&p.to_string_lossy())),
        }
    }
}

/// Decode `%XX` escapes; invalid escapes are kept literally, invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names() {
        let u = HttpUrl::parse("https://Example.COM/dl/install%20me.sh?x=1").unwrap();
        assert!(u.is_https());
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.port(), 443);
        assert_eq!(u.file_name(), "install me.sh");
        assert_eq!(
            u.with_suffix(".minisig").as_str(),
            "https://example.com/dl/install%20me.sh.minisig?x=1"
        );
    }

    #[test]
    fn refuses_other_schemes_and_userinfo() {
        for s in [
            "file:///etc/passwd",
            "ftp://x/y",
            "https://user:pw@host/x",
            "not a url",
            "/tmp/x",
        ] {
            assert_eq!(HttpUrl::parse(s).unwrap_err().exit_code(), 64, "{s}");
        }
    }

    #[test]
    fn joins_redirects() {
        let u = HttpUrl::parse("https://a.test:8443/x/y/z.sh").unwrap();
        assert_eq!(
            u.join("w.sh").unwrap().as_str(),
            "https://a.test:8443/x/y/w.sh"
        );
        assert_eq!(
            u.join("/w.sh").unwrap().as_str(),
            "https://a.test:8443/w.sh"
        );
        assert_eq!(u.join("//b.test/w").unwrap().as_str(), "https://b.test/w");
        assert_eq!(
            u.join("http://c.test/w").unwrap().as_str(),
            "http://c.test/w"
        );
        assert!(u.join("file:///etc/passwd").is_err());
    }

    /// RFC 3986 §5.4.1, for the http(s) subset: a reference that resolves to another
    /// scheme (`g:h`) stays refused. Fragments are dropped (never sent), and an empty path
    /// is `/` (RFC 3986 §6.2.3).
    #[test]
    fn rfc3986_normal_examples() {
        let base = HttpUrl::parse("http://a/b/c/d;p?q").unwrap();
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("g?y#s", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ] {
            let joined = base.join(r).unwrap();
            assert_eq!(joined.as_str(), want, "reference {r:?}");
            // The canonical form is a fixed point.
            assert_eq!(HttpUrl::parse(joined.as_str()).unwrap().as_str(), want);
        }
        assert_eq!(base.join("g:h").unwrap_err().exit_code(), 64);
    }

    /// RFC 3986 §5.4.2 (strict parser: `http:g` is `http:g`, which has no host: refused).
    #[test]
    fn rfc3986_abnormal_examples() {
        let base = HttpUrl::parse("http://a/b/c/d;p?q").unwrap();
        for (r, want) in [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
        ] {
            assert_eq!(base.join(r).unwrap().as_str(), want, "reference {r:?}");
        }
        assert!(base.join("http:g").is_err());
    }

    #[test]
    fn remove_dot_segments_follows_the_rfc() {
        // The two worked examples of RFC 3986 §5.2.4.
        assert_eq!(remove_dot_segments("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dot_segments("mid/content=5/../6"), "mid/6");
    }

    #[test]
    fn a_query_only_redirect_keeps_the_file() {
        let u = HttpUrl::parse("https://a.test/dir/file.sh?v=1").unwrap();
        assert_eq!(
            u.join("?v=2").unwrap().as_str(),
            "https://a.test/dir/file.sh?v=2"
        );
        assert_eq!(
            u.join("../up/x.sh").unwrap().as_str(),
            "https://a.test/up/x.sh"
        );
        assert_eq!(
            u.join("HTTPS://B.test:443/a/./b/../c").unwrap().as_str(),
            "https://b.test/a/c"
        );
    }

    #[test]
    fn host_spellings_have_one_canonical_form() {
        for (given, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("0X7F000001", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.000.000.001", "127.0.0.1"),
            ("0", "0.0.0.0"),
            ("4294967295", "255.255.255.255"),
            ("1.2.65535", "1.2.255.255"),
            ("[::ffff:127.0.0.1]", "127.0.0.1"),
            ("[::FFFF:7f00:1]", "127.0.0.1"),
            ("[0:0:0:0:0:0:0:1]", "::1"),
            ("[2001:DB8:0:0:1:0:0:1]", "2001:db8::1:0:0:1"),
            ("A.Test", "a.test"),
            ("a.test.", "a.test"),
            ("LOCALHOST.", "localhost"),
            ("1.2.3.example", "1.2.3.example"),
            ("x_y.test", "x_y.test"),
        ] {
            assert_eq!(canonical_host(given).as_deref(), Ok(want), "{given}");
        }
        for bad in [
            "1.2.3.4.5",
            "256.0.0.1",
            "1.2.3.256",
            "1.2.65536",
            "4294967296",
            "08",
            "0x",
            "0x.1",
            "0xg",
            "1a",
            "a.1",
            "127.0.0.1.",
            "127.1.",
            "a..test",
            ".a.test",
            "..",
            "a%2etest",
            "a%2Etest",
            "a!b",
            "a+b",
            "[fe80::1%25lo]",
            "[::1",
            "[1.2.3.4]",
            "99999999999999999999",
        ] {
            assert!(canonical_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spellings_of_one_url_share_the_canonical_url() {
        let want = "https://127.0.0.1:8443/x/y.sh?q=1";
        for given in [
            "https://127.0.0.1:8443/x/y.sh?q=1",
            "HTTPS://127.1:8443/x/y.sh?q=1",
            "https://2130706433:8443/x/y.sh?q=1",
            "https://[::ffff:127.0.0.1]:8443/x/y.sh?q=1",
            "https://127.000.000.001:8443/x/y.sh?q=1",
        ] {
            let u = HttpUrl::parse(given).unwrap();
            assert_eq!(u.as_str(), want, "{given}");
            assert_eq!(u.given(), given);
        }
        assert_eq!(
            HttpUrl::parse("https://A.Test.:443").unwrap().as_str(),
            "https://a.test/"
        );
        assert_eq!(
            HttpUrl::parse("http://[0::1]:80/a").unwrap().as_str(),
            "http://[::1]/a"
        );
        for bad in [
            "https://a%2etest/x",
            "https://127.0.0.1./x",
            "https://1.2.3.4.5/x",
            "https://[fe80::1%25lo]/x",
        ] {
            assert_eq!(HttpUrl::parse(bad).unwrap_err().exit_code(), 64, "{bad}");
        }
    }

    #[test]
    fn origins() {
        let a = HttpUrl::parse("https://a.test/x").unwrap();
        let b = HttpUrl::parse("https://a.test:443/y").unwrap();
        let c = HttpUrl::parse("https://a.test:444/y").unwrap();
        let d = HttpUrl::parse("http://a.test/y").unwrap();
        assert_eq!(a.origin(), b.origin());
        assert_ne!(a.origin(), c.origin());
        assert_ne!(a.origin(), d.origin());
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
    }
}
