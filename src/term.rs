//! Sanitising untrusted text before it reaches a terminal.
//!
//! Trusted comments, URLs, server messages and script bodies come from parties verun does
//! not trust. Printed raw, an escape sequence could rewrite what the user sees (hide a line,
//! fake a "verified" note, retitle the window). Everything untrusted goes through
//! [`sanitize`] or [`sanitize_block`] first.

/// Longest untrusted single line shown, in characters, before it is cut with `…`.
pub const MAX_LINE_CHARS: usize = 400;

/// Make one line of untrusted text safe to print: control characters (C0, DEL, C1), bidi
/// overrides and other invisible format characters become visible `\u{..}` escapes, and the
/// line is cut at [`MAX_LINE_CHARS`].
pub fn sanitize(text: &str) -> String {
    sanitize_with(text, false, MAX_LINE_CHARS)
}

/// Like [`sanitize`], for invalid UTF-8 too (replaced with U+FFFD).
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(bytes))
}

/// Make a multi-line block (a script shown by `--show`) safe to print: newlines and tabs are
/// kept, everything else as in [`sanitize`]; no length cut.
pub fn sanitize_block(text: &str) -> String {
    sanitize_with(text, true, usize::MAX)
}

fn sanitize_with(text: &str, keep_newlines: bool, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (count, c) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        if (keep_newlines && (c == '\n' || c == '\t')) || !is_dangerous(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width and directional marks
            | '\u{2028}'..='\u{202e}' // separators and bidi embeddings/overrides
            | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
            | '\u{feff}')
}

/// Whether colour may be used on stderr: a terminal, and `NO_COLOR` unset or empty.
pub fn color_enabled() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_sequences() {
        let s = sanitize("ok\x1b]0;pwned\x07\x1b[2Jtext\r\n\u{9b}");
        assert!(!s.contains('\x1b') && !s.contains('\x07') && !s.contains('\r'));
        assert!(!s.contains('\u{9b}'));
        assert_eq!(
            s,
            "ok\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jtext\\u{d}\\u{a}\\u{9b}"
        );
    }

    #[test]
    fn escapes_bidi_overrides() {
        assert_eq!(sanitize("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn cuts_long_lines() {
        let s = sanitize(&"x".repeat(10_000));
        assert_eq!(s.chars().count(), MAX_LINE_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(sanitize_bytes(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn blocks_keep_newlines_and_tabs() {
        assert_eq!(sanitize_block("a\n\tb\x1b"), "a\n\tb\\u{1b}");
    }
}
