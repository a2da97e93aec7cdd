//! Writing a large file front to back without paying for it all at the final `fsync`.
//!
//! `fetch -o` writes the verified payload to a temporary file, flushes it to disk and only
//! then renames it into place, so a crash never leaves a half-written file at `-o`. Written
//! the plain way, the kernel holds the whole payload as dirty pages until that `fsync`,
//! which then writes all of it while nothing else happens: 65–70 ms of a 0.5 s fetch of
//! 256 MiB on the benchmark machine (`benches/fetch.sh`).
//!
//! [`WriteBehind`] asks the kernel to start writing each finished window of the file back
//! while later bytes are still downloading, so the disk works in parallel with the network
//! and the final `fsync` has almost nothing left to wait for (under 1 ms in the same run).
//!
//! When the server declares the length, [`WriteBehind::reserve`] first checks that the file
//! system has room for all of it (`fstatvfs(2)`), so a full disk is an error before the
//! download instead of somewhere in the middle of it. It does not allocate the declared
//! length: a `Content-Length` header is only a claim, and a server that declares 1 GiB and
//! then sends a byte a minute must not hold 1 GiB of disk (RAM, on tmpfs) meanwhile. Blocks
//! are allocated (`fallocate(2)` with `FALLOC_FL_KEEP_SIZE`: the size still grows only as
//! bytes arrive) in windows of [`RESERVE_AHEAD`] bytes ahead of the bytes written, never past
//! the declared length, so what a server can make verun allocate beyond what it has sent is
//! bounded by that window. (On speed it made no difference we could measure on the benchmark
//! machine.)
//!
//! The request is `posix_fadvise(POSIX_FADV_DONTNEED)` on the window just written: on Linux
//! that starts asynchronous writeback of the window's dirty pages (`WB_SYNC_NONE`: it does
//! not wait for the disk) and drops only pages that are already clean, which freshly written
//! ones are not, so the file stays in the page cache. (`sync_file_range(2)` would say the
//! same more directly, but it needs `unsafe` or another crate, and this crate forbids
//! `unsafe`.) It is advice: a failure (a pipe, a file system without writeback) costs only
//! speed, so it is ignored. Durability still comes from the `fsync` before the rename.

use std::io::Write;
use std::num::NonZeroU64;

use rustix::fd::AsFd;
use rustix::fs::{Advice, FallocateFlags, fadvise, fallocate};

/// Bytes written between two writeback requests. (2 MiB measured the same; much smaller
/// windows only add system calls.)
pub const WINDOW: u64 = 8 << 20;

/// Most bytes allocated ahead of the bytes written, when the length is declared.
pub const RESERVE_AHEAD: u64 = 8 << 20;

/// A writer that starts writeback of every finished [`WINDOW`] of the file it writes.
#[derive(Debug)]
pub struct WriteBehind<F> {
    file: F,
    /// Bytes written so far (the file is written from offset 0, in order).
    written: u64,
    /// Where the window not yet handed to writeback starts.
    pending_from: u64,
    /// The declared length blocks are allocated towards (0: none declared).
    declared: u64,
    /// Blocks are allocated up to here.
    reserved_to: u64,
}

impl<F: Write + AsFd> WriteBehind<F> {
    /// Wrap `file`, which is empty and written from its start.
    pub fn new(file: F) -> WriteBehind<F> {
        WriteBehind {
            file,
            written: 0,
            pending_from: 0,
            declared: 0,
            reserved_to: 0,
        }
    }

    /// Prepare for a file of `len` bytes: refuse (`ENOSPC`) when the file system has less
    /// room than that, then allocate the first [`RESERVE_AHEAD`] bytes of it; the rest is
    /// allocated window by window as bytes are written. Only a full disk or quota (`ENOSPC`,
    /// `EDQUOT`) is an error; a file system that cannot tell its free space or cannot
    /// preallocate just allocates as the bytes come, as without this call.
    pub fn reserve(&mut self, len: u64) -> std::io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if let Ok(st) = rustix::fs::fstatvfs(self.file.as_fd()) {
            // Root may use the blocks reserved for it; others only the available ones.
            let blocks = if rustix::process::geteuid().is_root() {
                st.f_bfree
            } else {
                st.f_bavail
            };
            let free = blocks.saturating_mul(st.f_frsize);
            if st.f_blocks > 0 && free < len {
                return Err(rustix::io::Errno::NOSPC.into());
            }
        }
        self.declared = len;
        self.reserve_ahead()
    }

    /// Allocate blocks up to [`RESERVE_AHEAD`] past the bytes written (within the declared
    /// length), once fewer than half a window are left allocated ahead.
    fn reserve_ahead(&mut self) -> std::io::Result<()> {
        use rustix::io::Errno;
        if self.reserved_to >= self.declared
            || self.reserved_to > self.written.saturating_add(RESERVE_AHEAD / 2)
        {
            return Ok(());
        }
        let to = self
            .written
            .saturating_add(RESERVE_AHEAD)
            .min(self.declared);
        let from = self.reserved_to;
        if to <= from {
            return Ok(());
        }
        self.reserved_to = to;
        match fallocate(
            self.file.as_fd(),
            FallocateFlags::KEEP_SIZE,
            from,
            to - from,
        ) {
            Err(e) if e == Errno::NOSPC || e == Errno::DQUOT => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Blocks allocated ahead so far reach this offset (for tests).
    #[cfg(test)]
    fn reserved_to(&self) -> u64 {
        self.reserved_to
    }

    /// The wrapped file, still wrapped.
    pub fn get_ref(&self) -> &F {
        &self.file
    }

    /// The wrapped file.
    pub fn into_inner(self) -> F {
        self.file
    }

    fn start_writeback(&mut self) {
        if let Some(len) = NonZeroU64::new(self.written - self.pending_from) {
            // Advice only: see the module documentation.
            let _ = fadvise(
                self.file.as_fd(),
                self.pending_from,
                Some(len),
                Advice::DontNeed,
            );
        }
        self.pending_from = self.written;
    }
}

impl<F: Write + AsFd> Write for WriteBehind<F> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.declared > 0 {
            self.reserve_ahead()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.pending_from >= WINDOW {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn every_byte_reaches_the_file_across_windows() {
        let data = pattern(3 * WINDOW as usize + 12_345);
        let mut w = WriteBehind::new(tempfile::tempfile().unwrap());
        // Uneven writes, so window edges fall inside writes.
        let mut rest = &data[..];
        let mut step = 1;
        while !rest.is_empty() {
            step = (step * 7 + 99_991) % 700_001 + 1;
            let n = step.min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        w.flush().unwrap();
        assert!(w.pending_from > 0, "writeback was requested at least once");
        let mut f = w.into_inner();
        f.sync_all().unwrap();
        let mut back = Vec::new();
        use std::io::Seek;
        f.rewind().unwrap();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), data.len());
        assert!(back == data, "the file holds exactly the bytes written");
    }

    #[test]
    fn reserve_allocates_blocks_without_growing_the_file() {
        use std::os::unix::fs::MetadataExt;
        let mut w = WriteBehind::new(tempfile::tempfile().unwrap());
        let len = RESERVE_AHEAD / 2 + 5;
        w.reserve(len).unwrap();
        let meta = w.get_ref().metadata().unwrap();
        assert_eq!(meta.len(), 0, "the size grows only as bytes arrive");
        assert!(
            meta.blocks() * 512 >= len,
            "{} bytes allocated for {len} reserved",
            meta.blocks() * 512
        );
        w.write_all(b"abc").unwrap();
        assert_eq!(w.get_ref().metadata().unwrap().len(), 3);
    }

    #[test]
    fn reservation_stays_a_bounded_window_ahead_of_the_bytes_written() {
        let mut w = WriteBehind::new(tempfile::tempfile().unwrap());
        let len = 10 * RESERVE_AHEAD + 3;
        w.reserve(len).unwrap();
        assert_eq!(w.reserved_to(), RESERVE_AHEAD);
        let chunk = vec![7u8; 1 << 20];
        let mut written = 0u64;
        while written < len {
            let n = (chunk.len() as u64).min(len - written) as usize;
            w.write_all(&chunk[..n]).unwrap();
            written += n as u64;
            assert!(w.reserved_to() <= written + RESERVE_AHEAD, "{written}");
            assert!(
                w.reserved_to() >= written.min(len),
                "allocated behind the bytes written at {written}"
            );
        }
        assert_eq!(w.reserved_to(), len, "never past the declared length");
    }

    #[test]
    fn a_length_larger_than_the_free_space_is_refused_up_front() {
        let mut w = WriteBehind::new(tempfile::tempfile().unwrap());
        let err = w.reserve(u64::MAX / 2).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::NOSPC.raw_os_error())
        );
        assert_eq!(w.reserved_to(), 0, "nothing allocated");
    }

    #[test]
    fn a_sink_that_refuses_the_advice_still_gets_every_byte() {
        // fadvise on a pipe fails (ESPIPE); the writer must carry on regardless.
        let (mut rx, tx) = std::io::pipe().unwrap();
        let data = pattern(2 * WINDOW as usize + 7);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            got
        });
        let mut w = WriteBehind::new(tx);
        w.reserve(data.len() as u64).unwrap(); // not possible on a pipe: no error either
        w.write_all(&data).unwrap();
        drop(w);
        assert!(reader.join().unwrap() == data);
    }
}
