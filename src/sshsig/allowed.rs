//! Key files: `.pub` lines and `allowed_signers` lines, as `ssh-keygen -Y verify` reads
//! them (ssh-keygen(1) "ALLOWED SIGNERS", OpenSSH's `sshsig.c` and `sshsigopt_parse`):
//!
//! ```text
//! PRINCIPALS [OPTIONS] ALGO BASE64 [COMMENT]
//! ```
//!
//! PRINCIPALS is a comma-separated list, optionally in double quotes. OPTIONS is a
//! comma-separated list without spaces outside quotes; keywords are case-insensitive and
//! values must be quoted (`\"` escapes a quote): `namespaces="PATTERN,..."`,
//! `valid-after="TIME"`, `valid-before="TIME"`, each at most once. `cert-authority` is
//! refused (verun does not verify certificates); any other option is an error.
//!
//! TIME is `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally followed by `Z` (or
//! `UTC`). ssh-keygen reads a time without the suffix in the local time zone; verun reads
//! every time as UTC (it has no time-zone database, and runs mostly in CI, where the zone
//! is UTC): on a machine in another zone, a bound written without `Z` moves by the zone's
//! offset. A valid-before at or before valid-after is an error, as in ssh-keygen.

use super::{Allowed, MAX_KEYS_BYTES, SshKey, is_known_algorithm, is_space, split_token};
use crate::term::sanitize;

pub(super) fn parse_keys(text: &str) -> Result<Vec<Allowed>, String> {
    if text.len() as u64 > MAX_KEYS_BYTES {
        return Err(format!(
            "SSH key file larger than {} KiB",
            MAX_KEYS_BYTES / 1024
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut keys = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_matches(is_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        keys.push(parse_entry(line).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    if keys.is_empty() {
        return Err("no SSH public key in the file".to_string());
    }
    Ok(keys)
}

/// One non-blank line: a plain key line or an `allowed_signers` line.
fn parse_entry(line: &str) -> Result<Allowed, String> {
    let (first, _) = split_token(line);
    if is_known_algorithm(first) {
        return Ok(Allowed::key(SshKey::parse_line(line)?));
    }
    let (principals, rest) = split_principals(line)?;
    if rest.is_empty() {
        return Err("allowed_signers line without a key".to_string());
    }
    let (token, _) = split_token(rest);
    let mut allowed = if is_known_algorithm(token) || !looks_like_options(token) {
        Allowed::key(SshKey::parse_line(rest)?)
    } else {
        let (options, key) = parse_options(rest)?;
        if key.is_empty() {
            return Err("allowed_signers line without a key after its options".to_string());
        }
        let mut allowed = Allowed::key(SshKey::parse_line(key)?);
        allowed.namespaces = options.namespaces;
        allowed.valid_after = options.valid_after;
        allowed.valid_before = options.valid_before;
        allowed
    };
    allowed.principals = principals;
    Ok(allowed)
}

/// Whether the token after the principals is an options list rather than a key type (as
/// ssh-keygen, which tries the key first): it holds `=`, or is `cert-authority`.
fn looks_like_options(token: &str) -> bool {
    token.contains('=') || starts_with_ci(token, "cert-authority")
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[derive(Default)]
struct Options {
    namespaces: Option<Vec<String>>,
    valid_after: Option<u64>,
    valid_before: Option<u64>,
}

/// The options list at the start of `s` and what follows it (the key), as
/// `sshsigopt_parse` reads it.
fn parse_options(mut s: &str) -> Result<(Options, &str), String> {
    let mut o = Options::default();
    loop {
        if starts_with_ci(s, "cert-authority") {
            return Err(
                "cert-authority lines are not supported (verun does not verify SSH certificates)"
                    .to_string(),
            );
        } else if let Some(rest) = strip_keyword(s, "namespaces") {
            if o.namespaces.is_some() {
                return Err("more than one namespaces= option".to_string());
            }
            let (value, rest) = dequote(rest, "namespaces")?;
            o.namespaces = Some(value.split(',').map(str::to_string).collect());
            s = rest;
        } else if let Some(rest) = strip_keyword(s, "valid-after") {
            if o.valid_after.is_some() {
                return Err("more than one valid-after= option".to_string());
            }
            let (value, rest) = dequote(rest, "valid-after")?;
            o.valid_after = Some(
                parse_time(&value)
                    .ok_or_else(|| format!("invalid valid-after time \"{}\"", sanitize(&value)))?,
            );
            s = rest;
        } else if let Some(rest) = strip_keyword(s, "valid-before") {
            if o.valid_before.is_some() {
                return Err("more than one valid-before= option".to_string());
            }
            let (value, rest) = dequote(rest, "valid-before")?;
            o.valid_before =
                Some(parse_time(&value).ok_or_else(|| {
                    format!("invalid valid-before time \"{}\"", sanitize(&value))
                })?);
            s = rest;
        } else {
            let name: String = s
                .chars()
                .take_while(|&c| c != '=' && c != ',')
                .take(40)
                .collect();
            return Err(format!(
                "unknown allowed_signers option \"{}\" (namespaces=, valid-after=, valid-before= only)",
                sanitize(&name)
            ));
        }
        match s.chars().next() {
            None => break,
            Some(c) if is_space(c) => break,
            Some(',') => s = &s[1..],
            Some(_) => return Err("allowed_signers options not separated by a comma".to_string()),
        }
    }
    if let (Some(after), Some(before)) = (o.valid_after, o.valid_before)
        && before <= after
    {
        return Err("valid-before is not after valid-after".to_string());
    }
    Ok((o, s.trim_start_matches(is_space)))
}

/// `s` without a leading `KEYWORD=` (case-insensitive).
fn strip_keyword<'a>(s: &'a str, keyword: &str) -> Option<&'a str> {
    if starts_with_ci(s, keyword) {
        s[keyword.len()..].strip_prefix('=')
    } else {
        None
    }
}

/// A double-quoted option value (`\"` is a quote) and what follows it.
fn dequote<'a>(s: &'a str, option: &str) -> Result<(String, &'a str), String> {
    let Some(body) = s.strip_prefix('"') else {
        return Err(format!("the value of {option}= must be in double quotes"));
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &body[i + 1..])),
            '\\' if body[i + 1..].starts_with('"') => {
                value.push('"');
                chars.next();
            }
            _ => value.push(c),
        }
    }
    Err(format!("the value of {option}= has no closing quote"))
}

/// An `allowed_signers` time as Unix seconds: `YYYYMMDD`, `YYYYMMDDHHMM` or
/// `YYYYMMDDHHMMSS`, optionally suffixed `Z` or `UTC` (any case), read as UTC. Strict: a
/// real date, 00-23 hours, 00-59 minutes and seconds, after 1970-01-01T00:00:00Z.
pub(super) fn parse_time(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let digits = if b.len() > 1 && b[b.len() - 1].eq_ignore_ascii_case(&b'z') {
        &b[..b.len() - 1]
    } else if b.len() > 3 && b[b.len() - 3..].eq_ignore_ascii_case(b"utc") {
        &b[..b.len() - 3]
    } else {
        b
    };
    // ASCII digits only, so byte indices below are character boundaries.
    let Ok(digits) = std::str::from_utf8(digits) else {
        return None;
    };
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<u32> { digits.get(a..b)?.parse().ok() };
    let (y, m, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hh, mm, ss) = (
        num(8, 10).unwrap_or(0),
        num(10, 12).unwrap_or(0),
        num(12, 14).unwrap_or(0),
    );
    let date = format!("{y:04}-{m:02}-{d:02}");
    let day = crate::time::parse_date(&date)?;
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let secs = day * 86_400 + i64::from(hh * 3600 + mm * 60 + ss);
    u64::try_from(secs).ok().filter(|&t| t > 0)
}

/// OpenSSH's `match_pattern_list`: whether `subject` matches the comma-separated pattern
/// list, given as its items: a matching item that starts with `!` refuses at once; else
/// any matching item accepts.
pub(super) fn pattern_list_matches(subject: &str, patterns: &[String]) -> bool {
    let mut positive = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if glob(subject, neg) => return false,
            Some(_) => {}
            None if glob(subject, p) => positive = true,
            None => {}
        }
    }
    positive
}

/// `*` (any run) and `?` (one character) wildcards, linear-time (no backtracking blow-up).
fn glob(subject: &str, pattern: &str) -> bool {
    let s: Vec<char> = subject.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The principals field and what follows it.
fn split_principals(line: &str) -> Result<(Vec<String>, &str), String> {
    let (field, rest) = if let Some(quoted) = line.strip_prefix('"') {
        let end = quoted
            .find('"')
            .ok_or("the quoted principals have no closing quote")?;
        let after = &quoted[end + 1..];
        if !after.is_empty() && !after.starts_with(is_space) {
            return Err("the quoted principals are not followed by a space".to_string());
        }
        (&quoted[..end], after.trim_start_matches(is_space))
    } else {
        split_token(line)
    };
    let principals: Vec<String> = field.split(',').map(str::to_string).collect();
    if principals.iter().any(String::is_empty) {
        return Err("empty principal in the allowed_signers line".to_string());
    }
    Ok((principals, rest))
}
