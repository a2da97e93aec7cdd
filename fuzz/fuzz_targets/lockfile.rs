//! Fuzz target `lockfile`: see `fuzz/checks/lockfile.rs` for what it checks.
#![no_main]

#[path = "../checks/lockfile.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
