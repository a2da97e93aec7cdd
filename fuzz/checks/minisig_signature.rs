//! `.minisig` parsing: arbitrary bytes must never panic, and whatever parses satisfies the
//! format's invariants (size cap, four lines, a trusted comment within minisign's limit).
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/minisig_signature.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::minisig::{MAX_SIG_BYTES, Signature};

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    match Signature::parse(data, "fuzz") {
        Ok(sig) => {
            assert!(data.len() as u64 <= MAX_SIG_BYTES);
            assert!(std::str::from_utf8(data).is_ok());
            let tc = sig.trusted_comment();
            assert!(tc.len() <= 8192);
            assert!(!tc.contains('\n'));
            let _ = sig.fields();
            let _ = sig.key_id().to_string();
            let _ = sig.is_prehashed();
        }
        Err(e) => assert_eq!(e.exit_code(), 77, "{}", e.message()),
    }
}
