//! What `sigstore_vectors.rs`, `sigstore_cli.rs` and `sigstore_conformance.rs` share: the
//! third-party Sigstore vectors in `../shared/vectors/sigstore/` (next to the repository,
//! never copied into it; their `README.md` says where each file comes from) and
//! `cases.json`, the table of verifications to run with the expected result of each.
//!
//! Everything asserted about a bundle (its signing time, its DSSE statement, a key's
//! fingerprint) is read here from the vector files themselves, independently of verun.
//!
//! Needs `mod common;` next to `mod sigstore_support;` in the test crate.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::common::*;

/// GitHub Actions' OIDC issuer.
pub const GHA_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Case #4 of the vectors: a GitHub artifact attestation of `malancas/attest-demo`, signed
/// by the reusable workflow of `github/artifact-attestations-workflows` (public-good).
pub mod reusable {
    /// The bundle, relative to the vectors folder.
    pub const BUNDLE: &str =
        "cases/github-attestation-reusable-workflow/reusable-workflow-attestation.sigstore.json";
    /// The attested artifact.
    pub const ARTIFACT: &str =
        "cases/github-attestation-reusable-workflow/reusable-workflow-artifact";
    /// The certificate's SAN: the reusable workflow.
    pub const SAN: &str = "https://github.com/github/artifact-attestations-workflows/.github/workflows/attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d";
    /// Source Repository URI (1.3.6.1.4.1.57264.1.12): the calling repository.
    pub const REPOSITORY: &str = "https://github.com/malancas/attest-demo";
    /// Build Signer URI (1.3.6.1.4.1.57264.1.9).
    pub const WORKFLOW_REF: &str = SAN;
    /// Source Repository Digest (1.3.6.1.4.1.57264.1.13).
    pub const COMMIT: &str = "95baf27389e83e6a5c48f42e190d48d7abcea19e";
    /// The repository `--github-repo` must name.
    pub const REPO: &str = "malancas/attest-demo";
    /// The reusable workflow's own repository: only in the SAN.
    pub const WORKFLOW_REPO: &str = "github/artifact-attestations-workflows";
    /// The statement's predicate type.
    pub const PREDICATE: &str = "https://slsa.dev/provenance/v1";
}

/// Case #18: a private repository's attestation, from GitHub's own Sigstore instance.
pub mod private {
    /// The bundle (one JSON object on one line).
    pub const BUNDLE: &str = "cases/github-instance-private-attestation/github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl";
    /// The attested wheel.
    pub const ARTIFACT: &str =
        "cases/github-instance-private-attestation/github_provenance_demo-0.0.12-py3-none-any.whl";
    /// The certificate's SAN.
    pub const SAN: &str =
        "https://github.com/actions/attest-demo/.github/workflows/build-python.yml@refs/heads/main";
    /// The repository that built it (Source Repository URI).
    pub const REPO: &str = "actions/attest-demo";
}

/// Case #2: cosign v3 `sign-blob` of a small text file (production, with a TSA timestamp).
pub mod cosign {
    /// The bundle.
    pub const BUNDLE: &str = "cases/cosign-v3-blob/cosign-v3-blob.sigstore.json";
    /// The signed text file.
    pub const ARTIFACT: &str = "cases/cosign-v3-blob/cosign-v3-blob.txt";
    /// The certificate's SAN.
    pub const SAN: &str = "w.vollprecht@gmail.com";
    /// Its OIDC issuer.
    pub const ISSUER: &str = "https://github.com/login/oauth";
}

/// Case #1: a PyPI wheel and its v0.2 bundle, named `.sigstore` (production).
pub mod wheel {
    /// The bundle.
    pub const BUNDLE: &str = "cases/rfc8785-wheel-v0.2/bundle_v3_github.whl.sigstore";
    /// The wheel.
    pub const ARTIFACT: &str = "cases/rfc8785-wheel-v0.2/bundle_v3_github.whl";
    /// The same wheel with one byte changed (made here).
    pub const TAMPERED: &str = "made-here/rfc8785-wheel-one-byte-changed/bundle_v3_github.whl";
    /// The certificate's SAN.
    pub const SAN: &str =
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
}

/// Case #9: a public-key bundle (npm's publish attestation) and npm's PEM key.
pub mod npm_key {
    /// The bundle.
    pub const BUNDLE: &str = "cases/npm-publish-public-key-sha512/bundle-publish.json";
    /// The tarball.
    pub const ARTIFACT: &str = "cases/npm-publish-public-key-sha512/sigstore-1.3.0.tgz";
    /// npm's publish key (PEM SPKI).
    pub const KEY: &str = "cases/npm-publish-public-key-sha512/publish_key.pub";
}

/// Cases #11 and #12: two staging bundles by the same signer, 67 seconds apart.
pub mod staging_pair {
    /// The older one (integrated 1712085549).
    pub const OLDER_BUNDLE: &str = "cases/staging-v0.3/bundle_v3.txt.sigstore";
    /// Its artifact.
    pub const OLDER_ARTIFACT: &str = "cases/staging-v0.3/bundle_v3.txt";
    /// The newer one (integrated 1712085616).
    pub const NEWER_BUNDLE: &str = "cases/staging-v0.3-alt-mediatype/bundle_v3_alt.txt.sigstore";
    /// Its artifact.
    pub const NEWER_ARTIFACT: &str = "cases/staging-v0.3-alt-mediatype/bundle_v3_alt.txt";
    /// Their SAN.
    pub const SAN: &str = "william@yossarian.net";
    /// Their issuer.
    pub const ISSUER: &str = "https://github.com/login/oauth";
    /// Their root.
    pub const ROOT: &str = "trusted_root.staging.json";
}

/// The production trusted root (the one verun compiles in).
pub const PRODUCTION_ROOT: &str = "trusted_root.production.json";

/// The vectors folder, or `None` after saying SKIPPED (a failure under
/// `VERUN_REQUIRE_VECTORS=1`) when it is absent.
pub fn vectors(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/sigstore");
    if dir.join("cases.json").is_file() && dir.join(PRODUCTION_ROOT).is_file() {
        Some(dir)
    } else {
        skipped(
            test,
            &format!(
                "third-party Sigstore vectors not found at {} (they live next to the checkout, never in it)",
                dir.display()
            ),
            "VERUN_REQUIRE_VECTORS",
            Need::Environment,
        );
        None
    }
}

/// One verification of `cases.json`.
#[derive(Clone, Debug)]
pub struct Case {
    /// 1-based position in `cases.json` (the README's `#`).
    pub number: usize,
    /// The bundle, relative to the vectors folder.
    pub bundle: String,
    /// A path relative to the vectors folder, or `sha256:HEX` / `sha512:HEX`.
    pub artifact_or_digest: String,
    /// The SAN to require (keyless).
    pub identity: Option<String>,
    /// The issuer to require (keyless).
    pub issuer: Option<String>,
    /// The PEM key (public-key bundles).
    pub key: Option<String>,
    /// The trusted root file.
    pub trusted_root: String,
    /// `expect == "ok"`.
    pub ok: bool,
    /// Whether the case was made here.
    pub made_here: bool,
    /// The README's note.
    pub note: String,
}

impl Case {
    /// Whether the case names a digest rather than a file.
    pub fn is_digest(&self) -> bool {
        self.artifact_or_digest.starts_with("sha256:")
            || self.artifact_or_digest.starts_with("sha512:")
    }

    /// The `FILE` argument of `verun verify`: an absolute path, or the digest.
    pub fn file_arg(&self, dir: &Path) -> String {
        if self.is_digest() {
            self.artifact_or_digest.clone()
        } else {
            dir.join(&self.artifact_or_digest).display().to_string()
        }
    }

    /// `--cert-identity ID --cert-oidc-issuer ISS`, or `--key PEM`.
    pub fn anchor_args(&self, dir: &Path) -> Vec<String> {
        match (&self.key, &self.identity, &self.issuer) {
            (Some(key), _, _) => vec!["--key".into(), dir.join(key).display().to_string()],
            (None, Some(id), Some(iss)) => vec![
                "--cert-identity".into(),
                id.clone(),
                "--cert-oidc-issuer".into(),
                iss.clone(),
            ],
            _ => panic!(
                "case #{} has neither a key nor identity and issuer",
                self.number
            ),
        }
    }

    /// The signer the `--json` report and lockfiles must name.
    pub fn signer(&self, dir: &Path) -> String {
        match (&self.key, &self.identity, &self.issuer) {
            (Some(key), _, _) => key_signer(&dir.join(key)),
            (None, Some(id), Some(iss)) => format!("sigstore:{iss}|{id}"),
            _ => unreachable!(),
        }
    }
}

/// Every case of `cases.json`, in order.
pub fn cases(dir: &Path) -> Vec<Case> {
    let text = fs::read_to_string(dir.join("cases.json")).expect("read cases.json");
    let v: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    let opt = |c: &Value, k: &str| c[k].as_str().map(str::to_string);
    v.as_array()
        .expect("cases.json is an array")
        .iter()
        .enumerate()
        .map(|(i, c)| Case {
            number: i + 1,
            bundle: opt(c, "bundle").expect("bundle"),
            artifact_or_digest: opt(c, "artifact_or_digest").expect("artifact_or_digest"),
            identity: opt(c, "identity"),
            issuer: opt(c, "issuer"),
            key: opt(c, "key"),
            trusted_root: opt(c, "trusted_root").expect("trusted_root"),
            ok: match c["expect"].as_str() {
                Some("ok") => true,
                Some("fail") => false,
                other => panic!("case #{}: expect {other:?}", i + 1),
            },
            made_here: c["made_here"].as_bool().unwrap_or(false),
            note: opt(c, "note").unwrap_or_default(),
        })
        .collect()
}

/// A bundle file, parsed.
pub fn bundle_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first log entry's integrated time, when the bundle has one (Rekor v1).
pub fn integrated_time(bundle: &Value) -> Option<u64> {
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    match &entry["integratedTime"] {
        Value::String(s) => s.parse().ok().filter(|&t| t > 0),
        Value::Number(n) => n.as_u64().filter(|&t| t > 0),
        _ => None,
    }
}

/// The DSSE envelope's in-toto statement, for DSSE bundles.
pub fn dsse_statement(bundle: &Value) -> Option<Value> {
    let payload = bundle["dsseEnvelope"]["payload"].as_str()?;
    let bytes = B64.decode(payload).expect("DSSE payload is base64");
    Some(serde_json::from_slice(&bytes).expect("DSSE payload is JSON"))
}

/// `sigstore:key:SHA256:HEX` of a PEM `PUBLIC KEY` file: the SHA-256 of its DER SPKI.
pub fn key_signer(pem: &Path) -> String {
    let text = fs::read_to_string(pem).unwrap_or_else(|e| panic!("{}: {e}", pem.display()));
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = B64.decode(b64).expect("PEM body is base64");
    format!("sigstore:key:SHA256:{}", sha256_hex(&der))
}

/// Lower-case hex SHA-512.
pub fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha512::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// 2021-01-01T00:00:00Z: before any Sigstore production certificate.
pub const SIGSTORE_EPOCH: u64 = 1_609_459_200;
