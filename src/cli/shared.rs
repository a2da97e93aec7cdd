//! What every verifying command shares: the session (network client and key store), the
//! download through the verifier, rollback checks, recording an accepted payload, and the
//! notes and warnings a person sees on stderr.

use std::io::Write;
use std::path::Path;

use verun::error::{Error, Result};
use verun::exec::PayloadFile;
use verun::fetch::Net;
use verun::keys::{KeyRing, KeyStore};
use verun::location::HttpUrl;
use verun::paths::Paths;
use verun::plan::Plan;
use verun::progress::{self, Progress};
use verun::store::Store;
use verun::term::sanitize;
use verun::verify::{self, Limits, Report, Verified};
use verun::write_behind::WriteBehind;

/// The state shared by one verifying command: the network client and the key store.
pub(super) struct Session {
    pub(super) net: Net,
    pub(super) store: Option<Store>,
    /// Whether key uses are counted in the store (off with `run --no-cache`, which writes
    /// nothing but the temporary payload).
    pub(super) count_uses: bool,
}

impl Session {
    pub(super) fn open(plan: &Plan) -> Result<Session> {
        warn_unsafe(&plan_flags(plan));
        Ok(Session {
            net: Net::new(&plan.net)?,
            store: open_store()?,
            count_uses: true,
        })
    }

    /// The keys for this call: `--key` (with certificates downloaded from `--key
    /// https://...`, narrowed by `--fingerprint`) and the store.
    pub(super) fn ring(&self, plan: &Plan) -> Result<KeyRing<'_>> {
        let ring = KeyRing::new(
            verun::keys::given_keys(plan, &self.net)?,
            self.store.as_ref().map(|s| s as &dyn KeyStore),
        )?;
        Ok(match &plan.trusted_root {
            Some(roots) => ring.with_sigstore_roots(roots.clone()),
            None => ring,
        })
    }

    /// Count a use of the store key that signed `report`'s payload. Failing to record it is a
    /// warning: the verification itself succeeded.
    pub(super) fn record_use(&self, report: &Report) {
        let Some(store) = &self.store else {
            return;
        };
        if !self.count_uses {
            return;
        }
        for sig in [&report.signature, &report.checksums_signature]
            .into_iter()
            .flatten()
        {
            let Some(name) = &sig.key_name else {
                continue;
            };
            if let Err(e) = store.record_use(&sig.signer) {
                warn(&format!(
                    "cannot record the use of key {name} in the key store: {}",
                    e.message()
                ));
            }
        }
    }
}

/// The key store, when verun has a home for it (without one there is no store to load).
pub(super) fn open_store() -> Result<Option<Store>> {
    match Paths::resolve() {
        Ok(paths) => Store::open(&paths).map(Some),
        Err(_) => Ok(None),
    }
}

pub(super) fn plan_flags(plan: &Plan) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    if plan.allow_legacy {
        v.push((
            "--allow-legacy",
            "legacy signatures are accepted (the payload is buffered in memory)",
        ));
    }
    if plan.net.allow_http {
        v.push((
            "--allow-http",
            "plain http is permitted: anyone on the path can see and block the download",
        ));
    }
    if plan.allow_downgrade {
        v.push((
            "--allow-downgrade",
            "older signed releases are accepted: rollback protection is off",
        ));
    }
    v
}

/// Unsafe escape hatches are loud: one warning each, even with --quiet.
pub(super) fn warn_unsafe(flags: &[(&str, &str)]) {
    for (flag, what) in flags {
        warn(&format!("{flag}: {what}"));
    }
}

/// The one printer of notes: `verun: TEXT`, one line, capped ([`verun::term::one_line`]).
pub(super) fn note(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("verun: {}", verun::term::one_line(text));
    }
}

/// The one printer of warnings (also with --quiet): `verun: warning: TEXT`, one line, capped.
pub(super) fn warn(text: &str) {
    eprintln!("verun: warning: {}", verun::term::one_line(text));
}

pub(super) fn report_notes(quiet: bool, r: &Report) {
    if quiet {
        return;
    }
    note(
        false,
        &format!(
            "verified {} ({} bytes, sha256 {})",
            r.subject, r.size, r.sha256
        ),
    );
    let signature_notes = |s: &verun::verify::SigReport, signed: &str, comment: &str| {
        if let Some(d) = &s.sigstore {
            note(
                false,
                &format!(
                    "  {signed} by {} ({}; {}{})",
                    sanitize(&s.signer),
                    sanitize(&s.key_source),
                    d.trusted_root,
                    s.timestamp
                        .map(|t| format!(", signed {}", verun::time::rfc3339(t as i64)))
                        .unwrap_or_default()
                ),
            );
            let mut what = Vec::new();
            if let Some(i) = &d.identity {
                what.push(format!("identity {}", sanitize(i)));
            }
            if let Some(i) = &d.issuer {
                what.push(format!("issuer {}", sanitize(i)));
            }
            if let Some(r) = &d.repository {
                what.push(format!("built in {}", sanitize(r)));
            }
            if let Some(c) = &d.commit {
                what.push(format!("commit {}", sanitize(c)));
            }
            if let Some(p) = &d.predicate_type {
                what.push(format!("attests {}", sanitize(p)));
            }
            if !what.is_empty() {
                note(false, &format!("  certificate: {}", what.join(", ")));
            }
            if !s.ignored.is_empty() {
                note(
                    false,
                    &format!(
                        "  ignored: bundle{} by {} (not trusted here)",
                        if s.ignored.len() == 1 { "" } else { "s" },
                        s.ignored.join(", ")
                    ),
                );
            }
        } else if s.kind == "minisign" {
            note(
                false,
                &format!(
                    "  {signed} by key {} ({}){}",
                    s.key_id,
                    sanitize(&s.key_source),
                    if s.prehashed { "" } else { ", legacy" }
                ),
            );
            note(
                false,
                &format!(
                    "  {comment}: {}",
                    sanitize(&s.trusted_comment.replace('\t', "  "))
                ),
            );
        } else {
            let who = if s.trusted_comment.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", sanitize(&s.trusted_comment))
            };
            let key = if s.signer.ends_with(&s.key_id) {
                String::new()
            } else {
                format!(", subkey {}", s.key_id)
            };
            note(
                false,
                &format!(
                    "  {signed} by {}{who} ({}{key}{}{})",
                    s.signer,
                    sanitize(&s.key_source),
                    s.algorithm
                        .as_deref()
                        .map(|a| format!(", {a}"))
                        .unwrap_or_default(),
                    s.timestamp
                        .map(|t| format!(", made {}", verun::time::rfc3339(t as i64)))
                        .unwrap_or_default()
                ),
            );
            for other in &s.also_signed_by {
                note(false, &format!("  also signed by {other}"));
            }
            if !s.ignored.is_empty() {
                note(
                    false,
                    &format!(
                        "  ignored: signature{} by {} (not trusted here)",
                        if s.ignored.len() == 1 { "" } else { "s" },
                        s.ignored.join(", ")
                    ),
                );
            }
        }
    };
    if let Some(s) = &r.signature {
        signature_notes(s, "signature", "trusted comment");
    }
    if let Some(s) = &r.checksums_signature {
        signature_notes(s, "checksum list signed", "list's trusted comment");
    }
    if let Some(h) = &r.sha512 {
        note(false, &format!("  sha512 {h}"));
    }
    for p in &r.pins {
        note(
            false,
            &format!("  {} matches {}", p.digest.field(), sanitize(&p.source)),
        );
    }
}

/// Where [`download`] writes the payload.
pub(super) trait Sink: Write + Sized {
    /// Told the length the server declares (at most `--max-size`) before the first byte.
    fn expect_len(&mut self, _len: u64) -> Result<()> {
        Ok(())
    }

    /// The verifying pass into this sink.
    fn stream(
        self,
        ev: &verify::Evidence,
        src: &mut dyn std::io::Read,
        limits: Limits<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Verified<Self>> {
        verify::stream(ev, src, self, limits, progress)
    }
}

/// `run`'s memfd reserves nothing: that would take memory up front for a length the server
/// merely claims. Its pass hashes the sealed memfd where that costs less than hashing the
/// stream and re-hashing the sealed copy (`verify::stream_sealed`).
impl Sink for PayloadFile {
    fn stream(
        self,
        ev: &verify::Evidence,
        src: &mut dyn std::io::Read,
        limits: Limits<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Verified<Self>> {
        verify::stream_sealed(ev, src, self, limits, progress)
    }
}

/// `fetch -o -` holds the download in an unnamed temporary file, reserving nothing.
impl Sink for std::fs::File {}

/// `fetch -o` checks the file system has room for the declared length, so a full disk stops
/// it before the download, and allocates blocks only a bounded window ahead of the bytes
/// received (see `write_behind`).
impl Sink for WriteBehind<tempfile::NamedTempFile> {
    fn expect_len(&mut self, len: u64) -> Result<()> {
        self.reserve(len).map_err(|e| {
            let dir = self.get_ref().path().parent().unwrap_or(Path::new("."));
            Error::io_at(
                format!(
                    "no room for the {} download in {}",
                    verun::fetch::human(len),
                    dir.display()
                ),
                &e,
            )
            .hint("free some space there, or save elsewhere with -o")
        })
    }
}

pub(super) fn download<W: Sink>(
    plan: &Plan,
    session: &Session,
    url: &HttpUrl,
    mut sink: W,
    lock_pins: Vec<verify::Pin>,
) -> Result<Verified<W>> {
    session.net.check_scheme(url)?;
    let ring = session.ring(plan)?;
    let evidence = verify::gather(plan, &ring, &session.net, lock_pins)?;
    let mut resp = session.net.open(url)?.ok_or_else(|| {
        Error::download(format!("{url} answered HTTP 404 (not found)")).hint("check the URL")
    })?;
    let bar = Progress::new(
        progress::enabled(plan.quiet),
        resp.content_length,
        &url.file_name(),
    );
    let declared = resp.content_length;
    if let Some(len) = declared.filter(|&n| n <= plan.max_size) {
        sink.expect_len(len)?;
    }
    let final_url = resp.url.clone();
    let hops = resp.hops.clone();
    let verified = sink.stream(
        &evidence,
        resp.reader(),
        Limits {
            max_size: plan.max_size,
            declared,
            url: Some(&final_url),
            origins: &hops,
        },
        &mut |n| bar.set(n),
    )?;
    bar.finish();
    session.record_use(verified.report());
    Ok(verified)
}

pub(super) fn print_json(report: &Report, output: Option<&Path>) {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("ok".into(), true.into());
        if let Some(o) = output {
            obj.insert("output".into(), o.to_string_lossy().into_owned().into());
        }
    }
    println!("{v}");
}

/// The lock entry's pin for the verifier (none when unlocked or `--update-lock`).
pub(super) fn lock_pins(lock: Option<&verun::lock::LockCheck>) -> Vec<verify::Pin> {
    lock.map(|l| l.pins()).unwrap_or_default()
}

/// Rollback protection, after verification and before anything is used: every signature
/// that vouches for the payload (its own, keyed by the payload's URL; a signed checksum
/// list's, keyed by the list's URL) is checked. Warnings (a timestamp far in the future, an
/// accepted downgrade) are printed even with --quiet.
pub(super) fn check_rollback(
    plan: &Plan,
    url: &HttpUrl,
    report: &Report,
) -> Result<Vec<verun::rollback::Mark>> {
    use verun::rollback::Signed;
    let mut pieces = Vec::new();
    if let Some(s) = &report.signature {
        pieces.push(Signed {
            key_id: s.signer.clone(),
            url: url.as_str().to_string(),
            timestamp: s.timestamp,
            what: format!("signature of {url}"),
        });
    }
    // A list read from a local file has no URL: like `verify FILE`, nothing to key it by.
    if let Some(s) = &report.checksums_signature
        && let Ok(list_url) = HttpUrl::parse(&s.signs)
    {
        pieces.push(Signed {
            key_id: s.signer.clone(),
            url: list_url.as_str().to_string(),
            timestamp: s.timestamp,
            what: format!("checksum list signature of {list_url}"),
        });
    }
    if pieces.is_empty() {
        return Ok(Vec::new());
    }
    let paths = Paths::resolve()?;
    let checked = verun::rollback::check(
        &paths.state,
        &pieces,
        plan.allow_downgrade,
        verun::time::now_secs(),
    )?;
    for w in &checked.warnings {
        warn(w);
    }
    Ok(checked.marks)
}

/// What an accepted payload leaves behind besides the lockfile.
pub(super) struct Keep<'a> {
    /// The payload to cache (`run` without `--no-cache`).
    pub(super) cache: Option<&'a PayloadFile>,
    /// Whether to save the rollback mark (not with `--no-cache`).
    pub(super) state: bool,
}

/// Record an accepted payload: the lockfile entry (an error fails the call: nothing runs
/// or is saved), then the rollback mark and the cache (failures there are warnings).
pub(super) fn accept(
    plan: &Plan,
    url: &HttpUrl,
    lock: Option<&verun::lock::LockCheck>,
    marks: Vec<verun::rollback::Mark>,
    report: &Report,
    keep: Keep<'_>,
) -> Result<()> {
    use verun::lock::Recorded;
    if let Some(lock) = lock {
        let path = lock.path().display();
        match lock.record(report)? {
            Recorded::Added => note(plan.quiet, &format!("locked {url} in {path}")),
            Recorded::Updated => note(plan.quiet, &format!("updated the lock of {url} in {path}")),
            Recorded::Unchanged => {}
        }
    }
    for mark in marks.iter().filter(|_| keep.state) {
        if let Err(e) = mark.save() {
            warn(&format!(
                "cannot remember the signature's timestamp (rollback protection): {}",
                e.message()
            ));
        }
    }
    if let Some(payload) = keep.cache {
        let stored = Paths::resolve()
            .and_then(|p| verun::cache::Cache::new(&p.cache).store(url.as_str(), payload, report));
        if let Err(e) = stored {
            warn(&format!("cache: {}", e.message()));
        }
    }
    Ok(())
}
