//! Every value of every report of a period, as a tidy long table: one row per unit and
//! field (and item of a repeatable list), unpacked from the reports' JSON in
//! PostgreSQL and ordered there, so pages, streams and files all read one query.
//!
//! How values flatten: a top-level field is a row with `field_code` = its code and no
//! `item`; a field of a repeatable list's item is a row with `field_code` =
//! `<list>.<field>` and `item` = the item's position in the list (from 1). Values keep
//! their JSON type in JSON and NDJSON; in CSV and XLSX numbers are numbers, booleans
//! `true`/`false`, text as it is, and a multiple choice is its JSON text
//! (`["a","b"]`). Values not filled in (`null`) have no row.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{
    Array, BigInt, Bool, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::reports::workflow::ReportStatus;

/// Which reports and fields a table covers.
#[derive(Clone, Debug)]
pub struct Selection {
    pub period_id: Uuid,
    /// `LIKE` pattern of the caller's scope: `%` for all, the exact path for a reporter,
    /// the path and `%` for a subtree.
    pub scope: String,
    /// `LIKE` pattern of the subtree asked for (`%` when none).
    pub subtree: String,
    /// Report statuses to include; empty for all.
    pub statuses: Vec<String>,
    /// Field codes (or list codes, for all of a list's fields); empty for all.
    pub fields: Vec<String>,
    /// Only these units' reports (by code); empty for all. A stream reads its rows a
    /// chunk of units at a time.
    pub units: Vec<String>,
}

/// One value of one report.
#[derive(QueryableByName, Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DataRow {
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    /// The unit's place in the tree: the codes from the root down, joined by `/`.
    #[diesel(sql_type = Text)]
    pub unit_path: String,
    /// The field's code; `<list>.<field>` for a field of a repeatable list's item.
    #[diesel(sql_type = Text)]
    pub field_code: String,
    /// For a list item's field: the item's position in the list, from 1; else null.
    #[diesel(sql_type = Nullable<Int4>)]
    #[schema(required = true)]
    pub item: Option<i32>,
    /// The value as the report holds it (a number, text, boolean, date text or a list
    /// of option codes).
    #[diesel(sql_type = Jsonb)]
    #[schema(value_type = CellValue)]
    pub value: serde_json::Value,
    #[diesel(sql_type = Text)]
    #[schema(value_type = ReportStatus)]
    pub report_status: String,
    /// The latest submitted revision's number; null for a report never submitted.
    #[diesel(sql_type = Nullable<Int4>)]
    #[schema(required = true)]
    pub revision: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    #[schema(required = true)]
    pub submitted_at: Option<DateTime<Utc>>,
    /// Whether the latest submission came after the (unit's) due date.
    #[diesel(sql_type = Nullable<Bool>)]
    #[schema(required = true)]
    pub late: Option<bool>,
}

/// A value of a report as the table carries it (for the document; rows hold JSON).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CellValue {
    /// Integer, decimal and money fields.
    Number(f64),
    /// Text, a date (`YYYY-MM-DD`) or a choice's option code.
    Text(String),
    /// A yes/no field.
    Flag(bool),
    /// A multiple choice's option codes.
    Codes(Vec<String>),
}

/// The column headings of the CSV and XLSX tables, in order.
pub const HEADINGS: [&str; 10] = [
    "unit_code",
    "unit_name",
    "unit_path",
    "field_code",
    "item",
    "value",
    "report_status",
    "revision",
    "submitted_at",
    "late",
];

/// `$1` period, `$2` scope pattern, `$3` subtree pattern, `$4` statuses, `$5` fields,
/// `$6` unit codes.
const CELLS: &str = "WITH included AS ( \
       SELECT u.code AS unit_code, u.name AS unit_name, r.status AS report_status, \
              r.revision, r.submitted_at, r.late, r.data, \
              (SELECT string_agg(a.code, '/' ORDER BY p.n) \
                 FROM unnest(string_to_array(trim(BOTH '/' FROM u.path), '/')) \
                      WITH ORDINALITY AS p(id, n) \
                 JOIN org_units a ON a.id = p.id::uuid) AS unit_path \
       FROM reports r JOIN org_units u ON u.id = r.unit_id \
       WHERE r.period_id = $1 AND u.path LIKE $2 AND u.path LIKE $3 \
         AND (cardinality($4::text[]) = 0 OR r.status = ANY($4)) \
         AND (cardinality($6::text[]) = 0 OR u.code = ANY($6)) \
     ), cells AS ( \
       SELECT i.*, NULL::text AS list, v.key AS field_code, NULL::int AS item, v.value \
       FROM included i CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(i.data->'values') = 'object' \
            THEN i.data->'values' ELSE '{}'::jsonb END) AS v \
       UNION ALL \
       SELECT i.*, l.key, l.key || '.' || f.key, e.n::int, f.value \
       FROM included i \
       CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(i.data->'lists') = 'object' \
            THEN i.data->'lists' ELSE '{}'::jsonb END) AS l \
       CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(l.value) = 'array' \
            THEN l.value ELSE '[]'::jsonb END) WITH ORDINALITY AS e(elem, n) \
       CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.elem) = 'object' \
            THEN e.elem ELSE '{}'::jsonb END) AS f \
     ) ";

const WHERE_CELLS: &str = "WHERE c.value <> 'null'::jsonb \
       AND (cardinality($5::text[]) = 0 OR c.field_code = ANY($5) OR c.list = ANY($5))";

const COLUMNS: &str = "c.unit_code, c.unit_name, c.unit_path, c.field_code, c.item, c.value, \
       c.report_status, c.revision, c.submitted_at, c.late";

const ORDER: &str = "ORDER BY c.unit_code, c.list NULLS FIRST, c.item, c.field_code";

fn bind(sql: String, s: &Selection) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<SqlUuid, _>(s.period_id)
        .bind::<Text, _>(s.scope.clone())
        .bind::<Text, _>(s.subtree.clone())
        .bind::<Array<Text>, _>(s.statuses.clone())
        .bind::<Array<Text>, _>(s.fields.clone())
        .bind::<Array<Text>, _>(s.units.clone())
}

/// Every row of the selection, in order: the query a stream or a file runs.
pub fn all(s: &Selection) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    bind(
        format!("{CELLS} SELECT {COLUMNS} FROM cells c {WHERE_CELLS} {ORDER}"),
        s,
    )
}

#[derive(QueryableByName)]
struct UnitCode {
    #[diesel(sql_type = Text)]
    code: String,
}

/// The codes of the units whose reports the selection includes, in order.
pub async fn units(
    conn: &mut diesel_async::AsyncPgConnection,
    s: &Selection,
) -> ApiResult<Vec<String>> {
    use diesel_async::RunQueryDsl;
    let rows: Vec<UnitCode> = diesel::sql_query(
        "SELECT u.code FROM reports r JOIN org_units u ON u.id = r.unit_id \
         WHERE r.period_id = $1 AND u.path LIKE $2 AND u.path LIKE $3 \
           AND (cardinality($4::text[]) = 0 OR r.status = ANY($4)) \
         ORDER BY u.code",
    )
    .bind::<SqlUuid, _>(s.period_id)
    .bind::<Text, _>(&s.scope)
    .bind::<Text, _>(&s.subtree)
    .bind::<Array<Text>, _>(&s.statuses)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.code).collect())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One page of the selection's rows, and how many rows it has in all.
pub async fn page(
    conn: &mut diesel_async::AsyncPgConnection,
    s: &Selection,
    page: crate::pagination::PageRequest,
) -> ApiResult<(Vec<DataRow>, i64)> {
    use diesel_async::RunQueryDsl;
    let total: Count = bind(
        format!("{CELLS} SELECT count(*) AS n FROM cells c {WHERE_CELLS}"),
        s,
    )
    .get_result(conn)
    .await?;
    let rows = bind(
        format!("{CELLS} SELECT {COLUMNS} FROM cells c {WHERE_CELLS} {ORDER} LIMIT $7 OFFSET $8"),
        s,
    )
    .bind::<BigInt, _>(page.limit)
    .bind::<BigInt, _>(page.offset)
    .load(conn)
    .await?;
    Ok((rows, total.n))
}

/// A value as one CSV field.
fn csv_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One CSV table: English headings, then one line per row; UTF-8 without a BOM.
pub fn to_csv(rows: &[DataRow]) -> ApiResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADINGS).map_err(ApiError::internal)?;
    for r in rows {
        w.write_record([
            r.unit_code.clone(),
            r.unit_name.clone(),
            r.unit_path.clone(),
            r.field_code.clone(),
            r.item.map(|i| i.to_string()).unwrap_or_default(),
            csv_value(&r.value),
            r.report_status.clone(),
            r.revision.map(|n| n.to_string()).unwrap_or_default(),
            r.submitted_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.late.map(|l| l.to_string()).unwrap_or_default(),
        ])
        .map_err(ApiError::internal)?;
    }
    w.into_inner()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("csv: {e}")))
}

/// Rows an XLSX sheet holds, the heading included.
const XLSX_MAX_ROWS: usize = 1_048_576;

/// One sheet, `data`, with the CSV's columns; numbers as numbers.
pub fn to_xlsx(rows: &[DataRow]) -> ApiResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    if rows.len() >= XLSX_MAX_ROWS {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!(
                "{} rows do not fit in one XLSX sheet; ask for CSV or NDJSON, or narrow the filters",
                rows.len()
            ),
        ));
    }
    let x = |e: rust_xlsxwriter::XlsxError| ApiError::internal(anyhow::anyhow!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("data").map_err(x)?;
    for (col, h) in HEADINGS.iter().enumerate() {
        ws.write_with_format(0, col as u16, *h, &bold).map_err(x)?;
    }
    ws.set_freeze_panes(1, 0).map_err(x)?;
    for (i, r) in rows.iter().enumerate() {
        let row = (i + 1) as u32;
        ws.write(row, 0, &r.unit_code).map_err(x)?;
        ws.write(row, 1, &r.unit_name).map_err(x)?;
        ws.write(row, 2, &r.unit_path).map_err(x)?;
        ws.write(row, 3, &r.field_code).map_err(x)?;
        if let Some(item) = r.item {
            ws.write(row, 4, item).map_err(x)?;
        }
        match &r.value {
            serde_json::Value::Number(n) => ws.write(row, 5, n.as_f64().unwrap_or(0.0)),
            serde_json::Value::Bool(b) => ws.write(row, 5, *b),
            serde_json::Value::String(s) => {
                ws.write(row, 5, crate::compile::export::xlsx_text(s).as_ref())
            }
            other => ws.write(row, 5, other.to_string()),
        }
        .map_err(x)?;
        ws.write(row, 6, &r.report_status).map_err(x)?;
        if let Some(n) = r.revision {
            ws.write(row, 7, n).map_err(x)?;
        }
        if let Some(t) = r.submitted_at {
            ws.write(row, 8, t.to_rfc3339()).map_err(x)?;
        }
        if let Some(l) = r.late {
            ws.write(row, 9, l).map_err(x)?;
        }
    }
    wb.save_to_buffer().map_err(x)
}

/// The statuses of a `status` filter (`submitted,accepted`), checked.
pub fn parse_statuses(text: Option<&str>) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in text.into_iter().flat_map(|t| t.split(',')) {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        let status: ReportStatus = s.parse().map_err(|e: String| {
            ApiError::bad_request("invalid_query", format!("status: {e}")).with_errors(vec![
                crate::error::Issue::new(
                    "query.status",
                    "unknown_variant",
                    "one or more of draft, submitted, returned, accepted, separated by commas",
                ),
            ])
        })?;
        if !out.iter().any(|x| x == status.as_str()) {
            out.push(status.as_str().to_string());
        }
    }
    out.sort();
    Ok(out)
}

/// The field codes of a `field` filter (`staff_total,activities`).
pub fn parse_fields(text: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = text
        .into_iter()
        .flat_map(|t| t.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_sorted_and_once() {
        assert_eq!(
            parse_statuses(Some("submitted, accepted,submitted")).unwrap(),
            vec!["accepted", "submitted"]
        );
        assert!(parse_statuses(None).unwrap().is_empty());
        let e = parse_statuses(Some("accepted,done")).err().unwrap();
        assert_eq!(e.errors[0].path, "query.status");
        assert_eq!(
            parse_fields(Some("staff_total,,activities, staff_total")),
            vec!["activities", "staff_total"]
        );
    }

    #[test]
    fn csv_values_keep_their_text() {
        use serde_json::json;
        assert_eq!(csv_value(&json!(40000000)), "40000000");
        assert_eq!(csv_value(&json!(2.5)), "2.5");
        assert_eq!(csv_value(&json!(true)), "true");
        assert_eq!(csv_value(&json!("Hội nghị, \"8/3\"")), "Hội nghị, \"8/3\"");
        assert_eq!(csv_value(&json!(["a", "b"])), "[\"a\",\"b\"]");
    }
}
