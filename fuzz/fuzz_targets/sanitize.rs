//! Fuzz target `sanitize`: see `fuzz/checks/sanitize.rs` for what it checks.
#![no_main]

#[path = "../checks/sanitize.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
