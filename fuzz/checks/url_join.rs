//! URL parsing and redirect resolution: never panic; only http(s) URLs come out; whatever a
//! redirect resolves to parses again to the same origin; sibling (`.minisig`) URLs keep the
//! origin.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/url_join.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::location::{HttpUrl, Location, percent_decode};

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `BASE\nLOCATION`: a URL and the Location header of its redirect.
    let (base, location) = text.split_once('\n').unwrap_or((text, ""));
    let _ = percent_decode(base);
    let _ = Location::parse(base).map(|l| (l.file_name(), l.origin(), l.to_string()));
    let Ok(url) = HttpUrl::parse(base) else {
        return;
    };
    let _ = url.file_name();
    assert!(!url.host().is_empty());
    let sib = url.with_suffix(".minisig");
    assert_eq!(sib.origin(), url.origin());
    if let Ok(again) = HttpUrl::parse(sib.as_str()) {
        assert_eq!(again.origin(), url.origin());
    }
    if let Ok(next) = url.join(location) {
        let reparsed = HttpUrl::parse(next.as_str()).expect("a joined URL parses again");
        assert_eq!(reparsed.origin(), next.origin());
        assert!(next.as_str().to_ascii_lowercase().starts_with("http"));
        let _ = next.to_string();
    }
}
