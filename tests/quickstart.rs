//! `cargo run --example quickstart` prints each command as one shell line; those lines must
//! work exactly as printed (issue 12: they used to omit the `--cacert` and `VERUN_HOME` the
//! demo really passed). This runs the example's own steps against the binary under test,
//! each printed line through `sh -c` from an unrelated directory with a scrubbed
//! environment, and checks the documented outcome.

#[allow(dead_code)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

use std::process::Command;

fn verun_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_verun"))
}

#[test]
fn the_quickstart_commands_work_as_printed() {
    let demo = quickstart::set_up(&verun_bin());
    assert_eq!(demo.steps.len(), 4);
    let elsewhere = tempfile::tempdir().unwrap();
    for step in &demo.steps {
        for needed in ["VERUN_HOME=", "--cacert "] {
            assert!(step.line.contains(needed), "{} lacks {needed}", step.line);
        }
        let out = Command::new("sh")
            .args(["-c", &step.line])
            .current_dir(elsewhere.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let so = String::from_utf8_lossy(&out.stdout);
        let se = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(step.expect),
            "{}\n$ {}\nstdout: {so}\nstderr: {se}",
            step.title,
            step.line
        );
        if step.line.contains("--capsule") {
            assert!(so.contains("wrote "), "{so}");
            // Where the kernel cannot build it, best effort says so; otherwise it holds.
            assert!(
                so.contains("the capsule denied it") || se.contains("skipped"),
                "{so}\n{se}"
            );
            assert!(!so.contains("EVIL"), "{so}");
        } else if step.expect == 0 {
            assert!(so.contains("hello from a verified install script"), "{so}");
            assert!(so.contains("--demo"), "{so}");
            assert!(so.contains("not visible to me"), "--env-clean: {so}");
        } else {
            assert!(
                !so.contains("[payload]"),
                "refused, yet the payload ran: {so}"
            );
            assert!(se.contains("verun: error:"), "{se}");
        }
    }
    // The demo itself runs the same lines the same way.
    for step in &demo.steps {
        assert_eq!(
            quickstart::run_line(&step.line),
            step.expect,
            "{}",
            step.line
        );
    }
}
