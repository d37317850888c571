//! The provider's keys: fetched from the JWKS URL, cached, refetched for an unknown `kid` at
//! most once per refetch interval, refreshed in the background when old.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use url::Url;

use super::settings::JwtSettings;

/// A verification key and the one algorithm it is for.
#[derive(Clone)]
pub(super) struct Key {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

#[derive(Debug)]
pub(super) struct KeyCache {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    url: Url,
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    refetch_interval: Duration,
    max_age: Duration,
    keys: RwLock<Cached>,
    /// Held while a fetch runs (one at a time); holds when the last one started.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("kids", &self.keys.keys())
            .field("fetched_at", &self.fetched_at)
            .finish()
    }
}

impl KeyCache {
    pub fn new(settings: &JwtSettings, client: reqwest::Client) -> Self {
        Self {
            shared: Arc::new(Shared {
                url: settings.jwks_url.clone(),
                client,
                timeout: settings.fetch_timeout,
                max_bytes: settings.max_jwks_bytes,
                refetch_interval: settings.refetch_interval,
                max_age: settings.max_age,
                keys: RwLock::new(Cached::default()),
                fetching: tokio::sync::Mutex::new(None),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn fetches(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    /// The key named `kid`: from the cache, or after a refetch when the cache lacks it and the
    /// last fetch is older than the refetch interval.
    pub async fn get(&self, kid: &str) -> Option<Key> {
        let (found, stale) = self.shared.cached(kid);
        if let Some(key) = found {
            if stale {
                // Refresh behind the request; the cached key serves this one.
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    if let Ok(mut last) = shared.fetching.try_lock() {
                        shared.refresh(&mut last).await;
                    }
                });
            }
            return Some(key);
        }
        // A fetch already under way may bring the key: wait for it (at most one fetch timeout).
        let mut last = self.shared.fetching.lock().await;
        if let (Some(key), _) = self.shared.cached(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < self.shared.refetch_interval) {
            return None;
        }
        self.shared.refresh(&mut last).await;
        self.shared.cached(kid).0
    }
}

impl Shared {
    fn cached(&self, kid: &str) -> (Option<Key>, bool) {
        let cached = self.keys.read().unwrap_or_else(|e| e.into_inner());
        let stale = cached.fetched_at.is_none_or(|at| at.elapsed() >= self.max_age);
        (cached.keys.get(kid).cloned(), stale)
    }

    /// Fetches the key set and replaces the cache with it; on failure keeps the old keys.
    /// The caller holds `fetching`, whose value records this attempt.
    async fn refresh(&self, last: &mut Option<Instant>) {
        if last.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return;
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = match tokio::time::timeout(self.timeout, self.fetch()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no complete answer within {:?}", self.timeout)),
        };
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched the JWT signing keys");
                let mut cached = self.keys.write().unwrap_or_else(|e| e.into_inner());
                *cached = Cached { keys, fetched_at: Some(Instant::now()) };
            }
            Err(reason) => {
                tracing::warn!(url = %self.url, %reason, "cannot fetch the JWT signing keys; keeping the cached ones");
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        if response.content_length().is_some_and(|len| len > self.max_bytes as u64) {
            return Err(format!("key set larger than {} bytes", self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the body: {e}"))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(format!("key set larger than {} bytes", self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        parse_key_set(&body)
    }
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// The RS256 and ES256 signing keys of a JWKS document, by `kid`. Keys of other types, for
/// other uses or algorithms, or without a `kid` are skipped: a provider may publish them.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Key>, String> {
    let set: RawKeySet = serde_json::from_slice(body).map_err(|e| format!("not a JWK set: {e}"))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
        let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty()) else { continue };
        if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
            continue;
        }
        let stated = jwk.common.key_algorithm;
        let key = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) if matches!(stated, None | Some(KeyAlgorithm::RS256)) => {
                DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                    .ok()
                    .map(|key| Key { alg: Algorithm::RS256, key })
            }
            AlgorithmParameters::EllipticCurve(ec)
                if ec.curve == EllipticCurve::P256 && matches!(stated, None | Some(KeyAlgorithm::ES256)) =>
            {
                DecodingKey::from_ec_components(&ec.x, &ec.y)
                    .ok()
                    .map(|key| Key { alg: Algorithm::ES256, key })
            }
            _ => None,
        };
        if let Some(key) = key {
            keys.insert(kid, key);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_and_es256_signing_keys_with_a_kid_are_kept() {
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-enc", "use": "enc", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "future", "kid": "future"},
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["rsa"]);
        assert_eq!(keys["rsa"].alg, Algorithm::RS256);
        assert!(parse_key_set(b"<html>").is_err());
    }
}
