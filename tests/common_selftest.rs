//! Self-tests of the shared test helpers in `tests/common/`.
//!
//! The helpers are what every other integration test trusts to misbehave exactly as asked
//! (the server), to produce signatures minisign itself accepts (the signer) and to report
//! faithfully whether a payload ran (the sandbox), so they get their own tests. None of
//! these touches the `verun` binary: they pass while `src/` is still being written.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

// --- a minimal client --------------------------------------------------------------------

/// A response as read until the server closed the connection.
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The error that ended reading, if it was not a clean end of file.
    error: Option<io::Error>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn request_bytes(path: &str, user_agent: Option<&str>) -> Vec<u8> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    if let Some(ua) = user_agent {
        req.push_str(&format!("User-Agent: {ua}\r\n"));
    }
    req.push_str("Accept: */*\r\n\r\n");
    req.into_bytes()
}

/// Reads everything until EOF or error, at most `limit` bytes.
fn read_all(stream: &mut impl Read, limit: usize) -> (Vec<u8>, Option<io::Error>) {
    let mut all = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        if all.len() >= limit {
            return (all, None);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return (all, None),
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) => return (all, Some(e)),
        }
    }
}

fn split(raw: Vec<u8>, error: Option<io::Error>) -> Raw {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
        error,
    }
}

fn http_get(server: &TestServer, path: &str, user_agent: Option<&str>) -> Raw {
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&request_bytes(path, user_agent)).unwrap();
    let (raw, error) = read_all(&mut stream, usize::MAX);
    split(raw, error)
}

fn tls_client(ca_pem: &std::path::Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

fn https_get(server: &TestServer, ca_pem: &std::path::Path, name: &str, path: &str) -> Raw {
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(tls_client(ca_pem), server_name).unwrap();
    let tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(&request_bytes(path, Some("selftest")))
        .unwrap();
    let (raw, error) = read_all(&mut tls, usize::MAX);
    split(raw, error)
}

// --- server --------------------------------------------------------------------------------

#[test]
fn serves_bytes_and_records_requests() {
    let server = TestServer::http();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    server.route("/a.sh", Reply::bytes("hello"));
    let r = http_get(&server, "/a.sh?x=1", Some("verun/0.1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.body, b"hello");
    assert!(r.error.is_none());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/a.sh");
    assert_eq!(reqs[0].target, "/a.sh?x=1");
    assert_eq!(reqs[0].user_agent(), Some("verun/0.1"));
    assert_eq!(reqs[0].header("HOST"), Some("localhost"));
    assert!(!reqs[0].tls);
    assert_eq!(server.hits("/a.sh"), 1);
    assert_eq!(server.requested_paths(), vec!["/a.sh"]);
}

#[test]
fn unknown_paths_and_statuses() {
    let server = TestServer::http();
    server.route("/boom", Reply::status(500));
    assert_eq!(http_get(&server, "/nothing", None).status, 404);
    let r = http_get(&server, "/boom", None);
    assert_eq!(r.status, 500);
    assert_eq!(r.body, b"500 Internal Server Error\n");
    server.remove_route("/boom");
    assert_eq!(http_get(&server, "/boom", None).status, 404);
}

#[test]
fn redirects_and_extra_headers() {
    let a = TestServer::http();
    let b = TestServer::https();
    a.route(
        "/r",
        Reply::redirect(302, b.url("/x")).with_header("X-Test", "1"),
    );
    let r = http_get(&a, "/r", None);
    assert_eq!(r.status, 302);
    let location = format!("https://localhost:{}/x", b.port());
    assert_eq!(r.header("location"), Some(location.as_str()));
    assert_eq!(r.header("x-test"), Some("1"));
}

#[test]
fn truncated_and_mismatched_lengths() {
    let server = TestServer::http();
    server.route("/short", Reply::truncated(b"0123456789", 100));
    server.route("/long", Reply::declared_length(3, b"0123456789"));
    let r = http_get(&server, "/short", None);
    assert_eq!(r.header("content-length"), Some("100"));
    assert_eq!(r.body, b"0123456789");
    let r = http_get(&server, "/long", None);
    assert_eq!(r.header("content-length"), Some("3"));
    assert_eq!(r.body, b"0123456789");
}

#[test]
fn endless_body_stops_when_client_leaves() {
    let server = TestServer::http();
    server.route("/endless", Reply::endless());
    server.route("/filler", Reply::filler(100_000));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(&request_bytes("/endless", None)).unwrap();
    let (raw, _) = read_all(&mut stream, 3 << 20);
    assert!(raw.len() >= 3 << 20);
    let r = split(raw, None);
    assert_eq!(r.header("content-length"), None);
    assert!(r.body.starts_with(b"####"));
    drop(stream);

    let r = http_get(&server, "/filler", None);
    assert_eq!(r.body.len(), 100_000);
    assert_eq!(r.header("content-length"), Some("100000"));

    // A client still connected to an endless body must not keep Drop waiting.
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(&request_bytes("/endless", None)).unwrap();
    let mut some = [0u8; 1000];
    stream.read_exact(&mut some).unwrap();
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn chunked_valid_and_broken() {
    let server = TestServer::http();
    server.route("/ok", Reply::chunked(["hello ", "", "world"]));
    server.route("/bad", Reply::broken_chunked("hello", ChunkFault::BadSize));
    server.route(
        "/short",
        Reply::broken_chunked("hello", ChunkFault::ShortChunk),
    );
    server.route(
        "/noterm",
        Reply::broken_chunked("hello", ChunkFault::NoTerminator),
    );
    let r = http_get(&server, "/ok", None);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n");
    assert_eq!(
        http_get(&server, "/bad", None).body,
        b"5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n"
    );
    assert_eq!(http_get(&server, "/short", None).body, b"69\r\nhello");
    assert_eq!(http_get(&server, "/noterm", None).body, b"5\r\nhello\r\n");
}

#[test]
fn delay_and_drip() {
    let server = TestServer::http();
    server.route(
        "/late",
        Reply::bytes("x").delayed(Duration::from_millis(300)),
    );
    server.route("/drip", Reply::drip("abcd", Duration::from_millis(100)));
    let started = Instant::now();
    assert_eq!(http_get(&server, "/late", None).body, b"x");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let r = http_get(&server, "/drip", None);
    assert_eq!(r.body, b"abcd");
    assert_eq!(r.header("content-length"), Some("4"));
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn hang_never_answers_and_drop_unblocks() {
    let server = TestServer::http();
    server.route("/hang", Reply::hang());
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    stream.write_all(&request_bytes("/hang", None)).unwrap();
    let mut buf = [0u8; 16];
    let err = stream.read(&mut buf).unwrap_err();
    assert!(matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
    assert_eq!(server.hits("/hang"), 1);
    // Also a connection that never sends a request.
    let _idle = TcpStream::connect(server.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(3));
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(stream.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn chooses_by_user_agent_and_sequence() {
    let server = TestServer::http();
    server.route(
        "/ua",
        Reply::by_user_agent(
            [
                ("curl/", Reply::bytes("innocent")),
                ("Wget", Reply::status(403)),
            ],
            Reply::bytes("evil"),
        ),
    );
    server.route(
        "/seq",
        Reply::sequence([Reply::bytes("one"), Reply::bytes("two")]),
    );
    assert_eq!(http_get(&server, "/ua", Some("curl/8.0")).body, b"innocent");
    assert_eq!(http_get(&server, "/ua", Some("Wget/1.2")).status, 403);
    assert_eq!(http_get(&server, "/ua", Some("verun/0.1")).body, b"evil");
    assert_eq!(http_get(&server, "/ua", None).body, b"evil");
    assert_eq!(http_get(&server, "/seq", None).body, b"one");
    assert_eq!(http_get(&server, "/seq", None).body, b"two");
    assert_eq!(http_get(&server, "/seq", None).body, b"two");
    server.route("/seq", Reply::sequence([Reply::bytes("again")]));
    assert_eq!(http_get(&server, "/seq", None).body, b"again");
}

#[test]
fn gzip_body_is_valid_gzip() {
    let server = TestServer::http();
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    server.route("/gz", Reply::gzip_of(&plain));
    let r = http_get(&server, "/gz", None);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.body, gzip_stored(&plain));
    let Ok(mut child) = Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        skipped(
            "gzip_body_is_valid_gzip",
            "no gzip to decode with",
            "VERUN_REQUIRE_GZIP",
            Need::Oracle,
        );
        return;
    };
    let mut stdin = child.stdin.take().unwrap();
    let body = r.body.clone();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, plain);
    // The empty body too.
    assert_eq!(gzip_stored(b"").len(), 10 + 5 + 8);
}

#[test]
fn https_with_test_ca() {
    let server = TestServer::https();
    assert!(server.base_url().starts_with("https://localhost:"));
    assert!(server.ca().pem().starts_with("-----BEGIN CERTIFICATE-----"));
    server.route("/s.sh", Reply::bytes("secure"));
    for name in ["localhost", "127.0.0.1"] {
        let r = https_get(&server, server.ca_pem_path(), name, "/s.sh");
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"secure");
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    assert!(server.requests()[0].tls);

    // A second server on the same CA; a truncated TLS body ends without close_notify.
    let other = TestServer::https_with_ca(server.ca());
    other.route("/t", Reply::truncated("abc", 10));
    let r = https_get(&other, server.ca_pem_path(), "localhost", "/t");
    assert_eq!(r.body, b"abc");
    assert_eq!(
        r.error.map(|e| e.kind()),
        Some(io::ErrorKind::UnexpectedEof)
    );
}

#[test]
fn https_rejected_certificates() {
    let ca = TestCa::new();
    let trusted = TestCa::new();
    for (what, server) in [
        ("another CA", TestServer::https_with_ca(&ca)),
        (
            "expired",
            TestServer::https_with(&trusted, trusted.leaf_expired(&["localhost"])),
        ),
        (
            "wrong name",
            TestServer::https_with(&trusted, trusted.leaf(&["example.invalid"])),
        ),
        (
            "self-signed",
            TestServer::https_with(&trusted, self_signed_identity(&["localhost"])),
        ),
    ] {
        server.route("/x", Reply::bytes("x"));
        let server_name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn =
            rustls::ClientConnection::new(tls_client(trusted.pem_path()), server_name).unwrap();
        let tcp = TcpStream::connect(server.addr()).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let result = tls.write_all(&request_bytes("/x", None)).and_then(|_| {
            let mut buf = Vec::new();
            tls.read_to_end(&mut buf).map(|_| buf)
        });
        assert!(result.is_err(), "{what}: client accepted the certificate");
        drop(tls);
        let until = Instant::now() + Duration::from_secs(2);
        while server.tls_handshake_failures() == 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.tls_handshake_failures(), 1, "{what}");
        assert!(server.requests().is_empty(), "{what}");
    }
}

// --- signer ------------------------------------------------------------------------------

#[test]
fn public_key_format() {
    let key = TestKey::generate();
    let text = key.public_key_file();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        format!(
            "untrusted comment: minisign public key {}",
            key.key_id_hex()
        )
    );
    assert!(lines[1].starts_with("RW"));
    assert_eq!(lines[1].len(), 56);
    assert!(text.ends_with('\n'));
    let (id, pk) = parse_public_key(&text).unwrap();
    assert_eq!(id, key.key_id());
    assert_eq!(pk, key.public_key_bytes());
    assert_eq!(key_id_hex([1, 2, 3, 4, 5, 6, 7, 8]), "0807060504030201");
}

#[test]
fn signatures_round_trip_and_tampering_is_detected() {
    let key = TestKey::generate();
    let data = b"#!/bin/sh\necho hi\n";
    let sig = key.sign(data, "install.sh");
    let parsed = verify(&key.public_key_base64(), data, &sig).unwrap();
    assert_eq!(&parsed.algorithm, b"ED");
    assert!(parsed.trusted_comment.starts_with("timestamp:"));
    assert!(
        parsed
            .trusted_comment
            .ends_with("\tfile:install.sh\thashed")
    );
    assert_eq!(parsed.untrusted_comment, sign::DEFAULT_UNTRUSTED_COMMENT);
    assert_eq!(sig.lines().count(), 4);
    assert!(sig.ends_with('\n'));

    let legacy = key.sign_legacy(data, "install.sh");
    let parsed = verify(&key.public_key_file(), data, &legacy).unwrap();
    assert_eq!(&parsed.algorithm, b"Ed");
    assert!(parsed.trusted_comment.ends_with("\tfile:install.sh"));

    assert!(verify(&key.public_key_base64(), b"other", &sig).is_err());
    assert!(verify(&key.public_key_base64(), data, &corrupt_signature(&sig)).is_err());
    let forged = replace_trusted_comment(&sig, "timestamp:1\tfile:install.sh\thashed");
    assert!(verify(&key.public_key_base64(), data, &forged).is_err());
    let impostor = TestKey::with_key_id(key.key_id());
    assert!(
        verify(
            &key.public_key_base64(),
            data,
            &impostor.sign(data, "install.sh")
        )
        .is_err()
    );
    assert!(verify(&TestKey::generate().public_key_base64(), data, &sig).is_err());
}

#[test]
fn signer_output_verifies_with_minisign_cli() {
    let Some(_) = minisign_or_skip("signer_output_verifies_with_minisign_cli") else {
        return;
    };
    let env = TestEnv::new();
    let key = TestKey::generate();
    let pub_path = key.write_public_key(env.path("k.pub"));
    let data = b"#!/bin/sh\necho verified\n".repeat(1000);
    let file = env.write("payload.sh", &data);

    let check = |sig_text: &str, prehashed_only: bool| {
        let sig = env.write("payload.sh.minisig", sig_text);
        cli_verify(&pub_path, &file, &sig, prehashed_only).unwrap()
    };
    assert!(check(&key.sign(&data, "payload.sh"), true));
    assert!(check(&key.sign_tc(&data, "any comment at all: é"), true));
    assert!(check(&key.sign_legacy(&data, "payload.sh"), false));
    assert!(!check(&key.sign_legacy(&data, "payload.sh"), true));
    let custom = SignOptions {
        untrusted_comment: "whatever".into(),
        ..SignOptions::prehashed(trusted_comment_at(1_700_000_000, "payload.sh", false))
    };
    assert!(check(&key.sign_with(&data, &custom), true));

    // Tampering is rejected by the real CLI too.
    let sig = key.sign(&data, "payload.sh");
    assert!(!check(&corrupt_signature(&sig), false));
    assert!(!check(&replace_trusted_comment(&sig, "timestamp:0"), false));
    assert!(!check(
        &TestKey::with_key_id(key.key_id()).sign(&data, "payload.sh"),
        false
    ));

    // The trusted comment minisign shows is ours.
    let sig = env.write("payload.sh.minisig", key.sign_tc(&data, "hello trusted"));
    let out = Command::new(minisign_cli().unwrap())
        .args(["-V", "-P", &key.public_key_base64(), "-m"])
        .arg(&file)
        .arg("-x")
        .arg(&sig)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Trusted comment: hello trusted"));
}

#[test]
fn minisign_cli_keys_and_signatures_parse() {
    let Some(_) = minisign_or_skip("minisign_cli_keys_and_signatures_parse") else {
        return;
    };
    let env = TestEnv::new();
    let keys = cli_keygen(env.work(), "cli").unwrap();
    let pub_text = keys.public_key_file();
    let id = keys.key_id();
    // minisign prints the key id as a number, without leading zeros (`%PRIX64`).
    assert_eq!(
        pub_text.lines().next().unwrap(),
        format!(
            "untrusted comment: minisign public key {}",
            key_id_hex(id).trim_start_matches('0')
        )
    );
    assert!(keys.public_key_base64().starts_with("RW"));

    let data = b"echo from the cli\n";
    let file = env.write("p.sh", data);
    let sig_path = cli_sign(&keys, &file, false, None).unwrap();
    assert_eq!(sig_path, env.path("p.sh.minisig"));
    let sig = std::fs::read_to_string(&sig_path).unwrap();
    let parsed = verify(&pub_text, data, &sig).unwrap();
    assert_eq!(parsed.key_id, id);
    assert_eq!(&parsed.algorithm, b"ED");
    assert_eq!(parsed.untrusted_comment, sign::DEFAULT_UNTRUSTED_COMMENT);
    let tc = &parsed.trusted_comment;
    let ts: u64 = tc
        .strip_prefix("timestamp:")
        .and_then(|rest| rest.split('\t').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(tc, &trusted_comment_at(ts, "p.sh", false));
    assert!(ts.abs_diff(now_timestamp()) < 600);

    cli_sign(&keys, &file, true, Some("legacy comment")).unwrap();
    let sig = std::fs::read_to_string(&sig_path).unwrap();
    let parsed = verify(&keys.public_key_base64(), data, &sig).unwrap();
    assert_eq!(&parsed.algorithm, b"Ed");
    assert_eq!(parsed.trusted_comment, "legacy comment");
    assert!(cli_verify(&keys.public_key_path, &file, &sig_path, false).unwrap());
}

// --- sandbox -------------------------------------------------------------------------------

#[test]
fn sandbox_layout_and_environment() {
    let env = TestEnv::new();
    for dir in [env.home(), env.work(), env.tmp()] {
        assert!(dir.is_dir());
        assert!(dir.starts_with(env.root()));
    }
    let mut cmd = env.command("sh");
    cmd.arg("-c").arg(
        "echo \"$VERUN_HOME|$HOME|$CI|$NO_COLOR|${SSL_CERT_FILE-unset}|${HTTPS_PROXY-unset}|$(pwd)\"; read x || echo no-stdin",
    );
    let out = run_with_timeout(&mut cmd, Duration::from_secs(10));
    assert_exit(&out, 0);
    let home = env.home().display().to_string();
    let pwd = std::fs::canonicalize(env.work()).unwrap();
    assert_eq!(
        stdout(&out),
        format!(
            "{home}|{home}|true|1|unset|unset|{}\nno-stdin\n",
            pwd.display()
        )
    );
    let out = run_with_input(
        env.command("cat").arg("-"),
        b"typed",
        Duration::from_secs(10),
    );
    assert_eq!(out.stdout, b"typed");
}

#[test]
fn markers_tell_whether_a_payload_ran() {
    let env = TestEnv::new();
    let (script, marker) = marker_script(&env, "first");
    let (_, other) = marker_script(&env, "second");
    let path = env.write("first.sh", &script);
    let out = run_with_timeout(
        env.command("sh").arg(&path).args(["a b", "--c"]),
        Duration::from_secs(10),
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "verun-test-payload first ran\n");
    assert_eq!(assert_ran(&marker), vec!["a b", "--c"]);
    assert_not_ran(&other);
    assert_eq!(leftover_files(env.work()), vec!["first.sh"]);
    assert_dir_holds(env.work(), &["first.sh"]);
    assert_no_file(&env.path("nothing"));

    let (script, marker) = marker_script_with(&env, "failing", "exit 3");
    let path = env.write("failing.sh", &script);
    let out = run_with_timeout(env.command("sh").arg(&path), Duration::from_secs(10));
    assert_exit(&out, 3);
    assert!(assert_ran(&marker).is_empty());
}

#[test]
#[should_panic(expected = "still running after")]
fn run_with_timeout_kills_and_panics() {
    let env = TestEnv::new();
    run_with_timeout(
        env.command("sh").args(["-c", "echo started; sleep 30"]),
        Duration::from_millis(300),
    );
}

#[test]
fn run_with_timeout_survives_background_children() {
    let env = TestEnv::new();
    let started = Instant::now();
    let out = run_with_timeout(
        env.command("sh")
            .args(["-c", "sleep 30 & echo parent done"]),
        Duration::from_secs(20),
    );
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "parent done\n");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn fixtures() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let gnu = gnu_checksums(&[("a.sh", b"abc")]);
    assert_eq!(
        gnu,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a.sh\n"
    );
    assert!(bsd_checksums(&[("a.sh", b"abc")]).starts_with("SHA256 (a.sh) = ba78"));

    let server = TestServer::http();
    let key = TestKey::generate();
    let url = publish_signed(&server, &key, "/dl/tool.sh", b"payload");
    assert_eq!(url, server.url("/dl/tool.sh"));
    assert_eq!(http_get(&server, "/dl/tool.sh", None).body, b"payload");
    let sig = http_get(&server, "/dl/tool.sh.minisig", None).body;
    let parsed = verify(
        &key.public_key_base64(),
        b"payload",
        &String::from_utf8(sig).unwrap(),
    )
    .unwrap();
    assert!(parsed.trusted_comment.contains("\tfile:tool.sh\t"));
}

/// Runs one test of this very binary (`--exact NAME`, output captured as `cargo test`
/// captures it) with `MINISIGN` pointing nowhere, so the CLI counts as absent.
fn without_minisign(test: &str, ci: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
    cmd.args(["--exact", test, "--test-threads=1"])
        .env("MINISIGN", "/nonexistent/minisign")
        .env_remove("VERUN_REQUIRE_MINISIGN")
        .env_remove("CI")
        .stdin(std::process::Stdio::null());
    if let Some(v) = ci {
        cmd.env("CI", v);
    }
    cmd.output().expect("run this test binary")
}

/// Without `minisign`, an interop test is a skip that is seen (on stderr, outside the
/// capture) locally, and a failure in CI, not a quiet pass.
#[test]
fn a_missing_minisign_is_a_visible_skip_locally_and_a_failure_in_ci() {
    let test = "signer_output_verifies_with_minisign_cli";
    let local = without_minisign(test, None);
    let err = String::from_utf8_lossy(&local.stderr);
    assert!(local.status.success(), "a local skip passes: {err}");
    assert!(
        err.contains(&format!("SKIPPED {test}")) && err.contains("did NOT run"),
        "the skip must be visible on stderr despite the capture:\n{err}"
    );
    for ci in ["true", "1"] {
        let out = without_minisign(test, Some(ci));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "CI={ci}: a missing oracle must fail:\n{all}"
        );
        assert!(all.contains("minisign CLI is not installed"), "{all}");
    }
}
