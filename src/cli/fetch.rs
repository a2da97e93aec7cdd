//! `verun fetch URL -o PATH` (or `-o -`): fetch, verify, then save atomically.

use std::path::{Path, PathBuf};

use crate::cli::FetchArgs;
use verun::error::{Error, Result};
use verun::location::HttpUrl;
use verun::plan::{Plan, Subject};
use verun::term::sanitize;
use verun::write_behind::WriteBehind;

use super::shared::*;

pub(super) fn fetch(a: FetchArgs) -> Result<u8> {
    let url = HttpUrl::parse(&a.url)?;
    let plan = Plan::new(Subject::Url(url.clone()), &a.verify.plan_options())?;
    let mode = a.mode.as_deref().map(parse_mode).transpose()?;
    if a.output.as_os_str() == "-" {
        return fetch_to_stdout(&a, &plan, &url, mode);
    }
    let dir = output_dir(&a.output)?;
    let session = Session::open(&plan)?;
    verun::partial::sweep_stale(&dir);
    // The signal handlers come first, so no signal finds the file without them.
    let cleanup = verun::partial::RemoveOnSignal::arm()?;
    let tmp = verun::partial::create(&dir)?;
    // On any error below, `tmp` is dropped and its file removed: nothing is left at -o.
    // An interrupt or kill during the download removes it too (drop does not run then).
    cleanup.watch(tmp.path());
    let lock = verun::lock::LockCheck::open(&plan)?;
    // Writeback runs while the download does; the fsync in `persist` then has little to do.
    let sink = WriteBehind::new(tmp);
    let verified = download(&plan, &session, &url, sink, lock_pins(lock.as_ref()))?;
    let marks = check_rollback(&plan, &url, verified.report())?;
    let executable = verified.head().starts_with(b"\x7fELF") || verified.head().starts_with(b"#!");
    let keep = Keep {
        cache: None,
        state: true,
    };
    accept(&plan, &url, lock.as_ref(), marks, verified.report(), keep)?;
    let mode = mode.unwrap_or(if executable { 0o755 } else { 0o644 });
    let report = verified.persist(&a.output, mode)?;
    report_notes(plan.quiet, &report);
    note(
        plan.quiet,
        &format!("saved {} (mode {mode:04o})", a.output.display()),
    );
    if a.json {
        print_json(&report, Some(&a.output));
    }
    Ok(0)
}

/// `fetch -o -`: the download goes to an unnamed private temporary file in `$TMPDIR`
/// (`O_TMPFILE` where the file system has it: it has no name anyone could open, and nothing
/// is left behind even after SIGKILL), and only after every check passed (verification,
/// rollback, lockfile) are its bytes copied to stdout. `--json` would mix the report into
/// the payload and is refused (64), as is `--mode`.
pub(super) fn fetch_to_stdout(
    a: &FetchArgs,
    plan: &Plan,
    url: &HttpUrl,
    mode: Option<u32>,
) -> Result<u8> {
    if a.json {
        return Err(Error::usage(
            "--json cannot be combined with -o -: stdout carries the verified bytes",
        )
        .hint("drop --json (notes and errors go to stderr), or save with -o PATH --json"));
    }
    if mode.is_some() {
        return Err(
            Error::usage("--mode applies to a saved file, not to -o - (stdout)")
                .hint("drop --mode, or save with -o PATH --mode OCTAL"),
        );
    }
    let session = Session::open(plan)?;
    let lock = verun::lock::LockCheck::open(plan)?;
    let tmp = tempfile::tempfile().map_err(|e| {
        Error::io_at(
            format!(
                "cannot create a private temporary file in {}",
                std::env::temp_dir().display()
            ),
            &e,
        )
        .hint("set TMPDIR to a writable directory with room for the download")
    })?;
    let verified = download(plan, &session, url, tmp, lock_pins(lock.as_ref()))?;
    let mark = check_rollback(plan, url, verified.report())?;
    let keep = Keep {
        cache: None,
        state: true,
    };
    accept(plan, url, lock.as_ref(), mark, verified.report(), keep)?;
    report_notes(plan.quiet, verified.report());
    let mut out = std::io::stdout().lock();
    let report = verified.write_to(&mut out)?;
    let written = report.size;
    note(plan.quiet, &format!("wrote {written} bytes to stdout"));
    Ok(0)
}

/// The directory `-o PATH` will be written in, checked before anything is downloaded: `-o`
/// must not be a directory, a device, a FIFO or a symlink to one (64), and the directory
/// must exist and not be writable by everyone without the sticky bit (74: anyone could
/// replace the verified file there right after verun saved it).
pub(super) fn output_dir(output: &Path) -> Result<PathBuf> {
    if output.is_dir() {
        return Err(
            Error::usage(format!("-o {} is a directory", output.display()))
                .hint("give the path of the file to write, e.g. -o ./bin/tool"),
        );
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::io(format!(
            "cannot write -o {}: directory {} does not exist",
            output.display(),
            dir.display()
        ))
        .hint("create the directory first"));
    }
    verun::partial::check_target(output)?;
    if let Ok(meta) = std::fs::metadata(&dir) {
        use std::os::unix::fs::MetadataExt;
        let m = meta.mode() & 0o7777;
        if m & 0o002 != 0 && m & 0o1000 == 0 {
            return Err(Error::io(format!(
                "cannot save -o {}: everyone may write to {} (mode {m:04o}, no sticky bit), so anyone could replace the verified file",
                output.display(),
                dir.display()
            ))
            .hint("save into a directory only you (or your group) can write, or make it sticky (chmod +t) as /tmp is"));
        }
    }
    Ok(dir)
}

/// Parse `--mode` (octal, `755`, `0755` or `0o755`).
pub fn parse_mode(s: &str) -> Result<u32> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(
            Error::usage(format!("--mode {}: not an octal file mode", sanitize(s)))
                .hint("for example --mode 0755"),
        ),
    }
}
