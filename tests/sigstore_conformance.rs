//! `examples/sigstore_conformance.rs`, the adapter from the sigstore-conformance CLI
//! protocol to `verun verify`, run as the suite runs it: the example binary (built here with
//! `cargo build --example sigstore_conformance` when it is missing or older than its
//! source), with `VERUN_BIN` naming the binary under test, on real vectors from
//! `../shared/vectors/sigstore/` (SKIPPED without them, a failure under
//! `VERUN_REQUIRE_VECTORS=1`). Exit 0 exactly when the bundle verifies.

mod common;
mod sigstore_support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::demo::is_cargo_run_var;
use common::*;
use sigstore_support::*;

/// The example binary, built once per run of this file.
fn adapter() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let profile_dir = verun_bin()
            .parent()
            .expect("the verun binary has a directory")
            .to_path_buf();
        let bin = profile_dir.join("examples/sigstore_conformance");
        let src =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/sigstore_conformance.rs");
        let stale = |bin: &PathBuf| {
            let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            match (modified(bin), modified(&src)) {
                (Some(b), Some(s)) => b < s,
                _ => true,
            }
        };
        if stale(&bin) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args(["build", "--example", "sigstore_conformance"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if is_cargo_run_var(&name) || name.starts_with("CARGO_BIN_EXE_") {
                    build.env_remove(&*name);
                }
            }
            let status = build.status().expect("run cargo build --example");
            assert!(
                status.success(),
                "cargo build --example sigstore_conformance failed"
            );
        }
        assert!(bin.is_file(), "no example binary at {}", bin.display());
        bin
    })
}

/// The adapter with `args`, `VERUN_BIN` = the binary under test.
fn conformance(env: &TestEnv, args: &[String]) -> Output {
    let mut cmd = env.command(adapter());
    cmd.args(args).env("VERUN_BIN", verun_bin());
    run_with_timeout(&mut cmd, DEFAULT_TIMEOUT)
}

/// `verify-bundle` for a case, as the suite spells it.
fn verify_bundle(dir: &std::path::Path, case: &Case, artifact: &str) -> Vec<String> {
    let mut a = vec![
        "verify-bundle".to_string(),
        "--bundle".into(),
        dir.join(&case.bundle).display().to_string(),
    ];
    match (&case.key, &case.identity, &case.issuer) {
        (Some(key), _, _) => a.extend(["--key".into(), dir.join(key).display().to_string()]),
        (None, Some(id), Some(iss)) => a.extend([
            "--certificate-identity".into(),
            id.clone(),
            "--certificate-oidc-issuer".into(),
            iss.clone(),
        ]),
        _ => unreachable!(),
    }
    a.extend([
        "--trusted-root".into(),
        dir.join(&case.trusted_root).display().to_string(),
        artifact.to_string(),
    ]);
    a
}

fn case_of(dir: &std::path::Path, bundle: &str, ok: bool) -> Case {
    cases(dir)
        .into_iter()
        .find(|c| c.bundle == bundle && c.ok == ok && !c.is_digest())
        .unwrap_or_else(|| panic!("no case {bundle} expecting ok={ok}"))
}

#[test]
fn the_conformance_adapter_exits_0_only_for_a_bundle_that_verifies() {
    let Some(dir) = vectors("the_conformance_adapter_exits_0_only_for_a_bundle_that_verifies")
    else {
        return;
    };
    let env = TestEnv::new();
    // Keyless, ok: the cosign blob (#2), by path and by sha256 digest.
    let ok = case_of(&dir, cosign::BUNDLE, true);
    let artifact = dir.join(&ok.artifact_or_digest);
    let out = conformance(
        &env,
        &verify_bundle(&dir, &ok, &artifact.display().to_string()),
    );
    assert_exit(&out, 0);
    let digest = format!("sha256:{}", sha256_hex(&std::fs::read(&artifact).unwrap()));
    assert_exit(&conformance(&env, &verify_bundle(&dir, &ok, &digest)), 0);
    // Keyless, fail: the same files with an identity one character short (#23).
    let fail = cases(&dir)
        .into_iter()
        .find(|c| {
            c.bundle == cosign::BUNDLE
                && !c.ok
                && c.identity.as_deref() == Some("w.vollprecht@gmail.co")
        })
        .expect("case #23");
    let out = conformance(
        &env,
        &verify_bundle(&dir, &fail, &artifact.display().to_string()),
    );
    assert_exit(&out, 77);
    // The wrong digest.
    let wrong = format!("sha256:{}", "0".repeat(64));
    assert_exit(&conformance(&env, &verify_bundle(&dir, &ok, &wrong)), 77);
    // A public-key bundle (#9) with --key.
    let key = case_of(&dir, npm_key::BUNDLE, true);
    let out = conformance(
        &env,
        &verify_bundle(
            &dir,
            &key,
            &dir.join(npm_key::ARTIFACT).display().to_string(),
        ),
    );
    assert_exit(&out, 0);
}

#[test]
fn the_conformance_adapter_refuses_what_it_cannot_do() {
    let Some(dir) = vectors("the_conformance_adapter_refuses_what_it_cannot_do") else {
        return;
    };
    let env = TestEnv::new();
    let ok = case_of(&dir, cosign::BUNDLE, true);
    let artifact = dir.join(&ok.artifact_or_digest).display().to_string();
    // Signing: verun only verifies.
    let out = conformance(
        &env,
        &args(&[
            "sign-bundle",
            "--identity-token",
            "x",
            "--bundle",
            "b.json",
            &artifact,
        ]),
    );
    assert!(!out.status.success(), "{}", stderr(&out));
    // --staging without a staging root to use.
    let mut staging = verify_bundle(&dir, &ok, &artifact);
    let root_at = staging.iter().position(|a| a == "--trusted-root").unwrap();
    staging.drain(root_at..root_at + 2);
    staging.insert(1, "--staging".into());
    let out = conformance(&env, &staging);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("VERUN_CONFORMANCE_STAGING_ROOT"),
        "{}",
        stderr(&out)
    );
    // --staging with one: a staging case (#11) verifies.
    let staged = case_of(&dir, staging_pair::OLDER_BUNDLE, true);
    let mut a = verify_bundle(
        &dir,
        &staged,
        &dir.join(&staged.artifact_or_digest).display().to_string(),
    );
    let root_at = a.iter().position(|x| x == "--trusted-root").unwrap();
    a.drain(root_at..root_at + 2);
    a.insert(1, "--staging".into());
    let mut cmd = env.command(adapter());
    cmd.args(&a).env("VERUN_BIN", verun_bin()).env(
        "VERUN_CONFORMANCE_STAGING_ROOT",
        dir.join(staging_pair::ROOT),
    );
    assert_exit(&run_with_timeout(&mut cmd, DEFAULT_TIMEOUT), 0);
}
