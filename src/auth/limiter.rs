//! Login throttling, after OWASP's authentication guidance: failures are counted per
//! username *from an address* and per address; five failures for a username from one
//! address, or thirty from one address, get 429 with `Retry-After` — from that address
//! only, so nobody can lock a colleague (or a service client, by its public id) out
//! from elsewhere. Failures for a username from everywhere slow its logins down
//! instead (a delay growing with each failure, capped). A wrong current password on
//! `/me/password` counts as a failed login of that username.
//!
//! An attempt is counted *before* its password is checked, in one transaction that
//! holds an advisory lock on each of its keys: a burst of concurrent guesses is
//! serialised on those locks, each sees the ones before it, and no more than the
//! limit get through. A success removes its own rows again. The rows live in
//! PostgreSQL (`login_failures`), so every service process counts the same attempts.
//!
//! The client address is the TCP peer, unless that peer is a trusted reverse proxy
//! (`GEREPORT_TRUSTED_PROXIES`): then it is the nearest untrusted address of
//! `X-Forwarded-For` (or `Forwarded: for=`).

use std::net::IpAddr;
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

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

/// The address failures are counted against: the TCP peer, or, when the peer is a
/// trusted proxy, the address it forwarded for.
pub fn client_address(req: &HttpRequest) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    let forwarded = || {
        let xff = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().to_string())
            .collect::<Vec<_>>();
        if !xff.is_empty() {
            return xff;
        }
        req.headers()
            .get_all(header::FORWARDED)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"').to_string())
                })
            })
            .collect()
    };
    match peer {
        Some(ip) if trusted.contains(&ip) => forwarded_client(&forwarded(), trusted)
            .map_or_else(|| ip.to_string(), |a| a.to_string()),
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

/// The nearest address in a forwarding chain that is not one of our proxies: the
/// chain is read from the right (the hop closest to us), as only our own proxies'
/// entries can be trusted. `None` when the chain holds no readable address.
fn forwarded_client(chain: &[String], trusted: &[IpAddr]) -> Option<IpAddr> {
    chain
        .iter()
        .rev()
        .map(|a| parse_node(a))
        .take_while(Option::is_some)
        .flatten()
        .find(|ip| !trusted.contains(ip))
}

/// `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]:4711` or `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.rsplit_once(':')?.0.parse().ok()
}

/// What was typed as a username is kept only as its digest: people sometimes type a
/// password there, and failures are kept for a day.
fn user_key(username: &str) -> String {
    let digest = Sha256::digest(username.to_lowercase().as_bytes());
    format!("u:{}", hex::encode(digest))
}

/// A username from one address.
fn pair_key(username: &str, address: &str) -> String {
    let digest = Sha256::digest(username.to_lowercase().as_bytes());
    format!("p:{}@{address}", hex::encode(digest))
}

fn address_key(address: &str) -> String {
    format!("a:{address}")
}

/// An attempt counted in advance; `succeeded` uncounts it.
#[must_use]
pub struct Attempt {
    id: Uuid,
    pair: String,
    /// How long to hold the answer back: failures for this username from anywhere.
    pub delay: Duration,
}

/// The longest a login is slowed down by failures of its username elsewhere.
const MAX_DELAY: Duration = Duration::from_secs(2);

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

    /// Counts an attempt for `username` from `address` before its password is checked:
    /// 429 with `Retry-After` when the pair or the address has reached its limit.
    /// Concurrent attempts are serialised on advisory locks of their keys, so a burst
    /// gets no more through than the limit.
    pub async fn begin(
        &self,
        conn: &mut AsyncPgConnection,
        username: &str,
        address: &str,
    ) -> ApiResult<Attempt> {
        let (user, pair, addr) = (
            user_key(username),
            pair_key(username, address),
            address_key(address),
        );
        let id = Uuid::now_v7();
        let window_ms = self.window_ms();
        let (per_pair, per_address) = (self.per_username, self.per_address);
        let keys = vec![user.clone(), pair.clone(), addr.clone()];
        let (wait, failures_everywhere) = conn
            .transaction::<_, ApiError, _>(async |conn| {
                // Locks in one order everywhere: no two attempts deadlock.
                let mut sorted = keys.clone();
                sorted.sort();
                diesel::sql_query(
                    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n \
                     FROM unnest($1::text[]) AS k",
                )
                .bind::<Array<Text>, _>(sorted)
                .execute(conn)
                .await?;
                let counts: Vec<Count> = diesel::sql_query(
                    "SELECT key, count(*) AS failures, \
                            (ceil(extract(epoch FROM min(failed_at) + $2 * interval '1 millisecond' - now()) \
                                  * 1000))::bigint AS wait_ms \
                     FROM login_failures \
                     WHERE key = ANY($1) AND failed_at > now() - $2 * interval '1 millisecond' \
                     GROUP BY key",
                )
                .bind::<Array<Text>, _>(keys.clone())
                .bind::<BigInt, _>(window_ms)
                .load(conn)
                .await?;
                let wait = counts
                    .iter()
                    .filter(|c| {
                        (c.key == pair && c.failures >= per_pair)
                            || (c.key == addr && c.failures >= per_address)
                    })
                    .map(|c| c.wait_ms)
                    .max();
                let everywhere = counts
                    .iter()
                    .find(|c| c.key == user)
                    .map_or(0, |c| c.failures);
                if wait.is_none() {
                    diesel::sql_query(
                        "INSERT INTO login_failures (key, attempt) SELECT unnest($1::text[]), $2",
                    )
                    .bind::<Array<Text>, _>(keys.clone())
                    .bind::<diesel::sql_types::Uuid, _>(id)
                    .execute(conn)
                    .await?;
                }
                Ok((wait, everywhere))
            })
            .await?;
        if let Some(ms) = wait {
            let secs = u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many failed attempts; try again in {secs} seconds"),
            )
            .vi(format!(
                "Đăng nhập sai quá nhiều lần; đề nghị thử lại sau {secs} giây"
            ))
            .with_header(header::RETRY_AFTER, &secs.to_string()));
        }
        Ok(Attempt {
            id,
            pair,
            delay: growing_delay(failures_everywhere, self.per_username),
        })
    }

    /// An attempt that was never judged (the password could not be checked) is taken
    /// back, and nothing else: earlier failures stay.
    pub async fn withdraw(&self, conn: &mut AsyncPgConnection, attempt: Attempt) -> ApiResult<()> {
        diesel::sql_query("DELETE FROM login_failures WHERE attempt = $1")
            .bind::<diesel::sql_types::Uuid, _>(attempt.id)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// A successful attempt is not a failure: its rows go, and so do the earlier
    /// failures of this username from this address.
    pub async fn succeeded(&self, conn: &mut AsyncPgConnection, attempt: Attempt) -> ApiResult<()> {
        diesel::sql_query("DELETE FROM login_failures WHERE attempt = $1 OR key = $2")
            .bind::<diesel::sql_types::Uuid, _>(attempt.id)
            .bind::<Text, _>(attempt.pair)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// No delay until a username has failed `free` times in the window (from anywhere),
/// then 250 ms doubling with each further failure, up to `MAX_DELAY`.
fn growing_delay(failures: i64, free: i64) -> Duration {
    let over = failures - free;
    if over < 0 {
        return Duration::ZERO;
    }
    let ms = 250u64.saturating_mul(1u64 << over.min(16));
    Duration::from_millis(ms).min(MAX_DELAY)
}

/// Forgets failures older than a day (the window is minutes).
pub async fn purge_expired(conn: &mut AsyncPgConnection) -> ApiResult<usize> {
    Ok(
        diesel::sql_query("DELETE FROM login_failures WHERE failed_at < now() - interval '1 day'")
            .execute(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let trusted = [ip("127.0.0.1"), ip("10.0.0.2")];
        let chain = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            forwarded_client(&chain("203.0.113.7"), &trusted),
            Some(ip("203.0.113.7"))
        );
        // A client cannot choose its address by prepending one: the right end counts.
        assert_eq!(
            forwarded_client(&chain("1.1.1.1, 203.0.113.7, 10.0.0.2"), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            forwarded_client(&chain("[2001:db8::1]:4711"), &trusted),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            forwarded_client(&chain("203.0.113.7:80"), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(forwarded_client(&chain("garbage"), &trusted), None);
        assert_eq!(forwarded_client(&chain("10.0.0.2"), &trusted), None);
    }

    #[test]
    fn the_delay_grows_then_stops_growing() {
        assert_eq!(growing_delay(4, 5), Duration::ZERO);
        assert_eq!(growing_delay(5, 5), Duration::from_millis(250));
        assert_eq!(growing_delay(6, 5), Duration::from_millis(500));
        assert_eq!(growing_delay(50, 5), MAX_DELAY);
    }
}
