//! Regressions for the network findings of the outside review (issue 11): host spellings
//! and the same-origin rule (item 5), unsigned lists over plain http (item 3), file names
//! the memfd could not take (item 18), and disk a `Content-Length` header alone made verun
//! allocate (item 4). Every test drives the real binary against loopback servers.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spellings the resolver (glibc/musl `inet_aton`, IPv4-mapped IPv6) reads as 127.0.0.1.
const SPELLINGS_OF_127_0_0_1: &[&str] = &[
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0x7f.1",
    "0177.0.0.1",
    "127.000.000.001",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
];

/// Two HTTPS servers on 127.0.0.1 (different ports: different origins) sharing one CA.
struct Pair {
    env: TestEnv,
    a: TestServer,
    b: TestServer,
}

fn pair() -> Pair {
    let ca = TestCa::new();
    Pair {
        env: TestEnv::new(),
        a: TestServer::https_with_ca(&ca),
        b: TestServer::https_with_ca(&Arc::clone(&ca)),
    }
}

fn at(server: &TestServer, host: &str, path: &str) -> String {
    format!("{}://{host}:{}{path}", server.scheme(), server.port())
}

fn cacert(s: &TestServer) -> String {
    s.ca_pem_path().display().to_string()
}

fn run_with_list(p: &Pair, url: &str, list: &str) -> Output {
    p.env
        .verun(["run", url, "--checksums", list, "--cacert", &cacert(&p.a)])
}

#[track_caller]
fn assert_no_anchor(out: &Output, marker: &std::path::Path, why: &str) {
    assert_exit(out, 77);
    let err = stderr(out);
    assert!(err.contains("no trust anchor"), "{err}");
    assert!(err.contains(why), "stderr does not say {why:?}:\n{err}");
    assert!(err.contains("verun: hint: "), "{err}");
    assert_not_ran(marker);
}

// --- item 5: one canonical host --------------------------------------------------------------

#[test]
fn an_unsigned_list_on_another_spelling_of_the_payloads_host_is_no_anchor() {
    let p = pair();
    let (payload, marker) = marker_script(&p.env, "tool.sh");
    p.a.route("/tool.sh", Reply::bytes(&payload));
    p.a.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &payload)])),
    );
    for spelling in SPELLINGS_OF_127_0_0_1 {
        // The list under another spelling, the payload canonical, and the other way round.
        for (payload_host, list_host) in [("127.0.0.1", *spelling), (*spelling, "127.0.0.1")] {
            let out = run_with_list(
                &p,
                &at(&p.a, payload_host, "/tool.sh"),
                &at(&p.a, list_host, "/SHA256SUMS"),
            );
            assert_no_anchor(&out, &marker, "own origin");
        }
    }
    // Names: case and one trailing dot.
    for (payload_host, list_host) in [
        ("localhost", "localhost."),
        ("localhost", "LOCALHOST"),
        ("LocalHost.", "localhost"),
    ] {
        let out = run_with_list(
            &p,
            &at(&p.a, payload_host, "/tool.sh"),
            &at(&p.a, list_host, "/SHA256SUMS"),
        );
        assert_no_anchor(&out, &marker, "own origin");
    }
}

#[test]
fn another_spelling_of_an_independent_host_reaches_that_host() {
    // What ureq contacts is the canonical form: a list on server B spelled oddly is fetched
    // from B (with B's address in the Host header) and, being independent, is an anchor.
    let p = pair();
    for spelling in SPELLINGS_OF_127_0_0_1 {
        let (payload, marker) = marker_script(&p.env, "tool.sh");
        p.a.route("/tool.sh", Reply::bytes(&payload));
        p.b.route(
            "/SHA256SUMS",
            Reply::bytes(gnu_checksums(&[("tool.sh", &payload)])),
        );
        p.b.clear_requests();
        let out = run_with_list(
            &p,
            &at(&p.a, "127.0.0.1", "/tool.sh"),
            &at(&p.b, spelling, "/SHA256SUMS"),
        );
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
        let reqs = p.b.requests_to("/SHA256SUMS");
        assert_eq!(reqs.len(), 1, "{spelling}");
        assert_eq!(
            reqs[0].header("host"),
            Some(format!("127.0.0.1:{}", p.b.port()).as_str()),
            "{spelling}"
        );
    }
}

#[test]
fn a_redirect_to_another_spelling_of_the_lists_host_is_no_anchor() {
    let p = pair();
    let (payload, marker) = marker_script(&p.env, "tool.sh");
    p.b.route("/tool.sh", Reply::bytes(&payload));
    p.b.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &payload)])),
    );
    for spelling in SPELLINGS_OF_127_0_0_1 {
        // The payload on A redirects to B (the list's server) under another spelling.
        p.a.route(
            "/tool.sh",
            Reply::redirect(302, at(&p.b, spelling, "/tool.sh")),
        );
        let out = run_with_list(
            &p,
            &at(&p.a, "127.0.0.1", "/tool.sh"),
            &at(&p.b, "127.0.0.1", "/SHA256SUMS"),
        );
        assert_no_anchor(&out, &marker, "same origin");
    }
    // The list on B redirects to A (the payload's server) under another spelling.
    p.a.route("/tool.sh", Reply::bytes(&payload));
    p.a.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &payload)])),
    );
    for spelling in SPELLINGS_OF_127_0_0_1 {
        p.b.route(
            "/SHA256SUMS",
            Reply::redirect(302, at(&p.a, spelling, "/SHA256SUMS")),
        );
        let out = run_with_list(
            &p,
            &at(&p.a, "127.0.0.1", "/tool.sh"),
            &at(&p.b, "127.0.0.1", "/SHA256SUMS"),
        );
        assert_no_anchor(&out, &marker, "own origin");
    }
}

#[test]
fn a_scope_covers_every_spelling_of_its_host() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let key = TestKey::generate();
    let (payload, marker) = marker_script(&env, "tool.sh");
    publish_signed(&server, &key, "/rel/tool.sh", &payload);
    let scope = at(&server, "0x7f000001", "/rel/");
    let out = env.verun([
        "key",
        "add",
        "pub",
        "--pubkey",
        &key.public_key_base64(),
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    for host in ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]", "2130706433"] {
        let out = env.verun([
            "run",
            &at(&server, host, "/rel/tool.sh"),
            "--cacert",
            &cacert(&server),
        ]);
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
    }
    // Another address is not covered: no key applies, nothing runs.
    let out = env.verun([
        "run",
        &at(&server, "localhost", "/rel/tool.sh"),
        "--cacert",
        &cacert(&server),
    ]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
}

#[test]
fn a_lock_entry_is_found_under_another_spelling_of_its_url() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let (payload, marker) = marker_script(&env, "tool.sh");
    server.route("/tool.sh", Reply::bytes(&payload));
    let ca = cacert(&server);
    let out = env.verun([
        "run",
        &at(&server, "127.1", "/tool.sh"),
        "--sha256",
        &sha256_hex(&payload),
        "--lock",
        "verun.lock",
        "--cacert",
        &ca,
    ]);
    assert_exit(&out, 0);
    std::fs::remove_file(&marker).unwrap();
    let locked = env.read("verun.lock");
    let text = String::from_utf8_lossy(&locked).into_owned();
    assert!(
        text.contains(&format!(
            "[\"https://127.0.0.1:{}/tool.sh\"]",
            server.port()
        )),
        "a new entry is keyed by the canonical URL:\n{text}"
    );
    // --frozen under other spellings: the entry alone is the anchor; the file is untouched.
    for host in [
        "127.0.0.1",
        "2130706433",
        "[::ffff:127.0.0.1]",
        "0177.0.0.1",
    ] {
        let out = env.verun([
            "run",
            &at(&server, host, "/tool.sh"),
            "--lock",
            "verun.lock",
            "--frozen",
            "--cacert",
            &ca,
        ]);
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
        assert!(
            env.read("verun.lock") == locked,
            "{host}: lockfile rewritten"
        );
    }
    // Other bytes under another spelling are lock drift, even with a matching --sha256.
    let (other, other_marker) = marker_script_with(&env, "tool.sh", "# changed");
    server.route("/tool.sh", Reply::bytes(&other));
    let out = env.verun([
        "run",
        &at(&server, "0x7f.1", "/tool.sh"),
        "--sha256",
        &sha256_hex(&other),
        "--lock",
        "verun.lock",
        "--cacert",
        &ca,
    ]);
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("lock drift"), "{}", stderr(&out));
    assert_not_ran(&other_marker);
    assert!(env.read("verun.lock") == locked);

    // A 0.1 lockfile whose key is spelled another way is read unchanged and matched.
    server.route("/tool.sh", Reply::bytes(&payload));
    let old = text.replace(
        &format!("https://127.0.0.1:{}/tool.sh", server.port()),
        &format!("https://LOCALHOST.:{}/tool.sh", server.port()),
    );
    env.write("old.lock", &old);
    let out = env.verun([
        "run",
        &at(&server, "localhost", "/tool.sh"),
        "--lock",
        "old.lock",
        "--frozen",
        "--cacert",
        &ca,
    ]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert!(env.read("old.lock") == old.as_bytes());
}

#[test]
fn a_rollback_mark_holds_under_another_spelling_of_the_url() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let key = TestKey::generate();
    let (payload, marker) = marker_script(&env, "tool.sh");
    let now = now_timestamp();
    server.route("/tool.sh", Reply::bytes(&payload));
    server.route(
        "/tool.sh.minisig",
        Reply::bytes(key.sign_tc(&payload, &trusted_comment_at(now, "tool.sh", false))),
    );
    let ca = cacert(&server);
    let pk = key.public_key_base64();
    let out = env.verun([
        "run",
        &at(&server, "127.0.0.1", "/tool.sh"),
        "--key",
        &pk,
        "--cacert",
        &ca,
    ]);
    assert_exit(&out, 0);
    std::fs::remove_file(&marker).unwrap();
    // Last year's signature, requested under another spelling of the same URL.
    server.route(
        "/tool.sh.minisig",
        Reply::bytes(key.sign_tc(
            &payload,
            &trusted_comment_at(now - 365 * 86400, "tool.sh", false),
        )),
    );
    let out = env.verun([
        "run",
        &at(&server, "127.1", "/tool.sh"),
        "--key",
        &pk,
        "--cacert",
        &ca,
    ]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
}

#[test]
fn hosts_a_resolver_could_read_differently_are_usage_errors() {
    let env = TestEnv::new();
    let server = TestServer::https();
    server.route("/x.sh", Reply::bytes("#!/bin/sh\n"));
    for host in [
        "127.0.0.1.",
        "127.1.",
        "a%2etest",
        "1.2.3.4.5",
        "256.0.0.1",
        "08",
        "0x",
        "a.1",
        "[fe80::1%25lo]",
    ] {
        let url = at(&server, host, "/x.sh");
        let out = env.verun([
            "run",
            &url,
            "--sha256",
            &"0".repeat(64),
            "--cacert",
            &cacert(&server),
        ]);
        assert_exit(&out, 64);
        let err = stderr(&out);
        assert!(
            err.contains("verun: error: ") && err.contains("verun: hint: "),
            "{host}: {err}"
        );
    }
    assert_eq!(server.accepted_connections(), 0, "nothing was contacted");
}

// --- item 3: plain http never carries an unsigned anchor -------------------------------------

#[test]
fn an_unsigned_list_over_plain_http_is_no_anchor() {
    let env = TestEnv::new();
    let ca = TestCa::new();
    let http_a = TestServer::http();
    let http_b = TestServer::http();
    let https = TestServer::https_with_ca(&ca);
    let (payload, marker) = marker_script(&env, "tool.sh");
    let list = gnu_checksums(&[("tool.sh", &payload)]);
    for s in [&http_a, &http_b, &https] {
        s.route("/tool.sh", Reply::bytes(&payload));
        s.route("/SHA256SUMS", Reply::bytes(&list));
    }
    // The payload over http, the list from an independent http origin.
    let cases: Vec<(String, String)> = vec![
        (http_a.url("/tool.sh"), http_b.url("/SHA256SUMS")),
        // The payload over https, the list over http.
        (https.url("/tool.sh"), http_b.url("/SHA256SUMS")),
        // The payload over http, the list over https.
        (http_a.url("/tool.sh"), https.url("/SHA256SUMS")),
        // The list's first hop is http (redirected to https).
        (https.url("/tool.sh"), http_b.url("/to-https")),
        // The payload's first hop is http (redirected to https).
        (http_a.url("/r/tool.sh"), http_b.url("/SHA256SUMS")),
    ];
    http_b.route("/to-https", Reply::redirect(302, https.url("/SHA256SUMS")));
    http_a.route("/r/tool.sh", Reply::redirect(302, https.url("/tool.sh")));
    let local = env.write("SHA256SUMS", &list);
    let mut all = cases;
    // A local list vouching for an http payload.
    all.push((http_a.url("/tool.sh"), local.display().to_string()));
    for (url, list_loc) in &all {
        let out = env.verun([
            "run",
            url,
            "--checksums",
            list_loc,
            "--allow-http",
            "--cacert",
            &cacert(&https),
        ]);
        assert_no_anchor(&out, &marker, "plain http");
        let err = stderr(&out);
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("verun: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{url} {list_loc}: {err}");
    }
    // A fetch is refused the same way, leaving nothing at -o.
    let dest = env.path("out.sh");
    let out = env.verun([
        "fetch",
        &http_a.url("/tool.sh"),
        "-o",
        dest.to_str().unwrap(),
        "--checksums",
        &http_b.url("/SHA256SUMS"),
        "--allow-http",
    ]);
    assert_exit(&out, 77);
    assert_no_file(&dest);
}

#[test]
fn over_plain_http_a_signature_pin_or_lock_entry_still_anchors() {
    let env = TestEnv::new();
    let http = TestServer::http();
    let other = TestServer::http();
    let key = TestKey::generate();
    let (payload, marker) = marker_script(&env, "tool.sh");
    let url = publish_signed(&http, &key, "/tool.sh", &payload);
    other.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &payload)])),
    );
    let list = other.url("/SHA256SUMS");
    let hash = sha256_hex(&payload);
    let pk = key.public_key_base64();
    for extra in [
        vec!["--key", pk.as_str()],
        vec!["--sha256", hash.as_str()],
        vec!["--sha256", hash.as_str(), "--lock", "verun.lock"],
        vec!["--lock", "verun.lock", "--frozen"],
    ] {
        let mut args = vec!["run", url.as_str(), "--allow-http", "--checksums", &list];
        args.extend(extra.iter().copied());
        let out = env.verun(&args);
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
    }
}

// --- item 18: any file name can be run -------------------------------------------------------

#[test]
fn a_long_non_ascii_file_name_runs() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let (payload, marker) = marker_script(&env, "tool.sh");
    // 200 `é` (400 bytes) then `.sh`: 203 characters, over the kernel's 249-byte memfd name.
    let path = format!("/{}.sh", "%C3%A9".repeat(200));
    server.route(&path, Reply::bytes(&payload));
    let out = env.verun([
        "run",
        &server.url(&path),
        "--sha256",
        &sha256_hex(&payload),
        "--cacert",
        &cacert(&server),
    ]);
    assert_exit(&out, 0);
    assert_ran(&marker);
}

#[test]
fn a_file_name_with_an_encoded_nul_runs() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let (payload, marker) = marker_script(&env, "tool.sh");
    server.route("/to%00ol.sh", Reply::bytes(&payload));
    let out = env.verun([
        "run",
        &server.url("/to%00ol.sh"),
        "--sha256",
        &sha256_hex(&payload),
        "--cacert",
        &cacert(&server),
    ]);
    assert_exit(&out, 0);
    assert_ran(&marker);
}

// --- item 4: a declared length alone allocates nothing much ----------------------------------

/// A plain-HTTP server that declares `declared` bytes and sends one `#` every 50 ms, for as
/// long as the client stays; returns its base URL.
fn declaring_dripper(declared: u64) -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = conn.read(&mut head);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nContent-Type: application/octet-stream\r\n\r\n"
                );
                let started = Instant::now();
                while started.elapsed() < Duration::from_secs(30) {
                    if conn.write_all(b"#").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_declared_length_alone_allocates_only_a_bounded_window() {
    let env = TestEnv::new();
    let declared: u64 = 900 << 20; // under the default 1 GiB --max-size
    let base = declaring_dripper(declared);
    let dir = env.path("dl");
    std::fs::create_dir(&dir).unwrap();
    let dest = dir.join("big.bin");
    let mut child = env
        .verun_cmd([
            "fetch",
            &format!("{base}/big.bin"),
            "-o",
            dest.to_str().unwrap(),
            "--sha256",
            &"0".repeat(64),
            "--allow-http",
            "--quiet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Watch the partial file's allocated blocks while the server drips.
    let mut most = 0u64;
    let mut seen = false;
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if let Ok(m) = e.metadata() {
                seen = true;
                most = most.max(m.blocks() * 512);
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen, "the download never created its partial file");
    assert!(
        most <= 16 << 20,
        "{most} bytes allocated for a {declared}-byte claim after a few dripped bytes"
    );
}

#[test]
fn a_declared_length_beyond_the_free_space_is_refused_before_the_download() {
    // Preserved behaviour (the 1 MiB tmpfs test in tests/fetch.rs checks it where mounting
    // is allowed): 1 PiB declared is more than any test disk holds.
    let env = TestEnv::new();
    let base = declaring_dripper(1 << 50);
    let dest = env.path("huge.bin");
    let started = Instant::now();
    let out = env.verun([
        "fetch",
        &format!("{base}/huge.bin"),
        "-o",
        dest.to_str().unwrap(),
        "--sha256",
        &"0".repeat(64),
        "--allow-http",
        "--max-size",
        "2000000G",
    ]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_exit(&out, 74);
    let err = stderr(&out);
    assert!(
        err.contains("no room for the") && err.contains("verun: hint: "),
        "{err}"
    );
    assert_no_file(&dest);
    assert!(
        leftover_files(env.work()).is_empty(),
        "{:?}",
        leftover_files(env.work())
    );
}

// --- redirects resolve as RFC 3986 §5.2 says ---------------------------------------------------

#[test]
fn a_relative_redirect_resolves_against_the_file_as_rfc3986_says() {
    let env = TestEnv::new();
    let server = TestServer::https();
    let (payload, marker) = marker_script(&env, "file.sh");
    let hash = sha256_hex(&payload);
    // `?v=2` keeps the file (not `/dir/?v=2`); `../` segments are removed.
    server.route("/dir/file.sh", Reply::redirect(302, "?v=2"));
    server.route("/dir/file.sh?v=2", Reply::bytes(&payload));
    server.route("/a/b/file.sh", Reply::redirect(302, "../c/./file.sh"));
    server.route("/a/c/file.sh", Reply::bytes(&payload));
    for path in ["/dir/file.sh", "/a/b/file.sh"] {
        let out = env.verun([
            "run",
            &server.url(path),
            "--sha256",
            &hash,
            "--cacert",
            &cacert(&server),
        ]);
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
    }
    let paths = server.requested_paths();
    assert!(
        !paths.iter().any(|p| p.contains("..") || p.contains("/./")),
        "{paths:?}"
    );
}
