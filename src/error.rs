//! Typed errors and the one table of exit codes.
//!
//! Every failure in verun is an [`Error`]: a kind (which decides the exit code), a
//! one-line message naming what was expected and what was found, and an optional hint
//! telling the user what to do next. Lower layers build errors; only `main` prints them.

use std::fmt;

/// What went wrong, grouped by the exit code it maps to (see [`EXIT_CODES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Bad flags, malformed hex, `http://` without `--allow-http` (64, `EX_USAGE`).
    Usage,
    /// DNS, TLS, HTTP status, truncated body, timeout, size cap (69, `EX_UNAVAILABLE`).
    Download,
    /// Local I/O: reading a file, writing `-o PATH`, spawning the payload (74, `EX_IOERR`).
    Io,
    /// Verification refused the payload: nothing was run or saved (77, `EX_NOPERM`).
    Refused,
    /// Malformed key store, lockfile or state file (78, `EX_CONFIG`).
    Config,
}

impl Kind {
    /// The process exit code for this kind of error.
    pub const fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 64,
            Kind::Download => 69,
            Kind::Io => 74,
            Kind::Refused => 77,
            Kind::Config => 78,
        }
    }
}

/// The documented exit codes, in the order the README and `--help` list them.
/// `tests/exit_codes.rs` checks this table against [`Kind::exit_code`] and the README.
pub const EXIT_CODES: &[(u8, &str)] = &[
    (
        0,
        "success; for `run`, the payload's own exit status is passed through instead",
    ),
    (
        64,
        "usage error: bad flags, malformed hex, http:// without --allow-http",
    ),
    (
        69,
        "download failed: DNS, TLS, HTTP status, truncated body, timeout, --max-size exceeded",
    ),
    (74, "local I/O error"),
    (
        77,
        "refused: bad or missing signature, checksum mismatch, no trust anchor, unknown, out-of-scope or revoked key, file: mismatch, rollback, lock drift, legacy without --allow-legacy",
    ),
    (78, "malformed configuration: key store, lockfile"),
    (128, "+N: `run` only: the payload was killed by signal N"),
];

/// Why a call was refused, in a stable, machine-readable form: `--json` reports carry it as
/// `"reason"`, and scripts and tests match on it instead of on the English message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No signature, pin, lock entry or usable checksum list vouches for the payload.
    NoTrustAnchor,
    /// A signature does not verify over the bytes (or the list it signs).
    BadSignature,
    /// A key is given or trusted, but its signature file is missing.
    MissingSignature,
    /// The signature is by a key nobody trusts for this URL.
    UntrustedKey,
    /// The key was revoked.
    KeyRevoked,
    /// The key was rotated out in favour of a successor.
    KeyRotated,
    /// The store key expired.
    KeyExpired,
    /// The store key's scopes do not cover this URL (or this is a local file).
    KeyOutOfScope,
    /// The trusted comment's `file:` names another file.
    FileMismatch,
    /// A legacy signature without `--allow-legacy`, or one shaped like a relabelled prehash.
    LegacySignature,
    /// A pinned or listed digest does not match.
    ChecksumMismatch,
    /// The bytes differ from the lockfile's entry.
    LockDrift,
    /// `--frozen` and the URL is not locked.
    NotLocked,
    /// A signed time older than one already accepted (or missing once one was).
    Rollback,
    /// A checksum list that is malformed or ambiguous.
    BadChecksumList,
    /// A malformed signature file.
    MalformedSignature,
    /// `--capsule` cannot be built on this system.
    CapsuleUnavailable,
    /// `--confirm` was declined or had no terminal.
    NotConfirmed,
}

impl Reason {
    /// The stable name (`no-trust-anchor`, `lock-drift`, `rollback`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::NoTrustAnchor => "no-trust-anchor",
            Reason::BadSignature => "bad-signature",
            Reason::MissingSignature => "missing-signature",
            Reason::UntrustedKey => "untrusted-key",
            Reason::KeyRevoked => "key-revoked",
            Reason::KeyRotated => "key-rotated",
            Reason::KeyExpired => "key-expired",
            Reason::KeyOutOfScope => "key-out-of-scope",
            Reason::FileMismatch => "file-mismatch",
            Reason::LegacySignature => "legacy-signature",
            Reason::ChecksumMismatch => "checksum-mismatch",
            Reason::LockDrift => "lock-drift",
            Reason::NotLocked => "not-locked",
            Reason::Rollback => "rollback",
            Reason::BadChecksumList => "bad-checksum-list",
            Reason::MalformedSignature => "malformed-signature",
            Reason::CapsuleUnavailable => "capsule-unavailable",
            Reason::NotConfirmed => "not-confirmed",
        }
    }
}

/// A verun error: kind, message, an optional hint and, for refusals, a stable reason.
#[derive(Debug, Clone)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    reason: Option<Reason>,
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            reason: None,
        }
    }

    /// A usage error (64).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    /// A download error (69).
    pub fn download(message: impl Into<String>) -> Self {
        Self::new(Kind::Download, message)
    }

    /// A local I/O error (74).
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(Kind::Io, message)
    }

    /// A local I/O error about `what`, from an `io::Error`.
    pub fn io_at(what: impl fmt::Display, err: &std::io::Error) -> Self {
        Self::io(format!("{what}: {err}"))
    }

    /// A refusal (77).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, message)
    }

    /// A refusal (77) with its machine-readable reason.
    pub fn refused_for(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, message).reason(reason)
    }

    /// A configuration error (78).
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }

    /// Attach a hint: what the user can do about it.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach the machine-readable reason of a refusal.
    #[must_use]
    pub fn reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The reason, when one was given.
    pub fn reason_code(&self) -> Option<Reason> {
        self.reason
    }

    /// The kind of error.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_the_documented_codes() {
        let kinds = [
            Kind::Usage,
            Kind::Download,
            Kind::Io,
            Kind::Refused,
            Kind::Config,
        ];
        for kind in kinds {
            let code = kind.exit_code();
            assert!(
                EXIT_CODES.iter().any(|(c, _)| *c == code),
                "{kind:?} maps to {code}, which the table does not document"
            );
        }
        // Reserved codes: 1 and 2 belong to payloads and shells, never to verun itself.
        for kind in kinds {
            assert!(kind.exit_code() >= 64 && kind.exit_code() < 128);
        }
    }
}
