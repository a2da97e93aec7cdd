//! The `verun` binary: parse arguments, call the library, print the one error with its hint,
//! exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use verun::cli::Cli;

fn main() -> ExitCode {
    // verun's internal mode (`run --env-clean` re-executes itself): never seen by clap, so
    // it appears in no help, completion or man page.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == verun::exec::SEALED_MODE) {
        return match verun::exec::run_sealed(&argv[2..]) {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                report(&err, false);
                ExitCode::from(err.exit_code())
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
                _ => ExitCode::from(verun::Kind::Usage.exit_code()),
            };
        }
    };
    let json = verun::app::wants_json(&cli);
    match verun::app::main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report(&err, json);
            ExitCode::from(err.exit_code())
        }
    }
}

fn report(err: &verun::Error, json: bool) {
    let color = verun::term::color_enabled();
    let (red, yellow, reset) = if color {
        ("\x1b[1;31m", "\x1b[33m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    // One line each, capped, whatever went into them (`term::one_line`).
    let line = verun::term::one_line;
    eprintln!("verun: {red}error:{reset} {}", line(err.message()));
    if let Some(h) = err.hint_text() {
        eprintln!("verun: {yellow}hint:{reset} {}", line(h));
    }
    if json {
        let v = serde_json::json!({
            "ok": false,
            "exit_code": err.exit_code(),
            "error": err.message(),
            "hint": err.hint_text(),
        });
        println!("{v}");
    }
}
