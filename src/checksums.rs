//! Checksum lists: `sha256sum`/`sha512sum` (GNU), BSD (`shasum --tag`, `sha256sum --tag`),
//! `openssl dgst` output, and a single bare digest (a `tool.sha256` file).
//!
//! A list is evidence for one payload only through the single entry whose file name matches
//! the payload's; an absent or ambiguous entry is a refusal, never a silent pass. A bare
//! digest names no file: it applies to the payload whatever its name, and must then be the
//! only content of the file (but whitespace).
//!
//! Parsing is strict: every line that is not blank or a `#` comment must be a SHA-256 or
//! SHA-512 entry, all in one format and one algorithm; anything else refuses the whole list
//! (a garbled or concatenated list is not guessed at).

use crate::error::{Error, Result};

/// Largest checksum list accepted.
pub const MAX_LIST_BYTES: u64 = 1024 * 1024;

const FORMATS_HINT: &str = "expected `sha256sum`/`sha512sum` output (HEX  NAME), BSD format (SHA256 (NAME) = HEX), `openssl dgst` output (SHA2-256(NAME)= HEX), or one bare digest alone in the file";

/// A payload digest: SHA-256 or SHA-512.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    /// SHA-256.
    Sha256([u8; 32]),
    /// SHA-512.
    Sha512([u8; 64]),
}

impl Digest {
    /// `SHA-256` or `SHA-512`, for messages.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Digest::Sha256(_) => "SHA-256",
            Digest::Sha512(_) => "SHA-512",
        }
    }

    /// `sha256` or `sha512`: the field name in reports.
    pub fn field(&self) -> &'static str {
        match self {
            Digest::Sha256(_) => "sha256",
            Digest::Sha512(_) => "sha512",
        }
    }

    /// The digest bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Digest::Sha256(d) => d,
            Digest::Sha512(d) => d,
        }
    }

    /// Lower-case hex.
    pub fn hex(&self) -> String {
        to_hex(self.bytes())
    }

    /// 64 hex digits as SHA-256, 128 as SHA-512 (either case); anything else is `None`.
    pub fn parse_hex(hex: &str) -> Option<Digest> {
        match hex.len() {
            64 => parse_hex32(hex).map(Digest::Sha256),
            128 => parse_hex64(hex).map(Digest::Sha512),
            _ => None,
        }
    }
}

/// Reports show a digest as `"sha256": HEX` or `"sha512": HEX` (flattened into the pin).
impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.field(), &self.hex())?;
        map.end()
    }
}

/// One entry of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The digest.
    pub digest: Digest,
    /// The file name as written in the list; `None` for a bare digest, which applies to
    /// the payload whatever its name.
    pub name: Option<String>,
    /// 1-based line number, for messages.
    pub line: usize,
}

/// The line formats, which one list may not mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Gnu,
    Bsd,
    Openssl,
}

impl Format {
    fn label(self) -> &'static str {
        match self {
            Format::Gnu => "GNU (HEX  NAME)",
            Format::Bsd => "BSD (SHA256 (NAME) = HEX)",
            Format::Openssl => "openssl (SHA2-256(NAME)= HEX)",
        }
    }
}

/// Parse a list: one bare digest, or entries of one format and one algorithm. Blank lines
/// and `#` comments are skipped; any other line that is not an entry refuses the list, as
/// does a list with no entry at all.
pub fn parse(text: &[u8], what: &str) -> Result<Vec<Entry>> {
    let what = crate::term::sanitize(what);
    let text = std::str::from_utf8(text).map_err(|_| {
        Error::refused_for(
            crate::error::Reason::BadChecksumList,
            format!("checksum list {what} is not UTF-8 text"),
        )
        .hint(FORMATS_HINT)
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A bare digest: the only content but whitespace.
    let trimmed = text.trim();
    if !trimmed.contains(char::is_whitespace)
        && let Some(digest) = Digest::parse_hex(trimmed)
    {
        let line = text[..text.len() - text.trim_start().len()]
            .matches('\n')
            .count()
            + 1;
        return Ok(vec![Entry {
            digest,
            name: None,
            line,
        }]);
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut first: Option<(Format, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let n = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((format, digest, name)) = parse_line(line) else {
            let why = if Digest::parse_hex(line.trim()).is_some() {
                "a bare digest must be alone in the file".to_string()
            } else {
                format!("not a SHA-256 or SHA-512 entry: {}", excerpt(line))
            };
            return Err(Error::refused_for(
                crate::error::Reason::BadChecksumList,
                format!("checksum list {what} line {n}: {why}"),
            )
            .hint(FORMATS_HINT));
        };
        match first {
            None => first = Some((format, n)),
            Some((f, at)) if f != format => {
                return Err(Error::refused_for(crate::error::Reason::BadChecksumList, format!(
                    "checksum list {what} mixes formats: {} on line {at}, {} on line {n}",
                    f.label(),
                    format.label()
                ))
                .hint("a checksum list is the output of one tool; ask the publisher for a consistent list"));
            }
            Some(_) => {}
        }
        if let Some(e) = entries.first()
            && e.digest.algorithm() != digest.algorithm()
        {
            return Err(Error::refused_for(crate::error::Reason::BadChecksumList, format!(
                "checksum list {what} mixes algorithms: {} on line {}, {} on line {n}",
                e.digest.algorithm(),
                e.line,
                digest.algorithm()
            ))
            .hint("a checksum list holds one algorithm (SHA256SUMS or SHA512SUMS); pass one such list with --checksums"));
        }
        entries.push(Entry {
            digest,
            name: Some(name),
            line: n,
        });
    }
    if entries.is_empty() {
        return Err(Error::refused_for(
            crate::error::Reason::BadChecksumList,
            format!("checksum list {what} has no SHA-256 or SHA-512 entries"),
        )
        .hint(FORMATS_HINT));
    }
    Ok(entries)
}

/// The start of a bad line, sanitised, for a one-line message.
fn excerpt(line: &str) -> String {
    const MAX: usize = 60;
    let cut: String = line.chars().take(MAX).collect();
    let more = if line.chars().count() > MAX {
        "…"
    } else {
        ""
    };
    format!("`{}{more}`", crate::term::sanitize(&cut))
}

/// The unique entry for `file_name`: an entry named exactly so, or whose last path
/// component is (`./NAME`, `dist/NAME`); or the bare digest, whatever the name.
pub fn find<'a>(entries: &'a [Entry], file_name: &str, what: &str) -> Result<&'a Entry> {
    let what = crate::term::sanitize(what);
    if let [bare @ Entry { name: None, .. }] = entries {
        return Ok(bare);
    }
    if file_name.is_empty() {
        return Err(Error::refused_for(
            crate::error::Reason::BadChecksumList,
            format!("checksum list {what}: the payload has no file name to look up"),
        )
        .hint("the URL ends in `/`; pass --expect-file NAME to choose the entry"));
    }
    let matches: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.name
                .as_deref()
                .is_some_and(|n| n == file_name || n.rsplit('/').next() == Some(file_name))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::refused_for(crate::error::Reason::BadChecksumList, format!(
            "checksum list {what} has no entry for {}",
            crate::term::sanitize(file_name)
        ))
        .hint("the entry is chosen by the payload's file name; pass --expect-file NAME if it is published under another name")),
        many => Err(Error::refused_for(crate::error::Reason::BadChecksumList, format!(
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

/// One entry line. A leading `\` (GNU and BSD) means the name is escaped.
fn parse_line(line: &str) -> Option<(Format, Digest, String)> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let name = |raw: &str| -> Option<String> {
        if raw.is_empty() {
            None
        } else if escaped {
            unescape(raw)
        } else {
            Some(raw.to_string())
        }
    };
    // BSD: `SHA256 (NAME) = HEX`, `SHA512 (NAME) = HEX`.
    for (tag, len) in [("SHA256 (", 64), ("SHA512 (", 128)] {
        if let Some(rest) = line.strip_prefix(tag) {
            let (raw, hex) = rest.rsplit_once(") = ")?;
            let digest = Digest::parse_hex(hex).filter(|_| hex.len() == len)?;
            return Some((Format::Bsd, digest, name(raw)?));
        }
    }
    // openssl dgst: `SHA2-256(NAME)= HEX` (3.x), `SHA256(NAME)= HEX` (1.x); never escaped.
    if !escaped {
        for (tag, len) in [
            ("SHA2-256(", 64),
            ("SHA256(", 64),
            ("SHA2-512(", 128),
            ("SHA512(", 128),
        ] {
            if let Some(rest) = line.strip_prefix(tag) {
                let (raw, hex) = rest.rsplit_once(")= ")?;
                let digest = Digest::parse_hex(hex).filter(|_| hex.len() == len)?;
                return Some((Format::Openssl, digest, name(raw)?));
            }
        }
    }
    // GNU: `HEX  NAME` or `HEX *NAME`, 64 or 128 digits.
    let split = line.find(' ')?;
    let digest = Digest::parse_hex(&line[..split])?;
    let rest = &line[split..];
    let raw = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    Some((Format::Gnu, digest, name(raw)?))
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

fn parse_hex_n<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != 2 * N || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Parse 64 hex digits (either case) into a SHA-256 digest.
pub fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    parse_hex_n::<32>(hex)
}

/// Parse 128 hex digits (either case) into a SHA-512 digest.
pub fn parse_hex64(hex: &str) -> Option<[u8; 64]> {
    parse_hex_n::<64>(hex)
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

    fn h512(c: char) -> String {
        c.to_string().repeat(128)
    }

    fn refusal(list: &str) -> String {
        let e = parse(list.as_bytes(), "t").unwrap_err();
        assert_eq!(e.exit_code(), 77, "{list:?}");
        assert!(e.hint_text().is_some(), "{list:?}: no hint");
        assert!(!e.message().contains('\n'), "{list:?}: {}", e.message());
        e.message().to_string()
    }

    #[test]
    fn gnu_text_binary_and_escaped() {
        let list = format!("{H1}  a.sh\n{H2} *b.bin\n\\{H1}  c\\\\d\n# comment\n\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name.as_deref(), Some("a.sh"));
        assert_eq!(e[1].name.as_deref(), Some("b.bin"));
        assert_eq!(e[1].digest.hex(), H2.to_lowercase());
        assert_eq!(e[2].name.as_deref(), Some("c\\d"));
    }

    #[test]
    fn bsd_format_sha256_and_sha512() {
        let list = format!("SHA256 (x y.tar.gz) = {H1}\r\nSHA256 (b) = {H2}\n");
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name.as_deref(), Some("x y.tar.gz"));
        let list = format!("SHA512 (x) = {}\n", h512('a'));
        let e = parse(list.as_bytes(), "t").unwrap();
        assert!(matches!(e[0].digest, Digest::Sha512(d) if d == [0xaa; 64]));
    }

    #[test]
    fn openssl_formats() {
        for tag in ["SHA2-256", "SHA256"] {
            let e = parse(format!("{tag}(a b.sh)= {H1}\n").as_bytes(), "t").unwrap();
            assert_eq!(e[0].name.as_deref(), Some("a b.sh"));
            assert_eq!(e[0].digest.algorithm(), "SHA-256");
        }
        for tag in ["SHA2-512", "SHA512"] {
            let e = parse(format!("{tag}(a)= {}\n", h512('B')).as_bytes(), "t").unwrap();
            assert_eq!(e[0].digest.algorithm(), "SHA-512");
        }
        // a tag with the other algorithm's length is malformed
        refusal(&format!("SHA2-512(a)= {H1}\n"));
        refusal(&format!("SHA256 (a) = {}\n", h512('c')));
    }

    #[test]
    fn sha512_gnu_list() {
        let list = format!("{}  a.tar.gz\n{} *b\n", h512('1'), h512('2'));
        let e = parse(list.as_bytes(), "t").unwrap();
        assert_eq!(
            find(&e, "b", "t").unwrap().digest,
            Digest::Sha512([0x22; 64])
        );
    }

    #[test]
    fn bare_digest_applies_whatever_the_name() {
        for list in [format!("{H1}\n"), format!("\n  {H2}  \r\n\n"), h512('f')] {
            let e = parse(list.as_bytes(), "t").unwrap();
            assert_eq!(e.len(), 1);
            assert_eq!(e[0].name, None);
            assert!(find(&e, "anything.sh", "t").is_ok());
            assert!(find(&e, "", "t").is_ok());
        }
        assert_eq!(
            parse(format!("\n\n{H1}\n").as_bytes(), "t").unwrap()[0].line,
            3
        );
    }

    #[test]
    fn a_bare_digest_must_be_alone() {
        assert!(refusal(&format!("{H1}\n{H2}\n")).contains("alone"));
        assert!(refusal(&format!("{H1}  a.sh\n{H2}\n")).contains("line 2"));
        assert!(refusal(&format!("# sha256\n{H1}\n")).contains("alone"));
        refusal(&format!("{H1} {H2}\n"));
        refusal(&format!("{}\n", &H1[..63]));
        refusal(&format!("{H1}0\n"));
    }

    #[test]
    fn mixed_lists_are_refused() {
        let m = refusal(&format!("{H1}  a\n{}  b\n", h512('a')));
        assert!(
            m.contains("mixes algorithms") && m.contains("line 2"),
            "{m}"
        );
        let m = refusal(&format!("{H1}  a\nSHA256 (b) = {H2}\n"));
        assert!(m.contains("mixes formats"), "{m}");
        let m = refusal(&format!("SHA2-256(a)= {H1}\nSHA256 (b) = {H2}\n"));
        assert!(m.contains("mixes formats"), "{m}");
        // openssl 1.x and 3.x spellings are one format
        assert_eq!(
            parse(
                format!("SHA2-256(a)= {H1}\nSHA256(b)= {H2}\n").as_bytes(),
                "t"
            )
            .unwrap()
            .len(),
            2
        );
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
        assert_eq!(
            find(&e, "b.sh", "t").unwrap().name.as_deref(),
            Some("dist/b.sh")
        );
        assert_eq!(find(&e, "c.sh", "t").unwrap_err().exit_code(), 77);
        // a name that merely ends with the file name is not a match
        assert!(find(&e, "h", "t").is_err());
    }

    #[test]
    fn malformed_lists() {
        refusal("");
        refusal("\n# only a comment\n\n");
        refusal("not a checksum\n");
        refusal(&format!("{}  a\n", &H1[..63]));
        assert!(
            refusal(&format!("{H1} a\n")).contains("line 1"),
            "one space"
        );
        assert!(parse(&[0xff, 0xfe], "t").is_err());
        // Lines of other algorithms are no longer skipped: the list is refused.
        let m = refusal(&format!("SHA256 (a) = {H1}\nSHA512 (a) = abcd\n"));
        assert!(m.contains("line 2"), "{m}");
        refusal(&format!("{H1}  a\nd41d8cd98f00b204e9800998ecf8427e  b\n"));
        refusal("MD5 (a) = d41d8cd98f00b204e9800998ecf8427e\n");
        // a hostile line is shown sanitised, cut, on one line
        let m = refusal(
            "\x1b]0;pwned\x07 SHA256 (a) = xyz and a lot more text after it to be cut off here\n",
        );
        assert!(!m.contains('\x1b') && m.contains('…'), "{m}");
    }

    /// Found by the `checksums` fuzz target: `SHA256 () = HEX` parsed as an entry with an
    /// empty name, which a URL ending in `/` (empty file name) would then have matched.
    #[test]
    fn regression_bsd_entry_with_empty_name() {
        refusal(&format!("SHA256 () = {H1}\n"));
        refusal(&format!("SHA256 () = {H1}\n{H2}  a.sh\n"));
        refusal(&format!("SHA2-256()= {H1}\n"));
        let e = parse(format!("{H2}  a.sh\n").as_bytes(), "t").unwrap();
        assert_eq!(find(&e, "", "t").unwrap_err().exit_code(), 77);
    }

    #[test]
    fn hex() {
        assert!(parse_hex32(H2).is_some());
        assert!(parse_hex32(&H1[..63]).is_none());
        assert!(parse_hex32(&format!("{}g", &H1[..63])).is_none());
        assert!(parse_hex64(&h512('A')).is_some());
        assert!(Digest::parse_hex(&H1[..62]).is_none());
        assert_eq!(Digest::parse_hex(H1).unwrap().hex(), H1);
    }
}
