//! `/api/v1/me/notifications` (the caller's bell), `/api/v1/me/notification-settings`
//! and `/api/v1/periods/{period_id}/reminders` (a period's schedule, and "remind the
//! missing units now").

use actix_web::{get, post, put, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use serde_json::json;
use uuid::Uuid;

use super::model::*;
use super::{store, worker};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::{Actor, PrincipalKind};
use crate::error::{ApiError, ApiResult};
use crate::pagination::PageRequest;

/// Notifications are a person's: a service client has none.
fn user_of(actor: &Actor) -> ApiResult<Uuid> {
    match actor.kind {
        PrincipalKind::User => Ok(actor.id),
        PrincipalKind::Client => Err(ApiError::forbidden(
            "service clients receive no notifications",
        )),
    }
}

/// The caller's notifications, newest first, with the count of unread ones.
#[utoipa::path(operation_id = "listMyNotifications", tag = "notifications", params(NotificationQuery), responses((status = 200, body = NotificationPage)))]
#[get("/me/notifications")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<NotificationQuery>,
) -> ApiResult<web::Json<NotificationPage>> {
    let user = user_of(&actor)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (items, total, unread) =
        store::list(&mut conn, user, q.unread.unwrap_or(false), page).await?;
    Ok(web::Json(NotificationPage {
        items,
        total,
        limit: page.limit,
        offset: page.offset,
        unread,
    }))
}

/// Marks one of the caller's notifications read (again: no change).
#[utoipa::path(operation_id = "markNotificationRead", tag = "notifications", params(("notification_id" = Uuid, Path, description = "Notification id")), responses((status = 200, body = Notification), (status = 404, description = "The caller has no such notification", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/me/notifications/{notification_id}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Notification>> {
    let user = user_of(&actor)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    store::mark_read(&mut conn, user, *id)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("notification"))
}

/// Marks all the caller's notifications read.
#[utoipa::path(operation_id = "markAllNotificationsRead", tag = "notifications", responses((status = 200, body = MarkedRead)))]
#[post("/me/notifications/read-all")]
pub async fn mark_all_read(
    state: web::Data<AppState>,
    actor: Actor,
) -> ApiResult<web::Json<MarkedRead>> {
    let user = user_of(&actor)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let marked = store::mark_all_read(&mut conn, user).await?;
    Ok(web::Json(MarkedRead {
        marked: i64::try_from(marked).unwrap_or(i64::MAX),
        unread: 0,
    }))
}

async fn settings(
    state: &AppState,
    actor: &Actor,
    set: Option<bool>,
) -> ApiResult<NotificationSettings> {
    let user = user_of(actor)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let s = store::email_setting(&mut conn, user, set)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(NotificationSettings {
        email: s.email_notifications,
        email_address: s.email.filter(|e| !e.is_empty()),
    })
}

/// The caller's notification settings.
#[utoipa::path(operation_id = "getMyNotificationSettings", tag = "notifications", responses((status = 200, body = NotificationSettings)))]
#[get("/me/notification-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    actor: Actor,
) -> ApiResult<web::Json<NotificationSettings>> {
    Ok(web::Json(settings(&state, &actor, None).await?))
}

/// Switches e-mail notifications on or off for the caller.
#[utoipa::path(operation_id = "putMyNotificationSettings", tag = "notifications", request_body = UpdateNotificationSettings, responses((status = 200, body = NotificationSettings)))]
#[put("/me/notification-settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<UpdateNotificationSettings>,
) -> ApiResult<web::Json<NotificationSettings>> {
    Ok(web::Json(
        settings(&state, &actor, Some(body.into_inner().email)).await?,
    ))
}

/// A period's reminder schedule (the default, -7, -1 and 0 days then every 3, when it
/// has none of its own).
#[utoipa::path(operation_id = "getReminderSchedule", tag = "notifications", params(("period_id" = Uuid, Path, description = "Period id")), responses((status = 200, body = ReminderSchedule)))]
#[get("/periods/{period_id}/reminders")]
pub async fn get_schedule(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ReminderSchedule>> {
    crate::auth::policy::require(&actor, crate::auth::policy::Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (period, _) = crate::plans::routes::readable_period(&mut conn, &actor, *id).await?;
    Ok(web::Json(store::schedule(&mut conn, period.id).await?))
}

fn check_schedule(b: &PutReminderSchedule) -> ApiResult<()> {
    if b.offsets_days.len() > 20 {
        return Err(ApiError::invalid_field(
            "body.offsets_days",
            "too_many",
            "at most 20 days",
        ));
    }
    if let Some(d) = b.offsets_days.iter().find(|d| !(-365..=365).contains(*d)) {
        return Err(ApiError::invalid_field(
            "body.offsets_days",
            "out_of_range",
            format!("{d} is not between -365 and 365"),
        ));
    }
    if let Some(r) = b.repeat_every_days.filter(|r| !(1..=365).contains(r)) {
        return Err(ApiError::invalid_field(
            "body.repeat_every_days",
            "out_of_range",
            format!("{r} is not between 1 and 365"),
        ));
    }
    Ok(())
}

/// Sets a period's reminder schedule (coordinators in scope, admins).
#[utoipa::path(operation_id = "putReminderSchedule", tag = "notifications", params(("period_id" = Uuid, Path, description = "Period id")), request_body = PutReminderSchedule, responses((status = 200, body = ReminderSchedule)))]
#[put("/periods/{period_id}/reminders")]
pub async fn put_schedule(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<PutReminderSchedule>,
) -> ApiResult<web::Json<ReminderSchedule>> {
    let body = body.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let (period, plan) = crate::plans::routes::writable_period(&mut conn, &actor, *id).await?;
    check_schedule(&body)?;
    let mut offsets = body.offsets_days;
    offsets.sort_unstable();
    offsets.dedup();
    let schedule = ReminderSchedule {
        period_id: period.id,
        offsets_days: offsets,
        repeat_every_days: body.repeat_every_days,
        enabled: body.enabled,
        is_default: false,
        updated_by: Some(actor.display_name.clone()),
        updated_at: None,
    };
    let by = By::from(&actor);
    conn.transaction::<_, ApiError, _>(async |conn| {
        store::put_schedule(conn, &schedule, &actor.display_name).await?;
        audit::append(
            conn,
            &by,
            Event {
                action: "period.reminders",
                object_type: "period",
                object_id: period.id.to_string(),
                unit_id: Some(plan.issuing_unit_id),
                change: json!({
                    "period": period.code, "offsets_days": schedule.offsets_days,
                    "repeat_every_days": schedule.repeat_every_days, "enabled": schedule.enabled,
                }),
            },
        )
        .await
    })
    .await?;
    Ok(web::Json(store::schedule(&mut conn, period.id).await?))
}

/// Reminds now, with a message, every unit in the caller's scope whose report for the
/// period is missing (coordinators in scope, admins).
#[utoipa::path(operation_id = "remindMissingUnits", tag = "notifications", params(("period_id" = Uuid, Path, description = "Period id")), request_body = RemindNow, responses((status = 200, body = RemindResult)))]
#[post("/periods/{period_id}/reminders:send")]
pub async fn remind_now(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<RemindNow>,
) -> ApiResult<web::Json<RemindResult>> {
    crate::auth::policy::require(&actor, crate::auth::policy::Action::ManagePeriods)?;
    let message = body.into_inner().message.trim().to_string();
    if message.is_empty() || message.chars().count() > 2000 {
        return Err(ApiError::invalid_field(
            "body.message",
            "invalid_length",
            "1 to 2000 characters",
        ));
    }
    let mut conn = crate::db::conn(&state.pool).await?;
    let (period, plan) = crate::plans::routes::readable_period(&mut conn, &actor, *id).await?;
    let now = Utc::now();
    let today = worker::local_day(now);
    let step = format!("manual:{}", Uuid::now_v7());
    let by = By::from(&actor);
    let units = store::expected_units(&mut conn, period.id).await?;
    let mut reminded = Vec::new();
    let mut notifications = 0i64;
    conn.transaction::<_, ApiError, _>(async |conn| {
        for u in units.iter().filter(|u| u.missing) {
            if !crate::auth::policy::covers(&actor, &u.unit_path) {
                continue;
            }
            let note = super::reminder_note(
                period.id,
                &period.code,
                &period.name,
                &u.unit_code,
                u.due_date,
                (u.due_date - today).num_days(),
                Some(&message),
            );
            store::claim_step(
                conn,
                period.id,
                u.unit_id,
                &step,
                &actor.display_name,
                Some(&message),
                now,
            )
            .await?;
            let n = store::to_reporters(conn, &[u.unit_id], &note).await?;
            notifications += i64::try_from(n).unwrap_or(0);
            reminded.push(u.unit_code.clone());
        }
        audit::append(
            conn,
            &by,
            Event {
                action: "period.remind",
                object_type: "period",
                object_id: period.id.to_string(),
                unit_id: Some(plan.issuing_unit_id),
                change: json!({ "period": period.code, "message": message, "units": reminded }),
            },
        )
        .await
    })
    .await?;
    Ok(web::Json(RemindResult {
        units: reminded,
        notifications,
    }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(mark_all_read)
        .service(mark_read)
        .service(get_settings)
        .service(put_settings)
        .service(get_schedule)
        .service(put_schedule)
        .service(remind_now);
}
