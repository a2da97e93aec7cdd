//! Fuzz target `openpgp_packets`: see `fuzz/checks/openpgp_packets.rs` for what it checks.
#![no_main]

#[path = "../checks/openpgp_packets.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
