//! Lockfile parsing: never panics; anything that parses renders to text that parses back to
//! the same entries (so verun never writes a lockfile it cannot read).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use verun::lock::Lockfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.lock");
    match Lockfile::parse(text, path) {
        Ok(lock) => {
            let rendered = lock.render();
            let again = Lockfile::parse(&rendered, path).expect("a rendered lockfile parses");
            assert_eq!(again, lock);
        }
        Err(e) => assert_eq!(e.exit_code(), 78, "{}", e.message()),
    }
});
