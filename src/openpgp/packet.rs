//! Packet framing (RFC 9580 §4) and the two packets a verifier reads: public keys (§5.5) and
//! signatures (§5.2), plus the hashing and the public-key cryptography they need.

use super::Fingerprint;
use sha2::Digest;
use std::sync::OnceLock;

/// Most packets in one input (a 1 MiB keyring of third-party certifications has ~5000).
const MAX_PACKETS: usize = 50_000;

const TRUNC: &str = "truncated packet";

/// One framed packet: tag, body, and the whole packet as it appeared.
pub(super) struct Packet<'a> {
    pub tag: u8,
    pub body: &'a [u8],
    pub raw: &'a [u8],
}

/// Split a binary packet stream. Partial and indeterminate lengths are refused: no key or
/// signature uses them.
pub(super) fn packets(mut b: &[u8]) -> Result<Vec<Packet<'_>>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if out.len() >= MAX_PACKETS {
            return Err("too many packets".into());
        }
        let h = b[0];
        if h & 0x80 == 0 {
            return Err(format!("not an OpenPGP packet (header octet 0x{h:02x})"));
        }
        let mut r = R(&b[1..]);
        let (tag, len) = if h & 0x40 != 0 {
            let l0 = r.u8()? as usize;
            let len = match l0 {
                0..192 => l0,
                192..224 => ((l0 - 192) << 8) + r.u8()? as usize + 192,
                255 => r.be(4)? as usize,
                _ => return Err("partial body lengths are not accepted here".into()),
            };
            (h & 0x3f, len)
        } else {
            let len = match h & 3 {
                0 => r.be(1)?,
                1 => r.be(2)?,
                2 => r.be(4)?,
                _ => return Err("indeterminate packet lengths are not accepted here".into()),
            };
            ((h >> 2) & 0xf, len as usize)
        };
        let hl = b.len() - r.0.len();
        let end = hl.checked_add(len).filter(|&e| e <= b.len()).ok_or(TRUNC)?;
        out.push(Packet {
            tag,
            body: &b[hl..end],
            raw: &b[..end],
        });
        b = &b[end..];
    }
    Ok(out)
}

/// A cursor over a packet body.
pub(super) struct R<'a>(pub &'a [u8]);

impl<'a> R<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(TRUNC.into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// A big-endian number of `n` (≤ 8) octets.
    pub fn be(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |a, &b| (a << 8) | u64::from(b)))
    }
    /// A multiprecision integer whose bit count is exact (as Sequoia requires: the count
    /// is not covered by the signature, so a lax reader would accept altered packets).
    fn mpi(&mut self) -> Result<&'a [u8], String> {
        let bits = self.be(2)? as usize;
        let v = self.take(bits.div_ceil(8))?;
        if v.first()
            .is_some_and(|&b| 8 - b.leading_zeros() as usize != bits - 8 * (v.len() - 1))
        {
            return Err("malformed MPI (wrong bit count)".into());
        }
        Ok(v)
    }
}

/// Key material verun can use, or why not.
#[derive(Clone, Debug)]
pub(super) enum Mat {
    /// n, e
    Rsa(Vec<u8>, Vec<u8>),
    /// Ed25519 (EdDSA legacy with the Ed25519 OID, or algorithm 27): the 32-octet point.
    Ed(Vec<u8>),
    /// SEC1 point.
    P256(Vec<u8>),
    P384(Vec<u8>),
    /// Anything else, named.
    Other(String),
}

/// A public key or subkey packet.
#[derive(Clone, Debug)]
pub(super) struct Key {
    pub version: u8,
    pub created: u64,
    pub algo: u8,
    pub mat: Mat,
    pub fpr: Fingerprint,
    pub body: Vec<u8>,
}

const OID_ED25519: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

fn algo_name(a: u8) -> String {
    match a {
        1..=3 => "RSA".into(),
        16 | 20 => "ElGamal".into(),
        17 => "DSA".into(),
        18 => "ECDH".into(),
        19 => "ECDSA".into(),
        22 => "EdDSA".into(),
        25 => "X25519".into(),
        26 => "X448".into(),
        27 => "Ed25519".into(),
        28 => "Ed448".into(),
        _ => format!("public-key algorithm {a}"),
    }
}

/// Parse a public-key or public-subkey body; `None` for key versions other than 4 and 6.
pub(super) fn parse_key(body: &[u8]) -> Result<Option<Key>, String> {
    let mut r = R(body);
    let version = r.u8()?;
    if version != 4 && version != 6 {
        return Ok(None);
    }
    let created = r.be(4)?;
    let algo = r.u8()?;
    if version == 6 && r.be(4)? as usize != r.0.len() {
        return Err("bad key material length".into());
    }
    let mat = match algo {
        1..=3 => {
            let n = r.mpi()?.to_vec();
            Mat::Rsa(n, r.mpi()?.to_vec())
        }
        19 | 22 => {
            let l = r.u8()? as usize;
            let oid = r.take(l)?;
            let p = r.mpi()?;
            match (algo, oid) {
                (22, OID_ED25519) if p.len() == 33 && p[0] == 0x40 => Mat::Ed(p[1..].to_vec()),
                (19, OID_P256) => Mat::P256(p.to_vec()),
                (19, OID_P384) => Mat::P384(p.to_vec()),
                _ => Mat::Other(format!("{} (unsupported curve)", algo_name(algo))),
            }
        }
        27 => Mat::Ed(r.take(32)?.to_vec()),
        _ => Mat::Other(algo_name(algo)),
    };
    let fpr = if version == 4 {
        let len = u16::try_from(body.len()).map_err(|_| "key packet too large")?;
        let mut h = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
        h.update(&[0x99]);
        h.update(&len.to_be_bytes());
        h.update(body);
        h.finish().as_ref().to_vec()
    } else {
        let mut h = sha2::Sha256::new();
        h.update([0x9b]);
        h.update((body.len() as u32).to_be_bytes());
        h.update(body);
        h.finalize().to_vec()
    };
    Ok(Some(Key {
        version,
        created,
        algo,
        mat,
        fpr: Fingerprint(fpr),
        body: body.to_vec(),
    }))
}

impl Key {
    /// RSA modulus size in bits (0 for other algorithms).
    pub fn rsa_bits(&self) -> usize {
        match &self.mat {
            Mat::Rsa(n, _) if !n.is_empty() => n.len() * 8 - n[0].leading_zeros() as usize,
            _ => 0,
        }
    }

    /// `RSA 4096`, `Ed25519`, `ECDSA P-256`, ...
    pub fn name(&self) -> String {
        match &self.mat {
            Mat::Rsa(..) => format!("RSA {}", self.rsa_bits()),
            Mat::Ed(_) => "Ed25519".into(),
            Mat::P256(_) => "ECDSA P-256".into(),
            Mat::P384(_) => "ECDSA P-384".into(),
            Mat::Other(s) => s.clone(),
        }
    }

    /// Why this key can verify nothing, if so.
    pub fn unusable(&self) -> Option<String> {
        match &self.mat {
            Mat::Other(s) => Some(format!("{s} keys are not supported")),
            Mat::Rsa(..) if self.rsa_bits() < 2048 => Some(format!("{} is too weak", self.name())),
            _ => None,
        }
    }

    /// Feed the key as signatures hash it (RFC 9580 §5.2.4).
    pub fn hash_into(&self, h: &mut H) {
        if self.version == 4 {
            h.up(&[0x99]);
            h.up(&(self.body.len() as u16).to_be_bytes());
        } else {
            h.up(&[0x9b]);
            h.up(&(self.body.len() as u32).to_be_bytes());
        }
        h.up(&self.body);
    }
}

/// A signature packet, with the subpackets verun interprets.
#[derive(Clone, Debug, Default)]
pub(super) struct SigP {
    pub version: u8,
    pub typ: u8,
    pub pk_algo: u8,
    pub hash_algo: u8,
    /// The packet's hashed part: version through the hashed subpackets.
    pub hashed: Vec<u8>,
    pub salt: Vec<u8>,
    pub left16: [u8; 2],
    pub mpis: Vec<Vec<u8>>,
    pub created: Option<u64>,
    /// Signature validity period in seconds (0: none).
    pub sig_expires: u64,
    /// Key validity period in seconds, when the subpacket is there (0: never expires).
    pub key_expires: Option<u64>,
    pub flags: Option<u8>,
    pub primary_uid: bool,
    pub reason: Option<u8>,
    pub issuer: Option<[u8; 8]>,
    pub issuer_fpr: Option<Fingerprint>,
    pub embedded: Option<Box<SigP>>,
    /// An unknown subpacket marked critical in the hashed area: the signature is invalid.
    pub bad_critical: Option<u8>,
    /// Cached outcome of checking this (self-)signature in its certificate.
    pub ok: OnceLock<bool>,
}

/// The v6 salt size a hash algorithm requires.
fn salt_len(hash: u8) -> Option<usize> {
    match hash {
        8 | 11 => Some(16),
        9 => Some(24),
        10 | 12 | 14 => Some(32),
        _ => None,
    }
}

/// Parse a signature body; `None` for versions other than 4 and 6 (v3 in old certificates).
pub(super) fn parse_sig(body: &[u8]) -> Result<Option<SigP>, String> {
    parse_sig_at(body, 0)
}

fn parse_sig_at(body: &[u8], depth: u8) -> Result<Option<SigP>, String> {
    let mut r = R(body);
    let version = r.u8()?;
    if version != 4 && version != 6 {
        return Ok(None);
    }
    let w = if version == 6 { 4 } else { 2 };
    let mut s = SigP {
        version,
        typ: r.u8()?,
        pk_algo: r.u8()?,
        hash_algo: r.u8()?,
        ..SigP::default()
    };
    let hl = r.be(w)? as usize;
    let hashed_area = r.take(hl)?;
    s.hashed = body[..body.len() - r.0.len()].to_vec();
    let ul = r.be(w)? as usize;
    let unhashed_area = r.take(ul)?;
    s.left16.copy_from_slice(r.take(2)?);
    if version == 6 {
        let n = r.u8()? as usize;
        s.salt = r.take(n)?.to_vec();
        if salt_len(s.hash_algo).is_some_and(|l| l != n) {
            return Err("wrong salt size for the hash algorithm".into());
        }
    }
    let n = match s.pk_algo {
        1 | 3 => 1,
        19 | 22 => 2,
        27 => {
            s.mpis.push(r.take(64)?.to_vec());
            0
        }
        _ => {
            r.0 = &[];
            0
        }
    };
    for _ in 0..n {
        s.mpis.push(r.mpi()?.to_vec());
    }
    if !r.0.is_empty() {
        return Err("trailing bytes in a signature packet".into());
    }
    subpackets(hashed_area, true, &mut s, depth)?;
    subpackets(unhashed_area, false, &mut s, depth)?;
    Ok(Some(s))
}

fn be_n(d: &[u8], n: usize) -> Result<u64, String> {
    if d.len() != n {
        return Err("malformed subpacket".into());
    }
    R(d).be(n)
}

fn subpackets(area: &[u8], hashed: bool, s: &mut SigP, depth: u8) -> Result<(), String> {
    let mut r = R(area);
    while !r.0.is_empty() {
        let l0 = r.u8()? as usize;
        let len = match l0 {
            0..192 => l0,
            192..255 => ((l0 - 192) << 8) + r.u8()? as usize + 192,
            _ => r.be(4)? as usize,
        };
        let d = r.take(len)?;
        let (&t, d) = d.split_first().ok_or("empty subpacket")?;
        let (crit, t) = (t & 0x80 != 0, t & 0x7f);
        match t {
            16 if d.len() == 8 => {
                s.issuer.get_or_insert(d.try_into().unwrap_or_default());
            }
            33 if matches!((d.first(), d.len()), (Some(4), 21) | (Some(6), 33)) => {
                s.issuer_fpr.get_or_insert(Fingerprint(d[1..].to_vec()));
            }
            32 if depth == 0 && s.embedded.is_none() => {
                s.embedded = parse_sig_at(d, 1)?.map(Box::new);
            }
            _ if !hashed => {}
            2 => s.created = Some(be_n(d, 4)?),
            3 => s.sig_expires = be_n(d, 4)?,
            9 => s.key_expires = Some(be_n(d, 4)?),
            27 => s.flags = Some(d.first().copied().unwrap_or(0)),
            25 => s.primary_uid = d.first().is_some_and(|&b| b != 0),
            29 => s.reason = Some(*d.first().ok_or("malformed subpacket")?),
            // Understood, or safe to ignore when verifying: exportable, trust, revocable,
            // preferences, revocation key, key server, policy URI, signer's user ID,
            // features, signature target, intended recipient, attested certifications.
            4 | 5 | 7 | 11 | 12 | 16 | 21..=24 | 26 | 28 | 30..=35 | 37..=39 => {}
            _ if crit => s.bad_critical = Some(t),
            _ => {}
        }
    }
    Ok(())
}

/// A hash state of an algorithm signatures may use (SHA-1 only for old self-signatures).
#[derive(Clone)]
pub(super) enum H {
    S1(ring::digest::Context),
    S256(sha2::Sha256),
    // SHA-384 and SHA-512 from ring: 8% faster than sha2's on x86_64 with AVX2.
    S384(ring::digest::Context),
    S512(ring::digest::Context),
}

impl H {
    pub fn new(algo: u8) -> Option<H> {
        Some(match algo {
            2 => H::S1(ring::digest::Context::new(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            )),
            8 => H::S256(sha2::Sha256::new()),
            9 => H::S384(ring::digest::Context::new(&ring::digest::SHA384)),
            10 => H::S512(ring::digest::Context::new(&ring::digest::SHA512)),
            _ => return None,
        })
    }
    pub fn algo(&self) -> u8 {
        match self {
            H::S1(_) => 2,
            H::S256(_) => 8,
            H::S384(_) => 9,
            H::S512(_) => 10,
        }
    }
    pub fn up(&mut self, d: &[u8]) {
        match self {
            H::S1(h) => h.update(d),
            H::S256(h) => h.update(d),
            H::S384(h) => h.update(d),
            H::S512(h) => h.update(d),
        }
    }
    pub fn fin(self) -> Vec<u8> {
        match self {
            H::S1(h) => h.finish().as_ref().to_vec(),
            H::S256(h) => h.finalize().to_vec(),
            H::S384(h) => h.finish().as_ref().to_vec(),
            H::S512(h) => h.finish().as_ref().to_vec(),
        }
    }
}

impl SigP {
    /// Append the signature's hashed part and trailer, and finish (RFC 9580 §5.2.4).
    pub fn digest(&self, mut h: H) -> Vec<u8> {
        h.up(&self.hashed);
        h.up(&[self.version, 0xff]);
        h.up(&(self.hashed.len() as u32).to_be_bytes());
        h.fin()
    }
}

/// DigestInfo prefixes (RFC 8017 §9.2 note 1).
fn digest_info(hash: u8) -> &'static [u8] {
    match hash {
        2 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        8 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        9 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        _ => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// `v` left-padded with zeros to `n` octets.
fn pad(v: &[u8], n: usize) -> Option<Vec<u8>> {
    let z = n.checked_sub(v.len())?;
    let mut o = vec![0; z];
    o.extend_from_slice(v);
    Some(o)
}

/// r || s, each padded to `n` octets.
fn rs(s: &SigP, n: usize) -> Option<Vec<u8>> {
    let mut o = pad(s.mpis.first()?, n)?;
    o.extend(pad(s.mpis.get(1)?, n)?);
    Some(o)
}

/// Whether `s` over `digest` is a valid signature by `key`.
pub(super) fn verify_crypto(key: &Key, s: &SigP, digest: &[u8]) -> bool {
    if key.unusable().is_some() || digest.get(..2) != Some(&s.left16[..]) {
        return false;
    }
    let same = s.pk_algo == key.algo || (matches!(s.pk_algo, 1 | 3) && matches!(key.algo, 1 | 3));
    if !same || s.version != key.version {
        return false;
    }
    match &key.mat {
        Mat::Rsa(n, e) => {
            use rsa::BoxedUint;
            let Ok(pk) = rsa::PublicKey::new_with_size_limits(
                BoxedUint::from_be_slice_vartime(n),
                BoxedUint::from_be_slice_vartime(e),
                2048..=16384,
            ) else {
                return false;
            };
            let Some(sig) = s.mpis.first().and_then(|m| pad(m, n.len())) else {
                return false;
            };
            let scheme = rsa::Pkcs1v15Sign {
                hash_len: Some(digest.len()),
                prefix: digest_info(s.hash_algo).into(),
            };
            pk.verify(scheme, digest, &sig).is_ok()
        }
        Mat::Ed(p) => {
            let sig = if s.pk_algo == 27 {
                s.mpis.first().cloned()
            } else {
                rs(s, 32)
            };
            let pk = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, p);
            sig.is_some_and(|sig| pk.verify(digest, &sig).is_ok())
        }
        Mat::P256(p) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let (Ok(vk), Some(Ok(sig))) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(p),
                rs(s, 32).map(|b| p256::ecdsa::Signature::from_slice(&b)),
            ) else {
                return false;
            };
            vk.verify_prehash(digest, &sig).is_ok()
        }
        Mat::P384(p) => {
            use p384::ecdsa::signature::hazmat::PrehashVerifier;
            let (Ok(vk), Some(Ok(sig))) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(p),
                rs(s, 48).map(|b| p384::ecdsa::Signature::from_slice(&b)),
            ) else {
                return false;
            };
            vk.verify_prehash(digest, &sig).is_ok()
        }
        Mat::Other(_) => false,
    }
}
