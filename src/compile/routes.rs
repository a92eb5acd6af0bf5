//! `GET /api/v1/periods/{period_id}/compilation` and `GET /api/v1/indicators/trend`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Datelike;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::*;
use crate::AppState;
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::org::store::{self as org_store, Row as UnitRow};
use crate::plans::indicator::met;
use crate::plans::routes::readable_period;
use crate::plans::store as plan_store;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// The unit whose subtree is compiled: the one asked for, or the caller's scope root.
async fn root_unit(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    unit: Option<&str>,
) -> ApiResult<UnitRow> {
    let row = match unit {
        Some(u) => org_store::find(conn, u).await?,
        None => org_store::find_by_id(conn, actor.unit_id).await?,
    }
    .ok_or_else(|| ApiError::not_found("org unit"))?;
    policy::require_in_scope(actor, &row.path, "org unit")?;
    Ok(row)
}

fn wanted_format(req: &HttpRequest, explicit: Option<Format>) -> ApiResult<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let offered = ["application/json", "text/csv", XLSX, DOCX];
    match crate::conneg::choose(accept, &offered) {
        Some("text/csv") => Ok(Format::Csv),
        Some(t) if t == offered[2] => Ok(Format::Xlsx),
        Some(t) if t == offered[3] => Ok(Format::Docx),
        Some(_) => Ok(Format::Json),
        None => Err(ApiError::new(
            actix_web::http::StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "the compilation is available as application/json, text/csv, or the XLSX or DOCX type",
        )
        .vi("Báo cáo tổng hợp chỉ có ở dạng JSON, CSV, XLSX hoặc DOCX")),
    }
}

/// The compiled report of a subtree for a period — completeness and timeliness,
/// indicators against targets, totals, female shares, activities by type and the
/// narratives — with the previous period of the same kind beside it. Accepted reports
/// only, unless `include=submitted`. JSON, CSV or XLSX by `Accept` or `?format=`; or,
/// as DOCX, the draft of the compiled report in the administrative format of Decree
/// 30/2020/NĐ-CP, for the office to edit, number and sign.
///
/// Completeness counts against the period's expected units, and every figure says what
/// it covers: `coverage` (reports counted out of units expected, and the expected units
/// not counted), and `reports` on each total.
///
/// `parts` answers only some parts of the JSON (`parts=indicators,totals`): a city
/// system that wants the figures is spared the narratives, which are not even
/// compiled then.
///
/// Each response carries an `ETag`; a caller that polls sends it back in
/// `If-None-Match` and gets 304 until a report, the expected units, the tree or the
/// plan changes.
#[utoipa::path(
    operation_id = "getCompilation",
    tag = "compilation",
    params(
        ("period_id" = Uuid, Path, description = "Period id"),
        CompilationQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a compilation already held: 304 while nothing under it changed", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#),
    ),
    responses(
        (status = 200, headers(("ETag" = String, description = "Weak tag of this representation; send it back in If-None-Match")), content(
            (super::parts::CompilationDoc = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        )),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`: no data under the compilation changed"),
        (status = 406, description = "Unsupported Accept", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/periods/{period_id}/compilation")]
pub async fn compilation(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    period_id: web::Path<Uuid>,
    q: crate::extract::Query<CompilationQuery>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::Compile)?;
    let q = q.into_inner();
    let include = q.include == Some(Include::Submitted);
    let format = wanted_format(&req, q.format)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    // The period, plan and root are read in the same snapshot as the fingerprint of
    // the data, so a cached part can never be older than the fingerprint it is kept
    // under (a change committed in between would otherwise be in the one, not the other).
    let (period, plan, root, basis) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| {
            let (period, plan) = readable_period(conn, &actor, *period_id).await?;
            // A unit above the plan's issuer compiles the issuer's subtree.
            let asked = root_unit(conn, &actor, q.unit.as_deref()).await?;
            let root = super::effective_root(conn, &asked, &plan)
                .await?
                .ok_or_else(|| ApiError::not_found("org unit"))?;
            let basis = super::basis(conn, &period, &plan).await?;
            Ok::<_, ApiError>((period, plan, root, basis))
        })
        .await?;
    drop(conn);
    let detail = q.detail == Some(Detail::Units);
    // The documents hold every part; JSON only those asked for.
    let parts = match (&q.parts, format) {
        (Some(asked), Format::Json) => super::parts::Parts::only(asked),
        _ => super::parts::Parts::all(),
    };
    // The DOCX prints the root's document settings and a date as well: its tag
    // covers them.
    let letter = match format {
        Format::Docx => {
            let mut conn = crate::db::conn(&state.pool).await?;
            Some(letter(&mut conn, &plan, &root, q.date).await?)
        }
        _ => None,
    };
    let printed = letter.as_ref().map(|l| {
        format!(
            "{:?}|{:?}|{:?}",
            l.date, l.settings.updated_at, l.settings.is_default
        )
    });
    let etag = basis.etag(
        &period,
        &root,
        include,
        format,
        detail,
        &parts,
        printed.as_deref().unwrap_or("-"),
    );
    if if_none_match(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let mut compiled = super::compile(
        &state.pool,
        &state.compilations,
        &basis,
        &period,
        &plan,
        &root,
        include,
        &parts,
    )
    .await?;
    if detail {
        compiled.units =
            Some(super::unit_figures(&state.pool, &period, &plan, &root, include).await?);
    }
    let stem = format!("tong-hop-{}-{}", period.code, root.code);
    let mut res = match format {
        Format::Json => HttpResponse::Ok().json(super::parts::Shaped {
            compilation: &compiled,
            parts: &parts,
        }),
        Format::Csv => {
            let bytes = web::block(move || super::export::to_csv(&compiled))
                .await
                .map_err(ApiError::internal)??;
            HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{stem}.csv\""),
                ))
                .body(bytes)
        }
        Format::Xlsx => {
            let bytes = web::block(move || super::export::to_xlsx(&compiled))
                .await
                .map_err(ApiError::internal)??;
            HttpResponse::Ok()
                .content_type(XLSX)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{stem}.xlsx\""),
                ))
                .body(bytes)
        }
        Format::Docx => {
            let name = format!("bao-cao-{}-{}.docx", period.code, root.code);
            let letter = letter.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("the DOCX letter is read before the tag"))
            })?;
            let bytes = web::block(move || super::docx::to_docx(&compiled, &letter))
                .await
                .map_err(ApiError::internal)??;
            HttpResponse::Ok()
                .content_type(DOCX)
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ))
                .body(bytes)
        }
    };
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    // The representation depends on Accept: caches must key on it.
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    Ok(res)
}

/// What the DOCX prints besides the figures: the root's document settings, the plan
/// it reports on, and what of the form orders the tables.
pub(crate) async fn letter(
    conn: &mut AsyncPgConnection,
    plan: &plan_store::PlanRow,
    root: &UnitRow,
    date: Option<chrono::NaiveDate>,
) -> ApiResult<super::docx::Letter> {
    let settings = crate::documents::for_unit(conn, root).await?;
    let issuer = org_store::find_by_id(conn, plan.issuing_unit_id).await?;
    let form = plan_store::get_form(conn, plan.id, None).await?;
    let (paired_fields, activity_order) =
        form.map(|f| form_order(&f.definition)).unwrap_or_default();
    Ok(super::docx::Letter {
        settings,
        plan: super::docx::PlanBasis {
            document_number: plan.document_number.clone(),
            issue_date: plan.issue_date,
            title: plan.title.clone(),
            legal_basis: plan.legal_basis.clone(),
            issuer_name: issuer.map(|u| u.name).unwrap_or_default(),
        },
        date,
        paired_fields,
        activity_order,
    })
}

/// The form's sex-disaggregated fields, and its activity types in order.
fn form_order(form: &crate::plans::form::FormDefinition) -> (Vec<String>, Vec<String>) {
    let paired = form
        .pairs
        .iter()
        .flat_map(|p| [p.total.clone(), p.female.clone()])
        .collect();
    let types = form
        .lists()
        .filter_map(|(_, l)| {
            l.fields
                .iter()
                .find(|f| f.kind == crate::plans::form::FieldType::Choice)
        })
        .flat_map(|f| f.options.iter().flatten().map(|o| o.code.clone()))
        .collect();
    (paired, types)
}

/// Whether `If-None-Match` names the current tag (weak comparison, RFC 9110 §13.1.2).
pub(crate) fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let current = bare(etag);
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || bare(t) == current)
}

/// One indicator over every period of every plan that defines it (by code), for the
/// caller's subtree or the one asked for: data for charts, oldest period first.
#[utoipa::path(
    operation_id = "getIndicatorTrend",
    tag = "compilation",
    params(TrendQuery),
    responses(
        (status = 200, body = Trend),
        (status = 404, description = "No such unit in scope, or no plan has the indicator", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/indicators/trend")]
pub async fn trend(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<TrendQuery>,
) -> ApiResult<web::Json<Trend>> {
    policy::require(&actor, Action::Compile)?;
    let q = q.into_inner();
    let include = q.include == Some(Include::Submitted);
    let mut conn = crate::db::conn(&state.pool).await?;
    let root = root_unit(&mut conn, &actor, q.unit.as_deref()).await?;
    let mut points = Vec::new();
    let mut found = false;
    let plans = plan_store::list_plans(&mut conn, None, None).await?;
    for plan in plans
        .iter()
        .filter(|p| policy::sees_plan(&actor, &p.unit_path))
    {
        let Some(ind) = plan_store::list_indicators(&mut conn, plan.id)
            .await?
            .into_iter()
            .find(|i| i.code == q.indicator)
        else {
            continue;
        };
        found = true;
        let Some(scoped) = super::effective_root(&mut conn, &root, plan).await? else {
            continue;
        };
        let periods = plan_store::list_periods(
            &mut conn,
            &plan_store::PeriodFilter {
                plan_id: Some(plan.id),
                code: None,
                kind: None,
                status: None,
            },
        )
        .await?;
        let direction = ind.to_api().direction;
        for (period, _) in periods {
            let Some((v, reports_included)) =
                super::one_indicator(&mut conn, &period, plan, &scoped, include, &ind).await?
            else {
                continue;
            };
            let states =
                super::store::unit_states(&mut conn, period.id, &scoped.path, plan.issuing_unit_id)
                    .await?;
            let coverage =
                super::maths::coverage(&states, &super::maths::included_statuses(include), true);
            points.push(TrendPoint {
                period: super::period_ref(&period, plan),
                name_vi: ind.name_vi.clone(),
                value: v.value,
                numerator: v.numerator,
                denominator: v.denominator,
                target: ind.target,
                met: met(v.value, ind.target, direction),
                targets: super::judged_targets(&ind, direction, v.value, period.window_end.year()),
                reports_included,
                coverage,
            });
        }
    }
    if !found {
        return Err(ApiError::not_found("indicator"));
    }
    points.sort_by(|a, b| {
        a.period
            .window_start
            .cmp(&b.period.window_start)
            .then(a.period.code.cmp(&b.period.code))
    });
    Ok(web::Json(Trend {
        unit: super::unit_ref(&root),
        indicator: q.indicator,
        points,
    }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(compilation).service(trend);
}
