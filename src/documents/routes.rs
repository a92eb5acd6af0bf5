//! `/api/v1/org-units/{unit}/document-settings`: read by anyone who sees the unit,
//! replaced by an admin or a coordinator in scope, audited.

use actix_web::http::header;
use actix_web::{HttpResponse, get, put, web};
use diesel_async::AsyncConnection;
use serde_json::json;

use super::model::{DocumentSettings, PutDocumentSettings};
use super::store;
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult, Issue};
use crate::org::routes::visible_unit;
use crate::plans::store as plan_store;
use uuid::Uuid;

/// The unit's document settings: the stored ones, or the defaults from the tree
/// (`is_default`).
#[utoipa::path(
    operation_id = "getDocumentSettings",
    tag = "org-units",
    params(("unit" = String, Path, description = "Unit id or code")),
    responses((status = 200, body = DocumentSettings))
)]
#[get("/org-units/{unit}/document-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
) -> ApiResult<web::Json<DocumentSettings>> {
    policy::require(&actor, Action::ReadOrgUnits)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let unit = visible_unit(&mut conn, &actor, &unit).await?;
    Ok(web::Json(super::for_unit(&mut conn, &unit).await?))
}

/// White space as the schema's patterns (ECMA-262 `\s`) know it, so that what the
/// document allows and what is refused are the same set.
fn space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Every text trimmed; the issues of those out of bounds.
fn checked(b: PutDocumentSettings) -> ApiResult<PutDocumentSettings> {
    let mut issues = Vec::new();
    let mut text = |path: &str, v: String, min: usize, max: usize| {
        let v = v.trim_matches(space).to_string();
        let n = v.chars().count();
        if n < min || n > max {
            let (code, message) = if n < min {
                ("empty", "must not be empty".to_string())
            } else {
                ("too_long", format!("at most {max} characters"))
            };
            issues.push(Issue::new(format!("body.{path}"), code, message));
        }
        v
    };
    let mut out = PutDocumentSettings {
        superior_body: text("superior_body", b.superior_body, 0, 200),
        issuing_body: text("issuing_body", b.issuing_body, 1, 200),
        abbreviation: text("abbreviation", b.abbreviation, 1, 40),
        place: text("place", b.place, 1, 100),
        signer_authority: text("signer_authority", b.signer_authority, 0, 100),
        signer_title: text("signer_title", b.signer_title, 1, 100),
        signer_name: text("signer_name", b.signer_name, 0, 100),
        recipients: Vec::new(),
        drafting_unit: text("drafting_unit", b.drafting_unit, 0, 40),
    };
    let too_many = b.recipients.len() > 20;
    for (i, r) in b.recipients.into_iter().enumerate() {
        out.recipients
            .push(text(&format!("recipients[{i}]"), r, 1, 200));
    }
    if too_many {
        issues.push(Issue::new(
            "body.recipients",
            "too_many_items",
            "at most 20 recipients",
        ));
    }
    // The number line is `Số: …/BC-{abbreviation}`: one word, no slash.
    for (path, v) in [
        ("abbreviation", &out.abbreviation),
        ("drafting_unit", &out.drafting_unit),
    ] {
        if v.contains(|c: char| space(c) || c == '/') {
            issues.push(Issue::new(
                format!("body.{path}"),
                "invalid_code",
                "an abbreviation without spaces or slashes, e.g. SVHTT",
            ));
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(
            format!("{} document setting(s) refused", issues.len()),
            issues,
        ))
    }
}

/// Replaces the unit's document settings (admins, coordinators in scope): what its
/// compiled report and its own report print in the heading, the signature block and
/// "Nơi nhận".
#[utoipa::path(
    operation_id = "putDocumentSettings",
    tag = "org-units",
    params(("unit" = String, Path, description = "Unit id or code")),
    request_body = PutDocumentSettings,
    responses((status = 200, body = DocumentSettings))
)]
#[put("/org-units/{unit}/document-settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    actor: Actor,
    unit: web::Path<String>,
    body: crate::extract::Json<PutDocumentSettings>,
) -> ApiResult<web::Json<DocumentSettings>> {
    policy::require(&actor, Action::ManagePlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let unit = visible_unit(&mut conn, &actor, &unit).await?;
    let b = checked(body.into_inner())?;
    let row = store::Row {
        unit_id: unit.id,
        superior_body: b.superior_body,
        issuing_body: b.issuing_body,
        abbreviation: b.abbreviation,
        place: b.place,
        signer_authority: b.signer_authority,
        signer_title: b.signer_title,
        signer_name: b.signer_name,
        recipients: b.recipients,
        drafting_unit: b.drafting_unit,
        updated_by: actor.display_name.clone(),
        updated_at: chrono::Utc::now(),
    };
    let by = By::from(&actor);
    let stored = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let stored = store::put(conn, &row).await?;
            audit::append(
                conn,
                &by,
                Event {
                    action: "org_unit.document_settings",
                    object_type: "org_unit",
                    object_id: unit.id.to_string(),
                    unit_id: Some(unit.id),
                    change: json!({
                        "unit": unit.code, "superior_body": stored.superior_body,
                        "issuing_body": stored.issuing_body, "abbreviation": stored.abbreviation,
                        "place": stored.place, "signer_authority": stored.signer_authority,
                        "signer_title": stored.signer_title, "signer_name": stored.signer_name,
                        "recipients": stored.recipients, "drafting_unit": stored.drafting_unit,
                    }),
                },
            )
            .await?;
            Ok(stored)
        })
        .await?;
    Ok(web::Json(super::from_row(&unit, stored)))
}

/// The date a document prints.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    /// The date in the date line (`2024-11-25`); by default "ngày … tháng … năm …" is
    /// left for the office to fill in when it signs.
    pub date: Option<chrono::NaiveDate>,
}

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The unit's report as a document for its head to sign: the unit's heading (its
/// document settings), the opening citing the plan, every section of the form with
/// the unit's figures and texts, its progress on the plan's tasks and the unit's
/// signature block. The draft as it stands (marked as such), or the submitted report.
/// A unit that has not started its report gets the form with nothing filled in.
/// Scope is the report's: reporters of the unit, coordinators and viewers above it.
#[utoipa::path(
    operation_id = "getReportDocument",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id"), ("unit" = String, Path, description = "Unit id or code"), DocumentQuery),
    responses((status = 200, description = "The report as a .docx", content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document", body = Vec<u8>, headers(("Content-Disposition" = String))))
)]
#[get("/periods/{period_id}/reports/{unit}/document")]
pub async fn report_document(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(Uuid, String)>,
    q: crate::extract::Query<DocumentQuery>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ReadReports)?;
    let (period_id, unit_ref) = path.into_inner();
    let mut conn = crate::db::conn(&state.pool).await?;
    let t = crate::reports::routes::target(&mut conn, &actor, period_id, &unit_ref).await?;
    let plan = plan_store::get_plan(&mut conn, t.period.plan_id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    let form = match &t.report {
        Some(r) => Some(plan_store::get_form_by_id(&mut conn, r.form_id).await?),
        None => plan_store::get_form(&mut conn, plan.id, None).await?,
    }
    .ok_or_else(|| ApiError::not_found("form"))?;
    let data = match &t.report {
        Some(r) => r.data()?,
        None => Default::default(),
    };
    let titles: Vec<(String, String)> = crate::tasks::store::list(&mut conn, plan.id)
        .await?
        .into_iter()
        .map(|task| (task.code, task.title_vi))
        .collect();
    let letter = crate::compile::routes::letter(&mut conn, &plan, &t.unit, q.date).await?;
    drop(conn);
    let name = format!("bao-cao-{}-{}.docx", t.period.code, t.unit.code);
    let status = t
        .report
        .as_ref()
        .map_or("draft", |r| r.status.as_str())
        .to_string();
    let revision = t.report.as_ref().and_then(|r| r.revision);
    let bytes = web::block(move || {
        let facts = super::unit_report::ReportFacts {
            unit_name: &t.unit.name,
            period_name: &t.period.name,
            period_code: &t.period.code,
            window_start: t.period.window_start,
            window_end: t.period.window_end,
            status: &status,
            revision,
            task_titles: &titles,
            generated_at: chrono::Utc::now(),
        };
        super::unit_report::to_docx(&form.definition, &data, &facts, &letter)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(HttpResponse::Ok()
        .content_type(DOCX)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(bytes))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_settings)
        .service(put_settings)
        .service(report_document);
}
