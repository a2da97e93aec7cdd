//! The download loop: one pass over the payload, with hashing off the critical path. It only
//! hashes: what to compute comes from the signature scheme's needs (`scheme::Needs`) and the
//! pins, and the decision is the verifier's.
//!
//! The calling thread reads a chunk, writes it to the sink, and hands the same chunk to one
//! hashing thread per digest (SHA-256; BLAKE2b-512, the prehash of a minisign signature;
//! SHA-512, only when a `--sha512` pin or a SHA-512 checksum list asks for it). Chunks
//! come from a small fixed pool, so memory stays flat (at most `POOL` × `CHUNK` in flight)
//! whatever the payload size, and a slow hasher slows the reader instead of growing a queue.
//! On a 2-core machine this keeps both hashes at the speed of the network or disk
//! (measured in `benches/fetch.sh`).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use sha2::{Digest, Sha256};

/// Size of one chunk.
pub const CHUNK: usize = 256 * 1024;
/// Chunks in the pool: the bound on buffered payload bytes.
pub const POOL: usize = 16;

/// Why the pass stopped early.
#[derive(Debug)]
pub enum PumpError {
    /// Reading the source failed.
    Read(std::io::Error),
    /// Writing the sink failed.
    Write(std::io::Error),
    /// More than the allowed bytes arrived.
    TooLarge,
}

/// A SHA-512 state before finalisation (ring's: 8% faster than sha2's SHA-512 on x86_64
/// with AVX2, and linked anyway for TLS).
#[derive(Clone)]
pub struct Sha512State(pub ring::digest::Context);

impl std::fmt::Debug for Sha512State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sha512State")
    }
}

/// The result of one full pass.
#[derive(Debug)]
pub struct Pumped {
    /// Bytes read.
    pub total: u64,
    /// SHA-256 of every byte.
    pub sha256: [u8; 32],
    /// BLAKE2b-512 of every byte (minisign's prehash), when asked for.
    pub blake2b: Option<[u8; 64]>,
    /// SHA-512 of every byte, when asked for.
    pub sha512: Option<[u8; 64]>,
    /// The SHA-256 state before finalisation (an OpenPGP signature continues it).
    pub sha256_state: Sha256,
    /// The SHA-512 state before finalisation, when SHA-512 was asked for (ring's SHA-512:
    /// 8% faster than sha2's here, and linked anyway for TLS).
    pub sha512_state: Option<Sha512State>,
    /// The extra hashers (OpenPGP signatures with a salt, SHA-384 or text), fed every byte.
    pub feeds: Vec<crate::openpgp::Hasher>,
    /// The first `head_len` bytes.
    pub head: Vec<u8>,
    /// Every byte, when asked for (legacy signatures need the whole message).
    pub all: Option<Vec<u8>>,
}

impl Pumped {
    /// What the pass computed, for a scheme to decide on, with `feeds` (some of
    /// [`Pumped::feeds`], taken out by the caller: each signature takes its own).
    pub fn digests(&self, feeds: Vec<crate::openpgp::Hasher>) -> crate::scheme::Digests<'_> {
        crate::scheme::Digests {
            sha256: &self.sha256,
            blake2b512: self.blake2b.as_ref(),
            sha512: self.sha512.as_ref(),
            whole: self.all.as_deref(),
            sha256_state: Some(&self.sha256_state),
            sha512_state: self.sha512_state.as_ref(),
            feeds,
        }
    }
}

type Chunk = Arc<Vec<u8>>;

/// What the read loop hands back: bytes read, the head, and every byte when asked for.
type ReadOutcome = (u64, Vec<u8>, Option<Vec<u8>>);

/// Read `src` to the end, writing each byte to `sink` once and hashing it (SHA-256, and
/// BLAKE2b when `blake2b`).
pub fn pump(
    src: &mut dyn Read,
    sink: &mut dyn Write,
    blake2b: bool,
    keep_all: bool,
    head_len: usize,
    max: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Pumped, PumpError> {
    let hashes = Hashes {
        blake2b,
        sha512: false,
        feeds: Vec::new(),
    };
    pump_with(src, sink, hashes, keep_all, head_len, max, progress)
}

/// The optional digests of a pass (SHA-256 is always computed).
#[derive(Clone, Default)]
pub struct Hashes {
    /// BLAKE2b-512, minisign's prehash.
    pub blake2b: bool,
    /// SHA-512.
    pub sha512: bool,
    /// Hashers of OpenPGP signatures that cannot continue the SHA-256/512 states (v6
    /// salts, SHA-384, text signatures): each on its own thread.
    pub feeds: Vec<crate::openpgp::Hasher>,
}

/// [`pump`], with the optional digests chosen by `hashes`: each on its own thread, fed the
/// same chunks from the one bounded pool.
pub fn pump_with(
    src: &mut dyn Read,
    sink: &mut dyn Write,
    hashes: Hashes,
    keep_all: bool,
    head_len: usize,
    max: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Pumped, PumpError> {
    let (free_tx, free_rx) = sync_channel::<Vec<u8>>(POOL);
    for _ in 0..POOL {
        // Zeroed by the allocator (fresh pages from the kernel), so the reader's `resize`
        // below never has to fill a buffer: filling the pool byte by byte cost 4 MiB of
        // stores per download, however small.
        free_tx
            .send(vec![0u8; CHUNK])
            .expect("the pool has room for every buffer");
    }
    std::thread::scope(|scope| {
        let (sha_tx, sha_rx) = sync_channel::<Chunk>(POOL);
        let sha_free = free_tx.clone();
        let sha_thread = scope.spawn(move || {
            let mut sha = Sha256::new();
            drain(sha_rx, &sha_free, |c| sha.update(c));
            let state = sha.clone();
            let out: [u8; 32] = sha.finalize().into();
            (out, state)
        });
        let (b2_tx, b2_thread) = if hashes.blake2b {
            let (tx, rx) = sync_channel::<Chunk>(POOL);
            let b2_free = free_tx.clone();
            let handle = scope.spawn(move || {
                let mut state = blake2b_simd::Params::new().hash_length(64).to_state();
                drain(rx, &b2_free, |c| {
                    state.update(c);
                });
                let mut out = [0u8; 64];
                out.copy_from_slice(state.finalize().as_bytes());
                out
            });
            (Some(tx), Some(handle))
        } else {
            (None, None)
        };
        let (s512_tx, s512_thread) = if hashes.sha512 {
            let (tx, rx) = sync_channel::<Chunk>(POOL);
            let s512_free = free_tx.clone();
            let handle = scope.spawn(move || {
                let mut sha = ring::digest::Context::new(&ring::digest::SHA512);
                drain(rx, &s512_free, |c| sha.update(c));
                let state = Sha512State(sha.clone());
                let mut out = [0u8; 64];
                out.copy_from_slice(sha.finish().as_ref());
                (out, state)
            });
            (Some(tx), Some(handle))
        } else {
            (None, None)
        };
        let mut feed_txs = Vec::new();
        let mut feed_threads = Vec::new();
        for mut hasher in hashes.feeds {
            let (tx, rx) = sync_channel::<Chunk>(POOL);
            let free = free_tx.clone();
            feed_threads.push(scope.spawn(move || {
                drain(rx, &free, |c| hasher.update(c));
                hasher
            }));
            feed_txs.push(tx);
        }
        drop(free_tx);

        let extra: Vec<&SyncSender<Chunk>> = b2_tx
            .iter()
            .chain(s512_tx.iter())
            .chain(feed_txs.iter())
            .collect();
        let result = read_loop(
            src, sink, &free_rx, &sha_tx, &extra, keep_all, head_len, max, progress,
        );
        // Closing the channels ends the hashers.
        drop(sha_tx);
        drop(extra);
        drop(b2_tx);
        drop(s512_tx);
        drop(feed_txs);
        let (sha256, sha256_state) = sha_thread
            .join()
            .expect("the SHA-256 thread does not panic");
        let blake2b = b2_thread.map(|h| h.join().expect("the BLAKE2b thread does not panic"));
        let s512 = s512_thread.map(|h| h.join().expect("the SHA-512 thread does not panic"));
        let feeds = feed_threads
            .into_iter()
            .map(|h| h.join().expect("the OpenPGP hashing threads do not panic"))
            .collect();
        let (total, head, all) = result?;
        Ok(Pumped {
            total,
            sha256,
            blake2b,
            sha512: s512.as_ref().map(|(d, _)| *d),
            sha256_state,
            sha512_state: s512.map(|(_, s)| s),
            feeds,
            head,
            all,
        })
    })
}

/// Copy `src` to `sink` in whole chunks, hashing nothing (the digests come later, from what
/// `sink` holds: see `verify::stream_sealed`); stops at [`PumpError::TooLarge`] before
/// writing a byte past `max`. Returns the byte count.
pub fn copy(
    src: &mut dyn Read,
    sink: &mut dyn Write,
    max: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, PumpError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    loop {
        let (n, eof) = fill(src, &mut buf)?;
        total += n as u64;
        if total > max {
            return Err(PumpError::TooLarge);
        }
        sink.write_all(&buf[..n]).map_err(PumpError::Write)?;
        progress(total);
        if eof {
            break;
        }
    }
    sink.flush().map_err(PumpError::Write)?;
    Ok(total)
}

#[allow(clippy::too_many_arguments)]
fn read_loop(
    src: &mut dyn Read,
    sink: &mut dyn Write,
    free_rx: &Receiver<Vec<u8>>,
    sha_tx: &SyncSender<Chunk>,
    extra: &[&SyncSender<Chunk>],
    keep_all: bool,
    head_len: usize,
    max: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<ReadOutcome, PumpError> {
    let mut head = Vec::with_capacity(head_len);
    let mut all = keep_all.then(Vec::new);
    let mut total: u64 = 0;
    loop {
        let mut buf = free_rx
            .recv()
            .expect("hashers return every buffer while the reader runs");
        // Fill the whole chunk (TLS hands out ~16 KiB records): fewer, larger hand-offs, and
        // a returned buffer is already full length, so `resize` costs nothing.
        buf.resize(CHUNK, 0);
        let (n, eof) = fill(src, &mut buf)?;
        if n == 0 {
            break;
        }
        let last = eof;
        buf.truncate(n);
        total += n as u64;
        if total > max {
            return Err(PumpError::TooLarge);
        }
        if head.len() < head_len {
            let take = (head_len - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        if let Some(a) = all.as_mut() {
            a.extend_from_slice(&buf);
        }
        sink.write_all(&buf).map_err(PumpError::Write)?;
        let chunk = Arc::new(buf);
        for tx in extra {
            tx.send(Arc::clone(&chunk))
                .expect("every hashing thread runs until its channel closes");
        }
        sha_tx
            .send(chunk)
            .expect("the SHA-256 thread runs until its channel closes");
        progress(total);
        if last {
            break;
        }
    }
    sink.flush().map_err(PumpError::Write)?;
    Ok((total, head, all))
}

/// Read into all of `buf` (TLS hands out ~16 KiB records: fewer, larger writes and
/// hand-offs); returns the bytes read and whether the end was reached.
fn fill(src: &mut dyn Read, buf: &mut [u8]) -> Result<(usize, bool), PumpError> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PumpError::Read(e)),
        }
    }
    Ok((n, false))
}

/// Hash every chunk from `rx`; whoever holds a chunk last returns its buffer to the pool.
fn drain(rx: Receiver<Chunk>, free: &SyncSender<Vec<u8>>, mut update: impl FnMut(&[u8])) {
    for chunk in rx {
        update(&chunk);
        if let Some(buf) = Arc::into_inner(chunk) {
            // The pool has room for every buffer, so this never blocks; after the reader
            // has stopped, nobody receives, and the buffer is simply dropped.
            let _ = free.try_send(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns short, uneven reads, to exercise chunk boundaries.
    struct Uneven<'a>(&'a [u8], usize);
    impl Read for Uneven<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.1 = (self.1 * 7 + 3) % 1000 + 1;
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn one_pass_matches_direct_hashes_and_copies_every_byte() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for uneven in [false, true] {
            let mut out = Vec::new();
            let mut src: Box<dyn Read> = if uneven {
                Box::new(Uneven(&data, 1))
            } else {
                Box::new(&data[..])
            };
            let all = Hashes {
                blake2b: true,
                sha512: true,
                feeds: Vec::new(),
            };
            let p = pump_with(
                &mut *src,
                &mut out,
                all.clone(),
                true,
                10,
                u64::MAX,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(out, data);
            assert_eq!(p.total, data.len() as u64);
            assert_eq!(p.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
            assert_eq!(p.head, &data[..10]);
            assert_eq!(p.all.as_deref(), Some(&data[..]));
            let b2 = blake2b_simd::Params::new().hash_length(64).hash(&data);
            assert_eq!(&p.blake2b.unwrap()[..], b2.as_bytes());
            assert_eq!(
                p.sha512,
                Some(<[u8; 64]>::from(sha2::Sha512::digest(&data)))
            );
        }
    }

    #[test]
    fn sha512_only_when_asked_for() {
        let data = vec![7u8; CHUNK + 1];
        let p = pump(
            &mut &data[..],
            &mut std::io::sink(),
            false,
            false,
            0,
            u64::MAX,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(p.sha512, None);
        assert_eq!(p.blake2b, None);
        let only = Hashes {
            blake2b: false,
            sha512: true,
            feeds: Vec::new(),
        };
        let p = pump_with(
            &mut &data[..],
            &mut std::io::sink(),
            only,
            false,
            0,
            u64::MAX,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            p.sha512,
            Some(<[u8; 64]>::from(sha2::Sha512::digest(&data)))
        );
        assert_eq!(p.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(p.blake2b, None);
    }

    #[test]
    fn stops_at_the_cap() {
        let data = vec![0u8; 2 * CHUNK];
        let err = pump(
            &mut &data[..],
            &mut std::io::sink(),
            false,
            false,
            0,
            CHUNK as u64,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, PumpError::TooLarge));
    }

    #[test]
    fn empty_input() {
        let p = pump(
            &mut &[][..],
            &mut std::io::sink(),
            false,
            false,
            4,
            10,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(p.total, 0);
        assert!(p.head.is_empty());
    }
}
