//! Fuzz target `sshsig`: see `fuzz/checks/sshsig.rs` for what it checks.
#![no_main]

#[path = "../checks/sshsig.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
