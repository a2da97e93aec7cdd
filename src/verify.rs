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
use crate::openpgp;
use crate::plan::{Plan, read_small_file};
use crate::pump::{Hashes, PumpError, pump_with};
use crate::scheme::{
    Admitted, Expect, GoodSig, MAX_SIG_FILE_BYTES, Needs, SigFile, SignerKind, admit_file,
    admit_openpgp, check_legacy_length,
};
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
    admitted: Admitted,
    location: String,
}

/// `--github-repo` without a bundle: the attestations are looked up by the payload's
/// SHA-256 once it is hashed (nothing runs before every check passed).
struct GithubLookup {
    /// The repositories trusted (`--github-repo`).
    repos: Vec<TrustedKey>,
    roots: crate::sigstore::Roots,
    net: crate::fetch::NetConfig,
}

/// Everything that will be checked, gathered before the payload is read.
pub struct Evidence {
    subject: String,
    name: String,
    signatures: Vec<SigCheck>,
    list_signature: Option<SigReport>,
    pins: Vec<Pin>,
    github: Option<GithubLookup>,
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
    /// The signer, `KIND:ID` (`minisign:E7620F1842B4E81F`, `openpgp:FINGERPRINT`,
    /// `ssh:SHA256:...`).
    pub signer: String,
    /// `minisign`, `openpgp` or `ssh`.
    pub kind: String,
    /// The key that signed: minisign's 16 hex digits, the OpenPGP (sub)key fingerprint, the
    /// SSH key's `SHA256:` fingerprint.
    pub key_id: String,
    /// How the key was trusted (`--key ...`, `store key NAME`).
    pub key_source: String,
    /// The store name of the key, when it came from the store.
    pub key_name: Option<String>,
    /// The trusted comment (minisign), the signer's user ID (OpenPGP) or the key's comment
    /// (SSH); raw, sanitise before printing.
    pub trusted_comment: String,
    /// The signed time: the trusted comment's `timestamp:`, the OpenPGP creation time.
    pub timestamp: Option<u64>,
    /// Whether the signature was prehashed (false: legacy minisign).
    pub prehashed: bool,
    /// Key and hash algorithms (OpenPGP, SSH).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Sigstore: what the certificate says (identity, issuer, repository, workflow, commit),
    /// the in-toto predicate type, the root that verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigstore: Option<crate::sigstore::Details>,
    /// Other trusted signers whose signatures in the same file verified too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_signed_by: Vec<String>,
    /// Signers of signatures in the file that are not trusted here: ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
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

impl Verified<crate::exec::PayloadFile> {
    /// Seal the payload memfd and re-hash it against the verified SHA-256
    /// ([`crate::exec::PayloadFile::seal_and_check`]): before `run` records or caches
    /// anything, so that a payload changed by a racing writer leaves no trace, and so that
    /// the cache copy and the exec share one re-hash.
    pub fn seal_and_check(&mut self) -> Result<()> {
        self.payload.seal_and_check(&self.report.sha256)
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

/// The report of the signatures of one file that verified (`good` is never empty).
fn sig_report_of(
    good: &[GoodSig],
    ignored: &[String],
    location: String,
    signs: String,
) -> SigReport {
    let g = &good[0];
    SigReport {
        location,
        signs,
        signer: g.key.key.id(),
        kind: g.kind.name().to_string(),
        key_id: g.key_id.clone(),
        key_source: g.key.source.clone(),
        key_name: g.key.store_name.clone(),
        trusted_comment: g.trusted_comment.clone(),
        timestamp: g.created,
        prehashed: g.prehashed,
        algorithm: g.algorithm.clone(),
        sigstore: g.sigstore.as_deref().cloned(),
        also_signed_by: good[1..].iter().map(|o| o.key.key.id()).collect(),
        ignored: ignored.to_vec(),
    }
}

/// The report of a cleartext-signed file's signatures (`good` is never empty).
pub fn cleartext_report(good: &[GoodSig], ignored: &[String], file: &str) -> SigReport {
    sig_report_of(good, ignored, file.to_string(), file.to_string())
}

/// Load and admit the signature at `loc` (named `what`); `None` when it does not exist.
/// A `sibling` (a conventional name looked for, not one given) that is a cleartext-signed
/// message is not a detached signature of the file next to it (Node.js publishes
/// `SHASUMS256.txt.asc`, the list's cleartext-signed copy, beside `SHASUMS256.txt.sig`):
/// it counts as absent, so the next sibling is looked for.
fn load_signature(
    loc: &Location,
    net: &Net,
    ring: &KeyRing,
    url: Option<&HttpUrl>,
    file_name: &str,
    allow_legacy: bool,
    sibling: bool,
) -> Result<Option<SigCheck>> {
    // Bundles (named so, or given with --bundle) are bigger than detached signatures.
    let name = loc.to_string();
    let cap = if crate::sigstore::SUFFIXES.iter().any(|s| name.ends_with(s))
        || name.ends_with(".jsonl")
        || name.ends_with(".json")
    {
        crate::sigstore::MAX_BUNDLE_BYTES
    } else {
        MAX_SIG_FILE_BYTES
    };
    let Some(bytes) = load(loc, net, cap)? else {
        return Ok(None);
    };
    if sibling && openpgp::is_cleartext(&bytes) {
        return Ok(None);
    }
    let file = SigFile::parse(&bytes, &loc.to_string())?;
    let what = match file {
        SigFile::Sigstore(_) => format!("Sigstore bundle {loc}"),
        _ => format!("signature {loc}"),
    };
    let admitted = admit_file(
        &file,
        ring,
        url,
        &Expect {
            what: &what,
            file_name,
            allow_legacy,
        },
    )?;
    Ok(Some(SigCheck {
        admitted,
        location: loc.to_string(),
    }))
}

/// The detached signatures next to `base` for the kinds of key in play: for each kind its
/// conventional siblings in order (`.minisig`; `.asc`, then `.sig`), the first that exists.
/// Returns the signatures found and every location tried.
fn sibling_signatures(
    base: &Location,
    kinds: &[SignerKind],
    net: &Net,
    ring: &KeyRing,
    url: Option<&HttpUrl>,
    file_name: &str,
    allow_legacy: bool,
) -> Result<(Vec<SigCheck>, Vec<Location>)> {
    let mut tried: Vec<(String, bool)> = Vec::new();
    let mut found = Vec::new();
    let mut locations = Vec::new();
    for kind in kinds {
        for suffix in kind.sibling_suffixes() {
            if let Some((_, exists)) = tried.iter().find(|(s, _)| s == suffix) {
                if *exists {
                    break;
                }
                continue;
            }
            let loc = base.with_suffix(suffix);
            locations.push(loc.clone());
            let check = load_signature(&loc, net, ring, url, file_name, allow_legacy, true)?;
            let exists = check.is_some();
            tried.push((suffix.to_string(), exists));
            if let Some(c) = check {
                found.push(c);
                break;
            }
        }
    }
    Ok((found, locations))
}

/// `A`, `A or B`, `A, B or C`.
fn either(locs: &[Location]) -> String {
    let v: Vec<String> = locs.iter().map(Location::to_string).collect();
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        n => format!("{} or {}", v[..n - 1].join(", "), v[n - 1]),
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

    // 1. The payload's signatures: `--sig LOC`, or the siblings for the kinds of key in
    // play (`.minisig`; `.asc`, `.sig`).
    let explicit = plan.sig.is_some() || plan.bundle.is_some();
    let mut missing_sig = None;
    let mut signatures = Vec::new();
    let mut github = None;
    if explicit || ring.wants_signature(url) {
        let mut found = Vec::new();
        let mut tried = Vec::new();
        for loc in plan.sig.iter().chain(plan.bundle.iter()) {
            let check = load_signature(
                loc,
                net,
                ring,
                url,
                &plan.expect_file,
                plan.allow_legacy,
                false,
            )?;
            match check {
                Some(c) => found.push(c),
                None => {
                    payload_exists(&plan.subject, net)?;
                    return Err(Error::refused_for(
                        crate::error::Reason::MissingSignature,
                        format!(
                            "{} {loc} not found",
                            if plan.bundle.as_ref() == Some(loc) {
                                "Sigstore bundle"
                            } else {
                                "signature"
                            }
                        ),
                    )
                    .hint("check --sig / --bundle; every piece of evidence given must be present and pass"));
                }
            }
            tried.push(loc.clone());
        }
        // The siblings of the kinds of key in play that no flag names.
        let kinds: Vec<SignerKind> = ring
            .kinds(url)
            .into_iter()
            .filter(|k| match k {
                SignerKind::Sigstore => plan.bundle.is_none(),
                _ => plan.sig.is_none(),
            })
            .collect();
        if !kinds.is_empty() {
            let (more, more_tried) = sibling_signatures(
                &subject_loc,
                &kinds,
                net,
                ring,
                url,
                &plan.expect_file,
                plan.allow_legacy,
            )?;
            found.extend(more);
            tried.extend(more_tried);
        }
        // `--github-repo` and no bundle: the attestations are looked up once the payload
        // is hashed.
        let repos = ring.github_repos(url);
        let has_bundle = found
            .iter()
            .any(|c| c.admitted.kind() == Some(SignerKind::Sigstore));
        if !repos.is_empty() && !has_bundle {
            github = Some(GithubLookup {
                repos,
                roots: ring.sigstore_roots().clone(),
                net: plan.net.clone(),
            });
        }
        if found.is_empty() && github.is_none() && (explicit || ring.requires_signature(url)) {
            let sig_loc = either(&tried);
            let who = ring.expecting(url);
            let err = Error::refused_for(crate::error::Reason::MissingSignature, if explicit || who.is_empty() {
                format!("signature {sig_loc} not found")
            } else {
                format!("signature {sig_loc} not found, but {who} is trusted for {subject}")
            })
            .hint(
                "a signed release publishes FILE.minisig, FILE.asc or FILE.sig (or a signed checksum list); pass --sig LOC if it lives elsewhere",
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
        }
        signatures = found;
    }

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
        signatures,
        list_signature,
        pins,
        github,
    };
    if evidence.signatures.is_empty()
        && evidence.github.is_none()
        && !evidence.pins.iter().any(|p| p.anchor)
    {
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
    // A cleartext-signed list (`SHASUMS256.txt.asc`) carries its own signatures: checked
    // here, and the entries come from the signed text only.
    let mut signed_by = None;
    let mut list = list;
    if openpgp::is_cleartext(&list) {
        let what = format!("cleartext-signed checksum list {list_loc}");
        let message = openpgp::parse_cleartext(&list).map_err(|e| {
            Error::refused_for(
                crate::error::Reason::MalformedSignature,
                format!("malformed {what}: {}", sanitize(&e)),
            )
            .hint("the list or its signature was altered, or it is not a cleartext-signed message")
        })?;
        let admitted = admit_openpgp(&message.sigs, ring, url, &what)?;
        let good = admitted.decide_cleartext(&message, &what)?;
        signed_by = Some(sig_report_of(
            &good,
            &admitted.ignored,
            list_loc.to_string(),
            list_loc.to_string(),
        ));
        list = message.text;
    }
    // `--checksums-sig LOC`, or the list's siblings for the kinds of key in play. A
    // signature named explicitly must be there (as for `--sig`); siblings are looked for
    // when a key is in play.
    let explicit = plan.checksums_sig.is_some();
    let list_file = list_loc.file_name();
    let (checks, tried) = match &plan.checksums_sig {
        Some(loc) => (
            load_signature(loc, net, ring, url, &list_file, plan.allow_legacy, false)?
                .into_iter()
                .collect(),
            vec![loc.clone()],
        ),
        None if signed_by.is_none() && ring.wants_signature(url) => sibling_signatures(
            list_loc,
            &ring.kinds(url),
            net,
            ring,
            url,
            &list_file,
            plan.allow_legacy,
        )?,
        None => (Vec::new(), Vec::new()),
    };
    if explicit && checks.is_empty() {
        return Err(Error::refused_for(
            crate::error::Reason::MissingSignature,
            format!(
                "signature {} of checksum list {list_loc} not found",
                either(&tried)
            ),
        )
        .hint("check --checksums-sig; every piece of evidence given must be present and pass"));
    }
    for c in checks {
        if let Some(sig) = c.admitted.minisign() {
            check_legacy_length(sig, list.len() as u64, &format!("signature {}", c.location))?;
        }
        let good = c
            .admitted
            .decide_bytes(
                &list,
                plan.allow_legacy,
                &format!("checksum list {list_loc}"),
                &c.location,
            )
            .map_err(|e| {
                if e.reason_code() == Some(crate::error::Reason::BadSignature)
                    && e.message().contains("does not match its signature")
                {
                    Error::refused_for(
                        crate::error::Reason::BadSignature,
                        format!(
                            "checksum list {list_loc} does not match its signature {}",
                            c.location
                        ),
                    )
                    .hint("the list or its signature was altered")
                } else {
                    e
                }
            })?;
        if signed_by.is_none() {
            signed_by = Some(sig_report_of(
                &good,
                &c.admitted.ignored,
                c.location.clone(),
                list_loc.to_string(),
            ));
        }
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

/// What a decision collects: the trust anchors that held, and the report of the first
/// signature (or bundle, or attestation) that verified.
#[derive(Default)]
struct Decision {
    anchors: Vec<String>,
    signature: Option<SigReport>,
}

impl Decision {
    /// `good` verified (named `what` in the anchors: a signature, an attestation), from
    /// `location`, over `subject`.
    fn signed(
        &mut self,
        what: &str,
        good: &[GoodSig],
        ignored: &[String],
        location: String,
        subject: &str,
    ) {
        for g in good {
            self.anchors.push(format!(
                "{what} by {} ({})",
                g.key.key.short_id(),
                g.key.source
            ));
        }
        if self.signature.is_none() {
            self.signature = Some(sig_report_of(good, ignored, location, subject.to_string()));
        }
    }
}

impl Decision {
    /// Decide signature `c` (or bundle) from `digests`; it must verify.
    fn signature(
        &mut self,
        c: &SigCheck,
        digests: crate::scheme::Digests<'_>,
        subject: &str,
    ) -> Result<()> {
        let good = c.admitted.decide(digests, subject, &c.location)?;
        self.signed(
            "signature",
            &good,
            &c.admitted.ignored,
            c.location.clone(),
            subject,
        );
        Ok(())
    }

    /// The `--github-repo` attestations of the payload with these digests must verify.
    fn attested(
        &mut self,
        g: &GithubLookup,
        sha256: &[u8; 32],
        sha512: Option<&[u8; 64]>,
        subject: &str,
    ) -> Result<()> {
        let (good, ignored, location) = github_attestations(g, sha256, sha512, subject)?;
        self.signed("Sigstore attestation", &good, &ignored, location, subject);
        Ok(())
    }
}

/// The refusal for a payload whose `got` digest is not `pin`'s (the caller adds the hint).
fn pin_mismatch(subject: &str, pin: &Pin, got_hex: &str) -> Error {
    Error::refused_for(
        crate::error::Reason::ChecksumMismatch,
        format!(
            "{subject}: {} mismatch with {}: expected {}, got {got_hex}",
            pin.digest.algorithm(),
            pin.source,
            pin.digest.hex(),
        ),
    )
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

/// What one pass over the payload computes: the digests the signatures' schemes and the
/// pins need, nothing more.
struct Pass {
    hashes: Hashes,
    keep_all: bool,
    /// How many of `hashes.feeds` each signature owns, in order.
    feed_counts: Vec<usize>,
}

impl Pass {
    fn new(ev: &Evidence) -> Pass {
        let needs = ev
            .signatures
            .iter()
            .fold(Needs::default(), |n, c| n.union(c.admitted.needs()));
        let mut hashes = Hashes {
            blake2b: needs.blake2b512,
            sha512: needs.sha512
                || ev
                    .pins
                    .iter()
                    .any(|p| matches!(p.digest, Digest::Sha512(_))),
            feeds: Vec::new(),
        };
        // Each signature's own hashers, made once; `feed_counts` says which are whose.
        let mut feed_counts = Vec::with_capacity(ev.signatures.len());
        for c in &ev.signatures {
            let mine = c.admitted.feeds();
            feed_counts.push(mine.len());
            hashes.feeds.extend(mine);
        }
        Pass {
            hashes,
            keep_all: needs.whole,
            feed_counts,
        }
    }
}

/// Refuse a declared length over `--max-size` before the first byte.
fn check_declared(limits: &Limits<'_>) -> Result<()> {
    if let (Some(len), Some(url)) = (limits.declared, limits.url)
        && len > limits.max_size
    {
        return Err(too_large(url, limits.max_size));
    }
    Ok(())
}

/// The error for a pass that failed to read, write or stay under `--max-size`.
fn pump_error(ev: &Evidence, limits: &Limits<'_>, e: PumpError) -> Error {
    match e {
        PumpError::Read(e) => match limits.url {
            Some(u) => read_error(u, &e),
            None => Error::io_at(format!("cannot read {}", ev.subject), &e),
        },
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
    }
}

/// Read the payload from `src` to the end, writing every byte to `sink` while hashing it
/// (SHA-256; BLAKE2b for a prehashed signature; SHA-512 when a pin is one), then check every
/// piece of evidence.
/// `progress` is told the running byte count.
pub fn stream<W: Write>(
    ev: &Evidence,
    src: &mut dyn Read,
    sink: W,
    limits: Limits<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified<W>> {
    check_declared(&limits)?;
    hash_and_decide(ev, Pass::new(ev), src, sink, &limits, progress)
}

/// The streaming pass: every byte written to `sink` and hashed as `pass` says; then decide.
fn hash_and_decide<W: Write>(
    ev: &Evidence,
    pass: Pass,
    src: &mut dyn Read,
    mut sink: W,
    limits: &Limits<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified<W>> {
    let pumped = pump_with(
        src,
        &mut sink,
        pass.hashes,
        pass.keep_all,
        HEAD_BYTES,
        limits.max_size,
        progress,
    )
    .map_err(|e| pump_error(ev, limits, e))?;
    decide(ev, pass.feed_counts, pumped, limits, sink)
}

/// `run`'s pass: like [`stream`], into the payload memfd, but when SHA-256 and BLAKE2b are
/// all the evidence needs, the download only writes the memfd; it is then sealed, and every
/// digest is computed from the sealed bytes, which are exactly the bytes that will run. That
/// is one SHA-256 pass less than hashing the stream and re-hashing the sealed copy
/// ([`crate::exec::PayloadFile::check_sealed`]), and no window between the two. SHA-512
/// and OpenPGP's own hashers cost more after the download than that re-hash, so with them
/// the stream is hashed as [`stream`] does and the sealed copy re-hashed before it runs.
pub fn stream_sealed(
    ev: &Evidence,
    src: &mut dyn Read,
    mut payload: crate::exec::PayloadFile,
    limits: Limits<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Verified<crate::exec::PayloadFile>> {
    check_declared(&limits)?;
    let pass = Pass::new(ev);
    if pass.hashes.sha512 || !pass.hashes.feeds.is_empty() || pass.keep_all {
        return hash_and_decide(ev, pass, src, payload, &limits, progress);
    }
    let total = crate::pump::copy(src, &mut payload, limits.max_size, progress)
        .map_err(|e| pump_error(ev, &limits, e))?;
    if let Some(url) = limits.url {
        check_length(url, limits.declared, total)?;
    }
    payload.seal()?;
    let pumped = pump_with(
        &mut payload.reader(),
        &mut std::io::sink(),
        pass.hashes,
        false,
        HEAD_BYTES,
        u64::MAX,
        &mut |_| {},
    )
    .map_err(|e| match e {
        PumpError::Read(e) => Error::io_at("cannot read the sealed payload", &e),
        other => Error::io(format!("cannot hash the sealed payload: {other:?}")),
    })?;
    if pumped.total != total {
        return Err(Error::io(format!(
            "the sealed payload holds {} bytes, {} were downloaded; nothing was run",
            pumped.total, total
        )));
    }
    let mut verified = decide(ev, pass.feed_counts, pumped, &limits, payload)?;
    // Every digest just decided on is of the sealed bytes themselves.
    let sha256 = verified.report.sha256.clone();
    verified.payload.mark_checked(&sha256);
    Ok(verified)
}

/// Check every piece of evidence against what the pass computed.
fn decide<W>(
    ev: &Evidence,
    feed_counts: Vec<usize>,
    mut pumped: crate::pump::Pumped,
    limits: &Limits<'_>,
    sink: W,
) -> Result<Verified<W>> {
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
    let mut decision = Decision::default();
    let mut feeds = std::mem::take(&mut pumped.feeds).into_iter();
    for (c, n) in ev.signatures.iter().zip(feed_counts) {
        if let Some(sig) = c.admitted.minisign() {
            check_legacy_length(sig, total, &format!("signature {}", c.location))?;
        }
        let digests = pumped.digests(feeds.by_ref().take(n).collect());
        decision.signature(c, digests, &ev.subject)?;
    }
    if let Some(g) = &ev.github {
        decision.attested(g, &digest, pumped.sha512.as_ref(), &ev.subject)?;
    }
    let Decision {
        mut anchors,
        signature: sig_report,
    } = decision;
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
            return Err(pin_mismatch(&ev.subject, pin, &got_hex)
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

/// `verify sha256:HEX` / `verify sha512:HEX`: decide from a digest whose bytes are not at
/// hand. Only Sigstore bundles (and `--github-repo` attestations) can be checked so; pins of
/// the same algorithm are compared. The report's size is 0 and, for a SHA-512 digest, its
/// `sha256` empty.
pub fn decide_digest(ev: &Evidence, digest: Digest) -> Result<Report> {
    let (sha256, sha512) = match digest {
        Digest::Sha256(h) => (Some(h), None),
        Digest::Sha512(h) => (None, Some(h)),
    };
    let mut decision = Decision::default();
    for c in &ev.signatures {
        if c.admitted.kind() != Some(SignerKind::Sigstore) {
            return Err(Error::usage(format!(
                "{}: a digest in place of FILE can only be checked against a Sigstore bundle, and {} is a {} signature, which needs the file's bytes",
                ev.subject,
                c.location,
                c.admitted.kind().map(SignerKind::name).unwrap_or("detached")
            ))
            .hint("verify the file itself: verun verify FILE"));
        }
        for w in c.admitted.sigstore_wants() {
            let (has, name) = match w {
                crate::sigstore::Want::Sha256 => (sha256.is_some(), "SHA-256"),
                crate::sigstore::Want::Sha512 => (sha512.is_some(), "SHA-512"),
            };
            if !has {
                return Err(Error::refused_for(
                    crate::error::Reason::BadSignature,
                    format!(
                        "{}: the bundle {} names the payload by {name}, and the digest given is another",
                        ev.subject, c.location
                    ),
                )
                .hint(format!("pass the {name} digest (or the file itself)")));
            }
        }
        // Checked above: a bundle is only asked for a digest that was given.
        let digests =
            crate::scheme::Digests::given(sha256.as_ref().unwrap_or(&[0; 32]), sha512.as_ref());
        decision.signature(c, digests, &ev.subject)?;
    }
    if let Some(g) = &ev.github {
        let Some(h) = &sha256 else {
            return Err(Error::usage(
                "--github-repo looks attestations up by SHA-256: pass sha256:HEX",
            ));
        };
        decision.attested(g, h, None, &ev.subject)?;
    }
    let Decision {
        mut anchors,
        signature: sig_report,
    } = decision;
    for pin in &ev.pins {
        let got = match pin.digest {
            Digest::Sha256(_) => sha256.map(Digest::Sha256),
            Digest::Sha512(_) => sha512.map(Digest::Sha512),
        };
        let Some(got) = got else {
            return Err(Error::usage(format!(
                "{} cannot be compared with {}: another algorithm",
                pin.source, ev.subject
            )));
        };
        if got != pin.digest {
            return Err(
                pin_mismatch(&ev.subject, pin, &got.hex()).hint("the digest or the pin is wrong")
            );
        }
        if pin.anchor {
            anchors.push(pin.source.clone());
        }
    }
    if anchors.is_empty() {
        return Err(Error::refused_for(
            crate::error::Reason::NoTrustAnchor,
            format!("no trust anchor for {}", ev.subject),
        )
        .hint("pass its Sigstore bundle with --bundle and the signer with --cert-identity ID --cert-oidc-issuer URL"));
    }
    Ok(Report {
        subject: ev.subject.clone(),
        file_name: ev.name.clone(),
        size: 0,
        sha256: sha256.map(|h| to_hex(&h)).unwrap_or_default(),
        sha512: sha512.map(|h| to_hex(&h)),
        signature: sig_report,
        checksums_signature: ev.list_signature.clone(),
        pins: ev.pins.clone(),
        anchors,
    })
}

/// `$VERUN_GITHUB_API` (default `https://api.github.com`).
fn github_api() -> String {
    std::env::var("VERUN_GITHUB_API")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "https://api.github.com".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// Look the attestations of the payload (by SHA-256) up in each `--github-repo` and verify
/// them: those by other signers are ignored; at least one must be by the repository, and
/// every one by it must verify. Returns the good ones, the ignored, and where they came from.
fn github_attestations(
    g: &GithubLookup,
    sha256: &[u8; 32],
    sha512: Option<&[u8; 64]>,
    subject: &str,
) -> Result<(Vec<GoodSig>, Vec<String>, String)> {
    let net = crate::fetch::Net::new(&g.net)?;
    attestations_for(&net, &g.repos, &g.roots, sha256, sha512, subject)
}

/// [`github_attestations`] with a client at hand (`audit`): the attestations of the payload
/// with `sha256` in each repository of `repos`, verified against `roots`.
pub fn attestations_for(
    net: &crate::fetch::Net,
    repos: &[TrustedKey],
    roots: &crate::sigstore::Roots,
    sha256: &[u8; 32],
    sha512: Option<&[u8; 64]>,
    subject: &str,
) -> Result<(Vec<GoodSig>, Vec<String>, String)> {
    let token = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty());
    let mut errors = Vec::new();
    for key in repos {
        let crate::scheme::Signer::Sigstore(trust) = &key.key else {
            continue;
        };
        let crate::sigstore::Trust::GithubRepo(repo) = &**trust else {
            continue;
        };
        let api = github_api();
        let url = HttpUrl::parse(&format!(
            "{api}/repos/{repo}/attestations/sha256:{}",
            to_hex(sha256)
        ))
        .map_err(|e| {
            Error::usage(format!(
                "VERUN_GITHUB_API {}: {}",
                sanitize(&api),
                e.message()
            ))
            .hint("VERUN_GITHUB_API is the base URL of GitHub's REST API (https://api.github.com)")
        })?;
        let Some(bytes) = net.get_api(&url, crate::sigstore::MAX_BUNDLE_BYTES, token.as_deref())?
        else {
            errors.push(format!("{url} has no attestation for it (HTTP 404)"));
            continue;
        };
        let location = url.to_string();
        let bundles = crate::sigstore::parse_bundles(&bytes).map_err(|e| {
            Error::refused_for(
                crate::error::Reason::MalformedSignature,
                format!("malformed attestations from {location}: {}", sanitize(&e)),
            )
            .hint("the API answered something that is not a list of Sigstore bundles; check VERUN_GITHUB_API")
        })?;
        if bundles.is_empty() {
            errors.push(format!("{url} lists no attestation for it"));
            continue;
        }
        let ring = crate::keys::KeyRing::new(
            vec![crate::plan::GivenKey {
                key: key.key.clone(),
                source: key.source.clone(),
            }],
            None,
        )?
        .with_sigstore_roots(roots.clone());
        let what = format!("the attestations at {location}");
        let admitted = crate::scheme::admit_sigstore(&bundles, &ring, None, &what)?;
        let mut good = admitted.decide(
            crate::scheme::Digests::given(sha256, sha512),
            subject,
            &location,
        )?;
        // Reported as trusted: given, or the store entry (whose uses are counted).
        for g in &mut good {
            g.key = key.clone();
        }
        return Ok((good, admitted.ignored.clone(), location));
    }
    Err(Error::refused_for(
        crate::error::Reason::MissingSignature,
        format!("{subject}: no Sigstore attestation found: {}", errors.join("; ")),
    )
    .hint("the repository has not attested this file (gh attestation verify would refuse it too), or pass its bundle with --bundle; GITHUB_TOKEN is sent when set (private repositories)"))
}

impl Evidence {
    /// The first signature's key, when a signature will be checked.
    pub fn signer(&self) -> Option<&TrustedKey> {
        self.signatures.first().map(|c| c.admitted.first_key())
    }

    /// The checksum list's signature, when the list was signed and its signature verified
    /// (checked in [`gather`], before the payload is read).
    pub fn list_signature(&self) -> Option<&SigReport> {
        self.list_signature.as_ref()
    }
}
