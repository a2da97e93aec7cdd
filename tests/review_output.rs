//! What verun prints, and what a payload can read about verun: the findings of the outside
//! review (issue 11) on output and secrets.
//!
//! - `--env-clean` secrets must not be readable through `/proc/<verun>/environ` once the
//!   payload runs (verun re-executes itself with the payload's environment first), and the
//!   internal mode it re-executes into runs nothing but a sealed memfd with the verified
//!   digest;
//! - every line verun prints is sanitised (control and invisible format characters become
//!   `\u{..}` escapes), is one line, and is capped;
//! - `--show` shows what runs as a script as a script.

mod common;
mod harness;

use std::fs;
use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use harness::*;

/// The internal mode's first argument (`src/exec.rs`, `SEALED_MODE`).
const SEALED_MODE: &str = "__verun-run-sealed-memfd";

/// Serves `payload` at `https:/<slug>/<file>` with a good signature; returns
/// `run URL --cacert CA --key KEY`.
fn publish(c: &Ctx, slug: &str, file: &str, payload: &[u8]) -> Vec<String> {
    let url = publish_signed(&c.https, &c.key, &Ctx::path(slug, file), payload);
    let mut v = vec!["run".to_string(), url];
    v.extend(c.trusting());
    v
}

fn with(base: &[String], extra: &[&str]) -> Vec<String> {
    let mut v = base.to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

/// Every line of stderr: at most `max` characters, and no raw control character.
#[track_caller]
fn assert_short_clean_lines(out: &Output, max: usize, what: &str) {
    assert_no_raw_controls(&out.stderr, what);
    for line in stderr(out).lines() {
        assert!(
            line.chars().count() <= max,
            "{what}: a stderr line of {} characters: {}…",
            line.chars().count(),
            line.chars().take(200).collect::<String>()
        );
    }
}

// --- item 6: --env-clean secrets and /proc ---------------------------------------------------

/// A payload that walks from its parent up to pid 1 and, for each ancestor, prints
/// `ancestor PID COMM readable=yes|no secret=yes|no canary=yes|no`, reading
/// `/proc/PID/environ` (which root may read even from a non-dumpable process) and
/// `/proc/PID/cmdline`.
const WALKER: &str = r#"#!/bin/sh
pid=$PPID
while [ "$pid" -gt 1 ]; do
  comm=$(cat /proc/$pid/comm 2>/dev/null)
  if env=$(tr '\0' '\n' < /proc/$pid/environ 2>/dev/null); then readable=yes; else readable=no; fi
  args=$(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null)
  case "$env$args" in *hunter2-review-secret*) secret=yes ;; *) secret=no ;; esac
  case "$env" in *LANG=C.review-canary*) canary=yes ;; *) canary=no ;; esac
  echo "ancestor $pid $comm readable=$readable secret=$secret canary=$canary"
  pid=$(sed 's/^.*) //' /proc/$pid/stat | cut -d' ' -f2)
done
"#;

fn walk(c: &Ctx, base: &[String], extra: &[&str]) -> (Output, Vec<String>) {
    let mut cmd = c.env.verun_cmd(with(base, extra));
    cmd.env("REVIEW_SECRET_TOKEN", "hunter2-review-secret")
        .env("LANG", "C.review-canary");
    let out = run_with_timeout(&mut cmd, CALL_TIMEOUT);
    assert_exit(&out, 0);
    let lines = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("ancestor "))
        .map(str::to_string)
        .collect();
    (out, lines)
}

#[test]
fn env_clean_secrets_are_not_readable_from_any_ancestors_environ() {
    if !is_root() {
        eprintln!(
            "SKIPPED env_clean_secrets_are_not_readable_from_any_ancestors_environ: needs root \
             (only root reads a non-dumpable verun's /proc/PID/environ)"
        );
        return;
    }
    let c = Ctx::new();
    let base = publish(&c, "walk", PAYLOAD, WALKER.as_bytes());

    // The control: without --env-clean, the walk finds the secret in verun's environ (and
    // the payload's own environment has it too: nothing is hidden there, as documented).
    let (_, lines) = walk(&c, &base, &[]);
    assert!(
        lines
            .first()
            .is_some_and(|l| l.contains("readable=yes") && l.contains("secret=yes")),
        "the walk must see the secret in verun's environ without --env-clean: {lines:?}"
    );

    let (out, lines) = walk(&c, &base, &["--env-clean"]);
    assert!(
        !lines.is_empty(),
        "the walk printed nothing: {}",
        stdout(&out)
    );
    let parent = &lines[0];
    assert!(
        parent.contains(" verun ") && parent.contains("readable=yes"),
        "the payload's parent must be verun (comm `verun`), its environ readable: {lines:?}"
    );
    assert!(
        parent.contains("canary=yes"),
        "verun's environ must hold the payload's environment (LANG kept): {lines:?}"
    );
    for line in &lines {
        assert!(
            line.contains("secret=no"),
            "a secret set for verun is readable through /proc by the payload: {line}\n{lines:?}"
        );
    }
    let verun_ancestors = lines.iter().filter(|l| l.contains(" verun ")).count();
    assert_eq!(verun_ancestors, 1, "{lines:?}");
}

#[test]
fn env_clean_run_keeps_exit_status_signals_arguments_and_binaries() {
    let c = Ctx::new();
    // Exit status and 128+N, as without --env-clean.
    for (tail, code) in [
        ("exit 3", 3),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let name = format!("clean{code}");
        let (p, marker) = marker_script_with(&c.env, &name, tail);
        let mut args = publish(&c, &name, PAYLOAD, &p);
        args.extend(["--env-clean", "--", "a b", "", "-x"].map(String::from));
        let out = c.env.verun(&args);
        assert_exit(&out, code);
        assert_eq!(assert_ran(&marker), vec!["a b", "", "-x"]);
    }
    // An ELF binary with its arguments.
    let echo = fs::read("/bin/echo").expect("/bin/echo");
    let args = publish(&c, "cleanelf", "echo", &echo);
    let out = c
        .env
        .verun(with(&args, &["--env-clean", "--", "hello", "--not-a-flag"]));
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "hello --not-a-flag\n");
    // `#!` with one argument, and --interpreter.
    let (p, marker) = marker_script(&c.env, "cleanenvsh");
    let p = String::from_utf8(p)
        .unwrap()
        .replacen("#!/bin/sh", "#!/usr/bin/env sh", 1);
    let args = publish(&c, "cleanenvsh", PAYLOAD, p.as_bytes());
    let out = c.env.verun(with(&args, &["--env-clean"]));
    assert_exit(&out, 0);
    assert_ran(&marker);
    let (p, marker) = marker_script(&c.env, "cleaninterp");
    let p = String::from_utf8(p)
        .unwrap()
        .replacen("#!/bin/sh", "#!/nonexistent/sh", 1);
    let args = publish(&c, "cleaninterp", PAYLOAD, p.as_bytes());
    let out = c.env.verun(with(&args, &["--env-clean"]));
    assert_refused(&c.env, &out, 74, &marker);
    assert!(stderr(&out).contains("the script asks for /nonexistent/sh"));
    let out = c.env.verun(with(
        &args,
        &["--env-clean", "--interpreter", "/bin/sh", "--", "one"],
    ));
    assert_exit(&out, 0);
    assert_eq!(assert_ran(&marker), vec!["one"]);
}

/// SIGTERM sent to verun (the process the caller started, which re-executed itself) is
/// forwarded to the payload, whose own exit status then becomes verun's.
#[test]
fn env_clean_forwards_sigterm_to_the_payload() {
    let c = Ctx::new();
    let ready = c.env.root().join("markers/ready");
    let got = c.env.root().join("markers/got-term");
    let script = format!(
        "#!/bin/sh\ntrap 'echo term > {got}; exit 7' TERM\necho ready > {ready}\n\
         i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\nexit 1\n",
        got = got.display(),
        ready = ready.display()
    );
    let args = publish(&c, "fwd", PAYLOAD, script.as_bytes());
    let mut child = c
        .env
        .verun_cmd(with(&args, &["--env-clean"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn verun");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the payload never started");
        thread::sleep(Duration::from_millis(10));
    }
    // The process the caller started is still verun, under its own name.
    let comm = fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap_or_default();
    assert_eq!(comm.trim(), "verun");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("verun did not end after SIGTERM");
        }
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(7), "{status:?}");
    assert_eq!(fs::read_to_string(&got).unwrap_or_default(), "term\n");
}

/// A memfd holding `data`, sealed with `seals`, its descriptor inheritable.
fn memfd(data: &[u8], seals: rustix::fs::SealFlags) -> fs::File {
    use rustix::fs::{MemfdFlags, fcntl_add_seals, memfd_create};
    let fd = memfd_create("review", MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .expect("memfd_create");
    let mut f = fs::File::from(fd);
    f.write_all(data).unwrap();
    if !seals.is_empty() {
        fcntl_add_seals(&f, seals).expect("seal");
    }
    inheritable(&f);
    f
}

fn inheritable(f: &fs::File) {
    rustix::io::fcntl_setfd(f, rustix::io::FdFlags::empty()).expect("clear FD_CLOEXEC");
}

fn sealed_mode(env: &TestEnv, args: &[String]) -> Output {
    let mut cmd = env.cmd();
    cmd.arg(SEALED_MODE).args(args);
    run_with_timeout(&mut cmd, CALL_TIMEOUT)
}

/// `FD SHA256 0 TAIL...`: the `0` says no capsule spec follows.
fn mode_args(fd: i32, sha: &str, tail: &[&str]) -> Vec<String> {
    let mut v = vec![fd.to_string(), sha.to_string(), "0".to_string()];
    v.extend(tail.iter().map(|s| s.to_string()));
    v
}

#[test]
fn sealed_mode_refuses_anything_but_a_sealed_memfd_matching_the_digest() {
    use rustix::fs::SealFlags;
    let env = TestEnv::new();
    let (p, marker) = marker_script(&env, "sealed");
    let sha = sha256_hex(&p);
    let all = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    let script = ["script", "/bin/sh", "0", "--"];

    // Malformed arguments: a usage error.
    for bad in [
        vec![],
        vec!["x".to_string()],
        mode_args(9, "zz", &script),
        mode_args(9, &sha, &["nonsense", "/bin/sh", "0", "--"]),
        mode_args(9, &sha, &["script", "/bin/sh", "2", "a", "b", "--"]),
        mode_args(9, &sha, &["script", "/bin/sh", "0"]),
        mode_args(1, &sha, &script),
        // A capsule count with no (or a malformed) spec after it.
        vec!["9".into(), sha.clone(), "5".into(), "--no-network".into()],
        vec![
            "9".into(),
            sha.clone(),
            "1".into(),
            "--bogus".into(),
            "script".into(),
            "/bin/sh".into(),
            "0".into(),
            "--".into(),
        ],
    ] {
        let out = sealed_mode(&env, &bad);
        assert_refused(&env, &out, 64, &marker);
    }

    // A regular file with the right bytes.
    let path = env.write("plain.sh", &p);
    let plain = fs::File::open(&path).unwrap();
    inheritable(&plain);
    // An unsealed memfd, one sealed against writes only, one sealed for good with other
    // bytes, and no descriptor at all.
    let unsealed = memfd(&p, SealFlags::empty());
    let write_only = memfd(&p, SealFlags::WRITE);
    let mut other = p.clone();
    other.extend_from_slice(b"echo extra\n");
    let wrong = memfd(&other, all);
    for (what, fd) in [
        ("a regular file", plain.as_raw_fd()),
        ("an unsealed memfd", unsealed.as_raw_fd()),
        ("a memfd sealed against writes only", write_only.as_raw_fd()),
        ("a sealed memfd with other bytes", wrong.as_raw_fd()),
        ("no descriptor", 987),
    ] {
        let out = sealed_mode(&env, &mode_args(fd, &sha, &script));
        assert_refused(&env, &out, 77, &marker);
        assert!(
            stderr(&out).contains("nothing was run"),
            "{what}: {}",
            stderr(&out)
        );
    }
    // A digest that is not the memfd's.
    let good = memfd(&p, all);
    let out = sealed_mode(
        &env,
        &mode_args(good.as_raw_fd(), &sha256_hex(b"x"), &script),
    );
    assert_refused(&env, &out, 77, &marker);

    // The control: the sealed memfd with its digest runs.
    let out = sealed_mode(
        &env,
        &mode_args(
            good.as_raw_fd(),
            &sha,
            &["script", "/bin/sh", "0", "--", "arg"],
        ),
    );
    assert_exit(&out, 0);
    assert_eq!(assert_ran(&marker), vec!["arg"]);
}

#[test]
fn sealed_mode_is_absent_from_help_completions_and_manpage() {
    let env = TestEnv::new();
    let mut calls: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["help"],
        vec!["run", "--help"],
        vec!["manpage"],
    ];
    for sh in ["bash", "zsh", "fish", "elvish", "powershell"] {
        calls.push(vec!["completions", sh]);
    }
    for args in calls {
        let out = env.verun(&args);
        assert_exit(&out, 0);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !all.contains(SEALED_MODE),
            "{args:?} shows the internal mode"
        );
        assert!(
            !all.contains("sealed-memfd"),
            "{args:?} shows the internal mode"
        );
    }
    // Documented in `run --help`: what no tool can hide.
    let out = env.verun(["run", "--help"]);
    assert!(stdout(&out).contains("/proc"), "{}", stdout(&out));
}

// --- item 14: every line is sanitised ---------------------------------------------------------

#[test]
fn shebang_interpreter_name_is_sanitised_in_the_cannot_start_hint() {
    let c = Ctx::new();
    let (p, marker) = c.script("esc-interp");
    let p = String::from_utf8(p).unwrap().replacen(
        "#!/bin/sh",
        "#!/nonexistent/\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}\u{e0041}interp",
        1,
    );
    let args = publish(&c, "esc-interp", PAYLOAD, p.as_bytes());
    for extra in [&[][..], &["--env-clean"][..]] {
        let out = c.env.verun(with(&args, extra));
        assert_refused(&c.env, &out, 74, &marker);
        assert_no_raw_controls(&out.stderr, &format!("cannot-start hint {extra:?}"));
        let err = stderr(&out);
        let hint = err
            .lines()
            .find(|l| l.starts_with("verun: hint:"))
            .unwrap_or_else(|| panic!("no hint line:\n{err}"));
        assert!(
            hint.contains("\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{202e}\\u{e0041}interp"),
            "{hint}"
        );
    }
}

/// clap's own errors quote the offending argument: it is escaped too, and a newline in it
/// cannot start a forged line.
#[test]
fn usage_errors_quote_arguments_sanitised() {
    let env = TestEnv::new();
    let evil = "x\x07\x1b]0;t\x07\u{202e}\r\nverun: verified everything";
    for args in [
        vec![evil],
        vec!["run", "https://127.0.0.1:9/x.sh", evil],
        vec!["run", "https://127.0.0.1:9/x.sh", "--timeout", evil],
    ] {
        let out = env.verun(&args);
        assert_exit(&out, 64);
        assert_no_raw_controls(&out.stderr, &format!("{args:?}"));
        let err = stderr(&out);
        assert!(
            !err.lines().any(|l| l.starts_with("verun: verified")),
            "{args:?}: a forged line:\n{err}"
        );
        assert!(
            err.contains("\\u{202e}\\u{d}\\u{a}verun: verified"),
            "{args:?}:\n{err}"
        );
    }
}

/// The scanner the hostile suite applies to all of its verun runs flags every class the
/// review named, and passes the legitimate text verun prints.
#[test]
fn raw_control_scan_flags_every_forbidden_class() {
    for (bytes, what) in [
        (&b"a\x1bb"[..], "ESC"),
        (b"a\x07b", "BEL"),
        (b"a\rb", "CR"),
        (b"a\x00b", "NUL"),
        (b"a\x7fb", "DEL"),
        ("a\u{9b}b".as_bytes(), "C1 CSI (UTF-8)"),
        (b"a\x9bb", "C1 CSI (bare byte)"),
        ("a\u{ad}b".as_bytes(), "soft hyphen"),
        ("a\u{202e}b".as_bytes(), "RLO"),
        ("a\u{2066}b".as_bytes(), "LRI"),
        ("a\u{fff9}b".as_bytes(), "interlinear annotation"),
        ("a\u{e0041}b".as_bytes(), "tag"),
        ("a\u{fe0f}b".as_bytes(), "variation selector"),
        ("a\u{3164}b".as_bytes(), "Hangul filler"),
    ] {
        assert_eq!(raw_controls(bytes).len(), 1, "{what} not flagged");
    }
    let fine = "verun: verified x.sh (é, ß, 中, 😀)\n\tindented\nverun: hint: \\u{1b} is shown\n";
    assert_eq!(raw_controls(fine.as_bytes()), vec![]);
}

/// Invisible and reordering characters in a signed trusted comment reach the terminal as
/// escapes, and legitimate non-ASCII text stays as it is.
#[test]
fn format_characters_in_trusted_comments_are_escaped() {
    let c = Ctx::new();
    let (p, marker) = c.script("cf");
    let tc = format!(
        "timestamp:{}\tfile:{PAYLOAD}\tcafé 中 \u{ad}\u{61c}\u{180e}\u{206a}\u{fffb}\u{e0041}\u{e0100}\u{fe0f}\u{3164}\u{115f}\u{34f}\u{17b4}\u{2029}",
        now_timestamp()
    );
    let path = Ctx::path("cf", PAYLOAD);
    c.https.route(&path, Reply::bytes(&p));
    c.https.route(
        format!("{path}.minisig"),
        Reply::bytes(c.key.sign_tc(&p, &tc)),
    );
    let mut args = vec!["run".to_string(), c.https.url(&path)];
    args.extend(c.trusting());
    let out = c.env.verun(&args);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_no_raw_controls(&out.stderr, "trusted comment");
    let err = stderr(&out);
    assert!(err.contains("café 中 "), "{err}");
    for cp in [
        "ad", "61c", "180e", "206a", "fffb", "e0041", "e0100", "fe0f", "3164", "115f", "34f",
        "17b4", "2029",
    ] {
        assert!(
            err.contains(&format!("\\u{{{cp}}}")),
            "U+{cp} not escaped:\n{err}"
        );
    }
}

// --- item 15: one capped line per message -----------------------------------------------------

#[test]
fn ambiguous_checksum_list_is_refused_in_short_lines() {
    let c = Ctx::new();
    let (p, marker) = c.script("ambig");
    let url = Ctx::serve(&c.https, &Ctx::path("ambig", PAYLOAD), Reply::bytes(&p));
    let line = format!("{}  {PAYLOAD}\n", sha256_hex(&p));
    let list = line.repeat(14_000); // under the 1 MiB cap of a list
    let list_url = Ctx::serve(
        &c.other,
        &Ctx::path("ambig", "SHA256SUMS"),
        Reply::bytes(&list),
    );
    let mut args = vec!["run".to_string(), url];
    args.extend(c.cacert());
    args.extend(["--checksums".to_string(), list_url]);
    let out = c.env.verun(&args);
    assert_refused(&c.env, &out, 77, &marker);
    assert!(stderr(&out).contains("ambiguous"), "{}", stderr(&out));
    assert_short_clean_lines(&out, 1000, "ambiguous list");
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of stderr",
        out.stderr.len()
    );
}

#[test]
fn a_newline_in_a_message_never_reaches_stderr_raw() {
    let c = Ctx::new();
    let (url, _, marker) = c.signed_script("nl");
    // The error names -o PATH and its directory: both carry a newline, a fake verun line
    // and an escape sequence.
    let out_path = c
        .env
        .path("missing\nverun: verified everything\x1b[32m ok\n/dir/x.sh");
    let mut args = vec![
        "fetch".to_string(),
        url,
        "-o".to_string(),
        out_path.display().to_string(),
    ];
    args.extend(c.trusting());
    let out = c.env.verun(&args);
    assert_refused(&c.env, &out, 74, &marker);
    assert_no_raw_controls(&out.stderr, "-o with a newline");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one error line and one hint line:\n{err}");
    assert!(lines[0].starts_with("verun: error: ") && lines[0].contains("\\u{a}"));
    assert!(lines[1].starts_with("verun: hint: "));
    assert_no_file(&out_path);
}

#[test]
fn every_message_is_capped() {
    let c = Ctx::new();
    let (url, _, marker) = c.signed_script("long");
    // An -o in a directory that does not exist, named by 20 000 characters: plain ones,
    // and control characters whose escapes are six times longer.
    for (what, piece) in [("plain", "d"), ("escaped", "\x1b")] {
        let long = piece.repeat(200);
        let out_path: PathBuf = c
            .env
            .path(Path::new(&[long.as_str(); 100].join("/")).join("x.sh"));
        let mut args = vec![
            "fetch".to_string(),
            url.clone(),
            "-o".to_string(),
            out_path.display().to_string(),
        ];
        args.extend(c.trusting());
        let out = c.env.verun(&args);
        assert_refused(&c.env, &out, 74, &marker);
        assert_short_clean_lines(&out, 1000, &format!("20 000-character -o, {what}"));
        assert!(stderr(&out).contains('…'), "{}", stderr(&out));
    }
}

// --- item 16: --show decides as exec does -----------------------------------------------------

#[test]
fn show_prints_a_script_with_a_nul_byte_as_the_script_that_runs() {
    let c = Ctx::new();
    // A `#!` script and a script without one (run under sh), each with a NUL in its head.
    for (slug, strip) in [("nul-shebang", false), ("nul-sh", true)] {
        let (p, marker) = c.script(slug);
        let mut p = if strip {
            p.strip_prefix(b"#!/bin/sh\n").unwrap().to_vec()
        } else {
            p
        };
        let at = p.iter().position(|&b| b == b'\n').unwrap() + 1;
        p.splice(
            at..at,
            b"# hidden\x00 \x1b[8m after the NUL\n".iter().copied(),
        );
        let args = publish(&c, slug, PAYLOAD, &p);
        let out = c.env.verun(with(&args, &["--show"]));
        assert_exit(&out, 0);
        assert_ran(&marker);
        let err = stderr(&out);
        assert!(!err.contains("binary payload"), "{slug}: {err}");
        assert!(
            err.contains("# hidden\\u{0} \\u{1b}[8m after the NUL"),
            "{slug}: the NUL and ESC must be shown as escapes:\n{err}"
        );
        assert!(
            err.contains("printf 'ran\\n'"),
            "{slug}: script not shown:\n{err}"
        );
        assert_no_raw_controls(&out.stderr, slug);
    }
    // What the kernel runs as a binary is still not printed.
    let echo = fs::read("/bin/echo").expect("/bin/echo");
    let args = publish(&c, "show-elf", "echo", &echo);
    let out = c.env.verun(with(&args, &["--show", "--", "hi"]));
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("binary payload"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");
}
