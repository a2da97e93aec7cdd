//! Terminal sanitising of untrusted text: whatever goes in, no control character, C1 code
//! or bidi override comes out, and single lines are cut.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/sanitize.rs` and by
//! `tests/fuzz_regressions.rs`, which replays the seeds and every saved crash input.

use verun::term::{MAX_LINE_CHARS, sanitize, sanitize_block, sanitize_bytes};

fn safe(c: char, block: bool) -> bool {
    if block && (c == '\n' || c == '\t') {
        return true;
    }
    !(c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'))
}

/// Checks one input; panics on a finding.
pub fn check(data: &[u8]) {
    let line = sanitize_bytes(data);
    assert!(line.chars().all(|c| safe(c, false)), "{line:?}");
    let text = String::from_utf8_lossy(data);
    let one = sanitize(&text);
    assert!(one.chars().all(|c| safe(c, false)));
    assert!(one.chars().count() <= MAX_LINE_CHARS * 10 + 1);
    let block = sanitize_block(&text);
    assert!(block.chars().all(|c| safe(c, true)));
}
