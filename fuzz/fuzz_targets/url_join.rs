//! Fuzz target `url_join`: see `fuzz/checks/url_join.rs` for what it checks.
#![no_main]

#[path = "../checks/url_join.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
