//! `--checksums-sig LOC`: the checksum list's own detached signature (SPEC, VERIFY-OPTIONS),
//! as opposed to `--sig`, the payload's. Default: the list's `.minisig` sibling.
//!
//! Regression for issue 11 item 17: the README's signed-`SHA256SUMS` example passed the
//! list's signature as `--sig` and was always refused (the list's signature is no signature
//! of the payload). Every case runs through `verun run` and `verun fetch -o` on loopback,
//! and a refusal leaves nothing run and nothing saved.

mod common;
mod harness;

use common::*;
use harness::*;

/// Serves a signed `SHA256SUMS` for the case's payload at `/<slug>/SHA256SUMS`, its
/// signature at `sig_path` (not the sibling), and the payload without a `.minisig`.
/// Returns (payload URL, list URL, list-signature URL, payload, marker).
fn list_signed_elsewhere(
    c: &Ctx,
    s: &str,
    sig_path: &str,
) -> (String, String, String, Vec<u8>, std::path::PathBuf) {
    let (payload, marker) = c.script(s);
    let url = Ctx::serve(&c.https, &Ctx::path(s, PAYLOAD), Reply::bytes(&payload));
    let list = gnu_checksums(&[(PAYLOAD, &payload), ("other.tar.gz", b"other")]);
    let list_url = Ctx::serve(&c.https, &Ctx::path(s, "SHA256SUMS"), Reply::bytes(&list));
    let sig_url = Ctx::serve(
        &c.https,
        sig_path,
        Reply::bytes(c.key.sign(list.as_bytes(), "SHA256SUMS")),
    );
    (url, list_url, sig_url, payload, marker)
}

#[test]
fn a_list_signature_named_by_checksums_sig_anchors_the_download() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[Case {
            name: "elsewhere",
            expect: 0,
            setup: |c, s| {
                let sig_path = format!("/sigs/{s}/SHA256SUMS.sig");
                let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                Setup::new(url, p, m).args(c.trusting()).args([
                    "--checksums".to_string(),
                    list,
                    "--checksums-sig".into(),
                    sig,
                ])
            },
        }],
        BOTH,
    );
}

/// The README's example, as now written: `--checksums URL/SHA256SUMS --checksums-sig
/// URL/SHA256SUMS.minisig`, no payload `.minisig` published.
#[test]
fn the_readme_signed_sha256sums_example_verifies() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[Case {
            name: "readme",
            expect: 0,
            setup: |c, s| {
                let sig_path = Ctx::path(s, "SHA256SUMS.minisig");
                let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                Setup::new(url, p, m).args(c.trusting()).args([
                    "--checksums".to_string(),
                    list,
                    "--checksums-sig".into(),
                    sig,
                ])
            },
        }],
        BOTH,
    );
}

/// The old README form (`--sig SHA256SUMS.minisig`) stays a refusal: `--sig` is the
/// payload's signature, and the list's signature names another file.
#[test]
fn the_lists_signature_given_as_sig_is_refused() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[Case {
            name: "as-sig",
            expect: 77,
            setup: |c, s| {
                let sig_path = Ctx::path(s, "SHA256SUMS.minisig");
                let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--checksums".to_string(), list, "--sig".into(), sig])
                    .stderr_has("file:SHA256SUMS")
            },
        }],
        BOTH,
    );
}

#[test]
fn a_missing_checksums_sig_is_refused_even_when_the_sibling_exists() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[
            Case {
                name: "missing-with-sibling",
                expect: 77,
                setup: |c, s| {
                    // A good sibling is served; the named location is not.
                    let sig_path = Ctx::path(s, "SHA256SUMS.minisig");
                    let (url, list, _sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                    let missing = c.https.url(&format!("/sigs/{s}/absent.minisig"));
                    Setup::new(url, p, m)
                        .args(c.trusting())
                        .args([
                            "--checksums".to_string(),
                            list,
                            "--checksums-sig".into(),
                            missing,
                        ])
                        .stderr_has("absent.minisig")
                },
            },
            Case {
                // Another anchor holds (--sha256), but evidence given must be present.
                name: "missing-with-pin",
                expect: 77,
                setup: |c, s| {
                    let sig_path = Ctx::path(s, "SHA256SUMS.minisig");
                    let (url, list, _sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                    let missing = c.https.url(&format!("/sigs/{s}/absent.minisig"));
                    let pin = sha256_hex(&p);
                    Setup::new(url, p, m).args(c.cacert()).args([
                        "--sha256".to_string(),
                        pin,
                        "--checksums".into(),
                        list,
                        "--checksums-sig".into(),
                        missing,
                    ])
                },
            },
        ],
        BOTH,
    );
}

#[test]
fn a_checksums_sig_that_does_not_verify_is_refused() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[
            Case {
                name: "other-key",
                expect: 77,
                setup: |c, s| {
                    let sig_path = format!("/sigs/{s}/SHA256SUMS.sig");
                    let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                    // Re-sign the served list with a key nobody trusts.
                    let served = gnu_checksums(&[(PAYLOAD, &p), ("other.tar.gz", b"other")]);
                    c.https.route(
                        sig_path,
                        Reply::bytes(c.key2.sign(served.as_bytes(), "SHA256SUMS")),
                    );
                    Setup::new(url, p, m).args(c.trusting()).args([
                        "--checksums".to_string(),
                        list,
                        "--checksums-sig".into(),
                        sig,
                    ])
                },
            },
            Case {
                name: "tampered-list",
                expect: 77,
                setup: |c, s| {
                    let sig_path = format!("/sigs/{s}/SHA256SUMS.sig");
                    let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                    // The list now vouches for other bytes; its signature is of the old list.
                    c.https.route(
                        Ctx::path(s, "SHA256SUMS"),
                        Reply::bytes(gnu_checksums(&[(PAYLOAD, b"evil")])),
                    );
                    Setup::new(url, p, m)
                        .args(c.trusting())
                        .args([
                            "--checksums".to_string(),
                            list,
                            "--checksums-sig".into(),
                            sig,
                        ])
                        .stderr_has("does not match its signature")
                },
            },
            Case {
                name: "payload-signature",
                // The payload's own signature given as the list's: file: names x.sh.
                expect: 77,
                setup: |c, s| {
                    let sig_path = format!("/sigs/{s}/SHA256SUMS.sig");
                    let (url, list, sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                    c.https
                        .route(sig_path, Reply::bytes(c.key.sign(&p, PAYLOAD)));
                    Setup::new(url, p, m).args(c.trusting()).args([
                        "--checksums".to_string(),
                        list,
                        "--checksums-sig".into(),
                        sig,
                    ])
                },
            },
        ],
        BOTH,
    );
}

/// Without the flag, the list's `.minisig` sibling is used, as before.
#[test]
fn without_checksums_sig_the_lists_minisig_sibling_is_used() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[Case {
            name: "sibling",
            expect: 0,
            setup: |c, s| {
                let sig_path = Ctx::path(s, "SHA256SUMS.minisig");
                let (url, list, _sig, p, m) = list_signed_elsewhere(c, s, &sig_path);
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--checksums".to_string(), list])
            },
        }],
        BOTH,
    );
}

#[test]
fn checksums_sig_without_checksums_is_a_usage_error() {
    let c = Ctx::new();
    run_matrix(
        &c,
        &[Case {
            name: "no-list",
            expect: 64,
            setup: |c, s| {
                let (url, p, m) = c.signed_script(s);
                let sig = c.https.url(&Ctx::path(s, "SHA256SUMS.minisig"));
                Setup::new(url, p, m)
                    .args(c.trusting())
                    .args(["--checksums-sig".to_string(), sig])
            },
        }],
        BOTH,
    );
}

/// `verify FILE`: a local list and its signature at a path of its own.
#[test]
fn verify_takes_the_lists_signature_from_checksums_sig() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = env.write("tool.tar.gz", b"release bytes");
    let list = gnu_checksums(&[("tool.tar.gz", b"release bytes")]);
    let list_path = env.write("SHA256SUMS", &list);
    let sig_path = env.write("sigs/list.sig", key.sign(list.as_bytes(), "SHA256SUMS"));
    let base = [
        "verify".to_string(),
        file.display().to_string(),
        "--key".into(),
        key.public_key_base64(),
        "--checksums".into(),
        list_path.display().to_string(),
    ];
    // The payload has no .minisig: only the list's signature, at its own path, vouches.
    let mut args = base.to_vec();
    args.extend(["--checksums-sig".into(), sig_path.display().to_string()]);
    assert_exit(&env.verun(&args), 0);
    // Named but absent: refused.
    let mut args = base.to_vec();
    args.extend([
        "--checksums-sig".into(),
        env.path("sigs/absent.sig").display().to_string(),
    ]);
    let out = env.verun(&args);
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("verun: hint:"), "{}", stderr(&out));
    // And without the flag there is no sibling: the key's signature is missing.
    assert_exit(&env.verun(&base), 77);
}
