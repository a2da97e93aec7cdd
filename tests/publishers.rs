//! `cargo run --example publishers` prints each command as one shell line; those lines must
//! work exactly as printed and give the outcome the demo claims. This runs the example's own
//! steps against the binary under test, each printed line through `sh -c` from an unrelated
//! directory with a scrubbed environment.

#[allow(dead_code)]
#[path = "../examples/publishers.rs"]
mod publishers;

use std::process::Command;

fn verun_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_verun"))
}

#[test]
fn the_publishers_demo_commands_work_as_printed() {
    let demo = publishers::set_up(&verun_bin());
    if !demo.missing.is_empty() {
        publishers::common::skipped(
            "the_publishers_demo_commands_work_as_printed",
            &demo.missing.join("; "),
            "VERUN_REQUIRE_GPG",
            publishers::common::Need::Oracle,
        );
        return;
    }
    assert_eq!(demo.steps.len(), 7);
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
        if step.expect == 0 {
            if step.line.contains(" run ") {
                assert!(
                    so.contains("hello from an SSH-signed install script"),
                    "{so}"
                );
                assert!(so.contains("--demo"), "{so}");
            }
        } else {
            assert!(
                !so.contains("[payload]"),
                "refused, yet the payload ran: {so}"
            );
            assert!(
                se.contains("verun: error:") && se.contains("verun: hint:"),
                "{se}"
            );
        }
    }
    // The demo itself runs the same lines the same way.
    for step in &demo.steps {
        assert_eq!(
            publishers::run_line(&step.line),
            step.expect,
            "{}",
            step.line
        );
    }
}
