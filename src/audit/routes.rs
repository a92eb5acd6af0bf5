//! `GET /api/v1/audit`: the audit log for coordinators (their subtree) and admins.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::store;
use crate::AppState;
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::ApiResult;
use crate::pagination::{Page, PageRequest};

#[derive(Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// user, client or system.
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub actor_role: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub unit_id: Option<Uuid>,
    pub request_id: Option<String>,
    /// What changed, as the action recorded it.
    #[schema(value_type = Object)]
    pub change: serde_json::Value,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `report`, `org_unit`, `user`.
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor_id: Option<Uuid>,
    /// Events at or after this instant (RFC 3339) or date (`2024-01-01`: from the start
    /// of that day in Vietnam time).
    #[param(value_type = Option<String>, example = "2024-01-01")]
    pub from: Option<Instant>,
    /// Events before this instant or date (`2024-12-31`: up to the end of that day in
    /// Vietnam time).
    #[param(value_type = Option<String>, example = "2024-12-31")]
    pub to: Option<Instant>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A bound of the audit filter: an RFC 3339 instant, or a whole day in Vietnam time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instant {
    At(DateTime<Utc>),
    Day(chrono::NaiveDate),
}

impl Instant {
    fn day_start(d: chrono::NaiveDate) -> DateTime<Utc> {
        d.and_time(chrono::NaiveTime::MIN)
            .and_local_timezone(crate::plans::period::vietnam_offset())
            .single()
            .map_or(DateTime::<Utc>::MIN_UTC, |t| t.with_timezone(&Utc))
    }
    /// The first moment the bound admits, as a lower bound.
    fn start(self) -> DateTime<Utc> {
        match self {
            Instant::At(t) => t,
            Instant::Day(d) => Self::day_start(d),
        }
    }
    /// The first moment past the bound, as an exclusive upper bound.
    fn end(self) -> DateTime<Utc> {
        match self {
            Instant::At(t) => t,
            Instant::Day(d) => crate::plans::period::due_instant(d),
        }
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
            return Ok(Instant::At(t.with_timezone(&Utc)));
        }
        chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Instant::Day)
            .map_err(|_| {
                serde::de::Error::custom("expected a date (2024-01-01) or an RFC 3339 instant")
            })
    }
}

/// The audit log, newest first.
#[utoipa::path(operation_id = "listAuditEvents", tag = "audit", params(AuditQuery), responses((status = 200, body = Page<AuditEvent>)))]
#[get("/audit")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEvent>>> {
    policy::require(&actor, Action::ReadAudit)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = store::Filter {
        object_type: q.object_type,
        object_id: q.object_id,
        actor_id: q.actor_id,
        from: q.from.map(|i| i.start()),
        to: q.to.map(|i| i.end()),
        scope_prefix: policy::scope_prefix(&actor).map(str::to_string),
    };
    let mut conn = crate::db::conn(&state.pool).await?;
    let (rows, total) = store::list(&mut conn, &filter, page).await?;
    let items = rows
        .into_iter()
        .map(|r| AuditEvent {
            id: r.id,
            at: r.at,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            unit_id: r.unit_id,
            request_id: r.request_id,
            change: r.change,
        })
        .collect();
    Ok(web::Json(Page::new(items, total, page)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list);
}
