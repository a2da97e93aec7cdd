//! SSH signatures (`ssh-keygen -Y sign`, OpenSSH's PROTOCOL.sshsig): armored SSHSIG files,
//! public keys (inline `ssh-ed25519 AAAA...` lines, `.pub` files) and `allowed_signers`
//! files. Verifier only; the cryptography is ring's (already linked through rustls): the
//! signed data is a short preamble and the message's digest, so ring's "hash it yourself"
//! API costs nothing here.
//!
//! API CONTRACT (the rest of verun is written against exactly these items; keep their
//! names and meaning, add private helpers freely):
//! - every parser is strict and capped, never panics, and returns `Err(String)`: one
//!   short sentence without a trailing period (callers prefix the file);
//! - nothing prints; comments and principals are returned raw, callers sanitise them
//!   (untrusted text inside an error message is already sanitised).
//!
//! Where verun is stricter than `ssh-keygen -Y verify`: RSA keys under 2048 bits (OpenSSH
//! takes 1024) and over 8192 bits (ring's limit) are refused; a signature's version must
//! be exactly 1 (OpenSSH also takes 0); mpints with needless leading zeros, non-canonical
//! base64 and bytes after the armor's END line are errors. Where it differs: an
//! `allowed_signers` time without `Z` is read as UTC (ssh-keygen: the local time zone); see
//! `allowed.rs`.

mod allowed;
mod wire;

#[cfg(test)]
mod tests;

use crate::minisig::{decode_base64, encode_base64};
use crate::term::sanitize;
use wire::{Reader, put_string};

/// Largest SSH signature file read.
pub const MAX_SSHSIG_BYTES: u64 = 16 * 1024;
/// Largest key or `allowed_signers` file read.
pub const MAX_KEYS_BYTES: u64 = 256 * 1024;

/// The only namespace verun accepts: what `ssh-keygen -Y sign -n file` writes.
pub const NAMESPACE: &str = "file";

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";
const MAGIC: &[u8; 6] = b"SSHSIG";
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

/// The key algorithms verun verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algo {
    Ed25519,
    P256,
    P384,
    Rsa,
}

impl Algo {
    fn name(self) -> &'static str {
        match self {
            Algo::Ed25519 => "ssh-ed25519",
            Algo::P256 => "ecdsa-sha2-nistp256",
            Algo::P384 => "ecdsa-sha2-nistp384",
            Algo::Rsa => "ssh-rsa",
        }
    }

    fn from_name(name: &str) -> Option<Algo> {
        [Algo::Ed25519, Algo::P256, Algo::P384, Algo::Rsa]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// Key types OpenSSH knows that verun refuses, each with why.
fn unsupported(name: &str) -> Option<String> {
    let why = if name.ends_with("-cert-v01@openssh.com") {
        format!("SSH certificates ({name}) are not supported; trust the plain key instead")
    } else if name.starts_with("sk-") && name.ends_with("@openssh.com") {
        format!("FIDO security-key SSH keys ({name}) are not supported yet")
    } else {
        match name {
            "ssh-dss" => "DSA SSH keys (ssh-dss) are refused: DSA is obsolete".to_string(),
            "ecdsa-sha2-nistp521" => {
                "ECDSA P-521 SSH keys (ecdsa-sha2-nistp521) are not supported".to_string()
            }
            "ssh-xmss@openssh.com" => {
                "XMSS SSH keys (ssh-xmss@openssh.com) are not supported".to_string()
            }
            _ => return None,
        }
    };
    Some(why)
}

/// Whether `name` is a key type OpenSSH knows, supported by verun or not.
fn is_known_algorithm(name: &str) -> bool {
    Algo::from_name(name).is_some() || unsupported(name).is_some()
}

/// The refusal for a key type verun does not verify.
fn refuse_algorithm(name: &str) -> String {
    unsupported(name).unwrap_or_else(|| format!("unknown SSH key type \"{}\"", sanitize(name)))
}

/// The public numbers of a key.
#[derive(Clone, Debug)]
enum Public {
    Ed25519([u8; 32]),
    /// The uncompressed point (`04 || X || Y`), as ring takes it.
    Ecdsa(Vec<u8>),
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

/// An SSH public key verun can verify with: ssh-ed25519, ecdsa-sha2-nistp256,
/// ecdsa-sha2-nistp384, ssh-rsa (2048 bits or more; signatures rsa-sha2-256/512 only).
///
/// Two keys are equal when their key blobs are (the comment does not count).
#[derive(Clone, Debug)]
pub struct SshKey {
    algo: Algo,
    blob: Vec<u8>,
    public: Public,
    comment: Option<String>,
}

impl PartialEq for SshKey {
    fn eq(&self, other: &SshKey) -> bool {
        self.blob == other.blob
    }
}

impl Eq for SshKey {}

impl SshKey {
    /// Parse one public-key line: `ALGO BASE64 [COMMENT]`. The base64 blob's own algorithm
    /// name must equal ALGO; unsupported algorithms (DSA, sk-*, certificates) are errors
    /// that name them. Surrounding whitespace (a `.pub` file's final newline) is ignored;
    /// a line break inside is an error.
    pub fn parse_line(line: &str) -> Result<SshKey, String> {
        if line.len() as u64 > MAX_KEYS_BYTES {
            return Err("SSH public key line too long".to_string());
        }
        let line = line.trim_matches(is_line_space);
        if line.contains(['\n', '\r']) {
            return Err("an SSH public key is one line".to_string());
        }
        let (algo, rest) = split_token(line);
        if algo.is_empty() {
            return Err("empty SSH public key line".to_string());
        }
        let Some(known) = Algo::from_name(algo) else {
            return Err(refuse_algorithm(algo));
        };
        let (b64, comment) = split_token(rest);
        if b64.is_empty() {
            return Err(format!("{algo} key without its base64 blob"));
        }
        let blob = decode_base64(b64)
            .ok_or_else(|| format!("{algo} key: the blob is not canonical base64"))?;
        let mut key = SshKey::from_blob(&blob)?;
        if key.algo != known {
            return Err(format!(
                "key line says {algo} but its blob is a {} key",
                key.algo.name()
            ));
        }
        key.comment = (!comment.is_empty()).then(|| comment.to_string());
        Ok(key)
    }

    /// Parse a key blob (the base64-decoded middle of a `.pub` line, or the public key
    /// embedded in an SSHSIG).
    fn from_blob(blob: &[u8]) -> Result<SshKey, String> {
        let bad = |e: String| format!("malformed SSH public key: {e}");
        let mut r = Reader::new(blob);
        let name = r.utf8().map_err(bad)?;
        let Some(algo) = Algo::from_name(name) else {
            return Err(refuse_algorithm(name));
        };
        let public = match algo {
            Algo::Ed25519 => {
                let pk = r.string().map_err(bad)?;
                let pk: [u8; 32] = pk
                    .try_into()
                    .map_err(|_| bad(format!("{}-byte Ed25519 key", pk.len())))?;
                Public::Ed25519(pk)
            }
            Algo::P256 | Algo::P384 => {
                let (curve, coord) = if algo == Algo::P256 {
                    ("nistp256", 32)
                } else {
                    ("nistp384", 48)
                };
                if r.string().map_err(bad)? != curve.as_bytes() {
                    return Err(bad(format!("{name} key on another curve than {curve}")));
                }
                let q = r.string().map_err(bad)?;
                if q.len() != 1 + 2 * coord || q[0] != 4 {
                    return Err(bad(format!("not an uncompressed {curve} point")));
                }
                Public::Ecdsa(q.to_vec())
            }
            Algo::Rsa => {
                let e = r.mpint().map_err(bad)?;
                let n = r.mpint().map_err(bad)?;
                let bits = bit_length(n);
                if bits < MIN_RSA_BITS {
                    return Err(format!(
                        "{bits}-bit RSA SSH keys are refused (2048 bits or more)"
                    ));
                }
                if bits > MAX_RSA_BITS {
                    return Err(format!(
                        "{bits}-bit RSA SSH keys are not supported (8192 bits at most)"
                    ));
                }
                // ring's limits: odd, 3 <= e < 2^33.
                let e_ok = !e.is_empty()
                    && e.len() <= 5
                    && e[e.len() - 1] & 1 == 1
                    && (e.len() > 1 || e[0] >= 3)
                    && (e.len() < 5 || e[0] == 1);
                if !e_ok {
                    return Err("RSA SSH key with an unsupported public exponent".to_string());
                }
                Public::Rsa {
                    n: n.to_vec(),
                    e: e.to_vec(),
                }
            }
        };
        r.end().map_err(bad)?;
        Ok(SshKey {
            algo,
            blob: blob.to_vec(),
            public,
            comment: None,
        })
    }

    /// `SHA256:` and the unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l`
    /// prints it: the signer's name is `ssh:` followed by this.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.blob);
        let b64 = encode_base64(digest.as_ref());
        format!("SHA256:{}", b64.trim_end_matches('='))
    }

    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub fn algorithm(&self) -> &str {
        self.algo.name()
    }

    /// The comment of the line it was parsed from (raw), if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// `ALGO BASE64` (no comment): what the key store keeps; `parse_line` gives it back.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.algo.name(), encode_base64(&self.blob))
    }
}

/// Significant bits of a big-endian magnitude.
fn bit_length(n: &[u8]) -> usize {
    match n.iter().position(|&b| b != 0) {
        None => 0,
        Some(i) => (n.len() - i) * 8 - n[i].leading_zeros() as usize,
    }
}

/// Space and tab: what separates the fields of a key line.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// What may surround a key line: space, tab, and the line's own end (`\n`, `\r\n`).
fn is_line_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The first space-separated token and the rest, trimmed.
fn split_token(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(is_space);
    match s.find(is_space) {
        Some(i) => (&s[..i], s[i..].trim_matches(is_space)),
        None => (s, ""),
    }
}

fn is_base64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='
}

/// Whether `value` is one inline public-key line of a supported or known SSH algorithm
/// (`ssh-ed25519 AAAA...`, optionally a comment): such a `--key` value is never a path.
pub fn is_inline_key(value: &str) -> bool {
    let line = value.trim_matches(is_line_space);
    if line.contains(['\n', '\r']) {
        return false;
    }
    let (algo, rest) = split_token(line);
    let (b64, _) = split_token(rest);
    is_known_algorithm(algo) && !b64.is_empty() && b64.chars().all(is_base64_char)
}

/// A trusted key with what an `allowed_signers` line says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The key.
    pub key: SshKey,
    /// The principals (`allowed_signers`' first field); empty for a plain key line.
    pub principals: Vec<String>,
    /// `namespaces="..."`: the signature's namespace must match one of these (OpenSSH
    /// patterns: `*` and `?` wildcards; one starting with `!` that matches refuses);
    /// `None`: any.
    pub namespaces: Option<Vec<String>>,
    /// `valid-after=`, Unix seconds.
    pub valid_after: Option<u64>,
    /// `valid-before=`, Unix seconds.
    pub valid_before: Option<u64>,
}

impl Allowed {
    /// A plain key, trusted for any namespace at any time.
    pub fn key(key: SshKey) -> Allowed {
        Allowed {
            key,
            principals: Vec::new(),
            namespaces: None,
            valid_after: None,
            valid_before: None,
        }
    }
}

/// The keys of a key file: one or more public-key lines (a `.pub` file,
/// `authorized_keys`-style lines without options) or `allowed_signers` lines
/// (`PRINCIPALS [OPTIONS] ALGO BASE64 [COMMENT]`, with `namespaces=`, `valid-after=`,
/// `valid-before=`; `cert-authority` is refused, unknown options are errors). Blank lines
/// and `#` comments skipped; at least one key.
///
/// Option values are quoted, as ssh-keygen requires (`namespaces="file"`,
/// `valid-before="20301231Z"`). Times are `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`,
/// optionally suffixed `Z` (or `UTC`); verun reads every time as UTC, with or without the
/// suffix (ssh-keygen reads one without it in the local time zone).
pub fn parse_keys(text: &str) -> Result<Vec<Allowed>, String> {
    allowed::parse_keys(text)
}

/// Whether `bytes` look like an SSH signature (`-----BEGIN SSH SIGNATURE-----`).
pub fn is_signature(bytes: &[u8]) -> bool {
    bytes.starts_with(BEGIN.as_bytes())
}

/// The message hash an SSH signature signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgo {
    /// `sha256`.
    Sha256,
    /// `sha512`.
    Sha512,
}

impl HashAlgo {
    fn name(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        }
    }
}

/// The signature proper, in the form ring verifies.
#[derive(Clone, Debug)]
enum SigBytes {
    Ed25519([u8; 64]),
    /// `r || s`, each left-padded to the curve's size.
    Ecdsa(Vec<u8>),
    /// PKCS#1 v1.5 with SHA-512 (`rsa-sha2-512`) or SHA-256, left-padded to the modulus.
    Rsa {
        sha512: bool,
        sig: Vec<u8>,
    },
}

/// A parsed SSHSIG.
#[derive(Clone, Debug)]
pub struct SshSig {
    key: SshKey,
    namespace: String,
    reserved: Vec<u8>,
    hash: HashAlgo,
    sig: SigBytes,
}

impl SshSig {
    /// Parse an armored SSHSIG (version 1). Strict: magic, version, every length, no
    /// trailing bytes, known hash (`sha256`, `sha512`), a signature algorithm that fits the
    /// key (rsa-sha2-256/512 for RSA keys; `ssh-rsa`, i.e. SHA-1, is refused).
    pub fn parse(bytes: &[u8]) -> Result<SshSig, String> {
        let blob = dearmor(bytes)?;
        let bad = |e: String| format!("malformed SSH signature: {e}");
        let mut r = Reader::new(&blob);
        if r.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
            return Err("not an SSH signature: the SSHSIG magic is missing".to_string());
        }
        let version = r.u32().map_err(bad)?;
        if version != 1 {
            return Err(format!(
                "SSH signature version {version} is not supported (only 1)"
            ));
        }
        let key = SshKey::from_blob(r.string().map_err(bad)?)?;
        let namespace = r
            .utf8()
            .map_err(|_| bad("the namespace is not UTF-8".to_string()))?
            .to_string();
        let reserved = r.string().map_err(bad)?.to_vec();
        let hash = match r.string().map_err(bad)? {
            b"sha256" => HashAlgo::Sha256,
            b"sha512" => HashAlgo::Sha512,
            other => {
                return Err(format!(
                    "SSH signature over an unsupported hash \"{}\" (sha256 or sha512 only)",
                    crate::term::sanitize_bytes(other)
                ));
            }
        };
        let sig = parse_signature(&key, r.string().map_err(bad)?)?;
        r.end().map_err(bad)?;
        Ok(SshSig {
            key,
            namespace,
            reserved,
            hash,
            sig,
        })
    }

    /// The public key embedded in the signature (which key claims to have signed).
    pub fn key(&self) -> &SshKey {
        &self.key
    }

    /// The namespace signed (raw).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The message hash it signs.
    pub fn hash_algo(&self) -> HashAlgo {
        self.hash
    }

    /// Whether it verifies under `allowed` for a message whose digest (by
    /// [`SshSig::hash_algo`]) is `digest`, at time `now` (Unix seconds): the embedded key
    /// equals `allowed.key`, the namespace is [`NAMESPACE`] and allowed by
    /// `allowed.namespaces`, `now` is within `valid-after`/`valid-before`, and the
    /// signature over the SSHSIG signed data verifies. `Err` says which failed, in one
    /// sentence.
    pub fn verify(&self, allowed: &Allowed, digest: &[u8], now: u64) -> Result<(), String> {
        if digest.len() != self.hash.digest_len() {
            return Err(format!(
                "a {}-byte digest cannot be a {} digest",
                digest.len(),
                self.hash.name()
            ));
        }
        if self.key != allowed.key {
            return Err(format!(
                "the SSH signature was made by key {}, not {}",
                self.key.fingerprint(),
                allowed.key.fingerprint()
            ));
        }
        if self.namespace != NAMESPACE {
            return Err(format!(
                "the SSH signature is for namespace \"{}\", not \"{NAMESPACE}\"",
                sanitize(&self.namespace)
            ));
        }
        if let Some(patterns) = &allowed.namespaces
            && !allowed::pattern_list_matches(NAMESPACE, patterns)
        {
            return Err(format!(
                "the allowed_signers line does not allow this key for namespace \"{NAMESPACE}\" (namespaces=\"{}\")",
                sanitize(&patterns.join(","))
            ));
        }
        if let Some(after) = allowed.valid_after
            && now < after
        {
            return Err(format!(
                "the SSH key is not valid before {} (valid-after)",
                crate::time::rfc3339_utc(after)
            ));
        }
        if let Some(before) = allowed.valid_before
            && now > before
        {
            return Err(format!(
                "the SSH key is not valid after {} (valid-before)",
                crate::time::rfc3339_utc(before)
            ));
        }
        let data = self.signed_data(digest);
        let ok = match (&self.key.public, &self.sig) {
            (Public::Ed25519(pk), SigBytes::Ed25519(sig)) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pk)
                    .verify(&data, sig)
                    .is_ok()
            }
            (Public::Ecdsa(q), SigBytes::Ecdsa(sig)) => {
                let alg = if self.key.algo == Algo::P256 {
                    &ring::signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &ring::signature::ECDSA_P384_SHA384_FIXED
                };
                ring::signature::UnparsedPublicKey::new(alg, q)
                    .verify(&data, sig)
                    .is_ok()
            }
            (Public::Rsa { n, e }, SigBytes::Rsa { sha512, sig }) => {
                let alg = if *sha512 {
                    &ring::signature::RSA_PKCS1_2048_8192_SHA512
                } else {
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256
                };
                ring::signature::RsaPublicKeyComponents { n, e }
                    .verify(alg, &data, sig)
                    .is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "the SSH signature by {} does not verify",
                self.key.fingerprint()
            ))
        }
    }

    /// What the signer signed: `"SSHSIG" || string(namespace) || string(reserved) ||
    /// string(hash_algorithm) || string(H(message))`.
    fn signed_data(&self, digest: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.namespace.len() + self.reserved.len());
        out.extend_from_slice(MAGIC);
        put_string(&mut out, self.namespace.as_bytes());
        put_string(&mut out, &self.reserved);
        put_string(&mut out, self.hash.name().as_bytes());
        put_string(&mut out, digest);
        out
    }
}

/// The SSHSIG `signature` field: `string(sigtype) || ...`, checked against the key.
fn parse_signature(key: &SshKey, blob: &[u8]) -> Result<SigBytes, String> {
    let bad = |e: String| format!("malformed SSH signature: {e}");
    let mut r = Reader::new(blob);
    let sigtype = r
        .utf8()
        .map_err(|_| bad("the signature type is not UTF-8".to_string()))?;
    let mismatch = || {
        format!(
            "SSH signature of type \"{}\" made with a {} key",
            sanitize(sigtype),
            key.algo.name()
        )
    };
    let sig = match &key.public {
        Public::Ed25519(_) => {
            if sigtype != "ssh-ed25519" {
                return Err(mismatch());
            }
            let s = r.string().map_err(bad)?;
            let s: [u8; 64] = s
                .try_into()
                .map_err(|_| bad(format!("{}-byte Ed25519 signature", s.len())))?;
            SigBytes::Ed25519(s)
        }
        Public::Ecdsa(_) => {
            if sigtype != key.algo.name() {
                return Err(mismatch());
            }
            let size = if key.algo == Algo::P256 { 32 } else { 48 };
            let mut inner = Reader::new(r.string().map_err(bad)?);
            let mut fixed = vec![0u8; 2 * size];
            for half in 0..2 {
                let v = inner.mpint().map_err(bad)?;
                if v.len() > size {
                    return Err(bad("ECDSA signature value too large".to_string()));
                }
                let end = (half + 1) * size;
                fixed[end - v.len()..end].copy_from_slice(v);
            }
            inner.end().map_err(bad)?;
            SigBytes::Ecdsa(fixed)
        }
        Public::Rsa { n, .. } => {
            let sha512 = match sigtype {
                "rsa-sha2-512" => true,
                "rsa-sha2-256" => false,
                "ssh-rsa" => {
                    return Err(
                        "RSA SSH signature with SHA-1 (ssh-rsa) is refused: sign with rsa-sha2-512"
                            .to_string(),
                    );
                }
                _ => return Err(mismatch()),
            };
            let s = r.string().map_err(bad)?;
            // As OpenSSH: a shorter signature is left-padded to the modulus' size.
            if s.len() > n.len() {
                return Err(bad("RSA signature longer than the modulus".to_string()));
            }
            let mut sig = vec![0u8; n.len() - s.len()];
            sig.extend_from_slice(s);
            SigBytes::Rsa { sha512, sig }
        }
    };
    r.end().map_err(bad)?;
    Ok(sig)
}

/// The binary SSHSIG inside the armor: a BEGIN line, base64 lines, an END line, nothing
/// after it but blank lines.
fn dearmor(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.len() as u64 > MAX_SSHSIG_BYTES {
        return Err(format!(
            "SSH signature larger than {} KiB",
            MAX_SSHSIG_BYTES / 1024
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "SSH signature is not text".to_string())?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some(BEGIN) {
        return Err(format!("not an SSH signature: no {BEGIN} line"));
    }
    let mut b64 = String::with_capacity(text.len());
    let mut ended = false;
    for line in lines.by_ref() {
        if line == END {
            ended = true;
            break;
        }
        if line.is_empty() || !line.chars().all(is_base64_char) {
            return Err("SSH signature armor holds a line that is not base64".to_string());
        }
        b64.push_str(line);
    }
    if !ended {
        return Err(format!("SSH signature without its {END} line"));
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err("SSH signature with text after its END line".to_string());
    }
    decode_base64(&b64).ok_or_else(|| "SSH signature is not canonical base64".to_string())
}
