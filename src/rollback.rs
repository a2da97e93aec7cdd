//! Rollback protection: a signed release may not be replaced by an older signed release.
//!
//! An attacker who controls a download host but not the signing key can still serve an
//! *old* release with its genuine signature, one with a known hole. minisign's trusted
//! comment carries the signing time (`timestamp:N`), so verun remembers, per (signer key id,
//! URL), the highest timestamp it has accepted, and refuses (77) a signature older than that
//! unless `--allow-downgrade` (which warns).
//!
//! - State: `STATE/rollback.json` (`VERUN_HOME/state` or the platform state directory),
//!   `{"version":1,"marks":{"<KEY ID>":{"<URL>":<timestamp>}}}`. The directory is 0700 and
//!   the file 0600; a symlink, a file writable by others, or a malformed file is refused
//!   (78). Writes are atomic, under an exclusive lock on `STATE/.rollback.lck`, and keep
//!   the maximum, so concurrent runs never lower a mark.
//! - Keyed by key id: after a key rotation the new key starts without a mark, and the old
//!   key's mark stays with the old key.
//! - A signature without a numeric `timestamp:` is neither checked nor recorded.
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

use crate::atomic::{FileLock, private_dir, read_private, write_atomic};
use crate::error::{Error, Result};
use crate::term::sanitize;
use crate::time::rfc3339_utc;
use crate::verify::Report;

/// How far ahead of the local clock a signed timestamp may be before it is reported.
pub const FUTURE_SLACK_SECS: u64 = 24 * 3600;
const STATE_FILE: &str = "rollback.json";
const LOCK_FILE: &str = ".rollback.lck";
const MAX_STATE_BYTES: u64 = 64 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    version: u32,
    /// key id → URL → highest accepted timestamp.
    marks: BTreeMap<String, BTreeMap<String, u64>>,
}

/// A timestamp to remember once the payload is accepted.
#[derive(Clone, Debug)]
pub struct Mark {
    dir: PathBuf,
    key_id: String,
    url: String,
    timestamp: u64,
}

/// The outcome of a passing check: the mark to save, and notes for stderr.
#[derive(Debug, Default)]
pub struct Checked {
    /// What to record when the payload is accepted.
    pub mark: Option<Mark>,
    /// Warnings for the user (future timestamp, downgrade accepted).
    pub warnings: Vec<String>,
}

/// Check `report`'s signed timestamp for `url` against the state in `state_dir`.
/// `now` is the current time in seconds. Refuses (77) an older timestamp unless
/// `allow_downgrade`.
pub fn check(
    state_dir: &Path,
    url: &str,
    report: &Report,
    allow_downgrade: bool,
    now: u64,
) -> Result<Checked> {
    let Some(sig) = &report.signature else {
        return Ok(Checked::default());
    };
    let Some(ts) = sig.timestamp else {
        return Ok(Checked::default());
    };
    let mut out = Checked::default();
    if ts > now.saturating_add(FUTURE_SLACK_SECS) {
        out.warnings.push(format!(
            "the signature's timestamp {ts} ({}) is more than a day ahead of this machine's clock ({}); accepted, but check the clock and the release",
            rfc3339_utc(ts),
            rfc3339_utc(now)
        ));
    }
    let state = load(state_dir)?;
    if let Some(&seen) = state.marks.get(&sig.key_id).and_then(|m| m.get(url))
        && ts < seen
    {
        if !allow_downgrade {
            return Err(Error::refused(format!(
                "rollback: {} is signed by key {} at {ts} ({}), older than the signature at {seen} ({}) already accepted for this key and URL",
                sanitize(url),
                sig.key_id,
                rfc3339_utc(ts),
                rfc3339_utc(seen)
            ))
            .hint("someone may be serving an old release with a known hole; nothing was run or saved. If the publisher really went back, pass --allow-downgrade"));
        }
        out.warnings.push(format!(
            "--allow-downgrade: accepted a signature at {ts} ({}), older than {seen} ({}) seen before",
            rfc3339_utc(ts),
            rfc3339_utc(seen)
        ));
    }
    out.mark = Some(Mark {
        dir: state_dir.to_path_buf(),
        key_id: sig.key_id.clone(),
        url: url.to_string(),
        timestamp: ts.min(now.saturating_add(FUTURE_SLACK_SECS)),
    });
    Ok(out)
}

impl Mark {
    /// Remember the mark: load-modify-write under the lock, keeping the maximum.
    pub fn save(&self) -> Result<()> {
        private_dir(&self.dir, "state directory")?;
        let _guard = FileLock::acquire(&self.dir.join(LOCK_FILE), 0o600)?;
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
    if let Ok(m) = std::fs::symlink_metadata(dir)
        && m.file_type().is_symlink()
    {
        return Err(Error::config(format!(
            "the state directory {} is a symlink; refusing to use it",
            dir.display()
        ))
        .hint("make it a private directory (chmod 700) owned by you, or set VERUN_HOME"));
    }
    let Some(bytes) = read_private(&path, MAX_STATE_BYTES, "rollback state")? else {
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
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::SigReport;

    fn report(ts: Option<u64>) -> Report {
        Report {
            subject: "u".into(),
            file_name: "f".into(),
            size: 1,
            sha256: "00".repeat(32),
            sha512: None,
            signature: Some(SigReport {
                location: "u.minisig".into(),
                key_id: "E7620F1842B4E81F".into(),
                key_source: "--key".into(),
                key_name: None,
                trusted_comment: String::new(),
                timestamp: ts,
                prehashed: true,
            }),
            pins: Vec::new(),
            anchors: Vec::new(),
        }
    }

    #[test]
    fn older_refused_newer_accepted_future_capped() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        let now = 1_700_000_000;
        let c = check(&dir, "https://x/a", &report(Some(now - 10)), false, now).unwrap();
        c.mark.unwrap().save().unwrap();
        let c = check(&dir, "https://x/a", &report(Some(now - 10)), false, now).unwrap();
        assert!(c.warnings.is_empty());
        let e = check(&dir, "https://x/a", &report(Some(now - 20)), false, now).unwrap_err();
        assert_eq!(e.exit_code(), 77);
        assert!(e.message().starts_with("rollback:"));
        let c = check(&dir, "https://x/a", &report(Some(now - 20)), true, now).unwrap();
        assert_eq!(c.warnings.len(), 1);
        c.mark.unwrap().save().unwrap(); // does not lower the mark
        assert!(check(&dir, "https://x/a", &report(Some(now - 20)), false, now).is_err());
        // Another URL, and no timestamp: nothing to compare.
        assert!(check(&dir, "https://x/b", &report(Some(1)), false, now).is_ok());
        assert!(
            check(&dir, "https://x/a", &report(None), false, now)
                .unwrap()
                .mark
                .is_none()
        );
        // Far future: warned, recorded capped at now + 1 day.
        let c = check(
            &dir,
            "https://x/a",
            &report(Some(now + 10 * 86_400)),
            false,
            now,
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 1);
        c.mark.unwrap().save().unwrap();
        assert!(check(&dir, "https://x/a", &report(Some(now + 86_400)), false, now).is_ok());
        assert!(check(&dir, "https://x/a", &report(Some(now + 86_399)), false, now).is_err());
    }

    #[test]
    fn malformed_state_is_a_config_error() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        private_dir(&dir, "state directory").unwrap();
        let f = dir.join(STATE_FILE);
        std::fs::write(&f, b"{not json").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = check(&dir, "u", &report(Some(1)), false, 2).unwrap_err();
        assert_eq!(e.exit_code(), 78);
    }
}
