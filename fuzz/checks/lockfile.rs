//! Lockfile parsing: never panics; anything that parses renders to text that parses back to
//! the same entries (so verun never writes a lockfile it cannot read).
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/lockfile.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use std::path::Path;

use verun::lock::Lockfile;

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.lock");
    match Lockfile::parse(text, path) {
        Ok(lock) => {
            let rendered = lock.render();
            let again = Lockfile::parse(&rendered, path).expect("a rendered lockfile parses");
            assert_eq!(again, lock);
        }
        Err(e) => assert_eq!(e.exit_code(), 78, "{}", e.message()),
    }
}
