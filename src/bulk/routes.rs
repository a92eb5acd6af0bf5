//! `GET /api/v1/periods/{period_id}/data`: the tidy table of every value of every
//! report in the caller's scope, as a JSON page, an NDJSON stream, CSV, XLSX or ADX.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::adx;
use super::codes::{self, DataElementCodes};
use super::data::{self, DataRow, Selection};
use crate::AppState;
use crate::auth::Actor;
use crate::auth::policy::{self, Action, Role};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageRequest};
use crate::plans::routes::readable_period;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const NDJSON: &str = "application/x-ndjson";

#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// A page of rows (`limit`, `offset`).
    Json,
    /// Every row, one JSON object a line, streamed.
    Ndjson,
    /// Every row, one CSV table.
    Csv,
    /// Every row, one XLSX sheet.
    Xlsx,
    /// The mapped numbers as an ADX message (see the plan's data element codes).
    Adx,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// Only this unit's subtree (id or code); it must be in the caller's scope.
    pub unit: Option<String>,
    /// Report statuses, separated by commas (`submitted,accepted`) or repeated.
    /// Default every status; for ADX, `accepted`.
    #[param(
        pattern = r"^((draft|submitted|returned|accepted)(,(draft|submitted|returned|accepted))*)?$"
    )]
    pub status: Option<String>,
    /// Field codes, separated by commas or repeated; a repeatable list's code takes
    /// all its fields (`activities`). Default every field.
    pub field: Option<String>,
    /// Overrides the Accept header: json, ndjson, csv, xlsx or adx.
    #[param(inline)]
    pub format: Option<DataFormat>,
    /// Rows per page (JSON only), 1 to 500; default 50.
    pub limit: Option<i64>,
    /// Rows to skip (JSON only).
    pub offset: Option<i64>,
}

fn wanted_format(req: &HttpRequest, explicit: Option<DataFormat>) -> ApiResult<DataFormat> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let offered = [
        "application/json",
        NDJSON,
        "text/csv",
        XLSX,
        adx::MEDIA_TYPE,
    ];
    match crate::conneg::choose(accept, &offered) {
        Some(NDJSON) => Ok(DataFormat::Ndjson),
        Some("text/csv") => Ok(DataFormat::Csv),
        Some(XLSX) => Ok(DataFormat::Xlsx),
        Some(adx::MEDIA_TYPE) => Ok(DataFormat::Adx),
        Some(_) => Ok(DataFormat::Json),
        None => Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "the data is available as application/json, application/x-ndjson, text/csv, \
             the XLSX type or application/adx+xml",
        )
        .vi("Dữ liệu chỉ có ở dạng JSON, NDJSON, CSV, XLSX hoặc ADX")),
    }
}

/// The query with repeated `status` and `field` parameters joined into one list each
/// (`status=draft&status=returned` is `status=draft,returned`).
fn merged_lists(query: &str) -> String {
    let mut lists: [(&str, Vec<String>); 2] = [("status", Vec::new()), ("field", Vec::new())];
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match lists.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v.into_owned()),
            None => {
                out.append_pair(&k, &v);
            }
        }
    }
    for (name, values) in &lists {
        if !values.is_empty() {
            out.append_pair(name, &values.join(","));
        }
    }
    out.finish()
}

/// The `LIKE` pattern of the caller's scope.
fn scope_pattern(actor: &Actor) -> String {
    match (actor.role, policy::scope_prefix(actor)) {
        (_, None) => "%".to_string(),
        (Role::Reporter, Some(path)) => path.to_string(),
        (_, Some(path)) => format!("{path}%"),
    }
}

/// The weak `ETag` of one representation: the data under it (`fingerprint`), who asks
/// (the scope decides the rows) and what is asked.
fn etag(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [env!("CARGO_PKG_VERSION")].iter().chain(parts) {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("W/\"d-{}\"", &hex::encode(h.finalize())[..32])
}

fn with_headers(mut res: HttpResponse, tag: &str) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(tag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("Accept"));
    res
}

fn attachment(content_type: &str, name: String, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body)
}

/// Every value of every report of the period in the caller's scope (a reporter's own
/// unit, a coordinator's or viewer's subtree, everything for an admin), as a tidy
/// long table: one row per unit and field, and per item of a repeatable list
/// (`field_code` `activities.cost_vnd`, `item` 1, 2, …). Filters: `unit` (a
/// subtree), `status`, `field`. By `Accept` or `?format=`: a JSON page (ordered by
/// unit code, then field), every row as NDJSON (streamed), CSV (one table, English
/// headings, UTF-8) or XLSX (one sheet); or ADX for national systems, over the plan's
/// data element codes (accepted reports unless `status` says otherwise).
///
/// Each response carries a weak `ETag`; send it back in `If-None-Match` and get 304
/// until a report of the period, the tree, the plan or (for ADX) its codes change.
#[utoipa::path(
    operation_id = "getPeriodData",
    tag = "reports",
    params(
        ("period_id" = Uuid, Path, description = "Period id"),
        DataQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of data already held: 304 while nothing under it changed", pattern = r#"^(\*|(W/)?"[!#-~]+")$"#),
    ),
    responses(
        (status = 200, headers(("ETag" = String, description = "Weak tag of this representation; send it back in If-None-Match")), content(
            (Page<DataRow> = "application/json"),
            (String = "application/x-ndjson"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "application/adx+xml"),
        )),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No such period, or the `unit` filter names no unit in scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 406, description = "Unsupported Accept", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "ADX asked for, but the plan has no data element codes (`data_element_codes_missing`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/periods/{period_id}/data")]
pub async fn period_data(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    period_id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ReadReports)?;
    let q: DataQuery = crate::extract::parse_query(&merged_lists(req.query_string()))?;
    let format = wanted_format(&req, q.format)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut statuses = data::parse_statuses(q.status.as_deref())?;
    if statuses.is_empty() && format == DataFormat::Adx {
        statuses.push("accepted".to_string());
    }
    let fields = data::parse_fields(q.field.as_deref());
    let mut conn = crate::db::conn(&state.pool).await?;
    // What the tag stands on is read in one snapshot with the objects it names.
    let (period, subtree, fingerprint, mapping) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |conn| {
            let (period, plan) = readable_period(conn, &actor, *period_id).await?;
            let subtree = match &q.unit {
                Some(u) => Some(crate::org::routes::visible_unit(conn, &actor, u).await?),
                None => None,
            };
            let fingerprint = crate::compile::store::fingerprints(conn, &[period.id])
                .await?
                .remove(&period.id)
                .map(|m| m.whole())
                .unwrap_or_default();
            let mapping = if format == DataFormat::Adx {
                Some((
                    codes::get(conn, plan.id).await?,
                    codes::mark(conn, plan.id).await?,
                ))
            } else {
                None
            };
            Ok::<_, ApiError>((period, subtree, fingerprint, mapping))
        })
        .await?;
    let sel = Selection {
        period_id: period.id,
        scope: scope_pattern(&actor),
        subtree: subtree
            .as_ref()
            .map_or("%".to_string(), |u| format!("{}%", u.path)),
        statuses,
        fields,
        units: Vec::new(),
    };
    let paging = if format == DataFormat::Json {
        format!("{}/{}", page.limit, page.offset)
    } else {
        String::new()
    };
    let tag = etag(&[
        &period.id.to_string(),
        &fingerprint,
        actor.role.as_str(),
        &actor.scope_path,
        &sel.subtree,
        &sel.statuses.join(","),
        &sel.fields.join(","),
        &format!("{format:?}"),
        &paging,
        mapping.as_ref().map_or("-", |(_, m)| m.as_str()),
    ]);
    if crate::compile::routes::if_none_match(&req, &tag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let stem = format!(
        "du-lieu-{}{}",
        period.code,
        subtree
            .as_ref()
            .map_or(String::new(), |u| format!("-{}", u.code))
    );
    let res = match format {
        DataFormat::Json => {
            let (items, total) = data::page(&mut conn, &sel, page).await?;
            HttpResponse::Ok().json(Page::new(items, total, page))
        }
        DataFormat::Ndjson => {
            drop(conn);
            stream_ndjson(state.pool.clone(), sel)
        }
        DataFormat::Csv => {
            let rows: Vec<DataRow> = data::all(&sel).load(&mut conn).await?;
            drop(conn);
            let bytes = web::block(move || data::to_csv(&rows))
                .await
                .map_err(ApiError::internal)??;
            attachment("text/csv; charset=utf-8", format!("{stem}.csv"), bytes)
        }
        DataFormat::Xlsx => {
            let rows: Vec<DataRow> = data::all(&sel).load(&mut conn).await?;
            drop(conn);
            let bytes = web::block(move || data::to_xlsx(&rows))
                .await
                .map_err(ApiError::internal)??;
            attachment(XLSX, format!("{stem}.xlsx"), bytes)
        }
        DataFormat::Adx => {
            let Some((mapping, _)) = mapping else {
                return Err(ApiError::internal(anyhow::anyhow!("no mapping read")));
            };
            let (data_set, codes) = usable(mapping)?;
            let mapped: Vec<String> = codes
                .iter()
                .map(|c| c.field.clone())
                .filter(|f| sel.fields.is_empty() || sel.fields.contains(f))
                .collect();
            let sel = Selection {
                fields: mapped,
                ..sel
            };
            let rows: Vec<DataRow> = if sel.fields.is_empty() {
                Vec::new()
            } else {
                data::all(&sel).load(&mut conn).await?
            };
            drop(conn);
            let period_text = adx::iso_period(period.window_start, period.window_end);
            let xml = adx::to_adx(chrono::Utc::now(), &period_text, &data_set, &codes, &rows);
            attachment(
                &format!("{}; charset=utf-8", adx::MEDIA_TYPE),
                format!("{stem}.adx.xml"),
                xml.into_bytes(),
            )
        }
    };
    Ok(with_headers(res, &tag))
}

/// The data set and the codes of a mapping that can be written, or the 409 that says
/// to set them first.
fn usable(mapping: DataElementCodes) -> ApiResult<(String, Vec<codes::DataElementCode>)> {
    match mapping.data_set {
        Some(set) if !mapping.codes.is_empty() => Ok((set, mapping.codes)),
        _ => Err(ApiError::conflict(
            "data_element_codes_missing",
            format!(
                "the plan has no data element codes for ADX yet; a coordinator sets them \
                 with PUT /api/v1/plans/{}/data-element-codes",
                mapping.plan_id
            ),
        )
        .vi(format!(
            "Kế hoạch chưa có bảng mã chỉ tiêu để xuất ADX; cán bộ điều phối thiết lập tại \
             PUT /api/v1/plans/{}/data-element-codes",
            mapping.plan_id
        ))),
    }
}

/// Units whose rows one statement of a stream reads.
const STREAM_UNITS: usize = 200;

/// Every row as NDJSON, streamed: a task of its own reads the rows a chunk of units at
/// a time (each a short statement on a connection it gives back), and hands each
/// chunk over as it is written, so neither memory nor a pool connection is held for
/// however long the client takes to read. A failure half-way ends the body early
/// (the client sees an unfinished chunked response, never a silently short file).
fn stream_ndjson(pool: crate::db::Pool, sel: Selection) -> HttpResponse {
    type Chunk = Result<web::Bytes, std::io::Error>;
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(2);
    tokio::spawn(async move {
        let run = async {
            let units = {
                let mut conn = crate::db::conn(&pool).await?;
                data::units(&mut conn, &sel).await?
            };
            for chunk in units.chunks(STREAM_UNITS) {
                let part = Selection {
                    units: chunk.to_vec(),
                    ..sel.clone()
                };
                let rows: Vec<DataRow> = {
                    let mut conn = crate::db::conn(&pool).await?;
                    data::all(&part).load(&mut conn).await?
                };
                let mut buf = Vec::with_capacity(rows.len() * 256);
                for row in &rows {
                    serde_json::to_writer(&mut buf, row).map_err(ApiError::internal)?;
                    buf.push(b'\n');
                }
                if tx.send(Ok(web::Bytes::from(buf))).await.is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
            Ok::<_, ApiError>(())
        };
        if let Err(e) = run.await {
            tracing::warn!(error = %e, "the NDJSON stream of a period's data failed");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    HttpResponse::Ok().content_type(NDJSON).streaming(body)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(period_data)
        .service(codes::get_codes)
        .service(codes::put_codes);
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeated_lists_are_joined() {
        assert_eq!(
            super::merged_lists("status=draft&unit=A&status=returned&field=x&limit=5"),
            "unit=A&limit=5&status=draft%2Creturned&field=x"
        );
        assert_eq!(super::merged_lists(""), "");
    }
}
