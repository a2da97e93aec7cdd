//! Oversized, malformed and malleable signature and checksum files.

use super::*;

// --- oversized and malformed signature and checksum files -------------------------------------------

#[test]
pub(super) fn endless_or_huge_signature_file_is_capped() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "sig-cap");
    s.server.route("/install.sh", Reply::bytes(&script));
    for (what, reply) in [
        ("endless", Reply::endless()),
        ("4 GiB declared", Reply::filler(4 << 30)),
        ("17 KiB", Reply::filler(17 * 1024)),
    ] {
        s.server.route("/install.sh.minisig", reply);
        let m = s.run("/install.sh", &[], QUICK);
        // A signature file over 16 KiB is refused as a download failure (69) after reading
        // at most 16 KiB + 1 byte.
        assert_refused(&m, 69, &marker, None, Duration::from_secs(5));
        assert!(m.stderr().contains("16 KiB"), "{what}: {}", m.stderr());
        // regression: the hint used to say "raise --max-size", which does not apply.
        assert!(!m.stderr().contains("--max-size"), "{what}: {}", m.stderr());
        eprintln!(
            "{what} signature: exit 69 in {:?}, RSS {}",
            m.elapsed,
            rss_note(&m)
        );
    }
}

#[test]
pub(super) fn endless_or_huge_checksum_list_is_capped() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "sums-cap");
    s.server.route("/install.sh", Reply::bytes(&script));
    s.serve_signature_of("/install.sh", &script);
    let sums = s.url("/SHA256SUMS");
    for (what, reply) in [
        ("endless", Reply::endless()),
        ("4 GiB declared", Reply::filler(4 << 30)),
        ("1 MiB + 1", Reply::filler((1 << 20) + 1)),
    ] {
        s.server.route("/SHA256SUMS", reply);
        let m = s.run("/install.sh", &["--checksums", &sums], QUICK);
        assert_refused(&m, 69, &marker, None, Duration::from_secs(5));
        assert!(m.stderr().contains("1 MiB"), "{what}: {}", m.stderr());
        assert!(!m.stderr().contains("--max-size"), "{what}: {}", m.stderr());
    }
}

/// Alphabet position of a base64 character.
pub(super) fn b64_val(c: u8) -> u8 {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    A.iter().position(|&x| x == c).unwrap() as u8
}

/// `line` (padded base64) with the unused low bits of its last data character set: it
/// decodes to the same bytes under a lax decoder, but is not the canonical encoding.
pub(super) fn non_canonical(line: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let pad = line.bytes().rev().take_while(|&c| c == b'=').count();
    assert!(pad > 0, "needs a padded line");
    let mut b = line.as_bytes().to_vec();
    let i = b.len() - pad - 1;
    b[i] = A[(b64_val(b[i]) | 1) as usize];
    String::from_utf8(b).unwrap()
}

/// Re-encodes the signature line of `sig` with `f` applied to its 74 decoded bytes.
pub(super) fn with_sig_bytes(sig: &str, f: impl Fn(&mut Vec<u8>)) -> String {
    let mut lines: Vec<String> = sig.lines().map(str::to_string).collect();
    let mut bytes = B64.decode(&lines[1]).unwrap();
    f(&mut bytes);
    lines[1] = B64.encode(bytes);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
pub(super) fn malformed_signature_files_are_refused() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "malformed");
    let good = s.key.sign(&script, "install.sh");
    let l: Vec<&str> = good.lines().collect();
    let join = |ls: &[&str]| ls.iter().map(|x| format!("{x}\n")).collect::<String>();
    let binary: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    let other = TestKey::generate();
    let same_id = TestKey::with_key_id(s.key.key_id());
    let long_untrusted = format!("untrusted comment: {}", "x".repeat(2000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("binary", binary),
        ("NUL bytes", vec![0; 200]),
        ("byte-order mark", format!("\u{feff}{good}").into_bytes()),
        ("three lines", join(&l[..3]).into_bytes()),
        ("extra line", format!("{good}extra\n").into_bytes()),
        ("untrusted comment missing", join(&l[1..]).into_bytes()),
        (
            "untrusted comment mislabelled",
            join(&["comment: x", l[1], l[2], l[3]]).into_bytes(),
        ),
        (
            "untrusted comment over 1 KiB",
            join(&[&long_untrusted, l[1], l[2], l[3]]).into_bytes(),
        ),
        (
            "lines swapped",
            join(&[l[0], l[2], l[1], l[3]]).into_bytes(),
        ),
        (
            "trusted comment mislabelled",
            join(&[
                l[0],
                l[1],
                &l[2].replace("trusted comment: ", "trusted comment:\t"),
                l[3],
            ])
            .into_bytes(),
        ),
        (
            "signature one byte short",
            with_sig_bytes(&good, |b| {
                b.pop();
            })
            .into_bytes(),
        ),
        (
            "signature one byte long",
            with_sig_bytes(&good, |b| b.push(0)).into_bytes(),
        ),
        (
            "unknown algorithm",
            with_sig_bytes(&good, |b| b[..2].copy_from_slice(b"EE")).into_bytes(),
        ),
        (
            "global signature short",
            join(&[l[0], l[1], l[2], &B64.encode([7u8; 63])]).into_bytes(),
        ),
        (
            "signature without padding",
            join(&[l[0], l[1].trim_end_matches('='), l[2], l[3]]).into_bytes(),
        ),
        (
            "non-canonical signature base64",
            join(&[l[0], &non_canonical(l[1]), l[2], l[3]]).into_bytes(),
        ),
        (
            "non-canonical global signature base64",
            join(&[l[0], l[1], l[2], &non_canonical(l[3])]).into_bytes(),
        ),
        (
            "space inside base64",
            join(&[l[0], &format!(" {}", l[1]), l[2], l[3]]).into_bytes(),
        ),
        ("CR-only line ends", good.replace('\n', "\r").into_bytes()),
        (
            "trusted comment over 8 KiB",
            s.key
                .sign_tc(&script, &format!("file:install.sh\t{}", "y".repeat(9000)))
                .into_bytes(),
        ),
        (
            "tampered trusted comment",
            replace_trusted_comment(&good, "timestamp:1\tfile:install.sh").into_bytes(),
        ),
        ("corrupted signature", corrupt_signature(&good).into_bytes()),
        (
            "signed by another key",
            other.sign(&script, "install.sh").into_bytes(),
        ),
        (
            "another key with the same key id",
            same_id.sign(&script, "install.sh").into_bytes(),
        ),
        (
            "legacy without --allow-legacy",
            s.key.sign_legacy(&script, "install.sh").into_bytes(),
        ),
    ];
    s.server.route("/install.sh", Reply::bytes(&script));
    for (what, sig) in cases {
        s.server.route("/install.sh.minisig", Reply::bytes(&sig));
        let m = s.run("/install.sh", &[], QUICK);
        assert_eq!(m.code(), Some(77), "{what}: {}", m.stderr());
        assert_refused(&m, 77, &marker, None, QUICK);
    }

    // Accepted variants of the valid signature: CRLF, no final newline, trailing blanks.
    for (what, sig) in [
        ("CRLF", good.replace('\n', "\r\n")),
        ("no final newline", good.trim_end().to_string()),
        ("trailing blank lines", format!("{good}\n\n")),
    ] {
        s.server.route("/install.sh.minisig", Reply::bytes(&sig));
        let m = s.run("/install.sh", &[], QUICK);
        assert_eq!(m.code(), Some(0), "{what}: {}", m.stderr());
        assert_ran(&marker);
        fs::remove_file(&marker).unwrap();
    }
}

// --- malleable signatures --------------------------------------------------------------------------------

/// The order of the Ed25519 group, little-endian.
pub(super) const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `s + L` (little-endian, 256 bits): the same scalar mod L, a different encoding.
pub(super) fn add_l(s: &mut [u8]) {
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(ED25519_L) {
        let v = u16::from(*b) + u16::from(l) + carry;
        *b = v as u8;
        carry = v >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits since S < L < 2^253");
}

/// A minisign signer with the secret key at hand, for signatures no honest signer makes:
/// a malleated `S`, a trusted comment of arbitrary bytes.
pub(super) struct RawSigner {
    sk: SigningKey,
    id: [u8; 8],
}

impl RawSigner {
    pub(super) fn new() -> RawSigner {
        let mut seed = [0u8; 32];
        let mut id = [0u8; 8];
        getrandom::getrandom(&mut seed).unwrap();
        getrandom::getrandom(&mut id).unwrap();
        RawSigner {
            sk: SigningKey::from_bytes(&seed),
            id,
        }
    }

    pub(super) fn public_base64(&self) -> String {
        let mut b = b"Ed".to_vec();
        b.extend_from_slice(&self.id);
        b.extend_from_slice(&self.sk.verifying_key().to_bytes());
        B64.encode(b)
    }

    /// A prehashed `.minisig`; `tweak_sig` edits the data signature before the global
    /// signature is made over it; `tweak_global` edits the global signature afterwards.
    pub(super) fn sign(
        &self,
        data: &[u8],
        trusted: &[u8],
        tweak_sig: impl Fn(&mut [u8; 64]),
        tweak_global: impl Fn(&mut [u8; 64]),
    ) -> Vec<u8> {
        let mut sig = self.sk.sign(&Blake2b512::digest(data)).to_bytes();
        tweak_sig(&mut sig);
        let mut signed = sig.to_vec();
        signed.extend_from_slice(trusted);
        let mut global = self.sk.sign(&signed).to_bytes();
        tweak_global(&mut global);
        let mut line = b"ED".to_vec();
        line.extend_from_slice(&self.id);
        line.extend_from_slice(&sig);
        let mut out = b"untrusted comment: raw signer\n".to_vec();
        out.extend_from_slice(B64.encode(line).as_bytes());
        out.extend_from_slice(b"\ntrusted comment: ");
        out.extend_from_slice(trusted);
        out.push(b'\n');
        out.extend_from_slice(B64.encode(global).as_bytes());
        out.push(b'\n');
        out
    }
}

/// Adding the group order L to `S` gives a second encoding of a valid Ed25519 signature
/// that lax verifiers accept. The data signature is malleated *and the global signature
/// re-made over it* (so only the `S < L` check can refuse it), and separately the global
/// signature is malleated (which needs no key at all).
#[test]
pub(super) fn malleable_signatures_s_plus_l_are_refused() {
    let s = Scene::https();
    let signer = RawSigner::new();
    let (script, marker) = marker_script(&s.env, "malleable");
    s.server.route("/install.sh", Reply::bytes(&script));
    let tc = format!("timestamp:{}\tfile:install.sh\thashed", now_timestamp());
    let key = signer.public_base64();
    let with_key = ["--key", key.as_str()];

    // Control: the untweaked signature verifies.
    let honest = signer.sign(&script, tc.as_bytes(), |_| {}, |_| {});
    s.server.route("/install.sh.minisig", Reply::bytes(&honest));
    let m = s.run("/install.sh", &with_key, QUICK);
    assert_exit(&m.output, 0);
    assert_ran(&marker);
    fs::remove_file(&marker).unwrap();

    for (what, sig) in [
        (
            "data signature S+L",
            signer.sign(&script, tc.as_bytes(), |s| add_l(&mut s[32..]), |_| {}),
        ),
        (
            "global signature S+L",
            signer.sign(&script, tc.as_bytes(), |_| {}, |g| add_l(&mut g[32..])),
        ),
        (
            "both S+L",
            signer.sign(
                &script,
                tc.as_bytes(),
                |s| add_l(&mut s[32..]),
                |g| add_l(&mut g[32..]),
            ),
        ),
    ] {
        s.server.route("/install.sh.minisig", Reply::bytes(&sig));
        let m = s.run("/install.sh", &with_key, QUICK);
        assert_eq!(m.code(), Some(77), "{what}: {}", m.stderr());
        assert_refused(&m, 77, &marker, None, QUICK);
    }
}
