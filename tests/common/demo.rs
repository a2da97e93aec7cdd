//! What the runnable demos (`examples/quickstart.rs`, `examples/publishers.rs`) share:
//! printing a step as the shell line it runs, and building the `verun` binary they drive.

use std::path::PathBuf;
use std::process::Command;

/// Quote `s` for a POSIX shell when it needs it.
pub fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Environment variables `cargo run` sets for the program it runs. An inner `cargo build`
/// must not inherit them: build scripts track some of them (ring's reads
/// `CARGO_MANIFEST_DIR` and `CARGO_PKG_*` with `rerun-if-env-changed`), so a build with
/// them set rebuilds ring, rustls, rcgen, ureq and verun, and the next plain `cargo build`
/// rebuilds them again.
pub fn is_cargo_run_var(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || name.starts_with("CARGO_CFG_")
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// Build the `verun` binary next to the running example (same profile) and return its
/// path; `example` names the demo in the progress line.
pub fn build_verun(example: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/NAME -> target/<profile>/verun
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .ok_or("cannot locate the target directory")?;
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--bin", "verun"]);
    if release {
        build.arg("--release");
    }
    for (name, _) in std::env::vars_os() {
        if is_cargo_run_var(&name.to_string_lossy()) {
            build.env_remove(name);
        }
    }
    if let Some(root) = option_env!("CARGO_MANIFEST_DIR") {
        build.current_dir(root);
    }
    eprintln!(
        "{example}: building the verun binary (cargo build --bin verun{}); the first time this compiles its dependencies, later runs reuse them",
        if release { " --release" } else { "" }
    );
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build --bin verun failed".into());
    }
    Ok(profile_dir.join("verun"))
}
