//! `/api/v1/periods/{period_id}/reports/{unit}` and `/api/v1/reports`: drafting,
//! validation, submission and review of unit reports, addressed by period and unit
//! (id or code) so scripts need no report ids. Reads carry an `ETag`; writes and
//! transitions require `If-Match`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::model::*;
use super::store::{self, ListFilter, ReportRow, Submission};
use super::workflow::{self, ReportStatus, Transition};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action, Role};
use crate::error::{ApiError, ApiResult};
use crate::org::store::Row as UnitRow;
use crate::pagination::{Page, PageRequest};
use crate::plans::form::{FormDefinition, ReportData, ValidationContext, ValidationResult};
use crate::plans::period::{self, PeriodStatus};
use crate::plans::store::{self as plan_store, PeriodRow};

/// The period and unit a report address names, after scope checks, with the report
/// as it stood when read (writes lock and re-read it inside their transaction).
pub struct Target {
    pub period: PeriodRow,
    pub unit: UnitRow,
    pub report: Option<ReportRow>,
    /// What `report`'s latest revision adds (warnings, approval), read with it.
    latest: store::Latest,
}

/// Two queries, pipelined on one connection, resolve any report address: the period
/// with its plan's scope, and the unit with its report and the report's latest
/// revision's warnings and approval. Reads are the hot path; they need nothing more.
pub(crate) async fn target(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    period_id: Uuid,
    unit_ref: &str,
) -> ApiResult<Target> {
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let (scope, addressed) = tokio::try_join!(
        plan_store::get_period_scope(&mut c1, period_id),
        store::unit_with_report(&mut c2, unit_ref, period_id),
    )?;
    let (period, plan_path) = scope
        .filter(|(_, path)| policy::sees_plan(actor, path))
        .ok_or_else(|| ApiError::not_found("period"))?;
    let (unit, report, latest) = addressed
        .filter(|(u, _, _)| u.path.starts_with(&plan_path))
        .ok_or_else(|| ApiError::not_found("report"))?;
    policy::require_in_scope(actor, &unit.path, "report")?;
    Ok(Target {
        period,
        unit,
        report,
        latest,
    })
}

pub fn etag(row: &ReportRow) -> String {
    format!("\"{}-{}\"", row.id.simple(), row.version)
}

/// 428 without `If-Match`, 412 when it names another version than the current one.
fn check_if_match(if_match: Option<&str>, row: &ReportRow) -> ApiResult<()> {
    let Some(value) = if_match else {
        return Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "if_match_required",
            "send If-Match with the ETag of the report as you last read it",
        ));
    };
    let current = etag(row);
    // The strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
    let matches = value
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == current);
    if matches {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "stale_etag",
            "the report changed since you read it; read it again and reapply your change",
        )
        .with_extra("current_etag", current))
    }
}

/// The `If-Match` header as text (an unreadable one counts as a stale precondition).
pub(crate) fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
}

pub(crate) fn not_writable_in_locked(actor: &Actor, period: &PeriodRow) -> ApiResult<()> {
    if period.status() == PeriodStatus::Locked && actor.role == Role::Reporter {
        return Err(ApiError::conflict(
            "period_locked",
            format!(
                "period {} is locked; ask the coordinating office to unlock it",
                period.code
            ),
        )
        .with_extra("period_status", "locked"));
    }
    Ok(())
}

/// A deactivated unit's reports stay readable and reviewable, but it drafts and
/// submits no more.
fn still_reports(t: &Target, active: bool) -> ApiResult<()> {
    if active {
        return Ok(());
    }
    Err(ApiError::conflict(
        "unit_inactive",
        format!("unit {} is deactivated and reports no more", t.unit.code),
    ))
}

/// Drafts and returned reports take new data; the others are frozen.
pub(crate) fn editable(current: &ReportRow) -> ApiResult<()> {
    let status = current.status();
    if status.is_editable() {
        return Ok(());
    }
    Err(ApiError::conflict(
        "not_editable",
        format!("a report that is {} cannot be edited", status.as_str()),
    )
    .with_extra("current_status", status.as_str()))
}

/// The period and the unit re-read inside a report write's transaction, and the
/// period's write lock held shared there (`plan_store::report_write_gate`), so that a
/// lock or a deactivation committed after [`target`] read them still refuses the write,
/// and one that comes later waits for the write to commit. Returns the period and the
/// unit's due date (its extension, else the period's).
pub(crate) async fn period_now(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    t: &Target,
) -> ApiResult<(PeriodRow, chrono::NaiveDate)> {
    let (period, active, due) = plan_store::report_write_gate(conn, t.period.id, t.unit.id)
        .await?
        .ok_or_else(|| ApiError::not_found("period"))?;
    not_writable_in_locked(actor, &period)?;
    still_reports(t, active)?;
    Ok((period, due))
}

/// A unit in the caller's scope that has no report for the period yet: told apart
/// from one the caller may not see (which stays a plain 404), so a script knows to
/// create it with its first `PUT`.
pub(crate) fn not_started(t: &Target) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "report_not_started",
        format!(
            "unit {} has no report for period {} yet; the first PUT creates it",
            t.unit.code, t.period.code
        ),
    )
    .vi(format!(
        "Đơn vị {} chưa lập báo cáo kỳ {}; lần lưu (PUT) đầu tiên sẽ tạo báo cáo",
        t.unit.code, t.period.code
    ))
}

fn illegal(e: workflow::IllegalTransition) -> ApiError {
    ApiError::conflict("illegal_transition", e.to_string())
        .with_extra("current_status", e.from.as_str())
}

/// The API view of a report row. What the latest revision adds (warnings, approval)
/// comes from `fresh` (a revision the caller just made or approved), from the target
/// when the row is the one it read, or else from the database.
async fn to_api(
    conn: &mut AsyncPgConnection,
    forms: &crate::plans::cache::FormCache,
    row: &ReportRow,
    t: &Target,
    fresh: Option<store::Latest>,
) -> ApiResult<Report> {
    let form = forms.get(conn, row.form_id).await?;
    let read_with_target = t
        .report
        .as_ref()
        .is_some_and(|r| r.id == row.id && r.revision == row.revision);
    let latest = match (row.revision, fresh) {
        (None, _) => store::Latest::default(),
        (Some(_), Some(l)) => l,
        (Some(_), None) if read_with_target => t.latest.clone(),
        (Some(n), None) => store::revision_latest(conn, row.id, n).await?,
    };
    Ok(Report {
        id: row.id,
        period_id: row.period_id,
        period_code: t.period.code.clone(),
        unit_id: row.unit_id,
        unit_code: t.unit.code.clone(),
        unit_name: t.unit.name.clone(),
        status: row.status(),
        form_id: row.form_id,
        form_version: form.version,
        data: row.data()?,
        revision: row.revision,
        submitted_at: row.submitted_at,
        submitted_by: row.submitted_by.clone(),
        late: row.late,
        approved_at: latest.approved_at,
        approved_by: latest.approved_by,
        reviewed_at: row.reviewed_at,
        reviewed_by: row.reviewed_by.clone(),
        review_comment: row.review_comment.clone(),
        warnings: latest.warnings,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
    })
}

fn respond(status: StatusCode, row: &ReportRow, body: impl serde::Serialize) -> HttpResponse {
    let mut res = HttpResponse::build(status).json(body);
    if let Ok(v) = HeaderValue::from_str(&etag(row)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn report_event(
    action: &'static str,
    row: &ReportRow,
    t: &Target,
    change: serde_json::Value,
) -> Event<'static> {
    Event {
        action,
        object_type: "report",
        object_id: row.id.to_string(),
        unit_id: Some(t.unit.id),
        change: {
            let mut c = json!({ "period": t.period.code, "unit": t.unit.code });
            if let (Some(obj), serde_json::Value::Object(extra)) = (c.as_object_mut(), change) {
                obj.extend(extra);
            }
            c
        },
    }
}

/// A transition's webhook events (`report.*` and `compilation.changed`), written in
/// the transaction that made it. What stays inside the unit (a submission waiting for
/// the head, the head's decline) is told to the unit's people, not pushed: the
/// coordinating office hears of the report when the head approves it, as a submission.
async fn notify(
    conn: &mut AsyncPgConnection,
    transition: Transition,
    row: &ReportRow,
    t: &Target,
    by: &str,
    reason: Option<&str>,
) -> ApiResult<()> {
    use crate::webhooks::EventType;
    let change = crate::webhooks::ReportChange {
        report_id: row.id,
        period_id: t.period.id,
        period_code: &t.period.code,
        unit_id: t.unit.id,
        unit_code: &t.unit.code,
        status: row.status().as_str(),
        revision: row.revision,
        late: row.late,
        by,
        reason,
        at: row.updated_at,
    };
    let event = match (transition, row.status()) {
        (Transition::Submit, ReportStatus::AwaitingApproval) | (Transition::Decline, _) => {
            return crate::notifications::sign_off(conn, transition, &change).await;
        }
        (Transition::Submit | Transition::Approve, _) => EventType::ReportSubmitted,
        (Transition::Return, _) => EventType::ReportReturned,
        (Transition::Accept, _) => EventType::ReportAccepted,
        (Transition::Reopen, _) => EventType::ReportReopened,
    };
    crate::webhooks::report_changed(conn, event, change).await
}

/// The note of an entry on the unit's behalf, if this is one: required of a
/// coordinator (whose role does not write reports otherwise), optional for an admin,
/// ignored for the unit's own reporters. 403 for the others.
pub(crate) fn entry_note(
    actor: &Actor,
    action: Action,
    note: Option<String>,
) -> ApiResult<Option<String>> {
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::invalid_field(
            "query.entry_note",
            "too_long",
            "at most 2000 characters",
        ));
    }
    match actor.role {
        Role::Reporter => {
            policy::require(actor, action)?;
            Ok(None)
        }
        Role::Coordinator => {
            policy::require(actor, Action::EnterOnBehalf)?;
            note.map(Some).ok_or_else(|| {
                ApiError::invalid_field(
                    "query.entry_note",
                    "required",
                    "a coordinator entering a unit's report on its behalf must say how it was received (e.g. on paper, dated …)",
                )
            })
        }
        _ => {
            policy::require(actor, action)?;
            Ok(note)
        }
    }
}

/// Tells the unit's reporters that a coordinator entered their report.
async fn notify_entry(
    conn: &mut AsyncPgConnection,
    row: &ReportRow,
    t: &Target,
    by: &str,
    note: &str,
    submitted: bool,
) -> ApiResult<()> {
    crate::notifications::entered_on_behalf(
        conn,
        &crate::notifications::Entry {
            report_id: row.id,
            period_id: t.period.id,
            period_code: &t.period.code,
            unit_id: t.unit.id,
            unit_code: &t.unit.code,
            by,
            note,
            submitted,
        },
    )
    .await
}

/// The unit's values of the previous period, read only when the form checks a field
/// against them (`max_change`).
async fn previous_for(
    conn: &mut AsyncPgConnection,
    form: &FormDefinition,
    t: &Target,
) -> ApiResult<Option<crate::plans::logic::Previous>> {
    if !form.has_change_checks() {
        return Ok(None);
    }
    store::previous_values(conn, t.period.id, t.unit.id).await
}

/// The data to store: with the form's computed fields derived, when that changes it.
fn derived(
    form: &FormDefinition,
    data: &ReportData,
) -> ApiResult<Option<(ReportData, serde_json::Value)>> {
    form.derive(data)
        .map(|d| {
            let json = serde_json::to_value(&d).map_err(ApiError::internal)?;
            Ok((d, json))
        })
        .transpose()
}

fn check_draft(form: &FormDefinition, data: &ReportData) -> ApiResult<()> {
    let issues = form.check_values(data);
    if issues.is_empty() {
        Ok(())
    } else {
        let n = issues.len();
        Err(ApiError::validation(
            format!("{n} value(s) do not match the form"),
            issues,
        ))
    }
}

/// Which top-level values and lists a save changed, for the audit log.
fn changed_keys(before: &ReportData, after: &ReportData) -> Vec<String> {
    let mut keys: Vec<String> = before
        .values
        .keys()
        .chain(after.values.keys())
        .filter(|k| before.values.get(*k) != after.values.get(*k))
        .map(|k| format!("values.{k}"))
        .collect();
    keys.extend(
        before
            .lists
            .keys()
            .chain(after.lists.keys())
            .filter(|k| before.lists.get(*k) != after.lists.get(*k))
            .map(|k| format!("lists.{k}")),
    );
    if before.tasks != after.tasks {
        keys.push("tasks".to_string());
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The draft save of `PUT …/reports/{unit}`, inside the caller's transaction: creates
/// the report on its first save (`true`), or replaces the data of an editable one whose
/// version `if_match` names. The batch import runs the very same steps per item.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn save_draft_in(
    conn: &mut AsyncPgConnection,
    forms: &crate::plans::cache::FormCache,
    actor: &Actor,
    by: &By,
    t: &Target,
    if_match: Option<&str>,
    data: &ReportData,
    data_json: &serde_json::Value,
    entry: Option<&str>,
) -> ApiResult<(ReportRow, bool)> {
    period_now(conn, actor, t).await?;
    crate::tasks::progress::check_report(
        conn,
        t.period.plan_id,
        t.period.id,
        t.unit.id,
        data,
        false,
    )
    .await?;
    let on_behalf = |mut change: serde_json::Value| {
        if let (Some(note), Some(obj)) = (entry, change.as_object_mut()) {
            obj.insert("entered_on_behalf_of".into(), json!(t.unit.code));
            obj.insert("entry_note".into(), json!(note));
        }
        change
    };
    match store::find(conn, t.period.id, t.unit.id, true).await? {
        None => {
            if if_match.is_some() {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale_etag",
                    "the report does not exist yet; omit If-Match to create it",
                ));
            }
            let form = forms
                .current(conn, t.period.plan_id)
                .await?
                .ok_or_else(|| ApiError::conflict("no_form", "the plan has no report form yet"))?;
            let derived = derived(&form.definition, data)?;
            let (data, data_json) = derived.as_ref().map_or((data, data_json), |(d, j)| (d, j));
            check_draft(&form.definition, data)?;
            let row = store::insert_draft(conn, t.period.id, t.unit.id, form.id, data_json)
                .await?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::PRECONDITION_FAILED,
                        "stale_etag",
                        "the report was created meanwhile; read it and retry with If-Match",
                    )
                })?;
            audit::append(
                conn,
                by,
                report_event(
                    "report.create",
                    &row,
                    t,
                    on_behalf(json!({ "changed": changed_keys(&ReportData::default(), data) })),
                ),
            )
            .await?;
            if let Some(note) = entry {
                notify_entry(conn, &row, t, &actor.display_name, note, false).await?;
            }
            Ok((row, true))
        }
        Some(current) => {
            check_if_match(if_match, &current)?;
            editable(&current)?;
            let form = forms.get(conn, current.form_id).await?;
            let derived = derived(&form.definition, data)?;
            let (data, data_json) = derived.as_ref().map_or((data, data_json), |(d, j)| (d, j));
            check_draft(&form.definition, data)?;
            let before = current.data()?;
            let row = store::save_data(conn, &current, data_json).await?;
            audit::append(
                conn,
                by,
                report_event(
                    "report.save",
                    &row,
                    t,
                    on_behalf(json!({ "changed": changed_keys(&before, data) })),
                ),
            )
            .await?;
            Ok((row, false))
        }
    }
}

/// The submission of `POST …/reports/{unit}/submit`, inside the caller's transaction:
/// checks the report in full, freezes a revision and stamps it; returns the row and
/// what the new revision adds (its warnings, a head's approval). The batch import runs
/// the very same steps per item.
pub(crate) async fn submit_in(
    conn: &mut AsyncPgConnection,
    forms: &crate::plans::cache::FormCache,
    actor: &Actor,
    by: &By,
    t: &Target,
    if_match: Option<&str>,
    entry: Option<&str>,
) -> ApiResult<(ReportRow, store::Latest)> {
    let (period, due) = period_now(conn, actor, t).await?;
    let current = store::find(conn, t.period.id, t.unit.id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    check_if_match(if_match, &current)?;
    workflow::next_status(current.status(), Transition::Submit).map_err(illegal)?;
    let (sign_off, head) = store::sign_off(conn, t.period.plan_id, actor.id, t.unit.id).await?;
    // A report entered on the unit's behalf came on paper, under the head's signature.
    let to = workflow::submitted_status(sign_off, head || entry.is_some());
    let form = forms.get(conn, current.form_id).await?;
    let data = current.data()?;
    let previous = previous_for(conn, &form.definition, t).await?;
    let result = form.definition.validate(
        &data,
        &ValidationContext {
            window_start: period.window_start,
            window_end: period.window_end,
            previous: previous.as_ref(),
        },
    );
    if !result.valid {
        let n = result.errors.len();
        let warnings = serde_json::to_value(&result.warnings).map_err(ApiError::internal)?;
        return Err(ApiError::validation(
            format!("the report cannot be submitted: {n} error(s)"),
            result.errors,
        )
        .with_extra("warnings", warnings));
    }
    crate::tasks::progress::check_report(
        conn,
        t.period.plan_id,
        t.period.id,
        t.unit.id,
        &data,
        true,
    )
    .await?;
    let now = Utc::now();
    // Against the unit's own extension, when it has one (read with the period).
    let late = period::is_late(now, due);
    let number = current.revision.unwrap_or(0) + 1;
    let approved = sign_off && head && entry.is_none();
    let row = store::submit(
        conn,
        &current,
        Submission {
            number,
            form_id: current.form_id,
            data: &current.data,
            warnings: &result.warnings,
            at: now,
            by: &actor.display_name,
            late,
            entry_note: entry,
            status: to,
            approved,
        },
    )
    .await?;
    // The files attached so far belong to this revision from now on.
    crate::attachments::store::freeze(conn, current.id, number).await?;
    audit::append(
        conn,
        by,
        report_event("report.submit", &row, t, json!({ "from": current.status, "to": to.as_str(), "revision": number, "late": late, "warnings": result.warnings.len(), "approved": approved, "entered_on_behalf_of": entry.map(|_| &t.unit.code), "entry_note": entry })),
    )
    .await?;
    // In the same transaction: a submission by a batch is pushed like any other.
    notify(conn, Transition::Submit, &row, t, &actor.display_name, None).await?;
    if let Some(note) = entry {
        notify_entry(conn, &row, t, &actor.display_name, note, true).await?;
    }
    let latest = store::Latest {
        warnings: result.warnings,
        approved_at: approved.then_some(row.updated_at),
        approved_by: approved.then(|| actor.display_name.clone()),
    };
    Ok((row, latest))
}

type ReportPath = web::Path<(Uuid, String)>;

/// A unit's report for a period, with its `ETag`.
#[utoipa::path(operation_id = "getReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code")), responses((status = 200, body = Report, headers(("ETag" = String)))))]
#[get("/periods/{period_id}/reports/{unit}")]
pub async fn get_report(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ReadReports)?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let row = t.report.clone().ok_or_else(|| not_started(&t))?;
    let report = to_api(&mut conn, &state.forms, &row, &t, None).await?;
    Ok(respond(StatusCode::OK, &row, report))
}

/// Saves the draft, creating it on the first save (201). Values are type-checked
/// against the report's form (a wrong type is a 422 naming the field's path); the
/// draft may be incomplete. An existing report needs `If-Match`.
#[utoipa::path(
    operation_id = "saveReportDraft",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = Option<String>, Header, description = "ETag of the last read; required once the report exists", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#), EntryQuery),
    request_body = ReportData,
    responses(
        (status = 200, body = Report, headers(("ETag" = String))),
        (status = 201, body = Report, headers(("ETag" = String))),
        (status = 409, description = "Not editable in its status, the period is locked (`period_locked`) or the unit deactivated (`unit_inactive`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/periods/{period_id}/reports/{unit}")]
pub async fn put_report(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<EntryQuery>,
    body: crate::extract::Json<ReportData>,
) -> ApiResult<HttpResponse> {
    let entry = entry_note(&actor, Action::EditReport, q.into_inner().entry_note)?;
    let if_match = if_match(&req);
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    save_draft(
        &state,
        &actor,
        &mut conn,
        &t,
        if_match.as_deref(),
        entry.as_deref(),
        &body.into_inner(),
    )
    .await
}

/// The whole draft save of a `PUT`, from the addressed report to the response (201 on
/// creation, the report with its `ETag`): the JSON body and an imported workbook take
/// this one path.
pub(crate) async fn save_draft(
    state: &AppState,
    actor: &Actor,
    conn: &mut AsyncPgConnection,
    t: &Target,
    if_match: Option<&str>,
    entry: Option<&str>,
    data: &ReportData,
) -> ApiResult<HttpResponse> {
    let data_json = serde_json::to_value(data).map_err(ApiError::internal)?;
    let by = By::from(actor);
    let (row, created) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            save_draft_in(
                conn,
                &state.forms,
                actor,
                &by,
                t,
                if_match,
                data,
                &data_json,
                entry,
            )
            .await
        })
        .await?;
    let report = to_api(conn, &state.forms, &row, t, None).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(status, &row, report))
}

/// Moves a draft (or a returned report) made under an earlier version of the plan's
/// form to the current one. Every value the new version still has a field for is kept;
/// the others are listed in `dropped` and kept in the audit log, never silently lost.
/// A kept value that no longer fits its field's new type is a 422 naming it, and
/// nothing changes: fix it under the old version first. A report already on the
/// current version answers as it is, with nothing dropped.
#[utoipa::path(
    operation_id = "upgradeReportForm",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)),
    responses(
        (status = 200, body = FormUpgrade, headers(("ETag" = String))),
        (status = 409, description = "Not editable in its status (`not_editable`), the period is locked (`period_locked`), the unit deactivated (`unit_inactive`) or the plan has no form (`no_form`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/periods/{period_id}/reports/{unit}/upgrade-form")]
pub async fn upgrade_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::EditReport)?;
    let if_match = if_match(&req);
    let (period_id, unit_ref) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    if t.report.is_none() {
        return Err(not_started(&t));
    }
    let (row, from_version, to_version, dropped) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            period_now(conn, &actor, &t).await?;
            let current = store::find(conn, t.period.id, t.unit.id, true)
                .await?
                .ok_or_else(|| not_started(&t))?;
            check_if_match(if_match.as_deref(), &current)?;
            editable(&current)?;
            let from = state.forms.get(conn, current.form_id).await?;
            let to = state
                .forms
                .current(conn, t.period.plan_id)
                .await?
                .ok_or_else(|| ApiError::conflict("no_form", "the plan has no report form yet"))?;
            if from.id == to.id {
                return Ok((current, from.version, to.version, Vec::new()));
            }
            let (data, dropped) = to.definition.carry_over(&current.data()?);
            // The new version's computed fields, from the values carried over.
            let data = to.definition.derive(&data).unwrap_or(data);
            check_draft(&to.definition, &data)?;
            let data_json = serde_json::to_value(&data).map_err(ApiError::internal)?;
            let row = store::change_form(conn, current.id, to.id, &data_json).await?;
            audit::append(
                conn,
                &by,
                report_event(
                    "report.upgrade_form",
                    &row,
                    &t,
                    json!({
                        "from_version": from.version,
                        "to_version": to.version,
                        "dropped": dropped,
                    }),
                ),
            )
            .await?;
            Ok((row, from.version, to.version, dropped))
        })
        .await?;
    let report = to_api(&mut conn, &state.forms, &row, &t, None).await?;
    let upgrade = FormUpgrade {
        from_version,
        to_version,
        dropped,
        report,
    };
    Ok(respond(StatusCode::OK, &row, upgrade))
}

/// Dry run: the full validation (errors and warnings) of the given data, or of the
/// stored report when no body is sent. Saves nothing.
#[utoipa::path(operation_id = "validateReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code")), request_body(content = Option<ReportData>, description = "Data to check; omit to check the stored report"), responses((status = 200, body = ValidationResult)))]
#[post("/periods/{period_id}/reports/{unit}/validate")]
pub async fn validate(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: web::Bytes,
) -> ApiResult<web::Json<ValidationResult>> {
    policy::require(&actor, Action::ReadReports)?;
    let body: Option<ReportData> = crate::error::extractors::optional_json(&body)?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let stored = t.report.clone();
    let form = match &stored {
        Some(r) => state.forms.get(&mut conn, r.form_id).await?,
        None => state
            .forms
            .current(&mut conn, t.period.plan_id)
            .await?
            .ok_or_else(|| ApiError::conflict("no_form", "the plan has no report form yet"))?,
    };
    let data = match (body, &stored) {
        (Some(b), _) => b,
        (None, Some(r)) => r.data()?,
        (None, None) => return Err(ApiError::not_found("report")),
    };
    let data = form.definition.derive(&data).unwrap_or(data);
    let previous = previous_for(&mut conn, &form.definition, &t).await?;
    let ctx = ValidationContext {
        window_start: t.period.window_start,
        window_end: t.period.window_end,
        previous: previous.as_ref(),
    };
    let mut result = form.definition.validate(&data, &ctx);
    crate::tasks::progress::dry_run(
        &mut conn,
        t.period.plan_id,
        t.period.id,
        t.unit.id,
        &data,
        &mut result,
    )
    .await?;
    Ok(web::Json(result))
}

/// Submits the report: required fields and rules are checked (errors block, warnings
/// are returned), an immutable revision is frozen, and the submission is stamped with
/// when, by whom and whether it came late.
#[utoipa::path(
    operation_id = "submitReport",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#), EntryQuery),
    responses(
        (status = 200, body = Report, headers(("ETag" = String))),
        (status = 409, description = "Illegal transition (`current_status` says why), locked period (`period_locked`) or deactivated unit (`unit_inactive`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/periods/{period_id}/reports/{unit}/submit")]
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<EntryQuery>,
) -> ApiResult<HttpResponse> {
    let entry = entry_note(&actor, Action::SubmitReport, q.into_inner().entry_note)?;
    let if_match = if_match(&req);
    let (period_id, unit_ref) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            submit_in(
                conn,
                &state.forms,
                &actor,
                &by,
                &t,
                if_match.as_deref(),
                entry.as_deref(),
            )
            .await
        })
        .await?;
    let (row, latest) = row;
    let report = to_api(&mut conn, &state.forms, &row, &t, Some(latest)).await?;
    Ok(respond(StatusCode::OK, &row, report))
}

/// A review step (return, accept, reopen: the coordinating office) or a sign-off step
/// (approve, decline: a head of the report's own unit).
async fn review(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    transition: Transition,
    reason: Option<String>,
) -> ApiResult<HttpResponse> {
    let sign_off = matches!(transition, Transition::Approve | Transition::Decline);
    if !sign_off {
        policy::require(&actor, Action::ReviewReport)?;
    }
    let if_match = if_match(&req);
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if transition.requires_reason() && reason.is_none() {
        return Err(ApiError::invalid_field(
            "body.reason",
            "required",
            format!("a reason is required to {}", transition.as_str()),
        ));
    }
    if reason.as_ref().is_some_and(|r| r.chars().count() > 4000) {
        return Err(ApiError::invalid_field(
            "body.reason",
            "too_long",
            "at most 4000 characters",
        ));
    }
    let (period_id, unit_ref) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let due = if sign_off {
                let (_, head) =
                    store::sign_off(conn, t.period.plan_id, actor.id, t.unit.id).await?;
                if !head {
                    return Err(ApiError::forbidden(format!(
                        "only a head of unit {} may {} its report",
                        t.unit.code,
                        transition.as_str()
                    )));
                }
                Some(period_now(conn, &actor, &t).await?.1)
            } else {
                None
            };
            let current = store::find(conn, t.period.id, t.unit.id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("report"))?;
            check_if_match(if_match.as_deref(), &current)?;
            let to = workflow::next_status(current.status(), transition).map_err(illegal)?;
            let now = Utc::now();
            let (row, fresh) = match (transition, due) {
                (Transition::Approve, Some(due)) => {
                    let late = period::is_late(now, due);
                    let row =
                        store::approve(conn, &current, &actor.display_name, now, late).await?;
                    let fresh = store::Latest {
                        approved_at: Some(row.updated_at),
                        approved_by: Some(actor.display_name.clone()),
                        ..t.latest.clone()
                    };
                    (row, Some(fresh))
                }
                _ => {
                    let row = store::review(
                        conn,
                        current.id,
                        to,
                        &actor.display_name,
                        reason.as_deref(),
                        now,
                    )
                    .await?;
                    (row, None)
                }
            };
            let action = match transition {
                Transition::Return => "report.return",
                Transition::Accept => "report.accept",
                Transition::Reopen => "report.reopen",
                Transition::Submit => "report.submit",
                Transition::Approve => "report.approve",
                Transition::Decline => "report.decline",
            };
            audit::append(
                conn,
                &by,
                report_event(
                    action,
                    &row,
                    &t,
                    json!({ "from": current.status, "to": to.as_str(), "revision": row.revision, "reason": reason }),
                ),
            )
            .await?;
            notify(
                conn,
                transition,
                &row,
                &t,
                &actor.display_name,
                reason.as_deref(),
            )
            .await?;
            Ok((row, fresh))
        })
        .await?;
    let (row, fresh) = row;
    let report = to_api(&mut conn, &state.forms, &row, &t, fresh).await?;
    Ok(respond(StatusCode::OK, &row, report))
}

/// The optional comment of an accept or an approval (a body may be left out).
fn comment(body: &web::Bytes) -> ApiResult<Option<String>> {
    Ok(crate::error::extractors::optional_json::<TransitionRequest>(body)?.and_then(|b| b.reason))
}

/// Returns a submitted report to its unit for changes; a reason is required.
#[utoipa::path(operation_id = "returnReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)), request_body = TransitionRequest, responses((status = 200, body = Report, headers(("ETag" = String))), (status = 409, description = "Illegal transition", body = crate::error::Problem, content_type = "application/problem+json"), (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"), (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/periods/{period_id}/reports/{unit}/return")]
pub async fn return_for_revision(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: crate::extract::Json<TransitionRequest>,
) -> ApiResult<HttpResponse> {
    review(
        req,
        state,
        actor,
        path,
        Transition::Return,
        body.into_inner().reason,
    )
    .await
}

/// Accepts a submitted report; an optional comment is kept.
#[utoipa::path(operation_id = "acceptReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)), request_body(content = Option<TransitionRequest>), responses((status = 200, body = Report, headers(("ETag" = String))), (status = 409, description = "Illegal transition", body = crate::error::Problem, content_type = "application/problem+json"), (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"), (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/periods/{period_id}/reports/{unit}/accept")]
pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    review(req, state, actor, path, Transition::Accept, comment(&body)?).await
}

/// Reopens an accepted report (back to returned); a reason is required.
#[utoipa::path(operation_id = "reopenReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)), request_body = TransitionRequest, responses((status = 200, body = Report, headers(("ETag" = String))), (status = 409, description = "Illegal transition", body = crate::error::Problem, content_type = "application/problem+json"), (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"), (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/periods/{period_id}/reports/{unit}/reopen")]
pub async fn reopen(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: crate::extract::Json<TransitionRequest>,
) -> ApiResult<HttpResponse> {
    review(
        req,
        state,
        actor,
        path,
        Transition::Reopen,
        body.into_inner().reason,
    )
    .await
}

/// The unit head approves the report awaiting approval (plans with `head_sign_off`):
/// it is submitted to the coordinating office now, and its lateness is judged now. Only
/// a user with `unit_head` whose unit is the report's may approve; a comment is optional.
#[utoipa::path(operation_id = "approveReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)), request_body(content = Option<TransitionRequest>), responses((status = 200, body = Report, headers(("ETag" = String))), (status = 403, description = "Not a head of the report's unit", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Illegal transition (`current_status`), locked period or deactivated unit", body = crate::error::Problem, content_type = "application/problem+json"), (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"), (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/periods/{period_id}/reports/{unit}/approve")]
pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    review(
        req,
        state,
        actor,
        path,
        Transition::Approve,
        comment(&body)?,
    )
    .await
}

/// The unit head sends the report awaiting approval back to the unit's reporters
/// (it becomes returned); a reason is required.
#[utoipa::path(operation_id = "declineReport", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = String, Header, description = "The ETag of the last read, or `*`", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#)), request_body = TransitionRequest, responses((status = 200, body = Report, headers(("ETag" = String))), (status = 403, description = "Not a head of the report's unit", body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, description = "Illegal transition (`current_status`), locked period or deactivated unit", body = crate::error::Problem, content_type = "application/problem+json"), (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"), (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/periods/{period_id}/reports/{unit}/decline")]
pub async fn decline(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    body: crate::extract::Json<TransitionRequest>,
) -> ApiResult<HttpResponse> {
    review(
        req,
        state,
        actor,
        path,
        Transition::Decline,
        body.into_inner().reason,
    )
    .await
}

/// The revisions frozen at each submission, oldest first.
#[utoipa::path(operation_id = "listReportRevisions", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), crate::pagination::PageQuery), responses((status = 200, body = crate::pagination::Page<RevisionSummary>)))]
#[get("/periods/{period_id}/reports/{unit}/revisions")]
pub async fn list_revisions(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<crate::pagination::PageQuery>,
) -> ApiResult<web::Json<crate::pagination::Page<RevisionSummary>>> {
    policy::require(&actor, Action::ReadReports)?;
    let page = q.page()?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let row = t
        .report
        .clone()
        .ok_or_else(|| ApiError::not_found("report"))?;
    Ok(web::Json(crate::pagination::Page::slice(
        store::revisions(&mut conn, row.id).await?,
        page,
    )))
}

/// One frozen revision, exactly as it was submitted.
#[utoipa::path(operation_id = "getReportRevision", tag = "reports", params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("number" = i32, Path)), responses((status = 200, body = Revision)))]
#[get("/periods/{period_id}/reports/{unit}/revisions/{number}")]
pub async fn get_revision(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String, i32)>,
) -> ApiResult<web::Json<Revision>> {
    policy::require(&actor, Action::ReadReports)?;
    let (period_id, unit_ref, number) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = target(&mut conn, &actor, period_id, &unit_ref).await?;
    let row = t
        .report
        .clone()
        .ok_or_else(|| ApiError::not_found("report"))?;
    store::revision(&mut conn, row.id, number)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("revision"))
}

/// Reports in the caller's scope, filtered by period, unit, status and lateness;
/// sorted by period, the latest due date first (each period's rows together), then
/// by unit code.
#[utoipa::path(
    operation_id = "listReports",
    tag = "reports",
    params(ReportQuery),
    responses(
        (status = 200, body = Page<ReportSummary>),
        (status = 404, description = "The `unit` filter names no unit in scope", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/reports")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<ReportQuery>,
) -> ApiResult<web::Json<Page<ReportSummary>>> {
    policy::require(&actor, Action::ReadReports)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let unit_id = match &q.unit {
        Some(u) => Some(
            crate::org::routes::visible_unit(&mut conn, &actor, u)
                .await?
                .id,
        ),
        None => None,
    };
    let filter = ListFilter {
        period_id: q.period,
        unit_id,
        status: q.status,
        late: q.late,
        scope: policy::scope_prefix(&actor).map(|p| (p.to_string(), policy::exact_scope(&actor))),
    };
    let (items, total) = store::list(&mut conn, &filter, page).await?;
    Ok(web::Json(Page::new(items, total, page)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(get_report)
        .service(put_report)
        .service(upgrade_form)
        .service(validate)
        .service(submit)
        .service(return_for_revision)
        .service(accept)
        .service(reopen)
        .service(approve)
        .service(decline)
        .service(list_revisions)
        .service(get_revision);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_lists_values_and_lists_that_differ() {
        let before: ReportData = serde_json::from_value(
            json!({"values": {"a": 1, "b": 2}, "lists": {"activities": []}}),
        )
        .unwrap_or_default();
        let after: ReportData =
            serde_json::from_value(json!({"values": {"a": 1, "b": 3, "c": null}, "lists": {}}))
                .unwrap_or_default();
        assert_eq!(
            changed_keys(&before, &after),
            vec!["lists.activities", "values.b", "values.c"]
        );
    }
}
