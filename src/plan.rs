//! Turning parsed flags into a validated, typed plan. Pure: no network, no disk writes.
//!
//! Every usage error (64) is found here, before anything is fetched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checksums::{parse_hex32, parse_hex64};
use crate::error::{Error, Result};
use crate::fetch::NetConfig;
use crate::location::{HttpUrl, Location};
use crate::minisig::{MAX_PUBKEY_BYTES, PublicKey};
use crate::openpgp::{self, Fingerprint};
use crate::scheme::Signer;
use crate::sshsig;

/// The verification options as plain data: what `run`, `fetch` and `verify` were asked to
/// check. The CLI fills it from its flags; [`Plan::new`] validates it.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--key` values (inline keys, paths, or `https://` URLs of OpenPGP certificates).
    pub keys: Vec<String>,
    /// `--fingerprint HEX` values.
    pub fingerprints: Vec<String>,
    /// `--sig LOC`.
    pub sig: Option<String>,
    /// `--bundle LOC`.
    pub bundle: Option<String>,
    /// `--cert-identity ID`.
    pub cert_identity: Option<String>,
    /// `--cert-identity-regexp RE`.
    pub cert_identity_regexp: Option<String>,
    /// `--cert-oidc-issuer URL`.
    pub cert_oidc_issuer: Option<String>,
    /// `--github-repo OWNER/NAME`.
    pub github_repo: Option<String>,
    /// `--trusted-root FILE`.
    pub trusted_root: Option<PathBuf>,
    /// `--sha256 HEX`.
    pub sha256: Option<String>,
    /// `--sha512 HEX`.
    pub sha512: Option<String>,
    /// `--checksums LOC`.
    pub checksums: Option<String>,
    /// `--checksums-sig LOC`.
    pub checksums_sig: Option<String>,
    /// `--lock FILE`.
    pub lock: Option<PathBuf>,
    /// `--frozen`.
    pub frozen: bool,
    /// `--update-lock`.
    pub update_lock: bool,
    /// `--expect-file NAME`.
    pub expect_file: Option<String>,
    /// `--allow-legacy`.
    pub allow_legacy: bool,
    /// `--allow-downgrade`.
    pub allow_downgrade: bool,
    /// `--allow-http`.
    pub allow_http: bool,
    /// `--max-size` as given (`1G`, `200M`, bytes).
    pub max_size: String,
    /// `--timeout SECS`.
    pub timeout: Option<f64>,
    /// `--cacert PEM`.
    pub cacert: Option<PathBuf>,
    /// `--quiet`.
    pub quiet: bool,
    /// `fetch -o PATH` (`-` for stdout).
    pub output: Option<PathBuf>,
    /// `fetch --mode OCTAL`.
    pub mode: Option<String>,
}

/// Where `fetch` saves the verified bytes, checked before anything is downloaded.
#[derive(Clone, Debug)]
pub struct Save {
    /// The destination.
    pub to: SaveTo,
    /// `--mode`, parsed (default: 0755 for ELF and `#!` payloads, else 0644).
    pub mode: Option<u32>,
}

/// A `fetch` destination.
#[derive(Clone, Debug)]
pub enum SaveTo {
    /// `-o -`: stdout, after every check passed.
    Stdout,
    /// `-o PATH`, and the directory the file is created in.
    File {
        /// The path given.
        path: PathBuf,
        /// Its directory (exists, safe to write in).
        dir: PathBuf,
    },
}

/// Default `--max-size`: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// What is being verified.
#[derive(Clone, Debug)]
pub enum Subject {
    /// A download (`run`, `fetch`).
    Url(HttpUrl),
    /// A local file (`verify`).
    File(PathBuf),
}

impl Subject {
    /// The URL, for downloads.
    pub fn url(&self) -> Option<&HttpUrl> {
        match self {
            Subject::Url(u) => Some(u),
            Subject::File(_) => None,
        }
    }

    /// The subject as a location (for `.minisig` siblings and origins).
    pub fn location(&self) -> Location {
        match self {
            Subject::Url(u) => Location::Url(u.clone()),
            Subject::File(p) => Location::Path(p.clone()),
        }
    }
}

/// A key given with `--key`, and how it was given.
#[derive(Clone, Debug)]
pub struct GivenKey {
    /// The key (any kind).
    pub key: Signer,
    /// `--key RW...` or `--key PATH`, for messages.
    pub source: String,
}

/// The validated verification options.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What is verified.
    pub subject: Subject,
    /// `--key` values (a keyring or `allowed_signers` file gives several), before
    /// `--fingerprint` narrows them (see [`crate::keys::given_keys`]).
    pub keys: Vec<GivenKey>,
    /// `--key https://...`: certificates to download, counted only with `--fingerprint`.
    pub key_urls: Vec<HttpUrl>,
    /// `--fingerprint`: only OpenPGP certificates with one of these primary fingerprints
    /// count.
    pub fingerprints: Vec<Fingerprint>,
    /// `--sig`, or `None` for the default `<subject>.minisig`.
    pub sig: Option<Location>,
    /// `--bundle`, or `None` for the default `<subject>.sigstore.json` / `.sigstore`.
    pub bundle: Option<Location>,
    /// `--trusted-root FILE`, parsed; `None`: the compiled-in roots.
    pub trusted_root: Option<crate::sigstore::Roots>,
    /// `--sha256`.
    pub sha256: Option<[u8; 32]>,
    /// `--sha512`.
    pub sha512: Option<[u8; 64]>,
    /// `--checksums`.
    pub checksums: Option<Location>,
    /// `--checksums-sig`, or `None` for the default `<list>.minisig`.
    pub checksums_sig: Option<Location>,
    /// `--lock`, `--frozen`, `--update-lock`.
    pub lock: Option<LockOpts>,
    /// The name the trusted comment's `file:` must carry and the checksum entry is chosen by.
    pub expect_file: String,
    /// `--allow-legacy`.
    pub allow_legacy: bool,
    /// `--allow-downgrade`.
    pub allow_downgrade: bool,
    /// `--max-size` in bytes.
    pub max_size: u64,
    /// Network settings.
    pub net: NetConfig,
    /// `--quiet`.
    pub quiet: bool,
    /// `fetch`'s destination (validated: not a directory, not a device, a safe directory).
    pub save: Option<Save>,
}

/// Lockfile options.
#[derive(Clone, Debug)]
pub struct LockOpts {
    /// The lockfile path.
    pub path: PathBuf,
    /// `--frozen`.
    pub frozen: bool,
    /// `--update-lock`.
    pub update: bool,
}

impl Plan {
    /// Validate `opts` for `subject`.
    pub fn new(subject: Subject, opts: &PlanOptions) -> Result<Plan> {
        let mut keys = Vec::new();
        let mut key_urls = Vec::new();
        for k in &opts.keys {
            match key_url(k)? {
                Some(u) => key_urls.push(u),
                None => keys.extend(parse_key_arg(k)?),
            }
        }
        let fingerprints = opts
            .fingerprints
            .iter()
            .map(|f| {
                Fingerprint::parse_hex(f).map_err(|e| {
                    Error::usage(format!("--fingerprint {}: {e}", crate::term::sanitize(f)))
                        .hint("an OpenPGP fingerprint is 40 hex digits (v4) or 64 (v6), as `gpg --fingerprint` or `sq inspect` print it; spaces are allowed")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !key_urls.is_empty() && fingerprints.is_empty() {
            return Err(Error::usage(format!(
                "--key {}: a key downloaded from a URL counts only with --fingerprint",
                key_urls[0]
            ))
            .hint("whoever serves the key could serve their own: pin the publisher's certificate with --fingerprint HEX (from their documentation, not from the same server)"));
        }
        let sha256 = opts
            .sha256
            .as_deref()
            .map(|h| parse_hex32(h.trim()).ok_or_else(|| bad_digest("--sha256", h)))
            .transpose()?;
        let sha512 = opts
            .sha512
            .as_deref()
            .map(|h| parse_hex64(h.trim()).ok_or_else(|| bad_digest("--sha512", h)))
            .transpose()?;
        let sig = opts.sig.as_deref().map(Location::parse).transpose()?;
        let bundle = opts.bundle.as_deref().map(Location::parse).transpose()?;
        if let Some(t) = sigstore_trust(
            opts.cert_identity.as_deref(),
            opts.cert_identity_regexp.as_deref(),
            opts.cert_oidc_issuer.as_deref(),
            opts.github_repo.as_deref(),
        )? {
            let source = match &t {
                crate::sigstore::Trust::GithubRepo(r) => format!("--github-repo {r}"),
                crate::sigstore::Trust::Identity {
                    identity: crate::sigstore::Identity::Regexp(_),
                    ..
                } => "--cert-identity-regexp".to_string(),
                _ => "--cert-identity".to_string(),
            };
            keys.push(GivenKey {
                key: Signer::Sigstore(Box::new(t)),
                source,
            });
        }
        let trusted_root = opts
            .trusted_root
            .as_deref()
            .map(load_trusted_root)
            .transpose()?;
        let checksums = opts.checksums.as_deref().map(Location::parse).transpose()?;
        let checksums_sig = opts
            .checksums_sig
            .as_deref()
            .map(Location::parse)
            .transpose()?;
        let expect_file = match &opts.expect_file {
            Some(name) if name.is_empty() || name.contains('/') => {
                return Err(Error::usage("--expect-file takes a file name, without `/`")
                    .hint("for example --expect-file install.sh"));
            }
            Some(name) => name.clone(),
            None => match &subject {
                Subject::Url(u) => u.file_name(),
                Subject::File(p) => p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            },
        };
        let timeout = opts.timeout.map(parse_timeout).transpose()?;
        let mut extra_roots: Vec<PathBuf> = opts.cacert.iter().cloned().collect();
        if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
            extra_roots.push(PathBuf::from(f));
        }
        Ok(Plan {
            subject,
            keys,
            key_urls,
            fingerprints,
            sig,
            bundle,
            trusted_root,
            sha256,
            sha512,
            checksums,
            checksums_sig,
            lock: opts.lock.clone().map(|path| LockOpts {
                path,
                frozen: opts.frozen,
                update: opts.update_lock,
            }),
            expect_file,
            allow_legacy: opts.allow_legacy,
            allow_downgrade: opts.allow_downgrade,
            max_size: parse_size(&opts.max_size)?,
            net: NetConfig {
                allow_http: opts.allow_http,
                timeout,
                extra_roots,
            },
            quiet: opts.quiet,
            save: opts
                .output
                .as_deref()
                .map(|o| save_target(o, opts.mode.as_deref()))
                .transpose()?,
        })
    }
}

/// The Sigstore signer the flags name: `--cert-identity ID` or `--cert-identity-regexp RE`
/// with `--cert-oidc-issuer URL`, or `--github-repo OWNER/NAME` (alone); `None` when no
/// flag is given. For `run`/`fetch`/`verify` and `key add` alike.
pub fn sigstore_trust(
    identity: Option<&str>,
    regexp: Option<&str>,
    issuer: Option<&str>,
    repo: Option<&str>,
) -> Result<Option<crate::sigstore::Trust>> {
    use crate::sigstore::{Identity, Pattern, Trust};
    use crate::term::sanitize;
    const HINT: &str = "name a keyless signer with --cert-identity ID (or --cert-identity-regexp RE) and --cert-oidc-issuer URL, or a GitHub repository with --github-repo OWNER/NAME";
    if let Some(r) = repo {
        if identity.is_some() || regexp.is_some() || issuer.is_some() {
            return Err(Error::usage(
                "--github-repo names the signer on its own: it excludes --cert-identity, --cert-identity-regexp and --cert-oidc-issuer",
            )
            .hint(HINT));
        }
        let repo = crate::sigstore::parse_repo(r.trim()).map_err(|e| {
            Error::usage(format!("--github-repo {e}")).hint("for example --github-repo cli/cli")
        })?;
        return Ok(Some(Trust::GithubRepo(repo)));
    }
    let identity = match (identity, regexp) {
        (None, None) => {
            if let Some(i) = issuer {
                return Err(Error::usage(format!(
                    "--cert-oidc-issuer {} needs the identity it issued: --cert-identity or --cert-identity-regexp",
                    sanitize(i)
                ))
                .hint(HINT));
            }
            return Ok(None);
        }
        (Some(_), Some(_)) => {
            return Err(
                Error::usage("--cert-identity and --cert-identity-regexp exclude each other")
                    .hint(HINT),
            );
        }
        (Some(id), None) => {
            if id.is_empty() || id.contains(['\n', '\r']) {
                return Err(Error::usage("--cert-identity is empty or spans lines").hint(HINT));
            }
            Identity::Exact(id.to_string())
        }
        (None, Some(re)) => Identity::Regexp(Pattern::new(re).map_err(|e| {
            Error::usage(format!("--cert-identity-regexp {}: {e}", sanitize(re)))
                .hint("the expression must match the whole SAN, e.g. '^https://github\\.com/OWNER/NAME/\\.github/workflows/release\\.yml@refs/tags/v.*$'")
        })?),
    };
    let Some(issuer) = issuer else {
        return Err(Error::usage(
            "a Sigstore identity needs its issuer: add --cert-oidc-issuer URL",
        )
        .hint("for GitHub Actions: --cert-oidc-issuer https://token.actions.githubusercontent.com; for a Google account: https://accounts.google.com"));
    };
    crate::sigstore::check_issuer(issuer)
        .map_err(|e| Error::usage(format!("--cert-oidc-issuer: {e}")).hint(HINT))?;
    Ok(Some(Trust::Identity {
        issuer: issuer.to_string(),
        identity,
    }))
}

/// Read `--trusted-root FILE` (a Sigstore `trusted_root.json`).
fn load_trusted_root(path: &Path) -> Result<crate::sigstore::Roots> {
    let shown = crate::term::sanitize(&path.display().to_string());
    let bytes = read_small_file(path, crate::sigstore::MAX_BUNDLE_BYTES).map_err(|e| {
        Error::usage(format!("--trusted-root {shown}: {}", e.message()))
            .hint("pass a Sigstore trusted_root.json")
    })?;
    crate::sigstore::Roots::from_json(&path.display().to_string(), &bytes).map_err(|e| {
        Error::usage(format!(
            "--trusted-root {shown}: not a usable Sigstore trusted root: {e}"
        ))
        .hint("pass a Sigstore trusted_root.json (as `sigstore-python` or cosign use)")
    })
}

/// The usage error for a `--sha256`/`--sha512` value that is not a digest of that length;
/// a digest of the other length gets the other flag suggested.
fn bad_digest(flag: &str, value: &str) -> Error {
    let (digits, tool, other, other_digits) = match flag {
        "--sha256" => (64, "sha256sum", "--sha512", 128),
        _ => (128, "sha512sum", "--sha256", 64),
    };
    let t = value.trim();
    let hint = if t.len() == other_digits && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!(
            "that is {other_digits} hex digits, the length of a {} digest: pass it with {other}",
            &other[2..].to_uppercase()
        )
    } else {
        format!("copy the digest from `{tool} FILE` or the publisher's release page")
    };
    Error::usage(format!(
        "{flag} {} is not {digits} hex digits",
        crate::term::sanitize(value)
    ))
    .hint(hint)
}

/// Parse `--mode` (octal, `755`, `0755` or `0o755`).
pub fn parse_mode(s: &str) -> Result<u32> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(Error::usage(format!(
            "--mode {}: not an octal file mode",
            crate::term::sanitize(s)
        ))
        .hint("for example --mode 0755")),
    }
}

/// `-o PATH [--mode OCTAL]` checked: `-` is stdout (where `--mode` means nothing); a path
/// must not be a directory or a non-regular file, and its directory must exist and be safe.
fn save_target(output: &std::path::Path, mode: Option<&str>) -> Result<Save> {
    let mode = mode.map(parse_mode).transpose()?;
    if output.as_os_str() == "-" {
        if mode.is_some() {
            return Err(
                Error::usage("--mode applies to a saved file, not to -o - (stdout)")
                    .hint("drop --mode, or save with -o PATH --mode OCTAL"),
            );
        }
        return Ok(Save {
            to: SaveTo::Stdout,
            mode,
        });
    }
    let dir = output_dir(output)?;
    Ok(Save {
        to: SaveTo::File {
            path: output.to_path_buf(),
            dir,
        },
        mode,
    })
}

/// The directory `-o PATH` will be written in, checked before anything is downloaded: `-o`
/// must not be a directory, a device, a FIFO or a symlink to one (64), and the directory
/// must exist and not be writable by everyone without the sticky bit (74: anyone could
/// replace the verified file there right after verun saved it).
pub fn output_dir(output: &std::path::Path) -> Result<PathBuf> {
    if output.is_dir() {
        return Err(
            Error::usage(format!("-o {} is a directory", output.display()))
                .hint("give the path of the file to write, e.g. -o ./bin/tool"),
        );
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::io(format!(
            "cannot write -o {}: directory {} does not exist",
            output.display(),
            dir.display()
        ))
        .hint("create the directory first"));
    }
    crate::partial::check_target(output)?;
    if let Ok(meta) = std::fs::metadata(&dir) {
        use std::os::unix::fs::MetadataExt;
        let m = meta.mode() & 0o7777;
        if m & 0o002 != 0 && m & 0o1000 == 0 {
            return Err(Error::io(format!(
                "cannot save -o {}: everyone may write to {} (mode {m:04o}, no sticky bit), so anyone could replace the verified file",
                output.display(),
                dir.display()
            ))
            .hint("save into a directory only you (or your group) can write, or make it sticky (chmod +t) as /tmp is"));
        }
    }
    Ok(dir)
}

/// Parse `--timeout SECS` (fractions allowed, > 0).
pub fn parse_timeout(secs: f64) -> Result<Duration> {
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(Error::usage(format!(
            "--timeout {secs} must be a positive number of seconds"
        )))
    }
}

/// A `--key` value that is a URL: `https://` (a certificate to download), or a usage error
/// for plain `http://`. `None` for everything else.
fn key_url(arg: &str) -> Result<Option<HttpUrl>> {
    let value = arg.trim();
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") {
        return Err(Error::usage(format!(
            "--key {}: a key fetched over plain http proves nothing",
            crate::term::sanitize(value)
        ))
        .hint("fetch the certificate over https:// (and pin it with --fingerprint), or pass a local file"));
    }
    if !lower.starts_with("https://") {
        return Ok(None);
    }
    match Location::parse(value)? {
        Location::Url(u) => Ok(Some(u)),
        Location::Path(_) => Ok(None),
    }
}

/// The hint for a `--key` value that is not a key.
const KEY_KINDS_HINT: &str = "pass a minisign key (RW..., or its .pub file), an OpenPGP certificate or keyring file (.asc, .gpg), or an SSH key (an `ssh-ed25519 AAAA...` line, a .pub file, or an allowed_signers file)";

/// Parse a `--key` value: an inline key (minisign `RW...`, or one SSH public-key line), or
/// the path of a key file of any kind (told apart by content): a minisign `.pub` file, an
/// OpenPGP certificate or keyring (armored or binary: every certificate in it), an SSH
/// `.pub` or `allowed_signers` file (every key in it).
///
/// The two are never ambiguous (security review, item 1): a value that has the shape of an
/// inline key (`RW` and 54 more base64 characters; `ssh-ed25519 AAAA...`; surrounding
/// whitespace ignored, as CI secrets often end in a newline) is that key and is never looked
/// up as a file, so a file or directory planted under that name in the working directory
/// changes nothing. A malformed value of that shape is a usage error. Anything else must be
/// an existing file (a file whose name looks like a key is given as `./RW...`).
pub fn parse_key_arg(arg: &str) -> Result<Vec<GivenKey>> {
    let value = arg.trim();
    if looks_like_inline_key(value) {
        let key = PublicKey::from_base64(value).map_err(|e| {
            Error::usage(format!(
                "--key {}: {}",
                crate::term::sanitize(value),
                e.message()
            ))
            .hint("an inline key is the RW... line of the publisher's minisign .pub file, copied whole")
        })?;
        return Ok(vec![GivenKey {
            key: Signer::Minisign(key),
            source: format!("--key {value}"),
        }]);
    }
    if sshsig::is_inline_key(value) {
        let key = sshsig::SshKey::parse_line(value).map_err(|e| {
            Error::usage(format!("--key {}: {e}", crate::term::sanitize(value)))
                .hint("an inline SSH key is one line of the publisher's .pub file: `ssh-ed25519 AAAA... [comment]`")
        })?;
        let source = format!("--key {}", key.fingerprint());
        return Ok(vec![GivenKey {
            key: Signer::Ssh(Box::new(sshsig::Allowed {
                key,
                principals: Vec::new(),
                namespaces: None,
                valid_after: None,
                valid_before: None,
            })),
            source,
        }]);
    }
    let path = PathBuf::from(arg);
    let shown = crate::term::sanitize(&path.display().to_string());
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(
                Error::usage(format!("--key {shown}: not a regular file")).hint(KEY_KINDS_HINT)
            );
        }
        Err(e) => {
            return Err(Error::usage(format!(
                "--key {shown}: neither an inline key (RW..., 56 characters; ssh-ed25519 AAAA...) nor a readable file ({e})"
            ))
            .hint(KEY_KINDS_HINT));
        }
    }
    let bytes = read_small_file(&path, openpgp::MAX_CERT_BYTES).map_err(|e| {
        Error::usage(format!("--key {shown}: {}", e.message())).hint(KEY_KINDS_HINT)
    })?;
    let source = format!("--key {}", path.display());
    parse_key_bytes(&bytes, &shown, &source)
}

/// The signers in the bytes of a key file (see [`parse_key_arg`]); `shown` names the file
/// in errors, `source` in reports.
pub fn parse_key_bytes(bytes: &[u8], shown: &str, source: &str) -> Result<Vec<GivenKey>> {
    let given = |key: Signer| GivenKey {
        key,
        source: source.to_string(),
    };
    if openpgp::is_certificate(bytes) {
        let certs = openpgp::parse_certs(bytes).map_err(|e| {
            Error::usage(format!("--key {shown}: not a valid OpenPGP certificate: {e}"))
                .hint("export the publisher's certificate again (gpg --export --armor FPR, sq cert export)")
        })?;
        return Ok(certs
            .into_iter()
            .map(|c| given(Signer::OpenPgp(Box::new(c))))
            .collect());
    }
    if crate::sigstore::is_pem_key(bytes) {
        let t = crate::sigstore::parse_pem_key(bytes).map_err(|e| {
            Error::usage(format!("--key {shown}: not a usable PEM public key: {e}"))
                .hint("a Sigstore public-key bundle is checked with the signer's PEM public key (cosign.pub): ECDSA P-256/P-384, Ed25519 or RSA")
        })?;
        return Ok(vec![given(Signer::Sigstore(Box::new(t)))]);
    }
    if openpgp::is_signature(bytes) || openpgp::is_cleartext(bytes) {
        return Err(Error::usage(format!(
            "--key {shown}: this is an OpenPGP signature, not a certificate"
        ))
        .hint("pass the signature with --sig, and the publisher's certificate with --key"));
    }
    if sshsig::is_signature(bytes) {
        return Err(Error::usage(format!(
            "--key {shown}: this is an SSH signature, not a public key"
        ))
        .hint("pass the signature with --sig, and the signer's public key with --key"));
    }
    let text = String::from_utf8_lossy(bytes);
    if text.len() as u64 <= MAX_PUBKEY_BYTES
        && let Ok(key) = PublicKey::from_file_text(&text)
    {
        return Ok(vec![given(Signer::Minisign(key))]);
    }
    if let Some((what, hint)) = what_key_file_is(&text) {
        return Err(
            Error::usage(format!("--key {shown}: this is {what}, not a public key")).hint(hint),
        );
    }
    if looks_like_ssh_keys(&text) {
        let keys = sshsig::parse_keys(&text).map_err(|e| {
            Error::usage(format!("--key {shown}: {e}"))
                .hint("an SSH key file holds `ssh-ed25519 AAAA...` lines, or allowed_signers lines (`PRINCIPALS [OPTIONS] KEY`)")
        })?;
        return Ok(keys
            .into_iter()
            .map(|a| given(Signer::Ssh(Box::new(a))))
            .collect());
    }
    let first = text.lines().next().unwrap_or("");
    let detail = match PublicKey::from_file_text(&text) {
        Err(e) if first.starts_with("untrusted comment:") => e.message().to_string(),
        _ => "not a minisign, OpenPGP or SSH public key".to_string(),
    };
    Err(Error::usage(format!("--key {shown}: {detail}")).hint(KEY_KINDS_HINT))
}

/// Whether a text file looks like SSH public keys or `allowed_signers` lines: some
/// non-comment line names an SSH key algorithm.
fn looks_like_ssh_keys(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|l| {
            l.split_whitespace().any(|w| {
                w.starts_with("ssh-") || w.starts_with("ecdsa-sha2-") || w.starts_with("sk-")
            })
        })
}

/// What a file given as a public key really is, when it is a well-known other thing.
fn what_key_file_is(text: &str) -> Option<(&'static str, &'static str)> {
    let first = text.lines().next().unwrap_or("").to_ascii_lowercase();
    // A signature's untrusted comment says "signature from minisign secret key": look at
    // the trusted comment line first.
    if text.lines().any(|l| l.starts_with("trusted comment:")) {
        Some((
            "a minisign signature (.minisig)",
            "pass the signature with --sig, and the publisher's public key (.pub or RW...) with --key",
        ))
    } else if first.contains("secret key") {
        Some((
            "a minisign secret key",
            "never pass or share a secret key; give the matching .pub file (minisign -p), or its RW... line",
        ))
    } else {
        None
    }
}

/// Whether `value` has the shape of an inline minisign public key: `RW` and 54 more
/// characters of the base64 alphabet (42 bytes, no padding). Such a value is never a path.
pub fn looks_like_inline_key(value: &str) -> bool {
    value.len() == 56
        && value.starts_with("RW")
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Read a local file of at most `cap` bytes.
pub fn read_small_file(path: &std::path::Path, cap: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io_at(format!("cannot open {}", path.display()), &e))?;
    let mut buf = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io_at(format!("cannot read {}", path.display()), &e))?;
    if buf.len() as u64 > cap {
        return Err(Error::refused(format!(
            "{} is larger than {}",
            path.display(),
            crate::fetch::human(cap)
        )));
    }
    Ok(buf)
}

/// Parse `--max-size`: bytes, or with a K, M or G suffix (powers of 1024; `KiB`/`KB` too).
pub fn parse_size(s: &str) -> Result<u64> {
    let bad = || {
        Error::usage(format!(
            "--max-size {}: not a size",
            crate::term::sanitize(s)
        ))
        .hint("use bytes or a K, M or G suffix, e.g. --max-size 200M")
    };
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    let v = n.checked_mul(mult).ok_or_else(bad)?;
    if v == 0 {
        return Err(Error::usage("--max-size must be larger than 0"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("10K").unwrap(), 10 << 10);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("2KiB").unwrap(), 2048);
        for bad in ["", "G", "1T", "-1", "1.5G", "0", "99999999999999999999G"] {
            assert_eq!(parse_size(bad).unwrap_err().exit_code(), 64, "{bad}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(1.5).unwrap(), Duration::from_millis(1500));
        assert!(parse_timeout(0.0).is_err());
        assert!(parse_timeout(f64::NAN).is_err());
    }

    #[test]
    fn bad_keys_are_usage_errors() {
        assert_eq!(parse_key_arg("RWnotakey").unwrap_err().exit_code(), 64);
        // base64 keys may contain `/`
        let k = parse_key_arg("RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3").unwrap();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].key.id(), "minisign:E7620F1842B4E81F");
        let slash = "RWQ/6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
        assert_eq!(parse_key_arg(slash).unwrap()[0].key.public_text(), slash);
        assert_eq!(
            parse_key_arg("/nonexistent/key.pub")
                .unwrap_err()
                .exit_code(),
            64
        );
    }
}
