//! Key scopes (`--scope URL-PREFIX`) and scope matching: never panic; a scope's canonical
//! form parses back to the same scope; a scope covers its own prefix; a covered URL is on
//! the scope's origin; no URL with a `..` segment is ever covered.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/scope.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::location::HttpUrl;
use verun::store::Scope;

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `SCOPE\nURL`.
    let (scope, url) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(s) = Scope::parse(scope) else {
        return;
    };
    let canonical = s.to_string();
    let again = Scope::parse(&canonical).expect("a canonical scope parses");
    assert_eq!(again, s);
    if let Ok(own) = HttpUrl::parse(&canonical) {
        assert!(s.covers(&own), "{canonical} does not cover itself");
    }
    if let Ok(u) = HttpUrl::parse(url)
        && s.covers(&u)
    {
        let scope_url = HttpUrl::parse(&canonical).expect("canonical scope is a URL");
        assert_eq!(u.is_https(), scope_url.is_https());
        assert_eq!(u.port(), scope_url.port());
        let decoded = verun::location::percent_decode(u.path());
        assert!(
            !decoded.split(['/', '\\']).any(|seg| seg == ".."),
            "{canonical} covers {url} which climbs out with .."
        );
    }
}
