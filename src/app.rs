//! The commands: each turns a validated plan into fetch → verify → run/save, and decides what
//! a person sees on stderr. This is the only layer (with `main`) that prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, FetchArgs, RunArgs, VerifyArgs};
use crate::error::{Error, Result};
use crate::exec::{self, PayloadFile, RunOptions};
use crate::fetch::Net;
use crate::keys::{KeyRing, KeyStore};
use crate::location::HttpUrl;
use crate::plan::{Plan, Subject};
use crate::progress::{self, Progress};
use crate::term::sanitize;
use crate::verify::{self, Limits, Report, Verified};

/// Largest script `--show` prints.
const SHOW_MAX: u64 = 4 << 20;

/// Run the parsed command line; returns the exit code on success.
pub fn main(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(a) => run(a),
        Command::Fetch(a) => fetch(a),
        Command::Verify(a) => verify_file(a),
        Command::Key(_) | Command::Audit(_) => {
            Err(Error::usage("this command is not available in this build"))
        }
        Command::Completions { shell } => completions(&shell),
        Command::Manpage => manpage(),
    }
}

/// The state shared by one verifying command: the network client and the key store.
struct Session {
    net: Net,
    store: Option<Box<dyn KeyStore>>,
}

impl Session {
    fn open(plan: &Plan) -> Result<Session> {
        warn_unsafe(&plan_flags(plan));
        Ok(Session {
            net: Net::new(&plan.net)?,
            store: None,
        })
    }

    fn ring(&self, plan: &Plan) -> Result<KeyRing<'_>> {
        KeyRing::new(plan.keys.clone(), self.store.as_deref())
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
        eprintln!("verun: warning: {flag}: {what}");
    }
}

fn note(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("verun: {text}");
    }
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
    if let Some(s) = &r.signature {
        note(
            false,
            &format!(
                "  signature by key {} ({}){}",
                s.key_id,
                sanitize(&s.key_source),
                if s.prehashed { "" } else { ", legacy" }
            ),
        );
        note(
            false,
            &format!(
                "  trusted comment: {}",
                sanitize(&s.trusted_comment.replace('\t', "  "))
            ),
        );
    }
    for p in &r.pins {
        note(false, &format!("  sha256 matches {}", p.source));
    }
}

fn download<W: Write>(
    plan: &Plan,
    session: &Session,
    url: &HttpUrl,
    sink: W,
) -> Result<Verified<W>> {
    session.net.check_scheme(url)?;
    let ring = session.ring(plan)?;
    let evidence = verify::gather(plan, &ring, &session.net, Vec::new())?;
    let mut resp = session.net.open(url)?.ok_or_else(|| {
        Error::download(format!("{url} answered HTTP 404 (not found)")).hint("check the URL")
    })?;
    let bar = Progress::new(
        progress::enabled(plan.quiet),
        resp.content_length,
        &url.file_name(),
    );
    let declared = resp.content_length;
    let final_url = resp.url.clone();
    let verified = verify::stream(
        &evidence,
        resp.reader(),
        sink,
        Limits {
            max_size: plan.max_size,
            declared,
            url: Some(&final_url),
        },
        &mut |n| bar.set(n),
    )?;
    bar.finish();
    Ok(verified)
}

fn run(a: RunArgs) -> Result<u8> {
    let url = HttpUrl::parse(&a.url)?;
    let plan = Plan::new(Subject::Url(url.clone()), &a.verify)?;
    let session = Session::open(&plan)?;
    let name = url.file_name();
    let payload = PayloadFile::create(&name)?;
    let verified = download(&plan, &session, &url, payload)?;
    report_notes(plan.quiet, verified.report());
    if a.show {
        show(&verified)?;
    }
    if a.confirm {
        exec::confirm(&format!("verun: run {url}?"))?;
    }
    let opts = RunOptions {
        env_clean: a.env_clean,
        env: a.env,
        interpreter: a.interpreter,
        args: a.args,
        name,
    };
    exec::execute(verified, &opts)
}

fn show(v: &Verified<PayloadFile>) -> Result<()> {
    let head = v.head();
    let binary = head.starts_with(b"\x7fELF") || head.contains(&0);
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
    let _ = writeln!(err, "----- {} -----", v.report().subject);
    let _ = err.write_all(sanitize_block_bytes(&bytes).as_bytes());
    if v.report().size > SHOW_MAX {
        let _ = writeln!(
            err,
            "\n[… {} more bytes not shown]",
            v.report().size - SHOW_MAX
        );
    }
    let _ = writeln!(err, "\n----- end of {} -----", v.report().subject);
    Ok(())
}

fn sanitize_block_bytes(b: &[u8]) -> String {
    crate::term::sanitize_block(&String::from_utf8_lossy(b))
}

fn fetch(a: FetchArgs) -> Result<u8> {
    let url = HttpUrl::parse(&a.url)?;
    let plan = Plan::new(Subject::Url(url.clone()), &a.verify)?;
    let mode = a.mode.as_deref().map(parse_mode).transpose()?;
    let dir = output_dir(&a.output)?;
    let session = Session::open(&plan)?;
    let tmp = tempfile::Builder::new()
        .prefix(".verun-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|e| Error::io_at(format!("cannot create a file in {}", dir.display()), &e))?;
    // On any error below, `tmp` is dropped and its file removed: nothing is left at -o.
    let verified = download(&plan, &session, &url, tmp)?;
    let executable = verified.head().starts_with(b"\x7fELF") || verified.head().starts_with(b"#!");
    let (tmp, report) = verified.into_parts();
    let mode = mode.unwrap_or(if executable { 0o755 } else { 0o644 });
    persist(tmp, &a.output, mode)?;
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

fn verify_file(a: VerifyArgs) -> Result<u8> {
    let plan = Plan::new(Subject::File(a.file.clone()), &a.verify)?;
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
        },
        &mut |_| {},
    )?;
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

/// The directory `-o PATH` will be written in, checked before anything is downloaded.
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
    Ok(dir)
}

fn persist(tmp: tempfile::NamedTempFile, dest: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let io = |what: &str, e: &std::io::Error| Error::io_at(format!("{what} {}", dest.display()), e);
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("cannot set the mode of", &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io("cannot flush", &e))?;
    tmp.persist(dest)
        .map_err(|e| io("cannot move the verified file to", &e.error))?;
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
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

fn manpage() -> Result<u8> {
    use clap::CommandFactory;
    let man = clap_mangen::Man::new(Cli::command());
    man.render(&mut std::io::stdout())
        .map_err(|e| Error::io_at("cannot write the man page", &e))?;
    Ok(0)
}

/// Whether a command prints JSON (so failures are reported as JSON too).
pub fn wants_json(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Fetch(a) if a.json)
        || matches!(&cli.command, Command::Verify(a) if a.json)
}
