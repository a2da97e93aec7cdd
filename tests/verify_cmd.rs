//! `verun verify FILE`: the same evidence rules for a local file (default signature
//! `FILE.minisig`, `file:` bound to FILE's name), `--json`, and the promise that `verify`
//! runs nothing — every file verified here is an executable marker script.

mod common;
mod harness;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::*;
use harness::*;

/// A local file to verify: `work/<slug>/x.sh`, an executable marker script.
struct Local {
    file: PathBuf,
    data: Vec<u8>,
    marker: PathBuf,
}

impl Local {
    fn new(c: &Ctx, slug: &str) -> Local {
        let (data, marker) = c.script(slug);
        let file = c.env.write(format!("{slug}/{PAYLOAD}"), &data);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        Local { file, data, marker }
    }

    /// Writes `text` next to the file as `<file name><suffix>`.
    fn sibling(&self, suffix: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let mut name = self.file.clone().into_os_string();
        name.push(suffix);
        fs::write(&name, text).unwrap();
        PathBuf::from(name)
    }

    fn sign(&self, c: &Ctx) -> &Local {
        self.sibling(".minisig", c.key.sign(&self.data, PAYLOAD));
        self
    }

    fn path(&self) -> String {
        self.file.display().to_string()
    }
}

/// A `verify` case: returns the arguments after `verify` and the marker.
struct VCase {
    name: &'static str,
    expect: i32,
    setup: fn(&Ctx, &str) -> (Vec<String>, PathBuf),
}

fn args(file: &Local, extra: Vec<String>) -> (Vec<String>, PathBuf) {
    let mut v = vec![file.path()];
    v.extend(extra);
    (v, file.marker.clone())
}

fn s<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|x| x.to_string()).collect()
}

fn cases() -> Vec<VCase> {
    vec![
        VCase {
            name: "default_signature_key_base64",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sign(c);
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "key_pub_file",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sign(c);
                let pubfile = c.key.write_public_key(c.env.path(format!("{slug}.pub")));
                args(&f, vec!["--key".into(), pubfile.display().to_string()])
            },
        },
        VCase {
            name: "second_key_signed",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sign(c);
                let mut a = vec!["-k".to_string(), c.key2.public_key_base64()];
                a.extend(c.key_arg());
                args(&f, a)
            },
        },
        VCase {
            name: "sig_elsewhere_path",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let sig = c.env.write(
                    format!("sigs-{slug}/release.sig"),
                    c.key.sign(&f.data, PAYLOAD),
                );
                let mut a = c.key_arg();
                a.extend(["--sig".to_string(), sig.display().to_string()]);
                args(&f, a)
            },
        },
        VCase {
            name: "sig_elsewhere_url",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let url = Ctx::serve(
                    &c.https,
                    &Ctx::path(slug, "x.sh.minisig"),
                    Reply::bytes(c.key.sign(&f.data, PAYLOAD)),
                );
                let mut a = c.trusting();
                a.extend(["--sig".to_string(), url]);
                args(&f, a)
            },
        },
        VCase {
            name: "tampered_file",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sign(c);
                fs::write(&f.file, flip(&f.data, 20, 0x20)).unwrap();
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "tampered_signature",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", corrupt_signature(&c.key.sign(&f.data, PAYLOAD)));
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "replaced_trusted_comment",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let sig = c.key.sign(&f.data, PAYLOAD);
                f.sibling(
                    ".minisig",
                    replace_trusted_comment(&sig, &trusted_comment_at(1, PAYLOAD, false)),
                );
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "wrong_key",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", c.key2.sign(&f.data, PAYLOAD));
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "missing_signature_with_key",
            expect: 77,
            setup: |c, slug| args(&Local::new(c, slug), c.key_arg()),
        },
        VCase {
            name: "no_anchor",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sign(c);
                args(&f, vec![])
            },
        },
        VCase {
            name: "sha256_match",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let h = sha256_hex(&f.data).to_uppercase();
                args(&f, vec!["--sha256".into(), h])
            },
        },
        VCase {
            name: "sha256_mismatch",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                args(&f, vec!["--sha256".into(), sha256_hex(b"no")])
            },
        },
        VCase {
            name: "sha256_malformed",
            expect: 64,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                args(&f, s(["--sha256", "abc123"]))
            },
        },
        VCase {
            name: "file_binding_mismatch",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", c.key.sign(&f.data, "other.sh"));
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "file_binding_expect_file",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", c.key.sign(&f.data, "other.sh"));
                let mut a = c.key_arg();
                a.extend(s(["--expect-file", "other.sh"]));
                args(&f, a)
            },
        },
        VCase {
            name: "legacy_refused",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", c.key.sign_legacy(&f.data, PAYLOAD));
                args(&f, c.key_arg())
            },
        },
        VCase {
            name: "legacy_allowed",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                f.sibling(".minisig", c.key.sign_legacy(&f.data, PAYLOAD));
                let mut a = c.key_arg();
                a.push("--allow-legacy".into());
                args(&f, a)
            },
        },
        VCase {
            name: "unsigned_local_list_is_no_anchor",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let list = c.env.write(
                    format!("{slug}/SHA256SUMS"),
                    gnu_checksums(&[(PAYLOAD, &f.data)]),
                );
                args(&f, vec!["--checksums".into(), list.display().to_string()])
            },
        },
        VCase {
            name: "signed_local_list",
            expect: 0,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let text = bsd_checksums(&[("a", b"a"), (PAYLOAD, &f.data)]);
                let list = c.env.write(format!("{slug}/SHA256SUMS"), &text);
                c.env.write(
                    format!("{slug}/SHA256SUMS.minisig"),
                    c.key.sign(text.as_bytes(), "SHA256SUMS"),
                );
                let mut a = c.key_arg();
                a.extend(["--checksums".to_string(), list.display().to_string()]);
                args(&f, a)
            },
        },
        VCase {
            name: "signed_local_list_wrong_hash",
            expect: 77,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                let text = gnu_checksums(&[(PAYLOAD, b"other")]);
                let list = c.env.write(format!("{slug}/SHA256SUMS"), &text);
                c.env.write(
                    format!("{slug}/SHA256SUMS.minisig"),
                    c.key.sign(text.as_bytes(), "SHA256SUMS"),
                );
                let mut a = c.key_arg();
                a.extend(["--checksums".to_string(), list.display().to_string()]);
                args(&f, a)
            },
        },
        VCase {
            name: "missing_file",
            expect: 74,
            setup: |c, slug| {
                let f = Local::new(c, slug);
                fs::remove_file(&f.file).unwrap();
                args(&f, vec!["--sha256".into(), sha256_hex(&f.data)])
            },
        },
    ]
}

#[test]
fn verify_matrix() {
    let c = Ctx::new();
    let table = cases();
    let mut failures = Vec::new();
    for case in &table {
        let slug = case.name.replace('_', "-");
        let (rest, marker) = (case.setup)(&c, &slug);
        let mut argv = vec!["verify".to_string()];
        argv.extend(rest);
        let out = c.env.verun(&argv);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if case.expect == 0 {
                assert_exit(&out, 0);
                assert_eq!(stdout(&out), "", "verify prints nothing on stdout");
                assert!(stderr(&out).contains("verified"), "{}", stderr(&out));
            } else {
                assert_refused(&c.env, &out, case.expect, &marker);
            }
            assert_not_ran(&marker);
        }));
        if let Err(panic) = result {
            let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failures.push(format!(
                "=== {}: verun {}\n{msg}",
                case.name,
                argv.join(" ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn verify_json_reports_one_object() {
    let c = Ctx::new();
    let f = Local::new(&c, "json");
    f.sign(&c);
    let mut argv = vec!["verify".to_string(), f.path(), "--json".into()];
    argv.extend(c.key_arg());
    let out = c.env.verun(&argv);
    assert_exit(&out, 0);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["sha256"], sha256_hex(&f.data), "{v}");
    assert_eq!(v["size"], f.data.len() as u64, "{v}");
    assert_eq!(v["signature"]["key_id"], c.key.key_id_hex(), "{v}");
    assert_eq!(v["signature"]["prehashed"], true, "{v}");
    assert!(
        v["signature"]["trusted_comment"]
            .as_str()
            .unwrap_or("")
            .contains("file:x.sh"),
        "{v}"
    );

    fs::write(&f.file, b"#!/bin/sh\necho evil\n").unwrap();
    let out = c.env.verun(&argv);
    assert_refused(&c.env, &out, 77, &f.marker);
    let v = json_stdout(&out);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["exit_code"], 77, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
}

#[test]
fn verify_quiet_is_silent_and_shows_escaped_comments_otherwise() {
    let c = Ctx::new();
    let f = Local::new(&c, "tc");
    let tc = format!(
        "timestamp:{}\tfile:x.sh\t\x1b]8;;http://evil\x07link",
        now_timestamp()
    );
    f.sibling(".minisig", c.key.sign_tc(&f.data, &tc));
    let mut argv = vec!["verify".to_string(), f.path()];
    argv.extend(c.key_arg());

    let out = c.env.verun(&argv);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("\\u{1b}]8;;http://evil\\u{7}link"), "{err}");
    assert!(!out.stderr.contains(&0x1b), "raw ESC on stderr: {err}");

    argv.push("-q".into());
    let out = c.env.verun(&argv);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), "");
    assert_not_ran(&f.marker);
}
