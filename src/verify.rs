//! The verifier: gathers the evidence for one payload, hashes the payload in one streaming
//! pass while it is written to its sink, and decides.
//!
//! [`Verified`] can only be made by [`stream`], and only when every piece of evidence passed
//! and at least one was a trust anchor (SPEC "What counts as evidence"). Execution and saving
//! take a `Verified`, so no path reaches them without verification.

use std::io::{Read, Write};

use serde::Serialize;

use crate::checksums::{self, Digest, MAX_LIST_BYTES, to_hex};
use crate::error::{Error, Kind, Result};
use crate::fetch::{Net, check_length, human, read_error, too_large};
use crate::keys::{KeyRing, TrustedKey};
use crate::location::{HttpUrl, Location, Origin};
use crate::minisig::{MAX_SIG_BYTES, Signature};
use crate::plan::{Plan, read_small_file};
use crate::pump::{Hashes, PumpError, pump_with};
use crate::scheme::{Digests, Expect, Scheme, Signer, admit, check_legacy_length};
use crate::term::sanitize;

/// Bytes of the payload's start kept for shebang / ELF detection.
pub const HEAD_BYTES: usize = 512;

/// A digest (SHA-256 or SHA-512) the payload must have, and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Pin {
    /// The expected digest (`"sha256": HEX` or `"sha512": HEX` in reports).
    #[serde(flatten)]
    pub digest: Digest,
    /// `--sha256`, `lockfile PATH`, `signed checksum list URL`, ...
    pub source: String,
    /// Whether this pin alone is a trust anchor.
    pub anchor: bool,
    /// For an unsigned checksum list counted as independent: the origins that served it.
    /// If the payload turns out to come (through redirects) from one of them, the list is
    /// no longer independent and stops being an anchor.
    #[serde(skip)]
    pub list_origins: Vec<Origin>,
    /// Where the pin comes from, as a type: decides how a mismatch is worded.
    #[serde(skip)]
    pub origin: PinOrigin,
}

/// Where a [`Pin`] comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PinOrigin {
    /// `--sha256` or `--sha512`.
    #[default]
    Flag,
    /// A lockfile's entry (a mismatch is lock drift).
    Lockfile(std::path::PathBuf),
    /// A checksum list entry.
    ChecksumList,
}

/// The refusal for bytes that differ from the locked ones (lock drift, 77).
pub fn drift_error(url: &str, lockfile: &std::path::Path, locked: &str, got: &str) -> Error {
    Error::refused_for(
        crate::error::Reason::LockDrift,
        format!(
            "lock drift: {} changed since it was locked in {}: locked sha256 {locked}, got {got}",
            sanitize(url),
            lockfile.display()
        ),
    )
    .hint("nothing was run or saved; review the change, then accept it with --update-lock (which still needs a signature or another anchor)")
}

struct SigCheck {
    sig: Signature,
    key: TrustedKey,
    location: String,
}

/// Everything that will be checked, gathered before the payload is read.
pub struct Evidence {
    subject: String,
    name: String,
    signature: Option<SigCheck>,
    list_signature: Option<SigReport>,
    pins: Vec<Pin>,
}

/// What was verified, for notes and `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The URL or file.
    pub subject: String,
    /// The expected file name.
    pub file_name: String,
    /// Payload size in bytes.
    pub size: u64,
    /// Payload SHA-256 (hex).
    pub sha256: String,
    /// Payload SHA-512 (hex), when some evidence asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    /// The payload's own signature that verified, if any.
    pub signature: Option<SigReport>,
    /// The checksum list's signature that verified, if the list was signed.
    pub checksums_signature: Option<SigReport>,
    /// Every digest the payload matched.
    pub pins: Vec<Pin>,
    /// The trust anchors that held.
    pub anchors: Vec<String>,
}

/// A verified signature.
#[derive(Clone, Debug, Serialize)]
pub struct SigReport {
    /// Where it came from.
    pub location: String,
    /// What it signs: the payload (its URL or path) or the checksum list (the list's URL
    /// or path). Rollback marks are kept per signer and this.
    pub signs: String,
    /// The signer, `KIND:ID` (`minisign:E7620F1842B4E81F`).
    pub signer: String,
    /// The key id (minisign's 16 hex digits).
    pub key_id: String,
    /// How the key was trusted (`--key ...`, `store key NAME`).
    pub key_source: String,
    /// The store name of the key, when it came from the store.
    pub key_name: Option<String>,
    /// The trusted comment (raw; sanitise before printing).
    pub trusted_comment: String,
    /// The trusted comment's `timestamp:`.
    pub timestamp: Option<u64>,
    /// Whether the signature was prehashed (false: legacy).
    pub prehashed: bool,
}

/// A payload that passed verification: the sink it was written to, and the report.
#[derive(Debug)]
pub struct Verified<T> {
    payload: T,
    head: Vec<u8>,
    report: Report,
}

impl<T> Verified<T> {
    /// The sink holding the verified bytes.
    pub fn payload(&self) -> &T {
        &self.payload
    }

    /// The first bytes of the payload (up to [`HEAD_BYTES`]).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Take the sink out, keeping the report: for `exec`, which seals and re-checks the
    /// payload file itself. Saving goes through [`Verified::persist`] or
    /// [`Verified::write_to`], never through a raw sink.
    pub(crate) fn into_parts(self) -> (T, Report) {
        (self.payload, self.report)
    }
}

impl Verified<crate::write_behind::WriteBehind<tempfile::NamedTempFile>> {
    /// Land the verified download at `dest` with `mode`: the only way a payload reaches
    /// `fetch -o PATH`. It is flushed, renamed into place, and the inode at `dest` must be
    /// the one that was verified (see `partial::persist`), or nothing is left there.
    pub fn persist(self, dest: &std::path::Path, mode: u32) -> Result<Report> {
        crate::partial::persist(self.payload.into_inner(), dest, mode)?;
        Ok(self.report)
    }
}

impl Verified<std::fs::File> {
    /// Copy the verified bytes (held in a private temporary file) to `out`: the only way a
    /// payload reaches `fetch -o -`. Returns the report; a short copy is an error.
    pub fn write_to(mut self, out: &mut dyn Write) -> Result<Report> {
        use std::io::Seek;
        self.payload
            .seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::io_at("cannot read back the verified download", &e))?;
        let size = self.report.size;
        let written = std::io::copy(&mut Read::by_ref(&mut self.payload).take(size), out)
            .and_then(|n| out.flush().map(|()| n))
            .map_err(|e| {
                Error::io_at("cannot write the verified bytes to stdout", &e)
                    .hint("whatever reads verun's stdout stopped early")
            })?;
        if written != size {
            return Err(Error::io(format!(
                "wrote {written} of {size} verified bytes to stdout: the temporary file was cut short"
            )));
        }
        Ok(self.report)
    }
}

/// Load a small file (signature, list) from a URL or a path; `None` when it does not exist.
fn load(loc: &Location, net: &Net, cap: u64) -> Result<Option<Vec<u8>>> {
    match loc {
        Location::Url(u) => net.get_small(u, cap),
        Location::Path(p) => match read_small_file(p, cap) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == Kind::Io && !p.exists() => Ok(None),
            Err(e) => Err(e),
        },
    }
}

/// `Ok` when the payload itself exists; the download error (HTTP 404: 69) or local error
/// (no such file: 74) when it does not. Only asked when its signature is missing.
fn payload_exists(subject: &crate::plan::Subject, net: &Net) -> Result<()> {
    match subject {
        crate::plan::Subject::Url(u) => match net.open(u)? {
            Some(_) => Ok(()),
            None => Err(Error::download(format!(
                "{u} answered HTTP 404 (not found), and so did its signature"
            ))
            .hint("check the URL: the payload itself is not there")),
        },
        crate::plan::Subject::File(p) => match std::fs::metadata(p) {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::io_at(format!("cannot open {}", p.display()), &e)
                .hint("check the path: the file to verify is not there")),
        },
    }
}

fn sig_report(sig: &Signature, key: &TrustedKey, location: String, signs: String) -> SigReport {
    SigReport {
        location,
        signs,
        signer: Signer::Minisign(key.key.clone()).id(),
        key_id: key.key.id().to_string(),
        key_source: key.source.clone(),
        key_name: key.store_name.clone(),
        trusted_comment: sig.trusted_comment().to_string(),
        timestamp: sig.fields().timestamp,
        prehashed: sig.is_prehashed(),
    }
}

/// Gather the evidence for `plan`'s subject: fetch and parse the signature and checksum
/// list, select keys, and check there is at least one trust anchor. `extra_pins` carries
/// pins from elsewhere (the lockfile).
pub fn gather(plan: &Plan, ring: &KeyRing, net: &Net, extra_pins: Vec<Pin>) -> Result<Evidence> {
    let url = plan.subject.url();
    let subject_loc = plan.subject.location();
    let subject = subject_loc.to_string();
    let mut pins = extra_pins;

    // 1. The payload's signature.
    let sig_loc = plan.sig_location();
    let explicit = plan.sig.is_some();
    let mut missing_sig = None;
    let signature = if explicit || ring.wants_signature(url) {
        match load(&sig_loc, net, MAX_SIG_BYTES)? {
            Some(bytes) => {
                let what = format!("signature {sig_loc}");
                let sig = Signature::parse(&bytes, &sig_loc.to_string())?;
                let key = admit(
                    &sig,
                    ring,
                    url,
                    &Expect {
                        what: &what,
                        file_name: &plan.expect_file,
                        allow_legacy: plan.allow_legacy,
                    },
                )?;
                Some(SigCheck {
                    sig,
                    key,
                    location: sig_loc.to_string(),
                })
            }
            None if explicit || ring.requires_signature(url) => {
                let who = ring.expecting(url);
                let err = Error::refused_for(crate::error::Reason::MissingSignature, if explicit || who.is_empty() {
                    format!("signature {sig_loc} not found")
                } else {
                    format!("signature {sig_loc} not found, but {who} is trusted for {subject}")
                })
                .hint(
                    "a signed release publishes FILE.minisig (or a signed checksum list); pass --sig LOC if it lives elsewhere",
                );
                // The key's signature may be on the checksum list instead (SPEC evidence 3):
                // decided once the list has been checked.
                if explicit || plan.checksums.is_none() {
                    // A missing signature next to a missing payload is a wrong URL or path,
                    // not a refusal: say that (69 / 74) instead.
                    payload_exists(&plan.subject, net)?;
                    return Err(err);
                }
                missing_sig = Some(err);
                None
            }
            None => None,
        }
    } else {
        None
    };

    // 2. A pinned digest.
    if let Some(h) = plan.sha256 {
        pins.push(Pin {
            digest: Digest::Sha256(h),
            source: "--sha256".into(),
            anchor: true,
            list_origins: Vec::new(),
            origin: PinOrigin::Flag,
        });
    }
    if let Some(h) = plan.sha512 {
        pins.push(Pin {
            digest: Digest::Sha512(h),
            source: "--sha512".into(),
            anchor: true,
            list_origins: Vec::new(),
            origin: PinOrigin::Flag,
        });
    }

    // 3./4. A checksum list, signed or from an independent origin.
    let mut list_signature = None;
    if let Some(list_loc) = &plan.checksums {
        let (pin, list_sig) = checksum_pin(plan, ring, net, list_loc, &subject_loc)?;
        if let Some(err) = missing_sig.filter(|_| list_sig.is_none()) {
            return Err(err);
        }
        pins.push(pin);
        list_signature = list_sig;
    }

    let evidence = Evidence {
        subject,
        name: plan.expect_file.clone(),
        signature,
        list_signature,
        pins,
    };
    if evidence.signature.is_none() && !evidence.pins.iter().any(|p| p.anchor) {
        if evidence.pins.is_empty() {
            return Err(Error::refused_for(crate::error::Reason::NoTrustAnchor, format!(
                "no trust anchor for {}: no signature key, pinned --sha256/--sha512 or checksum list was given",
                evidence.subject
            ))
            .hint("pass the publisher's key with --key RW..., or pin the digest with --sha256 HEX"));
        }
        let over_http = url.is_some_and(|u| !u.is_https())
            || evidence
                .pins
                .iter()
                .any(|p| p.list_origins.iter().any(plain_http));
        if over_http {
            return Err(plain_http_error(&evidence.subject));
        }
        return Err(Error::refused_for(crate::error::Reason::NoTrustAnchor, format!(
            "no trust anchor for {}: an unsigned checksum list from the payload's own origin is no evidence",
            evidence.subject
        ))
        .hint("pass the publisher's key with --key RW..., or pin the digest with --sha256 HEX"));
    }
    Ok(evidence)
}

fn checksum_pin(
    plan: &Plan,
    ring: &KeyRing,
    net: &Net,
    list_loc: &Location,
    subject_loc: &Location,
) -> Result<(Pin, Option<SigReport>)> {
    let url = plan.subject.url();
    let (list, list_origins) = match list_loc {
        Location::Url(u) => match net.get_small_from(u, MAX_LIST_BYTES)? {
            Some((bytes, hops)) => (Some(bytes), hops),
            None => (None, Vec::new()),
        },
        Location::Path(_) => (load(list_loc, net, MAX_LIST_BYTES)?, Vec::new()),
    };
    let list = list.ok_or_else(|| {
        Error::refused_for(
            crate::error::Reason::BadChecksumList,
            format!("checksum list {list_loc} not found"),
        )
        .hint("check --checksums; every piece of evidence given must be present and pass")
    })?;
    // `--checksums-sig LOC`, or the list's `.minisig` sibling. A signature named
    // explicitly must be there (as for `--sig`); the sibling is looked for when a key is in
    // play.
    let explicit = plan.checksums_sig.is_some();
    let list_sig_loc = plan
        .checksums_sig
        .clone()
        .unwrap_or_else(|| list_loc.with_suffix(".minisig"));
    let mut signed_by = None;
    let list_sig = if explicit || ring.wants_signature(url) {
        load(&list_sig_loc, net, MAX_SIG_BYTES)?
    } else {
        None
    };
    if explicit && list_sig.is_none() {
        return Err(Error::refused_for(
            crate::error::Reason::MissingSignature,
            format!("signature {list_sig_loc} of checksum list {list_loc} not found"),
        )
        .hint("check --checksums-sig; every piece of evidence given must be present and pass"));
    }
    if let Some(bytes) = list_sig {
        let what = format!("signature {list_sig_loc}");
        let sig = Signature::parse(&bytes, &list_sig_loc.to_string())?;
        let key = admit(
            &sig,
            ring,
            url,
            &Expect {
                what: &what,
                file_name: &list_loc.file_name(),
                allow_legacy: plan.allow_legacy,
            },
        )?;
        check_legacy_length(&sig, list.len() as u64, &what)?;
        if !sig.verifies_bytes(&Signer::Minisign(key.key.clone()), &list, plan.allow_legacy) {
            return Err(Error::refused_for(
                crate::error::Reason::BadSignature,
                format!("checksum list {list_loc} does not match its signature {list_sig_loc}"),
            )
            .hint("the list or its signature was altered"));
        }
        signed_by = Some(sig_report(
            &sig,
            &key,
            list_sig_loc.to_string(),
            list_loc.to_string(),
        ));
    }
    let what = list_loc.to_string();
    let entries = checksums::parse(&list, &what)?;
    let entry = checksums::find(&entries, &plan.expect_file, &what)?;
    // Independent: no server that served the list (any hop) is the payload's origin.
    let independent = match (list_loc, subject_loc.origin()) {
        (Location::Url(_), Some(payload)) => !list_origins.contains(&payload),
        // A local list for a download: the user brought it from elsewhere.
        (Location::Path(_), Some(_)) => true,
        // A list for a local file: no independent channel can be told apart.
        (_, None) => false,
    };
    // Plain http on any hop of the list or of the payload: whoever is on that path rewrites
    // the list and the payload alike, so an unsigned list proves nothing (issue 11, item 3).
    let over_http = list_origins.iter().any(plain_http) || url.is_some_and(|u| !u.is_https());
    let signed = signed_by.is_some();
    let (source, anchor) = match &signed_by {
        Some(by) => (
            format!("checksum list {list_loc} signed by {}", by.key_source),
            true,
        ),
        None if over_http => (
            format!(
                "unsigned checksum list {list_loc} (plain http on the way: checked, but no anchor)"
            ),
            false,
        ),
        None if independent => (
            format!("unsigned checksum list {list_loc} from an independent origin"),
            true,
        ),
        None => (
            format!("unsigned checksum list {list_loc} (same origin: checked, but no anchor)"),
            false,
        ),
    };
    Ok((
        Pin {
            digest: entry.digest,
            source,
            anchor,
            list_origins: if signed { Vec::new() } else { list_origins },
            origin: PinOrigin::ChecksumList,
        },
        signed_by,
    ))
}

fn plain_http(o: &Origin) -> bool {
    o.scheme == "http"
}

/// The refusal for an unsigned checksum list that is the only evidence, when the list or the
/// payload travelled over plain http.
fn plain_http_error(subject: &str) -> Error {
    Error::refused_for(crate::error::Reason::NoTrustAnchor, format!(
        "no trust anchor for {subject}: an unsigned checksum list is no evidence when it or the payload travels over plain http (anyone on the path rewrites both)"
    ))
    .hint("with --allow-http only a signature (--key), a pinned --sha256 or a lock entry counts; or fetch both over https://")
}

/// Limits and labels for one streaming pass.
pub struct Limits<'a> {
    /// `--max-size`.
    pub max_size: u64,
    /// `Content-Length`, when known.
    pub declared: Option<u64>,
    /// The URL being read (for download errors); `None` for local files.
    pub url: Option<&'a HttpUrl>,
    /// The origin of every hop that served the payload (empty for local files).
    pub origins: &'a [Origin],
}

/// Read the payload from `src` to the end, writing every byte to `sink` while hashing it
/// (SHA-256; BLAKE2b for a prehashed signature; SHA-512 when a pin is one), then check every
/// piece of evidence.
/// `progress` is told the running byte count.
pub fn stream<W: Write>(
    ev: &Evidence,
    src: &mut dyn Read,
    mut sink: W,
    limits: Limits<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified<W>> {
    if let (Some(len), Some(url)) = (limits.declared, limits.url)
        && len > limits.max_size
    {
        return Err(too_large(url, limits.max_size));
    }
    let read_err = |e: &std::io::Error| match limits.url {
        Some(u) => read_error(u, e),
        None => Error::io_at(format!("cannot read {}", ev.subject), e),
    };
    // The pass computes what the signature's scheme and the pins need, nothing more.
    let needs = ev
        .signature
        .as_ref()
        .map(|c| c.sig.needs())
        .unwrap_or_default();
    let keep_all = needs.whole;
    let hashes = Hashes {
        blake2b: needs.blake2b512,
        sha512: needs.sha512
            || ev
                .pins
                .iter()
                .any(|p| matches!(p.digest, Digest::Sha512(_))),
    };
    let mut pumped = pump_with(
        src,
        &mut sink,
        hashes,
        keep_all,
        HEAD_BYTES,
        limits.max_size,
        progress,
    )
    .map_err(|e| match e {
        PumpError::Read(e) => read_err(&e),
        PumpError::Write(e) => Error::io_at("cannot write the payload", &e),
        PumpError::TooLarge => match limits.url {
            Some(u) => too_large(u, limits.max_size),
            None => Error::refused(format!(
                "{} is larger than the {} limit",
                ev.subject,
                human(limits.max_size)
            ))
            .hint("raise --max-size if this file is really that large"),
        },
    })?;
    let total = pumped.total;
    let head = std::mem::take(&mut pumped.head);
    if let Some(url) = limits.url {
        check_length(url, limits.declared, total)?;
    }
    let digest = pumped.sha256;
    let actual = |pin: &Digest| match pin {
        Digest::Sha256(_) => Some(Digest::Sha256(digest)),
        Digest::Sha512(_) => pumped.sha512.map(Digest::Sha512),
    };

    // Decide. Every piece must pass.
    let mut anchors = Vec::new();
    let sig_report = match &ev.signature {
        Some(c) => {
            check_legacy_length(&c.sig, total, &format!("signature {}", c.location))?;
            let digests = Digests {
                sha256: &pumped.sha256,
                blake2b512: pumped.blake2b.as_ref(),
                sha512: pumped.sha512.as_ref(),
                whole: pumped.all.as_deref(),
            };
            if !c
                .sig
                .verifies(&Signer::Minisign(c.key.key.clone()), &digests)
            {
                return Err(Error::refused_for(crate::error::Reason::BadSignature, format!(
                    "{} does not match its signature {} (key {})",
                    ev.subject,
                    c.location,
                    c.key.key.id()
                ))
                .hint("the payload or its signature was altered, or the wrong key was given; nothing was run or saved"));
            }
            anchors.push(format!(
                "signature by {} ({})",
                c.key.key.id(),
                c.key.source
            ));
            Some(sig_report(
                &c.sig,
                &c.key,
                c.location.clone(),
                ev.subject.clone(),
            ))
        }
        None => None,
    };
    for pin in &ev.pins {
        let got = actual(&pin.digest);
        let matches = got == Some(pin.digest);
        let got_hex = got.map(|d| d.hex()).unwrap_or_default();
        if !matches && let PinOrigin::Lockfile(lockfile) = &pin.origin {
            return Err(drift_error(
                &ev.subject,
                lockfile,
                &pin.digest.hex(),
                &got_hex,
            ));
        }
        if !matches {
            return Err(Error::refused_for(
                crate::error::Reason::ChecksumMismatch,
                format!(
                    "{}: {} mismatch with {}: expected {}, got {}",
                    ev.subject,
                    pin.digest.algorithm(),
                    pin.source,
                    pin.digest.hex(),
                    got_hex
                ),
            )
            .hint("the payload changed or the pin is wrong; nothing was run or saved"));
        }
        let redirected_into_list_origin =
            pin.list_origins.iter().any(|o| limits.origins.contains(o));
        // An unsigned list (non-empty `list_origins`) vouching for a payload that came over
        // plain http on some hop.
        let payload_over_http =
            !pin.list_origins.is_empty() && limits.origins.iter().any(plain_http);
        if pin.anchor && !redirected_into_list_origin && !payload_over_http {
            anchors.push(pin.source.clone());
        }
    }
    if anchors.is_empty() && limits.origins.iter().any(plain_http) {
        return Err(plain_http_error(&ev.subject));
    }
    if anchors.is_empty() {
        // gather() saw an anchor; the only way to lose it is a payload redirected to the
        // origin that served the unsigned checksum list, which then is not independent.
        return Err(Error::refused_for(crate::error::Reason::NoTrustAnchor, format!(
            "no trust anchor for {}: the payload was served (through a redirect) by the same origin as the unsigned checksum list",
            ev.subject
        ))
        .hint("an unsigned list counts only from an origin independent of the payload; sign the list, or pin --sha256"));
    }
    Ok(Verified {
        payload: sink,
        head,
        report: Report {
            subject: ev.subject.clone(),
            file_name: ev.name.clone(),
            size: total,
            sha256: to_hex(&digest),
            sha512: pumped.sha512.map(|d| to_hex(&d)),
            signature: sig_report,
            checksums_signature: ev.list_signature.clone(),
            pins: ev.pins.clone(),
            anchors,
        },
    })
}

impl Evidence {
    /// The signature's key, when a signature will be checked.
    pub fn signer(&self) -> Option<&TrustedKey> {
        self.signature.as_ref().map(|c| &c.key)
    }

    /// The checksum list's signature, when the list was signed and its signature verified
    /// (checked in [`gather`], before the payload is read).
    pub fn list_signature(&self) -> Option<&SigReport> {
        self.list_signature.as_ref()
    }
}
