//! Where things come from: an `http(s)://` URL or a local path.
//!
//! URLs are parsed with the `http` crate's `Uri` (which ureq already uses); this module adds
//! what verun needs on top: the origin (for the independent-checksum rule), the file name
//! (for `file:` binding and checksum entries), redirect resolution and `.minisig` siblings.

use std::fmt;
use std::path::PathBuf;

use ureq::http::Uri;

use crate::error::{Error, Result};

/// A parsed `http://` or `https://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    raw: String,
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
    /// Lower-case host.
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
        let host = authority
            .host()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = match uri.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        Ok(HttpUrl {
            raw: s.to_string(),
            https,
            host,
            port,
            path,
            query: uri.query().map(str::to_string),
        })
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Host, lower-case, without brackets for IPv6.
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

    /// The URL as given.
    pub fn as_str(&self) -> &str {
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
        let mut raw = format!(
            "{}://{}{}{}",
            if self.https { "https" } else { "http" },
            self.authority(),
            self.path,
            suffix
        );
        if let Some(q) = &self.query {
            raw.push('?');
            raw.push_str(q);
        }
        HttpUrl {
            raw,
            path: format!("{}{suffix}", self.path),
            ..self.clone()
        }
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

    /// Resolve a redirect's `Location` against this URL.
    pub fn join(&self, location: &str) -> Result<HttpUrl> {
        let location = location.trim();
        if location.contains("://") || location.contains(':') && !location.starts_with('/') {
            return HttpUrl::parse(location);
        }
        let scheme = if self.https { "https" } else { "http" };
        let joined = if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority())
        } else {
            let dir = match self.path.rfind('/') {
                Some(i) => &self.path[..=i],
                None => "/",
            };
            format!("{scheme}://{}{dir}{location}", self.authority())
        };
        HttpUrl::parse(&joined)
    }
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
