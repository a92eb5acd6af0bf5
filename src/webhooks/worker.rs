//! The delivery worker: a tokio task inside `serve` that sends due deliveries.
//!
//! Each round claims a batch of due deliveries in one short statement (`FOR UPDATE
//! SKIP LOCKED`, then a lease and a claim token written on each), sends them at once,
//! and records each attempt in its own transaction. Several processes may run the
//! worker on one database: a claimed delivery is nobody else's until its lease, longer
//! than any attempt may take, runs out; a process killed mid-attempt leaves a lease
//! that expires, and another process (or the same one restarted) sends it again.
//! Delivery is therefore at least once: receivers drop repeats by `webhook-id`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;
use uuid::Uuid;

use super::sign;
use super::store::{self, Claimed, Outcome};
use crate::audit::{self, By, Event};
use crate::config::WebhookSettings;
use crate::db::Pool;
use crate::error::{ApiError, ApiResult};

/// Deliveries claimed per round; a full batch starts the next round at once.
const BATCH: i64 = 16;
/// The longest pause after rounds that failed in a row.
const ERROR_PAUSE_MAX: std::time::Duration = std::time::Duration::from_secs(60);
/// The longest error text kept in the delivery log.
const MAX_ERROR: usize = 500;

/// Starts the worker unless `GEREPORT_WEBHOOK_WORKER=off`.
pub fn spawn(state: actix_web::web::Data<crate::AppState>) {
    let settings = &state.settings.webhooks;
    if !settings.worker {
        tracing::info!("webhook delivery worker is off in this process");
        return;
    }
    let client = match client(settings) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery worker could not start");
            return;
        }
    };
    tokio::spawn(async move {
        let w = Worker {
            pool: &state.pool,
            client: &client,
            settings: &state.settings.webhooks,
            metrics: &state.metrics,
        };
        let mut every = tokio::time::interval(w.settings.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Rounds failed in a row (the database away): waited out longer and longer, so
        // an outage costs a line a minute at most, not one a poll.
        let mut failed_rounds: u32 = 0;
        loop {
            every.tick().await;
            loop {
                match w.run_once().await {
                    Ok(n) => {
                        failed_rounds = 0;
                        if n as i64 == BATCH {
                            continue;
                        }
                    }
                    Err(e) => {
                        failed_rounds = failed_rounds.saturating_add(1);
                        let pause = (w.settings.poll * 2u32.saturating_pow(failed_rounds.min(10)))
                            .min(ERROR_PAUSE_MAX);
                        tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64,
                            "webhook delivery round failed");
                        tokio::time::sleep(pause).await;
                    }
                }
                break;
            }
        }
    });
}

/// The HTTP client of the worker: no redirects (a redirect is a failed attempt, and
/// never a way around the address check), the attempt's timeout, and a resolver that
/// refuses private addresses unless they are allowed.
pub fn client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .user_agent(concat!("gereport-webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private_targets {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(b.build()?)
}

/// What a round of the worker works with.
struct Worker<'a> {
    pool: &'a Pool,
    client: &'a reqwest::Client,
    settings: &'a WebhookSettings,
    metrics: &'a crate::telemetry::Metrics,
}

impl Worker<'_> {
    /// Claims, sends and records one batch; returns how many deliveries it claimed.
    async fn run_once(&self) -> ApiResult<usize> {
        let token = Uuid::new_v4();
        let claimed = {
            let mut conn = crate::db::conn(self.pool).await?;
            store::claim_due(&mut conn, BATCH, self.settings.lease(), token).await?
        };
        let n = claimed.len();
        futures_util::future::join_all(claimed.into_iter().map(|c| self.deliver(token, c))).await;
        Ok(n)
    }

    async fn deliver(&self, token: Uuid, c: Claimed) {
        let settings = self.settings;
        let outcome = send(self.client, settings, &c).await;
        let retry_at = if outcome.succeeded() {
            None
        } else {
            crate::config::next_retry(&settings.retry_schedule, c.round_attempts, Utc::now())
        };
        self.metrics
            .webhook_attempt(match (outcome.succeeded(), retry_at) {
                (true, _) => "succeeded",
                (false, Some(_)) => "retrying",
                (false, None) => "failed",
            });
        let recorded = async {
            let mut conn = crate::db::conn(self.pool).await?;
            conn.transaction::<_, ApiError, _>(async |conn| {
                let failures = store::record(conn, &c, token, &outcome, retry_at).await?;
                if let Some(n) = failures.filter(|n| *n >= settings.disable_after) {
                    disable(conn, c.endpoint_id, n).await?;
                }
                Ok(())
            })
            .await
        }
        .await;
        if let Err(e) = recorded {
            // The lease runs out and the delivery is sent again: at least once.
            tracing::warn!(delivery = %c.id, error = %e, "recording a webhook attempt failed");
        }
    }
}

/// Disables an endpoint after `n` deliveries in a row ran out of retries, with an
/// audit event as the service's own act.
async fn disable(
    conn: &mut diesel_async::AsyncPgConnection,
    endpoint_id: Uuid,
    n: i32,
) -> ApiResult<()> {
    let reason = format!("disabled by the service: {n} deliveries in a row failed every retry");
    let Some(unit_id) = store::disable_failing(conn, endpoint_id, &reason).await? else {
        return Ok(());
    };
    tracing::warn!(endpoint = %endpoint_id, failures = n, "webhook endpoint disabled");
    audit::append(
        conn,
        &By::system("webhook delivery"),
        Event {
            action: "webhook.disable",
            object_type: "webhook",
            object_id: endpoint_id.to_string(),
            unit_id: Some(unit_id),
            change: json!({ "reason": reason, "consecutive_failures": n }),
        },
    )
    .await
}

/// One signed POST. Success is any 2xx answer.
async fn send(client: &reqwest::Client, settings: &WebhookSettings, c: &Claimed) -> Outcome {
    let started_at = Utc::now();
    let clock = Instant::now();
    let msg_id = store::message_id(c.event_id);
    let body = serde_json::to_vec(&c.payload).unwrap_or_default();
    let timestamp = started_at.timestamp();
    let secrets: Vec<&str> = c.secrets.iter().map(String::as_str).collect();
    let signature = sign::header(&secrets, &msg_id, timestamp, &body);
    let result = match check_target(&c.url, settings.allow_private_targets) {
        Err(e) => Err(e),
        Ok(()) => client
            .post(&c.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e, settings)),
    };
    let latency_ms = i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (status_code, error) = match result {
        Ok(res) => {
            let status = res.status();
            let error = (!status.is_success()).then(|| {
                if status.is_redirection() {
                    format!("HTTP {} (redirects are not followed)", status.as_u16())
                } else {
                    format!("HTTP {}", status.as_u16())
                }
            });
            (Some(i32::from(status.as_u16())), error)
        }
        Err(e) => (None, Some(e)),
    };
    Outcome {
        started_at,
        latency_ms,
        status_code,
        error: error.map(|mut e| {
            if e.len() > MAX_ERROR {
                let mut cut = MAX_ERROR;
                while !e.is_char_boundary(cut) {
                    cut -= 1;
                }
                e.truncate(cut);
            }
            e
        }),
    }
}

/// A failed request in a sentence, with its causes.
fn describe(e: &reqwest::Error, settings: &WebhookSettings) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", settings.timeout.as_millis());
    }
    let mut text = if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Addresses no webhook goes to unless allowed: loopback, private, link-local, shared,
/// unspecified, multicast and documentation ranges.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Refuses a URL that names a private address or `localhost` literally (names are
/// checked when resolved, by [`PublicOnly`]).
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if is_private(IpAddr::V4(ip)) => {
            Err(format!("{ip} is a private address"))
        }
        Some(url::Host::Ipv6(ip)) if is_private(IpAddr::V6(ip)) => {
            Err(format!("{ip} is a private address"))
        }
        Some(url::Host::Domain(d))
            if d.eq_ignore_ascii_case("localhost")
                || d.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Err(format!("{d} is this machine"))
        }
        _ => Ok(()),
    }
}

/// A resolver that drops private addresses, so that a public name pointed at an
/// internal address (DNS rebinding included) reaches nothing.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| !is_private(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:9000/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(check_target(url, false).is_err(), "{url}");
            assert!(check_target(url, true).is_ok(), "{url}");
        }
        for url in ["https://hooks.example.vn/gereport", "https://203.0.114.7/x"] {
            assert!(check_target(url, false).is_ok(), "{url}");
        }
    }
}
