//! Fuzz target `minisig_pubkey`: see `fuzz/checks/minisig_pubkey.rs` for what it checks.
#![no_main]

#[path = "../checks/minisig_pubkey.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
