//! The hostile-server suite: verun against servers and local processes that attack it.
//!
//! verun exists to be pointed at download hosts that may be compromised, so its behaviour
//! under attack is shown here rather than assumed. Each scenario drives the real binary
//! against a loopback [`TestServer`] that misbehaves on purpose and asserts, as
//! `SECURITY.md` promises:
//!
//! - the documented exit code (SPEC "Exit status");
//! - that the payload did not run (a marker file it would have written is absent), or, when
//!   it ran, that the bytes that ran hash to the verified SHA-256;
//! - that nothing is left at `-o PATH` (and no `.verun-*.partial` next to it);
//! - bounded memory: the peak RSS of the verun process (`/usr/bin/time -f %M`, or `VmHWM`
//!   polled from `/proc/PID/status` when `time` is absent) stays under [`RSS_LIMIT_KIB`]
//!   while the server streams far more than that;
//! - a deadline: every scenario ends well within its bound, most within seconds.
//!
//! On top of that, every verun run here is checked for terminal hygiene: its stderr holds
//! no raw control or invisible character (`common::raw_controls`: C0 but newline and tab,
//! DEL, C1, format characters) and no line longer than [`MAX_STDERR_LINE`] characters.
//!
//! The "local attacks" at the end race a writer against `run`'s sealed memfd (TOCTOU),
//! kill verun with SIGKILL in the middle of `fetch -o` and of `key add`, and plant symlinks
//! in `VERUN_HOME`.

#[path = "../common/mod.rs"]
mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use blake2::{Blake2b512, Digest as _};
use common::*;
use ed25519_dalek::{Signer as _, SigningKey};

/// Peak resident memory allowed to verun in any scenario (64 MiB).
const RSS_LIMIT_KIB: u64 = 64 * 1024;
/// Longest stderr line verun may print (untrusted text is cut at 400 characters).
const MAX_STDERR_LINE: usize = 1000;
/// Deadline for scenarios that must fail fast (refusals, caps, redirect loops).
const QUICK: Duration = Duration::from_secs(10);

// --- measuring ------------------------------------------------------------------------------

/// One verun run: what it printed, how long it took and its peak RSS.
struct Measured {
    output: Output,
    elapsed: Duration,
    /// Peak RSS in KiB; `None` where it cannot be measured (no `time`, no `/proc`).
    peak_rss_kib: Option<u64>,
}

impl Measured {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    fn stderr(&self) -> String {
        stderr(&self.output)
    }
}

fn gnu_time() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let p = PathBuf::from("/usr/bin/time");
            let ok = p.is_file()
                && Command::new(&p)
                    .args(["-f", "%M", "true"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "note: /usr/bin/time (apt package `time`) is absent: peak RSS is sampled \
                     from /proc/PID/status VmHWM instead"
                );
            }
            ok.then_some(p)
        })
        .as_deref()
}

/// Runs verun with `args` in `env`, measuring time and peak RSS; panics (after killing it)
/// if it outlives `limit`. Checks stderr hygiene.
fn measure(env: &TestEnv, args: &[String], limit: Duration) -> Measured {
    let start = Instant::now();
    let (output, peak) = match gnu_time() {
        Some(time) => {
            let rss_file = env.root().join(format!(
                "rss-{}-{}.txt",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            ));
            let mut cmd = env.command(time);
            cmd.arg("-f").arg("%M").arg("-o").arg(&rss_file);
            cmd.args(verun_argv()).args(args);
            let output = run_with_timeout(&mut cmd, limit);
            let peak = fs::read_to_string(&rss_file)
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()));
            (output, peak)
        }
        None => run_polling_hwm(env, args, limit),
    };
    let m = Measured {
        output,
        elapsed: start.elapsed(),
        peak_rss_kib: peak,
    };
    assert_clean_stderr(&m.output.stderr, args);
    m
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Fallback without `time`: spawn verun directly and poll `VmHWM` (the high-water mark, so
/// a poll after the peak still sees it).
fn run_polling_hwm(env: &TestEnv, args: &[String], limit: Duration) -> (Output, Option<u64>) {
    let out_dir = env
        .root()
        .join(format!("poll-{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
    fs::create_dir_all(&out_dir).unwrap();
    let so = fs::File::create(out_dir.join("stdout")).unwrap();
    let se = fs::File::create(out_dir.join("stderr")).unwrap();
    let mut child = env
        .verun_cmd(args)
        .stdout(so)
        .stderr(se)
        .spawn()
        .expect("spawn verun");
    let status_path = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + limit;
    let mut peak = None;
    let status = loop {
        if let Some(kib) = fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak = Some(peak.unwrap_or(0).max(kib));
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("verun {args:?} still running after {limit:?}; killed it");
        }
        thread::sleep(Duration::from_millis(2));
    };
    let output = Output {
        status,
        stdout: fs::read(out_dir.join("stdout")).unwrap_or_default(),
        stderr: fs::read(out_dir.join("stderr")).unwrap_or_default(),
    };
    (output, peak)
}

fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// No raw control or invisible character (`common::raw_controls`: C0 but `\n` and `\t`,
/// DEL, C1, format characters) and no overlong line on verun's stderr, whatever the server
/// sent. No payload of this suite writes to stderr, so all of it is verun's.
#[track_caller]
fn assert_clean_stderr(stderr: &[u8], args: &[String]) {
    assert_no_raw_controls(stderr, &format!("{args:?}"));
    for line in String::from_utf8_lossy(stderr).lines() {
        assert!(
            line.chars().count() <= MAX_STDERR_LINE,
            "stderr line of {} characters for {args:?}: {}…",
            line.chars().count(),
            line.chars().take(200).collect::<String>()
        );
    }
}

/// Asserts the resource bounds of a run: within `deadline`, under [`RSS_LIMIT_KIB`].
#[track_caller]
fn assert_bounded(m: &Measured, deadline: Duration) {
    assert!(
        m.elapsed <= deadline,
        "took {:?}, deadline {deadline:?}\n{}",
        m.elapsed,
        m.stderr()
    );
    if let Some(kib) = m.peak_rss_kib {
        assert!(
            kib < RSS_LIMIT_KIB,
            "peak RSS {kib} KiB exceeds {RSS_LIMIT_KIB} KiB\n{}",
            m.stderr()
        );
    }
}

/// The full refusal contract: exit `code`, within `deadline` and the memory bound, the
/// payload behind `marker` did not run, nothing at `output` and no partial file beside it.
#[track_caller]
fn assert_refused(
    m: &Measured,
    code: i32,
    marker: &Path,
    output: Option<&Path>,
    deadline: Duration,
) {
    assert_exit(&m.output, code);
    assert_not_ran(marker);
    if let Some(out) = output {
        assert_no_file(out);
        assert_no_partials(out.parent().unwrap());
    }
    assert_bounded(m, deadline);
}

#[track_caller]
fn assert_no_partials(dir: &Path) {
    let partial: Vec<String> = leftover_files(dir)
        .into_iter()
        .filter(|n| n.starts_with(".verun-"))
        .collect();
    assert!(
        partial.is_empty(),
        "partial files left in {}: {partial:?}",
        dir.display()
    );
}

fn rss_note(m: &Measured) -> String {
    match m.peak_rss_kib {
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "unmeasured".into(),
    }
}

// --- scenes -----------------------------------------------------------------------------------

/// A sandbox, a server, a publisher key, and the flags that make verun trust them.
struct Scene {
    env: TestEnv,
    server: TestServer,
    key: TestKey,
}

impl Scene {
    /// HTTPS with a throw-away CA passed as `--cacert`.
    fn https() -> Scene {
        Scene {
            env: TestEnv::new(),
            server: TestServer::https(),
            key: TestKey::generate(),
        }
    }

    /// Plain HTTP (with `--allow-http`): for the scenarios that stream GiBs, where TLS in a
    /// debug build would only slow the test down.
    fn http() -> Scene {
        Scene {
            env: TestEnv::new(),
            server: TestServer::http(),
            key: TestKey::generate(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// `--cacert`/`--allow-http` and `--key`.
    fn trust(&self) -> Vec<String> {
        let mut v = match self.server.scheme() {
            "https" => vec![
                "--cacert".to_string(),
                self.server.ca_pem_path().display().to_string(),
            ],
            _ => vec!["--allow-http".to_string()],
        };
        v.push("--key".into());
        v.push(self.key.public_key_base64());
        v
    }

    /// `verun run URL <trust> EXTRA`.
    fn run(&self, path: &str, extra: &[&str], limit: Duration) -> Measured {
        let mut args = vec!["run".to_string(), self.url(path)];
        args.extend(self.trust());
        args.extend(extra.iter().map(|s| s.to_string()));
        measure(&self.env, &args, limit)
    }

    /// `verun fetch URL -o OUT <trust> EXTRA`.
    fn fetch(&self, path: &str, out: &Path, extra: &[&str], limit: Duration) -> Measured {
        let mut args = vec![
            "fetch".to_string(),
            self.url(path),
            "-o".into(),
            out.display().to_string(),
        ];
        args.extend(self.trust());
        args.extend(extra.iter().map(|s| s.to_string()));
        measure(&self.env, &args, limit)
    }

    /// A marker script named `name` (signed by `self.key` as `file_name`) served at `path`,
    /// its signature at `path.minisig`; returns the script and its marker.
    fn publish_marker(&self, path: &str, name: &str) -> (Vec<u8>, PathBuf) {
        let (script, marker) = marker_script(&self.env, name);
        publish_signed(&self.server, &self.key, path, &script);
        (script, marker)
    }

    /// Signs `data` as `path`'s last segment and serves the signature at `path.minisig`.
    fn serve_signature_of(&self, path: &str, data: &[u8]) {
        let name = path.rsplit('/').next().unwrap();
        self.server.route(
            format!("{path}.minisig"),
            Reply::bytes(self.key.sign(data, name)),
        );
    }
}

/// A script that writes the SHA-256 of the file it was run from (`$0`, which under verun is
/// `/proc/self/fd/N` of the sealed memfd) to a marker: what ran, by hash.
fn hashing_script(env: &TestEnv, name: &str, pad: &str) -> (Vec<u8>, PathBuf) {
    let marker = env.root().join("markers").join(format!("{name}.ran"));
    let script = format!(
        "#!/bin/sh\n# {pad}\nsha256sum \"$0\" | cut -c1-64 > '{}'\n",
        marker.display()
    );
    (script.into_bytes(), marker)
}

/// The hash a [`hashing_script`] recorded.
fn recorded_hash(marker: &Path) -> String {
    fs::read_to_string(marker)
        .unwrap_or_else(|e| panic!("the payload did not run: {} ({e})", marker.display()))
        .trim()
        .to_string()
}

// The scenarios, by kind of attack.
mod bodies;
mod local;
mod redirects;
mod signatures;
mod terminal;
