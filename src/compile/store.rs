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

pub async fn unit_states(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    prefix: &str,
    issuer: Uuid,
) -> ApiResult<Vec<UnitState>> {
    Ok(diesel::sql_query(
        "SELECT u.id AS unit_id, u.code, u.name, r.status, r.late \
         FROM org_units u LEFT JOIN reports r ON r.unit_id = u.id AND r.period_id = $1 \
         WHERE u.path LIKE $2 AND u.id <> $3 AND (u.active OR r.id IS NOT NULL) \
         ORDER BY u.code",
    )
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
    let exprs = fields
        .iter()
        .map(|f| sum_expr("r.data->'values'", f))
        .collect::<ApiResult<Vec<_>>>()?;
    let sql = format!("SELECT ARRAY[{}] AS sums {FROM_INCLUDED}", exprs.join(", "));
    let row: Sums = bind_selection(sql, s).get_result(conn).await?;
    Ok(row.sums)
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
pub async fn unit_shares(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    conditions: &[Condition<'_>],
) -> ApiResult<(i64, Vec<(i64, Vec<String>)>)> {
    if conditions.is_empty() {
        return Ok((0, Vec::new()));
    }
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
    let sql = format!(
        "SELECT count(*) AS reports, ARRAY[{}] AS met, ARRAY[{}] AS short {FROM_INCLUDED}",
        met.join(", "),
        short.join(", ")
    );
    let row: Shares = bind_selection(sql, s).get_result(conn).await?;
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
pub async fn list_sums(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    list: &str,
    group_by: Option<&str>,
    fields: &[&str],
) -> ApiResult<Vec<GroupSums>> {
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
    let sql = format!(
        "SELECT {grp} AS grp, count(*) AS items, ARRAY[{}] AS sums \
         FROM reports r JOIN org_units u ON u.id = r.unit_id \
         CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'lists'->{l}) = 'array' \
              THEN r.data->'lists'->{l} ELSE '[]'::jsonb END) AS a(item) \
         WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4 \
         GROUP BY 1 ORDER BY 1",
        exprs.join(", ")
    );
    Ok(bind_selection(sql, s).load(conn).await?)
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
pub async fn narratives(
    conn: &mut AsyncPgConnection,
    s: &Selection,
    fields: &[&str],
) -> ApiResult<Vec<Narrative>> {
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    let list = fields
        .iter()
        .map(|f| literal(f))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", ");
    let sql = format!(
        "SELECT f.key AS field, u.code AS unit_code, u.name AS unit_name, f.value #>> '{{}}' AS text \
         FROM reports r JOIN org_units u ON u.id = r.unit_id \
         CROSS JOIN LATERAL jsonb_each(r.data->'values') AS f \
         WHERE r.period_id = $1 AND r.status = ANY($2) AND u.path LIKE $3 AND u.id <> $4 \
           AND f.key IN ({list}) AND jsonb_typeof(f.value) = 'string' AND btrim(f.value #>> '{{}}') <> '' \
         ORDER BY f.key, u.code"
    );
    Ok(bind_selection(sql, s).load(conn).await?)
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
