//! OpenPGP packet streams (`verun::openpgp::parse_certs`, `parse_signatures`, `verify`):
//! arbitrary bytes never panic, and what parses keeps the API's promises:
//!
//! - certificates: at least one; a v4 fingerprint has 20 bytes, a v6 one 32; the hex
//!   spelling parses back; each certificate has its own key (by fingerprint and key id);
//!   `to_bytes` parses back to exactly that certificate;
//! - signatures: between one and `MAX_SIGS`, version 4 or 6; `hasher` fails exactly when
//!   `hash_algo` does; `plain` names the accepted hash; an issuer fingerprint gives a key id;
//! - an input of the form `[u16 big-endian n][n bytes of certificates][signatures]` is also
//!   verified over [`DOC`] (the seeds' signatures cover it): one-shot and chunked hashing
//!   decide the same; a good signature names a given certificate and a key it has, with the
//!   signature's creation time and hash; a refusal names a given certificate; a signature
//!   whose issuer a given certificate has is never "unknown"; errors are one sentence.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/openpgp_packets.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::openpgp::{self, Cert, Fingerprint, MAX_SIGS, Outcome, Sig};

/// The document the seeds' signatures cover.
pub const DOC: &[u8] = b"verun fuzz document\n";
/// "Now" for verification: fixed, after the seeds were made (2027-01-15).
pub const NOW: u64 = 1_800_000_000;

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let _ = certs(data);
    let _ = sigs(data);
    if data.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([data[0], data[1]])).min(data.len() - 2);
        let (c, s) = data[2..].split_at(n);
        if let (Some(certs), Some(sigs)) = (certs(c), sigs(s)) {
            for sig in &sigs {
                decide(sig, DOC, &certs, NOW);
            }
        }
    }
}

/// An error message: one short sentence, no trailing period.
pub fn sentence(e: &str) {
    assert!(!e.is_empty(), "empty error");
    assert!(!e.contains('\n'), "error on several lines: {e:?}");
    assert!(!e.ends_with('.'), "error ends with a period: {e:?}");
}

/// `parse_certs` and the invariants of what it returns.
pub fn certs(data: &[u8]) -> Option<Vec<Cert>> {
    let certs = match openpgp::parse_certs(data) {
        Ok(c) => c,
        Err(e) => {
            sentence(&e);
            return None;
        }
    };
    assert!(!certs.is_empty(), "parse_certs returned no certificate");
    for c in &certs {
        let fpr = c.fingerprint();
        match c.version() {
            4 => assert_eq!(fpr.as_bytes().len(), 20),
            6 => assert_eq!(fpr.as_bytes().len(), 32),
            v => panic!("certificate version {v}"),
        }
        assert_eq!(Fingerprint::parse_hex(&fpr.to_hex()).as_ref(), Ok(fpr));
        assert!(
            c.has_key(Some(fpr), None),
            "a certificate lacks its own primary key"
        );
        assert!(
            c.has_key(None, Some(&fpr.key_id())),
            "a certificate lacks its own key id"
        );
        assert!(!c.algorithm().is_empty());
        let _ = (c.primary_user_id(), c.expires(), c.is_revoked());
        let again = openpgp::parse_certs(&c.to_bytes()).expect("to_bytes parses back");
        assert_eq!(again.len(), 1, "to_bytes gives one certificate back");
        assert_eq!(again[0].fingerprint(), fpr);
        assert_eq!(again[0].to_bytes(), c.to_bytes(), "to_bytes is stable");
    }
    Some(certs)
}

/// `parse_signatures` and the invariants of what it returns.
pub fn sigs(data: &[u8]) -> Option<Vec<Sig>> {
    let sigs = match openpgp::parse_signatures(data) {
        Ok(s) => s,
        Err(e) => {
            sentence(&e);
            return None;
        }
    };
    assert!(
        (1..=MAX_SIGS).contains(&sigs.len()),
        "{} signatures",
        sigs.len()
    );
    for s in &sigs {
        assert!(
            matches!(s.version(), 4 | 6),
            "signature version {}",
            s.version()
        );
        let _ = (s.created(), s.is_text());
        match s.hash_algo() {
            Ok(h) => {
                assert!(s.hasher().is_ok());
                assert!(
                    s.plain().is_none_or(|p| p == h),
                    "plain() names another hash"
                );
            }
            Err(e) => {
                sentence(&e);
                assert!(s.hasher().is_err() && s.plain().is_none());
            }
        }
        if let Some(f) = s.issuer_fingerprint() {
            assert!(matches!(f.as_bytes().len(), 20 | 32));
            assert!(
                s.issuer_key_id().is_some(),
                "an issuer fingerprint but no key id"
            );
        }
    }
    Some(sigs)
}

/// Verifies `sig` over `doc` and checks the outcome's invariants; returns it.
pub fn decide(sig: &Sig, doc: &[u8], certs: &[Cert], now: u64) -> Outcome {
    let whole = openpgp::verify_bytes(sig, doc, certs, now);
    if let Ok(mut h) = sig.hasher() {
        for chunk in doc.chunks(3) {
            h.update(chunk);
        }
        let streamed = openpgp::verify(sig, h, certs, now);
        assert_eq!(
            kind(&streamed),
            kind(&whole),
            "chunked hashing decides otherwise"
        );
    }
    outcome_invariants(sig, &whole, certs, now);
    whole
}

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Unknown => "unknown",
        Outcome::Good(_) => "good",
        Outcome::Bad { .. } => "bad",
    }
}

/// What any outcome of `sig` against `certs` must satisfy.
pub fn outcome_invariants(sig: &Sig, o: &Outcome, certs: &[Cert], now: u64) {
    let holder = |primary: &Fingerprint| {
        certs
            .iter()
            .find(|c| c.fingerprint() == primary)
            .unwrap_or_else(|| panic!("outcome names {primary}, which no certificate given has"))
    };
    // The issuer as the signature names it: its (hashed) fingerprint when it has one, else
    // its key id; a key id that disagrees with the fingerprint names nobody.
    let issuer_known = certs.iter().any(|c| match sig.issuer_fingerprint() {
        Some(f) => c.has_key(Some(&f), None),
        None => sig
            .issuer_key_id()
            .is_some_and(|k| c.has_key(None, Some(&k))),
    });
    match o {
        Outcome::Unknown => assert!(
            !issuer_known,
            "unknown, yet a certificate has the issuer's key"
        ),
        Outcome::Good(g) => {
            let cert = holder(&g.primary);
            assert!(
                cert.has_key(Some(&g.signing_key), None),
                "good by a key its certificate lacks"
            );
            assert_eq!(g.created, sig.created());
            assert!(
                g.created <= now + 86_400,
                "good, yet created more than a day ahead"
            );
            let hash = sig.hash_algo().expect("good with a refused hash");
            let name = match hash {
                openpgp::HashAlgo::Sha256 => "SHA-256",
                openpgp::HashAlgo::Sha384 => "SHA-384",
                openpgp::HashAlgo::Sha512 => "SHA-512",
            };
            assert_eq!(g.hash, name);
            assert!(!g.algorithm.is_empty());
        }
        Outcome::Bad { primary, reason } => {
            holder(primary);
            sentence(reason);
        }
    }
}
