//! `/api/v1/plans/{plan_id}/tasks`: the plan's tasks, kept by those who manage the plan
//! (admins, coordinators in scope). Anyone who reads the plan reads the tasks that
//! concern a unit of their scope (as lead or cooperating unit); another unit's task is
//! a 404, as another unit's report is.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, post, put, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::model::{Task, TaskBody};
use super::store::{self, TaskRow, TaskValues};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::compile::model::UnitRef;
use crate::error::{AllFields, ApiError, ApiResult};
use crate::org::store::Row as UnitRow;
use crate::pagination::{Page, PageQuery};
use crate::plans::routes::{check_text, readable_plan, writable_plan};
use crate::plans::store::{self as plan_store, PeriodFilter, PlanRow};

/// The units and periods a task names, to show it.
struct Names {
    units: HashMap<Uuid, UnitRow>,
    periods: HashMap<Uuid, String>,
}

impl Names {
    async fn load(
        conn: &mut AsyncPgConnection,
        plan: &PlanRow,
        tasks: &[TaskRow],
    ) -> ApiResult<Names> {
        let ids: Vec<Uuid> = tasks
            .iter()
            .flat_map(|t| std::iter::once(t.lead_unit_id).chain(t.cooperating_unit_ids.clone()))
            .collect();
        let units = store::units(conn, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let periods = if tasks.iter().any(|t| !t.period_ids.is_empty()) {
            plan_periods(conn, plan.id)
                .await?
                .into_iter()
                .map(|(code, id)| (id, code))
                .collect()
        } else {
            HashMap::new()
        };
        Ok(Names { units, periods })
    }

    fn unit(&self, id: Uuid) -> UnitRef {
        self.units
            .get(&id)
            .map(crate::compile::unit_ref)
            .unwrap_or(UnitRef {
                id,
                code: String::new(),
                name: String::new(),
            })
    }

    /// Whether the task concerns a unit of the caller's scope.
    fn concerns(&self, actor: &Actor, t: &TaskRow) -> bool {
        std::iter::once(&t.lead_unit_id)
            .chain(&t.cooperating_unit_ids)
            .filter_map(|id| self.units.get(id))
            .any(|u| policy::covers(actor, &u.path))
    }

    fn to_api(&self, t: &TaskRow) -> Task {
        Task {
            id: t.id,
            plan_id: t.plan_id,
            code: t.code.clone(),
            title_vi: t.title_vi.clone(),
            description_vi: t.description_vi.clone(),
            plan_section: t.plan_section.clone(),
            lead_unit: self.unit(t.lead_unit_id),
            cooperating_units: t
                .cooperating_unit_ids
                .iter()
                .map(|id| self.unit(*id))
                .collect(),
            due_date: t.due_date,
            periods: t
                .period_ids
                .iter()
                .filter_map(|id| self.periods.get(id).cloned())
                .collect(),
            expected_output: t.expected_output.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

/// The plan's periods as (code, id).
async fn plan_periods(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
) -> ApiResult<Vec<(String, Uuid)>> {
    Ok(plan_store::list_periods(
        conn,
        &PeriodFilter {
            plan_id: Some(plan_id),
            code: None,
            kind: None,
            status: None,
        },
    )
    .await?
    .into_iter()
    .map(|(p, _)| (p.code, p.id))
    .collect())
}

fn task_event(
    action: &'static str,
    plan: &PlanRow,
    task: &TaskRow,
    change: serde_json::Value,
) -> Event<'static> {
    Event {
        action,
        object_type: "plan_task",
        object_id: task.id.to_string(),
        unit_id: Some(plan.issuing_unit_id),
        change: {
            let mut c = json!({ "plan_id": plan.id, "code": task.code });
            if let (Some(obj), serde_json::Value::Object(extra)) = (c.as_object_mut(), change) {
                obj.extend(extra);
            }
            c
        },
    }
}

fn check_code(code: &str) -> ApiResult<()> {
    let ok = code.len() <= 32
        && code
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "body.code",
            "invalid_code",
            "1 to 32 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        ))
    }
}

fn optional_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => check_text(field, v, max),
        None => Ok(String::new()),
    }
}

/// The checked texts of a body: title, description, section, expected output.
struct Texts {
    title_vi: String,
    description_vi: String,
    plan_section: String,
    expected_output: String,
}

fn check_texts(b: &TaskBody) -> ApiResult<Texts> {
    let (_, title_vi, description_vi, plan_section, expected_output) = (
        check_code(&b.code),
        check_text("body.title_vi", &b.title_vi, 500),
        optional_text("body.description_vi", b.description_vi.as_deref(), 4000),
        optional_text("body.plan_section", b.plan_section.as_deref(), 200),
        optional_text("body.expected_output", b.expected_output.as_deref(), 2000),
    )
        .all_fields()?;
    Ok(Texts {
        title_vi,
        description_vi,
        plan_section,
        expected_output,
    })
}

/// A unit named in a body: active and inside the plan's tree, else a 422 naming the field.
async fn plan_unit(
    conn: &mut AsyncPgConnection,
    plan: &PlanRow,
    field: &str,
    unit_ref: &str,
) -> ApiResult<UnitRow> {
    crate::org::store::find(conn, unit_ref.trim())
        .await?
        .filter(|u| u.active && u.path.starts_with(&plan.unit_path))
        .ok_or_else(|| {
            ApiError::invalid_field(
                field,
                "unknown_reference",
                format!("no active unit {unit_ref:?} in the plan's tree"),
            )
        })
}

/// The unit and period ids of a body, resolved and checked.
async fn references(
    conn: &mut AsyncPgConnection,
    plan: &PlanRow,
    b: &TaskBody,
) -> ApiResult<(Uuid, Vec<Uuid>, Vec<Uuid>)> {
    let lead = plan_unit(conn, plan, "body.lead_unit", &b.lead_unit).await?;
    let mut helpers = Vec::new();
    for (i, r) in b.cooperating_units.iter().flatten().enumerate() {
        let field = format!("body.cooperating_units[{i}]");
        let u = plan_unit(conn, plan, &field, r).await?;
        if u.id == lead.id || helpers.contains(&u.id) {
            return Err(ApiError::invalid_field(
                &field,
                "duplicate",
                "named twice, or the lead unit itself",
            ));
        }
        helpers.push(u.id);
    }
    let mut periods = Vec::new();
    if let Some(codes) = b.periods.as_ref().filter(|c| !c.is_empty()) {
        let known = plan_periods(conn, plan.id).await?;
        for (i, code) in codes.iter().enumerate() {
            let field = format!("body.periods[{i}]");
            let id = known
                .iter()
                .find(|(c, _)| c == code.trim())
                .map(|(_, id)| *id)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        &field,
                        "unknown_reference",
                        format!("the plan has no period {code:?}"),
                    )
                })?;
            if periods.contains(&id) {
                return Err(ApiError::invalid_field(&field, "duplicate", "named twice"));
            }
            periods.push(id);
        }
    }
    Ok((lead.id, helpers, periods))
}

/// A task of a plan the caller may change, locked; 404 when either is not there.
async fn writable_task(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    plan_id: Uuid,
    task_id: Uuid,
) -> ApiResult<(PlanRow, TaskRow)> {
    let plan = writable_plan(conn, actor, plan_id).await?;
    let task = store::get_for_update(conn, plan.id, task_id)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    Ok((plan, task))
}

/// The plan's tasks that concern the caller's scope (as lead or cooperating unit),
/// by code.
#[utoipa::path(operation_id = "listPlanTasks", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), PageQuery), responses((status = 200, body = Page<Task>)))]
#[get("/plans/{plan_id}/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Task>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = q.into_inner().page()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    let rows = store::list(&mut conn, plan.id).await?;
    let names = Names::load(&mut conn, &plan, &rows).await?;
    let items = rows
        .iter()
        .filter(|t| names.concerns(&actor, t))
        .map(|t| names.to_api(t))
        .collect();
    Ok(web::Json(Page::slice(items, page)))
}

/// Adds a task to the plan.
#[utoipa::path(operation_id = "createPlanTask", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id")), request_body = TaskBody, responses((status = 201, body = Task), (status = 409, description = "The plan already has a task with this code (`task_code_taken`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/plans/{plan_id}/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<TaskBody>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManagePlans)?;
    let body = body.into_inner();
    let texts = check_texts(&body)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let (plan, row) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let plan = writable_plan(conn, &actor, *id).await?;
            let (lead, helpers, periods) = references(conn, &plan, &body).await?;
            let row = store::insert(
                conn,
                plan.id,
                &TaskValues {
                    code: body.code.trim(),
                    title_vi: &texts.title_vi,
                    description_vi: &texts.description_vi,
                    plan_section: &texts.plan_section,
                    lead_unit_id: lead,
                    cooperating_unit_ids: &helpers,
                    due_date: body.due_date,
                    period_ids: &periods,
                    expected_output: &texts.expected_output,
                },
            )
            .await?;
            let names = Names::load(conn, &plan, std::slice::from_ref(&row)).await?;
            audit::append(
                conn,
                &by,
                task_event(
                    "task.create",
                    &plan,
                    &row,
                    json!({ "after": names.to_api(&row) }),
                ),
            )
            .await?;
            Ok((plan, row))
        })
        .await?;
    let names = Names::load(&mut conn, &plan, std::slice::from_ref(&row)).await?;
    Ok(HttpResponse::Created().json(names.to_api(&row)))
}

type TaskPath = web::Path<(Uuid, Uuid)>;

/// One task; 404 unless it concerns a unit of the caller's scope.
#[utoipa::path(operation_id = "getPlanTask", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), ("task_id" = Uuid, Path, description = "Task id")), responses((status = 200, body = Task)))]
#[get("/plans/{plan_id}/tasks/{task_id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    actor: Actor,
    path: TaskPath,
) -> ApiResult<web::Json<Task>> {
    policy::require(&actor, Action::ReadPlans)?;
    let (plan_id, task_id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, plan_id).await?;
    let row = store::get(&mut conn, plan.id, task_id)
        .await?
        .ok_or_else(|| ApiError::not_found("task"))?;
    let names = Names::load(&mut conn, &plan, std::slice::from_ref(&row)).await?;
    if !names.concerns(&actor, &row) {
        return Err(ApiError::not_found("task"));
    }
    Ok(web::Json(names.to_api(&row)))
}

fn in_use(code: &str, what: &str) -> ApiError {
    ApiError::conflict(
        "task_in_use",
        format!("units have reported on task {code}; it cannot be {what}"),
    )
    .vi(format!(
        "Các đơn vị đã báo cáo về nhiệm vụ {code}; không thể đổi mã hoặc xóa nhiệm vụ"
    ))
}

/// Replaces a task. Its code changes only while no report (draft or revision) names it.
#[utoipa::path(operation_id = "replacePlanTask", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), ("task_id" = Uuid, Path, description = "Task id")), request_body = TaskBody, responses((status = 200, body = Task), (status = 409, description = "The new code is taken (`task_code_taken`), or reports name the old one (`task_in_use`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[put("/plans/{plan_id}/tasks/{task_id}")]
pub async fn replace_task(
    state: web::Data<AppState>,
    actor: Actor,
    path: TaskPath,
    body: crate::extract::Json<TaskBody>,
) -> ApiResult<web::Json<Task>> {
    policy::require(&actor, Action::ManagePlans)?;
    let (plan_id, task_id) = path.into_inner();
    let body = body.into_inner();
    let texts = check_texts(&body)?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let (plan, row) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (plan, current) = writable_task(conn, &actor, plan_id, task_id).await?;
            let code = body.code.trim();
            if code != current.code && store::in_use(conn, plan.id, &current.code).await? {
                return Err(in_use(&current.code, "renamed"));
            }
            let (lead, helpers, periods) = references(conn, &plan, &body).await?;
            let row = store::update(
                conn,
                &current,
                &TaskValues {
                    code,
                    title_vi: &texts.title_vi,
                    description_vi: &texts.description_vi,
                    plan_section: &texts.plan_section,
                    lead_unit_id: lead,
                    cooperating_unit_ids: &helpers,
                    due_date: body.due_date,
                    period_ids: &periods,
                    expected_output: &texts.expected_output,
                },
            )
            .await?;
            let names = Names::load(conn, &plan, &[current.clone(), row.clone()]).await?;
            audit::append(
                conn,
                &by,
                task_event(
                    "task.update",
                    &plan,
                    &row,
                    json!({ "before": names.to_api(&current), "after": names.to_api(&row) }),
                ),
            )
            .await?;
            Ok((plan, row))
        })
        .await?;
    let names = Names::load(&mut conn, &plan, std::slice::from_ref(&row)).await?;
    Ok(web::Json(names.to_api(&row)))
}

/// Deletes a task no report names (draft or revision); one that units have reported on
/// is kept (409 `task_in_use`), so that no progress ever points at nothing.
#[utoipa::path(operation_id = "deletePlanTask", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), ("task_id" = Uuid, Path, description = "Task id")), responses((status = 204, description = "Deleted"), (status = 409, description = "Reports name the task (`task_in_use`)", body = crate::error::Problem, content_type = "application/problem+json")))]
#[delete("/plans/{plan_id}/tasks/{task_id}")]
pub async fn delete_task(
    state: web::Data<AppState>,
    actor: Actor,
    path: TaskPath,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManagePlans)?;
    let (plan_id, task_id) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (plan, current) = writable_task(conn, &actor, plan_id, task_id).await?;
        if store::in_use(conn, plan.id, &current.code).await? {
            return Err(in_use(&current.code, "deleted"));
        }
        let names = Names::load(conn, &plan, std::slice::from_ref(&current)).await?;
        store::delete(conn, current.id).await?;
        audit::append(
            conn,
            &by,
            task_event(
                "task.delete",
                &plan,
                &current,
                json!({ "before": names.to_api(&current) }),
            ),
        )
        .await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(get_task)
        .service(replace_task)
        .service(delete_task);
}
