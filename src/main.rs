//! The `verun` binary: parse arguments, call the library, print the one error with its hint,
//! exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
use verun::cli::Cli;

fn main() -> ExitCode {
    // verun's own launcher for `run --capsule` (not a user command; see `capsule`).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == verun::capsule::LAUNCHER) {
        return ExitCode::from(verun::capsule::launcher_main(&args[2..]));
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
                _ => {
                    // A caller that asked for JSON parses stdout: give it the failure too.
                    if std::env::args_os().skip(1).any(|a| a == "--json") {
                        let rendered = e.to_string();
                        let first = rendered.lines().next().unwrap_or("invalid arguments");
                        let text = first.strip_prefix("error: ").unwrap_or(first);
                        let err = verun::Error::usage(verun::term::sanitize(text))
                            .hint("see `verun --help`");
                        report_json(&err);
                    }
                    ExitCode::from(verun::Kind::Usage.exit_code())
                }
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
    eprintln!("verun: {red}error:{reset} {}", err.message());
    if let Some(h) = err.hint_text() {
        eprintln!("verun: {yellow}hint:{reset} {h}");
    }
    if json {
        report_json(err);
    }
}

fn report_json(err: &verun::Error) {
    let v = serde_json::json!({
        "ok": false,
        "exit_code": err.exit_code(),
        "error": err.message(),
        "hint": err.hint_text(),
    });
    println!("{v}");
}
