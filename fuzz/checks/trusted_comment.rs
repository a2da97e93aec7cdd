//! Trusted-comment fields (`timestamp:N\tfile:NAME`): never panics; a `file:` value never
//! holds a tab (the field separator), and a timestamp is what the text says.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/trusted_comment.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::minisig::TrustedFields;

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(tc) = std::str::from_utf8(data) else {
        return;
    };
    let f = TrustedFields::parse(tc);
    if let Some(file) = &f.file {
        assert!(!file.contains('\t'));
        assert!(tc.contains(&format!("file:{file}")));
    }
    if let Some(ts) = f.timestamp {
        assert!(tc.contains("timestamp:"));
        // The digits of the number appear literally (after any `+` and leading zeros).
        assert!(tc.contains(&ts.to_string()));
    }
}
