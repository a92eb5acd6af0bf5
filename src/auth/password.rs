//! Password hashing with argon2id (OWASP's minimum: m = 19 MiB, t = 2, p = 1), run on
//! the blocking pool so a login never stalls the async workers.

use argon2::{Algorithm, Argon2, Params, Version};
use argon2::{PasswordHasher, PasswordVerifier};

use crate::error::{ApiError, ApiResult};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

fn hasher() -> ApiResult<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Rejects passwords that are too short or absurdly long, naming the field.
pub fn check_strength(field: &str, password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid_field(
            field,
            "too_short",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid_field(
            field,
            "too_long",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

fn hash_now(password: &str) -> ApiResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    Ok(hasher()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
        .to_string())
}

/// Hashes on a blocking thread, keeping the caller's tracing span.
pub async fn hash(password: String) -> ApiResult<String> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| hash_now(&password))).await?
}

/// Verifies on a blocking thread. With no stored hash (unknown user) it still does the
/// same work against a fixed hash, so response time does not reveal which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> ApiResult<bool> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        span.in_scope(|| {
            let known = stored.is_some();
            let stored = match stored {
                Some(s) => s,
                None => dummy_hash()?.to_string(),
            };
            let ok = hasher()?
                .verify_password(password.as_bytes(), stored.as_str())
                .is_ok();
            Ok(known && ok)
        })
    })
    .await?
}

/// Computes the stand-in hash that unknown usernames are verified against, so that a
/// login for an unknown username never costs more than one for a known one.
pub fn prepare() {
    if let Err(e) = dummy_hash() {
        tracing::warn!(error = %e.detail, "could not prepare the stand-in password hash");
    }
}

fn dummy_hash() -> ApiResult<&'static str> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_now("not-a-real-password-for-timing")?;
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id_with_owasp_parameters() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            verify("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse battery".into(), Some(h)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn strength_is_checked_in_characters() {
        assert!(check_strength("password", "short").is_err());
        assert!(check_strength("password", "mật khẩu dài đủ").is_ok());
        assert!(check_strength("password", &"x".repeat(257)).is_err());
    }
}
