//! Which keys are trusted for a call: keys given with `--key`, and the key store.
//!
//! A signature's key id selects the key. `--key` keys count for any URL; store keys count
//! only when their scope covers the URL and they are neither expired, revoked nor rotated
//! out. A revoked or rotated-out key id is refused everywhere, even when passed with
//! `--key` (a rotated-out key's error names its successor).

use crate::error::{Error, Result};
use crate::location::HttpUrl;
use crate::minisig::{KeyId, PublicKey};
use crate::plan::GivenKey;

/// A key that may verify this call's signatures, and where the trust came from.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// The key.
    pub key: PublicKey,
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
    /// Look a key id up for `url` (`None` for local files, where only global keys count).
    fn lookup(&self, id: KeyId, url: Option<&HttpUrl>) -> StoreVerdict;
    /// Whether some trusted, in-scope key covers `url`: then a signature is expected.
    fn covers(&self, url: Option<&HttpUrl>) -> bool {
        !self.covering(url).is_empty()
    }
    /// The names of the trusted, in-scope keys that cover `url`, for messages.
    fn covering(&self, url: Option<&HttpUrl>) -> Vec<String>;
    /// If the key id may not be used even when given with `--key` (revoked, or rotated
    /// out in favour of a successor), the error to refuse it with.
    fn refuses_given(&self, id: KeyId) -> Option<Error>;
    /// Whether the store holds any key at all (then signatures are looked for).
    fn is_empty(&self) -> bool;
}

/// The keys for one call.
pub struct KeyRing<'s> {
    given: Vec<GivenKey>,
    store: Option<&'s dyn KeyStore>,
}

impl<'s> KeyRing<'s> {
    /// Keys given on the command line, plus the store. `--key` keys that the store knows as
    /// revoked or rotated out are refused here (77), before anything is downloaded.
    pub fn new(given: Vec<GivenKey>, store: Option<&'s dyn KeyStore>) -> Result<KeyRing<'s>> {
        if let Some(store) = store {
            for g in &given {
                if let Some(err) = store.refuses_given(g.key.id()) {
                    return Err(err);
                }
            }
        }
        Ok(KeyRing { given, store })
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
            .map(|g| format!("--key {}", g.key.id()))
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

    /// The key for a signature by `id`, or the refusal.
    pub fn resolve(&self, id: KeyId, url: Option<&HttpUrl>, what: &str) -> Result<TrustedKey> {
        if let Some(g) = self.given.iter().find(|g| g.key.id() == id) {
            return Ok(TrustedKey {
                key: g.key.clone(),
                source: g.source.clone(),
                store_name: None,
            });
        }
        if let Some(store) = self.store {
            match store.lookup(id, url) {
                StoreVerdict::Trusted(k) => return Ok(k),
                StoreVerdict::Refused(e) => return Err(e),
                StoreVerdict::Unknown => {}
            }
        }
        let given: Vec<String> = self.given.iter().map(|g| g.key.id().to_string()).collect();
        let msg = if given.is_empty() {
            format!("{what} is signed by key {id}, which is not trusted")
        } else {
            format!(
                "{what} is signed by key {id}, not by the given key{} {}",
                if given.len() > 1 { "s" } else { "" },
                given.join(", ")
            )
        };
        Err(Error::refused_for(crate::error::Reason::UntrustedKey, msg)
            .hint("pass the publisher's key with --key, or trust it with `verun key add`"))
    }
}
