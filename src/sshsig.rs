//! SSH signatures (`ssh-keygen -Y sign`, OpenSSH's PROTOCOL.sshsig): armored SSHSIG files,
//! public keys (inline `ssh-ed25519 AAAA...` lines, `.pub` files) and `allowed_signers`
//! files. Verifier only; the cryptography is ring's (already linked through rustls).
//!
//! API CONTRACT (the rest of verun is written against exactly these items; keep their
//! names and meaning, add private helpers freely):
//! - every parser is strict and capped, never panics, and returns `Err(String)`: one
//!   short sentence without a trailing period (callers prefix the file);
//! - nothing prints; comments and principals are returned raw, callers sanitise them.

/// Largest SSH signature file read.
pub const MAX_SSHSIG_BYTES: u64 = 16 * 1024;
/// Largest key or `allowed_signers` file read.
pub const MAX_KEYS_BYTES: u64 = 256 * 1024;

/// The only namespace verun accepts: what `ssh-keygen -Y sign -n file` writes.
pub const NAMESPACE: &str = "file";

/// An SSH public key verun can verify with: ssh-ed25519, ecdsa-sha2-nistp256,
/// ecdsa-sha2-nistp384, ssh-rsa (2048 bits or more; signatures rsa-sha2-256/512 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshKey {}

impl SshKey {
    /// Parse one public-key line: `ALGO BASE64 [COMMENT]`. The base64 blob's own algorithm
    /// name must equal ALGO; unsupported algorithms (DSA, sk-*, certificates) are errors
    /// that name them.
    pub fn parse_line(line: &str) -> Result<SshKey, String> {
        let _ = line;
        unimplemented!("sshsig skeleton")
    }

    /// `SHA256:` and the unpadded base64 of the SHA-256 of the key blob, as `ssh-keygen -l`
    /// prints it: the signer's name is `ssh:` followed by this.
    pub fn fingerprint(&self) -> String {
        unimplemented!("sshsig skeleton")
    }

    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub fn algorithm(&self) -> &str {
        unimplemented!("sshsig skeleton")
    }

    /// The comment of the line it was parsed from (raw), if any.
    pub fn comment(&self) -> Option<&str> {
        unimplemented!("sshsig skeleton")
    }

    /// `ALGO BASE64` (no comment): what the key store keeps; `parse_line` gives it back.
    pub fn to_line(&self) -> String {
        unimplemented!("sshsig skeleton")
    }
}

/// Whether `value` is one inline public-key line of a supported or known SSH algorithm
/// (`ssh-ed25519 AAAA...`, optionally a comment): such a `--key` value is never a path.
pub fn is_inline_key(value: &str) -> bool {
    value.starts_with("ssh-ed25519 ")
}

/// A trusted key with what an `allowed_signers` line says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The key.
    pub key: SshKey,
    /// The principals (`allowed_signers`' first field); empty for a plain key line.
    pub principals: Vec<String>,
    /// `namespaces="..."`: the signature's namespace must be one of these; `None`: any.
    pub namespaces: Option<Vec<String>>,
    /// `valid-after=`, Unix seconds.
    pub valid_after: Option<u64>,
    /// `valid-before=`, Unix seconds.
    pub valid_before: Option<u64>,
}

/// The keys of a key file: one or more public-key lines (a `.pub` file,
/// `authorized_keys`-style lines without options) or `allowed_signers` lines
/// (`PRINCIPALS [OPTIONS] ALGO BASE64 [COMMENT]`, with `namespaces=`, `valid-after=`,
/// `valid-before=`; `cert-authority` is refused, unknown options are errors). Blank lines
/// and `#` comments skipped; at least one key.
pub fn parse_keys(text: &str) -> Result<Vec<Allowed>, String> {
    let _ = text;
    unimplemented!("sshsig skeleton")
}

/// Whether `bytes` look like an SSH signature (`-----BEGIN SSH SIGNATURE-----`).
pub fn is_signature(bytes: &[u8]) -> bool {
    bytes.starts_with(b"-----BEGIN SSH SIGNATURE-----")
}

/// The message hash an SSH signature signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgo {
    /// `sha256`.
    Sha256,
    /// `sha512`.
    Sha512,
}

/// A parsed SSHSIG.
#[derive(Clone, Debug)]
pub struct SshSig {}

impl SshSig {
    /// Parse an armored SSHSIG (version 1). Strict: magic, version, every length, no
    /// trailing bytes, known hash (`sha256`, `sha512`), a signature algorithm that fits the
    /// key (rsa-sha2-256/512 for RSA keys; `ssh-rsa`, i.e. SHA-1, is refused).
    pub fn parse(bytes: &[u8]) -> Result<SshSig, String> {
        let _ = bytes;
        unimplemented!("sshsig skeleton")
    }

    /// The public key embedded in the signature (which key claims to have signed).
    pub fn key(&self) -> &SshKey {
        unimplemented!("sshsig skeleton")
    }

    /// The namespace signed (raw).
    pub fn namespace(&self) -> &str {
        unimplemented!("sshsig skeleton")
    }

    /// The message hash it signs.
    pub fn hash_algo(&self) -> HashAlgo {
        unimplemented!("sshsig skeleton")
    }

    /// Whether it verifies under `allowed` for a message whose digest (by
    /// [`SshSig::hash_algo`]) is `digest`, at time `now` (Unix seconds): the embedded key
    /// equals `allowed.key`, the namespace is [`NAMESPACE`] and allowed by
    /// `allowed.namespaces`, `now` is within `valid-after`/`valid-before`, and the
    /// signature over the SSHSIG signed data verifies. `Err` says which failed, in one
    /// sentence.
    pub fn verify(&self, allowed: &Allowed, digest: &[u8], now: u64) -> Result<(), String> {
        let _ = (allowed, digest, now);
        unimplemented!("sshsig skeleton")
    }
}
