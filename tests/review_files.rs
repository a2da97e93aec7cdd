//! The files verun owns or trusts, attacked by another local user (issue 11, items 8–10)
//! and the `fetch -o` targets a newcomer reached for (issue 12): lockfiles and their
//! `.NAME.lck`, the rollback state, the cache, the `.partial` file of `fetch -o`, special
//! files at `-o`, and `-o -` (stdout). Every test drives the real binary against a loopback
//! server.
//!
//! "Another user" needs root (to chown files to uid 65534): without it those tests are
//! skipped with a loud line on stderr, and fail in CI (`CI=true`).

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The uid files of "another user" get.
const OTHER: u32 = 65534;

/// Whether this test can make files of another user (root); otherwise skip loudly, or fail
/// in CI.
fn can_chown(test: &str) -> bool {
    if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0 {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{test} needs root (to chown files to another uid), and CI=true"
    );
    // Straight to fd 2, past the test harness's capture: a skip must be visible.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs root to create files owned by another user"
    );
    false
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for e in fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

impl Site {
    fn run(&self, url: &str, extra: &[&str]) -> Output {
        let key = self.key.public_key_base64();
        let mut args = vec!["run", url, "--allow-http", "--key", &key];
        args.extend_from_slice(extra);
        self.env.verun(&args)
    }

    fn fetch(&self, url: &str, out: &str, extra: &[&str]) -> Output {
        let key = self.key.public_key_base64();
        let mut args = vec!["fetch", url, "-o", out, "--allow-http", "--key", &key];
        args.extend_from_slice(extra);
        self.env.verun(&args)
    }
}

/// One `verun: error:` line and one `verun: hint:` line.
#[track_caller]
fn assert_one_error_with_hint(out: &Output, mentions: &str) {
    let err = stderr(out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("verun: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{err}");
    assert!(
        err.lines().any(|l| l.starts_with("verun: hint:")),
        "a hint line:\n{err}"
    );
    assert!(
        errors[0].contains(mentions),
        "the error mentions {mentions:?}:\n{err}"
    );
}

// --- item 8: lockfiles in shared directories -----------------------------------------------

/// A lockfile owned by another user is not a trust anchor: refused (78) before anything is
/// downloaded or run, and left as it was.
#[test]
fn a_lockfile_owned_by_another_user_is_refused() {
    if !can_chown("a_lockfile_owned_by_another_user_is_refused") {
        return;
    }
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "foreign-lock");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let lock = s.env.path("verun.lock");
    let lock_arg = lock.display().to_string();
    assert_exit(&s.run(&url, &["--lock", &lock_arg]), 0);
    fs::remove_file(&marker).unwrap();
    let before = fs::read(&lock).unwrap();
    std::os::unix::fs::chown(&lock, Some(OTHER), Some(OTHER)).unwrap();
    s.server.clear_requests();
    let out = s.run(&url, &["--lock", &lock_arg]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "belongs to uid 65534");
    assert_not_ran(&marker);
    assert_eq!(
        s.server.hits("/install.sh"),
        0,
        "refused before downloading"
    );
    assert_eq!(fs::read(&lock).unwrap(), before);
    // `fetch` and `audit` hold it to the same rule.
    let saved = s.env.path("saved.sh");
    let out = s.fetch(&url, &saved.display().to_string(), &["--lock", &lock_arg]);
    assert_exit(&out, 78);
    assert_no_file(&saved);
    assert_exit(&s.env.verun(["audit", &lock_arg, "--allow-http"]), 78);
}

/// A group- or world-writable lockfile is refused too (78): anyone who can write it could
/// lock a URL to their bytes.
#[test]
fn a_lockfile_writable_by_others_is_refused() {
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "writable-lock");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let lock = s.env.path("verun.lock");
    let lock_arg = lock.display().to_string();
    assert_exit(&s.run(&url, &["--lock", &lock_arg]), 0);
    fs::remove_file(&marker).unwrap();
    for mode in [0o664, 0o646] {
        chmod(&lock, mode);
        let out = s.run(&url, &["--lock", &lock_arg]);
        assert_exit(&out, 78);
        assert_one_error_with_hint(&out, "writable by group or others");
        assert_not_ran(&marker);
    }
    chmod(&lock, 0o644);
    assert_exit(&s.run(&url, &["--lock", &lock_arg]), 0);
}

/// A symlink at the lockfile path is never written through: refused (78), and the file it
/// points to stays as it was.
#[test]
fn a_symlink_at_the_lockfile_path_is_not_written_through() {
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "linked-lock");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    // An empty file parses as an empty lockfile: the link would be followed and written.
    let victim = s.env.root().join("victim.toml");
    fs::write(&victim, b"").unwrap();
    chmod(&victim, 0o644);
    let lock = s.env.path("verun.lock");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let out = s.run(&url, &["--lock", &lock.display().to_string()]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "is a symlink");
    assert_not_ran(&marker);
    assert_eq!(fs::read(&victim).unwrap(), b"", "written through the link");
    assert!(
        fs::symlink_metadata(&lock)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A lockfile in a directory everyone may write to without the sticky bit is refused (78):
/// anyone could rename their own lockfile over it. A sticky directory (as /tmp) is fine.
#[test]
fn a_lockfile_in_a_world_writable_directory_is_refused() {
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "open-dir-lock");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let dir = s.env.path("shared");
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o777);
    let lock = dir.join("verun.lock").display().to_string();
    let out = s.run(&url, &["--lock", &lock]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "which everyone may write to");
    assert_not_ran(&marker);
    assert_no_file(&dir.join("verun.lock"));
    chmod(&dir, 0o1777);
    assert_exit(&s.run(&url, &["--lock", &lock]), 0);
    assert_ran(&marker);
}

/// The `.NAME.lck` next to a lockfile, owned by another user (and locked), is refused at
/// once (78) instead of being waited on forever.
#[test]
fn a_lock_file_of_another_user_is_refused_not_waited_on() {
    if !can_chown("a_lock_file_of_another_user_is_refused_not_waited_on") {
        return;
    }
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "foreign-lck");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let lck = s.env.path(".verun.lock.lck");
    let holder = fs::File::create(&lck).unwrap();
    chmod(&lck, 0o644);
    std::os::unix::fs::chown(&lck, Some(OTHER), Some(OTHER)).unwrap();
    holder.lock().unwrap(); // held, as another user's stuck process would
    let start = Instant::now();
    let out = run_with_timeout(
        &mut s.env.verun_cmd([
            "run",
            &url,
            "--allow-http",
            "--key",
            &s.key.public_key_base64(),
            "--lock",
            &s.env.path("verun.lock").display().to_string(),
        ]),
        Duration::from_secs(40),
    );
    assert_exit(&out, 78);
    assert!(start.elapsed() < Duration::from_secs(8), "refused at once");
    assert_one_error_with_hint(&out, "belongs to uid 65534");
    assert_not_ran(&marker);
    assert_no_file(&s.env.path("verun.lock"));
}

/// A lock another process keeps is waited for at most 10 s, then the call fails (74) with
/// one line naming the lock file and a hint; nothing runs, nothing is recorded.
#[test]
fn a_lock_wait_is_bounded_with_a_clear_error() {
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "held-lck");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let lck = s.env.path(".verun.lock.lck");
    let holder = fs::File::create(&lck).unwrap();
    chmod(&lck, 0o644);
    holder.lock().unwrap();
    let start = Instant::now();
    let out = run_with_timeout(
        &mut s.env.verun_cmd([
            "run",
            &url,
            "--allow-http",
            "--key",
            &s.key.public_key_base64(),
            "--lock",
            &s.env.path("verun.lock").display().to_string(),
        ]),
        Duration::from_secs(60),
    );
    let waited = start.elapsed();
    assert_exit(&out, 74);
    assert!(waited >= Duration::from_secs(9), "waited {waited:?}");
    assert_one_error_with_hint(&out, ".verun.lock.lck is locked by another process");
    assert_not_ran(&marker);
    assert_no_file(&s.env.path("verun.lock"));
    drop(holder);
    assert_exit(
        &s.run(
            &url,
            &["--lock", &s.env.path("verun.lock").display().to_string()],
        ),
        0,
    );
}

// --- item 9: rollback state and cache ------------------------------------------------------

/// Swapping `state/` for a directory another user owns (which holds no marks) does not
/// re-enable an old release: the state is refused (78) before anything runs. The same for a
/// `rollback.json` of another user, and for a state directory everyone may write to.
#[test]
fn an_unsafe_state_directory_is_refused_before_anything_runs() {
    let s = Site::new();
    let now = now_timestamp();
    let (new, marker) = marker_script_with(&s.env, "state-new", "exit 0");
    let url = s.publish_at("/install.sh", &new, now);
    assert_exit(&s.run(&url, &[]), 0);
    assert_ran(&marker);
    fs::remove_file(&marker).unwrap();
    let (old, old_marker) = marker_script_with(&s.env, "state-old", "exit 0");
    s.publish_at("/install.sh", &old, now - 86_400);
    let state = s.env.home().join("state");
    assert!(state.join("rollback.json").is_file());
    let saved = s.env.root().join("state-saved");
    fs::rename(&state, &saved).unwrap();

    // Writable by everyone, and empty.
    fs::create_dir(&state).unwrap();
    chmod(&state, 0o777);
    let out = s.run(&url, &[]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "writable by group or others");
    assert_not_ran(&old_marker);
    fs::remove_dir(&state).unwrap();

    if !can_chown("an_unsafe_state_directory_is_refused_before_anything_runs") {
        return;
    }
    // Another user's directory, private, empty.
    fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    std::os::unix::fs::chown(&state, Some(OTHER), Some(OTHER)).unwrap();
    let out = s.run(&url, &[]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "belongs to uid 65534");
    assert_not_ran(&old_marker);
    fs::remove_dir(&state).unwrap();

    // Our directory, another user's (empty) state file.
    fs::create_dir(&state).unwrap();
    chmod(&state, 0o700);
    let file = state.join("rollback.json");
    fs::write(&file, b"{\"version\":1,\"marks\":{}}\n").unwrap();
    chmod(&file, 0o600);
    std::os::unix::fs::chown(&file, Some(OTHER), Some(OTHER)).unwrap();
    let out = s.run(&url, &[]);
    assert_exit(&out, 78);
    assert_one_error_with_hint(&out, "belongs to uid 65534");
    assert_not_ran(&old_marker);
    fs::remove_dir_all(&state).unwrap();

    // The genuine state still refuses the old release as a rollback.
    fs::rename(&saved, &state).unwrap();
    let out = s.run(&url, &[]);
    assert_exit(&out, 77);
    assert_not_ran(&old_marker);
}

/// A cache another user owns is not used: `--diff` warns that it is not using it instead
/// of saying "unchanged", and the run itself goes on.
#[test]
fn a_foreign_cache_is_not_used_by_diff() {
    if !can_chown("a_foreign_cache_is_not_used_by_diff") {
        return;
    }
    let s = Site::new();
    let (script, marker) = marker_script(&s.env, "foreign-cache");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    let lock = s.env.path("verun.lock").display().to_string();
    assert_exit(&s.run(&url, &["--lock", &lock]), 0);
    let cache = s.env.home().join("cache");
    assert!(
        cache.join("index.json").is_file(),
        "the first run cached it"
    );
    let out = s.run(&url, &["--diff"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unchanged"), "{}", stderr(&out));
    chown_tree(&cache, OTHER);
    fs::remove_file(&marker).unwrap();
    let out = s.run(&url, &["--diff"]);
    assert_exit(&out, 0);
    assert_ran(&marker);
    let err = stderr(&out);
    assert!(
        !err.contains("unchanged"),
        "the foreign cache was used:\n{err}"
    );
    assert!(
        err.contains("warning")
            && err.contains("belongs to uid 65534")
            && err.contains("not using it"),
        "a loud warning:\n{err}"
    );
    // `--offline` does not run from it either: warned, and no cached copy (69).
    fs::remove_file(&marker).unwrap();
    let out = s.run(&url, &["--lock", &lock, "--offline"]);
    assert_exit(&out, 69);
    assert_not_ran(&marker);
    assert!(
        stderr(&out).contains("belongs to uid 65534"),
        "{}",
        stderr(&out)
    );
}

/// Text from the cache index reaches stderr only in the form verun writes: an
/// `accepted_at` carrying escape bytes makes the index malformed (a warning), and no raw
/// control byte is printed.
#[test]
fn cache_index_text_is_validated_before_it_is_printed() {
    let s = Site::new();
    let (script, _marker) = marker_script(&s.env, "escape-cache");
    let url = s.publish_at("/install.sh", &script, now_timestamp());
    assert_exit(&s.run(&url, &[]), 0);
    let index = s.env.home().join("cache/index.json");
    let text = fs::read_to_string(&index).unwrap();
    let at = text.find("\"accepted_at\"").unwrap();
    let start = at + text[at..].find(": \"").unwrap() + 3;
    let end = start + text[start..].find('"').unwrap();
    let evil = format!(
        "{}\\u001b]0;pwned\\u0007\\u001b[2J{}",
        &text[..start],
        &text[end..]
    );
    fs::write(&index, evil).unwrap();
    chmod(&index, 0o600);
    let out = s.run(&url, &["--diff"]);
    assert_exit(&out, 0);
    let err = &out.stderr;
    assert!(
        !err.iter().any(|&b| b == 0x1b || b == 0x07),
        "raw control bytes on stderr:\n{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("malformed"),
        "the index is reported malformed:\n{}",
        stderr(&out)
    );
}

// --- item 10: the .partial file of fetch -o -------------------------------------------------

/// Another process renames its own file over the `.partial` during the download (a
/// group-writable directory): verun notices the inode at `-o` is not the one it verified,
/// saves nothing and reports no success.
#[test]
fn a_partial_swapped_during_the_download_is_not_saved() {
    let s = Site::new();
    let payload = b"#!/bin/sh\necho genuine payload, dripped slowly\n".to_vec();
    s.server
        .route("/tool.sh", Reply::drip(&payload, Duration::from_millis(40)));
    let url = s.server.url("/tool.sh");
    let dir = s.env.path("shared");
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o770);
    let out_path = dir.join("tool.sh");
    let child = s
        .env
        .verun_cmd([
            "fetch",
            &url,
            "-o",
            &out_path.display().to_string(),
            "--allow-http",
            "--sha256",
            &sha256_hex(&payload),
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the partial, then swap in our own file under its name.
    let deadline = Instant::now() + Duration::from_secs(20);
    let partial: PathBuf = loop {
        let found = fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".partial"));
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < deadline, "no .partial appeared");
        std::thread::sleep(Duration::from_millis(5));
    };
    let evil = dir.join("evil");
    fs::write(&evil, b"#!/bin/sh\necho attacker\n").unwrap();
    fs::rename(&evil, &partial).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 77);
    assert!(!stdout(&out).contains("\"ok\":true"), "{}", stdout(&out));
    assert_one_error_with_hint(&out, "was replaced by another process");
    assert_no_file(&out_path);
}

/// `fetch -o` into a directory everyone may write to without the sticky bit is refused
/// before downloading (74): anyone could replace the verified file there. A sticky one is
/// fine.
#[test]
fn fetch_into_a_world_writable_directory_is_refused() {
    let s = Site::new();
    let payload = b"data\n";
    let url = s.publish_at("/data.txt", payload, now_timestamp());
    let dir = s.env.path("open");
    fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o777);
    let out_path = dir.join("data.txt").display().to_string();
    let out = s.fetch(&url, &out_path, &[]);
    assert_exit(&out, 74);
    assert_one_error_with_hint(&out, "everyone may write to");
    assert_eq!(s.server.hits("/data.txt"), 0, "refused before downloading");
    assert_dir_holds(&dir, &[]);
    chmod(&dir, 0o1777);
    assert_exit(&s.fetch(&url, &out_path, &[]), 0);
    assert_eq!(fs::read(&out_path).unwrap(), payload);
}

// --- issue 12: -o a device, a FIFO, a symlink to one; -o - ----------------------------------

/// `-o` never replaces a file that is not a regular file: a FIFO, a symlink to a device
/// (`/dev/null`), a symlink to verun's own stdout (`/dev/stdout` is one), and, as root, a
/// character device made with mknod. Refused (64) before downloading; the node stays.
#[test]
fn fetch_never_replaces_a_device_fifo_or_a_symlink_to_one() {
    use std::os::unix::fs::FileTypeExt;
    let s = Site::new();
    let url = s.publish_at("/data.txt", b"data\n", now_timestamp());
    let fifo = s.env.path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let null_link = s.env.path("null-link");
    std::os::unix::fs::symlink("/dev/null", &null_link).unwrap();
    let stdout_link = s.env.path("stdout-link");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout_link).unwrap();
    let fifo_link = s.env.path("fifo-link");
    std::os::unix::fs::symlink(&fifo, &fifo_link).unwrap();
    let mut cases = vec![
        (fifo.clone(), "a FIFO"),
        (null_link.clone(), "a symlink to a character device"),
        (stdout_link.clone(), "a symlink to a FIFO"),
        (fifo_link.clone(), "a symlink to a FIFO"),
    ];
    let dev = s.env.path("dev-null");
    let root = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) == 0;
    if root
        && std::process::Command::new("mknod")
            .args([dev.to_str().unwrap(), "c", "1", "3"])
            .status()
            .is_ok_and(|s| s.success())
    {
        cases.push((dev.clone(), "a character device"));
    } else {
        eprintln!("note: mknod unavailable (not root?): the device case is not exercised");
    }
    for (target, kind) in &cases {
        let before = fs::symlink_metadata(target).unwrap();
        let out = s.fetch(&url, &target.display().to_string(), &[]);
        assert_exit(&out, 64);
        assert_one_error_with_hint(&out, kind);
        let after = fs::symlink_metadata(target).unwrap();
        assert_eq!(
            after.file_type(),
            before.file_type(),
            "{} replaced",
            target.display()
        );
        assert_eq!(after.ino(), before.ino(), "{} replaced", target.display());
    }
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(s.server.hits("/data.txt"), 0, "refused before downloading");
    assert!(
        leftover_files(s.env.work())
            .iter()
            .all(|n| !n.ends_with(".partial"))
    );
}

/// `fetch -o -` writes the verified bytes to stdout (a pipeline into `sha256sum` sees
/// exactly the payload), creates no file named `-`, leaves nothing in TMPDIR, and a fetch
/// that is refused after the whole payload arrived writes nothing at all to stdout.
#[test]
fn fetch_to_stdout_emits_the_verified_bytes_only_after_every_check() {
    let s = Site::new();
    let payload: Vec<u8> = (0..3 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let url = s.publish_at("/big.tar.gz", &payload, now_timestamp());
    let out = s.fetch(&url, "-", &[]);
    assert_exit(&out, 0);
    assert!(
        out.stdout == payload,
        "stdout is not the payload ({} bytes)",
        out.stdout.len()
    );
    assert_no_file(&s.env.path("-"));
    assert_dir_holds(s.env.tmp(), &[]);

    // As a pipeline.
    let script = format!(
        "set -o pipefail 2>/dev/null; '{}' fetch '{url}' -o - --allow-http --key '{}' | sha256sum",
        verun_bin().display(),
        s.key.public_key_base64()
    );
    let out = run_with_timeout(s.env.command("bash").args(["-c", &script]), DEFAULT_TIMEOUT);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with(&sha256_hex(&payload)),
        "{}",
        stdout(&out)
    );

    // A wrong pin, with the bytes dripping in: nothing reaches stdout, ever.
    s.server.route(
        "/slow.sh",
        Reply::drip(
            b"#!/bin/sh\necho not what was pinned\n",
            Duration::from_millis(5),
        ),
    );
    let slow = s.server.url("/slow.sh");
    let out = s.env.verun([
        "fetch",
        &slow,
        "-o",
        "-",
        "--allow-http",
        "--sha256",
        &"ab".repeat(32),
    ]);
    assert_exit(&out, 77);
    assert!(out.stdout.is_empty(), "stdout: {:?}", stdout(&out));
    assert_eq!(s.server.hits("/slow.sh"), 1, "the payload was downloaded");
    assert_no_file(&s.env.path("-"));
    assert_dir_holds(s.env.tmp(), &[]);
}

/// `--json` with `-o -` would mix the report into the payload: refused (64) before
/// downloading, with nothing on stdout.
#[test]
fn fetch_to_stdout_refuses_json() {
    let s = Site::new();
    let url = s.publish_at("/data.txt", b"data\n", now_timestamp());
    let out = s.fetch(&url, "-", &["--json"]);
    assert_exit(&out, 64);
    assert!(out.stdout.is_empty(), "stdout: {:?}", stdout(&out));
    assert_one_error_with_hint(&out, "--json");
    assert_eq!(s.server.hits("/data.txt"), 0);
    assert_no_file(&s.env.path("-"));
}
