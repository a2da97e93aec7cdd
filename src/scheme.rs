//! The scheme-neutral core of signature checking: what is trusted ([`Signer`]), what a
//! signature needs from the single streaming pass ([`Needs`], [`Digests`]), how a scheme
//! decides from those digests ([`Scheme`]), and the one policy every signature goes through
//! before its bytes are even looked at ([`admit`]): key lookup with scopes, revocation,
//! rotation and expiry, the legacy rules, and the `file:` binding.
//!
//! minisign is the one scheme today (`minisig`); OpenPGP, SSH and Sigstore plug in here as
//! more [`Signer`] kinds and [`Scheme`] implementations. The pump only hashes: it computes
//! what [`Needs`] asks for and nothing else; the decision is the scheme's.

use crate::error::{Error, Reason, Result};
use crate::keys::{KeyRing, TrustedKey};
use crate::location::HttpUrl;
use crate::minisig::{PublicKey, Signature};
use crate::term::sanitize;

/// What is trusted to sign: a minisign key today.
#[derive(Clone, Debug)]
pub enum Signer {
    /// A minisign public key.
    Minisign(PublicKey),
}

/// The kind prefix of minisign signers in `KIND:ID`.
pub const MINISIGN: &str = "minisign:";

/// `minisign:KEYID` for a minisign key id in its 16-hex-digit form (any case): the one
/// spelling of a minisign signer's name, for lockfiles, the rollback state and reports.
pub fn minisign_signer_id(key_id: &str) -> String {
    format!("{MINISIGN}{}", key_id.to_ascii_uppercase())
}

impl Signer {
    /// The signer's stable name, `KIND:ID` (`minisign:E7620F1842B4E81F`), as lockfiles,
    /// the rollback state and reports write it.
    pub fn id(&self) -> String {
        match self {
            Signer::Minisign(k) => minisign_signer_id(&k.id().to_string()),
        }
    }
}

/// The digests (and bytes) a signature needs from the one pass over the payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// BLAKE2b-512 of the payload (a prehashed minisign signature).
    pub blake2b512: bool,
    /// SHA-512 of the payload.
    pub sha512: bool,
    /// The payload itself, kept in memory (a legacy minisign signature; bounded by
    /// `--max-size`, and only with `--allow-legacy`).
    pub whole: bool,
}

/// What the pass computed, for a scheme to decide on.
#[derive(Clone, Copy, Debug)]
pub struct Digests<'a> {
    /// SHA-256 (always computed: pins and reports need it).
    pub sha256: &'a [u8; 32],
    /// BLAKE2b-512, when needed.
    pub blake2b512: Option<&'a [u8; 64]>,
    /// SHA-512, when needed.
    pub sha512: Option<&'a [u8; 64]>,
    /// The whole payload, when needed.
    pub whole: Option<&'a [u8]>,
}

/// A parsed signature of some scheme.
pub trait Scheme {
    /// What it needs from the streaming pass.
    fn needs(&self) -> Needs;
    /// Whether it verifies under `signer` for a payload with these digests. False when the
    /// pass did not compute what [`Scheme::needs`] asked for, or the signer is of another
    /// kind.
    fn verifies(&self, signer: &Signer, digests: &Digests<'_>) -> bool;
    /// Whether it verifies under `signer` over `bytes` held in memory (a checksum list, a
    /// key file being rotated in).
    fn verifies_bytes(&self, signer: &Signer, bytes: &[u8], allow_legacy: bool) -> bool;
}

impl Scheme for Signature {
    fn needs(&self) -> Needs {
        Needs {
            blake2b512: self.is_prehashed(),
            sha512: false,
            whole: !self.is_prehashed(),
        }
    }

    fn verifies(&self, signer: &Signer, d: &Digests<'_>) -> bool {
        let Signer::Minisign(key) = signer;
        match (self.is_prehashed(), d.blake2b512, d.whole) {
            (true, Some(hash), _) => self.verify_prehash(key, hash),
            (false, _, Some(bytes)) => key.inner().verify(bytes, self.inner(), true).is_ok(),
            _ => false,
        }
    }

    fn verifies_bytes(&self, signer: &Signer, bytes: &[u8], allow_legacy: bool) -> bool {
        let Signer::Minisign(key) = signer;
        key.inner()
            .verify(bytes, self.inner(), allow_legacy)
            .is_ok()
    }
}

/// What a signature must satisfy besides its signer: for [`admit`].
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// Names the signature in messages (`signature https://…/x.sh.minisig`).
    pub what: &'a str,
    /// The name its trusted comment's `file:` must carry.
    pub file_name: &'a str,
    /// `--allow-legacy`.
    pub allow_legacy: bool,
}

/// The one signature policy, for every command (`run`, `fetch`, `verify`, `audit`, `key
/// rotate`) and every piece (payload, checksum list, rotated key file): the signer must be
/// trusted by `ring` for `url` (`--key`, or a store key whose scope covers it; revoked,
/// rotated-out and expired keys refused), a legacy signature needs `--allow-legacy` and may
/// not be a relabelled prehashed one, and the trusted comment's `file:` must name
/// `expect.file_name`. Returns the trusted key; the bytes are checked afterwards
/// ([`Scheme::verifies`], [`Scheme::verifies_bytes`]).
pub fn admit(
    sig: &Signature,
    ring: &KeyRing<'_>,
    url: Option<&HttpUrl>,
    expect: &Expect<'_>,
) -> Result<TrustedKey> {
    let key = ring.resolve(sig.key_id(), url, expect.what)?;
    check_legacy(sig, expect.allow_legacy, expect.what)?;
    check_file_binding(sig, expect.file_name, expect.what)?;
    Ok(key)
}

/// A legacy signature needs `--allow-legacy`, and one whose trusted comment says `hashed`
/// is a prehashed signature relabelled (review item 11): refused even then.
fn check_legacy(sig: &Signature, allow_legacy: bool, what: &str) -> Result<()> {
    if !sig.is_prehashed() && sig.trusted_comment().split('\t').any(|f| f == "hashed") {
        // minisign writes `hashed` into the trusted comment of prehashed signatures only.
        return Err(relabelled(what));
    }
    if sig.is_prehashed() || allow_legacy {
        Ok(())
    } else {
        Err(Error::refused_for(
            Reason::LegacySignature,
            format!("{what} is a legacy (non-prehashed) minisign signature"),
        )
        .hint(
            "ask the publisher to sign with a current minisign, or accept it with --allow-legacy",
        ))
    }
}

/// The refusal for a legacy-labelled signature that can be a relabelled prehashed one.
pub(crate) fn relabelled(what: &str) -> Error {
    Error::refused_for(
        Reason::LegacySignature,
        format!(
            "{what} is a legacy (`Ed`) signature in the shape of a relabelled prehashed one: it may sign the 64-byte BLAKE2b hash of another file, not these bytes"
        ),
    )
    .hint("a prehashed signature (`ED`) cannot be turned into a legacy one; ask the publisher for a current minisign signature")
}

/// A legacy signature is an Ed25519 signature over the message itself; a prehashed one is
/// the same over the message's 64-byte BLAKE2b-512. Relabel `ED` as `Ed` and the signature
/// "verifies" a 64-byte message: the hash of the real file. So a legacy signature over
/// exactly 64 bytes is refused even with `--allow-legacy` (review item 11).
pub fn check_legacy_length(sig: &Signature, len: u64, what: &str) -> Result<()> {
    if !sig.is_prehashed() && len == 64 {
        Err(relabelled(what))
    } else {
        Ok(())
    }
}

/// A signature's `file:` field must name the expected file.
fn check_file_binding(sig: &Signature, expected: &str, what: &str) -> Result<()> {
    match sig.fields().file {
        Some(f) if f != expected => Err(Error::refused_for(
            Reason::FileMismatch,
            format!(
                "{what}: the signed trusted comment names file:{} but the file is {}",
                sanitize(&f),
                sanitize(expected)
            ),
        )
        .hint("a validly signed file served under another name is refused; if the publisher really renamed it, pass --expect-file NAME")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    #[test]
    fn a_minisign_signer_is_named_kind_colon_key_id() {
        let k = PublicKey::from_base64(PK).unwrap();
        assert_eq!(Signer::Minisign(k).id(), "minisign:E7620F1842B4E81F");
    }

    /// minisign's own test vectors (the same as in `minisig`'s tests): `test` signed
    /// prehashed and legacy by the key `PK`.
    const PREHASHED: &[u8] = b"untrusted comment: signature from minisign secret key\nRUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\ntrusted comment: timestamp:1633700835\tfile:test\tprehashed\nwLMDjy9FLAuxZ3q4NlEvkgtyhrr0gtTu6KC4KBJdITbbOeAi1zBIYo0v4iTgt8jJpIidRJnp94ABQkJAgAooBQ==\n";
    const LEGACY: &[u8] = b"untrusted comment: x\nRWQf6LRCGA9i59SLOFxz6NxvASXDJeRtuZykwQepbDEGt87ig1BNpWaVWuNrm73YiIiJbq71Wi+dP9eKL8OC351vwIasSSbXxwA=\ntrusted comment: timestamp:1555779966\tfile:test\nQtKMXWyYcwdpZAlPF7tE2ENJkRd1ujvKjlj1m9RtHTBnZPa5WKU5uWRs5GoP5M/VqE81QFuMKI5k/SfNQUaOAA==\n";

    fn blake2b(data: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(
            blake2b_simd::Params::new()
                .hash_length(64)
                .hash(data)
                .as_bytes(),
        );
        out
    }

    #[test]
    fn each_scheme_verifies_from_exactly_what_it_needs() {
        let k = Signer::Minisign(PublicKey::from_base64(PK).unwrap());
        let pre = Signature::parse(PREHASHED, "t").unwrap();
        let leg = Signature::parse(LEGACY, "t").unwrap();
        let b2 = blake2b(b"test");
        let d = |blake2b512, whole| Digests {
            sha256: &[0; 32],
            blake2b512,
            sha512: None,
            whole,
        };
        // Prehashed: the BLAKE2b alone.
        assert_eq!(
            pre.needs(),
            Needs {
                blake2b512: true,
                sha512: false,
                whole: false
            }
        );
        assert!(pre.verifies(&k, &d(Some(&b2), None)));
        assert!(!pre.verifies(&k, &d(None, Some(b"test"))));
        let other = blake2b(b"Test");
        assert!(!pre.verifies(&k, &d(Some(&other), None)));
        // Legacy: the bytes themselves.
        assert!(leg.needs().whole && !leg.needs().blake2b512);
        assert!(leg.verifies(&k, &d(None, Some(b"test"))));
        assert!(!leg.verifies(&k, &d(Some(&b2), None)));
        assert!(!leg.verifies(&k, &d(None, Some(b"Test"))));
        // In memory, with the legacy switch.
        assert!(pre.verifies_bytes(&k, b"test", false));
        assert!(!leg.verifies_bytes(&k, b"test", false));
        assert!(leg.verifies_bytes(&k, b"test", true));
    }
}
