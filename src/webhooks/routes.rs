//! `/api/v1/webhooks`: endpoints of a subtree (admins, and coordinators within their
//! scope), their delivery log, manual redelivery and a test message.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::model::*;
use super::store::{self, EndpointChanges, EndpointRow, NewEndpoint};
use super::{EventType, worker};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::config::{Environment, Settings};
use crate::error::{AllFields, ApiError, ApiResult};
use crate::idempotency::no_store;
use crate::pagination::{Page, PageRequest};

/// How long the secret before a rotation still signs, beside the new one.
const ROTATION_OVERLAP_HOURS: i64 = 24;

/// An endpoint the caller may manage: 403 without the role, 404 outside scope.
async fn visible(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
    lock: bool,
) -> ApiResult<EndpointRow> {
    policy::require(actor, Action::ManageWebhooks)?;
    store::get_endpoint(conn, id, lock)
        .await?
        .filter(|e| policy::covers(actor, &e.unit_path))
        .ok_or_else(|| ApiError::not_found("webhook"))
}

fn event(action: &'static str, e: &EndpointRow, change: serde_json::Value) -> Event<'static> {
    Event {
        action,
        object_type: "webhook",
        object_id: e.id.to_string(),
        unit_id: Some(e.unit_id),
        change,
    }
}

/// A target URL as the service will call it: absolute http(s), no credentials in it,
/// `https` in production, and no private address unless allowed.
fn check_url(raw: &str, settings: &Settings) -> ApiResult<String> {
    const FIELD: &str = "body.url";
    let url = raw.trim();
    if url.is_empty() || url.chars().count() > 2000 {
        return Err(ApiError::invalid_field(
            FIELD,
            "invalid_length",
            "must be 1 to 2000 characters",
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| ApiError::invalid_field(FIELD, "invalid_url", format!("not a URL: {e}")))?;
    let https_only = settings.environment == Environment::Production;
    match parsed.scheme() {
        "https" => {}
        "http" if !https_only => {}
        other => {
            return Err(ApiError::invalid_field(
                FIELD,
                "invalid_url",
                format!(
                    "the scheme must be https{}, not {other}",
                    if https_only { "" } else { " or http" }
                ),
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid_field(
            FIELD,
            "invalid_url",
            "the URL names no host",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::invalid_field(
            FIELD,
            "invalid_url",
            "credentials do not belong in the URL; the signature authenticates the service",
        ));
    }
    worker::check_target(url, settings.webhooks.allow_private_targets)
        .map_err(|m| ApiError::invalid_field(FIELD, "private_target", m))?;
    Ok(url.to_string())
}

fn check_description(raw: &str) -> ApiResult<String> {
    let d = raw.trim();
    if d.chars().count() > 1000 {
        return Err(ApiError::invalid_field(
            "body.description",
            "too_long",
            "at most 1000 characters",
        ));
    }
    Ok(d.to_string())
}

/// At least one subscribable type; kept in their documented order, once each.
fn check_event_types(types: &[EventType]) -> ApiResult<Vec<String>> {
    const FIELD: &str = "body.event_types";
    if types.is_empty() {
        return Err(ApiError::invalid_field(
            FIELD,
            "required",
            "name at least one event type",
        ));
    }
    if types.contains(&EventType::Test) {
        return Err(ApiError::invalid_field(
            FIELD,
            "invalid_value",
            "webhook.test is sent on request (POST .../test), not subscribed to",
        ));
    }
    Ok(EventType::SUBSCRIBABLE
        .into_iter()
        .filter(|t| types.contains(t))
        .map(|t| t.as_str().to_string())
        .collect())
}

/// Endpoints in the caller's scope.
#[utoipa::path(operation_id = "listWebhooks", tag = "webhooks", params(WebhookQuery), responses((status = 200, body = Page<WebhookEndpoint>)))]
#[get("/webhooks")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<WebhookQuery>,
) -> ApiResult<web::Json<Page<WebhookEndpoint>>> {
    policy::require(&actor, Action::ManageWebhooks)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (rows, total) =
        store::list_endpoints(&mut conn, policy::scope_prefix(&actor), q.enabled, page).await?;
    Ok(web::Json(Page::new(
        rows.iter().map(EndpointRow::to_api).collect(),
        total,
        page,
    )))
}

/// Creates an endpoint for the events of a subtree in the caller's scope. The signing
/// secret is in this response only.
#[utoipa::path(operation_id = "createWebhook", tag = "webhooks", request_body = NewWebhookEndpoint, responses((status = 201, body = WebhookEndpointWithSecret, headers(("Location" = String)))))]
#[post("/webhooks")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<NewWebhookEndpoint>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageWebhooks)?;
    let body = body.into_inner();
    let (url, description, event_types) = (
        check_url(&body.url, &state.settings),
        check_description(body.description.as_deref().unwrap_or_default()),
        check_event_types(&body.event_types),
    )
        .all_fields()?;
    let secret = super::sign::new_secret()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let endpoint = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let unit_ref = body
                .unit
                .clone()
                .unwrap_or_else(|| actor.unit_id.to_string());
            let unit = crate::org::store::find(conn, &unit_ref)
                .await?
                .filter(|u| policy::covers(&actor, &u.path))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "body.unit",
                        "unknown_unit",
                        "no such unit in your scope",
                    )
                })?;
            let id = store::insert_endpoint(
                conn,
                NewEndpoint {
                    url: &url,
                    description: &description,
                    secret: &secret,
                    event_types,
                    unit_id: unit.id,
                    created_by: &actor.display_name,
                },
            )
            .await?;
            let e = store::get_endpoint(conn, id, false)
                .await?
                .ok_or_else(|| ApiError::not_found("webhook"))?;
            audit::append(
                conn,
                &by,
                event("webhook.create", &e, json!({ "after": e.to_api() })),
            )
            .await?;
            Ok(e)
        })
        .await?;
    Ok(no_store(
        HttpResponse::Created()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!("/api/v1/webhooks/{}", endpoint.id),
            ))
            .json(WebhookEndpointWithSecret {
                endpoint: endpoint.to_api(),
                secret,
            }),
    ))
}

/// One endpoint (without its secret).
#[utoipa::path(operation_id = "getWebhook", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id")), responses((status = 200, body = WebhookEndpoint)))]
#[get("/webhooks/{webhook_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<WebhookEndpoint>> {
    let mut conn = crate::db::conn(&state.pool).await?;
    Ok(web::Json(
        visible(&mut conn, &actor, *id, false).await?.to_api(),
    ))
}

/// Changes an endpoint's URL, description or event types, or enables or disables it.
/// Re-enabling sends what is still pending and starts its failure count again.
#[utoipa::path(operation_id = "updateWebhook", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id")), request_body = UpdateWebhookEndpoint, responses((status = 200, body = WebhookEndpoint)))]
#[patch("/webhooks/{webhook_id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<UpdateWebhookEndpoint>,
) -> ApiResult<web::Json<WebhookEndpoint>> {
    let body = body.into_inner();
    let (url, description, event_types) = (
        body.url
            .as_deref()
            .map(|u| check_url(u, &state.settings))
            .transpose(),
        body.description
            .as_deref()
            .map(check_description)
            .transpose(),
        body.event_types
            .as_deref()
            .map(check_event_types)
            .transpose(),
    )
        .all_fields()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let after = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = visible(conn, &actor, *id, true).await?;
            let mut changes = EndpointChanges {
                url,
                description,
                event_types,
                ..Default::default()
            };
            match body.enabled {
                Some(true) if !before.enabled => {
                    changes.enabled = Some(true);
                    changes.disabled_at = Some(None);
                    changes.disabled_reason = Some(None);
                    changes.consecutive_failures = Some(0);
                }
                Some(false) if before.enabled => {
                    changes.enabled = Some(false);
                    changes.disabled_at = Some(Some(Utc::now()));
                    changes.disabled_reason =
                        Some(Some(format!("disabled by {}", actor.display_name)));
                }
                _ => {}
            }
            store::update_endpoint(conn, before.id, changes).await?;
            let after = store::get_endpoint(conn, before.id, false)
                .await?
                .ok_or_else(|| ApiError::not_found("webhook"))?;
            audit::append(
                conn,
                &by,
                event(
                    "webhook.update",
                    &after,
                    json!({ "before": before.to_api(), "after": after.to_api() }),
                ),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(after.to_api()))
}

/// Deletes an endpoint: nothing more is sent to it and what was pending is cancelled.
/// Its delivery log is kept, but no longer served.
#[utoipa::path(operation_id = "deleteWebhook", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id")), responses((status = 204, description = "Deleted")))]
#[delete("/webhooks/{webhook_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let e = visible(conn, &actor, *id, true).await?;
        store::update_endpoint(
            conn,
            e.id,
            EndpointChanges {
                enabled: Some(false),
                deleted_at: Some(Some(Utc::now())),
                ..Default::default()
            },
        )
        .await?;
        let cancelled = store::cancel_pending(conn, e.id).await?;
        audit::append(
            conn,
            &by,
            event(
                "webhook.delete",
                &e,
                json!({ "before": e.to_api(), "deliveries_cancelled": cancelled }),
            ),
        )
        .await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the signing secret. For 24 hours messages carry two signatures, one with
/// each secret, so a receiver can switch over without losing any.
#[utoipa::path(operation_id = "rotateWebhookSecret", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id")), responses((status = 200, body = WebhookEndpointWithSecret)))]
#[post("/webhooks/{webhook_id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let secret = super::sign::new_secret()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let e = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let e = visible(conn, &actor, *id, true).await?;
            store::update_endpoint(
                conn,
                e.id,
                EndpointChanges {
                    secret: Some(secret.clone()),
                    previous_secret: Some(Some(e.secret.clone())),
                    previous_secret_until: Some(Some(
                        Utc::now() + chrono::Duration::hours(ROTATION_OVERLAP_HOURS),
                    )),
                    ..Default::default()
                },
            )
            .await?;
            audit::append(conn, &by, event("webhook.rotate_secret", &e, json!({}))).await?;
            Ok(e)
        })
        .await?;
    Ok(no_store(HttpResponse::Ok().json(
        WebhookEndpointWithSecret {
            endpoint: e.to_api(),
            secret,
        },
    )))
}

/// One delivery of the endpoint with its attempts, or 404.
async fn one_delivery(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    delivery_id: Uuid,
) -> ApiResult<WebhookDelivery> {
    let page = PageRequest::new(Some(1), None)?;
    store::deliveries(conn, endpoint_id, Some(delivery_id), None, page)
        .await?
        .0
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found("delivery"))
}

/// Records a request to send a delivery, and answers with the delivery.
async fn audited_delivery(
    conn: &mut AsyncPgConnection,
    by: &By,
    action: &'static str,
    e: &EndpointRow,
    delivery_id: Uuid,
) -> ApiResult<WebhookDelivery> {
    audit::append(
        conn,
        by,
        event(action, e, json!({ "delivery": delivery_id })),
    )
    .await?;
    one_delivery(conn, e.id, delivery_id).await
}

fn require_enabled(e: &EndpointRow) -> ApiResult<()> {
    if e.enabled {
        return Ok(());
    }
    Err(ApiError::conflict(
        "webhook_disabled",
        "the endpoint is disabled; enable it (PATCH enabled: true) first",
    ))
}

/// Sends a `webhook.test` message to the endpoint (at the worker's next round); the
/// answer is its delivery, to follow in the log.
#[utoipa::path(operation_id = "testWebhook", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id")), responses((status = 202, body = WebhookDelivery), (status = 409, description = "The endpoint is disabled (`webhook_disabled`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/webhooks/{webhook_id}/test")]
pub async fn test(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let delivery = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let e = visible(conn, &actor, *id, false).await?;
            require_enabled(&e)?;
            let payload = super::payload(
                EventType::Test,
                Utc::now(),
                json!({ "webhook_id": e.id, "unit_id": e.unit_id, "unit_code": e.unit_code,
                        "by": actor.display_name }),
            );
            let delivery_id = store::write_test_event(conn, &e, &payload).await?;
            audited_delivery(conn, &by, "webhook.test", &e, delivery_id).await
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

/// The endpoint's deliveries, newest first, each with every attempt (status, latency,
/// time, error).
#[utoipa::path(operation_id = "listWebhookDeliveries", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id"), DeliveryQuery), responses((status = 200, body = Page<WebhookDelivery>)))]
#[get("/webhooks/{webhook_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<DeliveryQuery>,
) -> ApiResult<web::Json<Page<WebhookDelivery>>> {
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let e = visible(&mut conn, &actor, *id, false).await?;
    let (items, total) = store::deliveries(&mut conn, e.id, None, q.status, page).await?;
    Ok(web::Json(Page::new(items, total, page)))
}

/// One delivery with its attempts and the body it sends.
#[utoipa::path(operation_id = "getWebhookDelivery", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id"), ("delivery_id" = Uuid, Path, description = "Delivery id")), responses((status = 200, body = WebhookDelivery)))]
#[get("/webhooks/{webhook_id}/deliveries/{delivery_id}")]
pub async fn get_delivery(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<WebhookDelivery>> {
    let (id, delivery_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let e = visible(&mut conn, &actor, id, false).await?;
    Ok(web::Json(one_delivery(&mut conn, e.id, delivery_id).await?))
}

/// Sends a delivery again, whatever its status, with a fresh round of retries; it is
/// due at once. The receiver sees the same `webhook-id` as before.
#[utoipa::path(operation_id = "redeliverWebhook", tag = "webhooks", params(("webhook_id" = Uuid, Path, description = "Webhook endpoint id"), ("delivery_id" = Uuid, Path, description = "Delivery id")), responses((status = 202, body = WebhookDelivery), (status = 409, description = "The endpoint is disabled (`webhook_disabled`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, delivery_id) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let delivery = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let e = visible(conn, &actor, id, false).await?;
            if !store::redeliver(conn, e.id, delivery_id).await? {
                return Err(ApiError::not_found("delivery"));
            }
            require_enabled(&e)?;
            audited_delivery(conn, &by, "webhook.redeliver", &e, delivery_id).await
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(rotate_secret)
        .service(test)
        .service(list_deliveries)
        .service(get_delivery)
        .service(redeliver);
}
