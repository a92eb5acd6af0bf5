//! `/api/v1/org-units`: read within scope; admins create, rename, move, deactivate.

use actix_web::{HttpResponse, get, patch, post, web};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::model::{
    NewOrgUnit, OrgUnit, OrgUnitQuery, SubtreeQuery, UpdateOrgUnit, check_code, clean_name,
};
use super::store::{self, ListFilter, Row};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{AllFields, ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};

/// Loads a unit the caller may see, or 404.
pub async fn visible_unit(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    unit_ref: &str,
) -> ApiResult<Row> {
    let row = store::find(conn, unit_ref)
        .await?
        .ok_or_else(|| ApiError::not_found("org unit"))?;
    policy::require_in_scope(actor, &row.path, "org unit")?;
    Ok(row)
}

fn event(action: &'static str, row: &Row, change: serde_json::Value) -> Event<'static> {
    Event {
        action,
        object_type: "org_unit",
        object_id: row.id.to_string(),
        unit_id: Some(row.id),
        change,
    }
}

/// Units in the caller's scope, filtered, sorted by code.
#[utoipa::path(operation_id = "listOrgUnits", tag = "org-units", params(OrgUnitQuery), responses((status = 200, body = Page<OrgUnit>), (status = 404, description = "The `parent` unit does not exist or lies outside the caller's scope", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/org-units")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<OrgUnitQuery>,
) -> ApiResult<web::Json<Page<OrgUnit>>> {
    policy::require(&actor, Action::ReadOrgUnits)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let parent_id = match &q.parent {
        Some(p) => Some(visible_unit(&mut conn, &actor, p).await?.id),
        None => None,
    };
    let filter = ListFilter {
        parent_id,
        kind: q.kind,
        active: q.active,
        text: q.q.filter(|t| !t.trim().is_empty()).map(|t| {
            use unicode_normalization::UnicodeNormalization;
            t.trim().nfc().collect()
        }),
        scope: policy::scope_prefix(&actor).map(|p| (p.to_string(), policy::exact_scope(&actor))),
    };
    let (rows, total) = store::list(&mut conn, &filter, page).await?;
    Ok(web::Json(Page::new(
        rows.iter().map(Row::to_api).collect(),
        total,
        page,
    )))
}

/// One unit, by id or code.
#[utoipa::path(operation_id = "getOrgUnit", tag = "org-units", params(("unit" = String, Path, description = "Unit id or code")), responses((status = 200, body = OrgUnit)))]
#[get("/org-units/{unit}")]
pub async fn get_one(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
) -> ApiResult<web::Json<OrgUnit>> {
    policy::require(&actor, Action::ReadOrgUnits)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    Ok(web::Json(
        visible_unit(&mut conn, &actor, &unit).await?.to_api(),
    ))
}

/// The unit and all units below it, in tree order (depth, then code).
#[utoipa::path(operation_id = "getOrgUnitSubtree", tag = "org-units", params(("unit" = String, Path, description = "Unit id or code"), SubtreeQuery), responses((status = 200, body = Page<OrgUnit>)))]
#[get("/org-units/{unit}/subtree")]
pub async fn subtree(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
    q: crate::extract::Query<SubtreeQuery>,
) -> ApiResult<web::Json<Page<OrgUnit>>> {
    policy::require(&actor, Action::ReadOrgUnits)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let root = visible_unit(&mut conn, &actor, &unit).await?;
    // A reporter's scope is its unit alone, never the units below it.
    let (rows, total) = if policy::exact_scope(&actor) {
        (vec![root], 1)
    } else {
        store::subtree(
            &mut conn,
            &root.path,
            q.include_inactive.unwrap_or(true),
            page,
        )
        .await?
    };
    Ok(web::Json(Page::new(
        rows.iter().map(Row::to_api).collect(),
        total,
        page,
    )))
}

/// Creates a unit (admins). Under a deactivated parent: 409 `parent_inactive`.
#[utoipa::path(operation_id = "createOrgUnit", tag = "org-units", request_body = NewOrgUnit, responses((status = 201, body = OrgUnit), (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/org-units")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<NewOrgUnit>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageOrgUnits)?;
    let body = body.into_inner();
    let (_, name) = (
        check_code("body.code", &body.code),
        clean_name("body.name", &body.name),
    )
        .all_fields()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            store::lock_tree(conn).await?;
            let parent = match &body.parent {
                Some(p) => Some(store::find(conn, p).await?.ok_or_else(|| {
                    ApiError::invalid_field("body.parent", "unknown_unit", format!("no unit {p:?}"))
                })?),
                None => None,
            };
            if let Some(p) = &parent {
                store::require_active_parent(&body.code, p)?;
            }
            let row = store::insert(conn, &body.code, &name, body.kind, parent.as_ref()).await?;
            // A unit created in a plan's tree owes the reports of its open periods.
            crate::plans::expected::join_open_periods(conn, &row).await?;
            audit::append(
                conn,
                &by,
                event("org_unit.create", &row, json!({ "after": row.to_api() })),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/org-units/{}", row.id),
        ))
        .json(row.to_api()))
}

/// Renames, re-kinds or moves a unit (admins). A move into its own subtree is a 409
/// `cycle`; an active unit moved under a deactivated one, a 409 `parent_inactive`.
#[utoipa::path(operation_id = "updateOrgUnit", tag = "org-units", params(("unit" = String, Path, description = "Unit id or code")), request_body = UpdateOrgUnit, responses((status = 200, body = OrgUnit), (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json")))]
#[patch("/org-units/{unit}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
    body: crate::extract::Json<UpdateOrgUnit>,
) -> ApiResult<web::Json<OrgUnit>> {
    policy::require(&actor, Action::ManageOrgUnits)?;
    let body = body.into_inner();
    let name = body
        .name
        .as_deref()
        .map(|n| clean_name("body.name", n))
        .transpose()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            if body.parent.is_some() {
                store::lock_tree(conn).await?;
            }
            let before = visible_unit(conn, &actor, &unit).await?;
            let mut row = before.clone();
            if let Some(p) = &body.parent {
                let parent = store::find(conn, p).await?.ok_or_else(|| {
                    ApiError::invalid_field("body.parent", "unknown_unit", format!("no unit {p:?}"))
                })?;
                if Some(parent.id) != row.parent_id {
                    if row.active {
                        store::require_active_parent(&row.code, &parent)?;
                    }
                    row = store::move_under(conn, &row, &parent).await?;
                }
            }
            if name.is_some() || body.kind.is_some() {
                row = store::rename(conn, row.id, name.as_deref(), body.kind).await?;
            }
            audit::append(
                conn,
                &by,
                event(
                    "org_unit.update",
                    &row,
                    json!({ "before": before.to_api(), "after": row.to_api() }),
                ),
            )
            .await?;
            Ok(row)
        })
        .await?;
    // Scope paths may have changed under cached principals.
    state.principals.clear();
    Ok(web::Json(row.to_api()))
}

async fn set_active(
    state: web::Data<AppState>,
    actor: Actor,
    unit: String,
    active: bool,
) -> ApiResult<web::Json<OrgUnit>> {
    policy::require(&actor, Action::ManageOrgUnits)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            store::lock_tree(conn).await?;
            let row = visible_unit(conn, &actor, &unit).await?;
            if active && let Some(parent_id) = row.parent_id {
                let parent = store::find_by_id(conn, parent_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("parent unit"))?;
                store::require_active_parent(&row.code, &parent)?;
            }
            if !active && store::count_active_children(conn, row.id).await? > 0 {
                return Err(ApiError::conflict(
                    "has_active_children",
                    format!(
                        "{} still has active units below it; deactivate or move them first",
                        row.code
                    ),
                ));
            }
            let after = store::set_active(conn, row.id, active).await?;
            let action = if active {
                "org_unit.reactivate"
            } else {
                "org_unit.deactivate"
            };
            audit::append(
                conn,
                &by,
                event(action, &after, json!({ "active": active })),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(row.to_api()))
}

/// Deactivates a unit (admins). Never a delete: its reports and history stay readable.
#[utoipa::path(operation_id = "deactivateOrgUnit", tag = "org-units", params(("unit" = String, Path, description = "Unit id or code")), responses((status = 200, body = OrgUnit), (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/org-units/{unit}/deactivate")]
pub async fn deactivate(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
) -> ApiResult<web::Json<OrgUnit>> {
    set_active(state, actor, unit.into_inner(), false).await
}

/// Reactivates a deactivated unit (admins); its parent must be active first.
#[utoipa::path(operation_id = "reactivateOrgUnit", tag = "org-units", params(("unit" = String, Path, description = "Unit id or code")), responses((status = 200, body = OrgUnit), (status = 409, description = "The parent unit is deactivated (`parent_inactive`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/org-units/{unit}/reactivate")]
pub async fn reactivate(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
) -> ApiResult<web::Json<OrgUnit>> {
    set_active(state, actor, unit.into_inner(), true).await
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(subtree)
        .service(update)
        .service(deactivate)
        .service(reactivate);
}
