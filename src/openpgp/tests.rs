//! Unit tests: the real third-party signatures in `../shared/vectors/openpgp`, keys made by
//! GnuPG at test time, and malformed inputs.

use super::*;
use std::path::PathBuf;

/// 2026-12-01, the date the vectors were collected.
const NOW: u64 = 1_796_083_200;

fn vectors() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/openpgp"
    ));
    if d.join("cases.json").is_file() {
        return Some(d);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and {} is missing",
        d.display()
    );
    eprintln!(
        "skipped: {} is missing (set CI to make this fail)",
        d.display()
    );
    None
}

fn good(o: &Outcome) -> bool {
    matches!(o, Outcome::Good(_))
}

/// Whether every signature in `signed` (over `data`, or cleartext) verifies under `key`.
fn decide(signed: &[u8], data: Option<&[u8]>, certs: &[Cert], tamper_sig: bool) -> Vec<Outcome> {
    let tamper = |s: &mut Sig| {
        if tamper_sig {
            let m = s.0.mpis.last_mut().unwrap();
            *m.last_mut().unwrap() ^= 1;
        }
    };
    match data {
        Some(d) => {
            let mut sigs = parse_signatures(signed).unwrap();
            sigs.iter_mut().for_each(tamper);
            sigs.iter()
                .map(|s| verify_bytes(s, d, certs, NOW))
                .collect()
        }
        None => {
            let mut c = parse_cleartext(signed).unwrap();
            c.sigs.iter_mut().for_each(tamper);
            (0..c.sigs.len()).map(|i| c.verify(i, certs, NOW)).collect()
        }
    }
}

#[test]
fn every_vector_gives_its_expected_result_and_one_changed_byte_fails() {
    let Some(dir) = vectors() else { return };
    let cases: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 9);
    for c in cases {
        let rd = |k: &str| std::fs::read(dir.join(c[k].as_str().unwrap())).unwrap();
        let (signed, certs) = (rd("signed"), parse_certs(&rd("key")).unwrap());
        let data = c["data"].as_str().map(|_| rd("data"));
        let out = decide(&signed, data.as_deref(), &certs, false);
        let ok = out.iter().all(good);
        assert_eq!(ok, c["expect"] == "ok", "{}: {out:?}", c["signed"]);
        for (o, want) in out.iter().zip(c["signatures"].as_array().unwrap()) {
            if let Outcome::Good(g) = o {
                assert_eq!(
                    g.signing_key.to_hex(),
                    want["signing_key_fpr"].as_str().unwrap()
                );
                assert_eq!(g.primary.to_hex(), want["primary_fpr"].as_str().unwrap());
            }
        }
        if ok {
            assert!(
                !decide(&signed, data.as_deref(), &certs, true)
                    .iter()
                    .any(good),
                "{}",
                c["signed"]
            );
            let out = match data {
                Some(mut d) => {
                    let i = d.len() / 2;
                    d[i] ^= 0x40;
                    decide(&signed, Some(&d), &certs, false)
                }
                None => {
                    let mut t = parse_cleartext(&signed).unwrap();
                    let i = t.text.len() / 2;
                    t.text[i] ^= 0x01;
                    (0..t.sigs.len())
                        .map(|i| t.verify(i, &certs, NOW))
                        .collect()
                }
            };
            assert!(!out.iter().any(good), "{}: {out:?}", c["signed"]);
        }
    }
}

#[test]
fn the_debian_keyring_parses_whole_and_each_certificate_round_trips() {
    let Some(dir) = vectors() else { return };
    let bin = std::fs::read(dir.join("../openpgp/debian/debian-archive-keyring.gpg")).unwrap();
    let certs = parse_certs(&bin).unwrap();
    assert_eq!(certs.len(), 9); // gpg --show-keys counts 9 (the README says 11)
    let all: Vec<u8> = certs.iter().flat_map(Cert::to_bytes).collect();
    assert_eq!(parse_certs(&all).unwrap().len(), 9);
    let again = parse_certs(&certs[3].to_bytes()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].fingerprint(), certs[3].fingerprint());
    assert!(is_certificate(&bin) && !is_signature(&bin));
}

/// RFC 9580 Appendix A.3: the sample v6 certificate (Ed25519 primary, X25519 subkey).
const A3_V6_CERT: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----

xioGY4d/4xsAAAAg+U2nu0jWCmHlZ3BqZYfQMxmZu52JGggkLq2EVD34laPCsQYf
GwoAAABCBYJjh3/jAwsJBwUVCg4IDAIWAAKbAwIeCSIhBssYbE8GCaaX5NUt+mxy
KwwfHifBilZwj2Ul7Ce62azJBScJAgcCAAAAAK0oIBA+LX0ifsDm185Ecds2v8lw
gyU2kCcUmKfvBXbAf6rhRYWzuQOwEn7E/aLwIwRaLsdry0+VcallHhSu4RN6HWaE
QsiPlR4zxP/TP7mhfVEe7XWPxtnMUMtf15OyA51YBM4qBmOHf+MZAAAAIIaTJINn
+eUBXbki+PSAld2nhJh/LVmFsS+60WyvXkQ1wpsGGBsKAAAALAWCY4d/4wKbDCIh
BssYbE8GCaaX5NUt+mxyKwwfHifBilZwj2Ul7Ce62azJAAAAAAQBIKbpGG2dWTX8
j+VjFM21J0hqWlEg+bdiojWnKfA5AQpWUWtnNwDEM0g12vYxoWM8Y81W+bHBw805
I8kWVkXU6vFOi+HWvv/ira7ofJu16NnoUkhclkUrk0mXubZvyl4GBg==
-----END PGP PUBLIC KEY BLOCK-----
";

/// RFC 9580 Appendix A.6: a v6 cleartext-signed message by the A.3 key.
const A6_CLEARTEXT: &str = "-----BEGIN PGP SIGNED MESSAGE-----

What we need from the grocery store:

- - tofu
- - vegetables
- - noodles

-----BEGIN PGP SIGNATURE-----

wpgGARsKAAAAKQWCY5ijYyIhBssYbE8GCaaX5NUt+mxyKwwfHifBilZwj2Ul7Ce6
2azJAAAAAGk2IHZJX1AhiJD39eLuPBgiUU9wUA9VHYblySHkBONKU/usJ9BvuAqo
/FvLFuGWMbKAdA+epq7V4HOtAPlBWmU8QOd6aud+aSunHQaaEJ+iTFjP2OMW0KBr
NK2ay45cX1IVAQ==
-----END PGP SIGNATURE-----
";

#[test]
fn the_rfc9580_v6_sample_cleartext_verifies_and_a_changed_byte_fails() {
    let certs = parse_certs(A3_V6_CERT.as_bytes()).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].version(), 6);
    assert_eq!(
        certs[0].fingerprint().to_hex(),
        "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9"
    );
    assert_eq!(certs[0].algorithm(), "Ed25519");
    assert_eq!(certs[0].primary_user_id(), None);
    let mut c = parse_cleartext(A6_CLEARTEXT.as_bytes()).unwrap();
    assert_eq!(
        c.text,
        b"What we need from the grocery store:\n\n- tofu\n- vegetables\n- noodles\n\n"
    );
    assert_eq!(c.sigs[0].version(), 6);
    assert_eq!(c.sigs[0].plain(), None, "a v6 signature is salted");
    let o = c.verify(0, &certs, NOW);
    assert!(good(&o), "{o:?}");
    c.text[5] ^= 0x20;
    assert!(matches!(c.verify(0, &certs, NOW), Outcome::Bad { .. }));
}
