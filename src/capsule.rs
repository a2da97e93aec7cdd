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
    Error::refused(format!("--capsule: {why}; nothing was run")).hint(
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
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Held::Fully,
        _ => Held::Partly(format!(
            "Landlock {abi:?} of this kernel does not restrict every kind of write that newer kernels do"
        )),
    })
}
