//! Endless, lying, slow and compressed bodies: the size cap, Content-Length checks, deadlines
//! and no decompression.

use super::*;

// --- endless and lying bodies --------------------------------------------------------------------

#[test]
pub(super) fn endless_body_without_content_length_stops_at_max_size() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "endless");
    s.server.route("/install.sh", Reply::endless());
    s.serve_signature_of("/install.sh", &script);
    // 64 MiB of body against a 64 MiB RSS bound: buffering the payload would show.
    let m = s.run("/install.sh", &["--max-size", "64M"], QUICK * 3);
    assert_refused(&m, 69, &marker, None, QUICK * 3);
    assert!(m.stderr().contains("limit"), "{}", m.stderr());
    let out = s.env.path("out/install.sh");
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let m = s.fetch("/install.sh", &out, &["--max-size", "64M"], QUICK * 3);
    assert_refused(&m, 69, &marker, Some(&out), QUICK * 3);
    eprintln!(
        "endless body vs --max-size 64M: exit 69 in {:?}, peak RSS {}",
        m.elapsed,
        rss_note(&m)
    );
}

/// The default cap is 1 GiB: the server streams a whole GiB and verun's resident memory
/// stays flat. (The bytes go to the payload memfd, which the kernel keeps as shared memory
/// outside the process's RSS, and which is freed when verun exits; `fetch -o` writes them
/// to the temporary file instead.)
#[test]
pub(super) fn endless_body_streams_a_gib_in_bounded_memory() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "gib");
    s.server.route("/install.sh", Reply::endless());
    s.serve_signature_of("/install.sh", &script);
    let m = s.run("/install.sh", &[], Duration::from_secs(90));
    assert_refused(&m, 69, &marker, None, Duration::from_secs(60));
    assert!(m.stderr().contains("1 GiB limit"), "{}", m.stderr());
    eprintln!(
        "endless body vs default --max-size 1G: exit 69 after 1 GiB in {:?}, peak RSS {}",
        m.elapsed,
        rss_note(&m)
    );
}

#[test]
pub(super) fn honest_but_huge_content_length_is_refused_before_reading() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "huge");
    s.server.route("/install.sh", Reply::filler(4 << 30));
    s.serve_signature_of("/install.sh", &script);
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 69, &marker, None, Duration::from_secs(5));
    let out = s.env.path("huge.sh");
    let m = s.fetch("/install.sh", &out, &["--max-size", "1M"], QUICK);
    assert_refused(&m, 69, &marker, Some(&out), Duration::from_secs(5));
}

#[test]
pub(super) fn content_length_longer_than_body_is_a_truncated_download() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "cl-long");
    s.serve_signature_of("/install.sh", &script);
    // The first half of the script (which writes the marker first) and a short close.
    let half = &script[..script.len() / 2];
    s.server
        .route("/install.sh", Reply::truncated(half, script.len() as u64));
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 69, &marker, None, QUICK);
    let out = s.env.path("install.sh");
    let m = s.fetch("/install.sh", &out, &[], QUICK);
    assert_refused(&m, 69, &marker, Some(&out), QUICK);
}

/// `Content-Length` shorter than what the server sends: HTTP framing ends the body at the
/// declared length, so an evil tail after a verified script is never read, let alone run.
#[test]
pub(super) fn content_length_shorter_than_body_runs_only_the_verified_bytes() {
    let s = Scene::https();
    let (good, marker) = hashing_script(&s.env, "cl-short", "good");
    s.serve_signature_of("/install.sh", &good);
    let mut sent = good.clone();
    sent.extend_from_slice(format!("echo evil > '{}'\n", marker.display()).as_bytes());
    s.server.route(
        "/install.sh",
        Reply::declared_length(good.len() as u64, &sent),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(recorded_hash(&marker), sha256_hex(&good));
    assert_bounded(&m, QUICK);

    // Declared shorter than the signed script: the cut body fails the signature.
    let (script, marker2) = marker_script(&s.env, "cl-short2");
    s.serve_signature_of("/two.sh", &script);
    s.server.route(
        "/two.sh",
        Reply::declared_length(script.len() as u64 - 10, &script),
    );
    let m = s.run("/two.sh", &[], QUICK);
    assert_refused(&m, 77, &marker2, None, QUICK);
}

/// The classic `curl | sh` hazard: a connection that drops mid-script (no
/// `Content-Length`, so the cut looks like the end). A shell would run the first half; the
/// signature refuses it.
#[test]
pub(super) fn body_cut_mid_stream_without_length_is_refused_by_the_signature() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "cut");
    s.serve_signature_of("/install.sh", &script);
    let mut raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    raw.extend_from_slice(&script[..script.len() / 2]);
    s.server.route("/install.sh", Reply::raw(raw));
    let m = s.run("/install.sh", &[], QUICK);
    // Without a length the cut cannot be told from the end: it is a verification failure.
    assert_refused(&m, 77, &marker, None, QUICK);
    let out = s.env.path("install.sh");
    let m = s.fetch("/install.sh", &out, &[], QUICK);
    assert_refused(&m, 77, &marker, Some(&out), QUICK);
}

#[test]
pub(super) fn chunked_encoding_errors_are_download_failures() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "chunked");
    s.serve_signature_of("/install.sh", &script);
    let half = &script[..script.len() / 2];
    for (fault, body) in [
        (ChunkFault::BadSize, half),
        (ChunkFault::ShortChunk, half),
        // A missing terminator after the whole script: the transfer was cut.
        (ChunkFault::NoTerminator, &script[..]),
    ] {
        s.server
            .route("/install.sh", Reply::broken_chunked(body, fault));
        let m = s.run("/install.sh", &[], QUICK);
        assert_refused(&m, 69, &marker, None, QUICK);
        let out = s.env.path("install.sh");
        let m = s.fetch("/install.sh", &out, &[], QUICK);
        assert_refused(&m, 69, &marker, Some(&out), QUICK);
    }
    // Control: valid chunked framing of the same script verifies and runs.
    let third = script.len() / 3;
    s.server.route(
        "/install.sh",
        Reply::chunked([&script[..third], &script[third..]]),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_ran(&marker);
}

/// Malformed or abusive HTTP framing fails closed, fast and in bounded memory. Where a
/// framing is ambiguous but the body is the signed script, running it is fine: what runs
/// must hash to the verified bytes.
#[test]
pub(super) fn protocol_oddities_fail_closed() {
    let s = Scene::https();
    let (good, marker) = hashing_script(&s.env, "oddities", "good");
    s.serve_signature_of("/install.sh", &good);
    let body = String::from_utf8(good.clone()).unwrap();
    let n = good.len();
    let head = |fields: &str| format!("HTTP/1.1 200 OK\r\n{fields}Connection: close\r\n\r\n{body}");
    let cases: Vec<(&str, Reply)> = vec![
        (
            "10 MiB header line",
            Reply::raw(format!(
                "HTTP/1.1 200 OK\r\nX-Pad: {}\r\n\r\n{body}",
                "a".repeat(10 << 20)
            )),
        ),
        (
            "100000 header fields",
            Reply::raw(format!(
                "HTTP/1.1 200 OK\r\n{}\r\n{body}",
                "X: y\r\n".repeat(100_000)
            )),
        ),
        (
            "endless 100 Continue",
            Reply::raw("HTTP/1.1 100 Continue\r\n\r\n".repeat(200_000)),
        ),
        ("HTTP/0.9 (no status line)", Reply::raw(body.clone())),
        (
            "garbage status line",
            Reply::raw(format!("HTTP/1.1 two hundred\r\n\r\n{body}")),
        ),
        (
            "negative Content-Length",
            Reply::raw(head("Content-Length: -1\r\n")),
        ),
        (
            "overflowing Content-Length",
            Reply::raw(head("Content-Length: 99999999999999999999999\r\n")),
        ),
        (
            "two different Content-Lengths",
            Reply::raw(head(&format!(
                "Content-Length: {n}\r\nContent-Length: {}\r\n",
                n + 7
            ))),
        ),
        (
            "Content-Length and chunked",
            Reply::chunked([&good[..n / 2], &good[n / 2..]]).with_header("Content-Length", "5"),
        ),
        ("NUL in a header", Reply::raw(head("X-Evil: a\0b\r\n"))),
    ];
    for (what, reply) in cases {
        let _ = fs::remove_file(&marker);
        s.server.route("/install.sh", reply);
        let m = s.run("/install.sh", &["--timeout", "5"], Duration::from_secs(20));
        match m.code() {
            Some(0) => assert_eq!(recorded_hash(&marker), sha256_hex(&good), "{what}"),
            Some(69 | 77) => assert_not_ran(&marker),
            other => panic!("{what}: exit {other:?}\n{}", m.stderr()),
        }
        assert_bounded(&m, QUICK);
        eprintln!(
            "{what}: exit {:?} in {:?}, RSS {}",
            m.code(),
            m.elapsed,
            rss_note(&m)
        );
    }
}

// --- slow retrieval --------------------------------------------------------------------------------

#[test]
pub(super) fn slow_drip_payload_is_cut_by_the_timeout() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "drip");
    s.serve_signature_of("/install.sh", &script);
    s.server
        .route("/install.sh", Reply::drip(&script, Duration::from_secs(1)));
    let m = s.run("/install.sh", &["--timeout", "2"], Duration::from_secs(20));
    assert_refused(&m, 69, &marker, None, Duration::from_secs(6));
    assert!(m.stderr().contains("timed out"), "{}", m.stderr());
    let out = s.env.path("install.sh");
    let m = s.fetch(
        "/install.sh",
        &out,
        &["--timeout", "2"],
        Duration::from_secs(20),
    );
    assert_refused(&m, 69, &marker, Some(&out), Duration::from_secs(6));
}

#[test]
pub(super) fn slow_drip_signature_is_cut_by_the_timeout() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "drip-sig");
    s.server.route("/install.sh", Reply::bytes(&script));
    let sig = s.key.sign(&script, "install.sh");
    s.server.route(
        "/install.sh.minisig",
        Reply::drip(sig, Duration::from_secs(1)),
    );
    let m = s.run("/install.sh", &["--timeout", "2"], Duration::from_secs(20));
    assert_refused(&m, 69, &marker, None, Duration::from_secs(6));
}

#[test]
pub(super) fn accept_and_never_answer_is_cut_by_the_timeout() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "hang");
    let list = gnu_checksums(&[("install.sh", &script)]);
    // The payload hangs; then the signature; then the checksum list.
    let cases: [(&str, Reply, Reply, Reply); 3] = [
        (
            "payload",
            Reply::hang(),
            Reply::bytes(s.key.sign(&script, "install.sh")),
            Reply::bytes(&list),
        ),
        (
            "signature",
            Reply::bytes(&script),
            Reply::hang(),
            Reply::bytes(&list),
        ),
        (
            "checksums",
            Reply::bytes(&script),
            Reply::bytes(s.key.sign(&script, "install.sh")),
            Reply::hang(),
        ),
    ];
    for (what, payload, sig, sums) in cases {
        s.server.route("/install.sh", payload);
        s.server.route("/install.sh.minisig", sig);
        s.server.route("/SHA256SUMS", sums);
        let sums_url = s.url("/SHA256SUMS");
        let m = s.run(
            "/install.sh",
            &["--timeout", "2", "--checksums", &sums_url],
            Duration::from_secs(20),
        );
        assert_refused(&m, 69, &marker, None, Duration::from_secs(6));
        eprintln!("hanging {what}: exit 69 in {:?}", m.elapsed);
    }
}

// --- compression ---------------------------------------------------------------------------------------

/// A gzip member whose deflate stream (one fixed-Huffman block of back-references) decodes
/// to `size` zero bytes: about 1:1000. The CRC field is left 0: a decoder would have to
/// inflate everything before it could notice.
pub(super) fn gzip_bomb(size: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code: most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let mut rev = 0;
            for i in 0..len {
                rev |= ((code >> i) & 1) << (len - 1 - i);
            }
            self.put(rev, len);
        }
    }
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // BTYPE = fixed Huffman
    b.code(0x30, 8); // literal 0
    let mut left = size - 1;
    while left >= 258 {
        b.code(0xc5, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    b.put(0, 7); // flush to a byte
    let mut out = b.out;
    out.extend_from_slice(&0u32.to_le_bytes()); // CRC32 (not computed)
    out.extend_from_slice(&(size as u32).to_le_bytes()); // ISIZE mod 2^32
    out
}

#[test]
pub(super) fn gzip_bomb_helper_is_a_real_bomb() {
    // 1 MiB of zeros from about 1 KiB; checked with the system's gzip when present.
    let bomb = gzip_bomb(1 << 20);
    assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
    let Ok(mut child) = Command::new("gzip")
        .args(["-dc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        eprintln!("note: no gzip binary; the bomb's decoded size is not cross-checked");
        return;
    };
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(&bomb);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    // gzip complains about the CRC we left 0, after inflating everything.
    assert_eq!(out.stdout.len(), 1 << 20);
    assert!(out.stdout.iter().all(|&b| b == 0));
}

/// verun asks for no compression and decodes none (`Accept-Encoding` is never sent): a body
/// sent with `Content-Encoding: gzip` anyway is verified as the bytes on the wire. The
/// honestly gzipped copy of a signed script fails its signature (77) and is never inflated.
#[test]
pub(super) fn gzip_encoded_payload_is_verified_as_sent_never_decoded() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "gzip");
    s.serve_signature_of("/install.sh", &script);
    s.server.route("/install.sh", Reply::gzip_of(&script));
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    let out = s.env.path("install.sh");
    let m = s.fetch("/install.sh", &out, &[], QUICK);
    assert_refused(&m, 77, &marker, Some(&out), QUICK);
    for r in s.server.requests() {
        assert!(
            r.header("accept-encoding").is_none(),
            "verun sent Accept-Encoding: {:?}",
            r.header("accept-encoding")
        );
    }
}

/// A bomb that would inflate to 4 GiB, served as ~4 MiB with `Content-Encoding: gzip`: it
/// counts as 4 MiB against `--max-size` (69 with a 1 MiB cap), fails the signature at the
/// default cap (77), and never expands in memory.
#[test]
pub(super) fn gzip_bomb_is_never_expanded() {
    let s = Scene::http();
    let (script, marker) = marker_script(&s.env, "bomb");
    s.serve_signature_of("/install.sh", &script);
    let bomb = gzip_bomb(4 << 30);
    let wire = bomb.len();
    s.server.route("/install.sh", Reply::gzip(bomb));
    let m = s.run("/install.sh", &["--max-size", "1M"], QUICK);
    assert_refused(&m, 69, &marker, None, QUICK);
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    assert!(
        m.stderr().contains("does not match its signature"),
        "{}",
        m.stderr()
    );
    eprintln!(
        "gzip bomb ({wire} bytes on the wire, 4 GiB inflated): exit 77 in {:?}, peak RSS {}",
        m.elapsed,
        rss_note(&m)
    );
}
