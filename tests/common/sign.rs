//! An independent minisign signer for test fixtures, and a wrapper around the real CLI.
//!
//! Most tests need a key and signatures made on the spot, in every shape verun must accept
//! or refuse: prehashed and legacy, any trusted comment (wrong `file:`, old `timestamp:`),
//! tampered comments, foreign key ids. Writing them here in ~200 lines keeps those tests
//! independent of the `minisign` binary (and of the verifier crate verun itself uses, so a
//! shared misreading of the format cannot hide). The format follows minisign 0.11:
//!
//! - public key: `base64("Ed" || key_id[8] || ed25519_pk[32])`, with the comment
//!   `minisign public key <KEY ID>` where the id is printed as a little-endian u64 in
//!   upper-case hex;
//! - signature: `base64(alg[2] || key_id[8] || sig[64])`, `alg` = `ED` (signs
//!   BLAKE2b-512 of the data) or legacy `Ed` (signs the data), then the trusted comment and
//!   `base64(Ed25519(sig || trusted_comment))`.
//!
//! `common_selftest.rs` checks this against `minisign -V` whenever the CLI is installed.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blake2::{Blake2b512, Digest as _};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};

/// The untrusted comment minisign 0.11 puts on signatures.
pub const DEFAULT_UNTRUSTED_COMMENT: &str = "signature from minisign secret key";

/// A minisign key pair generated for the test run.
#[derive(Clone)]
pub struct TestKey {
    signing: SigningKey,
    key_id: [u8; 8],
}

/// How to sign: see [`TestKey::sign_with`].
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// Legacy `Ed` signature over the raw data instead of prehashed `ED`.
    pub legacy: bool,
    /// The trusted comment, signed by the global signature. One line.
    pub trusted_comment: String,
    /// The text after `untrusted comment: `.
    pub untrusted_comment: String,
}

impl SignOptions {
    /// Prehashed, with this trusted comment.
    pub fn prehashed(trusted_comment: impl Into<String>) -> SignOptions {
        SignOptions {
            legacy: false,
            trusted_comment: trusted_comment.into(),
            untrusted_comment: DEFAULT_UNTRUSTED_COMMENT.to_string(),
        }
    }

    /// Legacy, with this trusted comment.
    pub fn legacy(trusted_comment: impl Into<String>) -> SignOptions {
        SignOptions {
            legacy: true,
            ..SignOptions::prehashed(trusted_comment)
        }
    }
}

impl TestKey {
    /// A fresh Ed25519 key with a random 8-byte key id.
    pub fn generate() -> TestKey {
        let mut key_id = [0u8; 8];
        getrandom::getrandom(&mut key_id).expect("random key id");
        TestKey::with_key_id(key_id)
    }

    /// A fresh Ed25519 key carrying the given key id (e.g. another key's id, to test that
    /// a matching id with a different key is refused).
    pub fn with_key_id(key_id: [u8; 8]) -> TestKey {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).expect("random seed");
        TestKey {
            signing: SigningKey::from_bytes(&seed),
            key_id,
        }
    }

    /// The key id as stored in keys and signatures.
    pub fn key_id(&self) -> [u8; 8] {
        self.key_id
    }

    /// The key id as minisign prints it (`untrusted comment: minisign public key <THIS>`).
    pub fn key_id_hex(&self) -> String {
        key_id_hex(self.key_id)
    }

    /// The raw Ed25519 public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as `minisign -P` takes it and verun's `--key` / `--pubkey`: `RW...`.
    pub fn public_key_base64(&self) -> String {
        let mut bytes = b"Ed".to_vec();
        bytes.extend_from_slice(&self.key_id);
        bytes.extend_from_slice(&self.public_key_bytes());
        B64.encode(bytes)
    }

    /// The public key file exactly as `minisign -G` writes it (two lines).
    pub fn public_key_file(&self) -> String {
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.key_id_hex(),
            self.public_key_base64()
        )
    }

    /// Writes [`public_key_file`](Self::public_key_file) to `path` and returns `path`.
    pub fn write_public_key(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        fs::write(path, self.public_key_file())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }

    /// A prehashed signature with minisign's default trusted comment
    /// `timestamp:<now>\tfile:<file_name>\thashed`.
    pub fn sign(&self, data: &[u8], file_name: &str) -> String {
        self.sign_with(
            data,
            &SignOptions::prehashed(default_trusted_comment(file_name, false)),
        )
    }

    /// A prehashed signature with this trusted comment.
    pub fn sign_tc(&self, data: &[u8], trusted_comment: &str) -> String {
        self.sign_with(data, &SignOptions::prehashed(trusted_comment))
    }

    /// A legacy (`Ed`) signature with minisign's default legacy trusted comment
    /// `timestamp:<now>\tfile:<file_name>`.
    pub fn sign_legacy(&self, data: &[u8], file_name: &str) -> String {
        self.sign_with(
            data,
            &SignOptions::legacy(default_trusted_comment(file_name, true)),
        )
    }

    /// The four-line `.minisig` text for `data`.
    pub fn sign_with(&self, data: &[u8], options: &SignOptions) -> String {
        assert!(
            !options.trusted_comment.contains(['\n', '\r']),
            "a trusted comment is one line"
        );
        let (algorithm, message) = if options.legacy {
            (*b"Ed", data.to_vec())
        } else {
            (*b"ED", Blake2b512::digest(data).to_vec())
        };
        let signature = self.signing.sign(&message).to_bytes();
        let mut signed_comment = signature.to_vec();
        signed_comment.extend_from_slice(options.trusted_comment.as_bytes());
        let global = self.signing.sign(&signed_comment).to_bytes();

        let mut line = algorithm.to_vec();
        line.extend_from_slice(&self.key_id);
        line.extend_from_slice(&signature);
        format!(
            "untrusted comment: {}\n{}\ntrusted comment: {}\n{}\n",
            options.untrusted_comment,
            B64.encode(line),
            options.trusted_comment,
            B64.encode(global)
        )
    }
}

/// The current Unix time in seconds.
pub fn now_timestamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// minisign 0.11's trusted comment at time `timestamp`:
/// `timestamp:T\tfile:NAME\thashed`, or without `\thashed` for legacy signatures.
pub fn trusted_comment_at(timestamp: u64, file_name: &str, legacy: bool) -> String {
    let hashed = if legacy { "" } else { "\thashed" };
    format!("timestamp:{timestamp}\tfile:{file_name}{hashed}")
}

/// [`trusted_comment_at`] now.
pub fn default_trusted_comment(file_name: &str, legacy: bool) -> String {
    trusted_comment_at(now_timestamp(), file_name, legacy)
}

/// A key id as minisign prints it: little-endian u64, upper-case hex, 16 digits.
pub fn key_id_hex(key_id: [u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(key_id))
}

/// A parsed `.minisig` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedSignature {
    pub untrusted_comment: String,
    /// `*b"ED"` (prehashed) or `*b"Ed"` (legacy).
    pub algorithm: [u8; 2],
    pub key_id: [u8; 8],
    pub signature: [u8; 64],
    pub trusted_comment: String,
    pub global_signature: [u8; 64],
}

/// Parses the four-line signature format (a trailing newline is optional).
pub fn parse_signature(text: &str) -> Result<ParsedSignature, String> {
    let mut lines = text.lines();
    let mut next = |what: &str| lines.next().ok_or(format!("missing {what} line"));
    let untrusted = next("untrusted comment")?;
    let sig_line = next("signature")?;
    let trusted = next("trusted comment")?;
    let global_line = next("global signature")?;
    let untrusted_comment = untrusted
        .strip_prefix("untrusted comment: ")
        .ok_or("first line is not an untrusted comment")?
        .to_string();
    let trusted_comment = trusted
        .strip_prefix("trusted comment: ")
        .ok_or("third line is not a trusted comment")?
        .to_string();
    let sig = B64
        .decode(sig_line.trim())
        .map_err(|e| format!("signature base64: {e}"))?;
    if sig.len() != 74 {
        return Err(format!("signature is {} bytes, not 74", sig.len()));
    }
    let global = B64
        .decode(global_line.trim())
        .map_err(|e| format!("global signature base64: {e}"))?;
    let global_signature: [u8; 64] = global
        .try_into()
        .map_err(|g: Vec<u8>| format!("global signature is {} bytes, not 64", g.len()))?;
    Ok(ParsedSignature {
        untrusted_comment,
        algorithm: [sig[0], sig[1]],
        key_id: sig[2..10].try_into().expect("8 bytes"),
        signature: sig[10..74].try_into().expect("64 bytes"),
        trusted_comment,
        global_signature,
    })
}

/// Parses a public key: a `.pub` file's text (the first line that is not a comment) or a
/// bare `RW...` string. Returns the key id and the Ed25519 key.
pub fn parse_public_key(text: &str) -> Result<([u8; 8], [u8; 32]), String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
        .ok_or("no key line")?;
    let bytes = B64
        .decode(line)
        .map_err(|e| format!("public key base64: {e}"))?;
    if bytes.len() != 42 || &bytes[..2] != b"Ed" {
        return Err(format!(
            "not a minisign public key ({} bytes, prefix {:?})",
            bytes.len(),
            bytes.get(..2)
        ));
    }
    Ok((
        bytes[2..10].try_into().expect("8 bytes"),
        bytes[10..42].try_into().expect("32 bytes"),
    ))
}

/// Verifies `signature` (text) over `data` under `public_key` (file text or `RW...`),
/// both the data signature and the global signature over the trusted comment. Returns the
/// parsed signature. Accepts legacy signatures; the caller checks `algorithm` if it cares.
pub fn verify(public_key: &str, data: &[u8], signature: &str) -> Result<ParsedSignature, String> {
    let (key_id, pk) = parse_public_key(public_key)?;
    let parsed = parse_signature(signature)?;
    if parsed.key_id != key_id {
        return Err(format!(
            "key id {} does not match signature key id {}",
            key_id_hex(key_id),
            key_id_hex(parsed.key_id)
        ));
    }
    let key = VerifyingKey::from_bytes(&pk).map_err(|e| format!("public key: {e}"))?;
    let message = match &parsed.algorithm {
        b"ED" => Blake2b512::digest(data).to_vec(),
        b"Ed" => data.to_vec(),
        other => return Err(format!("unknown algorithm {other:?}")),
    };
    key.verify(
        &message,
        &ed25519_dalek::Signature::from_bytes(&parsed.signature),
    )
    .map_err(|_| "signature does not verify".to_string())?;
    let mut signed_comment = parsed.signature.to_vec();
    signed_comment.extend_from_slice(parsed.trusted_comment.as_bytes());
    key.verify(
        &signed_comment,
        &ed25519_dalek::Signature::from_bytes(&parsed.global_signature),
    )
    .map_err(|_| "global signature (trusted comment) does not verify".to_string())?;
    Ok(parsed)
}

/// `signature` with its trusted comment replaced and the global signature left as it was:
/// the tampering a verifier must detect.
pub fn replace_trusted_comment(signature: &str, trusted_comment: &str) -> String {
    signature
        .lines()
        .map(|line| match line.starts_with("trusted comment: ") {
            true => format!("trusted comment: {trusted_comment}\n"),
            false => format!("{line}\n"),
        })
        .collect()
}

/// `signature` with one bit of the Ed25519 signature over the data flipped (the key id and
/// everything else intact).
pub fn corrupt_signature(signature: &str) -> String {
    let mut lines: Vec<String> = signature.lines().map(str::to_string).collect();
    let mut sig = B64.decode(lines[1].trim()).expect("signature base64");
    sig[40] ^= 0x01;
    lines[1] = B64.encode(sig);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

// --- the real minisign CLI -----------------------------------------------------------

/// The `minisign` executable: `$MINISIGN` if set, else the first `minisign` on `PATH`, else
/// `/usr/bin/minisign` or `/usr/local/bin/minisign`; `None` when there is none.
pub fn minisign_cli() -> Option<PathBuf> {
    if let Some(path) = env::var_os("MINISIGN") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let on_path: Vec<PathBuf> = env::var_os("PATH")
        .map(|p| env::split_paths(&p).map(|d| d.join("minisign")).collect())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/bin/minisign", "/usr/local/bin/minisign"].map(PathBuf::from))
        .find(|p| p.is_file())
}

/// [`minisign_cli`]; when it is absent, `test` is [`skipped`](super::skip::skipped)
/// visibly, or fails in CI (`CI=true`) or under `VERUN_REQUIRE_MINISIGN=1`. Use as
/// `let Some(minisign) = minisign_or_skip("name") else { return };`.
#[track_caller]
pub fn minisign_or_skip(test: &str) -> Option<PathBuf> {
    let found = minisign_cli();
    if found.is_none() {
        super::skip::skipped(
            test,
            "the minisign CLI is not installed (apt-get install minisign, or set MINISIGN=/path)",
            "VERUN_REQUIRE_MINISIGN",
            super::skip::Need::Oracle,
        );
    }
    found
}

/// A key pair made by `minisign -G -W` (secret key not password-protected).
#[derive(Clone, Debug)]
pub struct CliKeyPair {
    pub public_key_path: PathBuf,
    pub secret_key_path: PathBuf,
}

impl CliKeyPair {
    /// The `.pub` file's text.
    pub fn public_key_file(&self) -> String {
        fs::read_to_string(&self.public_key_path).expect("read minisign public key")
    }

    /// The `RW...` line.
    pub fn public_key_base64(&self) -> String {
        self.public_key_file()
            .lines()
            .nth(1)
            .expect("public key line")
            .trim()
            .to_string()
    }

    /// The key id, parsed from the key itself.
    pub fn key_id(&self) -> [u8; 8] {
        parse_public_key(&self.public_key_file())
            .expect("parse minisign public key")
            .0
    }
}

fn run_cli(minisign: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let output = Command::new(minisign)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", minisign.display()));
    assert!(
        output.status.success(),
        "minisign {:?} failed ({}):\nstdout: {}\nstderr: {}",
        args,
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `minisign -G -W -p DIR/NAME.pub -s DIR/NAME.key`; `None` without the CLI.
pub fn cli_keygen(dir: &Path, name: &str) -> Option<CliKeyPair> {
    let minisign = minisign_cli()?;
    let keys = CliKeyPair {
        public_key_path: dir.join(format!("{name}.pub")),
        secret_key_path: dir.join(format!("{name}.key")),
    };
    run_cli(
        &minisign,
        &[
            "-G".as_ref(),
            "-W".as_ref(),
            "-p".as_ref(),
            keys.public_key_path.as_os_str(),
            "-s".as_ref(),
            keys.secret_key_path.as_os_str(),
        ],
    );
    Some(keys)
}

/// `minisign -S -s KEY -m FILE [-l] [-t COMMENT] -x FILE.minisig`; returns the signature
/// path, or `None` without the CLI.
pub fn cli_sign(
    keys: &CliKeyPair,
    file: &Path,
    legacy: bool,
    trusted_comment: Option<&str>,
) -> Option<PathBuf> {
    let minisign = minisign_cli()?;
    let mut sig_path = file.as_os_str().to_owned();
    sig_path.push(".minisig");
    let sig_path = PathBuf::from(sig_path);
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "-S".as_ref(),
        "-s".as_ref(),
        keys.secret_key_path.as_os_str(),
        "-m".as_ref(),
        file.as_os_str(),
        "-x".as_ref(),
        sig_path.as_os_str(),
    ];
    if legacy {
        args.push("-l".as_ref());
    }
    if let Some(comment) = trusted_comment {
        args.push("-t".as_ref());
        args.push(comment.as_ref());
    }
    run_cli(&minisign, &args);
    Some(sig_path)
}

/// `minisign -V [-H] -p PUB -m FILE -x SIG`: `Some(true)` when it verifies, `None` without
/// the CLI. `require_prehashed` adds `-H`.
pub fn cli_verify(
    public_key: &Path,
    file: &Path,
    signature: &Path,
    require_prehashed: bool,
) -> Option<bool> {
    let minisign = minisign_cli()?;
    let mut cmd = Command::new(minisign);
    cmd.arg("-V");
    if require_prehashed {
        cmd.arg("-H");
    }
    let output = cmd
        .arg("-p")
        .arg(public_key)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(signature)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign -V");
    if !output.status.success() {
        eprintln!(
            "minisign -V: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Some(output.status.success())
}
