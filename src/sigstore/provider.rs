//! The crypto under sigstore-verify: a verification-only provider on what verun links
//! already. Signatures over messages (certificates, SCTs, checkpoints, SETs, DSSE, RFC 3161
//! tokens) go to ring; signatures over a digest computed in verun's one streaming pass go
//! to RustCrypto (ring cannot verify a precomputed digest): p256/p384 for ECDSA, rsa for
//! PKCS #1 v1.5. Hashes are sha2's. Nothing here signs or generates keys.

use sigstore_crypto::{CryptoProvider, Error, HashContext, SigningScheme};
use sigstore_types::HashAlgorithm;

/// The provider verun installs before the first Sigstore verification.
#[derive(Debug)]
pub struct Provider;

/// The one instance ([`sigstore_crypto::install_default_provider`] takes a `'static`).
pub static PROVIDER: Provider = Provider;

/// Install [`PROVIDER`] as sigstore-crypto's default (idempotent).
pub fn install() {
    let _ = sigstore_crypto::install_default_provider(&PROVIDER);
}

struct Hasher<D>(D);

impl<D: sha2::Digest + Send + 'static> HashContext for Hasher<D> {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

fn invalid(scheme: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", scheme.name()))
}

fn unsupported(scheme: SigningScheme) -> Error {
    Error::UnsupportedAlgorithm(format!("{} is not supported by verun", scheme.name()))
}

/// ring's algorithm for a scheme verified over the message.
fn ring_algorithm(
    scheme: SigningScheme,
) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
    use ring::signature as s;
    Some(match scheme {
        SigningScheme::EcdsaP256Sha256 => &s::ECDSA_P256_SHA256_ASN1,
        SigningScheme::EcdsaP256Sha384 => &s::ECDSA_P256_SHA384_ASN1,
        SigningScheme::EcdsaP384Sha256 => &s::ECDSA_P384_SHA256_ASN1,
        SigningScheme::EcdsaP384Sha384 => &s::ECDSA_P384_SHA384_ASN1,
        SigningScheme::Ed25519 => &s::ED25519,
        SigningScheme::RsaPssSha256 => &s::RSA_PSS_2048_8192_SHA256,
        SigningScheme::RsaPssSha384 => &s::RSA_PSS_2048_8192_SHA384,
        SigningScheme::RsaPssSha512 => &s::RSA_PSS_2048_8192_SHA512,
        SigningScheme::RsaPkcs1Sha256 => &s::RSA_PKCS1_2048_8192_SHA256,
        SigningScheme::RsaPkcs1Sha384 => &s::RSA_PKCS1_2048_8192_SHA384,
        SigningScheme::RsaPkcs1Sha512 => &s::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// ASN.1 DigestInfo prefixes (RFC 8017 section 9.2, note 1).
fn digest_info(hash: HashAlgorithm) -> Option<&'static [u8]> {
    Some(match hash {
        HashAlgorithm::Sha2256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlgorithm::Sha2384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlgorithm::Sha2512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

/// PKCS #1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    fn tlv(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        if *b.first()? != tag {
            return None;
        }
        let (len, hdr): (usize, usize) = match *b.get(1)? {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 => (usize::from(*b.get(2)?), 3),
            0x82 => ((usize::from(*b.get(2)?) << 8) | usize::from(*b.get(3)?), 4),
            _ => return None,
        };
        let end = hdr.checked_add(len)?;
        Some((b.get(hdr..end)?, b.get(end..)?))
    }
    let (seq, rest) = tlv(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (n, seq) = tlv(seq, 0x02)?;
    let (e, seq) = tlv(seq, 0x02)?;
    if !seq.is_empty() {
        return None;
    }
    let strip = |v: &[u8]| {
        let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        v[i..].to_vec()
    };
    Some((strip(n), strip(e)))
}

impl CryptoProvider for Provider {
    fn hash(&self, algorithm: HashAlgorithm) -> sigstore_crypto::Result<Box<dyn HashContext>> {
        Ok(match algorithm {
            HashAlgorithm::Sha2256 => Box::new(Hasher(sha2::Sha256::default())),
            HashAlgorithm::Sha2384 => Box::new(Hasher(sha2::Sha384::default())),
            HashAlgorithm::Sha2512 => Box::new(Hasher(sha2::Sha512::default())),
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "cannot compute {other} digests"
                )));
            }
        })
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        let alg = ring_algorithm(scheme).ok_or_else(|| unsupported(scheme))?;
        ring::signature::UnparsedPublicKey::new(alg, spki_pubkey_bytes)
            .verify(data, signature)
            .map_err(|_| invalid(scheme))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let ok = match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                match (
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes),
                    p256::ecdsa::Signature::from_der(signature),
                ) {
                    (Ok(vk), Ok(sig)) => vk.verify_prehash(digest, &sig).is_ok(),
                    _ => false,
                }
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                match (
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes),
                    p384::ecdsa::Signature::from_der(signature),
                ) {
                    (Ok(vk), Ok(sig)) => vk.verify_prehash(digest, &sig).is_ok(),
                    _ => false,
                }
            }
            SigningScheme::RsaPkcs1Sha256
            | SigningScheme::RsaPkcs1Sha384
            | SigningScheme::RsaPkcs1Sha512 => {
                let hash = scheme.hash_algorithm().ok_or_else(|| unsupported(scheme))?;
                let prefix = digest_info(hash).ok_or_else(|| unsupported(scheme))?;
                let Some((n, e)) = rsa_public_key(spki_pubkey_bytes) else {
                    return Err(invalid(scheme));
                };
                let Ok(pk) = rsa::PublicKey::new_with_size_limits(
                    rsa::BoxedUint::from_be_slice_vartime(&n),
                    rsa::BoxedUint::from_be_slice_vartime(&e),
                    2048..=8192,
                ) else {
                    return Err(invalid(scheme));
                };
                let scheme_ = rsa::Pkcs1v15Sign {
                    hash_len: Some(digest.len()),
                    prefix: prefix.into(),
                };
                pk.verify(scheme_, digest, signature).is_ok()
            }
            // RSA-PSS over a digest: not linked (no publisher seen using it with Sigstore).
            _ => return Err(unsupported(scheme)),
        };
        if ok { Ok(()) } else { Err(invalid(scheme)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_sha2_family() {
        let p = Provider;
        assert_eq!(
            crate::checksums::to_hex(&p.sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(p.sha384(b"abc")[..4], [0xcb, 0x00, 0x75, 0x3f]);
        assert_eq!(p.sha512(b"abc")[..4], [0xdd, 0xaf, 0x35, 0xa1]);
    }

    #[test]
    fn prehashed_and_raw_ecdsa_agree_and_refuse_other_digests() {
        use ring::rand::SystemRandom;
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let sig = kp.sign(&rng, b"payload").unwrap();
        let pk = kp.public_key().as_ref();
        let p = Provider;
        let s = SigningScheme::EcdsaP256Sha256;
        p.verify_raw(s, pk, b"payload", sig.as_ref()).unwrap();
        assert!(p.verify_raw(s, pk, b"Payload", sig.as_ref()).is_err());
        p.verify_prehashed(s, pk, &p.sha256(b"payload"), sig.as_ref())
            .unwrap();
        assert!(
            p.verify_prehashed(s, pk, &p.sha256(b"Payload"), sig.as_ref())
                .is_err()
        );
    }
}
