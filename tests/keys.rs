//! `verun key`: the trusted key store, driven through the real binary with a fresh
//! `VERUN_HOME` per test. Scope matching itself is unit-tested in `src/store/scope.rs`; here:
//! add/list/show/remove/revoke, revocation of `--key`, signed rotation (with the real
//! `minisign` CLI), expiry, permissions, symlinks, concurrent writers (processes) and damaged
//! store files, and an end-to-end run whose only trust anchor is a store key.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use common::{
    Reply, TestEnv, TestKey, TestServer, assert_exit, assert_not_ran, assert_ran, cli_keygen,
    cli_sign, marker_script, minisign_or_skip, publish_signed, stderr, stdout,
};

const KEY_A: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

fn config(env: &TestEnv) -> PathBuf {
    env.home().join("config")
}

fn store_file(env: &TestEnv) -> PathBuf {
    config(env).join("store.toml")
}

fn list_json(env: &TestEnv) -> serde_json::Value {
    let out = env.verun(["key", "list", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("key list --json is not JSON ({e}): {}", stdout(&out)))
}

/// The `key list --json` entry for `name`'s current key (or its latest, when rotated out).
fn entry(env: &TestEnv, name: &str) -> Option<serde_json::Value> {
    let doc = list_json(env);
    let keys = doc["keys"].as_array().expect("keys array").clone();
    let mine: Vec<serde_json::Value> = keys.into_iter().filter(|k| k["name"] == name).collect();
    mine.iter()
        .find(|k| k["status"] != "rotated-out")
        .or(mine.first())
        .cloned()
}

fn names(env: &TestEnv) -> Vec<String> {
    list_json(env)["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect()
}

#[track_caller]
fn ok(out: &Output) {
    assert_exit(out, 0);
}

#[track_caller]
fn assert_mentions(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(
        err.contains(what),
        "stderr does not mention {what:?}:\n{err}"
    );
}

fn add_scoped(env: &TestEnv, name: &str, key: &str, scope: &str) {
    ok(&env.verun(["key", "add", name, "--pubkey", key, "--scope", scope]));
}

/// A file and its signature by `key` (trusted comment `file:` = the file name).
fn signed_file(env: &TestEnv, key: &TestKey, name: &str, data: &[u8]) -> PathBuf {
    let path = env.write(name, data);
    env.write(format!("{name}.minisig"), key.sign(data, name));
    path
}

// --- add, list, show, remove -------------------------------------------------------------

#[test]
fn add_list_show_remove() {
    let env = TestEnv::new();
    let b = TestKey::generate();
    let pub_file = b.write_public_key(env.path("b.pub"));

    let out = env.verun([
        "key",
        "add",
        "acme",
        "--pubkey",
        KEY_A,
        "--scope",
        "HTTPS://Acme.Example:443/releases/",
        "--scope",
        "https://mirror.example/acme",
        "--expires",
        "2999-12-31",
    ]);
    ok(&out);
    assert!(out.stdout.is_empty(), "notes belong on stderr");
    assert_mentions(&out, "acme");
    ok(&env.verun([
        "key",
        "add",
        "bee",
        "--file",
        pub_file.to_str().unwrap(),
        "--scope",
        "https://bee.example/",
    ]));

    // The readable table.
    let out = env.verun(["key", "list"]);
    ok(&out);
    let table = stdout(&out);
    for want in [
        "NAME",
        "acme",
        "bee",
        "verun-release",
        "E7620F1842B4E81F",
        &b.key_id_hex(),
    ] {
        assert!(table.contains(want), "table lacks {want}:\n{table}");
    }

    // One JSON document with the metadata.
    let a = entry(&env, "acme").expect("acme listed");
    assert_eq!(a["key_id"], "E7620F1842B4E81F");
    assert_eq!(a["public_key"], KEY_A);
    assert_eq!(a["status"], "active");
    assert_eq!(a["builtin"], false);
    assert_eq!(a["global"], false);
    assert_eq!(
        a["scopes"],
        serde_json::json!([
            "https://acme.example/releases/",
            "https://mirror.example/acme"
        ])
    );
    assert_eq!(a["source"], "--pubkey");
    assert_eq!(a["expires"], "2999-12-31");
    assert_eq!(a["use_count"], 0);
    assert!(a["last_used_at"].is_null());
    assert!(a["revoked_at"].is_null());
    let added = a["added_at"].as_str().expect("added_at");
    assert!(
        added.len() == 20 && added.ends_with('Z') && added.as_bytes()[10] == b'T',
        "added_at {added} is not RFC 3339 UTC"
    );
    let bee = entry(&env, "bee").unwrap();
    assert_eq!(bee["key_id"], b.key_id_hex());
    assert!(bee["source"].as_str().unwrap().contains("b.pub"), "{bee}");

    // show.
    let out = env.verun(["key", "show", "acme"]);
    ok(&out);
    let text = stdout(&out);
    for want in [
        "E7620F1842B4E81F",
        "https://acme.example/releases/",
        "2999-12-31",
        "--pubkey",
    ] {
        assert!(text.contains(want), "show lacks {want}:\n{text}");
    }

    // On disk: a readable store.toml and keys/NAME.pub in minisign's format, all private.
    let toml = fs::read_to_string(store_file(&env)).unwrap();
    assert!(toml.contains("acme") && toml.contains(KEY_A), "{toml}");
    let exported = fs::read_to_string(config(&env).join("keys/acme.pub")).unwrap();
    assert!(exported.starts_with("untrusted comment: "));
    assert_eq!(exported.lines().nth(1), Some(KEY_A));
    for (path, mode) in [
        (config(&env), 0o700),
        (config(&env).join("keys"), 0o700),
        (store_file(&env), 0o600),
        (config(&env).join("keys/acme.pub"), 0o600),
    ] {
        let got = fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(got, mode, "{}", path.display());
    }

    // remove forgets.
    ok(&env.verun(["key", "remove", "acme"]));
    assert!(entry(&env, "acme").is_none());
    assert!(!config(&env).join("keys/acme.pub").exists());
    assert_exit(&env.verun(["key", "show", "acme"]), 64);
    assert_exit(&env.verun(["key", "remove", "acme"]), 64);
    // ...so the same key may be added again.
    add_scoped(&env, "acme2", KEY_A, "https://acme.example/");
}

#[test]
fn a_missing_store_lists_the_built_in_key_and_creates_nothing() {
    let env = TestEnv::new();
    let out = env.verun(["key", "list"]);
    ok(&out);
    assert!(stdout(&out).contains("verun-release"));
    let v = entry(&env, "verun-release").expect("built-in key listed");
    assert_eq!(v["builtin"], true);
    let release = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys/verun-release.pub"
    ))
    .unwrap();
    assert_eq!(v["public_key"], release.lines().nth(1).unwrap().trim());
    assert_eq!(
        v["scopes"],
        serde_json::json!(["https://github.com/verun-dev/verun/releases/download/"])
    );
    assert!(!config(&env).exists(), "listing must not create the store");
}

#[test]
fn built_in_keys_cannot_be_removed_only_revoked() {
    let env = TestEnv::new();
    let out = env.verun(["key", "remove", "verun-release"]);
    assert_exit(&out, 64);
    assert_mentions(&out, "revoke");
    ok(&env.verun(["key", "revoke", "verun-release"]));
    let v = entry(&env, "verun-release").unwrap();
    assert_eq!(v["status"], "revoked");
    assert!(v["revoked_at"].is_string());
    assert_exit(&env.verun(["key", "remove", "verun-release"]), 64);
    assert_eq!(entry(&env, "verun-release").unwrap()["status"], "revoked");
}

#[test]
fn key_add_refuses_bad_input() {
    let env = TestEnv::new();
    add_scoped(&env, "acme", KEY_A, "https://acme.example/");
    let before = fs::read(store_file(&env)).unwrap();
    let other = TestKey::generate().public_key_base64();
    let o = other.as_str();
    let long = "x".repeat(65);
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // names
        (vec!["../evil", "--pubkey", o, "--global"], 64),
        (vec!["a/b", "--pubkey", o, "--global"], 64),
        (vec![".hidden", "--pubkey", o, "--global"], 64),
        (vec!["..", "--pubkey", o, "--global"], 64),
        (vec!["ключ", "--pubkey", o, "--global"], 64),
        (vec!["has space", "--pubkey", o, "--global"], 64),
        (vec!["", "--pubkey", o, "--global"], 64),
        (vec![long.as_str(), "--pubkey", o, "--global"], 64),
        // scopes
        (
            vec!["k", "--pubkey", o, "--scope", "https://user@acme.example/"],
            64,
        ),
        (
            vec!["k", "--pubkey", o, "--scope", "https://u:p@acme.example/"],
            64,
        ),
        (
            vec![
                "k",
                "--pubkey",
                o,
                "--scope",
                "https://acme.example/a/../b/",
            ],
            64,
        ),
        (
            vec![
                "k",
                "--pubkey",
                o,
                "--scope",
                "https://acme.example/a/%2e%2e/b/",
            ],
            64,
        ),
        (
            vec!["k", "--pubkey", o, "--scope", "https://acme.example/?x=1"],
            64,
        ),
        (
            vec!["k", "--pubkey", o, "--scope", "http://acme.example/"],
            64,
        ),
        (
            vec!["k", "--pubkey", o, "--scope", "ftp://acme.example/"],
            64,
        ),
        (vec!["k", "--pubkey", o, "--scope", "acme.example/"], 64),
        (
            vec!["k", "--pubkey", o, "--scope", "https://*.acme.example/"],
            64,
        ),
        // flags
        (vec!["k", "--pubkey", o], 64),
        (
            vec![
                "k",
                "--pubkey",
                o,
                "--global",
                "--scope",
                "https://a.example/",
            ],
            64,
        ),
        (vec!["k", "--scope", "https://a.example/"], 64),
        (vec!["k", "--pubkey", "RWnotakey", "--global"], 64),
        (vec!["k", "--file", "/nonexistent/k.pub", "--global"], 64),
        (
            vec!["k", "--pubkey", o, "--global", "--expires", "2025-02-30"],
            64,
        ),
        (
            vec!["k", "--pubkey", o, "--global", "--expires", "tomorrow"],
            64,
        ),
        // duplicates
        (vec!["acme", "--pubkey", o, "--global"], 64),
        (vec!["ACME", "--pubkey", o, "--global"], 64),
        (vec!["other", "--pubkey", KEY_A, "--global"], 64),
    ];
    for (args, code) in cases {
        let mut full = vec!["key", "add"];
        full.extend(&args);
        let out = env.verun(&full);
        assert_exit(&out, code);
        assert_eq!(
            fs::read(store_file(&env)).unwrap(),
            before,
            "{args:?} changed the store"
        );
    }
    // Names are restricted for the other commands too.
    for cmd in ["show", "remove", "revoke"] {
        assert_exit(&env.verun(["key", cmd, "../x"]), 64);
    }
}

#[test]
fn global_keys_are_warned_about_and_count_for_local_files() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();

    // A scoped key does not count for a local file.
    add_scoped(&env, "k", &key.public_key_base64(), "https://k.example/");
    let out = env.verun(["verify", file]);
    assert_exit(&out, 77);
    assert_mentions(&out, "k (");
    ok(&env.verun(["key", "remove", "k"]));

    let out = env.verun([
        "key",
        "add",
        "k",
        "--pubkey",
        &key.public_key_base64(),
        "--global",
    ]);
    ok(&out);
    assert_mentions(&out, "warning");
    assert_mentions(&out, "--global");
    ok(&env.verun(["verify", file]));
    let v = entry(&env, "k").unwrap();
    assert_eq!(v["global"], true);
    assert_eq!(v["use_count"], 1);
    assert!(v["last_used_at"].is_string());
}

// --- the store at work: scopes, revocation, expiry ---------------------------------------

#[test]
fn a_store_key_in_scope_is_a_trust_anchor_and_out_of_scope_is_refused() {
    let env = TestEnv::new();
    let server = TestServer::http();
    let key = TestKey::generate();
    let base = server.base_url();
    add_scoped(
        &env,
        "local",
        &key.public_key_base64(),
        &format!("{base}/dl/"),
    );

    let (script, marker) = marker_script(&env, "in-scope");
    let url = publish_signed(&server, &key, "/dl/tool.sh", &script);
    let out = env.verun(["run", &url, "--allow-http"]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_mentions(&out, "local");
    let v = entry(&env, "local").unwrap();
    assert_eq!(v["use_count"], 1, "a verification is counted");
    assert!(v["last_used_at"].is_string());

    // fetch works the same and counts too.
    let dest = env.path("saved.sh");
    ok(&env.verun(["fetch", &url, "--allow-http", "-o", dest.to_str().unwrap()]));
    assert_eq!(entry(&env, "local").unwrap()["use_count"], 2);

    // `run --no-cache` writes nothing but the temporary payload: not even the use count.
    let out = env.verun(["run", &url, "--allow-http", "--no-cache"]);
    assert_exit(&out, 0);
    assert_eq!(entry(&env, "local").unwrap()["use_count"], 2);

    // The same key, signing something outside its scope: refused, nothing ran.
    let (script, marker) = marker_script(&env, "out-of-scope");
    let url = publish_signed(&server, &key, "/other/tool.sh", &script);
    let out = env.verun(["run", &url, "--allow-http"]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
    assert_mentions(&out, "local");

    // `..` cannot walk out of the scope.
    let (script, marker) = marker_script(&env, "dotdot");
    publish_signed(&server, &key, "/other/evil.sh", &script);
    server.route("/dl/../other/evil.sh", Reply::bytes(&script));
    server.route(
        "/dl/../other/evil.sh.minisig",
        Reply::bytes(key.sign(&script, "evil.sh")),
    );
    for path in ["/dl/../other/evil.sh", "/dl/%2e%2e/other/evil.sh"] {
        let out = env.verun(["run", &format!("{base}{path}"), "--allow-http"]);
        assert_exit(&out, 77);
        assert_not_ran(&marker);
    }
    assert_eq!(entry(&env, "local").unwrap()["use_count"], 2);
}

#[test]
fn revocation_applies_everywhere_even_to_key_flag() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let b64 = key.public_key_base64();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();
    ok(&env.verun(["key", "add", "pub", "--pubkey", &b64, "--global"]));
    ok(&env.verun(["verify", file]));

    let out = env.verun(["key", "revoke", "pub"]);
    ok(&out);
    let v = entry(&env, "pub").unwrap();
    assert_eq!(v["status"], "revoked");
    assert!(v["revoked_at"].is_string());
    assert!(
        !config(&env).join("keys/pub.pub").exists(),
        "a revoked key is not exported"
    );

    // From the store, and with --key (as base64 or as a file): refused, naming the key.
    let pub_file = key.write_public_key(env.path("pub.pub"));
    for args in [
        vec!["verify", file],
        vec!["verify", file, "--key", &b64],
        vec!["verify", file, "--key", pub_file.to_str().unwrap()],
        vec![
            "verify",
            file,
            "--key",
            &b64,
            "--sha256",
            &common::sha256_hex(b"echo hi\n"),
        ],
    ] {
        let out = env.verun(&args);
        assert_exit(&out, 77);
        assert_mentions(&out, "revoked");
        assert_mentions(&out, "pub");
    }
    // A run with the revoked key given: refused before anything is fetched.
    let server = TestServer::http();
    let (script, marker) = marker_script(&env, "revoked");
    let url = publish_signed(&server, &key, "/x.sh", &script);
    let out = env.verun(["run", &url, "--allow-http", "--key", &b64]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);

    // Revoked keys cannot come back under another name; revoking again is harmless.
    assert_exit(
        &env.verun(["key", "add", "again", "--pubkey", &b64, "--global"]),
        77,
    );
    ok(&env.verun(["key", "revoke", "pub"]));
    // remove forgets the revocation.
    ok(&env.verun(["key", "remove", "pub"]));
    ok(&env.verun(["verify", file, "--key", &b64]));
}

#[test]
fn expired_keys_are_refused() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();
    let out = env.verun([
        "key",
        "add",
        "old",
        "--pubkey",
        &key.public_key_base64(),
        "--global",
        "--expires",
        "2001-02-03",
    ]);
    ok(&out);
    assert_mentions(&out, "2001-02-03");
    assert_eq!(entry(&env, "old").unwrap()["status"], "expired");
    let out = env.verun(["verify", file]);
    assert_exit(&out, 77);
    assert_mentions(&out, "expired");
    assert_mentions(&out, "old");

    // Far in the future: trusted.
    ok(&env.verun(["key", "remove", "old"]));
    ok(&env.verun([
        "key",
        "add",
        "new",
        "--pubkey",
        &key.public_key_base64(),
        "--global",
        "--expires",
        "2999-01-01",
    ]));
    ok(&env.verun(["verify", file]));
}

// --- rotation -----------------------------------------------------------------------------

#[test]
fn rotation_signed_by_the_current_key() {
    let Some(_) = minisign_or_skip("rotation_signed_by_the_current_key") else {
        return;
    };
    let env = TestEnv::new();
    let keys = env.path("minisign");
    fs::create_dir(&keys).unwrap();
    let old = cli_keygen(&keys, "old").unwrap();
    let new = cli_keygen(&keys, "new").unwrap();
    let stranger = cli_keygen(&keys, "stranger").unwrap();
    let hex = |id: [u8; 8]| common::key_id_hex(id);

    ok(&env.verun([
        "key",
        "add",
        "acme",
        "--file",
        old.public_key_path.to_str().unwrap(),
        "--scope",
        "https://acme.example/dl/",
        "--scope",
        "https://mirror.example/acme/",
    ]));
    let before = fs::read(store_file(&env)).unwrap();

    let rotate = |new_pub: &Path, sig: &Path| {
        env.verun([
            "key",
            "rotate",
            "acme",
            "--new",
            new_pub.to_str().unwrap(),
            "--sig",
            sig.to_str().unwrap(),
        ])
    };

    // Signed by someone else: refused, store untouched.
    let bad_dir = env.path("bad");
    fs::create_dir(&bad_dir).unwrap();
    let bad_pub = bad_dir.join("new.pub");
    fs::copy(&new.public_key_path, &bad_pub).unwrap();
    let bad_sig = cli_sign(&stranger, &bad_pub, false, None).unwrap();
    let out = rotate(&bad_pub, &bad_sig);
    assert_exit(&out, 77);
    assert_mentions(&out, &hex(stranger.key_id()));
    assert_eq!(fs::read(store_file(&env)).unwrap(), before);

    // Signed by the right key, but the file was swapped afterwards: refused.
    let swap_dir = env.path("swap");
    fs::create_dir(&swap_dir).unwrap();
    let swap_pub = swap_dir.join("new.pub");
    fs::copy(&new.public_key_path, &swap_pub).unwrap();
    let swap_sig = cli_sign(&old, &swap_pub, false, None).unwrap();
    fs::copy(&stranger.public_key_path, &swap_pub).unwrap();
    assert_exit(&rotate(&swap_pub, &swap_sig), 77);
    assert_eq!(fs::read(store_file(&env)).unwrap(), before);

    // Signed by the right key for another file name: refused.
    let renamed = swap_dir.join("renamed.pub");
    fs::copy(&new.public_key_path, &renamed).unwrap();
    let sig_for_new = cli_sign(&old, &new.public_key_path, false, None).unwrap();
    let out = rotate(&renamed, &sig_for_new);
    assert_exit(&out, 77);
    assert_mentions(&out, "file:");
    assert_eq!(fs::read(store_file(&env)).unwrap(), before);

    // The real thing.
    let out = rotate(&new.public_key_path, &sig_for_new);
    ok(&out);
    let doc = list_json(&env);
    let acme: Vec<&serde_json::Value> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "acme")
        .collect();
    assert_eq!(acme.len(), 2, "the old key is kept in the history: {doc}");
    let cur = acme
        .iter()
        .find(|k| k["status"] == "active")
        .expect("a current key");
    let was = acme
        .iter()
        .find(|k| k["status"] == "rotated-out")
        .expect("the old key");
    assert_eq!(cur["key_id"], hex(new.key_id()));
    assert_eq!(was["key_id"], hex(old.key_id()));
    assert_eq!(was["rotated_to"], hex(new.key_id()));
    assert!(was["rotated_at"].is_string());
    assert_eq!(
        cur["previous_key_ids"],
        serde_json::json!([hex(old.key_id())])
    );
    assert_eq!(
        cur["scopes"],
        serde_json::json!(["https://acme.example/dl/", "https://mirror.example/acme/"]),
        "the new key inherits the scopes"
    );
    let exported = fs::read_to_string(config(&env).join("keys/acme.pub")).unwrap();
    assert_eq!(exported.lines().nth(1).unwrap(), new.public_key_base64());
    let show = stdout(&env.verun(["key", "show", "acme"]));
    assert!(
        show.contains(&hex(new.key_id())) && show.contains(&hex(old.key_id())),
        "{show}"
    );

    // The old key signs nothing any more, and cannot rotate again.
    let again_sig = cli_sign(&old, &stranger.public_key_path, false, None).unwrap();
    assert_exit(&rotate(&stranger.public_key_path, &again_sig), 77);
}

#[test]
fn rotated_out_keys_no_longer_verify() {
    let Some(_) = minisign_or_skip("rotated_out_keys_no_longer_verify") else {
        return;
    };
    let env = TestEnv::new();
    let dir = env.path("k");
    fs::create_dir(&dir).unwrap();
    let old = cli_keygen(&dir, "old").unwrap();
    let new = cli_keygen(&dir, "new").unwrap();
    ok(&env.verun([
        "key",
        "add",
        "g",
        "--file",
        old.public_key_path.to_str().unwrap(),
        "--global",
    ]));

    let by_old = env.write("a/tool.sh", b"echo a\n");
    cli_sign(&old, &by_old, false, None).unwrap();
    let by_new = env.write("b/tool.sh", b"echo b\n");
    cli_sign(&new, &by_new, false, None).unwrap();
    ok(&env.verun(["verify", by_old.to_str().unwrap()]));

    let sig = cli_sign(&old, &new.public_key_path, false, None).unwrap();
    ok(&env.verun([
        "key",
        "rotate",
        "g",
        "--new",
        new.public_key_path.to_str().unwrap(),
        "--sig",
        sig.to_str().unwrap(),
    ]));
    assert_eq!(
        entry(&env, "g").unwrap()["global"],
        true,
        "global is inherited"
    );
    let out = env.verun(["verify", by_old.to_str().unwrap()]);
    assert_exit(&out, 77);
    assert_mentions(&out, "rotated out");
    ok(&env.verun(["verify", by_new.to_str().unwrap()]));
}

// --- the store's own safety ----------------------------------------------------------------

#[test]
fn a_store_writable_by_others_is_refused() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();
    let b64 = key.public_key_base64();
    ok(&env.verun(["key", "add", "k", "--pubkey", &b64, "--global"]));
    let before = fs::read(store_file(&env)).unwrap();

    for (path, bad, good) in [
        (config(&env), 0o777, 0o700),
        (config(&env), 0o770, 0o700),
        (config(&env).join("keys"), 0o757, 0o700),
        (store_file(&env), 0o666, 0o600),
        (store_file(&env), 0o620, 0o600),
        (config(&env).join("keys/k.pub"), 0o646, 0o600),
    ] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        for args in [
            vec!["key", "list"],
            vec!["key", "add", "x", "--pubkey", KEY_A, "--global"],
            vec!["verify", file],
            vec!["verify", file, "--key", &b64],
        ] {
            let out = env.verun(&args);
            assert_exit(&out, 78);
            assert_mentions(&out, "writable");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(good)).unwrap();
        assert_eq!(fs::read(store_file(&env)).unwrap(), before);
    }
    ok(&env.verun(["verify", file]));

    // A world-writable (non-sticky) directory holding the store.
    fs::set_permissions(env.home(), fs::Permissions::from_mode(0o777)).unwrap();
    assert_exit(&env.verun(["key", "list"]), 78);
    fs::set_permissions(env.home(), fs::Permissions::from_mode(0o700)).unwrap();
    ok(&env.verun(["key", "list"]));
}

#[test]
fn a_store_owned_by_another_user_is_refused() {
    if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        common::skipped(
            "a_store_owned_by_another_user_is_refused",
            "needs root to chown",
            "VERUN_REQUIRE_ROOT",
            common::Need::Environment,
        );
        return;
    }
    let env = TestEnv::new();
    ok(&env.verun(["key", "add", "k", "--pubkey", KEY_A, "--global"]));
    std::os::unix::fs::chown(store_file(&env), Some(65534), Some(65534)).unwrap();
    let out = env.verun(["key", "list"]);
    assert_exit(&out, 78);
    assert_mentions(&out, "uid");
    std::os::unix::fs::chown(store_file(&env), Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(config(&env), Some(65534), Some(65534)).unwrap();
    assert_exit(&env.verun(["key", "list"]), 78);
}

#[test]
fn a_symlinked_store_is_refused() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();
    ok(&env.verun([
        "key",
        "add",
        "k",
        "--pubkey",
        &key.public_key_base64(),
        "--global",
    ]));

    // The whole store directory behind a symlink.
    let real = env.root().join("real-config");
    fs::rename(config(&env), &real).unwrap();
    std::os::unix::fs::symlink(&real, config(&env)).unwrap();
    let before = fs::read(real.join("store.toml")).unwrap();
    for args in [
        vec!["key", "list"],
        vec!["key", "add", "x", "--pubkey", KEY_A, "--global"],
        vec!["key", "revoke", "k"],
        vec!["verify", file],
    ] {
        let out = env.verun(&args);
        assert_exit(&out, 78);
        assert_mentions(&out, "symlink");
    }
    assert_eq!(fs::read(real.join("store.toml")).unwrap(), before);
    fs::remove_file(config(&env)).unwrap();
    fs::rename(&real, config(&env)).unwrap();
    ok(&env.verun(["verify", file]));

    // One file or directory inside it behind a symlink.
    for inner in ["store.toml", "keys", "keys/k.pub", "store.lock"] {
        let path = config(&env).join(inner);
        let moved = env.root().join("moved");
        fs::rename(&path, &moved).unwrap();
        std::os::unix::fs::symlink(&moved, &path).unwrap();
        let out = env.verun(["key", "add", "x", "--pubkey", KEY_A, "--global"]);
        assert_exit(&out, 78);
        assert_mentions(&out, "symlink");
        assert_exit(&env.verun(["key", "list"]), 78);
        assert_exit(&env.verun(["verify", file]), 78);
        fs::remove_file(&path).unwrap();
        fs::rename(&moved, &path).unwrap();
        ok(&env.verun(["key", "list"]));
    }
    ok(&env.verun(["verify", file]));
}

#[test]
fn sixteen_concurrent_adds_lose_nothing() {
    let env = TestEnv::new();
    let keys: Vec<TestKey> = (0..16).map(|_| TestKey::generate()).collect();
    let children: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            env.verun_cmd([
                "key",
                "add",
                &format!("k{i:02}"),
                "--pubkey",
                &k.public_key_base64(),
                "--scope",
                &format!("https://k{i}.example/"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn verun")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0);
    }
    let got = names(&env);
    for i in 0..16 {
        assert!(
            got.contains(&format!("k{i:02}")),
            "k{i:02} was lost: {got:?}"
        );
    }
    let doc = list_json(&env);
    for (i, k) in keys.iter().enumerate() {
        let e = doc["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == format!("k{i:02}"))
            .unwrap();
        assert_eq!(e["key_id"], k.key_id_hex());
        assert!(config(&env).join(format!("keys/k{i:02}.pub")).is_file());
    }
}

#[test]
fn damaged_store_files_are_refused_and_left_alone() {
    let env = TestEnv::new();
    let key = TestKey::generate();
    let file = signed_file(&env, &key, "tool.sh", b"echo hi\n");
    let file = file.to_str().unwrap();
    ok(&env.verun([
        "key",
        "add",
        "k",
        "--pubkey",
        &key.public_key_base64(),
        "--global",
    ]));
    let good_toml = fs::read_to_string(store_file(&env)).unwrap();
    let good_pub = fs::read(config(&env).join("keys/k.pub")).unwrap();
    let other = TestKey::generate();

    let damaged_toml = [
        "this is not toml [[[".to_string(),
        good_toml[..good_toml.len() / 2].to_string(),
        good_toml.replace("version = 1", "version = 99"),
        good_toml.replace(&key.key_id_hex(), "0000000000000000"),
        good_toml.replace(&key.public_key_base64(), &other.public_key_base64()),
        good_toml.replace("status = \"active\"", "status = \"maybe\""),
        good_toml.replace("global = true", "global = \"yes\""),
        format!("{good_toml}\n[[key]]\nname = \"k\"\n"),
        format!(
            "{good_toml}{}",
            &good_toml[good_toml.find("[[key]]").unwrap()..]
        ),
        "\u{0}\u{1}\u{2}binary".to_string(),
    ];
    let damaged_pub = [
        b"garbage\n".to_vec(),
        other.public_key_file().into_bytes(),
        Vec::new(),
    ];
    let check = |what: &str, path: &Path, bytes: &[u8]| {
        fs::write(path, bytes).unwrap();
        for args in [
            vec!["key", "list"],
            vec!["key", "show", "k"],
            vec!["key", "add", "x", "--pubkey", KEY_A, "--global"],
            vec!["key", "revoke", "k"],
            vec!["verify", file],
        ] {
            let out = env.verun(&args);
            assert_exit(&out, 78);
            assert!(
                !stderr(&out).contains("panicked"),
                "{what}: {args:?} panicked:\n{}",
                stderr(&out)
            );
            assert_eq!(
                fs::read(path).unwrap(),
                bytes,
                "{what}: {args:?} rewrote the file"
            );
        }
    };
    for (i, bad) in damaged_toml.iter().enumerate() {
        check(
            &format!("store.toml #{i}"),
            &store_file(&env),
            bad.as_bytes(),
        );
    }
    fs::write(store_file(&env), &good_toml).unwrap();
    for (i, bad) in damaged_pub.iter().enumerate() {
        check(
            &format!("keys/k.pub #{i}"),
            &config(&env).join("keys/k.pub"),
            bad,
        );
    }
    fs::write(config(&env).join("keys/k.pub"), &good_pub).unwrap();
    ok(&env.verun(["verify", file]));
}
