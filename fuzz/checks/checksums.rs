//! Checksum lists (GNU and BSD): never panic; every entry has a non-empty name; `find`
//! returns only an entry whose name (or last path component) is the one asked for.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/checksums.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::checksums::{find, parse, parse_hex32, to_hex};

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
    for e in &entries {
        assert!(!e.name.is_empty());
        assert_eq!(parse_hex32(&to_hex(&e.sha256)), Some(e.sha256));
    }
    match find(&entries, &name, "fuzz") {
        Ok(e) => {
            assert!(e.name == name || e.name.rsplit('/').next() == Some(name.as_str()));
            let same = entries
                .iter()
                .filter(|x| x.name == name || x.name.rsplit('/').next() == Some(name.as_str()))
                .count();
            assert_eq!(same, 1);
        }
        Err(err) => assert_eq!(err.exit_code(), 77),
    }
}
