//! `verun key ...`: the store's operations, and printing what they return.

use std::io::Write;

use crate::cli::KeyArgs;
use verun::error::{Error, Result};
use verun::paths::Paths;

use super::shared::*;

/// `verun key ...`: the store prints nothing itself; its output and notes are printed here.
pub(super) fn key(a: KeyArgs) -> Result<u8> {
    let paths = Paths::resolve()?;
    let out = verun::store::command(&paths, a.command.op())?;
    for n in &out.notes {
        note(false, n);
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.stdout.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        // `verun key list | head`: the reader has all it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Error::io_at("cannot write to stdout", &e)),
    }
}
