//! Login throttling: too many failures for one username (or client id), or from one
//! client address, within a window gets 429 with `Retry-After`. A wrong current
//! password on `/me/password` counts as a failed login of that username, so a stolen
//! access token cannot be used to guess the password behind it.
//!
//! Failures are rows in PostgreSQL (`login_failures`), so every process behind a load
//! balancer counts the same attempts; the check is one indexed query, next to the
//! ~50 ms a password verification costs anyway.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};

use crate::error::{ApiError, ApiResult};

pub struct LoginLimiter {
    window: Duration,
    per_username: i64,
    per_address: i64,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(Duration::from_secs(15 * 60), 5, 30)
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    failures: i64,
    /// Milliseconds until the oldest failure in the window leaves it.
    #[diesel(sql_type = BigInt)]
    wait_ms: i64,
}

/// The address failures are counted against: the TCP peer. (Behind a reverse proxy
/// this is the proxy; the per-username limit still holds.)
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What was typed as a username is kept only as its digest: people sometimes type a
/// password there, and failures are kept for a day.
fn user_key(username: &str) -> String {
    let digest = Sha256::digest(username.to_lowercase().as_bytes());
    format!("u:{}", hex::encode(digest))
}

fn address_key(address: &str) -> String {
    format!("a:{address}")
}

impl LoginLimiter {
    pub fn new(window: Duration, per_username: i64, per_address: i64) -> Self {
        LoginLimiter {
            window,
            per_username,
            per_address,
        }
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// `Some(seconds)` when the caller must wait before trying again.
    pub async fn retry_after(
        &self,
        conn: &mut AsyncPgConnection,
        username: &str,
        address: &str,
    ) -> ApiResult<Option<u64>> {
        let (user, addr) = (user_key(username), address_key(address));
        let counts: Vec<Count> = diesel::sql_query(
            "SELECT key, count(*) AS failures, \
                    (ceil(extract(epoch FROM min(failed_at) + $2 * interval '1 millisecond' - now()) \
                          * 1000))::bigint AS wait_ms \
             FROM login_failures \
             WHERE key = ANY($1) AND failed_at > now() - $2 * interval '1 millisecond' \
             GROUP BY key",
        )
        .bind::<Array<Text>, _>(vec![user.clone(), addr])
        .bind::<BigInt, _>(self.window_ms())
        .load(conn)
        .await?;
        let wait = counts
            .iter()
            .filter(|c| {
                let limit = if c.key == user {
                    self.per_username
                } else {
                    self.per_address
                };
                c.failures >= limit
            })
            .map(|c| c.wait_ms)
            .max();
        Ok(wait.map(|ms| u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)))
    }

    /// 429 with `Retry-After` when the caller must wait before trying again.
    pub async fn check(
        &self,
        conn: &mut AsyncPgConnection,
        username: &str,
        address: &str,
    ) -> ApiResult<()> {
        match self.retry_after(conn, username, address).await? {
            None => Ok(()),
            Some(secs) => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed attempts; try again in {secs} seconds"),
            )
            .with_header(header::RETRY_AFTER, &secs.to_string())),
        }
    }

    pub async fn record_failure(
        &self,
        conn: &mut AsyncPgConnection,
        username: &str,
        address: &str,
    ) -> ApiResult<()> {
        diesel::sql_query("INSERT INTO login_failures (key) SELECT unnest($1)")
            .bind::<Array<Text>, _>(vec![user_key(username), address_key(address)])
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A successful login clears the username's failures (not the address's).
    pub async fn record_success(
        &self,
        conn: &mut AsyncPgConnection,
        username: &str,
    ) -> ApiResult<()> {
        diesel::sql_query("DELETE FROM login_failures WHERE key = $1")
            .bind::<Text, _>(user_key(username))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// Forgets failures older than a day (the window is minutes).
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> ApiResult<usize> {
    Ok(
        diesel::sql_query("DELETE FROM login_failures WHERE failed_at < now() - interval '1 day'")
            .execute(conn)
            .await?,
    )
}
