//! Running exactly the verified bytes.
//!
//! On Linux the payload is downloaded straight into an anonymous memory file (`memfd`),
//! sealed against writes, shrinking and growing, and executed through `/proc/self/fd/N`:
//! `#!` scripts as `INTERPRETER [ARG] /proc/self/fd/N ARGS...`, ELF binaries directly
//! (the kernel's `fexecve`). No path exists that another process could swap or rewrite.
//! Elsewhere the payload lives in a private 0700 directory, in a file opened exclusively.
//!
//! This module is free of `unsafe`: `rustix` wraps the system calls.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::process::{Command, ExitStatus};

use crate::error::{Error, Result};
use crate::verify::Verified;

/// Variables the payload keeps under `--env-clean` (plus every `LC_*`).
pub const CLEAN_ENV_KEEP: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TZ", "TMPDIR",
];

/// How to run the payload.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--env-clean`.
    pub env_clean: bool,
    /// `--env NAME[=VALUE]`.
    pub env: Vec<String>,
    /// `--interpreter PROG`.
    pub interpreter: Option<String>,
    /// Arguments after `--`.
    pub args: Vec<OsString>,
    /// The payload's file name, used as `argv[0]` for binaries.
    pub name: String,
    /// `--capsule`: what the payload may touch (implies `env_clean`).
    pub capsule: Option<crate::capsule::Capsule>,
}

/// The file the payload is written to before it is verified and run.
pub struct PayloadFile {
    file: File,
    /// The SHA-256 (hex) the sealed file was re-hashed to by [`PayloadFile::seal_and_check`]:
    /// from then on its bytes are immutable and known to be these.
    checked: Option<String>,
    /// Whether [`PayloadFile::seal`] succeeded (a seal cannot be added twice).
    sealed: bool,
    #[cfg(not(target_os = "linux"))]
    dir: tempfile::TempDir,
    #[cfg(not(target_os = "linux"))]
    path: std::path::PathBuf,
}

impl Write for PayloadFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The longest name `memfd_create(2)` takes: `NAME_MAX` (255) less its `memfd:` prefix,
/// in bytes, not counting the terminating NUL.
#[cfg(target_os = "linux")]
const MEMFD_NAME_MAX: usize = 249;

/// The memfd's name (only a label, shown in `/proc/PID/fd`): `verun:` and the file name,
/// without NUL bytes (a C string cannot hold them), cut on a character boundary to
/// [`MEMFD_NAME_MAX`] bytes. Any URL's file name thus yields a name the kernel accepts.
#[cfg(target_os = "linux")]
fn memfd_label(name: &str) -> String {
    let mut label = String::from("verun:");
    for c in name.chars().filter(|&c| c != '\0') {
        if label.len() + c.len_utf8() > MEMFD_NAME_MAX {
            break;
        }
        label.push(c);
    }
    label
}

impl PayloadFile {
    /// A new, empty, private payload file.
    #[cfg(target_os = "linux")]
    pub fn create(name: &str) -> Result<PayloadFile> {
        use rustix::fs::{MemfdFlags, memfd_create};
        let label = memfd_label(name);
        let base = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
        // MFD_EXEC keeps the memfd executable where `vm.memfd_noexec` would default it to
        // no-exec (Linux >= 6.3); older kernels reject the flag, so retry without it.
        let fd = memfd_create(&label, base | MemfdFlags::EXEC)
            .or_else(|_| memfd_create(&label, base))
            .map_err(|e| Error::io(format!("cannot create the payload memfd: {e}")))?;
        Ok(PayloadFile {
            file: File::from(fd),
            checked: None,
            sealed: false,
        })
    }

    /// A new, empty, private payload file.
    #[cfg(not(target_os = "linux"))]
    pub fn create(name: &str) -> Result<PayloadFile> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = tempfile::Builder::new()
            .prefix("verun-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| Error::io_at("cannot create a private directory", &e))?;
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
            .take(100)
            .collect();
        let path = dir.path().join(if safe.is_empty() {
            "payload".into()
        } else {
            safe
        });
        let file = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o700)
            .open(&path)
            .map_err(|e| Error::io_at("cannot create the payload file", &e))?;
        Ok(PayloadFile {
            file,
            checked: None,
            sealed: false,
            dir,
            path,
        })
    }

    /// Seal the file: no more writes, shrinking or growing, by anyone.
    pub fn seal(&mut self) -> Result<()> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{SealFlags, fcntl_add_seals};
            fcntl_add_seals(
                &self.file,
                SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
            )
            .map_err(|e| Error::io(format!("cannot seal the payload memfd: {e}")))?;
        }
        #[cfg(not(target_os = "linux"))]
        {
            use std::os::unix::fs::PermissionsExt;
            self.file
                .set_permissions(std::fs::Permissions::from_mode(0o500))
                .map_err(|e| Error::io_at("cannot protect the payload file", &e))?;
        }
        self.sealed = true;
        Ok(())
    }

    /// Read up to `cap` bytes from the start (for `--show`).
    pub fn read_prefix(&self, cap: u64) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut out = vec![0u8; 0];
        let mut off = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        while off < cap {
            let n = self
                .file
                .read_at(&mut buf, off)
                .map_err(|e| Error::io_at("cannot read the payload", &e))?;
            if n == 0 {
                break;
            }
            let take = (n as u64).min(cap - off) as usize;
            out.extend_from_slice(&buf[..take]);
            off += n as u64;
        }
        Ok(out)
    }

    /// After [`seal`](Self::seal): re-hash what is now immutable and refuse (77) unless it
    /// is the verified `sha256` (hex). Until the seal, another process of the same user
    /// could open the memfd through `/proc/<pid>/fd/N` and write to it; what was verified
    /// is the stream, so the sealed copy is checked against it before anything runs.
    ///
    /// The re-hash is one more pass over every byte after the last one arrived, so it runs
    /// through the download loop ([`crate::pump`]): this thread reads while another hashes.
    pub fn check_sealed(&self, sha256: &str) -> Result<()> {
        let mut src = ReadAt {
            file: &self.file,
            off: 0,
        };
        let pumped = crate::pump::pump(
            &mut src,
            &mut std::io::sink(),
            false,
            false,
            0,
            u64::MAX,
            &mut |_| {},
        )
        .map_err(|e| match e {
            crate::pump::PumpError::Read(e) => Error::io_at("cannot read the sealed payload", &e),
            other => Error::io(format!("cannot re-hash the sealed payload: {other:?}")),
        })?;
        let got = crate::checksums::to_hex(&pumped.sha256);
        if got != sha256 {
            return Err(Error::refused_for(crate::error::Reason::ChecksumMismatch, format!(
                "the payload changed after it was verified (sha256 {got}, verified {sha256}); nothing was run"
            ))
            .hint("another process wrote to verun's payload file while it was downloading; check for malware running as your user"));
        }
        Ok(())
    }

    /// [`seal`](Self::seal), then [`check_sealed`](Self::check_sealed) against `sha256`,
    /// once: a payload already sealed and checked against the same digest is not re-hashed
    /// again (its bytes cannot change any more), so a first `run` hashes the sealed copy
    /// once, for the cache and for the exec alike.
    pub fn seal_and_check(&mut self, sha256: &str) -> Result<()> {
        if self.checked.as_deref() == Some(sha256) {
            return Ok(());
        }
        if !self.sealed {
            self.seal()?;
        }
        self.checked = None;
        self.check_sealed(sha256)?;
        self.checked = Some(sha256.to_string());
        Ok(())
    }

    /// Whether [`seal_and_check`](Self::seal_and_check) found the sealed bytes to be
    /// `sha256`: then they need no re-hash wherever they are copied.
    pub fn is_checked_as(&self, sha256: &str) -> bool {
        self.checked.as_deref() == Some(sha256)
    }

    /// Record that the digests were computed from the sealed bytes themselves (see
    /// `verify::stream_sealed`): nothing needs re-hashing before they run.
    pub(crate) fn mark_checked(&mut self, sha256: &str) {
        if self.sealed {
            self.checked = Some(sha256.to_string());
        }
    }

    /// The payload from its start, read by offset.
    pub fn reader(&self) -> impl Read + '_ {
        ReadAt {
            file: &self.file,
            off: 0,
        }
    }

    /// Copy the whole payload, from its start, to `w` (for the cache); returns the size.
    pub fn copy_to(&self, w: &mut dyn Write) -> Result<u64> {
        use std::os::unix::fs::FileExt;
        let mut off = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .file
                .read_at(&mut buf, off)
                .map_err(|e| Error::io_at("cannot read the payload", &e))?;
            if n == 0 {
                return Ok(off);
            }
            w.write_all(&buf[..n])
                .map_err(|e| Error::io_at("cannot copy the payload", &e))?;
            off += n as u64;
        }
    }
}

/// Reads a file from its start by offset (`pread`), leaving the descriptor's offset alone.
struct ReadAt<'a> {
    file: &'a File,
    off: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.off)?;
        self.off += n as u64;
        Ok(n)
    }
}

/// Make verun itself non-dumpable (Linux): other processes of the same user (not root) can
/// then no longer open `/proc/<verun>/fd/N` and write to the payload before it is sealed,
/// nor ptrace verun. The payload is not affected (dumpability is reset by `exec`). Failure
/// is harmless: the sealed payload is re-hashed before it runs anyway.
pub fn protect_from_same_user() {
    #[cfg(target_os = "linux")]
    {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

/// What kind of program the payload is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launch {
    /// An ELF binary, run directly.
    Elf,
    /// A `#!` script: interpreter and its one optional argument.
    Shebang(String, Option<String>),
    /// Anything else: run under `sh`.
    Sh,
}

/// Decide how to launch a payload from its first bytes.
pub fn launch_for(head: &[u8]) -> Launch {
    if head.starts_with(b"\x7fELF") {
        return Launch::Elf;
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = String::from_utf8_lossy(&rest[..line_end]);
        let line = line.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        if !line.is_empty() {
            let (interp, arg) = match line.split_once([' ', '\t']) {
                Some((i, a)) => {
                    let a = a.trim_matches([' ', '\t']);
                    (i, (!a.is_empty()).then(|| a.to_string()))
                }
                None => (line, None),
            };
            return Launch::Shebang(interp.to_string(), arg);
        }
    }
    Launch::Sh
}

/// Whether [`execute`] runs a payload starting with `head` as a binary (the kernel executes
/// it: an ELF file without `--interpreter`), rather than handing it to an interpreter as a
/// script. `--show` decides with this, so that what runs as a script is shown as one.
pub fn runs_as_binary(head: &[u8], interpreter: Option<&str>) -> bool {
    interpreter.is_none() && launch_for(head) == Launch::Elf
}

/// How the payload is started, apart from the path of its sealed copy.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Start {
    kind: StartKind,
    /// The interpreter, or for [`StartKind::Elf`] the payload's `argv[0]`.
    prog: OsString,
    /// The interpreter's own argument (from the `#!` line), before the path.
    pre: Vec<OsString>,
    /// The payload's arguments, after the path.
    args: Vec<OsString>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StartKind {
    /// The kernel runs it: `/proc/self/fd/N` with `argv[0]` = the payload's name.
    Elf,
    /// `INTERPRETER [ARG] /proc/self/fd/N`, the interpreter named by the `#!` line.
    Shebang,
    /// `sh` or `--interpreter PROG`.
    Script,
}

impl StartKind {
    fn as_str(self) -> &'static str {
        match self {
            StartKind::Elf => "elf",
            StartKind::Shebang => "shebang",
            StartKind::Script => "script",
        }
    }

    fn parse(s: &str) -> Option<StartKind> {
        [StartKind::Elf, StartKind::Shebang, StartKind::Script]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl Start {
    fn new(launch: &Launch, opts: &RunOptions) -> Start {
        let (kind, prog, pre) = match (&opts.interpreter, launch) {
            (Some(prog), _) => (StartKind::Script, prog.into(), Vec::new()),
            (None, Launch::Elf) => (StartKind::Elf, opts.name.as_str().into(), Vec::new()),
            (None, Launch::Shebang(interp, arg)) => (
                StartKind::Shebang,
                interp.into(),
                arg.iter().map(OsString::from).collect(),
            ),
            (None, Launch::Sh) => (StartKind::Script, "sh".into(), Vec::new()),
        };
        Start {
            kind,
            prog,
            pre,
            args: opts.args.clone(),
        }
    }

    fn command(&self, path: &std::ffi::OsStr) -> Command {
        let mut c = if self.kind == StartKind::Elf {
            use std::os::unix::process::CommandExt;
            let mut c = Command::new(path);
            c.arg0(&self.prog);
            c
        } else {
            let mut c = Command::new(&self.prog);
            c.args(&self.pre).arg(path);
            c
        };
        c.args(&self.args);
        c
    }

    /// Spawn the payload (environment as set up in `cmd`), wait for it while forwarding
    /// signals, and return verun's exit code for its status.
    fn spawn_and_wait(
        &self,
        mut cmd: Command,
        capsule: Option<&crate::capsule::Capsule>,
    ) -> Result<u8> {
        let program = cmd.get_program().to_string_lossy().into_owned();
        // The capsule: its launcher enters it, then execs exactly this command.
        let mut capsule_tmp = None;
        let mut status_pipe = None;
        if let Some(c) = capsule {
            let tmp = tempfile::Builder::new()
                .prefix("verun-capsule-")
                .tempdir()
                .map_err(|e| {
                    Error::io_at(
                        "cannot create the payload's private temporary directory",
                        &e,
                    )
                })?;
            let pipe = crate::capsule::StatusPipe::new()?;
            let mut wrapped = Command::new(crate::capsule::SELF_EXE);
            wrapped.args(c.launcher_args(pipe.write_fd(), tmp.path(), false));
            wrapped
                .arg("--")
                .arg(cmd.get_program())
                .args(cmd.get_args());
            // A capsule implies --env-clean: this process's environment is the payload's.
            wrapped.env("TMPDIR", tmp.path());
            cmd = wrapped;
            capsule_tmp = Some(tmp);
            status_pipe = Some(pipe);
        }
        let mut child = cmd.spawn().map_err(|e| {
            let hint = match self.kind {
                StartKind::Shebang => format!(
                    "the script asks for {}; install it or pass --interpreter PROG",
                    crate::term::sanitize(&program)
                ),
                _ => "check --interpreter, or that /proc is mounted".to_string(),
            };
            Error::io(format!(
                "cannot start the payload with {}: {e}",
                crate::term::sanitize(&program)
            ))
            .hint(hint)
        })?;
        if let Some(pipe) = status_pipe
            && let Err(e) = pipe.wait_entered()
        {
            let _ = child.wait();
            return Err(e);
        }
        let status = wait_forwarding_signals(&mut child)?;
        drop(capsule_tmp);
        Ok(exit_code(status))
    }
}

/// Run the verified payload and wait for it. Returns verun's exit code: the payload's own
/// status, or 128+N when it was killed by signal N.
///
/// With `--env-clean` (Linux), verun first re-executes itself (`/proc/self/exe`, same
/// process) in the internal [`SEALED_MODE`] with exactly the payload's environment, handing
/// over only the sealed memfd (an inherited descriptor) and, on its command line, the
/// verified digest and how to start the payload. The environment verun was started with,
/// secrets included, is then gone from `/proc/<verun>/environ` and from verun's memory
/// before the payload starts; [`run_sealed`] re-checks the memfd and runs it. Without
/// `--env-clean` the payload inherits that environment anyway, so there is nothing to hide
/// and no re-exec.
pub fn execute(verified: Verified<PayloadFile>, opts: &RunOptions) -> Result<u8> {
    let launch = launch_for(verified.head());
    let (payload, report) = verified.into_parts();
    let start = Start::new(&launch, opts);
    let reexec = cfg!(target_os = "linux") && opts.env_clean;
    // Only an ELF run directly by the kernel may close the descriptor at exec; a script's
    // interpreter, and the re-executed verun, must inherit it.
    let cloexec = start.kind == StartKind::Elf && !reexec;
    let prepared = prepare(payload, cloexec, &report.sha256)?;
    #[cfg(target_os = "linux")]
    if reexec {
        return Err(reexec_clean(&prepared, &start, &report.sha256, opts));
    }
    let mut cmd = start.command(prepared.path.as_ref());
    apply_env(&mut cmd, opts);
    // A capsule implies --env-clean, so on Linux it is always built after the re-exec.
    let code = start.spawn_and_wait(cmd, opts.capsule.as_ref());
    drop(prepared);
    code
}

/// The first argument that switches verun into its internal mode: run a sealed memfd
/// handed over by a verun that verified it (see [`execute`]). Recognised by `main` before
/// the command line is parsed, so it appears in no help, completion or man page.
pub const SEALED_MODE: &str = "__verun-run-sealed-memfd";

/// Replace this process by `verun SEALED_MODE FD SHA256 CN CAPSULE... KIND PROG N PRE... --
/// ARGS...` (CN: how many capsule spec arguments follow, 0 without `--capsule`) with
/// the payload's environment. Returns only when that fails.
#[cfg(target_os = "linux")]
fn reexec_clean(prepared: &Prepared, start: &Start, sha256: &str, opts: &RunOptions) -> Error {
    use rustix::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let capsule_args = opts
        .capsule
        .as_ref()
        .map(crate::capsule::Capsule::spec_args)
        .unwrap_or_default();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("verun")
        .arg(SEALED_MODE)
        .arg(prepared.keep.as_raw_fd().to_string())
        .arg(sha256)
        .arg(capsule_args.len().to_string())
        .args(&capsule_args)
        .arg(start.kind.as_str())
        .arg(&start.prog)
        .arg(start.pre.len().to_string())
        .args(&start.pre)
        .arg("--")
        .args(&start.args);
    apply_env(&mut cmd, opts);
    let e = cmd.exec();
    Error::io(format!(
        "cannot re-execute verun with the payload's clean environment: {e}; nothing was run"
    ))
    .hint("verun needs /proc mounted to run payloads from memory")
}

/// The internal mode ([`SEALED_MODE`]; `args` are the arguments after it): check that
/// descriptor FD is a memfd sealed against writing, shrinking, growing and further seals
/// whose contents hash to SHA256, then start the payload from it with this process's
/// environment (which the verun that verified it set to the payload's), forwarding SIGTERM
/// and SIGHUP, and return the exit code as [`execute`] does. Anything else is refused: 64
/// for malformed arguments, 77 for a descriptor that is not such a memfd.
pub fn run_sealed(args: &[OsString]) -> Result<u8> {
    protect_from_same_user(); // `exec` made this process dumpable again
    // `exec /proc/self/exe` names the process `exe`; `ps` and `pgrep verun` should see verun.
    let _ = std::fs::write("/proc/self/comm", "verun");
    let bad = || {
        Error::usage(format!(
            "{SEALED_MODE}: malformed arguments; nothing was run"
        ))
        .hint("this mode is internal to `verun run --env-clean`; use `verun run URL`")
    };
    let mut it = args.iter();
    let mut text = || it.next().and_then(|s| s.to_str());
    let fd: u32 = text()
        .and_then(|s| s.parse().ok())
        .filter(|&fd| fd > 2)
        .ok_or_else(bad)?;
    let sha256 = text()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(bad)?
        .to_string();
    let capsule_n: usize = text()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n <= 4096)
        .ok_or_else(bad)?;
    let capsule_spec: Vec<OsString> = it.by_ref().take(capsule_n).cloned().collect();
    if capsule_spec.len() != capsule_n {
        return Err(bad());
    }
    let capsule = if capsule_n == 0 {
        None
    } else {
        Some(crate::capsule::Capsule::from_spec_args(&capsule_spec).map_err(|_| bad())?)
    };
    let mut text = || it.next().and_then(|s| s.to_str());
    let kind = text().and_then(StartKind::parse).ok_or_else(bad)?;
    let prog = it.next().ok_or_else(bad)?.clone();
    let n: usize = it
        .next()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .filter(|&n| n <= 1)
        .ok_or_else(bad)?;
    let pre: Vec<OsString> = it.by_ref().take(n).cloned().collect();
    if pre.len() != n || it.next().is_none_or(|s| s != "--") {
        return Err(bad());
    }
    let start = Start {
        kind,
        prog,
        pre,
        args: it.cloned().collect(),
    };
    // The payload starts from the inherited descriptor itself (a script's interpreter opens
    // it by this path; so does the kernel for an ELF, which then keeps it open, read-only:
    // closing a descriptor by number would take `unsafe` in this crate).
    let path = format!("/proc/self/fd/{fd}");
    check_handed_over(&path, &sha256)?;
    start.spawn_and_wait(start.command(path.as_ref()), capsule.as_ref())
}

fn refuse_handover(why: String) -> Error {
    Error::refused(format!("{SEALED_MODE}: {why}; nothing was run"))
        .hint("this mode runs only the sealed memfd a verifying verun hands over")
}

/// Memfds exist only on Linux: elsewhere the internal mode refuses everything.
#[cfg(not(target_os = "linux"))]
fn check_handed_over(_path: &str, _sha256: &str) -> Result<()> {
    Err(refuse_handover("there are no memfds on this system".into()))
}

/// Refuse (77) unless `path` (`/proc/self/fd/N`) is a memfd, sealed for good, holding
/// exactly the bytes that hash to `sha256`.
#[cfg(target_os = "linux")]
fn check_handed_over(path: &str, sha256: &str) -> Result<()> {
    use rustix::fs::{SealFlags, fcntl_get_seals};
    let refuse = refuse_handover;
    let link = std::fs::read_link(path)
        .map_err(|e| refuse(format!("no payload descriptor at {path}: {e}")))?;
    if !link.to_string_lossy().starts_with("/memfd:") {
        return Err(refuse(format!(
            "{path} is not a memfd ({})",
            crate::term::sanitize(&link.to_string_lossy())
        )));
    }
    let file = File::open(path).map_err(|e| refuse(format!("cannot open {path}: {e}")))?;
    let need = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    let seals = fcntl_get_seals(&file)
        .map_err(|e| refuse(format!("cannot read the seals of {path}: {e}")))?;
    if !seals.contains(need) {
        return Err(refuse(format!(
            "the memfd at {path} is not sealed against writing, resizing and new seals"
        )));
    }
    PayloadFile {
        file,
        checked: None,
        sealed: true, // fcntl_get_seals above
    }
    .check_sealed(sha256)
}

struct Prepared {
    path: std::ffi::OsString,
    #[allow(dead_code)] // kept open (Linux) or alive (elsewhere) until the payload exits
    keep: PayloadKeep,
}

#[cfg(target_os = "linux")]
type PayloadKeep = rustix::fd::OwnedFd;
#[cfg(not(target_os = "linux"))]
type PayloadKeep = PayloadFile;

#[cfg(target_os = "linux")]
fn prepare(mut payload: PayloadFile, cloexec: bool, sha256: &str) -> Result<Prepared> {
    use rustix::fd::AsRawFd;
    use rustix::fs::{Mode, OFlags, open};
    payload.seal_and_check(sha256)?;
    // A read-only descriptor of the sealed memfd; the writable one is closed so that the
    // kernel sees no writer at exec time. Scripts need it inherited by the interpreter (and
    // a re-executed verun by itself); ELF binaries are opened by the kernel before
    // close-on-exec applies.
    let self_path = format!("/proc/self/fd/{}", payload.file.as_raw_fd());
    let mut flags = OFlags::RDONLY;
    if cloexec {
        flags |= OFlags::CLOEXEC;
    }
    let ro = open(self_path.as_str(), flags, Mode::empty()).map_err(|e| {
        Error::io(format!(
            "cannot reopen the sealed payload through /proc: {e}"
        ))
        .hint("verun needs /proc mounted to run payloads from memory")
    })?;
    drop(payload);
    let path = format!("/proc/self/fd/{}", ro.as_raw_fd()).into();
    Ok(Prepared { path, keep: ro })
}

#[cfg(not(target_os = "linux"))]
fn prepare(mut payload: PayloadFile, _cloexec: bool, sha256: &str) -> Result<Prepared> {
    payload.seal_and_check(sha256)?;
    let path = payload.path.clone().into_os_string();
    Ok(Prepared {
        path,
        keep: payload,
    })
}

fn apply_env(cmd: &mut Command, opts: &RunOptions) {
    if opts.env_clean {
        cmd.env_clear();
        for (k, v) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if CLEAN_ENV_KEEP.contains(&name.as_ref()) || name.starts_with("LC_") {
                cmd.env(&k, &v);
            }
        }
    }
    for spec in &opts.env {
        match spec.split_once('=') {
            Some((k, v)) => {
                cmd.env(k, v);
            }
            None => {
                if let Some(v) = std::env::var_os(spec) {
                    cmd.env(spec, v);
                }
            }
        }
    }
}

/// While the payload runs, verun must not die first: SIGINT and SIGQUIT (which the terminal
/// sends to the whole process group) are ignored by verun; SIGTERM and SIGHUP (usually sent
/// to verun alone) are forwarded to the payload. The handlers reset to default in the child.
fn wait_forwarding_signals(child: &mut std::process::Child) -> Result<ExitStatus> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::Signals;
    let mut signals = Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP])
        .map_err(|e| Error::io_at("cannot install signal handlers", &e))?;
    let handle = signals.handle();
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            let fwd = match sig {
                SIGTERM => Some(rustix::process::Signal::TERM),
                SIGHUP => Some(rustix::process::Signal::HUP),
                _ => None,
            };
            if let (Some(pid), Some(s)) = (pid, fwd) {
                let _ = rustix::process::kill_process(pid, s);
            }
        }
    });
    let status = child.wait();
    handle.close();
    let _ = forwarder.join();
    status.map_err(|e| Error::io_at("cannot wait for the payload", &e))
}

/// verun's exit code for the payload's status: its code, or 128+N for signal N.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => (c & 0xff) as u8,
        (None, Some(sig)) => (128 + sig).min(255) as u8,
        _ => 1,
    }
}

fn refuse_confirm(why: &str) -> Error {
    Error::refused_for(
        crate::error::Reason::NotConfirmed,
        format!("--confirm: {why}; nothing was run"),
    )
    .hint("--confirm needs a terminal to ask on; in CI use --show, a lockfile or a pinned --sha256")
}

/// The controlling terminal, for `--confirm`; refused (77) when there is none. `run` checks
/// this before downloading anything, so a CI job fails fast.
pub fn open_terminal() -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| refuse_confirm("no terminal to ask on"))
}

/// Ask on the terminal before running. Refuses (77) when there is no terminal.
pub fn confirm(question: &str) -> Result<()> {
    let mut tty = open_terminal()?;
    write!(tty, "{question} [y/N] ").map_err(|_| refuse_confirm("cannot write to the terminal"))?;
    let _ = tty.flush();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while answer.len() < 64 {
        match tty.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => answer.push(byte[0]),
            _ => break,
        }
    }
    let answer = String::from_utf8_lossy(&answer).trim().to_ascii_lowercase();
    if answer == "y" || answer == "yes" {
        Ok(())
    } else {
        Err(Error::refused_for(
            crate::error::Reason::NotConfirmed,
            "--confirm: you declined; nothing was run",
        )
        .hint("answer y to run it; --show prints the verified script first"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: bytes written into the memfd through `/proc/<pid>/fd/N` by another
    /// process before the seal used to run although they were never verified.
    #[cfg(target_os = "linux")]
    #[test]
    fn sealed_payload_is_rehashed_against_the_verified_digest() {
        use rustix::fd::AsRawFd;
        use sha2::{Digest, Sha256};
        use std::os::unix::fs::FileExt;
        let good = b"#!/bin/sh\necho good\n";
        let digest = crate::checksums::to_hex(&Sha256::digest(good));
        let mut p = PayloadFile::create("t.sh").unwrap();
        p.write_all(good).unwrap();
        // What a racing writer does: open the memfd by its /proc path and overwrite it.
        let path = format!("/proc/self/fd/{}", p.file.as_raw_fd());
        let other = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        other.write_at(b"#!/bin/sh\necho evil\n", 0).unwrap();
        p.seal().unwrap();
        assert!(
            other.write_at(b"x", 0).is_err(),
            "the seal must stop writers"
        );
        let err = p.check_sealed(&digest).unwrap_err();
        assert_eq!(err.exit_code(), 77);

        let mut q = PayloadFile::create("t.sh").unwrap();
        q.write_all(good).unwrap();
        q.seal().unwrap();
        q.check_sealed(&digest).unwrap();
    }

    /// `run` seals and re-hashes once, before it records or caches anything; the cache and
    /// the exec then trust that check only for the digest it was made against.
    #[cfg(target_os = "linux")]
    #[test]
    fn seal_and_check_hashes_once_per_digest_and_refuses_a_racing_write() {
        use rustix::fd::AsRawFd;
        use sha2::{Digest, Sha256};
        use std::os::unix::fs::FileExt;
        let good = b"#!/bin/sh\necho good\n";
        let digest = crate::checksums::to_hex(&Sha256::digest(good));
        let other = crate::checksums::to_hex(&Sha256::digest(b"other"));

        let mut p = PayloadFile::create("t.sh").unwrap();
        p.write_all(good).unwrap();
        assert!(
            !p.is_checked_as(&digest),
            "nothing is checked before the seal"
        );
        p.seal_and_check(&digest).unwrap();
        assert!(p.is_checked_as(&digest));
        assert!(!p.is_checked_as(&other));
        p.seal_and_check(&digest).unwrap();
        let err = p.seal_and_check(&other).unwrap_err();
        assert_eq!(
            err.exit_code(),
            77,
            "another digest is re-hashed, not trusted"
        );
        assert!(!p.is_checked_as(&digest) && !p.is_checked_as(&other));
        p.seal_and_check(&digest).unwrap();
        assert!(
            p.is_checked_as(&digest),
            "the sealed bytes still hash as verified"
        );

        let mut q = PayloadFile::create("t.sh").unwrap();
        q.write_all(good).unwrap();
        let path = format!("/proc/self/fd/{}", q.file.as_raw_fd());
        let racer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        racer.write_at(b"#!/bin/sh\necho evil\n", 0).unwrap();
        let err = q.seal_and_check(&digest).unwrap_err();
        assert_eq!(err.exit_code(), 77);
        assert!(
            !q.is_checked_as(&digest),
            "a refused check marks nothing checked"
        );
    }

    #[test]
    fn launch_detection() {
        assert_eq!(launch_for(b"\x7fELF\x02\x01"), Launch::Elf);
        assert_eq!(
            launch_for(b"#!/bin/bash\necho"),
            Launch::Shebang("/bin/bash".into(), None)
        );
        assert_eq!(
            launch_for(b"#! /usr/bin/env  python3 -u \r\nx"),
            Launch::Shebang("/usr/bin/env".into(), Some("python3 -u".into()))
        );
        assert_eq!(launch_for(b"echo hi\n"), Launch::Sh);
        assert_eq!(launch_for(b"#!\n"), Launch::Sh);
        assert_eq!(launch_for(b""), Launch::Sh);
    }
}
