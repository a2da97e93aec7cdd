//! The one set of rules for every file verun owns or trusts: the key store, the rollback
//! state, the cache, lockfiles (`--lock FILE`) and their `.NAME.lck` lock files, and the
//! `.partial` file of `fetch -o`.
//!
//! A file or directory verun reads as its own state, or trusts as evidence, must be:
//!
//! - **not a symlink**: every open uses `O_NOFOLLOW` (and `O_NONBLOCK`, so a FIFO planted
//!   at the path cannot hang the open), and every check is made on what was opened
//!   (`fstat`), or on the path itself (`lstat`) for directories;
//! - **of the right type**: a regular file, or a directory;
//! - **owned by the effective uid**: a file another user owns is refused, even when its mode
//!   looks safe (they can chmod it back at any time);
//! - **not writable by group or others** (mode `& 022 == 0`);
//! - **not in a directory everyone may write to without the sticky bit** (mode `o+w`, no
//!   `+t`): anyone could rename their own file over it. A sticky directory such as `/tmp`
//!   is fine: there, only a file's owner can replace it. A group-writable directory is
//!   allowed (user-private groups make it common); what verun writes there is checked by
//!   inode after the rename (`rename_verified`).
//!
//! A violation is a configuration error (78), worded `WHAT PATH WHY; REFUSING` plus a hint
//! (each user of this module names its files through [`Rules`]).
//!
//! Locks ([`lock`]) are `flock(2)` locks on a separate lock file that is never renamed. The
//! lock file follows the same rules (so another user's lock file is refused at once, 78,
//! instead of being waited on), and a wait is bounded: a non-blocking attempt is repeated
//! with a growing pause up to [`LOCK_WAIT`]; then the call fails (74) with one line naming
//! the lock file and a hint.
//!
//! Writes ([`write_atomic`]) go to a temporary file in the same directory (0600, `O_EXCL`,
//! random name), which is flushed, renamed over the target and checked by inode
//! (`rename_verified`): what lands at the path is the inode verun wrote, or the call
//! fails and removes what another process put there. The directory is flushed last.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;

use crate::error::{Error, Result};

/// The longest verun waits for a lock another process holds.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The effective uid: the owner every private file must have.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What a path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// Why a path is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It is a symlink.
    Symlink,
    /// It is not a directory.
    NotDir,
    /// It is not a regular file.
    NotFile,
    /// Another user owns it.
    Owner {
        /// Its owner.
        uid: u32,
    },
    /// Group or others may write to it.
    Writable {
        /// Its mode.
        mode: u32,
    },
    /// The directory holding it may be written by everyone and is not sticky.
    OpenParent {
        /// That directory.
        parent: PathBuf,
        /// Its mode.
        mode: u32,
    },
}

impl Problem {
    /// The problem, as the end of a sentence starting with the path.
    pub fn why(&self) -> String {
        match self {
            Problem::Symlink => "is a symlink".into(),
            Problem::NotDir => "is not a directory".into(),
            Problem::NotFile => "is not a regular file".into(),
            Problem::Owner { uid } => {
                format!("belongs to uid {uid}, not to you (uid {})", euid())
            }
            Problem::Writable { mode } => {
                format!("is writable by group or others (mode {mode:04o})")
            }
            Problem::OpenParent { parent, mode } => format!(
                "is in {}, which everyone may write to (mode {mode:04o})",
                parent.display()
            ),
        }
    }
}

/// How one kind of file is named in refusals.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// What it is, with its article: `the key store`, `the lockfile`.
    pub what: &'a str,
    /// The end of the sentence: `refusing to load it`.
    pub refusing: &'a str,
    /// The hint for a problem with a path.
    pub hint: fn(&Path, &Problem) -> String,
}

impl<'a> Rules<'a> {
    /// Rules with [`default_hint`].
    pub const fn new(what: &'a str, refusing: &'a str) -> Rules<'a> {
        Rules {
            what,
            refusing,
            hint: default_hint,
        }
    }

    /// The refusal (78) of `path` for `problem`.
    pub fn refuse(&self, path: &Path, problem: &Problem) -> Error {
        Error::config(format!(
            "{} {} {}; {}",
            self.what,
            path.display(),
            problem.why(),
            self.refusing
        ))
        .hint((self.hint)(path, problem))
    }
}

/// A hint that says how to fix `problem` at `path`.
pub fn default_hint(path: &Path, problem: &Problem) -> String {
    match problem {
        Problem::Symlink => format!(
            "verun never follows a symlink here: replace {} with a real file or directory of yours",
            path.display()
        ),
        Problem::NotDir | Problem::NotFile => format!("move {} aside", path.display()),
        Problem::Owner { .. } => format!(
            "whoever owns it can change what verun trusts: use a file of your own (uid {}), e.g. copy it and chown the copy",
            euid()
        ),
        Problem::Writable { .. } => format!(
            "anyone who can write it can change what verun trusts: chmod go-w {}",
            path.display()
        ),
        Problem::OpenParent { parent, .. } => format!(
            "anyone could replace it there: chmod o-w (or +t) {}, or use a directory of your own",
            parent.display()
        ),
    }
}

/// Check `meta` (from `lstat` or `fstat`) against the rules.
pub fn check_meta(meta: &Metadata, want: Want) -> std::result::Result<(), Problem> {
    if meta.file_type().is_symlink() {
        return Err(Problem::Symlink);
    }
    match want {
        Want::Dir if !meta.is_dir() => return Err(Problem::NotDir),
        Want::File if !meta.is_file() => return Err(Problem::NotFile),
        _ => {}
    }
    if meta.uid() != euid() {
        return Err(Problem::Owner { uid: meta.uid() });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Problem::Writable { mode });
    }
    Ok(())
}

/// The directory `path` is in (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuse `path` when the directory holding it may be written by everyone and is not
/// sticky. A directory that cannot be inspected is left to the open that follows.
pub fn check_parent(path: &Path, rules: &Rules<'_>) -> Result<()> {
    let parent = parent_of(path);
    if let Ok(meta) = std::fs::metadata(&parent) {
        let mode = meta.mode() & 0o7777;
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(rules.refuse(path, &Problem::OpenParent { parent, mode }));
        }
    }
    Ok(())
}

/// Check `path` (not followed) when it exists: `Ok(false)` when it does not.
pub fn check_path(path: &Path, want: Want, rules: &Rules<'_>) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => check_meta(&meta, want)
            .map(|()| true)
            .map_err(|p| rules.refuse(path, &p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io_at(
            format!("cannot inspect {} {}", rules.what, path.display()),
            &e,
        )),
    }
}

/// Make sure `dir` is a private directory: create it (and missing parents) with mode 0700,
/// check it (and its parent) against the rules, and tighten a readable-by-others mode to
/// 0700.
pub fn ensure_dir(dir: &Path, rules: &Rules<'_>) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Error::io_at(
                    format!("cannot create {} {}", rules.what, dir.display()),
                    &e,
                )
            })?;
    }
    check_parent(dir, rules)?;
    check_path(dir, Want::Dir, rules)?;
    let mode = std::fs::symlink_metadata(dir)
        .map(|m| m.mode() & 0o7777)
        .unwrap_or(0o700);
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io_at(
                format!("cannot make {} {} private", rules.what, dir.display()),
                &e,
            )
        })?;
    }
    Ok(())
}

fn open_flags() -> i32 {
    (OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK).bits() as i32
}

fn is_symlink_error(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

/// Open `opts` at `path` without following a symlink, then check what was opened.
fn open_checked(path: &Path, opts: &mut OpenOptions, rules: &Rules<'_>) -> Result<Option<File>> {
    let file = match opts.custom_flags(open_flags()).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_symlink_error(&e) => return Err(rules.refuse(path, &Problem::Symlink)),
        Err(e) => {
            return Err(Error::io_at(
                format!("cannot open {} {}", rules.what, path.display()),
                &e,
            ));
        }
    };
    let meta = file.metadata().map_err(|e| {
        Error::io_at(
            format!("cannot inspect {} {}", rules.what, path.display()),
            &e,
        )
    })?;
    check_meta(&meta, Want::File).map_err(|p| rules.refuse(path, &p))?;
    Ok(Some(file))
}

/// Open a private file for reading: `Ok(None)` when it does not exist; refused (78) when it
/// or its directory breaks the rules.
pub fn open(path: &Path, rules: &Rules<'_>) -> Result<Option<File>> {
    check_parent(path, rules)?;
    open_checked(path, OpenOptions::new().read(true), rules)
}

/// Read a private file of at most `cap` bytes (see [`open`]); larger is 78.
pub fn read(path: &Path, cap: u64, rules: &Rules<'_>) -> Result<Option<Vec<u8>>> {
    let Some(file) = open(path, rules)? else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io_at(format!("cannot read {} {}", rules.what, path.display()), &e))?;
    if buf.len() as u64 > cap {
        return Err(Error::config(format!(
            "{} {} is larger than {cap} bytes",
            rules.what,
            path.display()
        ))
        .hint(format!("move {} aside", path.display())));
    }
    Ok(Some(buf))
}

/// Shared or exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    /// For readers.
    Shared,
    /// For load → modify → write.
    Exclusive,
}

/// A held lock; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Lock the lock file `path`, creating it with `create` mode when given (else `Ok(None)`
/// when it does not exist), waiting at most [`LOCK_WAIT`]. The lock file follows the
/// rules (78); a lock still held by someone else after the wait is 74.
pub fn lock(
    path: &Path,
    kind: LockKind,
    create: Option<u32>,
    rules: &Rules<'_>,
) -> Result<Option<Lock>> {
    lock_within(path, kind, create, rules, LOCK_WAIT)
}

/// [`lock`] with another bound on the wait.
pub fn lock_within(
    path: &Path,
    kind: LockKind,
    create: Option<u32>,
    rules: &Rules<'_>,
    wait: Duration,
) -> Result<Option<Lock>> {
    check_parent(path, rules)?;
    let mut opts = OpenOptions::new();
    opts.read(true);
    if let Some(mode) = create {
        opts.write(true).create(true).truncate(false).mode(mode);
    }
    let Some(file) = open_checked(path, &mut opts, rules)? else {
        if create.is_some() {
            // O_CREAT and still not found: the directory is missing.
            return Err(Error::io(format!(
                "cannot create {} {}: its directory does not exist",
                rules.what,
                path.display()
            ))
            .hint("create the directory first"));
        }
        return Ok(None);
    };
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(2);
    loop {
        let attempt = match kind {
            LockKind::Shared => file.try_lock_shared(),
            LockKind::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::io(format!(
                        "{} {} is locked by another process; gave up after waiting {} s",
                        rules.what,
                        path.display(),
                        wait.as_secs()
                    ))
                    .hint(format!(
                        "another verun may still be writing there; if none is running, find the holder with `fuser -v {}`",
                        path.display()
                    )));
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io_at(
                    format!("cannot lock {} {}", rules.what, path.display()),
                    &e,
                ));
            }
        }
    }
    Ok(Some(Lock {
        _file: file,
        path: path.to_path_buf(),
    }))
}

/// Whether two metadata describe the same inode.
fn same_inode(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// The refusal when the file at a path is not the one verun wrote.
fn swapped(dest: &Path) -> Error {
    Error::refused(format!(
        "{} was replaced by another process while verun wrote it; removed it, nothing was saved",
        dest.display()
    ))
    .hint("someone else can write to that directory: save into a directory only you can write")
}

/// Rename `from` (which must still be `file`) to `to`, then check that `to` is `file`'s
/// inode: otherwise what is there is removed and the call refused (77). Flushes the
/// directory. `file` should be flushed already.
pub fn rename_verified(file: &File, from: &Path, to: &Path) -> Result<()> {
    let io = |what: &str, e: &std::io::Error| Error::io_at(format!("{what} {}", to.display()), e);
    let mine = file
        .metadata()
        .map_err(|e| io("cannot inspect the file for", &e))?;
    match std::fs::symlink_metadata(from) {
        Ok(m) if same_inode(&m, &mine) => {}
        _ => return Err(swapped(to)),
    }
    std::fs::rename(from, to).map_err(|e| io("cannot move the file into place at", &e))?;
    match std::fs::symlink_metadata(to) {
        Ok(m) if same_inode(&m, &mine) => {}
        Ok(m) => {
            if !m.is_dir() {
                let _ = std::fs::remove_file(to);
            }
            return Err(swapped(to));
        }
        Err(_) => return Err(swapped(to)),
    }
    if let Ok(d) = File::open(parent_of(to)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Replace `path` with `bytes` atomically: temporary file in the same directory, `mode`,
/// fsync, `rename_verified`, fsync of the directory. On error the old file is untouched
/// (unless another process swapped the file, see `rename_verified`) and the temporary
/// file removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = parent_of(path);
    let io = |what: &str, e: &std::io::Error| Error::io_at(format!("{what} {}", path.display()), e);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| io("cannot create a temporary file next to", &e))?;
    tmp.write_all(bytes)
        .map_err(|e| io("cannot write a temporary file next to", &e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("cannot set the mode of a temporary file next to", &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io("cannot flush a temporary file next to", &e))?;
    let (file, tmp_path) = tmp.into_parts();
    rename_verified(&file, &tmp_path, path)?;
    let _ = tmp_path.keep();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: Rules<'static> = Rules::new("the test file", "refusing to use it");

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.toml");
        write_atomic(&p, b"one", 0o644).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn symlinks_writable_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        ensure_dir(&real, &R).unwrap();
        assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o700);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(ensure_dir(&link, &R).unwrap_err().exit_code(), 78);
        let f = real.join("f");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&f, 10, &R).unwrap().unwrap(), b"x");
        assert_eq!(read(&f, 0, &R).unwrap_err().exit_code(), 78);
        let fl = real.join("fl");
        std::os::unix::fs::symlink(&f, &fl).unwrap();
        assert_eq!(read(&fl, 10, &R).unwrap_err().exit_code(), 78);
        assert!(read(&real.join("none"), 10, &R).unwrap().is_none());
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(read(&f, 10, &R).unwrap_err().exit_code(), 78);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        if euid() == 0 {
            std::os::unix::fs::chown(&f, Some(65534), None).unwrap();
            let e = read(&f, 10, &R).unwrap_err();
            assert_eq!(e.exit_code(), 78);
            assert!(e.message().contains("uid 65534"), "{}", e.message());
        }
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(open.join("g"), b"x").unwrap();
        std::fs::set_permissions(open.join("g"), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&open.join("g"), 10, &R).unwrap_err().exit_code(), 78);
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(read(&open.join("g"), 10, &R).unwrap().is_some());
    }

    #[test]
    fn a_held_lock_is_waited_for_only_so_long() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".lck");
        let held = lock(&p, LockKind::Exclusive, Some(0o600), &R)
            .unwrap()
            .unwrap();
        let t = Instant::now();
        let e =
            lock_within(&p, LockKind::Shared, None, &R, Duration::from_millis(300)).unwrap_err();
        assert_eq!(e.exit_code(), 74);
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(
            e.message().contains("locked by another process"),
            "{}",
            e.message()
        );
        drop(held);
        // Free now. A bounded wait, not zero: a process another test forks at this moment
        // holds a copy of the descriptor (and so the flock) until its exec closes it.
        assert!(
            lock_within(&p, LockKind::Shared, None, &R, Duration::from_secs(5))
                .unwrap()
                .is_some()
        );
        assert!(
            lock(&dir.path().join("none"), LockKind::Shared, None, &R)
                .unwrap()
                .is_none()
        );
        let missing = dir.path().join("no/such/dir/.lck");
        let e = lock(&missing, LockKind::Exclusive, Some(0o600), &R).unwrap_err();
        assert_eq!(e.exit_code(), 74);
    }

    #[test]
    fn a_swapped_temporary_file_is_not_renamed_into_place() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"mine").unwrap();
        let mine = File::open(&a).unwrap();
        std::fs::remove_file(&a).unwrap();
        std::fs::write(&a, b"theirs").unwrap();
        assert_eq!(rename_verified(&mine, &a, &b).unwrap_err().exit_code(), 77);
        assert!(!b.exists());
    }
}
