//! Local attacks: a racing writer against the sealed memfd, SIGKILL during fetch and key
//! add, symlinks planted in VERUN_HOME.

use super::*;

// --- local attacks: TOCTOU -----------------------------------------------------------------------------------------

/// Pids of `pid`'s direct children.
pub(super) fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // `pid (comm) state ppid ...`; comm may contain spaces and parens.
                    let after = &s[s.rfind(')')? + 2..];
                    after.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// What the racing writer managed.
#[derive(Default)]
pub(super) struct RaceStats {
    /// Descriptors of verun or its payload opened for writing.
    opened: AtomicUsize,
    /// Writes that went through (before the seal).
    written: AtomicUsize,
    /// Files under TMPDIR (re)written.
    tmp_written: AtomicUsize,
    /// Writes that went through to the running payload's descriptors (must stay 0).
    late_written: AtomicUsize,
}

/// Tries, until `stop`, to rewrite every memfd or TMPDIR file that verun (pid in `target`;
/// only its children while `children_only`) or its children have open, and every file
/// under `tmp`, with `evil` (same length as the real payload).
pub(super) fn racing_writer(
    target: Arc<AtomicU32>,
    children_only: Arc<AtomicBool>,
    tmp: PathBuf,
    evil: Vec<u8>,
    stop: Arc<AtomicBool>,
    stats: Arc<RaceStats>,
) {
    while !stop.load(Ordering::SeqCst) {
        let pid = target.load(Ordering::SeqCst);
        if pid == 0 {
            thread::yield_now();
            continue;
        }
        let late = children_only.load(Ordering::SeqCst);
        let mut pids = if late { Vec::new() } else { vec![pid] };
        pids.extend(children_of(pid));
        for p in pids {
            let Ok(fds) = fs::read_dir(format!("/proc/{p}/fd")) else {
                continue;
            };
            for fd in fds.filter_map(Result::ok) {
                let Ok(link) = fs::read_link(fd.path()) else {
                    continue;
                };
                let link = link.to_string_lossy().into_owned();
                if !(link.starts_with("/memfd:") || link.starts_with(&*tmp.to_string_lossy())) {
                    continue; // pipes, sockets, /dev/null: not the payload
                }
                if let Ok(f) = fs::OpenOptions::new().write(true).open(fd.path()) {
                    stats.opened.fetch_add(1, Ordering::SeqCst);
                    if f.write_at(&evil, 0).is_ok() {
                        stats.written.fetch_add(1, Ordering::SeqCst);
                        if late {
                            stats.late_written.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _ = f.set_len(evil.len() as u64);
                }
            }
        }
        if let Ok(entries) = fs::read_dir(&tmp) {
            for e in entries.filter_map(Result::ok) {
                if fs::OpenOptions::new()
                    .write(true)
                    .open(e.path())
                    .and_then(|f| f.write_at(&evil, 0))
                    .is_ok()
                {
                    stats.tmp_written.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// A writer races every run, trying to rewrite the payload through `/proc/<pid>/fd/*` of
/// verun and of the interpreter, and any file under TMPDIR, between download, verification
/// and execution. The payload records the SHA-256 of the file it runs from: it must always
/// be the verified one. A run may instead be refused (the writer got in before the seal
/// and the sealed copy no longer matches: `regression: memfd written before the seal ran
/// unverified bytes`), but never run other bytes.
///
/// Even iterations attack verun itself from the start (most are refused); odd ones attack
/// only the running interpreter's descriptors, after the seal (all must run, unchanged).
#[test]
pub(super) fn toctou_racing_writer_cannot_change_what_runs() {
    const ITERATIONS: usize = 50;
    let s = Scene::http();
    let marker = s.env.root().join("markers").join("toctou.ran");
    // The script sleeps first, so the writer has time to attack the running interpreter.
    let good = format!(
        "#!/bin/sh\n# good\nsleep 0.05\nsha256sum \"$0\" | cut -c1-64 > '{}'\n",
        marker.display()
    )
    .into_bytes();
    let evil_text = format!("#!/bin/sh\necho EVIL > '{}'\nexit 0\n", marker.display());
    let mut evil = evil_text.into_bytes();
    assert!(evil.len() <= good.len());
    evil.resize(good.len(), b'\n');
    let want = sha256_hex(&good);
    s.serve_signature_of("/install.sh", &good);
    // Half the runs get the payload slowly (one byte a millisecond), so the writer has a
    // window while verun is still writing its memfd; half at full speed.
    s.server
        .route("/slow.sh", Reply::drip(&good, Duration::from_millis(1)));
    s.server.route("/install.sh", Reply::bytes(&good));
    s.server.route(
        "/slow.sh.minisig",
        Reply::bytes(s.key.sign(&good, "slow.sh")),
    );

    let target = Arc::new(AtomicU32::new(0));
    let children_only = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(RaceStats::default());
    let writer = {
        let (t, st, sx) = (Arc::clone(&target), Arc::clone(&stop), Arc::clone(&stats));
        let co = Arc::clone(&children_only);
        let tmp = s.env.tmp().to_path_buf();
        let evil = evil.clone();
        thread::spawn(move || racing_writer(t, co, tmp, evil, st, sx))
    };

    let start = Instant::now();
    let (mut ran, mut refused) = (0, 0);
    for i in 0..ITERATIONS {
        let _ = fs::remove_file(&marker);
        let path = if i % 4 < 2 { "/slow.sh" } else { "/install.sh" };
        children_only.store(i % 2 == 1, Ordering::SeqCst);
        let mut args = vec!["run".to_string(), s.url(path)];
        args.extend(s.trust());
        let mut child = s
            .env
            .verun_cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn verun");
        target.store(child.id(), Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "iteration {i} hung");
            thread::sleep(Duration::from_millis(1));
        };
        target.store(0, Ordering::SeqCst);
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        assert_no_raw_controls(err.as_bytes(), &format!("TOCTOU iteration {i}"));
        match status.code() {
            Some(0) => {
                assert_eq!(
                    recorded_hash(&marker),
                    want,
                    "iteration {i}: the bytes that ran are not the verified ones\n{err}"
                );
                ran += 1;
            }
            Some(74 | 77) if i % 2 == 0 => {
                assert_not_ran(&marker);
                refused += 1;
            }
            other => panic!("iteration {i}: exit {other:?}\n{err}"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    eprintln!(
        "TOCTOU: {ITERATIONS} runs in {:?}: {ran} ran the verified bytes, {refused} refused; \
         the writer opened {} descriptors for writing, {} writes went through before a seal, \
         {} TMPDIR files written",
        start.elapsed(),
        stats.opened.load(Ordering::SeqCst),
        stats.written.load(Ordering::SeqCst),
        stats.tmp_written.load(Ordering::SeqCst),
    );
    assert!(
        ran >= ITERATIONS / 2,
        "the post-seal iterations must all run"
    );
    assert_eq!(
        stats.late_written.load(Ordering::SeqCst),
        0,
        "a write reached the sealed payload of a running interpreter"
    );
    // Nothing verun made is left in TMPDIR for the writer to find.
    assert_eq!(leftover_files(s.env.tmp()), Vec::<String>::new());
}

// --- local attacks: SIGKILL and symlinks -------------------------------------------------------------------------

/// Polls `dir` until a `.verun-*.partial` file appears; returns its path.
pub(super) fn wait_for_partial(dir: &Path, limit: Duration) -> Option<PathBuf> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if let Some(name) = leftover_files(dir)
            .into_iter()
            .find(|n| n.starts_with(".verun-") && n.ends_with(".partial"))
        {
            return Some(dir.join(name));
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

/// `fetch -o` writes to a private (0600), exclusively created `.verun-*.partial` beside the
/// target and renames it only after verification. A SIGKILL in the middle leaves nothing at
/// `-o PATH`; the partial file may stay behind (no destructor runs on SIGKILL), private, until
/// a later `fetch -o` into the same directory sweeps it (see the helper below).
#[test]
pub(super) fn kill_9_during_fetch_leaves_nothing_at_the_output() {
    let s = Scene::https();
    let (script, marker) = marker_script(&s.env, "killed");
    s.serve_signature_of("/install.sh", &script);
    s.server.route(
        "/install.sh",
        Reply::drip(&script, Duration::from_millis(50)),
    );
    let dir = s.env.path("bin");
    fs::create_dir_all(&dir).unwrap();
    let out = dir.join("install.sh");
    let mut args = vec![
        "fetch".to_string(),
        s.url("/install.sh"),
        "-o".into(),
        out.display().to_string(),
    ];
    args.extend(s.trust());
    let mut child = s
        .env
        .verun_cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = wait_for_partial(&dir, Duration::from_secs(10));
    // Let a few bytes arrive, then kill.
    thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = partial.expect("no .verun-*.partial appeared during the download");
    assert_no_file(&out);
    assert_not_ran(&marker);
    for name in leftover_files(&dir) {
        assert!(
            name.starts_with(".verun-") && name.ends_with(".partial"),
            "unexpected leftover {name}"
        );
        let meta = fs::symlink_metadata(dir.join(&name)).unwrap();
        assert!(meta.file_type().is_file(), "{name} is not a regular file");
        assert_eq!(meta.mode() & 0o777, 0o600, "{name} is not private");
        assert_eq!(meta.uid(), own_uid(), "{name} has another owner");
    }
    eprintln!(
        "kill -9 during fetch: nothing at -o; left behind: {:?}",
        partial.file_name().unwrap()
    );
    sweep_leaves_fresh_locked_and_foreign_partials(&s, &dir, &partial);
}

/// The next `fetch -o` into `dir` removes the leftover `partial` of a killed fetch once it
/// is a minute old, and nothing else: not a fresh one, not one a live process holds locked,
/// not a symlink, not another user's file, not a file without verun's name pattern.
pub(super) fn sweep_leaves_fresh_locked_and_foreign_partials(
    s: &Scene,
    dir: &Path,
    partial: &Path,
) {
    let old = std::time::SystemTime::now() - Duration::from_secs(120);
    let age = |p: &Path| {
        fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap()
    };
    s.publish_marker("/next.sh", "next");
    let next = dir.join("next.sh");

    // Fresh (the kill was just now): kept.
    let m = s.fetch("/next.sh", &next, &[], QUICK);
    assert_exit(&m.output, 0);
    assert!(partial.exists(), "a fresh partial file was swept");

    // Old, but held by a live process: kept.
    let held = dir.join(".verun-held.partial");
    fs::write(&held, b"x").unwrap();
    let holder = fs::File::open(&held).unwrap();
    rustix::fs::flock(&holder, rustix::fs::FlockOperation::LockExclusive).unwrap();
    age(&held);
    // Old symlink with the pattern, pointing at a file that must survive: kept.
    let victim = s.env.root().join("victim.txt");
    fs::write(&victim, b"precious\n").unwrap();
    age(&victim);
    let link = dir.join(".verun-link.partial");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    // Old, unlocked, but not verun's pattern: kept.
    let other_name = dir.join("download.partial");
    fs::write(&other_name, b"x").unwrap();
    age(&other_name);
    // Old, unlocked, another owner (only testable as root): kept.
    let foreign = dir.join(".verun-foreign.partial");
    let root = own_uid() == 0;
    if root {
        fs::write(&foreign, b"x").unwrap();
        age(&foreign);
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    }
    // The real leftover, now old: removed.
    age(partial);

    let m = s.fetch("/next.sh", &next, &[], QUICK);
    assert_exit(&m.output, 0);
    assert!(
        !partial.exists(),
        "the stale partial of the killed fetch is still there"
    );
    assert!(
        held.exists(),
        "a partial held locked by a live process was removed"
    );
    assert!(
        fs::symlink_metadata(&link).is_ok(),
        "the symlink was removed"
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
    assert!(
        other_name.exists(),
        "a file without verun's name pattern was removed"
    );
    if root {
        assert!(foreign.exists(), "another user's partial file was removed");
    }
    drop(holder);
}

pub(super) fn own_uid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// A symlink planted at `-o PATH` (pointing at a file the attacker wants overwritten) is
/// replaced by the rename, never written through.
#[test]
pub(super) fn fetch_output_symlink_is_replaced_not_written_through() {
    let s = Scene::https();
    let (script, _) = s.publish_marker("/install.sh", "out-link");
    let victim = s.env.root().join("victim");
    fs::write(&victim, b"precious\n").unwrap();
    let out = s.env.path("install.sh");
    std::os::unix::fs::symlink(&victim, &out).unwrap();
    let m = s.fetch("/install.sh", &out, &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
    let meta = fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(fs::read(&out).unwrap(), script);
    assert_no_partials(s.env.work());
}

/// Snapshot of a directory tree: (relative path, size, mtime) for every entry.
pub(super) fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, i64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            out.push((
                p.strip_prefix(dir).unwrap().to_path_buf(),
                m.len(),
                m.mtime_nsec() + m.mtime() * 1_000_000_000,
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Symlinks planted in `VERUN_HOME` (by another user, or left by an old tool) never make
/// verun write through them: neither the state, cache and config directories themselves nor
/// the files verun keeps in them, including a cache blob named by the payload's (public)
/// SHA-256. Each link points at a victim file or directory, which must stay untouched;
/// verun either runs without that piece of state (0, with a warning) or refuses the
/// configuration (78). A symlinked key store is always refused (SPEC).
#[test]
pub(super) fn symlinks_planted_in_verun_home_are_not_written_through() {
    let s = Scene::https();
    let victim_dir = s.env.root().join("victim-dir");
    fs::create_dir_all(&victim_dir).unwrap();
    fs::write(victim_dir.join("keep"), b"keep\n").unwrap();
    let victim_file = s.env.root().join("victim-file");
    fs::write(&victim_file, b"precious\n").unwrap();
    fs::set_permissions(&victim_file, fs::Permissions::from_mode(0o600)).unwrap();
    let (script, marker) = s.publish_marker("/install.sh", "home-links");
    let blob = format!("cache/blobs/{}", sha256_hex(&script));
    let home = s.env.home();

    // (what is planted, is it a directory link, the exit codes allowed)
    let cases: Vec<(&str, bool, &[i32])> = vec![
        ("state", true, &[0, 78]),
        ("cache", true, &[0, 78]),
        ("config", true, &[78]),
        ("state/rollback.json", false, &[0, 78]),
        ("state/.rollback.lck", false, &[0, 74, 78]),
        ("cache/index.json", false, &[0, 78]),
        ("cache/.lck", false, &[0, 74, 78]),
        (&blob, false, &[0, 78]),
        ("config/store.toml", false, &[78]),
        ("config/store.lock", false, &[0, 74, 78]),
    ];
    let mut wrote_state = false;
    for (planted, is_dir, allowed) in cases {
        // A fresh, private home holding only the planted link (and its parents).
        for e in fs::read_dir(home).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                fs::remove_dir_all(&p).unwrap();
            } else {
                fs::remove_file(&p).unwrap();
            }
        }
        let link = home.join(planted);
        for dir in link
            .ancestors()
            .skip(1)
            .take_while(|d| d.starts_with(home) && *d != home)
        {
            fs::create_dir_all(dir).unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        let target = if is_dir { &victim_dir } else { &victim_file };
        std::os::unix::fs::symlink(target, &link).unwrap();
        let before = snapshot(&victim_dir);
        let _ = fs::remove_file(&marker);

        let m = s.run("/install.sh", &[], QUICK);
        let code = m.code().unwrap_or(-1);
        assert!(
            allowed.contains(&code),
            "{planted}: exit {code}, allowed {allowed:?}\n{}",
            m.stderr()
        );
        if code == 0 {
            assert_ran(&marker);
        } else {
            assert_not_ran(&marker);
        }
        assert_eq!(snapshot(&victim_dir), before, "{planted}: written through");
        assert_eq!(
            fs::read(&victim_file).unwrap(),
            b"precious\n",
            "{planted}: written through"
        );
        assert_eq!(
            fs::metadata(&victim_file).unwrap().mode() & 0o777,
            0o600,
            "{planted}: the victim's mode changed"
        );
        // The link itself may stay, or be replaced by an atomic rename: both leave the
        // victim alone.
        wrote_state |= snapshot(home).iter().any(|(p, _, _)| {
            fs::symlink_metadata(home.join(p)).is_ok_and(|m| m.file_type().is_file())
        });
        eprintln!("symlink at {planted}: exit {code}");
    }
    if !wrote_state {
        eprintln!(
            "note: this build wrote no state under VERUN_HOME on `run`; the symlinks were \
             not exercised beyond being left alone"
        );
    }
}

/// `key add` killed with SIGKILL at random points, 100 times: the store still loads
/// (`key list` exits 0). Skipped while `verun key add` does not exist in this build.
#[test]
pub(super) fn kill_9_during_key_add_leaves_a_store_that_parses() {
    let env = TestEnv::new();
    let probe_key = TestKey::generate();
    let probe_start = Instant::now();
    let probe = env.verun([
        "key",
        "add",
        "probe",
        "--pubkey",
        &probe_key.public_key_base64(),
        "--scope",
        "https://example.com/",
    ]);
    if probe.status.code() != Some(0) {
        skipped(
            "kill_9_during_key_add_leaves_a_store_that_parses",
            &format!(
                "`verun key add` is not available in this build (exit {:?}: {})",
                probe.status.code(),
                stderr(&probe).trim()
            ),
            "VERUN_REQUIRE_KEY_ADD",
            Need::Oracle,
        );
        return;
    }
    // Kill anywhere from before the store is opened to after it is written: up to one
    // and a half times what a whole `key add` takes here.
    let span_us = (probe_start.elapsed().as_micros() as u64 * 3 / 2).max(1000);
    let start = Instant::now();
    let mut seed = [0u8; 8];
    getrandom::getrandom(&mut seed).unwrap();
    let mut rng = u64::from_le_bytes(seed) | 1;
    for i in 0..100 {
        let key = TestKey::generate();
        let mut child = env
            .verun_cmd([
                "key",
                "add",
                &format!("k{i}"),
                "--pubkey",
                &key.public_key_base64(),
                "--scope",
                &format!("https://example.com/{i}/"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        thread::sleep(Duration::from_micros(rng % span_us));
        let _ = child.kill();
        child.wait().unwrap();
    }
    let list = env.verun(["key", "list"]);
    assert_exit(&list, 0);
    assert_no_raw_controls(&probe.stderr, "key add");
    assert_no_raw_controls(&list.stderr, "key list");
    let listed = stdout(&list);
    assert!(listed.contains("probe"), "{listed}");
    let survived = (0..100)
        .filter(|i| {
            listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(&format!("k{i}")))
        })
        .count();
    eprintln!(
        "kill -9 x100 during key add (killed within {span_us} us): store still parses, \
         {survived} adds completed ({:?})",
        start.elapsed()
    );
}

/// A write into `run`'s memfd while the payload is still downloading (before the seal) is
/// refused with 77 and leaves no trace: nothing runs, and no lockfile entry, cache entry,
/// rollback mark or key-use count names the URL. `run` seals and checks the memfd before it
/// records anything (0.1.0 recorded the lock entry of the stream it had verified, then
/// refused the changed memfd). A control run of the same script under another URL, without
/// the writer, must run and be recorded, so the checks can fail.
///
/// The server (a plain one here) sends 300 KiB, stalls for 600 ms, then sends the rest:
/// verun writes its memfd a chunk at a time, so the writer has the stall to get in. It opens
/// `/proc/<verun>/fd/N` of a non-dumpable process: that needs root (as in CI); as another
/// user the test says so and checks nothing.
#[test]
pub(super) fn a_write_before_the_seal_is_refused_and_records_nothing() {
    use std::io::{BufRead, BufReader};
    let euid = fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
    if euid.as_deref() != Some("0") {
        eprintln!(
            "SKIPPED a_write_before_the_seal_is_refused_and_records_nothing: only root can open a non-dumpable verun's descriptors"
        );
        return;
    }
    let env = TestEnv::new();
    let marker = env.root().join("markers").join("seal-race.ran");
    let mut good = format!(
        "#!/bin/sh\n# good\necho good > '{}'\nexit 0\n",
        marker.display()
    )
    .into_bytes();
    good.extend(std::iter::repeat_n(b'#', 600 * 1024));
    good.push(b'\n');
    let evil = format!("#!/bin/sh\necho EVIL > '{}'\nexit 0\n", marker.display()).into_bytes();
    let sha256 = sha256_hex(&good);
    let sha512: String = {
        use sha2::Digest as _;
        sha2::Sha512::digest(&good)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = good.clone();
    let server = thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(&body[..300 * 1024]).unwrap();
            conn.flush().unwrap();
            thread::sleep(Duration::from_millis(600));
            let _ = conn.write_all(&body[300 * 1024..]);
        }
    });
    let lock = env.root().join("verun.lock");
    let run = |path: &str, pin: &str, digest: &str| {
        let args: Vec<String> = [
            "run",
            &format!("http://127.0.0.1:{port}{path}"),
            "--allow-http",
            pin,
            digest,
            "--lock",
            &lock.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        env.verun_cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn verun")
    };
    let mentions = |needle: &str| -> Vec<PathBuf> {
        let mut hits = Vec::new();
        let mut dirs = vec![env.home().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if fs::read(&p)
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                {
                    hits.push(p);
                }
            }
        }
        if fs::read_to_string(&lock).is_ok_and(|t| t.contains(needle)) {
            hits.push(lock.clone());
        }
        hits
    };

    // --sha256: the digest is computed from the sealed memfd; --sha512: the stream is
    // hashed and the sealed memfd re-hashed with SHA-256.
    for (pin, digest) in [("--sha256", &sha256), ("--sha512", &sha512)] {
        let control = run(&format!("/control{pin}.sh"), pin, digest)
            .wait_with_output()
            .unwrap();
        assert_eq!(
            control.status.code(),
            Some(0),
            "control run ({pin}): {}",
            String::from_utf8_lossy(&control.stderr)
        );
        assert_eq!(fs::read_to_string(&marker).unwrap().trim(), "good");
        assert!(
            mentions(&format!("/control{pin}.sh")).contains(&lock),
            "the control run must be locked, or this test checks nothing"
        );
        fs::remove_file(&marker).unwrap();

        let child = run(&format!("/attacked{pin}.sh"), pin, digest);
        let pid = child.id();
        let mut wrote = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        'attack: while Instant::now() < deadline {
            for fd in fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let is_memfd = fs::read_link(fd.path())
                    .is_ok_and(|l| l.to_string_lossy().starts_with("/memfd:"));
                if !is_memfd {
                    continue;
                }
                let Ok(f) = fs::OpenOptions::new().write(true).open(fd.path()) else {
                    continue;
                };
                // Once verun has written its first chunk, overwrite the script's start: verun's
                // own writes go on at its offset and never touch those bytes again.
                if f.metadata().is_ok_and(|m| m.len() > evil.len() as u64) {
                    f.write_at(&evil, 0)
                        .expect("write into the memfd before the seal");
                    wrote = true;
                    break 'attack;
                }
            }
            thread::sleep(Duration::from_millis(1));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(wrote, "the writer never got into verun's memfd: {err}");
        assert_eq!(out.status.code(), Some(77), "{pin}: {err}");
        assert!(!marker.exists(), "something ran ({pin}): {err}");
        assert_eq!(
            mentions(&format!("/attacked{pin}.sh")),
            Vec::<PathBuf>::new(),
            "a refused run recorded its URL\n{err}"
        );
    }
    server.join().unwrap();
}
