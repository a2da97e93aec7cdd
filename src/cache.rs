//! A content-addressed cache of accepted payloads: it serves `run --diff` (what changed
//! since the last accepted run of a URL) and `run --offline` (run a locked URL with no
//! network).
//!
//! Layout, under `VERUN_HOME/cache` (or the platform cache directory, `~/.cache/verun`):
//!
//! ```text
//! cache/               0700
//!   blobs/<sha256 hex> 0600  the payload bytes, named by their SHA-256
//!   index.json         0600  {"version":1,"urls":{"<URL>":{"sha256":..,"size":..,"accepted_at":..}}}
//!   .lck                     exclusive lock for writers
//! ```
//!
//! Policy:
//! - `run` caches the payload once it is accepted (verified, past rollback and `--confirm`),
//!   just before it is executed, whatever its exit status then. `fetch` does not cache: the
//!   verified file is already saved where the user asked. Payloads larger than
//!   [`MAX_CACHE_BYTES`] are not cached.
//! - One version per URL: the index points each URL at its last accepted payload, and blobs
//!   no URL points at are deleted when the index is written.
//! - `--no-cache` writes nothing here (nor rollback state): nothing but the temporary payload
//!   touches the disk. It may still *read* the cache (`--diff`).
//! - The cache follows `crate::private_fs`'s rules (yours, not writable by others, no
//!   symlink, not in a directory everyone may write to without the sticky bit). A cache that
//!   breaks them is not used, loudly: `--diff` warns and compares nothing, `--offline`
//!   warns and fails as without a cached copy (69). An index entry whose digest or time is
//!   not in the form verun writes makes the index malformed (ignored the same way).
//! - The cache is never trusted: every blob is re-hashed when read (`--offline` streams it
//!   through the verifier against the lockfile's SHA-256; `--diff` compares digests) and a
//!   blob that does not match is ignored.
//! - Reading or writing the cache never makes a run fail: errors come back as
//!   [`Error`]s the caller prints as warnings. The exception is `--offline` without a
//!   usable cached copy, which fails like a download that could not be made (69).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checksums::to_hex;
use crate::error::{Error, Result};
use crate::exec::PayloadFile;
use crate::private_fs::{self, LockKind, Rules, Want, write_atomic};
use crate::time::{now_secs, rfc3339_utc};
use crate::verify::Report;

/// Largest payload cached.
pub const MAX_CACHE_BYTES: u64 = 256 << 20;
const INDEX: &str = "index.json";
const BLOBS: &str = "blobs";
const LOCK: &str = ".lck";
const MAX_INDEX_BYTES: u64 = 16 << 20;
/// How the cache is named in refusals (the checks are `private_fs`'s).
const CACHE_RULES: Rules<'static> = Rules::new("the cache", "not using it");

/// Where a URL's last accepted payload is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// SHA-256 (lower-case hex): the blob's name.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// When it was accepted (RFC 3339, UTC).
    pub accepted_at: String,
}

impl IndexEntry {
    /// Whether the entry is what verun writes: a lower-case SHA-256 and an RFC 3339 UTC
    /// time (`YYYY-MM-DDTHH:MM:SSZ`). Anything else (escape bytes included) makes the index
    /// malformed, so no text from it reaches the terminal unchecked.
    pub fn well_formed(&self) -> bool {
        let time = self.accepted_at.as_bytes();
        let time_ok = time.len() == 20
            && time.iter().enumerate().all(|(i, &c)| match i {
                4 | 7 => c == b'-',
                10 => c == b'T',
                13 | 16 => c == b':',
                19 => c == b'Z',
                _ => c.is_ascii_digit(),
            });
        time_ok
            && self.sha256.len() == 64
            && self
                .sha256
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    version: u32,
    urls: BTreeMap<String, IndexEntry>,
}

/// The cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// A cached previous version of a URL.
#[derive(Debug)]
pub struct Previous {
    /// Its index entry.
    pub entry: IndexEntry,
    /// Its bytes (hash-checked), up to the cap asked for.
    pub bytes: Vec<u8>,
}

impl Cache {
    /// The cache at `dir` (not created until something is stored).
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
        }
    }

    fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(BLOBS).join(sha256_hex)
    }

    /// Whether the cache exists; an error when it, or `blobs/`, breaks the rules.
    fn check_dir(&self) -> Result<bool> {
        private_fs::check_parent(&self.dir, &CACHE_RULES)?;
        if !private_fs::check_path(&self.dir, Want::Dir, &CACHE_RULES)? {
            return Ok(false);
        }
        private_fs::check_path(&self.dir.join(BLOBS), Want::Dir, &CACHE_RULES)?;
        Ok(true)
    }

    fn load_index(&self) -> Result<Index> {
        let path = self.dir.join(INDEX);
        let Some(bytes) = private_fs::read(&path, MAX_INDEX_BYTES, &CACHE_RULES)? else {
            return Ok(Index {
                version: 1,
                urls: BTreeMap::new(),
            });
        };
        serde_json::from_slice::<Index>(&bytes)
            .ok()
            .filter(|i| i.version == 1 && i.urls.values().all(IndexEntry::well_formed))
            .ok_or_else(|| {
                Error::config(format!(
                    "the cache index {} is malformed; not using it",
                    path.display()
                ))
            })
    }

    /// The index entry for `url`, if the cache has one.
    pub fn lookup(&self, url: &str) -> Result<Option<IndexEntry>> {
        if !self.check_dir()? {
            return Ok(None);
        }
        Ok(self.load_index()?.urls.get(url).cloned())
    }

    /// The last accepted payload of `url`, read up to `cap` bytes; `None` when there is
    /// none, or when the blob is missing or does not match its digest (then it is ignored).
    pub fn previous(&self, url: &str, cap: u64) -> Result<Option<Previous>> {
        let Some(entry) = self.lookup(url)? else {
            return Ok(None);
        };
        let Some(file) = self.open_blob(&entry.sha256)? else {
            return Ok(None);
        };
        use std::io::Read;
        let mut bytes = Vec::new();
        let mut sha = Sha256::new();
        let mut reader = std::io::BufReader::new(file);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::io_at("cannot read a cached payload", &e))?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            let room = cap.saturating_sub(bytes.len() as u64) as usize;
            bytes.extend_from_slice(&buf[..n.min(room)]);
            total += n as u64;
        }
        let digest: [u8; 32] = sha.finalize().into();
        if to_hex(&digest) != entry.sha256 || total != entry.size {
            return Err(Error::config(format!(
                "the cached copy of {} does not match its digest; ignoring it",
                crate::term::sanitize(url)
            )));
        }
        Ok(Some(Previous { entry, bytes }))
    }

    /// Open the blob named `sha256_hex` (for `--offline`, which re-hashes it while reading):
    /// `None` when absent. A symlink or non-regular file is refused.
    pub fn open_blob(&self, sha256_hex: &str) -> Result<Option<File>> {
        if !self.check_dir()? || crate::checksums::parse_hex32(sha256_hex).is_none() {
            return Ok(None);
        }
        let path = self.blob_path(sha256_hex);
        private_fs::open(&path, &CACHE_RULES)
    }

    /// Cache the accepted payload of `url`. Skips payloads over [`MAX_CACHE_BYTES`].
    /// Unless the payload was sealed and re-hashed to `report`'s digest already
    /// ([`PayloadFile::seal_and_check`]), its bytes are re-hashed while copied, and a
    /// mismatch with `report` stores nothing.
    pub fn store(&self, url: &str, payload: &PayloadFile, report: &Report) -> Result<()> {
        if report.size > MAX_CACHE_BYTES {
            return Ok(());
        }
        private_fs::ensure_dir(&self.dir, &CACHE_RULES)?;
        let blobs = self.dir.join(BLOBS);
        private_fs::ensure_dir(&blobs, &CACHE_RULES)?;
        let _guard = private_fs::lock(
            &self.dir.join(LOCK),
            LockKind::Exclusive,
            Some(0o600),
            &CACHE_RULES,
        )?;
        let blob = self.blob_path(&report.sha256);
        if std::fs::symlink_metadata(&blob).is_err() {
            let mut tmp = tempfile::Builder::new()
                .prefix(".blob.")
                .tempfile_in(&blobs)
                .map_err(|e| Error::io_at("cannot create a file in the cache", &e))?;
            let mut out = crate::write_behind::WriteBehind::new(tmp.as_file_mut());
            if payload.is_checked_as(&report.sha256) {
                // Sealed and re-hashed already: these bytes cannot change any more.
                payload.copy_to(&mut out)?;
            } else {
                let mut hashing = HashingWriter {
                    inner: out,
                    sha: Sha256::new(),
                };
                payload.copy_to(&mut hashing)?;
                let digest: [u8; 32] = hashing.sha.finalize().into();
                if to_hex(&digest) != report.sha256 {
                    return Err(Error::io(
                        "the payload changed while it was being cached; not cached",
                    ));
                }
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| Error::io_at("cannot flush a cached payload", &e))?;
            let (file, tmp_path) = tmp.into_parts();
            private_fs::rename_verified(&file, &tmp_path, &blob)?;
            let _ = tmp_path.keep();
        }
        // A malformed index is replaced: the cache is only a convenience.
        let mut index = self.load_index().unwrap_or_default();
        index.version = 1;
        index.urls.insert(
            url.to_string(),
            IndexEntry {
                sha256: report.sha256.clone(),
                size: report.size,
                accepted_at: rfc3339_utc(now_secs()),
            },
        );
        let mut text = serde_json::to_string_pretty(&index)
            .map_err(|e| Error::io(format!("cannot encode the cache index: {e}")))?;
        text.push('\n');
        write_atomic(&self.dir.join(INDEX), text.as_bytes(), 0o600)?;
        self.collect_garbage(&index);
        Ok(())
    }

    /// Delete blobs no URL points at (best effort).
    fn collect_garbage(&self, index: &Index) {
        let Ok(entries) = std::fs::read_dir(self.dir.join(BLOBS)) else {
            return;
        };
        let live: std::collections::BTreeSet<&str> =
            index.urls.values().map(|e| e.sha256.as_str()).collect();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && !live.contains(name.as_str()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
