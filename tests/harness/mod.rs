//! The table-driven harness shared by `run.rs`, `fetch.rs`, `verify_cmd.rs`, `interop.rs`
//! and `vectors.rs`.
//!
//! A [`Case`] is a name, the exit code SPEC.md promises, and a setup function that serves
//! what the case needs on the loopback servers of a [`Ctx`] and returns the URL and flags.
//! [`run_matrix`] drives the real binary once per case and per [`Mode`] — `verun run` and
//! `verun fetch -o PATH` see exactly the same evidence — and after every refusal checks
//! what SPEC.md promises for every failed call: the documented exit code, an error on
//! stderr, nothing executed (the payload's marker file is absent, nothing on stdout) and
//! nothing left at `-o PATH` (no file, no `.verun-*.partial` next to it). All cases run
//! even when one fails; the test then fails listing every broken case.
//!
//! Needs `mod common;` next to `mod harness;` in the test crate.

#![allow(dead_code)]

use std::fs;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;

/// How long one verun call in a matrix may take before the harness kills it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The file name every matrix payload is served under (`/<slug>/x.sh`).
pub const PAYLOAD: &str = "x.sh";

/// One sandbox, three loopback servers and two keys, shared by the cases of one test.
pub struct Ctx {
    /// The sandbox (`VERUN_HOME`, work dir, markers).
    pub env: TestEnv,
    /// The CA behind both HTTPS servers.
    pub ca: Arc<TestCa>,
    /// The payload's origin: `https://localhost:P1`.
    pub https: TestServer,
    /// Another origin under the same CA: `https://localhost:P2`.
    pub other: TestServer,
    /// A plain-HTTP origin: `http://127.0.0.1:P3`.
    pub http: TestServer,
    /// The publisher's key (the one passed with `--key`).
    pub key: TestKey,
    /// Another key, trusted by nobody unless a case says so.
    pub key2: TestKey,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

impl Ctx {
    /// A fresh context.
    pub fn new() -> Ctx {
        let ca = TestCa::new();
        Ctx {
            env: TestEnv::new(),
            https: TestServer::https_with_ca(&ca),
            other: TestServer::https_with_ca(&ca),
            http: TestServer::http(),
            ca,
            key: TestKey::generate(),
            key2: TestKey::generate(),
        }
    }

    /// `--cacert <test CA>`.
    pub fn cacert(&self) -> Vec<String> {
        vec!["--cacert".into(), self.ca.pem_path().display().to_string()]
    }

    /// `--key <key, base64>`.
    pub fn key_arg(&self) -> Vec<String> {
        vec!["--key".into(), self.key.public_key_base64()]
    }

    /// `--cacert <test CA> --key <key>`: what most good cases pass.
    pub fn trusting(&self) -> Vec<String> {
        let mut v = self.cacert();
        v.extend(self.key_arg());
        v
    }

    /// `/<slug>/<name>`.
    pub fn path(slug: &str, name: &str) -> String {
        format!("/{slug}/{name}")
    }

    /// A marker script for `slug` (see [`marker_script`]).
    pub fn script(&self, slug: &str) -> (Vec<u8>, PathBuf) {
        marker_script(&self.env, slug)
    }

    /// A marker script served at `https:/<slug>/x.sh` with `key`'s good signature next to
    /// it; returns (URL, payload, marker).
    pub fn signed_script(&self, slug: &str) -> (String, Vec<u8>, PathBuf) {
        let (payload, marker) = self.script(slug);
        let url = publish_signed(&self.https, &self.key, &Ctx::path(slug, PAYLOAD), &payload);
        (url, payload, marker)
    }

    /// Serves `body` at `path` on `server`; returns its URL.
    pub fn serve(server: &TestServer, path: &str, reply: Reply) -> String {
        server.route(path, reply);
        server.url(path)
    }
}

/// What one case serves and passes.
pub struct Setup {
    /// The URL given to `run` / `fetch`.
    pub url: String,
    /// Flags after the URL.
    pub args: Vec<String>,
    /// Extra environment variables for verun.
    pub env: Vec<(String, String)>,
    /// The bytes a successful `fetch -o` must save.
    pub payload: Vec<u8>,
    /// The marker the payload writes when it runs.
    pub marker: PathBuf,
    /// Text stderr must contain.
    pub stderr_has: Vec<String>,
    /// The call must end within this time (timeouts).
    pub within: Option<Duration>,
    /// Servers that must live until the call is over.
    pub keep: Vec<TestServer>,
}

impl Setup {
    /// A setup for `url` serving `payload` whose marker is `marker`.
    pub fn new(url: impl Into<String>, payload: Vec<u8>, marker: PathBuf) -> Setup {
        Setup {
            url: url.into(),
            args: Vec::new(),
            env: Vec::new(),
            payload,
            marker,
            stderr_has: Vec::new(),
            within: None,
            keep: Vec::new(),
        }
    }

    /// Adds flags.
    pub fn args<I, S>(mut self, args: I) -> Setup
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Setup {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Requires `text` on stderr.
    pub fn stderr_has(mut self, text: &str) -> Setup {
        self.stderr_has.push(text.into());
        self
    }

    /// Requires the call to end within `d`.
    pub fn within(mut self, d: Duration) -> Setup {
        self.within = Some(d);
        self
    }

    /// Keeps `server` alive for the call.
    pub fn keep(mut self, server: TestServer) -> Setup {
        self.keep.push(server);
        self
    }
}

/// A named case: setup and the exit code SPEC.md promises.
pub struct Case {
    /// Unique within its table; used in paths and marker names.
    pub name: &'static str,
    /// The documented exit code.
    pub expect: i32,
    /// Serves what the case needs; gets the context and a unique slug.
    pub setup: fn(&Ctx, &str) -> Setup,
}

/// Which command a case is driven through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `verun run URL ...`
    Run,
    /// `verun fetch URL -o PATH ...`
    Fetch,
}

/// Both commands.
pub const BOTH: &[Mode] = &[Mode::Run, Mode::Fetch];

/// Runs every case in every mode; fails listing all broken cases.
pub fn run_matrix(ctx: &Ctx, cases: &[Case], modes: &[Mode]) {
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names must be unique");
    let mut failures = Vec::new();
    for case in cases {
        for &mode in modes {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| check(ctx, case, mode)));
            if let Err(panic) = result {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                failures.push(format!("=== {} ({mode:?}) ===\n{msg}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case runs failed:\n{}",
        failures.len(),
        cases.len() * modes.len(),
        failures.join("\n")
    );
}

fn check(ctx: &Ctx, case: &Case, mode: Mode) {
    let slug = format!(
        "{}-{}",
        case.name.replace('_', "-"),
        match mode {
            Mode::Run => "run",
            Mode::Fetch => "fetch",
        }
    );
    let setup = (case.setup)(ctx, &slug);
    let out_dir = ctx.env.path(format!("out-{slug}"));
    fs::create_dir_all(&out_dir).expect("create -o directory");
    let out_path = out_dir.join("saved");
    let mut argv: Vec<String> = match mode {
        Mode::Run => vec!["run".into(), setup.url.clone()],
        Mode::Fetch => vec![
            "fetch".into(),
            setup.url.clone(),
            "-o".into(),
            out_path.display().to_string(),
        ],
    };
    argv.extend(setup.args.iter().cloned());
    let mut cmd = ctx.env.verun_cmd(&argv);
    for (k, v) in &setup.env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = run_with_timeout(&mut cmd, CALL_TIMEOUT);
    let took = started.elapsed();
    let context = format!("verun {}", argv.join(" "));
    if case.expect == 0 {
        assert_exit(&out, 0);
        match mode {
            Mode::Run => {
                assert_ran(&setup.marker);
                assert!(
                    stdout(&out).contains("verun-test-payload"),
                    "{context}: the payload's output is missing from stdout"
                );
            }
            Mode::Fetch => {
                assert_not_ran(&setup.marker);
                let saved = fs::read(&out_path)
                    .unwrap_or_else(|e| panic!("{context}: nothing saved at -o: {e}"));
                assert!(
                    saved == setup.payload,
                    "{context}: the saved file differs from the served payload"
                );
                assert_dir_holds(&out_dir, &["saved"]);
            }
        }
    } else {
        assert_refused(&ctx.env, &out, case.expect, &setup.marker);
        if mode == Mode::Fetch {
            assert_nothing_at(&out_path);
        }
    }
    for needle in &setup.stderr_has {
        assert!(
            stderr(&out).contains(needle.as_str()),
            "{context}: stderr lacks {needle:?}:\n{}",
            stderr(&out)
        );
    }
    if let Some(limit) = setup.within {
        assert!(
            took <= limit,
            "{context}: took {took:?}, more than {limit:?}"
        );
    }
    drop(setup.keep);
}

/// After a refusal: the documented code, an error on stderr, nothing ran (marker absent,
/// nothing of the payload on stdout), and no payload copy left in `TMPDIR`.
#[track_caller]
pub fn assert_refused(env: &TestEnv, out: &Output, code: i32, marker: &Path) {
    assert_exit(out, code);
    assert_not_ran(marker);
    assert!(
        !stdout(out).contains("verun-test-payload"),
        "the payload's output reached stdout:\n{}",
        stdout(out)
    );
    assert!(
        stderr(out).contains("error"),
        "a refusal must say why on stderr:\n{}",
        stderr(out)
    );
    let left: Vec<String> = leftover_files(env.tmp())
        .into_iter()
        .filter(|n| n.contains("verun"))
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

/// Nothing at `path`, and no `.verun-*.partial` (or anything else verun made) next to it.
#[track_caller]
pub fn assert_nothing_at(path: &Path) {
    assert_no_file(path);
    let dir = path.parent().expect("-o has a parent");
    let partial: Vec<String> = leftover_files(dir)
        .into_iter()
        .filter(|n| n.starts_with(".verun-") || n.ends_with(".partial"))
        .collect();
    assert!(
        partial.is_empty(),
        "partial files left next to {}: {partial:?}",
        path.display()
    );
}

/// The JSON object on stdout (exactly one line holding one object).
#[track_caller]
pub fn json_stdout(out: &Output) -> serde_json::Value {
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "--json must print exactly one line on stdout, got:\n{text}"
    );
    let v: serde_json::Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"));
    assert!(v.is_object(), "--json must print an object: {v}");
    v
}

/// `data` with the byte at `at` XOR-ed with `mask`.
pub fn flip(data: &[u8], at: usize, mask: u8) -> Vec<u8> {
    let mut d = data.to_vec();
    d[at] ^= mask;
    d
}
