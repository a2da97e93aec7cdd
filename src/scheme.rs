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
use crate::minisig::{KeyId, PublicKey, Signature};
use crate::term::sanitize;
use crate::{openpgp, sigstore, sshsig};

/// What is trusted to sign: a minisign key, an OpenPGP certificate, or an SSH key.
#[derive(Clone, Debug)]
pub enum Signer {
    /// A minisign public key.
    Minisign(PublicKey),
    /// An OpenPGP certificate (its primary key and subkeys), named by its fingerprint.
    OpenPgp(Box<openpgp::Cert>),
    /// An SSH public key, with what an `allowed_signers` line says about it.
    Ssh(Box<sshsig::Allowed>),
    /// A Sigstore signer: an identity and issuer, a GitHub repository, or a public key.
    Sigstore(Box<sigstore::Trust>),
}

/// The kind of a [`Signer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignerKind {
    /// minisign.
    Minisign,
    /// OpenPGP.
    OpenPgp,
    /// SSH.
    Ssh,
    /// Sigstore bundles.
    Sigstore,
}

impl SignerKind {
    /// `minisign`, `openpgp`, `ssh`: the `KIND` of `KIND:ID`.
    pub fn name(self) -> &'static str {
        match self {
            SignerKind::Minisign => "minisign",
            SignerKind::OpenPgp => "openpgp",
            SignerKind::Ssh => "ssh",
            SignerKind::Sigstore => "sigstore",
        }
    }

    /// The conventional detached-signature suffixes of this kind, in the order they are
    /// looked for: `.minisig`; `.asc`, then `.sig`; `.sig`.
    pub fn sibling_suffixes(self) -> &'static [&'static str] {
        match self {
            SignerKind::Minisign => &[".minisig"],
            SignerKind::OpenPgp => &[".asc", ".sig"],
            SignerKind::Ssh => &[".sig"],
            SignerKind::Sigstore => sigstore::SUFFIXES,
        }
    }

    /// Parse `minisign` / `openpgp` / `ssh`.
    pub fn parse(s: &str) -> Option<SignerKind> {
        match s {
            "minisign" => Some(SignerKind::Minisign),
            "openpgp" => Some(SignerKind::OpenPgp),
            "ssh" => Some(SignerKind::Ssh),
            "sigstore" => Some(SignerKind::Sigstore),
            _ => None,
        }
    }
}

/// The kind prefix of minisign signers in `KIND:ID`.
pub const MINISIGN: &str = "minisign:";

/// `minisign:KEYID` for a minisign key id in its 16-hex-digit form (any case): the one
/// spelling of a minisign signer's name, for lockfiles, the rollback state and reports.
pub fn minisign_signer_id(key_id: &str) -> String {
    format!("{MINISIGN}{}", key_id.to_ascii_uppercase())
}

/// Who a signature says made it, before anything is checked: what selects the key.
#[derive(Clone, Copy, Debug)]
pub enum Claim<'a> {
    /// A minisign signature's key id.
    Minisign(KeyId),
    /// An OpenPGP signature's issuer (fingerprint and/or key id of the primary or a subkey).
    OpenPgp(&'a openpgp::Sig),
    /// An SSH signature's embedded public key.
    Ssh(&'a sshsig::SshKey),
    /// What a Sigstore bundle's certificate says (or that it is a keyed bundle).
    Sigstore(&'a sigstore::Claims),
}

impl Claim<'_> {
    /// The claimed signer in words, for "signed by ..., which is not trusted".
    pub fn describe(&self) -> String {
        match self {
            Claim::Minisign(id) => format!("key {id}"),
            Claim::OpenPgp(sig) => match (sig.issuer_fingerprint(), sig.issuer_key_id()) {
                (Some(f), _) => format!("OpenPGP key {f}"),
                (None, Some(id)) => format!(
                    "OpenPGP key id {}",
                    id.iter().map(|b| format!("{b:02X}")).collect::<String>()
                ),
                (None, None) => "an OpenPGP key it does not name".to_string(),
            },
            Claim::Ssh(k) => format!("SSH key {}", k.fingerprint()),
            Claim::Sigstore(c) => c.describe(),
        }
    }
}

impl Signer {
    /// The signer's stable name, `KIND:ID` (`minisign:E7620F1842B4E81F`,
    /// `openpgp:FINGERPRINT`, `ssh:SHA256:...`), as lockfiles, the rollback state and
    /// reports write it.
    pub fn id(&self) -> String {
        match self {
            Signer::Minisign(k) => minisign_signer_id(&k.id().to_string()),
            Signer::OpenPgp(c) => format!("openpgp:{}", c.fingerprint()),
            Signer::Ssh(a) => format!("ssh:{}", a.key.fingerprint()),
            Signer::Sigstore(t) => format!("sigstore:{}", t.id()),
        }
    }

    /// The ID part of [`Signer::id`] (`E7620F1842B4E81F`, the fingerprint, `SHA256:...`).
    pub fn short_id(&self) -> String {
        match self {
            Signer::Minisign(k) => k.id().to_string(),
            Signer::OpenPgp(c) => c.fingerprint().to_hex(),
            Signer::Ssh(a) => a.key.fingerprint(),
            Signer::Sigstore(t) => t.id(),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> SignerKind {
        match self {
            Signer::Minisign(_) => SignerKind::Minisign,
            Signer::OpenPgp(_) => SignerKind::OpenPgp,
            Signer::Ssh(_) => SignerKind::Ssh,
            Signer::Sigstore(_) => SignerKind::Sigstore,
        }
    }

    /// The signer in words for messages: `key E7620F1842B4E81F`, `OpenPGP certificate FPR
    /// (user id)`, `SSH key SHA256:... (comment)`; untrusted parts sanitised.
    pub fn describe(&self) -> String {
        match self {
            Signer::Minisign(k) => format!("key {}", k.id()),
            Signer::OpenPgp(c) => match c.primary_user_id() {
                Some(u) => format!("OpenPGP certificate {} ({})", c.fingerprint(), sanitize(&u)),
                None => format!("OpenPGP certificate {}", c.fingerprint()),
            },
            Signer::Ssh(a) => match a.key.comment().filter(|c| !c.is_empty()) {
                Some(c) => format!("SSH key {} ({})", a.key.fingerprint(), sanitize(c)),
                None => format!("SSH key {}", a.key.fingerprint()),
            },
            Signer::Sigstore(t) => t.describe(),
        }
    }

    /// Whether this signer is the one `claim` names (for OpenPGP: the certificate holds the
    /// issuer's key, as primary or subkey).
    pub fn answers(&self, claim: &Claim<'_>) -> bool {
        match (self, claim) {
            (Signer::Minisign(k), Claim::Minisign(id)) => k.id() == *id,
            (Signer::OpenPgp(c), Claim::OpenPgp(sig)) => c.has_key(
                sig.issuer_fingerprint().as_ref(),
                sig.issuer_key_id().as_ref(),
            ),
            (Signer::Ssh(a), Claim::Ssh(k)) => a.key == **k,
            (Signer::Sigstore(t), Claim::Sigstore(c)) => t.answers(c),
            _ => false,
        }
    }

    /// The key as the key store writes it (`public_key`): minisign's base64 key, the
    /// certificate's binary packets in base64 (one line), the SSH `ALGO BASE64 [COMMENT]`
    /// line.
    pub fn public_text(&self) -> String {
        match self {
            Signer::Minisign(k) => k.base64().to_string(),
            Signer::OpenPgp(c) => crate::minisig::encode_base64(&c.to_bytes()),
            // The comment too (`key show` names the key by it); sanitised when shown.
            Signer::Ssh(a) => match a.key.comment().map(str::trim).filter(|c| !c.is_empty()) {
                Some(c) if !c.contains(['\n', '\r']) => format!("{} {c}", a.key.to_line()),
                _ => a.key.to_line(),
            },
            Signer::Sigstore(t) => t.text(),
        }
    }

    /// Read a key back from [`Signer::public_text`] for `kind`. OpenPGP: the text must hold
    /// exactly one certificate.
    pub fn from_public_text(kind: SignerKind, text: &str) -> std::result::Result<Signer, String> {
        match kind {
            SignerKind::Minisign => PublicKey::from_base64(text)
                .map(Signer::Minisign)
                .map_err(|e| e.message().to_string()),
            SignerKind::OpenPgp => {
                let bytes = crate::minisig::decode_base64(text.trim())
                    .ok_or("the certificate is not canonical base64")?;
                let mut certs = openpgp::parse_certs(&bytes)?;
                if certs.len() != 1 {
                    return Err(format!(
                        "{} certificates where one was expected",
                        certs.len()
                    ));
                }
                Ok(Signer::OpenPgp(Box::new(certs.remove(0))))
            }
            SignerKind::Sigstore => {
                sigstore::Trust::from_text(text).map(|t| Signer::Sigstore(Box::new(t)))
            }
            SignerKind::Ssh => sshsig::SshKey::parse_line(text).map(|key| {
                Signer::Ssh(Box::new(sshsig::Allowed {
                    key,
                    principals: Vec::new(),
                    namespaces: None,
                    valid_after: None,
                    valid_before: None,
                }))
            }),
        }
    }

    /// Whether two signers are the same key (same kind and id).
    pub fn same(&self, other: &Signer) -> bool {
        self.kind() == other.kind() && self.id() == other.id()
    }
}

/// The digests (and bytes) a signature needs from the one pass over the payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// BLAKE2b-512 of the payload (a prehashed minisign signature).
    pub blake2b512: bool,
    /// SHA-512 of the payload (an SSH signature's default hash; an OpenPGP SHA-512
    /// signature continues this state).
    pub sha512: bool,
    /// The payload itself, kept in memory (a legacy minisign signature; bounded by
    /// `--max-size`, and only with `--allow-legacy`).
    pub whole: bool,
}

impl Needs {
    /// Both sets of needs.
    pub fn union(self, o: Needs) -> Needs {
        Needs {
            blake2b512: self.blake2b512 || o.blake2b512,
            sha512: self.sha512 || o.sha512,
            whole: self.whole || o.whole,
        }
    }
}

/// What the pass computed, for a scheme to decide on.
#[derive(Clone, Debug)]
pub struct Digests<'a> {
    /// SHA-256 (always computed: pins and reports need it).
    pub sha256: &'a [u8; 32],
    /// BLAKE2b-512, when needed.
    pub blake2b512: Option<&'a [u8; 64]>,
    /// SHA-512, when needed.
    pub sha512: Option<&'a [u8; 64]>,
    /// The whole payload, when needed.
    pub whole: Option<&'a [u8]>,
    /// The SHA-256 state before finalisation (an OpenPGP signature appends its trailer).
    pub sha256_state: Option<&'a sha2::Sha256>,
    /// The SHA-512 state before finalisation.
    pub sha512_state: Option<&'a crate::pump::Sha512State>,
    /// The OpenPGP hashers asked for by [`Admitted::feeds`], fed the payload, in order.
    pub feeds: Vec<openpgp::Hasher>,
}

impl<'a> Digests<'a> {
    /// Only the SHA-256 (and, when known, the SHA-512): a digest given rather than a pass
    /// over the bytes (`verify sha256:HEX`, attestations looked up after the pass).
    pub fn given(sha256: &'a [u8; 32], sha512: Option<&'a [u8; 64]>) -> Digests<'a> {
        Digests {
            sha256,
            blake2b512: None,
            sha512,
            whole: None,
            sha256_state: None,
            sha512_state: None,
            feeds: Vec::new(),
        }
    }
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
        let Signer::Minisign(key) = signer else {
            return false;
        };
        match (self.is_prehashed(), d.blake2b512, d.whole) {
            (true, Some(hash), _) => self.verify_prehash(key, hash),
            (false, _, Some(bytes)) => self.verify_legacy(key, bytes),
            _ => false,
        }
    }

    fn verifies_bytes(&self, signer: &Signer, bytes: &[u8], allow_legacy: bool) -> bool {
        let Signer::Minisign(key) = signer else {
            return false;
        };
        self.verify_bytes(key, bytes, allow_legacy)
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
    let key = ring.resolve(&Claim::Minisign(sig.key_id()), url, expect.what)?;
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

/// Largest detached signature file of any kind read: 16 KiB (a `.minisig` is ~300 bytes, an
/// armored RSA-4096 OpenPGP signature ~900, an SSH signature ~300-1200).
pub const MAX_SIG_FILE_BYTES: u64 = crate::minisig::MAX_SIG_BYTES;

/// A detached signature file of any kind, told apart by its content.
#[derive(Clone, Debug)]
pub enum SigFile {
    /// A `.minisig`.
    Minisign(Box<Signature>),
    /// One or more OpenPGP signatures (binary or armored).
    OpenPgp(Vec<openpgp::Sig>),
    /// An SSH signature (`ssh-keygen -Y sign`).
    Ssh(Box<sshsig::SshSig>),
    /// Sigstore bundles (one, JSON lines of them, or a GitHub API answer).
    Sigstore(Vec<sigstore::Bundle>),
}

impl SigFile {
    /// Parse `bytes` (named `what` in errors): OpenPGP, SSH or minisign, by content.
    pub fn parse(bytes: &[u8], what: &str) -> Result<SigFile> {
        let malformed = |kind: &str, e: String| {
            Error::refused_for(
                Reason::MalformedSignature,
                format!("malformed signature {what}: not a valid {kind} signature: {e}"),
            )
            .hint("the signature file is damaged or is not a signature; check --sig (or the file next to the download)")
        };
        if openpgp::is_signature(bytes) {
            return openpgp::parse_signatures(bytes)
                .map(SigFile::OpenPgp)
                .map_err(|e| malformed("OpenPGP", e));
        }
        if sshsig::is_signature(bytes) {
            return sshsig::SshSig::parse(bytes)
                .map(|s| SigFile::Ssh(Box::new(s)))
                .map_err(|e| malformed("SSH", e));
        }
        if bytes.trim_ascii_start().starts_with(b"{") {
            return sigstore::parse_bundles(bytes)
                .map(SigFile::Sigstore)
                .map_err(|e| {
                    Error::refused_for(
                        Reason::MalformedSignature,
                        format!("malformed Sigstore bundle {what}: {e}"),
                    )
                    .hint("the bundle is damaged or is not a Sigstore bundle; check --bundle (or the .sigstore.json next to the download)")
                });
        }
        if openpgp::is_cleartext(bytes) {
            return Err(Error::refused_for(
                Reason::MalformedSignature,
                format!("{what} is a cleartext-signed message, not a detached signature"),
            )
            .hint("a cleartext-signed file carries its own signature: verify it with `verun verify FILE`, or pass a signed checksum list with --checksums"));
        }
        Signature::parse(bytes, what).map(|s| SigFile::Minisign(Box::new(s)))
    }

    /// Its kind.
    pub fn kind(&self) -> SignerKind {
        match self {
            SigFile::Minisign(_) => SignerKind::Minisign,
            SigFile::OpenPgp(_) => SignerKind::OpenPgp,
            SigFile::Ssh(_) => SignerKind::Ssh,
            SigFile::Sigstore(_) => SignerKind::Sigstore,
        }
    }
}

/// One signature of an [`Admitted`] file.
#[derive(Clone, Debug)]
enum One {
    Minisign(Box<Signature>),
    /// The signature and its index in the file (a cleartext message's signatures).
    OpenPgp(Box<openpgp::Sig>, usize),
    Ssh(Box<sshsig::SshSig>),
    /// A bundle and the roots it is checked against.
    Sigstore(Box<sigstore::Bundle>, sigstore::Roots),
}

#[derive(Clone, Debug)]
struct Item {
    sig: One,
    key: TrustedKey,
}

/// A signature that verified.
#[derive(Clone, Debug)]
pub struct GoodSig {
    /// The trusted signer.
    pub key: TrustedKey,
    /// The key that signed: a minisign key id, an OpenPGP (sub)key fingerprint, an SSH
    /// fingerprint.
    pub key_id: String,
    /// The signed time: minisign's `timestamp:`, OpenPGP's creation time; none for SSH.
    pub created: Option<u64>,
    /// minisign's trusted comment; for OpenPGP the signer's user ID; for SSH the key's
    /// comment (raw: sanitise before printing).
    pub trusted_comment: String,
    /// minisign: prehashed (false: legacy); true for the other kinds.
    pub prehashed: bool,
    /// `minisign`, `openpgp`, `ssh`.
    pub kind: SignerKind,
    /// The algorithms, for OpenPGP and SSH (`RSA 4096, SHA-256`).
    pub algorithm: Option<String>,
    /// What a Sigstore bundle's certificate says.
    pub sigstore: Option<Box<sigstore::Details>>,
}

/// A signature file after the policy ([`admit_file`]): its signatures by trusted signers,
/// each with its key, waiting for the bytes they sign.
#[derive(Clone, Debug)]
pub struct Admitted {
    items: Vec<Item>,
    /// The signers of signatures in the file that nobody trusts here: ignored, reported.
    pub ignored: Vec<String>,
}

/// [`admit`] for a signature file of any kind. minisign: the one signature must be by a
/// trusted key (and pass the legacy and `file:` rules). OpenPGP: signatures by keys not
/// trusted are ignored (and listed); at least one must be by a trusted key, and every one
/// by a trusted key must use an accepted hash (and, later, verify). SSH: the embedded key
/// must be trusted and the namespace `file`.
pub fn admit_file(
    file: &SigFile,
    ring: &KeyRing<'_>,
    url: Option<&HttpUrl>,
    expect: &Expect<'_>,
) -> Result<Admitted> {
    let what = expect.what;
    match file {
        SigFile::Minisign(sig) => {
            let key = admit(sig, ring, url, expect)?;
            Ok(Admitted {
                items: vec![Item {
                    sig: One::Minisign(sig.clone()),
                    key,
                }],
                ignored: Vec::new(),
            })
        }
        SigFile::OpenPgp(sigs) => admit_openpgp(sigs, ring, url, what),
        SigFile::Sigstore(bundles) => admit_sigstore(bundles, ring, url, what),
        SigFile::Ssh(sig) => {
            let key = ring.resolve(&Claim::Ssh(sig.key()), url, what)?;
            if sig.namespace() != sshsig::NAMESPACE {
                return Err(Error::refused_for(
                    Reason::BadSignature,
                    format!(
                        "{what} is an SSH signature for namespace {:?}, not {:?}",
                        sanitize(sig.namespace()),
                        sshsig::NAMESPACE
                    ),
                )
                .hint("files are signed with `ssh-keygen -Y sign -n file`; a signature made for another purpose (git, email) does not vouch for a download"));
            }
            Ok(Admitted {
                items: vec![Item {
                    sig: One::Ssh(sig.clone()),
                    key,
                }],
                ignored: Vec::new(),
            })
        }
    }
}

/// [`admit_file`] for OpenPGP signatures (a detached file's, or a cleartext message's).
pub fn admit_openpgp(
    sigs: &[openpgp::Sig],
    ring: &KeyRing<'_>,
    url: Option<&HttpUrl>,
    what: &str,
) -> Result<Admitted> {
    fn claim(sig: &openpgp::Sig) -> Claim<'_> {
        Claim::OpenPgp(sig)
    }
    admit_several(
        sigs,
        ring,
        url,
        what,
        Several {
            claim,
            noun: "signatures",
            hint: "pass the publisher's certificate with --key, or trust it with `verun key add`",
        },
        |i, sig, key| {
            if let Err(why) = sig.hash_algo() {
                return Err(Error::refused_for(
                    Reason::BadSignature,
                    format!("{what} by {} is refused: {why}", key.key.describe()),
                )
                .hint(
                    "ask the publisher to sign with SHA-256 or stronger (gpg --digest-algo SHA512)",
                ));
            }
            Ok(One::OpenPgp(Box::new(sig.clone()), i))
        },
    )
}

/// [`admit_file`] for Sigstore bundles: as for OpenPGP signatures, bundles by signers not
/// trusted here are ignored (and listed); at least one must be by a trusted signer, and
/// every one by a trusted signer must verify.
pub fn admit_sigstore(
    bundles: &[sigstore::Bundle],
    ring: &KeyRing<'_>,
    url: Option<&HttpUrl>,
    what: &str,
) -> Result<Admitted> {
    fn claim(b: &sigstore::Bundle) -> Claim<'_> {
        Claim::Sigstore(b.claims())
    }
    admit_several(
        bundles,
        ring,
        url,
        what,
        Several {
            claim,
            noun: "bundles",
            hint: "name the signer with --cert-identity ID --cert-oidc-issuer URL (or --github-repo OWNER/NAME), or trust it with `verun key add`",
        },
        |_, b, _| {
            Ok(One::Sigstore(
                Box::new(b.clone()),
                ring.sigstore_roots().clone(),
            ))
        },
    )
}

/// How a file of several signatures names them, for [`admit_several`].
struct Several<T: 'static> {
    /// What each signature claims.
    claim: for<'a> fn(&'a T) -> Claim<'a>,
    /// `signatures`, `bundles`.
    noun: &'static str,
    /// The hint when none of them is by a trusted signer.
    hint: &'static str,
}

/// The policy for a file of several signatures (OpenPGP, Sigstore): those by signers not
/// trusted here are ignored (and listed); at least one must be by a trusted signer (else the
/// store's refusal, or "not trusted"); `item` admits each trusted one (and may refuse it).
fn admit_several<T: 'static>(
    sigs: &[T],
    ring: &KeyRing<'_>,
    url: Option<&HttpUrl>,
    what: &str,
    how: Several<T>,
    item: impl Fn(usize, &T, &TrustedKey) -> Result<One>,
) -> Result<Admitted> {
    let mut items = Vec::new();
    let mut ignored = Vec::new();
    let mut refused = None;
    for (i, sig) in sigs.iter().enumerate() {
        let claim = (how.claim)(sig);
        match ring.verdict(&claim, url) {
            crate::keys::StoreVerdict::Trusted(key) => items.push(Item {
                sig: item(i, sig, &key)?,
                key,
            }),
            crate::keys::StoreVerdict::Refused(e) => {
                refused.get_or_insert(e);
                ignored.push(claim.describe());
            }
            crate::keys::StoreVerdict::Unknown => ignored.push(claim.describe()),
        }
    }
    if items.is_empty() {
        if let Some(e) = refused {
            return Err(e);
        }
        return Err(match sigs {
            [one] => ring.untrusted(&(how.claim)(one), what),
            _ => Error::refused_for(
                Reason::UntrustedKey,
                format!(
                    "{what} holds {} {}, by {}: none of them is trusted",
                    sigs.len(),
                    how.noun,
                    ignored.join(", ")
                ),
            )
            .hint(how.hint),
        });
    }
    Ok(Admitted { items, ignored })
}

fn now() -> u64 {
    u64::try_from(crate::time::now()).unwrap_or(0)
}

impl Admitted {
    /// What the pass must compute for these signatures.
    pub fn needs(&self) -> Needs {
        self.items.iter().fold(Needs::default(), |n, it| {
            let more = match &it.sig {
                One::Minisign(s) => s.needs(),
                One::OpenPgp(s, _) => Needs {
                    sha512: s.plain() == Some(openpgp::HashAlgo::Sha512),
                    ..Needs::default()
                },
                One::Ssh(s) => Needs {
                    sha512: s.hash_algo() == sshsig::HashAlgo::Sha512,
                    ..Needs::default()
                },
                One::Sigstore(b, _) => Needs {
                    sha512: b.want() == sigstore::Want::Sha512,
                    ..Needs::default()
                },
            };
            n.union(more)
        })
    }

    /// The OpenPGP hashers the pass must feed (salted v6 signatures, SHA-384, text
    /// signatures); plain SHA-256/512 signatures continue the pass's own states instead.
    pub fn feeds(&self) -> Vec<openpgp::Hasher> {
        self.items
            .iter()
            .filter_map(|it| match &it.sig {
                One::OpenPgp(s, _) if own_feed(s) => s.hasher().ok(),
                _ => None,
            })
            .collect()
    }

    /// The signers, in words (`key E762...`, `OpenPGP certificate FPR (uid)`).
    pub fn signers(&self) -> Vec<String> {
        self.items.iter().map(|it| it.key.key.describe()).collect()
    }

    /// The digests its Sigstore bundles are checked against.
    pub fn sigstore_wants(&self) -> Vec<sigstore::Want> {
        self.items
            .iter()
            .filter_map(|it| match &it.sig {
                One::Sigstore(b, _) => Some(b.want()),
                _ => None,
            })
            .collect()
    }

    /// The kind of its signatures.
    pub fn kind(&self) -> Option<SignerKind> {
        self.items.first().map(|it| it.key.key.kind())
    }

    /// The first trusted signer.
    pub fn first_key(&self) -> &TrustedKey {
        &self.items[0].key
    }

    /// Whether a legacy (non-prehashed) minisign signature is among them.
    pub fn minisign(&self) -> Option<&Signature> {
        self.items.iter().find_map(|it| match &it.sig {
            One::Minisign(s) => Some(&**s),
            _ => None,
        })
    }

    /// Decide every signature over the payload the pass hashed: all must verify. `subject`
    /// and `location` name the payload and the signature in errors.
    pub fn decide(
        &self,
        mut d: Digests<'_>,
        subject: &str,
        location: &str,
    ) -> Result<Vec<GoodSig>> {
        let mut feeds = std::mem::take(&mut d.feeds).into_iter();
        let mut good = Vec::new();
        for it in &self.items {
            let g = match &it.sig {
                One::Minisign(sig) => {
                    if !sig.verifies(&it.key.key, &d) {
                        return Err(mismatch(subject, location, &it.key));
                    }
                    minisign_good(sig, &it.key)
                }
                One::OpenPgp(sig, _) => {
                    let hasher = if own_feed(sig) {
                        feeds.next()
                    } else {
                        match sig.plain() {
                            Some(openpgp::HashAlgo::Sha256) => d
                                .sha256_state
                                .map(|s| openpgp::Hasher::continue_sha256(s.clone())),
                            Some(openpgp::HashAlgo::Sha512) => d
                                .sha512_state
                                .map(|s| openpgp::Hasher::continue_sha512(s.0.clone())),
                            _ => None,
                        }
                    };
                    let Some(hasher) = hasher else {
                        return Err(mismatch(subject, location, &it.key));
                    };
                    let certs = certs_of(&it.key);
                    openpgp_good(
                        openpgp::verify(sig, hasher, &certs, now()),
                        &it.key,
                        subject,
                        location,
                    )?
                }
                One::Ssh(sig) => {
                    let digest: Option<&[u8]> = match sig.hash_algo() {
                        sshsig::HashAlgo::Sha256 => Some(&d.sha256[..]),
                        sshsig::HashAlgo::Sha512 => d.sha512.map(|h| &h[..]),
                    };
                    let Some(digest) = digest else {
                        return Err(mismatch(subject, location, &it.key));
                    };
                    ssh_good(sig, digest, &it.key, subject, location)?
                }
                One::Sigstore(b, roots) => {
                    sigstore_good(b, roots, d.sha256, d.sha512, &it.key, subject, location)?
                }
            };
            good.push(g);
        }
        Ok(good)
    }

    /// [`Admitted::decide`] over bytes held in memory (a checksum list). `allow_legacy`
    /// lets a legacy minisign signature verify.
    pub fn decide_bytes(
        &self,
        bytes: &[u8],
        allow_legacy: bool,
        subject: &str,
        location: &str,
    ) -> Result<Vec<GoodSig>> {
        use sha2::Digest as _;
        let mut good = Vec::new();
        for it in &self.items {
            let g = match &it.sig {
                One::Minisign(sig) => {
                    if !sig.verifies_bytes(&it.key.key, bytes, allow_legacy) {
                        return Err(mismatch(subject, location, &it.key));
                    }
                    minisign_good(sig, &it.key)
                }
                One::OpenPgp(sig, _) => {
                    let certs = certs_of(&it.key);
                    openpgp_good(
                        openpgp::verify_bytes(sig, bytes, &certs, now()),
                        &it.key,
                        subject,
                        location,
                    )?
                }
                One::Ssh(sig) => {
                    let digest: Vec<u8> = match sig.hash_algo() {
                        sshsig::HashAlgo::Sha256 => sha2::Sha256::digest(bytes).to_vec(),
                        sshsig::HashAlgo::Sha512 => sha2::Sha512::digest(bytes).to_vec(),
                    };
                    ssh_good(sig, &digest, &it.key, subject, location)?
                }
                One::Sigstore(b, roots) => {
                    let sha256: [u8; 32] = sha2::Sha256::digest(bytes).into();
                    let sha512: [u8; 64] = sha2::Sha512::digest(bytes).into();
                    sigstore_good(b, roots, &sha256, Some(&sha512), &it.key, subject, location)?
                }
            };
            good.push(g);
        }
        Ok(good)
    }

    /// [`Admitted::decide`] for the signatures of a cleartext-signed message (admitted with
    /// [`admit_openpgp`] from `message.sigs`).
    pub fn decide_cleartext(
        &self,
        message: &openpgp::Cleartext,
        subject: &str,
    ) -> Result<Vec<GoodSig>> {
        let mut good = Vec::new();
        for it in &self.items {
            let One::OpenPgp(_, index) = &it.sig else {
                return Err(mismatch(subject, subject, &it.key));
            };
            let certs = certs_of(&it.key);
            good.push(openpgp_good(
                message.verify(*index, &certs, now()),
                &it.key,
                subject,
                subject,
            )?);
        }
        Ok(good)
    }
}

/// Whether an OpenPGP signature needs its own hasher (not a continued plain state).
fn own_feed(sig: &openpgp::Sig) -> bool {
    sig.plain().is_none()
}

fn certs_of(key: &TrustedKey) -> Vec<openpgp::Cert> {
    match &key.key {
        Signer::OpenPgp(c) => vec![(**c).clone()],
        _ => Vec::new(),
    }
}

fn mismatch(subject: &str, location: &str, key: &TrustedKey) -> Error {
    Error::refused_for(
        Reason::BadSignature,
        format!(
            "{subject} does not match its signature {location} ({})",
            key.key.describe()
        ),
    )
    .hint("the payload or its signature was altered, or the wrong key was given; nothing was run or saved")
}

fn sigstore_good(
    bundle: &sigstore::Bundle,
    roots: &sigstore::Roots,
    sha256: &[u8; 32],
    sha512: Option<&[u8; 64]>,
    key: &TrustedKey,
    subject: &str,
    location: &str,
) -> Result<GoodSig> {
    let Signer::Sigstore(trust) = &key.key else {
        return Err(mismatch(subject, location, key));
    };
    let good = sigstore::verify(bundle, trust, roots, sha256, sha512).map_err(|why| {
        Error::refused_for(
            Reason::BadSignature,
            format!(
                "{subject}: the Sigstore bundle {location} for {} is refused: {}",
                key.key.describe(),
                sanitize(&why)
            ),
        )
        .hint("the payload or its bundle was altered, the bundle is for another file, or it does not chain to the trusted root (--trusted-root); nothing was run or saved")
    })?;
    Ok(GoodSig {
        key: key.clone(),
        key_id: good
            .details
            .identity
            .clone()
            .unwrap_or_else(|| key.key.short_id()),
        created: good.signed_time,
        trusted_comment: good.details.identity.clone().unwrap_or_default(),
        prehashed: true,
        kind: SignerKind::Sigstore,
        algorithm: Some(good.algorithm.clone()),
        sigstore: Some(Box::new(good.details)),
    })
}

fn minisign_good(sig: &Signature, key: &TrustedKey) -> GoodSig {
    GoodSig {
        key: key.clone(),
        key_id: sig.key_id().to_string(),
        created: sig.fields().timestamp,
        trusted_comment: sig.trusted_comment().to_string(),
        prehashed: sig.is_prehashed(),
        kind: SignerKind::Minisign,
        algorithm: None,
        sigstore: None,
    }
}

fn openpgp_good(
    outcome: openpgp::Outcome,
    key: &TrustedKey,
    subject: &str,
    location: &str,
) -> Result<GoodSig> {
    match outcome {
        openpgp::Outcome::Good(g) => Ok(GoodSig {
            key: key.clone(),
            key_id: g.signing_key.to_hex(),
            created: Some(g.created),
            trusted_comment: g.user_id.unwrap_or_default(),
            prehashed: true,
            kind: SignerKind::OpenPgp,
            algorithm: Some(format!("{}, {}", g.algorithm, g.hash)),
            sigstore: None,
        }),
        openpgp::Outcome::Bad { reason, .. } => Err(Error::refused_for(
            Reason::BadSignature,
            format!(
                "{subject}: the OpenPGP signature{} by {} is refused: {}",
                if location == subject {
                    String::new()
                } else {
                    format!(" {location}")
                },
                key.key.describe(),
                sanitize(&reason)
            ),
        )
        .hint("the payload or its signature was altered, or the key was not valid when it signed; nothing was run or saved")),
        openpgp::Outcome::Unknown => Err(mismatch(subject, location, key)),
    }
}

fn ssh_good(
    sig: &sshsig::SshSig,
    digest: &[u8],
    key: &TrustedKey,
    subject: &str,
    location: &str,
) -> Result<GoodSig> {
    let Signer::Ssh(allowed) = &key.key else {
        return Err(mismatch(subject, location, key));
    };
    sig.verify(allowed, digest, now()).map_err(|why| {
        Error::refused_for(
            Reason::BadSignature,
            format!(
                "{subject}: the SSH signature {location} by {} is refused: {}",
                key.key.describe(),
                sanitize(&why)
            ),
        )
        .hint("the payload or its signature was altered, or the key is not allowed to sign this; nothing was run or saved")
    })?;
    Ok(GoodSig {
        key: key.clone(),
        key_id: allowed.key.fingerprint(),
        created: None,
        trusted_comment: allowed.key.comment().unwrap_or_default().to_string(),
        prehashed: true,
        kind: SignerKind::Ssh,
        algorithm: Some(format!(
            "{}, {}",
            allowed.key.algorithm(),
            match sig.hash_algo() {
                sshsig::HashAlgo::Sha256 => "SHA-256",
                sshsig::HashAlgo::Sha512 => "SHA-512",
            }
        )),
        sigstore: None,
    })
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
            sha256_state: None,
            sha512_state: None,
            feeds: Vec::new(),
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
