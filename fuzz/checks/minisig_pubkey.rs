//! Public key parsing (`--key RW...`, `.pub` files): never panics; a parsed key survives a
//! round trip through minisign's `.pub` format with the same id; the strict base64 decoder
//! accepts exactly the canonical encodings the `base64` crate produces.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/minisig_pubkey.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use verun::minisig::{KeyId, PublicKey, decode_base64};

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = PublicKey::from_base64(text) {
        let again = PublicKey::from_file_text(&key.to_file_text()).expect("round trip");
        assert_eq!(again.id(), key.id());
        assert_eq!(KeyId::parse_hex(&key.id().to_string()), Some(key.id()));
    }
    if let Ok(key) = PublicKey::from_file_text(text) {
        let _ = key.base64();
    }
    // Differential: strict decoding is canonical decoding.
    match decode_base64(text) {
        Some(bytes) => assert_eq!(STANDARD.encode(&bytes), text),
        None => {
            if let Ok(bytes) = STANDARD.decode(text) {
                assert!(
                    bytes.is_empty() || STANDARD.encode(&bytes) != text,
                    "canonical base64 {text:?} refused"
                );
            }
        }
    }
    let _ = KeyId::parse_hex(text);
}
