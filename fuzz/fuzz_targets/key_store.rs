//! Fuzz target `key_store`: see `fuzz/checks/key_store.rs` for what it checks.
#![no_main]

#[path = "../checks/key_store.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
