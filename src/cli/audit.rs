//! `verun audit LOCKFILE`: one line per entry as it is checked, the summary on stderr.

use verun::error::Result;
use verun::keys::KeyStore;

use super::shared::*;

/// `verun audit LOCKFILE`: one line per entry on stdout as it is checked (or one JSON
/// document), the summary on stderr.
pub(super) fn audit(a: crate::cli::AuditArgs) -> Result<u8> {
    if a.allow_http {
        warn_unsafe(&[(
            "--allow-http",
            "plain http is permitted: anyone on the path can see and block the download",
        )]);
    }
    let store = open_store()?;
    let json = a.json;
    let mut print_line = |o: &verun::audit::Outcome| {
        if !json {
            println!("{}", o.line());
        }
    };
    let report = verun::audit::audit(
        &a.audit_options(),
        store.as_ref().map(|s| s as &dyn KeyStore),
        &mut print_line,
    )?;
    if json {
        println!("{}", serde_json::to_value(&report).unwrap_or_default());
    }
    note(false, &report.summary_line());
    Ok(report.exit_code)
}
