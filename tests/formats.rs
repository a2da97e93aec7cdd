//! Checksum list formats and SHA-512 (SPEC `--checksums`, `--sha512`), with the real tools
//! as oracles: every list is generated at test time by `sha256sum`, `sha512sum` (GNU and
//! `--tag`), `shasum` and `openssl dgst`, over the very bytes the loopback server serves.
//!
//! A list given as a local path for a download counts as an independent channel (SPEC
//! evidence 4), so these tests need no key: the list alone is the trust anchor, and a
//! mismatch, a malformed list or a mixed list must refuse (77) with nothing run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use sha2::Digest as _;

/// One sandbox, one HTTPS loopback server.
struct ListSite {
    env: TestEnv,
    server: TestServer,
}

impl ListSite {
    fn new() -> ListSite {
        ListSite {
            env: TestEnv::new(),
            server: TestServer::https(),
        }
    }

    fn cacert(&self) -> String {
        self.server.ca_pem_path().display().to_string()
    }

    /// `verun CMD URL --cacert CA EXTRA...`.
    fn verun(&self, cmd: &str, url: &str, extra: &[&str]) -> Output {
        let cacert = self.cacert();
        let mut args = vec![cmd, url, "--cacert", &cacert];
        args.extend_from_slice(extra);
        self.env.verun(&args)
    }

    /// Serve a marker script at `/dl/NAME`; write the same bytes (and a second file) to
    /// `work()/lists/`, for the oracles to hash. Returns the URL, payload and marker.
    fn publish(&self, name: &str) -> (String, Vec<u8>, PathBuf) {
        let (payload, marker) = marker_script(&self.env, &name.replace('.', "_"));
        let path = format!("/dl/{name}");
        self.server.route(&path, Reply::bytes(&payload));
        self.env.write(format!("lists/{name}"), &payload);
        self.env
            .write("lists/other.tar.gz", b"another release file\n");
        (self.server.url(&path), payload, marker)
    }

    /// Run an oracle in `work()/lists` over `files`; its stdout is the list.
    fn oracle(&self, argv: &[&str], files: &[&str]) -> String {
        let dir = self.env.path("lists");
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .args(files)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("oracle {argv:?} cannot run: {e}"));
        assert!(out.status.success(), "oracle {argv:?} failed: {out:?}");
        String::from_utf8(out.stdout).expect("oracle output is UTF-8")
    }

    /// Write a list to `work()/NAME`; returns its path as a string.
    fn list(&self, name: &str, text: impl AsRef<[u8]>) -> String {
        self.env.write(name, text).display().to_string()
    }
}

/// Whether a program can be run (`PROG --version` or `PROG version` works).
fn have(prog: &str) -> bool {
    ["--version", "version"].iter().any(|arg| {
        Command::new(prog)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A missing oracle is a failure in CI, a visible skip elsewhere.
fn require(prog: &str) -> bool {
    if have(prog) {
        return true;
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("VERUN_REQUIRE_ORACLES").is_some() {
        panic!("oracle {prog} is not installed (required in CI)");
    }
    eprintln!("SKIPPED: {prog} not installed");
    false
}

fn sha512_hex(data: &[u8]) -> String {
    sha2::Sha512::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[track_caller]
fn assert_stderr_has(out: &Output, needle: &str) {
    assert!(
        stderr(out).contains(needle),
        "stderr lacks {needle:?}:\n{}",
        stderr(out)
    );
}

/// A refusal: 77, one error line and one hint line, nothing ran.
#[track_caller]
fn assert_refused(out: &Output, marker: &Path, needle: &str) {
    assert_exit(out, 77);
    assert_not_ran(marker);
    let err = stderr(out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("verun: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "error lacks {needle:?}: {err}");
    assert!(err.lines().any(|l| l.starts_with("verun: hint:")), "{err}");
}

/// Every list format the oracles produce: (command, list, whether it is SHA-512).
fn oracle_lists(s: &ListSite, name: &str) -> Vec<(String, String, bool)> {
    let files = ["other.tar.gz", name];
    let mut lists = Vec::new();
    for argv in [
        &["sha256sum"][..],
        &["sha256sum", "--binary"],
        &["sha256sum", "--tag"],
        &["sha512sum"],
        &["sha512sum", "--tag"],
    ] {
        let is512 = argv[0] == "sha512sum";
        lists.push((argv.join(" "), s.oracle(argv, &files), is512));
    }
    if require("shasum") {
        for argv in [
            &["shasum", "-a", "256"][..],
            &["shasum", "-a", "512", "--tag"],
        ] {
            lists.push((argv.join(" "), s.oracle(argv, &files), argv[2] == "512"));
        }
    }
    if require("openssl") {
        for alg in ["-sha256", "-sha512"] {
            let out = s.oracle(&["openssl", "dgst", alg], &files);
            // OpenSSL 1.x writes `SHA256(f)= `, 3.x `SHA2-256(f)= `: both are accepted.
            let old = out
                .replace("SHA2-256(", "SHA256(")
                .replace("SHA2-512(", "SHA512(");
            let new = old
                .replace("SHA256(", "SHA2-256(")
                .replace("SHA512(", "SHA2-512(");
            let is512 = alg == "-sha512";
            lists.push((format!("openssl dgst {alg} (1.x spelling)"), old, is512));
            lists.push((format!("openssl dgst {alg} (3.x spelling)"), new, is512));
        }
    }
    lists
}

#[test]
fn lists_written_by_the_real_tools_are_accepted_and_enforced() {
    let s = ListSite::new();
    let (url, payload, marker) = s.publish("tool.sh");
    let lists = oracle_lists(&s, "tool.sh");
    assert!(lists.len() >= 5);
    for (i, (what, text, is512)) in lists.iter().enumerate() {
        let list = s.list(&format!("list{i}.txt"), text);
        let out = s.verun("run", &url, &["--checksums", &list]);
        assert_exit(&out, 0);
        assert_ran(&marker);
        std::fs::remove_file(&marker).unwrap();
        let algo = if *is512 { "sha512" } else { "sha256" };
        assert_stderr_has(&out, &format!("{algo} matches unsigned checksum list"));

        // The same list against other bytes: refused, whichever the format.
        let mut evil = payload.clone();
        evil.extend_from_slice(b"echo evil\n");
        s.server.route("/dl/tool.sh", Reply::bytes(&evil));
        let out = s.verun("run", &url, &["--checksums", &list]);
        let want = if algo == "sha512" {
            "SHA-512 mismatch"
        } else {
            "SHA-256 mismatch"
        };
        assert_refused(&out, &marker, want);
        s.server.route("/dl/tool.sh", Reply::bytes(&payload));
        eprintln!("ok: {what}");
    }
}

#[test]
fn a_sha512sums_list_from_another_origin_is_an_anchor() {
    let s = ListSite::new();
    let (url, payload, marker) = s.publish("tool.sh");
    let lists = TestServer::https_with_ca(s.server.ca());
    let text = s.oracle(&["sha512sum"], &["other.tar.gz", "tool.sh"]);
    lists.route("/SHA512SUMS", Reply::bytes(&text));
    let list_url = lists.url("/SHA512SUMS");
    let out = s.verun(
        "fetch",
        &url,
        &["--checksums", &list_url, "-o", "tool.sh", "--json"],
    );
    assert_exit(&out, 0);
    assert_eq!(s.env.read("tool.sh"), payload);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(report["sha512"], sha512_hex(&payload));
    assert_eq!(report["sha256"], sha256_hex(&payload));
    assert_eq!(report["pins"][0]["sha512"], sha512_hex(&payload));
    assert!(report["pins"][0].get("sha256").is_none(), "{report}");
    assert_not_ran(&marker);
}

#[test]
fn a_bare_digest_file_applies_whatever_the_payload_is_called() {
    let s = ListSite::new();
    let (url, payload, marker) = s.publish("install-v2.sh");
    for (argv, file) in [("sha256sum", "tool.sha256"), ("sha512sum", "tool.sha512")] {
        let gnu = s.oracle(&[argv], &["install-v2.sh"]);
        let hex = gnu.split_whitespace().next().unwrap();
        for text in [
            format!("{hex}\n"),
            format!("\n  {hex}\t\r\n\n"),
            hex.to_uppercase(),
        ] {
            let list = s.list(file, &text);
            let out = s.verun("run", &url, &["--checksums", &list]);
            assert_exit(&out, 0);
            assert_ran(&marker);
            std::fs::remove_file(&marker).unwrap();
        }
        // The digest of other bytes: refused.
        let other = s.oracle(&[argv], &["other.tar.gz"]);
        let list = s.list(file, other.split_whitespace().next().unwrap());
        let out = s.verun("run", &url, &["--checksums", &list]);
        assert_refused(&out, &marker, "mismatch");
        // A bare digest must be the only content.
        let list = s.list(file, format!("{hex}\n{hex}\n"));
        let out = s.verun("run", &url, &["--checksums", &list]);
        assert_refused(&out, &marker, "alone");
        let list = s.list(file, format!("{hex} trailing words\n"));
        let out = s.verun("run", &url, &["--checksums", &list]);
        assert_refused(&out, &marker, "line 1");
    }
    assert!(!payload.is_empty());
}

#[test]
fn malformed_and_mixed_lists_are_refused() {
    let s = ListSite::new();
    let (url, _payload, marker) = s.publish("tool.sh");
    let sha256 = s.oracle(&["sha256sum"], &["tool.sh", "other.tar.gz"]);
    let sha512 = s.oracle(&["sha512sum"], &["other.tar.gz"]);
    let bsd = s.oracle(&["sha256sum", "--tag"], &["other.tar.gz"]);
    let md5 = s.oracle(&["md5sum"], &["other.tar.gz"]);
    let cases = [
        (format!("{sha256}{sha512}"), "mixes algorithms"),
        (format!("{sha256}{bsd}"), "mixes formats"),
        (format!("{sha256}{md5}"), "line 3"),
        (format!("{sha256}garbage line\n"), "line 3"),
        (format!("{sha256}SHA256 (x) = abc\n"), "line 3"),
        (sha256.replacen("  ", " ", 1), "line 1"),
        (
            "# nothing but a comment\n\n".to_string(),
            "no SHA-256 or SHA-512 entries",
        ),
        ("\x1b[2J\x1b]0;title\x07\n".to_string(), "line 1"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let list = s.list(&format!("bad{i}"), text);
        let out = s.verun("run", &url, &["--checksums", &list]);
        assert_refused(&out, &marker, needle);
        assert!(
            !stderr(&out).contains('\x1b'),
            "unsanitised: {}",
            stderr(&out)
        );
    }
    // A list with no entry for the payload, or two: refused as before.
    let list = s.list("none", &sha512);
    assert_refused(
        &s.verun("run", &url, &["--checksums", &list]),
        &marker,
        "no entry",
    );
    let twice = format!("{sha256}{}", sha256.replace("tool.sh", "dist/tool.sh"));
    let list = s.list("twice", twice);
    assert_refused(
        &s.verun("run", &url, &["--checksums", &list]),
        &marker,
        "ambiguous",
    );
}

#[test]
fn sha512_pin_good_bad_and_malformed() {
    let s = ListSite::new();
    let (url, payload, marker) = s.publish("tool.sh");
    let good = sha512_hex(&payload);
    let out = s.verun(
        "run",
        &url,
        &["--sha512", &format!(" {} \n", good.to_uppercase())],
    );
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_stderr_has(&out, "sha512 matches --sha512");
    std::fs::remove_file(&marker).unwrap();

    let bad = sha512_hex(b"other bytes");
    let out = s.verun("run", &url, &["--sha512", &bad]);
    assert_refused(&out, &marker, "SHA-512 mismatch with --sha512");
    let out = s.verun("fetch", &url, &["--sha512", &bad, "-o", "saved"]);
    assert_exit(&out, 77);
    assert_no_file(&s.env.path("saved"));

    // Both pins must hold.
    let sha256 = sha256_hex(&payload);
    let out = s.verun("run", &url, &["--sha512", &bad, "--sha256", &sha256]);
    assert_refused(&out, &marker, "SHA-512 mismatch");

    // Malformed: 64, before anything is fetched; a SHA-256 given as --sha512 is named.
    s.server.clear_requests();
    for (value, needle) in [
        (&good[..127], "not 128 hex digits"),
        (&format!("{}g", &good[..127]), "not 128 hex digits"),
        (&sha256, "pass it with --sha256"),
    ] {
        let out = s.verun("run", &url, &["--sha512", value]);
        assert_exit(&out, 64);
        assert_stderr_has(&out, needle);
        assert_stderr_has(&out, "verun: hint:");
        assert_not_ran(&marker);
    }
    let out = s.verun("run", &url, &["--sha256", &good]);
    assert_exit(&out, 64);
    assert_stderr_has(&out, "pass it with --sha512");
    assert!(s.server.requests().is_empty(), "fetched on a usage error");
}

#[test]
fn a_64_mib_payload_with_sha256_and_sha512_pins_is_read_once() {
    let s = ListSite::new();
    let mut data = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    s.server.route("/big.bin", Reply::bytes(&data));
    let url = s.server.url("/big.bin");
    let (sha256, sha512) = (sha256_hex(&data), sha512_hex(&data));
    let out = s.verun(
        "fetch",
        &url,
        &[
            "--sha256", &sha256, "--sha512", &sha512, "-o", "big.bin", "--json",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        s.server.hits("/big.bin"),
        1,
        "{:?}",
        s.server.requested_paths()
    );
    assert_eq!(
        s.server.requests().len(),
        1,
        "{:?}",
        s.server.requested_paths()
    );
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(report["sha256"], sha256);
    assert_eq!(report["sha512"], sha512);
    assert_eq!(
        std::fs::metadata(s.env.path("big.bin")).unwrap().len(),
        data.len() as u64
    );
    drop(data);

    // Without a SHA-512 pin, none is computed or reported.
    let out = s.verun(
        "fetch",
        &url,
        &["--sha256", &sha256, "-o", "again.bin", "--json"],
    );
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert!(report.get("sha512").is_none(), "{report}");
}
