//! Fuzz target `openpgp_armor`: see `fuzz/checks/openpgp_armor.rs` for what it checks.
#![no_main]

#[path = "../checks/openpgp_armor.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
