//! The verun demo: no internet needed.
//!
//! `cargo run --example quickstart` builds verun, generates a minisign key pair and a test
//! certificate authority, serves a signed install script over HTTPS on 127.0.0.1, and then:
//!
//! 1. runs it with `verun run URL --key RW...` (it runs, and its output is shown);
//! 2. serves a tampered copy under the same signature (refused with exit 77, nothing runs);
//! 3. pins the digest instead of a key with `--sha256` (the same tampering is refused).
//!
//! The loopback server, the test CA and the independent minisign signer are the ones the
//! integration tests use (`tests/common/`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use common::server::{Reply, TestServer};
use common::sign::TestKey;
use sha2::{Digest, Sha256};

const SCRIPT: &str = r#"#!/bin/sh
# A typical installer: it would download and install a tool.
echo "  [payload] hello from a verified install script"
echo "  [payload] my arguments: $*"
echo "  [payload] GITHUB_TOKEN is ${GITHUB_TOKEN:-not visible to me}"
"#;

fn main() -> ExitCode {
    let verun = match build_verun() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::https();
    let key = TestKey::generate();
    let sig = key.sign(SCRIPT.as_bytes(), "install.sh");
    server.route("/install.sh", Reply::bytes(SCRIPT));
    server.route("/install.sh.minisig", Reply::bytes(sig.clone()));
    let url = server.url("/install.sh");
    let ca = server.ca_pem_path().to_path_buf();
    let pubkey = key.public_key_base64();
    let sha = hex(&Sha256::digest(SCRIPT.as_bytes()));

    let verun_cmd = |args: &[&str]| {
        let mut c = Command::new(&verun);
        c.args(args)
            .arg("--cacert")
            .arg(&ca)
            .env("VERUN_HOME", dir.path())
            .env("GITHUB_TOKEN", "ghp_demo_secret");
        c
    };
    let show = |title: &str, shell: &str| {
        println!("\n== {title}\n$ {shell}");
    };

    show(
        "1. the genuine script, verified with the publisher's key, secrets scrubbed",
        &format!("verun run {url} --key {pubkey} --env-clean -- --demo"),
    );
    let s1 = verun_cmd(&["run", &url, "--key", &pubkey, "--env-clean"])
        .args(["--", "--demo"])
        .status()
        .expect("run verun");
    println!("-> exit status {}", s1.code().unwrap_or(-1));

    // The download host is compromised: same URL, same signature, different bytes.
    let evil = SCRIPT.replace(
        "echo \"  [payload] hello",
        "echo \"  [payload] EVIL: sending your environment away\"\necho \"  [payload] hello",
    );
    server.route("/install.sh", Reply::bytes(evil));
    show(
        "2. the host now serves a tampered script (signature unchanged)",
        &format!("verun run {url} --key {pubkey}"),
    );
    let s2 = verun_cmd(&["run", &url, "--key", &pubkey])
        .status()
        .expect("run verun");
    println!(
        "-> exit status {} (77 = refused; the tampered script did not run)",
        s2.code().unwrap_or(-1)
    );

    show(
        "3. no key at hand: pin the digest published elsewhere",
        &format!("verun run {url} --sha256 {sha}"),
    );
    let s3 = verun_cmd(&["run", &url, "--sha256", &sha])
        .status()
        .expect("run verun");
    println!("-> exit status {}", s3.code().unwrap_or(-1));

    let ok = s1.code() == Some(0) && s2.code() == Some(77) && s3.code() == Some(77);
    println!(
        "\nquickstart: {}",
        if ok {
            "genuine bytes ran, tampered bytes were refused both times"
        } else {
            "UNEXPECTED RESULT (see above)"
        }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Build the `verun` binary next to this example (same profile) and return its path.
fn build_verun() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/quickstart -> target/<profile>/verun
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or("cannot locate the target directory")?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "--bin", "verun"]);
    if release {
        build.arg("--release");
    }
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --bin verun failed".into());
    }
    Ok(profile_dir.join("verun"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
