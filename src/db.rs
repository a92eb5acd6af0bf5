//! The PostgreSQL connection pool, the embedded migrations and the readiness check.
//!
//! Every wait on the pool is bounded (wait, create and recycle timeouts): when the
//! database goes away, requests fail with 503 within the timeout instead of hanging,
//! and the pool reconnects by itself when it comes back.

use std::time::Duration;

use anyhow::Context;
use diesel::prelude::*;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool as DeadPool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::ApiResult;

pub type Pool = DeadPool<AsyncPgConnection>;
pub type Conn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Per-statement limits every pooled connection sets: a query blocked in the database
/// (a lock held elsewhere, a runaway plan) becomes a 503 after these, instead of
/// holding its pool connection for as long as the block lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementLimits {
    pub statement_timeout_ms: u64,
    pub lock_timeout_ms: u64,
}

impl Default for StatementLimits {
    fn default() -> Self {
        StatementLimits {
            statement_timeout_ms: 30_000,
            lock_timeout_ms: 5_000,
        }
    }
}

/// Builds the pool; no connection is opened until the first request needs one.
pub fn build_pool(
    database_url: &str,
    max_size: usize,
    timeout: Duration,
    limits: StatementLimits,
) -> anyhow::Result<Pool> {
    use diesel_async::AsyncConnection;
    use diesel_async::SimpleAsyncConnection;
    use futures_util::FutureExt;
    let mut config = diesel_async::pooled_connection::ManagerConfig::default();
    config.custom_setup = Box::new(move |url| {
        let url = url.to_string();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {}; SET lock_timeout = {}",
                limits.statement_timeout_ms, limits.lock_timeout_ms
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    DeadPool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Takes a connection from the pool, mapping an outage to 503.
pub async fn conn(pool: &Pool) -> ApiResult<Conn> {
    Ok(pool.get().await?)
}

/// Applies every pending migration and returns the versions applied.
///
/// diesel's harness is synchronous; it runs on a blocking thread through diesel-async's
/// connection wrapper (calling it on an async worker would panic in `block_in_place`).
pub async fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_string();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
            .with_context(|| format!("connecting to {}", redact_url(&url)))?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    })
    .await
    .context("migration thread")?
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// The embedded migrations the database has not applied yet, read with a plain async
/// query so that `/readyz` never needs a second, blocking connection.
pub async fn pending_migrations(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(conn)
    .await?;
    let applied: Vec<String> = if exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .await?
            .into_iter()
            .map(|v| v.version)
            .collect()
    } else {
        Vec::new()
    };
    let mut pending = Vec::new();
    for m in diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(diesel::result::Error::QueryBuilderError)?
    {
        let version = m.name().version().to_string();
        if !applied.contains(&version) {
            pending.push(version);
        }
    }
    Ok(pending)
}

/// A role name safe to put in SQL unquoted.
pub fn is_plain_identifier(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Tables whose rows are history: the serving role may add rows, never change or
/// remove them (their triggers refuse it too; the role cannot disable the triggers,
/// as only an owner can).
const APPEND_ONLY: &[&str] = &[
    "audit_events",
    "report_revisions",
    "reminders_sent",
    "revision_approvals",
    "webhook_attempts",
    "webhook_events",
];
/// Tables whose rows the service deletes (expired keys, forgiven failures, attachments
/// of drafts — a trigger keeps those of submitted revisions —, plan tasks no report
/// names).
const DELETABLE: &[&str] = &[
    "attachments",
    "idempotency_keys",
    "login_failures",
    "plan_tasks",
];

/// Gives the serving role exactly what the service needs, run by the owner after each
/// migration: it owns nothing, so it cannot alter, truncate or drop a table or disable
/// a trigger; it may delete only from `DELETABLE` and never update `APPEND_ONLY`.
pub async fn grant_serving_role(conn: &mut AsyncPgConnection, role: &str) -> anyhow::Result<()> {
    use diesel_async::SimpleAsyncConnection;
    anyhow::ensure!(is_plain_identifier(role), "not a plain role name: {role:?}");
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> '__diesel_schema_migrations'",
    )
    .load(conn)
    .await?;
    let mut sql = format!(
        "GRANT USAGE ON SCHEMA public TO {role};\n\
         REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};\n\
         GRANT SELECT ON __diesel_schema_migrations TO {role};\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};\n\
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role};\n"
    );
    for t in &tables {
        let name = &t.name;
        anyhow::ensure!(is_plain_identifier(name), "unexpected table name {name:?}");
        let mut privileges = vec!["SELECT", "INSERT"];
        if !APPEND_ONLY.contains(&name.as_str()) {
            privileges.push("UPDATE");
        }
        if DELETABLE.contains(&name.as_str()) {
            privileges.push("DELETE");
        }
        sql.push_str(&format!(
            "GRANT {} ON {name} TO {role};\n",
            privileges.join(", ")
        ));
    }
    conn.batch_execute(&sql).await?;
    Ok(())
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Tries a read once more, at once, when the database connection broke under it (a
/// restart or failover ended it mid-query). The broken connection has left the pool
/// (deadpool drops it; every checkout verifies the one it hands out), so the second
/// try runs on a fresh one. Only `GET` and `HEAD`, which change nothing; a second
/// failure is answered as it is (503 with `Retry-After`).
pub async fn retry_lost_reads(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::Method;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    // How much of the path the scopes outside this layer have matched, to route the
    // second try from the same place.
    let consumed = req.match_info().as_str().len() - req.match_info().unprocessed().len();
    let res = next.call(req).await?;
    let lost = res
        .response()
        .error()
        .and_then(|e| e.as_error::<crate::error::ApiError>())
        .is_some_and(|e| e.connection_lost);
    let Ok(consumed) = u16::try_from(consumed) else {
        return Ok(res.map_into_boxed_body());
    };
    if !safe || !lost {
        return Ok(res.map_into_boxed_body());
    }
    tracing::warn!("the database connection broke under a read; trying it once more");
    let (http, _) = res.into_parts();
    req = actix_web::dev::ServiceRequest::from_request(http);
    let path = req.match_info_mut();
    path.reset();
    path.skip(consumed);
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
