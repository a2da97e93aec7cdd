//! Every refusal carries a stable, machine-readable reason in `--json` (issue 13: typed
//! joins instead of English text): scripts match on `"reason"`, not on the message.

mod common;

use common::*;

/// `fetch URL -o out --json` plus `extra`; returns the JSON report of the failure.
fn refused(env: &TestEnv, cacert: &[String], url: &str, extra: &[&str]) -> serde_json::Value {
    let mut a = args(&["fetch", url, "-o", "out.bin", "--json"]);
    a.extend(cacert.iter().cloned());
    a.extend(args(extra));
    let out = env.verun(&a);
    assert_exit(&out, 77);
    assert_no_file(&env.path("out.bin"));
    serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {:?} / {}", stdout(&out), stderr(&out)))
}

#[test]
fn every_refusal_names_its_reason_in_json() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let other = TestKey::generate();
    let k = key.public_key_base64();
    let body = b"#!/bin/sh\nexit 0\n".to_vec();
    let now = now_timestamp();
    let sig_at = |ts: u64, name: &str| key.sign_tc(&body, &trusted_comment_at(ts, name, false));
    let route = |path: &str, sig: Option<String>| {
        server.route(path, Reply::bytes(&body));
        if let Some(sig) = sig {
            server.route(format!("{path}.minisig"), Reply::bytes(sig));
        }
        server.url(path)
    };
    let mut tampered = body.clone();
    tampered.push(b'#');
    server.route("/t/x.sh", Reply::bytes(&tampered));
    server.route("/t/x.sh.minisig", Reply::bytes(key.sign(&body, "x.sh")));
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        ("no-trust-anchor", route("/a/x.sh", None), vec![]),
        (
            "checksum-mismatch",
            route("/b/x.sh", None),
            args(&["--sha256", &"0".repeat(64)]),
        ),
        ("bad-signature", server.url("/t/x.sh"), args(&["--key", &k])),
        (
            "missing-signature",
            route("/c/x.sh", None),
            args(&["--key", &k]),
        ),
        (
            "untrusted-key",
            route("/d/x.sh", Some(other.sign(&body, "x.sh"))),
            args(&["--key", &k]),
        ),
        (
            "file-mismatch",
            route("/e/x.sh", Some(key.sign(&body, "y.sh"))),
            args(&["--key", &k]),
        ),
        (
            "legacy-signature",
            route("/f/x.sh", Some(key.sign_legacy(&body, "x.sh"))),
            args(&["--key", &k]),
        ),
        (
            "malformed-signature",
            route("/g/x.sh", Some("not a signature\n".into())),
            args(&["--key", &k]),
        ),
        (
            "not-locked",
            route("/h/x.sh", None),
            args(&[
                "--sha256",
                &sha256_hex(&body),
                "--lock",
                "l.lock",
                "--frozen",
            ]),
        ),
    ];
    for (reason, url, extra) in &cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let v = refused(&env, &cacert, url, &extra);
        assert_eq!(v["reason"], *reason, "{url}: {v}");
        assert_eq!(v["ok"], false);
    }

    // Rollback: a newer signature first, then an older one.
    let url = route("/r/x.sh", Some(sig_at(now - 10, "x.sh")));
    let mut ok = args(&["fetch", &url, "-o", "r.bin", "--key", &k]);
    ok.extend(cacert.iter().cloned());
    assert_exit(&env.verun(&ok), 0);
    server.route("/r/x.sh.minisig", Reply::bytes(sig_at(now - 1000, "x.sh")));
    assert_eq!(
        refused(&env, &cacert, &url, &["--key", &k])["reason"],
        "rollback"
    );

    // Lock drift: locked, then the bytes change under a valid signature.
    let url = route("/l/x.sh", Some(key.sign(&body, "x.sh")));
    let mut lock = args(&[
        "fetch", &url, "-o", "l.bin", "--key", &k, "--lock", "v.lock",
    ]);
    lock.extend(cacert.iter().cloned());
    assert_exit(&env.verun(&lock), 0);
    server.route("/l/x.sh", Reply::bytes(&tampered));
    server.route("/l/x.sh.minisig", Reply::bytes(key.sign(&tampered, "x.sh")));
    let v = refused(&env, &cacert, &url, &["--key", &k, "--lock", "v.lock"]);
    assert_eq!(v["reason"], "lock-drift");

    // Revoked, then a store key out of scope.
    let pub_file = key.write_public_key(env.path("k.pub"));
    let scoped = env.verun([
        "key",
        "add",
        "acme",
        "--file",
        pub_file.to_str().unwrap(),
        "--scope",
        "https://acme.example/",
    ]);
    assert_exit(&scoped, 0);
    let url = route("/s/x.sh", Some(key.sign(&body, "x.sh")));
    assert_eq!(
        refused(&env, &cacert, &url, &[])["reason"],
        "key-out-of-scope"
    );
    assert_exit(&env.verun(["key", "revoke", "acme"]), 0);
    assert_eq!(
        refused(&env, &cacert, &url, &["--key", &k])["reason"],
        "key-revoked"
    );
}

#[test]
fn errors_that_are_not_refusals_carry_no_reason() {
    let (env, server, cacert) = https_site();
    let mut a = args(&["fetch", &server.url("/missing.sh"), "-o", "o", "--json"]);
    a.extend(cacert);
    a.extend(args(&["--sha256", &"0".repeat(64)]));
    let out = env.verun(&a);
    assert_exit(&out, 69);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(v["reason"].is_null(), "{v}");
}
