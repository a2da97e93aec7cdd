//! Checksum lists: `sha256sum` (GNU) and BSD (`shasum --tag`, `openssl dgst`) formats.
//!
//! A list is evidence for one payload only through the single entry whose file name matches
//! the payload's; an absent or ambiguous entry is a refusal, never a silent pass.

use crate::error::{Error, Result};

/// Largest checksum list accepted.
pub const MAX_LIST_BYTES: u64 = 1024 * 1024;

/// One SHA-256 entry of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The digest.
    pub sha256: [u8; 32],
    /// The file name as written in the list.
    pub name: String,
    /// 1-based line number, for messages.
    pub line: usize,
}

/// Parse every SHA-256 entry of a list. Lines of other algorithms, comments and blank lines
/// are skipped; a list with no SHA-256 entry at all is an error.
pub fn parse(text: &[u8], what: &str) -> Result<Vec<Entry>> {
    let text = std::str::from_utf8(text).map_err(|_| {
        Error::refused(format!("checksum list {what} is not UTF-8 text"))
            .hint("expected `sha256sum` output (HEX  NAME) or BSD format (SHA256 (NAME) = HEX)")
    })?;
    let mut entries = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if let Some((sha256, name)) = parse_line(raw.trim_end_matches('\r')) {
            entries.push(Entry {
                sha256,
                name,
                line: i + 1,
            });
        }
    }
    if entries.is_empty() {
        return Err(
            Error::refused(format!("checksum list {what} has no SHA-256 entries")).hint(
                "expected `sha256sum` output (HEX  NAME) or BSD format (SHA256 (NAME) = HEX)",
            ),
        );
    }
    Ok(entries)
}

/// The unique entry for `file_name`: an entry named exactly so, or whose last path
/// component is (`./NAME`, `dist/NAME`).
pub fn find<'a>(entries: &'a [Entry], file_name: &str, what: &str) -> Result<&'a Entry> {
    if file_name.is_empty() {
        return Err(Error::refused(format!(
            "checksum list {what}: the payload has no file name to look up"
        ))
        .hint("the URL ends in `/`; pass --expect-file NAME to choose the entry"));
    }
    let matches: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.name == file_name || e.name.rsplit('/').next() == Some(file_name))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::refused(format!(
            "checksum list {what} has no entry for {}",
            crate::term::sanitize(file_name)
        ))
        .hint("the entry is chosen by the payload's file name; pass --expect-file NAME if it is published under another name")),
        many => Err(Error::refused(format!(
            "checksum list {what} has {} entries for {} (lines {}): ambiguous",
            many.len(),
            crate::term::sanitize(file_name),
            line_list(many)
        ))
        .hint("a checksum list must name each file once")),
    }
}

/// The line numbers of `many`, the first ten and a count of the rest.
fn line_list(many: &[&Entry]) -> String {
    const SHOWN: usize = 10;
    let mut s = many
        .iter()
        .take(SHOWN)
        .map(|e| e.line.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if many.len() > SHOWN {
        s.push_str(&format!(" and {} more", many.len() - SHOWN));
    }
    s
}

fn parse_line(line: &str) -> Option<([u8; 32], String)> {
    if line.trim().is_empty() || line.starts_with('#') {
        return None;
    }
    // BSD: `SHA256 (NAME) = HEX`
    if let Some(rest) = line.strip_prefix("SHA256 (") {
        let (name, hex) = rest.rsplit_once(") = ")?;
        if name.is_empty() {
            return None;
        }
        return Some((parse_hex32(hex.trim())?, name.to_string()));
    }
    // GNU: `HEX  NAME` or `HEX *NAME`; a leading `\` means NAME is escaped.
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let hex = line.get(..64)?;
    let rest = line.get(64..)?;
    let name = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Some((parse_hex32(hex)?, name))
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next()? {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Parse 64 hex digits (either case) into a SHA-256 digest.
pub fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Lower-case hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const H2: &str = "60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752";

    #[test]
    fn gnu_text_binary_and_escaped() {
        let list = format!("{H1}  a.sh\n{H2} *b.bin\n\\{H1}  c\\\\d\n# comment\n\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name, "a.sh");
        assert_eq!(e[1].name, "b.bin");
        assert_eq!(to_hex(&e[1].sha256), H2.to_lowercase());
        assert_eq!(e[2].name, "c\\d");
    }

    #[test]
    fn bsd_format() {
        let list = format!("SHA256 (x y.tar.gz) = {H1}\nSHA512 (x y.tar.gz) = abcd\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, "x y.tar.gz");
    }

    #[test]
    fn entry_must_be_unique_and_present() {
        let list = format!("{H1}  a.sh\n{H2}  ./a.sh\n{H1}  dist/b.sh\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert!(
            find(&e, "a.sh", "t")
                .unwrap_err()
                .message()
                .contains("ambiguous")
        );
        assert_eq!(find(&e, "b.sh", "t").unwrap().name, "dist/b.sh");
        assert_eq!(find(&e, "c.sh", "t").unwrap_err().exit_code(), 77);
        // a name that merely ends with the file name is not a match
        assert!(find(&e, "h", "t").is_err());
    }

    #[test]
    fn malformed_lists() {
        assert!(parse(b"", "t").is_err());
        assert!(parse(b"not a checksum\n", "t").is_err());
        assert!(parse(format!("{}  a\n", &H1[..63]).as_bytes(), "t").is_err());
        assert!(
            parse(format!("{H1} a\n").as_bytes(), "t").is_err(),
            "one space"
        );
        assert!(parse(&[0xff, 0xfe], "t").is_err());
    }

    /// Found by the `checksums` fuzz target: `SHA256 () = HEX` parsed as an entry with an
    /// empty name, which a URL ending in `/` (empty file name) would then have matched.
    #[test]
    fn regression_bsd_entry_with_empty_name() {
        let list = format!("SHA256 () = {H1}\n");
        assert!(parse(list.as_bytes(), "t").is_err(), "no entry at all");
        let list = format!("SHA256 () = {H1}\n{H2}  a.sh\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(find(&e, "", "t").unwrap_err().exit_code(), 77);
    }

    #[test]
    fn hex() {
        assert!(parse_hex32(H2).is_some());
        assert!(parse_hex32(&H1[..63]).is_none());
        assert!(parse_hex32(&format!("{}g", &H1[..63])).is_none());
    }
}
