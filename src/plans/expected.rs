//! The units expected to report for a period (`/periods/{period_id}/expected-units`):
//! the denominator of completeness and of every figure's coverage.
//!
//! The set is data, kept in `period_expected_units`. When a period is created it holds
//! the active units of the plan's tree (its issuing unit aside, which compiles rather
//! than reports). A unit created in the plan's tree while a period is open joins that
//! period's set. A coordinator in scope adds or removes units with a reason (audited);
//! a removal ends a row's membership rather than deleting it, so the history stays. A
//! unit deactivated during the period stays expected until removed; a unit moved into
//! the tree joins no set by itself.

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::routes::{check_text, period_event, readable_period, writable_period};
use super::store::{PeriodRow, PlanRow};
use crate::AppState;
use crate::audit::{self, By};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::org::store::Row as UnitRow;
use crate::pagination::{Page, PageQuery};

/// One unit expected to report for a period.
#[derive(QueryableByName, Serialize, ToSchema, Clone, Debug)]
pub struct ExpectedUnit {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    /// Whether the unit is active now (a unit deactivated during the period stays
    /// expected until removed).
    #[diesel(sql_type = Bool)]
    pub unit_active: bool,
    /// How the unit came into the set: `default` (an active unit of the plan's tree
    /// when the period was created), `added` (by a coordinator, with a reason) or
    /// `new_unit` (created in the plan's tree while the period was open).
    #[diesel(sql_type = Text)]
    pub origin: String,
    #[diesel(sql_type = Nullable<Text>)]
    #[schema(required = true)]
    pub reason: Option<String>,
    /// Who added it; null for the default set and new units.
    #[diesel(sql_type = Nullable<Text>)]
    #[schema(required = true)]
    pub added_by: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub added_at: DateTime<Utc>,
}

/// Why a unit is added to a period's expected units.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddExpectedUnit {
    /// Kept with the membership and in the audit log.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

/// Why a unit no longer owes a report for the period.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveExpectedUnit {
    /// Required: why the unit is removed (1 to 2000 characters), kept with the
    /// membership's history and in the audit log.
    #[param(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

const COLUMNS: &str = "u.id AS unit_id, u.code AS unit_code, u.name AS unit_name, \
     u.active AS unit_active, e.origin, e.reason, e.added_by, e.added_at";

/// The default set of a new period: the active units of its plan's tree, the issuing
/// unit aside. Run in the transaction that creates the period.
pub async fn materialise_default(conn: &mut AsyncPgConnection, period_id: Uuid) -> ApiResult<()> {
    diesel::sql_query(
        "INSERT INTO period_expected_units (period_id, unit_id, origin) \
         SELECT p.id, u.id, 'default' FROM periods p \
         JOIN plans pl ON pl.id = p.plan_id \
         JOIN org_units i ON i.id = pl.issuing_unit_id \
         JOIN org_units u ON u.path LIKE i.path || '%' AND u.id <> i.id AND u.active \
         WHERE p.id = $1",
    )
    .bind::<SqlUuid, _>(period_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A unit just created joins the expected units of every open period whose plan's
/// tree holds it. Run in the transaction that creates the unit.
pub async fn join_open_periods(conn: &mut AsyncPgConnection, unit: &UnitRow) -> ApiResult<()> {
    diesel::sql_query(
        "INSERT INTO period_expected_units (period_id, unit_id, origin) \
         SELECT p.id, $1, 'new_unit' FROM periods p \
         JOIN plans pl ON pl.id = p.plan_id \
         JOIN org_units i ON i.id = pl.issuing_unit_id \
         WHERE p.status = 'open' AND $2 LIKE i.path || '%' AND i.id <> $1 \
         ON CONFLICT (period_id, unit_id) WHERE removed_at IS NULL DO NOTHING",
    )
    .bind::<SqlUuid, _>(unit.id)
    .bind::<Text, _>(&unit.path)
    .execute(conn)
    .await?;
    Ok(())
}

/// The current expected units of a period under `scope_prefix` (all without it), by
/// unit code.
pub async fn list(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    scope_prefix: Option<&str>,
) -> ApiResult<Vec<ExpectedUnit>> {
    Ok(diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM period_expected_units e JOIN org_units u ON u.id = e.unit_id \
         WHERE e.period_id = $1 AND e.removed_at IS NULL \
           AND ($2::text IS NULL OR u.path LIKE $2 || '%') ORDER BY u.code"
    ))
    .bind::<SqlUuid, _>(period_id)
    .bind::<Nullable<Text>, _>(scope_prefix)
    .load(conn)
    .await?)
}

async fn current(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
) -> ApiResult<Option<ExpectedUnit>> {
    use diesel::OptionalExtension;
    Ok(diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM period_expected_units e JOIN org_units u ON u.id = e.unit_id \
         WHERE e.period_id = $1 AND e.unit_id = $2 AND e.removed_at IS NULL"
    ))
    .bind::<SqlUuid, _>(period_id)
    .bind::<SqlUuid, _>(unit_id)
    .get_result(conn)
    .await
    .optional()?)
}

/// Ends a unit's current membership of a period's expected units, with who and why;
/// false when it was not expected.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    by: &str,
    reason: &str,
) -> ApiResult<bool> {
    let removed = diesel::sql_query(
        "UPDATE period_expected_units SET removed_at = now(), removed_by = $3, \
             removal_reason = $4 \
         WHERE period_id = $1 AND unit_id = $2 AND removed_at IS NULL",
    )
    .bind::<SqlUuid, _>(period_id)
    .bind::<SqlUuid, _>(unit_id)
    .bind::<Text, _>(by)
    .bind::<Text, _>(reason)
    .execute(conn)
    .await?;
    Ok(removed > 0)
}

/// A changed expected set changes the compilations over the unit (their completeness
/// and coverage): `compilation.changed` to the endpoints whose subtree holds it.
async fn compilation_changed(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    unit: &UnitRow,
) -> ApiResult<()> {
    crate::webhooks::compilation_changed(
        conn,
        period.id,
        &period.code,
        (unit.id, Some(&unit.code)),
        crate::webhooks::Reach::Subtree,
        EXPECTED_UNITS_CHANGED,
    )
    .await
}

/// The `cause` of a `compilation.changed` event sent when a period's expected units change.
pub const EXPECTED_UNITS_CHANGED: &str = "period.expected_units_changed";

/// The period (writable by the caller) and a unit of its plan's tree that may be
/// expected to report: in the caller's scope, not the issuing unit.
async fn target(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    period_id: Uuid,
    unit_ref: &str,
) -> ApiResult<(PeriodRow, PlanRow, UnitRow)> {
    let (period, plan) = writable_period(conn, actor, period_id).await?;
    let unit = crate::org::store::find(conn, unit_ref)
        .await?
        .ok_or_else(|| ApiError::not_found("org unit"))?;
    policy::require_in_scope(actor, &unit.path, "org unit")?;
    if !unit.path.starts_with(&plan.unit_path) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unit_outside_plan",
            format!(
                "{} is not in the tree of the plan's issuing unit, so it cannot be expected to report for this period",
                unit.code
            ),
        ));
    }
    if unit.id == plan.issuing_unit_id {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "issuing_unit_not_expected",
            format!(
                "{} issues the plan and compiles its reports; it is never expected to report for it",
                unit.code
            ),
        ));
    }
    Ok((period, plan, unit))
}

/// The units expected to report for a period, in the caller's scope, by code.
#[utoipa::path(operation_id = "listExpectedUnits", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id"), PageQuery), responses((status = 200, body = Page<ExpectedUnit>)))]
#[get("/periods/{period_id}/expected-units")]
pub async fn list_expected(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ExpectedUnit>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = q.page()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (period, _) = readable_period(&mut conn, &actor, *id).await?;
    let rows = list(&mut conn, period.id, policy::scope_prefix(&actor)).await?;
    Ok(web::Json(Page::slice(rows, page)))
}

/// Adds a unit of the plan's tree to the period's expected units, with a reason
/// (coordinators in scope, admins). A unit already expected is answered as it stands.
/// The unit must be active (409 `unit_inactive`); one outside the plan's tree, or the
/// issuing unit itself, is a 422 (`unit_outside_plan`, `issuing_unit_not_expected`).
#[utoipa::path(operation_id = "addExpectedUnit", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code")), request_body = AddExpectedUnit, responses((status = 200, body = ExpectedUnit), (status = 409, description = "The unit is deactivated (`unit_inactive`)", body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, description = "The unit is outside the plan's tree or issues the plan", body = crate::error::Problem, content_type = "application/problem+json")))]
#[put("/periods/{period_id}/expected-units/{unit}")]
pub async fn add_expected(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
    body: crate::extract::Json<AddExpectedUnit>,
) -> ApiResult<web::Json<ExpectedUnit>> {
    let (period_id, unit_ref) = path.into_inner();
    let reason = check_text("body.reason", &body.reason, 2000)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let entry = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (period, plan, unit) = target(conn, &actor, period_id, &unit_ref).await?;
            if let Some(existing) = current(conn, period.id, unit.id).await? {
                return Ok(existing);
            }
            if !unit.active {
                return Err(ApiError::conflict(
                    "unit_inactive",
                    format!("{} is deactivated and cannot report", unit.code),
                ));
            }
            diesel::sql_query(
                "INSERT INTO period_expected_units (period_id, unit_id, origin, reason, added_by) \
                 VALUES ($1, $2, 'added', $3, $4) \
                 ON CONFLICT (period_id, unit_id) WHERE removed_at IS NULL DO NOTHING",
            )
            .bind::<SqlUuid, _>(period.id)
            .bind::<SqlUuid, _>(unit.id)
            .bind::<Text, _>(&reason)
            .bind::<Text, _>(&actor.display_name)
            .execute(conn)
            .await?;
            audit::append(
                conn,
                &by,
                period_event(
                    "period.expected_unit.add",
                    &period,
                    &plan,
                    json!({ "unit": unit.code, "reason": reason }),
                ),
            )
            .await?;
            compilation_changed(conn, &period, &unit).await?;
            current(conn, period.id, unit.id)
                .await?
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("expected unit vanished")))
        })
        .await?;
    Ok(web::Json(entry))
}

/// Removes a unit from the period's expected units (coordinators in scope, admins):
/// it no longer owes a report, and completeness and coverage stop counting it. The
/// `reason` query parameter is required. The membership's history is kept; a unit
/// not expected is answered 204 and nothing changes. A report the unit sends anyway
/// is still counted (and the unit with it).
#[utoipa::path(operation_id = "removeExpectedUnit", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), RemoveExpectedUnit), responses((status = 204, description = "The unit is not expected (any more)"), (status = 422, description = "The unit is outside the plan's tree or issues the plan", body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/periods/{period_id}/expected-units/{unit}")]
pub async fn remove_expected(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
    q: crate::extract::Query<RemoveExpectedUnit>,
) -> ApiResult<HttpResponse> {
    let (period_id, unit_ref) = path.into_inner();
    let reason = check_text("query.reason", &q.into_inner().reason, 2000)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (period, plan, unit) = target(conn, &actor, period_id, &unit_ref).await?;
        if remove(conn, period.id, unit.id, &actor.display_name, &reason).await? {
            audit::append(
                conn,
                &by,
                period_event(
                    "period.expected_unit.remove",
                    &period,
                    &plan,
                    json!({ "unit": unit.code, "reason": reason }),
                ),
            )
            .await?;
            compilation_changed(conn, &period, &unit).await?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
