//! Webhook queries: endpoints, the outbox, the claim of due deliveries and the
//! delivery log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{DeliveryAttempt, DeliveryStatus, WebhookDelivery, WebhookEndpoint};
use super::{Emit, EventType, Reach};
use crate::error::ApiResult;
use crate::pagination::PageRequest;
use crate::schema::{
    org_units, webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_events,
};

/// Writes an event and a delivery to every enabled endpoint that wants it, in one
/// statement; when none does, nothing is written.
pub async fn write_event(
    conn: &mut AsyncPgConnection,
    e: &Emit,
    payload: &serde_json::Value,
) -> ApiResult<()> {
    diesel::sql_query(
        "WITH target AS (SELECT path FROM org_units WHERE id = $2), \
         endpoints AS ( \
             SELECT w.id FROM webhook_endpoints w JOIN org_units eu ON eu.id = w.unit_id, target t \
             WHERE w.enabled AND w.deleted_at IS NULL AND $3 = ANY (w.event_types) \
               AND (starts_with(t.path, eu.path) OR ($4 AND starts_with(eu.path, t.path)))), \
         event AS ( \
             INSERT INTO webhook_events (id, type, unit_id, ordering_key, payload) \
             SELECT $1, $3, $2, $5, $6 WHERE EXISTS (SELECT 1 FROM endpoints) \
             RETURNING id) \
         INSERT INTO webhook_deliveries (id, endpoint_id, event_id, ordering_key) \
         SELECT gen_random_uuid(), w.id, event.id, $5 FROM endpoints w, event ORDER BY w.id",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<SqlUuid, _>(e.unit_id)
    .bind::<Text, _>(e.event.as_str())
    .bind::<Bool, _>(e.reach == Reach::Plan)
    .bind::<Text, _>(&e.ordering_key)
    .bind::<Jsonb, _>(payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// A `webhook.test` event for one endpoint; returns the delivery's id.
pub async fn write_test_event(
    conn: &mut AsyncPgConnection,
    endpoint: &EndpointRow,
    payload: &serde_json::Value,
) -> ApiResult<Uuid> {
    let event_id = Uuid::now_v7();
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(event_id),
            webhook_events::type_.eq(EventType::Test.as_str()),
            webhook_events::unit_id.eq(endpoint.unit_id),
            webhook_events::payload.eq(payload),
        ))
        .execute(conn)
        .await?;
    let id = Uuid::now_v7();
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(id),
            webhook_deliveries::endpoint_id.eq(endpoint.id),
            webhook_deliveries::event_id.eq(event_id),
            webhook_deliveries::next_cause.eq("manual"),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

// --- endpoints ------------------------------------------------------------------

/// An endpoint as stored.
#[derive(Queryable, Clone, Debug)]
pub struct EndpointBase {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub event_types: Vec<String>,
    pub unit_id: Uuid,
    pub created_by: String,
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An endpoint with its unit's code and path.
#[derive(Clone, Debug)]
pub struct EndpointRow {
    pub base: EndpointBase,
    pub unit_code: String,
    pub unit_path: String,
}

impl std::ops::Deref for EndpointRow {
    type Target = EndpointBase;
    fn deref(&self) -> &EndpointBase {
        &self.base
    }
}

impl From<(EndpointBase, String, String)> for EndpointRow {
    fn from((base, unit_code, unit_path): (EndpointBase, String, String)) -> Self {
        EndpointRow {
            base,
            unit_code,
            unit_path,
        }
    }
}

impl EndpointRow {
    pub fn to_api(&self) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id,
            url: self.url.clone(),
            description: self.description.clone(),
            event_types: self
                .event_types
                .iter()
                .filter_map(|t| EventType::parse(t))
                .collect(),
            unit_id: self.unit_id,
            unit_code: self.unit_code.clone(),
            enabled: self.enabled,
            disabled_at: self.disabled_at,
            disabled_reason: self.disabled_reason.clone(),
            consecutive_failures: self.consecutive_failures,
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn endpoints_with_unit() -> diesel::dsl::Filter<
    diesel::dsl::InnerJoin<webhook_endpoints::table, org_units::table>,
    diesel::dsl::IsNull<webhook_endpoints::deleted_at>,
> {
    webhook_endpoints::table
        .inner_join(org_units::table)
        .filter(webhook_endpoints::deleted_at.is_null())
}

pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub secret: &'a str,
    pub event_types: Vec<String>,
    pub unit_id: Uuid,
    pub created_by: &'a str,
}

pub async fn insert_endpoint(conn: &mut AsyncPgConnection, n: NewEndpoint<'_>) -> ApiResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::id.eq(id),
            webhook_endpoints::url.eq(n.url),
            webhook_endpoints::description.eq(n.description),
            webhook_endpoints::secret.eq(n.secret),
            webhook_endpoints::event_types.eq(&n.event_types),
            webhook_endpoints::unit_id.eq(n.unit_id),
            webhook_endpoints::created_by.eq(n.created_by),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// An endpoint that is not deleted; with `lock`, held until the transaction ends.
pub async fn get_endpoint(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    lock: bool,
) -> ApiResult<Option<EndpointRow>> {
    if lock {
        // The endpoint's row alone: its unit's row is left to report writes.
        webhook_endpoints::table
            .find(id)
            .select(webhook_endpoints::id)
            .for_update()
            .first::<Uuid>(conn)
            .await
            .optional()?;
    }
    let row: Option<(EndpointBase, String, String)> = endpoints_with_unit()
        .filter(webhook_endpoints::id.eq(id))
        .select((
            webhook_endpoints::all_columns,
            org_units::code,
            org_units::path,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(EndpointRow::from))
}

/// Endpoints whose unit lies under `scope_prefix` (all for `None`).
pub async fn list_endpoints(
    conn: &mut AsyncPgConnection,
    scope_prefix: Option<&str>,
    enabled: Option<bool>,
    page: PageRequest,
) -> ApiResult<(Vec<EndpointRow>, i64)> {
    let build = || {
        let mut q = endpoints_with_unit().into_boxed();
        if let Some(prefix) = scope_prefix {
            q = q.filter(org_units::path.like(format!("{prefix}%")));
        }
        if let Some(e) = enabled {
            q = q.filter(webhook_endpoints::enabled.eq(e));
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows: Vec<(EndpointBase, String, String)> = build()
        .select((
            webhook_endpoints::all_columns,
            org_units::code,
            org_units::path,
        ))
        .order(webhook_endpoints::id.asc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .await?;
    Ok((rows.into_iter().map(EndpointRow::from).collect(), total))
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub disabled_at: Option<Option<DateTime<Utc>>>,
    pub disabled_reason: Option<Option<String>>,
    pub consecutive_failures: Option<i32>,
    pub secret: Option<String>,
    pub previous_secret: Option<Option<String>>,
    pub previous_secret_until: Option<Option<DateTime<Utc>>>,
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

pub async fn update_endpoint(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: EndpointChanges,
) -> ApiResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((changes, webhook_endpoints::updated_at.eq(Utc::now())))
        .execute(conn)
        .await?;
    Ok(())
}

/// A deleted endpoint's unsent deliveries will never go out.
pub async fn cancel_pending(conn: &mut AsyncPgConnection, endpoint_id: Uuid) -> ApiResult<usize> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((webhook_deliveries::status.eq(DeliveryStatus::Cancelled.as_str()),))
    .execute(conn)
    .await?)
}

// --- the delivery log -------------------------------------------------------------

#[derive(Queryable)]
struct DeliveryRow {
    id: Uuid,
    status: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    last_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    event_id: Uuid,
    event_type: String,
    payload: serde_json::Value,
}

#[derive(Queryable)]
struct AttemptRow {
    started_at: DateTime<Utc>,
    latency_ms: i32,
    status_code: Option<i32>,
    error: Option<String>,
    cause: String,
}

/// The `webhook-id` of an event.
pub fn message_id(event_id: Uuid) -> String {
    format!("msg_{}", event_id.simple())
}

/// An endpoint's deliveries, newest first, each with its attempts; or one of them.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    only: Option<Uuid>,
    status: Option<DeliveryStatus>,
    page: PageRequest,
) -> ApiResult<(Vec<WebhookDelivery>, i64)> {
    let build = || {
        let mut q = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .into_boxed();
        if let Some(id) = only {
            q = q.filter(webhook_deliveries::id.eq(id));
        }
        if let Some(s) = status {
            q = q.filter(webhook_deliveries::status.eq(s.as_str()));
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows: Vec<DeliveryRow> = build()
        .select((
            webhook_deliveries::id,
            webhook_deliveries::status,
            webhook_deliveries::attempts,
            webhook_deliveries::next_attempt_at,
            webhook_deliveries::last_attempt_at,
            webhook_deliveries::last_status_code,
            webhook_deliveries::last_error,
            webhook_deliveries::created_at,
            webhook_events::id,
            webhook_events::type_,
            webhook_events::payload,
        ))
        .order(webhook_deliveries::seq.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let attempts: Vec<(Uuid, AttemptRow)> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .select((
            webhook_attempts::delivery_id,
            (
                webhook_attempts::started_at,
                webhook_attempts::latency_ms,
                webhook_attempts::status_code,
                webhook_attempts::error,
                webhook_attempts::cause,
            ),
        ))
        .order(webhook_attempts::id.asc())
        .load(conn)
        .await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let status = DeliveryStatus::parse(&r.status);
            WebhookDelivery {
                id: r.id,
                message_id: message_id(r.event_id),
                event_type: EventType::parse(&r.event_type).unwrap_or(EventType::Test),
                status,
                attempts: r.attempts,
                next_attempt_at: (status == DeliveryStatus::Pending).then_some(r.next_attempt_at),
                last_attempt_at: r.last_attempt_at,
                last_status_code: r.last_status_code,
                last_error: r.last_error,
                created_at: r.created_at,
                payload: r.payload,
                attempt_log: attempts
                    .iter()
                    .filter(|(id, _)| *id == r.id)
                    .map(|(_, a)| DeliveryAttempt {
                        started_at: a.started_at,
                        latency_ms: a.latency_ms,
                        status_code: a.status_code,
                        error: a.error.clone(),
                        cause: a.cause.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok((items, total))
}

/// Makes a delivery due now with a fresh round of retries; `false` when the endpoint
/// has no such delivery.
pub async fn redeliver(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> ApiResult<bool> {
    let n = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id)),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
        webhook_deliveries::round_attempts.eq(0),
        webhook_deliveries::next_attempt_at.eq(Utc::now()),
        webhook_deliveries::next_cause.eq("manual"),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

// --- the worker's side ------------------------------------------------------------

/// A delivery claimed by one worker, with what sending it needs.
#[derive(QueryableByName, Debug)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub event_id: Uuid,
    #[diesel(sql_type = Text)]
    pub url: String,
    #[diesel(sql_type = Array<Text>)]
    pub secrets: Vec<String>,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub round_attempts: i32,
    #[diesel(sql_type = Text)]
    pub cause: String,
}

/// Claims up to `limit` due deliveries for `lease`: pending, due, not claimed by a
/// live worker, of an enabled endpoint, and with no earlier pending delivery of the
/// same ordering key to the same endpoint. `SKIP LOCKED` lets several processes claim
/// at once without waiting for or taking each other's rows.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    limit: i64,
    lease: Duration,
    token: Uuid,
) -> ApiResult<Vec<Claimed>> {
    Ok(diesel::sql_query(
        "WITH due AS ( \
             SELECT d.id FROM webhook_deliveries d \
             JOIN webhook_endpoints w ON w.id = d.endpoint_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
               AND (d.locked_until IS NULL OR d.locked_until < now()) \
               AND w.enabled AND w.deleted_at IS NULL \
               AND NOT EXISTS ( \
                   SELECT 1 FROM webhook_deliveries p \
                   WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key \
                     AND p.status = 'pending' AND p.seq < d.seq) \
             ORDER BY d.seq LIMIT $1 \
             FOR UPDATE OF d SKIP LOCKED) \
         UPDATE webhook_deliveries d \
         SET locked_until = now() + $2 * interval '1 millisecond', claim_token = $3 \
         FROM due, webhook_endpoints w, webhook_events e \
         WHERE d.id = due.id AND w.id = d.endpoint_id AND e.id = d.event_id \
         RETURNING d.id, d.endpoint_id, d.event_id, w.url, \
             array_remove(ARRAY[w.secret, CASE WHEN w.previous_secret_until > now() \
                 THEN w.previous_secret END], NULL) AS secrets, \
             e.payload, d.round_attempts, d.next_cause AS cause",
    )
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .bind::<SqlUuid, _>(token)
    .load(conn)
    .await?)
}

/// What one attempt came to.
pub struct Outcome {
    pub started_at: DateTime<Utc>,
    pub latency_ms: i32,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Logs the attempt and, while the claim is still this worker's, moves the delivery
/// on: succeeded, due again at `retry_at`, or failed when that is `None`. Returns the
/// endpoint's count of failed deliveries in a row when this one just failed.
pub async fn record(
    conn: &mut AsyncPgConnection,
    c: &Claimed,
    token: Uuid,
    o: &Outcome,
    retry_at: Option<DateTime<Utc>>,
) -> ApiResult<Option<i32>> {
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::delivery_id.eq(c.id),
            webhook_attempts::started_at.eq(o.started_at),
            webhook_attempts::latency_ms.eq(o.latency_ms),
            webhook_attempts::status_code.eq(o.status_code),
            webhook_attempts::error.eq(&o.error),
            webhook_attempts::cause.eq(&c.cause),
        ))
        .execute(conn)
        .await?;
    let status = match (o.succeeded(), retry_at) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let now = Utc::now();
    let moved = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(c.id))
            .filter(webhook_deliveries::claim_token.eq(token))
            // A delivery cancelled meanwhile (its endpoint deleted) stays so.
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(status.as_str()),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::round_attempts.eq(webhook_deliveries::round_attempts + 1),
        webhook_deliveries::next_attempt_at.eq(retry_at.unwrap_or(now)),
        webhook_deliveries::next_cause.eq("scheduled"),
        webhook_deliveries::locked_until.eq(None::<DateTime<Utc>>),
        webhook_deliveries::claim_token.eq(None::<Uuid>),
        webhook_deliveries::last_attempt_at.eq(o.started_at),
        webhook_deliveries::last_status_code.eq(o.status_code),
        webhook_deliveries::last_error.eq(&o.error),
    ))
    .execute(conn)
    .await?;
    if moved == 0 {
        // The lease ran out and another worker has it now, or the delivery was
        // cancelled: only the log records this attempt.
        return Ok(None);
    }
    let failures = webhook_endpoints::table.find(c.endpoint_id);
    match status {
        DeliveryStatus::Succeeded => {
            diesel::update(failures.filter(webhook_endpoints::consecutive_failures.ne(0)))
                .set(webhook_endpoints::consecutive_failures.eq(0))
                .execute(conn)
                .await?;
            Ok(None)
        }
        DeliveryStatus::Failed => Ok(Some(
            diesel::update(failures)
                .set(
                    webhook_endpoints::consecutive_failures
                        .eq(webhook_endpoints::consecutive_failures + 1),
                )
                .returning(webhook_endpoints::consecutive_failures)
                .get_result(conn)
                .await?,
        )),
        _ => Ok(None),
    }
}

/// Disables an endpoint that keeps failing; `None` when it already was.
pub async fn disable_failing(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    reason: &str,
) -> ApiResult<Option<Uuid>> {
    let now = Utc::now();
    Ok(diesel::update(
        webhook_endpoints::table
            .find(endpoint_id)
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_at.eq(now),
        webhook_endpoints::disabled_reason.eq(reason),
        webhook_endpoints::updated_at.eq(now),
    ))
    .returning(webhook_endpoints::unit_id)
    .get_result(conn)
    .await
    .optional()?)
}
