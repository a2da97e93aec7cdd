//! Checksum lists (GNU, BSD, openssl, bare digest): never panic; every entry has a
//! non-empty name, except a bare digest, which is then the only entry; one algorithm per
//! list; `find` returns only an entry whose name (or last path component) is the one asked
//! for, or the bare digest.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/checksums.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::checksums::{Digest, find, parse};

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    // The first line is the file name looked up; the rest is the list.
    let (name, list) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            &data[i + 1..],
        ),
        None => (String::new(), data),
    };
    let Ok(entries) = parse(list, "fuzz") else {
        return;
    };
    assert!(!entries.is_empty());
    let bare = entries.iter().any(|e| e.name.is_none());
    assert!(!bare || entries.len() == 1, "a bare digest is alone");
    for e in &entries {
        assert!(e.name.as_deref().is_none_or(|n| !n.is_empty()));
        assert_eq!(Digest::parse_hex(&e.digest.hex()), Some(e.digest));
        assert_eq!(e.digest.algorithm(), entries[0].digest.algorithm());
    }
    let named = |x: &verun::checksums::Entry| {
        x.name
            .as_deref()
            .is_some_and(|n| n == name || n.rsplit('/').next() == Some(name.as_str()))
    };
    match find(&entries, &name, "fuzz") {
        Ok(e) => {
            assert!(bare || named(e));
            assert_eq!(bare, e.name.is_none());
            if !bare {
                assert_eq!(entries.iter().filter(|x| named(x)).count(), 1);
            }
        }
        Err(err) => assert_eq!(err.exit_code(), 77),
    }
}
