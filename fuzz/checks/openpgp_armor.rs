//! OpenPGP armor and content sniffing (`verun::openpgp::is_certificate`, `is_signature`,
//! `is_cleartext`, and the parsers on armored input): arbitrary bytes never panic, and
//!
//! - a cleartext message is never claimed as a detached signature (verun tells a
//!   cleartext-signed list from a detached signature by content);
//! - whatever a parser accepts, its sniffer claims;
//! - a binary packet stream armored here (RFC 9580 section 6: base64 in 64-column lines,
//!   the CRC-24 checksum; also with CRLF line ends) parses exactly as the binary does: the
//!   same outcome, the same fingerprints or signature creation times.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/openpgp_armor.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use verun::openpgp;

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let (c, s, t) = (
        openpgp::is_certificate(data),
        openpgp::is_signature(data),
        openpgp::is_cleartext(data),
    );
    // A cleartext-signed message is never taken for a detached signature (the two are told
    // apart by content where a list's signature is looked for). Other pairs may overlap: a
    // file with a key block and a signature block, or a cleartext message with a key block
    // line, is sniffed only where one kind is expected, and its parser decides.
    assert!(
        !(t && s),
        "a cleartext message also claimed as a detached signature"
    );
    let certs = openpgp::parse_certs(data);
    let sigs = openpgp::parse_signatures(data);
    assert!(
        certs.is_err() || c,
        "parse_certs accepts what is_certificate does not claim"
    );
    assert!(
        sigs.is_err() || s,
        "parse_signatures accepts what is_signature does not claim"
    );
    assert!(
        openpgp::parse_cleartext(data).is_err() || t,
        "parse_cleartext accepts what is_cleartext does not claim"
    );
    // A binary packet stream (the first byte is a packet tag), armored here.
    if data.first().is_some_and(|b| b & 0x80 != 0) {
        let fprs = |r: &Result<Vec<openpgp::Cert>, String>| {
            r.as_ref().ok().map(|v| {
                v.iter()
                    .map(|c| c.fingerprint().to_hex())
                    .collect::<Vec<_>>()
            })
        };
        let times = |r: &Result<Vec<openpgp::Sig>, String>| {
            r.as_ref()
                .ok()
                .map(|v| v.iter().map(|s| s.created()).collect::<Vec<_>>())
        };
        for crlf in [false, true] {
            let a = armor("PGP PUBLIC KEY BLOCK", data, crlf);
            let ac = openpgp::parse_certs(&a);
            assert_eq!(
                fprs(&ac),
                fprs(&certs),
                "armored certificates parse otherwise (crlf {crlf})"
            );
            assert!(ac.is_err() || openpgp::is_certificate(&a));
            let a = armor("PGP SIGNATURE", data, crlf);
            let asig = openpgp::parse_signatures(&a);
            assert_eq!(
                times(&asig),
                times(&sigs),
                "armored signatures parse otherwise (crlf {crlf})"
            );
            assert!(asig.is_err() || openpgp::is_signature(&a));
        }
    }
}

/// CRC-24 (RFC 9580 section 6.1).
pub fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    crc & 0xFF_FFFF
}

/// `data` armored as `-----BEGIN {label}-----`.
pub fn armor(label: &str, data: &[u8], crlf: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut out = format!("-----BEGIN {label}-----{nl}{nl}");
    let enc = B64.encode(data);
    for line in enc.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str(nl);
    }
    let crc = crc24(data).to_be_bytes();
    out.push_str(&format!(
        "={}{nl}-----END {label}-----{nl}",
        B64.encode(&crc[1..])
    ));
    out.into_bytes()
}
