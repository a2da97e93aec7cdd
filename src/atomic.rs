//! Small files that several verun processes may rewrite at once: the lockfile, the rollback
//! state and the cache index.
//!
//! Every such file is changed by **load → modify → write** while holding an exclusive
//! advisory lock ([`FileLock`], `flock(2)` through `rustix`) on a separate, never-renamed
//! lock file next to it, and written by [`write_atomic`]: a temporary file in the same
//! directory, flushed to disk, then renamed over the old one (and the directory flushed).
//! Readers never take the lock: a rename is atomic, so they see the old or the new file,
//! never half of one. Concurrent writers are serialised, so none loses another's change.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, OFlags, flock};

use crate::error::{Error, Result};

/// An exclusive lock on a lock file; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Open (creating it with `mode` if needed) and lock `path` exclusively, waiting for
    /// other holders. A symlink at `path` is refused (the open does not follow it).
    pub fn acquire(path: &Path, mode: u32) -> Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(mode)
            .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
            .open(path)
            .map_err(|e| Error::io_at(format!("cannot open lock file {}", path.display()), &e))?;
        loop {
            match flock(&file, FlockOperation::LockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    return Err(Error::io(format!("cannot lock {}: {e}", path.display())));
                }
            }
        }
        Ok(FileLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Replace `path` with `bytes` atomically: temporary file in the same directory, `mode`,
/// fsync, rename, fsync of the directory. On error the old file is untouched and the
/// temporary file removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
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
    tmp.persist(path)
        .map_err(|e| io("cannot replace", &e.error))?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Make sure `dir` is a private directory of ours: create it (and missing parents) with
/// mode 0700, refuse a symlink, a non-directory, another owner, or a directory others may
/// write to (78), and tighten a readable-by-others mode to 0700. `what` names it in errors.
pub fn private_dir(dir: &Path, what: &str) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io_at(format!("cannot create the {what} {}", dir.display()), &e))?;
    }
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| Error::io_at(format!("cannot inspect the {what} {}", dir.display()), &e))?;
    let refuse = |why: &str| {
        Error::config(format!(
            "the {what} {} {why}; refusing to use it",
            dir.display()
        ))
        .hint("make it a private directory (chmod 700) owned by you, or set VERUN_HOME")
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("is a symlink"));
    }
    if !meta.is_dir() {
        return Err(refuse("is not a directory"));
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(refuse("belongs to another user"));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(&format!("is writable by others (mode {mode:04o})")));
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            Error::io_at(
                format!("cannot make the {what} {} private", dir.display()),
                &e,
            )
        })?;
    }
    Ok(())
}

/// Read a small private file without following a symlink: `Ok(None)` when it does not
/// exist; 78 when it is a symlink, not a regular file, or writable by others; at most `cap`
/// bytes (78 beyond). `what` names it in errors.
pub fn read_private(path: &Path, cap: u64, what: &str) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(Error::config(format!(
                "the {what} {} is a symlink; refusing to read it",
                path.display()
            ))
            .hint("remove the symlink; verun keeps its state in regular files"));
        }
        Err(e) => {
            return Err(Error::io_at(
                format!("cannot open the {what} {}", path.display()),
                &e,
            ));
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io_at(format!("cannot inspect the {what} {}", path.display()), &e))?;
    if !meta.is_file() {
        return Err(Error::config(format!(
            "the {what} {} is not a regular file",
            path.display()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Error::config(format!(
            "the {what} {} is writable by others (mode {:04o}); refusing to trust it",
            path.display(),
            meta.mode() & 0o7777
        ))
        .hint(format!("chmod 600 {}", path.display())));
    }
    let mut buf = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io_at(format!("cannot read the {what} {}", path.display()), &e))?;
    if buf.len() as u64 > cap {
        return Err(Error::config(format!(
            "the {what} {} is larger than {} bytes",
            path.display(),
            cap
        )));
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.toml");
        write_atomic(&p, b"one", 0o644).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let mode = std::fs::metadata(&p).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Only the file itself is left: no temporary files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn private_dirs_and_files_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        private_dir(&real, "state directory").unwrap();
        let mode = std::fs::metadata(&real).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(private_dir(&link, "x").unwrap_err().exit_code(), 78);
        let f = real.join("f");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&f, 10, "x").unwrap().unwrap(), b"x");
        let fl = real.join("fl");
        std::os::unix::fs::symlink(&f, &fl).unwrap();
        assert_eq!(read_private(&fl, 10, "x").unwrap_err().exit_code(), 78);
        assert!(read_private(&real.join("none"), 10, "x").unwrap().is_none());
    }
}
