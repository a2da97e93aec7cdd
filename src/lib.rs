//! verun: download, verify, then run — a safe replacement for `curl -fsSL URL | sh`.
//!
//! The library behind the `verun` binary: it knows no command-line parser and never prints
//! (the binary's `src/cli/` does both). Data flows one way: [`plan::PlanOptions`] →
//! [`plan::Plan`] → [`verify::gather`] (signatures admitted by [`scheme::admit`], pins,
//! checksum lists) → one streaming pass ([`fetch`], [`pump`]) → [`verify::stream`] (or,
//! for `run`'s memfd, [`verify::stream_sealed`], which hashes the sealed bytes) →
//! [`verify::Verified`] → [`exec`] or [`verify::Verified::persist`]. Only those two can make
//! a `Verified`, and running or saving takes one, so nothing reaches execution or
//! `-o PATH` unverified. New signature kinds plug in at [`scheme`].

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
pub mod openpgp;
pub mod partial;
pub mod paths;
pub mod plan;
pub(crate) mod private_fs;
pub mod progress;
pub mod pump;
pub mod rollback;
pub mod scheme;
pub mod self_update;
pub mod sigstore;
pub mod sshsig;
pub mod store;
pub mod term;
pub mod time;
pub mod verify;
pub mod write_behind;

pub use error::{Error, Kind, Reason, Result};
