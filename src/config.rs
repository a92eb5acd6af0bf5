//! Settings read once at start-up from the environment (and a `.env` file, through
//! dotenvy). Every setting is validated here so that a bad value stops the process with
//! one line naming it, instead of failing later in the middle of a request.

use std::net::SocketAddr;
use std::time::Duration;

/// Where the service runs; production tightens defaults (no CORS origins, no demo data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The validated configuration of one process.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub bind: SocketAddr,
    pub jwt_secret: Option<String>,
    pub log_format: LogFormat,
    pub db_pool_size: usize,
    pub db_timeout: Duration,
    pub cors_origins: Vec<String>,
    pub body_limit: usize,
    pub environment: Environment,
    /// The language of problem texts when `Accept-Language` names neither English nor
    /// Vietnamese (`GEREPORT_DEFAULT_LANGUAGE`, `en` or `vi`).
    pub default_language: crate::error::Lang,
    /// How long a refresh token, once used, may be used again and get a valid pair
    /// (several browser tabs refreshing at once) before reuse means theft.
    pub refresh_grace: Duration,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` is believed
    /// (`GEREPORT_TRUSTED_PROXIES`, comma-separated IP addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `GEREPORT_DB_STATEMENT_TIMEOUT_MS` and `GEREPORT_DB_LOCK_TIMEOUT_MS`.
    pub statement_limits: crate::db::StatementLimits,
    /// How long reading a request body may take (`GEREPORT_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// `/metrics` answers only with `Authorization: Bearer <this>` when set
    /// (`GEREPORT_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// The owner role's URL for migrations (`GEREPORT_MIGRATE_DATABASE_URL`); the
    /// service itself connects with `database_url`.
    pub migrate_database_url: Option<String>,
    /// The role `serve` connects as, granted its privileges after each migration
    /// (`GEREPORT_APP_ROLE`).
    pub app_role: Option<String>,
    /// How webhooks are delivered (`GEREPORT_WEBHOOK_*`).
    pub webhooks: WebhookSettings,
    /// Reminders and e-mail notifications (`GEREPORT_NOTIFY_*`, `GEREPORT_SMTP_*`).
    pub notify: NotifySettings,
    /// Imported workbooks and attachments (`GEREPORT_WORKBOOK_LIMIT`,
    /// `GEREPORT_ATTACHMENT_*`, `GEREPORT_S3_*`).
    pub files: FileSettings,
}

/// Where attachments are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachmentStore {
    /// A directory of this machine (`GEREPORT_ATTACHMENT_DIR`, `.local/attachments` by
    /// default): what `scripts/run` uses, needing nothing more.
    Local(std::path::PathBuf),
    /// Any S3-compatible object store (`GEREPORT_S3_BUCKET`, `_ENDPOINT`, `_REGION`,
    /// `_ACCESS_KEY_ID`, `_SECRET_ACCESS_KEY`, `_ALLOW_HTTP`).
    S3(S3Settings),
    /// The process's memory: tests, and trying the service out (lost on restart).
    Memory,
}

/// An S3-compatible bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// The endpoint of a store other than AWS (MinIO, Ceph, a provider's), if any.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Whether a plain-http endpoint is allowed (a store on the same network).
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// Limits and storage of uploaded files.
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// The largest workbook an import takes, in bytes (`GEREPORT_WORKBOOK_LIMIT`).
    pub workbook_limit: usize,
    /// The largest attachment, in bytes (`GEREPORT_ATTACHMENT_MAX_BYTES`).
    pub attachment_limit: usize,
    /// `GEREPORT_ATTACHMENT_STORE`: local (default), s3 or memory.
    pub store: AttachmentStore,
    /// How long a stored file may go without its row before the sweeper removes it
    /// (`GEREPORT_ATTACHMENT_ORPHAN_GRACE_SECS`); longer than any upload's transaction.
    pub orphan_grace: Duration,
    /// How often `serve` sweeps orphans (`GEREPORT_ATTACHMENT_SWEEP_SECS`).
    pub sweep_every: Duration,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on the same machine or network only).
    None,
    /// Plain, upgraded with STARTTLS (required).
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// The mail server notifications are sent through.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, as `Name <address>` or a bare address.
    pub from: String,
}

/// The notification worker's settings.
#[derive(Clone, Debug)]
pub struct NotifySettings {
    /// Whether this process runs the notification worker: reminders and e-mail
    /// (`GEREPORT_NOTIFY_WORKER`, on or off). Any number of processes may run it.
    pub worker: bool,
    /// How often it looks for due e-mails and reminders (`GEREPORT_NOTIFY_POLL_MS`).
    pub poll: Duration,
    /// E-mail is off when no host is set (`GEREPORT_SMTP_HOST`, `_PORT`, `_TLS`,
    /// `_USERNAME`, `_PASSWORD`, `_FROM`).
    pub smtp: Option<SmtpSettings>,
    /// The waits before each retry of an e-mail (`GEREPORT_SMTP_RETRY_SCHEDULE`).
    pub retry_schedule: Vec<Duration>,
}

/// E-mail retries: 6 over about 9 hours.
pub const DEFAULT_SMTP_RETRY_SCHEDULE: &str = "30s,2m,10m,1h,2h,6h";

/// The delivery worker's settings.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Whether this process runs the delivery worker (`GEREPORT_WEBHOOK_WORKER`, on or
    /// off). Any number of processes may run it at once.
    pub worker: bool,
    /// How often the worker looks for due deliveries (`GEREPORT_WEBHOOK_POLL_MS`).
    pub poll: Duration,
    /// How long one attempt may take, connecting included (`GEREPORT_WEBHOOK_TIMEOUT_MS`).
    pub timeout: Duration,
    /// The waits before each retry after a failed attempt; when they run out the
    /// delivery has failed (`GEREPORT_WEBHOOK_RETRY_SCHEDULE`).
    pub retry_schedule: Vec<Duration>,
    /// Deliveries in a row that run out of retries before the endpoint is disabled
    /// (`GEREPORT_WEBHOOK_DISABLE_AFTER`).
    pub disable_after: i32,
    /// Whether targets on loopback, private and link-local addresses are allowed
    /// (`GEREPORT_WEBHOOK_ALLOW_PRIVATE_TARGETS`); refused by default.
    pub allow_private_targets: bool,
}

/// The default retry schedule: 7 retries over about 27 hours and a half.
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl WebhookSettings {
    /// A claim on a delivery lasts past any attempt's timeout, so that a live worker
    /// always records its attempt before anyone else may try the delivery again.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }
}

/// When the next attempt is due after `attempts` failed ones of a round, under a retry
/// schedule; `None` once the schedule has run out.
pub fn next_retry(
    schedule: &[Duration],
    attempts: i32,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    usize::try_from(attempts)
        .ok()
        .and_then(|i| schedule.get(i))
        .and_then(|d| chrono::Duration::from_std(*d).ok())
        .map(|d| now + d)
}

/// `5s,5m,30m,2h` (units ms, s, m, h): at most 20 waits, each at most a day.
pub fn parse_schedule(raw: &str) -> Result<Vec<Duration>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim) {
        let split = part
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{part:?} has no unit (ms, s, m or h)"))?;
        let (n, unit) = part.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("{part:?} does not start with a whole number"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(format!("{part:?}: the unit must be ms, s, m or h")),
        };
        if d > Duration::from_secs(86_400) {
            return Err(format!("{part:?} is longer than a day"));
        }
        out.push(d);
    }
    if out.len() > 20 {
        return Err("at most 20 retries".into());
    }
    Ok(out)
}

/// A setting that is missing or malformed; its message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        reason: reason.into(),
    }
}

/// The shortest HS256 secret accepted: 256 bits, the size of the hash output.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Reads the process environment, after loading `.env` if one exists.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth saying so.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(invalid(".env", e.to_string()));
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any lookup function, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let database_url = var("DATABASE_URL").ok_or_else(|| {
            invalid(
                "DATABASE_URL",
                "is not set (e.g. postgres://postgres@127.0.0.1:5432/gereport)",
            )
        })?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(invalid(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }

        let bind = var("GEREPORT_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse::<SocketAddr>()
            .map_err(|e| invalid("GEREPORT_BIND", format!("not a socket address: {e}")))?;

        let jwt_secret = var("GEREPORT_JWT_SECRET");
        if let Some(secret) = &jwt_secret
            && secret.len() < MIN_JWT_SECRET_BYTES
        {
            return Err(invalid(
                "GEREPORT_JWT_SECRET",
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
            ));
        }

        let log_format = match var("GEREPORT_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "GEREPORT_LOG_FORMAT",
                    format!("must be json or pretty, not {other:?}"),
                ));
            }
        };

        let environment = match var("GEREPORT_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "GEREPORT_ENV",
                    format!("must be development or production, not {other:?}"),
                ));
            }
        };

        let db_pool_size = parse_number(&var, "GEREPORT_DB_POOL_SIZE", 16, 1, 1000)?;
        let db_timeout_secs = parse_number(&var, "GEREPORT_DB_TIMEOUT_SECS", 5, 1, 300)?;
        let body_limit = parse_number(&var, "GEREPORT_BODY_LIMIT", 1_048_576, 1024, 1 << 30)?;

        let cors_origins: Vec<String> = var("GEREPORT_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin == "*" {
                return Err(invalid(
                    "GEREPORT_CORS_ORIGINS",
                    "list origins explicitly; * is not allowed with credentials",
                ));
            }
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(invalid(
                    "GEREPORT_CORS_ORIGINS",
                    format!("{origin:?} is not an http(s) origin"),
                ));
            }
        }

        let default_language = match var("GEREPORT_DEFAULT_LANGUAGE") {
            None => crate::error::Lang::En,
            Some(v) => crate::error::Lang::from_tag(&v).ok_or_else(|| {
                invalid(
                    "GEREPORT_DEFAULT_LANGUAGE",
                    format!("must be en or vi, not {v:?}"),
                )
            })?,
        };
        let refresh_grace_secs = parse_number(&var, "GEREPORT_REFRESH_GRACE_SECS", 10, 0, 300)?;

        let trusted_proxies = var("GEREPORT_TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        a.parse().map_err(|_| {
                            invalid(
                                "GEREPORT_TRUSTED_PROXIES",
                                format!("{a:?} is not an IP address"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();

        let statement_limits = crate::db::StatementLimits {
            statement_timeout_ms: parse_number(
                &var,
                "GEREPORT_DB_STATEMENT_TIMEOUT_MS",
                30_000,
                100,
                3_600_000,
            )? as u64,
            lock_timeout_ms: parse_number(
                &var,
                "GEREPORT_DB_LOCK_TIMEOUT_MS",
                5_000,
                10,
                3_600_000,
            )? as u64,
        };
        let body_timeout_secs = parse_number(&var, "GEREPORT_BODY_TIMEOUT_SECS", 30, 1, 3600)?;
        let metrics_token = var("GEREPORT_METRICS_TOKEN");
        if let Some(t) = &metrics_token
            && t.len() < 16
        {
            return Err(invalid(
                "GEREPORT_METRICS_TOKEN",
                "must be at least 16 characters",
            ));
        }

        let migrate_database_url = var("GEREPORT_MIGRATE_DATABASE_URL");
        if let Some(u) = &migrate_database_url
            && !(u.starts_with("postgres://") || u.starts_with("postgresql://"))
        {
            return Err(invalid(
                "GEREPORT_MIGRATE_DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        let app_role = var("GEREPORT_APP_ROLE");
        if let Some(r) = &app_role
            && !crate::db::is_plain_identifier(r)
        {
            return Err(invalid(
                "GEREPORT_APP_ROLE",
                "must be a plain role name (lower-case letters, digits, _)",
            ));
        }

        let on_off = |name: &'static str, default: bool| match var(name).as_deref() {
            None => Ok(default),
            Some("on" | "true" | "1") => Ok(true),
            Some("off" | "false" | "0") => Ok(false),
            Some(other) => Err(invalid(name, format!("must be on or off, not {other:?}"))),
        };
        let webhooks = WebhookSettings {
            worker: on_off("GEREPORT_WEBHOOK_WORKER", true)?,
            poll: Duration::from_millis(parse_number(
                &var,
                "GEREPORT_WEBHOOK_POLL_MS",
                1000,
                10,
                60_000,
            )? as u64),
            timeout: Duration::from_millis(parse_number(
                &var,
                "GEREPORT_WEBHOOK_TIMEOUT_MS",
                10_000,
                100,
                120_000,
            )? as u64),
            retry_schedule: parse_schedule(
                var("GEREPORT_WEBHOOK_RETRY_SCHEDULE")
                    .as_deref()
                    .unwrap_or(DEFAULT_RETRY_SCHEDULE),
            )
            .map_err(|m| invalid("GEREPORT_WEBHOOK_RETRY_SCHEDULE", m))?,
            disable_after: parse_number(&var, "GEREPORT_WEBHOOK_DISABLE_AFTER", 5, 1, 1000)? as i32,
            allow_private_targets: on_off("GEREPORT_WEBHOOK_ALLOW_PRIVATE_TARGETS", false)?,
        };

        let smtp = match var("GEREPORT_SMTP_HOST").filter(|h| !h.trim().is_empty()) {
            None => None,
            Some(host) => {
                let tls = match var("GEREPORT_SMTP_TLS").as_deref() {
                    None | Some("starttls") => SmtpTls::StartTls,
                    Some("tls") => SmtpTls::Tls,
                    Some("none") => SmtpTls::None,
                    Some(other) => {
                        return Err(invalid(
                            "GEREPORT_SMTP_TLS",
                            format!("must be none, starttls or tls, not {other:?}"),
                        ));
                    }
                };
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::StartTls => 587,
                    SmtpTls::Tls => 465,
                };
                let from = var("GEREPORT_SMTP_FROM").ok_or_else(|| {
                    invalid(
                        "GEREPORT_SMTP_FROM",
                        "required with GEREPORT_SMTP_HOST (the sender's address)",
                    )
                })?;
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(invalid(
                        "GEREPORT_SMTP_FROM",
                        "must be an address, or `Name <address>`",
                    ));
                }
                Some(SmtpSettings {
                    host,
                    port: parse_number(&var, "GEREPORT_SMTP_PORT", default_port, 1, 65_535)? as u16,
                    tls,
                    username: var("GEREPORT_SMTP_USERNAME"),
                    password: var("GEREPORT_SMTP_PASSWORD"),
                    from,
                })
            }
        };
        let notify = NotifySettings {
            worker: on_off("GEREPORT_NOTIFY_WORKER", true)?,
            poll: Duration::from_millis(parse_number(
                &var,
                "GEREPORT_NOTIFY_POLL_MS",
                5000,
                10,
                600_000,
            )? as u64),
            smtp,
            retry_schedule: parse_schedule(
                var("GEREPORT_SMTP_RETRY_SCHEDULE")
                    .as_deref()
                    .unwrap_or(DEFAULT_SMTP_RETRY_SCHEDULE),
            )
            .map_err(|m| invalid("GEREPORT_SMTP_RETRY_SCHEDULE", m))?,
        };

        let store = match var("GEREPORT_ATTACHMENT_STORE").as_deref() {
            None | Some("local") => AttachmentStore::Local(
                var("GEREPORT_ATTACHMENT_DIR")
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or_else(|| ".local/attachments".to_string())
                    .into(),
            ),
            Some("memory") => AttachmentStore::Memory,
            Some("s3") => AttachmentStore::S3(S3Settings {
                bucket: var("GEREPORT_S3_BUCKET")
                    .filter(|b| !b.trim().is_empty())
                    .ok_or_else(|| {
                        invalid(
                            "GEREPORT_S3_BUCKET",
                            "required with GEREPORT_ATTACHMENT_STORE=s3",
                        )
                    })?,
                endpoint: var("GEREPORT_S3_ENDPOINT").filter(|e| !e.trim().is_empty()),
                region: var("GEREPORT_S3_REGION").unwrap_or_else(|| "us-east-1".to_string()),
                access_key_id: var("GEREPORT_S3_ACCESS_KEY_ID"),
                secret_access_key: var("GEREPORT_S3_SECRET_ACCESS_KEY"),
                allow_http: on_off("GEREPORT_S3_ALLOW_HTTP", false)?,
            }),
            Some(other) => {
                return Err(invalid(
                    "GEREPORT_ATTACHMENT_STORE",
                    format!("must be local, s3 or memory, not {other:?}"),
                ));
            }
        };
        let files = FileSettings {
            workbook_limit: parse_number(&var, "GEREPORT_WORKBOOK_LIMIT", 5 << 20, 1024, 1 << 30)?,
            attachment_limit: parse_number(
                &var,
                "GEREPORT_ATTACHMENT_MAX_BYTES",
                20 << 20,
                1024,
                1 << 32,
            )?,
            store,
            orphan_grace: Duration::from_secs(parse_number(
                &var,
                "GEREPORT_ATTACHMENT_ORPHAN_GRACE_SECS",
                3600,
                60,
                30 * 86_400,
            )? as u64),
            sweep_every: Duration::from_secs(parse_number(
                &var,
                "GEREPORT_ATTACHMENT_SWEEP_SECS",
                3600,
                10,
                86_400,
            )? as u64),
        };

        Ok(Settings {
            files,
            notify,
            webhooks,
            migrate_database_url,
            app_role,
            statement_limits,
            body_timeout: Duration::from_secs(body_timeout_secs as u64),
            metrics_token,
            trusted_proxies,
            default_language,
            refresh_grace: Duration::from_secs(refresh_grace_secs as u64),
            database_url,
            bind,
            jwt_secret,
            log_format,
            db_pool_size,
            db_timeout: Duration::from_secs(db_timeout_secs as u64),
            cors_origins,
            body_limit,
            environment,
        })
    }

    /// Where migrations run: the owner role's URL, or the service's own.
    pub fn migrate_url(&self) -> &str {
        self.migrate_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    /// The JWT secret, required by every command that issues or checks tokens.
    pub fn require_jwt_secret(&self) -> Result<&str, ConfigError> {
        self.jwt_secret.as_deref().ok_or_else(|| {
            invalid(
                "GEREPORT_JWT_SECRET",
                format!("is not set (at least {MIN_JWT_SECRET_BYTES} random bytes)"),
            )
        })
    }
}

fn parse_number(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let Some(raw) = var(name) else {
        return Ok(default);
    };
    let n: usize = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, format!("{raw:?} is not a whole number")))?;
    if !(min..=max).contains(&n) {
        return Err(invalid(name, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const DB: (&str, &str) = ("DATABASE_URL", "postgres://u@localhost/db");

    #[test]
    fn defaults_apply() {
        let s = settings(&[DB]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.db_pool_size, 16);
        assert!(s.cors_origins.is_empty());
        assert!(s.webhooks.worker && !s.webhooks.allow_private_targets);
        // The default schedule retries for more than a day.
        let total: Duration = s.webhooks.retry_schedule.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(s.webhooks.retry_schedule.len(), 7);
    }

    #[test]
    fn retry_schedules_read_their_units() {
        assert_eq!(
            parse_schedule("50ms, 2s,1m,1h").unwrap(),
            vec![
                Duration::from_millis(50),
                Duration::from_secs(2),
                Duration::from_secs(60),
                Duration::from_secs(3600)
            ]
        );
        for bad in ["5", "5d", "x5s", "25h", ""] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "DATABASE_URL"),
            (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (&[DB, ("GEREPORT_BIND", "nowhere")], "GEREPORT_BIND"),
            (
                &[DB, ("GEREPORT_JWT_SECRET", "short")],
                "GEREPORT_JWT_SECRET",
            ),
            (&[DB, ("GEREPORT_LOG_FORMAT", "xml")], "GEREPORT_LOG_FORMAT"),
            (&[DB, ("GEREPORT_ENV", "staging")], "GEREPORT_ENV"),
            (
                &[DB, ("GEREPORT_DEFAULT_LANGUAGE", "fr")],
                "GEREPORT_DEFAULT_LANGUAGE",
            ),
            (
                &[DB, ("GEREPORT_TRUSTED_PROXIES", "10.0.0.1, proxy.local")],
                "GEREPORT_TRUSTED_PROXIES",
            ),
            (
                &[DB, ("GEREPORT_DB_POOL_SIZE", "0")],
                "GEREPORT_DB_POOL_SIZE",
            ),
            (
                &[DB, ("GEREPORT_BODY_LIMIT", "lots")],
                "GEREPORT_BODY_LIMIT",
            ),
            (
                &[DB, ("GEREPORT_CORS_ORIGINS", "*")],
                "GEREPORT_CORS_ORIGINS",
            ),
            (
                &[DB, ("GEREPORT_WEBHOOK_RETRY_SCHEDULE", "5s,2d")],
                "GEREPORT_WEBHOOK_RETRY_SCHEDULE",
            ),
            (
                &[DB, ("GEREPORT_WEBHOOK_WORKER", "maybe")],
                "GEREPORT_WEBHOOK_WORKER",
            ),
        ];
        for (pairs, name) in cases {
            let err = settings(pairs).expect_err(name);
            assert_eq!(err.name, *name, "{err}");
        }
    }

    #[test]
    fn cors_origins_are_split_and_trimmed() {
        let s = settings(&[
            DB,
            (
                "GEREPORT_CORS_ORIGINS",
                "https://a.example/, http://localhost:5173",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            vec!["https://a.example", "http://localhost:5173"]
        );
    }
}
