//! The command dispatcher: each subcommand's handler lives in its own module (`run`,
//! `fetch`, `check` for `verify`, `key`, `audit`; what they share in `shared`); this layer
//! and `main` are the only ones that print.

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command};
use verun::error::{Error, Result};
use verun::term::sanitize;

/// Run the parsed command line; returns the exit code on success.
pub fn main(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(a) => super::run::run(a),
        Command::Fetch(a) => super::fetch::fetch(a),
        Command::Verify(a) => super::check::verify_file(a),
        Command::Key(a) => super::key::key(a),
        Command::Audit(a) => super::audit::audit(a),
        Command::Completions { shell } => completions(&shell),
        Command::Manpage { dir } => manpage(dir.as_deref()),
        Command::SelfUpdate(a) => super::self_update::self_update(a),
    }
}

fn completions(shell: &str) -> Result<u8> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let sh: Shell = shell.parse().map_err(|_| {
        Error::usage(format!("unknown shell {}", sanitize(shell)))
            .hint("one of: bash, zsh, fish, elvish, powershell")
    })?;
    let mut cmd = Cli::command();
    clap_complete::generate(sh, &mut cmd, "verun", &mut std::io::stdout());
    Ok(0)
}

fn manpage(dir: Option<&Path>) -> Result<u8> {
    if let Some(dir) = dir {
        for path in crate::cli::manpage::write_all(dir)? {
            eprintln!("verun: wrote {}", path.display());
        }
        return Ok(0);
    }
    let top = crate::cli::manpage::pages().swap_remove(0);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(top.roff.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // `verun manpage | head`: the reader has seen enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::io_at("cannot write the man page", &e)),
        Ok(()) => Ok(0),
    }
}

/// Whether a command prints JSON (so failures are reported as JSON too).
pub fn wants_json(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Fetch(a) if a.json && a.output.as_os_str() != "-")
        || matches!(&cli.command, Command::Verify(a) if a.json)
        || matches!(&cli.command, Command::Audit(a) if a.json)
}
