//! Terminal injection: escape sequences, bidi and invisible characters, huge lines.

use super::signatures::RawSigner;
use super::*;

// --- terminal injection ------------------------------------------------------------------------------------------

/// Escape sequences a hostile signer (or server) would like a terminal to interpret: set
/// the window title, clear the screen, move the cursor up over verun's note, a C1 CSI, a
/// right-to-left override, a BEL.
pub(super) const NASTY: &str =
    "\x1b]0;pwned\x07\x1b[2J\x1b[1A\x1b[32mverified OK\x1b[0m\u{9b}31m\u{202e}hs.lve";

#[test]
pub(super) fn trusted_comments_with_escape_sequences_are_shown_sanitised() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "escapes");
    s.server.route("/install.sh", Reply::bytes(&script));
    let tc = format!("timestamp:{}\tfile:install.sh\t{NASTY}", now_timestamp());
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign_tc(&script, &tc)),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_ran(&marker);
    let err = m.stderr();
    assert!(err.contains("trusted comment"), "{err}");
    for bad in ['\x07', '\u{9b}', '\u{202e}'] {
        assert!(!err.contains(bad), "{bad:?} reached stderr: {err}");
    }
    // The same text in the `file:` field, which a refusal message quotes.
    let tc = format!("timestamp:{}\tfile:{NASTY}", now_timestamp());
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign_tc(&script, &tc)),
    );
    fs::remove_file(&marker).unwrap();
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    assert!(!m.stderr().contains('\x07'), "{}", m.stderr());
}

#[test]
pub(super) fn very_long_trusted_comments_are_cut() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "long");
    s.server.route("/install.sh", Reply::bytes(&script));
    // Just under minisign's 8 KiB limit, in one line.
    let tc = format!(
        "timestamp:{}\tfile:install.sh\t{}",
        now_timestamp(),
        "long line ".repeat(800)
    );
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign_tc(&script, &tc)),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_ran(&marker);
    // …and in a `file:` field a refusal message quotes.
    let tc = format!("file:{}", "x".repeat(8000));
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign_tc(&script, &tc)),
    );
    fs::remove_file(&marker).unwrap();
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
}

#[test]
pub(super) fn invalid_utf8_in_signature_files_is_refused_cleanly() {
    let s = Scene::https();
    let signer = RawSigner::new();
    let (script, marker) = marker_script(&s.env, "utf8");
    s.server.route("/install.sh", Reply::bytes(&script));
    let mut tc = format!("timestamp:{}\tfile:install.sh\t", now_timestamp()).into_bytes();
    tc.extend_from_slice(b"\xff\xfe\x1b[2J\xc3(\xed\xa0\x80");
    let sig = signer.sign(&script, &tc, |_| {}, |_| {});
    s.server.route("/install.sh.minisig", Reply::bytes(&sig));
    let key = signer.public_base64();
    let m = s.run("/install.sh", &["--key", &key], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    // An untrusted comment of raw bytes and escapes.
    let good = signer.sign(&script, b"timestamp:1\tfile:install.sh", |_| {}, |_| {});
    let mut bad = b"untrusted comment: \x1b]0;x\x07\xff\xfe\n".to_vec();
    bad.extend_from_slice(&good[good.iter().position(|&b| b == b'\n').unwrap() + 1..]);
    s.server.route("/install.sh.minisig", Reply::bytes(&bad));
    let m = s.run("/install.sh", &["--key", &key], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
}

#[test]
pub(super) fn escape_sequences_from_the_server_are_sanitised() {
    let s = Scene::https();
    let (_, marker) = s.publish_marker("/install.sh", "server-escapes");
    // A Location header and a status line full of control bytes, a file name that decodes
    // to ESC, and a very long URL.
    s.server.route(
        "/loc",
        Reply::raw(b"HTTP/1.1 302 Found\r\nLocation: /\x1b]0;pwned\x07/\x1b[2J\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    s.server.route(
        "/status",
        Reply::raw(b"HTTP/1.1 500 \x1b]0;pwned\x07\x1b[2J\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    let long = format!("/{}.sh", "a".repeat(5000));
    let sig = s.url("/install.sh.minisig");
    for path in [
        "/loc".to_string(),
        "/status".to_string(),
        "/%1b%5d0%3bpwned%07%1b%5b2J.sh".to_string(),
        long,
    ] {
        let m = s.run(&path, &["--sig", &sig], QUICK);
        assert_ne!(m.code(), Some(0), "{path}: {}", m.stderr());
        assert_not_ran(&marker);
        assert_bounded(&m, QUICK);
    }
}
