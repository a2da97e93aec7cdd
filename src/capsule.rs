//! The capsule (`run --capsule`): what a verified payload may touch.
//!
//! A signature proves who published a script, not what it does. In a capsule the payload
//! runs with:
//!
//! - **files**: Landlock denies every write (create, delete, rename, write, truncate, make
//!   device/FIFO/socket/symlink) outside the `--allow-write DIR`s, its own private temporary
//!   directory (its `TMPDIR`, removed afterwards) and `/dev/null`, `/dev/zero`, `/dev/full`,
//!   `/dev/tty`. Reads and execution stay allowed. Already-open descriptors (stdin, stdout,
//!   stderr, the payload's memfd) are not affected: Landlock checks when a file is opened.
//! - **network**: `--no-network` moves the payload into new user and network namespaces
//!   (one loopback interface, down: every connection fails); `--allow-connect PORT` instead
//!   lets TCP connect only to those ports (Landlock ABI ≥ 4; UDP, so DNS, is not covered).
//! - **privileges**: `no_new_privs`, so setuid and file capabilities grant nothing; with
//!   `--no-network` also no capabilities over files outside the namespace.
//! - **environment**: `--env-clean` is implied (`--env` passes what the payload needs).
//!
//! It is built by a small launcher, `verun __capsule SPEC -- PROGRAM ARGS...`: a fresh,
//! single-threaded verun process (user namespaces need one) that enters the capsule and then
//! `exec`s the payload's interpreter, so the payload is its direct successor. Whether the
//! launcher reached `exec` is reported through a close-on-exec pipe: a capsule that could
//! not be built is told apart from the payload's own exit status.
//!
//! Fail closed: `--capsule` (strict) refuses (77) when a restriction it was asked for cannot
//! be enforced here — no Landlock in the kernel, user namespaces forbidden (many container
//! runtimes' seccomp profiles), Landlock too old for `--allow-connect` — and it checks that
//! with a probe before anything is downloaded. `--capsule=best-effort` runs anyway and says
//! on stderr exactly which restriction was skipped.
//!
//! What it does not stop: reads of your files (a payload can still read `~/.ssh`, it just
//! cannot send it anywhere under `--no-network`), what other processes of your user do on the
//! payload's behalf, UDP under `--allow-connect`, and kernel bugs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The launcher's hidden subcommand.
pub const LAUNCHER: &str = "__capsule";
/// This very binary (the inode running now, even if the file was replaced since).
pub const SELF_EXE: &str = "/proc/self/exe";

/// How strictly the capsule must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// Every requested restriction must be enforced, or nothing runs (77).
    Strict,
    /// Run with what can be enforced; say what was skipped.
    BestEffort,
}

/// What the payload may do.
#[derive(Clone, Debug)]
pub struct Capsule {
    /// `--capsule` or `--capsule=best-effort`.
    pub strictness: Strictness,
    /// `--allow-write DIR`, absolute and existing.
    pub allow_write: Vec<PathBuf>,
    /// `--no-network`.
    pub no_network: bool,
    /// `--allow-connect PORT`.
    pub allow_connect: Vec<u16>,
}

/// Device files a payload may always open for writing.
const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/tty"];

impl Capsule {
    /// Check and normalise the spec (usage errors, 64): directories must exist; they are made
    /// absolute and resolved (Landlock rules name inodes, so the resolved directory is what
    /// is allowed).
    pub fn new(
        strictness: Strictness,
        allow_write: &[PathBuf],
        no_network: bool,
        allow_connect: &[u16],
    ) -> Result<Capsule> {
        let mut dirs = Vec::new();
        for d in allow_write {
            let real = std::fs::canonicalize(d).map_err(|e| {
                Error::usage(format!("--allow-write {}: {e}", d.display()))
                    .hint("give an existing directory the payload may write below")
            })?;
            if !real.is_dir() {
                return Err(Error::usage(format!(
                    "--allow-write {}: not a directory",
                    d.display()
                ))
                .hint("give an existing directory the payload may write below"));
            }
            dirs.push(real);
        }
        if no_network && !allow_connect.is_empty() {
            return Err(Error::usage(
                "--no-network and --allow-connect exclude each other",
            )
            .hint("--no-network allows no connection at all; --allow-connect PORT allows TCP to those ports only"));
        }
        Ok(Capsule {
            strictness,
            allow_write: dirs,
            no_network,
            allow_connect: allow_connect.to_vec(),
        })
    }

    /// The spec alone as arguments (`--best-effort`, `--allow-write DIR`, `--no-network`,
    /// `--allow-connect PORT`), as handed from verun to its re-executed self.
    pub fn spec_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        if self.strictness == Strictness::BestEffort {
            a.push("--best-effort".into());
        }
        for d in &self.allow_write {
            a.push("--allow-write".into());
            a.push(d.into());
        }
        if self.no_network {
            a.push("--no-network".into());
        }
        for p in &self.allow_connect {
            a.push("--allow-connect".into());
            a.push(p.to_string().into());
        }
        a
    }

    /// The inverse of [`Capsule::spec_args`]; anything else is an error.
    pub fn from_spec_args(args: &[OsString]) -> std::result::Result<Capsule, String> {
        let parsed = parse_launcher_args(args, false)?;
        Ok(parsed.capsule)
    }

    /// The launcher's arguments for this spec (before `--`). `status_fd` is the pipe the
    /// launcher reports a failure on; `tmp` the payload's private temporary directory.
    pub fn launcher_args(&self, status_fd: i32, tmp: &Path, probe: bool) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![LAUNCHER.into()];
        if probe {
            a.push("--probe".into());
        }
        if self.strictness == Strictness::BestEffort {
            a.push("--best-effort".into());
        }
        a.push("--status-fd".into());
        a.push(status_fd.to_string().into());
        a.push("--tmp".into());
        a.push(tmp.into());
        a.extend(
            self.spec_args()
                .into_iter()
                .filter(|x| x != "--best-effort"),
        );
        a
    }
}

/// What entering the capsule did: the restrictions skipped (best effort) and notes.
#[derive(Debug, Default)]
pub struct Entered {
    /// Restrictions that could not be enforced, in words (each one line).
    pub skipped: Vec<String>,
    /// Weaker-than-newest enforcement that is still a capsule (an older Landlock ABI).
    pub notes: Vec<String>,
}

/// Enter the capsule in this process. Must run while the process is single-threaded (the
/// launcher does it first thing). `tmp` is the payload's private temporary directory.
/// Strict: any requested restriction that cannot be enforced is an error (77).
pub fn enter(c: &Capsule, tmp: &Path) -> Result<Entered> {
    let mut out = Entered::default();
    if c.no_network
        && let Err(e) = new_network_namespace()
    {
        out.skipped.push(format!(
            "--no-network needs a new user and network namespace, which this system refuses ({e})"
        ));
    }
    match landlock(c, tmp) {
        Ok(Held::Fully) => {}
        Ok(Held::Partly(note)) => out.notes.push(note),
        Ok(Held::Not(why)) => out.skipped.push(why),
        Err(e) => out.skipped.push(format!("Landlock failed: {e}")),
    }
    // Landlock sets it too; set it here as well for best-effort runs without Landlock.
    if let Err(e) = rustix::thread::set_no_new_privs(true) {
        out.skipped.push(format!(
            "cannot set no_new_privs, so setuid programs keep their power ({e})"
        ));
    }
    if c.strictness == Strictness::Strict
        && let Some(first) = out.skipped.first()
    {
        return Err(refusal(first));
    }
    Ok(out)
}

/// The refusal of a strict capsule that cannot be built.
pub fn refusal(why: &str) -> Error {
    Error::refused_for(crate::error::Reason::CapsuleUnavailable, format!("--capsule: {why}; nothing was run")).hint(
        "run where the kernel allows it, or accept a weaker capsule with --capsule=best-effort (it says what it skips)",
    )
}

/// New user and network namespaces, with this process's uid and gid mapped to themselves.
fn new_network_namespace() -> std::io::Result<()> {
    use rustix::thread::UnshareFlags;
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    // `unshare` is deprecated in rustix only because CLONE_FILES can break other threads'
    // descriptors; NEWUSER and NEWNET share no descriptor tables (and the kernel refuses
    // NEWUSER in a multi-threaded process anyway).
    #[allow(deprecated)]
    rustix::thread::unshare(UnshareFlags::NEWUSER | UnshareFlags::NEWNET)?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// How far Landlock held.
enum Held {
    /// Everything asked for.
    Fully,
    /// Landlock works, but this kernel's ABI lacks some kinds of write (noted, not refused).
    Partly(String),
    /// A restriction that was asked for is not enforced.
    Not(String),
}

/// Apply the Landlock rules.
fn landlock(c: &Capsule, tmp: &Path) -> std::result::Result<Held, String> {
    use landlock::{
        ABI, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, NetPort, PathBeneath,
        PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    };
    // The newest ABI this crate knows; on an older kernel the best-effort mode handles what
    // the kernel has (the status below says so).
    let newest = ABI::V10;
    let write = AccessFs::from_write(newest);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(write)
        .map_err(|e| e.to_string())?;
    if !c.allow_connect.is_empty() {
        // TCP connect is handled only when asked for: a plain capsule leaves the network
        // alone (checked below: without ABI 4 it is not enforced).
        ruleset = ruleset
            .handle_access(AccessNet::ConnectTcp)
            .map_err(|e| e.to_string())?;
    }
    let mut created = ruleset.create().map_err(|e| e.to_string())?;
    let dir_rules = c.allow_write.iter().map(PathBuf::as_path).chain([tmp]);
    for d in dir_rules {
        let fd = PathFd::new(d).map_err(|e| format!("{}: {e}", d.display()))?;
        created = created
            .add_rule(PathBeneath::new(fd, write))
            .map_err(|e| e.to_string())?;
    }
    for dev in DEVICES {
        // A device missing here (no /dev/tty in a container) needs no rule.
        if let Ok(fd) = PathFd::new(dev) {
            created = created
                .add_rule(PathBeneath::new(fd, AccessFs::from_file(newest) & write))
                .map_err(|e| e.to_string())?;
        }
    }
    for port in &c.allow_connect {
        created = created
            .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
            .map_err(|e| e.to_string())?;
    }
    let status = created.restrict_self().map_err(|e| e.to_string())?;
    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi,
        _ => ABI::Unsupported,
    };
    if status.ruleset == RulesetStatus::NotEnforced || abi == ABI::Unsupported {
        return Ok(Held::Not(
            "the kernel has no Landlock (Linux 5.13 or later, with landlock in the lsm= list), so writes outside --allow-write cannot be denied".to_string(),
        ));
    }
    if !c.allow_connect.is_empty() && abi < ABI::V4 {
        return Ok(Held::Not(format!(
            "--allow-connect needs Landlock ABI 4 (Linux 6.7) for TCP rules; this kernel has {abi:?}, so connections are not restricted"
        )));
    }
    // Best effort handled what this kernel's ABI has; what matters for writes is whether
    // it predates refer (ABI 2: linking/renaming across directories) and truncate (ABI 3).
    Ok(if abi < ABI::V3 {
        Held::Partly(format!(
            "this kernel's Landlock ({abi:?}) cannot deny truncating files, or moving them across directories, outside --allow-write"
        ))
    } else {
        Held::Fully
    })
}

// --- the launcher ------------------------------------------------------------------------

/// What the launcher tells verun on the status pipe before it `exec`s the payload.
pub const STATUS_OK: &str = "ok";

/// Parsed launcher arguments.
pub struct LauncherArgs {
    /// The capsule to enter.
    pub capsule: Capsule,
    /// `--probe`: enter, report, exit (run nothing).
    pub probe: bool,
    /// The status pipe's write end, inherited.
    pub status_fd: i32,
    /// The payload's private temporary directory.
    pub tmp: PathBuf,
    /// What to `exec` once inside: the interpreter (or binary) and its arguments.
    pub program: Vec<OsString>,
}

/// Parse the launcher's arguments (after [`LAUNCHER`]).
pub fn parse_launcher(args: &[OsString]) -> std::result::Result<LauncherArgs, String> {
    parse_launcher_args(args, true)
}

/// Parse launcher arguments; with `full` false only the spec (no fd, tmp or program).
fn parse_launcher_args(args: &[OsString], full: bool) -> std::result::Result<LauncherArgs, String> {
    let mut it = args.iter();
    let mut strictness = Strictness::Strict;
    let (mut probe, mut no_network) = (false, false);
    let (mut status_fd, mut tmp) = (None, None);
    let (mut allow_write, mut allow_connect) = (Vec::new(), Vec::new());
    let mut program = Vec::new();
    let value = |it: &mut std::slice::Iter<'_, OsString>, flag: &str| {
        it.next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--probe" | "--status-fd" | "--tmp") if !full => {
                return Err(format!(
                    "{} is not part of a capsule spec",
                    a.to_string_lossy()
                ));
            }
            Some("--probe") => probe = true,
            Some("--best-effort") => strictness = Strictness::BestEffort,
            Some("--no-network") => no_network = true,
            Some("--status-fd") => {
                let v = value(&mut it, "--status-fd")?;
                status_fd = Some(
                    v.to_str()
                        .and_then(|s| s.parse::<i32>().ok())
                        .filter(|&n| n > 2)
                        .ok_or("bad --status-fd")?,
                );
            }
            Some("--tmp") => tmp = Some(PathBuf::from(value(&mut it, "--tmp")?)),
            Some("--allow-write") => {
                allow_write.push(PathBuf::from(value(&mut it, "--allow-write")?))
            }
            Some("--allow-connect") => {
                let v = value(&mut it, "--allow-connect")?;
                allow_connect.push(
                    v.to_str()
                        .and_then(|s| s.parse::<u16>().ok())
                        .ok_or("bad --allow-connect")?,
                );
            }
            Some("--") if full => {
                program = it.cloned().collect();
                break;
            }
            _ => return Err(format!("unexpected argument {}", a.to_string_lossy())),
        }
    }
    Ok(LauncherArgs {
        capsule: Capsule {
            strictness,
            allow_write,
            no_network,
            allow_connect,
        },
        probe,
        status_fd: if full {
            status_fd.ok_or("--status-fd is required")?
        } else {
            -1
        },
        tmp: if full {
            tmp.ok_or("--tmp is required")?
        } else {
            PathBuf::new()
        },
        program,
    })
}

/// The parent side: the status pipe's read end and the write end's descriptor number for
/// the launcher (inherited; every other descriptor of verun is close-on-exec).
pub struct StatusPipe {
    read: std::fs::File,
    write: Option<rustix::fd::OwnedFd>,
}

impl StatusPipe {
    /// A new pipe whose write end the launcher inherits.
    pub fn new() -> Result<StatusPipe> {
        use rustix::io::{FdFlags, fcntl_setfd};
        let (r, w) = rustix::pipe::pipe()
            .map_err(|e| Error::io(format!("cannot create the capsule's status pipe: {e}")))?;
        fcntl_setfd(&r, FdFlags::CLOEXEC)
            .map_err(|e| Error::io(format!("cannot create the capsule's status pipe: {e}")))?;
        Ok(StatusPipe {
            read: std::fs::File::from(r),
            write: Some(w),
        })
    }

    /// The write end's descriptor number, for `--status-fd`.
    pub fn write_fd(&self) -> i32 {
        use rustix::fd::AsRawFd;
        self.write.as_ref().map_or(-1, |w| w.as_raw_fd())
    }

    /// After the launcher started: close our write end and read its first line. `Ok(())`
    /// when it entered the capsule (and is about to `exec`); the refusal otherwise.
    pub fn wait_entered(mut self) -> Result<()> {
        use std::io::BufRead;
        drop(self.write.take());
        let mut line = String::new();
        let mut reader = std::io::BufReader::new((&mut self.read).take(4096));
        let _ = reader.read_line(&mut line);
        let line = line.trim_end();
        if line == STATUS_OK {
            return Ok(());
        }
        Err(match line.strip_prefix("refused ") {
            Some(msg) => Error::refused_for(crate::error::Reason::CapsuleUnavailable, crate::term::sanitize(msg)).hint(
                "run where the kernel allows it, or accept a weaker capsule with --capsule=best-effort (it says what it skips)",
            ),
            None => Error::io("--capsule: the launcher stopped before it built the capsule; nothing was run")
                .hint("see the message above"),
        })
    }
}

use std::io::Read as _;

/// Check, before anything is downloaded, that this capsule can be built here: runs the
/// launcher with `--probe` (it enters the capsule and exits). Strict: the refusal (77);
/// best effort: what would be skipped is printed by the probe itself.
pub fn probe(c: &Capsule) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("verun-capsule-probe-")
        .tempdir()
        .map_err(|e| Error::io_at("cannot create a private temporary directory", &e))?;
    let pipe = StatusPipe::new()?;
    let mut child = std::process::Command::new(SELF_EXE)
        .args(c.launcher_args(pipe.write_fd(), tmp.path(), true))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io_at("cannot start verun's capsule launcher", &e))?;
    let entered = pipe.wait_entered();
    let _ = child.wait();
    entered
}
