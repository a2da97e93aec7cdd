//! `verun manpage`: one page per command (`--dir DIR`), every page a SUBCOMMANDS or SEE ALSO
//! section names exists and renders, and the exit-status table keeps its rows.
//!
//! Rendering uses the real formatter (`groff -man -Tutf8`, or `man -l`); without one the
//! render checks are a visible skip locally and a failure in CI.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Render a page to plain text with groff (warnings on) or `man -l`; `None` without either.
fn render(page: &Path) -> Option<String> {
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rLL=100n"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .output();
    if let Ok(out) = groff {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.trim().is_empty(),
            "groff on {}: {err}",
            page.display()
        );
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let man = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .output();
    if let Ok(out) = man {
        assert!(out.status.success(), "man -l {}: {out:?}", page.display());
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    if std::env::var_os("CI").is_some() {
        panic!("neither groff nor man is installed (required in CI)");
    }
    eprintln!("SKIPPED: rendering man pages: neither groff nor man is installed");
    None
}

/// Strip groff's overstrike/bold sequences and ANSI escapes from rendered text.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x08' => {
                out.pop();
            }
            '\x1b' => {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The `NAME(1)` references in a rendered section (from its heading to the next heading).
fn references(rendered: &str, heading: &str) -> Vec<String> {
    let mut refs = Vec::new();
    let mut inside = false;
    for line in rendered.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            inside = line.trim() == heading;
            continue;
        }
        if inside {
            for word in line.split([' ', ',']) {
                if let Some(name) = word.trim().strip_suffix("(1)") {
                    refs.push(name.to_string());
                }
            }
        }
    }
    refs
}

const PAGES: &[&str] = &[
    "verun",
    "verun-run",
    "verun-fetch",
    "verun-verify",
    "verun-key",
    "verun-key-add",
    "verun-key-list",
    "verun-key-show",
    "verun-key-remove",
    "verun-key-revoke",
    "verun-key-rotate",
    "verun-audit",
    "verun-completions",
    "verun-manpage",
    "verun-self-update",
];

#[test]
fn manpage_dir_writes_every_page_that_is_referenced_and_each_renders() {
    let env = TestEnv::new();
    let dir = env.path("man/man1");
    let out = env.verun(["manpage", "--dir", &dir.display().to_string()]);
    assert_exit(&out, 0);
    let mut want: Vec<String> = PAGES.iter().map(|p| format!("{p}.1")).collect();
    want.sort();
    assert_eq!(leftover_files(&dir), want, "pages written");

    // Without --dir: the top-level page on stdout, the same as DIR/verun.1.
    let top = env.verun(["manpage"]);
    assert_exit(&top, 0);
    assert_eq!(top.stdout, std::fs::read(dir.join("verun.1")).unwrap());

    for page in PAGES {
        let path = dir.join(format!("{page}.1"));
        let roff = std::fs::read_to_string(&path).unwrap();
        assert!(roff.contains(".TH"), "{page}: no title");
        let Some(rendered) = render(&path) else {
            return;
        };
        let rendered = plain(&rendered);
        let mut refs = references(&rendered, "SEE ALSO");
        refs.extend(references(&rendered, "SUBCOMMANDS"));
        if *page == "verun" || *page == "verun-key" {
            assert!(!refs.is_empty(), "{page}: no references\n{rendered}");
        }
        for r in &refs {
            assert!(
                dir.join(format!("{r}.1")).is_file(),
                "{page} refers to {r}(1), which was not generated"
            );
        }
        // The parent page: the longest other page whose name, plus `-`, starts this one's
        // (`verun-key-add` → `verun-key`; `verun-self-update` → `verun`).
        let parent = PAGES
            .iter()
            .filter(|p| page.starts_with(&format!("{p}-")))
            .max_by_key(|p| p.len());
        if let Some(parent) = parent {
            assert!(
                references(&rendered, "SEE ALSO").contains(&parent.to_string()),
                "{page}: SEE ALSO lacks {parent}(1)\n{rendered}"
            );
        }
        assert_exit_table_intact(page, &rendered);
    }
}

/// The exit-status table keeps one row per code, each starting its own line, in order.
#[track_caller]
fn assert_exit_table_intact(page: &str, rendered: &str) {
    let section: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim() != "EXIT STATUS")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect();
    let codes: Vec<&str> = section
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(
        codes,
        ["0", "64", "69", "74", "77", "78", "128+N"],
        "{page}: exit-status table reflowed:\n{}",
        section.join("\n")
    );
    let row = |code: &str| {
        section
            .iter()
            .find(|l| l.split_whitespace().next() == Some(code))
            .unwrap()
    };
    assert!(row("64").contains("usage error"), "{page}");
    assert!(row("77").contains("refused"), "{page}");
    assert!(
        !row("0").contains("usage error"),
        "{page}: rows run together"
    );
}

#[test]
fn manpage_dir_that_is_a_file_is_a_local_io_error_with_a_hint() {
    let env = TestEnv::new();
    let file = env.write("not-a-dir", b"x");
    let out = env.verun(["manpage", "--dir", &file.display().to_string()]);
    assert_exit(&out, 74);
    let err = stderr(&out);
    assert!(err.contains("verun: error:"), "{err}");
    assert!(err.contains("verun: hint:"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}
