//! `verun run`: fetch, verify, review (`--show`, `--diff`, `--confirm`, `--dry-run`), then
//! execute exactly the verified bytes, optionally in a capsule.

use std::io::Write;
use std::path::Path;

use crate::cli::RunArgs;
use verun::error::{Error, Result};
use verun::exec::{self, PayloadFile, RunOptions};
use verun::keys::KeyRing;
use verun::location::HttpUrl;
use verun::paths::Paths;
use verun::plan::{Plan, Subject};
use verun::term::sanitize;
use verun::verify::{self, Limits, Verified};

use super::shared::*;

/// Largest script `--show` prints.
pub(super) const SHOW_MAX: u64 = 4 << 20;

pub(super) fn run(a: RunArgs) -> Result<u8> {
    exec::protect_from_same_user();
    let url = HttpUrl::parse(&a.url)?;
    let plan = Plan::new(Subject::Url(url.clone()), &a.verify.plan_options())?;
    check_run_options(&a)?;
    let capsule = capsule_for(&a)?;
    if a.confirm {
        exec::open_terminal()?; // no terminal to ask on: refuse before downloading
    }
    let mut session = Session::open(&plan)?;
    // A dry run uses nothing: no key-use count, no rollback mark, no cache entry.
    let keep_state = !a.no_cache && !a.dry_run;
    session.count_uses = keep_state;
    let lock = verun::lock::LockCheck::open(&plan)?;
    let name = url.file_name();
    let payload = PayloadFile::create(&name)?;
    let mut verified = if a.offline {
        offline(&plan, &session, &url, lock.as_ref(), payload)?
    } else {
        download(&plan, &session, &url, payload, lock_pins(lock.as_ref()))?
    };
    let marks = check_rollback(&plan, &url, verified.report())?;
    report_notes(plan.quiet, verified.report());
    if a.show {
        show(&verified, a.interpreter.as_deref())?;
    }
    if a.diff {
        show_diff(&url, &verified);
    }
    if a.confirm {
        exec::confirm(&format!("verun: run {url}?"))?;
    }
    if !a.dry_run {
        // Sealed and re-hashed once, before anything is recorded: the cache copies the
        // sealed bytes as they are, and the exec below finds them checked already.
        verified.seal_and_check()?;
    }
    let cache = keep_state.then(|| verified.payload());
    let keep = Keep {
        cache,
        state: keep_state,
    };
    accept(&plan, &url, lock.as_ref(), marks, verified.report(), keep)?;
    if a.dry_run {
        // Printed even with --quiet: the caller must not mistake this for a run.
        eprintln!("verun: --dry-run: {url} verified; nothing was run");
        return Ok(0);
    }
    let opts = RunOptions {
        env_clean: a.env_clean || capsule.is_some(),
        capsule,
        env: a.env,
        interpreter: a.interpreter,
        args: a.args,
        name,
    };
    exec::execute(verified, &opts)
}

/// The `--capsule` spec, checked (and probed: can this system build it?) before anything
/// is downloaded.
pub(super) fn capsule_for(a: &RunArgs) -> Result<Option<verun::capsule::Capsule>> {
    use verun::capsule::{Capsule, Strictness};
    let Some(mode) = &a.capsule else {
        return Ok(None);
    };
    let strictness = match mode.as_str() {
        "strict" => Strictness::Strict,
        "best-effort" => Strictness::BestEffort,
        other => {
            return Err(
                Error::usage(format!("--capsule={}: not a capsule mode", sanitize(other)))
                    .hint("use --capsule (strict) or --capsule=best-effort"),
            );
        }
    };
    let c = Capsule::new(strictness, &a.allow_write, a.no_network, &a.allow_connect)?;
    verun::capsule::probe(&c)?;
    Ok(Some(c))
}

/// Usage errors in the run options, found before anything is downloaded.
pub(super) fn check_run_options(a: &RunArgs) -> Result<()> {
    for e in &a.env {
        let name = e.split_once('=').map_or(e.as_str(), |(n, _)| n);
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::usage(format!(
                "--env {}: {} is not a valid environment variable name",
                sanitize(e),
                sanitize(name)
            ))
            .hint("names are letters, digits and _, not starting with a digit: --env NAME or --env NAME=VALUE"));
        }
    }
    if let Some(prog) = &a.interpreter {
        if prog.trim().is_empty() {
            return Err(Error::usage("--interpreter takes a program")
                .hint("for example --interpreter bash, or --interpreter /usr/bin/python3"));
        }
        if !find_program(prog) {
            let hint = if prog.contains(char::is_whitespace) {
                "--interpreter takes one program, not a command line (its words are not split); to pass flags, run `verun fetch URL -o FILE`, then e.g. `bash -x FILE`"
            } else {
                "give an installed program, by name (looked up in PATH) or path"
            };
            return Err(
                Error::usage(format!("--interpreter {}: no such program", sanitize(prog)))
                    .hint(hint),
            );
        }
    }
    Ok(())
}

/// Whether `prog` is an executable file, as a path (with `/`) or found in `PATH`.
pub(super) fn find_program(prog: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if prog.contains('/') {
        return executable(Path::new(prog));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(prog))))
}

/// `--show`: the payload as `execute` will run it. Whatever is handed to an interpreter
/// (a `#!` line, `sh`, or `--interpreter`) is shown, sanitised, whatever bytes it holds (a NUL
/// is shown as `\u{0}`); only what the kernel runs as a binary (ELF) is not.
pub(super) fn show(v: &Verified<PayloadFile>, interpreter: Option<&str>) -> Result<()> {
    let binary = exec::runs_as_binary(v.head(), interpreter);
    let mut err = std::io::stderr().lock();
    if binary {
        let _ = writeln!(
            err,
            "verun: --show: binary payload ({} bytes), not shown",
            v.report().size
        );
        return Ok(());
    }
    let bytes = v.payload().read_prefix(SHOW_MAX)?;
    let subject = verun::term::one_line(&v.report().subject);
    let _ = writeln!(err, "----- {subject} -----");
    let _ = err.write_all(sanitize_block_bytes(&bytes).as_bytes());
    if v.report().size > SHOW_MAX {
        let _ = writeln!(
            err,
            "\n[… {} more bytes not shown]",
            v.report().size - SHOW_MAX
        );
    }
    let _ = writeln!(err, "\n----- end of {subject} -----");
    Ok(())
}

pub(super) fn sanitize_block_bytes(b: &[u8]) -> String {
    verun::term::sanitize_block(&String::from_utf8_lossy(b))
}

/// `run --offline`: the locked URL's bytes from the cache, re-hashed by the verifier
/// against the lock entry (and `--sha256`, if given) while copied into the payload file.
/// No network: signatures and checksum lists are not fetched, `--key` is not used.
pub(super) fn offline(
    plan: &Plan,
    session: &Session,
    url: &HttpUrl,
    lock: Option<&verun::lock::LockCheck>,
    payload: PayloadFile,
) -> Result<Verified<PayloadFile>> {
    let lock = lock.ok_or_else(|| {
        Error::usage("--offline needs --lock FILE").hint("only locked URLs run offline")
    })?;
    let entry = lock.entry().ok_or_else(|| {
        Error::refused(format!(
            "--offline: {url} is not locked in {}; nothing was run",
            lock.path().display()
        ))
        .hint("run it once online with --lock FILE to lock and cache it")
    })?;
    if !plan.keys.is_empty() || !plan.key_urls.is_empty() {
        note(
            plan.quiet,
            "--offline: --key is not used: the lock entry pins the bytes that verified before",
        );
    }
    let no_copy = || {
        Error::download(format!(
            "--offline: no cached copy of {url} with the locked sha256 {}",
            entry.sha256
        ))
        .hint("run it once online with --lock (without --no-cache) to cache it")
    };
    let paths = Paths::resolve()?;
    let mut file = verun::cache::Cache::new(&paths.cache)
        .open_blob(&entry.sha256)
        .map_err(|e| {
            warn(&format!("cache: {}", e.message()));
            no_copy()
        })?
        .ok_or_else(no_copy)?;
    let mut offline_plan = plan.clone();
    offline_plan.keys.clear();
    offline_plan.sig = None;
    offline_plan.checksums = None;
    offline_plan.checksums_sig = None;
    let ring = KeyRing::new(Vec::new(), None)?;
    let evidence = verify::gather(&offline_plan, &ring, &session.net, vec![lock.pin(entry)])?;
    let verified = verify::stream_sealed(
        &evidence,
        &mut file,
        payload,
        Limits {
            max_size: plan.max_size,
            declared: None,
            url: None,
            origins: &[],
        },
        &mut |_| {},
    )
    .map_err(|e| {
        if e.kind() == verun::error::Kind::Refused {
            Error::refused(format!(
                "--offline: the cached copy of {url} does not match the locked sha256 (corrupted or altered cache); nothing was run"
            ))
            .hint("run it online to refresh the cache")
        } else {
            e
        }
    })?;
    note(plan.quiet, &format!("--offline: {url} from the cache"));
    Ok(verified)
}

/// `--diff`: what changed since the last accepted run of `url`, from the cache, on stderr.
/// Never fails the run: problems are warnings.
pub(super) fn show_diff(url: &HttpUrl, v: &Verified<PayloadFile>) {
    use verun::diff::MAX_DIFF_BYTES;
    let warn = |e: &Error| warn(&format!("--diff: {}", e.message()));
    let cache = match Paths::resolve() {
        Ok(p) => verun::cache::Cache::new(&p.cache),
        Err(e) => return warn(&e),
    };
    let prev = match cache.previous(url.as_str(), MAX_DIFF_BYTES as u64 + 1) {
        Ok(Some(p)) => p,
        Ok(None) => {
            note(
                false,
                &format!(
                    "--diff: no earlier accepted version of {url} in the cache; nothing to compare (--show prints it all)"
                ),
            );
            return;
        }
        Err(e) => return warn(&e),
    };
    let r = v.report();
    if prev.entry.sha256 == r.sha256 {
        note(
            false,
            &format!(
                "--diff: {url} is unchanged since it was accepted at {}",
                sanitize(&prev.entry.accepted_at)
            ),
        );
        return;
    }
    let new = match v.payload().read_prefix(MAX_DIFF_BYTES as u64 + 1) {
        Ok(b) => b,
        Err(e) => return warn(&e),
    };
    let rendered = verun::diff::render(&prev.bytes, &new, verun::term::color_enabled());
    let mut err = std::io::stderr().lock();
    let header = format!(
        "changes in {url} since {} (sha256 {}… → {}…)",
        sanitize(&prev.entry.accepted_at),
        sanitize(prev.entry.sha256.get(..16).unwrap_or_default()),
        &r.sha256[..16]
    );
    let _ = writeln!(err, "----- {} -----", verun::term::one_line(&header));
    let _ = err.write_all(rendered.text.as_bytes());
    match rendered.summary {
        Some(s) => {
            let _ = writeln!(
                err,
                "----- end of changes: {} added, {} removed, {} added line{} marked +! (reads env / network) -----",
                s.added,
                s.removed,
                s.flagged,
                if s.flagged == 1 { "" } else { "s" }
            );
        }
        None => {
            let _ = writeln!(err, "----- end of changes -----");
        }
    }
}
