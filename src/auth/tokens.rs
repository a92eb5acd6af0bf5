//! Access tokens (HS256 JWTs, algorithm pinned) and opaque secrets (refresh tokens,
//! service-client secrets): 256 random bits, shown once, stored only as SHA-256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::PrincipalKind;
use crate::auth::policy::Role;
use crate::error::{ApiError, ApiResult};

pub const ISSUER: &str = "gereport";
pub const AUDIENCE: &str = "gereport-api";
/// Access tokens live 15 minutes at most (the issue's ceiling); 10 keeps a margin.
pub const ACCESS_TOKEN_SECONDS: i64 = 600;
pub const REFRESH_TOKEN_DAYS: i64 = 30;
/// Clock skew tolerated between this service and others that mint or check times.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Claims {
    pub sub: Uuid,
    pub kind: PrincipalKind,
    pub role: Role,
    pub unit: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
}

impl Claims {
    /// When the token was issued, to the millisecond: the `jti` is a UUIDv7, whose
    /// timestamp is finer than `iat`'s whole seconds (a login in the same second as a
    /// logout must not count as before it). Tokens with another `jti` fall back to `iat`.
    pub fn issued_at(&self) -> chrono::DateTime<chrono::Utc> {
        let from_jti = self.jti.get_timestamp().and_then(|ts| {
            let (secs, nanos) = ts.to_unix();
            chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
        });
        from_jti
            .filter(|t| t.timestamp() == self.iat)
            .or_else(|| chrono::DateTime::from_timestamp(self.iat, 0))
            .unwrap_or_default()
    }
}

/// Signing and checking keys, built once from the configured secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Mints an access token; returns it with its lifetime in seconds.
    pub fn issue(
        &self,
        sub: Uuid,
        kind: PrincipalKind,
        role: Role,
        unit: Uuid,
    ) -> ApiResult<(String, i64)> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub,
            kind,
            role,
            unit,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti: Uuid::now_v7(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, ACCESS_TOKEN_SECONDS))
    }

    /// Checks signature, algorithm, issuer, audience and times; any failure is a 401.
    pub fn verify(&self, token: &str) -> ApiResult<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                let detail = match e.kind() {
                    K::ExpiredSignature => "the access token has expired",
                    K::ImmatureSignature => "the access token is not valid yet",
                    K::InvalidAudience => "the access token is not meant for this service",
                    K::InvalidIssuer => "the access token was not issued by this service",
                    _ => "the access token is invalid",
                };
                ApiError::unauthorized("invalid_token", detail)
            })
    }
}

/// A new opaque secret: 32 random bytes, base64url without padding.
pub fn new_secret() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_pin_the_algorithm() {
        let keys = JwtKeys::new("0123456789abcdef0123456789abcdef");
        let (t, ttl) = keys
            .issue(Uuid::nil(), PrincipalKind::User, Role::Viewer, Uuid::nil())
            .unwrap();
        assert!(ttl <= 900);
        let c = keys.verify(&t).unwrap();
        assert_eq!(c.role, Role::Viewer);
        let other = JwtKeys::new("another-secret-another-secret-000");
        assert!(other.verify(&t).is_err());
    }

    #[test]
    fn secrets_are_256_bits_and_distinct() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_eq!(hash_secret(&a).len(), 32);
    }
}
