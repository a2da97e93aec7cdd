//! Fuzz target `scope`: see `fuzz/checks/scope.rs` for what it checks.
#![no_main]

#[path = "../checks/scope.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
