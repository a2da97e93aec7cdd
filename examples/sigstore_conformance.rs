//! An adapter from the sigstore-conformance client CLI protocol to `verun verify`.
//!
//! The Sigstore project's conformance suite (github.com/sigstore/sigstore-conformance,
//! `docs/cli_protocol.md`) drives a client through one command line:
//!
//! ```text
//! ENTRYPOINT verify-bundle [--staging] --bundle FILE --certificate-identity IDENTITY
//!            --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
//! ENTRYPOINT verify-bundle [--staging] --bundle FILE --key PATH_TO_KEY
//!            [--trusted-root FILE] FILE_OR_DIGEST
//! ```
//!
//! and expects exit status 0 exactly when the bundle verifies. This program maps that onto
//! `verun verify FILE_OR_DIGEST --bundle FILE (--cert-identity ID --cert-oidc-issuer URL |
//! --key PEM) [--trusted-root FILE]` and execs verun, so verun's own status is the answer
//! (0 verified; 77 refused; 64 a usage error). FILE_OR_DIGEST is a digest only when it is
//! `sha256:` and 64 hex digits and not a path on disk, as the protocol says; a path that
//! merely looks like a digest is passed as `./PATH`.
//!
//! verun compiles in only the production root, so `--staging` needs either the suite's
//! `--trusted-root` or `VERUN_CONFORMANCE_STAGING_ROOT` (a staging `trusted_root.json`).
//! verun never signs: `sign-bundle` exits 2, which the suite counts as a failure (run it with
//! `--skip-signing`). The verun binary is `VERUN_BIN`, else the `verun` next to this
//! example's directory (`target/<profile>/verun` for `target/<profile>/examples/`). See the
//! README, "Sigstore", "Conformance suite".

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The `verun verify` arguments for a `verify-bundle` command line (without the subcommand).
pub fn verify_args(
    args: &[String],
    staging_root: Option<PathBuf>,
) -> Result<Vec<OsString>, String> {
    let mut bundle = None;
    let mut identity = None;
    let mut issuer = None;
    let mut key = None;
    let mut root = None;
    let mut staging = false;
    let mut input = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--staging" => staging = true,
            "--bundle" => bundle = Some(value(arg)?),
            "--certificate-identity" => identity = Some(value(arg)?),
            "--certificate-oidc-issuer" => issuer = Some(value(arg)?),
            "--key" => key = Some(value(arg)?),
            "--trusted-root" => root = Some(value(arg)?),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ if input.is_some() => return Err(format!("unexpected argument {arg}")),
            _ => input = Some(arg.clone()),
        }
    }
    let bundle = bundle.ok_or("--bundle is required")?;
    let input = input.ok_or("FILE_OR_DIGEST is required")?;
    let mut out: Vec<OsString> = vec!["verify".into(), file_or_digest(&input).into()];
    out.extend(["--bundle".into(), bundle.into()]);
    match (key, identity, issuer) {
        (Some(key), None, None) => out.extend(["--key".into(), key.into()]),
        (None, Some(id), Some(iss)) => out.extend([
            "--cert-identity".into(),
            id.into(),
            "--cert-oidc-issuer".into(),
            iss.into(),
        ]),
        (None, _, _) => {
            return Err(
                "give --certificate-identity and --certificate-oidc-issuer, or --key".into(),
            );
        }
        (Some(_), _, _) => return Err("--key does not go with a certificate identity".into()),
    }
    let root = match (root, staging) {
        (Some(root), _) => Some(PathBuf::from(root)),
        (None, true) => Some(staging_root.ok_or(
            "--staging: verun compiles in only the production root; pass --trusted-root or set VERUN_CONFORMANCE_STAGING_ROOT to the staging trusted_root.json",
        )?),
        (None, false) => None,
    };
    if let Some(root) = root {
        out.extend(["--trusted-root".into(), root.into_os_string()]);
    }
    Ok(out)
}

/// The protocol's FILE_OR_DIGEST as verun's FILE: a `sha256:` digest stays one; anything
/// else is a path, made unmistakable (`./sha256:...`) when it could pass for a digest.
pub fn file_or_digest(input: &str) -> String {
    let looks_like_digest = |s: &str| {
        ["sha256:", "sha512:"].iter().any(|p| {
            s.strip_prefix(p)
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        })
    };
    let is_digest = input
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        && !Path::new(input).exists();
    if is_digest || !looks_like_digest(input) {
        input.to_string()
    } else {
        format!("./{input}")
    }
}

/// `VERUN_BIN`, else `verun` in the profile directory above this example's.
fn verun_bin() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("VERUN_BIN").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("verun"))
        .filter(|p| p.is_file())
        .ok_or("no verun binary next to this example: build it (cargo build --bin verun) or set VERUN_BIN")?;
    Ok(bin)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(c, r)| (c.as_str(), r));
    let mapped = match command {
        "verify-bundle" => verify_args(
            rest,
            std::env::var_os("VERUN_CONFORMANCE_STAGING_ROOT").map(PathBuf::from),
        ),
        "sign-bundle" => Err("verun verifies only; run the suite with --skip-signing".into()),
        other => Err(format!(
            "unknown command {other:?}: expected verify-bundle (or sign-bundle)"
        )),
    };
    let mapped = match mapped.and_then(|a| verun_bin().map(|bin| (bin, a))) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("sigstore_conformance: {e}");
            return ExitCode::from(2);
        }
    };
    let (bin, verun_args) = mapped;
    // exec only returns on failure.
    let err = Command::new(&bin).args(&verun_args).exec();
    eprintln!("sigstore_conformance: cannot run {}: {err}", bin.display());
    ExitCode::from(2)
}
