//! Sigstore end to end (issue 15): real third-party bundles and artifacts from
//! `../shared/vectors/sigstore/` served by a loopback HTTPS [`TestServer`], and fetched,
//! run or verified by the real `verun` binary.
//!
//! - The bundle is found next to the URL, at `<URL>.sigstore.json`, then `<URL>.sigstore`;
//!   `--bundle LOC` overrides. A payload the bundle does not cover is refused (77) and
//!   nothing runs, nothing is left at `-o`.
//! - `--github-repo OWNER/NAME` without a bundle looks the attestations up, after the
//!   payload is hashed, at a fake GitHub API on loopback (`VERUN_GITHUB_API`), sending
//!   `GITHUB_TOKEN` as `Authorization: Bearer` to the API only; the repository must be the
//!   certificate's Source Repository URI (the calling repository of a reusable workflow),
//!   not the repository named in the SAN.
//! - Identity and issuer match exactly, a regexp matches the whole SAN; usage errors are 64.
//! - Store identities (`key add --cert-identity ... --cert-oidc-issuer ...`, `--github-repo`),
//!   lockfiles (`signer = "sigstore:..."`), `audit`, rollback from the signing time.
//!
//! The vectors were signed years ago: they verify because the signed time is used, never
//! now. Real bundles cannot be re-signed, so a `run` that succeeds is shown with
//! `--dry-run` (the artifacts are not scripts); every refusal of `run` proves nothing ran.
//! Without the vectors every test says SKIPPED (a failure under `VERUN_REQUIRE_VECTORS=1`).

mod common;
mod harness;
mod sigstore_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use harness::{assert_nothing_at, json_stdout};
use serde_json::{Value, json};
use sigstore_support::*;

/// A token only the fake GitHub API may see.
const TOKEN: &str = "ghs_verunTestTokenNeverReal0123456789";

/// The vectors, a sandbox and a loopback HTTPS download host.
struct Shop {
    dir: PathBuf,
    env: TestEnv,
    server: TestServer,
    cacert: Vec<String>,
}

impl Shop {
    fn new(test: &str) -> Option<Shop> {
        let dir = vectors(test)?;
        let (env, server, cacert) = https_site();
        Some(Shop {
            dir,
            env,
            server,
            cacert,
        })
    }

    /// A vector file's bytes.
    fn file(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// A vector file's absolute path.
    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// `--trusted-root <vectors>/ROOT`.
    fn root(&self, root: &str) -> Vec<String> {
        vec!["--trusted-root".into(), self.path(root)]
    }

    /// Serves vector file `rel` at `path`; returns its URL.
    fn serve(&self, path: &str, rel: &str) -> String {
        self.server.route(path, Reply::bytes(self.file(rel)));
        self.server.url(path)
    }

    /// verun with `args`, `--cacert`, and `env` set (`None`: removed).
    fn verun_env(&self, args: &[String], env: &[(&str, Option<&str>)]) -> Output {
        let mut cmd = self.env.verun_cmd(args);
        cmd.args(&self.cacert);
        for (name, value) in env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        run_with_timeout(&mut cmd, DEFAULT_TIMEOUT)
    }

    /// `verun key ARGS` (no `--cacert`: nothing is downloaded).
    fn key(&self, rest: &[&str]) -> Output {
        let mut cmd = self
            .env
            .verun_cmd(std::iter::once("key").chain(rest.iter().copied()));
        run_with_timeout(&mut cmd, DEFAULT_TIMEOUT)
    }

    /// verun with `args` and `--cacert`, `GITHUB_TOKEN` removed.
    fn verun(&self, args: &[String]) -> Output {
        self.verun_env(args, &[("GITHUB_TOKEN", None)])
    }

    /// `verun fetch URL -o OUT ARGS`.
    fn fetch(&self, url: &str, out: &Path, extra: &[String]) -> Output {
        let mut a = args(&["fetch", url, "-o", &out.display().to_string()]);
        a.extend(extra.iter().cloned());
        self.verun(&a)
    }

    /// `-o` target in `work/out/` (created).
    fn out(&self, name: &str) -> PathBuf {
        let dir = self.env.path("out");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }
}

/// `--cert-identity ID --cert-oidc-issuer ISS`.
fn identity(id: &str, iss: &str) -> Vec<String> {
    args(&["--cert-identity", id, "--cert-oidc-issuer", iss])
}

/// `a` then `b`.
fn cat(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.into_iter().chain(b).collect()
}

/// 77, one error and one hint line, nothing at `out` (when given), nothing on stdout.
#[track_caller]
fn assert_refused(out: &Output, saved: Option<&Path>) {
    assert_exit(out, 77);
    let err = stderr(out);
    assert!(
        err.contains("verun: error: ") && err.contains("verun: hint: "),
        "a refusal says why and what to do:\n{err}"
    );
    assert!(stdout(out).trim().is_empty(), "stdout: {}", stdout(out));
    if let Some(path) = saved {
        assert_nothing_at(path);
    }
}

/// `signature` of a `--json` report.
#[track_caller]
fn signature(out: &Output) -> Value {
    let v = json_stdout(out);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["signature"]["kind"], "sigstore", "{v}");
    v["signature"].clone()
}

/// The cosign blob's signer.
fn cosign_signer() -> String {
    format!("sigstore:{}|{}", cosign::ISSUER, cosign::SAN)
}

#[test]
fn a_fetch_finds_the_bundle_at_its_sigstore_json_sibling() {
    let Some(shop) = Shop::new("a_fetch_finds_the_bundle_at_its_sigstore_json_sibling") else {
        return;
    };
    let url = shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let dest = shop.out("blob.txt");
    let out = shop.fetch(
        &url,
        &dest,
        &cat(
            identity(cosign::SAN, cosign::ISSUER),
            cat(shop.root(PRODUCTION_ROOT), args(&["--json"])),
        ),
    );
    assert_exit(&out, 0);
    let sig = signature(&out);
    assert_eq!(sig["signer"], cosign_signer(), "{sig}");
    assert_eq!(sig["sigstore"]["identity"], cosign::SAN, "{sig}");
    assert_eq!(sig["sigstore"]["issuer"], cosign::ISSUER, "{sig}");
    assert_eq!(std::fs::read(&dest).unwrap(), shop.file(cosign::ARTIFACT));
    assert_eq!(shop.server.hits("/dl/cosign-v3-blob.txt.sigstore.json"), 1);
    assert_eq!(
        shop.server.hits("/dl/cosign-v3-blob.txt.sigstore"),
        0,
        "the .sigstore fallback is not needed: {:?}",
        shop.server.requested_paths()
    );
}

#[test]
fn a_fetch_falls_back_to_the_sigstore_sibling() {
    let Some(shop) = Shop::new("a_fetch_falls_back_to_the_sigstore_sibling") else {
        return;
    };
    let url = shop.serve("/dl/rfc8785-0.1.2-py3-none-any.whl", wheel::ARTIFACT);
    shop.serve("/dl/rfc8785-0.1.2-py3-none-any.whl.sigstore", wheel::BUNDLE);
    let dest = shop.out("rfc8785.whl");
    let out = shop.fetch(
        &url,
        &dest,
        &cat(identity(wheel::SAN, GHA_ISSUER), shop.root(PRODUCTION_ROOT)),
    );
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), shop.file(wheel::ARTIFACT));
    let paths = shop.server.requested_paths();
    let json_at = paths
        .iter()
        .position(|p| p == "/dl/rfc8785-0.1.2-py3-none-any.whl.sigstore.json");
    let plain_at = paths
        .iter()
        .position(|p| p == "/dl/rfc8785-0.1.2-py3-none-any.whl.sigstore");
    assert!(
        matches!((json_at, plain_at), (Some(a), Some(b)) if a < b),
        ".sigstore.json is tried first, then .sigstore: {paths:?}"
    );
}

#[test]
fn a_tampered_payload_under_its_genuine_bundle_is_refused_and_nothing_is_saved() {
    let Some(shop) =
        Shop::new("a_tampered_payload_under_its_genuine_bundle_is_refused_and_nothing_is_saved")
    else {
        return;
    };
    let url = shop.serve("/dl/rfc8785.whl", wheel::TAMPERED);
    shop.serve("/dl/rfc8785.whl.sigstore", wheel::BUNDLE);
    let dest = shop.out("rfc8785.whl");
    let out = shop.fetch(
        &url,
        &dest,
        &cat(identity(wheel::SAN, GHA_ISSUER), shop.root(PRODUCTION_ROOT)),
    );
    assert_refused(&out, Some(&dest));
    // The genuine wheel under the same bundle is fine: the one byte made the difference.
    shop.serve("/dl/rfc8785.whl", wheel::ARTIFACT);
    let out = shop.fetch(
        &url,
        &dest,
        &cat(identity(wheel::SAN, GHA_ISSUER), shop.root(PRODUCTION_ROOT)),
    );
    assert_exit(&out, 0);
}

#[test]
fn a_bundle_given_with_bundle_overrides_the_siblings() {
    let Some(shop) = Shop::new("a_bundle_given_with_bundle_overrides_the_siblings") else {
        return;
    };
    let url = shop.serve("/dl/blob.txt", cosign::ARTIFACT);
    // A sibling that would be refused (one signature byte changed) must not be consulted.
    shop.serve(
        "/dl/blob.txt.sigstore.json",
        "made-here/cosign-v3-blob-signature-one-byte-changed/cosign-v3-blob.sigstore.json",
    );
    let bundle_url = shop.serve("/attestations/blob.bundle", cosign::BUNDLE);
    let anchor = cat(
        identity(cosign::SAN, cosign::ISSUER),
        shop.root(PRODUCTION_ROOT),
    );
    for bundle in [bundle_url, shop.path(cosign::BUNDLE)] {
        shop.server.clear_requests();
        let dest = shop.out("blob.txt");
        let _ = std::fs::remove_file(&dest);
        let out = shop.fetch(
            &url,
            &dest,
            &cat(args(&["--bundle", &bundle]), anchor.clone()),
        );
        assert_exit(&out, 0);
        assert_eq!(
            shop.server.hits("/dl/blob.txt.sigstore.json")
                + shop.server.hits("/dl/blob.txt.sigstore"),
            0,
            "--bundle {bundle}: no sibling is fetched: {:?}",
            shop.server.requested_paths()
        );
    }
    // Without --bundle the tampered sibling is what counts: refused.
    let dest = shop.out("blob2.txt");
    assert_refused(&shop.fetch(&url, &dest, &anchor), Some(&dest));
}

#[test]
fn a_missing_bundle_is_refused() {
    let Some(shop) = Shop::new("a_missing_bundle_is_refused") else {
        return;
    };
    let url = shop.serve("/dl/blob.txt", cosign::ARTIFACT);
    let dest = shop.out("blob.txt");
    let out = shop.fetch(
        &url,
        &dest,
        &cat(
            identity(cosign::SAN, cosign::ISSUER),
            shop.root(PRODUCTION_ROOT),
        ),
    );
    assert_refused(&out, Some(&dest));
}

#[test]
fn a_fetch_under_the_compiled_in_production_root_needs_no_trusted_root() {
    let Some(shop) =
        Shop::new("a_fetch_under_the_compiled_in_production_root_needs_no_trusted_root")
    else {
        return;
    };
    let url = shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let dest = shop.out("blob.txt");
    let out = shop.fetch(&url, &dest, &identity(cosign::SAN, cosign::ISSUER));
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), shop.file(cosign::ARTIFACT));
    // A staging bundle is not under that root.
    let url = shop.serve("/dl/notes.txt", staging_pair::NEWER_ARTIFACT);
    shop.serve("/dl/notes.txt.sigstore", staging_pair::NEWER_BUNDLE);
    let dest = shop.out("notes.txt");
    let out = shop.fetch(
        &url,
        &dest,
        &identity(staging_pair::SAN, staging_pair::ISSUER),
    );
    assert_refused(&out, Some(&dest));
}

#[test]
fn run_refuses_what_the_bundle_does_not_cover_and_runs_nothing() {
    let Some(shop) = Shop::new("run_refuses_what_the_bundle_does_not_cover_and_runs_nothing")
    else {
        return;
    };
    let anchor = cat(
        identity(cosign::SAN, cosign::ISSUER),
        shop.root(PRODUCTION_ROOT),
    );
    // A script served under the genuine bundle of another file.
    let (script, marker) = marker_script(&shop.env, "install");
    shop.server.route("/dl/install.sh", Reply::bytes(&script));
    shop.serve("/dl/install.sh.sigstore.json", cosign::BUNDLE);
    let run = |url: &str, extra: &[String]| {
        shop.verun(&cat(
            args(&["run", url]),
            cat(anchor.clone(), extra.to_vec()),
        ))
    };
    let out = run(&shop.server.url("/dl/install.sh"), &[]);
    assert_refused(&out, None);
    assert_not_ran(&marker);
    // The genuine text under its bundle, with a wrong identity: refused before running.
    let url = shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let out = shop.verun(&cat(
        args(&["run", &url]),
        cat(
            identity("w.vollprecht@gmail.co", cosign::ISSUER),
            shop.root(PRODUCTION_ROOT),
        ),
    ));
    assert_refused(&out, None);
    // With the right identity it verifies; --dry-run stops short of running the text.
    let out = run(&url, &args(&["--dry-run"]));
    assert_exit(&out, 0);
    assert!(stdout(&out).trim().is_empty(), "{}", stdout(&out));
}

/// A fake GitHub REST API on loopback, under the download host's CA.
struct Api {
    server: TestServer,
}

impl Api {
    fn new(shop: &Shop) -> Api {
        Api {
            server: TestServer::https_with_ca(shop.server.ca()),
        }
    }

    /// The attestations path for `repo` and `sha256`.
    fn path(repo: &str, sha256: &str) -> String {
        format!("/repos/{repo}/attestations/sha256:{sha256}")
    }

    /// Serves `{"attestations":[{"bundle": ...}, ...]}` for `repo` and `sha256`.
    fn attest(&self, repo: &str, sha256: &str, bundles: &[Value]) -> String {
        let list: Vec<Value> = bundles
            .iter()
            .map(|b| json!({"bundle": b, "repository_id": 804070735, "bundle_url": null}))
            .collect();
        let body = json!({ "attestations": list }).to_string();
        let path = Api::path(repo, sha256);
        let reply = Reply::bytes(&body).with_header("Content-Type", "application/json");
        self.server.route(&path, reply.clone());
        self.server
            .route(path.replace("sha256:", "sha256%3A"), reply);
        path
    }

    /// Serves the reusable-workflow attestation of `reusable::ARTIFACT` for `reusable::REPO`:
    /// the artifact, its SHA-256 and the attestations path.
    fn attest_reusable(&self, shop: &Shop) -> (Vec<u8>, String, String) {
        let artifact = shop.file(reusable::ARTIFACT);
        let sha = sha256_hex(&artifact);
        let path = self.attest(
            reusable::REPO,
            &sha,
            &[bundle_json(&shop.dir.join(reusable::BUNDLE))],
        );
        (artifact, sha, path)
    }

    /// The requests that asked for `path` (either spelling of the colon).
    fn requests(&self, path: &str) -> Vec<Request> {
        let mut r = self.server.requests_to(path);
        r.extend(
            self.server
                .requests_to(&path.replace("sha256:", "sha256%3A")),
        );
        r
    }

    fn env(&self) -> (&'static str, Option<String>) {
        ("VERUN_GITHUB_API", Some(self.server.base_url()))
    }
}

/// `verun fetch URL -o OUT ARGS` with `VERUN_GITHUB_API` and the token (if any).
fn fetch_via_api(
    shop: &Shop,
    api: &Api,
    url: &str,
    dest: &Path,
    extra: &[String],
    token: Option<&str>,
) -> Output {
    let mut a = args(&["fetch", url, "-o", &dest.display().to_string()]);
    a.extend(extra.iter().cloned());
    let (name, base) = api.env();
    shop.verun_env(&a, &[(name, base.as_deref()), ("GITHUB_TOKEN", token)])
}

#[test]
fn github_repo_looks_the_attestation_up_and_sends_the_token_to_the_api_only() {
    let Some(shop) =
        Shop::new("github_repo_looks_the_attestation_up_and_sends_the_token_to_the_api_only")
    else {
        return;
    };
    let api = Api::new(&shop);
    let (artifact, _, path) = api.attest_reusable(&shop);
    let url = shop.serve("/releases/demo-0.0.0-py3-none-any.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &cat(
            args(&["--github-repo", reusable::REPO, "--json"]),
            shop.root(PRODUCTION_ROOT),
        ),
        Some(TOKEN),
    );
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), artifact);
    let sig = signature(&out);
    assert_eq!(
        sig["signer"],
        format!("sigstore:{GHA_ISSUER}|repo:{}", reusable::REPO),
        "{sig}"
    );
    assert_eq!(sig["sigstore"]["identity"], reusable::SAN, "{sig}");
    assert_eq!(sig["sigstore"]["issuer"], GHA_ISSUER, "{sig}");
    assert_eq!(sig["sigstore"]["repository"], reusable::REPOSITORY, "{sig}");
    assert_eq!(
        sig["sigstore"]["workflow_ref"],
        reusable::WORKFLOW_REF,
        "{sig}"
    );
    assert_eq!(sig["sigstore"]["commit"], reusable::COMMIT, "{sig}");
    assert_eq!(
        sig["sigstore"]["predicate_type"],
        reusable::PREDICATE,
        "{sig}"
    );
    let asked = api.requests(&path);
    assert!(
        !asked.is_empty(),
        "the attestations of the payload's sha256 were asked for: {:?}",
        api.server.requested_paths()
    );
    for r in &asked {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{r:?}"
        );
    }
    for r in shop.server.requests() {
        assert!(
            r.header("authorization").is_none() && !format!("{r:?}").contains(TOKEN),
            "the token went to the download host: {r:?}"
        );
    }
    assert!(!stderr(&out).contains(TOKEN), "{}", stderr(&out));
}

#[test]
fn the_attestation_is_looked_up_after_the_payload_without_a_token_header() {
    let Some(shop) =
        Shop::new("the_attestation_is_looked_up_after_the_payload_without_a_token_header")
    else {
        return;
    };
    // The API on the download host itself, so the order of requests is one list.
    let api = Api {
        server: TestServer::https_with_ca(shop.server.ca()),
    };
    let artifact = shop.file(reusable::ARTIFACT);
    let path = api.attest(
        reusable::REPO,
        &sha256_hex(&artifact),
        &[bundle_json(&shop.dir.join(reusable::BUNDLE))],
    );
    let url = {
        api.server
            .route("/releases/demo.whl", Reply::bytes(&artifact));
        api.server.url("/releases/demo.whl")
    };
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &cat(
            args(&["--github-repo", reusable::REPO]),
            shop.root(PRODUCTION_ROOT),
        ),
        None,
    );
    assert_exit(&out, 0);
    let paths = api.server.requested_paths();
    let payload_at = paths.iter().position(|p| p == "/releases/demo.whl");
    let api_at = paths
        .iter()
        .position(|p| *p == path || *p == path.replace("sha256:", "sha256%3A"));
    assert!(
        matches!((payload_at, api_at), (Some(a), Some(b)) if a < b),
        "the payload is hashed first, then its attestations are asked for: {paths:?}"
    );
    for r in api.server.requests() {
        assert!(
            r.header("authorization").is_none(),
            "no GITHUB_TOKEN, no header: {r:?}"
        );
    }
}

#[test]
fn github_repo_naming_the_reusable_workflows_own_repository_is_refused() {
    let Some(shop) =
        Shop::new("github_repo_naming_the_reusable_workflows_own_repository_is_refused")
    else {
        return;
    };
    let api = Api::new(&shop);
    let sha = sha256_hex(&shop.file(reusable::ARTIFACT));
    let bundle = bundle_json(&shop.dir.join(reusable::BUNDLE));
    // Even if the API answers for that repository with this attestation.
    api.attest(reusable::WORKFLOW_REPO, &sha, std::slice::from_ref(&bundle));
    api.attest(reusable::REPO, &sha, &[bundle]);
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &cat(
            args(&["--github-repo", reusable::WORKFLOW_REPO]),
            shop.root(PRODUCTION_ROOT),
        ),
        Some(TOKEN),
    );
    assert_refused(&out, Some(&dest));
}

#[test]
fn github_repo_without_an_attestation_is_refused_with_a_clear_error() {
    let Some(shop) = Shop::new("github_repo_without_an_attestation_is_refused_with_a_clear_error")
    else {
        return;
    };
    let api = Api::new(&shop);
    let artifact = shop.file(reusable::ARTIFACT);
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let flags = cat(
        args(&["--github-repo", reusable::REPO]),
        shop.root(PRODUCTION_ROOT),
    );
    // 404: GitHub knows no attestation for this digest.
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(&shop, &api, &url, &dest, &flags, Some(TOKEN));
    assert_refused(&out, Some(&dest));
    assert!(
        stderr(&out).to_lowercase().contains("attestation"),
        "the error says no attestation was found: {}",
        stderr(&out)
    );
    assert!(
        api.server
            .requested_paths()
            .iter()
            .any(|p| p.starts_with(&format!("/repos/{}/attestations/", reusable::REPO))),
        "{:?}",
        api.server.requested_paths()
    );
    // An empty list.
    api.attest(reusable::REPO, &sha256_hex(&artifact), &[]);
    let out = fetch_via_api(&shop, &api, &url, &dest, &flags, Some(TOKEN));
    assert_refused(&out, Some(&dest));
    assert!(
        stderr(&out).to_lowercase().contains("attestation"),
        "{}",
        stderr(&out)
    );
    // Only an attestation of something else (another repository's, another subject).
    api.attest(
        reusable::REPO,
        &sha256_hex(&artifact),
        &[bundle_json(&shop.dir.join(
            "cases/github-attestation-custom-issuer/custom-issuer.sigstore.json",
        ))],
    );
    let out = fetch_via_api(&shop, &api, &url, &dest, &flags, Some(TOKEN));
    assert_refused(&out, Some(&dest));
}

#[test]
fn one_matching_attestation_among_several_is_enough() {
    let Some(shop) = Shop::new("one_matching_attestation_among_several_is_enough") else {
        return;
    };
    let api = Api::new(&shop);
    let artifact = shop.file(reusable::ARTIFACT);
    api.attest(
        reusable::REPO,
        &sha256_hex(&artifact),
        &[
            bundle_json(
                &shop
                    .dir
                    .join("cases/github-attestation-custom-issuer/custom-issuer.sigstore.json"),
            ),
            bundle_json(&shop.dir.join(reusable::BUNDLE)),
        ],
    );
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &cat(
            args(&["--github-repo", reusable::REPO]),
            shop.root(PRODUCTION_ROOT),
        ),
        None,
    );
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), artifact);
}

#[test]
fn a_private_repositorys_attestation_verifies_under_the_compiled_in_github_root() {
    let Some(shop) =
        Shop::new("a_private_repositorys_attestation_verifies_under_the_compiled_in_github_root")
    else {
        return;
    };
    let api = Api::new(&shop);
    let artifact = shop.file(private::ARTIFACT);
    api.attest(
        private::REPO,
        &sha256_hex(&artifact),
        &[bundle_json(&shop.dir.join(private::BUNDLE))],
    );
    let url = shop.serve(
        "/releases/github_provenance_demo-0.0.12-py3-none-any.whl",
        private::ARTIFACT,
    );
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &args(&["--github-repo", private::REPO, "--json"]),
        Some(TOKEN),
    );
    assert_exit(&out, 0);
    let sig = signature(&out);
    assert_eq!(sig["sigstore"]["identity"], private::SAN, "{sig}");
    assert_eq!(std::fs::read(&dest).unwrap(), artifact);
}

#[test]
fn a_wrong_cert_identity_or_issuer_is_refused_and_nothing_is_saved() {
    let Some(shop) = Shop::new("a_wrong_cert_identity_or_issuer_is_refused_and_nothing_is_saved")
    else {
        return;
    };
    let url = shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let dest = shop.out("blob.txt");
    for (id, iss) in [
        ("w.vollprecht@gmail.co", cosign::ISSUER),
        ("W.Vollprecht@gmail.com", cosign::ISSUER),
        ("w.vollprecht@gmail.com.evil", cosign::ISSUER),
        (cosign::SAN, "https://accounts.google.com"),
        (cosign::SAN, "https://github.com/login/oauth/"),
    ] {
        let out = shop.fetch(
            &url,
            &dest,
            &cat(identity(id, iss), shop.root(PRODUCTION_ROOT)),
        );
        assert_refused(&out, Some(&dest));
    }
}

#[test]
fn sigstore_usage_errors_exit_64_before_any_download() {
    let Some(shop) = Shop::new("sigstore_usage_errors_exit_64_before_any_download") else {
        return;
    };
    let url = shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let dest = shop.out("blob.txt");
    for (what, flags) in [
        (
            "an identity without an issuer",
            args(&["--cert-identity", cosign::SAN]),
        ),
        (
            "a regexp without an issuer",
            args(&["--cert-identity-regexp", ".*"]),
        ),
        (
            "a malformed regexp",
            args(&[
                "--cert-identity-regexp",
                "(w.vollprecht",
                "--cert-oidc-issuer",
                cosign::ISSUER,
            ]),
        ),
        (
            "OWNER/NAME without a slash",
            args(&["--github-repo", "malancas"]),
        ),
        (
            "OWNER/NAME with two slashes",
            args(&["--github-repo", "malancas/attest-demo/extra"]),
        ),
        ("an empty OWNER", args(&["--github-repo", "/attest-demo"])),
    ] {
        shop.server.clear_requests();
        let out = shop.fetch(&url, &dest, &flags);
        assert!(
            out.status.code() == Some(64),
            "{what}: expected 64, got {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("verun: error: "),
            "{what}: {}",
            stderr(&out)
        );
        assert_nothing_at(&dest);
        assert!(
            shop.server.requests().is_empty(),
            "{what}: nothing is downloaded: {:?}",
            shop.server.requested_paths()
        );
    }
    // The same for verify.
    let out = shop.verun(&args(&[
        "verify",
        &shop.path(cosign::ARTIFACT),
        "--bundle",
        &shop.path(cosign::BUNDLE),
        "--cert-identity",
        cosign::SAN,
    ]));
    assert_exit(&out, 64);
}

#[test]
fn a_cert_identity_regexp_must_match_the_whole_san() {
    let Some(shop) = Shop::new("a_cert_identity_regexp_must_match_the_whole_san") else {
        return;
    };
    let verify = |re: &str| {
        shop.verun(&args(&[
            "verify",
            &shop.path(cosign::ARTIFACT),
            "--bundle",
            &shop.path(cosign::BUNDLE),
            "--cert-identity-regexp",
            re,
            "--cert-oidc-issuer",
            cosign::ISSUER,
            "--trusted-root",
            &shop.path(PRODUCTION_ROOT),
            "--json",
        ]))
    };
    // Matches only a part of the SAN: a prefix, a suffix, the middle, or a prefix through
    // the first branch of an alternation (what `^A|B$` would accept).
    for re in [
        r"w\.vollprecht@gmail\.co",
        r"vollprecht@gmail\.com",
        r"gmail",
        r"w\.vollprecht@gmail\.co|nobody@example\.com",
        r"nobody@example\.com|.ollprecht@gmail\.com",
    ] {
        let out = verify(re);
        assert!(
            out.status.code() == Some(77),
            "{re:?} does not match the whole SAN {:?}: expected 77, got {:?}\n{}",
            cosign::SAN,
            out.status.code(),
            stderr(&out)
        );
    }
    for re in [
        r".*@gmail\.com",
        r"^w\.vollprecht@gmail\.com$",
        r"nobody@example\.com|w\.vollprecht@gmail\.com",
    ] {
        let out = verify(re);
        assert_exit(&out, 0);
        let sig = signature(&out);
        assert_eq!(
            sig["signer"],
            format!("sigstore:{}|regexp:{re}", cosign::ISSUER),
            "{sig}"
        );
        assert_eq!(sig["sigstore"]["identity"], cosign::SAN, "{sig}");
    }
}

#[test]
fn a_store_identity_verifies_a_fetch_within_its_scope_and_audit_reverifies_it() {
    let Some(shop) =
        Shop::new("a_store_identity_verifies_a_fetch_within_its_scope_and_audit_reverifies_it")
    else {
        return;
    };
    let base = shop.server.base_url_ip();
    let scope = format!("{base}/dl/");
    let out = shop.key(&[
        "add",
        "cosign-blob",
        "--cert-identity",
        cosign::SAN,
        "--cert-oidc-issuer",
        cosign::ISSUER,
        "--scope",
        &scope,
    ]);
    assert_exit(&out, 0);
    let out = shop.key(&["list", "--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let entry = v["keys"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "cosign-blob"))
        .unwrap_or_else(|| panic!("no entry cosign-blob in {v}"));
    assert_eq!(entry["kind"], "sigstore", "{entry}");
    assert_eq!(entry["signer"], cosign_signer(), "{entry}");
    let out = shop.key(&["list"]);
    assert!(stdout(&out).contains("sigstore"), "{}", stdout(&out));

    shop.serve("/dl/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/dl/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let url = format!("{base}/dl/cosign-v3-blob.txt");
    let dest = shop.out("blob.txt");
    // No identity flags, no trusted root: the store entry and the compiled-in root.
    let out = shop.fetch(&url, &dest, &args(&["--lock", "verun.lock", "--json"]));
    assert_exit(&out, 0);
    let sig = signature(&out);
    assert_eq!(sig["signer"], cosign_signer(), "{sig}");
    assert_eq!(sig["key_name"], "cosign-blob", "{sig}");
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(
        lock.contains(&format!("signer = \"{}\"", cosign_signer())),
        "{lock}"
    );
    // Out of its scope the identity is no anchor.
    shop.serve("/other/cosign-v3-blob.txt", cosign::ARTIFACT);
    shop.serve("/other/cosign-v3-blob.txt.sigstore.json", cosign::BUNDLE);
    let dest = shop.out("other.txt");
    let out = shop.fetch(&format!("{base}/other/cosign-v3-blob.txt"), &dest, &[]);
    assert_refused(&out, Some(&dest));

    // audit re-verifies the locked URL under the store identity.
    let out = shop.verun(&args(&["audit", "verun.lock"]));
    assert_exit(&out, 0);
}

#[test]
fn a_store_github_repo_entry_is_a_sigstore_signer() {
    let Some(shop) = Shop::new("a_store_github_repo_entry_is_a_sigstore_signer") else {
        return;
    };
    let base = shop.server.base_url_ip();
    let out = shop.key(&[
        "add",
        "attest-demo",
        "--github-repo",
        reusable::REPO,
        "--scope",
        &format!("{base}/releases/"),
    ]);
    assert_exit(&out, 0);
    let out = shop.key(&["list", "--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let entry = v["keys"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "attest-demo"))
        .unwrap_or_else(|| panic!("no entry attest-demo in {v}"));
    assert_eq!(entry["kind"], "sigstore", "{entry}");
    let signer = format!("sigstore:{GHA_ISSUER}|repo:{}", reusable::REPO);
    assert_eq!(entry["signer"], signer, "{entry}");
    // The bundle next to the asset; the identity comes from the store.
    shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    shop.serve("/releases/demo.whl.sigstore.json", reusable::BUNDLE);
    let dest = shop.out("demo.whl");
    let out = shop.fetch(
        &format!("{base}/releases/demo.whl"),
        &dest,
        &args(&["--lock", "verun.lock"]),
    );
    assert_exit(&out, 0);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(lock.contains(&format!("signer = \"{signer}\"")), "{lock}");
}

#[test]
fn a_locked_fetch_records_the_sigstore_signer_and_refuses_drift() {
    let Some(shop) = Shop::new("a_locked_fetch_records_the_sigstore_signer_and_refuses_drift")
    else {
        return;
    };
    let url = shop.serve("/dl/rfc8785.whl", wheel::ARTIFACT);
    shop.serve("/dl/rfc8785.whl.sigstore", wheel::BUNDLE);
    let flags = cat(
        identity(wheel::SAN, GHA_ISSUER),
        cat(shop.root(PRODUCTION_ROOT), args(&["--lock", "verun.lock"])),
    );
    let dest = shop.out("rfc8785.whl");
    assert_exit(&shop.fetch(&url, &dest, &flags), 0);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "signer = \"sigstore:{GHA_ISSUER}|{}\"",
            wheel::SAN
        )),
        "{lock}"
    );
    assert!(
        lock.contains(&sha256_hex(&shop.file(wheel::ARTIFACT))),
        "{lock}"
    );
    // The locked URL now serves the tampered wheel: refused.
    std::fs::remove_file(&dest).unwrap();
    shop.serve("/dl/rfc8785.whl", wheel::TAMPERED);
    assert_refused(&shop.fetch(&url, &dest, &flags), Some(&dest));
}

#[test]
fn a_public_key_bundle_verifies_a_fetch_and_names_the_key() {
    let Some(shop) = Shop::new("a_public_key_bundle_verifies_a_fetch_and_names_the_key") else {
        return;
    };
    let url = shop.serve("/npm/sigstore-1.3.0.tgz", npm_key::ARTIFACT);
    let bundle = shop.serve("/npm/sigstore-1.3.0.attestation.json", npm_key::BUNDLE);
    let dest = shop.out("sigstore-1.3.0.tgz");
    let out = shop.fetch(
        &url,
        &dest,
        &cat(
            args(&[
                "--key",
                &shop.path(npm_key::KEY),
                "--bundle",
                &bundle,
                "--lock",
                "verun.lock",
                "--json",
            ]),
            shop.root(PRODUCTION_ROOT),
        ),
    );
    assert_exit(&out, 0);
    let want = key_signer(&shop.dir.join(npm_key::KEY));
    let sig = signature(&out);
    assert!(
        sig["signer"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(&want)),
        "signer {}, want {want}: {sig}",
        sig["signer"]
    );
    let lock = String::from_utf8(shop.env.read("verun.lock"))
        .unwrap()
        .to_lowercase();
    assert!(
        lock.contains(&format!("signer = \"{}\"", want.to_lowercase())),
        "{lock}"
    );
    // Another P-256 key, made now, does not verify it.
    let other = shop.env.write(
        "other.pem",
        rcgen::KeyPair::generate().unwrap().public_key_pem(),
    );
    let dest2 = shop.out("other.tgz");
    let out = shop.fetch(
        &url,
        &dest2,
        &cat(
            args(&["--key", &other.display().to_string(), "--bundle", &bundle]),
            shop.root(PRODUCTION_ROOT),
        ),
    );
    assert_refused(&out, None);
    assert_nothing_at(&dest2);
}

#[test]
fn an_older_signing_time_for_the_same_signer_and_url_is_refused() {
    let Some(shop) = Shop::new("an_older_signing_time_for_the_same_signer_and_url_is_refused")
    else {
        return;
    };
    let flags = cat(
        identity(staging_pair::SAN, staging_pair::ISSUER),
        shop.root(staging_pair::ROOT),
    );
    let url = shop.serve("/dl/notes.txt", staging_pair::NEWER_ARTIFACT);
    shop.serve("/dl/notes.txt.sigstore", staging_pair::NEWER_BUNDLE);
    let dest = shop.out("notes.txt");
    assert_exit(&shop.fetch(&url, &dest, &flags), 0);
    std::fs::remove_file(&dest).unwrap();
    // The host goes back to the genuinely signed, 67 seconds older file.
    shop.serve("/dl/notes.txt", staging_pair::OLDER_ARTIFACT);
    shop.serve("/dl/notes.txt.sigstore", staging_pair::OLDER_BUNDLE);
    let out = shop.fetch(&url, &dest, &flags);
    assert_refused(&out, Some(&dest));
    assert!(
        stderr(&out).contains("--allow-downgrade"),
        "refused as a rollback: {}",
        stderr(&out)
    );
    let out = shop.fetch(&url, &dest, &cat(flags, args(&["--allow-downgrade"])));
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        shop.file(staging_pair::OLDER_ARTIFACT)
    );
}

#[test]
fn verify_of_a_local_file_with_github_repo_asks_the_api() {
    let Some(shop) = Shop::new("verify_of_a_local_file_with_github_repo_asks_the_api") else {
        return;
    };
    let api = Api::new(&shop);
    let (artifact, _, path) = api.attest_reusable(&shop);
    // A copy with no bundle next to it.
    let local = shop.env.write("demo.whl", &artifact);
    let (name, base) = api.env();
    let out = shop.verun_env(
        &cat(
            args(&[
                "verify",
                &local.display().to_string(),
                "--github-repo",
                reusable::REPO,
                "--json",
            ]),
            shop.root(PRODUCTION_ROOT),
        ),
        &[(name, base.as_deref()), ("GITHUB_TOKEN", Some(TOKEN))],
    );
    assert_exit(&out, 0);
    assert_eq!(
        signature(&out)["sigstore"]["repository"],
        reusable::REPOSITORY
    );
    assert!(
        !api.requests(&path).is_empty(),
        "{:?}",
        api.server.requested_paths()
    );
}

#[test]
fn a_malformed_bundle_is_refused_and_its_text_reaches_stderr_sanitised() {
    let Some(shop) =
        Shop::new("a_malformed_bundle_is_refused_and_its_text_reaches_stderr_sanitised")
    else {
        return;
    };
    let url = shop.serve("/dl/blob.txt", cosign::ARTIFACT);
    let anchor = cat(
        identity(cosign::SAN, cosign::ISSUER),
        shop.root(PRODUCTION_ROOT),
    );
    let genuine = String::from_utf8(shop.file(cosign::BUNDLE)).unwrap();
    let bodies: Vec<(&str, Vec<u8>)> =
        vec![
        ("an HTML page", b"<html><body>Not Found</body></html>\n".to_vec()),
        ("empty", Vec::new()),
        ("truncated JSON", genuine.as_bytes()[..genuine.len() / 2].to_vec()),
        (
            "an unknown media type with escapes",
            genuine
                .replacen(
                    "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "application/vnd.dev.sigstore.bundle.v9\\u001b]8;;http://evil\\u0007x\\u202e",
                    1,
                )
                .into_bytes(),
        ),
        (
            "raw control bytes in a string",
            genuine
                .replacen(
                    "application/vnd.dev.sigstore.bundle.v0.3+json",
                    "application/vnd.dev.sigstore.bundle.v0.3+json\x1b[2J\x07",
                    1,
                )
                .into_bytes(),
        ),
        ("a JSON array", b"[1, 2, 3]".to_vec()),
    ];
    for (what, body) in bodies {
        shop.server
            .route("/dl/blob.txt.sigstore.json", Reply::bytes(&body));
        let dest = shop.out("blob.txt");
        let out = shop.fetch(&url, &dest, &anchor);
        assert!(
            out.status.code() == Some(77),
            "{what}: expected 77, got {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert_refused(&out, Some(&dest));
        assert_no_raw_controls(&out.stderr, what);
    }
    // The same garbage as the GitHub API's answer.
    let api = Api::new(&shop);
    let sha = sha256_hex(&shop.file(reusable::ARTIFACT));
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    for (what, body) in [
        ("not JSON", "\x1b[31mnot json\x07".to_string()),
        (
            "no attestations key",
            r#"{"message":"\u001b[2Jhello"}"#.to_string(),
        ),
        (
            "a bundle that is not one",
            r#"{"attestations":[{"bundle":{"mediaType":"\u001b]0;evil\u0007"}}]}"#.to_string(),
        ),
    ] {
        let reply = Reply::bytes(&body).with_header("Content-Type", "application/json");
        api.server
            .route(Api::path(reusable::REPO, &sha), reply.clone());
        api.server.route(
            Api::path(reusable::REPO, &sha).replace("sha256:", "sha256%3A"),
            reply,
        );
        let dest = shop.out("demo.whl");
        let out = fetch_via_api(
            &shop,
            &api,
            &url,
            &dest,
            &cat(
                args(&["--github-repo", reusable::REPO]),
                shop.root(PRODUCTION_ROOT),
            ),
            None,
        );
        assert!(
            out.status.code() == Some(77),
            "API answer {what}: expected 77, got {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert_refused(&out, Some(&dest));
        assert_no_raw_controls(&out.stderr, what);
    }
}

#[test]
fn a_store_github_repo_entry_looks_the_attestation_up_when_no_bundle_is_published() {
    let Some(shop) =
        Shop::new("a_store_github_repo_entry_looks_the_attestation_up_when_no_bundle_is_published")
    else {
        return;
    };
    let base = shop.server.base_url_ip();
    let out = shop.key(&[
        "add",
        "attest-demo",
        "--github-repo",
        reusable::REPO,
        "--scope",
        &format!("{base}/releases/"),
    ]);
    assert_exit(&out, 0);
    let api = Api::new(&shop);
    let (artifact, _, path) = api.attest_reusable(&shop);
    // No sibling bundle: the store entry's repository is asked.
    shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &format!("{base}/releases/demo.whl"),
        &dest,
        &args(&["--json"]),
        None,
    );
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&dest).unwrap(), artifact);
    assert!(!api.requests(&path).is_empty(), "the API was not asked");
    let sig = signature(&out);
    assert_eq!(sig["key_name"], "attest-demo", "{sig}");
    // Out of the entry's scope, nothing vouches: refused, nothing saved.
    let other = shop.serve("/elsewhere/demo.whl", reusable::ARTIFACT);
    let dest2 = shop.out("other.whl");
    let out = fetch_via_api(&shop, &api, &other, &dest2, &[], None);
    assert_refused(&out, Some(&dest2));
}

#[test]
fn audit_looks_a_locked_github_repo_entry_up_again_by_digest() {
    let Some(shop) = Shop::new("audit_looks_a_locked_github_repo_entry_up_again_by_digest") else {
        return;
    };
    let api = Api::new(&shop);
    let (_, _, path) = api.attest_reusable(&shop);
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &args(&["--github-repo", reusable::REPO, "--lock", "verun.lock"]),
        None,
    );
    assert_exit(&out, 0);
    let lock = String::from_utf8(shop.env.read("verun.lock")).unwrap();
    let signer = format!("sigstore:{GHA_ISSUER}|repo:{}", reusable::REPO);
    assert!(lock.contains(&format!("signer = \"{signer}\"")), "{lock}");
    let asked = api.requests(&path).len();
    // audit: no bundle next to the URL, so the repository's attestations are asked again.
    let (name, base) = api.env();
    let audit = |shop: &Shop| {
        shop.verun_env(
            &args(&["audit", "verun.lock"]),
            &[(name, base.as_deref()), ("GITHUB_TOKEN", None)],
        )
    };
    let out = audit(&shop);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("Sigstore attestation"),
        "{}",
        stdout(&out)
    );
    assert!(
        api.requests(&path).len() > asked,
        "audit did not ask the API"
    );
    // The attestation is withdrawn (or the API answers another one): a signature failure.
    api.server.route(&path, Reply::status(404));
    api.server
        .route(path.replace("sha256:", "sha256%3A"), Reply::status(404));
    let out = audit(&shop);
    assert_exit(&out, 77);
    assert!(
        stdout(&out).contains("no Sigstore attestation"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn oversized_nested_or_crowded_bundles_are_refused_and_nothing_is_saved() {
    let Some(shop) =
        Shop::new("oversized_nested_or_crowded_bundles_are_refused_and_nothing_is_saved")
    else {
        return;
    };
    let url = shop.serve("/dl/blob.txt", cosign::ARTIFACT);
    let anchor = cat(
        identity(cosign::SAN, cosign::ISSUER),
        shop.root(PRODUCTION_ROOT),
    );
    // Over the 1 MiB cap (a genuine bundle padded with spaces): a download failure, 69.
    let mut huge = shop.file(cosign::BUNDLE);
    huge.resize(1024 * 1024 + 1, b' ');
    shop.server
        .route("/dl/blob.txt.sigstore.json", Reply::bytes(&huge));
    let dest = shop.out("blob.txt");
    let out = shop.fetch(&url, &dest, &anchor);
    assert_exit(&out, 69);
    assert!(stderr(&out).contains("limit"), "{}", stderr(&out));
    assert_no_file(&dest);
    // Nested deeper than the JSON parser goes, and more attestations than the cap: 77.
    let nested = format!("{}{}", "{\"a\":[".repeat(200), "]}".repeat(200));
    let genuine = bundle_json(&shop.dir.join(cosign::BUNDLE));
    let crowd: Vec<Value> = (0..33).map(|_| json!({ "bundle": genuine })).collect();
    let crowded = json!({ "attestations": crowd }).to_string();
    for (what, body) in [("nested", nested), ("33 attestations", crowded)] {
        shop.server
            .route("/dl/blob.txt.sigstore.json", Reply::bytes(body.as_bytes()));
        let out = shop.fetch(&url, &dest, &anchor);
        assert!(
            out.status.code() == Some(77),
            "{what}: expected 77, got {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert_no_file(&dest);
    }
}

#[test]
fn the_token_does_not_follow_the_api_to_another_origin() {
    let Some(shop) = Shop::new("the_token_does_not_follow_the_api_to_another_origin") else {
        return;
    };
    let api = Api::new(&shop);
    let artifact = shop.file(reusable::ARTIFACT);
    let sha = sha256_hex(&artifact);
    // The API redirects to the download host, which serves the attestations.
    let answer =
        json!({ "attestations": [{ "bundle": bundle_json(&shop.dir.join(reusable::BUNDLE)) }] })
            .to_string();
    shop.server
        .route("/moved/attestations.json", Reply::bytes(answer.as_bytes()));
    let elsewhere = shop.server.url("/moved/attestations.json");
    let path = Api::path(reusable::REPO, &sha);
    api.server
        .route(&path, Reply::redirect(302, elsewhere.clone()));
    api.server.route(
        path.replace("sha256:", "sha256%3A"),
        Reply::redirect(302, elsewhere),
    );
    let url = shop.serve("/releases/demo.whl", reusable::ARTIFACT);
    let dest = shop.out("demo.whl");
    let out = fetch_via_api(
        &shop,
        &api,
        &url,
        &dest,
        &cat(
            args(&["--github-repo", reusable::REPO]),
            shop.root(PRODUCTION_ROOT),
        ),
        Some(TOKEN),
    );
    assert_exit(&out, 0);
    assert!(!api.requests(&path).is_empty(), "the API was not asked");
    for r in &api.requests(&path) {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    let moved = shop.server.requests_to("/moved/attestations.json");
    assert!(!moved.is_empty(), "the redirect was not followed");
    for r in shop.server.requests() {
        assert!(
            r.header("authorization").is_none() && !format!("{r:?}").contains(TOKEN),
            "the token followed the redirect to another origin: {r:?}"
        );
    }
}
