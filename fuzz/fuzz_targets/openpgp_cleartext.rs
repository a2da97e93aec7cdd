//! Fuzz target `openpgp_cleartext`: see `fuzz/checks/openpgp_cleartext.rs` for what it checks.
#![no_main]

#[path = "../checks/openpgp_cleartext.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
