//! Idempotency-key records.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::schema::idempotency_keys;

/// How long an in-flight key holds without a sign of life. A running request renews
/// it every `HEARTBEAT` (`renew`); one whose process died, or whose database vanished
/// under it, stops renewing, and a retry may take the key over seconds later.
const ABANDONED_AFTER: &str = "10 seconds";
pub const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(3);
/// Keys are kept at least 24 hours; older ones are purged.
pub const KEEP_HOURS: i64 = 48;

pub enum Claim {
    /// The key is ours: run the request.
    Fresh,
    /// A request with this key is still running.
    InFlight,
    /// Used before with another request.
    Mismatch,
    /// Finished before: replay this.
    Done(StoredResponse),
}

/// A finished request's response. `body` is `None` when it was withheld: the response
/// carried a secret (`Cache-Control: no-store`), which is never stored.
#[derive(Queryable)]
pub struct StoredResponse {
    pub status: Option<i32>,
    pub content_type: Option<String>,
    pub headers: Option<serde_json::Value>,
    pub body: Option<Vec<u8>>,
}

/// Claims a key for a request, atomically: exactly one of concurrent duplicates wins.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    principal: Uuid,
    key: &str,
    hash: &[u8],
) -> ApiResult<Claim> {
    // The record can vanish between the failed insert and the read (a failed first
    // attempt releases its key); then the claim is simply tried again.
    for _ in 0..3 {
        if let Some(claim) = try_claim(conn, principal, key, hash).await? {
            return Ok(claim);
        }
    }
    Ok(Claim::InFlight)
}

async fn try_claim(
    conn: &mut AsyncPgConnection,
    principal: Uuid,
    key: &str,
    hash: &[u8],
) -> ApiResult<Option<Claim>> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::principal_id.eq(principal),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(hash),
            idempotency_keys::state.eq("in_flight"),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Some(Claim::Fresh));
    }
    let taken_over = diesel::sql_query(format!(
        "UPDATE idempotency_keys SET created_at = now() \
         WHERE principal_id = $1 AND key = $2 AND request_hash = $3 AND state = 'in_flight' \
         AND created_at < now() - interval '{ABANDONED_AFTER}'"
    ))
    .bind::<diesel::sql_types::Uuid, _>(principal)
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Bytea, _>(hash)
    .execute(conn)
    .await?;
    if taken_over == 1 {
        return Ok(Some(Claim::Fresh));
    }
    #[derive(Queryable)]
    struct Existing {
        hash: Vec<u8>,
        state: String,
        response: StoredResponse,
    }
    let existing: Option<Existing> = idempotency_keys::table
        .find((principal, key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::state,
            (
                idempotency_keys::response_status,
                idempotency_keys::response_type,
                idempotency_keys::response_headers,
                idempotency_keys::response_body,
            ),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(existing.map(|existing| {
        if existing.hash != hash {
            Claim::Mismatch
        } else if existing.state == "in_flight" {
            Claim::InFlight
        } else {
            Claim::Done(existing.response)
        }
    }))
}

pub async fn complete(
    conn: &mut AsyncPgConnection,
    principal: Uuid,
    key: &str,
    status: u16,
    content_type: Option<&str>,
    headers: &serde_json::Value,
    body: Option<&[u8]>,
) -> ApiResult<()> {
    diesel::update(idempotency_keys::table.find((principal, key)))
        .set((
            idempotency_keys::state.eq("done"),
            idempotency_keys::response_status.eq(i32::from(status)),
            idempotency_keys::response_type.eq(content_type),
            idempotency_keys::response_headers.eq(headers),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A sign of life from a request still running under its key.
pub async fn renew(conn: &mut AsyncPgConnection, principal: Uuid, key: &str) -> ApiResult<()> {
    diesel::update(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::state.eq("in_flight")),
    )
    .set(idempotency_keys::created_at.eq(diesel::dsl::now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a key whose request failed on the server side, so a retry runs again.
pub async fn release(conn: &mut AsyncPgConnection, principal: Uuid, key: &str) -> ApiResult<()> {
    diesel::delete(idempotency_keys::table.find((principal, key)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn purge_expired(conn: &mut AsyncPgConnection) -> ApiResult<usize> {
    Ok(diesel::sql_query(format!(
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '{KEEP_HOURS} hours'"
    ))
    .execute(conn)
    .await?)
}
