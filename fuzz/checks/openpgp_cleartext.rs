//! Cleartext-signed messages (`verun::openpgp::parse_cleartext`, `Cleartext::verify`):
//! arbitrary bytes never panic, and what parses keeps the API's promises: `is_cleartext`
//! claims it; one to `MAX_SIGS` signatures; the text handed on has every line ending in
//! `\n`, no CR before it and no trailing space or tab; each signature, verified against
//! the fixed certificate `openpgp_cleartext.cert` (public; its signer made the seeds),
//! decides as the detached path does over the canonical text (CRLF line ends, no final
//! one), and keeps the outcome invariants of `openpgp_packets`.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/openpgp_cleartext.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

#[path = "openpgp_packets.rs"]
// Also a module of its own in tests/fuzz_regressions.rs: the same invariants, shared.
#[allow(dead_code, clippy::duplicate_mod)]
mod packets;

use verun::openpgp::{self, MAX_SIGS};

/// The signer of the seeds: an Ed25519 primary key with RSA-2048 and ECDSA P-256 signing
/// subkeys (public certificate only).
const CERT: &[u8] = include_bytes!("openpgp_cleartext.cert");

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let ct = match openpgp::parse_cleartext(data) {
        Ok(ct) => ct,
        Err(e) => {
            packets::sentence(&e);
            return;
        }
    };
    assert!(
        openpgp::is_cleartext(data),
        "parse_cleartext accepts what is_cleartext does not claim"
    );
    assert!(
        (1..=MAX_SIGS).contains(&ct.sigs.len()),
        "{} signatures",
        ct.sigs.len()
    );
    assert!(
        ct.text.is_empty() || ct.text.ends_with(b"\n"),
        "text does not end with a line end"
    );
    for line in ct.text.split(|&b| b == b'\n') {
        assert!(
            !line.ends_with(b"\r"),
            "a CR before a line end in the text handed on"
        );
        assert!(
            !line.ends_with(b" ") && !line.ends_with(b"\t"),
            "trailing whitespace kept"
        );
    }
    let certs = openpgp::parse_certs(CERT).expect("the fixed certificate parses");
    // The canonical text: CRLF line ends, none after the last line.
    let body = ct.text.strip_suffix(b"\n").unwrap_or(&ct.text);
    let mut canonical = Vec::with_capacity(body.len() + body.len() / 16);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            canonical.extend_from_slice(b"\r\n");
        }
        canonical.extend_from_slice(line);
    }
    for (i, sig) in ct.sigs.iter().enumerate() {
        let o = ct.verify(i, &certs, packets::NOW);
        packets::outcome_invariants(sig, &o, &certs, packets::NOW);
        let detached = packets::decide(sig, &canonical, &certs, packets::NOW);
        assert_eq!(
            std::mem::discriminant(&o),
            std::mem::discriminant(&detached),
            "Cleartext::verify and verify over the canonical text disagree"
        );
    }
}
