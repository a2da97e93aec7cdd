//! The key store on disk: `store.toml` and `keys/NAME.pub` parsed strictly, checked against
//! the private-file rules, locked, and written atomically.

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::*;

// --- loading ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDoc {
    pub(super) version: u32,
    #[serde(default, rename = "key", skip_serializing_if = "Vec::is_empty")]
    pub(super) keys: Vec<Record>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Record {
    pub(super) name: String,
    /// `openpgp` or `ssh`; absent for minisign (so 0.1 stores read unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) kind: Option<String>,
    pub(super) key_id: String,
    pub(super) public_key: String,
    pub(super) status: Status,
    #[serde(default)]
    pub(super) global: bool,
    #[serde(default)]
    pub(super) scopes: Vec<String>,
    pub(super) source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) added_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_used_at: Option<String>,
    #[serde(default)]
    pub(super) use_count: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) previous: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rotated_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) revoked_at: Option<String>,
}

pub(super) fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::config(format!(
        "the key store {} is damaged: {why}",
        path.display()
    ))
    .hint(
        "repair it by hand or move it aside (verun never overwrites a store it cannot read); \
         then re-add your keys with `verun key add`",
    )
}

pub(super) fn builtin_keys() -> Vec<StoredKey> {
    BUILTINS
        .iter()
        .filter_map(|b| {
            let key = PublicKey::from_file_text(b.text).ok()?;
            Some(StoredKey {
                name: b.name.to_string(),
                key: Signer::Minisign(key),
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
pub(super) fn with_builtins(mut keys: Vec<StoredKey>) -> Vec<StoredKey> {
    let missing: Vec<StoredKey> = builtin_keys()
        .into_iter()
        .filter(|b| !keys.iter().any(|k| k.id() == b.id()))
        .collect();
    let mut all = missing;
    all.append(&mut keys);
    all
}

pub(super) fn record_to_key(
    r: Record,
    builtins: &[StoredKey],
) -> std::result::Result<StoredKey, String> {
    validate_name(&r.name).map_err(|e| e.message().to_string())?;
    let kind = match r.kind.as_deref() {
        None => SignerKind::Minisign,
        Some(k) => match SignerKind::parse(k) {
            Some(SignerKind::Minisign) | None => {
                return Err(format!("kind {:?} is not openpgp or ssh", sanitize(k)));
            }
            Some(kind) => kind,
        },
    };
    let key = Signer::from_public_text(kind, &r.public_key)
        .map_err(|e| format!("public_key: {}", sanitize(&e)))?;
    if key.short_id() != r.key_id {
        return Err(format!(
            "key_id {} does not match the public key (whose id is {})",
            sanitize(&r.key_id),
            key.short_id()
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
    // A rotation history names keys by id: a minisign key id (16 hex digits), an OpenPGP
    // fingerprint (40 or 64) or an SSH `SHA256:` fingerprint.
    let id = |field: &str, s: &str| -> std::result::Result<String, String> {
        let hex = |n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some(k) = KeyId::parse_hex(s) {
            Ok(k.to_string())
        } else if hex(40) || hex(64) {
            Ok(s.to_ascii_uppercase())
        } else if crate::lock::parse_signer(&format!("ssh:{s}")).is_some() {
            Ok(s.to_string())
        } else {
            Err(format!("{field} {:?} is not a key id", sanitize(s)))
        }
    };
    let scopes = r
        .scopes
        .iter()
        .map(|s| Scope::parse(s).map_err(|e| e.message().to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let builtin = builtins.iter().find(|b| b.id() == key.short_id());
    if let Some(b) = builtin
        && b.key.public_text() != key.public_text()
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

pub(super) fn key_to_record(k: &StoredKey) -> Record {
    Record {
        name: k.name.clone(),
        kind: match k.key.kind() {
            SignerKind::Minisign => None,
            other => Some(other.name().to_string()),
        },
        key_id: k.id(),
        public_key: k.key.public_text(),
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
        previous: k.previous.clone(),
        rotated_to: k.rotated_to.clone(),
        rotated_at: k.rotated_at.map(time::rfc3339),
        revoked_at: k.revoked_at.map(time::rfc3339),
    }
}

/// Parse `store.toml`'s text into keys (built-ins merged in), checking consistency.
pub(super) fn parse_store(text: &str, path: &Path) -> Result<Vec<StoredKey>> {
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
pub(super) fn load_dir(dir: &Path) -> Result<Vec<StoredKey>> {
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
            Some(f) if f.base64() == k.key.public_text() => {}
            // Left over from a rotation interrupted between the two writes: rewritten on the
            // next change.
            Some(f) if k.previous.contains(&f.id().to_string()) => {}
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

/// Whether `k` has a `keys/NAME.pub` export: the trusted minisign keys the user added
/// (OpenPGP and SSH entries live in `store.toml` only).
pub(super) fn exported(k: &StoredKey) -> bool {
    !k.builtin && k.status == Status::Active && k.key.kind() == SignerKind::Minisign
}

// --- permissions, locking, atomic writes -----------------------------------------------

/// How the key store names its files in refusals (the checks are `private_fs`'s).
pub(super) const STORE_RULES: Rules<'static> = Rules {
    what: "the key store",
    refusing: "refusing to load it",
    hint: store_hint,
};

pub(super) fn store_hint(path: &Path, problem: &Problem) -> String {
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
pub(super) fn check_tree(dir: &Path) -> Result<bool> {
    private_fs::check_parent(dir, &STORE_RULES)?;
    if !private_fs::check_path(dir, Want::Dir, &STORE_RULES)? {
        return Ok(false);
    }
    private_fs::check_path(&dir.join(KEYS_DIR), Want::Dir, &STORE_RULES)?;
    Ok(true)
}

/// Read a store file without following symlinks; `None` when it does not exist.
pub(super) fn read_private(path: &Path, cap: u64) -> Result<Option<Vec<u8>>> {
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
pub(super) struct StoreLock {
    _lock: Option<private_fs::Lock>,
}

impl StoreLock {
    /// Shared: for loading. Without a lock file (no writer ever ran), no lock is needed.
    pub(super) fn shared(dir: &Path) -> Result<StoreLock> {
        let lock = private_fs::lock(&dir.join(LOCK_FILE), LockKind::Shared, None, &STORE_RULES)?;
        Ok(StoreLock { _lock: lock })
    }

    /// Exclusive: for load → modify → write.
    pub(super) fn exclusive(dir: &Path) -> Result<StoreLock> {
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
pub(super) fn make_dir(dir: &Path, recursive: bool) -> Result<()> {
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
pub(super) fn save(dir: &Path, keys: &[StoredKey]) -> Result<()> {
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
        let Some(text) = k.pub_text() else {
            continue;
        };
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
pub(super) fn modify<T>(
    dir: &Path,
    change: impl FnOnce(&mut Vec<StoredKey>, i64) -> Result<T>,
) -> Result<T> {
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
