//! The verification core alone: bytes/s of verun's one-pass pump (SHA-256, the BLAKE2b
//! prehash and, for `--sha512`, SHA-512 on their threads), against `sha256sum`, `b2sum` and
//! `sha512sum` on the same data.
//!
//! `cargo bench --bench core [-- SIZE_MIB]` (default 256 MiB). No network, no disk for
//! verun (the sink is discarded); the coreutils tools read the same bytes from a file that
//! is already in the page cache. Prints medians of 5 runs.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rate(bytes: usize, d: Duration) -> String {
    format!("{:7.0} MB/s", bytes as f64 / d.as_secs_f64() / 1e6)
}

fn time_tool(tool: &str, path: &std::path::Path) -> Option<Duration> {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(tool).arg(path).output().ok()?;
        if !out.status.success() {
            return None;
        }
        runs.push(t.elapsed());
    }
    Some(median(runs))
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(256);
    let size = mib << 20;
    let mut data = vec![0u8; size];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }

    let pump = |blake2b: bool, sha512: bool| {
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let p = verun::pump::pump_with(
                &mut &data[..],
                &mut std::io::sink(),
                verun::pump::Hashes { blake2b, sha512 },
                false,
                0,
                u64::MAX,
                &mut |_| {},
            )
            .expect("in-memory pump");
            assert_eq!(p.total as usize, size);
            runs.push(t.elapsed());
        }
        median(runs)
    };
    let sha_only = pump(false, false);
    let both = pump(true, false);
    let with512 = pump(false, true);

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write temp file");
    file.flush().expect("flush");
    let sha256sum = time_tool("sha256sum", file.path());
    let b2sum = time_tool("b2sum", file.path());
    let sha512sum = time_tool("sha512sum", file.path());

    println!("verification core, {mib} MiB, medians of 5");
    println!(
        "  verun pump: SHA-256              {}",
        rate(size, sha_only)
    );
    println!("  verun pump: SHA-256 + BLAKE2b    {}", rate(size, both));
    println!("  verun pump: SHA-256 + SHA-512    {}", rate(size, with512));
    match sha256sum {
        Some(d) => println!("  sha256sum                        {}", rate(size, d)),
        None => println!("  sha256sum                        (not available)"),
    }
    match b2sum {
        Some(d) => println!("  b2sum                            {}", rate(size, d)),
        None => println!("  b2sum                            (not available)"),
    }
    match sha512sum {
        Some(d) => println!("  sha512sum                        {}", rate(size, d)),
        None => println!("  sha512sum                        (not available)"),
    }
    if let (Some(s), Some(b)) = (sha256sum, b2sum) {
        println!(
            "  verun (both digests, one pass) vs sha256sum + b2sum run one after the other: {:.2}x faster",
            (s + b).as_secs_f64() / both.as_secs_f64()
        );
    }
}
