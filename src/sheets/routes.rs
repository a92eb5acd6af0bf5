//! `/api/v1/periods/{period_id}/reports/{unit}/template.xlsx`: the report as a
//! workbook to fill offline (`GET`, also for a report not started), and the filled
//! workbook saved as the draft (`PUT`) exactly as the JSON `PUT` of the report saves
//! it: the same `If-Match`, the same checks, the same transaction.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, put, web};
use futures_util::StreamExt;
use uuid::Uuid;

use super::{TemplateMeta, XLSX};
use crate::AppState;
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::plans::form::ReportData;
use crate::reports::model::EntryQuery;
use crate::reports::routes::{self as report_routes, Target};

type ReportPath = web::Path<(Uuid, String)>;

/// The form of the addressed report: its own, or the plan's current one when the
/// report is not started.
async fn form_of(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    t: &Target,
) -> ApiResult<std::sync::Arc<crate::plans::model::FormVersion>> {
    match &t.report {
        Some(r) => state.forms.get(conn, r.form_id).await,
        None => state
            .forms
            .current(conn, t.period.plan_id)
            .await?
            .ok_or_else(|| ApiError::conflict("no_form", "the plan has no report form yet")),
    }
}

/// The report as a workbook generated from its form version: one sheet per section
/// and per repeatable list, Vietnamese labels and help, field codes in a hidden
/// column, data validation for every field's type, bounds and options, label cells
/// locked, the current values filled in. Works for a report not started yet (an empty
/// workbook of the plan's current form). Carries the report's `ETag` when it exists,
/// to send back as `If-Match` with the filled workbook.
#[utoipa::path(
    operation_id = "getReportWorkbook",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code")),
    responses(
        (status = 200, description = "The workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>, headers(("ETag" = String, description = "The report's ETag, when it exists"), ("Content-Disposition" = String))),
        (status = 409, description = "The plan has no form yet (`no_form`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/periods/{period_id}/reports/{unit}/template.xlsx")]
pub async fn get_workbook(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ReadReports)?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let form = form_of(&state, &mut conn, &t).await?;
    let data = match &t.report {
        Some(r) => r.data()?,
        None => ReportData::default(),
    };
    let meta = TemplateMeta {
        form_id: form.id,
        form_version: form.version,
        period_code: &t.period.code,
        unit_code: &t.unit.code,
        unit_name: &t.unit.name,
    };
    let bytes = super::template(&form.definition, &meta, &data)?;
    let file = format!("bao-cao-{}-{}.xlsx", t.period.code, t.unit.code);
    let mut res = HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::attachments::content_disposition(&file),
        ))
        .body(bytes);
    if let Some(r) = &t.report
        && let Ok(v) = HeaderValue::from_str(&report_routes::etag(r))
    {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

/// The body, up to `limit` bytes (413 past it).
async fn read_body(
    mut payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> ApiResult<Vec<u8>> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(crate::extract::body_too_large_problem(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| crate::extract::body_timeout_problem(timeout))?
}

/// Saves a filled workbook (made by `GET …/template.xlsx`) as the draft, exactly as
/// `PUT …/reports/{unit}` saves JSON: created on the first save (201), `If-Match`
/// required once the report exists, every value type-checked against the form, nothing
/// saved when any value is refused. A refused value is a 422 naming its field path
/// (`values.staff_female`, `lists.activities[0].date`) with the sheet and cell at the
/// start of its message (`'A'!C3: …`). A body that is not a workbook of this service is
/// a 422 `invalid_workbook`; one made from another version of the form than the
/// report's is a 409 `workbook_form_mismatch` (download the template again); one over
/// `GEREPORT_WORKBOOK_LIMIT` bytes is a 413.
#[utoipa::path(
    operation_id = "importReportWorkbook",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("If-Match" = Option<String>, Header, description = "ETag of the last read; required once the report exists", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#), EntryQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "The filled workbook (`application/octet-stream` is taken too)"),
    responses(
        (status = 200, body = crate::reports::model::Report, headers(("ETag" = String))),
        (status = 201, body = crate::reports::model::Report, headers(("ETag" = String))),
        (status = 409, description = "Another form version (`workbook_form_mismatch`), not editable, period locked or unit deactivated", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The workbook is larger than `GEREPORT_WORKBOOK_LIMIT`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither an XLSX nor an octet-stream body", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/periods/{period_id}/reports/{unit}/template.xlsx")]
pub async fn import_workbook(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<EntryQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let entry = report_routes::entry_note(&actor, Action::EditReport, q.into_inner().entry_note)?;
    let media = crate::extract::media_type(&req);
    if media != XLSX && media != "application/octet-stream" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the workbook as {XLSX} (or application/octet-stream)"),
        )
        .vi(format!("Đề nghị gửi bảng tính với Content-Type {XLSX}")));
    }
    let if_match = report_routes::if_match(&req);
    let (period_id, unit_ref) = path.into_inner();
    let body = read_body(
        payload,
        state.settings.files.workbook_limit,
        state.settings.body_timeout,
    )
    .await?;
    let mut opened = super::open(body)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let form = form_of(&state, &mut conn, &t).await?;
    if opened.form.form_id != form.id {
        return Err(ApiError::conflict(
            "workbook_form_mismatch",
            format!(
                "the workbook was made from form version {}, the report uses version {}; download the template again",
                opened.form.form_version, form.version
            ),
        )
        .vi(format!(
            "Bảng tính được tạo từ biểu mẫu phiên bản {}, báo cáo dùng phiên bản {}; đề nghị tải lại mẫu bảng tính",
            opened.form.form_version, form.version
        )));
    }
    let read = super::read(&mut opened, &form.definition).map_err(|issues| {
        ApiError::validation(
            format!("{} cell(s) of the workbook cannot be taken", issues.len()),
            issues,
        )
    })?;
    let mut read = read;
    // The workbook carries the form's values; task progress stays as the draft has it.
    if let Some(r) = &t.report {
        read.data.tasks = r.data()?.tasks;
    }
    let issues = super::check(&form.definition, &read);
    if !issues.is_empty() {
        return Err(ApiError::validation(
            format!("{} value(s) do not match the form", issues.len()),
            issues,
        ));
    }
    report_routes::save_draft(
        &state,
        &actor,
        &mut conn,
        &t,
        if_match.as_deref(),
        entry.as_deref(),
        &read.data,
    )
    .await
    .map_err(|mut e| {
        // A refusal of the save itself still points at the cells.
        let errors = std::mem::take(&mut e.errors);
        e.errors = errors
            .into_iter()
            .map(|i| super::locate(i, &read.cells))
            .collect();
        e
    })
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_workbook).service(import_workbook);
}
