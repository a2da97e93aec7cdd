//! OpenPGP verification (RFC 9580, RFC 4880): certificates and keyrings, detached and
//! cleartext signatures, v4 and v6, checked the way `sqv` checks them (validity at the
//! signature's creation time). Verifier only: nothing here signs, decrypts or writes keys.
//!
//! API CONTRACT (the rest of verun is written against exactly these items; keep their
//! names and meaning, add private helpers and submodules freely):
//! - every parser is strict and capped, never panics, and returns `Err(String)`: one
//!   short sentence without a trailing period, naming what is wrong (callers prefix the file);
//! - nothing prints; untrusted text (user IDs) is returned raw, callers sanitise it.

/// Largest certificate or keyring file read (Debian's archive keyring is 56 KB).
pub const MAX_CERT_BYTES: u64 = 1 << 20;
/// Largest detached signature file read.
pub const MAX_SIG_BYTES: u64 = 64 * 1024;
/// Most signatures accepted in one file.
pub const MAX_SIGS: usize = 32;

/// A primary-key fingerprint: 20 bytes (v4) or 32 bytes (v6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    /// Parse 40 (v4) or 64 (v6) hex digits, any case, spaces allowed (as `gpg` prints them);
    /// an optional `0x` prefix. Anything else is an error.
    pub fn parse_hex(s: &str) -> Result<Fingerprint, String> {
        let _ = s;
        unimplemented!("openpgp skeleton")
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Upper-case hex, no spaces: the spelling used in `openpgp:FINGERPRINT`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The 64-bit key id (v4: the last 8 bytes; v6: the first 8).
    pub fn key_id(&self) -> [u8; 8] {
        unimplemented!("openpgp skeleton")
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One transferable public key: a primary key with its user IDs, subkeys and the
/// signatures on them (self-signatures, bindings, revocations), as parsed.
#[derive(Clone, Debug)]
pub struct Cert {}

impl Cert {
    /// The primary key's fingerprint.
    pub fn fingerprint(&self) -> &Fingerprint {
        unimplemented!("openpgp skeleton")
    }

    /// Key version: 4 or 6.
    pub fn version(&self) -> u8 {
        unimplemented!("openpgp skeleton")
    }

    /// The user ID shown for this certificate: the primary one (or the first with a valid
    /// self-signature), raw (callers sanitise); `None` when there is none.
    pub fn primary_user_id(&self) -> Option<String> {
        unimplemented!("openpgp skeleton")
    }

    /// The primary key's algorithm in words: `RSA 4096`, `Ed25519`, `ECDSA P-256`, ...
    pub fn algorithm(&self) -> String {
        unimplemented!("openpgp skeleton")
    }

    /// Whether the primary key or one of the subkeys matches `fpr` (a full fingerprint of
    /// the primary or of a subkey) or `key_id`: the question "could this certificate have
    /// made this signature?", before any check.
    pub fn has_key(&self, fpr: Option<&Fingerprint>, key_id: Option<&[u8; 8]>) -> bool {
        let _ = (fpr, key_id);
        unimplemented!("openpgp skeleton")
    }

    /// The certificate's packets, binary (not armored), exactly as parsed: what the key
    /// store keeps. `parse_certs(&cert.to_bytes())` gives this certificate back.
    pub fn to_bytes(&self) -> Vec<u8> {
        unimplemented!("openpgp skeleton")
    }

    /// When the primary key expires (Unix seconds), by its latest valid self-signature;
    /// `None` when it does not.
    pub fn expires(&self) -> Option<u64> {
        unimplemented!("openpgp skeleton")
    }

    /// Whether the primary key is revoked (any reason) by a valid revocation signature.
    pub fn is_revoked(&self) -> bool {
        unimplemented!("openpgp skeleton")
    }
}

/// Every certificate in `bytes`: one or more armored `PUBLIC KEY BLOCK`s, or binary
/// packets (a keyring). Certificates whose primary key uses an algorithm this module
/// cannot verify are kept (they can sign nothing here); a malformed packet stream is an
/// error. At least one certificate.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let _ = bytes;
    unimplemented!("openpgp skeleton")
}

/// Whether `bytes` look like a certificate or keyring (armored `PUBLIC KEY BLOCK`, or a
/// binary packet stream starting with a public-key packet): content sniffing for `--key`.
pub fn is_certificate(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
        || bytes.first().is_some_and(|b| *b == 0x99 || *b == 0xc6)
}

/// Whether `bytes` look like a detached OpenPGP signature (armored `PGP SIGNATURE`, or a
/// binary packet stream starting with a signature packet).
pub fn is_signature(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN PGP SIGNATURE-----")
        || bytes.first().is_some_and(|b| *b == 0x89 || *b == 0xc2)
}

/// Whether `bytes` are a cleartext-signed message (`-----BEGIN PGP SIGNED MESSAGE-----` as
/// the first line).
pub fn is_cleartext(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN PGP SIGNED MESSAGE-----")
}

/// A document hash algorithm verun accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgo {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// One signature packet (document signature: type 0x00 binary or 0x01 text).
#[derive(Clone, Debug)]
pub struct Sig {}

impl Sig {
    /// 4 or 6.
    pub fn version(&self) -> u8 {
        unimplemented!("openpgp skeleton")
    }

    /// Signature creation time (Unix seconds, from the hashed area; required).
    pub fn created(&self) -> u64 {
        unimplemented!("openpgp skeleton")
    }

    /// The issuer fingerprint subpacket, if any.
    pub fn issuer_fingerprint(&self) -> Option<Fingerprint> {
        unimplemented!("openpgp skeleton")
    }

    /// The issuer key id (the issuer subpacket, or derived from the issuer fingerprint).
    pub fn issuer_key_id(&self) -> Option<[u8; 8]> {
        unimplemented!("openpgp skeleton")
    }

    /// The document hash, or why it is refused (`SHA-1 is refused`, `MD5 is refused`,
    /// `unknown hash algorithm 11`).
    pub fn hash_algo(&self) -> Result<HashAlgo, String> {
        unimplemented!("openpgp skeleton")
    }

    /// Whether this is a text signature (type 0x01): the document is hashed with line
    /// endings canonicalised to CRLF.
    pub fn is_text(&self) -> bool {
        unimplemented!("openpgp skeleton")
    }

    /// A fresh hasher for the document this signature covers: the right algorithm, fed the
    /// v6 salt, canonicalising text. Err as [`Sig::hash_algo`].
    pub fn hasher(&self) -> Result<Hasher, String> {
        unimplemented!("openpgp skeleton")
    }

    /// Whether a plain SHA-256 / SHA-512 of the document's bytes (a hasher with no salt, no
    /// text canonicalisation) is what this signature hashes first: then the pump's own
    /// SHA-256 or SHA-512 state can be continued with [`Hasher::continue_sha256`] /
    /// [`Hasher::continue_sha512`] instead of hashing the payload twice.
    pub fn plain(&self) -> Option<HashAlgo> {
        unimplemented!("openpgp skeleton")
    }
}

/// Every signature in a detached signature file (armored or binary): at least one, at most
/// [`MAX_SIGS`], only document signatures (types 0x00, 0x01); marker packets skipped.
pub fn parse_signatures(bytes: &[u8]) -> Result<Vec<Sig>, String> {
    let _ = bytes;
    unimplemented!("openpgp skeleton")
}

/// An incremental document hasher: the v6 salt first, then the document, with line endings
/// canonicalised to CRLF for text signatures (a CR at a chunk's end is carried over).
#[derive(Clone)]
pub struct Hasher {}

impl Hasher {
    /// Feed document bytes.
    pub fn update(&mut self, data: &[u8]) {
        let _ = data;
        unimplemented!("openpgp skeleton")
    }

    /// A hasher that continues `state`, a plain SHA-256 of the document so far.
    pub fn continue_sha256(state: sha2::Sha256) -> Hasher {
        let _ = state;
        unimplemented!("openpgp skeleton")
    }

    /// A hasher that continues `state`, a plain SHA-512 of the document so far.
    pub fn continue_sha512(state: sha2::Sha512) -> Hasher {
        let _ = state;
        unimplemented!("openpgp skeleton")
    }
}

/// A signature that verified.
#[derive(Clone, Debug)]
pub struct Good {
    /// The certificate's primary fingerprint (the signer's name: `openpgp:FPR`).
    pub primary: Fingerprint,
    /// The key that signed: the primary or a subkey.
    pub signing_key: Fingerprint,
    /// Signature creation time (Unix seconds).
    pub created: u64,
    /// The certificate's primary user ID, raw.
    pub user_id: Option<String>,
    /// `RSA 4096`, `Ed25519`, ...
    pub algorithm: String,
    /// `SHA-256`, `SHA-384`, `SHA-512`.
    pub hash: &'static str,
}

/// What one signature says about a document, against a set of certificates.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// No certificate given has the issuer's key: the signature is not by a trusted key.
    Unknown,
    /// It verifies, by a key valid at the signature's creation time.
    Good(Good),
    /// A certificate given has the issuer's key, and the signature is refused: why, in
    /// one sentence (`made after the key expired on 2022-05-17`, `the subkey is revoked`,
    /// `the signature does not match the data`, `SHA-1 is refused`, `RSA 1024 is too
    /// weak`, `created more than a day in the future`).
    Bad {
        /// The primary fingerprint of the certificate holding the issuer's key.
        primary: Fingerprint,
        /// Why.
        reason: String,
    },
}

/// Decide `sig` over the document fed to `hasher` (made by [`Sig::hasher`], or continued
/// from the pump's state when [`Sig::plain`] allows), against `certs`. Finds the issuer's
/// key (primary, or a signing-capable subkey with a valid binding and back-signature) and
/// checks, at the signature's creation time: key and subkey not expired, not revoked
/// (hard revocations and revocations without a reason count at any time; soft ones from
/// their date), signature not expired and not created more than a day after `now`, RSA ≥
/// 2048 bits, accepted hash, then the cryptography. `now` is Unix seconds.
pub fn verify(sig: &Sig, hasher: Hasher, certs: &[Cert], now: u64) -> Outcome {
    let _ = (sig, hasher, certs, now);
    unimplemented!("openpgp skeleton")
}

/// [`verify`] over a document held in memory.
pub fn verify_bytes(sig: &Sig, data: &[u8], certs: &[Cert], now: u64) -> Outcome {
    let _ = (sig, data, certs, now);
    unimplemented!("openpgp skeleton")
}

/// A cleartext-signed message (RFC 9580 §7).
#[derive(Clone, Debug)]
pub struct Cleartext {
    /// The signed text, as verun hands it on (`-o`, the checksum-list parser): dash-escapes
    /// removed, trailing spaces and tabs removed from each line, every line ending `\n`.
    pub text: Vec<u8>,
    /// The signatures after the text (at least one).
    pub sigs: Vec<Sig>,
}

/// Parse a cleartext-signed message: the `BEGIN PGP SIGNED MESSAGE` line, `Hash:` headers
/// (each named algorithm must be one verun accepts and must match the signatures), an empty
/// line, the dash-escaped text, and one armored signature block. Anything before the first
/// line, after the signature block (other than whitespace), or a second message is an error.
pub fn parse_cleartext(bytes: &[u8]) -> Result<Cleartext, String> {
    let _ = bytes;
    unimplemented!("openpgp skeleton")
}

impl Cleartext {
    /// Decide `self.sigs[index]` over the signed text (hashed in its canonical form: CRLF
    /// line endings, trailing whitespace removed, no final line ending), as [`verify`].
    pub fn verify(&self, index: usize, certs: &[Cert], now: u64) -> Outcome {
        let _ = (index, certs, now);
        unimplemented!("openpgp skeleton")
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("openpgp::Hasher")
    }
}
