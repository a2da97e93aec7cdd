//! What `verun key list` and `key show` print: the table, the JSON document and the detail
//! view, with every user-supplied string sanitised.

use serde::Serialize;

use super::*;

// --- output -------------------------------------------------------------------------------

/// One key as `key list --json` shows it.
#[derive(Serialize)]
pub(super) struct KeyView {
    name: String,
    /// What kind of signer this entry is (`minisign`, `openpgp`, `ssh`), and which:
    /// `minisign:KEYID`, `openpgp:FINGERPRINT`, `ssh:SHA256:...`.
    kind: &'static str,
    signer: String,
    /// The signer in words: for OpenPGP the primary user ID, for SSH the key's comment
    /// (sanitised).
    description: String,
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

pub(super) fn view(store: &Store, k: &StoredKey) -> KeyView {
    KeyView {
        name: k.name.clone(),
        kind: k.key.kind().name(),
        signer: k.signer().id(),
        description: k.key.describe(),
        key_id: k.id().to_string(),
        public_key: k.key.public_text(),
        status: k.state(store.today),
        builtin: k.builtin,
        global: k.global,
        scopes: k.scopes.iter().map(Scope::to_string).collect(),
        source: k.source.clone(),
        added_at: k.added_at.map(time::rfc3339),
        expires: k.expires.map(time::format_date),
        last_used_at: k.last_used_at.map(time::rfc3339),
        use_count: k.use_count,
        previous_key_ids: k.previous.clone(),
        rotated_to: k.rotated_to.clone(),
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
pub(super) fn sorted(store: &Store) -> Vec<&StoredKey> {
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
pub(super) struct ListView {
    store: String,
    keys: Vec<KeyView>,
}

pub(super) fn list_json(store: &Store) -> String {
    let doc = ListView {
        store: store.dir.display().to_string(),
        keys: sorted(store).into_iter().map(|k| view(store, k)).collect(),
    };
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

pub(super) fn list_table(store: &Store) -> String {
    let header = [
        "NAME",
        "KIND",
        "KEY ID",
        "STATUS",
        "USES",
        "LAST USED",
        "EXPIRES",
        "TRUSTED FOR",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for k in sorted(store) {
        let mut status = k.state(store.today).to_string();
        if k.builtin {
            status.push_str(", built-in");
        }
        rows.push([
            k.name.clone(),
            k.key.kind().name().to_string(),
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

pub(super) fn show_text(store: &Store, k: &StoredKey) -> String {
    let v = view(store, k);
    let mut out = String::new();
    let mut field = |label: &str, value: &str| {
        out.push_str(&format!("{:<15} {}\n", format!("{label}:"), value));
    };
    field("name", &v.name);
    field("kind", v.kind);
    field("signer", &v.signer);
    if v.kind != "minisign" {
        field("describes", &v.description);
    }
    field("key id", &v.key_id);
    if v.kind == "openpgp" {
        field(
            "public key",
            &format!(
                "an OpenPGP certificate ({} bytes)",
                v.public_key.len() * 3 / 4
            ),
        );
    } else {
        // An SSH key line carries its comment: untrusted text.
        field("public key", &sanitize(&v.public_key));
    }
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
