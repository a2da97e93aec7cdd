//! Skipping a test that cannot run here, so that nobody mistakes the skip for a pass.
//!
//! libtest captures `eprintln!` of a passing test, so a `SKIPPED` line printed that way is
//! never seen and `cargo test` just reports `ok`. [`skipped`] writes to the process's stderr
//! handle directly (not captured), and also to `/dev/tty` when stderr is not that terminal
//! (a piped `cargo test`), and turns the skip into a failure where the check is required: when the test's
//! `VERUN_REQUIRE_*` switch is `1`, and, for a missing oracle (a tool the test compares
//! verun against, e.g. the `minisign` CLI), whenever `CI` is `true` or `1`.

use std::io::{IsTerminal, Write};

/// Whether a skip may not pass quietly here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A missing oracle (tool) fails under `CI=true` as well as under the switch.
    Oracle,
    /// A machine property (root, mounting, vectors beside the checkout) fails only under
    /// the switch: CI may legitimately lack it.
    Environment,
}

/// `CI` is set to `true` or `1`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `test` did not run because `why`; panics instead when `switch` (a
/// `VERUN_REQUIRE_*` variable) is `1`, or, for [`Need::Oracle`], in CI.
#[track_caller]
pub fn skipped(test: &str, why: &str, switch: &str, need: Need) {
    let required = std::env::var(switch).is_ok_and(|v| v == "1");
    if required || (need == Need::Oracle && in_ci()) {
        let by = if required {
            format!("{switch}=1")
        } else {
            "CI=true".to_string()
        };
        panic!("{test} cannot run: {why}; a skip is a failure under {by}");
    }
    let msg = format!(
        "\n!!!!!!!! SKIPPED {test}: {why}\n!!!!!!!! this test did NOT run ({switch}=1 makes this a failure{})\n",
        if need == Need::Oracle {
            ", as does CI=true"
        } else {
            ""
        }
    );
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(msg.as_bytes());
    if !stderr.is_terminal()
        && let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty")
    {
        let _ = tty.write_all(msg.as_bytes());
    }
}
