//! Sigstore bundles (v0.1 to v0.3, message signatures and DSSE envelopes), verified
//! offline with the official `sigstore-verify` crate against a trusted root: the certificate
//! chain to a Fulcio CA valid at the signing time, the embedded SCT, the transparency-log
//! entry (inclusion proof and signed checkpoint, or a v0.1 bundle's signed entry
//! timestamp), RFC 3161 timestamps, and the signature over the payload's digest from
//! verun's one streaming pass. What is trusted is a [`Trust`]: an identity (the
//! certificate's SAN, exact or a full-match regexp) with its OIDC issuer, a GitHub
//! repository (the Source Repository URI extension, whichever workflow signed), or a
//! public key (cosign key pairs).
//!
//! What the trusted root provides is required: a root with transparency logs requires a
//! verified entry, one with CT logs a verified SCT; a root with neither (GitHub's, for
//! private repositories) still requires a verified signed time, which then only an RFC 3161
//! timestamp can give. Verification time is the signed time, never "now".

pub mod provider;

use serde::Serialize;
use sigstore_trust_root::TrustedRoot;
use sigstore_types::{HashAlgorithm, SignatureContent};

/// Largest bundle read (a GitHub provenance attestation is ~10 KiB; a JSON-lines file or an
/// API answer holds a few).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 20;

/// The OIDC issuer of GitHub Actions.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The conventional bundle siblings, in the order they are looked for.
pub const SUFFIXES: &[&str] = &[".sigstore.json", ".sigstore"];

/// Most bundles in one file or API answer.
const MAX_BUNDLES: usize = 32;

/// How the certificate's SAN must match.
#[derive(Clone, Debug)]
pub enum Identity {
    /// Equal.
    Exact(String),
    /// Fully matched by this regular expression.
    Regexp(Pattern),
}

/// A regular expression matched against the whole SAN.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    re: regex_lite::Regex,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl Pattern {
    /// Compile `source`; it must match a whole SAN (it is anchored here).
    pub fn new(source: &str) -> Result<Pattern, String> {
        if source.is_empty() {
            return Err("the regular expression is empty".into());
        }
        let re = regex_lite::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            let e = e.to_string();
            e.lines().last().unwrap_or("invalid").trim().to_string()
        })?;
        Ok(Pattern {
            source: source.to_string(),
            re,
        })
    }

    /// The expression as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it matches all of `s`.
    pub fn full_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

/// What is trusted to have signed a bundle.
#[derive(Clone, Debug)]
pub enum Trust {
    /// A keyless signer: the certificate's SAN and OIDC issuer.
    Identity {
        /// The OIDC issuer (exact).
        issuer: String,
        /// The SAN.
        identity: Identity,
    },
    /// Whatever GitHub Actions runs in this repository (`OWNER/NAME`) signed.
    GithubRepo(String),
    /// A public key (a cosign key pair, npm's registry key): DER SubjectPublicKeyInfo.
    Key(Vec<u8>),
}

/// Checks `OWNER/NAME` as GitHub spells repositories.
pub fn parse_repo(s: &str) -> Result<String, String> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match s.split_once('/') {
        Some((o, n)) if ok_part(o) && ok_part(n) => Ok(s.to_string()),
        _ => Err(format!(
            "{:?} is not OWNER/NAME (letters, digits, '-', '_', '.')",
            crate::term::sanitize(s)
        )),
    }
}

impl Trust {
    /// The ID part of the signer's `sigstore:ID`: `ISSUER|IDENTITY`, `ISSUER|regexp:RE`,
    /// `https://token.actions.githubusercontent.com|repo:OWNER/NAME`, `key:SHA256:HEX`.
    pub fn id(&self) -> String {
        match self {
            Trust::Identity {
                issuer,
                identity: Identity::Exact(id),
            } => format!("{issuer}|{id}"),
            Trust::Identity {
                issuer,
                identity: Identity::Regexp(p),
            } => format!("{issuer}|regexp:{}", p.source()),
            Trust::GithubRepo(repo) => format!("{GITHUB_ISSUER}|repo:{repo}"),
            Trust::Key(der) => format!("key:{}", key_fingerprint(der)),
        }
    }

    /// In words, for messages.
    pub fn describe(&self) -> String {
        use crate::term::sanitize;
        match self {
            Trust::Identity {
                issuer,
                identity: Identity::Exact(id),
            } => format!(
                "Sigstore identity {} (issuer {})",
                sanitize(id),
                sanitize(issuer)
            ),
            Trust::Identity {
                issuer,
                identity: Identity::Regexp(p),
            } => format!(
                "Sigstore identity matching /{}/ (issuer {})",
                sanitize(p.source()),
                sanitize(issuer)
            ),
            Trust::GithubRepo(repo) => format!("GitHub Actions of {}", sanitize(repo)),
            Trust::Key(der) => format!("Sigstore key {}", key_fingerprint(der)),
        }
    }

    /// The text the key store keeps (`public_key`): [`Trust::id`] for identities, the
    /// key's DER in base64 for keys.
    pub fn text(&self) -> String {
        match self {
            Trust::Key(der) => crate::minisig::encode_base64(der),
            _ => self.id(),
        }
    }

    /// Read [`Trust::text`] back.
    pub fn from_text(text: &str) -> Result<Trust, String> {
        let text = text.trim();
        if let Some((issuer, rest)) = text.split_once('|') {
            if let Some(repo) = rest.strip_prefix("repo:") {
                if issuer != GITHUB_ISSUER {
                    return Err("a repository entry must name GitHub's issuer".into());
                }
                return parse_repo(repo).map(Trust::GithubRepo);
            }
            check_issuer(issuer)?;
            let identity = match rest.strip_prefix("regexp:") {
                Some(re) => Identity::Regexp(Pattern::new(re)?),
                None if !rest.is_empty() => Identity::Exact(rest.to_string()),
                None => return Err("the identity is empty".into()),
            };
            return Ok(Trust::Identity {
                issuer: issuer.to_string(),
                identity,
            });
        }
        let der = crate::minisig::decode_base64(text).ok_or("the key is not canonical base64")?;
        parse_spki(&der)?;
        Ok(Trust::Key(der))
    }

    /// Whether a bundle with these claims is this signer's (before any crypto: the full
    /// check is [`verify`]).
    pub fn answers(&self, c: &Claims) -> bool {
        match (self, &c.cert) {
            (Trust::Key(_), None) => true,
            (Trust::Identity { issuer, identity }, Some(cert)) => {
                cert.issuer.as_deref() == Some(issuer.as_str())
                    && cert.san.as_deref().is_some_and(|san| match identity {
                        Identity::Exact(id) => san == id,
                        Identity::Regexp(p) => p.full_match(san),
                    })
            }
            (Trust::GithubRepo(repo), Some(cert)) => {
                cert.issuer.as_deref() == Some(GITHUB_ISSUER)
                    && cert
                        .repository
                        .as_deref()
                        .is_some_and(|uri| repo_uri_matches(uri, repo))
            }
            _ => false,
        }
    }
}

/// `https://github.com/OWNER/NAME` names `repo` (GitHub names are case-insensitive).
fn repo_uri_matches(uri: &str, repo: &str) -> bool {
    uri.strip_prefix("https://github.com/")
        .is_some_and(|r| r.eq_ignore_ascii_case(repo))
}

/// An issuer is an `https://` URL (as Fulcio's OIDC issuers are).
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    if issuer.starts_with("https://")
        && issuer.len() > "https://".len()
        && !issuer.contains(['|', ' ', '\n', '\r', '\t'])
    {
        Ok(())
    } else {
        Err(format!(
            "the OIDC issuer {:?} is not an https:// URL",
            crate::term::sanitize(issuer)
        ))
    }
}

/// `SHA256:HEX` of a key's DER.
pub fn key_fingerprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    format!(
        "SHA256:{}",
        crate::checksums::to_hex(&sha2::Sha256::digest(der))
    )
}

fn parse_spki(der: &[u8]) -> Result<(), String> {
    provider::install();
    let key = sigstore_types::DerPublicKey::new(der.to_vec());
    sigstore_crypto::KeyAlgorithm::from_spki(&key)
        .map(|_| ())
        .map_err(|e| format!("not a supported public key: {e}"))
}

/// Whether `bytes` are a PEM public key (`-----BEGIN PUBLIC KEY-----`).
pub fn is_pem_key(bytes: &[u8]) -> bool {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
    s.trim_start().starts_with("-----BEGIN PUBLIC KEY-----")
}

/// Parse a PEM public key (ECDSA P-256/P-384, Ed25519, RSA).
pub fn parse_pem_key(bytes: &[u8]) -> Result<Trust, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the PEM file is not text".to_string())?;
    let key = sigstore_types::DerPublicKey::from_pem(text).map_err(|e| e.to_string())?;
    parse_spki(key.as_bytes())?;
    Ok(Trust::Key(key.as_bytes().to_vec()))
}

/// What a signing certificate says, read before anything is verified.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CertClaims {
    /// The SAN (email or URI).
    pub san: Option<String>,
    /// The OIDC issuer (Fulcio's v2 extension, else the v1 one).
    pub issuer: Option<String>,
    /// Source Repository URI.
    pub repository: Option<String>,
    /// Build Signer URI (the workflow and its ref).
    pub workflow_ref: Option<String>,
    /// Source Repository Digest (the commit).
    pub commit: Option<String>,
}

/// What a bundle claims before anything is checked: what selects the trust.
#[derive(Clone, Debug)]
pub struct Claims {
    /// The signing certificate's claims; `None` for a public-key bundle.
    pub cert: Option<CertClaims>,
}

impl Claims {
    /// In words, for "signed by ..., which is not trusted".
    pub fn describe(&self) -> String {
        use crate::term::sanitize;
        match &self.cert {
            None => "a public key (a keyed Sigstore bundle)".to_string(),
            Some(c) => {
                let mut s = format!(
                    "Sigstore identity {} (issuer {})",
                    sanitize(c.san.as_deref().unwrap_or("(no SAN)")),
                    sanitize(c.issuer.as_deref().unwrap_or("(none)"))
                );
                if let Some(r) = &c.repository {
                    s.push_str(&format!(", built in {}", sanitize(r)));
                }
                s
            }
        }
    }
}

/// The digest of the payload a bundle is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// SHA-256 (hashedrekord, most DSSE subjects).
    Sha256,
    /// SHA-512 (npm provenance subjects; SHA-512 message digests).
    Sha512,
}

/// A parsed bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    inner: sigstore_types::Bundle,
    claims: Claims,
    want: Want,
    predicate_type: Option<String>,
}

/// Parse the bundles in `bytes`: one JSON bundle, JSON lines of bundles (`gh attestation
/// download`), or a GitHub API answer (`{"attestations": [{"bundle": ...}]}`).
pub fn parse_bundles(bytes: &[u8]) -> Result<Vec<Bundle>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Err("not a JSON Sigstore bundle".into());
    }
    // A GitHub API answer.
    #[derive(serde::Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        attestations: serde::de::IgnoredAny,
    }
    if serde_json::from_str::<Probe>(trimmed).is_ok() {
        let api: ApiAnswer = serde_json::from_str(trimmed)
            .map_err(|e| format!("an attestation does not parse: {}", short(&e.to_string())))?;
        if api.attestations.len() > MAX_BUNDLES {
            return Err(format!("more than {MAX_BUNDLES} attestations"));
        }
        return api
            .attestations
            .into_iter()
            .map(|a| Bundle::from_inner(a.bundle))
            .collect();
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return Ok(vec![Bundle::parse(trimmed)?]);
    }
    let lines: Vec<&str> = trimmed.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return Bundle::parse(trimmed).map(|b| vec![b]);
    }
    if lines.len() > MAX_BUNDLES {
        return Err(format!("more than {MAX_BUNDLES} bundles"));
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| Bundle::parse(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

#[derive(serde::Deserialize)]
struct ApiAnswer {
    attestations: Vec<ApiAttestation>,
}

#[derive(serde::Deserialize)]
struct ApiAttestation {
    bundle: sigstore_types::Bundle,
}

impl Bundle {
    /// Parse one bundle (JSON).
    pub fn parse(json: &str) -> Result<Bundle, String> {
        let inner = sigstore_types::Bundle::from_json(json).map_err(|e| short(&e.to_string()))?;
        Bundle::from_inner(inner)
    }

    fn from_inner(inner: sigstore_types::Bundle) -> Result<Bundle, String> {
        provider::install();
        let cert = match inner.signing_certificate() {
            Some(der) => {
                let info = sigstore_crypto::parse_certificate_info(der)
                    .map_err(|e| format!("its certificate does not parse: {e}"))?;
                let ci = &info.ci_claims;
                Some(CertClaims {
                    san: info.identity.as_ref().map(|s| s.as_str().to_string()),
                    issuer: info.issuer.clone(),
                    repository: ci.source_repository_uri.clone(),
                    workflow_ref: ci.build_signer_uri.clone(),
                    commit: ci.source_repository_digest.clone(),
                })
            }
            None => None,
        };
        let (want, predicate_type) = match &inner.content {
            SignatureContent::MessageSignature(m) => {
                let want = match m.message_digest.as_ref().map(|d| d.algorithm) {
                    None | Some(HashAlgorithm::Sha2256) => Want::Sha256,
                    Some(HashAlgorithm::Sha2512) => Want::Sha512,
                    Some(other) => {
                        return Err(format!(
                            "its message digest is {other}: verun checks SHA-256 and SHA-512"
                        ));
                    }
                };
                (want, None)
            }
            SignatureContent::DsseEnvelope(env) => {
                if env.payload_type != "application/vnd.in-toto+json" {
                    return Err(format!(
                        "its DSSE payload type is {:?}, not an in-toto statement",
                        crate::term::sanitize(&env.payload_type)
                    ));
                }
                let st: sigstore_types::Statement = serde_json::from_slice(env.payload.as_bytes())
                    .map_err(|e| format!("its in-toto statement does not parse: {e}"))?;
                let algs = st.subject_algorithms();
                let want = if algs.contains(&HashAlgorithm::Sha2256) {
                    Want::Sha256
                } else if algs.contains(&HashAlgorithm::Sha2512) {
                    Want::Sha512
                } else {
                    return Err(
                        "its in-toto statement names no subject by SHA-256 or SHA-512".into(),
                    );
                };
                (want, Some(st.predicate_type))
            }
            _ => return Err("it holds neither a message signature nor a DSSE envelope".into()),
        };
        Ok(Bundle {
            inner,
            claims: Claims { cert },
            want,
            predicate_type,
        })
    }

    /// What it claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The digest it is checked against.
    pub fn want(&self) -> Want {
        self.want
    }
}

/// serde's messages end with "at line 1 column 1234": keep them short and printable.
fn short(e: &str) -> String {
    let e = crate::term::sanitize(e);
    if e.chars().count() > 200 {
        format!("{}...", e.chars().take(200).collect::<String>())
    } else {
        e
    }
}

/// The trusted roots of a call: `--trusted-root FILE`, else the ones compiled in.
#[derive(Clone, Debug, Default)]
pub struct Roots {
    custom: Option<(String, std::sync::Arc<TrustedRoot>)>,
}

impl Roots {
    /// The compiled-in roots.
    pub fn builtin() -> Roots {
        Roots { custom: None }
    }

    /// Parse a `trusted_root.json`; `name` names it in reports.
    pub fn from_json(name: &str, bytes: &[u8]) -> Result<Roots, String> {
        provider::install();
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let root = TrustedRoot::from_json(text).map_err(|e| short(&e.to_string()))?;
        sigstore_verify::Verifier::new(&root).map_err(|e| short(&e.to_string()))?;
        Ok(Roots {
            custom: Some((name.to_string(), std::sync::Arc::new(root))),
        })
    }

    /// The roots a bundle for `trust` is tried against, in order, with their names.
    fn for_trust(&self, trust: &Trust) -> Vec<(String, std::sync::Arc<TrustedRoot>)> {
        if let Some((n, r)) = &self.custom {
            return vec![(n.clone(), r.clone())];
        }
        let mut v = vec![("the Sigstore public-good root".to_string(), production())];
        if matches!(trust, Trust::GithubRepo(_)) {
            v.push(("GitHub's Sigstore root".to_string(), github()));
        }
        v
    }
}

fn production() -> std::sync::Arc<TrustedRoot> {
    static ROOT: std::sync::OnceLock<std::sync::Arc<TrustedRoot>> = std::sync::OnceLock::new();
    compiled(&ROOT, sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
}

fn github() -> std::sync::Arc<TrustedRoot> {
    static ROOT: std::sync::OnceLock<std::sync::Arc<TrustedRoot>> = std::sync::OnceLock::new();
    compiled(&ROOT, sigstore_trust_root::SIGSTORE_GITHUB_TRUSTED_ROOT)
}

/// A compiled-in root, parsed once.
fn compiled(
    cell: &'static std::sync::OnceLock<std::sync::Arc<TrustedRoot>>,
    json: &str,
) -> std::sync::Arc<TrustedRoot> {
    cell.get_or_init(|| {
        std::sync::Arc::new(
            TrustedRoot::from_json(json).expect("a compiled-in Sigstore root parses"),
        )
    })
    .clone()
}

/// What a verified bundle says, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct Details {
    /// The certificate's SAN (none for a keyed bundle).
    pub identity: Option<String>,
    /// Its OIDC issuer.
    pub issuer: Option<String>,
    /// Source Repository URI.
    pub repository: Option<String>,
    /// Build Signer URI (workflow and ref).
    pub workflow_ref: Option<String>,
    /// Source Repository Digest (commit).
    pub commit: Option<String>,
    /// The in-toto predicate type (DSSE).
    pub predicate_type: Option<String>,
    /// The root that verified it.
    pub trusted_root: String,
    /// Whether a transparency-log entry was verified.
    pub tlog: bool,
    /// Whether the certificate's SCT was verified.
    pub sct: bool,
}

/// A bundle that verified.
#[derive(Clone, Debug)]
pub struct Good {
    /// The signed time (unix seconds): the earliest verified one (log integrated time,
    /// RFC 3161 time).
    pub signed_time: Option<u64>,
    /// What it says.
    pub details: Details,
    /// The key algorithm (`ECDSA P-256`).
    pub algorithm: String,
}

/// Verify `bundle` for `trust` against `roots`, the payload having these digests (`sha512`
/// when [`Bundle::want`] asked for it).
pub fn verify(
    bundle: &Bundle,
    trust: &Trust,
    roots: &Roots,
    sha256: &[u8; 32],
    sha512: Option<&[u8; 64]>,
) -> Result<Good, String> {
    provider::install();
    let digest = match bundle.want {
        Want::Sha256 => {
            sigstore_types::ArtifactDigest::new(HashAlgorithm::Sha2256, sha256.to_vec())
        }
        Want::Sha512 => match sha512 {
            Some(d) => sigstore_types::ArtifactDigest::new(HashAlgorithm::Sha2512, d.to_vec()),
            None => return Err("the payload's SHA-512 was not computed".into()),
        },
    }
    .map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    for (name, root) in roots.for_trust(trust) {
        match verify_under(bundle, trust, &root, &digest) {
            Ok((result, tlog, sct)) => {
                let signed_time = result
                    .verified_timestamps()
                    .iter()
                    .copied()
                    .chain(result.integrated_time())
                    .min()
                    .and_then(|t| u64::try_from(t.as_second()).ok());
                let cert = bundle.claims.cert.clone().unwrap_or_default();
                let algorithm = match result
                    .certificate()
                    .map(|c| format!("{:?}", c.key_algorithm))
                {
                    Some(a) if a.starts_with("EcdsaP") => format!("ECDSA P-{}", &a[6..]),
                    Some(a) if a.starts_with("Rsa") => "RSA".to_string(),
                    Some(a) => a,
                    None => "public key".to_string(),
                };
                return Ok(Good {
                    signed_time,
                    details: Details {
                        identity: cert.san,
                        issuer: cert.issuer,
                        repository: cert.repository,
                        workflow_ref: cert.workflow_ref,
                        commit: cert.commit,
                        predicate_type: bundle.predicate_type.clone(),
                        trusted_root: name,
                        tlog,
                        sct,
                    },
                    algorithm,
                });
            }
            Err(e) => errors.push(format!("under {name}: {}", short(&e))),
        }
    }
    Err(errors.join("; "))
}

fn verify_under(
    bundle: &Bundle,
    trust: &Trust,
    root: &TrustedRoot,
    digest: &sigstore_types::ArtifactDigest,
) -> Result<(sigstore_verify::VerificationResult, bool, bool), String> {
    use sigstore_verify::{IdentityMatcher, PublicKeyVerificationPolicy, VerificationPolicy};
    let verifier = sigstore_verify::Verifier::new(root).map_err(|e| e.to_string())?;
    let tlog = !root.tlogs.is_empty();
    let sct = !root.ctlogs.is_empty();
    let artifact = sigstore_types::Artifact::Digest(digest.clone());
    // A keyless signer: an identity (exact, or checked against the verified certificate
    // below), or GitHub's issuer with the repository checked below.
    let keyless = |policy: VerificationPolicy| {
        let policy = if tlog {
            policy
        } else {
            policy.skip_tlog_unsafe()
        };
        let policy = if sct { policy } else { policy.skip_sct() };
        verifier
            .verify(artifact.clone(), &bundle.inner, &policy)
            .map_err(|e| e.to_string())
    };
    let result = match trust {
        Trust::Key(der) => {
            let mut policy =
                PublicKeyVerificationPolicy::new(sigstore_types::DerPublicKey::new(der.clone()));
            if !tlog {
                policy = policy.skip_tlog_unsafe();
            }
            verifier
                .verify(artifact, &bundle.inner, &policy)
                .map_err(|e| e.to_string())?
        }
        Trust::Identity {
            issuer,
            identity: Identity::Exact(id),
        } => keyless(VerificationPolicy::new(
            IdentityMatcher::Exact(id.clone()),
            issuer.clone(),
        ))?,
        Trust::Identity {
            issuer,
            identity: Identity::Regexp(p),
        } => {
            let r = keyless(VerificationPolicy::any_identity().require_issuer(issuer))?;
            let san = r.identity().map(|s| s.as_str().to_string());
            if !san.as_deref().is_some_and(|s| p.full_match(s)) {
                return Err(format!(
                    "the certificate's identity {} does not fully match /{}/",
                    san.unwrap_or_default(),
                    p.source()
                ));
            }
            r
        }
        Trust::GithubRepo(repo) => {
            let r = keyless(VerificationPolicy::any_identity().require_issuer(GITHUB_ISSUER))?;
            let uri = r
                .certificate()
                .and_then(|c| c.ci_claims.source_repository_uri.clone());
            if !uri.as_deref().is_some_and(|u| repo_uri_matches(u, repo)) {
                return Err(format!(
                    "the certificate says it was built in {}, not https://github.com/{repo}",
                    uri.unwrap_or_else(|| "no repository".into())
                ));
            }
            r
        }
    };
    if !result.certificate_verified() && !matches!(trust, Trust::Key(_)) {
        return Err("the certificate was not verified".into());
    }
    if tlog && !result.tlog_verified() {
        return Err("the transparency-log entry was not verified".into());
    }
    if result.verified_timestamps().is_empty() && result.integrated_time().is_none() {
        return Err("no verified signed time (no log entry time, no RFC 3161 timestamp)".into());
    }
    let sct = sct && result.sct_verified();
    Ok((result, tlog, sct))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regexp_must_match_the_whole_identity() {
        let p = Pattern::new(r"https://github\.com/o/r/.*").unwrap();
        assert!(p.full_match("https://github.com/o/r/.github/workflows/x.yml@refs/tags/v1"));
        assert!(!p.full_match("evil https://github.com/o/r/x"));
        let q = Pattern::new("a@b.c").unwrap();
        assert!(!q.full_match("a@b.com"));
        assert!(Pattern::new("(").is_err());
    }

    #[test]
    fn signer_ids_round_trip_through_the_store_text() {
        for t in [
            Trust::Identity {
                issuer: "https://accounts.google.com".into(),
                identity: Identity::Exact("a@b.c".into()),
            },
            Trust::Identity {
                issuer: GITHUB_ISSUER.into(),
                identity: Identity::Regexp(Pattern::new("https://github.com/o/.*").unwrap()),
            },
            Trust::GithubRepo("owner/name".into()),
        ] {
            let back = Trust::from_text(&t.text()).unwrap();
            assert_eq!(back.id(), t.id());
        }
        assert!(Trust::from_text("http://x|a").is_err());
        assert!(Trust::from_text("https://evil|repo:o/n").is_err());
    }

    #[test]
    fn repositories_are_owner_slash_name() {
        assert!(parse_repo("cli/cli").is_ok());
        for bad in ["cli", "cli/", "/cli", "a/b/c", "a/..", "a b/c"] {
            assert!(parse_repo(bad).is_err(), "{bad}");
        }
    }
}

/// The third-party vectors through the library layer (the CLI runs them too, in
/// tests/sigstore_vectors.rs): every case's expected result.
#[cfg(test)]
mod vector_tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn every_shared_vector_case_gets_its_expected_result() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/sigstore");
        let Ok(cases) = std::fs::read(dir.join("cases.json")) else {
            eprintln!("SKIPPED: ../shared/vectors/sigstore is absent");
            return;
        };
        let cases: Vec<serde_json::Value> = serde_json::from_slice(&cases).unwrap();
        let mut wrong = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let root_bytes = std::fs::read(dir.join(s("trusted_root"))).unwrap();
            let roots = Roots::from_json("root", &root_bytes).unwrap();
            let trust = if c["key"].is_string() {
                parse_pem_key(&std::fs::read(dir.join(s("key"))).unwrap()).unwrap()
            } else {
                Trust::Identity {
                    issuer: s("issuer"),
                    identity: Identity::Exact(s("identity")),
                }
            };
            let a = s("artifact_or_digest");
            let (sha256, sha512): ([u8; 32], Option<[u8; 64]>) =
                if let Some(h) = a.strip_prefix("sha256:") {
                    (crate::checksums::parse_hex32(h).unwrap(), None)
                } else if let Some(h) = a.strip_prefix("sha512:") {
                    ([0; 32], Some(crate::checksums::parse_hex64(h).unwrap()))
                } else {
                    let bytes = std::fs::read(dir.join(&a)).unwrap();
                    (
                        sha2::Sha256::digest(&bytes).into(),
                        Some(sha2::Sha512::digest(&bytes).into()),
                    )
                };
            let bytes = std::fs::read(dir.join(s("bundle"))).unwrap();
            let got = parse_bundles(&bytes)
                .and_then(|b| verify(&b[0], &trust, &roots, &sha256, sha512.as_ref()).map(|_| ()));
            let ok = got.is_ok();
            if ok != (s("expect") == "ok") {
                wrong.push(format!(
                    "#{} {}: expected {}, got {:?}",
                    i + 1,
                    s("bundle"),
                    s("expect"),
                    got
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
