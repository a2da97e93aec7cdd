//! Small files that several verun processes may rewrite at once: the lockfile, the rollback
//! state and the cache index.
//!
//! Every such file is changed by **load → modify → write** while holding an exclusive
//! advisory lock ([`FileLock`]) on a separate, never-renamed lock file next to it, and
//! written by [`write_atomic`]. Readers never take the lock: a rename is atomic, so they see
//! the old or the new file, never half of one. Concurrent writers are serialised, so none
//! loses another's change.
//!
//! The checks, the bounded lock wait and the atomic replace are `private_fs`'s;
//! this module only keeps the older names.

use std::path::Path;

use crate::error::Result;
use crate::private_fs::{self, LockKind, Rules};

pub use crate::private_fs::write_atomic;

/// An exclusive lock on a lock file; released when dropped (or when the process exits).
#[derive(Debug)]
pub struct FileLock {
    lock: private_fs::Lock,
}

impl FileLock {
    /// Open (creating it with `mode` if needed) and lock `path` exclusively, waiting at
    /// most `private_fs::LOCK_WAIT`. The lock file must follow `private_fs`'s rules.
    pub fn acquire(path: &Path, mode: u32) -> Result<FileLock> {
        let rules = Rules::new("the lock file", "refusing to use it");
        match private_fs::lock(path, LockKind::Exclusive, Some(mode), &rules)? {
            Some(lock) => Ok(FileLock { lock }),
            None => Err(crate::error::Error::io(format!(
                "cannot create the lock file {}",
                path.display()
            ))),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }
}

/// `private_fs::ensure_dir`, with `what` naming the directory in errors.
pub fn private_dir(dir: &Path, what: &str) -> Result<()> {
    let what = format!("the {what}");
    private_fs::ensure_dir(dir, &Rules::new(&what, "refusing to use it"))
}

/// `private_fs::read`, with `what` naming the file in errors.
pub fn read_private(path: &Path, cap: u64, what: &str) -> Result<Option<Vec<u8>>> {
    let what = format!("the {what}");
    private_fs::read(path, cap, &Rules::new(&what, "refusing to trust it"))
}
