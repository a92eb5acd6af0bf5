//! The compilation's queries: one per figure family, each a single pass over the
//! included reports of a subtree, aggregated in PostgreSQL.
//!
//! The figures never read the report documents: they read `report_figures`, one narrow
//! row per report that a trigger on `reports` keeps in the transaction of every write
//! (migration `report_figures`). A row holds the report's answers as arrays in the
//! order of its layout (the sorted keys of its `values` that are not null): `nums`
//! where an answer is a number, `texts` where it is a string, `bools` where it is yes
//! or no; its multi-choice answers in `arrays` by code; and its `lists` as they are.
//! A query joins each row's layout once with the positions of the codes it wants
//! (`array_position`, one small row per layout, not per report) and reads
//! `f.nums[l.p[i]]`, so a recomputation sums 10,000 short arrays instead of parsing
//! 10,000 JSON documents. What each query returns is, digit for digit, what the
//! document queries it replaced returned (`reference`, checked by
//! `tests/api/figures.rs`), including which answers count: a missing key or a JSON
//! `null` is neither a number nor an answer that falls short; a string or a boolean is
//! an answer that falls short.
//!
//! Field codes come from a checked form definition (`^[a-z][a-z0-9_]*$`), so they are
//! inlined as literals; `literal` and `ident` re-check them anyway.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Date, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::plans::indicator::{Condition, Formula, ItemSum, Test};

/// Which reports a figure counts: those of a period, in a subtree, in some statuses.
#[derive(Clone, Debug)]
pub struct Selection {
    pub period_id: Uuid,
    /// Materialised path prefix of the subtree.
    pub prefix: String,
    /// The plan's issuing unit, which compiles rather than reports.
    pub issuer: Uuid,
    pub statuses: Vec<String>,
}

const INCLUDED: &str = "report_figures f JOIN org_units u ON u.id = f.unit_id";
const WHERE_INCLUDED: &str =
    "WHERE f.period_id = $1 AND f.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4";

/// A field code as a SQL string literal, refusing anything but a plain code.
pub(crate) fn literal(code: &str) -> ApiResult<String> {
    check_code(code)?;
    Ok(format!("'{code}'"))
}

/// A field code as a quoted SQL identifier (a column of the unpacked record).
pub(crate) fn ident(code: &str) -> ApiResult<String> {
    check_code(code)?;
    Ok(format!("\"{code}\""))
}

fn check_code(code: &str) -> ApiResult<()> {
    let ok = code.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::internal(anyhow::anyhow!(
            "unsafe field code {code:?} in a form"
        )))
    }
}

/// `JOIN (…) l ON l.id = f.layout_id`: each layout with `p`, the positions in it of
/// `fields` (1-based, NULL where the layout lacks the code), so that `f.nums[l.p[i]]`
/// is the report's number for `fields[i - 1]`.
pub(crate) fn positions(fields: &[&str]) -> ApiResult<String> {
    let mut ps = fields
        .iter()
        .map(|f| Ok(format!("array_position(codes, {})", literal(f)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    if ps.is_empty() {
        ps.push("NULL".into());
    }
    // `OFFSET 0` keeps the subquery from being pulled up: flattened, every `l.p[i]`
    // became the whole `ARRAY[array_position(…), …]` again, per report and field
    // (25 sums at city scale: 1.7 s instead of under 100 ms).
    Ok(format!(
        "JOIN (SELECT id, ARRAY[{}]::int[] AS p FROM report_value_layouts OFFSET 0) l \
         ON l.id = f.layout_id",
        ps.join(", ")
    ))
}

/// `sum` of the `i`-th (0-based) field asked for, as exact numeric text.
fn sum_expr(value: &str) -> String {
    format!("coalesce(sum({value}), 0)::text")
}

fn bind_selection(
    sql: String,
    s: &Selection,
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>
{
    diesel::sql_query(sql)
        .into_boxed()
        .bind::<SqlUuid, _>(s.period_id)
        .bind::<Array<Text>, _>(s.statuses.clone())
        .bind::<Text, _>(format!("{}%", s.prefix))
        .bind::<SqlUuid, _>(s.issuer)
}

/// Every unit expected to report, with its report's state: the units of the subtree
/// in the period's expected set (`plans::expected`; the issuer never is), plus any
/// other unit of the subtree whose report was submitted or accepted (a report that
/// comes is counted, and its unit with it).
#[derive(QueryableByName, Clone, Debug, PartialEq)]
pub struct UnitState {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub status: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub late: Option<bool>,
    /// Whether the report's submitted revisions hold a signed report (an attachment).
    #[diesel(sql_type = Bool)]
    pub signed_report: bool,
}

/// Binds: $1 period, $2 path prefix pattern, $3 issuer.
pub const UNIT_STATES_SQL: &str = "SELECT u.id AS unit_id, u.code, u.name, r.status, r.late, \
     EXISTS (SELECT 1 FROM attachments a WHERE a.report_id = r.id \
             AND a.kind = 'signed_report' AND a.revision IS NOT NULL) AS signed_report \
     FROM org_units u LEFT JOIN reports r ON r.unit_id = u.id AND r.period_id = $1 \
     WHERE u.path LIKE $2 AND u.id <> $3 \
       AND (EXISTS (SELECT 1 FROM period_expected_units e \
                    WHERE e.period_id = $1 AND e.unit_id = u.id AND e.removed_at IS NULL) \
            OR r.status IN ('submitted', 'accepted')) \
     ORDER BY u.path";

pub async fn unit_states(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    prefix: &str,
    issuer: Uuid,
) -> ApiResult<Vec<UnitState>> {
    Ok(diesel::sql_query(UNIT_STATES_SQL)
        .bind::<SqlUuid, _>(period_id)
        .bind::<Text, _>(format!("{prefix}%"))
        .bind::<SqlUuid, _>(issuer)
        .load(conn)
        .await?)
}

#[derive(QueryableByName)]
struct Sums {
    #[diesel(sql_type = Array<Text>)]
    sums: Vec<String>,
}

/// The sum of each of `fields` over the included reports, as exact decimal text.
pub async fn field_sums(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
) -> ApiResult<Vec<String>> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let row: Sums = bind_selection(field_sums_sql(fields)?, s)
        .get_result(conn)
        .await?;
    Ok(row.sums)
}

pub fn field_sums_sql(fields: &[&str]) -> ApiResult<String> {
    let exprs = (1..=fields.len())
        .map(|i| sum_expr(&format!("f.nums[l.p[{i}]]")))
        .collect::<Vec<_>>();
    Ok(format!(
        "SELECT ARRAY[{}]::text[] AS sums FROM {INCLUDED} {} {WHERE_INCLUDED}",
        exprs.join(", "),
        positions(fields)?
    ))
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many reports the selection includes.
pub async fn count_included(conn: &mut AsyncPgConnection, s: &Selection) -> ApiResult<i64> {
    let row: Count = bind_selection(
        format!("SELECT count(*) AS n FROM {INCLUDED} {WHERE_INCLUDED}"),
        s,
    )
    .get_result(conn)
    .await?;
    Ok(row.n)
}

#[derive(QueryableByName)]
struct Shares {
    #[diesel(sql_type = BigInt)]
    reports: i64,
    #[diesel(sql_type = Array<BigInt>)]
    met: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    short: Vec<String>,
}

/// A number inlined in SQL, refusing what SQL could not read back.
fn threshold_literal(threshold: f64) -> ApiResult<String> {
    if threshold.is_finite() {
        Ok(format!("{threshold}::numeric"))
    } else {
        Err(ApiError::internal(anyhow::anyhow!("non-finite threshold")))
    }
}

/// A report's answer to condition `c`, the `i`-th (1-based) field asked for of its
/// layout: NULL (neither met nor short) where the report has no such key; false
/// where its answer is not of the type the condition tests.
pub(crate) fn layout_test(i: usize, c: &Condition) -> ApiResult<String> {
    let test = match &c.test {
        Test::Compare { op, threshold } => {
            format!(
                "f.nums[l.p[{i}]] {} {}",
                op.sql(),
                threshold_literal(*threshold)?
            )
        }
        Test::Flag { yes } => format!("f.bools[l.p[{i}]] = {yes}"),
        Test::Is { option } => format!("f.texts[l.p[{i}]] = {}", literal(option)?),
        // Multi-choice answers are kept by code, not by layout position (migration
        // `report_figures_arrays`); one of another type is not in `arrays`: false.
        Test::Has { option } => format!(
            "f.arrays->{} @> jsonb_build_array({}::text)",
            literal(&c.field)?,
            literal(option)?
        ),
    };
    Ok(format!(
        "(CASE WHEN l.p[{i}] IS NULL THEN NULL ELSE coalesce({test}, false) END)"
    ))
}

/// Condition `c` over a JSON answer `v` (a document's value or a list item's): NULL
/// where there is no answer (missing or JSON null), false where it is of another type.
pub(crate) fn jsonb_test(v: &str, c: &Condition) -> ApiResult<String> {
    let test = match &c.test {
        Test::Compare { op, threshold } => format!(
            "CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v})::numeric {} {} ELSE false END",
            op.sql(),
            threshold_literal(*threshold)?
        ),
        Test::Flag { yes } => format!("{v} = '{yes}'::jsonb"),
        Test::Is { option } => format!("{v} = to_jsonb({}::text)", literal(option)?),
        Test::Has { option } => format!(
            "jsonb_typeof({v}) = 'array' AND {v} @> jsonb_build_array({}::text)",
            literal(option)?
        ),
    };
    Ok(format!(
        "(CASE WHEN {v} IS NULL OR jsonb_typeof({v}) = 'null' THEN NULL ELSE {test} END)"
    ))
}

/// `count(*) FILTER (WHERE cond)` and the codes of the units where `cond` is false,
/// the two members of a unit share.
fn share_members(cond: &str) -> (String, String) {
    (
        format!("count(*) FILTER (WHERE {cond})"),
        format!("coalesce(string_agg(u.code, ',' ORDER BY u.path) FILTER (WHERE NOT {cond}), '')"),
    )
}

/// The select list of a unit-share query over `conds`: `reports`, `met`, `short`.
pub(crate) fn share_columns(conds: &[String]) -> String {
    let (met, short): (Vec<String>, Vec<String>) = conds.iter().map(|c| share_members(c)).unzip();
    format!(
        "count(*) AS reports, ARRAY[{}]::bigint[] AS met, ARRAY[{}]::text[] AS short",
        met.join(", "),
        short.join(", ")
    )
}

/// For each condition: how many included reports meet it, and the codes of the units
/// that fall short (an answer of another type falls short; a missing or null one
/// counts neither way). Returns the number of included reports too.
pub fn unit_shares_sql(conditions: &[&Condition]) -> ApiResult<String> {
    let fields: Vec<&str> = conditions.iter().map(|c| c.field.as_str()).collect();
    let conds = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| layout_test(i + 1, c))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(format!(
        "SELECT {} FROM {INCLUDED} {} {WHERE_INCLUDED}",
        share_columns(&conds),
        positions(&fields)?
    ))
}

pub async fn unit_shares(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    conditions: &[&Condition],
) -> ApiResult<(i64, Vec<(i64, Vec<String>)>)> {
    if conditions.is_empty() {
        return Ok((0, Vec::new()));
    }
    let row: Shares = bind_selection(unit_shares_sql(conditions)?, s)
        .get_result(conn)
        .await?;
    let out = row
        .met
        .into_iter()
        .zip(row.short)
        .map(|(m, codes)| {
            let codes = codes
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            (m, codes)
        })
        .collect();
    Ok((row.reports, out))
}

/// `jsonb_array_elements` of list `list` of a `lists` object, as `a(item)`; anything
/// but an array reads as no items.
pub(crate) fn list_items(lists: &str, list: &str) -> ApiResult<String> {
    let l = literal(list)?;
    Ok(format!(
        "jsonb_array_elements(CASE WHEN jsonb_typeof({lists}->{l}) = 'array' \
         THEN {lists}->{l} ELSE '[]'::jsonb END) AS a(item)"
    ))
}

/// One side of a list ratio over the items `a.item`: the sum of its fields over the
/// items its filter passes, as exact numeric text.
fn item_side(side: &ItemSum) -> ApiResult<String> {
    let filter = match &side.filter {
        Some(c) => format!(
            " FILTER (WHERE {})",
            jsonb_test(&format!("a.item->{}", literal(&c.field)?), c)?
        ),
        None => String::new(),
    };
    let terms = side
        .fields
        .iter()
        .map(|f| {
            let v = format!("a.item->{}", literal(f)?);
            Ok(format!(
                "coalesce(sum(CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v})::numeric END){filter}, 0)"
            ))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(format!("({})::text", terms.join(" + ")))
}

/// The numerator and denominator of each list formula, in order, over the items
/// `a.item` (the formulas must all read one list): `sums text[]`, two per formula.
pub(crate) fn item_columns(formulas: &[&Formula]) -> ApiResult<String> {
    let mut out = Vec::new();
    for f in formulas {
        match f {
            Formula::ItemRatio {
                numerator,
                denominator,
                ..
            } => {
                out.push(item_side(numerator)?);
                out.push(item_side(denominator)?);
            }
            Formula::ItemShare { condition, .. } => {
                let v = format!("a.item->{}", literal(&condition.field)?);
                out.push(format!(
                    "(count(*) FILTER (WHERE {}))::text",
                    jsonb_test(&v, condition)?
                ));
                out.push("count(*)::text".to_string());
            }
            _ => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "not a list formula: {f}"
                )));
            }
        }
    }
    Ok(format!("ARRAY[{}]::text[] AS sums", out.join(", ")))
}

/// The numerator and denominator of each of `formulas` over the items of `list` in
/// the included reports: one pass over the list's items.
pub fn item_figures_sql(list: &str, formulas: &[&Formula]) -> ApiResult<String> {
    Ok(format!(
        "SELECT {} FROM {INCLUDED} CROSS JOIN LATERAL {} \
         {WHERE_INCLUDED} AND jsonb_typeof(a.item) = 'object'",
        item_columns(formulas)?,
        list_items("f.lists", list)?
    ))
}

/// Each formula's (numerator, denominator) totals over `list`'s items.
pub async fn item_figures(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    list: &str,
    formulas: &[&Formula],
) -> ApiResult<Vec<(String, String)>> {
    if formulas.is_empty() {
        return Ok(Vec::new());
    }
    let row: Sums = bind_selection(item_figures_sql(list, formulas)?, s)
        .get_result(conn)
        .await?;
    Ok(pairs(row.sums))
}

/// `[n1, d1, n2, d2, …]`: each list formula of `items` over one report's own items
/// (`lists`, its lists object), as a `text[]` expression.
pub(crate) fn own_items(lists: &str, items: &[&Formula]) -> ApiResult<String> {
    let mut out = vec!["ARRAY[]::text[]".to_string()];
    for f in items {
        let list = f
            .list()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("not a list formula: {f}")))?;
        out.push(format!(
            "(SELECT {} FROM {} WHERE jsonb_typeof(a.item) = 'object')",
            item_columns(&[f])?,
            list_items(lists, list)?
        ));
    }
    Ok(out.join(" || "))
}

/// `[n1, d1, n2, d2, …]` as `[(n1, d1), (n2, d2), …]`.
pub fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(n), Some(d)) = (it.next(), it.next()) {
        out.push((n, d));
    }
    out
}

#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct GroupSums {
    #[diesel(sql_type = Nullable<Text>)]
    pub grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub items: i64,
    #[diesel(sql_type = Array<Text>)]
    pub sums: Vec<String>,
}

/// How the items of a repeatable list are grouped: by a field's value (NULL where an
/// item lacks it; `None` puts every item in one group), or under each code of a
/// multi-choice field (an item counts once under every code it holds).
pub(crate) enum Grouping<'a> {
    By(Option<&'a str>),
    Each(&'a str),
}

/// The select list (`grp`, `items`, `sums`) and the lateral FROM items over `f.lists`
/// of a grouped pass over a list's items, shared by the aggregate over the included
/// reports and the per-report pass of `ledger`.
pub(crate) fn grouped(
    list: &str,
    grouping: &Grouping,
    fields: &[&str],
) -> ApiResult<(String, String)> {
    let (grp, each) = match grouping {
        Grouping::By(Some(g)) => (format!("a.item->{} #>> '{{}}'", literal(g)?), String::new()),
        Grouping::By(None) => ("NULL::text".to_string(), String::new()),
        Grouping::Each(m) => {
            let m = literal(m)?;
            (
                "t.grp".to_string(),
                format!(
                    " CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN \
                     jsonb_typeof(a.item->{m}) = 'array' THEN a.item->{m} ELSE '[]'::jsonb END) \
                     AS t(grp)"
                ),
            )
        }
    };
    Ok((
        format!(
            "{grp} AS grp, count(*) AS items, ARRAY[{}]::text[] AS sums",
            item_sums(fields)?
        ),
        format!("{}{each}", list_items("f.lists", list)?),
    ))
}

/// A grouped pass over the items of the included reports, in the order of `grp`.
fn grouped_sql(list: &str, grouping: &Grouping, fields: &[&str]) -> ApiResult<String> {
    let (select, from) = grouped(list, grouping, fields)?;
    Ok(format!(
        "SELECT {select} FROM {INCLUDED} CROSS JOIN LATERAL {from} \
         {WHERE_INCLUDED} AND jsonb_typeof(a.item) = 'object' GROUP BY 1 ORDER BY 1"
    ))
}

/// The items of a repeatable list across the included reports, grouped by one of
/// their fields (e.g. activity type), with the sum of each numeric item field.
pub fn list_sums_sql(list: &str, group_by: Option<&str>, fields: &[&str]) -> ApiResult<String> {
    grouped_sql(list, &Grouping::By(group_by), fields)
}

/// The sums of list item fields `a.item`: numbers only, as exact numeric text.
fn item_sums(fields: &[&str]) -> ApiResult<String> {
    let mut exprs = fields
        .iter()
        .map(|f| {
            let v = format!("a.item->{}", literal(f)?);
            Ok(sum_expr(&format!(
                "CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v})::numeric END"
            )))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if exprs.is_empty() {
        exprs.push("'0'".into());
    }
    Ok(exprs.join(", "))
}

pub async fn list_sums(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    list: &str,
    group_by: Option<&str>,
    fields: &[&str],
) -> ApiResult<Vec<GroupSums>> {
    Ok(bind_selection(list_sums_sql(list, group_by, fields)?, s)
        .load(conn)
        .await?)
}

/// The items of a repeatable list by each code of a multi-choice field (activities by
/// topic): an item counts once under every code it holds.
pub fn list_sums_by_each_sql(list: &str, multi: &str, fields: &[&str]) -> ApiResult<String> {
    grouped_sql(list, &Grouping::Each(multi), fields)
}

pub async fn list_sums_by_each(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    list: &str,
    multi: &str,
    fields: &[&str],
) -> ApiResult<Vec<GroupSums>> {
    Ok(
        bind_selection(list_sums_by_each_sql(list, multi, fields)?, s)
            .load(conn)
            .await?,
    )
}

/// Of each yes/no field asked for, how many included reports answer yes and how many
/// answer at all.
#[derive(QueryableByName, Debug, Clone, PartialEq, Default)]
pub struct FlagCounts {
    #[diesel(sql_type = Array<BigInt>)]
    pub yes: Vec<i64>,
    #[diesel(sql_type = Array<BigInt>)]
    pub answered: Vec<i64>,
}

pub fn flag_counts_sql(fields: &[&str]) -> ApiResult<String> {
    let yes = each_field(fields.len(), |i| {
        format!("count(*) FILTER (WHERE f.bools[l.p[{i}]])")
    });
    let answered = each_field(fields.len(), |i| format!("count(f.bools[l.p[{i}]])"));
    Ok(format!(
        "SELECT ARRAY[{yes}]::bigint[] AS yes, ARRAY[{answered}]::bigint[] AS answered \
         FROM {INCLUDED} {} {WHERE_INCLUDED}",
        positions(fields)?
    ))
}

pub async fn flag_counts(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
) -> ApiResult<FlagCounts> {
    Ok(bind_selection(flag_counts_sql(fields)?, s)
        .get_result(conn)
        .await?)
}

/// One included report's own values of the fields asked for (`?detail=units`), in
/// their order; `None` where the value is missing or not a number.
#[derive(QueryableByName, Debug)]
pub struct UnitValues {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Bool>)]
    pub late: Option<bool>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub vals: Vec<Option<String>>,
    /// Whether the report meets each unit-share condition asked for (NULL: no answer).
    #[diesel(sql_type = Array<Nullable<Bool>>)]
    pub met: Vec<Option<bool>>,
    /// The numerator and denominator of each list formula asked for, over the
    /// report's own items: `[n1, d1, n2, d2, …]`.
    #[diesel(sql_type = Array<Text>)]
    pub items: Vec<String>,
}

/// `ARRAY[expr(1), …, expr(n)]` members for the `n` fields asked for.
pub(crate) fn each_field(n: usize, expr: impl Fn(usize) -> String) -> String {
    (1..=n).map(expr).collect::<Vec<_>>().join(", ")
}

/// Each included report's values of `fields` as exact decimal text, whether it meets
/// each of `conditions`, and the totals of each list formula of `items` over its own
/// items, by unit code.
pub fn unit_values_sql(
    fields: &[&str],
    conditions: &[&Condition],
    items: &[&Formula],
) -> ApiResult<String> {
    let vals = each_field(fields.len(), |i| format!("f.nums[l.p[{i}]]::text"));
    let met = conditions
        .iter()
        .enumerate()
        .map(|(j, c)| layout_test(fields.len() + j + 1, c))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", ");
    let mut all: Vec<&str> = fields.to_vec();
    all.extend(conditions.iter().map(|c| c.field.as_str()));
    Ok(format!(
        "SELECT u.id AS unit_id, u.code, u.name, f.status, r.late, ARRAY[{vals}]::text[] AS vals, \
         ARRAY[{met}]::boolean[] AS met, {} AS items \
         FROM {INCLUDED} JOIN reports r ON r.id = f.report_id {} {WHERE_INCLUDED} ORDER BY u.code",
        own_items("f.lists", items)?,
        positions(&all)?
    ))
}

pub async fn unit_values(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
    conditions: &[&Condition],
    items: &[&Formula],
) -> ApiResult<Vec<UnitValues>> {
    Ok(
        bind_selection(unit_values_sql(fields, conditions, items)?, s)
            .load(conn)
            .await?,
    )
}

/// One included report's text answers, in the order of the fields asked for; `None`
/// where the answer is missing or not a string.
#[derive(QueryableByName, Debug, Clone, PartialEq)]
pub struct NarrativeRow {
    /// Where the unit stands in the tree: texts follow the organisation's order.
    #[diesel(sql_type = Text)]
    pub unit_path: String,
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    pub texts: Vec<Option<String>>,
}

/// The text answers of the included reports for the given fields: one row per report
/// in no particular order, its answers side by side. The caller drops the blank ones,
/// groups by field and sorts. (One row per answer, through a lateral `VALUES`, sent
/// the unit's code and name five times and cost PostgreSQL 160 ms instead of 65 ms
/// at city scale; sorting in PostgreSQL cost a third more.)
pub fn narratives_sql(fields: &[&str]) -> ApiResult<String> {
    let texts = each_field(fields.len(), |i| format!("f.texts[l.p[{i}]]"));
    Ok(format!(
        "SELECT u.path AS unit_path, u.code AS unit_code, u.name AS unit_name, \
         ARRAY[{texts}]::text[] AS texts \
         FROM {INCLUDED} {} {WHERE_INCLUDED}",
        positions(fields)?
    ))
}

pub async fn narratives(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
) -> ApiResult<Vec<NarrativeRow>> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bind_selection(narratives_sql(fields)?, s)
        .load(conn)
        .await?)
}

/// `UNIT_STATES_SQL` with the selection's values written in as literals.
pub fn unit_states_with_literals(s: &Selection) -> String {
    UNIT_STATES_SQL
        .replace("$1", &format!("'{}'::uuid", s.period_id))
        .replace("$2", &format!("'{}%'", s.prefix.replace('\'', "''")))
        .replace("$3", &format!("'{}'::uuid", s.issuer))
}

/// A statement with the selection's values written in as literals, for running the
/// very same SQL outside the service (the benchmark compares against psql).
pub fn with_literals(sql: &str, s: &Selection) -> String {
    let statuses = s
        .statuses
        .iter()
        .map(|x| format!("'{}'", x.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",");
    sql.replace("$1", &format!("'{}'::uuid", s.period_id))
        .replace("$2", &format!("ARRAY[{statuses}]::text[]"))
        .replace("$3", &format!("'{}%'", s.prefix.replace('\'', "''")))
        .replace("$4", &format!("'{}'::uuid", s.issuer))
}

#[derive(QueryableByName)]
struct PeriodId {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The period to compare with: the latest earlier period of the same kind in the same
/// plan, or else in the issuing unit's plan of the year before (not one still in draft).
/// As SQL selecting `id` and `code`, given SQL expressions for the period's kind, the
/// start of its window, its plan, the plan's issuing unit and year, so that a caller
/// can bind them or take them from a row it joins.
pub(crate) fn previous_sql(
    kind: &str,
    start: &str,
    plan: &str,
    issuer: &str,
    year: &str,
) -> String {
    format!(
        "SELECT p.id, p.code FROM periods p JOIN plans pl ON pl.id = p.plan_id \
         WHERE p.kind = {kind} AND p.window_start < {start} \
           AND (p.plan_id = {plan} OR (pl.issuing_unit_id = {issuer} AND pl.year = {year} - 1 \
                AND pl.status <> 'draft')) \
         ORDER BY (p.plan_id = {plan}) DESC, p.window_start DESC LIMIT 1"
    )
}

/// [`previous_sql`] for given values.
pub async fn previous_period(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    issuer: Uuid,
    year: i32,
    kind: &str,
    window_start: NaiveDate,
) -> ApiResult<Option<Uuid>> {
    let row: Option<PeriodId> = diesel::sql_query(previous_sql("$1", "$2", "$3", "$4", "$5"))
        .bind::<Text, _>(kind)
        .bind::<Date, _>(window_start)
        .bind::<SqlUuid, _>(plan_id)
        .bind::<SqlUuid, _>(issuer)
        .bind::<diesel::sql_types::Integer, _>(year)
        .get_result(conn)
        .await
        .map(Some)
        .or_else(|e| match e {
            diesel::result::Error::NotFound => Ok(None),
            e => Err(e),
        })?;
    Ok(row.map(|r| r.id))
}

#[derive(QueryableByName)]
struct Fingerprint {
    #[diesel(sql_type = SqlUuid)]
    period_id: Uuid,
    #[diesel(sql_type = Text)]
    rows: String,
    #[diesel(sql_type = Text)]
    other: String,
    #[diesel(sql_type = Text)]
    reports: String,
}

/// A period's fingerprint in three parts: `reports` moves with any write to one of its
/// reports; `rows` with what else its reports' own figures stand on (the tree: unit
/// names and places; its expected units); `other` with the rest a compilation reads
/// (plans, periods, indicators, forms). `ledger` reads its rows whole again when
/// `rows` moves (or the form or indicators ask for other figures), and only the
/// reports written when `reports` does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub rows: String,
    pub other: String,
    pub reports: String,
}

impl Mark {
    /// Every part: equal marks mean equal data.
    pub fn whole(&self) -> String {
        format!("{}:{}:{}", self.rows, self.other, self.reports)
    }
}

/// `count.sum-of-xmin` of a table's rows: every committed insert or update gives a row
/// a new `xmin` (the writing transaction), so the pair moves whenever a row does.
const TABLE_MARK: &str = "count(*) || '.' || coalesce(sum(xmin::text::bigint), 0)";

/// For each period, a fingerprint of everything a compilation of it reads ([`Mark`]).
/// Equal fingerprints mean equal data (`cache` explains how it is used). One
/// statement; the reports part scans only the period's rows.
pub async fn fingerprints(
    conn: &mut AsyncPgConnection,
    periods: &[Uuid],
) -> ApiResult<HashMap<Uuid, Mark>> {
    let shared = ["plans", "periods", "indicators", "forms"]
        .iter()
        .map(|t| format!("(SELECT {TABLE_MARK} FROM {t})"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Fingerprint> = diesel::sql_query(format!(
        "WITH shared AS (SELECT concat_ws(':', {shared}) AS other, \
                                (SELECT {TABLE_MARK} FROM org_units) AS tree) \
         SELECT p.id AS period_id, \
                (SELECT tree FROM shared) || ':' || \
                (SELECT {TABLE_MARK} FROM period_expected_units e WHERE e.period_id = p.id) \
                AS rows, \
                (SELECT other FROM shared) AS other, \
                (SELECT {TABLE_MARK} FROM reports r WHERE r.period_id = p.id) AS reports \
         FROM unnest($1) AS p(id)"
    ))
    .bind::<Array<SqlUuid>, _>(periods)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.period_id,
                Mark {
                    rows: r.rows,
                    other: r.other,
                    reports: r.reports,
                },
            )
        })
        .collect())
}
