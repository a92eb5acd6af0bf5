//! The compilation's queries: one per figure family, each a single pass over the
//! included reports of a subtree, aggregated in PostgreSQL.
//!
//! Field codes come from a checked form definition (`^[a-z][a-z0-9_]*$`), so they are
//! inlined as SQL string literals; `literal` re-checks them anyway.

use chrono::NaiveDate;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Date, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::plans::indicator::CmpOp;

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

const FROM_INCLUDED: &str = "FROM reports r JOIN org_units u ON u.id = r.unit_id \
     WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4";

/// A field code as a SQL string literal, refusing anything but a plain code.
fn literal(code: &str) -> ApiResult<String> {
    let ok = code.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(format!("'{code}'"))
    } else {
        Err(ApiError::internal(anyhow::anyhow!(
            "unsafe field code {code:?} in a form"
        )))
    }
}

/// `sum` of one JSON number field of `obj`, as exact numeric text; non-numbers count nothing.
fn sum_expr(obj: &str, code: &str) -> ApiResult<String> {
    let c = literal(code)?;
    Ok(format!(
        "coalesce(sum(CASE WHEN jsonb_typeof({obj}->{c}) = 'number' THEN ({obj}->>{c})::numeric END), 0)::text"
    ))
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

/// Every unit expected to report, with its report's state: the active units of the
/// subtree (without the issuer), plus inactive ones that reported anyway.
#[derive(QueryableByName, Clone, Debug)]
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
}

/// Binds: $1 period, $2 path prefix pattern, $3 issuer.
pub const UNIT_STATES_SQL: &str = "SELECT u.id AS unit_id, u.code, u.name, r.status, r.late \
     FROM org_units u LEFT JOIN reports r ON r.unit_id = u.id AND r.period_id = $1 \
     WHERE u.path LIKE $2 AND u.id <> $3 AND (u.active OR r.id IS NOT NULL) \
     ORDER BY u.code";

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
    let exprs = fields
        .iter()
        .map(|f| sum_expr("r.data->'values'", f))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(format!(
        "SELECT ARRAY[{}] AS sums {FROM_INCLUDED}",
        exprs.join(", ")
    ))
}

/// One unit-share condition to count.
pub struct Condition<'a> {
    pub field: &'a str,
    pub op: CmpOp,
    pub threshold: f64,
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

/// For each condition: how many included reports meet it, and the codes of the units
/// that fall short (a missing or non-numeric value falls short). Returns the number of
/// included reports too.
pub fn unit_shares_sql(conditions: &[Condition<'_>]) -> ApiResult<String> {
    let mut met = Vec::new();
    let mut short = Vec::new();
    for c in conditions {
        let f = literal(c.field)?;
        if !c.threshold.is_finite() {
            return Err(ApiError::internal(anyhow::anyhow!("non-finite threshold")));
        }
        let cond = format!(
            "(jsonb_typeof(r.data->'values'->{f}) = 'number' AND (r.data->'values'->>{f})::numeric {} {}::numeric)",
            c.op.sql(),
            c.threshold
        );
        met.push(format!("count(*) FILTER (WHERE {cond})"));
        short.push(format!(
            "coalesce(string_agg(u.code, ',' ORDER BY u.code) FILTER (WHERE NOT {cond}), '')"
        ));
    }
    Ok(format!(
        "SELECT count(*) AS reports, ARRAY[{}]::bigint[] AS met, ARRAY[{}]::text[] AS short {FROM_INCLUDED}",
        met.join(", "),
        short.join(", ")
    ))
}

pub async fn unit_shares(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    conditions: &[Condition<'_>],
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

#[derive(QueryableByName, Debug)]
pub struct GroupSums {
    #[diesel(sql_type = Nullable<Text>)]
    pub grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub items: i64,
    #[diesel(sql_type = Array<Text>)]
    pub sums: Vec<String>,
}

/// The items of a repeatable list across the included reports, grouped by one of
/// their fields (e.g. activity type), with the sum of each numeric item field.
pub fn list_sums_sql(list: &str, group_by: Option<&str>, fields: &[&str]) -> ApiResult<String> {
    let l = literal(list)?;
    let grp = match group_by {
        Some(g) => format!("a.item->>{}", literal(g)?),
        None => "NULL::text".to_string(),
    };
    let mut exprs = fields
        .iter()
        .map(|f| sum_expr("a.item", f))
        .collect::<ApiResult<Vec<_>>>()?;
    if exprs.is_empty() {
        exprs.push("'0'".into());
    }
    Ok(format!(
        "SELECT {grp} AS grp, count(*) AS items, ARRAY[{}] AS sums \
         FROM reports r JOIN org_units u ON u.id = r.unit_id \
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'lists'->{l}) = 'array' \
              THEN r.data->'lists'->{l} ELSE '[]'::jsonb END) AS a(item) \
         WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4 \
         GROUP BY 1 ORDER BY 1",
        exprs.join(", ")
    ))
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

#[derive(QueryableByName, Debug)]
pub struct Narrative {
    #[diesel(sql_type = Text)]
    pub field: String,
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_name: String,
    #[diesel(sql_type = Text)]
    pub text: String,
}

/// The non-empty text answers of the included reports for the given fields.
pub fn narratives_sql(fields: &[&str]) -> ApiResult<String> {
    let list = fields
        .iter()
        .map(|f| literal(f))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", ");
    Ok(format!(
        "SELECT f.key AS field, u.code AS unit_code, u.name AS unit_name, f.value #>> '{{}}' AS text \
         FROM reports r JOIN org_units u ON u.id = r.unit_id \
         CROSS JOIN LATERAL jsonb_each(r.data->'values') AS f \
         WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4 \
           AND f.key IN ({list}) AND jsonb_typeof(f.value) = 'string' AND btrim(f.value #>> '{{}}') <> '' \
         ORDER BY f.key, u.code"
    ))
}

pub async fn narratives(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
) -> ApiResult<Vec<Narrative>> {
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
/// plan, or else in the issuing unit's plan of the year before.
pub async fn previous_period(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    issuer: Uuid,
    year: i32,
    kind: &str,
    window_start: NaiveDate,
) -> ApiResult<Option<Uuid>> {
    let row: Option<PeriodId> = diesel::sql_query(
        "SELECT p.id FROM periods p JOIN plans pl ON pl.id = p.plan_id \
         WHERE p.kind = $1 AND p.window_start < $2 \
           AND (p.plan_id = $3 OR (pl.issuing_unit_id = $4 AND pl.year = $5 - 1)) \
         ORDER BY (p.plan_id = $3) DESC, p.window_start DESC LIMIT 1",
    )
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
