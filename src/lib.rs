//! verun: download, verify, then run — a safe replacement for `curl -fsSL URL | sh`.
//!
//! Data flows one way: `argv → cli::Cli → plan::Plan → verify::Evidence → (fetch, stream) →
//! verify::Verified → exec / save → exit code`. Only [`verify::stream`] can make a
//! [`verify::Verified`], so nothing reaches execution or `-o PATH` unverified.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod atomic;
pub mod audit;
pub mod cache;
pub mod capsule;
pub mod checksums;
pub mod diff;
pub mod error;
pub mod exec;
pub mod fetch;
pub mod keys;
pub mod location;
pub mod lock;
pub mod minisig;
pub mod partial;
pub mod paths;
pub mod plan;
pub mod private_fs;
pub mod progress;
pub mod pump;
pub mod rollback;
pub mod scheme;
pub mod self_update;
pub mod store;
pub mod term;
pub mod time;
pub mod verify;
pub mod write_behind;

pub use error::{Error, Kind, Reason, Result};
