//! Regression tests for the outside security review (issue 11) of what verun trusts: key
//! arguments, rotated keys, relabelled signatures and rollback through every signed piece.
//! Each test is named after the property it pins down, and each failed on 0.1.0.

mod common;

use std::fs;
use std::path::Path;

use base64::Engine as _;
use common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[track_caller]
fn assert_stderr_has(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
}

/// A key whose base64 form contains `/`, so that a planted *directory* can shadow it.
fn key_with_slash() -> TestKey {
    loop {
        let k = TestKey::generate();
        let b64 = k.public_key_base64();
        // A trailing `/` would make the planted path a directory name.
        if b64.contains('/') && !b64.ends_with('/') {
            return k;
        }
    }
}

/// Plants `attacker`'s public key file at the path `victim_inline` names, relative to
/// `dir` (creating the directories a `/` in the key implies).
fn plant(dir: &Path, victim_inline: &str, attacker: &TestKey) {
    let path = dir.join(victim_inline);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, attacker.public_key_file()).unwrap();
    assert!(path.is_file());
}

#[test]
fn an_inline_key_is_never_read_from_a_file_of_the_same_name() {
    let (env, server, cacert) = https_site();
    let victim = TestKey::generate();
    let victim_slash = key_with_slash();
    let attacker = TestKey::generate();
    let (script, marker) = marker_script(&env, "planted");
    let url = publish_signed(&server, &attacker, "/dl/tool.sh", &script);
    for v in [&victim, &victim_slash] {
        let inline = v.public_key_base64();
        plant(env.work(), &inline, &attacker);
        for cmd in ["run", "fetch"] {
            let mut a = args(&[cmd, &url, "--key", &inline]);
            if cmd == "fetch" {
                a.extend(args(&["-o", "out.sh"]));
            }
            a.extend(cacert.clone());
            let out = env.verun(&a);
            assert_exit(&out, 77);
            assert_stderr_has(&out, &attacker.key_id_hex());
            assert_not_ran(&marker);
            assert_no_file(&env.path("out.sh"));
        }
        // verify FILE, with the attacker's signature next to it.
        env.write("tool.sh", &script);
        env.write("tool.sh.minisig", attacker.sign(&script, "tool.sh"));
        let out = env.verun(["verify", "tool.sh", "--key", &inline]);
        assert_exit(&out, 77);
        // The victim's own signature verifies under the inline key, file or no file.
        env.write("tool.sh.minisig", v.sign(&script, "tool.sh"));
        assert_exit(&env.verun(["verify", "tool.sh", "--key", &inline]), 0);
    }
}

#[test]
fn audit_and_key_add_take_an_inline_key_as_the_key() {
    let (env, server, cacert) = https_site();
    let victim = key_with_slash();
    let attacker = TestKey::generate();
    let inline = victim.public_key_base64();
    plant(env.work(), &inline, &attacker);

    // key add --pubkey stores the inline key, not the planted file's.
    let out = env.verun([
        "key",
        "add",
        "acme",
        "--pubkey",
        &inline,
        "--scope",
        "https://acme.example/",
    ]);
    assert_exit(&out, 0);
    let shown = stdout(&env.verun(["key", "list", "--json"]));
    assert!(shown.contains(&victim.key_id_hex()), "{shown}");
    assert!(!shown.contains(&attacker.key_id_hex()), "{shown}");

    // audit -k: the recorded signer is the victim; the attacker re-signs the same bytes.
    let payload = b"#!/bin/sh\nexit 0\n";
    let url = publish_signed(&server, &victim, "/a/tool.sh", payload);
    let mut lock = args(&[
        "fetch", &url, "-o", "t.sh", "--key", &inline, "--lock", "v.lock",
    ]);
    lock.extend(cacert.clone());
    assert_exit(&env.verun(&lock), 0);
    let sig_path = "/a/tool.sh.minisig";
    server.route(sig_path, Reply::bytes(attacker.sign(payload, "tool.sh")));
    let mut audit = args(&["audit", "v.lock", "-k", &inline]);
    audit.extend(cacert);
    let out = env.verun(&audit);
    assert_exit(&out, 77);
    assert!(
        stdout(&out).contains("signature failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_key_value_with_surrounding_whitespace_is_the_key() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let data = b"data\n";
    env.write("f.txt", data);
    env.write("f.txt.minisig", key.sign(data, "f.txt"));
    let padded = format!("  {}\n", key.public_key_base64());
    assert_exit(&env.verun(["verify", "f.txt", "--key", &padded]), 0);
    // A key-shaped value that is not a key is a usage error naming it, on one line.
    let mut bad = key.public_key_base64();
    bad.replace_range(2..3, if &bad[2..3] == "A" { "B" } else { "A" });
    let out = env.verun(["verify", "f.txt", "--key", &bad]);
    assert!(matches!(out.status.code(), Some(64) | Some(77)), "{out:?}");
}

#[test]
fn a_file_of_the_wrong_kind_given_as_key_says_what_it_is() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    env.write("f.txt", b"x");
    let sig = env.write("f.txt.minisig", key.sign(b"x", "f.txt"));
    let out = env.verun(["verify", "f.txt", "--key", sig.to_str().unwrap()]);
    assert_exit(&out, 64);
    assert_stderr_has(&out, "minisign signature");
    let secret = env.write(
        "k.key",
        "untrusted comment: minisign encrypted secret key\nRWRTY0Iy...\n",
    );
    let out = env.verun(["verify", "f.txt", "--key", secret.to_str().unwrap()]);
    assert_exit(&out, 64);
    assert_stderr_has(&out, "secret key");
}

/// `data` signed prehashed, then relabelled `ED` → `Ed`: a "legacy" signature whose message
/// is the 64-byte BLAKE2b-512 of `data`.
fn relabelled(key: &TestKey, data: &[u8], trusted_comment: &str) -> String {
    let sig = key.sign_tc(data, trusted_comment);
    let mut lines: Vec<String> = sig.lines().map(str::to_string).collect();
    let mut bin = B64.decode(&lines[1]).unwrap();
    assert_eq!(&bin[..2], b"ED");
    bin[1] = b'd';
    lines[1] = B64.encode(bin);
    lines.join("\n") + "\n"
}

fn blake2b_512(data: &[u8]) -> Vec<u8> {
    use blake2::Digest as _;
    blake2::Blake2b512::digest(data).to_vec()
}

#[test]
fn a_relabelled_prehashed_signature_is_refused_even_with_allow_legacy() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let real = b"#!/bin/sh\necho the real file\n".repeat(10);
    let hash = blake2b_512(&real);
    let ts = now_timestamp();
    for tc in [
        // A custom trusted comment without `hashed`: only the shape gives it away.
        format!("timestamp:{ts}\tfile:tool.sh"),
        // minisign's own, which says `hashed`.
        trusted_comment_at(ts, "tool.sh", false),
    ] {
        server.route("/r/tool.sh", Reply::bytes(&hash));
        server.route(
            "/r/tool.sh.minisig",
            Reply::bytes(relabelled(&key, &real, &tc)),
        );
        let mut a = args(&[
            "fetch",
            &server.url("/r/tool.sh"),
            "-o",
            "out.bin",
            "--key",
            &key.public_key_base64(),
            "--allow-legacy",
        ]);
        a.extend(cacert.clone());
        let out = env.verun(&a);
        assert_exit(&out, 77);
        assert_stderr_has(&out, "relabelled");
        assert_no_file(&env.path("out.bin"));
    }
    // A genuine legacy signature of other bytes still verifies with --allow-legacy.
    let legacy_payload = b"#!/bin/sh\nexit 0\n";
    server.route("/r/old.sh", Reply::bytes(legacy_payload));
    server.route(
        "/r/old.sh.minisig",
        Reply::bytes(key.sign_legacy(legacy_payload, "old.sh")),
    );
    let mut a = args(&[
        "fetch",
        &server.url("/r/old.sh"),
        "-o",
        "old.sh",
        "--key",
        &key.public_key_base64(),
        "--allow-legacy",
    ]);
    a.extend(cacert);
    assert_exit(&env.verun(&a), 0);
}

#[test]
fn a_rotated_out_key_given_with_key_is_refused_naming_its_successor() {
    let (env, server, cacert) = https_site();
    let old = TestKey::generate();
    let new = TestKey::generate();
    let old_pub = old.write_public_key(env.path("old.pub"));
    let new_pub = new.write_public_key(env.path("new.pub"));
    let rot_sig = env.write(
        "new.pub.minisig",
        old.sign(&fs::read(&new_pub).unwrap(), "new.pub"),
    );
    assert_exit(
        &env.verun([
            "key",
            "add",
            "acme",
            "--file",
            old_pub.to_str().unwrap(),
            "--scope",
            "https://acme.example/",
        ]),
        0,
    );
    assert_exit(
        &env.verun([
            "key",
            "rotate",
            "acme",
            "--new",
            new_pub.to_str().unwrap(),
            "--sig",
            rot_sig.to_str().unwrap(),
        ]),
        0,
    );
    let (script, marker) = marker_script(&env, "rotated");
    let url = publish_signed(&server, &old, "/x/tool.sh", &script);
    for key in [
        old.public_key_base64(),
        old_pub.to_str().unwrap().to_string(),
    ] {
        let mut a = args(&["run", &url, "--key", &key]);
        a.extend(cacert.clone());
        let out = env.verun(&a);
        assert_exit(&out, 77);
        assert_stderr_has(&out, "rotated out");
        assert_stderr_has(&out, &new.key_id_hex());
        assert_not_ran(&marker);
    }
    // The successor given with --key works.
    let url = publish_signed(&server, &new, "/x/new.sh", &script);
    let mut a = args(&["run", &url, "--key", &new.public_key_base64()]);
    a.extend(cacert);
    assert_exit(&env.verun(&a), 0);
    assert_ran(&marker);
}

/// Publishes `payload` at `/rel/tool.sh` and a `SHA256SUMS` for it at `/rel/SHA256SUMS`,
/// signed by `key` at `ts` (no signature on the payload itself).
fn publish_release(server: &TestServer, key: &TestKey, payload: &[u8], ts: u64) {
    let list = gnu_checksums(&[("tool.sh", payload), ("other.tar.gz", b"other")]);
    server.route("/rel/tool.sh", Reply::bytes(payload));
    server.route("/rel/SHA256SUMS", Reply::bytes(list.as_bytes()));
    server.route(
        "/rel/SHA256SUMS.minisig",
        Reply::bytes(key.sign_tc(
            list.as_bytes(),
            &trusted_comment_at(ts, "SHA256SUMS", false),
        )),
    );
}

#[test]
fn a_signed_checksum_lists_time_may_not_go_back() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let now = now_timestamp();
    let (new, m_new) = marker_script(&env, "new");
    publish_release(&server, &key, &new, now - 100);
    let mut base = args(&[
        "run",
        &server.url("/rel/tool.sh"),
        "--key",
        &key.public_key_base64(),
        "--checksums",
        &server.url("/rel/SHA256SUMS"),
    ]);
    base.extend(cacert.clone());
    let out = env.verun(&base);
    assert_exit(&out, 0);
    assert_ran(&m_new);
    // The list's signed time is shown.
    assert_stderr_has(&out, &format!("timestamp:{}", now - 100));

    // Last year's signed list with last year's release, at the same URLs.
    let (old, m_old) = marker_script(&env, "old");
    publish_release(&server, &key, &old, now - 365 * 86_400);
    let out = env.verun(&base);
    assert_exit(&out, 77);
    assert_stderr_has(&out, "rollback");
    assert_stderr_has(&out, "checksum list");
    assert_not_ran(&m_old);
    let mut fetch = base.clone();
    fetch[0] = "fetch".into();
    fetch.extend(args(&["-o", "old.sh"]));
    assert_exit(&env.verun(&fetch), 77);
    assert_no_file(&env.path("old.sh"));

    // Explicitly accepted downgrade: warned, and the mark is not lowered.
    let out = env.verun([&base[..], &args(&["--allow-downgrade"])].concat());
    assert_exit(&out, 0);
    assert_ran(&m_old);
    fs::remove_file(&m_old).unwrap();
    assert_exit(&env.verun(&base), 77);
    assert_not_ran(&m_old);
}

#[test]
fn a_signed_checksum_lists_time_is_in_the_json_report_and_the_lock_entry() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let ts = now_timestamp() - 50;
    publish_release(&server, &key, b"#!/bin/sh\nexit 0\n", ts);
    let mut a = args(&[
        "fetch",
        &server.url("/rel/tool.sh"),
        "-o",
        "tool.sh",
        "--key",
        &key.public_key_base64(),
        "--checksums",
        &server.url("/rel/SHA256SUMS"),
        "--lock",
        "v.lock",
        "--json",
    ]);
    a.extend(cacert);
    let out = env.verun(&a);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let cs = &v["checksums_signature"];
    assert_eq!(cs["timestamp"], ts, "{v}");
    assert_eq!(cs["key_id"], key.key_id_hex(), "{v}");
    let lock = String::from_utf8(env.read("v.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "checksums_trusted_comment = \"timestamp:{ts}\\tfile:SHA256SUMS"
        )),
        "{lock}"
    );
    assert!(lock.contains(&format!(
        "checksums_signer = \"minisign:{}\"",
        key.key_id_hex()
    )));
}

#[test]
fn a_signature_without_a_time_is_refused_once_a_time_was_recorded() {
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let (script, marker) = marker_script(&env, "untimed");
    let url = server.url("/t/tool.sh");
    server.route("/t/tool.sh", Reply::bytes(&script));
    server.route(
        "/t/tool.sh.minisig",
        Reply::bytes(key.sign_tc(
            &script,
            &trusted_comment_at(now_timestamp(), "tool.sh", false),
        )),
    );
    let mut base = args(&["run", &url, "--key", &key.public_key_base64()]);
    base.extend(cacert);
    assert_exit(&env.verun(&base), 0);
    assert_ran(&marker);
    fs::remove_file(&marker).unwrap();
    // Same bytes, same key, but the time was cut from the trusted comment.
    server.route(
        "/t/tool.sh.minisig",
        Reply::bytes(key.sign_tc(&script, "file:tool.sh\thashed")),
    );
    let out = env.verun(&base);
    assert_exit(&out, 77);
    assert_stderr_has(&out, "no signed timestamp");
    assert_not_ran(&marker);
    let out = env.verun([&base[..], &args(&["--allow-downgrade"])].concat());
    assert_exit(&out, 0);
    assert_ran(&marker);
}

#[test]
fn a_store_key_scoped_to_one_product_refuses_another_products_signed_file() {
    // Review item 7: the signature binds the file *name* only. Product A's genuinely
    // signed install.sh served at product B's URL is refused when the key is scoped to
    // product A's prefix (the defence SECURITY.md documents).
    let (env, server, cacert) = https_site();
    let key_a = TestKey::generate();
    let pub_a = key_a.write_public_key(env.path("a.pub"));
    let scope = server.url("/a/");
    assert_exit(
        &env.verun([
            "key",
            "add",
            "product-a",
            "--file",
            pub_a.to_str().unwrap(),
            "--scope",
            &scope,
        ]),
        0,
    );
    let (script, marker) = marker_script(&env, "a-at-b");
    publish_signed(&server, &key_a, "/a/install.sh", &script);
    let at_b = publish_signed(&server, &key_a, "/b/install.sh", &script);
    let mut a = args(&["run", &at_b]);
    a.extend(cacert.clone());
    let out = env.verun(&a);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
    let mut a = args(&["run", &server.url("/a/install.sh")]);
    a.extend(cacert);
    assert_exit(&env.verun(&a), 0);
    assert_ran(&marker);
}

#[test]
fn a_lock_entry_refuses_another_products_signed_file_under_the_same_key() {
    // Review item 7, the other documented defence: one publisher key signs products A and
    // B; once B's URL is locked, A's validly signed install.sh served there is lock drift.
    let (env, server, cacert) = https_site();
    let key = TestKey::generate();
    let (b_script, b_marker) = marker_script(&env, "b");
    let url = publish_signed(&server, &key, "/b/install.sh", &b_script);
    let mut a = args(&[
        "run",
        &url,
        "--key",
        &key.public_key_base64(),
        "--lock",
        "ci.lock",
    ]);
    a.extend(cacert);
    assert_exit(&env.verun(&a), 0);
    assert_ran(&b_marker);
    let (a_script, a_marker) = marker_script(&env, "a");
    publish_signed(&server, &key, "/b/install.sh", &a_script);
    let out = env.verun(&a);
    assert_exit(&out, 77);
    assert_not_ran(&a_marker);
}
