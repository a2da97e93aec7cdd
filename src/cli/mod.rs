//! Command-line definitions (clap derive). Parsing only: `plan` validates and gives meaning.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod app;
mod audit;
mod check;
mod fetch;
mod key;
pub mod launcher;
pub mod manpage;
mod run;
mod self_update;
mod shared;

/// The exit-code table shown at the end of `--help` (kept equal to `error::EXIT_CODES` by a
/// test).
pub const EXIT_HELP: &str = "\
Exit status:
  0      success; for `run`, the payload's own exit status is passed through instead
  64     usage error: bad flags, malformed hex, http:// without --allow-http
  69     download failed: DNS, TLS, HTTP status, truncated body, timeout, --max-size exceeded
  74     local I/O error
  77     refused: bad or missing signature, checksum mismatch, no trust anchor, unknown,
         out-of-scope or revoked key, file: mismatch, rollback, lock drift, legacy
         without --allow-legacy
  78     malformed configuration: key store, lockfile
  128+N  `run` only: the payload was killed by signal N

Environment: VERUN_HOME (state directory), NO_COLOR, CI (no progress bars),
HTTPS_PROXY/HTTP_PROXY/NO_PROXY, SSL_CERT_FILE (extra root certificates).";

/// verun: download, verify, then run: a safe replacement for `curl -fsSL URL | sh`.
#[derive(Parser, Debug)]
#[command(
    name = "verun",
    version,
    about = "Download, verify (minisign, OpenPGP or SSH signature and/or SHA-256/SHA-512), then run: a safe `curl | sh`",
    long_about = "Download a script or binary together with its detached signature (minisign, \
OpenPGP or SSH) and/or checksum, refuse anything whose verification fails, and run (or save) \
exactly the verified bytes.\n\nAt least one trust anchor is required: a signature under a key given with \
--key (or a trusted key from `verun key`), a pinned --sha256 or --sha512, a lockfile entry, a signed \
checksum list, or an unsigned checksum list from another origin. Every piece of evidence \
supplied or found must pass.",
    after_help = EXIT_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fetch URL, verify it, then execute exactly the verified bytes.
    #[command(after_help = EXIT_HELP)]
    Run(RunArgs),
    /// Fetch URL, verify it, then save it atomically at -o PATH.
    #[command(after_help = EXIT_HELP)]
    Fetch(FetchArgs),
    /// Verify a local FILE (default signature FILE.minisig); runs nothing.
    #[command(after_help = EXIT_HELP)]
    Verify(VerifyArgs),
    /// Manage trusted keys (add, list, show, remove, revoke, rotate).
    #[command(long_about = KEY_HELP)]
    Key(KeyArgs),
    /// Re-fetch every locked URL and report drift.
    Audit(AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: String,
    },
    /// Print the man page (roff) to stdout, or write every page with --dir.
    Manpage {
        /// Write verun.1 and one page per subcommand (verun-run.1, verun-key-add.1, ...)
        /// into DIR (created if missing) instead of printing verun.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Replace this verun with the latest (or a given) release, verified under verun's
    /// release key.
    #[command(long_about = SELF_UPDATE_HELP, after_help = EXIT_HELP, disable_version_flag = true)]
    SelfUpdate(SelfUpdateArgs),
}

/// Options shared by run, fetch and verify.
#[derive(Args, Debug, Clone, Default)]
pub struct VerifyOpts {
    /// Trust this public key for this call; repeatable. Any kind, told apart by content:
    /// minisign (inline RW..., never read as a file name, or a .pub file), OpenPGP (a
    /// certificate or keyring file, armored or binary: any certificate in it may sign), SSH
    /// (an inline `ssh-ed25519 AAAA...` line, a .pub or an allowed_signers file), or an
    /// https:// URL of an OpenPGP certificate (counted only with --fingerprint).
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// OpenPGP: only certificates with this primary-key fingerprint count (40 hex digits
    /// for v4, 64 for v6; spaces allowed); repeatable.
    #[arg(long = "fingerprint", value_name = "HEX")]
    pub fingerprints: Vec<String>,
    /// Where the payload's detached signature is (URL or path): minisign, OpenPGP (binary
    /// or armored) or SSH, told apart by content; default: for each kind of key in play its
    /// sibling, <URL>.minisig, <URL>.asc then <URL>.sig (verify: next to FILE).
    #[arg(long, value_name = "LOC")]
    pub sig: Option<String>,
    /// A Sigstore bundle for the payload (URL or path; JSON, v0.1 to v0.3, message signature
    /// or DSSE); default, when a Sigstore signer is in play: <URL>.sigstore.json, then
    /// <URL>.sigstore.
    #[arg(long, value_name = "LOC")]
    pub bundle: Option<String>,
    /// Sigstore: the identity (certificate SAN) that must have signed, exactly.
    #[arg(long, value_name = "ID")]
    pub cert_identity: Option<String>,
    /// Sigstore: a regular expression the whole SAN must match (instead of --cert-identity).
    #[arg(long, value_name = "RE", conflicts_with = "cert_identity")]
    pub cert_identity_regexp: Option<String>,
    /// Sigstore: the OIDC issuer the certificate must carry; required with an identity.
    #[arg(long, value_name = "URL")]
    pub cert_oidc_issuer: Option<String>,
    /// Sigstore: trust what GitHub Actions runs in OWNER/NAME signed (the certificate's
    /// Source Repository URI, whichever workflow signed); without a bundle, the
    /// attestations are looked up by the payload's digest ($VERUN_GITHUB_API, GITHUB_TOKEN).
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// Sigstore trusted_root.json; default: the public-good root compiled in (and GitHub's
    /// for --github-repo).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Pinned SHA-256 of the payload (64 hex digits, any case).
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
    /// Pinned SHA-512 of the payload (128 hex digits, any case), hashed in the same pass.
    #[arg(long, value_name = "HEX")]
    pub sha512: Option<String>,
    /// A checksum list (URL or path): `sha256sum`/`sha512sum` (GNU), BSD (`SHA256 (NAME) =
    /// HEX`) or `openssl dgst` output, SHA-256 or SHA-512, or one bare digest (tool.sha256);
    /// the entry is chosen by the payload's file name.
    #[arg(long, value_name = "LOC")]
    pub checksums: Option<String>,
    /// The checksum list's detached signature (URL or path); default: the list's siblings
    /// as for --sig. A cleartext-signed list (-----BEGIN PGP SIGNED MESSAGE-----) carries
    /// its own.
    #[arg(long, value_name = "LOC", requires = "checksums")]
    pub checksums_sig: Option<String>,
    /// Lockfile (TOML): record new URLs, refuse locked URLs whose bytes changed.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// With --lock: refuse URLs that are not already locked.
    #[arg(long, requires = "lock")]
    pub frozen: bool,
    /// With --lock: re-verify with the usual evidence and rewrite the entry.
    #[arg(long, requires = "lock", conflicts_with = "frozen")]
    pub update_lock: bool,
    /// The name the trusted comment's file: field must carry; default: the URL's last segment.
    #[arg(long, value_name = "NAME")]
    pub expect_file: Option<String>,
    /// UNSAFE: accept legacy (non-prehashed, `Ed`) minisign signatures.
    #[arg(long)]
    pub allow_legacy: bool,
    /// UNSAFE: accept a signed timestamp older than one already accepted (rollback).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// UNSAFE: permit http:// URLs (verification is still required).
    #[arg(long)]
    pub allow_http: bool,
    /// Refuse payloads larger than this (suffixes K, M, G; default 1G).
    #[arg(long, value_name = "BYTES", default_value = "1G")]
    pub max_size: String,
    /// Overall deadline for each download, and stall deadline between bytes (seconds).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Extra root certificates (PEM); SSL_CERT_FILE is read too.
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// No progress or notes on stderr (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

impl VerifyOpts {
    /// The options as the library takes them.
    pub fn plan_options(&self) -> verun::plan::PlanOptions {
        verun::plan::PlanOptions {
            keys: self.keys.clone(),
            fingerprints: self.fingerprints.clone(),
            sig: self.sig.clone(),
            bundle: self.bundle.clone(),
            cert_identity: self.cert_identity.clone(),
            cert_identity_regexp: self.cert_identity_regexp.clone(),
            cert_oidc_issuer: self.cert_oidc_issuer.clone(),
            github_repo: self.github_repo.clone(),
            trusted_root: self.trusted_root.clone(),
            sha256: self.sha256.clone(),
            sha512: self.sha512.clone(),
            checksums: self.checksums.clone(),
            checksums_sig: self.checksums_sig.clone(),
            lock: self.lock.clone(),
            frozen: self.frozen,
            update_lock: self.update_lock,
            expect_file: self.expect_file.clone(),
            allow_legacy: self.allow_legacy,
            allow_downgrade: self.allow_downgrade,
            allow_http: self.allow_http,
            max_size: self.max_size.clone(),
            timeout: self.timeout,
            cacert: self.cacert.clone(),
            quiet: self.quiet,
            output: None,
            mode: None,
        }
    }
}

/// `verun run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The https:// URL of the script or binary.
    pub url: String,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub verify: VerifyOpts,
    /// The payload sees only PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, LC_*, TZ, TMPDIR (plus --env).
    ///
    /// Before the payload starts, verun re-executes itself with exactly that environment, so
    /// that the variables it was started with are no longer in its memory nor in
    /// /proc/<verun>/environ (which a payload running as root could read). No tool can hide
    /// what its parent holds: the environment of the shell or CI runner that started verun
    /// stays readable in /proc to a root payload, and verun's command line (--env
    /// NAME=VALUE included) is readable by everyone on the machine. Pass secrets by name
    /// (--env NAME), never as values on the command line.
    #[arg(long)]
    pub env_clean: bool,
    /// Pass NAME (from verun's environment) or set NAME=VALUE for the payload; repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Run the payload under PROG instead of its shebang.
    #[arg(long, value_name = "PROG")]
    pub interpreter: Option<String>,
    /// Print the verified script to stderr before running it.
    #[arg(long)]
    pub show: bool,
    /// Ask y/N on the terminal before running; refuse when there is no terminal.
    #[arg(long)]
    pub confirm: bool,
    /// Show what changed since the last accepted run of this URL (from the cache), with
    /// added lines that read the environment or reach the network marked `+!`.
    #[arg(long)]
    pub diff: bool,
    /// Run a locked URL from the cache, without the network (needs --lock and a cached
    /// copy whose SHA-256 is the locked one).
    #[arg(long, requires = "lock", conflicts_with_all = ["update_lock", "sig", "checksums", "checksums_sig"])]
    pub offline: bool,
    /// Write nothing to disk but the temporary payload: no cache, no rollback state, no
    /// key-use counts (the lockfile, when given, is still written).
    #[arg(long)]
    pub no_cache: bool,
    /// Verify, then --show, --diff and --lock as asked, and exit 0 without running anything.
    /// Records no rollback state, cache or key-use count: the next real run's --diff
    /// compares with what last really ran.
    #[arg(long, conflicts_with = "confirm")]
    pub dry_run: bool,
    /// Run the payload in a capsule: it may write only below --allow-write DIRs and its own
    /// temporary directory, gains no privileges (no_new_privs), and sees only a clean
    /// environment. MODE: strict (default: refused, 77, when the kernel cannot build it) or
    /// best-effort (runs, and says what was skipped).
    ///
    /// Linux only: Landlock for files (and --allow-connect), user and network namespaces for
    /// --no-network. A strict capsule is probed before anything is downloaded. It does not
    /// stop the payload from reading your files (under --no-network it cannot send them
    /// anywhere; UDP is not covered by --allow-connect), from writing through descriptors it
    /// inherited (a redirected stdout), what other processes of your user do for it, or
    /// kernel bugs.
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "strict", require_equals = true)]
    pub capsule: Option<String>,
    /// With --capsule: a directory the payload may write below; repeatable.
    #[arg(long, value_name = "DIR", requires = "capsule")]
    pub allow_write: Vec<PathBuf>,
    /// With --capsule: no network at all (new user and network namespaces).
    #[arg(long, requires = "capsule", conflicts_with = "allow_connect")]
    pub no_network: bool,
    /// With --capsule: TCP connections only to this port (Landlock ABI 4+); repeatable.
    #[arg(long, value_name = "PORT", requires = "capsule")]
    pub allow_connect: Vec<u16>,
    /// Arguments for the payload (after --).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// `verun fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The https:// URL to download.
    pub url: String,
    /// Where to save the verified file (atomically; nothing is left on failure).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
    /// File mode of the saved file, octal (default 0644; 0755 for ELF and #! payloads).
    #[arg(long, value_name = "OCTAL")]
    pub mode: Option<String>,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub verify: VerifyOpts,
    /// Print one JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `verun verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The local file to verify.
    pub file: PathBuf,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub verify: VerifyOpts,
    /// Print one JSON report on stdout.
    #[arg(long)]
    pub json: bool,
    /// For a cleartext-signed FILE (-----BEGIN PGP SIGNED MESSAGE-----): write the signed
    /// text, once verified, to PATH (atomically; `-` for stdout).
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The long help of `verun key`.
pub const KEY_HELP: &str = "\
Manage the store of trusted signers, so that `verun run URL` needs no --key: minisign keys, \
OpenPGP certificates (pinned by fingerprint) and SSH keys.

A store key counts only for URLs under one of its scopes: a URL prefix with scheme, host, \
port and a path that ends on a segment boundary (https://example.com/dl covers \
https://example.com/dl/x.sh, not https://example.com/dlx.sh). Hosts must match exactly; \
`.`/`..` segments (also percent-encoded) are never covered; scopes are https://, or http:// \
for localhost and 127.x.x.x only. Expired, revoked and rotated-out keys are refused (77); a \
revoked key is refused even when given with --key.

verun's own release key is built in, trusted for \
https://github.com/verun-dev/verun/releases/download/; it cannot be removed, only revoked.

The store lives in VERUN_HOME/config (or the platform's config directory): store.toml with \
every key and its metadata, and keys/NAME.pub (minisign keys) for use with `minisign -p`. It must be private \
to you (directories 0700, files 0600, no symlinks), or verun refuses to load it (78).";

/// `verun key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// The key command.
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// `verun key ...`.
#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Trust a key for URLs under the given prefixes (or everywhere with --global).
    Add {
        /// A name for the key (letters, digits, `-`, `_`, `.`).
        name: String,
        /// The public key itself: minisign base64 (RW...) or one SSH public-key line.
        #[arg(
            long,
            value_name = "KEY",
            conflicts_with = "file",
            required_unless_present_any = ["file", "cert_identity", "cert_identity_regexp", "github_repo"]
        )]
        pubkey: Option<String>,
        /// The key file: a minisign .pub, an OpenPGP certificate or keyring (.asc, .gpg),
        /// an SSH .pub.
        #[arg(long, value_name = "KEYFILE")]
        file: Option<PathBuf>,
        /// OpenPGP: the primary-key fingerprint of the certificate to trust (required when
        /// the file holds several).
        #[arg(long, value_name = "HEX", requires = "file")]
        fingerprint: Option<String>,
        /// URL prefix the key is trusted for (https://host[:port]/path/; http:// only for
        /// localhost); repeatable.
        #[arg(long, value_name = "URL-PREFIX", num_args = 1.., required_unless_present = "global", conflicts_with = "global")]
        scope: Vec<String>,
        /// Trust the key for every URL (warned about: prefer --scope).
        #[arg(long)]
        global: bool,
        /// Stop trusting the key after this day (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        expires: Option<String>,
        /// Sigstore: trust this signer identity (certificate SAN, exactly) instead of a key.
        #[arg(long, value_name = "ID", conflicts_with_all = ["pubkey", "file"])]
        cert_identity: Option<String>,
        /// Sigstore: a regular expression the whole SAN must match (instead of --cert-identity).
        #[arg(long, value_name = "RE", conflicts_with_all = ["pubkey", "file", "cert_identity"])]
        cert_identity_regexp: Option<String>,
        /// Sigstore: the OIDC issuer of the identity (required with it).
        #[arg(long, value_name = "URL")]
        cert_oidc_issuer: Option<String>,
        /// Sigstore: trust what GitHub Actions runs in OWNER/NAME signed.
        #[arg(long, value_name = "OWNER/NAME", conflicts_with_all = ["pubkey", "file"])]
        github_repo: Option<String>,
    },
    /// List trusted keys.
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show one key with its metadata.
    Show {
        /// The key's name.
        name: String,
    },
    /// Forget a key (it is no longer trusted, and no longer remembered).
    Remove {
        /// The key's name.
        name: String,
    },
    /// Revoke a key: remembered, and refused everywhere, even with --key.
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Replace NAME's key with a new one (of any kind) signed by the current key.
    ///
    /// The new key inherits the scopes and expiry; the old one is kept in the history as
    /// rotated-out and is no longer trusted.
    Rotate {
        /// The key's name.
        name: String,
        /// The new public key file: a minisign .pub, an OpenPGP certificate, an SSH .pub.
        #[arg(long = "new", value_name = "NEW.pub")]
        new: PathBuf,
        /// The current key's signature of that file: a .minisig (prehashed, file: naming
        /// it), an OpenPGP detached signature, or an SSH signature (namespace file).
        #[arg(long, value_name = "NEW.pub.minisig")]
        sig: PathBuf,
    },
}

impl AuditArgs {
    /// The options as the library takes them.
    pub fn audit_options(&self) -> verun::audit::AuditOptions {
        verun::audit::AuditOptions {
            lockfile: self.lockfile.clone(),
            keys: self.keys.clone(),
            timeout: self.timeout,
            cacert: self.cacert.clone(),
            allow_http: self.allow_http,
        }
    }
}

/// `verun audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The lockfile to audit.
    pub lockfile: PathBuf,
    /// A signer's public key (any kind, as for `run --key`), besides the key store;
    /// repeatable.
    #[arg(short = 'k', long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Overall deadline for each download, and stall deadline between bytes (seconds).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Extra root certificates (PEM); SSL_CERT_FILE is read too.
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// Permit http:// URLs in the lockfile.
    #[arg(long)]
    pub allow_http: bool,
}

impl KeyCommand {
    /// The key command as the library takes it.
    pub fn op(self) -> verun::store::KeyOp {
        use verun::store::KeyOp;
        match self {
            KeyCommand::Add {
                name,
                pubkey,
                file,
                fingerprint,
                scope,
                global,
                expires,
                cert_identity,
                cert_identity_regexp,
                cert_oidc_issuer,
                github_repo,
            } => KeyOp::Add {
                name,
                pubkey,
                file,
                fingerprint,
                scope,
                global,
                expires,
                sigstore: verun::store::SigstoreSpec {
                    identity: cert_identity,
                    identity_regexp: cert_identity_regexp,
                    issuer: cert_oidc_issuer,
                    github_repo,
                },
            },
            KeyCommand::List { json } => KeyOp::List { json },
            KeyCommand::Show { name } => KeyOp::Show { name },
            KeyCommand::Remove { name } => KeyOp::Remove { name },
            KeyCommand::Revoke { name } => KeyOp::Revoke { name },
            KeyCommand::Rotate { name, new, sig } => KeyOp::Rotate { name, new, sig },
        }
    }
}

/// The long help of `verun self-update`.
pub const SELF_UPDATE_HELP: &str = "\
Replace this verun binary with the latest release (or --version V), verified exactly as \
`verun fetch` verifies anything: the release's SHA256SUMS must be signed by verun's release \
key (the built-in key, or the key it was rotated to with `verun key rotate verun-release`; \
a revoked or rotated-out key is refused), its signed trusted comment must name file:SHA256SUMS \
and carry the release's version:, the binary's SHA-256 must match its entry (and its own \
signature, when published), and the signed timestamps must not be older than ones accepted \
before. A release older than this verun is refused unless --allow-downgrade.

Release layout: BASE/download/vVERSION/{SHA256SUMS,SHA256SUMS.minisig,verun-TARGET,\
verun-TARGET.minisig}. The latest version is found by following BASE/latest's redirect to \
.../tag/vVERSION (GitHub does this); that answer is only a hint, checked against the signed \
version:. BASE is https://github.com/verun-dev/verun/releases, or VERUN_RELEASE_BASE \
(https:// only; a mirror or a test server); VERUN_RELEASE_KEY_NAME names the store key \
that signs releases there (default verun-release).

The new binary is written next to the running one (same directory, same permissions), \
checked to be an ELF for this machine, and renamed over it in one step: on any failure the \
installed binary is untouched. Refused: a binary in a package manager's directory (/usr/bin, \
/bin, /usr/lib, /nix/store, ...) or owned by a dpkg/rpm package (77), a directory verun cannot \
write to (74).";

/// `verun self-update`.
#[derive(Args, Debug)]
pub struct SelfUpdateArgs {
    /// Install this release (e.g. 0.2.0) instead of the latest.
    #[arg(long = "version", value_name = "V")]
    pub version: Option<String>,
    /// Only report whether a newer release is available (verified); change nothing.
    #[arg(long)]
    pub check: bool,
    /// UNSAFE: accept a release older than this verun, or signed before one already accepted.
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Overall deadline for each download, and stall deadline between bytes (seconds).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Extra root certificates (PEM); SSL_CERT_FILE is read too.
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// No notes on stderr (errors and warnings are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}
