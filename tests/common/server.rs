//! A loopback HTTP/HTTPS server whose routes misbehave on purpose.
//!
//! verun's download path must refuse truncated, oversized, stalled, mis-framed and
//! redirected responses and must never execute what it could not verify. This server
//! produces each of those cases on demand and records every request, so a test can assert
//! both what verun did and what it asked for. It binds `127.0.0.1:0` only, uses plain std
//! threads (one accepting, one per connection, every response ends with
//! `Connection: close`), and [`Drop`] stops and joins all of them, so no test leaks a
//! thread or a socket.
//!
//! ```ignore
//! let server = TestServer::http();
//! server.route("/install.sh", Reply::bytes(b"#!/bin/sh\necho hi\n"));
//! server.route("/gone", Reply::status(404));
//! let url = server.url("/install.sh");
//! // ... run verun ...
//! assert_eq!(server.hits("/install.sh"), 1);
//! ```

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::tls::{DEFAULT_NAMES, TestCa, TlsIdentity};

/// Largest body [`Reply::endless`] sends before giving up on the client.
pub const ENDLESS_CAP: u64 = 4 << 30;

/// Longest a connection thread lives; bounds endless, dripping and hanging replies even
/// if a test forgets to drop its server.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(120);

/// Read/write timeout on each socket, so a client that stops reading cannot pin a thread.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent (path and query, or an absolute URL through a proxy).
    pub target: String,
    /// The target's path, without query string, scheme or authority.
    pub path: String,
    /// `HTTP/1.1`, ...
    pub version: String,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Whether the request came over TLS.
    pub tls: bool,
}

impl Request {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `User-Agent` header.
    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }
}

/// How a broken chunked body is broken (see [`Reply::BrokenChunked`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkFault {
    /// After the body's chunk, a chunk-size line that is not hexadecimal (`zz`).
    BadSize,
    /// A chunk declared 100 bytes longer than the body that is sent, then close.
    ShortChunk,
    /// The body's chunk, then close without the terminating `0` chunk.
    NoTerminator,
}

/// What a route answers. Build with the constructor functions; wrap with
/// [`delayed`](Reply::delayed) and [`with_header`](Reply::with_header).
#[derive(Clone, Debug)]
pub enum Reply {
    /// `200 OK` with this body and its exact `Content-Length`.
    Bytes(Vec<u8>),
    /// This status code with this body (and its `Content-Length`).
    Status { code: u16, body: Vec<u8> },
    /// A redirect (301, 302, 307, 308) to `location`, absolute or relative, verbatim.
    Redirect { code: u16, location: String },
    /// `200` declaring `Content-Length: declared`, then exactly `body`, then close (over
    /// TLS without `close_notify`). With `declared > body.len()` the body is truncated.
    DeclaredLength { declared: u64, body: Vec<u8> },
    /// `200` with `len` filler bytes (`#...#\n` lines), streamed until sent, until the
    /// client goes away, or until the server stops or the connection deadline passes;
    /// `Content-Length` only when `content_length` is given (it may differ from `len`).
    Stream {
        content_length: Option<u64>,
        len: u64,
    },
    /// `200` with `Transfer-Encoding: chunked`, one chunk per part, properly terminated.
    Chunked(Vec<Vec<u8>>),
    /// `200` chunked, with `body` in one valid chunk and then the fault.
    BrokenChunked { body: Vec<u8>, fault: ChunkFault },
    /// Wait this long before the inner reply's status line.
    Delay(Duration, Box<Reply>),
    /// `200` with the right `Content-Length`, headers at once, then one body byte per
    /// `interval` (waiting before each byte).
    Drip { body: Vec<u8>, interval: Duration },
    /// Read the request, answer nothing, keep the connection open until the server is
    /// dropped or the connection deadline passes.
    Hang,
    /// The reply of the first rule whose pattern occurs in the `User-Agent` header
    /// (case-sensitive substring), else `default`.
    ByUserAgent {
        rules: Vec<(String, Reply)>,
        default: Box<Reply>,
    },
    /// `200` with `Content-Encoding: gzip` and this (already compressed) body.
    Gzip(Vec<u8>),
    /// The n-th request to the route (counting from 0) gets the n-th reply; the last one
    /// repeats. For bytes that change between downloads.
    Sequence(Vec<Reply>),
    /// Extra header fields added to the inner reply's head.
    WithHeaders(Vec<(String, String)>, Box<Reply>),
    /// These bytes written verbatim as the whole response, then close.
    Raw(Vec<u8>),
}

impl Reply {
    /// `200` with `body` and its exact `Content-Length`.
    pub fn bytes(body: impl AsRef<[u8]>) -> Reply {
        Reply::Bytes(body.as_ref().to_vec())
    }

    /// This status code with a short text body.
    pub fn status(code: u16) -> Reply {
        Reply::Status {
            code,
            body: format!("{code} {}\n", reason(code)).into_bytes(),
        }
    }

    /// This status code with this body.
    pub fn status_with_body(code: u16, body: impl AsRef<[u8]>) -> Reply {
        Reply::Status {
            code,
            body: body.as_ref().to_vec(),
        }
    }

    /// A redirect with `Location: location` (use [`TestServer::url`] for another server).
    pub fn redirect(code: u16, location: impl Into<String>) -> Reply {
        Reply::Redirect {
            code,
            location: location.into(),
        }
    }

    /// Declares `declared` bytes but sends only `sent`, then closes.
    pub fn truncated(sent: impl AsRef<[u8]>, declared: u64) -> Reply {
        Reply::DeclaredLength {
            declared,
            body: sent.as_ref().to_vec(),
        }
    }

    /// Declares `declared` bytes and sends all of `body`, whatever its length.
    pub fn declared_length(declared: u64, body: impl AsRef<[u8]>) -> Reply {
        Reply::DeclaredLength {
            declared,
            body: body.as_ref().to_vec(),
        }
    }

    /// No `Content-Length`, filler until the client disconnects (at most [`ENDLESS_CAP`]).
    pub fn endless() -> Reply {
        Reply::Stream {
            content_length: None,
            len: ENDLESS_CAP,
        }
    }

    /// `len` filler bytes with an honest `Content-Length`.
    pub fn filler(len: u64) -> Reply {
        Reply::Stream {
            content_length: Some(len),
            len,
        }
    }

    /// Valid chunked encoding, one chunk per part (empty parts are skipped).
    pub fn chunked<P: AsRef<[u8]>>(parts: impl IntoIterator<Item = P>) -> Reply {
        Reply::Chunked(parts.into_iter().map(|p| p.as_ref().to_vec()).collect())
    }

    /// Chunked encoding broken by `fault` after `body`.
    pub fn broken_chunked(body: impl AsRef<[u8]>, fault: ChunkFault) -> Reply {
        Reply::BrokenChunked {
            body: body.as_ref().to_vec(),
            fault,
        }
    }

    /// One body byte every `interval`.
    pub fn drip(body: impl AsRef<[u8]>, interval: Duration) -> Reply {
        Reply::Drip {
            body: body.as_ref().to_vec(),
            interval,
        }
    }

    /// Accept, read the request, never answer.
    pub fn hang() -> Reply {
        Reply::Hang
    }

    /// `Content-Encoding: gzip` with an already compressed body.
    pub fn gzip(compressed: impl AsRef<[u8]>) -> Reply {
        Reply::Gzip(compressed.as_ref().to_vec())
    }

    /// `Content-Encoding: gzip` with `plain` wrapped by [`gzip_stored`].
    pub fn gzip_of(plain: impl AsRef<[u8]>) -> Reply {
        Reply::Gzip(gzip_stored(plain.as_ref()))
    }

    /// Chooses by `User-Agent` substring; see [`Reply::ByUserAgent`].
    pub fn by_user_agent<S: Into<String>>(
        rules: impl IntoIterator<Item = (S, Reply)>,
        default: Reply,
    ) -> Reply {
        Reply::ByUserAgent {
            rules: rules.into_iter().map(|(p, r)| (p.into(), r)).collect(),
            default: Box::new(default),
        }
    }

    /// Successive requests get successive replies; the last repeats.
    pub fn sequence(replies: impl IntoIterator<Item = Reply>) -> Reply {
        Reply::Sequence(replies.into_iter().collect())
    }

    /// The whole response, verbatim.
    pub fn raw(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Raw(bytes.as_ref().to_vec())
    }

    /// This reply, after a pause before the status line.
    pub fn delayed(self, delay: Duration) -> Reply {
        Reply::Delay(delay, Box::new(self))
    }

    /// This reply with one more header field.
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        let field = (name.into(), value.into());
        match self {
            Reply::WithHeaders(mut fields, inner) => {
                fields.push(field);
                Reply::WithHeaders(fields, inner)
            }
            other => Reply::WithHeaders(vec![field], Box::new(other)),
        }
    }
}

/// A loopback server. Routes can be set before or after requests arrive; an unknown path
/// gets `404`. Dropping it stops every thread it started.
pub struct TestServer {
    addr: SocketAddr,
    host: &'static str,
    ca: Option<Arc<TestCa>>,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    tls: Option<Arc<rustls::ServerConfig>>,
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<Request>>,
    connections: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
    accepted: AtomicUsize,
    tls_failures: AtomicUsize,
}

struct Route {
    reply: Reply,
    served: usize,
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not hide the data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestServer {
    /// A plain HTTP server; [`base_url`](Self::base_url) is `http://127.0.0.1:PORT`.
    pub fn http() -> TestServer {
        TestServer::start(None, None)
    }

    /// An HTTPS server with a fresh CA and a leaf for `localhost` and `127.0.0.1`;
    /// [`base_url`](Self::base_url) is `https://localhost:PORT`, and
    /// [`ca_pem_path`](Self::ca_pem_path) is what the client must trust.
    pub fn https() -> TestServer {
        TestServer::https_with_ca(&TestCa::new())
    }

    /// An HTTPS server whose leaf is signed by `ca`, so several servers share one trust root.
    pub fn https_with_ca(ca: &Arc<TestCa>) -> TestServer {
        TestServer::https_with(ca, ca.leaf(DEFAULT_NAMES))
    }

    /// An HTTPS server presenting `identity` (e.g. [`TestCa::leaf_expired`], a leaf for
    /// another name, or a [`self_signed_identity`](super::tls::self_signed_identity));
    /// `ca` is only what [`ca_pem_path`](Self::ca_pem_path) reports.
    pub fn https_with(ca: &Arc<TestCa>, identity: TlsIdentity) -> TestServer {
        TestServer::start(Some(identity.server_config()), Some(Arc::clone(ca)))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, ca: Option<Arc<TestCa>>) -> TestServer {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind test server on 127.0.0.1");
        let addr = listener.local_addr().expect("test server address");
        let host = if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            tls,
            routes: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            tls_failures: AtomicUsize::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("test-server-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn test server")
        };
        TestServer {
            addr,
            host,
            ca,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}", self.scheme(), self.host, self.addr.port())
    }

    /// The base URL with the IP address as host (`https://127.0.0.1:PORT` is also covered
    /// by the default certificate).
    pub fn base_url_ip(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme(), self.addr.port())
    }

    /// `base_url() + path` (a missing leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url())
        } else {
            format!("{}/{path}", self.base_url())
        }
    }

    /// `"http"` or `"https"`.
    pub fn scheme(&self) -> &'static str {
        if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// The bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The CA behind an HTTPS server. Panics for plain HTTP.
    pub fn ca(&self) -> &Arc<TestCa> {
        self.ca.as_ref().expect("ca() on a plain-HTTP TestServer")
    }

    /// The CA PEM file to pass as `--cacert` or `SSL_CERT_FILE`. Panics for plain HTTP.
    pub fn ca_pem_path(&self) -> &Path {
        self.ca().pem_path()
    }

    /// Sets (or replaces) what `path` answers; `path` is matched against the request
    /// target first, then against its path without query string. Resets the route's
    /// [`Reply::Sequence`] position.
    pub fn route(&self, path: impl Into<String>, reply: Reply) -> &TestServer {
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        lock(&self.shared.routes).insert(path, Route { reply, served: 0 });
        self
    }

    /// Removes a route; the path answers `404` again.
    pub fn remove_route(&self, path: &str) {
        lock(&self.shared.routes).remove(path);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The requests whose path (without query) is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// How many requests asked for `path` (without query).
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// The paths requested so far, in order.
    pub fn requested_paths(&self) -> Vec<String> {
        lock(&self.shared.requests)
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<Request> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Forgets the recorded requests (routes stay).
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// TCP connections accepted so far (including ones that failed the TLS handshake).
    pub fn accepted_connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed with an error (e.g. the client rejected the
    /// certificate with an alert). Always 0 for plain HTTP.
    pub fn tls_handshake_failures(&self) -> usize {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept(): the loop sees the flag on the next connection.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // The acceptor is gone, so the list is complete. Shutting the sockets down wakes
        // any thread blocked in read or write; sleeping threads poll the flag.
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for (stream, _) in &connections {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, handle) in connections {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let Ok(handle_stream) = stream.try_clone() else {
            continue;
        };
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name("test-server-conn".into())
                .spawn(move || handle_connection(&shared, handle_stream))
        };
        let Ok(worker) = worker else { continue };
        let mut connections = lock(&shared.connections);
        connections.retain(|(_, h)| !h.is_finished());
        connections.push((stream, worker));
    }
}

/// A connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Ends the response: over TLS a `close_notify` only when `clean`; then FIN, and a
    /// short drain so unread client bytes do not turn the close into a reset.
    fn finish(mut self, clean: bool) {
        if let Conn::Tls(s) = &mut self
            && clean
        {
            s.conn.send_close_notify();
        }
        let _ = self.flush();
        let tcp = self.tcp();
        let _ = tcp.shutdown(Shutdown::Write);
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
        let mut sink = [0u8; 4096];
        let mut tcp = tcp;
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            match tcp.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn handle_connection(shared: &Shared, stream: TcpStream) {
    let deadline = Instant::now() + CONNECTION_DEADLINE;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let mut conn = match &shared.tls {
        None => Conn::Plain(stream),
        Some(config) => match rustls::ServerConnection::new(Arc::clone(config)) {
            Ok(tls) => Conn::Tls(Box::new(rustls::StreamOwned::new(tls, stream))),
            Err(_) => return,
        },
    };
    let request = match read_request(&mut conn) {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(_) => {
            if let Conn::Tls(s) = &conn
                && s.conn.is_handshaking()
            {
                shared.tls_failures.fetch_add(1, Ordering::SeqCst);
            }
            return;
        }
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    lock(&shared.requests).push(request.clone());

    let (reply, index) = {
        let mut routes = lock(&shared.routes);
        let route = match routes.contains_key(&request.target) {
            true => routes.get_mut(&request.target),
            false => routes.get_mut(&request.path),
        };
        match route {
            Some(route) => {
                route.served += 1;
                (route.reply.clone(), route.served - 1)
            }
            None => (Reply::status(404), 0),
        }
    };
    let mut cx = Cx {
        shared,
        conn: &mut conn,
        request: &request,
        index,
        extra: Vec::new(),
        deadline,
    };
    let clean = serve(&reply, &mut cx).unwrap_or(false);
    conn.finish(clean);
}

/// Reads one request head; `Ok(None)` when the peer closed without sending anything.
fn read_request(conn: &mut Conn) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&head, b"\r\n\r\n") {
            let tls = matches!(conn, Conn::Tls(_));
            return parse_request(&head[..end], tls).map(Some);
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return match head.is_empty() {
                true => Ok(None),
                false => Err(io::ErrorKind::UnexpectedEof.into()),
            };
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_request(head: &[u8], tls: bool) -> io::Result<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad request line {request_line:?}"),
        ));
    };
    let headers = lines
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_string(), value.trim().to_string()))
        })
        .collect();
    // Absolute form (through a proxy): drop scheme and authority.
    let origin_form = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = origin_form.split(['?', '#']).next().unwrap_or("/");
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        headers,
        tls,
    })
}

/// State while serving one reply.
struct Cx<'a> {
    shared: &'a Shared,
    conn: &'a mut Conn,
    request: &'a Request,
    index: usize,
    extra: Vec<(String, String)>,
    deadline: Instant,
}

impl Cx<'_> {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst) || Instant::now() >= self.deadline
    }

    /// Sleeps for `d` unless the server stops first; `false` if it stopped.
    fn pause(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }

    fn head(&mut self, code: u16, fields: &[(&str, String)]) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
        for (name, value) in fields {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        for (name, value) in &self.extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        self.conn.write_all(head.as_bytes())?;
        self.conn.flush()
    }

    fn body(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.request.method != "HEAD" {
            self.conn.write_all(bytes)?;
        }
        self.conn.flush()
    }

    /// A complete response with `Content-Length`; closes cleanly.
    fn respond(&mut self, code: u16, fields: &[(&str, String)], body: &[u8]) -> io::Result<bool> {
        let mut all = vec![
            ("Content-Type", "application/octet-stream".to_string()),
            ("Content-Length", body.len().to_string()),
        ];
        all.extend(fields.iter().cloned());
        self.head(code, &all)?;
        self.body(body)?;
        Ok(true)
    }
}

/// Serves `reply`; `Ok(true)` when the response is complete and may close cleanly.
fn serve(reply: &Reply, cx: &mut Cx<'_>) -> io::Result<bool> {
    match reply {
        Reply::Bytes(body) => cx.respond(200, &[], body),
        Reply::Status { code, body } => cx.respond(*code, &[], body),
        Reply::Redirect { code, location } => {
            cx.respond(*code, &[("Location", location.clone())], b"")
        }
        Reply::DeclaredLength { declared, body } => {
            cx.head(200, &[("Content-Length", declared.to_string())])?;
            cx.body(body)?;
            Ok(false)
        }
        Reply::Stream {
            content_length,
            len,
        } => {
            let mut fields = vec![("Content-Type", "application/octet-stream".to_string())];
            if let Some(n) = content_length {
                fields.push(("Content-Length", n.to_string()));
            }
            cx.head(200, &fields)?;
            if cx.request.method == "HEAD" {
                return Ok(true);
            }
            let block = filler_block();
            let mut left = *len;
            while left > 0 {
                if cx.stopped() {
                    return Ok(false);
                }
                let n = left.min(block.len() as u64) as usize;
                cx.conn.write_all(&block[..n])?;
                left -= n as u64;
            }
            cx.conn.flush()?;
            Ok(true)
        }
        Reply::Chunked(parts) => {
            cx.head(200, &[("Transfer-Encoding", "chunked".to_string())])?;
            for part in parts.iter().filter(|p| !p.is_empty()) {
                cx.body(&chunk(part))?;
            }
            cx.body(b"0\r\n\r\n")?;
            Ok(true)
        }
        Reply::BrokenChunked { body, fault } => {
            cx.head(200, &[("Transfer-Encoding", "chunked".to_string())])?;
            match fault {
                ChunkFault::BadSize => {
                    cx.body(&chunk(body))?;
                    cx.body(b"zz\r\nnot a chunk\r\n0\r\n\r\n")?;
                }
                ChunkFault::ShortChunk => {
                    cx.body(format!("{:x}\r\n", body.len() + 100).as_bytes())?;
                    cx.body(body)?;
                }
                ChunkFault::NoTerminator => {
                    cx.body(&chunk(body))?;
                }
            }
            Ok(false)
        }
        Reply::Delay(delay, inner) => {
            if !cx.pause(*delay) {
                return Ok(false);
            }
            serve(inner, cx)
        }
        Reply::Drip { body, interval } => {
            cx.head(
                200,
                &[
                    ("Content-Type", "application/octet-stream".to_string()),
                    ("Content-Length", body.len().to_string()),
                ],
            )?;
            if cx.request.method == "HEAD" {
                return Ok(true);
            }
            for byte in body {
                if !cx.pause(*interval) {
                    return Ok(false);
                }
                cx.body(std::slice::from_ref(byte))?;
            }
            Ok(true)
        }
        Reply::Hang => {
            while cx.pause(Duration::from_millis(100)) {}
            Ok(false)
        }
        Reply::ByUserAgent { rules, default } => {
            let agent = cx.request.user_agent().unwrap_or_default().to_string();
            let chosen = rules
                .iter()
                .find(|(pattern, _)| agent.contains(pattern.as_str()))
                .map_or(&**default, |(_, reply)| reply);
            serve(chosen, cx)
        }
        Reply::Gzip(body) => cx.respond(200, &[("Content-Encoding", "gzip".to_string())], body),
        Reply::Sequence(replies) => match replies.get(cx.index).or(replies.last()) {
            Some(reply) => serve(reply, cx),
            None => serve(&Reply::status(404), cx),
        },
        Reply::WithHeaders(fields, inner) => {
            cx.extra.extend(fields.iter().cloned());
            serve(inner, cx)
        }
        Reply::Raw(bytes) => {
            cx.conn.write_all(bytes)?;
            cx.conn.flush()?;
            Ok(false)
        }
    }
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// 64 KiB of `#` lines: inert if anything ever fed it to a shell.
fn filler_block() -> Vec<u8> {
    let mut line = vec![b'#'; 63];
    line.push(b'\n');
    line.repeat(1024)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A valid gzip member holding `data` in stored (uncompressed) deflate blocks, so tests
/// can serve `Content-Encoding: gzip` without a compression library.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // RFC 1952 header: magic, CM=deflate, no flags, mtime 0, XFL 0, OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut blocks = data.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
