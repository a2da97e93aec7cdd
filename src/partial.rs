//! The `.verun-*.partial` file of `fetch -o`: the download goes into it, beside the target,
//! and becomes the target only by one rename after every check has passed.
//!
//! - [`create`] makes it private (0600, `O_EXCL`, random name) and holds an exclusive
//!   `flock` on it for as long as this verun lives.
//! - On an error it is removed when dropped; on SIGINT, SIGTERM or SIGHUP by
//!   [`RemoveOnSignal`]. Only SIGKILL (or a crash or power loss) can leave one behind, and
//!   its lock then dies with the process.
//! - [`sweep_stale`] removes such leftovers before the next `fetch -o` into the same
//!   directory: a `.partial` file of ours that nobody holds locked and that has not changed
//!   for [`STALE_AFTER`]. This matters more since the download allocates blocks ahead of
//!   the bytes written (up to 8 MiB, see `write_behind`): a leftover can hold that much disk
//!   space while `ls` shows it empty. Files of other users, symlinks and anything else are
//!   never touched.
//! - [`persist`] flushes it, renames it into place and checks that the inode at `-o` is
//!   the one verified (in a directory others may write to, someone could rename their own
//!   file over the partial during the download): otherwise what is there is removed and
//!   the fetch refused (77). [`check_target`] refuses a `-o` that is a device, a FIFO, a
//!   socket or a symlink to one (64), before the download and again before the rename.

use std::fs::OpenOptions;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rustix::fs::{FlockOperation, OFlags, flock};
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::private_fs;

/// Name prefix and suffix of partial files.
pub const PREFIX: &str = ".verun-";
/// See [`PREFIX`].
pub const SUFFIX: &str = ".partial";
/// How long an unlocked partial file must have been left unchanged before it counts as
/// stale. The lock alone would do; the age also covers the instant between another
/// verun creating its file and locking it.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// Create a private partial file in `dir`, locked for the life of this process.
pub fn create(dir: &Path) -> Result<NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .prefix(PREFIX)
        .suffix(SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io_at(format!("cannot create a file in {}", dir.display()), &e))?;
    // Nobody else has the file yet (random name, O_EXCL), so this cannot block.
    flock(tmp.as_file(), FlockOperation::NonBlockingLockExclusive)
        .map_err(|e| Error::io(format!("cannot lock {}: {e}", tmp.path().display())))?;
    Ok(tmp)
}

/// Remove the partial files in `dir` that a killed verun left behind (see the module
/// documentation). Best effort: whatever cannot be checked is left alone.
pub fn sweep_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !(name.starts_with(PREFIX) && name.ends_with(SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = OpenOptions::new()
            .read(true)
            .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC).bits() as i32)
            .open(&path)
        else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !meta.is_file() || meta.uid() != me || !old {
            continue;
        }
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// While alive, SIGINT, SIGTERM and SIGHUP remove the watched path (the `.partial` file of
/// `fetch -o`) and then end verun as the signal would have: an interrupted fetch leaves
/// nothing behind. Arm it with [`RemoveOnSignal::arm`] *before* the file is created and
/// [`watch`](RemoveOnSignal::watch) the file once it exists: a signal that arrives in
/// between then still finds the handler (with the default action, it would kill verun and
/// leave the file; under emulation that window is wide).
pub struct RemoveOnSignal {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
    path: std::sync::Arc<std::sync::Mutex<Option<std::path::PathBuf>>>,
}

impl RemoveOnSignal {
    /// Start removing `path` on those signals, until dropped.
    pub fn install(path: &Path) -> Result<RemoveOnSignal> {
        let r = RemoveOnSignal::arm()?;
        r.watch(path);
        Ok(r)
    }

    /// Install the handlers, watching no path yet.
    pub fn arm() -> Result<RemoveOnSignal> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| Error::io_at("cannot install signal handlers", &e))?;
        let handle = signals.handle();
        let path = std::sync::Arc::new(std::sync::Mutex::new(None::<std::path::PathBuf>));
        let watched = std::sync::Arc::clone(&path);
        let thread = std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let p = watched
                    .lock()
                    .map(|g| g.clone())
                    .unwrap_or_else(|e| e.into_inner().clone());
                if let Some(p) = p {
                    let _ = std::fs::remove_file(&p);
                }
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        });
        Ok(RemoveOnSignal {
            handle,
            thread: Some(thread),
            path,
        })
    }

    /// Remove `path` on a signal from now on.
    pub fn watch(&self, path: &Path) {
        let mut g = self.path.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(path.to_path_buf());
    }
}

impl Drop for RemoveOnSignal {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Refuse (64) an existing `dest` that is not a regular file: a device, a FIFO, a socket,
/// or a symlink to one (SPEC: `-o` never replaces such a file). A missing `dest`, a regular
/// file and a dangling symlink are fine: the rename replaces them (never writes through).
/// Checked before the download and again just before the rename.
pub fn check_target(dest: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::io_at(
                format!("cannot inspect -o {}", dest.display()),
                &e,
            ));
        }
    };
    let (meta, via) = if meta.file_type().is_symlink() {
        match std::fs::metadata(dest) {
            Ok(m) => (m, "a symlink to "),
            Err(_) => return Ok(()),
        }
    } else {
        (meta, "")
    };
    let ft = meta.file_type();
    let kind = if meta.is_file() {
        return Ok(());
    } else if meta.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(Error::usage(format!(
        "-o {} is {via}{kind}; verun saves only to a new or regular file and never replaces anything else",
        dest.display()
    ))
    .hint("to send the verified bytes to a device or pipe, use `-o -` and redirect stdout (e.g. verun fetch URL -o - > /dev/null)"))
}

/// Give the verified file its mode, flush it to disk, check `dest` again ([`check_target`]),
/// rename it to `dest` and make sure the inode now at `dest` is the one verified
/// (`private_fs::rename_verified`: another process that swapped the partial file gets
/// nothing saved, 77), then flush the directory: `dest` then holds the whole verified file
/// or what it held before, even after a crash.
pub fn persist(tmp: NamedTempFile, dest: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let io = |what: &str, e: &std::io::Error| Error::io_at(format!("{what} {}", dest.display()), e);
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io("cannot set the mode of", &e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io("cannot flush", &e))?;
    check_target(dest)?;
    let (file, path) = tmp.into_parts();
    private_fs::rename_verified(&file, &path, dest)?;
    let _ = path.keep();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_partial_is_private_and_locked_until_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let tmp = create(dir.path()).unwrap();
        let name = tmp
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(name.starts_with(PREFIX) && name.ends_with(SUFFIX), "{name}");
        let meta = std::fs::metadata(tmp.path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let other = std::fs::File::open(tmp.path()).unwrap();
        assert!(
            flock(&other, FlockOperation::NonBlockingLockExclusive).is_err(),
            "a second open file description must not get the lock"
        );
        // Even old, a locked partial is not swept.
        tmp.as_file()
            .set_modified(SystemTime::now() - 2 * STALE_AFTER)
            .unwrap();
        sweep_stale(dir.path());
        assert!(tmp.path().exists());
        let path = tmp.path().to_path_buf();
        let kept = tmp.keep().unwrap(); // as a killed verun would leave it: file stays...
        drop(kept); // ...and its lock goes with the last descriptor
        sweep_stale(dir.path());
        assert!(!path.exists(), "an old, unlocked partial is swept");
    }
}
