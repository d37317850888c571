//! The JWT verifier against a JWKS served over real HTTP on loopback, with tokens minted here.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::Value;
use service_kit::jwt::{CLOCK_SKEW, Claims, JwtError, JwtSettings, JwtVerifier};
use test_support::jwt::{self, JwksServer, Mode, SigningKey};
use test_support::wait_until;

const OPERATOR_SCOPE: &str = "calendar:admin";

fn settings(server: &JwksServer) -> JwtSettings {
    let mut settings = JwtSettings::new(server.url().clone(), jwt::ISSUER, jwt::AUDIENCE);
    settings.operator_scope = Some(OPERATOR_SCOPE.into());
    settings
}

fn verifier(settings: &JwtSettings) -> JwtVerifier {
    JwtVerifier::from_settings(settings, reqwest::Client::builder().no_proxy().build().unwrap())
}

async fn provider(keys: Vec<SigningKey>) -> (JwksServer, JwtVerifier) {
    let server = JwksServer::start(keys).await;
    let verifier = verifier(&settings(&server));
    (server, verifier)
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_are_accepted_with_their_claims() {
    let (_server, verifier) = provider(vec![SigningKey::rsa_1(), SigningKey::ec_1()]).await;
    for key in [SigningKey::rsa_1(), SigningKey::ec_1()] {
        let token = key.sign(&jwt::claims("user-1", "jane@example.org"));
        let claims = verifier.verify(&token).await.unwrap_or_else(|e| panic!("{key:?}: {e}"));
        assert_eq!(
            claims,
            Claims {
                sub: "user-1".into(),
                iss: jwt::ISSUER.into(),
                email: Some("jane@example.org".into()),
                operator: false
            }
        );
        assert_eq!(claims.caller_id(), format!("jwt:{}#user-1", jwt::ISSUER));
    }
}

#[tokio::test]
async fn the_operator_scope_makes_an_operator_and_an_unverified_email_is_dropped() {
    let (_server, verifier) = provider(vec![SigningKey::rsa_1()]).await;
    let key = SigningKey::rsa_1();
    let base = jwt::claims("ops", "ops@example.org");
    let operator =
        verifier.verify(&key.sign(&with(base.clone(), "scope", "openid calendar:admin".into()))).await;
    assert!(operator.unwrap().operator);
    let audience_list = with(base.clone(), "aud", serde_json::json!(["other", jwt::AUDIENCE]));
    assert!(!verifier.verify(&key.sign(&audience_list)).await.unwrap().operator);
    let unverified = verifier.verify(&key.sign(&with(base, "email_verified", false.into()))).await;
    assert_eq!(unverified.unwrap().email, None);
}

#[tokio::test]
async fn every_bad_token_is_refused_for_its_own_reason() {
    let (_server, verifier) = provider(vec![SigningKey::rsa_1(), SigningKey::ec_1()]).await;
    let (rsa, ec) = (SigningKey::rsa_1(), SigningKey::ec_1());
    let good = jwt::claims("user-1", "jane@example.org");
    let now = jwt::now();
    let beyond_skew = CLOCK_SKEW.as_secs() as i64 + 60;
    let cases: Vec<(&str, String, JwtError)> = vec![
        ("wrong signature", SigningKey::rsa_2().with_kid("rsa-1").sign(&good), JwtError::BadSignature),
        ("wrong ES256 signature", SigningKey::ec_2().with_kid("ec-1").sign(&good), JwtError::BadSignature),
        ("expired", rsa.sign(&with(good.clone(), "exp", (now - beyond_skew).into())), JwtError::Expired),
        (
            "not yet valid",
            rsa.sign(&with(good.clone(), "nbf", (now + beyond_skew).into())),
            JwtError::NotYetValid,
        ),
        (
            "wrong issuer",
            rsa.sign(&with(good.clone(), "iss", "http://evil.example".into())),
            JwtError::WrongIssuer,
        ),
        ("wrong audience", ec.sign(&with(good.clone(), "aud", "other-app".into())), JwtError::WrongAudience),
        ("unknown kid", SigningKey::rsa_2().sign(&good), JwtError::UnknownKey("rsa-2".into())),
        ("no kid", without_kid(&rsa, &good), JwtError::MissingKid),
        ("alg none", jwt::unsigned("rsa-1", &good), JwtError::Malformed),
        (
            "HS256 with the public key",
            jwt::hs256("rsa-1", jwt::RSA_1_PUBLIC_PEM.as_bytes(), &good),
            JwtError::WrongAlgorithm,
        ),
        (
            "HS256 with the key's JWK",
            jwt::hs256("rsa-1", jwk_text(&rsa).as_bytes(), &good),
            JwtError::WrongAlgorithm,
        ),
        ("RS256 key, ES256 header", rsa.sign_claiming("ES256", &good), JwtError::WrongAlgorithm),
        ("ES256 key, RS256 header", ec.sign_claiming("RS256", &good), JwtError::WrongAlgorithm),
        ("RS256 key, PS256 header", rsa.sign_claiming("PS256", &good), JwtError::WrongAlgorithm),
        ("missing exp", rsa.sign(&without(good.clone(), "exp")), JwtError::MissingClaim("exp".into())),
        ("missing aud", rsa.sign(&without(good.clone(), "aud")), JwtError::MissingClaim("aud".into())),
        ("missing iss", rsa.sign(&without(good.clone(), "iss")), JwtError::MissingClaim("iss".into())),
        ("missing sub", rsa.sign(&without(good.clone(), "sub")), JwtError::MissingClaim("sub".into())),
        ("not a JWT", "0123456789abcdef".into(), JwtError::Malformed),
        ("garbage parts", "eyJhbGciOiJSUzI1NiJ9.!!.x".into(), JwtError::Malformed),
    ];
    for (what, token, expected) in cases {
        assert_eq!(verifier.verify(&token).await, Err(expected), "{what}");
    }
}

/// A token signed with `key` whose header names no key.
fn without_kid(key: &SigningKey, claims: &Value) -> String {
    let token = key.sign(claims);
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(r#"{"alg":"RS256","typ":"JWT"}"#))
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn jwk_text(key: &SigningKey) -> String {
    serde_json::to_string(&key.jwk()).unwrap()
}

#[tokio::test]
async fn the_clock_skew_is_tolerated_up_to_its_bound() {
    let (_server, verifier) = provider(vec![SigningKey::rsa_1()]).await;
    let key = SigningKey::rsa_1();
    let within = CLOCK_SKEW.as_secs() as i64 - 20;
    let good = jwt::claims("user-1", "jane@example.org");
    let now = jwt::now();
    assert!(verifier.verify(&key.sign(&with(good.clone(), "exp", (now - within).into()))).await.is_ok());
    assert!(verifier.verify(&key.sign(&with(good, "nbf", (now + within).into()))).await.is_ok());
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_and_a_withdrawn_one_stops_working() {
    let server = JwksServer::start(vec![SigningKey::rsa_1()]).await;
    let mut settings = settings(&server);
    settings.refetch_interval = Duration::from_millis(200);
    settings.max_age = Duration::from_millis(500);
    let verifier = verifier(&settings);
    let claims = jwt::claims("user-1", "jane@example.org");
    verifier.verify(&SigningKey::rsa_1().sign(&claims)).await.unwrap();

    // The provider rotates in new keys, keeping the old one for a while.
    server.set_keys(vec![SigningKey::rsa_1(), SigningKey::rsa_2(), SigningKey::ec_2()]);
    tokio::time::sleep(settings.refetch_interval).await;
    verifier.verify(&SigningKey::rsa_2().sign(&claims)).await.unwrap();
    verifier.verify(&SigningKey::ec_2().sign(&claims)).await.unwrap();
    assert_eq!(server.requests(), 2);

    // Then it withdraws the old key: accepted from the cache until the cache is older than
    // max_age, when a request refreshes it behind itself.
    server.set_keys(vec![SigningKey::rsa_2(), SigningKey::ec_2()]);
    let old = SigningKey::rsa_1().sign(&claims);
    verifier.verify(&old).await.unwrap();
    tokio::time::sleep(settings.max_age).await;
    wait_until("the withdrawn key to be refused", Duration::from_secs(5), || async {
        (verifier.verify(&old).await == Err(JwtError::UnknownKey("rsa-1".into()))).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_the_provider_one_request_per_interval() {
    let (server, verifier) = provider(vec![SigningKey::rsa_1()]).await;
    let claims = jwt::claims("user-1", "jane@example.org");
    verifier.verify(&SigningKey::rsa_1().sign(&claims)).await.unwrap();
    // One signature, many headers (signing 200 times would time the unoptimised RSA code).
    let signed = SigningKey::rsa_2().sign(&claims);
    let (_, rest) = signed.split_once('.').unwrap();
    let tokens: Vec<String> = (0..200)
        .map(|i| format!("{}.{rest}", b64(&format!(r#"{{"alg":"RS256","kid":"random-{i}"}}"#))))
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let verifier = verifier.clone();
        tasks.push(tokio::spawn(async move { verifier.verify(&token).await }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Err(JwtError::UnknownKey(_))));
    }
    // The first fetch was the only one: the interval (30 s) has not passed.
    assert_eq!((server.requests(), verifier.jwks_fetches()), (1, 1));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // And a known key still works.
    verifier.verify(&SigningKey::rsa_1().sign(&claims)).await.unwrap();
}

#[tokio::test]
async fn a_provider_that_hangs_or_fails_holds_no_request_longer_than_one_fetch_timeout() {
    let server = JwksServer::start(vec![SigningKey::rsa_1()]).await;
    let mut settings = settings(&server);
    settings.fetch_timeout = Duration::from_millis(300);
    settings.refetch_interval = Duration::from_millis(100);
    settings.max_age = Duration::from_millis(100);
    let verifier = verifier(&settings);
    let claims = jwt::claims("user-1", "jane@example.org");
    let known = SigningKey::rsa_1().sign(&claims);
    verifier.verify(&known).await.unwrap();

    for mode in [Mode::Hang, Mode::Fail] {
        server.set_mode(mode);
        tokio::time::sleep(settings.refetch_interval).await;
        let unknown = SigningKey::rsa_2().sign(&claims);
        let answer = tokio::time::timeout(Duration::from_secs(2), verifier.verify(&unknown)).await;
        assert_eq!(answer, Ok(Err(JwtError::UnknownKey("rsa-2".into()))), "{mode:?}");
        // Cached keys keep working while the provider is down, stale or not.
        let answer = tokio::time::timeout(Duration::from_secs(1), verifier.verify(&known)).await;
        assert!(matches!(answer, Ok(Ok(_))), "{mode:?}: {answer:?}");
    }
}

#[tokio::test]
async fn an_oversized_key_set_is_not_read() {
    let server = JwksServer::start(vec![SigningKey::rsa_1()]).await;
    let mut settings = settings(&server);
    settings.max_jwks_bytes = 200;
    let verifier = verifier(&settings);
    let token = SigningKey::rsa_1().sign(&jwt::claims("user-1", "jane@example.org"));
    assert_eq!(verifier.verify(&token).await, Err(JwtError::UnknownKey("rsa-1".into())));
    assert_eq!(server.requests(), 1);
}
