//! `verun self-update`: replace the running binary with a newer release, verified by the
//! same code as every other download (`verify::gather` and `verify::stream` over a
//! [`Plan`]), and installed atomically.
//!
//! # Where releases are, and how the latest one is found
//!
//! `BASE` is `https://github.com/verun-dev/verun/releases`, or `VERUN_RELEASE_BASE`
//! (https:// only). A release `V` publishes `BASE/download/vV/` + `SHA256SUMS`,
//! `SHA256SUMS.minisig`, `verun-TARGET` and `verun-TARGET.minisig` (see
//! `install/release.sh`). Without `--version`, `BASE/latest` is requested and its redirects
//! followed (GitHub redirects it to `BASE/tag/vV`): the last path segment of the final URL
//! names the version. That answer is never trusted: it only says which directory to look in,
//! and the version installed is the one in the signed trusted comment of `SHA256SUMS.minisig`
//! (`version:V`), which must equal it. A lying redirect can at most point at another
//! genuinely signed release, and an older one is refused like any downgrade.
//!
//! # What is verified
//!
//! - `SHA256SUMS` is signed (prehashed) by the release key, with `file:SHA256SUMS` and
//!   `version:V` in its trusted comment; the binary's SHA-256 matches its entry for
//!   `verun-TARGET`, and its own signature (`file:verun-TARGET`) when one is published.
//! - The release key is the key-store lineage named `verun-release`: the built-in key, or
//!   the key it was rotated to with `verun key rotate`. Revoked, rotated-out and expired
//!   keys are refused as everywhere; a signature by any *other* trusted key (even a global
//!   one) is refused. `VERUN_RELEASE_KEY_NAME` names another store key, for mirrors signed
//!   by someone else and for tests; the key must still be in the store and in scope.
//! - Version: older than the running verun is refused (77) unless `--allow-downgrade`; the
//!   same version is "up to date" (nothing downloaded, nothing changed).
//! - Rollback marks, as for any download, for the binary's and the list's URLs, plus one
//!   for the release channel (`BASE/latest/download/SHA256SUMS`), so a release signed
//!   before one already installed through self-update is refused too.
//! - The verified bytes must be an ELF executable for this machine's architecture.
//!
//! # How it is installed
//!
//! The running binary's real path (`/proc/self/exe`) is refused when it lies in a package
//! manager's directory or belongs to a dpkg or rpm package (77: update it with the package
//! manager). The new binary is streamed into a temporary file in the same directory
//! (created before anything is downloaded, so an unwritable directory is refused first,
//! 74; removed on SIGINT, SIGTERM and SIGHUP too), given the old file's permission bits
//! (without set-id bits) and, when run as root, its owner and group, flushed, and renamed
//! over the old path; the directory is flushed. On any failure the temporary file is
//! removed and the installed binary is untouched.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fetch::{Net, NetConfig};
use crate::keys::{KeyRing, KeyStore, StoreVerdict};
use crate::location::{HttpUrl, Location};
use crate::paths::Paths;
use crate::plan::{Plan, Subject, parse_timeout};
use crate::scheme::{Claim, Signer, SignerKind};
use crate::store::Store;
use crate::term::sanitize;
use crate::verify::{self, Limits, Report};

/// Where releases are published.
pub const DEFAULT_BASE: &str = "https://github.com/verun-dev/verun/releases";
/// Environment variable overriding [`DEFAULT_BASE`].
pub const BASE_ENV: &str = "VERUN_RELEASE_BASE";
/// Environment variable naming the store key that signs releases.
pub const KEY_NAME_ENV: &str = "VERUN_RELEASE_KEY_NAME";
/// The store name of verun's release key (built in).
pub const RELEASE_KEY_NAME: &str = "verun-release";
/// The signed checksum list of a release.
pub const SUMS: &str = "SHA256SUMS";
/// Largest binary accepted.
pub const MAX_BINARY_BYTES: u64 = 64 << 20;

/// Directories whose files belong to the system or a package manager.
pub const MANAGED_DIRS: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/libexec",
    "/usr/share",
    "/nix/store",
    "/snap",
    "/opt/homebrew",
    "/home/linuxbrew/.linuxbrew",
    "/usr/local/Cellar",
];

/// The release binary for the machine this verun was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The Rust target triple (`x86_64-unknown-linux-musl`).
    pub triple: &'static str,
    /// The ELF `e_machine` of its binaries.
    pub elf_machine: u16,
}

impl Target {
    /// The target of this build, when verun publishes a binary for it.
    pub fn current() -> Option<Target> {
        Target::for_arch(std::env::consts::ARCH)
    }

    /// The target for an architecture name (`std::env::consts::ARCH`).
    pub fn for_arch(arch: &str) -> Option<Target> {
        match arch {
            "x86_64" => Some(Target {
                triple: "x86_64-unknown-linux-musl",
                elf_machine: 62,
            }),
            "aarch64" => Some(Target {
                triple: "aarch64-unknown-linux-musl",
                elf_machine: 183,
            }),
            _ => None,
        }
    }

    /// The release asset name (`verun-TRIPLE`).
    pub fn asset(&self) -> String {
        format!("verun-{}", self.triple)
    }
}

/// A release version: `MAJOR.MINOR.PATCH` with an optional `-pre` (and ignored `+build`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    core: [u64; 3],
    pre: Option<String>,
    text: String,
}

impl Version {
    /// Parse `1.2.3`, `1.2.3-rc.1`, `1.2.3+meta`; `None` otherwise.
    pub fn parse(s: &str) -> Option<Version> {
        let text = s.to_string();
        let no_build = s.split_once('+').map_or(s, |(v, _)| v);
        let (core_text, pre) = match no_build.split_once('-') {
            Some((c, p)) => (c, Some(p.to_string())),
            None => (no_build, None),
        };
        let ok_ident = |p: &str| {
            !p.is_empty()
                && p.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        if pre.as_deref().is_some_and(|p| !ok_ident(p))
            || s.split_once('+').is_some_and(|(_, b)| !ok_ident(b))
        {
            return None;
        }
        let mut core = [0u64; 3];
        let mut parts = core_text.split('.');
        for slot in &mut core {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 18 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = p.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Version { core, pre, text })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// Semver precedence, simplified: the numbers, then a release above its pre-releases,
    /// pre-release identifiers compared numerically when both are numbers, else as text.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        self.core
            .cmp(&other.core)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => {
                    let mut x = a.split('.');
                    let mut y = b.split('.');
                    loop {
                        match (x.next(), y.next()) {
                            (None, None) => return Ordering::Equal,
                            (None, Some(_)) => return Ordering::Less,
                            (Some(_), None) => return Ordering::Greater,
                            (Some(p), Some(q)) => {
                                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                                    (Ok(m), Ok(n)) => m.cmp(&n),
                                    (Ok(_), Err(_)) => Ordering::Less,
                                    (Err(_), Ok(_)) => Ordering::Greater,
                                    _ => p.cmp(q),
                                };
                                if o != Ordering::Equal {
                                    return o;
                                }
                            }
                        }
                    }
                }
            })
    }
}

/// The key store as self-update sees it: only the keys named `name` (the release key's
/// lineage) may sign; every other key id is refused, even a trusted one.
struct ReleaseKeys<'a> {
    store: &'a Store,
    name: &'a str,
}

impl KeyStore for ReleaseKeys<'_> {
    fn lookup(&self, claim: &Claim<'_>, url: Option<&HttpUrl>) -> StoreVerdict {
        let id = claim.describe();
        if !matches!(claim, Claim::Minisign(_)) {
            return StoreVerdict::Refused(
                Error::refused(format!(
                    "the release is signed by {id}, not by verun's minisign release key {}",
                    self.name
                ))
                .hint("verun's releases are signed with minisign only; nothing was changed"),
            );
        }
        match self.store.lookup(claim, url) {
            StoreVerdict::Trusted(k) if k.store_name.as_deref() != Some(self.name) => {
                StoreVerdict::Refused(
                    Error::refused(format!(
                        "the release is signed by {id} ({}), not by verun's release key {}",
                        sanitize(&k.source),
                        self.name
                    ))
                    .hint(
                        "only the release key (or the key it was rotated to) may sign verun itself; nothing was changed",
                    ),
                )
            }
            StoreVerdict::Unknown => StoreVerdict::Refused(
                Error::refused(format!(
                    "the release is signed by {id}, which is not verun's release key {}",
                    self.name
                ))
                .hint("the release was altered or signed by someone else; nothing was changed. If verun announced a key rotation, move to the new key first with `verun key rotate verun-release --new NEW.pub --sig NEW.pub.minisig` (keys/README.md)"),
            ),
            other => other,
        }
    }

    /// A signature is always required.
    fn covers(&self, _url: Option<&HttpUrl>) -> bool {
        true
    }

    fn covering(&self, _url: Option<&HttpUrl>) -> Vec<String> {
        vec![self.name.to_string()]
    }

    fn refuses_given(&self, key: &Signer) -> Option<Error> {
        self.store.refuses_given(key)
    }

    fn signer(&self, signer_id: &str) -> Option<Signer> {
        self.store.signer(signer_id)
    }

    fn lookup_signer(&self, signer_id: &str, url: Option<&HttpUrl>) -> StoreVerdict {
        self.store.lookup_signer(signer_id, url)
    }

    fn kinds(&self, _url: Option<&HttpUrl>, _all: bool) -> Vec<SignerKind> {
        vec![SignerKind::Minisign]
    }

    fn is_empty(&self) -> bool {
        false
    }
}

/// The release base URL (without a trailing `/`), checked: https:// only.
fn release_base() -> Result<String> {
    let (raw, from_env) = match std::env::var(BASE_ENV) {
        Ok(v) if !v.is_empty() => (v, true),
        _ => (DEFAULT_BASE.to_string(), false),
    };
    let base = raw.trim_end_matches('/').to_string();
    let bad = |why: &str| {
        Error::usage(format!("{BASE_ENV}={}: {why}", sanitize(&raw)))
            .hint("set it to an https:// URL such as https://github.com/verun-dev/verun/releases, or unset it")
    };
    let url = HttpUrl::parse(&format!("{base}/latest")).map_err(|_| bad("not a URL"))?;
    if !url.is_https() {
        return Err(bad("self-update downloads over https:// only"));
    }
    if from_env && base.contains(['?', '#']) {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(base)
}

/// The store name of the release key.
fn release_key_name() -> Result<String> {
    match std::env::var(KEY_NAME_ENV) {
        Ok(v) if !v.is_empty() => {
            crate::store::validate_name(&v)?;
            Ok(v)
        }
        _ => Ok(RELEASE_KEY_NAME.to_string()),
    }
}

/// Why `path` (the real path of the binary) is managed by a package manager, if it is.
pub fn managed_by(path: &Path) -> Option<String> {
    if let Some(dir) = MANAGED_DIRS.iter().find(|d| path.starts_with(Path::new(d))) {
        return Some(format!("it is in {dir}, a package manager's directory"));
    }
    let owned = |prog: &str, args: &[&str], db: &str| {
        Path::new(db).exists()
            && std::process::Command::new(prog)
                .args(args)
                .arg(path)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if owned("dpkg-query", &["-S"], "/var/lib/dpkg") {
        return Some("dpkg lists it as part of a package (dpkg -S)".into());
    }
    if owned("rpm", &["-qf"], "/var/lib/rpm") {
        return Some("rpm lists it as part of a package (rpm -qf)".into());
    }
    None
}

/// The real path of the running binary.
fn installed_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::io_at("cannot find the running verun binary", &e))?;
    let exe = std::fs::canonicalize(&exe)
        .map_err(|e| Error::io_at(format!("cannot resolve {}", exe.display()), &e))?;
    let meta = std::fs::metadata(&exe)
        .map_err(|e| Error::io_at(format!("cannot read {}", exe.display()), &e))?;
    if !meta.is_file() {
        return Err(Error::io(format!(
            "the running verun ({}) is not a regular file",
            exe.display()
        )));
    }
    Ok(exe)
}

/// The `version:` field of a trusted comment.
fn signed_version(trusted_comment: &str) -> Option<&str> {
    trusted_comment
        .split('\t')
        .find_map(|f| f.strip_prefix("version:"))
}

/// Follow `BASE/latest` to `.../tag/vV` and return `V` (unverified: a hint where to look).
fn discover_latest(net: &Net, base: &str) -> Result<Version> {
    let latest = HttpUrl::parse(&format!("{base}/latest"))?;
    let resp = net.open(&latest)?.ok_or_else(|| {
        Error::download(format!("{latest} answered HTTP 404 (not found)"))
            .hint(format!("no release is published there; check {BASE_ENV}"))
    })?;
    let last = resp.url.file_name();
    drop(resp);
    last.strip_prefix('v')
        .and_then(Version::parse)
        .ok_or_else(|| {
            Error::download(format!(
                "{latest} led to {}, which does not name a release tag vX.Y.Z",
                sanitize(&last)
            ))
            .hint("pass the version to install with --version X.Y.Z")
        })
}

fn parse_requested(v: &str) -> Result<Version> {
    Version::parse(v.strip_prefix('v').unwrap_or(v)).ok_or_else(|| {
        Error::usage(format!("--version {}: not a release version", sanitize(v)))
            .hint("give it as X.Y.Z, e.g. --version 0.2.0")
    })
}

/// What `verun self-update` was asked to do (the command line, parsed).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--version V`: this release instead of the latest.
    pub version: Option<String>,
    /// `--check`: only report.
    pub check: bool,
    /// `--allow-downgrade`.
    pub allow_downgrade: bool,
    /// `--timeout SECS`.
    pub timeout: Option<f64>,
    /// `--cacert PEM`.
    pub cacert: Option<PathBuf>,
}

/// What happened, for the caller to print: the library never prints.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The line for stdout (`--check`'s answer).
    pub stdout: Option<String>,
    /// Notes for stderr (`verun: ...`), in order.
    pub notes: Vec<String>,
    /// Warnings for stderr (`verun: warning: ...`), printed even with --quiet.
    pub warnings: Vec<String>,
}

/// `verun self-update`.
pub fn run(a: &Options) -> Result<Outcome> {
    let mut out = Outcome::default();
    let requested = a.version.as_deref().map(parse_requested).transpose()?;
    let timeout = a.timeout.map(parse_timeout).transpose()?;
    let target = Target::current().ok_or_else(|| {
        Error::refused(format!(
            "verun publishes no release binary for {}",
            std::env::consts::ARCH
        ))
        .hint("build it from source with cargo (see the README)")
    })?;
    let base = release_base()?;
    let key_name = release_key_name()?;
    let current = Version::parse(env!("CARGO_PKG_VERSION"))
        .ok_or_else(|| Error::io("this verun's own version does not parse"))?;

    // The binary to replace, checked before anything is downloaded.
    let exe = installed_binary()?;
    let dir = exe.parent().unwrap_or(Path::new("/")).to_path_buf();
    if !a.check
        && let Some(why) = managed_by(&exe)
    {
        return Err(Error::refused(format!(
            "{} is managed by a package manager ({why}); self-update would fight it",
            exe.display()
        ))
        .hint("update verun with that package manager, or install it with install.sh into a directory you own (VERUN_INSTALL_DIR)"));
    }
    // An interrupt removes the staged file too (armed before it exists).
    let cleanup = crate::partial::RemoveOnSignal::arm()?;
    let staged = if a.check {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix(".verun-update-")
                .tempfile_in(&dir)
                .map_err(|e| {
                    Error::io_at(
                        format!(
                            "cannot write in {} to replace {}",
                            dir.display(),
                            exe.display()
                        ),
                        &e,
                    )
                    .hint("run self-update as the user who owns that directory, or reinstall verun with install.sh into a directory you own")
                })?,
        )
    };

    if let Some(st) = &staged {
        cleanup.watch(st.path());
    }
    let mut extra_roots: Vec<PathBuf> = a.cacert.iter().cloned().collect();
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        extra_roots.push(PathBuf::from(f));
    }
    let net_cfg = NetConfig {
        allow_http: false,
        timeout,
        extra_roots,
    };
    let net = Net::new(&net_cfg)?;

    let want = match requested {
        Some(v) => v,
        None => discover_latest(&net, &base)?,
    };
    let dir_url = format!("{base}/download/v{}", want.as_str());
    let bin_url = HttpUrl::parse(&format!("{dir_url}/{}", target.asset()))?;
    let list_url = HttpUrl::parse(&format!("{dir_url}/{SUMS}"))?;
    let plan = Plan {
        subject: Subject::Url(bin_url.clone()),
        keys: Vec::new(),
        key_urls: Vec::new(),
        fingerprints: Vec::new(),
        sig: None,
        bundle: None,
        trusted_root: None,
        sha256: None,
        sha512: None,
        checksums: Some(Location::Url(list_url.clone())),
        // Named explicitly: a release without a signed list is refused at once.
        checksums_sig: Some(Location::Url(list_url.with_suffix(".minisig"))),
        lock: None,
        expect_file: target.asset(),
        allow_legacy: false,
        allow_downgrade: a.allow_downgrade,
        max_size: MAX_BINARY_BYTES,
        net: net_cfg,
        quiet: true,
        // The binary is replaced below, not saved at an -o PATH.
        save: None,
    };
    let paths = Paths::resolve()?;
    let store = Store::open(&paths)?;
    let keys = ReleaseKeys {
        store: &store,
        name: &key_name,
    };
    let ring = KeyRing::new(Vec::new(), Some(&keys))?;
    let evidence = verify::gather(&plan, &ring, &net, Vec::new())?;
    let list_sig = evidence.list_signature().ok_or_else(|| {
        Error::refused(format!("{list_url} is not signed by verun's release key"))
            .hint("a verun release publishes SHA256SUMS.minisig; nothing was changed")
    })?;
    let signed = signed_version(&list_sig.trusted_comment).ok_or_else(|| {
        Error::refused(format!(
            "the signature of {list_url} carries no version: in its trusted comment"
        ))
        .hint("releases before self-update existed cannot be installed with it; use install.sh")
    })?;
    let got = Version::parse(signed).ok_or_else(|| {
        Error::refused(format!(
            "the signed version {} of {list_url} is not a version",
            sanitize(signed)
        ))
    })?;
    if got != want {
        return Err(Error::refused(format!(
            "{list_url} is signed as version {}, not {}",
            sanitize(got.as_str()),
            want.as_str()
        ))
        .hint("the release directory holds another release's files; nothing was changed"));
    }
    let older = got < current;
    if a.check {
        check_rollback(
            &base,
            &bin_url,
            &paths,
            None,
            Some(list_sig),
            a.allow_downgrade,
            &mut out.warnings,
        )?;
        let line = match got.cmp(&current) {
            std::cmp::Ordering::Greater => format!(
                "verun {} is available (this is {}); `verun self-update` installs it",
                got.as_str(),
                current.as_str()
            ),
            std::cmp::Ordering::Equal => format!("verun {} is up to date", current.as_str()),
            std::cmp::Ordering::Less => format!(
                "the release found ({}) is older than this verun ({}); nothing to do",
                got.as_str(),
                current.as_str()
            ),
        };
        out.stdout = Some(line);
        return Ok(out);
    }
    if got == current {
        out.notes.push(format!(
            "verun {} is up to date ({}); nothing was changed",
            current.as_str(),
            exe.display()
        ));
        return Ok(out);
    }
    if older && !a.allow_downgrade {
        return Err(Error::refused(format!(
            "downgrade: the release found is {}, older than this verun ({})",
            got.as_str(),
            current.as_str()
        ))
        .hint("someone may be serving an old release with a known hole; nothing was changed. To go back on purpose, pass --allow-downgrade"));
    }

    // Download into the staged file, verifying while it is written.
    let Some(staged) = staged else {
        return Err(Error::io("internal: no staged file"));
    };
    let mut resp = net.open(&bin_url)?.ok_or_else(|| {
        Error::download(format!("{bin_url} answered HTTP 404 (not found)")).hint(format!(
            "the release {} has no binary for this machine",
            got.as_str()
        ))
    })?;
    let final_url = resp.url.clone();
    let hops = resp.hops.clone();
    let declared = resp.content_length;
    let verified = verify::stream(
        &evidence,
        resp.reader(),
        crate::write_behind::WriteBehind::new(staged),
        Limits {
            max_size: MAX_BINARY_BYTES,
            declared,
            url: Some(&final_url),
            origins: &hops,
        },
        &mut |_| {},
    )?;
    check_elf(verified.head(), target, &bin_url)?;
    let report = verified.report().clone();
    let marks = check_rollback(
        &base,
        &bin_url,
        &paths,
        report.signature.as_ref(),
        report.checksums_signature.as_ref(),
        a.allow_downgrade,
        &mut out.warnings,
    )?;
    let old_meta = std::fs::metadata(&exe)
        .map_err(|e| Error::io_at(format!("cannot read {}", exe.display()), &e))?;
    let mode = old_meta.permissions().mode() & 0o777;
    // Run as root on someone else's binary: the new one keeps the old owner.
    if rustix::process::geteuid().is_root() {
        use std::os::unix::fs::MetadataExt;
        let file = verified.payload().get_ref().as_file();
        std::os::unix::fs::fchown(file, Some(old_meta.uid()), Some(old_meta.gid())).map_err(
            |e| {
                Error::io_at(
                    format!("cannot give the new binary {}'s owner", exe.display()),
                    &e,
                )
            },
        )?;
    }
    let report = verified.persist(&exe, mode)?;
    for m in &marks {
        if let Err(e) = m.save() {
            out.warnings.push(format!(
                "cannot remember the release's timestamp (rollback protection): {}",
                e.message()
            ));
        }
    }
    record_uses(&store, &report, &mut out.warnings);
    out.notes.push(format!(
        "verified {} ({} bytes, sha256 {}), {} signed by key {} ({})",
        bin_url,
        report.size,
        report.sha256,
        SUMS,
        list_sig_key(&report),
        sanitize(&key_name)
    ));
    out.notes.push(format!(
        "updated {} from verun {} to {} (mode {mode:04o})",
        exe.display(),
        current.as_str(),
        got.as_str()
    ));
    Ok(out)
}

fn list_sig_key(r: &Report) -> String {
    r.checksums_signature
        .as_ref()
        .map(|s| s.key_id.clone())
        .unwrap_or_default()
}

fn record_uses(store: &Store, r: &Report, warnings: &mut Vec<String>) {
    for s in [&r.signature, &r.checksums_signature].into_iter().flatten() {
        if let Err(e) = store.record_use(&s.signer) {
            warnings.push(format!(
                "cannot record the use of the release key in the key store: {}",
                e.message()
            ));
        }
    }
}

/// The staged binary must be a 64-bit little-endian ELF executable for `target`.
fn check_elf(head: &[u8], target: Target, url: &HttpUrl) -> Result<()> {
    let machine = head.get(18..20).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let e_type = head.get(16..18).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let ok = head.starts_with(b"\x7fELF\x02\x01")
        && matches!(e_type, Some(2 | 3))
        && machine == Some(target.elf_machine);
    if ok {
        Ok(())
    } else {
        Err(Error::refused(format!(
            "{url} verified, but it is not an ELF executable for {}",
            target.triple
        ))
        .hint("the release's binary for this machine is broken; nothing was changed"))
    }
}

/// Rollback marks: the binary's signature (its URL), the list's signature (its URL and the
/// release channel's).
fn check_rollback(
    base: &str,
    bin_url: &HttpUrl,
    paths: &Paths,
    bin_sig: Option<&verify::SigReport>,
    list_sig: Option<&verify::SigReport>,
    allow_downgrade: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::rollback::Mark>> {
    use crate::rollback::Signed;
    let mut pieces = Vec::new();
    if let Some(s) = bin_sig {
        pieces.push(Signed {
            key_id: s.signer.clone(),
            url: bin_url.as_str().to_string(),
            timestamp: s.timestamp,
            what: format!("signature of {bin_url}"),
        });
    }
    if let Some(s) = list_sig {
        pieces.push(Signed {
            key_id: s.signer.clone(),
            url: s.signs.clone(),
            timestamp: s.timestamp,
            what: format!("checksum list signature of {}", s.signs),
        });
        let channel = format!("{base}/latest/download/{SUMS}");
        pieces.push(Signed {
            key_id: s.signer.clone(),
            url: channel.clone(),
            timestamp: s.timestamp,
            what: format!("release list signature (channel {channel})"),
        });
    }
    let checked = crate::rollback::check(
        &paths.state,
        &pieces,
        allow_downgrade,
        crate::time::now_secs(),
    )?;
    warnings.extend(checked.warnings.iter().map(|w| sanitize(w)));
    Ok(checked.marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order_like_semver() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert!(v("0.2.0") > v("0.1.9"));
        assert!(v("0.10.0") > v("0.9.9"));
        assert!(v("1.0.0") > v("1.0.0-rc.2"));
        assert!(v("1.0.0-rc.10") > v("1.0.0-rc.2"));
        assert!(v("1.0.0-beta") > v("1.0.0-alpha"));
        assert_eq!(v("1.0.0+build").cmp(&v("1.0.0")), std::cmp::Ordering::Equal);
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "v1.2.3",
            "1.2.x",
            "1.2.3-",
            "1..3",
            "1.2.3-a b",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn package_manager_directories_are_recognised() {
        assert!(managed_by(Path::new("/usr/bin/verun")).is_some());
        assert!(managed_by(Path::new("/nix/store/abc-verun/bin/verun")).is_some());
        assert!(
            managed_by(Path::new("/usr/binx/verun")).is_none()
                || Path::new("/var/lib/dpkg").exists()
        );
    }

    #[test]
    fn elf_check_wants_this_machine() {
        let mut head = vec![0u8; 64];
        head[..6].copy_from_slice(b"\x7fELF\x02\x01");
        head[16] = 2;
        head[18..20].copy_from_slice(&183u16.to_le_bytes());
        let url = HttpUrl::parse("https://example.com/verun").unwrap();
        let arm = Target::for_arch("aarch64").unwrap();
        let x86 = Target::for_arch("x86_64").unwrap();
        assert!(check_elf(&head, arm, &url).is_ok());
        assert_eq!(check_elf(&head, x86, &url).unwrap_err().exit_code(), 77);
        assert_eq!(
            check_elf(b"#!/bin/sh\n", arm, &url)
                .unwrap_err()
                .exit_code(),
            77
        );
    }

    #[test]
    fn the_signed_version_is_read_from_the_trusted_comment() {
        assert_eq!(
            signed_version("timestamp:1\tfile:SHA256SUMS\tversion:0.2.0"),
            Some("0.2.0")
        );
        assert_eq!(signed_version("timestamp:1\tfile:SHA256SUMS"), None);
    }
}
