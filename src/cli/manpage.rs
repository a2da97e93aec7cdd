//! Man pages from the clap definition: `verun.1` and one page per subcommand
//! (`verun-run.1`, …, `verun-key-add.1`, …), so every page the SUBCOMMANDS and SEE ALSO
//! sections name exists.
//!
//! clap_mangen renders `after_help` as reflowed text, which turns the exit-status table into
//! one paragraph. The exit-status table and the environment note are therefore taken out of
//! clap's rendering and written here as their own sections, the table as a preformatted
//! (`.nf`) block that keeps its columns.

use std::path::Path;

use crate::cli::EXIT_HELP;
use verun::error::{Error, Result};

/// One rendered page: its name (`verun-key-add`) and its roff source.
#[derive(Debug)]
pub struct Page {
    /// The page name, without the section.
    pub name: String,
    /// The roff source.
    pub roff: String,
}

impl Page {
    /// `NAME.1`.
    pub fn file_name(&self) -> String {
        format!("{}.1", self.name)
    }
}

/// Every page: `verun` first, then the subcommands depth-first.
pub fn pages() -> Vec<Page> {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, None, &mut out);
    out
}

fn display_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

fn collect(cmd: &clap::Command, parent: Option<&str>, out: &mut Vec<Page>) {
    let name = display_name(cmd);
    let children: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(display_name)
        .collect();
    out.push(Page {
        name: name.clone(),
        roff: render(cmd, parent, &children),
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, Some(&name), out);
    }
}

fn render(cmd: &clap::Command, parent: Option<&str>, children: &[String]) -> String {
    let after = cmd
        .get_after_long_help()
        .or_else(|| cmd.get_after_help())
        .map(|s| s.to_string());
    // Every page gets the exit-status table, whether or not its --help shows it.
    let extra = after.unwrap_or_else(|| EXIT_HELP.to_string());
    let stripped = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    let mut buf = Vec::new();
    clap_mangen::Man::new(stripped)
        .source(format!("verun {}", env!("CARGO_PKG_VERSION")))
        .render(&mut buf)
        .expect("rendering into memory does not fail");
    let mut page = String::from_utf8_lossy(&buf).into_owned();

    let mut sections = String::new();
    for para in extra.split("\n\n") {
        if let Some(table) = para.strip_prefix("Exit status:\n") {
            sections.push_str(".SH \"EXIT STATUS\"\n.nf\n");
            for line in table.lines() {
                sections.push_str(&roff_line(line));
            }
            sections.push_str(".fi\n");
        } else if let Some(text) = para.strip_prefix("Environment:") {
            sections.push_str(".SH ENVIRONMENT\n.ad l\n");
            sections.push_str(&roff_line(text.trim()));
        } else {
            sections.push_str(".SH NOTES\n.nf\n");
            for line in para.lines() {
                sections.push_str(&roff_line(line));
            }
            sections.push_str(".fi\n");
        }
    }
    let mut see_also: Vec<String> = parent.iter().map(|p| format!("{p}(1)")).collect();
    see_also.extend(children.iter().map(|c| format!("{c}(1)")));
    if !see_also.is_empty() {
        // Page names are never hyphenated across lines.
        sections.push_str(".SH \"SEE ALSO\"\n.nh\n.ad l\n");
        sections.push_str(&roff_line(&see_also.join(", ")));
    }
    match page.find("\n.SH VERSION") {
        Some(at) => page.insert_str(at + 1, &sections),
        None => page.push_str(&sections),
    }
    page
}

/// One line of text as roff: backslashes and minus signs escaped, a leading `.` or `'`
/// (a control character) neutralised.
fn roff_line(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    let guard = if escaped.starts_with(['.', '\'']) {
        "\\&"
    } else {
        ""
    };
    format!("{guard}{escaped}\n")
}

/// `verun manpage --dir DIR`: write every page into DIR (created if missing), each
/// atomically; returns the files written.
pub fn write_all(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let hint = "pass --dir a directory you can write to, e.g. --dir ~/.local/share/man/man1";
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io_at(format!("cannot create {}", dir.display()), &e).hint(hint))?;
    if !dir.is_dir() {
        return Err(Error::io(format!("{} is not a directory", dir.display())).hint(hint));
    }
    let mut written = Vec::new();
    for page in pages() {
        let path = dir.join(page.file_name());
        verun::atomic::write_atomic(&path, page.roff.as_bytes(), 0o644)
            .map_err(|e| e.hint(hint))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_a_page_and_every_reference_exists() {
        let pages = pages();
        let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
        for want in [
            "verun",
            "verun-run",
            "verun-fetch",
            "verun-key",
            "verun-key-add",
            "verun-manpage",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(!names.iter().any(|n| n.ends_with("-help")), "{names:?}");
        for p in &pages {
            assert!(p.roff.contains(".SH \"EXIT STATUS\"\n.nf\n"), "{}", p.name);
            assert!(
                !p.roff.contains(".SH EXTRA"),
                "{}: after_help reflowed",
                p.name
            );
        }
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_line(".x -y \\z"), "\\&.x \\-y \\ez\n");
        assert_eq!(roff_line("'a"), "\\&'a\n");
    }
}
