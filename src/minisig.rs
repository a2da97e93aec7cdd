//! Strict parsing of minisign public keys and signature files.
//!
//! This module checks the *format* first, strictly (sizes, line structure, canonical base64,
//! algorithm), so that malformed or hostile files fail with a clear message, and
//! `minisign-verify`'s parser must accept them too. The two Ed25519 checks minisign makes (the
//! signature over the file or its BLAKE2b-512, the global signature over `signature ||
//! trusted comment`) run on ring's Ed25519, which rustls links anyway: one Ed25519
//! implementation in the binary instead of two (53 KiB less; canonical S required by both, the
//! degenerate keys minisign-verify refuses refused here at parse time).

use std::fmt;

use crate::error::{Error, Result};

/// Largest signature file accepted (minisign's trusted comment limit is 8 KiB).
pub const MAX_SIG_BYTES: u64 = 16 * 1024;
/// Largest public key file accepted.
pub const MAX_PUBKEY_BYTES: u64 = 4 * 1024;
const MAX_UNTRUSTED_COMMENT: usize = 1024;
const MAX_TRUSTED_COMMENT: usize = 8192;
const UNTRUSTED_PREFIX: &str = "untrusted comment:";
const TRUSTED_PREFIX: &str = "trusted comment: ";

/// A minisign key id: 8 bytes, shown as minisign shows it (16 upper-case hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // minisign prints the key number as a little-endian integer.
        for b in self.0.iter().rev() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl KeyId {
    /// Parse the 16-hex-digit form printed by minisign and [`fmt::Display`].
    pub fn parse_hex(s: &str) -> Option<KeyId> {
        if s.len() != 16 {
            return None;
        }
        let mut id = [0u8; 8];
        for (i, slot) in id.iter_mut().rev().enumerate() {
            *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(KeyId(id))
    }
}

/// A parsed minisign public key.
#[derive(Clone, Debug)]
pub struct PublicKey {
    id: KeyId,
    base64: String,
    /// The Ed25519 public key.
    raw: [u8; 32],
}

impl PublicKey {
    /// Parse the base64 form (`RW...`).
    pub fn from_base64(b64: &str) -> Result<PublicKey> {
        let b64 = b64.trim();
        let bin = decode_base64(b64)
            .ok_or_else(|| Error::usage("malformed public key: not canonical base64"))?;
        if bin.len() != 42 {
            return Err(Error::usage(format!(
                "malformed public key: {} bytes where minisign keys have 42",
                bin.len()
            )));
        }
        if &bin[0..2] != b"Ed" {
            return Err(Error::usage(
                "malformed public key: unknown algorithm (expected Ed25519, `RW...`)",
            ));
        }
        // minisign-verify's parser stays the judge of the format.
        minisign_verify::PublicKey::from_base64(b64)
            .map_err(|e| Error::usage(format!("malformed public key: {e}")))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bin[2..10]);
        let mut raw = [0u8; 32];
        raw.copy_from_slice(&bin[10..42]);
        // As minisign-verify: the all-zero key and the identity point sign everything.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        if raw == [0u8; 32] || raw == identity {
            return Err(Error::usage(
                "malformed public key: a degenerate Ed25519 key (it would accept any signature)",
            ));
        }
        Ok(PublicKey {
            id: KeyId(id),
            base64: b64.to_string(),
            raw,
        })
    }

    /// Parse a `.pub` file's text: an `untrusted comment:` line, then the base64 key.
    pub fn from_file_text(text: &str) -> Result<PublicKey> {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or("");
        let key_line = if first.starts_with(UNTRUSTED_PREFIX) {
            lines.next().unwrap_or("")
        } else {
            first
        };
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(Error::usage(
                "malformed public key file: unexpected lines after the key",
            ));
        }
        Self::from_base64(key_line)
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The base64 form, as found in `.pub` files.
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The key in minisign's `.pub` file format.
    pub fn to_file_text(&self) -> String {
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.id, self.base64
        )
    }
}

/// Ed25519 (ring's, the one rustls links): `sig` by `key` over `msg`; S must be canonical.
fn ed25519(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(msg, sig)
        .is_ok()
}

/// A parsed minisign signature file.
#[derive(Clone)]
pub struct Signature {
    key_id: KeyId,
    prehashed: bool,
    trusted_comment: String,
    /// The Ed25519 signature over the file (legacy) or its BLAKE2b-512 (prehashed).
    sig: [u8; 64],
    /// The Ed25519 signature over `sig || trusted comment`.
    global: [u8; 64],
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("key_id", &self.key_id)
            .field("prehashed", &self.prehashed)
            .field("trusted_comment", &self.trusted_comment)
            .finish()
    }
}

impl Signature {
    /// Parse a `.minisig` file strictly. `what` names it in errors (a URL or path).
    /// Every format problem is a refusal (77): a signature that cannot be read is a bad one.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Signature> {
        let bad = |why: &str| {
            Error::refused_for(crate::error::Reason::MalformedSignature, format!("malformed signature {what}: {why}")).hint(
                "a minisign signature has 4 lines: untrusted comment, signature, trusted comment, global signature",
            )
        };
        if bytes.len() as u64 > MAX_SIG_BYTES {
            return Err(bad("larger than 16 KiB"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8 text"))?;
        let lines: Vec<&str> = text.lines().collect();
        let mut n = lines.len();
        while n > 4 && lines[n - 1].trim().is_empty() {
            n -= 1;
        }
        if n != 4 {
            return Err(bad(&format!("{n} lines where 4 are expected")));
        }
        let (untrusted, sig_line, trusted, global_line) = (lines[0], lines[1], lines[2], lines[3]);
        if !untrusted.starts_with(UNTRUSTED_PREFIX) {
            return Err(bad("the first line is not an untrusted comment"));
        }
        if untrusted.len() > MAX_UNTRUSTED_COMMENT + UNTRUSTED_PREFIX.len() + 1 {
            return Err(bad("untrusted comment too long"));
        }
        let sig =
            decode_base64(sig_line).ok_or_else(|| bad("signature is not canonical base64"))?;
        if sig.len() != 74 {
            return Err(bad(&format!(
                "signature is {} bytes where 74 are expected",
                sig.len()
            )));
        }
        let prehashed = match &sig[0..2] {
            b"ED" => true,
            b"Ed" => false,
            _ => return Err(bad("unknown signature algorithm")),
        };
        let Some(tc) = trusted.strip_prefix(TRUSTED_PREFIX) else {
            return Err(bad("the third line is not a trusted comment"));
        };
        if tc.len() > MAX_TRUSTED_COMMENT {
            return Err(bad("trusted comment longer than 8 KiB"));
        }
        let global = decode_base64(global_line)
            .ok_or_else(|| bad("global signature is not canonical base64"))?;
        if global.len() != 64 {
            return Err(bad(&format!(
                "global signature is {} bytes where 64 are expected",
                global.len()
            )));
        }
        // minisign-verify's parser stays the judge of the format.
        let canonical = format!("{untrusted}\n{sig_line}\n{trusted}\n{global_line}\n");
        minisign_verify::Signature::decode(&canonical).map_err(|e| bad(&e.to_string()))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&sig[2..10]);
        let mut raw = [0u8; 64];
        raw.copy_from_slice(&sig[10..74]);
        let mut g = [0u8; 64];
        g.copy_from_slice(&global);
        Ok(Signature {
            key_id: KeyId(id),
            prehashed,
            trusted_comment: tc.to_string(),
            sig: raw,
            global: g,
        })
    }

    /// The id of the key that made this signature.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether this is a prehashed (`ED`) signature; `false` means legacy (`Ed`).
    pub fn is_prehashed(&self) -> bool {
        self.prehashed
    }

    /// The trusted comment, unsanitised (it is signed, but written by the signer).
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// The trusted comment's fields.
    pub fn fields(&self) -> TrustedFields {
        TrustedFields::parse(&self.trusted_comment)
    }

    /// minisign's two checks, as minisign-verify makes them: the key id names `key`, the
    /// signature verifies over `msg`, and the global signature over `sig || trusted
    /// comment`.
    fn verify_with(&self, key: &PublicKey, msg: &[u8]) -> bool {
        if key.id != self.key_id || !ed25519(&key.raw, msg, &self.sig) {
            return false;
        }
        let mut global = Vec::with_capacity(64 + self.trusted_comment.len());
        global.extend_from_slice(&self.sig);
        global.extend_from_slice(self.trusted_comment.as_bytes());
        ed25519(&key.raw, &global, &self.global)
    }

    /// Verify a legacy (`Ed`) signature over the message itself; false for prehashed ones.
    pub fn verify_legacy(&self, key: &PublicKey, msg: &[u8]) -> bool {
        !self.prehashed && self.verify_with(key, msg)
    }

    /// Verify over bytes in memory: a prehashed signature over their BLAKE2b-512, a legacy
    /// one (only when `allow_legacy`) over the bytes themselves.
    pub fn verify_bytes(&self, key: &PublicKey, msg: &[u8], allow_legacy: bool) -> bool {
        if self.prehashed {
            let h = blake2b_simd::Params::new().hash_length(64).hash(msg);
            let mut hash = [0u8; 64];
            hash.copy_from_slice(h.as_bytes());
            self.verify_prehash(key, &hash)
        } else {
            allow_legacy && self.verify_legacy(key, msg)
        }
    }

    /// Verify a prehashed (`ED`) signature given the payload's BLAKE2b-512, computed by the
    /// download loop (on its own thread, with a SIMD implementation).
    ///
    /// A prehashed minisign signature is an Ed25519 signature over `BLAKE2b-512(payload)`,
    /// plus the global signature over `signature || trusted comment`: the same two Ed25519
    /// verifications minisign-verify makes (key id, canonical S, global signature), on ring's
    /// Ed25519 (linked for TLS already), over the hash computed elsewhere. Returns false for legacy
    /// signatures, which must be checked over the payload itself.
    pub fn verify_prehash(&self, key: &PublicKey, blake2b_512: &[u8; 64]) -> bool {
        self.prehashed && self.verify_with(key, blake2b_512)
    }
}

/// The fields minisign writes into trusted comments: `timestamp:N\tfile:NAME[\thashed]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedFields {
    /// `timestamp:` as seconds since the epoch, when present and numeric.
    pub timestamp: Option<u64>,
    /// `file:`, when present.
    pub file: Option<String>,
}

impl TrustedFields {
    /// Parse tab-separated `key:value` fields; unknown fields are ignored.
    pub fn parse(tc: &str) -> TrustedFields {
        let mut out = TrustedFields::default();
        for part in tc.split('\t') {
            if let Some(v) = part.strip_prefix("timestamp:") {
                out.timestamp = v.trim().parse().ok();
            } else if let Some(v) = part.strip_prefix("file:") {
                out.file = Some(v.to_string());
            }
        }
        out
    }
}

/// Encode standard base64 with padding.
pub fn encode_base64(bin: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bin.len().div_ceil(3) * 4);
    for chunk in bin.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard base64 with padding, strictly: only canonical encodings are accepted
/// (no whitespace, no missing padding, no non-zero trailing bits).
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (i, chunk) in s.chunks(4).enumerate() {
        let last = i == s.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | val(c)?;
        }
        match pad {
            0 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            1 => {
                if acc & 0x3 != 0 {
                    return None;
                }
                out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]);
            }
            _ => {
                if acc & 0xf != 0 {
                    return None;
                }
                out.push((acc >> 4) as u8);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    #[test]
    fn key_id_is_shown_like_minisign() {
        let pk = PublicKey::from_base64(PK).unwrap();
        assert_eq!(pk.id().to_string(), "E7620F1842B4E81F");
        assert_eq!(KeyId::parse_hex("E7620F1842B4E81F"), Some(pk.id()));
    }

    #[test]
    fn base64_is_strict() {
        assert_eq!(decode_base64("TWFu").unwrap(), b"Man");
        assert_eq!(decode_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TQ==").unwrap(), b"M");
        assert!(decode_base64("TR==").is_none(), "non-zero trailing bits");
        assert!(decode_base64("TWF").is_none());
        assert!(decode_base64("TW=u").is_none());
        assert!(decode_base64("TQ==TWFu").is_none());
        assert!(decode_base64("TW u").is_none());
        assert!(decode_base64("").is_none());
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..40 {
            let bin: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode_base64(&bin);
            if len > 0 {
                assert_eq!(decode_base64(&text).unwrap(), bin);
            }
        }
        assert_eq!(encode_base64(b"Man"), "TWFu");
        assert_eq!(encode_base64(b"Ma"), "TWE=");
        assert_eq!(encode_base64(b"M"), "TQ==");
    }

    /// The prehashed example of minisign-verify's documentation, checked through
    /// `verify_prehash` with a BLAKE2b computed outside the crate.
    #[test]
    fn prehashed_signature_verifies_against_an_outside_blake2b() {
        let pk = PublicKey::from_base64(PK).unwrap();
        let sig = Signature::parse(
            b"untrusted comment: signature from minisign secret key\nRUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\ntrusted comment: timestamp:1633700835\tfile:test\tprehashed\nwLMDjy9FLAuxZ3q4NlEvkgtyhrr0gtTu6KC4KBJdITbbOeAi1zBIYo0v4iTgt8jJpIidRJnp94ABQkJAgAooBQ==\n",
            "t",
        )
        .unwrap();
        assert!(sig.is_prehashed());
        let hash = |data: &[u8]| {
            let mut out = [0u8; 64];
            out.copy_from_slice(
                blake2b_simd::Params::new()
                    .hash_length(64)
                    .hash(data)
                    .as_bytes(),
            );
            out
        };
        assert!(sig.verify_prehash(&pk, &hash(b"test")));
        // The same, hashing the bytes in memory, agrees.
        assert!(sig.verify_bytes(&pk, b"test", false));
        assert!(!sig.verify_prehash(&pk, &hash(b"Test")));
        let mut flipped = hash(b"test");
        flipped[63] ^= 1;
        assert!(!sig.verify_prehash(&pk, &flipped));
        // A legacy signature is never accepted through the prehash path.
        let legacy = Signature::parse(
            b"untrusted comment: x\nRWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=\ntrusted comment: timestamp:1555779966\tfile:test\nQtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==\n",
            "t",
        )
        .unwrap();
        assert!(!legacy.verify_prehash(&pk, &hash(b"test")));
    }

    #[test]
    fn degenerate_keys_are_refused_as_minisign_verify_refuses_them() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        for raw in [[0u8; 32], identity] {
            let mut bin = b"Ed".to_vec();
            bin.extend_from_slice(&[7u8; 8]);
            bin.extend_from_slice(&raw);
            let err = PublicKey::from_base64(&encode_base64(&bin)).unwrap_err();
            assert!(err.message().contains("degenerate"), "{}", err.message());
        }
    }

    const PREHASHED: &[u8] = b"untrusted comment: signature from minisign secret key\nRUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\ntrusted comment: timestamp:1633700835\tfile:test\tprehashed\nwLMDjy9FLAuxZ3q4NlEvkgtyhrr0gtTu6KC4KBJdITbbOeAi1zBIYo0v4iTgt8jJpIidRJnp94ABQkJAgAooBQ==\n";
    const LEGACY: &[u8] = b"untrusted comment: x\nRWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=\ntrusted comment: timestamp:1555779966\tfile:test\nQtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==\n";

    #[test]
    fn a_signature_is_checked_in_full_key_id_signature_and_global_signature() {
        let pk = PublicKey::from_base64(PK).unwrap();
        let sig = Signature::parse(PREHASHED, "t").unwrap();
        assert!(sig.verify_bytes(&pk, b"test", false));
        assert!(!sig.verify_bytes(&pk, b"Test", false));
        // The same signature with another trusted comment: the global signature fails.
        let text = String::from_utf8(PREHASHED.to_vec()).unwrap();
        let other = text.replace("file:test", "file:tesT");
        let relabelled = Signature::parse(other.as_bytes(), "t").unwrap();
        assert!(!relabelled.verify_bytes(&pk, b"test", false));
        // A legacy signature verifies only with allow_legacy, and never as prehashed.
        let leg = Signature::parse(LEGACY, "t").unwrap();
        assert!(!leg.verify_bytes(&pk, b"test", false));
        assert!(leg.verify_bytes(&pk, b"test", true));
        let hash = [0u8; 64];
        assert!(!leg.verify_prehash(&pk, &hash));
    }

    #[test]
    fn trusted_fields() {
        let f = TrustedFields::parse("timestamp:1555779966\tfile:my file.sh\thashed");
        assert_eq!(f.timestamp, Some(1555779966));
        assert_eq!(f.file.as_deref(), Some("my file.sh"));
        assert_eq!(
            TrustedFields::parse("release 1.2"),
            TrustedFields::default()
        );
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let good = "untrusted comment: x\nRWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=\ntrusted comment: timestamp:1555779966\tfile:test\nQtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==\n";
        let sig = Signature::parse(good.as_bytes(), "t").unwrap();
        assert!(!sig.is_prehashed());
        assert_eq!(sig.key_id().to_string(), "E7620F1842B4E81F");
        assert!(Signature::parse(good.replace('\n', "\r\n").as_bytes(), "t").is_ok());
        for bad in [
            "".to_string(),
            good.replacen("untrusted comment: x\n", "", 1),
            format!("{good}extra line\n"),
            good.replace("trusted comment: ", "comment: "),
            good.replace("RWQf6LRC", "RWQf6LR"),
            good.replace("AA==", "AB=="),
        ] {
            let err = Signature::parse(bad.as_bytes(), "t").unwrap_err();
            assert_eq!(err.exit_code(), 77, "{bad:?}");
        }
        assert!(Signature::parse(&[0xff, 0, 1], "t").is_err());
    }
}
