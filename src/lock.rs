//! The lockfile (`--lock FILE`): the exact bytes each URL was verified to have.
//!
//! A lockfile turns a one-off check into continuous protection: the first CI run after a
//! published script changes fails, even when whoever changed it also controls the signature
//! host. It is TOML, one table per URL, sorted by URL, meant to be committed and reviewed:
//!
//! ```toml
//! # verun lockfile: the exact bytes each URL was verified to have.
//! # Written by `verun run|fetch URL --lock FILE`; checked by `verun audit FILE`.
//! # One table per URL, sorted by URL. Review changes to this file like code.
//! version = 1
//!
//! ["https://example.com/install.sh"]
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! size = 4096
//! signer = "minisign:E7620F1842B4E81F"
//! trusted_comment = "timestamp:1732898527\tfile:install.sh\thashed"
//! verified_at = 2024-11-29T16:42:07Z
//! ```
//!
//! `signer` (`KIND:ID`, here `minisign:KEYID`; 0.1 lockfiles wrote `key_id = "KEYID"`,
//! which is still read) and `trusted_comment` are present when a signature verified (the
//! signer and what it signed); `checksums_signer` and `checksums_trusted_comment` when a signed
//! checksum list vouched for the bytes (its signer, and its trusted comment with the signed
//! time); an entry made from a pinned `--sha256` or an unsigned list has none of them.
//! `verified_at` is when verun recorded the entry (UTC).
//!
//! Policy (SPEC "What counts as evidence", issue 4):
//! - **New URL**: verified with the usual evidence, then recorded (for `run`, after
//!   `--confirm` and before executing; for `fetch`, before the file appears at `-o`).
//! - **Locked URL**: the entry's SHA-256 is a trust anchor (a lock entry alone suffices)
//!   *and* a pin every other piece of evidence is checked alongside: different bytes are
//!   refused as lock drift (77), even under a valid signature. The file is not rewritten.
//! - **`--update-lock`**: the entry is not used; the payload must verify with the usual
//!   evidence (another anchor is required), and the entry is rewritten.
//! - **`--frozen`**: a URL that is not locked is refused (77) before anything is downloaded.
//! - **Malformed lockfile**: 78, and the file is left as it was.
//! - **`run --offline`** runs a locked URL from the cache (see `cache`): the cached bytes
//!   are streamed through the verifier against the entry's SHA-256, with no network.
//! - **`verun verify FILE`** takes no `--lock`: entries are keyed by URL, and a local file
//!   has none (usage error, 64, rather than silently ignoring evidence the user gave).
//! - Writes are atomic and serialised by an exclusive lock on a hidden `.NAME.lck` next to
//!   the lockfile (created on first write, left in place), with load-modify-write under the
//!   lock, so concurrent `verun run --lock same.lock` calls for different URLs lose nothing.
//!   A concurrent recording of *different* bytes for the same URL is refused as drift.
//!   Comments other than the header are not preserved when verun rewrites the file; a
//!   locked URL that still matches never causes a rewrite.
//! - **Ownership** (issue 11, item 8): the lockfile is a trust anchor, so it and its
//!   `.NAME.lck` follow `crate::private_fs`'s rules: owned by you, not writable by group or
//!   others (0644 is the usual mode), not a symlink (never written through), and not in a
//!   directory everyone may write to without the sticky bit; otherwise 78 before anything
//!   is downloaded. A `.NAME.lck` another process keeps locked is waited for at most
//!   `crate::private_fs::LOCK_WAIT` (then 74).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::checksums::parse_hex32;
use crate::error::{Error, Result};
use crate::location::HttpUrl;
use crate::minisig::KeyId;
use crate::plan::{LockOpts, Plan, Subject};
use crate::private_fs::{self, LockKind, Problem, Rules, write_atomic};
use crate::term::sanitize;
use crate::time::{now_secs, rfc3339_utc};
use crate::verify::{Pin, Report};

/// How lockfiles are named in refusals.
const LOCKFILE_RULES: Rules<'static> = Rules {
    what: "the lockfile",
    refusing: "refusing to trust it",
    hint: lockfile_hint,
};
/// How the `.NAME.lck` lock file next to a lockfile is named in refusals.
const LCK_RULES: Rules<'static> = Rules {
    what: "the lock file",
    refusing: "refusing to use it",
    hint: lockfile_hint,
};

fn lockfile_hint(path: &Path, problem: &Problem) -> String {
    match problem {
        Problem::Symlink => format!(
            "a lockfile is a trust anchor and verun never writes through a link: replace {} with the file itself",
            path.display()
        ),
        Problem::Owner { .. } => format!(
            "a lockfile is a trust anchor: whoever owns {} decides what verun accepts; chown it to yourself (uid {}) after reviewing it, or remove it if it is a stray lock file",
            path.display(),
            private_fs::euid()
        ),
        _ => private_fs::default_hint(path, problem),
    }
}

/// The lockfile format version verun writes and reads.
pub const FORMAT_VERSION: i64 = 1;
/// Largest lockfile read (a lockfile is a list of URLs, not a data store).
pub const MAX_LOCKFILE_BYTES: u64 = 16 << 20;

const HEADER: &str = "\
# verun lockfile: the exact bytes each URL was verified to have.
# Written by `verun run|fetch URL --lock FILE`; checked by `verun audit FILE`.
# One table per URL, sorted by URL. Review changes to this file like code.
";

/// One locked URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// SHA-256 of the payload (lower-case hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The signer that verified the payload's signature, as `KIND:ID`
    /// (`minisign:E7620F1842B4E81F`). 0.1 lockfiles wrote `key_id = "HEX"`, read as
    /// `minisign:HEX`.
    pub signer: Option<String>,
    /// The signature's trusted comment, when a signature verified.
    pub trusted_comment: Option<String>,
    /// The checksum list's signer (`KIND:ID`), when a signed checksum list vouched for the
    /// payload.
    pub checksums_signer: Option<String>,
    /// That list signature's trusted comment (with its signed `timestamp:`).
    pub checksums_trusted_comment: Option<String>,
    /// When the entry was recorded (RFC 3339, UTC).
    pub verified_at: String,
}

impl Entry {
    /// The entry for a verified payload, recorded now.
    pub fn from_report(report: &Report) -> Entry {
        Entry {
            sha256: report.sha256.clone(),
            size: report.size,
            signer: report.signature.as_ref().map(|s| s.signer.clone()),
            trusted_comment: report.signature.as_ref().map(|s| s.trusted_comment.clone()),
            checksums_signer: report
                .checksums_signature
                .as_ref()
                .map(|s| s.signer.clone()),
            checksums_trusted_comment: report
                .checksums_signature
                .as_ref()
                .map(|s| s.trusted_comment.clone()),
            verified_at: rfc3339_utc(now_secs()),
        }
    }

    /// The digest as bytes (validated when the file was parsed).
    pub fn digest(&self) -> [u8; 32] {
        parse_hex32(&self.sha256).unwrap_or([0; 32])
    }

    /// The minisign key that signed the payload, when the signer is one.
    pub fn minisign_key(&self) -> Option<KeyId> {
        self.signer
            .as_deref()
            .and_then(|s| s.strip_prefix(MINISIGN))
            .and_then(KeyId::parse_hex)
    }
}

use crate::scheme::{MINISIGN, minisign_signer_id as signer_id};

/// A `signer` value, checked: `minisign:` and 16 hex digits, `openpgp:` and a 40- or
/// 64-hex-digit fingerprint (normalised to upper-case hex), or `ssh:SHA256:` and 43
/// base64 characters, or `sigstore:` and what the Sigstore signer names.
pub fn parse_signer(s: &str) -> Option<String> {
    let (kind, id) = s.split_once(':')?;
    match kind {
        "minisign" => KeyId::parse_hex(id).is_some().then(|| signer_id(id)),
        "openpgp" => (matches!(id.len(), 40 | 64) && id.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| format!("openpgp:{}", id.to_ascii_uppercase())),
        "ssh" => {
            let b64 = id.strip_prefix("SHA256:")?;
            (b64.len() == 43
                && b64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'))
            .then(|| s.to_string())
        }
        // `ISSUER|IDENTITY`, `ISSUER|regexp:RE`, `ISSUER|repo:OWNER/NAME`, `key:SHA256:HEX`:
        // what the Sigstore signer names, read back the way the store reads it.
        "sigstore" => {
            if let Some(hex) = id.strip_prefix("key:SHA256:") {
                return (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| format!("sigstore:key:SHA256:{}", hex.to_ascii_lowercase()));
            }
            crate::sigstore::Trust::from_text(id)
                .ok()
                .filter(|t| !matches!(t, crate::sigstore::Trust::Key(_)))
                .map(|t| format!("sigstore:{}", t.id()))
        }
        _ => None,
    }
}

/// A parsed lockfile: entries by URL (as written in the file). Lookups go through
/// [`Lockfile::key_of`], which matches on the canonical URL, so an entry made under one
/// spelling of a URL (`https://127.1/x`, or a 0.1 lockfile's `https://Example.com/x`) is
/// found under any other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lockfile {
    /// The entries, sorted by URL.
    pub entries: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    sha256: String,
    size: u64,
    signer: Option<String>,
    /// 0.1's spelling of a minisign `signer`.
    key_id: Option<String>,
    trusted_comment: Option<String>,
    checksums_signer: Option<String>,
    checksums_trusted_comment: Option<String>,
    verified_at: toml::value::Datetime,
}

impl Lockfile {
    /// Parse lockfile text; `path` names it in errors. Anything unexpected is a
    /// configuration error (78).
    pub fn parse(text: &str, path: &Path) -> Result<Lockfile> {
        let bad = |why: String| {
            Error::config(format!("malformed lockfile {}: {why}", path.display()))
                .hint("fix or restore the file (it is left untouched), e.g. from version control")
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let msg = sanitize(e.message().trim());
            bad(match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            })
        })?;
        let mut entries = BTreeMap::new();
        let mut canonical_keys = BTreeMap::new();
        let mut version = None;
        for (key, value) in table {
            if key == "version" {
                version = value.as_integer();
                if version != Some(FORMAT_VERSION) {
                    return Err(bad(format!(
                        "version {} is not supported (this verun reads version {FORMAT_VERSION})",
                        sanitize(&value.to_string())
                    )));
                }
                continue;
            }
            let url = HttpUrl::parse(&key).map_err(|_| {
                bad(format!(
                    "[{}] is not an http(s) URL (each table is one locked URL)",
                    sanitize(&key)
                ))
            })?;
            let what = || format!("[\"{}\"]", url);
            let raw: RawEntry = value.try_into().map_err(|e: toml::de::Error| {
                bad(format!("{}: {}", what(), sanitize(e.message().trim())))
            })?;
            let sha = raw.sha256.to_ascii_lowercase();
            if parse_hex32(&sha).is_none() {
                return Err(bad(format!("{}: sha256 is not 64 hex digits", what())));
            }
            if let Some(id) = &raw.key_id
                && KeyId::parse_hex(id).is_none()
            {
                return Err(bad(format!(
                    "{}: key_id {} is not 16 hex digits",
                    what(),
                    sanitize(id)
                )));
            }
            if raw.key_id.is_some() && raw.signer.is_some() {
                return Err(bad(format!(
                    "{}: both key_id (0.1) and signer name the signer",
                    what()
                )));
            }
            let mut signers = [None, None];
            for (slot, (field, value)) in signers.iter_mut().zip([
                ("signer", &raw.signer),
                ("checksums_signer", &raw.checksums_signer),
            ]) {
                if let Some(v) = value {
                    *slot = Some(parse_signer(v).ok_or_else(|| {
                        bad(format!(
                            "{}: {field} {} is not KIND:ID (minisign:KEYID, openpgp:FINGERPRINT or ssh:SHA256:...)",
                            what(),
                            sanitize(v)
                        ))
                    })?);
                }
            }
            let [signer, checksums_signer] = signers;
            let signer = signer.or_else(|| raw.key_id.as_deref().map(signer_id));
            if raw.verified_at.date.is_none() {
                return Err(bad(format!("{}: verified_at has no date", what())));
            }
            if let Some(other) = canonical_keys.insert(url.as_str().to_string(), key.clone()) {
                return Err(bad(format!(
                    "[\"{}\"] and [\"{}\"] are the same URL",
                    sanitize(&other),
                    sanitize(&key)
                )));
            }
            entries.insert(
                key,
                Entry {
                    sha256: sha,
                    size: raw.size,
                    signer,
                    trusted_comment: raw.trusted_comment,
                    checksums_signer,
                    checksums_trusted_comment: raw.checksums_trusted_comment,
                    verified_at: raw.verified_at.to_string(),
                },
            );
        }
        if version.is_none() && !entries.is_empty() {
            return Err(bad(format!("no `version = {FORMAT_VERSION}` line")));
        }
        Ok(Lockfile { entries })
    }

    /// The key of `url`'s entry, whichever spelling of the URL it was recorded under.
    pub fn key_of(&self, url: &HttpUrl) -> Option<&String> {
        if self.entries.contains_key(url.as_str()) {
            return self.entries.get_key_value(url.as_str()).map(|(k, _)| k);
        }
        self.entries
            .keys()
            .find(|k| HttpUrl::parse(k).is_ok_and(|u| u.as_str() == url.as_str()))
    }

    /// `url`'s entry, whichever spelling of the URL it was recorded under.
    pub fn entry_of(&self, url: &HttpUrl) -> Option<&Entry> {
        self.key_of(url).and_then(|k| self.entries.get(k))
    }

    /// The file's text: header comment, `version`, then one table per URL, sorted.
    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        out.push_str(&format!("version = {FORMAT_VERSION}\n"));
        for (url, e) in &self.entries {
            out.push('\n');
            out.push_str(&format!("[{}]\n", toml_string(url)));
            out.push_str(&format!("sha256 = {}\n", toml_string(&e.sha256)));
            out.push_str(&format!("size = {}\n", e.size));
            if let Some(k) = &e.signer {
                out.push_str(&format!("signer = {}\n", toml_string(k)));
            }
            if let Some(tc) = &e.trusted_comment {
                out.push_str(&format!("trusted_comment = {}\n", toml_string(tc)));
            }
            if let Some(k) = &e.checksums_signer {
                out.push_str(&format!("checksums_signer = {}\n", toml_string(k)));
            }
            if let Some(tc) = &e.checksums_trusted_comment {
                out.push_str(&format!(
                    "checksums_trusted_comment = {}\n",
                    toml_string(tc)
                ));
            }
            out.push_str(&format!("verified_at = {}\n", e.verified_at));
        }
        out
    }

    /// Read and parse `path`; `Ok(None)` when it does not exist. The file must follow
    /// `crate::private_fs`'s rules (yours, not writable by others, not a symlink, not in a
    /// directory everyone may write to without the sticky bit): it is a trust anchor (78).
    pub fn load(path: &Path) -> Result<Option<Lockfile>> {
        let Some(bytes) = private_fs::read(path, MAX_LOCKFILE_BYTES, &LOCKFILE_RULES)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::config(format!("malformed lockfile {}: not UTF-8", path.display()))
                .hint("fix or restore the file (it is left untouched), e.g. from version control")
        })?;
        Lockfile::parse(text, path).map(Some)
    }
}

/// A TOML basic string: `"..."` with `\\`, `\"` and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What happened to the lockfile when a verified payload was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The URL was locked to these bytes already: the file was not rewritten.
    Unchanged,
    /// A new entry was added.
    Added,
    /// An existing entry was rewritten (`--update-lock`).
    Updated,
}

/// The lockfile as one `run`/`fetch` call uses it: loaded and checked before anything is
/// downloaded, recorded into after the payload verified.
#[derive(Debug)]
pub struct LockCheck {
    opts: LockOpts,
    url: HttpUrl,
    entry: Option<Entry>,
}

impl LockCheck {
    /// Load the lockfile for `plan` (when `--lock` was given) and apply `--frozen`.
    /// 78 when it is malformed, 77 when `--frozen` and the URL is not locked, 64 for a
    /// local file subject.
    pub fn open(plan: &Plan) -> Result<Option<LockCheck>> {
        let Some(opts) = &plan.lock else {
            return Ok(None);
        };
        let url = match &plan.subject {
            Subject::Url(u) => u.clone(),
            Subject::File(_) => {
                return Err(Error::usage("--lock applies to URLs (run, fetch), not to local files")
                    .hint("lockfile entries are keyed by URL; verify a local file with --key, --sha256 or --checksums"));
            }
        };
        let file = Lockfile::load(&opts.path)?.unwrap_or_default();
        let entry = file.entry_of(&url).cloned();
        if opts.frozen && entry.is_none() {
            return Err(Error::refused_for(crate::error::Reason::NotLocked, format!(
                "--frozen: {} is not locked in {}; nothing was downloaded",
                url,
                opts.path.display()
            ))
            .hint("lock it first without --frozen (verun run URL --lock FILE with the usual evidence), and commit the lockfile"));
        }
        Ok(Some(LockCheck {
            opts: opts.clone(),
            url,
            entry,
        }))
    }

    /// The lockfile path.
    pub fn path(&self) -> &Path {
        &self.opts.path
    }

    /// The entry for this URL, if it is locked.
    pub fn entry(&self) -> Option<&Entry> {
        self.entry.as_ref()
    }

    /// The pins the verifier must check: the entry as a trust anchor, unless
    /// `--update-lock` asked to re-verify with the usual evidence instead.
    pub fn pins(&self) -> Vec<Pin> {
        match (&self.entry, self.opts.update) {
            (Some(e), false) => vec![self.pin(e)],
            _ => Vec::new(),
        }
    }

    /// The lock entry as a pin: a trust anchor the payload must match (`--offline` uses it).
    pub fn pin(&self, e: &Entry) -> Pin {
        Pin {
            digest: crate::checksums::Digest::Sha256(e.digest()),
            source: format!("lockfile {}", self.opts.path.display()),
            anchor: true,
            list_origins: Vec::new(),
            origin: crate::verify::PinOrigin::Lockfile(self.opts.path.clone()),
        }
    }

    /// Record a verified payload: add a new entry, or rewrite it with `--update-lock`.
    /// Load-modify-write under the lock, so concurrent writers lose nothing. A locked URL
    /// that matches is left alone; one locked to other bytes meanwhile is lock drift (77).
    pub fn record(&self, report: &Report) -> Result<Recorded> {
        if !self.opts.update
            && let Some(e) = &self.entry
            && e.sha256 == report.sha256
        {
            return Ok(Recorded::Unchanged);
        }
        let target = self.opts.path.clone();
        let _guard = private_fs::lock(
            &lock_path(&target),
            LockKind::Exclusive,
            Some(0o644),
            &LCK_RULES,
        )?;
        let mut file = Lockfile::load(&target)?.unwrap_or_default();
        let new = Entry::from_report(report);
        // An entry under another spelling of the URL is this URL's: it is updated in place;
        // a new entry is keyed by the canonical URL.
        let key = file
            .key_of(&self.url)
            .cloned()
            .unwrap_or_else(|| self.url.as_str().to_string());
        let outcome = match file.entries.get(&key) {
            Some(old) if !self.opts.update => {
                if old.sha256 == new.sha256 {
                    return Ok(Recorded::Unchanged);
                }
                return Err(crate::verify::drift_error(
                    self.url.given(),
                    &self.opts.path,
                    &old.sha256,
                    &new.sha256,
                ));
            }
            Some(_) => Recorded::Updated,
            None => Recorded::Added,
        };
        file.entries.insert(key, new);
        // The mode it had (load refused one writable by others), else 0644.
        let mode = std::fs::symlink_metadata(&target)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o755
            })
            .unwrap_or(0o644);
        write_atomic(&target, file.render().as_bytes(), mode)?;
        Ok(outcome)
    }
}

/// The hidden lock file next to a lockfile: `DIR/.NAME.lck`.
pub fn lock_path(lockfile: &Path) -> PathBuf {
    let name = lockfile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "verun.lock".into());
    lockfile.with_file_name(format!(".{name}.lck"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Lockfile {
        let mut f = Lockfile::default();
        f.entries.insert(
            "https://b.example/install.sh".into(),
            Entry {
                sha256: "ab".repeat(32),
                size: 12,
                signer: Some("minisign:E7620F1842B4E81F".into()),
                trusted_comment: Some("timestamp:1\tfile:install.sh \"q\" \\ \u{1}".into()),
                checksums_signer: None,
                checksums_trusted_comment: None,
                verified_at: "2024-11-29T16:42:07Z".into(),
            },
        );
        f.entries.insert(
            "https://a.example/x?y=1%22".into(),
            Entry {
                sha256: "cd".repeat(32),
                size: 0,
                signer: None,
                trusted_comment: None,
                checksums_signer: Some("minisign:E7620F1842B4E81F".into()),
                checksums_trusted_comment: Some("timestamp:2\tfile:SHA256SUMS".into()),
                verified_at: "2024-11-29T16:42:08Z".into(),
            },
        );
        f
    }

    #[test]
    fn a_0_1_lockfile_is_read_unchanged_and_its_key_id_is_a_minisign_signer() {
        let text = "version = 1\n\n[\"https://a.example/x.sh\"]\nsha256 = \"".to_string()
            + &"ab".repeat(32)
            + "\"\nsize = 3\nkey_id = \"e7620f1842b4e81f\"\nverified_at = 2024-11-29T16:42:07Z\n";
        let f = Lockfile::parse(&text, Path::new("old.lock")).unwrap();
        let e = &f.entries["https://a.example/x.sh"];
        assert_eq!(e.signer.as_deref(), Some("minisign:E7620F1842B4E81F"));
        assert_eq!(e.minisign_key().unwrap().to_string(), "E7620F1842B4E81F");
        assert!(
            f.render()
                .contains("signer = \"minisign:E7620F1842B4E81F\"")
        );
        // Both spellings at once, or an unknown kind: malformed (78).
        let both = text.replace(
            "size = 3",
            "size = 3\nsigner = \"minisign:E7620F1842B4E81F\"",
        );
        assert_eq!(
            Lockfile::parse(&both, Path::new("x"))
                .unwrap_err()
                .exit_code(),
            78
        );
        let other = text.replace("key_id = \"e7620f1842b4e81f\"", "signer = \"pgp:1234\"");
        assert_eq!(
            Lockfile::parse(&other, Path::new("x"))
                .unwrap_err()
                .exit_code(),
            78
        );
    }

    #[test]
    fn render_parse_round_trip_sorted() {
        let f = sample();
        let text = f.render();
        assert!(text.starts_with("# verun lockfile"));
        let a = text.find("a.example").unwrap();
        let b = text.find("b.example").unwrap();
        assert!(a < b, "sorted by URL:\n{text}");
        assert_eq!(Lockfile::parse(&text, Path::new("t")).unwrap(), f);
        assert_eq!(
            Lockfile::parse("", Path::new("t")).unwrap(),
            Lockfile::default()
        );
    }

    #[test]
    fn malformed_lockfiles_are_config_errors() {
        let good = sample().render();
        let cases = [
            "this is not toml".to_string(),
            good.replace("version = 1", "version = 2"),
            good.replace("version = 1\n", ""),
            good.replace("size = 12", "size = -1"),
            good.replace("size = 12", "size = 12\nextra = 1"),
            good.replace(&"ab".repeat(32), "abc"),
            good.replace("E7620F1842B4E81F", "nothex"),
            good.replace("[\"https://b.example", "[\"ftp://b.example"),
            good.replace(
                "verified_at = 2024-11-29T16:42:07Z",
                "verified_at = \"yesterday\"",
            ),
            format!("{good}\n[\"https://b.example/install.sh\"]\nsize = 1\n"),
            "version = 1\nfoo = 3\n".to_string(),
        ];
        for bad in cases {
            let err = Lockfile::parse(&bad, Path::new("t")).unwrap_err();
            assert_eq!(err.exit_code(), 78, "{bad}");
        }
    }

    #[test]
    fn entries_are_found_under_any_spelling_of_their_url() {
        let f = sample();
        for spelling in [
            "https://b.example/install.sh",
            "HTTPS://B.Example./install.sh",
            "https://b.example:443/install.sh",
        ] {
            let u = HttpUrl::parse(spelling).unwrap();
            assert_eq!(f.entry_of(&u).unwrap().size, 12, "{spelling}");
        }
        let mut g = Lockfile::default();
        g.entries.insert(
            "https://127.1:8443/x.sh".into(),
            f.entries["https://b.example/install.sh"].clone(),
        );
        for spelling in [
            "https://127.0.0.1:8443/x.sh",
            "https://0x7f000001:8443/x.sh",
            "https://[::ffff:127.0.0.1]:8443/x.sh",
        ] {
            let u = HttpUrl::parse(spelling).unwrap();
            assert_eq!(
                g.key_of(&u).map(String::as_str),
                Some("https://127.1:8443/x.sh")
            );
        }
        let other = HttpUrl::parse("https://127.0.0.2:8443/x.sh").unwrap();
        assert!(g.key_of(&other).is_none());
        // Two spellings of one URL in one file are ambiguous: malformed.
        let text = g.render();
        let dup = format!(
            "{text}\n[\"https://2130706433:8443/x.sh\"]\nsha256 = \"{}\"\nsize = 1\nverified_at = 2024-11-29T16:42:07Z\n",
            "ef".repeat(32)
        );
        assert_eq!(
            Lockfile::parse(&dup, Path::new("t"))
                .unwrap_err()
                .exit_code(),
            78
        );
    }

    #[test]
    fn lock_path_is_hidden_sibling() {
        assert_eq!(
            lock_path(Path::new("ci/verun.lock")),
            Path::new("ci/.verun.lock.lck")
        );
    }
}
