//! `verun verify FILE`: verify a local file; runs nothing. A cleartext-signed FILE
//! (`-----BEGIN PGP SIGNED MESSAGE-----`, as Debian's `InRelease` or a `.dsc`) carries its
//! own signatures: they are verified in place, and `-o` writes the signed text.

use std::io::{Read, Write};

use crate::cli::VerifyArgs;
use verun::checksums::{Digest, to_hex};
use verun::error::{Error, Result};
use verun::openpgp;
use verun::plan::{Plan, Subject};
use verun::verify::{self, Limits, Pin, PinOrigin, Report};

use super::shared::*;

/// Largest cleartext-signed file verified in place (Debian's `InRelease` files are well
/// under 1 MiB).
const MAX_CLEARTEXT_BYTES: u64 = 64 * 1024 * 1024;

/// `sha256:HEX` / `sha512:HEX` in place of FILE (and no file of that name).
fn digest_arg(file: &std::path::Path) -> Option<Digest> {
    if file.exists() {
        return None;
    }
    let s = file.to_str()?;
    if let Some(h) = s.strip_prefix("sha256:") {
        return verun::checksums::parse_hex32(h).map(Digest::Sha256);
    }
    s.strip_prefix("sha512:")
        .and_then(verun::checksums::parse_hex64)
        .map(Digest::Sha512)
}

pub(super) fn verify_file(a: VerifyArgs) -> Result<u8> {
    let plan = Plan::new(Subject::File(a.file.clone()), &a.verify.plan_options())?;
    verun::lock::LockCheck::open(&plan)?; // --lock is for URLs: a usage error here
    let session = Session::open(&plan)?;
    if let Some(digest) = digest_arg(&a.file) {
        if plan.bundle.is_none() && plan.sig.is_none() && !plan.keys.iter().any(|k| {
            matches!(&k.key, verun::scheme::Signer::Sigstore(t) if matches!(**t, verun::sigstore::Trust::GithubRepo(_)))
        }) {
            return Err(Error::usage(format!(
                "verify {}: a digest in place of FILE needs its Sigstore bundle: --bundle LOC (or --github-repo)",
                a.file.display()
            ))
            .hint("verun verify sha256:HEX --bundle B.sigstore.json --cert-identity ID --cert-oidc-issuer URL"));
        }
        if plan.checksums.is_some() || a.output.is_some() {
            return Err(Error::usage(
                "a digest in place of FILE takes neither --checksums nor -o",
            ));
        }
        let ring = session.ring(&plan)?;
        let evidence = verify::gather(&plan, &ring, &session.net, Vec::new())?;
        let report = verify::decide_digest(&evidence, digest)?;
        session.record_use(&report);
        report_notes(plan.quiet, &report);
        if a.json {
            print_json(&report, None);
        }
        return Ok(0);
    }
    if plan.sig.is_none() && is_cleartext_file(&a.file)? {
        return verify_cleartext(&a, &plan, &session);
    }
    if let Some(o) = &a.output {
        return Err(Error::usage(format!(
            "verify -o {}: -o writes the signed text of a cleartext-signed file, and {} is not one",
            o.display(),
            a.file.display()
        ))
        .hint("to save a download once verified, use `verun fetch URL -o PATH`"));
    }
    let ring = session.ring(&plan)?;
    let evidence = verify::gather(&plan, &ring, &session.net, Vec::new())?;
    let mut f = std::fs::File::open(&a.file)
        .map_err(|e| Error::io_at(format!("cannot open {}", a.file.display()), &e))?;
    let verified = verify::stream(
        &evidence,
        &mut f,
        std::io::sink(),
        Limits {
            max_size: plan.max_size,
            declared: None,
            url: None,
            origins: &[],
        },
        &mut |_| {},
    )?;
    session.record_use(verified.report());
    report_notes(plan.quiet, verified.report());
    if a.json {
        print_json(verified.report(), None);
    }
    Ok(0)
}

/// Whether the file starts like a cleartext-signed message.
fn is_cleartext_file(path: &std::path::Path) -> Result<bool> {
    let mut head = Vec::with_capacity(64);
    match std::fs::File::open(path) {
        Ok(f) => {
            f.take(64)
                .read_to_end(&mut head)
                .map_err(|e| Error::io_at(format!("cannot read {}", path.display()), &e))?;
            Ok(openpgp::is_cleartext(&head))
        }
        // The normal path reports a missing file with its own words.
        Err(_) => Ok(false),
    }
}

fn verify_cleartext(a: &VerifyArgs, plan: &Plan, session: &Session) -> Result<u8> {
    let shown = a.file.display().to_string();
    // A bad -o is a usage error before anything is checked.
    if let Some(out) = a
        .output
        .as_deref()
        .filter(|o| *o != std::path::Path::new("-"))
    {
        verun::plan::output_dir(out)?;
    }
    if plan.checksums.is_some() {
        return Err(Error::usage(format!(
            "{shown} is cleartext-signed: it carries its own signatures, and --checksums does not apply"
        ))
        .hint("verify it with --key CERT (or a store key); --sha256 pins the signed text"));
    }
    let bytes = verun::plan::read_small_file(&a.file, MAX_CLEARTEXT_BYTES.min(plan.max_size))?;
    let what = format!("cleartext-signed {shown}");
    let message = openpgp::parse_cleartext(&bytes).map_err(|e| {
        Error::refused_for(
            verun::error::Reason::MalformedSignature,
            format!("malformed {what}: {}", verun::term::sanitize(&e)),
        )
        .hint("the file or its signature was altered, or it is not a cleartext-signed message")
    })?;
    let ring = session.ring(plan)?;
    let admitted = verun::scheme::admit_openpgp(&message.sigs, &ring, None, &what)?;
    let good = admitted.decide_cleartext(&message, &what)?;
    use sha2::Digest as _;
    let sha256: [u8; 32] = sha2::Sha256::digest(&message.text).into();
    // SHA-512 only when pinned.
    let sha512: Option<[u8; 64]> = plan
        .sha512
        .map(|_| sha2::Sha512::digest(&message.text).into());
    let mut pins = Vec::new();
    let wanted = [
        plan.sha256
            .map(|w| ("--sha256", Digest::Sha256(w), Digest::Sha256(sha256))),
        plan.sha512
            .zip(sha512)
            .map(|(w, g)| ("--sha512", Digest::Sha512(w), Digest::Sha512(g))),
    ];
    for (flag, want, got) in wanted.into_iter().flatten() {
        if want != got {
            return Err(Error::refused_for(
                verun::error::Reason::ChecksumMismatch,
                format!(
                    "{shown}: {} mismatch with {flag}: expected {}, the signed text has {}",
                    want.algorithm(),
                    want.hex(),
                    got.hex()
                ),
            )
            .hint("the signed text changed or the pin is wrong"));
        }
        pins.push(Pin {
            digest: want,
            source: flag.to_string(),
            anchor: true,
            list_origins: Vec::new(),
            origin: PinOrigin::Flag,
        });
    }
    let report = Report {
        subject: shown.clone(),
        file_name: plan.expect_file.clone(),
        size: message.text.len() as u64,
        sha256: to_hex(&sha256),
        sha512: sha512.map(|d| to_hex(&d)),
        signature: Some(verify::cleartext_report(&good, &admitted.ignored, &shown)),
        checksums_signature: None,
        anchors: good
            .iter()
            .map(|g| format!("signature by {} ({})", g.key.key.short_id(), g.key.source))
            .chain(pins.iter().map(|p| p.source.clone()))
            .collect(),
        pins,
    };
    if let Some(out) = &a.output {
        write_text(out, &message.text)?;
    }
    session.record_use(&report);
    report_notes(plan.quiet, &report);
    if a.json {
        print_json(&report, a.output.as_deref());
    }
    Ok(0)
}

/// Write the verified text to `out`: stdout for `-`, else as `fetch -o` saves (the same
/// checks of the path and its directory, a private locked partial file next to it, flushed,
/// renamed into place, the inode at `out` checked).
fn write_text(out: &std::path::Path, text: &[u8]) -> Result<()> {
    if out == std::path::Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(text)
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::io_at("cannot write the verified text to stdout", &e));
    }
    let dir = verun::plan::output_dir(out)?;
    let mut tmp = verun::partial::create(&dir)?;
    tmp.write_all(text)
        .map_err(|e| Error::io_at(format!("cannot write {}", out.display()), &e))?;
    verun::partial::persist(tmp, out, 0o644)
}
