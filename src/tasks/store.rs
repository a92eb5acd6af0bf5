//! The queries of plan tasks and of the task progress inside reports.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::org::store::Row as UnitRow;
use crate::schema::{org_units, plan_tasks};

#[derive(Queryable, Clone, Debug)]
pub struct TaskRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub code: String,
    pub title_vi: String,
    pub description_vi: String,
    pub plan_section: String,
    pub lead_unit_id: Uuid,
    pub cooperating_unit_ids: Vec<Uuid>,
    pub due_date: Option<NaiveDate>,
    pub period_ids: Vec<Uuid>,
    pub expected_output: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl TaskRow {
    /// Whether the task is reported on in this period (no periods: every one).
    pub fn spans(&self, period_id: Uuid) -> bool {
        self.period_ids.is_empty() || self.period_ids.contains(&period_id)
    }
}

/// The values of a task as written.
pub struct TaskValues<'a> {
    pub code: &'a str,
    pub title_vi: &'a str,
    pub description_vi: &'a str,
    pub plan_section: &'a str,
    pub lead_unit_id: Uuid,
    pub cooperating_unit_ids: &'a [Uuid],
    pub due_date: Option<NaiveDate>,
    pub period_ids: &'a [Uuid],
    pub expected_output: &'a str,
}

pub async fn list(conn: &mut AsyncPgConnection, plan_id: Uuid) -> ApiResult<Vec<TaskRow>> {
    Ok(plan_tasks::table
        .filter(plan_tasks::plan_id.eq(plan_id))
        .order(plan_tasks::code.asc())
        .load(conn)
        .await?)
}

pub async fn get(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<TaskRow>> {
    Ok(plan_tasks::table
        .filter(plan_tasks::plan_id.eq(plan_id))
        .filter(plan_tasks::id.eq(id))
        .first(conn)
        .await
        .optional()?)
}

/// The task, locked until the transaction ends.
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<TaskRow>> {
    Ok(plan_tasks::table
        .filter(plan_tasks::plan_id.eq(plan_id))
        .filter(plan_tasks::id.eq(id))
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

fn code_taken(code: &str) -> ApiError {
    ApiError::conflict(
        "task_code_taken",
        format!("the plan already has a task {code:?}"),
    )
    .vi(format!("Kế hoạch đã có nhiệm vụ mã {code:?}"))
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    v: &TaskValues<'_>,
) -> ApiResult<TaskRow> {
    let row = diesel::insert_into(plan_tasks::table)
        .values((
            plan_tasks::id.eq(Uuid::now_v7()),
            plan_tasks::plan_id.eq(plan_id),
            plan_tasks::code.eq(v.code),
            plan_tasks::title_vi.eq(v.title_vi),
            plan_tasks::description_vi.eq(v.description_vi),
            plan_tasks::plan_section.eq(v.plan_section),
            plan_tasks::lead_unit_id.eq(v.lead_unit_id),
            plan_tasks::cooperating_unit_ids.eq(v.cooperating_unit_ids),
            plan_tasks::due_date.eq(v.due_date),
            plan_tasks::period_ids.eq(v.period_ids),
            plan_tasks::expected_output.eq(v.expected_output),
        ))
        .on_conflict((plan_tasks::plan_id, plan_tasks::code))
        .do_nothing()
        .get_result(conn)
        .await
        .optional()?;
    row.ok_or_else(|| code_taken(v.code))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    current: &TaskRow,
    v: &TaskValues<'_>,
) -> ApiResult<TaskRow> {
    if v.code != current.code {
        let taken: i64 = plan_tasks::table
            .filter(plan_tasks::plan_id.eq(current.plan_id))
            .filter(plan_tasks::code.eq(v.code))
            .count()
            .get_result(conn)
            .await?;
        if taken > 0 {
            return Err(code_taken(v.code));
        }
    }
    Ok(diesel::update(plan_tasks::table.find(current.id))
        .set((
            plan_tasks::code.eq(v.code),
            plan_tasks::title_vi.eq(v.title_vi),
            plan_tasks::description_vi.eq(v.description_vi),
            plan_tasks::plan_section.eq(v.plan_section),
            plan_tasks::lead_unit_id.eq(v.lead_unit_id),
            plan_tasks::cooperating_unit_ids.eq(v.cooperating_unit_ids),
            plan_tasks::due_date.eq(v.due_date),
            plan_tasks::period_ids.eq(v.period_ids),
            plan_tasks::expected_output.eq(v.expected_output),
            plan_tasks::updated_at.eq(Utc::now()),
            plan_tasks::version.eq(plan_tasks::version + 1),
        ))
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    diesel::delete(plan_tasks::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    used: bool,
}

/// Whether any report of the plan, draft or frozen revision, reports on the task
/// code, or any file is attached to its progress: such a task keeps its code and is
/// not deleted, so that no progress ever points at nothing.
pub async fn in_use(conn: &mut AsyncPgConnection, plan_id: Uuid, code: &str) -> ApiResult<bool> {
    let f: Flag = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM reports r JOIN periods p ON p.id = r.period_id \
           WHERE p.plan_id = $1 AND r.data -> 'tasks' @> $2) \
         OR EXISTS (SELECT 1 FROM report_revisions v JOIN reports r ON r.id = v.report_id \
           JOIN periods p ON p.id = r.period_id \
           WHERE p.plan_id = $1 AND v.data -> 'tasks' @> $2) \
         OR EXISTS (SELECT 1 FROM attachments a JOIN plan_tasks t ON t.id = a.subject_id \
           WHERE t.plan_id = $1 AND t.code = $2 -> 0 ->> 'task') AS used",
    )
    .bind::<SqlUuid, _>(plan_id)
    .bind::<Jsonb, _>(serde_json::json!([{ "task": code }]))
    .get_result(conn)
    .await?;
    Ok(f.used)
}

/// The units with these ids.
pub async fn units(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> ApiResult<Vec<UnitRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(org_units::table
        .filter(org_units::id.eq_any(ids))
        .load(conn)
        .await?)
}

/// A fingerprint of the plan's tasks, part of a compilation's `ETag`: any task
/// created, changed or deleted changes it.
pub async fn mark(conn: &mut AsyncPgConnection, plan_id: Uuid) -> ApiResult<String> {
    #[derive(QueryableByName)]
    struct Mark {
        #[diesel(sql_type = Text)]
        mark: String,
    }
    let m: Mark = diesel::sql_query(
        "SELECT count(*)::text || '/' || coalesce(max(updated_at)::text, '') || '/' || \
         coalesce(sum(version)::text, '') AS mark FROM plan_tasks WHERE plan_id = $1",
    )
    .bind::<SqlUuid, _>(plan_id)
    .get_result(conn)
    .await?;
    Ok(format!("|tasks:{}", m.mark))
}

/// One unit's progress entries from one counted report.
#[derive(QueryableByName, Debug)]
pub struct ProgressRow {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    #[diesel(sql_type = Jsonb)]
    pub tasks: serde_json::Value,
}

/// The `tasks` of the period's reports with these statuses, of units under `prefix`.
pub async fn progress(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    statuses: &[String],
    prefix: &str,
) -> ApiResult<Vec<ProgressRow>> {
    Ok(diesel::sql_query(
        "SELECT u.id AS unit_id, u.code AS unit_code, u.name AS unit_name, r.data -> 'tasks' AS tasks \
         FROM reports r JOIN org_units u ON u.id = r.unit_id \
         WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 \
           AND jsonb_typeof(r.data -> 'tasks') = 'array' \
         ORDER BY u.code",
    )
    .bind::<SqlUuid, _>(period_id)
    .bind::<Array<Text>, _>(statuses)
    .bind::<Text, _>(format!("{}%", prefix.replace('%', "\\%").replace('_', "\\_")))
    .load(conn)
    .await?)
}
