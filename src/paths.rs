//! Where verun keeps state: below `VERUN_HOME` when set, else the platform's directories.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// verun's directories.
#[derive(Clone, Debug)]
pub struct Paths {
    /// Key store (`VERUN_HOME/config` or `~/.config/verun`): see `store`.
    pub config: PathBuf,
    /// Rollback state (`VERUN_HOME/state` or `~/.local/state/verun`).
    pub state: PathBuf,
    /// Cache (`VERUN_HOME/cache` or `~/.cache/verun`).
    pub cache: PathBuf,
}

impl Paths {
    /// Resolve from `VERUN_HOME` or the platform.
    pub fn resolve() -> Result<Paths> {
        if let Some(home) = std::env::var_os("VERUN_HOME").filter(|v| !v.is_empty()) {
            let home = PathBuf::from(home);
            return Ok(Paths {
                config: home.join("config"),
                state: home.join("state"),
                cache: home.join("cache"),
            });
        }
        let none = || {
            Error::config("cannot find a home directory for verun's state")
                .hint("set VERUN_HOME to a private directory")
        };
        let config = dirs::config_dir().ok_or_else(none)?.join("verun");
        let state = dirs::state_dir()
            .or_else(dirs::data_local_dir)
            .ok_or_else(none)?
            .join("verun");
        let cache = dirs::cache_dir().ok_or_else(none)?.join("verun");
        Ok(Paths {
            config,
            state,
            cache,
        })
    }
}
