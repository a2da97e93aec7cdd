//! Fuzz target `checksums`: see `fuzz/checks/checksums.rs` for what it checks.
#![no_main]

#[path = "../checks/checksums.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
