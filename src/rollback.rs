//! Rollback protection: a signed release may not be replaced by an older signed release.
//!
//! An attacker who controls a download host but not the signing key can still serve an
//! *old* release with its genuine signature, one with a known hole. minisign's trusted
//! comment carries the signing time (`timestamp:N`), so verun remembers, per (signer,
//! URL), the highest timestamp it has accepted, and refuses (77) a signature older than that
//! unless `--allow-downgrade` (which warns).
//!
//! - State: `STATE/rollback.json` (`VERUN_HOME/state` or the platform state directory),
//!   `{"version":1,"marks":{"<KEY ID>":{"<URL>":<timestamp>}}}`. The directory is 0700 and
//!   the file 0600; they follow `crate::private_fs`'s rules (yours, not writable by
//!   others, no symlink, not in a directory everyone may write to without the sticky bit):
//!   whenever a signed timestamp is to be checked, a state directory or file that breaks
//!   them, or a malformed file, is refused (78) before anything is run or saved. Writes are atomic, under an exclusive lock on `STATE/.rollback.lck`, and keep
//!   the maximum, so concurrent runs never lower a mark.
//! - Keyed by key id: after a key rotation the new key starts without a mark, and the old
//!   key's mark stays with the old key.
//! - Every signature that vouches for the payload counts: the payload's own (keyed by the
//!   payload's URL) and a signed checksum list's (keyed by the list's URL), so a mirror
//!   cannot serve last year's signed `SHA256SUMS` with last year's release either.
//! - A signature without a numeric `timestamp:` records nothing; once a time was recorded
//!   for the signer and URL, such a signature is refused (77) unless `--allow-downgrade`.
//! - A timestamp more than a day ahead of this machine's clock is reported on stderr and
//!   accepted; the mark recorded is capped at now + 1 day, so a single far-future signature
//!   (or a wrong clock) cannot lock out the releases that follow it for longer than that.
//! - The check happens after verification and before anything is run, saved or recorded.
//!   The mark is saved when the payload is accepted (for `run`, after `--confirm`).
//!   A failure to *save* the mark is a warning, not an error: the verification held.
//! - `verify FILE` has no URL, and `--offline` no signature: neither checks nor records.
//! - With `--no-cache` (for Dockerfiles) the check still happens but no mark is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::private_fs::{self, LockKind, Rules, Want, write_atomic};
use crate::term::sanitize;
use crate::time::rfc3339_utc;

/// How far ahead of the local clock a signed timestamp may be before it is reported.
pub const FUTURE_SLACK_SECS: u64 = 24 * 3600;
const STATE_FILE: &str = "rollback.json";
const LOCK_FILE: &str = ".rollback.lck";
const MAX_STATE_BYTES: u64 = 64 << 20;
/// How the rollback state is named in refusals (the checks are `private_fs`'s).
const STATE_RULES: Rules<'static> = Rules::new("the rollback state", "refusing to use it");

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    version: u32,
    /// signer (`KIND:ID`, e.g. `minisign:E7620F1842B4E81F`) → URL → highest accepted
    /// timestamp. 0.1 wrote bare minisign key ids; [`load`] reads them as `minisign:ID`.
    marks: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The state's name for a signer: `KIND:ID` as given, a bare (0.1) key id as `minisign:ID`.
fn signer_key(id: &str) -> String {
    if id.contains(':') {
        id.to_string()
    } else {
        crate::scheme::minisign_signer_id(id)
    }
}

/// A timestamp to remember once the payload is accepted.
#[derive(Clone, Debug)]
pub struct Mark {
    dir: PathBuf,
    key_id: String,
    url: String,
    timestamp: u64,
}

/// The outcome of a passing check: the marks to save, and notes for stderr.
#[derive(Debug, Default)]
pub struct Checked {
    /// What to record when the payload is accepted (one per signed piece with a time).
    pub marks: Vec<Mark>,
    /// Warnings for the user (future timestamp, downgrade accepted).
    pub warnings: Vec<String>,
}

/// One signed piece of evidence: who signed what, and when (the trusted comment's
/// `timestamp:`, if numeric).
#[derive(Clone, Debug)]
pub struct Signed {
    /// The signer: `KIND:ID`, or a bare minisign key id (read as `minisign:ID`).
    pub key_id: String,
    /// The URL of what it signs: the payload's, or the checksum list's.
    pub url: String,
    /// The signed time.
    pub timestamp: Option<u64>,
    /// `signature of URL` or `checksum list signature of URL`, for messages.
    pub what: String,
}

/// Check every signed piece's time against the state in `state_dir`. `now` is the current
/// time in seconds. Refuses (77), unless `allow_downgrade`, a time older than one already
/// accepted for the same signer and URL, and a signature without a time once one was
/// recorded (review items 2 and 12: the checksum list's signature counts like the payload's).
pub fn check(
    state_dir: &Path,
    pieces: &[Signed],
    allow_downgrade: bool,
    now: u64,
) -> Result<Checked> {
    let mut out = Checked::default();
    if pieces.is_empty() {
        return Ok(out);
    }
    let state = load(state_dir)?;
    for p in pieces {
        let seen = state
            .marks
            .get(&signer_key(&p.key_id))
            .and_then(|m| m.get(&p.url))
            .copied();
        let Some(ts) = p.timestamp else {
            if let Some(seen) = seen {
                if !allow_downgrade {
                    return Err(Error::refused_for(crate::error::Reason::Rollback, format!(
                        "rollback: the {} by key {} carries no signed timestamp, but one at {seen} ({}) was already accepted for this key and URL",
                        sanitize(&p.what),
                        p.key_id,
                        rfc3339_utc(seen)
                    ))
                    .hint("a signature without a time could be an old one; nothing was run or saved. If the publisher really dropped the timestamp, pass --allow-downgrade"));
                }
                out.warnings.push(format!(
                    "--allow-downgrade: accepted the {} without a signed timestamp, though {seen} ({}) was seen before",
                    sanitize(&p.what),
                    rfc3339_utc(seen)
                ));
            }
            continue;
        };
        if ts > now.saturating_add(FUTURE_SLACK_SECS) {
            out.warnings.push(format!(
                "the {}'s timestamp {ts} ({}) is more than a day ahead of this machine's clock ({}); accepted, but check the clock and the release",
                sanitize(&p.what),
                rfc3339_utc(ts),
                rfc3339_utc(now)
            ));
        }
        if let Some(seen) = seen
            && ts < seen
        {
            if !allow_downgrade {
                return Err(Error::refused_for(crate::error::Reason::Rollback, format!(
                    "rollback: the {} by key {} is signed at {ts} ({}), older than the signature at {seen} ({}) already accepted for this key and URL",
                    sanitize(&p.what),
                    p.key_id,
                    rfc3339_utc(ts),
                    rfc3339_utc(seen)
                ))
                .hint("someone may be serving an old release with a known hole; nothing was run or saved. If the publisher really went back, pass --allow-downgrade"));
            }
            out.warnings.push(format!(
                "--allow-downgrade: accepted the {} signed at {ts} ({}), older than {seen} ({}) seen before",
                sanitize(&p.what),
                rfc3339_utc(ts),
                rfc3339_utc(seen)
            ));
        }
        out.marks.push(Mark {
            dir: state_dir.to_path_buf(),
            key_id: signer_key(&p.key_id),
            url: p.url.clone(),
            timestamp: ts.min(now.saturating_add(FUTURE_SLACK_SECS)),
        });
    }
    Ok(out)
}

impl Mark {
    /// Remember the mark: load-modify-write under the lock, keeping the maximum.
    pub fn save(&self) -> Result<()> {
        private_fs::ensure_dir(&self.dir, &STATE_RULES)?;
        let _guard = private_fs::lock(
            &self.dir.join(LOCK_FILE),
            LockKind::Exclusive,
            Some(0o600),
            &STATE_RULES,
        )?;
        let mut state = load(&self.dir)?;
        state.version = 1;
        let slot = state
            .marks
            .entry(self.key_id.clone())
            .or_default()
            .entry(self.url.clone())
            .or_insert(0);
        if *slot >= self.timestamp {
            return Ok(());
        }
        *slot = self.timestamp;
        let mut text = serde_json::to_string_pretty(&state)
            .map_err(|e| Error::io(format!("cannot encode the rollback state: {e}")))?;
        text.push('\n');
        write_atomic(&self.dir.join(STATE_FILE), text.as_bytes(), 0o600)
    }
}

fn load(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    // The state directory and file follow the key store's rules: another user who could
    // swap them could erase the marks (78, before anything is used).
    private_fs::check_parent(dir, &STATE_RULES)?;
    if !private_fs::check_path(dir, Want::Dir, &STATE_RULES)? {
        return Ok(State {
            version: 1,
            marks: BTreeMap::new(),
        });
    }
    let Some(bytes) = private_fs::read(&path, MAX_STATE_BYTES, &STATE_RULES)? else {
        return Ok(State {
            version: 1,
            marks: BTreeMap::new(),
        });
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| {
        Error::config(format!(
            "malformed rollback state {}: {}",
            path.display(),
            sanitize(&e.to_string())
        ))
        .hint(format!(
            "restore it, or delete it to forget every remembered timestamp: rm {}",
            path.display()
        ))
    })?;
    if state.version != 1 {
        return Err(Error::config(format!(
            "rollback state {} has version {}, which this verun does not read",
            path.display(),
            state.version
        )));
    }
    // 0.1's bare key ids become `minisign:ID`, merged with any newer entries (maximum).
    let mut marks: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (signer, urls) in state.marks {
        let slot = marks.entry(signer_key(&signer)).or_default();
        for (url, ts) in urls {
            let t = slot.entry(url).or_insert(0);
            *t = (*t).max(ts);
        }
    }
    Ok(State {
        version: state.version,
        marks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(url: &str, ts: Option<u64>) -> Vec<Signed> {
        vec![Signed {
            key_id: "E7620F1842B4E81F".into(),
            url: url.into(),
            timestamp: ts,
            what: format!("signature of {url}"),
        }]
    }

    fn save(c: Checked) {
        for m in c.marks {
            m.save().unwrap();
        }
    }

    #[test]
    fn older_refused_newer_accepted_future_capped() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        let now = 1_700_000_000;
        let a = "https://x/a";
        save(check(&dir, &piece(a, Some(now - 10)), false, now).unwrap());
        let c = check(&dir, &piece(a, Some(now - 10)), false, now).unwrap();
        assert!(c.warnings.is_empty());
        let e = check(&dir, &piece(a, Some(now - 20)), false, now).unwrap_err();
        assert_eq!(e.exit_code(), 77);
        assert!(e.message().starts_with("rollback:"));
        let c = check(&dir, &piece(a, Some(now - 20)), true, now).unwrap();
        assert_eq!(c.warnings.len(), 1);
        save(c); // does not lower the mark
        assert!(check(&dir, &piece(a, Some(now - 20)), false, now).is_err());
        // Another URL: nothing to compare.
        assert!(check(&dir, &piece("https://x/b", Some(1)), false, now).is_ok());
        // Far future: warned, recorded capped at now + 1 day.
        let c = check(&dir, &piece(a, Some(now + 10 * 86_400)), false, now).unwrap();
        assert_eq!(c.warnings.len(), 1);
        save(c);
        assert!(check(&dir, &piece(a, Some(now + 86_400)), false, now).is_ok());
        assert!(check(&dir, &piece(a, Some(now + 86_399)), false, now).is_err());
    }

    #[test]
    fn a_signature_without_a_time_is_refused_once_a_time_was_recorded() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        let now = 1_700_000_000;
        // Nothing recorded yet: accepted, and nothing to record.
        let c = check(&dir, &piece("https://x/a", None), false, now).unwrap();
        assert!(c.marks.is_empty() && c.warnings.is_empty());
        save(check(&dir, &piece("https://x/a", Some(now)), false, now).unwrap());
        let e = check(&dir, &piece("https://x/a", None), false, now).unwrap_err();
        assert_eq!(e.exit_code(), 77);
        assert!(
            e.message().contains("no signed timestamp"),
            "{}",
            e.message()
        );
        let c = check(&dir, &piece("https://x/a", None), true, now).unwrap();
        assert_eq!(c.warnings.len(), 1);
        // Another URL is unaffected.
        assert!(check(&dir, &piece("https://x/b", None), false, now).is_ok());
    }

    #[test]
    fn a_0_1_state_keyed_by_bare_key_ids_still_holds() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        private_fs::ensure_dir(&dir, &STATE_RULES).unwrap();
        let f = dir.join(STATE_FILE);
        std::fs::write(
            &f,
            br#"{"version":1,"marks":{"E7620F1842B4E81F":{"https://x/a":1000}}}"#,
        )
        .unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = check(&dir, &piece("https://x/a", Some(999)), false, 2000).unwrap_err();
        assert_eq!(e.exit_code(), 77);
        // Saved again, the mark is written under the signer's name.
        save(check(&dir, &piece("https://x/a", Some(1500)), false, 2000).unwrap());
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("minisign:E7620F1842B4E81F"), "{text}");
        assert!(!text.contains("\"E7620F1842B4E81F\""), "{text}");
    }

    #[test]
    fn malformed_state_is_a_config_error() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        private_fs::ensure_dir(&dir, &STATE_RULES).unwrap();
        let f = dir.join(STATE_FILE);
        std::fs::write(&f, b"{not json").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = check(&dir, &piece("u", Some(1)), false, 2).unwrap_err();
        assert_eq!(e.exit_code(), 78);
    }
}
