//! Sigstore bundles, JSON lines of them and GitHub API answers (`--bundle`, `.sigstore.json`
//! siblings, the `--github-repo` lookup), and the store's Sigstore entries: never panic; a
//! parsed file holds at least one bundle and at most the cap; verifying a parsed bundle
//! (under an identity, a repository and a key, against the compiled-in root, with a zero
//! digest) returns an answer, never success; a store text that parses round-trips.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/sigstore_bundle.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::sigstore::{self, Identity, Roots, Trust};

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    if let Ok(bundles) = sigstore::parse_bundles(data) {
        assert!(bundles.len() <= 32, "more bundles than the cap");
        let trusts = [
            Trust::Identity {
                issuer: "https://accounts.google.com".into(),
                identity: Identity::Exact("a@b.c".into()),
            },
            Trust::GithubRepo("o/n".into()),
        ];
        for b in &bundles {
            let _ = b.claims().describe();
            for t in &trusts {
                let _ = t.answers(b.claims());
                // A zero digest is nobody's payload: nothing may verify.
                assert!(
                    sigstore::verify(b, t, &Roots::builtin(), &[0; 32], Some(&[0; 64])).is_err(),
                    "a bundle verified for a zero digest"
                );
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = Trust::from_text(text)
    {
        let again = Trust::from_text(&t.text()).expect("a store text parses again");
        assert_eq!(again.id(), t.id());
    }
}
