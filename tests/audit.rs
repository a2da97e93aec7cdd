//! `verun audit LOCKFILE [--json]`: re-fetch every locked URL, report each entry as ok /
//! drifted / unreachable / signature failed, exit 77 / 69 / 0 accordingly.

mod common;

use std::process::Output;

use common::*;

impl Site {
    /// Lock `url` with `verun fetch --lock verun.lock` (signature under the key).
    fn lock(&self, url: &str) {
        let dest = self.env.path("fetched.bin");
        let out = self.env.verun([
            "fetch",
            url,
            "-o",
            &dest.display().to_string(),
            "--allow-http",
            "-q",
            "--lock",
            "verun.lock",
            "--key",
            &self.key.public_key_base64(),
        ]);
        assert_exit(&out, 0);
    }

    fn audit(&self, extra: &[&str]) -> Output {
        let mut a = vec!["audit", "verun.lock", "--allow-http"];
        a.extend_from_slice(extra);
        self.env.verun(a)
    }
}

fn line_for<'a>(out: &'a str, url: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(url))
        .unwrap_or_else(|| panic!("no line for {url} in:\n{out}"))
}

#[test]
fn all_unchanged_is_ok_and_exit_0() {
    let s = Site::new();
    let a = s.publish("/a/one.sh", b"echo one\n");
    let b = s.publish("/a/two.sh", b"echo two\n");
    s.lock(&a);
    s.lock(&b);
    let out = s.audit(&[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(line_for(&text, &a).starts_with("ok "), "{text}");
    assert!(line_for(&text, &b).starts_with("ok "), "{text}");
    // With the key, the signature is verified too.
    let key = s.key.public_key_base64();
    let out = s.audit(&["--key", &key]);
    assert_exit(&out, 0);
    assert!(
        line_for(&stdout(&out), &a).contains("signature by"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn drift_is_77_even_when_another_entry_is_unreachable() {
    let s = Site::new();
    let a = s.publish("/d/one.sh", b"echo one\n");
    let b = s.publish("/d/two.sh", b"echo two\n");
    s.lock(&a);
    s.lock(&b);
    // Validly re-signed, different bytes.
    s.publish("/d/one.sh", b"echo one, changed\n");
    let out = s.audit(&[]);
    assert_exit(&out, 77);
    let text = stdout(&out);
    assert!(line_for(&text, &a).starts_with("drifted "), "{text}");
    assert!(line_for(&text, &b).starts_with("ok "), "{text}");

    s.server.route("/d/two.sh", Reply::status(503));
    let out = s.audit(&[]);
    assert_exit(&out, 77);
    assert!(line_for(&stdout(&out), &b).starts_with("unreachable "));
}

#[test]
fn only_network_failures_are_69() {
    let s = Site::new();
    let a = s.publish("/u/one.sh", b"echo one\n");
    let b = s.publish("/u/two.sh", b"echo two\n");
    s.lock(&a);
    s.lock(&b);
    s.server.remove_route("/u/two.sh");
    let out = s.audit(&[]);
    assert_exit(&out, 69);
    let text = stdout(&out);
    assert!(line_for(&text, &a).starts_with("ok "), "{text}");
    assert!(line_for(&text, &b).starts_with("unreachable "), "{text}");

    // The whole server gone.
    let Site { env, server, .. } = s;
    drop(server);
    let out = env.verun(["audit", "verun.lock", "--allow-http", "--timeout", "5"]);
    assert_exit(&out, 69);
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("unreachable"))
            .count(),
        2
    );
}

#[test]
fn a_bad_signature_under_a_known_key_is_77() {
    let s = Site::new();
    let a = s.publish("/s/one.sh", b"echo one\n");
    s.lock(&a);
    // Same bytes, but the signature is now by another key.
    let other = TestKey::generate();
    s.server.route(
        "/s/one.sh.minisig",
        Reply::bytes(other.sign(b"echo one\n", "one.sh")),
    );
    let key = s.key.public_key_base64();
    let out = s.audit(&["--key", &key]);
    assert_exit(&out, 77);
    assert!(
        line_for(&stdout(&out), &a).starts_with("signature failed "),
        "{}",
        stdout(&out)
    );
    // A corrupted signature by the right key, and a missing one.
    s.server.route(
        "/s/one.sh.minisig",
        Reply::bytes(corrupt_signature(&s.key.sign(b"echo one\n", "one.sh"))),
    );
    assert_exit(&s.audit(&["--key", &key]), 77);
    s.server.remove_route("/s/one.sh.minisig");
    let out = s.audit(&["--key", &key]);
    assert_exit(&out, 77);
    assert!(line_for(&stdout(&out), &a).starts_with("signature failed "));
    // Without the key, only the bytes are compared.
    let out = s.audit(&[]);
    assert_exit(&out, 0);
    assert!(line_for(&stdout(&out), &a).contains("bytes compared only"));
}

#[test]
fn json_is_one_document_with_every_entry() {
    let s = Site::new();
    let a = s.publish("/j/one.sh", b"echo one\n");
    let b = s.publish("/j/two.sh", b"echo two\n");
    s.lock(&a);
    s.lock(&b);
    s.publish("/j/two.sh", b"echo two, changed\n");
    let key = s.key.public_key_base64();
    let out = s.audit(&["--json", "--key", &key]);
    assert_exit(&out, 77);
    let text = stdout(&out);
    assert_eq!(text.trim().lines().count(), 1, "one line of JSON:\n{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit_code"], 77);
    assert_eq!(v["lockfile"], "verun.lock");
    assert_eq!(v["summary"]["total"], 2);
    assert_eq!(v["summary"]["ok"], 1);
    assert_eq!(v["summary"]["drifted"], 1);
    assert_eq!(v["summary"]["unreachable"], 0);
    assert_eq!(v["summary"]["signature_failed"], 0);
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let e1 = entries.iter().find(|e| e["url"] == a.as_str()).unwrap();
    assert_eq!(e1["status"], "ok");
    assert_eq!(e1["signature"], "verified");
    assert_eq!(e1["locked"]["sha256"], sha256_hex(b"echo one\n"));
    assert_eq!(e1["found"]["sha256"], sha256_hex(b"echo one\n"));
    assert_eq!(
        e1["locked"]["signer"],
        format!("minisign:{}", s.key.key_id_hex())
    );
    let e2 = entries.iter().find(|e| e["url"] == b.as_str()).unwrap();
    assert_eq!(e2["status"], "drifted");
    assert_eq!(e2["found"]["sha256"], sha256_hex(b"echo two, changed\n"));
    assert!(e2["detail"].is_string());

    // Errors are JSON too.
    std::fs::write(s.env.path("verun.lock"), "not = = toml").unwrap();
    let out = s.audit(&["--json"]);
    assert_exit(&out, 78);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["exit_code"], 78);
}

#[test]
fn http_entries_need_allow_http_and_a_missing_lockfile_is_an_error() {
    let s = Site::new();
    let a = s.publish("/h/one.sh", b"echo one\n");
    s.lock(&a);
    let out = s.env.verun(["audit", "verun.lock"]);
    assert_exit(&out, 64);
    assert_eq!(s.server.hits("/h/one.sh"), 1, "fetched before refusing");
    let out = s.env.verun(["audit", "missing.lock"]);
    assert_exit(&out, 74);
}

/// Legacy (`Ed`) signatures cover the raw bytes: audit buffers them (up to the locked size)
/// and verifies them; a tampered legacy signature is a failure (77).
#[test]
fn legacy_signatures_are_verified_too() {
    let s = Site::new();
    let payload = b"echo legacy\n";
    s.server.route("/l/old.sh", Reply::bytes(payload));
    s.server.route(
        "/l/old.sh.minisig",
        Reply::bytes(s.key.sign_legacy(payload, "old.sh")),
    );
    let url = s.server.url("/l/old.sh");
    let dest = s.env.path("old.sh");
    let out = s.env.verun([
        "fetch",
        &url,
        "-o",
        &dest.display().to_string(),
        "--allow-http",
        "--allow-legacy",
        "-q",
        "--lock",
        "verun.lock",
        "--key",
        &s.key.public_key_base64(),
    ]);
    assert_exit(&out, 0);
    let key = s.key.public_key_base64();
    let out = s.audit(&["--key", &key]);
    assert_exit(&out, 0);
    assert!(
        line_for(&stdout(&out), &url).contains("signature by"),
        "{}",
        stdout(&out)
    );
    s.server.route(
        "/l/old.sh.minisig",
        Reply::bytes(corrupt_signature(&s.key.sign_legacy(payload, "old.sh"))),
    );
    let out = s.audit(&["--key", &key]);
    assert_exit(&out, 77);
}

#[test]
fn a_store_key_of_another_scope_leaves_the_signature_unchecked_not_failed() {
    // An entry recorded with --key, audited with a store that trusts the same key only
    // for other URLs: the store vouches for nothing here, so the bytes are compared and the
    // signature is reported unchecked, not failed.
    let s = Site::new();
    let url = s.publish("/other/tool.sh", b"#!/bin/sh\nexit 0\n");
    s.lock(&url);
    let out = s.env.verun([
        "key",
        "add",
        "scoped",
        "--pubkey",
        &s.key.public_key_base64(),
        "--scope",
        &s.server.url("/releases/"),
    ]);
    assert_exit(&out, 0);
    let out = s.audit(&["--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["entries"][0]["status"], "ok", "{v}");
    assert_eq!(v["entries"][0]["signature"], "unchecked", "{v}");
    // A revoked key is still a failure.
    assert_exit(&s.env.verun(["key", "revoke", "scoped"]), 0);
    assert_exit(&s.audit(&[]), 77);
}
