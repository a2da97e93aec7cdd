//! The `verun` binary: parse arguments, call the library, print the one error with its hint,
//! exit with the documented code.

use std::process::ExitCode;

use clap::Parser;
mod cli;

use cli::Cli;

fn main() -> ExitCode {
    // verun's internal mode (`run --env-clean` re-executes itself): never seen by clap, so
    // it appears in no help, completion or man page.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // verun's own launcher for `run --capsule` (internal too; see `capsule`).
    if argv.get(1).is_some_and(|a| a == verun::capsule::LAUNCHER) {
        return ExitCode::from(cli::launcher::main(&argv[2..]));
    }
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
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                _ => {
                    // A caller that asked for JSON parses stdout: give it the failure too.
                    if argv.iter().skip(1).any(|a| a == "--json") {
                        let rendered = e.to_string();
                        let first = rendered.lines().next().unwrap_or("invalid arguments");
                        let text = first.strip_prefix("error: ").unwrap_or(first);
                        let err = verun::Error::usage(verun::term::sanitize(text))
                            .hint("see `verun --help`");
                        report_json(&err);
                    }
                    report_usage(e, &argv);
                    ExitCode::from(verun::Kind::Usage.exit_code())
                }
            };
        }
    };
    let json = cli::app::wants_json(&cli);
    match cli::app::main(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            report(&err, json);
            ExitCode::from(err.exit_code())
        }
    }
}

/// A command-line error from clap. Its message quotes the offending argument, which may hold
/// control characters or newlines: the message is rendered again from the arguments with
/// each one sanitised (`term::sanitize`, so a newline inside one is `\u{a}`, not a line
/// break), and each of its lines goes through `term::one_line` like every line verun prints.
fn report_usage(err: clap::Error, argv: &[std::ffi::OsString]) {
    let clean: Vec<String> = argv
        .iter()
        .map(|a| verun::term::sanitize(&a.to_string_lossy()))
        .collect();
    let shown = match Cli::try_parse_from(&clean) {
        Err(again) if again.kind() == err.kind() => again,
        _ => err,
    };
    for line in shown.render().to_string().lines() {
        eprintln!("{}", verun::term::one_line(line));
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
    eprintln!("verun: {yellow}hint:{reset} {}", line(hint(err)));
    if json {
        report_json(err);
    }
}

/// The error's own hint, or one for its kind: every error has a `hint:` line.
fn hint(err: &verun::Error) -> &str {
    use verun::Kind;
    err.hint_text().unwrap_or(match err.kind() {
        Kind::Usage => "see `verun --help`, or `verun COMMAND --help`",
        Kind::Download => {
            "check the URL, the network and any proxy; raise --timeout for slow links"
        }
        Kind::Io => "check the path named above, its permissions and the free space",
        Kind::Refused => "nothing was run or saved; the message says which check failed",
        Kind::Config => "fix or restore the file named above (verun left it untouched)",
    })
}

fn report_json(err: &verun::Error) {
    let v = serde_json::json!({
        "ok": false,
        "exit_code": err.exit_code(),
        "error": err.message(),
        "hint": hint(err),
        "reason": err.reason_code().map(verun::Reason::as_str),
    });
    println!("{v}");
}
