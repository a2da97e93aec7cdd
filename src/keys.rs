//! Which keys are trusted for a call: keys given with `--key`, and the key store.
//!
//! A signature's key id selects the key. `--key` keys count for any URL; store keys count
//! only when their scope covers the URL and they are neither expired, revoked nor rotated
//! out. A revoked or rotated-out key id is refused everywhere, even when passed with
//! `--key` (a rotated-out key's error names its successor).

use crate::error::{Error, Result};
use crate::location::HttpUrl;
use crate::plan::GivenKey;
use crate::scheme::{Claim, Signer, SignerKind};

/// A key that may verify this call's signatures, and where the trust came from.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The key (any kind).
    pub key: Signer,
    /// `--key ...` or `store key NAME`, for reports.
    pub source: String,
    /// The store name, when the key came from the store.
    pub store_name: Option<String>,
}

/// What the key store says about a key id for a URL.
#[derive(Debug)]
pub enum StoreVerdict {
    /// The store does not know this key id.
    Unknown,
    /// Trusted for this URL.
    Trusted(TrustedKey),
    /// Known, but refused (out of scope, expired, revoked, rotated out): the error names it.
    Refused(Error),
}

/// The key store as the verifier sees it. Implemented by `store::Store`.
pub trait KeyStore {
    /// Look the signer a signature claims up for `url` (`None` for local files, where only
    /// global keys count).
    fn lookup(&self, claim: &Claim<'_>, url: Option<&HttpUrl>) -> StoreVerdict;
    /// Whether some trusted, in-scope key covers `url`: then a signature is expected.
    fn covers(&self, url: Option<&HttpUrl>) -> bool {
        !self.covering(url).is_empty()
    }
    /// The names of the trusted, in-scope keys that cover `url`, for messages.
    fn covering(&self, url: Option<&HttpUrl>) -> Vec<String>;
    /// If the key may not be used even when given with `--key` (revoked, or rotated out in
    /// favour of a successor), the error to refuse it with.
    fn refuses_given(&self, key: &Signer) -> Option<Error>;
    /// The kinds of the trusted, in-scope keys that cover `url`, and (`all`) of every key
    /// the store holds: which signature siblings are looked for.
    fn kinds(&self, url: Option<&HttpUrl>, all: bool) -> Vec<SignerKind>;
    /// The store key named `signer_id` (`KIND:ID`), whatever its state.
    fn signer(&self, signer_id: &str) -> Option<Signer>;
    /// What the store says about the key named `signer_id` for `url` (audit: the signer a
    /// lock entry records).
    fn lookup_signer(&self, signer_id: &str, url: Option<&HttpUrl>) -> StoreVerdict;
    /// Whether the store holds any key at all (then signatures are looked for).
    fn is_empty(&self) -> bool;
    /// The trusted, in-scope GitHub repositories (`key add --github-repo`) covering `url`:
    /// their attestations are looked up when no bundle is found.
    fn github_repos(&self, _url: Option<&HttpUrl>) -> Vec<TrustedKey> {
        Vec::new()
    }
}

/// The keys for one call.
pub struct KeyRing<'s> {
    given: Vec<GivenKey>,
    store: Option<&'s dyn KeyStore>,
    roots: crate::sigstore::Roots,
}

impl<'s> KeyRing<'s> {
    /// Keys given on the command line, plus the store. `--key` keys that the store knows as
    /// revoked or rotated out are refused here (77), before anything is downloaded.
    pub fn new(given: Vec<GivenKey>, store: Option<&'s dyn KeyStore>) -> Result<KeyRing<'s>> {
        if let Some(store) = store {
            for g in &given {
                if let Some(err) = store.refuses_given(&g.key) {
                    return Err(err);
                }
            }
        }
        Ok(KeyRing {
            given,
            store,
            roots: crate::sigstore::Roots::builtin(),
        })
    }

    /// Check Sigstore bundles against `roots` (`--trusted-root`) instead of the compiled-in
    /// roots.
    pub fn with_sigstore_roots(mut self, roots: crate::sigstore::Roots) -> KeyRing<'s> {
        self.roots = roots;
        self
    }

    /// The roots Sigstore bundles are checked against.
    pub fn sigstore_roots(&self) -> &crate::sigstore::Roots {
        &self.roots
    }

    /// The Sigstore repository signers for `url`, for the attestation lookup: those given
    /// (`--github-repo`), then the store's that cover it.
    pub fn github_repos(&self, url: Option<&HttpUrl>) -> Vec<TrustedKey> {
        let mut v: Vec<TrustedKey> = self
            .given
            .iter()
            .filter(|g| matches!(&g.key, Signer::Sigstore(t) if matches!(**t, crate::sigstore::Trust::GithubRepo(_))))
            .map(|g| TrustedKey {
                key: g.key.clone(),
                source: g.source.clone(),
                store_name: None,
            })
            .collect();
        if let Some(store) = self.store {
            v.extend(store.github_repos(url));
        }
        v
    }

    /// Whether any key could verify a signature for `url`, so that signatures are looked for.
    pub fn wants_signature(&self, url: Option<&HttpUrl>) -> bool {
        !self.given.is_empty() || self.store.is_some_and(|s| !s.is_empty() || s.covers(url))
    }

    /// Whether a signature is *required* for `url`: a key was given, or a store key covers it.
    pub fn requires_signature(&self, url: Option<&HttpUrl>) -> bool {
        !self.given.is_empty() || self.store.is_some_and(|s| s.covers(url))
    }

    /// Who expects a signature for `url`, in words: the given keys and the covering store
    /// keys (for the "signature not found" refusal).
    pub fn expecting(&self, url: Option<&HttpUrl>) -> String {
        let mut who: Vec<String> = self
            .given
            .iter()
            .map(|g| format!("--key {}", g.key.short_id()))
            .collect();
        if let Some(store) = self.store {
            who.extend(
                store
                    .covering(url)
                    .into_iter()
                    .map(|n| format!("store key {n}")),
            );
        }
        who.join(", ")
    }

    /// The kinds of signature to look for next to `url`: those of the given keys and of
    /// the store keys covering it; when none cover it, those of every store key (a
    /// signature found is then checked, and refused with the reason the store gives).
    pub fn kinds(&self, url: Option<&HttpUrl>) -> Vec<SignerKind> {
        let mut kinds: Vec<SignerKind> = self.given.iter().map(|g| g.key.kind()).collect();
        if let Some(store) = self.store {
            kinds.extend(store.kinds(url, false));
            if kinds.is_empty() {
                kinds.extend(store.kinds(url, true));
            }
        }
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// What the ring says about the signer `claim` names, for `url`: a given key first,
    /// then the store.
    pub fn verdict(&self, claim: &Claim<'_>, url: Option<&HttpUrl>) -> StoreVerdict {
        if let Some(g) = self.given.iter().find(|g| g.key.answers(claim)) {
            return StoreVerdict::Trusted(TrustedKey {
                key: g.key.clone(),
                source: g.source.clone(),
                store_name: None,
            });
        }
        match self.store {
            Some(store) => store.lookup(claim, url),
            None => StoreVerdict::Unknown,
        }
    }

    /// The key for a signature by `claim`, or the refusal.
    pub fn resolve(
        &self,
        claim: &Claim<'_>,
        url: Option<&HttpUrl>,
        what: &str,
    ) -> Result<TrustedKey> {
        match self.verdict(claim, url) {
            StoreVerdict::Trusted(k) => Ok(k),
            StoreVerdict::Refused(e) => Err(e),
            StoreVerdict::Unknown => Err(self.untrusted(claim, what)),
        }
    }

    /// The refusal for a signature by a signer nobody trusts here.
    pub fn untrusted(&self, claim: &Claim<'_>, what: &str) -> Error {
        let id = claim.describe();
        let given: Vec<String> = self
            .given
            .iter()
            .map(|g| match &g.key {
                Signer::Sigstore(t) => t.describe(),
                k => k.short_id(),
            })
            .collect();
        let sigstore = self
            .given
            .iter()
            .all(|g| matches!(g.key, Signer::Sigstore(_)));
        let msg = if given.is_empty() {
            format!("{what} is signed by {id}, which is not trusted")
        } else if sigstore {
            format!("{what} is signed by {id}, not by {}", given.join(" or "))
        } else {
            format!(
                "{what} is signed by {id}, not by the given key{} {}",
                if given.len() > 1 { "s" } else { "" },
                given.join(", ")
            )
        };
        let hint = if matches!(claim, Claim::Sigstore(_)) {
            "name the signer with --cert-identity ID (or --cert-identity-regexp RE) and --cert-oidc-issuer URL, or --github-repo OWNER/NAME; or trust it with `verun key add`"
        } else {
            "pass the publisher's key with --key, or trust it with `verun key add`"
        };
        Error::refused_for(crate::error::Reason::UntrustedKey, msg).hint(hint)
    }
}

/// The keys `plan` gives for this call: the `--key` values, plus the certificates
/// downloaded from `--key https://...`, narrowed by `--fingerprint` (only OpenPGP
/// certificates with a pinned primary fingerprint count once one is given; minisign and SSH
/// keys are not affected). Every pinned fingerprint must name a certificate that was given:
/// a missing one is refused (77), since the certificate served may have been replaced.
pub fn given_keys(plan: &crate::plan::Plan, net: &crate::fetch::Net) -> Result<Vec<GivenKey>> {
    let mut keys = plan.keys.clone();
    for url in &plan.key_urls {
        let bytes = net
            .get_small(url, crate::openpgp::MAX_CERT_BYTES)?
            .ok_or_else(|| {
                Error::download(format!(
                    "--key {url}: the certificate was not found (HTTP 404)"
                ))
                .hint("check the URL of the publisher's certificate")
            })?;
        if !crate::openpgp::is_certificate(&bytes) {
            return Err(Error::refused_for(
                crate::error::Reason::UntrustedKey,
                format!("--key {url}: the download is not an OpenPGP certificate"),
            )
            .hint(
                "a key downloaded by URL must be an OpenPGP certificate, pinned with --fingerprint",
            ));
        }
        let shown = crate::term::sanitize(&url.to_string());
        let parsed = crate::plan::parse_key_bytes(&bytes, &shown, &format!("--key {url}"))
            .map_err(|e| {
                Error::refused_for(crate::error::Reason::UntrustedKey, e.message().to_string())
                    .hint("the certificate served is damaged or not what the publisher published")
            })?;
        keys.extend(parsed);
    }
    let mut keys = merge_copies(keys);
    if plan.fingerprints.is_empty() {
        return Ok(keys);
    }
    let pinned = |k: &GivenKey| match &k.key {
        Signer::OpenPgp(c) => plan.fingerprints.contains(c.fingerprint()),
        _ => true,
    };
    for f in &plan.fingerprints {
        let found = keys
            .iter()
            .any(|k| matches!(&k.key, Signer::OpenPgp(c) if c.fingerprint() == f));
        if !found {
            let given: Vec<String> = keys
                .iter()
                .filter_map(|k| match &k.key {
                    Signer::OpenPgp(c) => Some(c.fingerprint().to_hex()),
                    _ => None,
                })
                .collect();
            return Err(Error::refused_for(
                crate::error::Reason::UntrustedKey,
                format!(
                    "--fingerprint {f}: no certificate given with --key has this fingerprint{}",
                    if given.is_empty() {
                        String::new()
                    } else {
                        format!(" (given: {})", given.join(", "))
                    }
                ),
            )
            .hint("the certificate file or URL does not hold the publisher's pinned key: it may have been replaced; check both against the publisher's documentation"));
        }
    }
    keys.retain(pinned);
    Ok(keys)
}

/// Copies of one OpenPGP certificate given in several `--key` files (or URLs) merged into
/// one, as gpg and Sequoia merge them: a stale copy beside a revoked or expired one must not
/// escape the revocation.
fn merge_copies(keys: Vec<GivenKey>) -> Vec<GivenKey> {
    let mut out: Vec<GivenKey> = Vec::with_capacity(keys.len());
    for k in keys {
        let Signer::OpenPgp(c) = &k.key else {
            out.push(k);
            continue;
        };
        let same = out
            .iter_mut()
            .find(|o| matches!(&o.key, Signer::OpenPgp(x) if x.fingerprint() == c.fingerprint()));
        match same {
            Some(o) => {
                if let Signer::OpenPgp(x) = &o.key {
                    let mut merged =
                        crate::openpgp::merge_certs(vec![(**x).clone(), (**c).clone()]);
                    if merged.len() == 1 {
                        o.key = Signer::OpenPgp(Box::new(merged.remove(0)));
                    }
                }
                if !o.source.contains(&k.source) {
                    o.source = format!("{}, {}", o.source, k.source);
                }
            }
            None => out.push(k),
        }
    }
    out
}
