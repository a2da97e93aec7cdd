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
        if c["made_here"] == true {
            assert!(out.iter().all(
                |o| matches!(o, Outcome::Bad { reason, .. } if reason.contains("does not match"))
            ));
        } else if !ok {
            // The stale libtasn1 certificate: its keys expired before the signature was made.
            assert!(out.iter().all(|o| matches!(o, Outcome::Bad { reason, .. } if reason.contains("expired on 2022-05-17"))), "{out:?}");
        }
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

// ---- GnuPG-made keys and signatures (generated at test time, one home per run) ----

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Ten days ago: keys are made then, with `--faked-system-time`, so histories fit before now.
fn t0() -> u64 {
    crate::time::now_secs() - 10 * 86_400
}

struct Gpg {
    home: PathBuf,
    /// name → primary fingerprint; "NAME.sub" → signing subkey fingerprint.
    fpr: HashMap<String, String>,
    /// Signatures made during setup, before the key's later history (expiry, revocation).
    sigs: HashMap<&'static str, Vec<u8>>,
}

const DOC: &[u8] = b"#!/bin/sh\necho verified\n";

impl Gpg {
    fn run_in(&self, at: Option<u64>, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut cmd = Command::new("gpg");
        cmd.arg("--homedir").arg(&self.home);
        cmd.args([
            "--batch",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        if let Some(t) = at {
            cmd.arg("--faked-system-time").arg(format!("{t}!"));
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn fpr_of(&self, uid: &str) -> Vec<String> {
        let out = self.run_in(None, &["--with-colons", "--list-keys", uid], b"");
        let out = String::from_utf8(out).unwrap();
        out.lines()
            .filter_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|f| f.trim_end_matches(':').to_string())
            .collect()
    }

    fn keygen(&mut self, name: &str, algo: &str, at: Option<u64>) {
        let uid = format!("{name} <{name}@verun.test>");
        self.run_in(at, &["--quick-gen-key", &uid, algo, "sign", "never"], b"");
        let f = self.fpr_of(&uid).remove(0);
        self.fpr.insert(name.into(), f);
    }

    fn add_sub(&mut self, name: &str, at: u64) {
        let p = self.fpr[name].clone();
        self.run_in(
            Some(at),
            &["--quick-add-key", &p, "ed25519", "sign", "never"],
            b"",
        );
        let f = self.fpr_of(&p).pop().unwrap();
        self.fpr.insert(format!("{name}.sub"), f);
    }

    /// Revoke subkey 1 of `name` at `at` with gpg's menu reason (1 compromised, 3 retired).
    fn revoke_sub(&self, name: &str, reason: &str, at: u64) {
        let script = format!("key 1\nrevkey\ny\n{reason}\n\ny\nsave\n");
        self.run_in(
            Some(at),
            &["--command-fd", "0", "--edit-key", &self.fpr[name]],
            script.as_bytes(),
        );
    }

    /// A detached signature of `data` by `key` (a name, or "NAME.sub"), made at `at`.
    fn sign(&self, key: &str, extra: &[&str], data: &[u8], at: Option<u64>) -> Vec<u8> {
        let u = format!("{}!", self.fpr[key]);
        let mut args = vec!["--local-user", &u, "--detach-sign", "--output", "-"];
        args.extend_from_slice(extra);
        self.run_in(at, &args, data)
    }

    fn cert(&self, name: &str) -> Vec<Cert> {
        parse_certs(&self.run_in(None, &["--export", "--armor", &self.fpr[name]], b"")).unwrap()
    }

    /// What gpgv says (exit 0 or not) of `sig` over `data` with `name`'s certificate.
    fn gpgv(&self, name: &str, sig: &[u8], data: &[u8]) -> bool {
        let tmp = tempfile::tempdir_in(&self.home).unwrap(); // tests run in parallel
        let d = tmp.path();
        let kr = self.run_in(None, &["--export", &self.fpr[name]], b"");
        std::fs::write(d.join("k.gpg"), kr).unwrap();
        std::fs::write(d.join("s.sig"), sig).unwrap();
        std::fs::write(d.join("data"), data).unwrap();
        Command::new("gpgv")
            .arg("--keyring")
            .arg(d.join("k.gpg"))
            .arg(d.join("s.sig"))
            .arg(d.join("data"))
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

fn gpg() -> Option<&'static Gpg> {
    static G: OnceLock<Option<Gpg>> = OnceLock::new();
    G.get_or_init(|| {
        if Command::new("gpg")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set and gpg is missing"
            );
            eprintln!("skipped: gpg is not installed");
            return None;
        }
        // One home per worktree, under target/: the gpg-agent that a run starts outlives the
        // test process (statics are not dropped), so each run stops the previous one.
        let home = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/openpgp-gnupg"));
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&home)
            .args(["--kill", "gpg-agent"])
            .status();
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let mut g = Gpg {
            home,
            fpr: HashMap::new(),
            sigs: HashMap::new(),
        };
        let t = t0();
        for (name, algo) in [
            ("rsa2048", "rsa2048"),
            ("rsa3072", "rsa3072"),
            ("rsa4096", "rsa4096"),
        ] {
            g.keygen(name, algo, None);
        }
        for (name, algo) in [
            ("rsa1024", "rsa1024"),
            ("p256", "nistp256"),
            ("p384", "nistp384"),
            ("ed", "ed25519"),
            ("dsa", "dsa2048"),
        ] {
            g.keygen(name, algo, Some(t));
        }
        g.add_sub("ed", t + 3600);
        // Expiry set after the fact: signatures at t+1d and t+5d, then (by a self-signature
        // dated t+2h) an expiry at t+2d+2h. The later signature was made after it.
        g.keygen("exp", "ed25519", Some(t));
        g.sigs
            .insert("exp.before", g.sign("exp", &[], DOC, Some(t + 86_400)));
        g.sigs
            .insert("exp.after", g.sign("exp", &[], DOC, Some(t + 5 * 86_400)));
        let f = g.fpr["exp"].clone();
        g.run_in(Some(t + 7200), &["--quick-set-expire", &f, "2d"], b"");
        // A subkey retired (soft) at t+3d, and one revoked as compromised (hard) at t+3d.
        for (name, reason) in [("soft", "3"), ("hard", "1")] {
            g.keygen(name, "ed25519", Some(t));
            g.add_sub(name, t + 3600);
            let sub = format!("{name}.sub");
            g.sigs.insert(
                if name == "soft" {
                    "soft.before"
                } else {
                    "hard.before"
                },
                g.sign(&sub, &[], DOC, Some(t + 2 * 86_400)),
            );
            g.sigs.insert(
                if name == "soft" {
                    "soft.after"
                } else {
                    "hard.after"
                },
                g.sign(&sub, &[], DOC, Some(t + 4 * 86_400)),
            );
            let before = g.run_in(None, &["--export", &g.fpr[name]], b"");
            g.sigs.insert(
                if name == "soft" {
                    "soft.cert"
                } else {
                    "hard.cert"
                },
                before,
            );
            g.revoke_sub(name, reason, t + 3 * 86_400);
        }
        // A primary key revoked by the revocation certificate gpg made with it (no reason).
        g.keygen("revoked", "ed25519", Some(t));
        g.sigs.insert(
            "revoked.before",
            g.sign("revoked", &[], DOC, Some(t + 86_400)),
        );
        let rev = std::fs::read_to_string(
            g.home
                .join(format!("openpgp-revocs.d/{}.rev", g.fpr["revoked"])),
        )
        .unwrap();
        g.run_in(
            Some(t + 2 * 86_400),
            &["--import"],
            rev.replace(":-----BEGIN", "-----BEGIN").as_bytes(),
        );
        Some(g)
    })
    .as_ref()
}

fn one(sig: &[u8]) -> Sig {
    let mut v = parse_signatures(sig).unwrap();
    assert_eq!(v.len(), 1);
    v.remove(0)
}

fn reason(o: Outcome) -> String {
    match o {
        Outcome::Bad { reason, .. } => reason,
        o => panic!("expected Bad, got {o:?}"),
    }
}

#[test]
fn gpg_signatures_by_rsa_ed25519_and_ecdsa_keys_verify_as_gpgv_says_and_tampering_fails() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let cases = [
        ("rsa2048", "RSA 2048", "SHA256", "SHA-256"),
        ("rsa3072", "RSA 3072", "SHA384", "SHA-384"),
        ("rsa4096", "RSA 4096", "SHA512", "SHA-512"),
        ("ed", "Ed25519", "SHA256", "SHA-256"),
        ("ed.sub", "Ed25519", "SHA512", "SHA-512"),
        ("p256", "ECDSA P-256", "SHA256", "SHA-256"),
        ("p384", "ECDSA P-384", "SHA384", "SHA-384"),
        ("p384", "ECDSA P-384", "SHA512", "SHA-512"),
    ];
    let other = g.cert("rsa2048");
    for (key, algo, digest, hash) in cases {
        let name = key.trim_end_matches(".sub");
        let certs = g.cert(name);
        for armor in [false, true] {
            let mut extra = vec!["--digest-algo", digest];
            if armor {
                extra.push("--armor");
            }
            let raw = g.sign(key, &extra, DOC, None);
            assert!(g.gpgv(name, &raw, DOC), "gpgv refused {key} {digest}");
            assert_eq!(
                is_signature(&raw),
                !armor || raw.starts_with(b"-----BEGIN PGP SIGNATURE-----")
            );
            let sig = one(&raw);
            match verify_bytes(&sig, DOC, &certs, now) {
                Outcome::Good(gd) => {
                    assert_eq!(gd.primary.to_hex(), g.fpr[name]);
                    assert_eq!(gd.signing_key.to_hex(), g.fpr[key]);
                    assert_eq!((gd.algorithm.as_str(), gd.hash), (algo, hash));
                    assert_eq!(
                        gd.user_id.as_deref(),
                        Some(format!("{name} <{name}@verun.test>").as_str())
                    );
                }
                o => panic!("{key} {digest}: {o:?}"),
            }
            let mut bad = DOC.to_vec();
            bad[3] ^= 1;
            assert!(!g.gpgv(name, &raw, &bad));
            assert_eq!(
                reason(verify_bytes(&sig, &bad, &certs, now)),
                "the signature does not match the data"
            );
            if name != "rsa2048" {
                assert!(matches!(
                    verify_bytes(&sig, DOC, &other, now),
                    Outcome::Unknown
                ));
            }
        }
    }
}

#[test]
fn sha1_and_rsa1024_signatures_are_refused() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let sig = one(&g.sign("rsa2048", &["--digest-algo", "SHA1"], DOC, None));
    assert_eq!(sig.hash_algo().unwrap_err(), "SHA-1 is refused");
    assert_eq!(
        reason(verify_bytes(&sig, DOC, &g.cert("rsa2048"), now)),
        "SHA-1 is refused"
    );
    let sig = one(&g.sign("rsa1024", &["--digest-algo", "SHA256"], DOC, None));
    let certs = g.cert("rsa1024");
    assert_eq!(certs[0].algorithm(), "RSA 1024");
    assert_eq!(
        reason(verify_bytes(&sig, DOC, &certs, now)),
        "RSA 1024 is too weak"
    );
}

#[test]
fn validity_is_judged_at_the_signature_time_expiry_and_revocations() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let check = |name: &str, sig: &str| verify_bytes(&one(&g.sigs[sig]), DOC, &g.cert(name), now);
    assert!(good(&check("exp", "exp.before")));
    assert!(reason(check("exp", "exp.after")).starts_with("made after the key expired on "));
    assert!(g.cert("exp")[0].expires().is_some());
    // Retired (soft): what was signed before still holds; hard: nothing does.
    assert!(good(&check("soft", "soft.before")));
    assert!(reason(check("soft", "soft.after")).contains("retired"));
    assert!(reason(check("hard", "hard.before")).contains("compromised"));
    assert!(reason(check("hard", "hard.after")).contains("compromised"));
    let revoked = g.cert("revoked");
    assert!(revoked[0].is_revoked());
    assert!(reason(check("revoked", "revoked.before")).contains("revoked"));
    // A fresh signature by the (unrevoked) primary of the subkey-revoked cert is fine.
    let sig = one(&g.sign("hard", &[], DOC, None));
    assert!(good(&verify_bytes(&sig, DOC, &g.cert("hard"), now)));
}

#[test]
fn signatures_from_the_future_or_expired_are_refused() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let certs = g.cert("ed");
    let future = one(&g.sign("ed", &[], DOC, Some(now + 3 * 86_400)));
    assert_eq!(
        reason(verify_bytes(&future, DOC, &certs, now)),
        "created more than a day in the future"
    );
    let soon = one(&g.sign("ed", &[], DOC, Some(now + 3600)));
    assert!(good(&verify_bytes(&soon, DOC, &certs, now)));
    let expired = one(&g.sign(
        "ed",
        &["--default-sig-expire", "1d"],
        DOC,
        Some(t0() + 86_400),
    ));
    assert!(
        reason(verify_bytes(&expired, DOC, &certs, now)).starts_with("the signature expired on ")
    );
}

#[test]
fn text_mode_signatures_hash_canonical_line_endings_across_chunks() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let certs = g.cert("ed");
    let doc = b"line one\nline two \r\n\r\nlast\nx\n";
    let sig = one(&g.sign("ed", &["--textmode"], doc, None));
    assert!(sig.is_text() && sig.plain().is_none());
    assert!(g.gpgv("ed", &g.sign("ed", &["--textmode"], doc, None), doc));
    assert!(good(&verify_bytes(&sig, doc, &certs, now)));
    // Fed one byte at a time (a CR at a chunk's end is carried over).
    let mut h = sig.hasher().unwrap();
    doc.iter().for_each(|b| h.update(std::slice::from_ref(b)));
    assert!(good(&verify(&sig, h, &certs, now)));
    // The same text with other line endings is the same canonical document.
    let lf = b"line one\nline two \n\nlast\nx\n";
    assert!(good(&verify_bytes(&sig, lf, &certs, now)));
    // A bare CR ends a line too, as sqv has it (gpg 2.2 hashes it as a character).
    assert!(good(&verify_bytes(
        &sig,
        b"line one\rline two \r\rlast\r\nx\r",
        &certs,
        now
    )));
    assert!(!good(&verify_bytes(
        &sig,
        b"line one\nline two\n\nlast\nx\n",
        &certs,
        now
    )));
}

#[test]
fn a_plain_sha256_or_sha512_state_can_be_continued() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let certs = g.cert("rsa2048");
    for (d, want) in [("SHA256", HashAlgo::Sha256), ("SHA512", HashAlgo::Sha512)] {
        let sig = one(&g.sign("rsa2048", &["--digest-algo", d], DOC, None));
        assert_eq!(sig.plain(), Some(want));
        let h = if want == HashAlgo::Sha256 {
            let mut s = sha2::Sha256::new();
            s.update(DOC);
            Hasher::continue_sha256(s)
        } else {
            let mut s = ring::digest::Context::new(&ring::digest::SHA512);
            s.update(DOC);
            Hasher::continue_sha512(s)
        };
        assert!(good(&verify(&sig, h, &certs, now)));
    }
}

#[test]
fn gpg_clearsigned_text_verifies_and_one_changed_byte_fails() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let text = b"Hash list\n-dash line\n--\nfrom trailing  \t\nabc  file.tar.gz\n";
    for (key, digest) in [("rsa4096", "SHA512"), ("ed.sub", "SHA256")] {
        let name = key.trim_end_matches(".sub");
        let u = format!("{}!", g.fpr[key]);
        let signed = g.run_in(
            None,
            &["--local-user", &u, "--digest-algo", digest, "--clearsign"],
            text,
        );
        assert!(is_cleartext(&signed) && !is_signature(&signed));
        let mut c = parse_cleartext(&signed).unwrap();
        assert_eq!(
            c.text,
            b"Hash list\n-dash line\n--\nfrom trailing\nabc  file.tar.gz\n"
        );
        let certs = g.cert(name);
        let o = c.verify(0, &certs, now);
        assert!(good(&o), "{key}: {o:?}");
        c.text[2] ^= 1;
        assert_eq!(
            reason(c.verify(0, &certs, now)),
            "the signature does not match the data"
        );
    }
}

#[test]
fn any_certificate_of_a_keyring_may_sign() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let (a, b) = (&g.fpr["p256"], &g.fpr["rsa3072"]);
    let armored = g.run_in(None, &["--export", "--armor", a], b"");
    let mut two = armored.clone();
    two.extend(g.run_in(None, &["--export", "--armor", b], b""));
    let certs = parse_certs(&two).unwrap();
    assert_eq!(certs.len(), 2);
    let ring = parse_certs(&g.run_in(None, &["--export", a, b], b"")).unwrap();
    assert_eq!(ring.len(), 2);
    for key in ["p256", "rsa3072"] {
        let sig = one(&g.sign(key, &[], DOC, None));
        assert!(good(&verify_bytes(&sig, DOC, &certs, now)));
        assert!(good(&verify_bytes(&sig, DOC, &ring, now)));
    }
    // Two signatures in one file, one per key.
    let mut both = g.sign("p256", &[], DOC, None);
    both.extend(g.sign("rsa3072", &[], DOC, None));
    let sigs = parse_signatures(&both).unwrap();
    assert_eq!(sigs.len(), 2);
    assert!(sigs.iter().all(|s| good(&verify_bytes(s, DOC, &ring, now))));
}

// ---- Framing, armor and malformed inputs ----

fn armor(kind: &str, data: &[u8], crc: bool) -> Vec<u8> {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let enc = |d: &[u8]| -> String {
        let mut s = String::new();
        for c in d.chunks(3) {
            let v = c
                .iter()
                .enumerate()
                .fold(0u32, |v, (i, &b)| v | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                s.push(if i <= c.len() {
                    A[(v >> (18 - 6 * i) & 63) as usize] as char
                } else {
                    '='
                });
            }
        }
        s
    };
    let mut out = format!("-----BEGIN PGP {kind}-----\nComment: test\n\n");
    for l in enc(data).as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(l).unwrap());
        out.push('\n');
    }
    if crc {
        out.push('=');
        out.push_str(&enc(&armor::crc24(data).to_be_bytes()[1..]));
        out.push('\n');
    }
    out.push_str(&format!("-----END PGP {kind}-----\n"));
    out.into_bytes()
}

fn v6_cert_bin() -> Vec<u8> {
    armor::blocks(A3_V6_CERT.as_bytes(), "PUBLIC KEY BLOCK")
        .unwrap()
        .remove(0)
}

#[test]
fn armor_is_strict_base64_with_its_crc_checked_when_present() {
    assert_eq!(armor::crc24(b""), 0xb704ce);
    let bin = v6_cert_bin();
    for crc in [false, true] {
        let a = armor("PUBLIC KEY BLOCK", &bin, crc);
        assert_eq!(parse_certs(&a).unwrap()[0].to_bytes(), bin);
        // CRLF line endings and text around the block are fine.
        let mut crlf = b"some words first\r\n".to_vec();
        crlf.extend(
            String::from_utf8(a.clone())
                .unwrap()
                .replace('\n', "\r\n")
                .into_bytes(),
        );
        assert_eq!(parse_certs(&crlf).unwrap().len(), 1);
    }
    let a = String::from_utf8(armor("PUBLIC KEY BLOCK", &bin, true)).unwrap();
    let crc_line = a.lines().find(|l| l.starts_with('=')).unwrap().to_string();
    let bad_crc = a.replace(
        &crc_line,
        if crc_line == "=AAAA" {
            "=AAAB"
        } else {
            "=AAAA"
        },
    );
    assert_eq!(
        parse_certs(bad_crc.as_bytes()).unwrap_err(),
        "armor checksum (CRC-24) mismatch"
    );
    for (from, to) in [
        ("xioG", "x!oG"),
        ("xioG", "xio"),
        ("-----END PGP PUBLIC KEY BLOCK-----", ""),
    ] {
        assert!(
            parse_certs(a.replacen(from, to, 1).as_bytes()).is_err(),
            "{from} -> {to}"
        );
    }
    assert!(
        armor::decode(b"QQ==").is_ok() && armor::decode(b"QR==").is_err(),
        "non-canonical trailing bits"
    );
    assert!(armor::decode(b"QQ==QUJD").is_err() && armor::decode(b"Q===").is_err());
    assert!(parse_certs(b"no armor here").is_err() && parse_certs(b"").is_err());
    // Two blocks in one file: both are read.
    let mut two = armor("PUBLIC KEY BLOCK", &bin, false);
    two.extend(armor("PUBLIC KEY BLOCK", &bin, true));
    let merged = parse_certs(&two).unwrap(); // two copies of one certificate: merged
    assert_eq!(
        (merged.len(), merged[0].to_bytes()),
        (1, [&bin[..], &bin].concat())
    );
    // A signature block where a certificate is expected is refused.
    let mut mixed = armor("PUBLIC KEY BLOCK", &bin, false);
    mixed.extend(armor("SIGNATURE", &bin, false));
    assert!(parse_certs(&mixed).is_err());
}

#[test]
fn packet_lengths_old_and_new_formats_and_refused_framings() {
    // A marker packet (tag 10, body "PGP") in each length encoding.
    for p in [
        &[0xca, 0x03, b'P', b'G', b'P'][..],
        &[0xca, 0xff, 0, 0, 0, 3, b'P', b'G', b'P'],
        &[0xa8, 0x03, b'P', b'G', b'P'],
        &[0xa9, 0, 3, b'P', b'G', b'P'],
        &[0xaa, 0, 0, 0, 3, b'P', b'G', b'P'],
    ] {
        let v = packet::packets(p).unwrap();
        assert_eq!(
            (v.len(), v[0].tag, v[0].body),
            (1, 10, &b"PGP"[..]),
            "{p:02x?}"
        );
    }
    // Two-octet new-format length: 192..8383.
    let mut p = vec![0xca, 0xc0, 0x00];
    p.extend(vec![0u8; 192]);
    assert_eq!(packet::packets(&p).unwrap()[0].body.len(), 192);
    for (bad, why) in [
        (
            &[0xca, 0xe1, 1, 2][..],
            "partial body lengths are not accepted here",
        ),
        (
            &[0xab, 1, 2, 3][..],
            "indeterminate packet lengths are not accepted here",
        ),
        (&[0xca, 0x05, 1][..], "truncated packet"),
        (&[0xca][..], "truncated packet"),
        (
            &[0xca, 0xff, 0xff, 0xff, 0xff, 0xff][..],
            "truncated packet",
        ),
        (&[0x4a, 0][..], "not an OpenPGP packet (header octet 0x4a)"),
    ] {
        assert_eq!(
            packet::packets(bad).err().as_deref(),
            Some(why),
            "{bad:02x?}"
        );
    }
    // A signature file of only markers has no signature; a lone marker is skipped.
    assert_eq!(
        parse_signatures(&[0xca, 0x03, b'P', b'G', b'P']).unwrap_err(),
        "no signature"
    );
}

#[test]
fn certificate_streams_skip_what_the_rfc_allows_and_refuse_the_rest() {
    let bin = v6_cert_bin();
    let marker = [0xca, 0x03, b'P', b'G', b'P'];
    let trust = [0xcc, 0x02, 0, 0];
    let mut with = marker.to_vec();
    with.extend(&bin);
    with.extend(trust);
    with.extend(&bin);
    let certs = parse_certs(&with).unwrap();
    assert_eq!(certs.len(), 1, "two copies of one certificate are merged");
    assert_eq!(
        certs[0].to_bytes(),
        [&bin[..], &bin].concat(),
        "trust and marker packets are not kept"
    );
    assert!(is_certificate(&bin) && !is_signature(&bin) && !is_cleartext(&bin));
    // A stream starting with a user ID, or holding a secret key, is refused.
    assert!(parse_certs(&[0xcd, 0x01, b'a']).is_err());
    let mut secret = bin.clone();
    secret[0] = 0xc5;
    assert!(
        parse_certs(&secret)
            .unwrap_err()
            .starts_with("secret key material")
    );
    // Truncating the stream anywhere never panics and never yields a different key.
    for n in 0..bin.len() {
        if let Ok(c) = parse_certs(&bin[..n]) {
            assert_eq!(
                c[0].fingerprint(),
                parse_certs(&bin).unwrap()[0].fingerprint()
            );
        }
    }
    assert!(
        Fingerprint::parse_hex(
            "cb18 6c4f 0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9"
        )
        .is_ok()
    );
    assert!(Fingerprint::parse_hex("0xAC530D520F2F3269F5E98313A48449044AAD5C5D").is_ok());
    assert!(Fingerprint::parse_hex("AC530D520F2F3269F5E98313A48449044AAD5C5").is_err());
    assert!(Fingerprint::parse_hex("AC530D520F2F3269F5E98313A48449044AAD5C5G").is_err());
    let f = Fingerprint::parse_hex("AC530D520F2F3269F5E98313A48449044AAD5C5D").unwrap();
    assert_eq!(f.key_id(), [0xa4, 0x84, 0x49, 0x04, 0x4a, 0xad, 0x5c, 0x5d]);
    assert_eq!(
        certs[0].fingerprint().key_id(),
        [0xcb, 0x18, 0x6c, 0x4f, 0x06, 0x09, 0xa6, 0x97]
    );
}

#[test]
fn an_unknown_critical_subpacket_invalidates_a_signature() {
    let certs = parse_certs(A3_V6_CERT.as_bytes()).unwrap();
    let c = parse_cleartext(A6_CLEARTEXT.as_bytes()).unwrap();
    let mut s = c.sigs[0].clone();
    s.0.bad_critical = Some(100);
    let o = verify_bytes(&s, &cleartext::canonical(&c.text), &certs, NOW);
    assert_eq!(
        reason(o),
        "the signature has an unknown critical subpacket (type 100)"
    );
    // And in parsing: a hashed subpacket of type 100 marked critical is noticed.
    let area = [2, 0x80 | 100, 0];
    let sp = packet::parse_sig(&[&[4u8, 0, 99, 8, 0, 3][..], &area, &[0, 0, 0, 0]].concat())
        .unwrap()
        .unwrap();
    assert_eq!(sp.bad_critical, Some(100));
    // A certificate whose self-signature has one: no valid self-signature.
    let bin = v6_cert_bin();
    let mut certs = parse_certs(&bin).unwrap();
    certs[0]
        .direct
        .iter_mut()
        .for_each(|s| s.bad_critical = Some(100));
    let o = verify_bytes(&c.sigs[0], &cleartext::canonical(&c.text), &certs, NOW);
    assert!(reason(o).contains("no valid self-signature"));
}

#[test]
fn malformed_cleartext_messages_are_refused() {
    let ok = A6_CLEARTEXT;
    assert!(parse_cleartext(ok.as_bytes()).is_ok());
    let cases = [
        format!("junk\n{ok}"),
        format!("{ok}trailing junk\n"),
        format!("{ok}{ok}"),
        ok.replace("\n\nWhat", "\nHash: SHA1\n\nWhat"),
        ok.replace("\n\nWhat", "\nHash: SHA256\n\nWhat"),
        ok.replace("\n\nWhat", "\nComment: x\n\nWhat"),
        ok.replace("- - tofu", "-- tofu"),
        ok.replace("-----END PGP SIGNATURE-----\n", ""),
        ok.replace(
            "-----BEGIN PGP SIGNATURE-----",
            "-----BEGIN PGP SIGNATURES-----",
        ),
    ];
    for c in &cases {
        assert!(parse_cleartext(c.as_bytes()).is_err(), "{c}");
    }
    assert!(
        parse_cleartext(
            ok.replace("\n\nWhat", "\nHash: SHA256, SHA512\n\nWhat")
                .as_bytes()
        )
        .is_ok()
    );
    assert!(parse_cleartext(ok.replace('\n', "\r\n").as_bytes()).is_ok());
    assert!(!is_signature(ok.as_bytes()) && is_cleartext(ok.as_bytes()));
}

#[test]
fn changing_any_byte_of_a_signature_or_certificate_never_panics_nor_verifies() {
    let Some(dir) = vectors() else { return };
    let sig =
        std::fs::read(dir.join("upstream/libassuan/libassuan_2.5.5.orig.tar.bz2.asc")).unwrap();
    let data = std::fs::read(dir.join("upstream/libassuan/libassuan_2.5.5.orig.tar.bz2")).unwrap();
    let certs =
        parse_certs(&std::fs::read(dir.join("upstream/libassuan/signing-key.asc")).unwrap())
            .unwrap();
    let sig = armor::blocks(&sig, "SIGNATURE").unwrap().remove(0);
    let digest_state = {
        let mut h = sha2::Sha256::new();
        h.update(&data);
        h
    };
    assert!(good(&verify(
        &one(&sig),
        Hasher::continue_sha256(digest_state.clone()),
        &certs,
        NOW
    )));
    // The unhashed subpackets (an issuer hint here) are not covered by the signature.
    let (h, hl) = (2, usize::from(sig[6]) << 8 | usize::from(sig[7]));
    let unhashed =
        h + 8 + hl..h + 8 + hl + (usize::from(sig[h + 6 + hl]) << 8 | usize::from(sig[h + 7 + hl]));
    assert_eq!(sig[0], 0x88, "old-format header, one-octet length");
    for i in (0..sig.len()).filter(|i| !unhashed.contains(i)) {
        for x in [0x01, 0x80] {
            let mut s = sig.clone();
            s[i] ^= x;
            if let Ok(v) = parse_signatures(&s) {
                let h = Hasher::continue_sha256(digest_state.clone());
                assert!(
                    !v.iter().any(|s| good(&verify(s, h.clone(), &certs, NOW))),
                    "byte {i} ^ {x:#x}"
                );
            }
        }
    }
    let bin = v6_cert_bin();
    for i in 0..bin.len() {
        let mut b = bin.clone();
        b[i] ^= 0x01;
        let _ = parse_certs(&b).map(|c| {
            c.iter()
                .for_each(|c| drop((c.primary_user_id(), c.expires(), c.is_revoked())))
        });
    }
}

#[test]
fn a_signing_subkey_needs_its_binding_with_the_sign_flag_and_a_back_signature() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let sig = one(&g.sign("ed.sub", &[], DOC, None));
    assert!(good(&verify_bytes(&sig, DOC, &g.cert("ed"), now)));
    let strip = |f: &dyn Fn(&mut SigP)| {
        let mut certs = g.cert("ed");
        certs[0].subs[0]
            .sigs
            .iter_mut()
            .filter(|s| s.typ == 0x18)
            .for_each(f);
        reason(verify_bytes(&sig, DOC, &certs, now))
    };
    assert!(strip(&|s| s.embedded = None).contains("back-signature"));
    assert!(strip(&|s| s.embedded.as_mut().unwrap().typ = 0x18).contains("back-signature"));
    assert!(strip(&|s| s.embedded.as_mut().unwrap().mpis[0][5] ^= 1).contains("back-signature"));
    // A binding whose (parsed) key flags lack "sign" does not make a signing subkey.
    assert_eq!(
        strip(&|s| s.flags = Some(0x0c)),
        "the subkey is not marked for signing"
    );
    // Without the subkey, the signature is by no key given.
    let mut certs = g.cert("ed");
    certs[0].subs.clear();
    assert!(matches!(
        verify_bytes(&sig, DOC, &certs, now),
        Outcome::Unknown
    ));
}

#[test]
fn a_key_of_an_unsupported_algorithm_is_kept_and_verifies_nothing() {
    let Some(g) = gpg() else { return };
    let certs = g.cert("dsa");
    assert_eq!((certs.len(), certs[0].algorithm().as_str()), (1, "DSA"));
    assert!(
        certs[0].primary_user_id().is_none(),
        "its self-signature cannot be checked"
    );
    let sig = one(&g.sign("dsa", &["--digest-algo", "SHA256"], DOC, None));
    let o = verify_bytes(&sig, DOC, &certs, crate::time::now_secs());
    assert_eq!(reason(o), "DSA keys are not supported");
}

#[test]
fn inrelease_verifies_with_the_two_armored_certificates_and_one_alone_leaves_one_unknown() {
    let Some(dir) = vectors() else { return };
    let rd = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let signed = parse_cleartext(&rd("debian/bookworm-security_InRelease")).unwrap();
    assert_eq!(signed.sigs.len(), 2);
    let mut both = rd("debian/debian-archive-bookworm-security-automatic.asc");
    both.extend(rd("debian/debian-archive-bullseye-security-automatic.asc"));
    let certs = parse_certs(&both).unwrap();
    assert_eq!(certs.len(), 2);
    assert!((0..2).all(|i| good(&signed.verify(i, &certs, NOW))));
    let one = parse_certs(&rd("debian/debian-archive-bookworm-security-automatic.asc")).unwrap();
    let out: Vec<Outcome> = (0..2).map(|i| signed.verify(i, &one, NOW)).collect();
    assert_eq!(out.iter().filter(|o| good(o)).count(), 1, "{out:?}");
    assert_eq!(
        out.iter().filter(|o| matches!(o, Outcome::Unknown)).count(),
        1,
        "{out:?}"
    );
    assert!(signed.text.starts_with(b"Origin: Debian\n"));
}

#[test]
fn a_stale_copy_of_a_certificate_does_not_escape_the_revocation_in_another_copy() {
    let Some(g) = gpg() else { return };
    let now = crate::time::now_secs();
    let sig = one(&g.sigs["hard.before"]);
    let stale = parse_certs(&g.sigs["hard.cert"]).unwrap();
    assert!(
        good(&verify_bytes(&sig, DOC, &stale, now)),
        "before its revocation was known"
    );
    let revoked = g.cert("hard");
    // In one keyring file (either order): merged into one certificate.
    for ring in [
        [&g.sigs["hard.cert"][..], &revoked[0].to_bytes()].concat(),
        [&revoked[0].to_bytes()[..], &g.sigs["hard.cert"]].concat(),
    ] {
        let certs = parse_certs(&ring).unwrap();
        assert_eq!(certs.len(), 1);
        assert!(reason(verify_bytes(&sig, DOC, &certs, now)).contains("compromised"));
    }
    // Given apart (two --key files): judged together.
    let apart = [stale[0].clone(), revoked[0].clone()];
    assert!(reason(verify_bytes(&sig, DOC, &apart, now)).contains("compromised"));
    let apart = [revoked[0].clone(), stale[0].clone()];
    assert!(reason(verify_bytes(&sig, DOC, &apart, now)).contains("compromised"));
    let one_cert = merge_certs(apart.to_vec());
    assert_eq!(one_cert.len(), 1);
    assert!(reason(verify_bytes(&sig, DOC, &one_cert, now)).contains("compromised"));
    // A copy without the subkey first, the signing subkey in a later copy: still found.
    let mut bare = g.cert("ed");
    bare[0].subs.clear();
    let both = [bare[0].clone(), g.cert("ed").remove(0)];
    let sig = one(&g.sign("ed.sub", &[], DOC, None));
    assert!(good(&verify_bytes(&sig, DOC, &both, now)));
}
