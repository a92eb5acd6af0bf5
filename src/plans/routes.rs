//! `/api/v1/plans`, `/api/v1/indicators`, `/api/v1/periods`: coordinators and admins
//! write; everyone reads the plans that apply to their unit.

use actix_web::{HttpResponse, get, patch, post, put, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::form::FormDefinition;
use super::indicator;
use super::model::*;
use super::period::{self, PeriodStatus};
use super::store::{
    self, IndicatorValues, NewPlanRow, PeriodFilter, PeriodRow, PeriodValues, PlanChanges, PlanRow,
};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{AllFields, ApiError, ApiResult, Issue};
use crate::pagination::{Page, PageRequest};

/// A plan the caller may read, or 404.
pub async fn readable_plan(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> ApiResult<PlanRow> {
    let plan = store::get_plan(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    if !policy::sees_plan(actor, &plan.unit_path) {
        return Err(ApiError::not_found("plan"));
    }
    Ok(plan)
}

/// A plan the caller may change: 403 without the role, 404 outside scope.
pub(crate) async fn writable_plan(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> ApiResult<PlanRow> {
    policy::require(actor, Action::ManagePlans)?;
    let plan = readable_plan(conn, actor, id).await?;
    policy::require_in_scope(actor, &plan.unit_path, "plan")?;
    Ok(plan)
}

/// A period the caller may read, with its plan.
pub async fn readable_period(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> ApiResult<(PeriodRow, PlanRow)> {
    let period = store::get_period(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("period"))?;
    let plan = readable_plan(conn, actor, period.plan_id)
        .await
        .map_err(|_| ApiError::not_found("period"))?;
    Ok((period, plan))
}

pub(crate) fn plan_event(
    action: &'static str,
    plan: &PlanRow,
    change: serde_json::Value,
) -> Event<'static> {
    Event {
        action,
        object_type: "plan",
        object_id: plan.id.to_string(),
        unit_id: Some(plan.issuing_unit_id),
        change,
    }
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    use unicode_normalization::UnicodeNormalization;
    let v: String = value.trim().nfc().collect();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            "invalid_length",
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(v)
}

fn check_year(field: &str, year: i32) -> ApiResult<()> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "out_of_range",
            "must be between 2000 and 2100",
        ))
    }
}

fn check_form(form: &FormDefinition) -> ApiResult<()> {
    form.check().map_err(|errors| {
        let errors: Vec<Issue> = errors
            .into_iter()
            .map(|mut i| {
                i.path = format!("body.{}", i.path);
                i
            })
            .collect();
        ApiError::validation("the form definition is not valid", errors)
    })
}

/// Plans the caller may read, newest year first.
#[utoipa::path(operation_id = "listPlans", tag = "plans", params(PlanQuery), responses((status = 200, body = Page<Plan>)))]
#[get("/plans")]
pub async fn list_plans(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<PlanQuery>,
) -> ApiResult<web::Json<Page<Plan>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let visible: Vec<Plan> = store::list_plans(&mut conn, q.year, q.status)
        .await?
        .iter()
        .filter(|p| policy::sees_plan(&actor, &p.unit_path))
        .map(PlanRow::to_api)
        .collect();
    Ok(web::Json(Page::slice(visible, page)))
}

/// One plan.
#[utoipa::path(operation_id = "getPlan", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id")), responses((status = 200, body = Plan)))]
#[get("/plans/{plan_id}")]
pub async fn get_plan(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Plan>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    Ok(web::Json(
        readable_plan(&mut conn, &actor, *id).await?.to_api(),
    ))
}

/// Creates a plan (coordinators within their scope, admins), optionally with its form.
#[utoipa::path(operation_id = "createPlan", tag = "plans", request_body = NewPlan, responses((status = 201, body = Plan), (status = 409, description = "Document number taken", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/plans")]
pub async fn create_plan(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<NewPlan>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManagePlans)?;
    let body = body.into_inner();
    let (_, number, title, _) = (
        check_year("body.year", body.year),
        check_text("body.document_number", &body.document_number, 100),
        check_text("body.title", &body.title, 1000),
        body.form.as_ref().map_or(Ok(()), |f| {
            check_form(f).map_err(|mut e| {
                for i in e.errors.iter_mut() {
                    i.path = i.path.replacen("body.", "body.form.", 1);
                }
                e
            })
        }),
    )
        .all_fields()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let unit = crate::org::store::find(conn, &body.issuing_unit)
                .await?
                .filter(|u| policy::covers(&actor, &u.path))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "body.issuing_unit",
                        "unknown_unit",
                        "no such unit in your scope",
                    )
                })?;
            let id = store::insert_plan(
                conn,
                NewPlanRow {
                    year: body.year,
                    document_number: &number,
                    title: &title,
                    issue_date: body.issue_date,
                    legal_basis: body.legal_basis.trim(),
                    issuing_unit_id: unit.id,
                    status: body.status.unwrap_or(PlanStatus::Active),
                    head_sign_off: body.head_sign_off,
                },
            )
            .await?;
            if let Some(form) = &body.form {
                store::insert_form(conn, id, form, &actor.display_name).await?;
            }
            let plan = store::get_plan(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("plan"))?;
            audit::append(
                conn,
                &by,
                plan_event("plan.create", &plan, json!({ "after": plan.to_api() })),
            )
            .await?;
            Ok(plan)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/plans/{}", plan.id),
        ))
        .json(plan.to_api()))
}

/// Changes a plan's details or status.
#[utoipa::path(operation_id = "updatePlan", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id")), request_body = UpdatePlan, responses((status = 200, body = Plan), (status = 409, description = "Document number taken", body = crate::error::Problem, content_type = "application/problem+json")))]
#[patch("/plans/{plan_id}")]
pub async fn update_plan(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<UpdatePlan>,
) -> ApiResult<web::Json<Plan>> {
    let body = body.into_inner();
    let (_, document_number, title) = (
        body.year.map_or(Ok(()), |y| check_year("body.year", y)),
        body.document_number
            .as_deref()
            .map(|n| check_text("body.document_number", n, 100))
            .transpose(),
        body.title
            .as_deref()
            .map(|t| check_text("body.title", t, 1000))
            .transpose(),
    )
        .all_fields()?;
    let changes = PlanChanges {
        year: body.year,
        document_number,
        title,
        issue_date: body.issue_date.map(Some),
        legal_basis: body.legal_basis.map(|l| l.trim().to_string()),
        status: body.status.map(|s| s.as_str().to_string()),
        head_sign_off: body.head_sign_off,
    };
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = writable_plan(conn, &actor, *id).await?;
            store::update_plan(conn, before.id, changes).await?;
            let after = store::get_plan(conn, before.id)
                .await?
                .ok_or_else(|| ApiError::not_found("plan"))?;
            audit::append(
                conn,
                &by,
                plan_event(
                    "plan.update",
                    &after,
                    json!({ "before": before.to_api(), "after": after.to_api() }),
                ),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(plan.to_api()))
}

/// The plan's report form (current version, or `?version=`); the frontend renders it.
#[utoipa::path(operation_id = "getPlanForm", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), FormQuery), responses((status = 200, body = FormVersion)))]
#[get("/plans/{plan_id}/form")]
pub async fn get_form(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<FormQuery>,
) -> ApiResult<web::Json<FormVersion>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    store::get_form(&mut conn, plan.id, q.version)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("form"))
}

/// Saves a form definition as the plan's next version. Reports keep the version they
/// were made with; new reports use this one. The definition is checked first: a rule
/// naming an unknown field is a 422 naming it. A version that drops a numeric field
/// one of the plan's indicators uses is a 409 `indicator_fields_missing` listing
/// them: change or remove those indicators first.
#[utoipa::path(
    operation_id = "savePlanForm",
    tag = "plans",
    params(("plan_id" = Uuid, Path, description = "Plan id")),
    request_body = FormDefinition,
    responses(
        (status = 201, body = FormVersion),
        (status = 409, description = "The form drops fields the plan's indicators use (`indicators` lists them)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/plans/{plan_id}/form")]
pub async fn put_form(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<FormDefinition>,
) -> ApiResult<HttpResponse> {
    let form = body.into_inner();
    check_form(&form)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let saved = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let plan = writable_plan(conn, &actor, *id).await?;
            store::lock_plan_definitions(conn, plan.id).await?;
            check_indicators_hold(conn, plan.id, &form).await?;
            let saved = store::insert_form(conn, plan.id, &form, &actor.display_name).await?;
            audit::append(
                conn,
                &by,
                plan_event(
                    "plan.form.save",
                    &plan,
                    json!({ "form_id": saved.id, "version": saved.version }),
                ),
            )
            .await?;
            Ok(saved)
        })
        .await?;
    Ok(HttpResponse::Created().json(saved))
}

/// Every indicator of the plan must still find its fields, numeric, in `form`.
async fn check_indicators_hold(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    form: &FormDefinition,
) -> ApiResult<()> {
    let broken: Vec<_> = store::list_indicators(conn, plan_id)
        .await?
        .into_iter()
        .filter_map(|ind| {
            // Stored formulas were parsed when saved; one that no longer parses is
            // left to the compilation, which reports it per indicator.
            let parsed = indicator::parse(&ind.formula).ok()?;
            parsed.check_form(form).err().map(|problem| {
                json!({
                    "indicator": ind.code,
                    "problem": problem.en,
                    "problem_vi": problem.vi,
                    "code": problem.code,
                })
            })
        })
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = broken
        .iter()
        .filter_map(|b| b["indicator"].as_str())
        .collect();
    Err(ApiError::conflict(
        "indicator_fields_missing",
        format!(
            "this form lacks fields, or fields of the type, that indicators use ({}); \
             change those indicators first",
            codes.join(", ")
        ),
    )
    .with_extra("indicators", broken))
}

async fn check_formula(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    formula: &str,
) -> ApiResult<String> {
    let parsed = indicator::parse(formula).map_err(|e| {
        let vi = format!(
            "công thức tính không đúng cú pháp tại vị trí {} (tính theo byte): {}",
            e.position, e.message
        );
        formula_problem("invalid_formula", e.to_string(), vi)
    })?;
    store::lock_plan_definitions(conn, plan_id).await?;
    let form = store::get_form(conn, plan_id, None).await?.ok_or_else(|| {
        ApiError::conflict(
            "no_form",
            "save the plan's form before defining indicators over its fields",
        )
    })?;
    parsed
        .check_form(&form.definition)
        .map_err(|m| formula_problem(m.code, m.en, m.vi))?;
    Ok(parsed.to_string())
}

/// A 422 naming `body.formula`, in English and Vietnamese.
fn formula_problem(code: &'static str, en: String, vi: String) -> ApiError {
    const PATH: &str = "body.formula";
    ApiError::validation(
        format!("{PATH}: {en}"),
        vec![Issue::new(PATH, code, en).vi(vi.clone())],
    )
    .vi(format!("{PATH}: {vi}"))
}

/// Checks the year targets and returns them with their sources tidied: years of
/// plans, fractions, a source each, no two of one year from the same source.
fn check_year_targets(targets: &[YearTarget]) -> ApiResult<Vec<YearTarget>> {
    if targets.len() > 20 {
        return Err(ApiError::invalid_field(
            "body.targets",
            "too_many_items",
            "at most 20 year targets",
        ));
    }
    let mut out: Vec<YearTarget> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let path = |m: &str| format!("body.targets[{i}].{m}");
        check_year(&path("year"), t.year)?;
        check_target_at(&path("value"), t.value)?;
        let source = check_text(&path("source"), &t.source, 500)?;
        if out.iter().any(|o| o.year == t.year && o.source == source) {
            return Err(ApiError::invalid_field(
                &path("source"),
                "duplicate_target",
                format!("{} already has a target from this source", t.year),
            ));
        }
        out.push(YearTarget {
            year: t.year,
            value: t.value,
            source,
        });
    }
    out.sort_by_key(|t| t.year);
    Ok(out)
}

/// An indicator made or changed alters the compiled indicators of every period of
/// its plan: `compilation.changed` for each, to every endpoint of the plan.
async fn indicator_changed(conn: &mut AsyncPgConnection, plan: &PlanRow) -> ApiResult<()> {
    let filter = PeriodFilter {
        plan_id: Some(plan.id),
        code: None,
        kind: None,
        status: None,
    };
    for (period, _) in store::list_periods(conn, &filter).await? {
        crate::webhooks::compilation_changed(
            conn,
            period.id,
            &period.code,
            (plan.issuing_unit_id, None),
            crate::webhooks::Reach::Plan,
            "indicator.changed",
        )
        .await?;
    }
    Ok(())
}

fn check_target(target: f64) -> ApiResult<()> {
    check_target_at("body.target", target)
}

fn check_target_at(path: &str, target: f64) -> ApiResult<()> {
    if target.is_finite() && (0.0..=1.0).contains(&target) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            path,
            "out_of_range",
            "a fraction between 0 and 1 (1 is 100 %)",
        ))
    }
}

/// The plan's indicators.
#[utoipa::path(operation_id = "listPlanIndicators", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), crate::pagination::PageQuery), responses((status = 200, body = Page<Indicator>)))]
#[get("/plans/{plan_id}/indicators")]
pub async fn list_indicators(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<crate::pagination::PageQuery>,
) -> ApiResult<web::Json<Page<Indicator>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = q.page()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    let rows = store::list_indicators(&mut conn, plan.id).await?;
    Ok(web::Json(Page::slice(
        rows.iter().map(|r| r.to_api()).collect(),
        page,
    )))
}

/// Adds an indicator; its formula is parsed and checked against the current form.
#[utoipa::path(operation_id = "createIndicator", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id")), request_body = NewIndicator, responses((status = 201, body = Indicator)))]
#[post("/plans/{plan_id}/indicators")]
pub async fn create_indicator(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<NewIndicator>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let code_ok = body
        .code
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && body.code.len() <= 64
        && body
            .code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let (_, _, name_vi, name_en, targets) = (
        check_target(body.target),
        if code_ok {
            Ok(())
        } else {
            Err(ApiError::invalid_field(
                "body.code",
                "invalid_code",
                "lower-case letters, digits and `_`, starting with a letter",
            ))
        },
        check_text("body.name_vi", &body.name_vi, 500),
        check_text("body.name_en", &body.name_en, 500),
        check_year_targets(&body.targets),
    )
        .all_fields()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let plan = writable_plan(conn, &actor, *id).await?;
            let formula = check_formula(conn, plan.id, &body.formula).await?;
            let row = store::insert_indicator(
                conn,
                plan.id,
                IndicatorValues {
                    code: &body.code,
                    name_vi: &name_vi,
                    name_en: &name_en,
                    formula: &formula,
                    target: body.target,
                    direction: body.direction,
                    source: body.source.trim(),
                    targets: &targets,
                },
            )
            .await?;
            audit::append(
                conn,
                &by,
                plan_event("indicator.create", &plan, json!({ "after": row.to_api() })),
            )
            .await?;
            indicator_changed(conn, &plan).await?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(row.to_api()))
}

/// One indicator.
#[utoipa::path(operation_id = "getIndicator", tag = "plans", params(("indicator_id" = Uuid, Path, description = "Indicator id")), responses((status = 200, body = Indicator)))]
#[get("/indicators/{indicator_id}")]
pub async fn get_indicator(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Indicator>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = store::get_indicator(&mut conn, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("indicator"))?;
    readable_plan(&mut conn, &actor, row.plan_id)
        .await
        .map_err(|_| ApiError::not_found("indicator"))?;
    Ok(web::Json(row.to_api()))
}

/// Changes an indicator's names, formula, target, direction, source or year targets
/// (`targets` replaces them all).
#[utoipa::path(operation_id = "updateIndicator", tag = "plans", params(("indicator_id" = Uuid, Path, description = "Indicator id")), request_body = UpdateIndicator, responses((status = 200, body = Indicator)))]
#[patch("/indicators/{indicator_id}")]
pub async fn update_indicator(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<UpdateIndicator>,
) -> ApiResult<web::Json<Indicator>> {
    policy::require(&actor, Action::ManagePlans)?;
    let body = body.into_inner();
    if let Some(t) = body.target {
        check_target(t)?;
    }
    let targets = body
        .targets
        .as_deref()
        .map(check_year_targets)
        .transpose()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let current = store::get_indicator(conn, *id)
                .await?
                .ok_or_else(|| ApiError::not_found("indicator"))?;
            let plan = writable_plan(conn, &actor, current.plan_id)
                .await
                .map_err(|e| {
                    if e.status == actix_web::http::StatusCode::NOT_FOUND {
                        ApiError::not_found("indicator")
                    } else {
                        e
                    }
                })?;
            let formula = match &body.formula {
                Some(f) => check_formula(conn, plan.id, f).await?,
                None => current.formula.clone(),
            };
            let name_vi = body
                .name_vi
                .as_deref()
                .map(|n| check_text("body.name_vi", n, 500))
                .transpose()?;
            let name_en = body
                .name_en
                .as_deref()
                .map(|n| check_text("body.name_en", n, 500))
                .transpose()?;
            let row = store::update_indicator(
                conn,
                current.id,
                IndicatorValues {
                    code: &current.code,
                    name_vi: name_vi.as_deref().unwrap_or(&current.name_vi),
                    name_en: name_en.as_deref().unwrap_or(&current.name_en),
                    formula: &formula,
                    target: body.target.unwrap_or(current.target),
                    direction: body.direction.unwrap_or_else(|| current.to_api().direction),
                    source: body
                        .source
                        .as_deref()
                        .map(str::trim)
                        .unwrap_or(&current.source),
                    targets: &targets.clone().unwrap_or_else(|| current.year_targets()),
                },
            )
            .await?;
            audit::append(
                conn,
                &by,
                plan_event(
                    "indicator.update",
                    &plan,
                    json!({ "before": current.to_api(), "after": row.to_api() }),
                ),
            )
            .await?;
            indicator_changed(conn, &plan).await?;
            Ok(row)
        })
        .await?;
    Ok(web::Json(row.to_api()))
}

/// Periods the caller may read; filter by plan, exact code (`2024S1`), kind or status.
#[utoipa::path(operation_id = "listPeriods", tag = "plans", params(PeriodQuery), responses((status = 200, body = Page<Period>), (status = 404, description = "The `plan` filter names no plan in the caller's scope", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "`code` without `plan` names periods of several plans (`ambiguous_period_code`, candidates in `matches`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/periods")]
pub async fn list_periods(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<PeriodQuery>,
) -> ApiResult<web::Json<Page<Period>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    // A plan filter names an object: like every other such filter, one the caller
    // cannot see is a 404 rather than an empty page.
    if let Some(plan) = q.plan {
        readable_plan(&mut conn, &actor, plan).await?;
    }
    let filter = PeriodFilter {
        plan_id: q.plan,
        code: q.code,
        kind: q.kind,
        status: q.status,
    };
    let visible: Vec<Period> = store::list_periods(&mut conn, &filter)
        .await?
        .iter()
        .filter(|(_, path)| policy::sees_plan(&actor, path))
        .map(|(p, _)| p.to_api())
        .collect();
    // A code is how a script names "the" period; when it names periods of several
    // plans, picking the first would be a guess.
    if let Some(code) = filter.code.as_deref().filter(|_| filter.plan_id.is_none()) {
        let plans: std::collections::BTreeSet<Uuid> = visible.iter().map(|p| p.plan_id).collect();
        if plans.len() > 1 {
            let matches: Vec<_> = visible
                .iter()
                .map(|p| json!({"period_id": p.id, "plan_id": p.plan_id, "name": p.name}))
                .collect();
            return Err(ApiError::conflict(
                "ambiguous_period_code",
                format!(
                    "period code {code:?} names periods of {} plans; add plan= to say which",
                    plans.len()
                ),
            )
            .vi(format!(
                "Mã kỳ {code:?} có ở {} kế hoạch; đề nghị ghi rõ kế hoạch (plan=)",
                plans.len()
            ))
            .with_extra("matches", matches));
        }
    }
    Ok(web::Json(Page::slice(visible, page)))
}

/// One period.
#[utoipa::path(operation_id = "getPeriod", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id")), responses((status = 200, body = Period)))]
#[get("/periods/{period_id}")]
pub async fn get_period(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Period>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    Ok(web::Json(
        readable_period(&mut conn, &actor, *id).await?.0.to_api(),
    ))
}

/// Adds a reporting period to a plan (open).
#[utoipa::path(operation_id = "createPeriod", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id")), request_body = NewPeriod, responses((status = 201, body = Period)))]
#[post("/plans/{plan_id}/periods")]
pub async fn create_period(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<NewPeriod>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManagePeriods)?;
    let body = body.into_inner();
    (
        period::check_code(&body.code)
            .map_err(|m| ApiError::invalid_field("body.code", "invalid_code", m)),
        period::check_window(body.window_start, body.window_end, body.due_date)
            .map_err(|m| ApiError::invalid_field("body.window_end", "invalid_window", m)),
    )
        .all_fields()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let plan = writable_plan(conn, &actor, *id).await?;
            let row = store::insert_period(
                conn,
                plan.id,
                PeriodValues {
                    kind: body.kind,
                    code: &body.code,
                    name: body.name.trim(),
                    window_start: body.window_start,
                    window_end: body.window_end,
                    due_date: body.due_date,
                },
            )
            .await?;
            audit::append(
                conn,
                &by,
                period_event(
                    "period.create",
                    &row,
                    &plan,
                    json!({ "after": row.to_api() }),
                ),
            )
            .await?;
            // The due date is set: the units that report in the period hear of it.
            crate::notifications::due_date_changed(
                conn,
                row.id,
                &row.code,
                None,
                row.due_date,
                None,
                None,
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/periods/{}", row.id),
        ))
        .json(row.to_api()))
}

pub(crate) fn period_event(
    action: &'static str,
    period: &PeriodRow,
    plan: &PlanRow,
    change: serde_json::Value,
) -> Event<'static> {
    Event {
        action,
        object_type: "period",
        object_id: period.id.to_string(),
        unit_id: Some(plan.issuing_unit_id),
        change,
    }
}

/// A period as its webhook events name it.
fn webhook_period<'a>(
    period: &'a PeriodRow,
    plan: &PlanRow,
    actor: &'a Actor,
) -> crate::webhooks::PeriodChange<'a> {
    crate::webhooks::PeriodChange {
        period_id: period.id,
        period_code: &period.code,
        plan_id: plan.id,
        issuing_unit_id: plan.issuing_unit_id,
        by: &actor.display_name,
    }
}

pub(crate) async fn writable_period(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: Uuid,
) -> ApiResult<(PeriodRow, PlanRow)> {
    policy::require(actor, Action::ManagePeriods)?;
    let (period, plan) = readable_period(conn, actor, id).await?;
    policy::require_in_scope(actor, &plan.unit_path, "period")?;
    Ok((period, plan))
}

/// Changes a period's name, data window or due date.
#[utoipa::path(operation_id = "updatePeriod", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id")), request_body = UpdatePeriod, responses((status = 200, body = Period)))]
#[patch("/periods/{period_id}")]
pub async fn update_period(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<UpdatePeriod>,
) -> ApiResult<web::Json<Period>> {
    let body = body.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // Report writes check the window and due date: none half-way through.
            store::lock_period_writes(conn, *id).await?;
            let (current, plan) = writable_period(conn, &actor, *id).await?;
            let start = body.window_start.unwrap_or(current.window_start);
            let end = body.window_end.unwrap_or(current.window_end);
            let due = body.due_date.unwrap_or(current.due_date);
            period::check_window(start, end, due)
                .map_err(|m| ApiError::invalid_field("body.window_end", "invalid_window", m))?;
            let name = body.name.as_deref().map(str::trim).unwrap_or(&current.name);
            let row = store::update_period(conn, current.id, name, start, end, due).await?;
            // A moved due date decides lateness anew: an extension clears it.
            let relabelled = if due == current.due_date {
                0
            } else {
                crate::reports::store::recompute_lateness(conn, current.id, None).await?
            };
            audit::append(
                conn,
                &by,
                period_event(
                    "period.update",
                    &row,
                    &plan,
                    json!({ "before": current.to_api(), "after": row.to_api(),
                            "reports_lateness_changed": relabelled }),
                ),
            )
            .await?;
            if due != current.due_date {
                crate::webhooks::due_date_changed(
                    conn,
                    crate::webhooks::DueDateChange {
                        period: webhook_period(&row, &plan, &actor),
                        unit: None,
                        due_date: due,
                        previous_due_date: Some(current.due_date),
                        reason: None,
                        reports_lateness_changed: relabelled,
                    },
                )
                .await?;
            }
            Ok(row)
        })
        .await?;
    Ok(web::Json(row.to_api()))
}

async fn set_status(
    state: web::Data<AppState>,
    actor: Actor,
    id: Uuid,
    status: PeriodStatus,
) -> ApiResult<web::Json<Period>> {
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // Report writes of the period wait, or are waited for (`report_write_gate`).
            store::lock_period_writes(conn, id).await?;
            let (current, plan) = writable_period(conn, &actor, id).await?;
            // Locking a locked period (or unlocking an open one) changes nothing, so
            // a retried script call succeeds and the audit log records no event.
            if current.status() == status {
                return Ok(current);
            }
            let row = store::set_period_status(conn, current.id, status).await?;
            let action = if status == PeriodStatus::Locked {
                "period.lock"
            } else {
                "period.unlock"
            };
            audit::append(
                conn,
                &by,
                period_event(
                    action,
                    &row,
                    &plan,
                    json!({ "from": current.status, "to": status.as_str() }),
                ),
            )
            .await?;
            crate::webhooks::period_status_changed(
                conn,
                status == PeriodStatus::Locked,
                webhook_period(&row, &plan, &actor),
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(web::Json(row.to_api()))
}

/// Locks a period: reporters can no longer write to its reports. Locking a locked
/// period answers 200 and changes nothing.
#[utoipa::path(operation_id = "lockPeriod", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id")), responses((status = 200, body = Period)))]
#[post("/periods/{period_id}/lock")]
pub async fn lock_period(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Period>> {
    set_status(state, actor, *id, PeriodStatus::Locked).await
}

/// Unlocks a period. Unlocking an open period answers 200 and changes nothing.
#[utoipa::path(operation_id = "unlockPeriod", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id")), responses((status = 200, body = Period)))]
#[post("/periods/{period_id}/unlock")]
pub async fn unlock_period(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Period>> {
    set_status(state, actor, *id, PeriodStatus::Open).await
}

/// The units of a period with their own due date, in the caller's scope.
#[utoipa::path(operation_id = "listDueDateExtensions", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id"), crate::pagination::PageQuery), responses((status = 200, body = Page<store::DueDateExtension>)))]
#[get("/periods/{period_id}/extensions")]
pub async fn list_extensions(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<crate::pagination::PageQuery>,
) -> ApiResult<web::Json<Page<store::DueDateExtension>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = q.page()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (period, _) = readable_period(&mut conn, &actor, *id).await?;
    let rows = store::list_extensions(&mut conn, period.id, policy::scope_prefix(&actor)).await?;
    Ok(web::Json(Page::slice(rows, page)))
}

/// Gives one unit its own due date for a period (coordinators in scope), with a
/// reason: the unit's report is judged late against it from now on, at once.
#[utoipa::path(operation_id = "extendDueDate", tag = "plans", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code")), request_body = ExtendDueDate, responses((status = 200, body = store::DueDateExtension)))]
#[put("/periods/{period_id}/extensions/{unit}")]
pub async fn extend_due_date(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
    body: crate::extract::Json<ExtendDueDate>,
) -> ApiResult<web::Json<store::DueDateExtension>> {
    let (period_id, unit_ref) = path.into_inner();
    let body = body.into_inner();
    let reason = check_text("body.reason", &body.reason, 2000)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let extension = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // A submission judges lateness by the due date it reads: not one half-changed.
            store::lock_period_writes(conn, period_id).await?;
            let (period, plan) = writable_period(conn, &actor, period_id).await?;
            let unit = crate::org::store::find(conn, &unit_ref)
                .await?
                .filter(|u| u.path.starts_with(&plan.unit_path))
                .ok_or_else(|| ApiError::not_found("org unit"))?;
            policy::require_in_scope(&actor, &unit.path, "org unit")?;
            let previous = store::due_date_for(conn, &period, unit.id).await?;
            let extension = store::upsert_extension(
                conn,
                period.id,
                unit.id,
                body.due_date,
                &reason,
                &actor.display_name,
            )
            .await?;
            let relabelled =
                crate::reports::store::recompute_lateness(conn, period.id, Some(unit.id)).await?;
            audit::append(
                conn,
                &by,
                period_event(
                    "period.extend_due_date",
                    &period,
                    &plan,
                    json!({ "unit": unit.code, "due_date": body.due_date, "reason": reason,
                            "reports_lateness_changed": relabelled }),
                ),
            )
            .await?;
            crate::webhooks::due_date_changed(
                conn,
                crate::webhooks::DueDateChange {
                    period: webhook_period(&period, &plan, &actor),
                    unit: Some((unit.id, &unit.code)),
                    due_date: body.due_date,
                    previous_due_date: Some(previous),
                    reason: Some(&reason),
                    reports_lateness_changed: relabelled,
                },
            )
            .await?;
            Ok(extension)
        })
        .await?;
    Ok(web::Json(extension))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_plans)
        .service(create_plan)
        .service(get_plan)
        .service(update_plan)
        .service(get_form)
        .service(put_form)
        .service(list_indicators)
        .service(create_indicator)
        .service(get_indicator)
        .service(update_indicator)
        .service(list_periods)
        .service(create_period)
        .service(get_period)
        .service(update_period)
        .service(lock_period)
        .service(unlock_period)
        .service(list_extensions)
        .service(extend_due_date)
        .service(super::expected::list_expected)
        .service(super::expected::add_expected)
        .service(super::expected::remove_expected)
        .service(super::versions::list_forms)
        .service(super::versions::diff_forms)
        .service(super::copy::copy_plan);
}
