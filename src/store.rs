//! The trusted key store: keys a user trusts once, for the URL prefixes they publish under,
//! so that `verun run URL` needs no `--key`; their metadata, revocation, signed rotation and
//! expiry; and the `verun key` commands.
//!
//! # On disk
//!
//! Below `Paths::config` (`VERUN_HOME/config`, or the platform's config dir + `verun`):
//!
//! ```text
//! config/                 0700
//!   store.toml            0600  every key, current and historical, with its metadata
//!   store.lock            0600  flock(2) target serialising writers (never renamed)
//!   keys/                 0700
//!     NAME.pub            0600  each trusted key in minisign's format (`minisign -p`)
//! ```
//!
//! `store.toml` is authoritative; `keys/NAME.pub` are exports kept in step with it, and a
//! `.pub` file that disagrees with it makes the store refuse to load, like any other damage.
//! The store refuses to load (78) when any of these is a symlink, is owned by another user,
//! or is writable by group or others, when the directory holding `config/` is writable by
//! everyone (without the sticky bit), and when a file cannot be parsed or is inconsistent.
//! A store that did not load is never written, so it is never overwritten.
//!
//! Every change is load → modify → write under an exclusive lock on `store.lock`, and each
//! file is replaced atomically (temporary file in the same directory, fsync, rename, fsync
//! of the directory): concurrent `verun key add` processes lose nothing. Readers take a
//! shared lock, so they never see `store.toml` and the `.pub` files out of step.
//!
//! # Built-in keys
//!
//! verun's own release key (the repository's `keys/verun-release.pub`) is compiled in and
//! trusted for verun's release downloads only
//! (`https://github.com/verun-dev/verun/releases/download/`). Built-in keys cannot be removed,
//! only revoked (or rotated); their state is kept in `store.toml` once it changes.

pub mod scope;

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cli::KeyCommand;
use crate::error::{Error, Kind, Result};
use crate::keys::{KeyStore, StoreVerdict, TrustedKey};
use crate::location::HttpUrl;
use crate::minisig::{KeyId, MAX_PUBKEY_BYTES, MAX_SIG_BYTES, PublicKey, Signature};
use crate::paths::Paths;
use crate::private_fs::{self, LockKind, Problem, Rules, Want};
use crate::term::sanitize;
use crate::time;

pub use scope::Scope;

/// The metadata file.
pub const STORE_FILE: &str = "store.toml";
/// The lock file writers serialise on.
pub const LOCK_FILE: &str = "store.lock";
/// The directory of exported `.pub` files.
pub const KEYS_DIR: &str = "keys";
/// The `version` written to and accepted in `store.toml`.
pub const FORMAT_VERSION: u32 = 1;
/// Largest `store.toml` accepted.
const MAX_STORE_BYTES: u64 = 8 << 20;
/// Longest key name.
pub const MAX_NAME_LEN: usize = 64;

const STORE_HEADER: &str = "\
# verun trusted key store. Change it with `verun key add|remove|revoke|rotate`.
# Each [[key]] is one minisign public key, current or historical (status active, revoked or
# rotated-out). Scopes are URL prefixes the key is trusted for; times are UTC (RFC 3339).
# The trusted keys are also in keys/NAME.pub, usable with `minisign -V -p keys/NAME.pub`.
";

/// A key shipped with verun.
struct Builtin {
    name: &'static str,
    file: &'static str,
    text: &'static str,
    scopes: &'static [&'static str],
}

/// The repository's `keys/*.pub`, compiled in (a unit test checks every file is listed).
const BUILTINS: &[Builtin] = &[Builtin {
    name: "verun-release",
    file: "keys/verun-release.pub",
    text: include_str!("../keys/verun-release.pub"),
    scopes: &["https://github.com/verun-dev/verun/releases/download/"],
}];

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Trusted (unless expired).
    Active,
    /// Refused everywhere, even with `--key`.
    Revoked,
    /// Replaced by a newer key of the same name; no longer trusted.
    RotatedOut,
}

/// One key in the store, current or historical.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The name given at `key add` (shared by a rotation lineage).
    pub name: String,
    /// The public key.
    pub key: PublicKey,
    /// Active, revoked or rotated out.
    pub status: Status,
    /// Compiled into verun.
    pub builtin: bool,
    /// Trusted for every URL.
    pub global: bool,
    /// URL prefixes it is trusted for.
    pub scopes: Vec<Scope>,
    /// How it was added (`--pubkey`, `--file PATH`, `rotated from ID`, `built in`).
    pub source: String,
    /// When it was added (seconds since the epoch); `None` for built-in keys.
    pub added_at: Option<i64>,
    /// The last day it is trusted (days since the epoch, UTC).
    pub expires: Option<i64>,
    /// When it last verified something.
    pub last_used_at: Option<i64>,
    /// How many verifications it made.
    pub use_count: u64,
    /// The keys it replaced, oldest first.
    pub previous: Vec<KeyId>,
    /// The key that replaced it.
    pub rotated_to: Option<KeyId>,
    /// When it was rotated out.
    pub rotated_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl StoredKey {
    /// The key id.
    pub fn id(&self) -> KeyId {
        self.key.id()
    }

    /// Whether the expiry day has passed (`today` in days since the epoch, UTC).
    pub fn expired(&self, today: i64) -> bool {
        self.expires.is_some_and(|last| today > last)
    }

    /// `active`, `expired`, `revoked` or `rotated-out`.
    pub fn state(&self, today: i64) -> &'static str {
        match self.status {
            Status::Revoked => "revoked",
            Status::RotatedOut => "rotated-out",
            Status::Active if self.expired(today) => "expired",
            Status::Active => "active",
        }
    }

    /// The scopes as text: `every URL (--global)` or the prefixes.
    pub fn scope_text(&self) -> String {
        if self.global {
            "every URL (--global)".to_string()
        } else {
            let v: Vec<String> = self.scopes.iter().map(Scope::to_string).collect();
            v.join(", ")
        }
    }

    fn label(&self) -> String {
        format!("{} ({})", self.name, self.id())
    }

    /// The `.pub` file text exported for this key.
    fn pub_text(&self) -> String {
        format!(
            "untrusted comment: minisign public key {} (verun key {})\n{}\n",
            self.id(),
            self.name,
            self.key.base64()
        )
    }
}

/// The key store, loaded.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    keys: Vec<StoredKey>,
    today: i64,
}

impl Store {
    /// Load the store below `paths.config`. A store that does not exist yet holds only the
    /// built-in keys. Refuses (78) unsafe permissions, symlinks and damaged files.
    pub fn open(paths: &Paths) -> Result<Store> {
        Store::open_dir(&paths.config)
    }

    /// Load the store in `dir`.
    pub fn open_dir(dir: &Path) -> Result<Store> {
        let keys = if check_tree(dir)? {
            let _lock = StoreLock::shared(dir)?;
            load_dir(dir)?
        } else {
            with_builtins(Vec::new())
        };
        Ok(Store {
            dir: dir.to_path_buf(),
            keys,
            today: time::day_of(time::now()),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every key, current and historical.
    pub fn keys(&self) -> &[StoredKey] {
        &self.keys
    }

    /// Count a verification by key `id` (use count, last used at). Rewrites the store under
    /// its lock; a key that is no longer there is ignored.
    pub fn record_use(&self, id: KeyId) -> Result<()> {
        modify(&self.dir, |keys, now| {
            if let Some(k) = keys.iter_mut().find(|k| k.id() == id) {
                k.use_count = k.use_count.saturating_add(1);
                k.last_used_at = Some(now);
            }
            Ok(())
        })
    }

    fn find(&self, id: KeyId) -> Option<&StoredKey> {
        self.keys.iter().find(|k| k.id() == id)
    }

    /// Why `k` may not verify a signature for `url` (`None` for a local file), if it may not.
    fn refusal(&self, k: &StoredKey, url: Option<&HttpUrl>) -> Option<Error> {
        let name = &k.name;
        let show = format!("`verun key show {name}` shows its scopes, expiry and history");
        match k.status {
            Status::Revoked => return Some(revoked_error(k)),
            Status::RotatedOut => {
                let to = k
                    .rotated_to
                    .map(|id| format!(" by key {id}"))
                    .unwrap_or_default();
                return Some(
                    Error::refused_for(
                        crate::error::Reason::KeyRotated,
                        format!(
                            "key {} was rotated out{to} on {}; it is no longer trusted",
                            k.label(),
                            k.rotated_at
                                .map(time::rfc3339)
                                .unwrap_or_else(|| "?".into())
                        ),
                    )
                    .hint(format!(
                        "the publisher signs with the new key now; this looks like an old or \
                         replayed signature. {show}"
                    )),
                );
            }
            Status::Active => {}
        }
        if k.expired(self.today) {
            let day = k.expires.map(time::format_date).unwrap_or_default();
            return Some(
                Error::refused_for(
                    crate::error::Reason::KeyExpired,
                    format!("key {} expired on {day}", k.label()),
                )
                .hint(format!(
                    "if you still trust it, renew it: `verun key remove {name}`, then `verun key \
                     add {name} ... --expires YYYY-MM-DD`; {show}"
                )),
            );
        }
        if k.global {
            return None;
        }
        let Some(url) = url else {
            return Some(
                Error::refused_for(
                    crate::error::Reason::KeyOutOfScope,
                    format!(
                        "key {} is trusted only for URLs under {}, and this is a local file",
                        k.label(),
                        k.scope_text()
                    ),
                )
                .hint(format!(
                    "only --global store keys count for local files; pass the key with --key \
                     for this call. {show}"
                )),
            );
        };
        if k.scopes.iter().any(|s| s.covers(url)) {
            return None;
        }
        let why = match scope::unmatchable_path(url) {
            Some(why) => format!(" ({why}, so no scope covers it)"),
            None => String::new(),
        };
        Some(
            Error::refused_for(
                crate::error::Reason::KeyOutOfScope,
                format!(
                    "key {} is trusted only for URLs under {}, not for {url}{why}",
                    k.label(),
                    k.scope_text()
                ),
            )
            .hint(format!(
                "a store key counts only inside its scopes; pass it with --key if you trust it \
                 for this URL too. {show}"
            )),
        )
    }
}

impl Store {
    /// A rotated-out key given with `--key`: refused, naming the key that replaced it.
    fn rotated_out_given_error(&self, k: &StoredKey) -> Error {
        let successor = k
            .rotated_to
            .and_then(|id| self.find(id))
            .map(|n| format!("key {} ({})", n.id(), n.name));
        let when = k
            .rotated_at
            .map(time::rfc3339)
            .unwrap_or_else(|| "?".into());
        Error::refused_for(crate::error::Reason::KeyRotated, format!(
            "key {} was rotated out on {when}{}: it is refused everywhere, even with --key",
            k.label(),
            successor
                .as_deref()
                .map(|s| format!(" in favour of {s}"))
                .unwrap_or_default()
        ))
        .hint(match successor {
            Some(s) => format!(
                "the publisher signs with {s} now: pass that key, or drop --key to use the store; an old key's signature may be a replayed old release"
            ),
            None => format!(
                "the publisher signs with a new key now; `verun key show {}` shows the history",
                k.name
            ),
        })
    }
}

fn revoked_error(k: &StoredKey) -> Error {
    Error::refused_for(crate::error::Reason::KeyRevoked, format!(
        "key {} was revoked on {}: it is refused everywhere, even with --key",
        k.label(),
        k.revoked_at.map(time::rfc3339).unwrap_or_else(|| "?".into())
    ))
    .hint(format!(
        "ask the publisher for their new key; if the revocation was a mistake, `verun key remove {}` forgets it",
        k.name
    ))
}

impl KeyStore for Store {
    fn lookup(&self, id: KeyId, url: Option<&HttpUrl>) -> StoreVerdict {
        let Some(k) = self.find(id) else {
            return StoreVerdict::Unknown;
        };
        match self.refusal(k, url) {
            Some(err) => StoreVerdict::Refused(err),
            None => StoreVerdict::Trusted(TrustedKey {
                key: k.key.clone(),
                source: if k.builtin {
                    format!("built-in store key {}", k.name)
                } else {
                    format!("store key {}", k.name)
                },
                store_name: Some(k.name.clone()),
            }),
        }
    }

    fn covering(&self, url: Option<&HttpUrl>) -> Vec<String> {
        self.keys
            .iter()
            .filter(|k| self.refusal(k, url).is_none())
            .map(|k| {
                if k.global {
                    format!("{} (global)", k.name)
                } else {
                    k.name.clone()
                }
            })
            .collect()
    }

    fn refuses_given(&self, id: KeyId) -> Option<Error> {
        let k = self.find(id)?;
        match k.status {
            Status::Revoked => Some(revoked_error(k)),
            Status::RotatedOut => Some(self.rotated_out_given_error(k)),
            Status::Active => None,
        }
    }

    /// Built-in keys do not count: they only ask for signatures inside their own scopes
    /// (through [`KeyStore::covers`]).
    fn is_empty(&self) -> bool {
        self.keys.iter().all(|k| k.builtin)
    }
}

// --- names ------------------------------------------------------------------------------

/// Check a key name: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with `.` (64 otherwise).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(
            Error::usage(format!("invalid key name {:?}", sanitize(name))).hint(format!(
                "a key name is 1 to {MAX_NAME_LEN} letters, digits, `.`, `_` or `-`, and does \
                 not start with `.`"
            )),
        )
    }
}

// --- loading ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    version: u32,
    #[serde(default, rename = "key", skip_serializing_if = "Vec::is_empty")]
    keys: Vec<Record>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    name: String,
    key_id: String,
    public_key: String,
    status: Status,
    #[serde(default)]
    global: bool,
    #[serde(default)]
    scopes: Vec<String>,
    source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    added_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
    #[serde(default)]
    use_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    previous: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::config(format!(
        "the key store {} is damaged: {why}",
        path.display()
    ))
    .hint(
        "repair it by hand or move it aside (verun never overwrites a store it cannot read); \
         then re-add your keys with `verun key add`",
    )
}

fn builtin_keys() -> Vec<StoredKey> {
    BUILTINS
        .iter()
        .filter_map(|b| {
            let key = PublicKey::from_file_text(b.text).ok()?;
            Some(StoredKey {
                name: b.name.to_string(),
                key,
                status: Status::Active,
                builtin: true,
                global: false,
                scopes: b
                    .scopes
                    .iter()
                    .filter_map(|s| Scope::parse(s).ok())
                    .collect(),
                source: format!("built into verun ({})", b.file),
                added_at: None,
                expires: None,
                last_used_at: None,
                use_count: 0,
                previous: Vec::new(),
                rotated_to: None,
                rotated_at: None,
                revoked_at: None,
            })
        })
        .collect()
}

/// Add the built-in keys that `keys` has no state for.
fn with_builtins(mut keys: Vec<StoredKey>) -> Vec<StoredKey> {
    let missing: Vec<StoredKey> = builtin_keys()
        .into_iter()
        .filter(|b| !keys.iter().any(|k| k.id() == b.id()))
        .collect();
    let mut all = missing;
    all.append(&mut keys);
    all
}

fn record_to_key(r: Record, builtins: &[StoredKey]) -> std::result::Result<StoredKey, String> {
    validate_name(&r.name).map_err(|e| e.message().to_string())?;
    let key = PublicKey::from_base64(&r.public_key)
        .map_err(|e| format!("public_key: {}", e.message()))?;
    if key.id().to_string() != r.key_id {
        return Err(format!(
            "key_id {} does not match the public key (whose id is {})",
            sanitize(&r.key_id),
            key.id()
        ));
    }
    let ts = |field: &str, v: &Option<String>| -> std::result::Result<Option<i64>, String> {
        v.as_deref()
            .map(|s| {
                time::parse_rfc3339(s)
                    .ok_or_else(|| format!("{field} {:?} is not a UTC RFC 3339 time", sanitize(s)))
            })
            .transpose()
    };
    let id = |field: &str, s: &str| {
        KeyId::parse_hex(s).ok_or_else(|| format!("{field} {:?} is not a key id", sanitize(s)))
    };
    let scopes = r
        .scopes
        .iter()
        .map(|s| Scope::parse(s).map_err(|e| e.message().to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let builtin = builtins.iter().find(|b| b.id() == key.id());
    if let Some(b) = builtin
        && b.key.base64() != key.base64()
    {
        return Err("the public key differs from the built-in key with the same id".into());
    }
    if builtin.is_none() && !r.global && scopes.is_empty() {
        return Err("the key has no scopes and is not global".into());
    }
    Ok(StoredKey {
        name: r.name,
        status: r.status,
        builtin: builtin.is_some(),
        // A built-in key's trust comes from the binary, not from the file.
        global: builtin.is_none() && r.global,
        scopes: match builtin {
            Some(b) => b.scopes.clone(),
            None => scopes,
        },
        source: r.source,
        added_at: ts("added_at", &r.added_at)?,
        expires: r
            .expires
            .as_deref()
            .map(|s| {
                time::parse_date(s)
                    .ok_or_else(|| format!("expires {:?} is not a YYYY-MM-DD date", sanitize(s)))
            })
            .transpose()?,
        last_used_at: ts("last_used_at", &r.last_used_at)?,
        use_count: r.use_count,
        previous: r
            .previous
            .iter()
            .map(|s| id("previous", s))
            .collect::<std::result::Result<_, _>>()?,
        rotated_to: r
            .rotated_to
            .as_deref()
            .map(|s| id("rotated_to", s))
            .transpose()?,
        rotated_at: ts("rotated_at", &r.rotated_at)?,
        revoked_at: ts("revoked_at", &r.revoked_at)?,
        key,
    })
}

fn key_to_record(k: &StoredKey) -> Record {
    Record {
        name: k.name.clone(),
        key_id: k.id().to_string(),
        public_key: k.key.base64().to_string(),
        status: k.status,
        global: k.global,
        scopes: if k.builtin {
            Vec::new()
        } else {
            k.scopes.iter().map(Scope::to_string).collect()
        },
        source: k.source.clone(),
        added_at: k.added_at.map(time::rfc3339),
        expires: k.expires.map(time::format_date),
        last_used_at: k.last_used_at.map(time::rfc3339),
        use_count: k.use_count,
        previous: k.previous.iter().map(KeyId::to_string).collect(),
        rotated_to: k.rotated_to.map(|i| i.to_string()),
        rotated_at: k.rotated_at.map(time::rfc3339),
        revoked_at: k.revoked_at.map(time::rfc3339),
    }
}

/// Parse `store.toml`'s text into keys (built-ins merged in), checking consistency.
fn parse_store(text: &str, path: &Path) -> Result<Vec<StoredKey>> {
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        let msg = e.message().to_string();
        match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                corrupt(path, format!("line {line}: {msg}"))
            }
            None => corrupt(path, msg),
        }
    })?;
    if doc.version != FORMAT_VERSION {
        return Err(Error::config(format!(
            "the key store {} has format version {}, but this verun reads version {FORMAT_VERSION}",
            path.display(),
            doc.version
        ))
        .hint("use the verun that wrote it, or move the file aside"));
    }
    let builtins = builtin_keys();
    let mut keys = Vec::with_capacity(doc.keys.len());
    for (i, r) in doc.keys.into_iter().enumerate() {
        let label = format!("entry {} ({})", i + 1, sanitize(&r.name));
        let k =
            record_to_key(r, &builtins).map_err(|why| corrupt(path, format!("{label}: {why}")))?;
        if keys.iter().any(|o: &StoredKey| o.id() == k.id()) {
            return Err(corrupt(
                path,
                format!("{label}: key {} appears twice", k.id()),
            ));
        }
        if k.status != Status::RotatedOut
            && keys.iter().any(|o: &StoredKey| {
                o.status != Status::RotatedOut && o.name.eq_ignore_ascii_case(&k.name)
            })
        {
            return Err(corrupt(
                path,
                format!("{label}: two current keys are named {}", k.name),
            ));
        }
        keys.push(k);
    }
    Ok(with_builtins(keys))
}

/// Load the store in `dir` (which exists and passed [`check_tree`]); the caller holds the
/// lock.
fn load_dir(dir: &Path) -> Result<Vec<StoredKey>> {
    let path = dir.join(STORE_FILE);
    let keys = match read_private(&path, MAX_STORE_BYTES)? {
        None => with_builtins(Vec::new()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| corrupt(&path, "not UTF-8 text"))?;
            parse_store(&text, &path)?
        }
    };
    // The exported .pub files must agree with store.toml.
    let keys_dir = dir.join(KEYS_DIR);
    for k in keys.iter().filter(|k| exported(k)) {
        let pub_path = keys_dir.join(format!("{}.pub", k.name));
        let Some(bytes) = read_private(&pub_path, MAX_PUBKEY_BYTES)? else {
            continue;
        };
        let found = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| PublicKey::from_file_text(t).ok());
        match found {
            Some(f) if f.base64() == k.key.base64() => {}
            // Left over from a rotation interrupted between the two writes: rewritten on the
            // next change.
            Some(f) if k.previous.contains(&f.id()) => {}
            Some(f) => {
                return Err(corrupt(
                    &pub_path,
                    format!(
                        "it holds key {}, but store.toml says {} is key {}",
                        f.id(),
                        k.name,
                        k.id()
                    ),
                ));
            }
            None => return Err(corrupt(&pub_path, "not a minisign public key file")),
        }
    }
    Ok(keys)
}

/// Whether `k` has a `keys/NAME.pub` export: the trusted keys the user added.
fn exported(k: &StoredKey) -> bool {
    !k.builtin && k.status == Status::Active
}

// --- permissions, locking, atomic writes -----------------------------------------------

/// How the key store names its files in refusals (the checks are [`private_fs`]'s).
const STORE_RULES: Rules<'static> = Rules {
    what: "the key store",
    refusing: "refusing to load it",
    hint: store_hint,
};

fn store_hint(path: &Path, problem: &Problem) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    match problem {
        Problem::Symlink if name == LOCK_FILE => {
            "remove the link; verun recreates the lock file".into()
        }
        Problem::Symlink if name.ends_with(".toml") || name.ends_with(".pub") => {
            "keep the key store's files as regular files: replace the link with what it points \
             to"
            .into()
        }
        Problem::Symlink => "keep the key store in a real directory, not behind a symlink: \
                             replace the link with what it points to, or set VERUN_HOME"
            .into(),
        Problem::NotDir | Problem::NotFile => "move it aside".into(),
        Problem::Owner { .. } => "a key store must belong to the user who trusts it: chown it, \
                                  or set VERUN_HOME to a private directory of yours"
            .into(),
        Problem::Writable { .. } => format!(
            "anyone who can write it can make verun trust their key: chmod {} {}",
            if is_dir { "700" } else { "600" },
            path.display()
        ),
        Problem::OpenParent { parent, .. } => format!(
            "anyone could replace the store: chmod o-w {}, or set VERUN_HOME to a private \
             directory",
            parent.display()
        ),
    }
}

/// Check the store's directories; `false` when the store does not exist yet.
fn check_tree(dir: &Path) -> Result<bool> {
    private_fs::check_parent(dir, &STORE_RULES)?;
    if !private_fs::check_path(dir, Want::Dir, &STORE_RULES)? {
        return Ok(false);
    }
    private_fs::check_path(&dir.join(KEYS_DIR), Want::Dir, &STORE_RULES)?;
    Ok(true)
}

/// Read a store file without following symlinks; `None` when it does not exist.
fn read_private(path: &Path, cap: u64) -> Result<Option<Vec<u8>>> {
    let Some(file) = private_fs::open(path, &STORE_RULES)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io_at(format!("cannot read {}", path.display()), &e))?;
    if buf.len() as u64 > cap {
        return Err(corrupt(path, format!("larger than {cap} bytes")));
    }
    Ok(Some(buf))
}

/// A lock on `store.lock`, released on drop.
struct StoreLock {
    _lock: Option<private_fs::Lock>,
}

impl StoreLock {
    /// Shared: for loading. Without a lock file (no writer ever ran), no lock is needed.
    fn shared(dir: &Path) -> Result<StoreLock> {
        let lock = private_fs::lock(&dir.join(LOCK_FILE), LockKind::Shared, None, &STORE_RULES)?;
        Ok(StoreLock { _lock: lock })
    }

    /// Exclusive: for load → modify → write.
    fn exclusive(dir: &Path) -> Result<StoreLock> {
        let lock = private_fs::lock(
            &dir.join(LOCK_FILE),
            LockKind::Exclusive,
            Some(0o600),
            &STORE_RULES,
        )?;
        Ok(StoreLock { _lock: lock })
    }
}

/// Create a missing directory with mode 0700 (an existing one is left as it is, and checked).
fn make_dir(dir: &Path, recursive: bool) -> Result<()> {
    match std::fs::DirBuilder::new()
        .recursive(recursive)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io_at(
            format!("cannot create the key store directory {}", dir.display()),
            &e,
        )),
    }
}

/// Write the store: `store.toml` first (the commit point), then the `.pub` exports.
fn save(dir: &Path, keys: &[StoredKey]) -> Result<()> {
    let pristine = |k: &StoredKey| {
        k.builtin && k.status == Status::Active && k.use_count == 0 && k.last_used_at.is_none()
    };
    let doc = FileDoc {
        version: FORMAT_VERSION,
        keys: keys
            .iter()
            .filter(|k| !pristine(k))
            .map(key_to_record)
            .collect(),
    };
    let body = toml::to_string(&doc)
        .map_err(|e| Error::io(format!("cannot encode the key store: {e}")))?;
    private_fs::write_atomic(
        &dir.join(STORE_FILE),
        format!("{STORE_HEADER}\n{body}").as_bytes(),
        0o600,
    )?;

    let keys_dir = dir.join(KEYS_DIR);
    let mut wanted = Vec::new();
    for k in keys.iter().filter(|k| exported(k)) {
        let file = format!("{}.pub", k.name);
        let path = keys_dir.join(&file);
        let text = k.pub_text();
        if read_private(&path, MAX_PUBKEY_BYTES)?.as_deref() != Some(text.as_bytes()) {
            private_fs::write_atomic(&path, text.as_bytes(), 0o600)?;
        }
        wanted.push(file);
    }
    // Exports of keys no longer trusted (removed, revoked, rotated out) go.
    if let Ok(entries) = std::fs::read_dir(&keys_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_suffix(".pub")
                .is_some_and(|stem| validate_name(stem).is_ok())
                && !wanted.contains(&name);
            if stale {
                std::fs::remove_file(entry.path()).map_err(|e| {
                    Error::io_at(format!("cannot remove {}", entry.path().display()), &e)
                })?;
            }
        }
    }
    Ok(())
}

/// Load → `change` → write, under the exclusive lock, creating the store if needed.
/// `change` gets the keys and the time now; nothing is written when it fails.
fn modify<T>(dir: &Path, change: impl FnOnce(&mut Vec<StoredKey>, i64) -> Result<T>) -> Result<T> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        make_dir(parent, true)?;
    }
    make_dir(dir, false)?;
    check_tree(dir)?;
    make_dir(&dir.join(KEYS_DIR), false)?;
    check_tree(dir)?;
    let _lock = StoreLock::exclusive(dir)?;
    let mut keys = load_dir(dir)?;
    let out = change(&mut keys, time::now())?;
    save(dir, &keys)?;
    Ok(out)
}

// --- the `verun key` commands -----------------------------------------------------------

/// What a key command prints: `stdout` for the payload of the command (tables, JSON), and
/// `notes` for stderr (each one line; warnings start with `warning:`).
#[derive(Debug, Default)]
pub struct Outcome {
    /// Printed to stdout as is.
    pub stdout: String,
    /// Printed to stderr, one `verun: ` line each.
    pub notes: Vec<String>,
}

/// Run a `verun key` command against the store below `paths.config`.
pub fn command(paths: &Paths, cmd: KeyCommand) -> Result<Outcome> {
    let dir = &paths.config;
    match cmd {
        KeyCommand::Add {
            name,
            pubkey,
            file,
            scope,
            global,
            expires,
        } => add(dir, &name, pubkey, file, &scope, global, expires.as_deref()),
        KeyCommand::List { json } => {
            let store = Store::open_dir(dir)?;
            Ok(Outcome {
                stdout: if json {
                    list_json(&store)
                } else {
                    list_table(&store)
                },
                notes: Vec::new(),
            })
        }
        KeyCommand::Show { name } => {
            validate_name(&name)?;
            let store = Store::open_dir(dir)?;
            let k = current(&store.keys, &name).ok_or_else(|| no_such_key(&name))?;
            Ok(Outcome {
                stdout: show_text(&store, k),
                notes: Vec::new(),
            })
        }
        KeyCommand::Remove { name } => remove(dir, &name),
        KeyCommand::Revoke { name } => revoke(dir, &name),
        KeyCommand::Rotate { name, new, sig } => rotate(dir, &name, &new, &sig),
    }
}

fn no_such_key(name: &str) -> Error {
    Error::usage(format!("no key named {name} in the key store"))
        .hint("`verun key list` shows the keys and their names")
}

/// The key a name stands for: its current (not rotated-out) key, else its latest.
fn current<'k>(keys: &'k [StoredKey], name: &str) -> Option<&'k StoredKey> {
    keys.iter()
        .find(|k| k.name == name && k.status != Status::RotatedOut)
        .or_else(|| {
            keys.iter()
                .filter(|k| k.name == name)
                .max_by_key(|k| k.rotated_at)
        })
}

fn current_index(keys: &[StoredKey], name: &str) -> Option<usize> {
    let k = current(keys, name)?;
    keys.iter().position(|o| o.id() == k.id())
}

fn read_arg_file(path: &Path, cap: u64, flag: &str) -> Result<Vec<u8>> {
    crate::plan::read_small_file(path, cap).map_err(|e| match e.kind() {
        Kind::Io => Error::usage(format!(
            "{flag} {}: {}",
            sanitize(&path.display().to_string()),
            e.message()
        ))
        .hint("give the path of a readable file"),
        _ => e,
    })
}

fn parse_pub_file(path: &Path, flag: &str) -> Result<(PublicKey, Vec<u8>)> {
    let bytes = read_arg_file(path, MAX_PUBKEY_BYTES, flag)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::usage(format!(
            "{flag} {}: not a minisign public key file (not UTF-8)",
            path.display()
        ))
    })?;
    let key = PublicKey::from_file_text(text).map_err(|e| {
        Error::usage(format!("{flag} {}: {}", path.display(), e.message()))
            .hint("a minisign .pub file has an untrusted comment line and an RW... key line")
    })?;
    Ok((key, bytes))
}

fn add(
    dir: &Path,
    name: &str,
    pubkey: Option<String>,
    file: Option<PathBuf>,
    scopes: &[String],
    global: bool,
    expires: Option<&str>,
) -> Result<Outcome> {
    validate_name(name)?;
    let (key, source) = match (pubkey, file) {
        (Some(b64), None) => {
            let key = PublicKey::from_base64(&b64).map_err(|e| {
                let hint = if Path::new(b64.trim()).is_file() {
                    "--pubkey takes the key itself (RW...); to give a .pub file, use --file PATH"
                } else {
                    "pass the RW... line of the publisher's minisign .pub file"
                };
                Error::usage(format!("--pubkey: {}", e.message())).hint(hint)
            })?;
            (key, "--pubkey".to_string())
        }
        (None, Some(path))
            if !path.exists()
                && crate::plan::looks_like_inline_key(path.to_string_lossy().trim()) =>
        {
            return Err(Error::usage(
                "--file takes the path of a .pub file, and this looks like a key itself",
            )
            .hint("to give the key itself, use --pubkey RW..."));
        }
        (None, Some(path)) => {
            let (key, _) = parse_pub_file(&path, "--file")?;
            let abs = std::path::absolute(&path).unwrap_or(path);
            (key, format!("--file {}", abs.display()))
        }
        _ => {
            return Err(Error::usage(
                "give the key with exactly one of --pubkey or --file",
            ));
        }
    };
    let mut parsed: Vec<Scope> = Vec::new();
    for s in scopes {
        let sc = Scope::parse(s)?;
        if !parsed.contains(&sc) {
            parsed.push(sc);
        }
    }
    if global && !parsed.is_empty() {
        return Err(Error::usage("--global and --scope exclude each other"));
    }
    if !global && parsed.is_empty() {
        return Err(
            Error::usage("say where the key is trusted: --scope URL-PREFIX or --global")
                .hint("for example --scope https://example.com/releases/"),
        );
    }
    let expires = expires
        .map(|s| {
            time::parse_date(s).ok_or_else(|| {
                Error::usage(format!("--expires {}: not a date", sanitize(s)))
                    .hint("give the last day the key is trusted as YYYY-MM-DD (UTC)")
            })
        })
        .transpose()?;
    let id = key.id();
    let entry = StoredKey {
        name: name.to_string(),
        key,
        status: Status::Active,
        builtin: false,
        global,
        scopes: parsed,
        source,
        added_at: None,
        expires,
        last_used_at: None,
        use_count: 0,
        previous: Vec::new(),
        rotated_to: None,
        rotated_at: None,
        revoked_at: None,
    };
    let scope_text = entry.scope_text();
    let now = modify(dir, |keys, now| {
        if let Some(k) = keys.iter().find(|k| k.id() == id) {
            return Err(match k.status {
                Status::Revoked => Error::refused(format!(
                    "key {id} was revoked (as {}); a revoked key cannot be trusted again",
                    k.name
                ))
                .hint(format!(
                    "if the revocation was a mistake, `verun key remove {}` forgets it first",
                    k.name
                )),
                Status::RotatedOut => Error::usage(format!(
                    "key {id} is already in the store: it was rotated out of {}",
                    k.name
                ))
                .hint(format!("`verun key show {}` shows its history", k.name)),
                Status::Active => Error::usage(format!(
                    "key {id} is already in the store as {}{}",
                    k.name,
                    if k.builtin { " (built in)" } else { "" }
                ))
                .hint(format!("`verun key show {}` shows its scopes", k.name)),
            });
        }
        if let Some(k) = keys.iter().find(|k| k.name.eq_ignore_ascii_case(name)) {
            return Err(
                Error::usage(format!("a key named {} is already in the store", k.name)).hint(
                    format!(
                        "choose another name; to replace its key, `verun key rotate {}`",
                        k.name
                    ),
                ),
            );
        }
        let mut entry = entry;
        entry.added_at = Some(now);
        keys.push(entry);
        Ok(now)
    })?;
    let mut notes = vec![format!("added key {name} ({id}), trusted for {scope_text}")];
    if global {
        notes.push(format!(
            "warning: --global: {name} is trusted for every URL, and every run, fetch and verify \
             will now expect a signature; prefer --scope URL-PREFIX"
        ));
    }
    if let Some(day) = expires
        && day < time::day_of(now)
    {
        notes.push(format!(
            "warning: --expires {}: that day has passed; {name} will be refused until renewed",
            time::format_date(day)
        ));
    }
    Ok(Outcome {
        stdout: String::new(),
        notes,
    })
}

fn remove(dir: &Path, name: &str) -> Result<Outcome> {
    validate_name(name)?;
    let notes = modify(dir, |keys, _| {
        let k = current(keys, name).ok_or_else(|| no_such_key(name))?;
        if k.builtin {
            return Err(Error::usage(format!(
                "{} is built into verun and cannot be removed",
                k.label()
            ))
            .hint(format!("`verun key revoke {name}` stops trusting it")));
        }
        let mut notes = vec![format!("removed key {}", k.label())];
        if k.status == Status::Revoked {
            notes.push(format!(
                "warning: its revocation is forgotten too: key {} is no longer refused",
                k.id()
            ));
        }
        let history = keys
            .iter()
            .filter(|o| o.name == name && !o.builtin && o.id() != k.id())
            .count();
        if history > 0 {
            notes.push(format!(
                "removed its history too ({history} rotated-out key(s))"
            ));
        }
        keys.retain(|o| o.name != name || o.builtin);
        Ok(notes)
    })?;
    Ok(Outcome {
        stdout: String::new(),
        notes,
    })
}

fn revoke(dir: &Path, name: &str) -> Result<Outcome> {
    validate_name(name)?;
    let note = modify(dir, |keys, now| {
        let i = current_index(keys, name).ok_or_else(|| no_such_key(name))?;
        let k = &mut keys[i];
        if k.status == Status::Revoked {
            return Ok(format!(
                "key {} was already revoked on {}",
                k.label(),
                k.revoked_at
                    .map(time::rfc3339)
                    .unwrap_or_else(|| "?".into())
            ));
        }
        k.status = Status::Revoked;
        k.revoked_at = Some(now);
        Ok(format!(
            "revoked key {}: it is refused everywhere from now on, even with --key",
            k.label()
        ))
    })?;
    Ok(Outcome {
        stdout: String::new(),
        notes: vec![note],
    })
}

fn rotate(dir: &Path, name: &str, new_path: &Path, sig_path: &Path) -> Result<Outcome> {
    validate_name(name)?;
    let (new_key, new_bytes) = parse_pub_file(new_path, "--new")?;
    let sig_bytes = read_arg_file(sig_path, MAX_SIG_BYTES, "--sig")?;
    let sig_what = sig_path.display().to_string();
    let sig = Signature::parse(&sig_bytes, &sig_what)?;
    let new_file = new_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new_id = new_key.id();
    let (old, scope_text) = modify(dir, |keys, now| {
        let i = keys
            .iter()
            .position(|k| k.name == name && k.status != Status::RotatedOut)
            .ok_or_else(|| no_such_key(name))?;
        let cur = &keys[i];
        let today = time::day_of(now);
        if cur.status == Status::Revoked {
            return Err(Error::refused(format!(
                "{} is revoked: it cannot vouch for a new key",
                cur.label()
            ))
            .hint("check the new key another way, then `verun key add` it under a new name"));
        }
        if cur.expired(today) {
            return Err(Error::refused(format!(
                "{} expired on {}: it cannot vouch for a new key",
                cur.label(),
                cur.expires.map(time::format_date).unwrap_or_default()
            ))
            .hint(format!(
                "check the new key another way, then `verun key remove {name}` and `verun key add` it"
            )));
        }
        if sig.key_id() != cur.id() {
            return Err(Error::refused(format!(
                "the rotation signature {} is by key {}, not by {}'s current key {}",
                sanitize(&sig_what),
                sig.key_id(),
                name,
                cur.id()
            ))
            .hint(format!(
                "the new .pub must be signed with {name}'s current secret key: minisign -S -s CURRENT.key -m {}",
                sanitize(&new_file)
            )));
        }
        if !sig.is_prehashed() {
            return Err(Error::refused(format!(
                "the rotation signature {} is a legacy (non-prehashed) minisign signature",
                sanitize(&sig_what)
            ))
            .hint("sign the new .pub with a current minisign (without -l)"));
        }
        if cur
            .key
            .inner()
            .verify(&new_bytes, sig.inner(), false)
            .is_err()
        {
            return Err(Error::refused(format!(
                "{} does not match the signature {} by {}",
                sanitize(&new_path.display().to_string()),
                sanitize(&sig_what),
                cur.label()
            ))
            .hint("the new key file or its signature was altered; nothing was changed"));
        }
        if let Some(f) = sig.fields().file
            && f != new_file
        {
            return Err(Error::refused(format!(
                "the rotation signature's trusted comment names file:{}, but the new key file is {}",
                sanitize(&f),
                sanitize(&new_file)
            ))
            .hint("a signature for another file does not vouch for this one; use the file as it was signed"));
        }
        if let Some(k) = keys.iter().find(|k| k.id() == new_id) {
            return Err(if k.status == Status::Revoked {
                Error::refused(format!("the new key {new_id} was revoked (as {})", k.name))
            } else {
                Error::usage(format!(
                    "the new key {new_id} is already in the store (as {}, {})",
                    k.name,
                    k.state(today)
                ))
                .hint("a rotation needs a key the store has never seen")
            });
        }
        let cur = &mut keys[i];
        let old = cur.id();
        let mut previous = cur.previous.clone();
        previous.push(old);
        let next = StoredKey {
            name: name.to_string(),
            key: new_key,
            status: Status::Active,
            builtin: false,
            global: cur.global,
            scopes: cur.scopes.clone(),
            source: format!(
                "rotated from {old} (--new {})",
                std::path::absolute(new_path)
                    .unwrap_or_else(|_| new_path.to_path_buf())
                    .display()
            ),
            added_at: Some(now),
            expires: cur.expires,
            last_used_at: None,
            use_count: 0,
            previous,
            rotated_to: None,
            rotated_at: None,
            revoked_at: None,
        };
        cur.status = Status::RotatedOut;
        cur.rotated_to = Some(new_id);
        cur.rotated_at = Some(now);
        let scope_text = next.scope_text();
        keys.push(next);
        Ok((old, scope_text))
    })?;
    Ok(Outcome {
        stdout: String::new(),
        notes: vec![
            format!("rotated {name}: key {old} is replaced by {new_id}, trusted for {scope_text}"),
            format!("key {old} is kept in the history as rotated-out and is no longer trusted"),
        ],
    })
}

// --- output -------------------------------------------------------------------------------

/// One key as `key list --json` shows it.
#[derive(Serialize)]
struct KeyView {
    name: String,
    key_id: String,
    public_key: String,
    status: &'static str,
    builtin: bool,
    global: bool,
    scopes: Vec<String>,
    source: String,
    added_at: Option<String>,
    expires: Option<String>,
    last_used_at: Option<String>,
    use_count: u64,
    previous_key_ids: Vec<String>,
    rotated_to: Option<String>,
    rotated_at: Option<String>,
    revoked_at: Option<String>,
    public_key_file: Option<String>,
}

fn view(store: &Store, k: &StoredKey) -> KeyView {
    KeyView {
        name: k.name.clone(),
        key_id: k.id().to_string(),
        public_key: k.key.base64().to_string(),
        status: k.state(store.today),
        builtin: k.builtin,
        global: k.global,
        scopes: k.scopes.iter().map(Scope::to_string).collect(),
        source: k.source.clone(),
        added_at: k.added_at.map(time::rfc3339),
        expires: k.expires.map(time::format_date),
        last_used_at: k.last_used_at.map(time::rfc3339),
        use_count: k.use_count,
        previous_key_ids: k.previous.iter().map(KeyId::to_string).collect(),
        rotated_to: k.rotated_to.map(|i| i.to_string()),
        rotated_at: k.rotated_at.map(time::rfc3339),
        revoked_at: k.revoked_at.map(time::rfc3339),
        public_key_file: exported(k).then(|| {
            store
                .dir
                .join(KEYS_DIR)
                .join(format!("{}.pub", k.name))
                .display()
                .to_string()
        }),
    }
}

/// Keys in display order: by name, the current key before its history (newest first).
fn sorted(store: &Store) -> Vec<&StoredKey> {
    let mut v: Vec<&StoredKey> = store.keys.iter().collect();
    v.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then((a.status == Status::RotatedOut).cmp(&(b.status == Status::RotatedOut)))
            .then(b.rotated_at.cmp(&a.rotated_at))
    });
    v
}

/// The document `key list --json` prints.
#[derive(Serialize)]
struct ListView {
    store: String,
    keys: Vec<KeyView>,
}

fn list_json(store: &Store) -> String {
    let doc = ListView {
        store: store.dir.display().to_string(),
        keys: sorted(store).into_iter().map(|k| view(store, k)).collect(),
    };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

fn list_table(store: &Store) -> String {
    let header = [
        "NAME",
        "KEY ID",
        "STATUS",
        "USES",
        "LAST USED",
        "EXPIRES",
        "TRUSTED FOR",
    ];
    let mut rows: Vec<[String; 7]> = Vec::new();
    for k in sorted(store) {
        let mut status = k.state(store.today).to_string();
        if k.builtin {
            status.push_str(", built-in");
        }
        rows.push([
            k.name.clone(),
            k.id().to_string(),
            status,
            k.use_count.to_string(),
            k.last_used_at
                .map(time::rfc3339)
                .unwrap_or_else(|| "never".into()),
            k.expires
                .map(time::format_date)
                .unwrap_or_else(|| "-".into()),
            k.scope_text(),
        ]);
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

fn show_text(store: &Store, k: &StoredKey) -> String {
    let v = view(store, k);
    let mut out = String::new();
    let mut field = |label: &str, value: &str| {
        out.push_str(&format!("{:<15} {}\n", format!("{label}:"), value));
    };
    field("name", &v.name);
    field("key id", &v.key_id);
    field("public key", &v.public_key);
    field("status", v.status);
    field("built in", if v.builtin { "yes" } else { "no" });
    if k.global {
        field("trusted for", "every URL (--global)");
    } else {
        for (i, s) in v.scopes.iter().enumerate() {
            field(if i == 0 { "trusted for" } else { "" }, s);
        }
    }
    field(
        "expires",
        &v.expires
            .map(|d| format!("{d} (last day trusted, UTC)"))
            .unwrap_or_else(|| "never".into()),
    );
    field("source", &sanitize(&v.source));
    field("added at", v.added_at.as_deref().unwrap_or("(built in)"));
    field("last used at", v.last_used_at.as_deref().unwrap_or("never"));
    field("use count", &v.use_count.to_string());
    field(
        "previous keys",
        &if v.previous_key_ids.is_empty() {
            "none".to_string()
        } else {
            v.previous_key_ids.join(", ")
        },
    );
    if let Some(to) = &v.rotated_to {
        field(
            "rotated to",
            &format!("{to} at {}", v.rotated_at.as_deref().unwrap_or("?")),
        );
    }
    if let Some(at) = &v.revoked_at {
        field("revoked at", at);
    }
    if let Some(f) = &v.public_key_file {
        field("key file", &sanitize(f));
    }
    for h in sorted(store)
        .into_iter()
        .filter(|h| h.name == k.name && h.id() != k.id())
    {
        field(
            "history",
            &format!(
                "{} {}{}",
                h.id(),
                h.state(store.today),
                h.rotated_at
                    .map(|t| format!(" at {}", time::rfc3339(t)))
                    .unwrap_or_default()
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    fn key(name: &str, scopes: &[&str]) -> StoredKey {
        StoredKey {
            name: name.into(),
            key: PublicKey::from_base64(PK).unwrap(),
            status: Status::Active,
            builtin: false,
            global: false,
            scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
            source: "--pubkey".into(),
            added_at: Some(1_700_000_000),
            expires: None,
            last_used_at: None,
            use_count: 0,
            previous: Vec::new(),
            rotated_to: None,
            rotated_at: None,
            revoked_at: None,
        }
    }

    fn store(keys: Vec<StoredKey>) -> Store {
        Store {
            dir: PathBuf::from("/nonexistent"),
            keys,
            today: time::day_of(time::now()),
        }
    }

    fn url(s: &str) -> HttpUrl {
        HttpUrl::parse(s).unwrap()
    }

    #[test]
    fn names() {
        for ok in ["a", "acme", "Acme-2.0_x", &"x".repeat(64), "a..b"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "../x",
            "a\0b",
            "ключ",
            "a b",
            "a:b",
            "a\\b",
            &"x".repeat(65),
        ] {
            assert_eq!(validate_name(bad).unwrap_err().exit_code(), 64, "{bad:?}");
        }
    }

    #[test]
    fn lookup_honours_scope_status_and_expiry() {
        let id = PublicKey::from_base64(PK).unwrap().id();
        let s = store(vec![key("acme", &["https://acme.test/dl/"])]);
        let inside = url("https://acme.test/dl/x.sh");
        assert!(matches!(
            s.lookup(id, Some(&inside)),
            StoreVerdict::Trusted(_)
        ));
        assert!(s.covers(Some(&inside)));
        for out in [
            "https://acme.test/other/x.sh",
            "https://acme.test.evil/dl/x.sh",
            "https://acme.test/dl/../other/x.sh",
        ] {
            let u = url(out);
            match s.lookup(id, Some(&u)) {
                StoreVerdict::Refused(e) => {
                    assert_eq!(e.exit_code(), 77);
                    assert!(e.hint_text().unwrap().contains("acme"), "{e:?}");
                }
                v => panic!("{out}: {v:?}"),
            }
            assert!(!s.covers(Some(&u)));
        }
        // Local files: only global keys count.
        assert!(matches!(s.lookup(id, None), StoreVerdict::Refused(_)));
        assert!(!s.covers(None));
        let mut g = key("g", &[]);
        g.global = true;
        let sg = store(vec![g]);
        assert!(matches!(sg.lookup(id, None), StoreVerdict::Trusted(_)));
        assert!(sg.covers(Some(&url("https://anything.test/x"))));

        let mut expired = key("old", &["https://acme.test/"]);
        expired.expires = Some(time::day_of(time::now()) - 1);
        let se = store(vec![expired.clone()]);
        assert!(matches!(
            se.lookup(id, Some(&inside)),
            StoreVerdict::Refused(_)
        ));
        assert!(!se.covers(Some(&inside)));
        expired.expires = Some(time::day_of(time::now()));
        let today = store(vec![expired]);
        assert!(matches!(
            today.lookup(id, Some(&inside)),
            StoreVerdict::Trusted(_)
        ));

        let mut revoked = key("bad", &["https://acme.test/"]);
        revoked.status = Status::Revoked;
        let sr = store(vec![revoked]);
        assert!(sr.refuses_given(id).is_some());
        assert!(matches!(
            sr.lookup(id, Some(&inside)),
            StoreVerdict::Refused(_)
        ));
        assert!(!sr.is_empty());
        assert!(s.refuses_given(id).is_none());
    }

    #[test]
    fn builtin_keys_parse_and_are_listed() {
        let b = builtin_keys();
        assert_eq!(b.len(), BUILTINS.len(), "a built-in key does not parse");
        for k in &b {
            assert!(!k.scopes.is_empty(), "{} has no scope", k.name);
            assert!(validate_name(&k.name).is_ok());
        }
        // Every keys/*.pub in the repository is compiled in.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".pub") {
                assert!(
                    BUILTINS.iter().any(|b| b.file == format!("keys/{name}")),
                    "keys/{name} is not in BUILTINS"
                );
            }
        }
        let s = store(with_builtins(Vec::new()));
        assert!(s.is_empty(), "built-in keys alone leave the store empty");
        let release = url("https://github.com/verun-dev/verun/releases/download/v1.0.0/verun");
        assert!(s.covers(Some(&release)));
        assert!(!s.covers(Some(&url(
            "https://github.com/evil/verun/releases/download/v1/x"
        ))));
    }

    #[test]
    fn store_file_round_trips() {
        let mut k = key("acme", &["https://acme.test/dl/", "http://127.0.0.1:8080/"]);
        k.expires = Some(20_000);
        k.last_used_at = Some(1_700_000_100);
        k.use_count = 3;
        k.previous = vec![KeyId([1; 8])];
        let doc = FileDoc {
            version: FORMAT_VERSION,
            keys: vec![key_to_record(&k)],
        };
        let text = format!("{STORE_HEADER}\n{}", toml::to_string(&doc).unwrap());
        let back = parse_store(&text, Path::new("store.toml")).unwrap();
        let back = back.iter().find(|b| b.name == "acme").unwrap();
        assert_eq!(back.scopes, k.scopes);
        assert_eq!(back.expires, k.expires);
        assert_eq!(back.last_used_at, k.last_used_at);
        assert_eq!(back.use_count, 3);
        assert_eq!(back.previous, k.previous);
        assert!(text.contains("[[key]]"), "{text}");
    }

    #[test]
    fn damaged_store_files_are_config_errors() {
        let good = format!(
            "version = 1\n[[key]]\nname = \"acme\"\nkey_id = \"E7620F1842B4E81F\"\npublic_key = \"{PK}\"\nstatus = \"active\"\nscopes = [\"https://acme.test/\"]\nsource = \"--pubkey\"\n"
        );
        assert!(parse_store(&good, Path::new("s")).is_ok());
        for bad in [
            "garbage".to_string(),
            "version = 2\n".to_string(),
            good.replace("E7620F1842B4E81F", "0000000000000000"),
            good.replace("status = \"active\"", "status = \"trusted\""),
            good.replace("https://acme.test/", "https://acme.test/../x/"),
            good.replace("scopes = [\"https://acme.test/\"]\n", ""),
            good.replace("name = \"acme\"", "name = \"../x\""),
            good.replace("RWQf", "RWQg"),
            format!("{good}extra = 1\n"),
            format!("{good}added_at = \"yesterday\"\n"),
            format!("{good}{}", good.replace("version = 1\n", "")),
        ] {
            let err = parse_store(&bad, Path::new("s")).expect_err(&bad);
            assert_eq!(err.exit_code(), 78, "{bad}: {err}");
        }
    }
}
