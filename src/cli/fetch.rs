//! `verun fetch URL -o PATH` (or `-o -`): fetch, verify, then save atomically.

use crate::cli::FetchArgs;
use verun::error::{Error, Result};
use verun::location::HttpUrl;
use verun::plan::{Plan, SaveTo, Subject};
use verun::write_behind::WriteBehind;

use super::shared::*;

pub(super) fn fetch(a: FetchArgs) -> Result<u8> {
    let url = HttpUrl::parse(&a.url)?;
    let mut opts = a.verify.plan_options();
    opts.output = Some(a.output.clone());
    opts.mode = a.mode.clone();
    let plan = Plan::new(Subject::Url(url.clone()), &opts)?;
    let save = plan.save.clone().expect("fetch always has -o");
    let mode = save.mode;
    let dir = match save.to {
        SaveTo::Stdout => return fetch_to_stdout(&a, &plan, &url),
        SaveTo::File { dir, .. } => dir,
    };
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
pub(super) fn fetch_to_stdout(a: &FetchArgs, plan: &Plan, url: &HttpUrl) -> Result<u8> {
    if a.json {
        return Err(Error::usage(
            "--json cannot be combined with -o -: stdout carries the verified bytes",
        )
        .hint("drop --json (notes and errors go to stderr), or save with -o PATH --json"));
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
