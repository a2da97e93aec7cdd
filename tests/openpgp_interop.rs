//! Differential tests of verun's OpenPGP verifier (`verun::openpgp`, library level) against
//! the real implementations: GnuPG (`gpg` makes the corpus, `gpgv` judges it) and Sequoia
//! (`sq` makes keys, signatures and revocations; `sqv` judges detached signatures, and
//! `sq verify` cleartext ones, which `sqv` cannot read).
//!
//! The corpus is generated once per test run ([`corpus`], a `OnceLock`) in a private
//! GnuPG home under the system temporary directory; the secret keys never leave it, and it
//! is deleted (after stopping its `gpg-agent`) as soon as the public certificates,
//! signatures and documents have been copied to `target/tmp/openpgp-interop-PID/` (the
//! directories of test processes no longer running are removed). Keys are made
//! 60 days in the past with `--faked-system-time`, so signatures can be placed before and
//! after expiries and revocations.
//!
//! Every case has an expected decision taken from `SPEC.md` ("Per scheme ... OpenPGP"), and
//! names the oracles that are valid for it: `gpgv` never judges expiry at signing time,
//! revocations, SHA-1 or RSA-1024, nor accepts a file where one signature's key is missing;
//! `sqv` checks signature liveness against the present with a 30-minute tolerance (verun
//! allows a day), and succeeds as soon as one signature is good, where verun requires
//! every signature by a trusted key to be good. Each test asserts that verun's decision is
//! the expected one **and** that every valid oracle reached it too (so a corpus that was not
//! built as intended fails instead of passing), and prints the table
//! `case | expected | verun | gpgv | sqv` when anything differs.
//!
//! The real third-party signatures of `../shared/vectors/openpgp/` (`cases.json`) are
//! checked here as well, through the same API, together with one-byte changes of each.
//!
//! v6 keys and signatures (and v4 Ed25519 in the RFC 9580 encoding), which no Debian tool
//! makes yet, come from rPGP through its Python binding `rpgp-py` (`tests/openpgp_rpgp.py`;
//! the Python is `$VERUN_RPGP_PYTHON`, else `python3`), which is then their oracle.
//!
//! A missing `gpg`, `gpgv`, `sq` or `sqv` skips the corpus tests loudly, and fails them when
//! `CI` is `true` or under `VERUN_REQUIRE_OPENPGP_ORACLES=1`; a missing `rpgp-py` skips the v6
//! test (fails under `VERUN_REQUIRE_RPGP=1`); missing vectors skip (or fail under
//! `VERUN_REQUIRE_VECTORS=1`).

#[path = "common/skip.rs"]
#[allow(dead_code)]
mod skip;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::Digest as _;
use skip::{Need, skipped};
use verun::openpgp::{self, Cert, Fingerprint, HashAlgo, Hasher, Outcome, Sig};

const DAY: u64 = 86_400;
const SWITCH: &str = "VERUN_REQUIRE_OPENPGP_ORACLES";

// ---------------------------------------------------------------------------------------
// verun's decision, through the library API

/// What verun decides about a file: accepted (by these signers) or refused (why).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    /// Every signature by a trusted key verified, and there was at least one: the
    /// (primary, signing key) fingerprints of the good ones.
    Accepted(Vec<(String, String)>),
    /// Refused: the first reason.
    Refused(String),
    /// The API panicked or two of its paths disagreed: always a failure.
    Broken(String),
}

impl Decision {
    fn accepted(&self) -> Option<bool> {
        match self {
            Decision::Accepted(_) => Some(true),
            Decision::Refused(_) => Some(false),
            Decision::Broken(_) => None,
        }
    }

    fn cell(&self) -> String {
        match self {
            Decision::Accepted(by) => format!("accept ({} good)", by.len()),
            Decision::Refused(why) => format!("refuse: {why}"),
            Decision::Broken(why) => format!("BROKEN: {why}"),
        }
    }
}

/// SPEC's rule for a file's signatures: those by keys not trusted are ignored, at least one
/// by a trusted key must verify, and every one by a trusted key must.
fn decide(outcomes: &[Outcome]) -> Decision {
    let mut good = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Unknown => {}
            Outcome::Good(g) => good.push((g.primary.to_hex(), g.signing_key.to_hex())),
            Outcome::Bad { reason, .. } => return Decision::Refused(reason.clone()),
        }
    }
    if good.is_empty() {
        Decision::Refused("no signature by a trusted key".into())
    } else {
        Decision::Accepted(good)
    }
}

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Unknown => "unknown",
        Outcome::Good(_) => "good",
        Outcome::Bad { .. } => "bad",
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

thread_local! {
    /// Set while [`guarded`] runs: the panic is reported in the table, not on stderr.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, turning a panic of the API into [`Decision::Broken`].
fn guarded(f: impl FnOnce() -> Decision) -> Decision {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| g.get()) {
                default(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    match r {
        Ok(d) => d,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Decision::Broken(format!("panicked: {msg}"))
        }
    }
}

fn parse_keyrings(keyrings: &[Vec<u8>]) -> Result<Vec<Cert>, String> {
    let mut certs = Vec::new();
    for k in keyrings {
        certs.extend(openpgp::parse_certs(k).map_err(|e| format!("certificate: {e}"))?);
    }
    Ok(certs)
}

/// verun's decision on a detached signature over `data`. Each signature is decided three
/// ways, which must agree: [`openpgp::verify_bytes`]; [`openpgp::verify`] with the document
/// fed to [`Sig::hasher`] in 7-byte chunks (a CR of a CRLF pair at a chunk's end included);
/// and, where [`Sig::plain`] allows, a continued plain SHA-256/SHA-512 state.
fn verun_detached(sig: &[u8], data: &[u8], keyrings: &[Vec<u8>], now: u64) -> Decision {
    guarded(|| {
        let certs = match parse_keyrings(keyrings) {
            Ok(c) => c,
            Err(e) => return Decision::Refused(e),
        };
        let sigs = match openpgp::parse_signatures(sig) {
            Ok(s) => s,
            Err(e) => return Decision::Refused(format!("signature: {e}")),
        };
        let mut outcomes = Vec::new();
        for s in &sigs {
            let whole = openpgp::verify_bytes(s, data, &certs, now);
            if let Some(disagree) = streamed_disagreement(s, data, &certs, now, &whole) {
                return Decision::Broken(disagree);
            }
            outcomes.push(whole);
        }
        decide(&outcomes)
    })
}

fn streamed_disagreement(
    s: &Sig,
    data: &[u8],
    certs: &[Cert],
    now: u64,
    whole: &Outcome,
) -> Option<String> {
    if let Ok(mut h) = s.hasher() {
        for chunk in data.chunks(7) {
            h.update(chunk);
        }
        let streamed = openpgp::verify(s, h, certs, now);
        if kind(&streamed) != kind(whole) {
            return Some(format!(
                "verify_bytes says {}, verify over 7-byte chunks says {}",
                kind(whole),
                kind(&streamed)
            ));
        }
    }
    let continued = match s.plain() {
        Some(HashAlgo::Sha256) => {
            Some(Hasher::continue_sha256(sha2::Sha256::new_with_prefix(data)))
        }
        Some(HashAlgo::Sha512) => Some(Hasher::continue_sha512({
            let mut s = ring::digest::Context::new(&ring::digest::SHA512);
            s.update(data);
            s
        })),
        _ => None,
    };
    if let Some(h) = continued {
        let o = openpgp::verify(s, h, certs, now);
        if kind(&o) != kind(whole) {
            return Some(format!(
                "verify_bytes says {}, a continued plain hash says {}",
                kind(whole),
                kind(&o)
            ));
        }
    }
    None
}

/// verun's decision on a cleartext-signed message; `text` is the signed text verun must
/// hand on (`None`: not checked).
fn verun_cleartext(file: &[u8], keyrings: &[Vec<u8>], now: u64, text: Option<&[u8]>) -> Decision {
    guarded(|| {
        let certs = match parse_keyrings(keyrings) {
            Ok(c) => c,
            Err(e) => return Decision::Refused(e),
        };
        let ct = match openpgp::parse_cleartext(file) {
            Ok(c) => c,
            Err(e) => return Decision::Refused(format!("cleartext: {e}")),
        };
        let outcomes: Vec<Outcome> = (0..ct.sigs.len())
            .map(|i| ct.verify(i, &certs, now))
            .collect();
        let d = decide(&outcomes);
        if let (Decision::Accepted(_), Some(want)) = (&d, text)
            && ct.text != want
        {
            return Decision::Broken(format!(
                "signed text handed on is {:?}, expected {:?}",
                String::from_utf8_lossy(&ct.text),
                String::from_utf8_lossy(want)
            ));
        }
        d
    })
}

// ---------------------------------------------------------------------------------------
// The generated corpus

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Good,
    Tampered,
    Weak,
    Validity,
    Keyrings,
    Cleartext,
}

/// Whether an oracle's verdict counts for a case, and if not, why.
#[derive(Clone, Copy, Debug)]
enum Oracle {
    Valid,
    NotFor(&'static str),
}

const GPGV_NO_EXPIRY: &str = "gpgv does not judge key expiry at signing time (vectors README)";
const GPGV_NO_REVOCATION: &str = "gpgv accepts signatures by revoked keys and subkeys";
const GPGV_WEAK: &str = "gpgv accepts SHA-1 and RSA-1024";
const GPGV_FUTURE: &str = "gpgv does not compare the creation time with the present";
const GPGV_MISSING_KEY: &str =
    "gpgv fails (exit 2) when any signature's key is missing; SPEC ignores untrusted signers";
const GPGV_LENIENT_FRAMING: &str = "gpgv verifies a cleartext message amid other text";
const SQV_FUTURE: &str =
    "sqv judges liveness against now with 30 minutes of tolerance; SPEC allows a day";
const SQV_ANY_GOOD: &str =
    "sqv succeeds when one signature is good; SPEC requires every trusted one to be";

enum Input {
    Detached {
        sig: PathBuf,
        data: PathBuf,
    },
    Cleartext {
        file: PathBuf,
        text: Option<Vec<u8>>,
    },
}

struct Case {
    name: String,
    group: Group,
    input: Input,
    /// Binary keyrings (`gpg --export`, `sq key extract-cert -B`), all trusted.
    keyrings: Vec<PathBuf>,
    /// SPEC's decision: accepted or refused.
    expect: bool,
    /// For accepted cases: the (primary, signing key) fingerprints that must be reported.
    signers: Vec<(String, String)>,
    gpgv: Oracle,
    sqv: Oracle,
    /// Exit status 0 of `gpgv` and of `sqv` (`sq verify` for cleartext): accepted.
    gpgv_accepts: Option<bool>,
    sqv_accepts: Option<bool>,
    /// A third oracle's name and verdict, valid where present (rPGP for v6).
    other: Option<(&'static str, Option<bool>)>,
    /// Set when the oracles show the case was not built as intended.
    note: Option<String>,
}

struct Corpus {
    now: u64,
    cases: Vec<Case>,
}

/// Where this process's corpus is kept.
fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("openpgp-interop-{}", std::process::id()))
}

/// Removes the corpora of earlier runs whose process is gone (a concurrent run keeps its own).
fn remove_stale_corpora() {
    let Ok(entries) = fs::read_dir(env!("CARGO_TARGET_TMPDIR")) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name
            .strip_prefix("openpgp-interop-")
            .or_else(|| name.strip_prefix("openpgp-v6-"))
            && pid.parse::<u32>().is_ok()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The corpus, built on first use; `Err` when a tool is missing or generation failed.
fn corpus() -> &'static Result<Corpus, String> {
    static CORPUS: OnceLock<Result<Corpus, String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        for tool in ["gpg", "gpgv", "sq", "sqv", "gpgconf"] {
            if !tool_present(tool) {
                return Err(format!("`{tool}` not found (Debian: gnupg, gpgv, sq, sqv)"));
            }
        }
        let t = std::time::Instant::now();
        let c = build();
        if let Ok(c) = &c {
            eprintln!(
                "openpgp corpus: {} cases in {:.1} s",
                c.cases.len(),
                t.elapsed().as_secs_f64()
            );
        }
        c
    })
}

fn tool_present(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds `t` (what `sq --time` takes).
fn iso(t: u64) -> String {
    verun::time::rfc3339_utc(t)
}

/// A throw-away GnuPG home holding the secret keys.
struct Gpg {
    home: PathBuf,
}

impl Gpg {
    fn cmd(&self, at: Option<u64>) -> Command {
        let mut c = Command::new("gpg");
        c.args(["--batch", "--no-tty", "--quiet", "--homedir"])
            .arg(&self.home)
            .args(["--pinentry-mode", "loopback", "--passphrase", ""]);
        if let Some(t) = at {
            c.arg("--faked-system-time").arg(format!("{t}!"));
        }
        c
    }

    fn gpg(&self, at: Option<u64>, args: &[&str]) -> Result<Output, String> {
        run(self.cmd(at).args(args))
    }

    /// (primary fingerprint, subkey fingerprints) of the key whose user ID has `email`.
    fn fingerprints(&self, email: &str) -> Result<(String, Vec<String>), String> {
        let out = self.gpg(
            None,
            &["--with-colons", "--list-keys", &format!("<{email}>")],
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (mut primary, mut subs, mut last) = (None, Vec::new(), "");
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            match f[0] {
                "pub" | "sub" => last = f[0],
                "fpr" if last == "pub" && primary.is_none() => primary = Some(f[9].to_string()),
                "fpr" if last == "sub" => subs.push(f[9].to_string()),
                _ => {}
            }
        }
        Ok((primary.ok_or(format!("no key for {email}"))?, subs))
    }

    fn export(&self, fprs: &[&str], out: &Path) -> Result<PathBuf, String> {
        let mut args = vec!["--export"];
        args.extend(fprs);
        let o = self.gpg(None, &args)?;
        if o.stdout.is_empty() {
            return Err(format!("gpg --export {fprs:?} is empty"));
        }
        fs::write(out, &o.stdout).map_err(|e| e.to_string())?;
        Ok(out.to_path_buf())
    }

    /// Signs `input` into `out` with each key of `keys` (exact key, `FPR!`), at `at`.
    fn sign(
        &self,
        at: Option<u64>,
        keys: &[&str],
        opts: &[&str],
        input: &Path,
        out: &Path,
    ) -> Result<PathBuf, String> {
        let mut c = self.cmd(at);
        for k in keys {
            c.arg("-u").arg(format!("{k}!"));
        }
        c.args(opts).arg("-o").arg(out).arg(input);
        run(&mut c)?;
        Ok(out.to_path_buf())
    }

    /// Imports a revocation made by `sq revoke` with the secret key exported from here.
    fn sq_revoke(&self, fpr: &str, args: &[&str], at: u64) -> Result<(), String> {
        let sec = self.home.join(format!("{fpr}.sec"));
        let key = self.gpg(None, &["--export-secret-keys", fpr])?;
        fs::write(&sec, key.stdout).map_err(|e| e.to_string())?;
        let rev = self.home.join(format!("{fpr}.rev.asc"));
        let (what, rest) = args.split_first().expect("revoke what");
        let o = run(Command::new("sq")
            .args(["revoke", what, "--certificate"])
            .arg(&sec)
            .args(["--time", &iso(at)])
            .args(rest))?;
        // sq writes the certificate with its secret key and the revocation: imported here,
        // then deleted.
        fs::write(&rev, o.stdout).map_err(|e| e.to_string())?;
        self.gpg(None, &["--import", &rev.display().to_string()])?;
        let _ = fs::remove_file(&sec);
        let _ = fs::remove_file(&rev);
        Ok(())
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A fixed, incompressible-looking document.
fn binary_document() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..40_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A text with everything cleartext framing must get right: dash-escaped lines (one that
/// looks like an armor header), `From ` lines, trailing spaces and tabs, a blank line made
/// of whitespace.
const TEXT: &str = "SHA256 checksums\n\
- a line that starts with a dash\n\
-----BEGIN PGP SIGNATURE-----\n\
From the release manager\n\
trailing spaces   \n\
trailing tab\t\n\
   \n\
\n\
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  tool.tar.gz\n";

/// [`TEXT`] as verun must hand it on: trailing whitespace removed from every line.
fn text_handed_on() -> Vec<u8> {
    let mut out = String::new();
    for line in TEXT.lines() {
        out.push_str(line.trim_end_matches([' ', '\t']));
        out.push('\n');
    }
    out.into_bytes()
}

fn flip(src: &Path, offset: impl Fn(&[u8]) -> usize, out: &Path) -> Result<PathBuf, String> {
    let mut b = fs::read(src).map_err(|e| e.to_string())?;
    let at = offset(&b);
    b[at] ^= 0x01;
    fs::write(out, b).map_err(|e| e.to_string())?;
    Ok(out.to_path_buf())
}

/// The offset of the last byte of a binary v4 signature packet's hashed subpacket area.
fn hashed_area_end(b: &[u8]) -> usize {
    let header = match b[0] {
        0x88 => 2,
        0x89 => 3,
        0x8a => 5,
        0xc2 if b[1] < 192 => 2,
        0xc2 if b[1] < 224 => 3,
        _ => 6,
    };
    let len = usize::from(b[header + 4]) << 8 | usize::from(b[header + 5]);
    header + 6 + len - 1
}

/// What SPEC decides for a case.
enum Expect {
    /// Accepted, by these (primary, signing key) fingerprints (empty: not checked).
    Accept(Vec<(String, String)>),
    Refuse,
}

/// The cases being built.
#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    fn add(
        &mut self,
        name: &str,
        group: Group,
        input: Input,
        keyrings: &[&PathBuf],
        e: Expect,
    ) -> &mut Case {
        let (expect, signers) = match e {
            Expect::Accept(by) => (true, by),
            Expect::Refuse => (false, Vec::new()),
        };
        self.0.push(Case {
            name: name.into(),
            group,
            input,
            keyrings: keyrings.iter().map(|k| k.to_path_buf()).collect(),
            expect,
            signers,
            gpgv: Oracle::Valid,
            sqv: Oracle::Valid,
            gpgv_accepts: None,
            sqv_accepts: None,
            other: None,
            note: None,
        });
        self.0.last_mut().expect("just pushed")
    }
}

impl Case {
    fn not_gpgv(&mut self, why: &'static str) -> &mut Case {
        self.gpgv = Oracle::NotFor(why);
        self
    }

    fn not_sqv(&mut self, why: &'static str) -> &mut Case {
        self.sqv = Oracle::NotFor(why);
        self
    }
}

fn det(sig: &Path, data: &Path) -> Input {
    Input::Detached {
        sig: sig.to_path_buf(),
        data: data.to_path_buf(),
    }
}

fn clear(file: &Path, text: Option<Vec<u8>>) -> Input {
    Input::Cleartext {
        file: file.to_path_buf(),
        text,
    }
}

/// Accepted, by the primary key `fpr` itself.
fn by(fpr: &str) -> Expect {
    Expect::Accept(vec![(fpr.to_string(), fpr.to_string())])
}

fn write(path: PathBuf, bytes: impl AsRef<[u8]>) -> Result<PathBuf, String> {
    fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The keys, all made at t0 in one batch: name, then key parameters.
const KEYS: &[(&str, &str)] = &[
    (
        "rsa2048",
        "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\n",
    ),
    (
        "rsa3072",
        "Key-Type: RSA\nKey-Length: 3072\nKey-Usage: sign\n",
    ),
    (
        "rsa4096",
        "Key-Type: RSA\nKey-Length: 4096\nKey-Usage: sign\n",
    ),
    (
        "rsa1024",
        "Key-Type: RSA\nKey-Length: 1024\nKey-Usage: sign\n",
    ),
    ("ed25519", ED25519),
    (
        "p256",
        "Key-Type: ECDSA\nKey-Curve: nistp256\nKey-Usage: sign\n",
    ),
    (
        "p384",
        "Key-Type: ECDSA\nKey-Curve: nistp384\nKey-Usage: sign\n",
    ),
    // A certification-only primary with a signing subkey (two more are added later).
    (
        "sub",
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\n\
         Subkey-Type: eddsa\nSubkey-Curve: ed25519\nSubkey-Usage: sign\n",
    ),
    (
        "subexp",
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\n\
         Subkey-Type: eddsa\nSubkey-Curve: ed25519\nSubkey-Usage: sign\n",
    ),
    ("exp", ED25519),
    ("revgpg", ED25519),
    ("revc", ED25519),
    ("retired", ED25519),
    ("other", ED25519),
    ("unknown", ED25519),
];
const ED25519: &str = "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n";

fn build() -> Result<Corpus, String> {
    use Expect::Refuse;
    use Group::*;
    let now = now();
    let t0 = now - 60 * DAY;
    let tmp = tempfile::Builder::new()
        .prefix("verun-gpg")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let perms = |p: &Path| fs::set_permissions(p, fs::Permissions::from_mode(0o700));
    perms(tmp.path()).map_err(|e| e.to_string())?;
    let g = Gpg {
        home: tmp.path().to_path_buf(),
    };
    let out = corpus_dir();
    remove_stale_corpora();
    let gpgv_home = out.join("gpgv-home");
    fs::create_dir_all(&gpgv_home).map_err(|e| e.to_string())?;
    perms(&gpgv_home).map_err(|e| e.to_string())?;
    let p = |name: &str| out.join(name);

    let mut params = String::from("%no-protection\n");
    for (name, kp) in KEYS {
        write!(
            params,
            "{kp}Name-Real: {name}\nName-Email: {name}@example.org\nExpire-Date: 0\n%commit\n"
        )
        .unwrap();
    }
    let pfile = write(g.home.join("params"), params)?;
    g.gpg(Some(t0), &["--gen-key", &pfile.display().to_string()])?;
    let fpr = |name: &str| g.fingerprints(&format!("{name}@example.org"));
    let f: std::collections::HashMap<&str, String> = KEYS
        .iter()
        .map(|(n, _)| Ok((*n, fpr(n)?.0)))
        .collect::<Result<_, String>>()?;
    let sub = &f["sub"];
    // Two more signing subkeys on `sub`, a day later: S2 will be revoked as compromised,
    // S3 retired.
    for _ in 0..2 {
        g.gpg(
            Some(t0 + DAY),
            &["--quick-add-key", sub, "ed25519", "sign", "0"],
        )?;
    }
    let (_, subkeys) = fpr("sub")?;
    let [s1, s2, s3] = subkeys.as_slice() else {
        return Err(format!("sub has subkeys {subkeys:?}"));
    };
    let (ed, exp) = (&f["ed25519"], &f["exp"]);

    // Documents.
    let data = write(p("data.bin"), binary_document())?;
    let text = write(p("text.txt"), TEXT)?;
    let text_crlf = write(p("text-crlf.txt"), TEXT.replace('\n', "\r\n"))?;
    let data_changed = flip(&data, |b| b.len() / 2, &p("data-one-byte-changed.bin"))?;
    let other_doc = write(p("other.txt"), "another document\n")?;

    // Signatures, in an order that respects what each key could do at the time: all before
    // the revocations and the expiry are added, except `before_expiry`.
    let sign = |at: Option<u64>, k: &str, opts: &[&str], doc: &Path, name: &str| {
        g.sign(at, &[k], opts, doc, &p(name))
    };
    let d2 = Some(t0 + 2 * DAY);
    let d20 = Some(t0 + 20 * DAY);
    let b256 = ["--digest-algo", "SHA256", "-b"];
    let s1_sig = sign(d2, s1, &b256, &data, "subkey.sig")?;
    let s2_sig = sign(d2, s2, &b256, &data, "subkey-compromised.sig")?;
    let s3_sig = sign(d2, s3, &b256, &data, "subkey-retired-later.sig")?;
    let s3_late = sign(d20, s3, &b256, &data, "subkey-retired-before.sig")?;
    let revgpg_sig = sign(d2, &f["revgpg"], &b256, &data, "revoked-gpg.sig")?;
    let revc_sig = sign(d2, &f["revc"], &b256, &data, "revoked-compromised.sig")?;
    let ret_early = sign(d2, &f["retired"], &b256, &data, "retired-later.sig")?;
    let ret_late = sign(d20, &f["retired"], &b256, &data, "retired-before.sig")?;
    // `exp`: a signature at t0+20d while the key has no expiry; at t0+1d its only
    // self-signature is replaced (gpg keeps just the newest) by one expiring at t0+8d; then
    // a signature at t0+2d.
    let after_expiry = sign(d20, exp, &b256, &data, "after-expiry.sig")?;
    let before_binding = sign(Some(t0 + DAY / 2), exp, &b256, &data, "before-binding.sig")?;
    g.gpg(Some(t0 + DAY), &["--quick-set-expire", exp, "7d"])?;
    let before_expiry = sign(d2, exp, &b256, &data, "before-expiry.sig")?;
    let before_creation = sign(
        Some(t0 - 10 * DAY),
        ed,
        &["--ignore-time-conflict", "-b"],
        &data,
        "before-creation.sig",
    )?;
    let critical = sign(
        None,
        ed,
        &["--sig-notation", "!release@example.org=1.0", "-b"],
        &data,
        "critical-notation.sig",
    )?;
    let notation = sign(
        None,
        ed,
        &["--sig-notation", "release@example.org=1.0", "-b"],
        &data,
        "notation.sig",
    )?;
    // `subexp`: the same for a signing subkey.
    let (subexp, subexp_subs) = fpr("subexp")?;
    let subexp_sub = subexp_subs.first().ok_or("subexp has no subkey")?;
    let after_sub_expiry = sign(d20, subexp_sub, &b256, &data, "after-subkey-expiry.sig")?;
    g.gpg(
        Some(t0 + DAY),
        &["--quick-set-expire", &subexp, "7d", subexp_sub],
    )?;
    let before_sub_expiry = sign(d2, subexp_sub, &b256, &data, "before-subkey-expiry.sig")?;
    let future_2h = sign(Some(now + 2 * 3600), ed, &b256, &data, "future-2h.sig")?;
    let future_30d = sign(Some(now + 30 * DAY), ed, &b256, &data, "future-30d.sig")?;
    let sig_expired = sign(
        d20,
        ed,
        &["--default-sig-expire", "1d", "-b"],
        &data,
        "sig-expired.sig",
    )?;
    let sig_live = sign(
        d20,
        ed,
        &["--default-sig-expire", "1y", "-b"],
        &data,
        "sig-expires.sig",
    )?;
    let sha1 = sign(
        None,
        ed,
        &["--digest-algo", "SHA1", "-b"],
        &data,
        "sha1.sig",
    )?;
    let sha1_rsa = sign(
        None,
        &f["rsa2048"],
        &["--digest-algo", "SHA1", "-b"],
        &data,
        "sha1-rsa.sig",
    )?;
    let r1024 = sign(None, &f["rsa1024"], &b256, &data, "rsa1024.sig")?;
    let two = g.sign(
        None,
        &[ed, &f["unknown"]],
        &["-b"],
        &data,
        &p("two-signers.sig"),
    )?;
    let other_sig = sign(None, &f["rsa2048"], &["-b"], &other_doc, "other.sig")?;
    let clearsign = |k: &[&str], hash: &str, name: &str| {
        g.sign(
            None,
            k,
            &["--clearsign", "--digest-algo", hash],
            &text,
            &p(name),
        )
    };
    let c_ed = clearsign(&[ed], "SHA256", "clear-ed25519.asc")?;
    let c_rsa = clearsign(&[&f["rsa4096"]], "SHA512", "clear-rsa4096.asc")?;
    let c_p384 = clearsign(&[&f["p384"]], "SHA384", "clear-p384.asc")?;
    let c_sub = clearsign(&[s1], "SHA256", "clear-subkey.asc")?;
    let c_two = clearsign(&[ed, &f["unknown"]], "SHA256", "clear-two.asc")?;
    let c_sha1 = clearsign(&[ed], "SHA1", "clear-sha1.asc")?;

    // Revocations: S2 compromised at t0+3d, S3 retired at t0+10d (sq); `revgpg` by the
    // revocation certificate gpg made with the key (no reason); `revc` compromised and
    // `retired` retired at t0+10d (sq).
    g.sq_revoke(
        sub,
        &["subkey", s2, "compromised", "key material leaked"],
        t0 + 3 * DAY,
    )?;
    g.sq_revoke(
        sub,
        &["subkey", s3, "retired", "no longer used"],
        t0 + 10 * DAY,
    )?;
    let rev_file = g.home.join(format!("openpgp-revocs.d/{}.rev", f["revgpg"]));
    let rev = String::from_utf8(read(&rev_file)?).map_err(|e| e.to_string())?;
    let rev_import = write(
        g.home.join("revgpg.rev"),
        rev.replace(":-----BEGIN", "-----BEGIN"),
    )?;
    g.gpg(None, &["--import", &rev_import.display().to_string()])?;
    g.sq_revoke(
        &f["revc"],
        &["certificate", "compromised", "key material leaked"],
        t0 + 10 * DAY,
    )?;
    g.sq_revoke(
        &f["retired"],
        &["certificate", "retired", "moved on"],
        t0 + 10 * DAY,
    )?;

    // Certificates, exported once everything above is in them.
    let mut k = std::collections::HashMap::new();
    for (name, _) in KEYS {
        k.insert(*name, g.export(&[&f[name]], &p(&format!("{name}.gpg")))?);
    }
    let ring = g.export(&[&f["rsa2048"], &f["p256"], ed], &p("keyring.gpg"))?;
    let ed_armored = write(
        p("ed25519.asc"),
        g.gpg(None, &["--armor", "--export", ed])?.stdout,
    )?;

    let mut cs = Cases::default();

    // --- good signatures: every algorithm and hash, binary and armored, text mode.
    let good: &[(&str, &str, &str, bool)] = &[
        ("rsa2048", "SHA256", "-b", false),
        ("rsa3072", "SHA384", "-ab", false),
        ("rsa4096", "SHA512", "-b", false),
        ("ed25519", "SHA256", "-ab", false),
        ("ed25519", "SHA512", "-b", false),
        ("p256", "SHA256", "-b", false),
        ("p384", "SHA384", "-ab", false),
        ("p256", "SHA512", "-ab", true),
        ("rsa2048", "SHA256", "-b", true),
    ];
    for (key, hash, mode, textmode) in good {
        let armor = if *mode == "-ab" { "armored" } else { "binary" };
        let name = format!(
            "good_{key}_{}_{armor}{}",
            hash.to_lowercase(),
            if *textmode { "_text" } else { "" }
        );
        let mut opts = vec!["--digest-algo", hash, mode];
        if *textmode {
            opts.push("--textmode");
        }
        let doc = if *textmode { &text } else { &data };
        let sig = sign(None, &f[key], &opts, doc, &format!("{name}.sig"))?;
        cs.add(&name, Good, det(&sig, doc), &[&k[key]], by(&f[key]));
        if *textmode {
            cs.add(
                &format!("{name}_over_the_crlf_copy"),
                Good,
                det(&sig, &text_crlf),
                &[&k[key]],
                by(&f[key]),
            );
        }
    }
    let ed_sig = p("good_ed25519_sha512_binary.sig");
    let rsa_sig = p("good_rsa2048_sha256_binary.sig");
    let p256_sig = p("good_p256_sha256_binary.sig");
    let sub_by = |s: &str| Expect::Accept(vec![(sub.clone(), s.to_string())]);
    cs.add(
        "good_signing_subkey",
        Good,
        det(&s1_sig, &data),
        &[&k["sub"]],
        sub_by(s1),
    );
    // Sequoia-made keys (certification-only primary, signing subkey) and signatures.
    let mut sq_cleartext = None;
    for (suite, name) in [
        ("cv25519", "sq_ed25519_signing_subkey"),
        ("rsa3k", "sq_rsa3072_signing_subkey"),
    ] {
        let key = g.home.join(format!("{suite}.key"));
        run(Command::new("sq")
            .args([
                "key",
                "generate",
                "--userid",
                &format!("<{suite}@example.org>"),
            ])
            .args([
                "--cipher-suite",
                suite,
                "--creation-time",
                &iso(t0),
                "--export",
            ])
            .arg(&key))?;
        let cert = p(&format!("{suite}.pgp"));
        run(Command::new("sq")
            .args(["key", "extract-cert", "--binary", "-o"])
            .arg(&cert)
            .arg(&key))?;
        let sig = p(&format!("{name}.sig"));
        run(Command::new("sq")
            .args(["sign", "--detached", "--signer-key"])
            .arg(&key)
            .arg("-o")
            .arg(&sig)
            .arg(&data))?;
        cs.add(
            name,
            Good,
            det(&sig, &data),
            &[&cert],
            Expect::Accept(vec![]),
        );
        if suite == "cv25519" {
            let clear = p("sq-cleartext.asc");
            run(Command::new("sq")
                .args(["sign", "--cleartext-signature", "--signer-key"])
                .arg(&key)
                .arg("-o")
                .arg(&clear)
                .arg(&text))?;
            sq_cleartext = Some((clear, cert));
        }
    }
    let (sq_clear, sq_cert) = sq_cleartext.ok_or("no sq cleartext message")?;
    cs.add(
        "good_ed25519_armored_certificate",
        Good,
        det(&ed_sig, &data),
        &[&ed_armored],
        by(ed),
    )
    .not_gpgv("gpgv reads binary keyrings only");

    // --- tampered and malformed.
    for (key, sig) in [
        ("ed25519", &ed_sig),
        ("rsa2048", &rsa_sig),
        ("p256", &p256_sig),
    ] {
        cs.add(
            &format!("payload_one_byte_changed_{key}"),
            Tampered,
            det(sig, &data_changed),
            &[&k[key]],
            Refuse,
        );
        let last = flip(
            sig,
            |b| b.len() - 1,
            &p(&format!("{key}-last-byte-changed.sig")),
        )?;
        cs.add(
            &format!("signature_value_byte_changed_{key}"),
            Tampered,
            det(&last, &data),
            &[&k[key]],
            Refuse,
        );
        let hashed = flip(
            sig,
            hashed_area_end,
            &p(&format!("{key}-hashed-byte-changed.sig")),
        )?;
        cs.add(
            &format!("signature_hashed_area_byte_changed_{key}"),
            Tampered,
            det(&hashed, &data),
            &[&k[key]],
            Refuse,
        );
    }
    cs.add(
        "wrong_certificate",
        Tampered,
        det(&ed_sig, &data),
        &[&k["other"]],
        Refuse,
    );
    let ed_bytes = read(&ed_sig)?;
    let truncated = write(p("truncated.sig"), &ed_bytes[..ed_bytes.len() / 2])?;
    cs.add(
        "truncated_signature",
        Tampered,
        det(&truncated, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    let garbage = write(p("garbage.sig"), &binary_document()[..300])?;
    cs.add(
        "garbage_signature",
        Tampered,
        det(&garbage, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    let empty = write(p("empty.sig"), b"")?;
    cs.add(
        "empty_signature",
        Tampered,
        det(&empty, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    let armored = String::from_utf8(read(&p("good_ed25519_sha256_armored.sig"))?)
        .map_err(|e| e.to_string())?;
    let cut = write(
        p("armor-cut-short.sig"),
        armored.lines().take(3).collect::<Vec<_>>().join("\n"),
    )?;
    cs.add(
        "armor_cut_short",
        Tampered,
        det(&cut, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    let cert = read(&k["ed25519"])?;
    let cert_cut = write(p("ed25519-truncated.gpg"), &cert[..cert.len() / 3])?;
    cs.add(
        "truncated_certificate",
        Tampered,
        det(&ed_sig, &data),
        &[&cert_cut],
        Refuse,
    );

    // --- weak algorithms.
    cs.add(
        "sha1_signature",
        Weak,
        det(&sha1, &data),
        &[&k["ed25519"]],
        Refuse,
    )
    .not_gpgv(GPGV_WEAK);
    cs.add(
        "sha1_signature_rsa",
        Weak,
        det(&sha1_rsa, &data),
        &[&k["rsa2048"]],
        Refuse,
    )
    .not_gpgv(GPGV_WEAK);
    cs.add(
        "rsa1024_key",
        Weak,
        det(&r1024, &data),
        &[&k["rsa1024"]],
        Refuse,
    )
    .not_gpgv(GPGV_WEAK);

    // --- validity at the signature's creation time.
    let v = Validity;
    cs.add(
        "subkey_revoked_as_compromised_after_signing",
        v,
        det(&s2_sig, &data),
        &[&k["sub"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_REVOCATION);
    cs.add(
        "subkey_retired_after_signing",
        v,
        det(&s3_sig, &data),
        &[&k["sub"]],
        sub_by(s3),
    );
    cs.add(
        "subkey_retired_before_signing",
        v,
        det(&s3_late, &data),
        &[&k["sub"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_REVOCATION);
    cs.add(
        "primary_revoked_by_gpg_revocation_certificate",
        v,
        det(&revgpg_sig, &data),
        &[&k["revgpg"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_REVOCATION);
    cs.add(
        "primary_revoked_as_compromised_after_signing",
        v,
        det(&revc_sig, &data),
        &[&k["revc"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_REVOCATION);
    cs.add(
        "primary_retired_after_signing",
        v,
        det(&ret_early, &data),
        &[&k["retired"]],
        by(&f["retired"]),
    );
    cs.add(
        "primary_retired_before_signing",
        v,
        det(&ret_late, &data),
        &[&k["retired"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_REVOCATION);
    cs.add(
        "signature_after_key_expiry",
        v,
        det(&after_expiry, &data),
        &[&k["exp"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_EXPIRY);
    cs.add(
        "signature_before_expiry_key_now_expired",
        v,
        det(&before_expiry, &data),
        &[&k["exp"]],
        by(exp),
    );
    cs.add(
        "signature_before_the_key_was_created",
        v,
        det(&before_creation, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    cs.add(
        "signature_with_an_unknown_critical_notation",
        v,
        det(&critical, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    cs.add(
        "signature_with_a_non_critical_notation",
        v,
        det(&notation, &data),
        &[&k["ed25519"]],
        by(ed),
    );
    cs.add(
        "subkey_signature_after_its_expiry",
        v,
        det(&after_sub_expiry, &data),
        &[&k["subexp"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_EXPIRY);
    cs.add(
        "subkey_signature_before_its_expiry_subkey_now_expired",
        v,
        det(&before_sub_expiry, &data),
        &[&k["subexp"]],
        Expect::Accept(vec![(subexp.clone(), subexp_sub.clone())]),
    );
    cs.add(
        "signature_older_than_the_only_binding_signature",
        v,
        det(&before_binding, &data),
        &[&k["exp"]],
        Refuse,
    )
    .not_gpgv(GPGV_NO_EXPIRY);
    cs.add(
        "signature_two_hours_in_the_future",
        v,
        det(&future_2h, &data),
        &[&k["ed25519"]],
        by(ed),
    )
    .not_gpgv(GPGV_FUTURE)
    .not_sqv(SQV_FUTURE);
    cs.add(
        "signature_thirty_days_in_the_future",
        v,
        det(&future_30d, &data),
        &[&k["ed25519"]],
        Refuse,
    )
    .not_gpgv(GPGV_FUTURE);
    cs.add(
        "expired_signature",
        v,
        det(&sig_expired, &data),
        &[&k["ed25519"]],
        Refuse,
    );
    cs.add(
        "signature_with_an_expiry_still_ahead",
        v,
        det(&sig_live, &data),
        &[&k["ed25519"]],
        by(ed),
    );

    // --- keyrings and several signatures.
    let kr = Keyrings;
    let p256 = &f["p256"];
    cs.add(
        "keyring_whose_second_certificate_signs",
        kr,
        det(&p256_sig, &data),
        &[&ring],
        by(p256),
    );
    cs.add(
        "second_of_two_certificate_files_signs",
        kr,
        det(&p256_sig, &data),
        &[&k["other"], &k["p256"]],
        by(p256),
    );
    cs.add(
        "two_signatures_one_by_an_unknown_key",
        kr,
        det(&two, &data),
        &[&k["ed25519"]],
        by(ed),
    )
    .not_gpgv(GPGV_MISSING_KEY);
    let both = Expect::Accept(vec![
        (ed.clone(), ed.clone()),
        (f["unknown"].clone(), f["unknown"].clone()),
    ]);
    cs.add(
        "two_signatures_both_trusted",
        kr,
        det(&two, &data),
        &[&k["ed25519"], &k["unknown"]],
        both,
    );
    cs.add(
        "two_signatures_both_unknown",
        kr,
        det(&two, &data),
        &[&k["other"]],
        Refuse,
    );
    // A good signature followed by a trusted key's signature over another document.
    let mixed = write(
        p("good-and-bad.sig"),
        [read(&ed_sig)?, read(&other_sig)?].concat(),
    )?;
    cs.add(
        "a_trusted_signature_that_fails_beside_a_good_one",
        kr,
        det(&mixed, &data),
        &[&ring],
        Refuse,
    )
    .not_sqv(SQV_ANY_GOOD);

    // --- cleartext (the `sqv` column is `sq verify`).
    let c = Cleartext;
    let want = || Some(text_handed_on());
    let e = &k["ed25519"];
    cs.add(
        "cleartext_ed25519_dash_escaped_trailing_whitespace",
        c,
        clear(&c_ed, want()),
        &[e],
        by(ed),
    );
    cs.add(
        "cleartext_rsa4096_sha512",
        c,
        clear(&c_rsa, want()),
        &[&k["rsa4096"]],
        by(&f["rsa4096"]),
    );
    cs.add(
        "cleartext_p384_sha384",
        c,
        clear(&c_p384, want()),
        &[&k["p384"]],
        by(&f["p384"]),
    );
    cs.add(
        "cleartext_by_a_signing_subkey",
        c,
        clear(&c_sub, want()),
        &[&k["sub"]],
        sub_by(s1),
    );
    cs.add(
        "cleartext_two_signatures_one_by_an_unknown_key",
        c,
        clear(&c_two, want()),
        &[e],
        by(ed),
    )
    .not_gpgv(GPGV_MISSING_KEY);
    cs.add(
        "cleartext_made_by_sq",
        c,
        clear(&sq_clear, want()),
        &[&sq_cert],
        Expect::Accept(vec![]),
    );
    cs.add(
        "cleartext_in_a_keyring_of_three",
        c,
        clear(&c_ed, want()),
        &[&ring],
        by(ed),
    );
    let body = String::from_utf8(read(&c_ed)?).map_err(|e| e.to_string())?;
    let changed = write(
        p("clear-text-changed.asc"),
        body.replacen("tool.tar.gz", "tool.tar.gZ", 1),
    )?;
    cs.add(
        "cleartext_one_byte_of_text_changed",
        c,
        clear(&changed, None),
        &[e],
        Refuse,
    );
    let unescaped = write(
        p("clear-dash-unescaped.asc"),
        body.replacen("- - a line", "- a line", 1),
    )?;
    cs.add(
        "cleartext_dash_escape_removed",
        c,
        clear(&unescaped, None),
        &[e],
        Refuse,
    );
    let added = body.replacen(
        "\n\nSHA256 checksums\n",
        "\n\nSHA256 checksums\nevil  extra.tar.gz\n",
        1,
    );
    let added = write(p("clear-line-added.asc"), added)?;
    cs.add("cleartext_line_added", c, clear(&added, None), &[e], Refuse);
    cs.add(
        "cleartext_wrong_certificate",
        c,
        clear(&c_ed, None),
        &[&k["other"]],
        Refuse,
    );
    cs.add("cleartext_sha1", c, clear(&c_sha1, None), &[e], Refuse)
        .not_gpgv(GPGV_WEAK);
    let no_end = body
        .split("-----END PGP SIGNATURE-----")
        .next()
        .unwrap_or("");
    let no_end = write(p("clear-no-end.asc"), no_end)?;
    cs.add(
        "cleartext_without_end_line",
        c,
        clear(&no_end, None),
        &[e],
        Refuse,
    )
    .not_gpgv("gpgv accepts a signature block without its END line");
    let prefixed = write(
        p("clear-prefixed.asc"),
        format!("unsigned text before the message\n{body}"),
    )?;
    cs.add(
        "cleartext_with_unsigned_text_before_it",
        c,
        clear(&prefixed, None),
        &[e],
        Refuse,
    )
    .not_gpgv(GPGV_LENIENT_FRAMING)
    .not_sqv("sq verify reads a message amid other text");
    let hash_lie = write(
        p("clear-hash-header-lies.asc"),
        body.replacen("Hash: SHA256", "Hash: SHA512", 1),
    )?;
    cs.add(
        "cleartext_hash_header_naming_another_hash",
        c,
        clear(&hash_lie, None),
        &[e],
        Refuse,
    )
    .not_gpgv("gpgv only warns about a Hash: header that does not match")
    .not_sqv("sq verify ignores the Hash: header");

    // The secret keys go now: stop the agent, delete the GnuPG home.
    drop(g);
    drop(tmp);

    let mut cases = cs.0;
    run_oracles(&mut cases, &gpgv_home, &out)?;
    Ok(Corpus { now, cases })
}

/// Runs `gpgv` and `sqv` (`sq verify` for cleartext) on every case. For an accepted
/// cleartext message, the text the valid oracles hand on (`gpgv -o`, `sq verify`'s output)
/// becomes the text verun must hand on; where the case already names one, the oracles must
/// agree with it.
fn run_oracles(cases: &mut [Case], gpgv_home: &Path, scratch: &Path) -> Result<(), String> {
    for (i, c) in cases.iter_mut().enumerate() {
        let mut gpgv = Command::new("gpgv");
        gpgv.arg("--homedir").arg(gpgv_home);
        for k in &c.keyrings {
            gpgv.arg("--keyring").arg(k);
        }
        let gpgv_out = scratch.join(format!("gpgv-output-{i}"));
        let _ = fs::remove_file(&gpgv_out);
        let mut sqv;
        let cleartext = matches!(c.input, Input::Cleartext { .. });
        match &c.input {
            Input::Detached { sig, data } => {
                gpgv.arg(sig).arg(data);
                sqv = Command::new("sqv");
                for k in &c.keyrings {
                    sqv.arg("--keyring").arg(k);
                }
                sqv.arg(sig).arg(data);
            }
            Input::Cleartext { file, .. } => {
                gpgv.arg("-o").arg(&gpgv_out).arg(file);
                sqv = Command::new("sq");
                sqv.arg("verify");
                for k in &c.keyrings {
                    sqv.arg("--signer-cert").arg(k);
                }
                sqv.arg(file);
            }
        }
        let out = |cmd: &mut Command| {
            cmd.stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .map(|o| (o.status.success(), o.stdout))
                .ok()
        };
        let g = out(gpgv.stdout(Stdio::null()));
        let q = out(&mut sqv);
        c.gpgv_accepts = g.as_ref().map(|g| g.0);
        c.sqv_accepts = q.as_ref().map(|q| q.0);
        if !(cleartext && c.expect) {
            continue;
        }
        let mut texts = Vec::new();
        if matches!(c.sqv, Oracle::Valid)
            && let Some((true, text)) = q
        {
            texts.push(("sq verify", text));
        }
        if matches!(c.gpgv, Oracle::Valid) && c.gpgv_accepts == Some(true) {
            texts.push(("gpgv -o", read(&gpgv_out)?));
        }
        if let Input::Cleartext { text, .. } = &mut c.input {
            for (oracle, t) in texts {
                match text {
                    None => *text = Some(t),
                    Some(want) if *want != t => {
                        c.note = Some(format!(
                            "{oracle} hands on {:?}, the case expects {:?}",
                            String::from_utf8_lossy(&t),
                            String::from_utf8_lossy(want)
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Judging a group

fn read_all(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect()
}

fn verun_decides(c: &Case, now: u64) -> Decision {
    let keyrings = read_all(&c.keyrings);
    match &c.input {
        Input::Detached { sig, data } => {
            let [sig, data] = [sig, data].map(|p| fs::read(p).expect("corpus file"));
            verun_detached(&sig, &data, &keyrings, now)
        }
        Input::Cleartext { file, text } => verun_cleartext(
            &fs::read(file).expect("corpus file"),
            &keyrings,
            now,
            text.as_deref(),
        ),
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "accept",
        Some(false) => "refuse",
        None => "did not run",
    }
}

/// Decides every case of `group` with verun, compares with the expectation and the valid
/// oracles, and fails with the table when anything differs.
fn judge(test: &str, groups: &[Group]) {
    let corpus = match corpus() {
        Ok(c) => c,
        Err(e) if e.contains("not found") => {
            skipped(test, e, SWITCH, Need::Oracle);
            return;
        }
        Err(e) => panic!("building the OpenPGP corpus failed: {e}"),
    };
    let cases: Vec<&Case> = corpus
        .cases
        .iter()
        .filter(|c| groups.contains(&c.group))
        .collect();
    assert!(!cases.is_empty(), "no case in {groups:?}");
    judge_cases(&cases, corpus.now, &corpus_dir());
}

/// Decides `cases` with verun and fails with the table when anything differs.
fn judge_cases(cases: &[&Case], now: u64, dir: &Path) {
    let mut table = String::new();
    let mut failures = 0;
    writeln!(
        table,
        "{:<58} {:<7} {:<7} {:<7} {:<13} verun",
        "case", "expect", "gpgv", "sqv", "other"
    )
    .unwrap();
    for c in cases {
        let d = verun_decides(c, now);
        let mut problems = Vec::new();
        match (&d, d.accepted()) {
            (_, None) => problems.push("verun broken".to_string()),
            (_, Some(v)) if v != c.expect => problems.push("verun differs".into()),
            (Decision::Accepted(by), _) if !c.signers.is_empty() => {
                let mut by = by.clone();
                let mut want = c.signers.clone();
                by.sort();
                want.sort();
                if by != want {
                    problems.push(format!("verun names signers {by:?}, expected {want:?}"));
                }
            }
            _ => {}
        }
        if let Some(n) = &c.note {
            problems.push(format!("{n} (corpus not as intended?)"));
        }
        let other = c.other.map(|(name, v)| (Oracle::Valid, name, v));
        for (oracle, name, v) in [
            (c.gpgv, "gpgv", c.gpgv_accepts),
            (c.sqv, "sqv", c.sqv_accepts),
        ]
        .into_iter()
        .chain(other)
        {
            if matches!(oracle, Oracle::Valid) && v != Some(c.expect) {
                problems.push(format!(
                    "{name} says {} (corpus not as intended?)",
                    yes_no(v)
                ));
            }
        }
        let cell = |o: Oracle, v: Option<bool>| match o {
            Oracle::Valid => yes_no(v).to_string(),
            Oracle::NotFor(_) => format!("({})", yes_no(v)),
        };
        writeln!(
            table,
            "{:<58} {:<7} {:<7} {:<7} {:<13} {}{}",
            c.name,
            if c.expect { "accept" } else { "refuse" },
            cell(c.gpgv, c.gpgv_accepts),
            cell(c.sqv, c.sqv_accepts),
            c.other
                .map_or("-".to_string(), |(n, v)| format!("{n}: {}", yes_no(v))),
            d.cell(),
            if problems.is_empty() {
                String::new()
            } else {
                format!("   <-- {}", problems.join("; "))
            }
        )
        .unwrap();
        failures += usize::from(!problems.is_empty());
    }
    for (oracle, note) in cases.iter().flat_map(|c| {
        [("gpgv", c.gpgv), ("sqv", c.sqv)]
            .into_iter()
            .filter_map(move |(n, o)| match o {
                Oracle::NotFor(why) => Some((format!("{}: {n}", c.name), why)),
                Oracle::Valid => None,
            })
    }) {
        writeln!(table, "  ({oracle} not an oracle: {note})").unwrap();
    }
    assert!(
        failures == 0,
        "{failures} of {} OpenPGP cases differ (directory {}):\n{table}",
        cases.len(),
        dir.display()
    );
    eprintln!("{table}");
}

#[test]
fn good_signatures_of_every_algorithm_verify_as_in_gpgv_and_sqv() {
    judge(
        "good_signatures_of_every_algorithm_verify_as_in_gpgv_and_sqv",
        &[Group::Good],
    );
}

#[test]
fn tampered_and_malformed_inputs_are_refused_as_by_gpgv_and_sqv() {
    judge(
        "tampered_and_malformed_inputs_are_refused_as_by_gpgv_and_sqv",
        &[Group::Tampered],
    );
}

#[test]
fn sha1_and_rsa1024_are_refused_as_by_sqv() {
    judge("sha1_and_rsa1024_are_refused_as_by_sqv", &[Group::Weak]);
}

#[test]
fn revocation_and_expiry_are_judged_at_signing_time_as_by_sqv() {
    judge(
        "revocation_and_expiry_are_judged_at_signing_time_as_by_sqv",
        &[Group::Validity],
    );
}

#[test]
fn keyrings_and_several_signatures_follow_the_spec() {
    judge(
        "keyrings_and_several_signatures_follow_the_spec",
        &[Group::Keyrings],
    );
}

#[test]
fn cleartext_messages_verify_as_in_gpgv_and_sq_verify() {
    judge(
        "cleartext_messages_verify_as_in_gpgv_and_sq_verify",
        &[Group::Cleartext],
    );
}

// ---------------------------------------------------------------------------------------
// v6 (and RFC 9580 Ed25519) from rPGP

/// The v6 cases come from rPGP through its Python binding `rpgp-py` (PyPI), the one v6
/// generator at hand: Debian's `sq` 0.27 (sequoia-openpgp 1.12) and `gpg` 2.2 make v4 keys
/// only, and `gpgv` 2.2 and `sqv` 1.1 read no v6. rPGP is the oracle for these cases.
const RPGP_SCRIPT: &str = include_str!("openpgp_rpgp.py");
const RPGP_SWITCH: &str = "VERUN_REQUIRE_RPGP";
const GPGV_NO_V6: &str = "gpgv 2.2 reads no v6 key or signature";
const SQV_NO_V6: &str = "sqv 1.1 (sequoia-openpgp 1.x) reads no v6 key or signature";

/// The Python that has `rpgp-py`: `$VERUN_RPGP_PYTHON`, else `python3`.
fn rpgp_python() -> Option<String> {
    let py = std::env::var("VERUN_RPGP_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(&py)
        .args(["-c", "import openpgp._openpgp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        .then_some(py)
}

/// A text rPGP signs correctly: rPGP 0.20's cleartext signer keeps trailing whitespace in
/// what it hashes, so even its own verifier refuses such a message.
const V6_TEXT: &str =
    "SHA256 checksums\n- a dashed line\nFrom the releaser\n\ne3b0c442  tool.tar.gz\n";

/// The v6 corpus: the time it was judged against, its directory and its cases.
type V6Corpus = (u64, PathBuf, Vec<Case>);

/// What verun (as `gpgv -o` and `sq verify`, see `rpgp_v4_legacy_ed25519_cleartext`) hands
/// on for [`V6_TEXT`] signed by rPGP: rPGP frames a text that ends in a line end with an
/// empty last line, which is handed on as a line of its own.
fn v6_text_handed_on() -> Vec<u8> {
    format!("{V6_TEXT}\n").into_bytes()
}

fn v6_corpus() -> &'static Result<V6Corpus, String> {
    static V6: OnceLock<Result<V6Corpus, String>> = OnceLock::new();
    V6.get_or_init(|| {
        let py = rpgp_python().ok_or(
            "rpgp-py not found (`pip install rpgp-py==0.20.0`, then VERUN_RPGP_PYTHON=that python); \
             no other v6 generator here: sq 0.27 and gpg 2.2 make v4 keys only",
        )?;
        build_v6(&py)
    })
}

fn build_v6(py: &str) -> Result<V6Corpus, String> {
    use Expect::Refuse;
    let now = now();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("openpgp-v6-{}", std::process::id()));
    remove_stale_corpora();
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let p = |name: &str| out.join(name);
    let script = write(p("rpgp.py"), RPGP_SCRIPT)?;
    let data = write(p("data.bin"), binary_document())?;
    let text = write(p("text.txt"), V6_TEXT)?;
    // rPGP writes the secret keys nowhere: only certificates and signatures leave it.
    let made = run(Command::new(py)
        .arg(&script)
        .arg("gen")
        .arg(&out)
        .arg(&data)
        .arg(&text))?;
    let fprs: std::collections::HashMap<String, String> = String::from_utf8_lossy(&made.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(n, f)| (n.to_string(), f.to_string()))
        })
        .collect();
    let f = |n: &str| fprs.get(n).cloned().ok_or(format!("rpgp made no {n}"));
    let cert = |n: &str| p(&format!("{n}.cert"));
    let mut cs = Cases::default();
    let g = Group::Good;
    for (n, case) in [
        ("v6-ed25519", "v6_ed25519_sha256"),
        ("v6-rsa3072", "v6_rsa3072_sha512"),
        ("v6-p256", "v6_ecdsa_p256_sha384"),
        ("v4-ed25519", "v4_ed25519_in_the_rfc9580_encoding"),
    ] {
        let sig = p(&format!("{n}.sig"));
        cs.add(
            &format!("{case}_binary"),
            g,
            det(&sig, &data),
            &[&cert(n)],
            by(&f(n)?),
        );
        let tsig = p(&format!("{n}.text.asc"));
        cs.add(
            &format!("{case}_text_armored"),
            g,
            det(&tsig, &text),
            &[&cert(n)],
            by(&f(n)?),
        );
        let clr = p(&format!("{n}.clear.asc"));
        cs.add(
            &format!("{case}_cleartext"),
            g,
            clear(&clr, Some(v6_text_handed_on())),
            &[&cert(n)],
            by(&f(n)?),
        );
    }
    let sub = "v6-ed25519-subkey";
    let sub_expect = || Expect::Accept(vec![]);
    cs.add(
        "v6_ed25519_signing_subkey",
        g,
        det(&p(&format!("{sub}.sig")), &data),
        &[&cert(sub)],
        sub_expect(),
    );
    cs.add(
        "v6_ed25519_signing_subkey_cleartext",
        g,
        clear(&p(&format!("{sub}.clear.asc")), None),
        &[&cert(sub)],
        sub_expect(),
    );
    let t = Group::Tampered;
    let ed_sig = p("v6-ed25519.sig");
    let changed = flip(&data, |b| b.len() / 2, &p("data-one-byte-changed.bin"))?;
    cs.add(
        "v6_payload_one_byte_changed",
        t,
        det(&ed_sig, &changed),
        &[&cert("v6-ed25519")],
        Refuse,
    );
    let last = flip(&ed_sig, |b| b.len() - 1, &p("v6-last-byte-changed.sig"))?;
    cs.add(
        "v6_signature_value_byte_changed",
        t,
        det(&last, &data),
        &[&cert("v6-ed25519")],
        Refuse,
    );
    // The salt: the last 16 bytes before the 64-byte Ed25519 value (SHA-256 salts are 16).
    let salt = flip(
        &ed_sig,
        |b| b.len() - 64 - 8,
        &p("v6-salt-byte-changed.sig"),
    )?;
    cs.add(
        "v6_salt_byte_changed",
        t,
        det(&salt, &data),
        &[&cert("v6-ed25519")],
        Refuse,
    );
    let hashed = flip(
        &ed_sig,
        v6_hashed_area_end,
        &p("v6-hashed-byte-changed.sig"),
    )?;
    cs.add(
        "v6_signature_hashed_area_byte_changed",
        t,
        det(&hashed, &data),
        &[&cert("v6-ed25519")],
        Refuse,
    );
    cs.add(
        "v6_wrong_certificate",
        t,
        det(&ed_sig, &data),
        &[&cert("v6-p256")],
        Refuse,
    );
    // rPGP's legacy-encoding Ed25519 v4 key: GnuPG and Sequoia judge it too, and show
    // what text a cleartext message framed as rPGP frames it (a text ending in a line end
    // gets an empty last line) hands on.
    let legacy = "v4-ed25519-legacy";
    let l = Group::Cleartext;
    let lsig = p(&format!("{legacy}.sig"));
    cs.add(
        "rpgp_v4_legacy_ed25519_binary",
        l,
        det(&lsig, &data),
        &[&cert(legacy)],
        by(&f(legacy)?),
    );
    let ltext = p(&format!("{legacy}.text.asc"));
    cs.add(
        "rpgp_v4_legacy_ed25519_text_armored",
        l,
        det(&ltext, &text),
        &[&cert(legacy)],
        by(&f(legacy)?),
    );
    let lclr = p(&format!("{legacy}.clear.asc"));
    cs.add(
        "rpgp_v4_legacy_ed25519_cleartext",
        l,
        clear(&lclr, Some(v6_text_handed_on())),
        &[&cert(legacy)],
        by(&f(legacy)?),
    );
    // Signatures by a key whose flags forbid signing (a certification-only primary, an
    // authentication-only subkey): rPGP makes them, and its verifier does not look at
    // the flags, so only GnuPG and Sequoia judge them.
    let nosign = cert("v4-no-sign-flag");
    let w = Group::Weak;
    let prim = p("v4-no-sign-flag.primary.sig");
    cs.add(
        "rpgp_v4_primary_key_not_marked_for_signing",
        w,
        det(&prim, &data),
        &[&nosign],
        Refuse,
    );
    let subk = p("v4-no-sign-flag.subkey.sig");
    cs.add(
        "rpgp_v4_subkey_not_marked_for_signing",
        w,
        det(&subk, &data),
        &[&nosign],
        Refuse,
    );
    let mut cases = cs.0;
    let oracles = ["gpgv", "sqv", "sq"].iter().all(|t| tool_present(t));
    if oracles {
        let gpgv_home = p("gpgv-home");
        fs::create_dir_all(&gpgv_home).map_err(|e| e.to_string())?;
        fs::set_permissions(&gpgv_home, fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        run_oracles(&mut cases, &gpgv_home, &out)?;
    }
    for c in &mut cases {
        if !oracles {
            c.gpgv = Oracle::NotFor("gpgv, sqv or sq is not installed");
            c.sqv = Oracle::NotFor("gpgv, sqv or sq is not installed");
        } else if !c.name.starts_with("rpgp_v4_") {
            c.gpgv = Oracle::NotFor(GPGV_NO_V6);
            c.sqv = Oracle::NotFor(SQV_NO_V6);
        }
        if c.group == Group::Weak {
            continue;
        }
        let mut cmd = Command::new(py);
        cmd.arg(&script);
        match &c.input {
            Input::Detached { sig, data } => {
                cmd.arg("verify").arg(&c.keyrings[0]).arg(sig).arg(data)
            }
            Input::Cleartext { file, .. } => cmd.arg("verify-clear").arg(&c.keyrings[0]).arg(file),
        };
        let ok = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .ok();
        c.other = Some(("rpgp", ok));
    }
    Ok((now, out, cases))
}

/// The offset of the last byte of a binary v6 signature packet's hashed subpacket area
/// (new-format header; four-byte area lengths).
fn v6_hashed_area_end(b: &[u8]) -> usize {
    let header = match b[1] {
        0..192 => 2,
        192..224 => 3,
        _ => 6,
    };
    let len = u32::from_be_bytes([b[header + 4], b[header + 5], b[header + 6], b[header + 7]]);
    header + 8 + len as usize - 1
}

#[test]
fn v6_signatures_from_rpgp_verify_and_tampered_ones_fail() {
    let test = "v6_signatures_from_rpgp_verify_and_tampered_ones_fail";
    match v6_corpus() {
        Ok((now, dir, cases)) => judge_cases(&cases.iter().collect::<Vec<_>>(), *now, dir),
        Err(e) if e.contains("not found") => skipped(test, e, RPGP_SWITCH, Need::Environment),
        Err(e) => panic!("building the v6 corpus failed: {e}"),
    }
}

// ---------------------------------------------------------------------------------------
// The real third-party signatures of ../shared/vectors/openpgp/

fn vectors(test: &str) -> Option<(PathBuf, Vec<serde_json::Value>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/openpgp");
    match fs::read(dir.join("cases.json")) {
        Ok(b) => {
            let cases: Vec<serde_json::Value> =
                serde_json::from_slice(&b).expect("cases.json is a JSON array");
            Some((dir, cases))
        }
        Err(e) => {
            skipped(
                test,
                &format!("OpenPGP vectors not found at {}: {e}", dir.display()),
                "VERUN_REQUIRE_VECTORS",
                Need::Environment,
            );
            None
        }
    }
}

/// Alters a vector's (signed file, data) before it is decided.
type Change = fn(&mut Vec<u8>, &mut Option<Vec<u8>>);

/// Decides one vector; `change` optionally alters (signed file, data) first.
fn decide_vector(dir: &Path, v: &serde_json::Value, change: Change) -> Decision {
    let read = |k: &str| {
        v[k].as_str()
            .map(|rel| fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
    };
    let mut signed = read("signed").expect("signed");
    let mut data = read("data");
    change(&mut signed, &mut data);
    let key = vec![read("key").expect("key")];
    match data {
        Some(d) => verun_detached(&signed, &d, &key, now()),
        None => verun_cleartext(&signed, &key, now(), None),
    }
}

#[test]
fn real_vectors_decide_as_cases_json_expects() {
    let test = "real_vectors_decide_as_cases_json_expects";
    let Some((dir, cases)) = vectors(test) else {
        return;
    };
    let mut table = String::new();
    let mut failures = 0;
    for v in &cases {
        let name = format!(
            "{} over {}",
            v["signed"].as_str().unwrap(),
            v["data"].as_str().unwrap_or("itself")
        );
        let expect = v["expect"] == "ok";
        let d = decide_vector(&dir, v, |_, _| {});
        let mut problem = match d.accepted() {
            Some(a) if a == expect => None,
            _ => Some("differs".to_string()),
        };
        // An accepted vector must name exactly the signers cases.json lists.
        if let (Decision::Accepted(by), None) = (&d, &problem) {
            let mut want: Vec<(String, String)> = v["signatures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["primary_fpr"].as_str().unwrap().into(),
                        s["signing_key_fpr"].as_str().unwrap().into(),
                    )
                })
                .collect();
            let mut by = by.clone();
            want.sort();
            by.sort();
            if by != want {
                problem = Some(format!("signers {by:?}, expected {want:?}"));
            }
        }
        writeln!(
            table,
            "{name:<100} expect {:<6} verun {}{}",
            v["expect"].as_str().unwrap(),
            d.cell(),
            problem
                .as_ref()
                .map(|p| format!("   <-- {p}"))
                .unwrap_or_default()
        )
        .unwrap();
        failures += usize::from(problem.is_some());
    }
    assert!(
        failures == 0,
        "{failures} of {} vectors differ:\n{table}",
        cases.len()
    );
    eprintln!("{table}");
}

/// cases.json: "Any single changed byte in a payload, signature or signed text must make
/// verification fail". For every vector that verifies: a byte of the data (detached), of
/// the signed text (cleartext, a hex digit in the middle of the text, which stays valid
/// UTF-8 and line structure), and of the last signature's value.
#[test]
fn one_changed_byte_in_a_real_vector_fails() {
    let test = "one_changed_byte_in_a_real_vector_fails";
    let Some((dir, cases)) = vectors(test) else {
        return;
    };
    let mut failures = Vec::new();
    for v in cases.iter().filter(|v| v["expect"] == "ok") {
        let name = v["signed"].as_str().unwrap().to_string();
        let changes: [(&str, Change); 2] = [
            ("payload", |s, d| match d {
                Some(d) => {
                    let i = d.len() / 3;
                    d[i] ^= 0x01;
                }
                // A hex digit of the signed text (the lists are checksums): the text stays
                // valid UTF-8 with the same lines.
                None => {
                    let body = find(s, b"\n\n").expect("cleartext headers end") + 2;
                    let end = body + find(&s[body..], ARMOR_SIG).expect("signature block");
                    let i = (body + end) / 2;
                    let i = (i..end)
                        .find(|&i| s[i].is_ascii_hexdigit() && s[i] != b'0')
                        .expect("a hex digit in the signed text");
                    s[i] = b'0';
                }
            }),
            ("signature value", |s, _| change_last_signature_byte(s)),
        ];
        for (what, change) in &changes {
            let d = decide_vector(&dir, v, *change);
            if d.accepted() != Some(false) {
                failures.push(format!(
                    "{name}: one byte of the {what} changed: {}",
                    d.cell()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "changed vectors not refused:\n{}",
        failures.join("\n")
    );
}

const ARMOR_SIG: &[u8] = b"-----BEGIN PGP SIGNATURE-----";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// CRC-24 of RFC 9580 section 6.1, the armor checksum.
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for &b in data {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    crc & 0xFF_FFFF
}

/// Changes the last byte of a signature file's last signature (its value), binary or
/// armored (also the block of a cleartext message): the armor is decoded, the byte changed
/// and the block re-encoded with a correct checksum, so only the signature is wrong.
fn change_last_signature_byte(s: &mut Vec<u8>) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    let Some(begin) = find(s, ARMOR_SIG) else {
        let n = s.len();
        s[n - 1] ^= 0x01;
        return;
    };
    let text = String::from_utf8(s[begin..].to_vec()).expect("armor is text");
    let mut lines = text.split('\n');
    let mut out = String::new();
    for l in lines.by_ref() {
        out.push_str(l);
        out.push('\n');
        if l.trim_end().is_empty() {
            break;
        }
    }
    let mut b64 = String::new();
    let mut tail = Vec::new();
    for l in lines.by_ref() {
        let l = l.trim_end();
        if l.starts_with('=') || l.starts_with("-----END") {
            if l.starts_with("-----END") {
                tail.push(l.to_string());
            }
            break;
        }
        b64.push_str(l);
    }
    tail.extend(lines.map(str::to_string));
    let mut bin = B64.decode(&b64).expect("armor base64");
    let n = bin.len();
    bin[n - 1] ^= 0x01;
    let enc = B64.encode(&bin);
    for chunk in enc.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    let crc = crc24(&bin).to_be_bytes();
    out.push('=');
    out.push_str(&B64.encode(&crc[1..]));
    out.push('\n');
    out.push_str(&tail.join("\n"));
    s.truncate(begin);
    s.extend_from_slice(out.as_bytes());
}

/// The Debian InRelease also verifies with the two signers' own certificate files together,
/// and, with only one of them, the other signature is ignored (SPEC: untrusted signers are
/// ignored) rather than failing the file as gpgv does.
#[test]
fn inrelease_verifies_with_either_signers_certificate_file() {
    let test = "inrelease_verifies_with_either_signers_certificate_file";
    let Some((dir, _)) = vectors(test) else {
        return;
    };
    let d = dir.join("debian");
    let file = fs::read(d.join("bookworm-security_InRelease")).unwrap();
    let bookworm = fs::read(d.join("debian-archive-bookworm-security-automatic.asc")).unwrap();
    let bullseye = fs::read(d.join("debian-archive-bullseye-security-automatic.asc")).unwrap();
    let both = verun_cleartext(&file, &[bookworm.clone(), bullseye.clone()], now(), None);
    assert!(
        matches!(&both, Decision::Accepted(by) if by.len() == 2),
        "both: {}",
        both.cell()
    );
    for (name, cert, primary) in [
        (
            "bookworm",
            bookworm,
            "05AB90340C0C5E797F44A8C8254CF3B5AEC0A8F0",
        ),
        (
            "bullseye",
            bullseye,
            "AC530D520F2F3269F5E98313A48449044AAD5C5D",
        ),
    ] {
        let one = verun_cleartext(&file, &[cert], now(), None);
        assert!(
            matches!(&one, Decision::Accepted(by) if by.len() == 1 && by[0].0 == primary),
            "only {name}: {}",
            one.cell()
        );
    }
    // The certificates' fingerprints as the API reports them, both spellings parsed.
    let certs =
        openpgp::parse_certs(&fs::read(d.join("debian-archive-keyring.gpg")).unwrap()).unwrap();
    // `gpg --show-keys` and `sq inspect` count 9 (the vectors README says 11).
    assert_eq!(
        certs.len(),
        9,
        "debian-archive-keyring.gpg holds 9 certificates"
    );
    let fpr = Fingerprint::parse_hex("05AB 9034 0C0C 5E79 7F44  A8C8 254C F3B5 AEC0 A8F0").unwrap();
    assert!(
        certs
            .iter()
            .any(|c| c.fingerprint() == &fpr && c.version() == 4)
    );
}
