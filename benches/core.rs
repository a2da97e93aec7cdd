//! The verification core alone: bytes/s of each digest verun computes (SHA-256 from `sha2`,
//! SHA-512 from `ring` (and `sha2`'s, for comparison), BLAKE2b-512 from `blake2b_simd`, with the implementation each picks at run
//! time on this CPU), of verun's one-pass pump (SHA-256, the BLAKE2b prehash and, for
//! `--sha512`, SHA-512 on their threads), against `sha256sum`, `b2sum`, `sha512sum` and
//! `openssl dgst` on the same data: the digest parts of `benches/fetch.sh`'s CPU floor.
//!
//! `cargo bench --bench core [-- SIZE_MIB]` (default 256 MiB). No network, no disk for
//! verun (the sink is discarded); the tools read the same bytes from a file that is already
//! in the page cache (their figures include that read). Prints medians of 5 runs.

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

fn time_tool(tool: &[&str], path: &std::path::Path) -> Option<Duration> {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(tool[0])
            .args(&tool[1..])
            .arg(path)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        runs.push(t.elapsed());
    }
    Some(median(runs))
}

/// Median time of `f` over `data`, 5 runs.
fn time_digest(data: &[u8], mut f: impl FnMut(&[u8])) -> Duration {
    let mut runs = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        f(std::hint::black_box(data));
        runs.push(t.elapsed());
    }
    median(runs)
}

/// The CPU features the digests dispatch on (x86_64).
fn features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut f = Vec::new();
        if std::is_x86_feature_detected!("sha") {
            f.push("sha_ni (sha2: SHA-256 with SHA extensions)");
        } else {
            f.push("no sha_ni (sha2: portable SHA-256)");
        }
        if std::is_x86_feature_detected!("avx2") {
            f.push("avx2 (blake2b_simd: AVX2 BLAKE2b; ring: AVX2 SHA-512)");
        } else if std::is_x86_feature_detected!("sse4.1") {
            f.push("no avx2 (blake2b_simd: SSE4.1 BLAKE2b; sha2: portable SHA-512)");
        }
        if std::is_x86_feature_detected!("avx512f") {
            f.push("avx512f (used by neither crate)");
        }
        f.join(", ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.to_string()
    }
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
                verun::pump::Hashes {
                    blake2b,
                    sha512,
                    feeds: Vec::new(),
                },
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
    use sha2::Digest;
    let d_sha256 = time_digest(&data, |d| {
        std::hint::black_box(sha2::Sha256::digest(d));
    });
    let d_blake2b = time_digest(&data, |d| {
        std::hint::black_box(blake2b_simd::Params::new().hash_length(64).hash(d));
    });
    let d_sha512 = time_digest(&data, |d| {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA512, d));
    });
    let d_sha512_sha2 = time_digest(&data, |d| {
        std::hint::black_box(sha2::Sha512::digest(d));
    });
    let sha_only = pump(false, false);
    let both = pump(true, false);
    let with512 = pump(false, true);

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write temp file");
    file.flush().expect("flush");
    let sha256sum = time_tool(&["sha256sum"], file.path());
    let b2sum = time_tool(&["b2sum"], file.path());
    let sha512sum = time_tool(&["sha512sum"], file.path());
    let tools = [
        ("openssl dgst -sha256", &["openssl", "dgst", "-sha256"][..]),
        (
            "openssl dgst -blake2b512",
            &["openssl", "dgst", "-blake2b512"][..],
        ),
        ("openssl dgst -sha512", &["openssl", "dgst", "-sha512"][..]),
    ]
    .map(|(name, cmd)| (name, time_tool(cmd, file.path())));

    println!("verification core, {mib} MiB, medians of 5");
    println!("  CPU: {}", features());
    println!(
        "  sha2 SHA-256 alone               {}",
        rate(size, d_sha256)
    );
    println!(
        "  blake2b_simd BLAKE2b-512 alone   {}",
        rate(size, d_blake2b)
    );
    println!(
        "  ring SHA-512 alone (the pump's)  {}",
        rate(size, d_sha512)
    );
    println!(
        "  sha2 SHA-512 alone (not used)    {}",
        rate(size, d_sha512_sha2)
    );
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
    for (name, d) in tools {
        match d {
            Some(d) => println!("  {name:<32} {}", rate(size, d)),
            None => println!("  {name:<32} (not available)"),
        }
    }
    if let (Some(s), Some(b)) = (sha256sum, b2sum) {
        println!(
            "  verun (both digests, one pass) vs sha256sum + b2sum run one after the other: {:.2}x faster",
            (s + b).as_secs_f64() / both.as_secs_f64()
        );
    }
}
