//! Sanitising untrusted text before it reaches a terminal.
//!
//! Trusted comments, URLs, server messages and script bodies come from parties verun does
//! not trust. Printed raw, an escape sequence could rewrite what the user sees (hide a line,
//! fake a "verified" note, retitle the window). Everything untrusted goes through
//! [`sanitize`] or [`sanitize_block`] first.

/// Longest untrusted single line shown, in characters, before it is cut with `…`.
pub const MAX_LINE_CHARS: usize = 400;

/// Make one line of untrusted text safe to print: every character [`is_dangerous`] flags
/// (control characters, format characters such as bidi overrides, separators, other
/// invisible code points) becomes a visible `\u{..}` escape, and the line is cut at
/// [`MAX_LINE_CHARS`].
pub fn sanitize(text: &str) -> String {
    sanitize_with(text, false, MAX_LINE_CHARS)
}

/// Longest message verun prints (an error, hint, note or warning, without its `verun: ...:`
/// prefix), in characters, before it is cut with `…`: a whole line then stays well under
/// 1000 characters however much untrusted text went into it.
pub const MAX_MESSAGE_CHARS: usize = 900;

/// The last step of every message before it reaches stderr: one line (a newline, carriage
/// return or any other [`is_dangerous`] character inside becomes a visible escape, never a
/// line break), cut at [`MAX_MESSAGE_CHARS`]. Text that was already sanitised passes
/// unchanged (its escapes are plain ASCII).
pub fn one_line(text: &str) -> String {
    sanitize_with(text, false, MAX_MESSAGE_CHARS)
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

/// `max_chars` bounds what comes out (escapes included), not what goes in: a line of
/// escaped control characters is cut as soon as the output would exceed it.
fn sanitize_with(text: &str, keep_newlines: bool, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut used = 0usize;
    for c in text.chars() {
        let escape = !((keep_newlines && (c == '\n' || c == '\t')) || !is_dangerous(c));
        let piece = if escape {
            format!("\\u{{{:x}}}", c as u32)
        } else {
            c.to_string()
        };
        let len = if escape { piece.len() } else { 1 }; // escapes are ASCII
        if used.saturating_add(len) > max_chars {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        used += len;
    }
    out
}

/// Whether `c` must not reach a terminal raw: a control character (C0, DEL, C1), a format
/// character (General Category Cf: bidi controls, zero-width characters, tags, …), a line or
/// paragraph separator, or another default-ignorable code point (variation selectors,
/// Hangul fillers, …) that renders as nothing and can hide or reorder text.
pub fn is_dangerous(c: char) -> bool {
    c.is_control() || in_table(FORMAT_CF, c) || in_table(OTHER_INVISIBLE, c)
}

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Every code point of General Category Cf (format), as sorted inclusive ranges. Generated
/// from Unicode 14.0.0 (python3.11's `unicodedata.unidata_version`) with
/// `[c for c in range(0x110000) if unicodedata.category(chr(c)) == 'Cf']`, merged into
/// ranges; plus U+13439–U+1343F, the Egyptian hieroglyph format controls Unicode 15.0 added.
const FORMAT_CF: &[(u32, u32)] = &[
    (0x000ad, 0x000ad), // SOFT HYPHEN
    (0x00600, 0x00605), // ARABIC NUMBER SIGN .. ARABIC NUMBER MARK ABOVE
    (0x0061c, 0x0061c), // ARABIC LETTER MARK
    (0x006dd, 0x006dd), // ARABIC END OF AYAH
    (0x0070f, 0x0070f), // SYRIAC ABBREVIATION MARK
    (0x00890, 0x00891), // ARABIC POUND MARK ABOVE .. ARABIC PIASTRE MARK ABOVE
    (0x008e2, 0x008e2), // ARABIC DISPUTED END OF AYAH
    (0x0180e, 0x0180e), // MONGOLIAN VOWEL SEPARATOR
    (0x0200b, 0x0200f), // ZERO WIDTH SPACE .. RIGHT-TO-LEFT MARK
    (0x0202a, 0x0202e), // LEFT-TO-RIGHT EMBEDDING .. RIGHT-TO-LEFT OVERRIDE
    (0x02060, 0x02064), // WORD JOINER .. INVISIBLE PLUS
    (0x02066, 0x0206f), // LEFT-TO-RIGHT ISOLATE .. NOMINAL DIGIT SHAPES
    (0x0feff, 0x0feff), // ZERO WIDTH NO-BREAK SPACE
    (0x0fff9, 0x0fffb), // INTERLINEAR ANNOTATION ANCHOR .. INTERLINEAR ANNOTATION TERMINATOR
    (0x110bd, 0x110bd), // KAITHI NUMBER SIGN
    (0x110cd, 0x110cd), // KAITHI NUMBER SIGN ABOVE
    (0x13430, 0x1343f), // EGYPTIAN HIEROGLYPH VERTICAL JOINER .. (15.0: ..1343F)
    (0x1bca0, 0x1bca3), // SHORTHAND FORMAT LETTER OVERLAP .. SHORTHAND FORMAT UP STEP
    (0x1d173, 0x1d17a), // MUSICAL SYMBOL BEGIN BEAM .. MUSICAL SYMBOL END PHRASE
    (0xe0001, 0xe0001), // LANGUAGE TAG
    (0xe0020, 0xe007f), // TAG SPACE .. CANCEL TAG
];

/// The other invisible code points: the line and paragraph separators (Zl, Zp) and the
/// Default_Ignorable_Code_Point property of DerivedCoreProperties.txt (Unicode 14.0.0) that is
/// not Cf, including its reserved (unassigned) parts, which future versions fill with more
/// invisible characters. Sorted inclusive ranges; overlaps with [`FORMAT_CF`] are harmless.
const OTHER_INVISIBLE: &[(u32, u32)] = &[
    (0x0034f, 0x0034f), // COMBINING GRAPHEME JOINER
    (0x0115f, 0x01160), // HANGUL CHOSEONG FILLER, HANGUL JUNGSEONG FILLER
    (0x017b4, 0x017b5), // KHMER VOWEL INHERENT AQ, AA
    (0x0180b, 0x0180f), // MONGOLIAN FREE VARIATION SELECTORS ONE–FOUR, VOWEL SEPARATOR
    (0x02028, 0x02029), // LINE SEPARATOR, PARAGRAPH SEPARATOR
    (0x02065, 0x02065), // reserved
    (0x03164, 0x03164), // HANGUL FILLER
    (0x0fe00, 0x0fe0f), // VARIATION SELECTOR-1..16
    (0x0ffa0, 0x0ffa0), // HALFWIDTH HANGUL FILLER
    (0x0fff0, 0x0fff8), // reserved
    (0xe0000, 0xe0fff), // tags, VARIATION SELECTOR-17..256 (E0100–E01EF), reserved
];

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

    /// Regression (review item 16 / code review): the sanitiser let soft hyphens, the
    /// Arabic letter mark, the Mongolian vowel separator, deprecated format characters,
    /// interlinear annotations, tags, variation selectors and Hangul fillers through raw.
    #[test]
    fn every_format_and_default_ignorable_code_point_is_escaped() {
        let listed: &[(u32, u32)] = &[
            (0xad, 0xad),
            (0x34f, 0x34f),
            (0x61c, 0x61c),
            (0x115f, 0x1160),
            (0x17b4, 0x17b5),
            (0x180b, 0x180f),
            (0x200b, 0x200f),
            (0x2028, 0x202e),
            (0x2060, 0x206f),
            (0x3164, 0x3164),
            (0xfe00, 0xfe0f),
            (0xfeff, 0xfeff),
            (0xffa0, 0xffa0),
            (0xfff9, 0xfffb),
            (0xe0000, 0xe007f),
            (0xe0100, 0xe01ef),
        ];
        let all = listed.iter().chain(FORMAT_CF).chain(OTHER_INVISIBLE);
        let mut checked = 0;
        for &(lo, hi) in all {
            for cp in lo..=hi {
                let c = char::from_u32(cp).unwrap();
                assert!(is_dangerous(c), "U+{cp:04X} is not flagged");
                let text = format!("a{c}b");
                assert_eq!(sanitize(&text), format!("a\\u{{{cp:x}}}b"), "U+{cp:04X}");
                assert_eq!(
                    sanitize_block(&text),
                    format!("a\\u{{{cp:x}}}b"),
                    "U+{cp:04X}"
                );
                assert_eq!(one_line(&text), format!("a\\u{{{cp:x}}}b"), "U+{cp:04X}");
                checked += 1;
            }
        }
        assert!(checked > 4000, "{checked} code points checked");
    }

    /// Where python3 is installed, its `unicodedata` (whatever Unicode version it carries)
    /// must find no format character (Cf), separator (Zl, Zp) or control (Cc) that passes.
    #[test]
    fn no_cf_zl_zp_cc_character_of_python_unicodedata_passes() {
        let script = "import unicodedata\n\
                      print(unicodedata.unidata_version)\n\
                      print(' '.join('%x' % c for c in range(0x110000) \
                      if unicodedata.category(chr(c)) in ('Cf', 'Zl', 'Zp', 'Cc')))";
        let Ok(out) = std::process::Command::new("python3")
            .args(["-c", script])
            .output()
        else {
            eprintln!("note: python3 is absent; the tables are checked against themselves only");
            return;
        };
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let version = lines.next().unwrap_or("?");
        let cps: Vec<u32> = lines
            .next()
            .unwrap_or("")
            .split(' ')
            .map(|h| u32::from_str_radix(h, 16).unwrap())
            .collect();
        assert!(
            cps.len() > 200,
            "Unicode {version}: {} code points",
            cps.len()
        );
        for cp in cps {
            let c = char::from_u32(cp).unwrap();
            assert!(is_dangerous(c), "U+{cp:04X} (Unicode {version}) passes raw");
        }
    }

    #[test]
    fn range_tables_are_sorted_and_disjoint() {
        for table in [FORMAT_CF, OTHER_INVISIBLE] {
            for &(lo, hi) in table {
                assert!(lo <= hi, "{lo:x}..{hi:x}");
            }
            for w in table.windows(2) {
                assert!(
                    w[0].1 < w[1].0,
                    "{:x?} overlaps or precedes {:x?}",
                    w[0],
                    w[1]
                );
            }
        }
    }

    #[test]
    fn printable_text_passes_unchanged() {
        let samples = [
            "plain ASCII: ~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./",
            "café, naïve, Ærø, Łódź, ß, İstanbul",
            "中文字符, 日本語のテキスト, 한국어 텍스트",
            "Ελληνικά, русский, עברית, العربية, हिन्दी, ไทย",
            "emoji: 😀 🚀 👍🏽 🇩🇪 ✓ → … — ‘quotes’ «guillemets»",
            "math: ∀x ∈ ℝ, x² ≥ 0; ½ ≠ ⅓",
        ];
        for text in samples {
            assert_eq!(sanitize(text), text);
            assert_eq!(sanitize_block(text), text);
            assert_eq!(one_line(text), text);
        }
        // Neighbours of flagged ranges stay printable.
        for c in [
            '\u{ac}', '\u{ae}', '\u{34e}', '\u{350}', '\u{17b3}', '\u{17b6}', '\u{fe10}',
        ] {
            assert!(!is_dangerous(c), "U+{:04X} flagged", c as u32);
        }
    }

    #[test]
    fn messages_are_one_capped_line() {
        assert_eq!(
            one_line("a\nverun: verified\r\tb"),
            "a\\u{a}verun: verified\\u{d}\\u{9}b"
        );
        let long = one_line(&"é".repeat(100_000));
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(long.ends_with('…'));
        // The cap bounds the output, escapes included.
        let escapes = one_line(&"\n".repeat(10_000));
        assert!(
            escapes.chars().count() <= MAX_MESSAGE_CHARS + 1,
            "{}",
            escapes.len()
        );
        assert!(escapes.ends_with('…'));
        assert_eq!(one_line(&escapes), escapes);
        let line = sanitize(&"\x1b".repeat(10_000));
        assert!(line.chars().count() <= MAX_LINE_CHARS + 1);
        // Already sanitised text is not escaped twice.
        let once = sanitize("x\x1b[2Jy");
        assert_eq!(one_line(&once), once);
    }

    #[test]
    fn blocks_keep_newlines_and_tabs() {
        assert_eq!(sanitize_block("a\n\tb\x1b"), "a\n\tb\\u{1b}");
    }
}
