//! A private Sigstore instance, made at test run time: a Fulcio-like CA (root and
//! intermediate), a CT log key, a Rekor log key with a real RFC 6962 Merkle tree and signed
//! checkpoints, and an RFC 3161 timestamp authority, plus a second ("rogue") copy of each
//! that no trusted root names. Nothing here is checked in: every key is generated when a
//! test asks for an [`Instance`].
//!
//! [`Instance::trusted_root`] writes a `trusted_root.json` in the format Sigstore clients
//! ship (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`), and
//! [`Instance::bundle`] writes a bundle (v0.1 or v0.3) for a payload, shaped like the real
//! ones under `../shared/vectors/sigstore/cases/` (`cosign-v3-blob`, `conda-dsse`):
//!
//! - a leaf certificate with the signer's SAN (email or URI), the Fulcio issuer extensions
//!   (`1.3.6.1.4.1.57264.1.8`, a DER UTF8String, and the legacy raw `.1.1`), GitHub-like
//!   claims on request (`.1.12` Source Repository URI and friends), the codeSigning EKU
//!   and an embedded SCT: RFC 6962 precertificate SCT over the TBS without the SCT
//!   extension plus the issuer key hash (the certificate is built without the SCT, its TBS
//!   signed by the CT key, then rebuilt identically with the SCT list appended last);
//! - a message signature (hashedrekord 0.0.1, ECDSA P-256 over the payload) or a DSSE
//!   in-toto envelope (dsse 0.0.1);
//! - a Rekor entry: canonicalized body, integrated time, signed entry timestamp (SET) and
//!   an inclusion proof in a tree of several leaves with a signed checkpoint (signed note);
//!   or, on request, a Rekor v2 entry (hashedrekord 0.0.2, Ed25519-signed checkpoint, no
//!   integrated time and no SET, so a timestamp authority gives the signed time);
//! - optionally an RFC 3161 timestamp over the signature, made by `openssl ts -reply` (an
//!   independent implementation) from a TSA chain made here.
//!
//! Each way a bundle can be wrong is one knob of [`BundleSpec`] (and each way a root can be
//! narrow one of [`RootSpec`]), so a failure test states the one fault it injects.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData as _, SanType,
    SerialNumber, SigningKey as _,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The bundle v0.3 media type cosign v3 writes.
pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The bundle v0.1 media type (sigstore-python 1.x, older cosign).
pub const MEDIA_TYPE_V01: &str = "application/vnd.dev.sigstore.bundle+json;version=0.1";
/// The bundle v0.2 media type (sigstore-python 2.x).
pub const MEDIA_TYPE_V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
/// The other spelling of v0.3 clients must accept.
pub const MEDIA_TYPE_V03_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// GitHub Actions' OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of the default (email) identity.
pub const DEFAULT_ISSUER: &str = "https://oidc.verun.test";
/// The default signer identity (an email SAN).
pub const DEFAULT_IDENTITY: &str = "releaser@verun.test";

const CHECKPOINT_ORIGIN: &str = "rekor.verun.test - 4242424242";
const FILLER_LEAVES: usize = 6;
const CA_NOT_BEFORE: u64 = 1_577_836_800; // 2020-01-01
const CA_NOT_AFTER: u64 = 4_102_444_800; // 2100-01-01

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A certificate time (rcgen's `OffsetDateTime`, which this crate cannot name) for a
/// Unix time.
macro_rules! at {
    ($unix:expr) => {
        rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs($unix)
    };
}

// --- the instance -----------------------------------------------------------------------

/// A certificate authority: its certificate (DER) and the issuer that signs with its key.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn spki(&self) -> Vec<u8> {
        self.issuer.key().subject_public_key_info()
    }
}

/// A Fulcio-like chain: a self-signed root and the intermediate that issues leaves.
struct Fulcio {
    root: Ca,
    intermediate: Ca,
}

/// A log's signing key (Rekor or CT) and its log ID: SHA-256 of the DER SPKI.
pub struct LogKey {
    key: KeyPair,
    key_details: &'static str,
}

impl LogKey {
    /// An ECDSA P-256 key (Rekor v1, CT logs).
    fn new() -> LogKey {
        LogKey {
            key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("log key"),
            key_details: "PKIX_ECDSA_P256_SHA_256",
        }
    }
    /// An Ed25519 key (Rekor v2 logs, as `log2025-1.rekor.sigstore.dev`).
    fn ed25519() -> LogKey {
        LogKey {
            key: KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("log key"),
            key_details: "PKIX_ED25519",
        }
    }
    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }
    /// The log ID (key ID): SHA-256 of the DER SPKI.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(self.spki()).into()
    }
    /// A signature over `msg`: ECDSA P-256 / SHA-256 (DER), or Ed25519.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).expect("log signature")
    }
}

/// A timestamp authority: a root and a leaf with the critical timeStamping EKU, their
/// key and certificates written where `openssl ts -reply` reads them.
struct Tsa {
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    config: PathBuf,
    dir: PathBuf,
}

/// A private Sigstore instance and a rogue twin of each of its parts.
pub struct Instance {
    fulcio: Fulcio,
    rogue_fulcio: Fulcio,
    ct: LogKey,
    rogue_ct: LogKey,
    rekor: LogKey,
    rogue_rekor: LogKey,
    rekor_v2: LogKey,
    cosign_key: KeyPair,
    tsa: Tsa,
    rogue_tsa: Tsa,
    serial: AtomicU64,
    dir: tempfile::TempDir,
}

impl Instance {
    /// Generates every key and certificate (ECDSA P-256 throughout).
    pub fn new() -> Instance {
        let dir = tempfile::Builder::new()
            .prefix("verun-sigstore-")
            .tempdir()
            .expect("instance tempdir");
        let tsa = make_tsa(&dir.path().join("tsa"), "verun-test-tsa");
        let rogue_tsa = make_tsa(&dir.path().join("rogue-tsa"), "verun-rogue-tsa");
        Instance {
            fulcio: make_fulcio("verun-test-fulcio"),
            rogue_fulcio: make_fulcio("verun-rogue-fulcio"),
            ct: LogKey::new(),
            rogue_ct: LogKey::new(),
            rekor: LogKey::new(),
            rogue_rekor: LogKey::new(),
            rekor_v2: LogKey::ed25519(),
            cosign_key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("cosign key"),
            tsa,
            rogue_tsa,
            serial: AtomicU64::new(1000),
            dir,
        }
    }

    /// The public key (PEM) of the instance's long-lived signing key (a cosign key pair's
    /// `cosign.pub`), which signs bundles made with [`BundleSpec::keyed`].
    pub fn cosign_public_pem(&self) -> String {
        self.cosign_key.public_key_pem()
    }

    /// The trusted root as JSON, per `spec`.
    pub fn trusted_root_json(&self, spec: &RootSpec) -> String {
        let mut root = serde_json::Map::new();
        root.insert(
            "mediaType".into(),
            json!("application/vnd.dev.sigstore.trustedroot+json;version=0.1"),
        );
        let log = |key: &LogKey, url: &str| {
            json!({
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(key.spki()),
                    "keyDetails": key.key_details,
                    "validFor": { "start": rfc3339(CA_NOT_BEFORE) }
                },
                "logId": { "keyId": B64.encode(key.log_id()) }
            })
        };
        root.insert(
            "tlogs".into(),
            if spec.tlogs {
                json!([
                    log(&self.rekor, "https://rekor.verun.test"),
                    log(&self.rekor_v2, "https://log2026-1.rekor.verun.test")
                ])
            } else {
                json!([])
            },
        );
        let mut ca_valid = json!({ "start": rfc3339(spec.ca_valid_from.unwrap_or(CA_NOT_BEFORE)) });
        if let Some(end) = spec.ca_valid_until {
            ca_valid["end"] = json!(rfc3339(end));
        }
        root.insert(
            "certificateAuthorities".into(),
            json!([{
                "subject": { "organization": "verun.test", "commonName": "verun-test-fulcio" },
                "uri": "https://fulcio.verun.test",
                "certChain": { "certificates": [
                    { "rawBytes": B64.encode(&self.fulcio.intermediate.der) },
                    { "rawBytes": B64.encode(&self.fulcio.root.der) }
                ] },
                "validFor": ca_valid
            }]),
        );
        root.insert(
            "ctlogs".into(),
            if spec.ctlogs {
                json!([log(&self.ct, "https://ctfe.verun.test/2026")])
            } else {
                json!([])
            },
        );
        root.insert(
            "timestampAuthorities".into(),
            if spec.tsas {
                json!([{
                    "subject": { "organization": "verun.test", "commonName": "verun-test-tsa" },
                    "uri": "https://tsa.verun.test/api/v1/timestamp",
                    "certChain": { "certificates": [
                        { "rawBytes": B64.encode(&self.tsa.leaf_der) },
                        { "rawBytes": B64.encode(&self.tsa.root_der) }
                    ] },
                    "validFor": { "start": rfc3339(CA_NOT_BEFORE) }
                }])
            } else {
                json!([])
            },
        );
        serde_json::to_string_pretty(&Value::Object(root)).expect("root JSON")
    }

    /// Writes [`trusted_root_json`](Self::trusted_root_json) to `path` and returns it.
    pub fn write_trusted_root(&self, path: &Path, spec: &RootSpec) -> PathBuf {
        fs::write(path, self.trusted_root_json(spec)).expect("write trusted root");
        path.to_path_buf()
    }

    /// A bundle (JSON) for `payload`, per `spec`.
    pub fn bundle(&self, payload: &[u8], spec: &BundleSpec) -> String {
        let payload_sha256: [u8; 32] = Sha256::digest(payload).into();
        let ephemeral;
        let signer = if spec.keyed {
            &self.cosign_key
        } else {
            ephemeral = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("signer key");
            &ephemeral
        };
        let (cert_der, cert_pem) = self.leaf(signer, spec);
        // What Rekor logs as the verifier: the certificate, or a keyed bundle's public key.
        let cert_b64_pem = if spec.keyed {
            B64.encode(self.cosign_key.public_key_pem().as_bytes())
        } else {
            B64.encode(cert_pem.as_bytes())
        };

        // The signed content and the Rekor body that logs it.
        let (content_key, content, signature, body) = match &spec.dsse {
            None => {
                let signature = signer.sign(payload).expect("sign payload");
                let content = json!({
                    "messageDigest": { "algorithm": "SHA2_256", "digest": B64.encode(payload_sha256) },
                    "signature": B64.encode(&signature)
                });
                let body = json!({
                    "apiVersion": "0.0.1",
                    "kind": "hashedrekord",
                    "spec": {
                        "data": { "hash": { "algorithm": "sha256", "value": hex(&payload_sha256) } },
                        "signature": {
                            "content": B64.encode(&signature),
                            "publicKey": { "content": cert_b64_pem }
                        }
                    }
                });
                ("messageSignature", content, signature, body)
            }
            Some(dsse) => {
                let subject = dsse
                    .subject_sha256
                    .clone()
                    .unwrap_or_else(|| hex(&payload_sha256));
                let digest = if dsse.sha512_only {
                    json!({ "sha512": hex(&sha2::Sha512::digest(payload)) })
                } else {
                    json!({ "sha256": subject })
                };
                let statement = json!({
                    "_type": "https://in-toto.io/Statement/v1",
                    "subject": [{ "name": dsse.subject_name, "digest": digest }],
                    "predicateType": dsse.predicate_type,
                    "predicate": { "builder": "verun test instance" }
                });
                let statement = serde_json::to_vec(&statement).expect("statement JSON");
                let payload_type = "application/vnd.in-toto+json";
                let pae = dsse_pae(payload_type, &statement);
                let signature = signer.sign(&pae).expect("sign PAE");
                let mut signatures = vec![json!({ "sig": B64.encode(&signature) })];
                let mut logged =
                    vec![json!({ "signature": B64.encode(&signature), "verifier": cert_b64_pem })];
                if dsse.two_signatures {
                    let second = signer.sign(&pae).expect("sign PAE again");
                    signatures.push(json!({ "sig": B64.encode(&second) }));
                    logged.push(
                        json!({ "signature": B64.encode(&second), "verifier": cert_b64_pem }),
                    );
                }
                let envelope = json!({
                    "payload": B64.encode(&statement),
                    "payloadType": payload_type,
                    "signatures": signatures
                });
                let envelope_hash = Sha256::digest(serde_json::to_vec(&envelope).expect("JSON"));
                let body = json!({
                    "apiVersion": "0.0.1",
                    "kind": "dsse",
                    "spec": {
                        "envelopeHash": { "algorithm": "sha256", "value": hex(&envelope_hash) },
                        "payloadHash": { "algorithm": "sha256", "value": hex(&Sha256::digest(&statement)) },
                        "signatures": logged
                    }
                });
                ("dsseEnvelope", envelope, signature, body)
            }
        };
        let body = if spec.rekor_v2 {
            assert!(
                spec.dsse.is_none(),
                "the fixture logs only message signatures in Rekor v2"
            );
            json!({
                "apiVersion": "0.0.2",
                "kind": "hashedrekord",
                "spec": { "hashedRekordV002": {
                    "data": { "algorithm": "SHA2_256", "digest": B64.encode(payload_sha256) },
                    "signature": {
                        "content": B64.encode(&signature),
                        "verifier": {
                            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                            "x509Certificate": { "rawBytes": B64.encode(&cert_der) }
                        }
                    }
                } }
            })
        } else {
            body
        };
        let kind = if spec.dsse.is_some() {
            "dsse"
        } else {
            "hashedrekord"
        };
        // serde_json's maps are sorted, so this is the canonical (RFC 8785) form Rekor logs.
        let body = serde_json::to_vec(&body).expect("body JSON");

        let mut material = serde_json::Map::new();
        let cert = json!({ "rawBytes": B64.encode(&cert_der) });
        match spec.version {
            _ if spec.keyed => {
                let hint = B64.encode(Sha256::digest(self.cosign_key.subject_public_key_info()));
                material.insert("publicKey".into(), json!({ "hint": hint }));
            }
            BundleVersion::V01 | BundleVersion::V02 => {
                material.insert(
                    "x509CertificateChain".into(),
                    json!({ "certificates": [cert] }),
                );
            }
            BundleVersion::V03 => {
                material.insert("certificate".into(), cert);
            }
        }
        let entries = if spec.tlog {
            vec![self.tlog_entry(&body, kind, spec)]
        } else {
            Vec::new()
        };
        material.insert("tlogEntries".into(), Value::Array(entries));
        let mut timestamps = serde_json::Map::new();
        if spec.tsa != TsaToken::None {
            let token = match spec.tsa {
                TsaToken::Trusted => self.timestamp(&self.tsa, &signature),
                TsaToken::Untrusted => self.timestamp(&self.rogue_tsa, &signature),
                TsaToken::OverOtherSignature => {
                    self.timestamp(&self.tsa, b"another signature, not this bundle's")
                }
                TsaToken::None => unreachable!(),
            };
            timestamps.insert(
                "rfc3161Timestamps".into(),
                json!([{ "signedTimestamp": B64.encode(token) }]),
            );
        }
        material.insert(
            "timestampVerificationData".into(),
            Value::Object(timestamps),
        );

        let bundle = json!({
            "mediaType": spec.media_type.unwrap_or(match spec.version {
                BundleVersion::V01 => MEDIA_TYPE_V01,
                BundleVersion::V02 => MEDIA_TYPE_V02,
                BundleVersion::V03 => MEDIA_TYPE_V03,
            }),
            "verificationMaterial": Value::Object(material),
            content_key: content
        });
        serde_json::to_string_pretty(&bundle).expect("bundle JSON")
    }

    /// Writes [`bundle`](Self::bundle) to `path` and returns it.
    pub fn write_bundle(&self, path: &Path, payload: &[u8], spec: &BundleSpec) -> PathBuf {
        fs::write(path, self.bundle(payload, spec)).expect("write bundle");
        path.to_path_buf()
    }

    /// The signer's leaf certificate (DER and PEM) with its embedded SCT.
    fn leaf(&self, signer: &KeyPair, spec: &BundleSpec) -> (Vec<u8>, String) {
        let fulcio = if spec.rogue_ca {
            &self.rogue_fulcio
        } else {
            &self.fulcio
        };
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.serial_number = Some(SerialNumber::from(
            self.serial.fetch_add(1, Ordering::Relaxed),
        ));
        params.not_before = at!(spec.cert_not_before);
        params.not_after = at!(spec.cert_not_after);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        params.subject_alt_names = vec![match &spec.identity {
            San::Email(email) => SanType::Rfc822Name(email.as_str().try_into().expect("IA5")),
            San::Uri(uri) => SanType::URI(uri.as_str().try_into().expect("IA5")),
        }];
        // Fulcio's issuer: legacy raw bytes (.1.1) and the DER UTF8String (.1.8).
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &fulcio_oid(1),
                spec.issuer.as_bytes().to_vec(),
            ));
        if !spec.legacy_issuer_only {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &fulcio_oid(8),
                    der_utf8(&spec.issuer),
                ));
        }
        if let Some(repo) = &spec.github_repo {
            let source = format!("https://github.com/{repo}");
            let signer_uri = spec.identity.as_str().to_string();
            for (arc, value) in [
                (9, signer_uri.as_str()),                         // Build Signer URI
                (10, "0123456789abcdef0123456789abcdef01234567"), // Build Signer Digest
                (11, "github-hosted"),                            // Runner Environment
                (12, source.as_str()),                            // Source Repository URI
                (13, "0123456789abcdef0123456789abcdef01234567"), // Source Repository Digest
                (14, "refs/tags/v1.0.0"),                         // Source Repository Ref
                (18, signer_uri.as_str()),                        // Build Config URI
                (20, "push"),                                     // Build Trigger
            ] {
                params
                    .custom_extensions
                    .push(CustomExtension::from_oid_content(
                        &fulcio_oid(arc),
                        der_utf8(value),
                    ));
            }
        }

        // 1. The certificate without its SCT: its TBS is what the CT log signs.
        let precert = params
            .signed_by(signer, &fulcio.intermediate.issuer)
            .expect("sign precertificate");
        let tbs = first_element(precert.der());
        let issuer_key_hash: [u8; 32] = Sha256::digest(fulcio.intermediate.spki()).into();

        // 2. The SCT, then the same certificate with the SCT list appended last.
        if spec.sct != SctFault::Absent {
            let log = if spec.sct == SctFault::UnknownLog {
                &self.rogue_ct
            } else {
                &self.ct
            };
            let timestamp_ms = spec.cert_not_before * 1000;
            let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
            signed.extend_from_slice(&timestamp_ms.to_be_bytes());
            signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
            signed.extend_from_slice(&issuer_key_hash);
            signed.extend_from_slice(&u24(tbs.len()));
            signed.extend_from_slice(tbs);
            signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
            let mut sig = log.sign(&signed);
            if spec.sct == SctFault::FlippedSignature {
                let last = sig.len() - 1;
                sig[last] ^= 0x01;
            }
            let mut sct = vec![0u8]; // v1
            sct.extend_from_slice(&log.log_id());
            sct.extend_from_slice(&timestamp_ms.to_be_bytes());
            sct.extend_from_slice(&0u16.to_be_bytes());
            sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
            sct.extend_from_slice(&(sig.len() as u16).to_be_bytes());
            sct.extend_from_slice(&sig);
            let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
            list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
            list.extend_from_slice(&sct);
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                    der(0x04, &list),
                ));
        }
        let cert = params
            .signed_by(signer, &fulcio.intermediate.issuer)
            .expect("sign certificate");
        (cert.der().to_vec(), cert.pem())
    }

    /// A Rekor v1 entry for `body` in a tree of [`FILLER_LEAVES`] other entries.
    fn tlog_entry(&self, body: &[u8], kind: &str, spec: &BundleSpec) -> Value {
        let index = (spec.signed_at % 5) as usize + 1; // somewhere inside the tree
        let mut leaves: Vec<Vec<u8>> = (0..FILLER_LEAVES)
            .map(|i| format!("another entry {i} at {}", spec.signed_at).into_bytes())
            .collect();
        leaves.insert(index, body.to_vec());
        let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let root = merkle_root(&hashes);
        let mut path = inclusion_path(index, &hashes);
        if spec.proof == ProofFault::FlippedHash {
            path[0][7] ^= 0x40;
        }
        let log = if spec.rekor_v2 {
            &self.rekor_v2
        } else {
            &self.rekor
        };
        let log_id = log.log_id();

        let mut entry = json!({
            "logIndex": index.to_string(),
            "logId": { "keyId": B64.encode(log_id) },
            "kindVersion": { "kind": kind, "version": if spec.rekor_v2 { "0.0.2" } else { "0.0.1" } },
            "canonicalizedBody": B64.encode(body)
        });
        // Rekor v2 has no integrated time and no SET: the signed time is a TSA's.
        if !spec.rekor_v2 {
            entry["integratedTime"] = json!(spec.signed_at.to_string());
        }
        if spec.set && !spec.rekor_v2 {
            // RFC 8785 canonical JSON: keys sorted, no white space.
            let set_payload = format!(
                "{{\"body\":\"{}\",\"integratedTime\":{},\"logID\":\"{}\",\"logIndex\":{}}}",
                B64.encode(body),
                spec.signed_at,
                hex(&log_id),
                index
            );
            entry["inclusionPromise"] = json!({ "signedEntryTimestamp": B64.encode(self.rekor.sign(set_payload.as_bytes())) });
        }
        if spec.proof != ProofFault::Absent {
            let checkpoint_key = if spec.checkpoint_by_rogue_key {
                &self.rogue_rekor
            } else {
                log
            };
            let origin = if spec.rekor_v2 {
                "log2026-1.rekor.verun.test"
            } else {
                CHECKPOINT_ORIGIN
            };
            entry["inclusionProof"] = json!({
                "logIndex": index.to_string(),
                "rootHash": B64.encode(root),
                "treeSize": leaves.len().to_string(),
                "hashes": path.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
                "checkpoint": { "envelope": checkpoint(checkpoint_key, origin, leaves.len(), &root) }
            });
        }
        entry
    }

    /// An RFC 3161 TimeStampResp over SHA-256(`signature`) from `tsa`, by `openssl ts`. As
    /// in cosign's bundles the token embeds no certificate (no `-cert` in the query): the
    /// chain comes from the trusted root.
    fn timestamp(&self, tsa: &Tsa, signature: &[u8]) -> Vec<u8> {
        let n = self.serial.fetch_add(1, Ordering::Relaxed);
        let query = tsa.dir.join(format!("q{n}.tsq"));
        let reply = tsa.dir.join(format!("r{n}.tsr"));
        openssl(&[
            "ts",
            "-query",
            "-digest",
            &hex(&Sha256::digest(signature)),
            "-sha256",
            "-no_nonce",
            "-out",
            query.to_str().unwrap(),
        ]);
        openssl(&[
            "ts",
            "-reply",
            "-config",
            tsa.config.to_str().unwrap(),
            "-section",
            "tsa_config",
            "-queryfile",
            query.to_str().unwrap(),
            "-out",
            reply.to_str().unwrap(),
        ]);
        fs::read(&reply).expect("read timestamp reply")
    }

    /// An RFC 3161 timestamp response over SHA-256(`signature`) from the trusted TSA.
    pub fn trusted_timestamp(&self, signature: &[u8]) -> Vec<u8> {
        self.timestamp(&self.tsa, signature)
    }

    /// The trusted TSA's root and leaf certificates (PEM files), for `openssl ts -verify`.
    pub fn tsa_pem_files(&self) -> (PathBuf, PathBuf) {
        (self.tsa.dir.join("root.pem"), self.tsa.dir.join("tsa.pem"))
    }

    /// The instance's scratch directory (keys for openssl live below it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

// --- knobs --------------------------------------------------------------------------------

/// What the trusted root names.
#[derive(Clone, Debug)]
pub struct RootSpec {
    /// The Rekor log (`tlogs`).
    pub tlogs: bool,
    /// The CT log (`ctlogs`).
    pub ctlogs: bool,
    /// The timestamp authority (`timestampAuthorities`).
    pub tsas: bool,
    /// Start of the Fulcio CA's `validFor` (default 2020-01-01).
    pub ca_valid_from: Option<u64>,
    /// End of the Fulcio CA's `validFor` (default: open).
    pub ca_valid_until: Option<u64>,
}

impl RootSpec {
    /// The public-good shape: CA, Rekor log and CT log, no TSA.
    pub fn public_good() -> RootSpec {
        RootSpec {
            tlogs: true,
            ctlogs: true,
            tsas: false,
            ca_valid_from: None,
            ca_valid_until: None,
        }
    }
    /// GitHub's private-repository shape: CA and TSA, no Rekor log, no CT log.
    pub fn tsa_only() -> RootSpec {
        RootSpec {
            tlogs: false,
            ctlogs: false,
            tsas: true,
            ca_valid_from: None,
            ca_valid_until: None,
        }
    }
}

/// The bundle format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleVersion {
    /// `x509CertificateChain`; a SET suffices.
    V01,
    /// `x509CertificateChain`; an inclusion proof is required.
    V02,
    /// `certificate` (the leaf alone).
    V03,
}

/// The certificate's SAN.
#[derive(Clone, Debug)]
pub enum San {
    Email(String),
    Uri(String),
}

impl San {
    pub fn as_str(&self) -> &str {
        match self {
            San::Email(s) | San::Uri(s) => s,
        }
    }
}

/// The embedded SCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SctFault {
    Valid,
    /// One byte of the CT log's signature flipped.
    FlippedSignature,
    /// Signed by a CT log the root does not name.
    UnknownLog,
    /// No SCT extension at all.
    Absent,
}

/// The Rekor entry's inclusion proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProofFault {
    Valid,
    /// One bit of the first proof hash flipped.
    FlippedHash,
    /// No inclusion proof (SET only).
    Absent,
}

/// The bundle's RFC 3161 timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsaToken {
    None,
    /// From the instance's TSA, over this bundle's signature.
    Trusted,
    /// From a TSA the root does not name.
    Untrusted,
    /// From the trusted TSA, over some other signature.
    OverOtherSignature,
}

/// A DSSE in-toto envelope instead of a message signature.
#[derive(Clone, Debug)]
pub struct DsseSpec {
    /// The subject's SHA-256 (hex); `None`: the payload's.
    pub subject_sha256: Option<String>,
    pub subject_name: String,
    pub predicate_type: String,
    /// Two signatures in the envelope (both valid, both logged).
    pub two_signatures: bool,
    /// The subject names the payload's SHA-512 only (as npm provenance does).
    pub sha512_only: bool,
}

impl Default for DsseSpec {
    fn default() -> DsseSpec {
        DsseSpec {
            subject_sha256: None,
            subject_name: "payload".into(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            two_signatures: false,
            sha512_only: false,
        }
    }
}

/// Everything about one bundle; [`BundleSpec::new`] is the happy path, each field a fault.
#[derive(Clone, Debug)]
pub struct BundleSpec {
    pub version: BundleVersion,
    /// Another `mediaType` than `version`'s usual spelling.
    pub media_type: Option<&'static str>,
    pub identity: San,
    pub issuer: String,
    /// GitHub-like claims for `OWNER/NAME` (Source Repository URI etc.).
    pub github_repo: Option<String>,
    /// Only the legacy issuer extension (`.1.1`), as Fulcio wrote before 2023.
    pub legacy_issuer_only: bool,
    /// The log's integrated time (Unix seconds).
    pub signed_at: u64,
    pub cert_not_before: u64,
    pub cert_not_after: u64,
    /// The leaf is issued by a CA that no trusted root names.
    pub rogue_ca: bool,
    pub sct: SctFault,
    /// A Rekor entry at all.
    pub tlog: bool,
    /// The entry's signed entry timestamp.
    pub set: bool,
    pub proof: ProofFault,
    /// The checkpoint is signed by a Rekor key the root does not name.
    pub checkpoint_by_rogue_key: bool,
    /// Logged in a Rekor v2 log (hashedrekord 0.0.2, Ed25519 checkpoint, no integrated
    /// time, no SET): the signed time must come from `tsa`.
    pub rekor_v2: bool,
    pub tsa: TsaToken,
    /// `None`: a message signature (hashedrekord).
    pub dsse: Option<DsseSpec>,
    /// Signed by the instance's cosign key ([`Instance::cosign_public_pem`]): no
    /// certificate, `verificationMaterial.publicKey` instead.
    pub keyed: bool,
}

impl BundleSpec {
    /// A bundle v0.3 signed two minutes ago by [`DEFAULT_IDENTITY`], with a certificate
    /// valid for ten minutes around that time (as Fulcio's are), SCT, SET and proof.
    pub fn new() -> BundleSpec {
        BundleSpec::signed_at(now() - 120)
    }

    /// [`new`](Self::new), signed at `time` (certificate valid from 2 minutes before).
    pub fn signed_at(time: u64) -> BundleSpec {
        BundleSpec {
            version: BundleVersion::V03,
            media_type: None,
            identity: San::Email(DEFAULT_IDENTITY.into()),
            issuer: DEFAULT_ISSUER.into(),
            github_repo: None,
            legacy_issuer_only: false,
            signed_at: time,
            cert_not_before: time - 120,
            cert_not_after: time + 480,
            rogue_ca: false,
            sct: SctFault::Valid,
            tlog: true,
            set: true,
            proof: ProofFault::Valid,
            checkpoint_by_rogue_key: false,
            rekor_v2: false,
            tsa: TsaToken::None,
            dsse: None,
            keyed: false,
        }
    }

    /// A GitHub Actions workflow of `repo` (`OWNER/NAME`) signed it.
    pub fn github(mut self, repo: &str) -> BundleSpec {
        self.identity = San::Uri(format!(
            "https://github.com/{repo}/.github/workflows/release.yml@refs/tags/v1.0.0"
        ));
        self.issuer = GITHUB_ISSUER.into();
        self.github_repo = Some(repo.into());
        self
    }

    /// A reusable workflow of `workflow_repo` signed it, called from (built in)
    /// `caller_repo`: the SAN names the workflow, the Source Repository URI the caller.
    pub fn github_reusable(mut self, caller_repo: &str, workflow_repo: &str) -> BundleSpec {
        self = self.github(caller_repo);
        self.identity = San::Uri(format!(
            "https://github.com/{workflow_repo}/.github/workflows/attest.yml@refs/heads/main"
        ));
        self
    }

    /// A DSSE envelope naming the payload's SHA-256.
    pub fn dsse(mut self) -> BundleSpec {
        self.dsse = Some(DsseSpec::default());
        self
    }

    /// Logged in Rekor v2 with a trusted timestamp taken now (cosign v3's default shape).
    pub fn rekor_v2(mut self) -> BundleSpec {
        let t = now();
        self.cert_not_before = t - 300;
        self.cert_not_after = t + 300;
        self.signed_at = t - 60;
        self.rekor_v2 = true;
        self.set = false;
        self.tsa = TsaToken::Trusted;
        self
    }

    /// GitHub's private-repository shape: no log entry, no SCT, one RFC 3161 timestamp
    /// (taken now, so the certificate is valid around now).
    pub fn tsa_only(mut self, token: TsaToken) -> BundleSpec {
        let t = now();
        self.cert_not_before = t - 300;
        self.cert_not_after = t + 300;
        self.signed_at = t - 60;
        self.tlog = false;
        self.set = false;
        self.proof = ProofFault::Absent;
        self.sct = SctFault::Absent;
        self.tsa = token;
        self
    }
}

impl Default for BundleSpec {
    fn default() -> BundleSpec {
        BundleSpec::new()
    }
}

// --- construction helpers -----------------------------------------------------------------

fn make_fulcio(name: &str) -> Fulcio {
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("root key");
    let mut root_params = ca_params(&format!("{name}-root"), BasicConstraints::Unconstrained);
    root_params.extended_key_usages = vec![];
    let root_cert = root_params.self_signed(&root_key).expect("root cert");
    let root = Ca {
        der: root_cert.der().to_vec(),
        issuer: Issuer::new(root_params, root_key),
    };
    let int_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("intermediate key");
    let mut int_params = ca_params(
        &format!("{name}-intermediate"),
        BasicConstraints::Constrained(0),
    );
    int_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    int_params.use_authority_key_identifier_extension = true;
    let int_cert = int_params
        .signed_by(&int_key, &root.issuer)
        .expect("intermediate cert");
    let intermediate = Ca {
        der: int_cert.der().to_vec(),
        issuer: Issuer::new(int_params, int_key),
    };
    Fulcio { root, intermediate }
}

fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "verun.test");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at!(CA_NOT_BEFORE);
    params.not_after = at!(CA_NOT_AFTER);
    params
}

fn make_tsa(dir: &Path, name: &str) -> Tsa {
    fs::create_dir_all(dir).expect("TSA dir");
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("TSA root key");
    let root_params = ca_params(&format!("{name}-root"), BasicConstraints::Unconstrained);
    let root_cert = root_params.self_signed(&root_key).expect("TSA root");
    let root_issuer = Issuer::new(root_params, root_key);

    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("TSA key");
    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = DistinguishedName::new();
    leaf_params
        .distinguished_name
        .push(DnType::OrganizationName, "verun.test");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, name);
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.not_before = at!(CA_NOT_BEFORE);
    leaf_params.not_after = at!(CA_NOT_AFTER);
    leaf_params.use_authority_key_identifier_extension = true;
    // RFC 3161 §2.3: exactly timeStamping, critical (rcgen writes EKUs non-critical).
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        der(0x30, &der_oid(&[1, 3, 6, 1, 5, 5, 7, 3, 8])),
    );
    eku.set_criticality(true);
    leaf_params.custom_extensions.push(eku);
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &root_issuer)
        .expect("TSA leaf");

    fs::write(dir.join("tsa.key"), leaf_key.serialize_pem()).expect("TSA key file");
    fs::write(dir.join("tsa.pem"), leaf_cert.pem()).expect("TSA cert file");
    fs::write(dir.join("root.pem"), root_cert.pem()).expect("TSA root file");
    fs::write(dir.join("serial"), "01\n").expect("TSA serial file");
    let config = dir.join("openssl.cnf");
    let d = dir.display();
    fs::write(
        &config,
        format!(
            "[ tsa_config ]\n\
             serial = {d}/serial\n\
             crypto_device = builtin\n\
             signer_cert = {d}/tsa.pem\n\
             signer_key = {d}/tsa.key\n\
             signer_digest = sha256\n\
             default_policy = 1.3.6.1.4.1.57264.2\n\
             digests = sha256, sha384, sha512\n\
             accuracy = secs:1\n\
             ordering = no\n\
             tsa_name = no\n\
             ess_cert_id_chain = no\n\
             ess_cert_id_alg = sha256\n"
        ),
    )
    .expect("TSA config");
    Tsa {
        root_der: root_cert.der().to_vec(),
        leaf_der: leaf_cert.der().to_vec(),
        config,
        dir: dir.to_path_buf(),
    }
}

/// Whether `openssl` (the TSA's token maker) runs here.
pub fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (install it: the TSA tokens come from `openssl ts`)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signed note: origin, tree size, base64 root hash; then `— NAME base64(hint || sig)`
/// where the hint is the first four bytes of the key's log ID.
fn checkpoint(key: &LogKey, origin: &str, tree_size: usize, root: &[u8; 32]) -> String {
    let body = format!("{origin}\n{tree_size}\n{}\n", B64.encode(root));
    let mut sig = key.log_id()[..4].to_vec();
    sig.extend_from_slice(&key.sign(body.as_bytes()));
    let name = origin.split(' ').next().unwrap();
    format!("{body}\n\u{2014} {name} {}\n", B64.encode(sig))
}

/// RFC 6962 leaf hash: SHA-256(0x00 || leaf).
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 §2.1 MTH over leaf hashes.
pub fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]), leaf to root.
pub fn inclusion_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = inclusion_path(m, &leaves[..k]);
        path.push(merkle_root(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_path(m - k, &leaves[k..]);
        path.push(merkle_root(&leaves[..k]));
        path
    }
}

/// DSSE pre-authentication encoding.
fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut pae = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(payload);
    pae
}

fn fulcio_oid(arc: u64) -> Vec<u64> {
    vec![1, 3, 6, 1, 4, 1, 57264, 1, arc]
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn u24(n: usize) -> [u8; 3] {
    assert!(n < 1 << 24);
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// A DER TLV with a definite length.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn der_utf8(s: &str) -> Vec<u8> {
    der(0x0c, s.as_bytes())
}

fn der_oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend_from_slice(&chunk);
    }
    der(0x06, &body)
}

/// The first element (whole TLV) inside the outer SEQUENCE of `der`: a certificate's TBS.
fn first_element(der: &[u8]) -> &[u8] {
    let (_, inner) = tlv(der);
    let (len, _) = tlv(inner);
    &inner[..len]
}

/// (total TLV length, content) of the TLV at the start of `input`.
fn tlv(input: &[u8]) -> (usize, &[u8]) {
    let first = input[1] as usize;
    let (header, len) = if first < 0x80 {
        (2, first)
    } else {
        let n = first & 0x7f;
        let len = input[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (2 + n, len)
    };
    (header + len, &input[header..header + len])
}

/// RFC 3339 (UTC, seconds) for a Unix time (verun's own formatter; the trusted root it
/// goes into is parsed by sigstore-verify, not by verun's code).
pub fn rfc3339(unix: u64) -> String {
    verun::time::rfc3339_utc(unix)
}
