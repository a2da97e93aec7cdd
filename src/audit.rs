//! `verun audit LOCKFILE [--json]`: re-fetch every locked URL and report drift.
//!
//! The monitoring command: a publisher runs it on a schedule against their own release URLs,
//! a team against what their CI depends on. For each entry, in lockfile order:
//!
//! 1. When the entry records a signer and that key is known (given with `--key`, or a store
//!    key trusted for the URL), the signature (`URL.minisig`) is fetched and must be a valid
//!    signature by *that* key over the bytes, with a `file:` matching the one recorded
//!    (or the URL's file name). A missing or bad signature, another signer, or a refused
//!    (revoked, out-of-scope) key is `signature failed`. When the key is not known, or the
//!    entry has no signer, only the bytes are compared. A legacy (`Ed`) signature is
//!    verified too (buffered up to the locked size): the entry was recorded with
//!    `--allow-legacy`, and audit reports rather than gates.
//! 2. The payload is fetched (up to 1 GiB, or the locked size if larger) and its SHA-256
//!    and size compared with the entry: `ok` or `drifted` (reporting the new digest).
//! 3. A download that fails (DNS, TLS, HTTP status including 404, truncation, timeout) is
//!    `unreachable`.
//!
//! This module checks and returns an [`AuditReport`]; `app` prints it: one line per entry on
//! stdout as each is checked (`ok` / `drifted` / `unreachable` / `signature failed`, the
//! URL, details), a summary on stderr; with `--json`, one JSON document on stdout instead
//! (the report serialised), e.g.:
//!
//! ```json
//! {"lockfile": "verun.lock", "ok": false, "exit_code": 77,
//!  "summary": {"total": 2, "ok": 1, "drifted": 1, "unreachable": 0, "signature_failed": 0},
//!  "entries": [{"url": "https://…", "status": "drifted", "signature": "verified",
//!               "locked": {"sha256": "…", "size": 12, "signer": "minisign:…",
//!                          "trusted_comment": "…", "verified_at": "…"},
//!               "found": {"sha256": "…", "size": 13}, "detail": "…"}]}
//! ```
//!
//! Exit status: 77 if anything drifted or failed signature verification, else 69 if any
//! entry was unreachable, else 0. A malformed lockfile is 78 (a missing one 74), and an
//! `http://` entry without `--allow-http` is 64, before anything is fetched.

use serde::Serialize;

use crate::checksums::to_hex;
use crate::error::{Error, Kind, Result};
use crate::fetch::{Net, NetConfig, check_length, read_error};
use crate::keys::{KeyRing, KeyStore, StoreVerdict};
use crate::location::HttpUrl;
use crate::lock::{Entry, Lockfile};
use crate::minisig::TrustedFields;
use crate::plan::{GivenKey, parse_key_arg, parse_timeout};
use crate::pump::{Hashes, PumpError, pump_with};
use crate::scheme::{
    Admitted, Expect, MAX_SIG_FILE_BYTES, SigFile, admit_file, check_legacy_length,
};
use crate::term::sanitize;

/// What `verun audit` was asked to do, as plain data.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// The lockfile to audit.
    pub lockfile: std::path::PathBuf,
    /// `-k KEY` values, besides the key store.
    pub keys: Vec<String>,
    /// `--timeout SECS`.
    pub timeout: Option<f64>,
    /// `--cacert PEM`.
    pub cacert: Option<std::path::PathBuf>,
    /// `--allow-http`.
    pub allow_http: bool,
}

/// The verdict on one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Same bytes; signature verified or not checkable.
    Ok,
    /// Different bytes (or size).
    Drifted,
    /// The download failed.
    Unreachable,
    /// A known signer's signature is missing or does not verify.
    SignatureFailed,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Drifted => "drifted",
            Status::Unreachable => "unreachable",
            Status::SignatureFailed => "signature failed",
        }
    }
}

/// What happened to the signature of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SigStatus {
    /// Verified under the recorded signer's key.
    Verified,
    /// Missing, invalid, or by another key.
    Failed,
    /// Not checked: no signer recorded, or the key is not known here.
    Unchecked,
}

/// The bytes found.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    /// SHA-256 (hex) of what was read.
    pub sha256: String,
    /// Bytes read (reading stops past 1 GiB, or past the locked size if that is larger).
    pub size: u64,
}

/// One audited entry.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The locked URL.
    pub url: String,
    /// The verdict.
    pub status: Status,
    /// The signature's part of it.
    pub signature: SigStatus,
    /// The lock entry.
    pub locked: Entry,
    /// What was downloaded, when the download completed.
    pub found: Option<Found>,
    /// Why, in words (sanitised).
    pub detail: Option<String>,
}

/// Counts by status.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    /// Entries audited.
    pub total: usize,
    /// `ok`.
    pub ok: usize,
    /// `drifted`.
    pub drifted: usize,
    /// `unreachable`.
    pub unreachable: usize,
    /// `signature failed`.
    pub signature_failed: usize,
}

impl Summary {
    /// The exit code: 77 drift or signature failure, else 69 unreachable, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.drifted > 0 || self.signature_failed > 0 {
            Kind::Refused.exit_code()
        } else if self.unreachable > 0 {
            Kind::Download.exit_code()
        } else {
            0
        }
    }
}

/// The whole audit, for `--json` and the summary line.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// The lockfile audited (as given).
    pub lockfile: String,
    /// Whether everything was `ok`.
    pub ok: bool,
    /// The exit code ([`Summary::exit_code`]).
    pub exit_code: u8,
    /// Counts.
    pub summary: Summary,
    /// Every entry, in lockfile (URL) order.
    pub entries: Vec<Outcome>,
}

impl AuditReport {
    /// The one-line summary (for stderr).
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "audit {}: {} entr{}: {} ok, {} drifted, {} unreachable, {} signature failed",
            sanitize(&self.lockfile),
            s.total,
            if s.total == 1 { "y" } else { "ies" },
            s.ok,
            s.drifted,
            s.unreachable,
            s.signature_failed
        )
    }
}

/// Audit the lockfile `a.lockfile`. `store` is the key store, when there is one, for signer
/// keys not given with `--key`. `on_entry` sees each outcome as soon as it is known (the
/// caller prints [`Outcome::line`]s as they come). Errors (78 malformed, 74 missing, 64 an
/// `http://` entry without `--allow-http`) come before anything is fetched.
pub fn audit(
    a: &AuditOptions,
    store: Option<&dyn KeyStore>,
    on_entry: &mut dyn FnMut(&Outcome),
) -> Result<AuditReport> {
    let keys = a
        .keys
        .iter()
        .map(|k| parse_key_arg(k))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let file = match Lockfile::load(&a.lockfile)? {
        Some(f) => f,
        None => {
            return Err(
                Error::io(format!("lockfile {} does not exist", a.lockfile.display()))
                    .hint("audit the lockfile written by `verun run|fetch URL --lock FILE`"),
            );
        }
    };
    let mut urls = Vec::new();
    for url in file.entries.keys() {
        let u = HttpUrl::parse(url)?;
        if !u.is_https() && !a.allow_http {
            return Err(
                Error::usage(format!("{} locks plain http URL {u}", a.lockfile.display()))
                    .hint("pass --allow-http to audit it (verification is still required)"),
            );
        }
        urls.push(u);
    }
    let mut extra_roots: Vec<std::path::PathBuf> = a.cacert.iter().cloned().collect();
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        extra_roots.push(f.into());
    }
    let net = Net::new(&NetConfig {
        allow_http: a.allow_http,
        timeout: a.timeout.map(parse_timeout).transpose()?,
        extra_roots,
    })?;
    let mut entries = Vec::new();
    let mut summary = Summary::default();
    for (url, entry) in urls.iter().zip(file.entries.values()) {
        let o = audit_one(&net, url, entry, &keys, store);
        summary.total += 1;
        match o.status {
            Status::Ok => summary.ok += 1,
            Status::Drifted => summary.drifted += 1,
            Status::Unreachable => summary.unreachable += 1,
            Status::SignatureFailed => summary.signature_failed += 1,
        }
        on_entry(&o);
        entries.push(o);
    }
    let exit_code = summary.exit_code();
    Ok(AuditReport {
        lockfile: a.lockfile.to_string_lossy().into_owned(),
        ok: exit_code == 0,
        exit_code,
        summary,
        entries,
    })
}

impl Outcome {
    /// The entry's line for stdout: status, URL, details (sanitised).
    pub fn line(&self) -> String {
        let url = sanitize(&self.url);
        let detail = self.detail.as_deref().unwrap_or("");
        format!("{:<17} {url}  {detail}", self.status.label())
            .trim_end()
            .to_string()
    }
}

fn short(hex: &str) -> &str {
    &hex[..hex.len().min(16)]
}

/// How the recorded signer is known here.
enum Signer {
    Known(crate::scheme::Signer, String),
    Unknown,
    Refused(Error),
}

fn find_signer(id: &str, url: &HttpUrl, keys: &[GivenKey], store: Option<&dyn KeyStore>) -> Signer {
    let given = keys.iter().find(|g| g.key.id() == id);
    let stored = store.and_then(|s| s.signer(id));
    if let Some(err) = given
        .map(|g| &g.key)
        .or(stored.as_ref())
        .and_then(|k| store.and_then(|s| s.refuses_given(k)))
    {
        return Signer::Refused(err);
    }
    if let Some(g) = given {
        return Signer::Known(g.key.clone(), g.source.clone());
    }
    match store.map(|s| s.lookup_signer(id, Some(url))) {
        Some(StoreVerdict::Trusted(k)) => Signer::Known(k.key, k.source),
        // Revoked and rotated-out keys were refused above. A store key that does not cover
        // this URL (another scope, expired) vouches for nothing here: the entry may have
        // been recorded with `--key`, so its signature cannot be checked, only its bytes.
        Some(StoreVerdict::Refused(_)) | Some(StoreVerdict::Unknown) | None => {
            // A Sigstore identity is named in full by its id (issuer and SAN, or the
            // repository): the bundle is re-checked against it and the compiled-in root.
            // A keyed bundle's id is only the key's fingerprint.
            match id
                .strip_prefix("sigstore:")
                .filter(|t| !t.starts_with("key:"))
                .and_then(|t| crate::sigstore::Trust::from_text(t).ok())
            {
                Some(t) => Signer::Known(
                    crate::scheme::Signer::Sigstore(Box::new(t)),
                    "the lock entry's Sigstore identity".to_string(),
                ),
                None => Signer::Unknown,
            }
        }
    }
}

/// Whether `key` is a GitHub repository (its attestations may be looked up by digest).
fn is_repo(key: &crate::scheme::Signer) -> bool {
    matches!(key, crate::scheme::Signer::Sigstore(t) if matches!(**t, crate::sigstore::Trust::GithubRepo(_)))
}

/// A signature fetched and checked up to the point where the payload is needed.
struct PendingSig {
    admitted: Admitted,
    location: HttpUrl,
    key: crate::scheme::Signer,
    source: String,
}

fn audit_one(
    net: &Net,
    url: &HttpUrl,
    entry: &Entry,
    keys: &[GivenKey],
    store: Option<&dyn KeyStore>,
) -> Outcome {
    let mut out = Outcome {
        url: url.given().to_string(),
        status: Status::Ok,
        signature: SigStatus::Unchecked,
        locked: entry.clone(),
        found: None,
        detail: None,
    };
    let fail = |mut o: Outcome, status: Status, sig: SigStatus, detail: String| {
        o.status = status;
        o.signature = sig;
        o.detail = Some(sanitize(&detail));
        o
    };

    // 1. The signature, when the recorded signer is known here.
    let mut pending = None;
    // A GitHub repository with no bundle next to the URL: its attestations, once hashed.
    let mut github = None;
    let mut unchecked_why = "no signer recorded; bytes compared only".to_string();
    if let Some(id) = entry.signer.as_deref() {
        match find_signer(id, url, keys, store) {
            Signer::Unknown => {
                unchecked_why = format!("signer {id} not known here; bytes compared only");
            }
            Signer::Refused(e) => {
                return fail(
                    out,
                    Status::SignatureFailed,
                    SigStatus::Failed,
                    e.message().to_string(),
                );
            }
            Signer::Known(key, source) => match fetch_signature(net, url, entry, &key) {
                Ok(None) => {
                    github = Some(crate::keys::TrustedKey {
                        key,
                        source,
                        store_name: None,
                    });
                }
                Ok(Some((admitted, location))) => {
                    pending = Some(PendingSig {
                        admitted,
                        location,
                        key,
                        source,
                    })
                }
                Err(e) if e.kind() == Kind::Download => {
                    return fail(
                        out,
                        Status::Unreachable,
                        SigStatus::Unchecked,
                        e.message().to_string(),
                    );
                }
                Err(e) => {
                    return fail(
                        out,
                        Status::SignatureFailed,
                        SigStatus::Failed,
                        e.message().to_string(),
                    );
                }
            },
        }
    }

    // 2. The payload.
    let (found, sig_ok) = match fetch_payload(net, url, entry, pending.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                out,
                Status::Unreachable,
                SigStatus::Unchecked,
                e.message().to_string(),
            );
        }
    };
    let drifted = found.sha256 != entry.sha256 || found.size != entry.size;
    let attested = github.as_ref().map(|key| {
        let sha = crate::checksums::parse_hex32(&found.sha256).unwrap_or([0; 32]);
        crate::verify::attestations_for(
            net,
            std::slice::from_ref(key),
            &crate::sigstore::Roots::builtin(),
            &sha,
            None,
            url.as_str(),
        )
        .map(|(_, _, location)| {
            format!(
                "Sigstore attestation at {location} by {}",
                key.key.describe()
            )
        })
        .map_err(|e| e.message().to_string())
    });
    out.signature = match (&pending, sig_ok, &attested) {
        (None, _, Some(Ok(_))) => SigStatus::Verified,
        (None, _, Some(Err(_))) => SigStatus::Failed,
        (None, _, None) => SigStatus::Unchecked,
        (Some(_), true, _) => SigStatus::Verified,
        (Some(_), false, _) => SigStatus::Failed,
    };
    let sig_note = match (&pending, sig_ok) {
        (None, _) => match attested {
            Some(Ok(note)) | Some(Err(note)) => note,
            None => unchecked_why,
        },
        (Some(p), true) => format!("signature by {} ({})", p.key.short_id(), p.source),
        (Some(p), false) => format!(
            "the signature {} does not verify under {}",
            p.location,
            p.key.describe()
        ),
    };
    out.detail = Some(sanitize(&if drifted {
        out.status = Status::Drifted;
        let more = if found.size > entry.size.max(crate::plan::DEFAULT_MAX_SIZE) {
            " or more"
        } else {
            ""
        };
        format!(
            "locked sha256 {}… ({} bytes), now {}… ({}{more} bytes); {sig_note}",
            short(&entry.sha256),
            entry.size,
            short(&found.sha256),
            found.size
        )
    } else if out.signature == SigStatus::Failed {
        out.status = Status::SignatureFailed;
        sig_note
    } else {
        format!("sha256 {}…; {sig_note}", short(&found.sha256))
    }));
    out.found = Some(found);
    out
}

/// Fetch and check the signature next to `url` (`.minisig`; `.asc`, `.sig`; `.sigstore.json`,
/// `.sigstore`, as the signer's kind publishes it) as far as it can be checked without the
/// payload. `Ok(None)`: none is there, and `key` is a GitHub repository, whose attestations
/// are then looked up by digest.
fn fetch_signature(
    net: &Net,
    url: &HttpUrl,
    entry: &Entry,
    key: &crate::scheme::Signer,
) -> Result<Option<(Admitted, HttpUrl)>> {
    let mut found = None;
    let mut tried = Vec::new();
    let cap = if key.kind() == crate::scheme::SignerKind::Sigstore {
        crate::sigstore::MAX_BUNDLE_BYTES
    } else {
        MAX_SIG_FILE_BYTES
    };
    for suffix in key.kind().sibling_suffixes() {
        let sig_url = url.with_suffix(suffix);
        if let Some(bytes) = net.get_small(&sig_url, cap)? {
            found = Some((bytes, sig_url));
            break;
        }
        tried.push(sig_url.to_string());
    }
    let Some((bytes, sig_url)) = found else {
        if is_repo(key) {
            return Ok(None);
        }
        return Err(Error::refused(format!(
            "signature {} not found, but the entry was signed by {}",
            tried.join(" or "),
            key.describe()
        )));
    };
    let file = SigFile::parse(&bytes, &sig_url.to_string())?;
    // The one signature policy, with the recorded signer as the only key: another signer
    // is refused, and so is a `file:` other than the one recorded (or the URL's name). A
    // legacy signature is allowed: the entry was recorded with --allow-legacy, and audit
    // reports rather than gates.
    let expected = entry
        .trusted_comment
        .as_deref()
        .and_then(|tc| TrustedFields::parse(tc).file)
        .unwrap_or_else(|| url.file_name());
    let recorded = KeyRing::new(
        vec![GivenKey {
            key: key.clone(),
            source: "the lock entry's signer".to_string(),
        }],
        None,
    )?;
    let admitted = admit_file(
        &file,
        &recorded,
        Some(url),
        &Expect {
            what: &format!("signature {sig_url}"),
            file_name: &expected,
            allow_legacy: true,
        },
    )?;
    Ok(Some((admitted, sig_url)))
}

/// Download the payload, reading at most the cap (1 GiB or more), hashing as it goes;
/// with a signature, also verify it. Returns what was found and whether the signature held.
fn fetch_payload(
    net: &Net,
    url: &HttpUrl,
    entry: &Entry,
    sig: Option<&PendingSig>,
) -> Result<(Found, bool)> {
    let mut resp = net
        .open(url)?
        .ok_or_else(|| Error::download(format!("{url} answered HTTP 404 (not found)")))?;
    let declared = resp.content_length;
    let final_url = resp.url.clone();
    // Read it all (so a drifted entry reports the new digest), up to the default size cap.
    let cap = entry
        .size
        .saturating_add(1)
        .max(crate::plan::DEFAULT_MAX_SIZE);
    // One pass through the same loop as `run`/`fetch` (hashes on their own threads). A
    // legacy signature covers the raw bytes, which must then be kept: only up to the locked
    // size plus one byte (anything longer has drifted anyway).
    let needs = sig.map(|p| p.admitted.needs()).unwrap_or_default();
    let legacy = needs.whole;
    let limit = if legacy {
        entry.size.saturating_add(1).min(cap)
    } else {
        cap
    };
    let mut reader = std::io::Read::take(resp.reader(), limit);
    let hashes = Hashes {
        blake2b: needs.blake2b512,
        sha512: needs.sha512,
        feeds: sig.map(|p| p.admitted.feeds()).unwrap_or_default(),
    };
    let mut pumped = pump_with(
        &mut reader,
        &mut std::io::sink(),
        hashes,
        legacy,
        0,
        u64::MAX,
        &mut |_| {},
    )
    .map_err(|e| match e {
        PumpError::Read(e) => read_error(&final_url, &e),
        PumpError::Write(e) => Error::io_at("cannot hash the payload", &e),
        PumpError::TooLarge => Error::download(format!("{final_url}: larger than expected")),
    })?;
    let total = pumped.total;
    if total < limit {
        check_length(&final_url, declared, total)?;
    }
    let sig_ok = match sig {
        None => true,
        Some(_) if total >= limit => false,
        Some(p) => {
            p.admitted
                .minisign()
                .is_none_or(|s| check_legacy_length(s, total, "the signature").is_ok())
                && p.admitted
                    .decide(
                        {
                            let feeds = std::mem::take(&mut pumped.feeds);
                            pumped.digests(feeds)
                        },
                        url.as_str(),
                        p.location.as_str(),
                    )
                    .is_ok()
        }
    };
    Ok((
        Found {
            sha256: to_hex(&pumped.sha256),
            size: total,
        },
        sig_ok,
    ))
}
