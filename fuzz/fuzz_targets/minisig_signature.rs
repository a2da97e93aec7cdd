//! Fuzz target `minisig_signature`: see `fuzz/checks/minisig_signature.rs` for what it checks.
#![no_main]

#[path = "../checks/minisig_signature.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
