//! Downloads: one ureq agent with verun's network policy.
//!
//! - HTTPS only, unless `--allow-http`; a redirect may never go from https to http.
//! - Redirects are followed here, not by ureq, so each hop is checked (at most
//!   [`MAX_REDIRECTS`]).
//! - Deadlines: connect, stall (per read) and overall (`--timeout`).
//! - No compression is asked for (`Accept-Encoding` is not sent), so a gzip bomb cannot
//!   expand on our side: the size cap counts the bytes as they arrive.
//! - Roots: Mozilla's (webpki-roots) by default; with `--cacert`/`SSL_CERT_FILE`, those
//!   certificates plus the system bundle when one is found.
//! - Proxies from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};
use crate::location::{HttpUrl, Origin};

/// Most redirects followed for one download.
pub const MAX_REDIRECTS: u32 = 10;
/// Connect deadline when `--timeout` is not given.
pub const DEFAULT_CONNECT: Duration = Duration::from_secs(30);
/// Stall deadline (no byte received) when `--timeout` is not given.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);

/// System CA bundles looked for when extra roots are given.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Network settings from the command line and environment.
#[derive(Clone, Debug, Default)]
pub struct NetConfig {
    /// `--allow-http`.
    pub allow_http: bool,
    /// `--timeout`: overall deadline per download and stall deadline.
    pub timeout: Option<Duration>,
    /// `--cacert` and/or `SSL_CERT_FILE`.
    pub extra_roots: Vec<PathBuf>,
}

/// The HTTP client.
pub struct Net {
    agent: Agent,
    allow_http: bool,
    /// The proxy from the environment, for messages: (variable, proxy), credentials dropped.
    proxy: Option<(&'static str, ureq::Proxy)>,
}

/// Proxy variables in the order ureq reads them.
const PROXY_VARS: &[&str] = &[
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

/// The proxy the environment names. A variable that is set but does not parse is a usage
/// error: ureq would silently connect directly instead, past a proxy the user relies on.
fn proxy_from_env() -> Result<Option<(&'static str, ureq::Proxy)>> {
    for var in PROXY_VARS {
        let Ok(value) = std::env::var(var) else {
            continue;
        };
        if value.trim().is_empty() {
            continue;
        }
        return match ureq::Proxy::new(&value) {
            Ok(_) => Ok(ureq::Proxy::try_from_env().map(|p| (*var, p))),
            Err(e) => Err(Error::usage(format!(
                "{var}={} is not a usable proxy URL ({})",
                crate::term::sanitize(&strip_userinfo(&value)),
                crate::term::sanitize(&e.to_string())
            ))
            .hint(format!(
                "fix or unset {var}, e.g. {var}=http://proxy.example:3128"
            ))),
        };
    }
    Ok(None)
}

/// A proxy URL without its `user:password@` part, for messages.
fn strip_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        (None, Some(at)) => url[at + 1..].to_string(),
        _ => url.to_string(),
    }
}

/// An open response whose body has not been read yet.
pub struct Response {
    /// The URL after redirects.
    pub url: HttpUrl,
    /// `Content-Length`, when the server sent one.
    pub content_length: Option<u64>,
    /// The origin of every hop, the first request's and each redirect's, in order.
    pub hops: Vec<Origin>,
    reader: Box<dyn Read + Send>,
}

impl Response {
    /// The body.
    pub fn reader(&mut self) -> &mut (dyn Read + Send) {
        &mut *self.reader
    }
}

impl Net {
    /// Build the client. Fails (64/74) when an extra root file is unreadable or has no
    /// certificate.
    pub fn new(cfg: &NetConfig) -> Result<Net> {
        let roots = if cfg.extra_roots.is_empty() {
            RootCerts::WebPki
        } else {
            let mut certs = Vec::new();
            for path in &cfg.extra_roots {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::io_at(format!("cannot read CA file {}", path.display()), &e)
                })?;
                let before = certs.len();
                certs.extend(pem_certs(&pem));
                if certs.len() == before {
                    return Err(Error::usage(format!(
                        "no PEM certificate found in {}",
                        path.display()
                    ))
                    .hint("--cacert and SSL_CERT_FILE take a PEM file with -----BEGIN CERTIFICATE----- blocks"));
                }
            }
            if let Some(bundle) = SYSTEM_BUNDLES.iter().find_map(|p| std::fs::read(p).ok()) {
                certs.extend(pem_certs(&bundle));
            }
            RootCerts::Specific(Arc::new(certs))
        };
        let proxy = proxy_from_env()?;
        let (connect, stall) = match cfg.timeout {
            Some(t) => (t, t),
            None => (DEFAULT_CONNECT, DEFAULT_STALL),
        };
        let agent = Agent::config_builder()
            .https_only(false) // checked per hop below, with a better message
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("verun/", env!("CARGO_PKG_VERSION")))
            .accept_encoding(ureq::config::AutoHeaderValue::None)
            .proxy(proxy.as_ref().map(|(_, p)| p.clone()))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .timeout_global(cfg.timeout)
            .timeout_connect(Some(connect))
            .timeout_per_read(Some(stall))
            .build()
            .new_agent();
        Ok(Net {
            agent,
            allow_http: cfg.allow_http,
            proxy,
        })
    }

    /// Check the scheme policy for a URL the user gave.
    pub fn check_scheme(&self, url: &HttpUrl) -> Result<()> {
        if url.is_https() || self.allow_http {
            Ok(())
        } else {
            Err(Error::usage(format!("refusing plain http URL {url}"))
                .hint("use https://, or pass --allow-http (verification is still required)"))
        }
    }

    /// GET `url`, following redirects. `Ok(None)` when the server says 404 or 410.
    pub fn open(&self, url: &HttpUrl) -> Result<Option<Response>> {
        self.open_with(url, None)
    }

    /// [`Net::open`] sending `Authorization: Bearer TOKEN` (and GitHub's JSON media type) to
    /// `url`'s origin only: a redirect elsewhere gets neither.
    fn open_with(&self, url: &HttpUrl, token: Option<&str>) -> Result<Option<Response>> {
        self.check_scheme(url)?;
        let mut current = url.clone();
        let mut hops = Vec::new();
        for _hop in 0..=MAX_REDIRECTS {
            hops.push(current.origin());
            let mut req = self.agent.get(current.as_str());
            if let Some(t) = token.filter(|_| current.origin() == url.origin()) {
                req = req
                    .header("Authorization", format!("Bearer {t}"))
                    .header("Accept", "application/vnd.github+json");
            }
            let resp = req.call().map_err(|e| self.describe(&current, e))?;
            let status = resp.status().as_u16();
            if (300..400).contains(&status) && status != 304 {
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        Error::download(format!(
                            "{current} answered {status} without a usable Location header"
                        ))
                    })?;
                let next = current.join(location).map_err(|e| {
                    Error::download(format!("{current} redirected to an invalid location: {e}"))
                })?;
                if current.is_https() && !next.is_https() {
                    return Err(Error::download(format!(
                        "{current} redirected to plain http ({next}); refused"
                    ))
                    .hint("a redirect may never leave https, even with --allow-http"));
                }
                self.check_scheme(&next)?;
                current = next;
                continue;
            }
            if status == 404 || status == 410 {
                return Ok(None);
            }
            if !(200..300).contains(&status) {
                return Err(Error::download(format!("{current} answered HTTP {status}"))
                    .hint("check the URL; the server did not serve the file"));
            }
            let content_length = resp
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let reader = resp.into_body().into_reader();
            return Ok(Some(Response {
                url: current,
                content_length,
                hops,
                reader: Box::new(reader),
            }));
        }
        Err(
            Error::download(format!("{url}: more than {MAX_REDIRECTS} redirects"))
                .hint("the server is in a redirect loop"),
        )
    }

    /// GET a small file (signature, checksum list) into memory, refusing more than `cap`
    /// bytes. `Ok(None)` on 404/410.
    pub fn get_small(&self, url: &HttpUrl, cap: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.get_small_from(url, cap)?.map(|(bytes, _)| bytes))
    }

    /// [`Net::get_small`] for an API answer, with a bearer `token` for `url`'s origin.
    pub fn get_api(&self, url: &HttpUrl, cap: u64, token: Option<&str>) -> Result<Option<Vec<u8>>> {
        let Some(resp) = self.open_with(url, token)? else {
            return Ok(None);
        };
        self.read_small(resp, cap).map(|(b, _)| Some(b))
    }

    /// Like [`Net::get_small`], also returning the origin of every hop that served it.
    pub fn get_small_from(
        &self,
        url: &HttpUrl,
        cap: u64,
    ) -> Result<Option<(Vec<u8>, Vec<Origin>)>> {
        let Some(resp) = self.open(url)? else {
            return Ok(None);
        };
        self.read_small(resp, cap).map(Some)
    }

    fn read_small(&self, mut resp: Response, cap: u64) -> Result<(Vec<u8>, Vec<Origin>)> {
        if let Some(len) = resp.content_length
            && len > cap
        {
            return Err(small_too_large(&resp.url, cap));
        }
        let mut buf = Vec::new();
        let n = resp
            .reader()
            .take(cap + 1)
            .read_to_end(&mut buf)
            .map_err(|e| read_error(&resp.url, &e))?;
        if n as u64 > cap {
            return Err(small_too_large(&resp.url, cap));
        }
        check_length(&resp.url, resp.content_length, n as u64)?;
        Ok((buf, resp.hops))
    }
}

/// The error for a signature or checksum list over its fixed cap (`--max-size` does not
/// apply to them, so the payload's hint would mislead).
fn small_too_large(url: &HttpUrl, cap: u64) -> Error {
    Error::download(format!("{url} is larger than the {} limit", human(cap))).hint(
        "signature files and checksum lists are small; this one is not genuine, or --sig/--checksums points at the wrong file",
    )
}

/// The error for a body larger than the cap.
pub fn too_large(url: &HttpUrl, cap: u64) -> Error {
    Error::download(format!("{url} is larger than the {} limit", human(cap)))
        .hint("raise --max-size if this payload is really that large")
}

/// The error for a body that stopped early or ran long.
pub fn check_length(url: &HttpUrl, declared: Option<u64>, got: u64) -> Result<()> {
    match declared {
        Some(want) if want != got => Err(Error::download(format!(
            "{url}: body has {got} bytes but Content-Length said {want} (truncated or corrupt transfer)"
        ))
        .hint("retry; if it persists, the server or a proxy is cutting the download")),
        _ => Ok(()),
    }
}

/// Map a read error from a body to a download error.
pub fn read_error(url: &HttpUrl, e: &std::io::Error) -> Error {
    let msg = e.to_string();
    if msg.to_ascii_lowercase().contains("timeout") || e.kind() == std::io::ErrorKind::TimedOut {
        Error::download(format!("{url}: download timed out ({msg})"))
            .hint("the server stalled; raise --timeout for slow links")
    } else {
        Error::download(format!("{url}: download failed: {msg}"))
            .hint("the transfer was cut; retry")
    }
}

impl Net {
    /// The proxy `url` goes through, if any, in words: `proxy HOST:PORT (from VAR)`.
    fn proxy_for(&self, url: &HttpUrl) -> Option<String> {
        let (var, p) = self.proxy.as_ref()?;
        let uri: ureq::http::Uri = url.as_str().parse().ok()?;
        if p.is_no_proxy(&uri) {
            return None;
        }
        Some(format!(
            "proxy {}:{} (from {var})",
            crate::term::sanitize(p.host()),
            p.port()
        ))
    }

    fn describe(&self, url: &HttpUrl, e: ureq::Error) -> Error {
        use ureq::Error as E;
        let tls = |text: String| tls_error(&text);
        let (what, hint) = match &e {
            E::Timeout(t) => (
                format!("timed out ({t})"),
                "the server did not answer in time; raise --timeout for slow links".to_string(),
            ),
            E::HostNotFound => (
                "host not found".to_string(),
                "check the host name and DNS".to_string(),
            ),
            E::ConnectionFailed => (
                "connection failed".to_string(),
                "check the host and port".to_string(),
            ),
            E::Tls(_) | E::Pem(_) | E::Rustls(_) => tls(e.to_string()),
            E::Io(io) if io.to_string().contains("certificate") => tls(io.to_string()),
            _ => (
                format!("{e}"),
                "retry; check the URL and network".to_string(),
            ),
        };
        let (what, hint) = match self.proxy_for(url) {
            Some(proxy) if !matches!(e, E::Tls(_) | E::Rustls(_)) => (
                format!("{what}, through {proxy}"),
                format!(
                    "{hint}; the connection goes through a proxy: check it, or bypass it for this host with NO_PROXY"
                ),
            ),
            _ => (what, hint),
        };
        Error::download(format!("{url}: {}", crate::term::sanitize(&what))).hint(hint)
    }
}

/// Explain a TLS certificate failure (rustls reports webpki's error names).
fn tls_error(text: &str) -> (String, String) {
    let has = |needle: &str| text.contains(needle);
    if has("CaUsedAsEndEntity") {
        (
            "TLS error: the server presents a CA certificate as its own (self-signed) certificate, which TLS clients refuse even when that certificate is given with --cacert".to_string(),
            "give the server a certificate issued by a CA (e.g. with mkcert, or openssl: a CA, then a server certificate signed by it) and pass that CA's PEM with --cacert".to_string(),
        )
    } else if has("UnknownIssuer") {
        (
            "TLS error: the server's certificate is issued by a CA that is not trusted here"
                .to_string(),
            "for a private CA, pass its PEM certificate with --cacert (or SSL_CERT_FILE)"
                .to_string(),
        )
    } else if has("NotValidForName") {
        (
            "TLS error: the server's certificate is not valid for this host name".to_string(),
            "use the host name the certificate was issued for, or fix the server's certificate"
                .to_string(),
        )
    } else if has("Expired") {
        (
            "TLS error: the server's certificate has expired (or this machine's clock is wrong)"
                .to_string(),
            "check the clock; otherwise the server must renew its certificate".to_string(),
        )
    } else if has("NotValidYet") {
        (
            "TLS error: the server's certificate is not valid yet (or this machine's clock is wrong)".to_string(),
            "check the clock".to_string(),
        )
    } else {
        (
            format!("TLS error: {text}"),
            "the certificate did not verify; for a private CA pass --cacert PEM".to_string(),
        )
    }
}

fn pem_certs(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// Bytes in human units for messages (`1 GiB`, `512 KiB`).
pub fn human(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} bytes")
}
