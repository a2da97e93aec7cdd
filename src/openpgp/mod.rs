//! OpenPGP verification (RFC 9580, RFC 4880): certificates and keyrings, detached and
//! cleartext signatures, v4 and v6, checked the way `sqv` checks them (validity at the
//! signature's creation time). Verifier only: nothing here signs, decrypts or writes keys.
//!
//! API CONTRACT (the rest of verun is written against exactly these items; keep their
//! names and meaning, add private helpers and submodules freely):
//! - every parser is strict and capped, never panics, and returns `Err(String)`: one
//!   short sentence without a trailing period, naming what is wrong (callers prefix the file);
//! - nothing prints; untrusted text (user IDs) is returned raw, callers sanitise it.
//!
//! Policy, where the RFCs leave a choice (each matches `sqv` 1.x unless said otherwise):
//! - the primary key's state at time T comes from its self-signature in force at T: the
//!   latest valid certification of the primary user ID (flagged primary, else the latest),
//!   else the latest direct-key signature; its key expiration, else the direct-key
//!   signature's. A primary whose self-signature carries no key-flags subpacket may sign
//!   (old RSA keys; gpg agrees; not checked against sqv); one whose flags lack "sign" may not;
//! - revocations: reasons 1, 3, 32 count from their date, anything else (2, 0, none, an
//!   unknown code) at any time; only the primary key's own revocations count;
//! - SHA-1 is accepted in self-signatures made before 2023-02-01 (see
//!   `SHA1_SELF_SIG_CUTOFF`), never in document signatures; RSA under 2048 bits, DSA,
//!   ElGamal and curves other than Ed25519, P-256, P-384 verify nothing;
//! - text signatures treat CR, LF and CRLF alike as line endings (gpg 2.2 hashes a bare CR
//!   as a character, so its text signatures over such files verify in neither sqv nor here);
//! - copies of one certificate are merged (as gpg and Sequoia do).

mod armor;
mod cleartext;
mod packet;
#[cfg(test)]
mod tests;

use packet::{H, Key, SigP};
use sha2::Digest;

/// Largest certificate or keyring file read (Debian's archive keyring is 56 KB).
pub const MAX_CERT_BYTES: u64 = 1 << 20;
/// Largest detached signature file read.
pub const MAX_SIG_BYTES: u64 = 64 * 1024;
/// Most signatures accepted in one file.
pub const MAX_SIGS: usize = 32;

/// Self-signatures (user-ID certifications, direct-key signatures, subkey bindings and
/// back-signatures, revocations) may use SHA-1 when made before this date (2023-02-01), as
/// Sequoia's StandardPolicy allows (SHA-1's second-preimage resistance cut-off): many
/// real certificates still carry such bindings. Document signatures never may.
const SHA1_SELF_SIG_CUTOFF: u64 = 1_675_209_600;

/// A primary-key fingerprint: 20 bytes (v4) or 32 bytes (v6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    /// Parse 40 (v4) or 64 (v6) hex digits, any case, spaces allowed (as `gpg` prints them);
    /// an optional `0x` prefix. Anything else is an error.
    pub fn parse_hex(s: &str) -> Result<Fingerprint, String> {
        let t: String = s.trim().chars().filter(|&c| c != ' ').collect();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(&t);
        if !matches!(t.len(), 40 | 64) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a fingerprint is 40 (v4) or 64 (v6) hex digits".into());
        }
        let b = (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap_or(0));
        Ok(Fingerprint(b.collect()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Upper-case hex, no spaces: the spelling used in `openpgp:FINGERPRINT`.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The 64-bit key id (v4: the last 8 bytes; v6: the first 8).
    pub fn key_id(&self) -> [u8; 8] {
        let b = if self.0.len() == 20 {
            &self.0[12..]
        } else {
            self.0.get(..8).unwrap_or(&[])
        };
        b.try_into().unwrap_or_default()
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Clone, Debug)]
struct Uid {
    /// 0xB4 for a user ID, 0xD1 for a user attribute: the octet signatures hash it with.
    tag: u8,
    id: Vec<u8>,
    sigs: Vec<SigP>,
}

#[derive(Clone, Debug)]
struct Sub {
    key: Key,
    sigs: Vec<SigP>,
}

/// What a self-signature is over (after the primary key).
#[derive(Clone, Copy)]
enum On<'a> {
    Key,
    Uid(&'a Uid),
    Sub(&'a Key),
}

/// One transferable public key: a primary key with its user IDs, subkeys and the
/// signatures on them (self-signatures, bindings, revocations), as parsed.
#[derive(Clone, Debug)]
pub struct Cert {
    primary: Key,
    direct: Vec<SigP>,
    uids: Vec<Uid>,
    subs: Vec<Sub>,
    raw: Vec<u8>,
}

fn date(secs: u64) -> String {
    crate::time::format_date(crate::time::day_of(i64::try_from(secs).unwrap_or(i64::MAX)))
}

/// Whether `s` was made at or before `t` and had not expired by then.
fn alive(s: &SigP, t: u64) -> bool {
    s.created
        .is_some_and(|c| c <= t && (s.sig_expires == 0 || t < c.saturating_add(s.sig_expires)))
}

fn matches(k: &Key, fpr: Option<&Fingerprint>, id: Option<&[u8; 8]>) -> bool {
    fpr.is_some_and(|f| *f == k.fpr) || id.is_some_and(|i| *i == k.fpr.key_id())
}

impl Cert {
    /// Whether `s`, a self-signature by `signer` over the primary key and `on`, is valid
    /// (policy and cryptography; cached in the signature).
    fn self_ok(&self, s: &SigP, signer: &Key, on: On) -> bool {
        *s.ok.get_or_init(|| {
            let Some(t) = s.created else { return false };
            let hash_ok = match s.hash_algo {
                8..=10 => true,
                2 => t < SHA1_SELF_SIG_CUTOFF,
                _ => false,
            };
            let foreign = s.issuer_fpr.as_ref().is_some_and(|f| *f != signer.fpr)
                || s.issuer.is_some_and(|k| k != signer.fpr.key_id());
            let Some(mut h) =
                H::new(s.hash_algo).filter(|_| hash_ok && !foreign && s.bad_critical.is_none())
            else {
                return false;
            };
            h.up(&s.salt);
            self.primary.hash_into(&mut h);
            match on {
                On::Key => {}
                On::Uid(u) => {
                    h.up(&[u.tag]);
                    h.up(&(u.id.len() as u32).to_be_bytes());
                    h.up(&u.id);
                }
                On::Sub(k) => k.hash_into(&mut h),
            }
            packet::verify_crypto(signer, s, &s.digest(h))
        })
    }

    /// A revocation of type `typ` among `sigs` that counts at `t`: hard ones (compromised,
    /// no reason, an unknown reason) always, soft ones (superseded, retired, user ID no
    /// longer valid) from their date.
    fn revoked(&self, sigs: &[SigP], typ: u8, on: On, t: u64, what: &str) -> Result<(), String> {
        for s in sigs
            .iter()
            .filter(|s| s.typ == typ && self.self_ok(s, &self.primary, on))
        {
            let c = s.created.unwrap_or(0);
            match s.reason {
                Some(1 | 3 | 32) if c > t => {}
                Some(1 | 3 | 32) => {
                    return Err(format!(
                        "{what} was retired on {}, before the signature was made",
                        date(c)
                    ));
                }
                Some(2) => return Err(format!("{what} is revoked as compromised")),
                _ => {
                    return Err(format!(
                        "{what} is revoked (no reason given: counts as compromised)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The primary key's self-signature in force at `t`: the latest valid certification of
    /// the primary user ID (the one flagged primary, else the latest of any user ID not
    /// revoked then), else the latest valid direct-key signature.
    fn binding_at(&self, t: u64) -> Option<&SigP> {
        let mut best: Option<&SigP> = None;
        for u in self.uids.iter().filter(|u| u.tag == 0xb4) {
            let ok = |s: &&SigP| self.self_ok(s, &self.primary, On::Uid(u));
            if u.sigs
                .iter()
                .filter(|s| s.typ == 0x30 && s.created.is_some_and(|c| c <= t))
                .any(|s| ok(&s))
            {
                continue;
            }
            let latest = u
                .sigs
                .iter()
                .filter(|s| (0x10..=0x13).contains(&s.typ) && alive(s, t))
                .filter(ok);
            if let Some(l) = latest.max_by_key(|s| s.created)
                && best.is_none_or(|b| (l.primary_uid, l.created) >= (b.primary_uid, b.created))
            {
                best = Some(l);
            }
        }
        best.or_else(|| self.direct_at(t))
    }

    /// The latest valid direct-key signature at `t`.
    fn direct_at(&self, t: u64) -> Option<&SigP> {
        let direct = self.direct.iter().filter(|s| s.typ == 0x1f && alive(s, t));
        direct
            .filter(|s| self.self_ok(s, &self.primary, On::Key))
            .max_by_key(|s| s.created)
    }

    /// When the primary key expires by `b`, its self-signature in force at `t`: the
    /// binding's key expiration, else the direct-key signature's (as Sequoia has it).
    fn expiry(&self, b: &SigP, t: u64) -> Option<u64> {
        let ket = b
            .key_expires
            .or_else(|| self.direct_at(t).and_then(|d| d.key_expires))?;
        (ket != 0).then(|| self.primary.created.saturating_add(ket))
    }

    /// The primary key's state at `t`: its self-signature in force, or why it is not valid.
    fn primary_at(&self, t: u64) -> Result<&SigP, String> {
        let k = &self.primary;
        if let Some(r) = k.unusable() {
            return Err(format!("the primary key: {r}"));
        }
        if k.created > t {
            return Err("made before the key was created".into());
        }
        self.revoked(&self.direct, 0x20, On::Key, t, "the key")?;
        let b = self
            .binding_at(t)
            .ok_or("the certificate has no valid self-signature at the signature's time")?;
        if let Some(exp) = self.expiry(b, t).filter(|&e| t >= e) {
            return Err(format!("made after the key expired on {}", date(exp)));
        }
        Ok(b)
    }

    /// Whether `b` carries a valid back-signature (0x19) by the subkey `k`.
    fn backsig_ok(&self, b: &SigP, k: &Key) -> bool {
        b.embedded
            .as_deref()
            .is_some_and(|e| e.typ == 0x19 && self.self_ok(e, k, On::Sub(k)))
    }

    /// The signing subkey's state at `t` (the primary's is checked apart).
    fn sub_at(&self, sub: &Sub, t: u64) -> Result<(), String> {
        let k = &sub.key;
        if k.created > t {
            return Err("made before the subkey was created".into());
        }
        self.revoked(&sub.sigs, 0x28, On::Sub(k), t, "the subkey")?;
        let signs = |s: &SigP| s.flags.unwrap_or(0) & 2 != 0;
        let b = sub
            .sigs
            .iter()
            .filter(|s| s.typ == 0x18 && alive(s, t) && self.self_ok(s, &self.primary, On::Sub(k)))
            .filter(|s| !signs(s) || self.backsig_ok(s, k))
            .max_by_key(|s| s.created)
            .ok_or("the subkey has no valid binding signature (with back-signature) at the signature's time")?;
        if !signs(b) {
            return Err("the subkey is not marked for signing".into());
        }
        let ket = b.key_expires.unwrap_or(0);
        let exp = k.created.saturating_add(ket);
        if ket != 0 && t >= exp {
            return Err(format!("made after the subkey expired on {}", date(exp)));
        }
        Ok(())
    }

    /// Decide the document signature `s` made by `key` (the primary, or `sub`).
    fn check(
        &self,
        s: &SigP,
        key: &Key,
        sub: Option<&Sub>,
        hasher: Hasher,
        now: u64,
    ) -> Result<Good, String> {
        let created = s.created.ok_or("the signature has no creation time")?;
        if let Some(t) = s.bad_critical {
            return Err(format!(
                "the signature has an unknown critical subpacket (type {t})"
            ));
        }
        let hash = hash_algo(s.hash_algo)?;
        if created > now.saturating_add(86_400) {
            return Err("created more than a day in the future".into());
        }
        let exp = created.saturating_add(s.sig_expires);
        if s.sig_expires != 0 && now >= exp {
            return Err(format!("the signature expired on {}", date(exp)));
        }
        if let Some(r) = key.unusable() {
            return Err(r);
        }
        if s.version != key.version {
            return Err(format!(
                "a version {} signature cannot come from a version {} key",
                s.version, key.version
            ));
        }
        let b = self.primary_at(created)?;
        match sub {
            None if b.flags.is_some_and(|f| f & 2 == 0) => {
                return Err("the primary key is not marked for signing".into());
            }
            None => {}
            Some(sub) => self.sub_at(sub, created)?,
        }
        if hasher.h.algo() != s.hash_algo || !packet::verify_crypto(key, s, &s.digest(hasher.h)) {
            return Err("the signature does not match the data".into());
        }
        Ok(Good {
            primary: self.primary.fpr.clone(),
            signing_key: key.fpr.clone(),
            created,
            user_id: self.primary_user_id(),
            algorithm: key.name(),
            hash: match hash {
                HashAlgo::Sha256 => "SHA-256",
                HashAlgo::Sha384 => "SHA-384",
                HashAlgo::Sha512 => "SHA-512",
            },
        })
    }

    /// Add the components and signatures of `o`, a copy of this certificate.
    fn merge(&mut self, o: Cert) {
        self.direct.extend(o.direct);
        for u in o.uids {
            match self
                .uids
                .iter_mut()
                .find(|x| x.tag == u.tag && x.id == u.id)
            {
                Some(x) => x.sigs.extend(u.sigs),
                None => self.uids.push(u),
            }
        }
        for sub in o.subs {
            match self.subs.iter_mut().find(|x| x.key.fpr == sub.key.fpr) {
                Some(x) => x.sigs.extend(sub.sigs),
                None => self.subs.push(sub),
            }
        }
        self.raw.extend(o.raw);
    }

    /// The primary key's fingerprint.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.primary.fpr
    }

    /// Key version: 4 or 6.
    pub fn version(&self) -> u8 {
        self.primary.version
    }

    /// The user ID shown for this certificate: the primary one (or the first with a valid
    /// self-signature), raw (callers sanitise); `None` when there is none.
    pub fn primary_user_id(&self) -> Option<String> {
        let mut first = None;
        for u in self.uids.iter().filter(|u| u.tag == 0xb4) {
            let certs = u.sigs.iter().filter(|s| (0x10..=0x13).contains(&s.typ));
            if let Some(s) = certs
                .filter(|s| self.self_ok(s, &self.primary, On::Uid(u)))
                .max_by_key(|s| s.created)
            {
                if s.primary_uid {
                    return Some(String::from_utf8_lossy(&u.id).into_owned());
                }
                first.get_or_insert(u);
            }
        }
        first.map(|u| String::from_utf8_lossy(&u.id).into_owned())
    }

    /// The primary key's algorithm in words: `RSA 4096`, `Ed25519`, `ECDSA P-256`, ...
    pub fn algorithm(&self) -> String {
        self.primary.name()
    }

    /// Whether the primary key or one of the subkeys matches `fpr` (a full fingerprint of
    /// the primary or of a subkey) or `key_id`: the question "could this certificate have
    /// made this signature?", before any check.
    pub fn has_key(&self, fpr: Option<&Fingerprint>, key_id: Option<&[u8; 8]>) -> bool {
        matches(&self.primary, fpr, key_id)
            || self.subs.iter().any(|s| matches(&s.key, fpr, key_id))
    }

    /// The certificate's packets, binary (not armored), exactly as parsed: what the key
    /// store keeps. `parse_certs(&cert.to_bytes())` gives this certificate back.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.raw.clone()
    }

    /// When the primary key expires (Unix seconds), by its latest valid self-signature;
    /// `None` when it does not.
    pub fn expires(&self) -> Option<u64> {
        let now = crate::time::now_secs();
        self.expiry(self.binding_at(now)?, now)
    }

    /// Whether the primary key is revoked (any reason) by a valid revocation signature.
    pub fn is_revoked(&self) -> bool {
        self.direct
            .iter()
            .any(|s| s.typ == 0x20 && self.self_ok(s, &self.primary, On::Key))
    }
}

/// Append the certificates in the binary packet stream `bin` to `out`.
fn certs_from(bin: &[u8], out: &mut Vec<Cert>) -> Result<(), String> {
    #[derive(PartialEq)]
    enum Last {
        Direct,
        Uid,
        Sub,
        Skip,
    }
    let (mut cur, mut last, mut skipping): (Option<Cert>, _, _) = (None, Last::Skip, false);
    for p in packet::packets(bin)? {
        match p.tag {
            // Marker, trust, and the non-critical range: ignored (RFC 9580 §4.3).
            10 | 12 | 40.. => continue,
            5 | 7 => return Err("secret key material: give the public certificate".into()),
            6 => {
                out.extend(cur.take());
                let Some(k) = packet::parse_key(p.body)? else {
                    skipping = true; // a v3 or v5 certificate: skipped whole
                    continue;
                };
                let c = Cert {
                    primary: k,
                    direct: vec![],
                    uids: vec![],
                    subs: vec![],
                    raw: vec![],
                };
                (cur, last, skipping) = (Some(c), Last::Direct, false);
            }
            _ => {}
        }
        let Some(c) = cur.as_mut() else {
            if skipping {
                continue;
            }
            return Err("a certificate must start with a public-key packet".into());
        };
        match p.tag {
            6 => {}
            14 => match packet::parse_key(p.body)? {
                Some(key) => {
                    c.subs.push(Sub { key, sigs: vec![] });
                    last = Last::Sub;
                }
                None => last = Last::Skip,
            },
            13 | 17 => {
                c.uids.push(Uid {
                    tag: if p.tag == 13 { 0xb4 } else { 0xd1 },
                    id: p.body.to_vec(),
                    sigs: vec![],
                });
                last = Last::Uid;
            }
            2 => {
                if let Some(s) = packet::parse_sig(p.body)? {
                    let to = match last {
                        Last::Direct => Some(&mut c.direct),
                        Last::Uid => c.uids.last_mut().map(|u| &mut u.sigs),
                        Last::Sub => c.subs.last_mut().map(|u| &mut u.sigs),
                        Last::Skip => None,
                    };
                    if let Some(v) = to {
                        v.push(s);
                    }
                }
            }
            t => return Err(format!("unexpected packet (tag {t}) in a certificate")),
        }
        c.raw.extend_from_slice(p.raw);
    }
    out.extend(cur);
    Ok(())
}

fn is_binary(b: &[u8]) -> bool {
    b.first().is_some_and(|&h| h & 0x80 != 0)
}

/// The tag of the first packet of a binary stream.
fn first_tag(mut b: &[u8]) -> Option<u8> {
    // Leading marker packets (tag 10, body "PGP", old or new format) are skipped, as the
    // parsers skip them: a keyring that starts with one is still a keyring.
    while let Some(rest) = b
        .strip_prefix(b"\xa8\x03PGP")
        .or_else(|| b.strip_prefix(b"\xca\x03PGP"))
    {
        b = rest;
    }
    let h = *b.first()?;
    (h & 0x80 != 0).then_some(if h & 0x40 != 0 {
        h & 0x3f
    } else {
        (h >> 2) & 0xf
    })
}

/// Every certificate in `bytes`: one or more armored `PUBLIC KEY BLOCK`s, or binary
/// packets (a keyring). Certificates whose primary key uses an algorithm this module
/// cannot verify are kept (they can sign nothing here); a malformed packet stream is an
/// error. At least one certificate. Copies of one certificate (the same primary
/// fingerprint, as a keyring holding a stale and an updated copy) come back merged into one.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    if bytes.len() as u64 > MAX_CERT_BYTES {
        return Err("certificate file larger than 1 MiB".into());
    }
    let mut out = Vec::new();
    if is_binary(bytes) {
        certs_from(bytes, &mut out)?;
    } else {
        for b in armor::blocks(bytes, "PUBLIC KEY BLOCK")? {
            certs_from(&b, &mut out)?;
        }
    }
    if out.is_empty() {
        return Err("no certificate".into());
    }
    Ok(merged(out))
}

/// Copies of one certificate (same primary fingerprint) merged into one, as gpg and Sequoia
/// merge them: a stale copy beside a revoked one must not escape the revocation. For
/// certificates gathered from several files (`parse_certs` merges within one file; `verify`
/// merges the copies it is given together).
pub fn merge_certs(certs: Vec<Cert>) -> Vec<Cert> {
    merged(certs)
}

fn merged(certs: Vec<Cert>) -> Vec<Cert> {
    let mut out: Vec<Cert> = Vec::new();
    for c in certs {
        match out.iter_mut().find(|x| x.primary.fpr == c.primary.fpr) {
            Some(x) => x.merge(c),
            None => out.push(c),
        }
    }
    out
}

/// Whether `bytes` look like a certificate or keyring (armored `PUBLIC KEY BLOCK`, or a
/// binary packet stream starting with a public-key packet): content sniffing for `--key`.
pub fn is_certificate(bytes: &[u8]) -> bool {
    first_tag(bytes) == Some(6)
        || (!is_binary(bytes) && armor::has_block(bytes, "PUBLIC KEY BLOCK"))
}

/// Whether `bytes` look like a detached OpenPGP signature (armored `PGP SIGNATURE`, or a
/// binary packet stream starting with a signature packet).
pub fn is_signature(bytes: &[u8]) -> bool {
    first_tag(bytes) == Some(2)
        || (!is_binary(bytes) && !is_cleartext(bytes) && armor::has_block(bytes, "SIGNATURE"))
}

/// Whether `bytes` are a cleartext-signed message (`-----BEGIN PGP SIGNED MESSAGE-----` as
/// the first line).
pub fn is_cleartext(bytes: &[u8]) -> bool {
    cleartext::is_cleartext(bytes)
}

/// A document hash algorithm verun accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgo {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

fn hash_algo(a: u8) -> Result<HashAlgo, String> {
    match a {
        8 => Ok(HashAlgo::Sha256),
        9 => Ok(HashAlgo::Sha384),
        10 => Ok(HashAlgo::Sha512),
        1 => Err("MD5 is refused".into()),
        2 => Err("SHA-1 is refused".into()),
        3 => Err("RIPEMD-160 is refused".into()),
        11 => Err("SHA-224 is not supported".into()),
        12 | 14 => Err("SHA-3 is not supported".into()),
        _ => Err(format!("unknown hash algorithm {a}")),
    }
}

/// One signature packet (document signature: type 0x00 binary or 0x01 text).
#[derive(Clone, Debug)]
pub struct Sig(SigP);

impl Sig {
    /// 4 or 6.
    pub fn version(&self) -> u8 {
        self.0.version
    }

    /// Signature creation time (Unix seconds, from the hashed area; required).
    pub fn created(&self) -> u64 {
        self.0.created.unwrap_or(0)
    }

    /// The issuer fingerprint subpacket, if any.
    pub fn issuer_fingerprint(&self) -> Option<Fingerprint> {
        self.0.issuer_fpr.clone()
    }

    /// The issuer key id (the issuer subpacket, or derived from the issuer fingerprint).
    pub fn issuer_key_id(&self) -> Option<[u8; 8]> {
        self.0
            .issuer
            .or_else(|| self.0.issuer_fpr.as_ref().map(Fingerprint::key_id))
    }

    /// The document hash, or why it is refused (`SHA-1 is refused`, `MD5 is refused`,
    /// `unknown hash algorithm 11`).
    pub fn hash_algo(&self) -> Result<HashAlgo, String> {
        hash_algo(self.0.hash_algo)
    }

    /// Whether this is a text signature (type 0x01): the document is hashed with line
    /// endings canonicalised to CRLF.
    pub fn is_text(&self) -> bool {
        self.0.typ == 1
    }

    /// A fresh hasher for the document this signature covers: the right algorithm, fed the
    /// v6 salt, canonicalising text. Err as [`Sig::hash_algo`].
    pub fn hasher(&self) -> Result<Hasher, String> {
        self.hash_algo()?;
        let mut h = H::new(self.0.hash_algo).ok_or("unsupported hash")?;
        h.up(&self.0.salt);
        Ok(Hasher {
            h,
            text: self.is_text(),
            cr: false,
        })
    }

    /// Whether a plain SHA-256 / SHA-512 of the document's bytes (a hasher with no salt, no
    /// text canonicalisation) is what this signature hashes first: then the pump's own
    /// SHA-256 or SHA-512 state can be continued with [`Hasher::continue_sha256`] /
    /// [`Hasher::continue_sha512`] instead of hashing the payload twice.
    pub fn plain(&self) -> Option<HashAlgo> {
        let h = self.hash_algo().ok().filter(|&h| h != HashAlgo::Sha384)?;
        (self.0.salt.is_empty() && !self.is_text()).then_some(h)
    }
}

/// The signatures in a binary packet stream (markers skipped).
fn sigs_from_packets(data: &[u8]) -> Result<Vec<Sig>, String> {
    let mut v = Vec::new();
    for p in packet::packets(data)? {
        match p.tag {
            10 => continue,
            2 => {}
            t => return Err(format!("unexpected packet (tag {t}) in a signature")),
        }
        let ver = p.body.first().copied().unwrap_or(0);
        let s = packet::parse_sig(p.body)?
            .ok_or(format!("version {ver} signatures are not supported"))?;
        if s.typ > 1 {
            return Err(format!("not a document signature (type 0x{:02x})", s.typ));
        }
        if s.created.is_none() {
            return Err("a signature without a creation time".into());
        }
        if v.len() == MAX_SIGS {
            return Err(format!("more than {MAX_SIGS} signatures"));
        }
        v.push(Sig(s));
    }
    if v.is_empty() {
        return Err("no signature".into());
    }
    Ok(v)
}

/// Every signature in a detached signature file (armored or binary): at least one, at most
/// [`MAX_SIGS`], only document signatures (types 0x00, 0x01); marker packets skipped.
pub fn parse_signatures(bytes: &[u8]) -> Result<Vec<Sig>, String> {
    if bytes.len() as u64 > MAX_SIG_BYTES {
        return Err("signature file larger than 64 KiB".into());
    }
    if is_binary(bytes) {
        return sigs_from_packets(bytes);
    }
    let mut v = Vec::new();
    for b in armor::blocks(bytes, "SIGNATURE")? {
        v.extend(sigs_from_packets(&b)?);
        if v.len() > MAX_SIGS {
            return Err(format!("more than {MAX_SIGS} signatures"));
        }
    }
    Ok(v)
}

/// An incremental document hasher: the v6 salt first, then the document, with line endings
/// canonicalised to CRLF for text signatures (a CR at a chunk's end is carried over).
#[derive(Clone)]
pub struct Hasher {
    h: H,
    text: bool,
    /// The last byte fed was a CR (already hashed as CRLF): a LF right after it is skipped.
    cr: bool,
}

impl Hasher {
    /// Feed document bytes.
    pub fn update(&mut self, data: &[u8]) {
        if !self.text {
            return self.h.up(data);
        }
        let mut start = 0;
        for (i, &b) in data.iter().enumerate() {
            if b != b'\n' && b != b'\r' {
                continue;
            }
            if i > start {
                self.h.up(&data[start..i]);
                self.cr = false;
            }
            if b == b'\r' || !self.cr {
                self.h.up(b"\r\n");
            }
            self.cr = b == b'\r';
            start = i + 1;
        }
        if start < data.len() {
            self.h.up(&data[start..]);
            self.cr = false;
        }
    }

    /// A hasher that continues `state`, a plain SHA-256 of the document so far.
    pub fn continue_sha256(state: sha2::Sha256) -> Hasher {
        Hasher {
            h: H::S256(state),
            text: false,
            cr: false,
        }
    }

    /// A hasher that continues `state`, a plain SHA-512 of the document so far.
    pub fn continue_sha512(state: ring::digest::Context) -> Hasher {
        Hasher {
            h: H::S512(state),
            text: false,
            cr: false,
        }
    }
}

/// A signature that verified.
#[derive(Clone, Debug)]
pub struct Good {
    /// The certificate's primary fingerprint (the signer's name: `openpgp:FPR`).
    pub primary: Fingerprint,
    /// The key that signed: the primary or a subkey.
    pub signing_key: Fingerprint,
    /// Signature creation time (Unix seconds).
    pub created: u64,
    /// The certificate's primary user ID, raw.
    pub user_id: Option<String>,
    /// `RSA 4096`, `Ed25519`, ...
    pub algorithm: String,
    /// `SHA-256`, `SHA-384`, `SHA-512`.
    pub hash: &'static str,
}

/// What one signature says about a document, against a set of certificates.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// No certificate given has the issuer's key: the signature is not by a trusted key.
    Unknown,
    /// It verifies, by a key valid at the signature's creation time.
    Good(Good),
    /// A certificate given has the issuer's key, and the signature is refused: why, in
    /// one sentence (`made after the key expired on 2022-05-17`, `the subkey is revoked`,
    /// `the signature does not match the data`, `SHA-1 is refused`, `RSA 1024 is too
    /// weak`, `created more than a day in the future`).
    Bad {
        /// The primary fingerprint of the certificate holding the issuer's key.
        primary: Fingerprint,
        /// Why.
        reason: String,
    },
}

/// Decide `sig` over the document fed to `hasher` (made by [`Sig::hasher`], or continued
/// from the pump's state when [`Sig::plain`] allows), against `certs`. Finds the issuer's
/// key (primary, or a signing-capable subkey with a valid binding and back-signature) and
/// checks, at the signature's creation time: key and subkey not expired, not revoked
/// (hard revocations and revocations without a reason count at any time; soft ones from
/// their date), signature not expired and not created more than a day after `now`, RSA ≥
/// 2048 bits, accepted hash, then the cryptography. `now` is Unix seconds. Copies of one
/// certificate among `certs` are judged merged (a revocation in one holds for all).
pub fn verify(sig: &Sig, hasher: Hasher, certs: &[Cert], now: u64) -> Outcome {
    let s = &sig.0;
    // The issuer fingerprint when given (it names the key exactly), else the key id.
    let (fpr, id) = match &s.issuer_fpr {
        Some(f) => (Some(f), None),
        None => (None, s.issuer.as_ref()),
    };
    let mut bad = None;
    for (i, c) in certs.iter().enumerate() {
        // Copies given apart (two files) are judged together, once.
        let same = |x: &&Cert| x.primary.fpr == c.primary.fpr;
        let first = !certs[..i].iter().any(|x| same(&x) && x.has_key(fpr, id));
        if !c.has_key(fpr, id) || !first {
            continue;
        }
        let all;
        let c = if certs.iter().filter(same).nth(1).is_some() {
            all = merged(certs.iter().filter(same).cloned().collect()).remove(0);
            &all
        } else {
            c
        };
        let keys =
            std::iter::once((&c.primary, None)).chain(c.subs.iter().map(|s| (&s.key, Some(s))));
        for (k, sub) in keys.filter(|(k, _)| matches(k, fpr, id)) {
            match c.check(s, k, sub, hasher.clone(), now) {
                Ok(g) => return Outcome::Good(g),
                Err(reason) => {
                    bad.get_or_insert(Outcome::Bad {
                        primary: c.primary.fpr.clone(),
                        reason,
                    });
                }
            }
        }
    }
    bad.unwrap_or(Outcome::Unknown)
}

/// [`verify`] over a document held in memory.
pub fn verify_bytes(sig: &Sig, data: &[u8], certs: &[Cert], now: u64) -> Outcome {
    // A refused hash still yields its reason from `verify` (checked before the digest).
    let mut h = sig.hasher().unwrap_or(Hasher {
        h: H::S256(sha2::Sha256::new()),
        text: false,
        cr: false,
    });
    h.update(data);
    verify(sig, h, certs, now)
}

/// A cleartext-signed message (RFC 9580 §7).
#[derive(Clone, Debug)]
pub struct Cleartext {
    /// The signed text, as verun hands it on (`-o`, the checksum-list parser): dash-escapes
    /// removed, trailing spaces and tabs removed from each line, every line ending `\n`.
    pub text: Vec<u8>,
    /// The signatures after the text (at least one).
    pub sigs: Vec<Sig>,
}

/// Parse a cleartext-signed message: the `BEGIN PGP SIGNED MESSAGE` line, `Hash:` headers
/// (each named algorithm must be one verun accepts and must match the signatures), an empty
/// line, the dash-escaped text, and one armored signature block. Anything before the first
/// line, after the signature block (other than whitespace), or a second message is an error.
pub fn parse_cleartext(bytes: &[u8]) -> Result<Cleartext, String> {
    cleartext::parse(bytes)
}

impl Cleartext {
    /// Decide `self.sigs[index]` over the signed text (hashed in its canonical form: CRLF
    /// line endings, trailing whitespace removed, no final line ending), as [`verify`].
    /// An `index` out of range is [`Outcome::Unknown`].
    pub fn verify(&self, index: usize, certs: &[Cert], now: u64) -> Outcome {
        match self.sigs.get(index) {
            Some(sig) => verify_bytes(sig, &cleartext::canonical(&self.text), certs, now),
            None => Outcome::Unknown,
        }
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("openpgp::Hasher")
    }
}
