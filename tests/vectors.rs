//! Real signatures made by a third party: the DNSCrypt project's resolver lists, signed with
//! its own minisign key (legacy `Ed` signatures). They are read from
//! `../shared/vectors/dnscrypt/` next to the repository and never copied into it; when that
//! directory is absent every test says SKIPPED on the real stderr (not captured) and passes,
//! or fails under `VERUN_REQUIRE_VECTORS=1`.
//!
//! Legacy signatures are refused by default and accepted with `--allow-legacy`; one changed
//! byte anywhere that is signed (data, signature, trusted comment, global signature) is
//! refused with 77.

mod common;
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use harness::*;

/// The signed files and their trusted comments' `file:` names.
const FILES: [&str; 2] = ["relays.md", "dnscrypt-resolvers.csv"];
/// The DNSCrypt key, as minisign prints its id.
const KEY_ID: &str = "E7620F1842B4E81F";
const KEY_B64: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

fn vectors(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/dnscrypt");
    if dir.join("minisign.pub").is_file() && FILES.iter().all(|f| dir.join(f).is_file()) {
        Some(dir)
    } else {
        skipped(
            test,
            &format!("third-party vectors not found at {}", dir.display()),
            "VERUN_REQUIRE_VECTORS",
            Need::Environment,
        );
        None
    }
}

fn verify(env: &TestEnv, file: &Path, key: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "verify".to_string(),
        file.display().to_string(),
        "--key".into(),
        key.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    env.verun(&args)
}

/// A marker that no vector can write: `verify` runs nothing, and nothing here is a script.
fn no_marker(env: &TestEnv) -> PathBuf {
    env.root().join("markers/never.ran")
}

#[test]
fn legacy_vectors_are_refused_by_default() {
    let Some(dir) = vectors("legacy_vectors_are_refused_by_default") else {
        return;
    };
    let env = TestEnv::new();
    let pubkey = dir.join("minisign.pub").display().to_string();
    for name in FILES {
        let out = verify(&env, &dir.join(name), &pubkey, &[]);
        assert_refused(&env, &out, 77, &no_marker(&env));
        assert!(stderr(&out).contains("legacy"), "{name}: {}", stderr(&out));
    }
}

#[test]
fn legacy_vectors_verify_with_allow_legacy() {
    let Some(dir) = vectors("legacy_vectors_verify_with_allow_legacy") else {
        return;
    };
    let env = TestEnv::new();
    let pubkey = dir.join("minisign.pub").display().to_string();
    for name in FILES {
        for key in [pubkey.as_str(), KEY_B64] {
            let out = verify(&env, &dir.join(name), key, &["--allow-legacy"]);
            assert_exit(&out, 0);
            let err = stderr(&out);
            assert!(err.contains("warning: --allow-legacy"), "{name}: {err}");
            assert!(err.contains(&format!("file:{name}")), "{name}: {err}");
            assert!(err.contains(KEY_ID), "{name}: {err}");
        }
        let out = verify(
            &env,
            &dir.join(name),
            KEY_B64,
            &["--allow-legacy", "--json"],
        );
        assert_exit(&out, 0);
        let v = json_stdout(&out);
        let data = fs::read(dir.join(name)).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["sha256"], sha256_hex(&data), "{v}");
        assert_eq!(v["size"], data.len() as u64, "{v}");
        assert_eq!(v["signature"]["key_id"], KEY_ID, "{v}");
        assert_eq!(v["signature"]["prehashed"], false, "{v}");
    }
}

/// Copies `name` and its signature into `work/<tag>/`; returns the copy's path.
fn copy(env: &TestEnv, dir: &Path, name: &str, tag: &str) -> PathBuf {
    let data = env.write(format!("{tag}/{name}"), fs::read(dir.join(name)).unwrap());
    env.write(
        format!("{tag}/{name}.minisig"),
        fs::read(dir.join(format!("{name}.minisig"))).unwrap(),
    );
    data
}

/// Signature text with byte `at` of the base64 line `line` (1: signature, 3: global
/// signature) flipped in its decoded form, re-encoded canonically.
fn flip_b64_line(sig: &str, line: usize, at: usize) -> String {
    let mut lines: Vec<String> = sig.lines().map(str::to_string).collect();
    let mut bytes = B64.decode(&lines[line]).unwrap();
    bytes[at] ^= 0x01;
    lines[line] = B64.encode(bytes);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn one_changed_byte_is_refused() {
    let Some(dir) = vectors("one_changed_byte_is_refused") else {
        return;
    };
    let env = TestEnv::new();
    for name in FILES {
        let data = fs::read(dir.join(name)).unwrap();
        let sig = fs::read_to_string(dir.join(format!("{name}.minisig"))).unwrap();
        let tc_line = sig.lines().nth(2).unwrap().to_string();
        // A digit of the timestamp, one up.
        let digit = tc_line.find("timestamp:").unwrap() + "timestamp:".len() + 3;
        let mut tc_bytes = tc_line.clone().into_bytes();
        tc_bytes[digit] = if tc_bytes[digit] == b'9' {
            b'0'
        } else {
            tc_bytes[digit] + 1
        };
        let stale = sig.replace(&tc_line, &String::from_utf8(tc_bytes).unwrap());
        let renamed_file = sig.replace(&format!("file:{name}"), &format!("file:{name}x"));
        let n = data.len();
        let cases: Vec<(&str, Vec<u8>, String)> = vec![
            ("data, first byte", flip(&data, 0, 0x01), sig.clone()),
            ("data, middle byte", flip(&data, n / 2, 0x80), sig.clone()),
            ("data, last byte", flip(&data, n - 1, 0x01), sig.clone()),
            (
                "data, one byte more",
                [data.as_slice(), b" "].concat(),
                sig.clone(),
            ),
            ("data, one byte less", data[..n - 1].to_vec(), sig.clone()),
            ("signature", data.clone(), flip_b64_line(&sig, 1, 40)),
            (
                "signature, last byte",
                data.clone(),
                flip_b64_line(&sig, 1, 73),
            ),
            ("signature, key id", data.clone(), flip_b64_line(&sig, 1, 5)),
            (
                "signature, algorithm",
                data.clone(),
                flip_b64_line(&sig, 1, 1),
            ),
            ("trusted comment, timestamp", data.clone(), stale),
            ("trusted comment, file", data.clone(), renamed_file),
            ("global signature", data.clone(), flip_b64_line(&sig, 3, 0)),
            (
                "global signature, last byte",
                data.clone(),
                flip_b64_line(&sig, 3, 63),
            ),
        ];
        for (i, (what, d, s)) in cases.into_iter().enumerate() {
            let tag = format!("flip-{i}");
            let file = env.write(format!("{tag}/{name}"), &d);
            env.write(format!("{tag}/{name}.minisig"), &s);
            let out = verify(&env, &file, KEY_B64, &["--allow-legacy"]);
            let r = std::panic::catch_unwind(|| assert_refused(&env, &out, 77, &no_marker(&env)));
            assert!(r.is_ok(), "{name}: {what} was not refused");
        }

        // The untrusted comment is not signed: changing it changes nothing.
        let file = copy(&env, &dir, name, "untrusted");
        let edited = sig.replacen(
            sig.lines().next().unwrap(),
            "untrusted comment: edited by someone",
            1,
        );
        env.write(format!("untrusted/{name}.minisig"), edited);
        let out = verify(&env, &file, KEY_B64, &["--allow-legacy"]);
        assert_exit(&out, 0);
    }
}

#[test]
fn another_key_or_name_is_refused() {
    let Some(dir) = vectors("another_key_or_name_is_refused") else {
        return;
    };
    let env = TestEnv::new();
    let stranger = TestKey::generate().public_key_base64();
    for name in FILES {
        let out = verify(&env, &dir.join(name), &stranger, &["--allow-legacy"]);
        assert_refused(&env, &out, 77, &no_marker(&env));

        // The same bytes under another name: the signed file: field does not match.
        let data = fs::read(dir.join(name)).unwrap();
        let renamed = env.write(format!("renamed/copy-of-{name}"), &data);
        env.write(
            format!("renamed/copy-of-{name}.minisig"),
            fs::read(dir.join(format!("{name}.minisig"))).unwrap(),
        );
        let out = verify(&env, &renamed, KEY_B64, &["--allow-legacy"]);
        assert_refused(&env, &out, 77, &no_marker(&env));
        assert!(
            stderr(&out).contains(&format!("file:{name}")),
            "{}",
            stderr(&out)
        );
        let out = verify(
            &env,
            &renamed,
            KEY_B64,
            &["--allow-legacy", "--expect-file", name],
        );
        assert_exit(&out, 0);
    }
}

#[test]
fn vectors_served_over_https() {
    let Some(dir) = vectors("vectors_served_over_https") else {
        return;
    };
    let c = Ctx::new();
    for name in FILES {
        let data = fs::read(dir.join(name)).unwrap();
        c.https.route(format!("/v3/{name}"), Reply::bytes(&data));
        c.https.route(
            format!("/v3/{name}.minisig"),
            Reply::bytes(fs::read(dir.join(format!("{name}.minisig"))).unwrap()),
        );
        let out_path = c.env.path(format!("dl/{name}"));
        fs::create_dir_all(out_path.parent().unwrap()).unwrap();
        let mut args = vec![
            "fetch".to_string(),
            c.https.url(&format!("/v3/{name}")),
            "-o".into(),
            out_path.display().to_string(),
            "--key".into(),
            KEY_B64.into(),
        ];
        args.extend(c.cacert());

        let out = c.env.verun(&args);
        assert_refused(&c.env, &out, 77, &no_marker(&c.env));
        assert_nothing_at(&out_path);

        args.push("--allow-legacy".into());
        let out = c.env.verun(&args);
        assert_exit(&out, 0);
        assert!(
            fs::read(&out_path).unwrap() == data,
            "{name}: saved bytes differ"
        );
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(&out_path).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode, 0o644, "{name}: data is saved 0644");
    }
}
