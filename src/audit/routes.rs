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
    /// Events at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(tag = "audit", params(AuditQuery), responses((status = 200, body = Page<AuditEvent>)))]
#[get("/audit")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEvent>>> {
    policy::require(&actor, Action::ReadAudit)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let filter = store::Filter {
        object_type: q.object_type,
        object_id: q.object_id,
        actor_id: q.actor_id,
        from: q.from,
        to: q.to,
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
