//! Everyday mistakes get an answer that names the real problem (issue 12, "Errors that
//! name the real problem"): each keeps the SPEC's exit code, says what is wrong in one line
//! and how to fix it in a hint, and runs and downloads nothing it should not.

mod common;

use base64::Engine as _;
use common::*;

#[track_caller]
fn assert_error_line(out: &std::process::Output, code: i32, needle: &str) {
    assert_exit(out, code);
    let err = stderr(out);
    let error_lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected:\n{err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    assert!(err.contains("hint:"), "no hint:\n{err}");
}

#[test]
fn a_typo_in_the_url_is_a_404_not_a_missing_signature() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    publish_signed(&server, &key, "/dl/tool.sh", b"#!/bin/sh\nexit 0\n");
    let mut a = args(&[
        "run",
        &server.url("/dl/tool.hs"),
        "--key",
        &key.public_key_base64(),
    ]);
    a.extend(cacert.clone());
    assert_error_line(&env.verun(&a), 69, "404");
    // The payload exists, only the signature is missing: still a refusal (77).
    server.remove_route("/dl/tool.sh.minisig");
    let mut a = args(&[
        "run",
        &server.url("/dl/tool.sh"),
        "--key",
        &key.public_key_base64(),
    ]);
    a.extend(cacert);
    assert_error_line(&env.verun(&a), 77, "not found");
}

#[test]
fn verify_of_a_missing_file_says_the_file_is_missing() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let out = env.verun(["verify", "nope.sh", "--key", &key.public_key_base64()]);
    assert_error_line(&out, 74, "nope.sh");
    assert!(!stderr(&out).contains("signature"), "{}", stderr(&out));
}

#[test]
fn a_self_signed_ca_certificate_as_cacert_is_explained() {
    let env = TestEnv::new();
    let identity = self_signed_ca_identity(&["localhost", "127.0.0.1"]);
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(identity.cert_der())
    );
    let cert = env.write("self-signed.pem", pem);
    let server = TestServer::https_with(&TestCa::new(), identity);
    server.route("/x.sh", Reply::bytes("#!/bin/sh\n"));
    let out = env.verun([
        "run",
        &server.url("/x.sh"),
        "--sha256",
        &"0".repeat(64),
        "--cacert",
        cert.to_str().unwrap(),
    ]);
    assert_error_line(&out, 69, "CA certificate as its own");
    assert!(
        !stderr(&out).contains("CaUsedAsEndEntity"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_key_add_flag_mix_up_suggests_the_other_flag() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let pub_file = key.write_public_key(env.path("k.pub"));
    let out = env.verun([
        "key",
        "add",
        "k",
        "--pubkey",
        pub_file.to_str().unwrap(),
        "--global",
    ]);
    assert_error_line(&out, 64, "--file");
    let out = env.verun([
        "key",
        "add",
        "k",
        "--file",
        &key.public_key_base64(),
        "--global",
    ]);
    assert_error_line(&out, 64, "--pubkey");
}

#[test]
fn a_usage_error_with_json_still_prints_json() {
    let env = TestEnv::new();
    let out = env.verun(["fetch", "https://localhost/x", "--json", "--no-such-flag"]);
    assert_exit(&out, 64);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {:?}", stdout(&out)));
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 64);
    assert!(v["error"].as_str().unwrap().contains("no-such-flag"), "{v}");
}

#[test]
fn a_missing_signature_names_the_store_key_that_expects_it() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    assert_exit(
        &env.verun([
            "key",
            "add",
            "everything",
            "--pubkey",
            &key.public_key_base64(),
            "--global",
        ]),
        0,
    );
    let body = b"#!/bin/sh\nexit 0\n";
    server.route("/u/tool.sh", Reply::bytes(body));
    let mut a = args(&[
        "run",
        &server.url("/u/tool.sh"),
        "--sha256",
        &sha256_hex(body),
    ]);
    a.extend(cacert);
    assert_error_line(&env.verun(&a), 77, "store key everything");
}

#[test]
fn bad_run_options_are_usage_errors_before_any_download() {
    let (env, server, cacert) = https_site();
    let (script, marker) = marker_script(&env, "opts");
    server.route("/o/tool.sh", Reply::bytes(&script));
    let pin = sha256_hex(&script);
    for (extra, needle) in [
        (vec!["--env", "BAD NAME=1"], "environment variable name"),
        (vec!["--env", "=x"], "environment variable name"),
        (vec!["--interpreter", "bash -x"], "not a command line"),
        (
            vec!["--interpreter", "no-such-interpreter-here"],
            "no such program",
        ),
    ] {
        let mut a = args(&["run", &server.url("/o/tool.sh"), "--sha256", &pin]);
        a.extend(cacert.clone());
        a.extend(extra.iter().map(|s| s.to_string()));
        assert_error_line(&env.verun(&a), 64, needle);
        assert_not_ran(&marker);
    }
    assert_eq!(server.hits("/o/tool.sh"), 0, "nothing may be downloaded");
    // Good options still run.
    let mut a = args(&["run", &server.url("/o/tool.sh"), "--sha256", &pin]);
    a.extend(cacert);
    a.extend(args(&["--env", "GOOD_NAME=1", "--interpreter", "sh"]));
    assert_exit(&env.verun(&a), 0);
    assert_ran(&marker);
}

#[test]
fn a_broken_proxy_is_named_in_the_error() {
    let (env, server, cacert) = https_site();
    server.route("/p/tool.sh", Reply::bytes("#!/bin/sh\n"));
    let mut a = args(&[
        "fetch",
        &server.url("/p/tool.sh"),
        "-o",
        "t.sh",
        "--sha256",
        &"0".repeat(64),
    ]);
    a.extend(cacert);
    // A closed port on loopback stands for a proxy that is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut cmd = env.verun_cmd(&a);
    cmd.env(
        "HTTPS_PROXY",
        format!("http://user:secret@127.0.0.1:{port}"),
    );
    let out = run_with_timeout(&mut cmd, DEFAULT_TIMEOUT);
    assert_error_line(
        &out,
        69,
        &format!("proxy 127.0.0.1:{port} (from HTTPS_PROXY)"),
    );
    assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
    // A proxy variable that does not parse is a usage error, not a silent direct connection.
    let mut cmd = env.verun_cmd(&a);
    cmd.env("HTTPS_PROXY", "http://[::1");
    let out = run_with_timeout(&mut cmd, DEFAULT_TIMEOUT);
    assert_error_line(&out, 64, "HTTPS_PROXY");
    assert_eq!(server.hits("/p/tool.sh"), 0);
    assert_no_file(&env.path("t.sh"));
}

#[test]
fn declining_confirm_says_you_declined() {
    // `script` gives verun a real pseudo-terminal to ask on; we answer "n".
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        if std::env::var_os("CI").is_some() {
            panic!("`script` (util-linux) is required in CI for the --confirm test");
        }
        eprintln!("SKIPPED declining_confirm_says_you_declined: no `script` command");
        return;
    }
    let (env, server, cacert) = https_site();
    let (script, marker) = marker_script(&env, "confirm");
    server.route("/c/tool.sh", Reply::bytes(&script));
    let line = format!(
        "{} run {} --sha256 {} {} {} --confirm",
        verun_bin().display(),
        server.url("/c/tool.sh"),
        sha256_hex(&script),
        cacert[0],
        cacert[1]
    );
    let mut cmd = env.command("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    let out = run_with_input(&mut cmd, b"n\n", DEFAULT_TIMEOUT);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("you declined"), "{all}");
    assert!(!all.contains("needs a terminal"), "{all}");
    assert_not_ran(&marker);
}

#[test]
fn every_error_has_a_hint_line() {
    let (env, server, cacert) = https_site();
    server.route("/x.sh", Reply::bytes("#!/bin/sh\n"));
    env.write("bad.lock", "this is not toml [");
    let mut cases: Vec<(i32, Vec<String>)> = vec![
        (
            64,
            args(&["run", "https://localhost/x.sh", "--sha256", "xyz"]),
        ),
        (
            74,
            args(&["verify", "missing.sh", "--sha256", &"0".repeat(64)]),
        ),
        (
            78,
            args(&[
                "fetch",
                &server.url("/x.sh"),
                "-o",
                "o",
                "--sha256",
                &"0".repeat(64),
                "--lock",
                "bad.lock",
            ]),
        ),
        (
            69,
            args(&[
                "fetch",
                "https://127.0.0.1:1/x.sh",
                "-o",
                "o",
                "--sha256",
                &"0".repeat(64),
            ]),
        ),
    ];
    let mut refused = args(&["fetch", &server.url("/x.sh"), "-o", "o", "--sha256"]);
    refused.push("0".repeat(64));
    refused.extend(cacert);
    cases.push((77, refused));
    for (code, a) in cases {
        let out = env.verun(&a);
        assert_exit(&out, code);
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("verun: ")).collect();
        let e = lines.iter().position(|l| l.contains("error:"));
        let h = lines.iter().position(|l| l.contains("hint:"));
        assert!(
            matches!((e, h), (Some(e), Some(h)) if h == e + 1),
            "{a:?}: an error line followed by a hint line expected:\n{err}"
        );
    }
}
