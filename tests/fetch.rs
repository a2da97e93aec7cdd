//! Downloads: the network policy of SPEC.md as a table (driven through both `run` and
//! `fetch -o`), then what `fetch -o` promises about the saved file: identical bytes, the
//! right mode, `--json`, and nothing left behind or overwritten when it fails.

mod common;
mod harness;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use harness::*;

/// Timeouts must end a call well within this.
const BOUND: Duration = Duration::from_secs(12);

/// A signed marker script padded with comment lines to at least `len` bytes, served at
/// `https:/<slug>/x.sh`.
fn padded_script(c: &Ctx, s: &str, len: usize) -> (String, Vec<u8>, std::path::PathBuf) {
    let (mut p, m) = c.script(s);
    while p.len() < len {
        p.extend_from_slice(b"# padding padding padding padding padding padding padding\n");
    }
    let url = publish_signed(&c.https, &c.key, &Ctx::path(s, PAYLOAD), &p);
    (url, p, m)
}

fn network_cases() -> Vec<Case> {
    vec![
        Case {
            name: "http_without_allow_http",
            expect: 64,
            setup: |c, s| {
                let (p, m) = c.script(s);
                let url = publish_signed(&c.http, &c.key, &Ctx::path(s, PAYLOAD), &p);
                Setup::new(url, p, m)
                    .args(c.key_arg())
                    .stderr_has("--allow-http")
            },
        },
        Case {
            name: "truncated_body",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(
                    Ctx::path(s, PAYLOAD),
                    Reply::truncated(&p[..p.len() / 2], p.len() as u64),
                );
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "truncated_signature",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let sig = c.key.sign(&p, PAYLOAD);
                c.https.route(
                    Ctx::path(s, "x.sh.minisig"),
                    Reply::truncated(&sig.as_bytes()[..40], sig.len() as u64),
                );
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "broken_chunked_body",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(
                    Ctx::path(s, PAYLOAD),
                    Reply::broken_chunked(&p, ChunkFault::ShortChunk),
                );
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "chunked_body_is_fine",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let (a, b) = p.split_at(p.len() / 3);
                c.https.route(Ctx::path(s, PAYLOAD), Reply::chunked([a, b]));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "payload_404",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.remove_route(&Ctx::path(s, PAYLOAD));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "payload_500",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(Ctx::path(s, PAYLOAD), Reply::status(500));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "signature_500",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https
                    .route(Ctx::path(s, "x.sh.minisig"), Reply::status(503));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "redirect_https_to_http",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let plain = Ctx::serve(&c.http, &Ctx::path(s, PAYLOAD), Reply::bytes(&p));
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::redirect(302, plain));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "redirect_https_to_http_even_with_allow_http",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let plain = Ctx::serve(&c.http, &Ctx::path(s, PAYLOAD), Reply::bytes(&p));
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::redirect(301, plain));
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--allow-http"])
            },
        },
        Case {
            name: "signature_redirect_to_http",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let plain = Ctx::serve(
                    &c.http,
                    &Ctx::path(s, "x.sh.minisig"),
                    Reply::bytes(c.key.sign(&p, PAYLOAD)),
                );
                c.https
                    .route(Ctx::path(s, "x.sh.minisig"), Reply::redirect(307, plain));
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--allow-http"])
            },
        },
        Case {
            name: "redirect_https_to_https_on_another_server",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let there = Ctx::serve(&c.other, &Ctx::path(s, "dl/x.sh"), Reply::bytes(&p));
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::redirect(302, there));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "relative_redirect",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https
                    .route(Ctx::path(s, "releases/x.sh"), Reply::bytes(&p));
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::redirect(308, "releases/x.sh"));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "redirect_loop",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::redirect(302, "y.sh"));
                c.https
                    .route(Ctx::path(s, "y.sh"), Reply::redirect(302, PAYLOAD));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "max_size_exceeded_by_content_length",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = padded_script(c, s, 1500);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size", "1K"])
            },
        },
        Case {
            name: "max_size_exceeded_in_plain_bytes",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = padded_script(c, s, 1500);
                let limit = (p.len() - 1).to_string();
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size".to_string(), limit])
            },
        },
        Case {
            name: "max_size_exactly_the_payload",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = padded_script(c, s, 1500);
                let limit = p.len().to_string();
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size".to_string(), limit])
            },
        },
        Case {
            name: "max_size_lower_case_suffix_allows",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = padded_script(c, s, 1500);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size", "2k"])
            },
        },
        Case {
            name: "max_size_exceeded_while_streaming_without_length",
            expect: 69,
            setup: |c, s| {
                let (p, m) = c.script(s);
                let url = Ctx::serve(&c.https, &Ctx::path(s, PAYLOAD), Reply::endless());
                Setup::new(url, p, m)
                    .args(c.cacert())
                    .args(["--sha256".to_string(), sha256_hex(b"x")])
                    .args(["--max-size", "64K"])
                    .within(BOUND)
            },
        },
        Case {
            name: "max_size_exceeded_in_a_chunked_body",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = padded_script(c, s, 3000);
                let (a, b) = p.split_at(1000);
                c.https.route(Ctx::path(s, PAYLOAD), Reply::chunked([a, b]));
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size", "2K"])
            },
        },
        Case {
            name: "bytes_beyond_content_length_are_not_the_payload",
            expect: 77,
            setup: |c, s| {
                // The response ends where Content-Length says; the signature then does
                // not match the first 100 bytes.
                let (url, p, m) = padded_script(c, s, 3000);
                c.https
                    .route(Ctx::path(s, PAYLOAD), Reply::declared_length(100, &p));
                Setup::new(url, p, m).args(c.trusting())
            },
        },
        Case {
            name: "max_size_malformed",
            expect: 64,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--max-size", "1T"])
            },
        },
        Case {
            name: "untrusted_certificate_without_cacert",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                Setup::new(url, p, m).args(c.key_arg())
            },
        },
        Case {
            name: "ssl_cert_file_works_like_cacert",
            expect: 0,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                Setup::new(url, p, m)
                    .args(c.key_arg())
                    .env("SSL_CERT_FILE", c.ca.pem_path().display().to_string())
            },
        },
        Case {
            name: "self_signed_certificate",
            expect: 69,
            setup: |c, s| {
                let server = TestServer::https_with(&c.ca, self_signed_identity(&["localhost"]));
                let (p, m) = c.script(s);
                let url = publish_signed(&server, &c.key, &Ctx::path(s, PAYLOAD), &p);
                Setup::new(url, p, m).args(c.trusting()).keep(server)
            },
        },
        Case {
            name: "expired_certificate",
            expect: 69,
            setup: |c, s| {
                let server = TestServer::https_with(&c.ca, c.ca.leaf_expired(&["localhost"]));
                let (p, m) = c.script(s);
                let url = publish_signed(&server, &c.key, &Ctx::path(s, PAYLOAD), &p);
                Setup::new(url, p, m).args(c.trusting()).keep(server)
            },
        },
        Case {
            name: "certificate_for_another_name",
            expect: 69,
            setup: |c, s| {
                let server = TestServer::https_with(&c.ca, c.ca.leaf(&["example.invalid"]));
                let (p, m) = c.script(s);
                let url = publish_signed(&server, &c.key, &Ctx::path(s, PAYLOAD), &p);
                Setup::new(url, p, m).args(c.trusting()).keep(server)
            },
        },
        Case {
            name: "cacert_without_certificates",
            expect: 64,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let bogus = c.env.write(format!("{s}.pem"), "not a certificate\n");
                Setup::new(url, p, m)
                    .args(c.key_arg())
                    .args(["--cacert".to_string(), bogus.display().to_string()])
            },
        },
        Case {
            name: "timeout_malformed",
            expect: 64,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "soon"])
            },
        },
    ]
}

#[test]
fn network_matrix() {
    run_matrix(&Ctx::new(), &network_cases(), BOTH);
}

/// Deadlines: every call must end within [`BOUND`], whatever the server does.
fn deadline_cases() -> Vec<Case> {
    vec![
        Case {
            name: "connection_refused",
            expect: 69,
            setup: |c, s| {
                let port = {
                    let l = TcpListener::bind("127.0.0.1:0").unwrap();
                    l.local_addr().unwrap().port()
                };
                let (p, m) = c.script(s);
                Setup::new(format!("https://localhost:{port}/{s}/x.sh"), p, m)
                    .args(c.trusting())
                    .args(["--timeout", "5"])
                    .within(BOUND)
            },
        },
        Case {
            name: "timeout_tls_handshake_never_answered",
            expect: 69,
            setup: |c, s| {
                // A plain-HTTP server waits for a request head that a TLS ClientHello
                // never completes: the handshake hangs.
                let silent = TestServer::http();
                let url = format!("https://127.0.0.1:{}/{s}/x.sh", silent.port());
                let (p, m) = c.script(s);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "1"])
                    .within(BOUND)
                    .keep(silent)
            },
        },
        Case {
            name: "timeout_hanging_payload",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(Ctx::path(s, PAYLOAD), Reply::hang());
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "1"])
                    .within(BOUND)
            },
        },
        Case {
            name: "timeout_hanging_signature",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(Ctx::path(s, "x.sh.minisig"), Reply::hang());
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "1"])
                    .within(BOUND)
            },
        },
        Case {
            name: "timeout_stalled_body",
            expect: 69,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                c.https.route(
                    Ctx::path(s, PAYLOAD),
                    Reply::drip(&p, Duration::from_secs(3)),
                );
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "1"])
                    .within(BOUND)
            },
        },
        Case {
            name: "timeout_is_an_overall_deadline",
            expect: 69,
            setup: |c, s| {
                // A byte every 100 ms never trips a per-read stall deadline of 1 s, but
                // the whole body takes minutes.
                let (url, p, m) = c.signed_script(s);
                c.https.route(
                    Ctx::path(s, PAYLOAD),
                    Reply::drip(&p, Duration::from_millis(100)),
                );
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--timeout", "1"])
                    .within(BOUND)
            },
        },
    ]
}

#[test]
fn deadline_matrix() {
    run_matrix(&Ctx::new(), &deadline_cases(), BOTH);
}

// --- fetch -o -----------------------------------------------------------------------------

fn mode_of(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// `fetch URL -o work/<out> --cacert CA --key KEY` for `payload` served at `/<name>/<file>`.
fn fetch_args(c: &Ctx, name: &str, file: &str, payload: &[u8], out: &str) -> Vec<String> {
    let url = publish_signed(&c.https, &c.key, &Ctx::path(name, file), payload);
    let mut v = vec!["fetch".to_string(), url, "-o".into(), out.into()];
    v.extend(c.trusting());
    v
}

#[test]
fn fetch_saves_identical_bytes_with_the_right_mode() {
    let c = Ctx::new();
    let (script, marker) = c.script("mode");
    let elf = fs::read("/bin/echo").expect("/bin/echo");
    let data = b"just,some,data\n1,2,3\n".to_vec();
    // (case, served file name, payload, extra flags, expected mode)
    type ModeCase<'a> = (&'a str, &'a str, Vec<u8>, &'a [&'a str], u32);
    let cases: Vec<ModeCase> = vec![
        ("script", "install.sh", script.clone(), &[], 0o755),
        ("elf", "tool", elf, &[], 0o755),
        ("data", "data.csv", data.clone(), &[], 0o644),
        ("explicit", "install.sh", script, &["--mode", "0600"], 0o600),
        ("explicit3", "data.csv", data, &["--mode", "750"], 0o750),
    ];
    for (name, file, payload, extra, mode) in cases {
        let out_rel = format!("{name}/{file}");
        fs::create_dir_all(c.env.path(name)).unwrap();
        let mut args = fetch_args(&c, name, file, &payload, &out_rel);
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = c.env.verun(&args);
        assert_exit(&out, 0);
        assert_eq!(stdout(&out), "", "{name}: fetch prints nothing on stdout");
        let saved = c.env.path(&out_rel);
        assert!(fs::read(&saved).unwrap() == payload, "{name}: bytes differ");
        assert_eq!(mode_of(&saved), mode, "{name}: mode {:o}", mode_of(&saved));
        assert_dir_holds(&c.env.path(name), &[file]);
    }
    assert_not_ran(&marker);
}

#[test]
fn fetch_replaces_an_existing_file_on_success() {
    let c = Ctx::new();
    let (p, marker) = c.script("replace");
    let target = c.env.write("bin/tool", "old contents\n");
    let out = c
        .env
        .verun(fetch_args(&c, "replace", "tool", &p, "bin/tool"));
    assert_exit(&out, 0);
    assert_eq!(fs::read(&target).unwrap(), p);
    assert_dir_holds(&c.env.path("bin"), &["tool"]);
    assert_not_ran(&marker);
}

#[test]
fn a_failed_fetch_leaves_an_existing_file_untouched() {
    let c = Ctx::new();
    let (p, marker) = c.script("keep");
    // (case, what the server answers, --sha256, extra flags, expected exit code)
    type FailCase<'a> = (&'a str, Reply, Option<String>, &'a [&'a str], i32);
    let cases: Vec<FailCase> = vec![
        ("bad-signature", Reply::bytes(b"echo evil\n"), None, &[], 77),
        (
            "truncated",
            Reply::truncated(&p[..10], p.len() as u64),
            None,
            &[],
            69,
        ),
        ("gone", Reply::status(404), None, &[], 69),
        ("too-big", Reply::bytes(&p), None, &["--max-size", "16"], 69),
        (
            "pin-mismatch",
            Reply::bytes(&p),
            Some(sha256_hex(b"x")),
            &[],
            77,
        ),
    ];
    for (name, reply, pin, extra, code) in cases {
        let dir = c.env.path(format!("keep-{name}"));
        let target = c.env.write(format!("keep-{name}/tool"), "precious\n");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700)).unwrap();
        let url = publish_signed(&c.https, &c.key, &format!("/{name}/tool"), &p);
        c.https.route(format!("/{name}/tool"), reply);
        let mut args = vec![
            "fetch".to_string(),
            url,
            "-o".into(),
            target.display().to_string(),
        ];
        args.extend(c.trusting());
        args.extend(extra.iter().map(|s| s.to_string()));
        if let Some(pin) = pin {
            args.extend(["--sha256".to_string(), pin]);
        }
        let out = c.env.verun(&args);
        assert_refused(&c.env, &out, code, &marker);
        assert_eq!(fs::read(&target).unwrap(), b"precious\n", "{name}");
        assert_eq!(mode_of(&target), 0o700, "{name}: mode changed");
        assert_dir_holds(&dir, &["tool"]);
    }
}

#[test]
fn fetch_json_reports_one_object() {
    let c = Ctx::new();
    let (p, _) = c.script("json");
    let mut args = fetch_args(&c, "json", "install.sh", &p, "install.sh");
    args.push("--json".into());
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["sha256"], sha256_hex(&p), "{v}");
    assert_eq!(v["size"], p.len() as u64, "{v}");
    assert!(
        v["output"].as_str().unwrap_or("").ends_with("install.sh"),
        "{v}"
    );
    assert_eq!(
        v["signature"]["key_id"],
        c.key.key_id_hex(),
        "the signing key is reported: {v}"
    );
    assert_eq!(c.env.read("install.sh"), p);

    // A refusal with --json: still one object, with ok=false and the exit code.
    c.https
        .route("/json/install.sh", Reply::bytes(b"echo evil\n"));
    let out = c.env.verun(&args);
    assert_exit(&out, 77);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["exit_code"], 77, "{v}");
    assert_eq!(c.env.read("install.sh"), p, "the earlier file is untouched");
}

#[test]
fn fetch_output_problems_are_found_before_downloading() {
    let c = Ctx::new();
    let (p, marker) = c.script("outdir");

    // -o in a directory that does not exist: local I/O error.
    let out = c
        .env
        .verun(fetch_args(&c, "outdir", PAYLOAD, &p, "no/such/dir/x.sh"));
    assert_refused(&c.env, &out, 74, &marker);
    assert_no_file(&c.env.path("no"));

    // -o naming a directory: usage error.
    fs::create_dir(c.env.path("adir")).unwrap();
    let out = c.env.verun(fetch_args(&c, "outdir", PAYLOAD, &p, "adir"));
    assert_refused(&c.env, &out, 64, &marker);
    assert_dir_holds(&c.env.path("adir"), &[]);

    // A malformed --mode: usage error.
    let mut args = fetch_args(&c, "outdir", PAYLOAD, &p, "x.sh");
    args.extend(["--mode".to_string(), "0999".to_string()]);
    let out = c.env.verun(&args);
    assert_refused(&c.env, &out, 64, &marker);
    assert_nothing_at(&c.env.path("x.sh"));

    assert_eq!(c.https.hits("/outdir/x.sh"), 0, "nothing may be downloaded");
}

#[test]
fn fetch_quiet_prints_nothing() {
    let c = Ctx::new();
    let (p, _) = c.script("quiet");
    let mut args = fetch_args(&c, "quiet", PAYLOAD, &p, "x.sh");
    args.push("-q".into());
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    assert_eq!(c.env.read("x.sh"), p);
}

#[test]
fn every_request_carries_the_verun_user_agent() {
    let c = Ctx::new();
    let (p, _) = c.script("ua");
    let list = Ctx::serve(
        &c.other,
        "/ua/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("x.sh", &p)])),
    );
    let mut args = fetch_args(&c, "ua", PAYLOAD, &p, "x.sh");
    args.extend(["--checksums".to_string(), list]);
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    let want = format!("verun/{}", env!("CARGO_PKG_VERSION"));
    let mut requests = c.https.requests();
    requests.extend(c.other.requests());
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    for path in ["/ua/x.sh", "/ua/x.sh.minisig", "/ua/SHA256SUMS"] {
        assert!(paths.contains(&path), "{path} was not requested: {paths:?}");
    }
    for r in &requests {
        assert_eq!(
            r.user_agent(),
            Some(want.as_str()),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.method, "GET");
    }
}

#[test]
fn an_interrupted_fetch_leaves_nothing() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    use std::time::Instant;
    let c = Ctx::new();
    let (p, marker) = c.script("intr");
    for (sig, num) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let path = format!("/intr-{sig}/x.sh");
        let url = publish_signed(&c.https, &c.key, &path, &p);
        c.https
            .route(&path, Reply::drip(&p, Duration::from_millis(100)));
        let dir = c.env.path(format!("intr-{sig}"));
        fs::create_dir_all(&dir).unwrap();
        let mut args = vec![
            "fetch".to_string(),
            url,
            "-o".into(),
            dir.join("x.sh").display().to_string(),
        ];
        args.extend(c.trusting());
        let mut child = c
            .env
            .verun_cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the download has started writing its .partial file.
        let until = Instant::now() + BOUND;
        while leftover_files(&dir).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !leftover_files(&dir).is_empty(),
            "the download never started"
        );
        std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let until = Instant::now() + BOUND;
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("verun did not end after SIG{sig}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.signal() == Some(num) || status.code() == Some(128 + num),
            "SIG{sig}: {status:?}"
        );
        assert_dir_holds(&dir, &[]);
    }
    assert_not_ran(&marker);
}

/// A 1 MiB tmpfs mounted at `dir` for one test (root with mount rights, as in CI), unmounted
/// on drop. `None`, said loudly, where mounting is not allowed, unless
/// `VERUN_REQUIRE_MOUNT_TEST=1` (set by `.ci/run`), which makes that a failure.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path) -> Option<SmallDisk> {
        fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk(dir.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                skipped(
                    "a_full_disk_stops_fetch_before_the_download",
                    &format!("cannot mount a small tmpfs ({why})"),
                    "VERUN_REQUIRE_MOUNT_TEST",
                    Need::Environment,
                );
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_stops_fetch_before_the_download() {
    let c = Ctx::new();
    let Some(disk) = SmallDisk::mount(&c.env.path("small")) else {
        return;
    };
    // 4 MiB on a 1 MiB file system, served one byte per millisecond: downloading it would
    // take over an hour, so a quick answer means verun stopped at the declared length.
    let (url, p, marker) = padded_script(&c, "full", 4 << 20);
    c.https.route(
        Ctx::path("full", PAYLOAD),
        Reply::drip(&p, Duration::from_millis(1)),
    );
    let out_path = disk.0.join("big.sh");
    let mut args = vec![
        "fetch".to_string(),
        url,
        "-o".into(),
        out_path.display().to_string(),
    ];
    args.extend(c.trusting());
    // Without the early stop this would download until the deadline and fail with 69.
    args.extend(["--timeout".to_string(), "8".to_string()]);
    let started = std::time::Instant::now();
    let out = c.env.verun(&args);
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    assert_refused(&c.env, &out, 74, &marker);
    let err = stderr(&out);
    assert!(
        err.contains("no room for the 4") && err.contains("download in"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_dir_holds(&disk.0, &[]);

    // What fits still saves normally on the same small disk.
    let (small, marker2) = c.script("fits");
    let args = fetch_args(
        &c,
        "fits",
        "fits.sh",
        &small,
        &disk.0.join("fits.sh").display().to_string(),
    );
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    assert!(fs::read(disk.0.join("fits.sh")).unwrap() == small);
    assert_dir_holds(&disk.0, &["fits.sh"]);
    assert_not_ran(&marker2);
}
