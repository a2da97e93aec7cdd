//! Real Sigstore bundles made by third parties (issue 15): every verification listed in
//! `../shared/vectors/sigstore/cases.json`, run through the real `verun verify` with the
//! case's bundle, identity and issuer (or PEM key), trusted root, and artifact (or its
//! digest). An `ok` case must exit 0 and its `--json` report must name the sigstore signer,
//! identity, issuer and a signing time from the bundle (years ago: the signed time is used,
//! never now); a `fail` case must exit 77 with one error and one hint, and nothing on stdout.
//!
//! One `#[test]` per case (`caseNN_...`); [`every_case_of_cases_json_has_its_own_test`]
//! fails when `cases.json` gains a case without one. The vectors are read where they are,
//! next to the checkout, and never copied into it; when they are absent every test says
//! SKIPPED on the real stderr and passes, or fails under `VERUN_REQUIRE_VECTORS=1`.
//!
//! Also here, on the same files: the production root is compiled in (the production cases
//! verify without `--trusted-root`, the staging ones are then refused), GitHub's root is
//! compiled in for `--github-repo` only, `--github-repo` matches the Source Repository URI
//! and not the SAN, and every `ok` case verifies from its digest alone.

mod common;
mod sigstore_support;

use std::path::Path;
use std::process::Output;

use common::*;
use serde_json::Value;
use sigstore_support::*;

/// `verun verify FILE --bundle B ANCHOR [--trusted-root ROOT] EXTRA`.
fn verify(env: &TestEnv, dir: &Path, case: &Case, root: bool, extra: &[&str]) -> Output {
    let mut args = vec![
        "verify".to_string(),
        case.file_arg(dir),
        "--bundle".into(),
        dir.join(&case.bundle).display().to_string(),
    ];
    args.extend(case.anchor_args(dir));
    if root {
        args.push("--trusted-root".into());
        args.push(dir.join(&case.trusted_root).display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    env.verun(args)
}

fn describe(case: &Case) -> String {
    format!(
        "case #{} ({}; {} with {}; expect {}): {}",
        case.number,
        case.bundle,
        case.artifact_or_digest,
        case.trusted_root,
        if case.ok { "ok" } else { "fail" },
        case.note
    )
}

/// The exit code, with the case and verun's stderr on mismatch.
#[track_caller]
fn expect_exit(case: &Case, out: &Output, code: i32, how: &str) {
    assert!(
        out.status.code() == Some(code),
        "{}\n{how}: expected exit {code}, got {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        describe(case),
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

/// What every refusal shows: 77, one error line and one hint line, nothing on stdout.
#[track_caller]
fn expect_refused(case: &Case, out: &Output, how: &str) {
    expect_exit(case, out, 77, how);
    let err = stderr(out);
    assert!(
        err.contains("verun: error: ") && err.contains("verun: hint: "),
        "{}\n{how}: a refusal says why and what to do:\n{err}",
        describe(case)
    );
    assert!(
        stdout(out).trim().is_empty(),
        "{}\n{how}: nothing on stdout:\n{}",
        describe(case),
        stdout(out)
    );
}

/// The `--json` report of an `ok` case names the sigstore signer, the identity and issuer,
/// the payload's digest, the predicate type of a DSSE statement, and the signing time the
/// bundle records.
#[track_caller]
fn check_ok_report(dir: &Path, case: &Case, v: &Value) {
    let what = describe(case);
    assert_eq!(v["ok"], true, "{what}\n{v}");
    let sig = &v["signature"];
    assert_eq!(sig["kind"], "sigstore", "{what}\n{v}");
    let signer = sig["signer"].as_str().unwrap_or_default();
    let want = case.signer(dir);
    if case.key.is_some() {
        assert!(
            signer.eq_ignore_ascii_case(&want) && signer.starts_with("sigstore:key:SHA256:"),
            "{what}\nsigner {signer:?}, want {want:?} (SHA-256 of the key's DER SPKI)\n{v}"
        );
    } else {
        assert_eq!(signer, want, "{what}\n{v}");
        assert_eq!(
            sig["sigstore"]["identity"].as_str(),
            case.identity.as_deref(),
            "{what}\n{v}"
        );
        assert_eq!(
            sig["sigstore"]["issuer"].as_str(),
            case.issuer.as_deref(),
            "{what}\n{v}"
        );
    }
    if !case.is_digest() {
        let data = std::fs::read(dir.join(&case.artifact_or_digest)).unwrap();
        assert_eq!(v["sha256"], sha256_hex(&data), "{what}\n{v}");
    }
    let bundle = bundle_json(&dir.join(&case.bundle));
    if let Some(statement) = dsse_statement(&bundle) {
        assert_eq!(
            sig["sigstore"]["predicate_type"], statement["predicateType"],
            "{what}\n{v}"
        );
    }
    let ts = sig["timestamp"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what}\nno signing time (signature.timestamp) in {v}"));
    match integrated_time(&bundle) {
        // An RFC 3161 time, if that is the one used, is within seconds of the log's.
        Some(it) => assert!(
            ts.abs_diff(it) <= 86_400,
            "{what}\nsigning time {ts}, the log integrated the entry at {it}\n{v}"
        ),
        None => assert!(
            (SIGSTORE_EPOCH..now() - 86_400).contains(&ts),
            "{what}\nsigning time {ts} is not the bundle's (years ago, never now)\n{v}"
        ),
    }
}

/// Runs case `number` (which must be the one the test is named for: `bundle`, `expect`).
fn check_case(number: usize, test: &str, bundle: &str, ok: bool) {
    let Some(dir) = vectors(test) else { return };
    let all = cases(&dir);
    let case = all
        .get(number - 1)
        .unwrap_or_else(|| panic!("cases.json has no case #{number}"))
        .clone();
    assert_eq!(
        (case.bundle.as_str(), case.ok),
        (bundle, ok),
        "cases.json changed under {test}: case #{number} is now {}",
        describe(&case)
    );
    let env = TestEnv::new();
    let out = verify(&env, &dir, &case, true, &[]);
    let json = verify(&env, &dir, &case, true, &["--json"]);
    if ok {
        expect_exit(&case, &out, 0, "verify");
        expect_exit(&case, &json, 0, "verify --json");
        check_ok_report(&dir, &case, &harness_json(&json));
    } else {
        expect_refused(&case, &out, "verify");
        expect_exit(&case, &json, 77, "verify --json");
        let v = harness_json(&json);
        assert_eq!(v["ok"], false, "{}\n{v}", describe(&case));
        assert_eq!(v["exit_code"], 77, "{}\n{v}", describe(&case));
    }
}

/// The one JSON object on stdout.
#[track_caller]
fn harness_json(out: &Output) -> Value {
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "--json prints one line:\n{text}\n{}",
        stderr(out)
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

macro_rules! vector_cases {
    ($($name:ident = $n:literal, $bundle:literal, $expect:ident;)*) => {
        $(
            #[test]
            fn $name() {
                check_case($n, stringify!($name), $bundle, stringify!($expect) == "ok");
            }
        )*
        /// The case numbers that have a test.
        const NAMED: &[usize] = &[$($n),*];
    };
}

vector_cases! {
    case01_a_pypi_wheel_and_its_v0_2_bundle_verify =
        1, "cases/rfc8785-wheel-v0.2/bundle_v3_github.whl.sigstore", ok;
    case02_a_cosign_v3_blob_with_a_tsa_timestamp_verifies =
        2, "cases/cosign-v3-blob/cosign-v3-blob.sigstore.json", ok;
    case03_a_conda_dsse_attestation_verifies =
        3, "cases/conda-dsse/conda-attestation.sigstore.json", ok;
    case04_a_github_attestation_signed_by_a_reusable_workflow_verifies =
        4, "cases/github-attestation-reusable-workflow/reusable-workflow-attestation.sigstore.json", ok;
    case05_a_github_attestation_with_a_custom_issuer_verifies =
        5, "cases/github-attestation-custom-issuer/custom-issuer.sigstore.json", ok;
    case06_the_cpython_v0_1_bundle_whose_proof_lacks_a_checkpoint_is_refused =
        6, "cases/cpython-3.12.5-digest-only-v0.1/Python-3.12.5.tgz.sigstore", fail;
    case07_npm_provenance_v0_3_with_only_a_sha512_subject_verifies =
        7, "cases/npm-provenance-sigstore-2.1.0-sha512/sigstore-js-2.1.0-bundle.json", ok;
    case08_npm_provenance_v0_1_with_only_a_sha512_subject_verifies =
        8, "cases/npm-provenance-sigstore-2.1.0-sha512/sigstore-js-2.1.0-bundle-v0.1.json", ok;
    case09_npms_publish_attestation_verifies_under_its_pem_key =
        9, "cases/npm-publish-public-key-sha512/bundle-publish.json", ok;
    case10_a_staging_v0_1_bundle_verifies_under_the_staging_root =
        10, "cases/staging-v0.1/bundle.txt.sigstore", ok;
    case11_a_staging_v0_3_bundle_verifies_under_the_staging_root =
        11, "cases/staging-v0.3/bundle_v3.txt.sigstore", ok;
    case12_the_alternate_v0_3_media_type_verifies =
        12, "cases/staging-v0.3-alt-mediatype/bundle_v3_alt.txt.sigstore", ok;
    case13_a_rekor_v2_entry_with_a_tsa_timestamp_verifies =
        13, "cases/staging-rekor-v2/staging-rekor-v2.txt.sigstore.json", ok;
    case14_a_dsse_envelope_logged_in_rekor_v2_verifies =
        14, "cases/staging-conda-dsse-rekor-v2/conda-attestation-rekor2.sigstore.json", ok;
    case15_the_cve_2022_36056_swapped_log_entry_is_refused =
        15, "cases/staging-cve-2022-36056_fail/bundle_cve_2022_36056.txt.sigstore", fail;
    case16_a_bundle_without_a_signed_time_is_refused =
        16, "cases/no-signed-time_fail/bundle_v3_no_signed_time.txt.sigstore.json", fail;
    case17_a_dsse_envelope_with_two_signatures_is_refused =
        17, "cases/dsse-two-signatures_fail/dsse-2sigs.sigstore.json", fail;
    case18_a_private_github_attestation_verifies_under_githubs_root =
        18, "cases/github-instance-private-attestation/github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl", ok;
    case19_a_conda_artifact_with_one_changed_byte_is_refused =
        19, "cases/conda-dsse/conda-attestation.sigstore.json", fail;
    case20_the_digest_of_the_changed_conda_artifact_is_refused =
        20, "cases/conda-dsse/conda-attestation.sigstore.json", fail;
    case21_a_wheel_with_one_changed_byte_is_refused =
        21, "cases/rfc8785-wheel-v0.2/bundle_v3_github.whl.sigstore", fail;
    case22_a_bundle_with_one_changed_signature_byte_is_refused =
        22, "made-here/cosign-v3-blob-signature-one-byte-changed/cosign-v3-blob.sigstore.json", fail;
    case23_an_identity_one_character_short_of_the_san_is_refused =
        23, "cases/cosign-v3-blob/cosign-v3-blob.sigstore.json", fail;
    case24_the_right_identity_with_the_wrong_issuer_is_refused =
        24, "cases/cosign-v3-blob/cosign-v3-blob.sigstore.json", fail;
    case25_an_identity_naming_another_tag_is_refused =
        25, "cases/rfc8785-wheel-v0.2/bundle_v3_github.whl.sigstore", fail;
    case26_the_calling_workflow_as_identity_is_refused =
        26, "cases/github-attestation-reusable-workflow/reusable-workflow-attestation.sigstore.json", fail;
    case27_a_staging_bundle_under_the_production_root_is_refused =
        27, "cases/staging-v0.3/bundle_v3.txt.sigstore", fail;
}

#[test]
fn every_case_of_cases_json_has_its_own_test() {
    let Some(dir) = vectors("every_case_of_cases_json_has_its_own_test") else {
        return;
    };
    let numbers: Vec<usize> = cases(&dir).iter().map(|c| c.number).collect();
    assert_eq!(
        NAMED,
        numbers.as_slice(),
        "cases.json and the caseNN tests of tests/sigstore_vectors.rs disagree: add a test per new case"
    );
}

#[test]
fn the_production_cases_verify_without_trusted_root_the_staging_ones_do_not() {
    let Some(dir) =
        vectors("the_production_cases_verify_without_trusted_root_the_staging_ones_do_not")
    else {
        return;
    };
    let env = TestEnv::new();
    let mut checked = (0, 0);
    for case in cases(&dir).iter().filter(|c| c.ok) {
        let out = verify(&env, &dir, case, false, &["--json"]);
        if case.trusted_root == PRODUCTION_ROOT {
            expect_exit(
                case,
                &out,
                0,
                "verify without --trusted-root (compiled-in root)",
            );
            check_ok_report(&dir, case, &harness_json(&out));
            checked.0 += 1;
        } else if case.trusted_root == "trusted_root.staging.json" {
            expect_exit(
                case,
                &out,
                77,
                "verify without --trusted-root: staging is not the compiled-in root",
            );
            checked.1 += 1;
        }
    }
    assert!(
        checked.0 >= 8 && checked.1 >= 5,
        "cases checked: {checked:?}"
    );
}

#[test]
fn githubs_root_is_compiled_in_for_github_repo_only() {
    let Some(dir) = vectors("githubs_root_is_compiled_in_for_github_repo_only") else {
        return;
    };
    let env = TestEnv::new();
    let case = cases(&dir)
        .into_iter()
        .find(|c| c.bundle == private::BUNDLE && c.ok)
        .expect("the private attestation case");
    let artifact = dir.join(private::ARTIFACT).display().to_string();
    let bundle = dir.join(private::BUNDLE).display().to_string();
    // An identity alone trusts the public-good root only.
    let out = verify(&env, &dir, &case, false, &[]);
    expect_refused(&case, &out, "identity and issuer without --trusted-root");
    // --github-repo brings GitHub's root.
    let out = env.verun([
        "verify",
        &artifact,
        "--bundle",
        &bundle,
        "--github-repo",
        private::REPO,
        "--json",
    ]);
    expect_exit(&case, &out, 0, "--github-repo without --trusted-root");
    let v = harness_json(&out);
    assert_eq!(
        v["signature"]["signer"],
        format!("sigstore:{GHA_ISSUER}|repo:{}", private::REPO),
        "{v}"
    );
    assert_eq!(v["signature"]["sigstore"]["identity"], private::SAN, "{v}");
    assert_eq!(
        v["signature"]["sigstore"]["repository"],
        format!("https://github.com/{}", private::REPO),
        "{v}"
    );
}

#[test]
fn github_repo_matches_the_source_repository_and_not_the_sans_repository() {
    let Some(dir) =
        vectors("github_repo_matches_the_source_repository_and_not_the_sans_repository")
    else {
        return;
    };
    let env = TestEnv::new();
    let case = cases(&dir)
        .into_iter()
        .find(|c| c.bundle == reusable::BUNDLE && c.ok)
        .expect("the reusable-workflow case");
    let artifact = dir.join(reusable::ARTIFACT).display().to_string();
    let bundle = dir.join(reusable::BUNDLE).display().to_string();
    let root = dir.join(PRODUCTION_ROOT).display().to_string();
    let repo = |name: &str, json: bool| {
        let mut a = vec![
            "verify",
            &artifact,
            "--bundle",
            &bundle,
            "--github-repo",
            name,
            "--trusted-root",
            &root,
        ];
        if json {
            a.push("--json");
        }
        env.verun(a)
    };
    let out = repo(reusable::REPO, true);
    expect_exit(&case, &out, 0, "--github-repo of the calling repository");
    let v = harness_json(&out);
    let s = &v["signature"];
    assert_eq!(
        s["signer"],
        format!("sigstore:{GHA_ISSUER}|repo:{}", reusable::REPO),
        "{v}"
    );
    assert_eq!(s["sigstore"]["identity"], reusable::SAN, "{v}");
    assert_eq!(s["sigstore"]["issuer"], GHA_ISSUER, "{v}");
    assert_eq!(s["sigstore"]["repository"], reusable::REPOSITORY, "{v}");
    assert_eq!(s["sigstore"]["workflow_ref"], reusable::WORKFLOW_REF, "{v}");
    assert_eq!(s["sigstore"]["commit"], reusable::COMMIT, "{v}");
    assert_eq!(s["sigstore"]["predicate_type"], reusable::PREDICATE, "{v}");
    // The reusable workflow's repository appears only in the SAN: not the builder.
    let out = repo(reusable::WORKFLOW_REPO, false);
    expect_refused(
        &case,
        &out,
        "--github-repo of the reusable workflow's repository",
    );
    // Nor is a prefix of the name, or a longer name, the repository.
    for other in ["malancas/attest", "malancas/attest-demo-fork"] {
        let out = repo(other, false);
        expect_refused(&case, &out, &format!("--github-repo {other}"));
    }
}

#[test]
fn every_ok_case_verifies_from_its_digest_alone() {
    let Some(dir) = vectors("every_ok_case_verifies_from_its_digest_alone") else {
        return;
    };
    let env = TestEnv::new();
    let mut checked = 0;
    for case in cases(&dir).into_iter().filter(|c| c.ok && !c.is_digest()) {
        let data = std::fs::read(dir.join(&case.artifact_or_digest)).unwrap();
        let bundle = bundle_json(&dir.join(&case.bundle));
        // A DSSE statement names the payload by whatever digests its subjects carry; a
        // message signature is over the SHA-256.
        let sha256_subject = dsse_statement(&bundle).is_none_or(|s| {
            s["subject"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["digest"]["sha256"].is_string()))
        });
        let digest = if sha256_subject {
            format!("sha256:{}", sha256_hex(&data))
        } else {
            format!("sha512:{}", sha512_hex(&data))
        };
        let by_digest = Case {
            artifact_or_digest: digest.clone(),
            ..case.clone()
        };
        let out = verify(&env, &dir, &by_digest, true, &["--json"]);
        expect_exit(&by_digest, &out, 0, "verify DIGEST");
        check_ok_report(&dir, &by_digest, &harness_json(&out));
        // One changed digit is another payload.
        let wrong = Case {
            artifact_or_digest: other_digest(&digest),
            ..case.clone()
        };
        expect_refused(
            &wrong,
            &verify(&env, &dir, &wrong, true, &[]),
            "verify WRONG-DIGEST",
        );
        checked += 1;
    }
    assert!(checked >= 12, "ok cases with a file: {checked}");
}

/// `digest` with its last hex digit changed.
fn other_digest(digest: &str) -> String {
    let (head, last) = digest.split_at(digest.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}
