//! Terminal sanitising of untrusted text: whatever goes in, no control character, C1 code,
//! format character (bidi overrides, zero-width characters, tags), separator or other
//! default-ignorable code point comes out; single lines and messages are cut, and a message
//! stays one line.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/sanitize.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::term::{
    MAX_LINE_CHARS, MAX_MESSAGE_CHARS, one_line, sanitize, sanitize_block, sanitize_bytes,
};

/// Listed independently of verun's tables (a sample of each class the review named).
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}'
        | '\u{115f}'..='\u{1160}' | '\u{17b4}'..='\u{17b5}' | '\u{180b}'..='\u{180f}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}' | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e0fff}')
}

fn safe(c: char, block: bool) -> bool {
    if block && (c == '\n' || c == '\t') {
        return true;
    }
    !(c.is_control() || invisible(c))
}

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let line = sanitize_bytes(data);
    assert!(line.chars().all(|c| safe(c, false)), "{line:?}");
    let text = String::from_utf8_lossy(data);
    let one = sanitize(&text);
    assert!(one.chars().all(|c| safe(c, false)));
    assert!(one.chars().count() <= MAX_LINE_CHARS + 1);
    let block = sanitize_block(&text);
    assert!(block.chars().all(|c| safe(c, true)));
    let message = one_line(&text);
    assert!(message.chars().all(|c| safe(c, false)));
    assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        one_line(&message),
        message,
        "sanitised text must pass unchanged"
    );
}
