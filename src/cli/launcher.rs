//! verun's launcher for `run --capsule` (`verun __capsule SPEC -- PROGRAM ARGS...`): a
//! fresh, single-threaded verun process that enters the capsule (`verun::capsule::enter`),
//! reports on the status pipe, and `exec`s the payload. Not a user command: `main` routes
//! it before clap, so it appears in no help, completion or man page. It lives on the binary
//! side because it prints (what best effort skipped, why `exec` failed).

use std::ffi::OsString;

use verun::capsule;

/// `verun __capsule ...`: enter the capsule, tell verun on the status pipe, `exec` the
/// payload. Not a user command (not in `--help`): verun starts it for `run --capsule`.
/// Returns the exit code when it does not `exec` (a failure, or `--probe`).
pub fn main(args: &[OsString]) -> u8 {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let parsed = match capsule::parse_launcher(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "verun: error: {}: {e} (this is verun's internal launcher for run --capsule)",
                capsule::LAUNCHER
            );
            return 64;
        }
    };
    // The status pipe, reopened by path: the launcher is free of `unsafe` too.
    let mut status = match std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", parsed.status_fd))
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "verun: error: {}: cannot open the status pipe: {e}",
                capsule::LAUNCHER
            );
            return 74;
        }
    };
    let mut tell = |line: &str| {
        let _ = writeln!(status, "{}", line.replace('\n', " "));
        let _ = status.flush();
    };
    let entered = match capsule::enter(&parsed.capsule, &parsed.tmp) {
        Ok(e) => e,
        Err(e) => {
            tell(&format!("refused {}", e.message()));
            return 77;
        }
    };
    // The probe only answers yes or no; the launch itself says what was skipped.
    for s in entered.skipped.iter().filter(|_| !parsed.probe) {
        eprintln!(
            "verun: warning: --capsule=best-effort: skipped: {}",
            verun::term::sanitize(s)
        );
    }
    for n in entered.notes.iter().filter(|_| !parsed.probe) {
        eprintln!("verun: note: --capsule: {}", verun::term::sanitize(n));
    }
    if parsed.probe {
        tell(capsule::STATUS_OK);
        return 0;
    }
    let Some((program, rest)) = parsed.program.split_first() else {
        tell("refused no program to run");
        return 64;
    };
    tell(capsule::STATUS_OK);
    let err = std::process::Command::new(program).args(rest).exec();
    // Only reached when exec failed: the program is missing or not executable.
    eprintln!(
        "verun: error: cannot start the payload with {}: {err}",
        verun::term::sanitize(&program.to_string_lossy())
    );
    eprintln!(
        "verun: hint: the capsule was built, but the interpreter could not be started; check the shebang or --interpreter"
    );
    127
}
