//! Fuzz target `sigstore_bundle`: see `fuzz/checks/sigstore_bundle.rs` for what it checks.
#![no_main]

#[path = "../checks/sigstore_bundle.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
