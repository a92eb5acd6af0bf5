//! `/api/v1/periods/{period_id}/reports/{unit}/attachments`: upload (a streamed
//! `application/octet-stream` body, its kind and original name in the query), list,
//! download and removal of a report's files. Scope is the report's: a unit out of the
//! caller's scope is a 404, like its report.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, delete, get, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, WriteMultipart};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{Attachment, AttachmentKind, ListQuery, UploadQuery};
use super::store::{self, Row};
use super::{Sniffer, storage_error};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use crate::reports::routes::{self as report_routes, Target};
use crate::reports::store::{self as report_store, ReportRow};
use crate::tasks::store::{self as task_store, TaskRow};

type ReportPath = web::Path<(Uuid, String)>;

/// Writing attachments is the report writers' (its reporters, an admin) and the
/// coordinating office's when it enters a report on the unit's behalf.
fn require_writer(actor: &Actor) -> ApiResult<()> {
    if policy::allows(actor.role, Action::EditReport)
        || policy::allows(actor.role, Action::EnterOnBehalf)
    {
        Ok(())
    } else {
        policy::require(actor, Action::EditReport)
    }
}

fn href(t: &Target, id: Uuid) -> String {
    format!(
        "/api/v1/periods/{}/reports/{}/attachments/{id}",
        t.period.id, t.unit.code
    )
}

/// The plan's task codes by task id, for the attachments that name a task.
async fn task_codes(
    conn: &mut AsyncPgConnection,
    t: &Target,
    rows: &[Row],
) -> ApiResult<HashMap<Uuid, String>> {
    if rows.iter().all(|r| r.subject_id.is_none()) {
        return Ok(HashMap::new());
    }
    Ok(task_store::list(conn, t.period.plan_id)
        .await?
        .into_iter()
        .map(|task| (task.id, task.code))
        .collect())
}

fn to_api(t: &Target, codes: &HashMap<Uuid, String>, r: Row) -> Attachment {
    Attachment {
        href: href(t, r.id),
        id: r.id,
        report_id: r.report_id,
        task: r.subject_id.and_then(|id| codes.get(&id).cloned()),
        kind: AttachmentKind::parse(&r.kind),
        file_name: r.file_name,
        content_type: r.content_type,
        size_bytes: r.size_bytes,
        sha256: r.sha256,
        revision: r.revision,
        uploaded_by: r.uploaded_by,
        created_at: r.created_at,
    }
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_file_type",
        "the file is not a PDF, JPEG, PNG, DOCX or XLSX (decided from its bytes)",
    )
    .vi("Tệp không phải PDF, JPEG, PNG, DOCX hoặc XLSX (xác định theo nội dung tệp)")
}

/// The report a write addresses, re-read and locked inside the transaction: it
/// exists, is the one read before, is editable, and its period takes the caller's
/// writes.
async fn report_now(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    t: &Target,
) -> ApiResult<ReportRow> {
    report_routes::period_now(conn, actor, t).await?;
    let current = report_store::find(conn, t.period.id, t.unit.id, true)
        .await?
        .ok_or_else(|| report_routes::not_started(t))?;
    report_routes::editable(&current)?;
    Ok(current)
}

/// The task a file is attached to, checked by the rule progress entries follow: a
/// task of the plan the unit leads or helps with, reported on in this period.
async fn task_of_upload(
    conn: &mut AsyncPgConnection,
    t: &Target,
    code: &str,
) -> ApiResult<TaskRow> {
    let tasks = task_store::list(conn, t.period.plan_id).await?;
    crate::tasks::progress::unit_task(&tasks, code, t.unit.id, t.period.id, "query.task")
        .cloned()
        .map_err(|issue| {
            ApiError::validation(format!("query.task: {}", issue.message), vec![issue])
        })
}

fn event(action: &'static str, t: &Target, row: &Row, task: Option<&str>) -> Event<'static> {
    Event {
        action,
        object_type: "attachment",
        object_id: row.id.to_string(),
        unit_id: Some(t.unit.id),
        change: json!({
            "period": t.period.code, "unit": t.unit.code, "report_id": row.report_id,
            "task": task,
            "kind": row.kind, "file_name": row.file_name, "content_type": row.content_type,
            "size_bytes": row.size_bytes, "sha256": row.sha256,
        }),
    }
}

/// What one streamed upload came to.
struct Stored {
    key: String,
    size: i64,
    sha256: String,
    content_type: &'static str,
}

/// Streams the body to the store under `key`, hashing and typing it on the way; the
/// stored file is removed again when the body is refused (too large, not an accepted
/// type, empty).
async fn stream_to_store(
    state: &AppState,
    mut payload: web::Payload,
    key: String,
) -> ApiResult<Stored> {
    let limit = state.settings.files.attachment_limit;
    let idle = state.settings.body_timeout;
    let location = Path::from(key.as_str());
    let multipart = state
        .attachments
        .put_multipart(&location)
        .await
        .map_err(storage_error)?;
    let mut writer = WriteMultipart::new(multipart);
    let mut sniffer = Sniffer::default();
    let mut hasher = Sha256::new();
    let mut size = 0usize;
    let outcome: ApiResult<()> = async {
        loop {
            let next = tokio::time::timeout(idle, payload.next())
                .await
                .map_err(|_| crate::extract::body_timeout_problem(idle))?;
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| ApiError::bad_request("bad_request", e.to_string()))?;
            size += chunk.len();
            if size > limit {
                return Err(crate::extract::body_too_large_problem(limit));
            }
            sniffer.feed(&chunk);
            if sniffer.refused_early() {
                return Err(unsupported());
            }
            hasher.update(&chunk);
            writer.wait_for_capacity(4).await.map_err(storage_error)?;
            writer.write(&chunk);
        }
        Ok(())
    }
    .await;
    let content_type = match (outcome, sniffer.verdict()) {
        (Err(e), _) => {
            let _ = writer.abort().await;
            return Err(e);
        }
        (Ok(()), _) if size == 0 => {
            let _ = writer.abort().await;
            return Err(ApiError::invalid_field(
                "body",
                "empty",
                "the file is empty",
            ));
        }
        (Ok(()), None) => {
            let _ = writer.abort().await;
            return Err(unsupported());
        }
        (Ok(()), Some(t)) => t.media_type(),
    };
    writer.finish().await.map_err(storage_error)?;
    Ok(Stored {
        key,
        size: size as i64,
        sha256: hex::encode(hasher.finalize()),
        content_type,
    })
}

/// Attaches a file to the report (a draft or a returned report). The body is the
/// file's bytes, streamed (`Content-Type: application/octet-stream`, or the file's own
/// type); `kind` and `filename` go in the query. The type is decided from the bytes:
/// PDF, JPEG, PNG, DOCX or XLSX, anything else is a 415 `unsupported_file_type`. Files
/// over `GEREPORT_ATTACHMENT_MAX_BYTES` are a 413. The file is stored before its row
/// commits; it is frozen with the revision when the report is submitted. With an
/// `Idempotency-Key` the body is held in memory to be fingerprinted, so it must then
/// fit `GEREPORT_BODY_LIMIT`; without one, a retry stores the file again under a new id.
#[utoipa::path(
    operation_id = "uploadAttachment",
    tag = "attachments",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 201, body = Attachment, headers(("Location" = String))),
        (status = 404, description = "No such report in scope, or the report is not started (`report_not_started`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is not editable (`not_editable`), the period is locked or the unit deactivated", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than `GEREPORT_ATTACHMENT_MAX_BYTES`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a PDF, JPEG, PNG, DOCX or XLSX (`unsupported_file_type`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/periods/{period_id}/reports/{unit}/attachments")]
pub async fn upload(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<UploadQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    require_writer(&actor)?;
    let q = q.into_inner();
    let file_name = super::clean_name(&q.filename).ok_or_else(|| {
        ApiError::invalid_field(
            "query.filename",
            "empty",
            "the file name is empty once its path is removed",
        )
    })?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let report = t
        .report
        .clone()
        .ok_or_else(|| report_routes::not_started(&t))?;
    report_routes::not_writable_in_locked(&actor, &t.period)?;
    report_routes::editable(&report)?;
    let task = match q.task.as_deref() {
        Some(code) => Some(task_of_upload(&mut conn, &t, code).await?),
        None => None,
    };
    // The connection goes back to the pool while the body streams in.
    drop(conn);
    let id = Uuid::now_v7();
    let stored = stream_to_store(&state, payload, super::key(report.id, id)).await?;
    let by = By::from(&actor);
    let row = Row {
        id,
        report_id: report.id,
        subject: if task.is_some() {
            "task_progress"
        } else {
            "report"
        }
        .into(),
        subject_id: task.as_ref().map(|task| task.id),
        kind: q.kind.as_str().into(),
        file_name,
        content_type: stored.content_type.into(),
        size_bytes: stored.size,
        sha256: stored.sha256,
        storage_key: stored.key.clone(),
        revision: None,
        uploaded_by: actor.display_name.clone(),
        created_at: chrono::Utc::now(),
    };
    let committed = async {
        let mut conn = crate::db::conn(&state.pool).await?;
        conn.transaction::<_, ApiError, _>(async |conn| {
            let current = report_now(conn, &actor, &t).await?;
            if current.id != report.id {
                return Err(ApiError::not_found("report"));
            }
            // The task is locked as its deletion locks it, so neither misses the other.
            if let Some(task) = &task
                && task_store::get_for_update(conn, task.plan_id, task.id)
                    .await?
                    .is_none()
            {
                return Err(ApiError::not_found("task"));
            }
            let row = store::insert(conn, &row).await?;
            let task = task.as_ref().map(|task| task.code.as_str());
            audit::append(conn, &by, event("attachment.upload", &t, &row, task)).await?;
            Ok(row)
        })
        .await
    }
    .await;
    let row = match committed {
        Ok(row) => row,
        Err(e) => {
            // Not acknowledged: the file goes now (or the sweeper takes it later).
            let _ = state
                .attachments
                .delete(&Path::from(stored.key.as_str()))
                .await;
            return Err(e);
        }
    };
    let codes = task
        .map(|task| HashMap::from([(task.id, task.code)]))
        .unwrap_or_default();
    let body = to_api(&t, &codes, row);
    let mut res = HttpResponse::Created().json(&body);
    if let Ok(v) = HeaderValue::from_str(&body.href) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// The report's attachments, oldest first, each with the revision it was frozen with
/// and the task whose progress it documents, if any; `task` keeps those of one task.
#[utoipa::path(
    operation_id = "listAttachments",
    tag = "attachments",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ListQuery),
    responses((status = 200, body = Page<Attachment>))
)]
#[get("/periods/{period_id}/reports/{unit}/attachments")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    path: ReportPath,
    q: crate::extract::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Attachment>>> {
    policy::require(&actor, Action::ReadReports)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let rows = match &t.report {
        Some(r) => store::list(&mut conn, r.id).await?,
        None => Vec::new(),
    };
    let codes = task_codes(&mut conn, &t, &rows).await?;
    let items = rows
        .into_iter()
        .map(|r| to_api(&t, &codes, r))
        .filter(|a| q.task.is_none() || a.task == q.task)
        .collect();
    Ok(web::Json(Page::slice(items, page)))
}

/// The file, streamed as it was uploaded: its stored type, `Content-Disposition:
/// attachment` with the original name (RFC 6266 `filename*`), and
/// `X-Content-Type-Options: nosniff`.
#[utoipa::path(
    operation_id = "downloadAttachment",
    tag = "attachments",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("attachment_id" = Uuid, Path, description = "Attachment id")),
    responses((status = 200, description = "The file's bytes, in its stored type (PDF, JPEG, PNG, DOCX or XLSX)", content_type = "application/octet-stream", body = Vec<u8>, headers(("Content-Disposition" = String), ("X-Content-Type-Options" = String))))
)]
#[get("/periods/{period_id}/reports/{unit}/attachments/{attachment_id}")]
pub async fn download(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String, Uuid)>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ReadReports)?;
    let (period_id, unit_ref, id) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let report = t
        .report
        .as_ref()
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let row = store::find(&mut conn, report.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    drop(conn);
    let got = state
        .attachments
        .get(&Path::from(row.storage_key.as_str()))
        .await
        .map_err(storage_error)?;
    let stream = got
        .into_stream()
        .map(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
    let mut res = HttpResponse::Ok();
    res.content_type(row.content_type.as_str())
        .insert_header((
            header::CONTENT_DISPOSITION,
            super::content_disposition(&row.file_name),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Scans and office files are compressed already: passed on as they are.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .insert_header((header::ETAG, format!("\"{}\"", row.sha256)));
    Ok(res.no_chunking(row.size_bytes as u64).streaming(stream))
}

/// Removes an attachment of a draft (or returned) report. One frozen with a submitted
/// revision is never removed: 409 `attachment_frozen`.
#[utoipa::path(
    operation_id = "deleteAttachment",
    tag = "attachments",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), ("attachment_id" = Uuid, Path, description = "Attachment id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "Frozen with a submitted revision (`attachment_frozen`), the report is not editable, or the period is locked", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/periods/{period_id}/reports/{unit}/attachments/{attachment_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String, Uuid)>,
) -> ApiResult<HttpResponse> {
    require_writer(&actor)?;
    let (period_id, unit_ref, id) = path.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = report_routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let report = t
        .report
        .clone()
        .ok_or_else(|| ApiError::not_found("attachment"))?;
    let key = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = store::find(conn, report.id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("attachment"))?;
            if let Some(n) = row.revision {
                return Err(ApiError::conflict(
                    "attachment_frozen",
                    format!("the attachment was submitted with revision {n} and is kept for good"),
                )
                .vi(format!(
                    "Tệp đính kèm đã được nộp cùng lần nộp thứ {n} và được lưu giữ, không thể xóa"
                )));
            }
            report_now(conn, &actor, &t).await?;
            store::delete(conn, row.id).await?;
            let codes = task_codes(conn, &t, std::slice::from_ref(&row)).await?;
            let task = row
                .subject_id
                .and_then(|id| codes.get(&id))
                .map(String::as_str);
            audit::append(conn, &by, event("attachment.delete", &t, &row, task)).await?;
            Ok(row.storage_key)
        })
        .await?;
    // After the commit; a failure here leaves an orphan the sweeper removes.
    if let Err(e) = state.attachments.delete(&Path::from(key.as_str())).await {
        tracing::warn!(key = %key, error = %e, "removing a deleted attachment's file failed");
    }
    Ok(HttpResponse::NoContent().finish())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(upload)
        .service(list)
        .service(download)
        .service(remove);
}
