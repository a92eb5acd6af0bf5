//! The figure queries as they were before `report_figures`: each unpacks every included
//! report's JSON document (`reports.data`) with `jsonb_to_record`. The service no longer
//! runs them; they stay as the definition of what the extracted rows must reproduce,
//! and `tests/api/figures.rs` checks the two agree over randomised reports. Binds are
//! those of [`super::store::Selection`] (`$1` period, `$2` statuses, `$3` path prefix
//! pattern, `$4` issuer).

use super::store::{
    ident, item_columns, jsonb_test, list_items, literal, own_items, share_columns,
};
use crate::error::ApiResult;
use crate::plans::indicator::{Condition, Formula};

const INCLUDED: &str = "reports r JOIN org_units u ON u.id = r.unit_id";
const WHERE_INCLUDED: &str =
    "WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4";

/// `jsonb_to_record(<json>) AS <alias>(f1 jsonb, f2 jsonb, …)`: the object unpacked once.
fn unpack(json: &str, alias: &str, fields: &[&str]) -> ApiResult<String> {
    let mut distinct: Vec<&str> = Vec::new();
    for f in fields {
        if !distinct.contains(f) {
            distinct.push(f);
        }
    }
    let mut cols = distinct
        .iter()
        .map(|f| Ok(format!("{} jsonb", ident(f)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    if cols.is_empty() {
        cols.push("\"_\" jsonb".to_string());
    }
    // A document whose `values` is not an object (never written by the service, but
    // possible in SQL) reads as one without answers, as `report_figures` reads it.
    Ok(format!(
        "jsonb_to_record(CASE WHEN jsonb_typeof({json}) = 'object' THEN {json} \
         ELSE '{{}}'::jsonb END) AS {alias}({})",
        cols.join(", ")
    ))
}

/// `sum` of one JSON number field of `obj`, as exact numeric text; non-numbers count nothing.
fn sum_expr(alias: &str, code: &str) -> ApiResult<String> {
    let c = format!("{alias}.{}", ident(code)?);
    Ok(format!(
        "coalesce(sum(CASE WHEN jsonb_typeof({c}) = 'number' THEN ({c})::numeric END), 0)::text"
    ))
}

/// One expression per field of the unpacked record `x`, given its quoted column.
fn each_field(fields: &[&str], expr: impl Fn(&str) -> String) -> ApiResult<String> {
    Ok(fields
        .iter()
        .map(|f| Ok(expr(&ident(f)?)))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", "))
}

/// Columns `sums text[]`.
pub fn field_sums_sql(fields: &[&str]) -> ApiResult<String> {
    let exprs = fields
        .iter()
        .map(|f| sum_expr("x", f))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(format!(
        "SELECT ARRAY[{}] AS sums FROM {INCLUDED} CROSS JOIN LATERAL {} {WHERE_INCLUDED}",
        exprs.join(", "),
        unpack("r.data->'values'", "x", fields)?
    ))
}

/// Columns `reports bigint, met bigint[], short text[]`.
pub fn unit_shares_sql(conditions: &[&Condition]) -> ApiResult<String> {
    let fields: Vec<&str> = conditions.iter().map(|c| c.field.as_str()).collect();
    let conds = conditions
        .iter()
        .map(|c| jsonb_test(&format!("x.{}", ident(&c.field)?), c))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(format!(
        "SELECT {} FROM {INCLUDED} CROSS JOIN LATERAL {} {WHERE_INCLUDED}",
        share_columns(&conds),
        unpack("r.data->'values'", "x", &fields)?
    ))
}

/// Columns `sums text[]`: each list formula's numerator and denominator over the
/// items of `list` in the documents.
pub fn item_figures_sql(list: &str, formulas: &[&Formula]) -> ApiResult<String> {
    Ok(format!(
        "SELECT {} FROM {INCLUDED} CROSS JOIN LATERAL {} \
         {WHERE_INCLUDED} AND jsonb_typeof(a.item) = 'object'",
        item_columns(formulas)?,
        list_items("r.data->'lists'", list)?
    ))
}

/// Columns `grp text, items bigint, sums text[]`.
pub fn list_sums_sql(list: &str, group_by: Option<&str>, fields: &[&str]) -> ApiResult<String> {
    let l = literal(list)?;
    let mut unpacked: Vec<&str> = fields.to_vec();
    let grp = match group_by {
        Some(g) => {
            unpacked.push(g);
            format!("y.{} #>> '{{}}'", ident(g)?)
        }
        None => "NULL::text".to_string(),
    };
    let mut exprs = fields
        .iter()
        .map(|f| sum_expr("y", f))
        .collect::<ApiResult<Vec<_>>>()?;
    if exprs.is_empty() {
        exprs.push("'0'".into());
    }
    Ok(format!(
        "SELECT {grp} AS grp, count(*) AS items, ARRAY[{}] AS sums \
         FROM {INCLUDED} \
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'lists'->{l}) = 'array' \
              THEN r.data->'lists'->{l} ELSE '[]'::jsonb END) AS a(item) \
         CROSS JOIN LATERAL {} \
         {WHERE_INCLUDED} AND jsonb_typeof(a.item) = 'object' \
         GROUP BY 1 ORDER BY 1",
        exprs.join(", "),
        unpack("a.item", "y", &unpacked)?
    ))
}

/// Columns `grp, items, sums text[]`: the list's items by each code of a multi-choice
/// field, from the documents.
pub fn list_sums_by_each_sql(list: &str, multi: &str, fields: &[&str]) -> ApiResult<String> {
    let l = literal(list)?;
    let m = literal(multi)?;
    let mut exprs = fields
        .iter()
        .map(|f| sum_expr("y", f))
        .collect::<ApiResult<Vec<_>>>()?;
    if exprs.is_empty() {
        exprs.push("'0'".into());
    }
    Ok(format!(
        "SELECT t.grp AS grp, count(*) AS items, ARRAY[{}] AS sums \
         FROM {INCLUDED} \
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'lists'->{l}) = 'array' \
              THEN r.data->'lists'->{l} ELSE '[]'::jsonb END) AS a(item) \
         CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN jsonb_typeof(a.item->{m}) = 'array' \
              THEN a.item->{m} ELSE '[]'::jsonb END) AS t(grp) \
         CROSS JOIN LATERAL {} \
         {WHERE_INCLUDED} AND jsonb_typeof(a.item) = 'object' \
         GROUP BY 1 ORDER BY 1",
        exprs.join(", "),
        unpack("a.item", "y", fields)?
    ))
}

/// Columns `yes bigint[], answered bigint[]`: each yes/no field's yes answers and
/// answers, from the documents.
pub fn flag_counts_sql(fields: &[&str]) -> ApiResult<String> {
    let each = |expr: &dyn Fn(&str) -> String| -> ApiResult<String> {
        Ok(fields
            .iter()
            .map(|f| Ok(expr(&format!("x.{}", ident(f)?))))
            .collect::<ApiResult<Vec<_>>>()?
            .join(", "))
    };
    let yes = each(&|c| format!("count(*) FILTER (WHERE {c} = 'true'::jsonb)"))?;
    let answered = each(&|c| format!("count(*) FILTER (WHERE jsonb_typeof({c}) = 'boolean')"))?;
    Ok(format!(
        "SELECT ARRAY[{yes}]::bigint[] AS yes, ARRAY[{answered}]::bigint[] AS answered \
         FROM {INCLUDED} CROSS JOIN LATERAL {} {WHERE_INCLUDED}",
        unpack("r.data->'values'", "x", fields)?
    ))
}

/// Columns `unit_id, code, name, status, late, vals text[], met boolean[], items
/// text[]`, by unit code.
pub fn unit_values_sql(
    fields: &[&str],
    conditions: &[&Condition],
    items: &[&Formula],
) -> ApiResult<String> {
    let vals = each_field(fields, |c| {
        format!("CASE WHEN jsonb_typeof(x.{c}) = 'number' THEN (x.{c})::numeric::text END")
    })?;
    let met = conditions
        .iter()
        .map(|c| jsonb_test(&format!("x.{}", ident(&c.field)?), c))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", ");
    let mut all: Vec<&str> = fields.to_vec();
    all.extend(conditions.iter().map(|c| c.field.as_str()));
    Ok(format!(
        "SELECT u.id AS unit_id, u.code, u.name, r.status, r.late, ARRAY[{vals}]::text[] AS vals, \
         ARRAY[{met}]::boolean[] AS met, {} AS items \
         FROM {INCLUDED} CROSS JOIN LATERAL {} {WHERE_INCLUDED} ORDER BY u.code",
        own_items("r.data->'lists'", items)?,
        unpack("r.data->'values'", "x", &all)?
    ))
}

/// Columns `unit_path, unit_code, unit_name, texts text[]`, one row per report.
pub fn narratives_sql(fields: &[&str]) -> ApiResult<String> {
    let texts = each_field(fields, |c| {
        format!("CASE WHEN jsonb_typeof(x.{c}) = 'string' THEN x.{c} #>> '{{}}' END")
    })?;
    Ok(format!(
        "SELECT u.path AS unit_path, u.code AS unit_code, u.name AS unit_name, \
         ARRAY[{texts}]::text[] AS texts \
         FROM {INCLUDED} CROSS JOIN LATERAL {} {WHERE_INCLUDED}",
        unpack("r.data->'values'", "x", fields)?
    ))
}
