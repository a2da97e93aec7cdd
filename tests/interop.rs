//! Interoperability with the reference `minisign` CLI, an implementation verun shares no
//! code with: keys it generates and signatures it makes (prehashed by default, legacy with
//! `-l`, custom trusted comments with `-t`) must verify in verun exactly when `minisign -V`
//! accepts them. When the CLI is absent every test says SKIPPED on the real stderr (not
//! captured) and passes locally, but fails in CI (`CI=true`) or under
//! `VERUN_REQUIRE_MINISIGN=1` (`.ci/run` installs minisign and sets it).

mod common;
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use harness::*;

/// A key pair and a signed marker script made by the CLI, in `work/<name>/`.
struct Signed {
    keys: CliKeyPair,
    file: PathBuf,
    sig: PathBuf,
    data: Vec<u8>,
    marker: PathBuf,
}

fn cli_signed(c: &Ctx, name: &str, legacy: bool, comment: Option<&str>) -> Signed {
    let dir = c.env.path(name);
    fs::create_dir_all(&dir).unwrap();
    let keys = cli_keygen(&dir, "publisher").expect("minisign CLI");
    let (data, marker) = c.script(name);
    let file = dir.join(PAYLOAD);
    fs::write(&file, &data).unwrap();
    let sig = cli_sign(&keys, &file, legacy, comment).expect("minisign CLI");
    Signed {
        keys,
        file,
        sig,
        data,
        marker,
    }
}

fn verify_args(file: &Path, key: &str, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "verify".to_string(),
        file.display().to_string(),
        "--key".into(),
        key.to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Serves the CLI-signed file and its signature at `https:/<name>/x.sh(.minisig)` and runs
/// it through `verun run`.
fn run_served(c: &Ctx, name: &str, s: &Signed, extra: &[&str]) -> std::process::Output {
    c.https
        .route(Ctx::path(name, PAYLOAD), Reply::bytes(&s.data));
    c.https.route(
        Ctx::path(name, "x.sh.minisig"),
        Reply::bytes(fs::read(&s.sig).unwrap()),
    );
    let mut args = vec!["run".to_string(), c.https.url(&Ctx::path(name, PAYLOAD))];
    args.extend(c.cacert());
    args.extend([
        "--key".to_string(),
        s.keys.public_key_path.display().to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    c.env.verun(&args)
}

#[test]
fn cli_prehashed_signatures_verify() {
    let Some(_) = minisign_or_skip("cli_prehashed_signatures_verify") else {
        return;
    };
    let c = Ctx::new();
    let s = cli_signed(&c, "prehashed", false, None);
    let sig_text = fs::read_to_string(&s.sig).unwrap();
    assert_eq!(parse_signature(&sig_text).unwrap().algorithm, *b"ED");

    for key in [
        s.keys.public_key_path.display().to_string(),
        s.keys.public_key_base64(),
    ] {
        let out = c.env.verun(verify_args(&s.file, &key, &[]));
        assert_exit(&out, 0);
        assert!(
            stderr(&out).contains(&key_id_hex(s.keys.key_id())),
            "{}",
            stderr(&out)
        );
    }
    assert_not_ran(&s.marker);

    let out = run_served(&c, "prehashed", &s, &["--", "via-cli"]);
    assert_exit(&out, 0);
    assert_eq!(assert_ran(&s.marker), vec!["via-cli"]);
}

#[test]
fn cli_legacy_signatures_need_allow_legacy() {
    let Some(_) = minisign_or_skip("cli_legacy_signatures_need_allow_legacy") else {
        return;
    };
    let c = Ctx::new();
    let s = cli_signed(&c, "legacy", true, None);
    let sig_text = fs::read_to_string(&s.sig).unwrap();
    assert_eq!(parse_signature(&sig_text).unwrap().algorithm, *b"Ed");
    assert_eq!(
        cli_verify(&s.keys.public_key_path, &s.file, &s.sig, false),
        Some(true)
    );
    let key = s.keys.public_key_path.display().to_string();

    let out = c.env.verun(verify_args(&s.file, &key, &[]));
    assert_refused(&c.env, &out, 77, &s.marker);
    assert!(stderr(&out).contains("legacy"), "{}", stderr(&out));

    let out = c.env.verun(verify_args(&s.file, &key, &["--allow-legacy"]));
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("warning: --allow-legacy"),
        "a loud warning is expected:\n{}",
        stderr(&out)
    );

    let out = run_served(&c, "legacy", &s, &[]);
    assert_refused(&c.env, &out, 77, &s.marker);
    let out = run_served(&c, "legacy", &s, &["--allow-legacy"]);
    assert_exit(&out, 0);
    assert_ran(&s.marker);
}

#[test]
fn cli_custom_trusted_comments() {
    let Some(_) = minisign_or_skip("cli_custom_trusted_comments") else {
        return;
    };
    let c = Ctx::new();

    // A free-form comment without file: binds no name; it is shown as signed.
    let s = cli_signed(&c, "custom", false, Some("release 1.2.3 of x.sh"));
    let key = s.keys.public_key_path.display().to_string();
    let out = c.env.verun(verify_args(&s.file, &key, &[]));
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("trusted comment: release 1.2.3 of x.sh"),
        "{}",
        stderr(&out)
    );

    // Fields in minisign's own format are honoured: file: must match.
    let s = cli_signed(
        &c,
        "custom-file",
        false,
        Some("timestamp:1700000000\tfile:other.sh\tversion:2"),
    );
    let key = s.keys.public_key_path.display().to_string();
    let out = c.env.verun(verify_args(&s.file, &key, &[]));
    assert_refused(&c.env, &out, 77, &s.marker);
    let out = c
        .env
        .verun(verify_args(&s.file, &key, &["--expect-file", "other.sh"]));
    assert_exit(&out, 0);

    // Escape sequences in a comment the CLI signed are printed escaped.
    let s = cli_signed(
        &c,
        "custom-esc",
        false,
        Some("hello \x1b[2J\x1b]0;title\x07 world"),
    );
    let key = s.keys.public_key_path.display().to_string();
    let out = c.env.verun(verify_args(&s.file, &key, &[]));
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("hello \\u{1b}[2J\\u{1b}]0;title\\u{7} world"),
        "{}",
        stderr(&out)
    );
    assert!(!out.stderr.contains(&0x1b), "raw ESC on stderr");
}

#[test]
fn verun_and_the_cli_agree_on_tampering() {
    let Some(_) = minisign_or_skip("verun_and_the_cli_agree_on_tampering") else {
        return;
    };
    let c = Ctx::new();
    for legacy in [false, true] {
        let name = if legacy { "agree-legacy" } else { "agree" };
        let s = cli_signed(&c, name, legacy, None);
        let sig_text = fs::read_to_string(&s.sig).unwrap();
        let other = cli_keygen(&c.env.path(name), "other").expect("minisign CLI");
        let lines: Vec<&str> = sig_text.lines().collect();
        let flip_line = |i: usize, at: usize| -> String {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            let mut b = l[i].clone().into_bytes();
            b[at] = if b[at] == b'A' { b'B' } else { b'A' };
            l[i] = String::from_utf8(b).unwrap();
            l.iter().map(|s| format!("{s}\n")).collect()
        };
        let mutations: Vec<(&str, Vec<u8>, String, PathBuf)> = vec![
            (
                "untouched",
                s.data.clone(),
                sig_text.clone(),
                s.keys.public_key_path.clone(),
            ),
            (
                "data byte",
                flip(&s.data, 12, 0x01),
                sig_text.clone(),
                s.keys.public_key_path.clone(),
            ),
            (
                "data appended",
                [s.data.as_slice(), b"\n"].concat(),
                sig_text.clone(),
                s.keys.public_key_path.clone(),
            ),
            (
                "signature",
                s.data.clone(),
                corrupt_signature(&sig_text),
                s.keys.public_key_path.clone(),
            ),
            (
                "trusted comment",
                s.data.clone(),
                flip_line(2, 30),
                s.keys.public_key_path.clone(),
            ),
            (
                "global signature",
                s.data.clone(),
                flip_line(3, 10),
                s.keys.public_key_path.clone(),
            ),
            (
                "other key",
                s.data.clone(),
                sig_text.clone(),
                other.public_key_path.clone(),
            ),
        ];
        for (what, data, sig, key) in mutations {
            fs::write(&s.file, &data).unwrap();
            fs::write(&s.sig, &sig).unwrap();
            let cli_ok = cli_verify(&key, &s.file, &s.sig, false).expect("minisign CLI");
            let out = c.env.verun(verify_args(
                &s.file,
                &key.display().to_string(),
                &["--allow-legacy"],
            ));
            let want = if cli_ok { 0 } else { 77 };
            assert_eq!(
                cli_ok,
                what == "untouched",
                "{name}/{what}: minisign -V said {cli_ok}"
            );
            assert_exit(&out, want);
            assert_not_ran(&s.marker);
        }
    }
}

#[test]
fn cli_signed_checksum_list_anchors_a_download() {
    let Some(_) = minisign_or_skip("cli_signed_checksum_list_anchors_a_download") else {
        return;
    };
    let c = Ctx::new();
    let dir = c.env.path("list");
    fs::create_dir_all(&dir).unwrap();
    let keys = cli_keygen(&dir, "publisher").expect("minisign CLI");
    let (data, marker) = c.script("list");
    let list = dir.join("SHA256SUMS");
    fs::write(&list, gnu_checksums(&[("a.tgz", b"a"), (PAYLOAD, &data)])).unwrap();
    let list_sig = cli_sign(&keys, &list, false, None).expect("minisign CLI");
    c.https.route("/list/x.sh", Reply::bytes(&data));
    c.https
        .route("/list/SHA256SUMS", Reply::bytes(fs::read(&list).unwrap()));
    c.https.route(
        "/list/SHA256SUMS.minisig",
        Reply::bytes(fs::read(&list_sig).unwrap()),
    );
    let mut args = vec![
        "run".to_string(),
        c.https.url("/list/x.sh"),
        "--checksums".into(),
        c.https.url("/list/SHA256SUMS"),
        "--key".into(),
        keys.public_key_base64(),
    ];
    args.extend(c.cacert());
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    assert_ran(&marker);
}
