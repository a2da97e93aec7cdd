//! The key store (`config/store.toml`), loaded the way verun loads it: `Store::open_dir`
//! on a private directory (its TOML parser is private, so the file goes through disk).
//! Never panics; a damaged store is refused with 78 (74 for I/O); a store that loads holds
//! only valid key names (a name becomes the path `keys/NAME.pub`, so `../x` must never get
//! through), and every scope it holds parses back from its canonical form.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/key_store.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::OnceLock;

use verun::store::{Scope, Store, validate_name};

fn config_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("verun-fuzz-store-")
            .tempdir()
            .expect("tempdir");
        let config = tmp.path().join("config");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&config)
            .expect("mkdir config");
        (tmp, config)
    })
    .1
}

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let dir = config_dir();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("store.toml"))
        .expect("write store.toml");
    f.write_all(data).expect("write store.toml");
    drop(f);
    match Store::open_dir(dir) {
        Ok(store) => {
            for k in store.keys() {
                validate_name(&k.name).expect("a loaded key has a valid name");
                for s in &k.scopes {
                    assert_eq!(Scope::parse(&s.to_string()).ok().as_ref(), Some(s));
                }
                let _ = k.scope_text();
            }
        }
        Err(e) => assert!(
            matches!(e.exit_code(), 74 | 78),
            "{}: {}",
            e.exit_code(),
            e.message()
        ),
    }
}
