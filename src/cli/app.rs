//! The commands: each turns a validated plan into fetch → verify → run/save, and decides what
//! a person sees on stderr. This is the only layer (with `main`) that prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, FetchArgs, KeyArgs, RunArgs, VerifyArgs};
use verun::error::{Error, Result};
use verun::exec::{self, PayloadFile, RunOptions};
use verun::fetch::Net;
use verun::keys::{KeyRing, KeyStore};
use verun::location::HttpUrl;
use verun::paths::Paths;
use verun::plan::{Plan, Subject};
use verun::progress::{self, Progress};
use verun::store::Store;
use verun::term::sanitize;
use verun::verify::{self, Limits, Report, Verified};
use verun::write_behind::WriteBehind;

/// Largest script `--show` prints.
const SHOW_MAX: u64 = 4 << 20;

/// Run the parsed command line; returns the exit code on success.
pub fn main(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(a) => run(a),
        Command::Fetch(a) => fetch(a),
        Command::Verify(a) => verify_file(a),
        Command::Key(a) => key(a),
        Command::Audit(a) => audit(a),
        Command::Completions { shell } => completions(&shell),
        Command::Manpage { dir } => manpage(dir.as_deref()),
    }
}

/// The state shared by one verifying command: the network client and the key store.
struct Session {
    net: Net,
    store: Option<Store>,
    /// Whether key uses are counted in the store (off with `run --no-cache`, which writes
    /// nothing but the temporary payload).
    count_uses: bool,
}

impl Session {
    fn open(plan: &Plan) -> Result<Session> {
        warn_unsafe(&plan_flags(plan));
        Ok(Session {
            net: Net::new(&plan.net)?,
            store: open_store()?,
            count_uses: true,
        })
    }

    fn ring(&self, plan: &Plan) -> Result<KeyRing<'_>> {
        KeyRing::new(
            plan.keys.clone(),
            self.store.as_ref().map(|s| s as &dyn KeyStore),
        )
    }

    /// Count a use of the store key that signed `report`'s payload. Failing to record it is a
    /// warning: the verification itself succeeded.
    fn record_use(&self, report: &Report) {
        let Some(store) = &self.store else {
            return;
        };
        if !self.count_uses {
            return;
        }
        for sig in [&report.signature, &report.checksums_signature]
            .into_iter()
            .flatten()
        {
            let Some(name) = &sig.key_name else {
                continue;
            };
            let Some(id) = verun::minisig::KeyId::parse_hex(&sig.key_id) else {
                continue;
            };
            if let Err(e) = store.record_use(id) {
                warn(&format!(
                    "cannot record the use of key {name} in the key store: {}",
                    e.message()
                ));
            }
        }
    }
}

/// The key store, when verun has a home for it (without one there is no store to load).
fn open_store() -> Result<Option<Store>> {
    match Paths::resolve() {
        Ok(paths) => Store::open(&paths).map(Some),
        Err(_) => Ok(None),
    }
}

/// `verun key ...`: the store prints nothing itself; its output and notes are printed here.
fn key(a: KeyArgs) -> Result<u8> {
    let paths = Paths::resolve()?;
    let out = verun::store::command(&paths, a.command.op())?;
    for n in &out.notes {
        note(false, n);
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.stdout.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        // `verun key list | head`: the reader has all it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::io_at("cannot write to stdout", &e)),
    }
}

fn plan_flags(plan: &Plan) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    if plan.allow_legacy {
        v.push((
            "--allow-legacy",
            "legacy signatures are accepted (the payload is buffered in memory)",
        ));
    }
    if plan.net.allow_http {
        v.push((
            "--allow-http",
            "plain http is permitted: anyone on the path can see and block the download",
        ));
    }
    if plan.allow_downgrade {
        v.push((
            "--allow-downgrade",
            "older signed releases are accepted: rollback protection is off",
        ));
    }
    v
}

/// Unsafe escape hatches are loud: one warning each, even with --quiet.
fn warn_unsafe(flags: &[(&str, &str)]) {
    for (flag, what) in flags {
        warn(&format!("{flag}: {what}"));
    }
}

/// The one printer of notes: `verun: TEXT`, one line, capped ([`verun::term::one_line`]).
fn note(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("verun: {}", verun::term::one_line(text));
    }
}

/// The one printer of warnings (also with --quiet): `verun: warning: TEXT`, one line, capped.
fn warn(text: &str) {
    eprintln!("verun: warning: {}", verun::term::one_line(text));
}

fn report_notes(quiet: bool, r: &Report) {
    if quiet {
        return;
    }
    note(
        false,
        &format!(
            "verified {} ({} bytes, sha256 {})",
            r.subject, r.size, r.sha256
        ),
    );
    let signature_notes = |s: &verun::verify::SigReport, signed: &str, comment: &str| {
        note(
            false,
            &format!(
                "  {signed} by key {} ({}){}",
                s.key_id,
                sanitize(&s.key_source),
                if s.prehashed { "" } else { ", legacy" }
            ),
        );
        note(
            false,
            &format!(
                "  {comment}: {}",
                sanitize(&s.trusted_comment.replace('\t', "  "))
            ),
        );
    };
    if let Some(s) = &r.signature {
        signature_notes(s, "signature", "trusted comment");
    }
    if let Some(s) = &r.checksums_signature {
        signature_notes(s, "checksum list signed", "list's trusted comment");
    }
    if let Some(h) = &r.sha512 {
        note(false, &format!("  sha512 {h}"));
    }
    for p in &r.pins {
        note(
            false,
            &format!("  {} matches {}", p.digest.field(), sanitize(&p.source)),
        );
    }
}

/// Where [`download`] writes the payload.
trait Sink: Write {
    /// Told the length the server declares (at most `--max-size`) before the first byte.
    fn expect_len(&mut self, _len: u64) -> Result<()> {
        Ok(())
    }
}

/// `run`'s memfd reserves nothing: that would take memory up front for a length the server
/// merely claims.
impl Sink for PayloadFile {}

/// `fetch -o -` holds the download in an unnamed temporary file, reserving nothing.
impl Sink for std::fs::File {}

/// `fetch -o` checks the file system has room for the declared length, so a full disk stops
/// it before the download, and allocates blocks only a bounded window ahead of the bytes
/// received (see `write_behind`).
impl Sink for WriteBehind<tempfile::NamedTempFile> {
    fn expect_len(&mut self, len: u64) -> Result<()> {
        self.reserve(len).map_err(|e| {
            let dir = self.get_ref().path().parent().unwrap_or(Path::new("."));
            Error::io_at(
                format!(
                    "no room for the {} download in {}",
                    verun::fetch::human(len),
                    dir.display()
                ),
                &e,
            )
            .hint("free some space there, or save elsewhere with -o")
        })
    }
}

fn download<W: Sink>(
    plan: &Plan,
    session: &Session,
    url: &HttpUrl,
    mut sink: W,
    lock_pins: Vec<verify::Pin>,
) -> Result<Verified<W>> {
    session.net.check_scheme(url)?;
    let ring = session.ring(plan)?;
    let evidence = verify::gather(plan, &ring, &session.net, lock_pins)?;
    let mut resp = session.net.open(url)?.ok_or_else(|| {
        Error::download(format!("{url} answered HTTP 404 (not found)")).hint("check the URL")
    })?;
    let bar = Progress::new(
        progress::enabled(plan.quiet),
        resp.content_length,
        &url.file_name(),
    );
    let declared = resp.content_length;
    if let Some(len) = declared.filter(|&n| n <= plan.max_size) {
        sink.expect_len(len)?;
    }
    let final_url = resp.url.clone();
    let hops = resp.hops.clone();
    let verified = verify::stream(
        &evidence,
        resp.reader(),
        sink,
        Limits {
            max_size: plan.max_size,
            declared,
            url: Some(&final_url),
            origins: &hops,
        },
        &mut |n| bar.set(n),
    )?;
    bar.finish();
    session.record_use(verified.report());
    Ok(verified)
}

fn run(a: RunArgs) -> Result<u8> {
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
    let verified = if a.offline {
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
fn capsule_for(a: &RunArgs) -> Result<Option<verun::capsule::Capsule>> {
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
fn check_run_options(a: &RunArgs) -> Result<()> {
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
fn find_program(prog: &str) -> bool {
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
fn show(v: &Verified<PayloadFile>, interpreter: Option<&str>) -> Result<()> {
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

fn sanitize_block_bytes(b: &[u8]) -> String {
    verun::term::sanitize_block(&String::from_utf8_lossy(b))
}

fn fetch(a: FetchArgs) -> Result<u8> {
    let url = HttpUrl::parse(&a.url)?;
    let plan = Plan::new(Subject::Url(url.clone()), &a.verify.plan_options())?;
    let mode = a.mode.as_deref().map(parse_mode).transpose()?;
    if a.output.as_os_str() == "-" {
        return fetch_to_stdout(&a, &plan, &url, mode);
    }
    let dir = output_dir(&a.output)?;
    let session = Session::open(&plan)?;
    verun::partial::sweep_stale(&dir);
    let tmp = verun::partial::create(&dir)?;
    // On any error below, `tmp` is dropped and its file removed: nothing is left at -o.
    // An interrupt or kill during the download removes it too (drop does not run then).
    let _cleanup = verun::partial::RemoveOnSignal::install(tmp.path())?;
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
fn fetch_to_stdout(a: &FetchArgs, plan: &Plan, url: &HttpUrl, mode: Option<u32>) -> Result<u8> {
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

fn verify_file(a: VerifyArgs) -> Result<u8> {
    let plan = Plan::new(Subject::File(a.file.clone()), &a.verify.plan_options())?;
    verun::lock::LockCheck::open(&plan)?; // --lock is for URLs: a usage error here
    let session = Session::open(&plan)?;
    let ring = session.ring(&plan)?;
    let evidence = verify::gather(&plan, &ring, &session.net, Vec::new())?;
    let mut f = std::fs::File::open(&a.file)
        .map_err(|e| Error::io_at(format!("cannot open {}", a.file.display()), &e))?;
    let verified = verify::stream(
        &evidence,
        &mut f,
        std::io::sink(),
        Limits {
            max_size: plan.max_size,
            declared: None,
            url: None,
            origins: &[],
        },
        &mut |_| {},
    )?;
    session.record_use(verified.report());
    report_notes(plan.quiet, verified.report());
    if a.json {
        print_json(verified.report(), None);
    }
    Ok(0)
}

fn print_json(report: &Report, output: Option<&Path>) {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("ok".into(), true.into());
        if let Some(o) = output {
            obj.insert("output".into(), o.to_string_lossy().into_owned().into());
        }
    }
    println!("{v}");
}

/// The directory `-o PATH` will be written in, checked before anything is downloaded: `-o`
/// must not be a directory, a device, a FIFO or a symlink to one (64), and the directory
/// must exist and not be writable by everyone without the sticky bit (74: anyone could
/// replace the verified file there right after verun saved it).
fn output_dir(output: &Path) -> Result<PathBuf> {
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

fn completions(shell: &str) -> Result<u8> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let sh: Shell = shell.parse().map_err(|_| {
        Error::usage(format!("unknown shell {}", sanitize(shell)))
            .hint("one of: bash, zsh, fish, elvish, powershell")
    })?;
    let mut cmd = Cli::command();
    clap_complete::generate(sh, &mut cmd, "verun", &mut std::io::stdout());
    Ok(0)
}

fn manpage(dir: Option<&Path>) -> Result<u8> {
    if let Some(dir) = dir {
        for path in crate::cli::manpage::write_all(dir)? {
            eprintln!("verun: wrote {}", path.display());
        }
        return Ok(0);
    }
    let top = crate::cli::manpage::pages().swap_remove(0);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(top.roff.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `verun manpage | head`: the reader has seen enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::io_at("cannot write the man page", &e)),
        Ok(()) => Ok(0),
    }
}

/// Whether a command prints JSON (so failures are reported as JSON too).
pub fn wants_json(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Fetch(a) if a.json && a.output.as_os_str() != "-")
        || matches!(&cli.command, Command::Verify(a) if a.json)
        || matches!(&cli.command, Command::Audit(a) if a.json)
}

// --- lockfile, rollback protection, cache and --diff (issue 4) ---------------------------
// The policies are documented in `lock`, `rollback`, `cache`, `diff` and `audit`; these
// functions only sequence them and decide what a person sees.

/// `verun audit LOCKFILE`: one line per entry on stdout as it is checked (or one JSON
/// document), the summary on stderr.
fn audit(a: crate::cli::AuditArgs) -> Result<u8> {
    if a.allow_http {
        warn_unsafe(&[(
            "--allow-http",
            "plain http is permitted: anyone on the path can see and block the download",
        )]);
    }
    let store = open_store()?;
    let json = a.json;
    let mut print_line = |o: &verun::audit::Outcome| {
        if !json {
            println!("{}", o.line());
        }
    };
    let report = verun::audit::audit(
        &a.audit_options(),
        store.as_ref().map(|s| s as &dyn KeyStore),
        &mut print_line,
    )?;
    if json {
        println!("{}", serde_json::to_value(&report).unwrap_or_default());
    }
    note(false, &report.summary_line());
    Ok(report.exit_code)
}

/// The lock entry's pin for the verifier (none when unlocked or `--update-lock`).
fn lock_pins(lock: Option<&verun::lock::LockCheck>) -> Vec<verify::Pin> {
    lock.map(|l| l.pins()).unwrap_or_default()
}

/// `run --offline`: the locked URL's bytes from the cache, re-hashed by the verifier
/// against the lock entry (and `--sha256`, if given) while copied into the payload file.
/// No network: signatures and checksum lists are not fetched, `--key` is not used.
fn offline(
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
    if !plan.keys.is_empty() {
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
    let verified = verify::stream(
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

/// Rollback protection, after verification and before anything is used: every signature
/// that vouches for the payload (its own, keyed by the payload's URL; a signed checksum
/// list's, keyed by the list's URL) is checked. Warnings (a timestamp far in the future, an
/// accepted downgrade) are printed even with --quiet.
fn check_rollback(
    plan: &Plan,
    url: &HttpUrl,
    report: &Report,
) -> Result<Vec<verun::rollback::Mark>> {
    use verun::rollback::Signed;
    let mut pieces = Vec::new();
    if let Some(s) = &report.signature {
        pieces.push(Signed {
            key_id: s.key_id.clone(),
            url: url.as_str().to_string(),
            timestamp: s.timestamp,
            what: format!("signature of {url}"),
        });
    }
    // A list read from a local file has no URL: like `verify FILE`, nothing to key it by.
    if let Some(s) = &report.checksums_signature
        && let Ok(list_url) = HttpUrl::parse(&s.signs)
    {
        pieces.push(Signed {
            key_id: s.key_id.clone(),
            url: list_url.as_str().to_string(),
            timestamp: s.timestamp,
            what: format!("checksum list signature of {list_url}"),
        });
    }
    if pieces.is_empty() {
        return Ok(Vec::new());
    }
    let paths = Paths::resolve()?;
    let checked = verun::rollback::check(
        &paths.state,
        &pieces,
        plan.allow_downgrade,
        verun::time::now_secs(),
    )?;
    for w in &checked.warnings {
        warn(w);
    }
    Ok(checked.marks)
}

/// What an accepted payload leaves behind besides the lockfile.
struct Keep<'a> {
    /// The payload to cache (`run` without `--no-cache`).
    cache: Option<&'a PayloadFile>,
    /// Whether to save the rollback mark (not with `--no-cache`).
    state: bool,
}

/// Record an accepted payload: the lockfile entry (an error fails the call: nothing runs
/// or is saved), then the rollback mark and the cache (failures there are warnings).
fn accept(
    plan: &Plan,
    url: &HttpUrl,
    lock: Option<&verun::lock::LockCheck>,
    marks: Vec<verun::rollback::Mark>,
    report: &Report,
    keep: Keep<'_>,
) -> Result<()> {
    use verun::lock::Recorded;
    if let Some(lock) = lock {
        let path = lock.path().display();
        match lock.record(report)? {
            Recorded::Added => note(plan.quiet, &format!("locked {url} in {path}")),
            Recorded::Updated => note(plan.quiet, &format!("updated the lock of {url} in {path}")),
            Recorded::Unchanged => {}
        }
    }
    for mark in marks.iter().filter(|_| keep.state) {
        if let Err(e) = mark.save() {
            warn(&format!(
                "cannot remember the signature's timestamp (rollback protection): {}",
                e.message()
            ));
        }
    }
    if let Some(payload) = keep.cache {
        let stored = Paths::resolve()
            .and_then(|p| verun::cache::Cache::new(&p.cache).store(url.as_str(), payload, report));
        if let Err(e) = stored {
            warn(&format!("cache: {}", e.message()));
        }
    }
    Ok(())
}

/// `--diff`: what changed since the last accepted run of `url`, from the cache, on stderr.
/// Never fails the run: problems are warnings.
fn show_diff(url: &HttpUrl, v: &Verified<PayloadFile>) {
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
