//! Plan, form, indicator and period queries.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::form::FormDefinition;
use super::indicator::Direction;
use super::model::{FormVersion, Indicator, Period, Plan, PlanStatus, YearTarget};
use super::period::{self, PeriodKind, PeriodStatus};
use crate::error::{ApiError, ApiResult};
use crate::schema::{forms, indicators, org_units, periods, plans};

/// A plan with what scope checks need: the issuing unit's code and path.
#[derive(Queryable, Clone, Debug)]
pub struct PlanRow {
    pub id: Uuid,
    pub year: i32,
    pub document_number: String,
    pub title: String,
    pub issue_date: Option<NaiveDate>,
    pub legal_basis: String,
    pub issuing_unit_id: Uuid,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub head_sign_off: bool,
    pub unit_code: String,
    pub unit_path: String,
    pub form_version: Option<i32>,
}

impl PlanRow {
    pub fn to_api(&self) -> Plan {
        Plan {
            id: self.id,
            year: self.year,
            document_number: self.document_number.clone(),
            title: self.title.clone(),
            issue_date: self.issue_date,
            legal_basis: self.legal_basis.clone(),
            issuing_unit_id: self.issuing_unit_id,
            issuing_unit_code: self.unit_code.clone(),
            status: PlanStatus::parse(&self.status),
            form_version: self.form_version,
            head_sign_off: self.head_sign_off,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

macro_rules! plan_columns {
    () => {
        (
            plans::all_columns,
            org_units::code,
            org_units::path,
            diesel::dsl::sql::<Nullable<Int4>>(
                "(SELECT max(f.version) FROM forms f WHERE f.plan_id = plans.id)",
            ),
        )
    };
}

type PlanTuple = (
    (
        Uuid,
        i32,
        String,
        String,
        Option<NaiveDate>,
        String,
        Uuid,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        i32,
        bool,
    ),
    String,
    String,
    Option<i32>,
);

fn plan_from(
    (
        (
            id,
            year,
            document_number,
            title,
            issue_date,
            legal_basis,
            issuing_unit_id,
            status,
            created_at,
            updated_at,
            version,
            head_sign_off,
        ),
        unit_code,
        unit_path,
        form_version,
    ): PlanTuple,
) -> PlanRow {
    PlanRow {
        id,
        year,
        document_number,
        title,
        issue_date,
        legal_basis,
        issuing_unit_id,
        status,
        created_at,
        updated_at,
        version,
        head_sign_off,
        unit_code,
        unit_path,
        form_version,
    }
}

pub async fn get_plan(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Option<PlanRow>> {
    let row: Option<PlanTuple> = plans::table
        .inner_join(org_units::table)
        .filter(plans::id.eq(id))
        .select(plan_columns!())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(plan_from))
}

pub async fn list_plans(
    conn: &mut AsyncPgConnection,
    year: Option<i32>,
    status: Option<PlanStatus>,
) -> ApiResult<Vec<PlanRow>> {
    let mut q = plans::table.inner_join(org_units::table).into_boxed();
    if let Some(y) = year {
        q = q.filter(plans::year.eq(y));
    }
    if let Some(s) = status {
        q = q.filter(plans::status.eq(s.as_str()));
    }
    // Plans are few; scope filtering happens on the caller's side of this list.
    let rows: Vec<PlanTuple> = q
        .select(plan_columns!())
        .order((plans::year.desc(), plans::document_number.asc()))
        .limit(MAX_PLANS)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(plan_from).collect())
}

/// Plans are per department and year; a list is never longer than this.
const MAX_PLANS: i64 = 10_000;

pub struct NewPlanRow<'a> {
    pub year: i32,
    pub document_number: &'a str,
    pub title: &'a str,
    pub issue_date: Option<NaiveDate>,
    pub legal_basis: &'a str,
    pub issuing_unit_id: Uuid,
    pub status: PlanStatus,
    pub head_sign_off: bool,
}

pub async fn insert_plan(conn: &mut AsyncPgConnection, p: NewPlanRow<'_>) -> ApiResult<Uuid> {
    let id = Uuid::now_v7();
    let taken: i64 = plans::table
        .filter(plans::issuing_unit_id.eq(p.issuing_unit_id))
        .filter(plans::year.eq(p.year))
        .filter(plans::document_number.eq(p.document_number))
        .count()
        .get_result(conn)
        .await?;
    if taken > 0 {
        return Err(ApiError::conflict(
            "document_number_taken",
            format!(
                "the issuing unit already has a plan numbered {:?} in {}",
                p.document_number, p.year
            ),
        )
        .vi(format!(
            "Đơn vị ban hành đã có kế hoạch số {:?} năm {}",
            p.document_number, p.year
        )));
    }
    diesel::insert_into(plans::table)
        .values((
            plans::id.eq(id),
            plans::year.eq(p.year),
            plans::document_number.eq(p.document_number),
            plans::title.eq(p.title),
            plans::issue_date.eq(p.issue_date),
            plans::legal_basis.eq(p.legal_basis),
            plans::issuing_unit_id.eq(p.issuing_unit_id),
            plans::status.eq(p.status.as_str()),
            plans::head_sign_off.eq(p.head_sign_off),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = plans)]
pub struct PlanChanges {
    pub year: Option<i32>,
    pub document_number: Option<String>,
    pub title: Option<String>,
    pub issue_date: Option<Option<NaiveDate>>,
    pub legal_basis: Option<String>,
    pub status: Option<String>,
    pub head_sign_off: Option<bool>,
}

pub async fn update_plan(conn: &mut AsyncPgConnection, id: Uuid, c: PlanChanges) -> ApiResult<()> {
    diesel::update(plans::table.find(id))
        .set((
            c,
            plans::updated_at.eq(Utc::now()),
            plans::version.eq(plans::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Queryable)]
struct FormRow {
    id: Uuid,
    plan_id: Uuid,
    version: i32,
    definition: serde_json::Value,
    created_at: DateTime<Utc>,
    created_by: String,
}

fn form_from(r: FormRow) -> ApiResult<FormVersion> {
    let definition: FormDefinition = serde_json::from_value(r.definition).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("stored form {} is unreadable: {e}", r.id))
    })?;
    Ok(FormVersion {
        id: r.id,
        plan_id: r.plan_id,
        version: r.version,
        definition,
        created_at: r.created_at,
        created_by: r.created_by,
    })
}

/// The current form of a plan (`version` None) or a past version.
pub async fn get_form(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    version: Option<i32>,
) -> ApiResult<Option<FormVersion>> {
    let mut q = forms::table.filter(forms::plan_id.eq(plan_id)).into_boxed();
    if let Some(v) = version {
        q = q.filter(forms::version.eq(v));
    }
    let row: Option<FormRow> = q
        .order(forms::version.desc())
        .first(conn)
        .await
        .optional()?;
    row.map(form_from).transpose()
}

/// The id of a plan's current form version, if it has one.
pub async fn current_form_id(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
) -> ApiResult<Option<Uuid>> {
    Ok(forms::table
        .filter(forms::plan_id.eq(plan_id))
        .order(forms::version.desc())
        .select(forms::id)
        .first(conn)
        .await
        .optional()?)
}

pub async fn get_form_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<FormVersion> {
    form_from(forms::table.find(id).first::<FormRow>(conn).await?)
}

/// Saves a definition as the plan's next form version.
pub async fn insert_form(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    definition: &FormDefinition,
    by: &str,
) -> ApiResult<FormVersion> {
    // Lock the plan row so two concurrent saves cannot take the same version number.
    plans::table
        .find(plan_id)
        .select(plans::id)
        .for_update()
        .first::<Uuid>(conn)
        .await?;
    let current: Option<i32> = forms::table
        .filter(forms::plan_id.eq(plan_id))
        .select(diesel::dsl::max(forms::version))
        .first(conn)
        .await?;
    let json = serde_json::to_value(definition).map_err(ApiError::internal)?;
    let row: FormRow = diesel::insert_into(forms::table)
        .values((
            forms::id.eq(Uuid::now_v7()),
            forms::plan_id.eq(plan_id),
            forms::version.eq(current.unwrap_or(0) + 1),
            forms::definition.eq(json),
            forms::created_by.eq(by),
        ))
        .get_result(conn)
        .await?;
    form_from(row)
}

#[derive(Queryable)]
pub struct IndicatorRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub formula: String,
    pub target: f64,
    pub direction: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub targets: serde_json::Value,
}

impl IndicatorRow {
    /// The year targets as written; the service only ever writes checked ones.
    pub fn year_targets(&self) -> Vec<YearTarget> {
        serde_json::from_value(self.targets.clone()).unwrap_or_default()
    }

    pub fn to_api(&self) -> Indicator {
        Indicator {
            id: self.id,
            plan_id: self.plan_id,
            code: self.code.clone(),
            name_vi: self.name_vi.clone(),
            name_en: self.name_en.clone(),
            formula: self.formula.clone(),
            target: self.target,
            direction: self.direction.parse().unwrap_or(Direction::AtLeast),
            source: self.source.clone(),
            targets: self.year_targets(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Serialises the changes to one plan's form and indicators (`FOR NO KEY UPDATE` on
/// the plan row, until the transaction ends): a new form version is checked against
/// the indicators and an indicator against the form, so neither may change meanwhile.
/// Report writes, which only reference the plan, are not held up.
pub async fn lock_plan_definitions(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    plans::table
        .find(id)
        .select(plans::id)
        .for_no_key_update()
        .first::<Uuid>(conn)
        .await?;
    Ok(())
}

pub async fn list_indicators(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
) -> ApiResult<Vec<IndicatorRow>> {
    Ok(indicators::table
        .filter(indicators::plan_id.eq(plan_id))
        .order(indicators::code.asc())
        .load(conn)
        .await?)
}

pub async fn get_indicator(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> ApiResult<Option<IndicatorRow>> {
    Ok(indicators::table.find(id).first(conn).await.optional()?)
}

pub struct IndicatorValues<'a> {
    pub code: &'a str,
    pub name_vi: &'a str,
    pub name_en: &'a str,
    pub formula: &'a str,
    pub target: f64,
    pub direction: Direction,
    pub source: &'a str,
    pub targets: &'a [YearTarget],
}

fn targets_json(targets: &[YearTarget]) -> ApiResult<serde_json::Value> {
    serde_json::to_value(targets).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))
}

pub async fn insert_indicator(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    v: IndicatorValues<'_>,
) -> ApiResult<IndicatorRow> {
    let taken: i64 = indicators::table
        .filter(indicators::plan_id.eq(plan_id))
        .filter(indicators::code.eq(v.code))
        .count()
        .get_result(conn)
        .await?;
    if taken > 0 {
        return Err(ApiError::conflict(
            "indicator_code_taken",
            format!("the plan already has an indicator {:?}", v.code),
        ));
    }
    Ok(diesel::insert_into(indicators::table)
        .values((
            indicators::id.eq(Uuid::now_v7()),
            indicators::plan_id.eq(plan_id),
            indicators::code.eq(v.code),
            indicators::name_vi.eq(v.name_vi),
            indicators::name_en.eq(v.name_en),
            indicators::formula.eq(v.formula),
            indicators::target.eq(v.target),
            indicators::direction.eq(v.direction.as_str()),
            indicators::source.eq(v.source),
            indicators::targets.eq(targets_json(v.targets)?),
        ))
        .get_result(conn)
        .await?)
}

pub async fn update_indicator(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    v: IndicatorValues<'_>,
) -> ApiResult<IndicatorRow> {
    Ok(diesel::update(indicators::table.find(id))
        .set((
            indicators::name_vi.eq(v.name_vi),
            indicators::name_en.eq(v.name_en),
            indicators::formula.eq(v.formula),
            indicators::target.eq(v.target),
            indicators::direction.eq(v.direction.as_str()),
            indicators::source.eq(v.source),
            indicators::targets.eq(targets_json(v.targets)?),
            indicators::updated_at.eq(Utc::now()),
            indicators::version.eq(indicators::version + 1),
        ))
        .get_result(conn)
        .await?)
}

#[derive(Queryable, QueryableByName, Clone, Debug)]
#[diesel(table_name = periods)]
pub struct PeriodRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub kind: String,
    pub code: String,
    pub name: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl PeriodRow {
    pub fn status(&self) -> PeriodStatus {
        self.status.parse().unwrap_or(PeriodStatus::Locked)
    }

    pub fn to_api(&self) -> Period {
        Period {
            id: self.id,
            plan_id: self.plan_id,
            kind: self.kind.parse().unwrap_or(PeriodKind::AdHoc),
            code: self.code.clone(),
            name: self.name.clone(),
            window_start: self.window_start,
            window_end: self.window_end,
            due_date: self.due_date,
            due_at: period::due_instant(self.due_date),
            status: self.status(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn get_period(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Option<PeriodRow>> {
    Ok(periods::table.find(id).first(conn).await.optional()?)
}

/// What a report write is checked against, as it stands now, in one round trip
/// (`report_write_gate`, migration `period_write_gate`): the period, read after the
/// period's write lock is held shared until the transaction ends, whether the unit is
/// active (its row held `FOR SHARE`), and the unit's due date (its extension, else the
/// period's). A concurrent lock, unlock, edit or due date extension of the period
/// ([`lock_period_writes`]), or deactivation of the unit, waits for the write to
/// commit, and one committed before sees the write refused. Writers of one period no
/// longer share-lock its row, so they do not queue on it.
pub async fn report_write_gate(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
) -> ApiResult<Option<(PeriodRow, bool, NaiveDate)>> {
    #[derive(QueryableByName)]
    struct Gate {
        #[diesel(embed)]
        period: PeriodRow,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        active: bool,
        #[diesel(sql_type = diesel::sql_types::Date)]
        unit_due_date: NaiveDate,
    }
    let gate: Option<Gate> = diesel::sql_query(
        "SELECT (g.period).*, g.active, g.unit_due_date FROM report_write_gate($1, $2) g",
    )
    .bind::<diesel::sql_types::Uuid, _>(period_id)
    .bind::<diesel::sql_types::Uuid, _>(unit_id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(gate.map(|g| (g.period, g.active, g.unit_due_date)))
}

/// Holds a period's write lock exclusively until the transaction ends: taken before a
/// lock, unlock, edit or due date extension reads the period, it waits for the report
/// writes under way and keeps new ones out until the change commits.
pub async fn lock_period_writes(conn: &mut AsyncPgConnection, period_id: Uuid) -> ApiResult<()> {
    diesel::sql_query("SELECT period_writes_exclusive($1)")
        .bind::<diesel::sql_types::Uuid, _>(period_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The due date a unit's report is judged against: its extension, else the period's.
pub async fn due_date_for(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    unit_id: Uuid,
) -> ApiResult<chrono::NaiveDate> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = diesel::sql_types::Date)]
        due_date: chrono::NaiveDate,
    }
    let extended: Option<Due> = diesel::sql_query(
        "SELECT due_date FROM due_date_extensions WHERE period_id = $1 AND unit_id = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(period.id)
    .bind::<diesel::sql_types::Uuid, _>(unit_id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(extended.map_or(period.due_date, |d| d.due_date))
}

/// One unit's extension of a period's due date.
#[derive(QueryableByName, serde::Serialize, utoipa::ToSchema, Clone, Debug)]
pub struct DueDateExtension {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub unit_code: String,
    /// The unit's own due date: its report is late after the end of this day (Vietnam).
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub due_date: chrono::NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub reason: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub granted_by: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub granted_at: chrono::DateTime<chrono::Utc>,
}

const EXTENSION_COLUMNS: &str =
    "e.unit_id, u.code AS unit_code, e.due_date, e.reason, e.granted_by, e.granted_at";

/// Grants (or changes) a unit's extension.
pub async fn upsert_extension(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    due_date: chrono::NaiveDate,
    reason: &str,
    granted_by: &str,
) -> ApiResult<DueDateExtension> {
    Ok(diesel::sql_query(format!(
        "WITH e AS ( \
             INSERT INTO due_date_extensions (period_id, unit_id, due_date, reason, granted_by) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (period_id, unit_id) DO UPDATE SET due_date = EXCLUDED.due_date, \
                 reason = EXCLUDED.reason, granted_by = EXCLUDED.granted_by, granted_at = now() \
             RETURNING *) \
         SELECT {EXTENSION_COLUMNS} FROM e JOIN org_units u ON u.id = e.unit_id"
    ))
    .bind::<diesel::sql_types::Uuid, _>(period_id)
    .bind::<diesel::sql_types::Uuid, _>(unit_id)
    .bind::<diesel::sql_types::Date, _>(due_date)
    .bind::<diesel::sql_types::Text, _>(reason)
    .bind::<diesel::sql_types::Text, _>(granted_by)
    .get_result(conn)
    .await?)
}

/// A period's extensions whose units lie under `scope_prefix` (every one without it),
/// by unit code.
pub async fn list_extensions(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    scope_prefix: Option<&str>,
) -> ApiResult<Vec<DueDateExtension>> {
    Ok(diesel::sql_query(format!(
        "SELECT {EXTENSION_COLUMNS} FROM due_date_extensions e JOIN org_units u ON u.id = e.unit_id \
         WHERE e.period_id = $1 AND ($2::text IS NULL OR u.path LIKE $2 || '%') ORDER BY u.code"
    ))
    .bind::<diesel::sql_types::Uuid, _>(period_id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(scope_prefix)
    .load(conn)
    .await?)
}

/// A period with the path of its plan's issuing unit, for scope checks, in one query.
pub async fn get_period_scope(
    conn: &mut &AsyncPgConnection,
    id: Uuid,
) -> ApiResult<Option<(PeriodRow, String)>> {
    Ok(periods::table
        .inner_join(plans::table.inner_join(org_units::table))
        .filter(periods::id.eq(id))
        .select((periods::all_columns, org_units::path))
        .first(conn)
        .await
        .optional()?)
}

pub struct PeriodFilter {
    pub plan_id: Option<Uuid>,
    pub code: Option<String>,
    pub kind: Option<PeriodKind>,
    pub status: Option<PeriodStatus>,
}

/// Periods with their plan's issuing-unit path, for the caller to filter by scope.
pub async fn list_periods(
    conn: &mut AsyncPgConnection,
    f: &PeriodFilter,
) -> ApiResult<Vec<(PeriodRow, String)>> {
    let mut q = periods::table
        .inner_join(plans::table.inner_join(org_units::table))
        .select((periods::all_columns, org_units::path))
        .into_boxed();
    if let Some(p) = f.plan_id {
        q = q.filter(periods::plan_id.eq(p));
    }
    if let Some(c) = &f.code {
        q = q.filter(periods::code.eq(c.clone()));
    }
    if let Some(k) = f.kind {
        q = q.filter(periods::kind.eq(k.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(periods::status.eq(s.as_str()));
    }
    Ok(q.order((periods::due_date.desc(), periods::code.asc()))
        .limit(MAX_PLANS)
        .load(conn)
        .await?)
}

pub struct PeriodValues<'a> {
    pub kind: PeriodKind,
    pub code: &'a str,
    pub name: &'a str,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
}

pub async fn insert_period(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    v: PeriodValues<'_>,
) -> ApiResult<PeriodRow> {
    let taken: i64 = periods::table
        .filter(periods::plan_id.eq(plan_id))
        .filter(periods::code.eq(v.code))
        .count()
        .get_result(conn)
        .await?;
    if taken > 0 {
        return Err(ApiError::conflict(
            "period_code_taken",
            format!("the plan already has a period {:?}", v.code),
        ));
    }
    let row: PeriodRow = diesel::insert_into(periods::table)
        .values((
            periods::id.eq(Uuid::now_v7()),
            periods::plan_id.eq(plan_id),
            periods::kind.eq(v.kind.as_str()),
            periods::code.eq(v.code),
            periods::name.eq(v.name),
            periods::window_start.eq(v.window_start),
            periods::window_end.eq(v.window_end),
            periods::due_date.eq(v.due_date),
            periods::status.eq(PeriodStatus::Open.as_str()),
        ))
        .get_result(conn)
        .await?;
    // Its expected units start as the active units of the plan's tree.
    super::expected::materialise_default(conn, row.id).await?;
    Ok(row)
}

pub async fn update_period(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: &str,
    window_start: NaiveDate,
    window_end: NaiveDate,
    due_date: NaiveDate,
) -> ApiResult<PeriodRow> {
    Ok(diesel::update(periods::table.find(id))
        .set((
            periods::name.eq(name),
            periods::window_start.eq(window_start),
            periods::window_end.eq(window_end),
            periods::due_date.eq(due_date),
            periods::updated_at.eq(Utc::now()),
            periods::version.eq(periods::version + 1),
        ))
        .get_result(conn)
        .await?)
}

pub async fn set_period_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: PeriodStatus,
) -> ApiResult<PeriodRow> {
    Ok(diesel::update(periods::table.find(id))
        .set((
            periods::status.eq(status.as_str()),
            periods::updated_at.eq(Utc::now()),
            periods::version.eq(periods::version + 1),
        ))
        .get_result(conn)
        .await?)
}
