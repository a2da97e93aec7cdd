//! SSH signatures and key files (`--sig`, `--key` of the SSH kind): never panic; a parsed
//! key survives a round trip through its `ALGO BASE64` line with the same fingerprint; a
//! parsed signature was recognised as one, and verifying it (a zero digest, under its own
//! embedded key and under every key of a parsed key file) returns an answer.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/sshsig.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::sshsig::{self, Allowed, HashAlgo, SshKey, SshSig};

fn round_trip(key: &SshKey) {
    let line = key.to_line();
    let again = SshKey::parse_line(&line).expect("a key's own line parses");
    assert_eq!(&again, key);
    assert_eq!(again.fingerprint(), key.fingerprint());
    assert_eq!(again.algorithm(), key.algorithm());
    assert!(sshsig::is_inline_key(&line));
}

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let sig = SshSig::parse(data).ok();
    if let Some(sig) = &sig {
        assert!(sshsig::is_signature(data));
        round_trip(sig.key());
        let _ = sig.namespace();
        let len = match sig.hash_algo() {
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        };
        let _ = sig.verify(&Allowed::key(sig.key().clone()), &vec![0; len], 0);
        let _ = sig.verify(&Allowed::key(sig.key().clone()), &[], u64::MAX);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = SshKey::parse_line(text) {
        round_trip(&key);
        assert!(
            sshsig::is_inline_key(text),
            "a parsed key line is an inline key"
        );
    }
    let _ = sshsig::is_inline_key(text);
    if let Ok(keys) = sshsig::parse_keys(text) {
        assert!(!keys.is_empty());
        for allowed in &keys {
            round_trip(&allowed.key);
            if let (Some(a), Some(b)) = (allowed.valid_after, allowed.valid_before) {
                assert!(a < b, "valid-before after valid-after");
            }
            if let Some(sig) = &sig {
                let _ = sig.verify(allowed, &[0; 64], 1_700_000_000);
            }
        }
    }
    // Any input as the signature's own lines inside an armor, and as a key blob line.
    let mut armored = b"-----BEGIN SSH SIGNATURE-----\n".to_vec();
    armored.extend_from_slice(data);
    armored.extend_from_slice(b"\n-----END SSH SIGNATURE-----\n");
    let _ = SshSig::parse(&armored);
}
