//! Password hashing with argon2id (OWASP's minimum: m = 19 MiB, t = 2, p = 1), run on
//! the blocking pool so a login never stalls the async workers.
//!
//! Each hash takes 19 MiB for its duration, so at most as many run at once as the
//! machine has cores (more would only queue for the CPU anyway); a bounded number
//! wait their turn, and past that a login is answered 503 `overloaded` with
//! `Retry-After` at once. A flood of logins therefore costs a fixed amount of memory
//! instead of 19 MiB per request in flight.

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

/// Hashes waiting for their turn, beyond those running; more are refused with a 503.
const MAX_WAITING: usize = 64;

fn slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a waiter for as long as it waits, even when its request is dropped.
struct Waiting;

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn overloaded() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "too many logins are being checked at once; retry in a second",
    )
    .vi("Hệ thống đang kiểm tra quá nhiều lượt đăng nhập; đề nghị thử lại sau giây lát")
    .with_header(actix_web::http::header::RETRY_AFTER, "1")
}

/// Runs one hashing job on the blocking pool once a slot is free, keeping the
/// caller's tracing span.
async fn in_slot<T: Send + 'static>(
    job: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    use std::sync::atomic::Ordering;
    let permit = match slots().try_acquire() {
        Ok(p) => p,
        Err(_) => {
            if WAITING.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
                WAITING.fetch_sub(1, Ordering::SeqCst);
                return Err(overloaded());
            }
            let _waiting = Waiting;
            slots().acquire().await.map_err(ApiError::internal)?
        }
    };
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        span.in_scope(job)
    })
    .await?
}

/// Hashes on a blocking thread, in turn with every other hash and verification.
pub async fn hash(password: String) -> ApiResult<String> {
    in_slot(move || hash_now(&password)).await
}

/// Verifies on a blocking thread. With no stored hash (unknown user) it still does the
/// same work against a fixed hash, so response time does not reveal which usernames exist.
pub async fn verify(password: String, stored: Option<String>) -> ApiResult<bool> {
    in_slot(move || {
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
    .await
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
