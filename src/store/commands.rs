//! The `verun key` commands (add, list, show, remove, revoke, rotate): each returns what to
//! print, and never prints itself.

use std::path::{Path, PathBuf};

use super::*;

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
/// A `verun key` operation, as plain data (the CLI fills it from its subcommand).
#[derive(Clone, Debug)]
pub enum KeyOp {
    /// Trust a key for URL prefixes (or everywhere).
    Add {
        /// The key's name.
        name: String,
        /// The key itself (`RW...`, or one SSH public-key line).
        pubkey: Option<String>,
        /// A key file of any kind: minisign `.pub`, OpenPGP certificate or keyring, SSH
        /// `.pub`.
        file: Option<PathBuf>,
        /// `--fingerprint`: the OpenPGP certificate (of the file's) to trust.
        fingerprint: Option<String>,
        /// URL prefixes.
        scope: Vec<String>,
        /// Every URL.
        global: bool,
        /// Last day of trust (`YYYY-MM-DD`).
        expires: Option<String>,
        /// A Sigstore signer instead of a key.
        sigstore: SigstoreSpec,
    },
    /// List the keys (a table, or one JSON document).
    List {
        /// JSON instead of a table.
        json: bool,
    },
    /// One key with its metadata and history.
    Show {
        /// The key's name.
        name: String,
    },
    /// Forget a key.
    Remove {
        /// The key's name.
        name: String,
    },
    /// Revoke a key: refused everywhere from now on.
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Replace a key by a new one signed by it.
    Rotate {
        /// The key's name.
        name: String,
        /// The new key's `.pub` file.
        new: PathBuf,
        /// The current key's signature of that file.
        sig: PathBuf,
    },
}

/// A Sigstore signer for `key add`: `--cert-identity ID` (or `--cert-identity-regexp RE`)
/// with `--cert-oidc-issuer URL`, or `--github-repo OWNER/NAME`.
#[derive(Clone, Debug, Default)]
pub struct SigstoreSpec {
    /// `--cert-identity`.
    pub identity: Option<String>,
    /// `--cert-identity-regexp`.
    pub identity_regexp: Option<String>,
    /// `--cert-oidc-issuer`.
    pub issuer: Option<String>,
    /// `--github-repo`.
    pub github_repo: Option<String>,
}

/// Carry out a `verun key` operation on the store below `paths`; what to print comes back.
pub fn command(paths: &Paths, cmd: KeyOp) -> Result<Outcome> {
    let dir = &paths.config;
    match cmd {
        KeyOp::Add {
            name,
            pubkey,
            file,
            fingerprint,
            scope,
            global,
            expires,
            sigstore,
        } => add(
            dir,
            &name,
            (pubkey, file, fingerprint, sigstore),
            &scope,
            global,
            expires.as_deref(),
        ),
        KeyOp::List { json } => {
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
        KeyOp::Show { name } => {
            validate_name(&name)?;
            let store = Store::open_dir(dir)?;
            let k = current(&store.keys, &name).ok_or_else(|| no_such_key(&name))?;
            Ok(Outcome {
                stdout: show_text(&store, k),
                notes: Vec::new(),
            })
        }
        KeyOp::Remove { name } => remove(dir, &name),
        KeyOp::Revoke { name } => revoke(dir, &name),
        KeyOp::Rotate { name, new, sig } => rotate(dir, &name, &new, &sig),
    }
}

pub(super) fn no_such_key(name: &str) -> Error {
    Error::usage(format!("no key named {name} in the key store"))
        .hint("`verun key list` shows the keys and their names")
}

/// The key a name stands for: its current (not rotated-out) key, else its latest.
pub(super) fn current<'k>(keys: &'k [StoredKey], name: &str) -> Option<&'k StoredKey> {
    keys.iter()
        .find(|k| k.name == name && k.status != Status::RotatedOut)
        .or_else(|| {
            keys.iter()
                .filter(|k| k.name == name)
                .max_by_key(|k| k.rotated_at)
        })
}

pub(super) fn current_index(keys: &[StoredKey], name: &str) -> Option<usize> {
    let k = current(keys, name)?;
    keys.iter().position(|o| o.id() == k.id())
}

pub(super) fn read_arg_file(path: &Path, cap: u64, flag: &str) -> Result<Vec<u8>> {
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

/// The one signer a `key add --file` names: a minisign `.pub`; the OpenPGP certificate
/// `fingerprint` picks (or the only one); the only SSH key (without `allowed_signers`
/// options, which a store entry does not keep: scopes and `--expires` do that job).
fn key_from_file(path: &Path, fingerprint: Option<&str>) -> Result<Signer> {
    let shown = sanitize(&path.display().to_string());
    let bytes = read_arg_file(path, crate::openpgp::MAX_CERT_BYTES, "--file")?;
    let mut keys = crate::plan::parse_key_bytes(&bytes, &shown, "--file").map_err(|e| {
        Error::usage(e.message().replacen("--key", "--file", 1)).hint(
            "give a minisign .pub file, an OpenPGP certificate (.asc, .gpg) or an SSH .pub file",
        )
    })?;
    let kind = keys[0].key.kind();
    if kind == SignerKind::OpenPgp {
        let certs: Vec<String> = keys.iter().map(|k| k.key.short_id()).collect();
        let pick = match fingerprint {
            Some(f) => {
                let want = crate::openpgp::Fingerprint::parse_hex(f).map_err(|e| {
                    Error::usage(format!("--fingerprint {}: {e}", sanitize(f)))
                        .hint("an OpenPGP fingerprint is 40 hex digits (v4) or 64 (v6); spaces are allowed")
                })?;
                keys.iter()
                    .position(|k| matches!(&k.key, Signer::OpenPgp(c) if *c.fingerprint() == want))
                    .ok_or_else(|| {
                        Error::refused_for(
                            crate::error::Reason::UntrustedKey,
                            format!("--file {shown} holds no certificate with fingerprint {want} (it holds {})", certs.join(", ")),
                        )
                        .hint("the file does not hold the publisher's pinned key: check both against the publisher's documentation")
                    })?
            }
            None if keys.len() == 1 => 0,
            None => {
                return Err(Error::usage(format!(
                    "--file {shown} holds {} certificates ({}): pick one with --fingerprint",
                    keys.len(),
                    certs.join(", ")
                ))
                .hint("add each signer you trust under its own name, e.g. verun key add NAME --file KEYS.asc --fingerprint HEX --scope URL-PREFIX"));
            }
        };
        let key = keys.swap_remove(pick).key;
        if let Signer::OpenPgp(c) = &key
            && c.is_revoked()
        {
            return Err(Error::refused_for(
                crate::error::Reason::KeyRevoked,
                format!(
                    "--file {shown}: certificate {} is revoked by its owner",
                    c.fingerprint()
                ),
            )
            .hint("ask the publisher for their current certificate"));
        }
        return Ok(key);
    }
    if fingerprint.is_some() {
        return Err(Error::usage(format!(
            "--fingerprint is for OpenPGP certificates, and --file {shown} holds a {} key",
            kind.name()
        )));
    }
    if keys.len() != 1 {
        return Err(Error::usage(format!(
            "--file {shown} holds {} keys: a store entry is one key",
            keys.len()
        ))
        .hint("add each key under its own name (copy its line into a file of its own, or use --pubkey)"));
    }
    let key = keys.remove(0).key;
    refuse_ssh_options(&key, "--file", &shown)?;
    Ok(key)
}

/// A store entry is a plain key: `allowed_signers` options are refused (64), not dropped.
fn refuse_ssh_options(key: &Signer, flag: &str, shown: &str) -> Result<()> {
    match key {
        Signer::Ssh(a)
            if a.namespaces.is_some() || a.valid_after.is_some() || a.valid_before.is_some() =>
        {
            Err(Error::usage(format!(
                "{flag} {shown}: allowed_signers options (namespaces=, valid-after=, valid-before=) are not kept in the store"
            ))
            .hint("give the plain key (--pubkey 'ssh-ed25519 AAAA...'), with --scope and --expires; or pass the allowed_signers file with --key for each call"))
        }
        _ => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn add(
    dir: &Path,
    name: &str,
    (pubkey, file, fingerprint, sigstore): (
        Option<String>,
        Option<PathBuf>,
        Option<String>,
        SigstoreSpec,
    ),
    scopes: &[String],
    global: bool,
    expires: Option<&str>,
) -> Result<Outcome> {
    validate_name(name)?;
    let trust = crate::plan::sigstore_trust(
        sigstore.identity.as_deref(),
        sigstore.identity_regexp.as_deref(),
        sigstore.issuer.as_deref(),
        sigstore.github_repo.as_deref(),
    )?;
    if trust.is_some() && (pubkey.is_some() || file.is_some()) {
        return Err(Error::usage(
            "a Sigstore signer (--cert-identity, --github-repo) is an entry of its own: not with --pubkey or --file",
        ));
    }
    if fingerprint.is_some() && file.is_none() {
        return Err(
            Error::usage("--fingerprint picks an OpenPGP certificate of --file")
                .hint("verun key add NAME --file CERT.asc --fingerprint HEX --scope URL-PREFIX"),
        );
    }
    let (key, source) = match (pubkey, file) {
        (None, None) if trust.is_some() => {
            let t = trust.expect("checked");
            let source = match &t {
                crate::sigstore::Trust::GithubRepo(r) => format!("--github-repo {r}"),
                _ => "--cert-identity".to_string(),
            };
            (Signer::Sigstore(Box::new(t)), source)
        }
        (Some(line), None) if crate::sshsig::is_inline_key(line.trim()) => {
            let key = crate::sshsig::SshKey::parse_line(line.trim()).map_err(|e| {
                Error::usage(format!("--pubkey: {}", sanitize(&e))).hint(
                    "pass one line of the signer's SSH .pub file: `ssh-ed25519 AAAA... [comment]`",
                )
            })?;
            (
                Signer::Ssh(Box::new(crate::sshsig::Allowed {
                    key,
                    principals: Vec::new(),
                    namespaces: None,
                    valid_after: None,
                    valid_before: None,
                })),
                "--pubkey".to_string(),
            )
        }
        (Some(b64), None) => {
            let key = PublicKey::from_base64(&b64).map_err(|e| {
                let hint = if Path::new(b64.trim()).is_file() {
                    "--pubkey takes the key itself (RW... or an `ssh-ed25519 AAAA...` line); to give a key file, use --file PATH"
                } else {
                    "pass the RW... line of the publisher's minisign .pub file, or an SSH public-key line"
                };
                Error::usage(format!("--pubkey: {}", e.message())).hint(hint)
            })?;
            (Signer::Minisign(key), "--pubkey".to_string())
        }
        (None, Some(path))
            if !path.exists()
                && (crate::plan::looks_like_inline_key(path.to_string_lossy().trim())
                    || crate::sshsig::is_inline_key(path.to_string_lossy().trim())) =>
        {
            return Err(Error::usage(
                "--file takes the path of a key file, and this looks like a key itself",
            )
            .hint("to give the key itself, use --pubkey KEY"));
        }
        (None, Some(path)) => {
            let key = key_from_file(&path, fingerprint.as_deref())?;
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
    let id = key.short_id();
    let signer = key.clone();
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
        if let Some(k) = keys.iter().find(|k| k.is(&signer)) {
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

pub(super) fn remove(dir: &Path, name: &str) -> Result<Outcome> {
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

pub(super) fn revoke(dir: &Path, name: &str) -> Result<Outcome> {
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

/// The one key a rotation moves to: `--new FILE` of any kind (a minisign `.pub`, one
/// OpenPGP certificate, one SSH key without `allowed_signers` options), with the file's
/// bytes (what the rotation signature must cover).
fn new_key_file(path: &Path) -> Result<(Signer, Vec<u8>)> {
    let shown = sanitize(&path.display().to_string());
    let bytes = read_arg_file(path, crate::openpgp::MAX_CERT_BYTES, "--new")?;
    let mut keys = crate::plan::parse_key_bytes(&bytes, &shown, "--new").map_err(|e| {
        Error::usage(e.message().replacen("--key", "--new", 1))
            .hint("--new takes the new public key file: a minisign .pub, an OpenPGP certificate or an SSH .pub")
    })?;
    if keys.len() != 1 {
        return Err(Error::usage(format!(
            "--new {shown} holds {} keys: a rotation moves to one key",
            keys.len()
        ))
        .hint("export the new key alone (gpg --export --armor FPR, or one line of the .pub)"));
    }
    let key = keys.remove(0).key;
    refuse_ssh_options(&key, "--new", &shown)?;
    Ok((key, bytes))
}

/// How the rotation signature is made with `key`'s secret half, for hints.
fn how_to_sign(key: &Signer, name: &str, new_file: &str) -> String {
    let f = sanitize(new_file);
    match key {
        Signer::Minisign(_) => format!(
            "the new .pub must be signed with {name}'s current secret key: minisign -S -s CURRENT.key -m {f}"
        ),
        Signer::OpenPgp(c) => format!(
            "the new key file must be signed with {name}'s current key: gpg --local-user {} --detach-sign {f}",
            c.fingerprint()
        ),
        Signer::Ssh(_) => format!(
            "the new key file must be signed with {name}'s current key: ssh-keygen -Y sign -f CURRENT_KEY -n file {f}"
        ),
        Signer::Sigstore(_) => format!(
            "{name} is a Sigstore signer, which has no key to sign a rotation with: `verun key remove {name}`, then `verun key add` the new one"
        ),
    }
}

pub(super) fn rotate(dir: &Path, name: &str, new_path: &Path, sig_path: &Path) -> Result<Outcome> {
    validate_name(name)?;
    let (new_key, new_bytes) = new_key_file(new_path)?;
    let sig_bytes = read_arg_file(sig_path, crate::scheme::MAX_SIG_FILE_BYTES, "--sig")?;
    let sig_what = sig_path.display().to_string();
    let sig = crate::scheme::SigFile::parse(&sig_bytes, &sig_what)?;
    let new_file = new_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new_id = new_key.short_id();
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
        // The one signature policy (crate::scheme::admit_file), with the current key as the
        // only signer: another key, a legacy minisign signature or a `file:` other than the
        // new key file's name is refused; then the signature must cover the file's bytes.
        let current = crate::keys::KeyRing::new(
            vec![crate::plan::GivenKey {
                key: cur.key.clone(),
                source: format!("{name}'s current key"),
            }],
            None,
        )?;
        let what = format!("the rotation signature {}", sanitize(&sig_what));
        let admitted = crate::scheme::admit_file(
            &sig,
            &current,
            None,
            &crate::scheme::Expect {
                what: &what,
                file_name: &new_file,
                allow_legacy: false,
            },
        )
        .map_err(|e| match e.reason_code() {
            Some(crate::error::Reason::UntrustedKey) => {
                e.hint(how_to_sign(&cur.key, name, &new_file))
            }
            Some(crate::error::Reason::LegacySignature) => {
                e.hint("sign the new .pub with a current minisign (without -l)")
            }
            Some(crate::error::Reason::FileMismatch) => e.hint(
                "a signature for another file does not vouch for this one; use the file as it was signed",
            ),
            _ => e,
        })?;
        let shown_new = sanitize(&new_path.display().to_string());
        if admitted
            .decide_bytes(&new_bytes, false, &shown_new, &sanitize(&sig_what))
            .is_err()
        {
            return Err(Error::refused_for(
                crate::error::Reason::BadSignature,
                format!(
                    "{shown_new} does not match the signature {} by {}",
                    sanitize(&sig_what),
                    cur.label()
                ),
            )
            .hint("the new key file or its signature was altered (or the current key was not valid when it signed); nothing was changed"));
        }
        if let Some(k) = keys.iter().find(|k| k.is(&new_key)) {
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
        if let Signer::OpenPgp(c) = &new_key
            && c.is_revoked()
        {
            return Err(Error::refused_for(
                crate::error::Reason::KeyRevoked,
                format!(
                    "the new certificate {} is revoked by its owner",
                    c.fingerprint()
                ),
            )
            .hint("nothing was changed"));
        }
        let cur = &mut keys[i];
        let old = cur.id();
        let mut previous = cur.previous.clone();
        previous.push(old.clone());
        let next = StoredKey {
            name: name.to_string(),
            key: new_key.clone(),
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
        cur.rotated_to = Some(new_id.clone());
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
