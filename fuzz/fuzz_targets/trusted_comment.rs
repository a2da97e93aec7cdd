//! Fuzz target `trusted_comment`: see `fuzz/checks/trusted_comment.rs` for what it checks.
#![no_main]

#[path = "../checks/trusted_comment.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
