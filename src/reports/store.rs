//! Report and revision queries.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use uuid::Uuid;

use super::model::{ReportSummary, Revision, RevisionSummary};
use super::workflow::ReportStatus;
use crate::error::{ApiError, ApiResult, Issue};
use crate::pagination::PageRequest;
use crate::plans::form::ReportData;
use crate::schema::{org_units, periods, report_revisions, reports, revision_approvals};

#[derive(Queryable, Clone, Debug)]
pub struct ReportRow {
    pub id: Uuid,
    pub period_id: Uuid,
    pub unit_id: Uuid,
    pub form_id: Uuid,
    pub status: String,
    pub data: serde_json::Value,
    pub version: i32,
    pub revision: Option<i32>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub submitted_by: Option<String>,
    pub late: Option<bool>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<String>,
    pub review_comment: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ReportRow {
    pub fn status(&self) -> ReportStatus {
        self.status.parse().unwrap_or(ReportStatus::Draft)
    }

    pub fn data(&self) -> ApiResult<ReportData> {
        ReportData::deserialize(&self.data).map_err(|e| {
            ApiError::internal(anyhow::anyhow!(
                "stored report {} is unreadable: {e}",
                self.id
            ))
        })
    }
}

/// The report of a unit for a period; with `lock`, held for update until the
/// transaction ends, so concurrent writers are serialised.
pub async fn find(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    lock: bool,
) -> ApiResult<Option<ReportRow>> {
    let q = reports::table
        .filter(reports::period_id.eq(period_id))
        .filter(reports::unit_id.eq(unit_id));
    let row = if lock {
        q.for_update().first::<ReportRow>(conn).await.optional()?
    } else {
        q.first::<ReportRow>(conn).await.optional()?
    };
    Ok(row)
}

/// A unit (by id, or by code in any case) with its report for the period, if any, and
/// the warnings of that report's latest revision: what every report address resolves
/// to, in one query. Takes a shared connection so that it can be pipelined with the
/// period's query.
/// What a report's latest revision adds to the report: its warnings, and the unit
/// head's approval of it (plans with `head_sign_off`).
#[derive(Clone, Debug, Default)]
pub struct Latest {
    pub warnings: Vec<Issue>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
}

type LatestColumns = (
    Option<serde_json::Value>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn latest_of((warnings, approved_at, approved_by): LatestColumns) -> Latest {
    Latest {
        warnings: warnings_of(warnings),
        approved_at,
        approved_by,
    }
}

pub async fn unit_with_report(
    conn: &mut &AsyncPgConnection,
    unit_ref: &str,
    period_id: Uuid,
) -> ApiResult<Option<(crate::org::store::Row, Option<ReportRow>, Latest)>> {
    let q = org_units::table
        .left_join(
            reports::table.on(reports::unit_id
                .eq(org_units::id)
                .and(reports::period_id.eq(period_id))),
        )
        .left_join(
            report_revisions::table.on(report_revisions::report_id
                .eq(reports::id)
                .and(reports::revision.eq(report_revisions::number.nullable()))),
        )
        .left_join(
            revision_approvals::table.on(revision_approvals::report_id
                .eq(reports::id)
                .and(reports::revision.eq(revision_approvals::number.nullable()))),
        )
        .select((
            org_units::all_columns,
            reports::all_columns.nullable(),
            (
                report_revisions::warnings.nullable(),
                revision_approvals::approved_at.nullable(),
                revision_approvals::approved_by.nullable(),
            ),
        ));
    // Two fixed shapes (no boxed query, no SQL literal), so diesel keeps each as a
    // prepared statement and the hot read path skips PostgreSQL's planning.
    let found: Option<(crate::org::store::Row, Option<ReportRow>, LatestColumns)> =
        match Uuid::parse_str(unit_ref) {
            Ok(id) => q.filter(org_units::id.eq(id)).first(conn).await,
            Err(_) => {
                q.filter(lower(org_units::code).eq(lower(unit_ref)))
                    .first(conn)
                    .await
            }
        }
        .optional()?;
    Ok(found.map(|(u, r, l)| (u, r, latest_of(l))))
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`: unit codes match in any case (the unique index is
    /// on `lower(code)`).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Stored revision warnings as issues (an unreadable list reads as none).
pub fn warnings_of(v: Option<serde_json::Value>) -> Vec<Issue> {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Creates an empty draft unless one appeared meanwhile (then `None`).
pub async fn insert_draft(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    form_id: Uuid,
    data: &serde_json::Value,
) -> ApiResult<Option<ReportRow>> {
    Ok(diesel::insert_into(reports::table)
        .values((
            reports::id.eq(Uuid::now_v7()),
            reports::period_id.eq(period_id),
            reports::unit_id.eq(unit_id),
            reports::form_id.eq(form_id),
            reports::status.eq(ReportStatus::Draft.as_str()),
            reports::data.eq(data),
        ))
        .on_conflict((reports::period_id, reports::unit_id))
        .do_nothing()
        .get_result::<ReportRow>(conn)
        .await
        .optional()?)
}

/// Replaces an editable report's data. Only the columns the database decides come
/// back (the document just sent is not read back); the row is `current` with them.
pub async fn save_data(
    conn: &mut AsyncPgConnection,
    current: &ReportRow,
    data: &serde_json::Value,
) -> ApiResult<ReportRow> {
    // As stored: PostgreSQL keeps microseconds, and diesel sends them truncated.
    let now = Utc::now().trunc_subsecs(6);
    let version: i32 = diesel::update(reports::table.find(current.id))
        .set((
            reports::data.eq(data),
            reports::version.eq(reports::version + 1),
            reports::updated_at.eq(now),
        ))
        .returning(reports::version)
        .get_result(conn)
        .await?;
    Ok(ReportRow {
        data: data.clone(),
        version,
        updated_at: now,
        ..current.clone()
    })
}

/// Moves a draft to another form version with the data carried over to it.
pub async fn change_form(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    form_id: Uuid,
    data: &serde_json::Value,
) -> ApiResult<ReportRow> {
    Ok(diesel::update(reports::table.find(id))
        .set((
            reports::form_id.eq(form_id),
            reports::data.eq(data),
            reports::version.eq(reports::version + 1),
            reports::updated_at.eq(Utc::now()),
        ))
        .get_result(conn)
        .await?)
}

pub struct Submission<'a> {
    pub number: i32,
    pub form_id: Uuid,
    pub data: &'a serde_json::Value,
    pub warnings: &'a [Issue],
    pub at: DateTime<Utc>,
    pub by: &'a str,
    pub late: bool,
    /// A coordinator's entry on the unit's behalf: the note given with it.
    pub entry_note: Option<&'a str>,
    /// `submitted`, or `awaiting_approval` when the unit head must sign off first.
    pub status: ReportStatus,
    /// The unit head's own submission, which is its approval (then `by`).
    pub approved: bool,
}

/// Freezes a revision and marks the report submitted (or awaiting the head's
/// approval). The row comes back as `current` with what the submission set (only the
/// new version is read back).
pub async fn submit(
    conn: &mut AsyncPgConnection,
    current: &ReportRow,
    s: Submission<'_>,
) -> ApiResult<ReportRow> {
    let id = current.id;
    let warnings = serde_json::to_value(s.warnings).map_err(ApiError::internal)?;
    diesel::insert_into(report_revisions::table)
        .values((
            report_revisions::report_id.eq(id),
            report_revisions::number.eq(s.number),
            report_revisions::form_id.eq(s.form_id),
            report_revisions::data.eq(s.data),
            report_revisions::warnings.eq(&warnings),
            report_revisions::submitted_at.eq(s.at),
            report_revisions::submitted_by.eq(s.by),
            report_revisions::late.eq(s.late),
            report_revisions::entered_by.eq(s.entry_note.map(|_| s.by)),
            report_revisions::entry_note.eq(s.entry_note),
        ))
        .execute(conn)
        .await?;
    if s.approved {
        record_approval(conn, id, s.number, s.by, s.at, s.late).await?;
    }
    let version: i32 = diesel::update(reports::table.find(id))
        .set((
            reports::status.eq(s.status.as_str()),
            reports::revision.eq(s.number),
            reports::submitted_at.eq(s.at),
            reports::submitted_by.eq(s.by),
            reports::late.eq(s.late),
            reports::version.eq(reports::version + 1),
            reports::updated_at.eq(s.at),
        ))
        .returning(reports::version)
        .get_result(conn)
        .await?;
    // As stored: PostgreSQL keeps microseconds, and diesel sends them truncated.
    let at = s.at.trunc_subsecs(6);
    Ok(ReportRow {
        status: s.status.as_str().to_string(),
        revision: Some(s.number),
        submitted_at: Some(at),
        submitted_by: Some(s.by.to_string()),
        late: Some(s.late),
        version,
        updated_at: at,
        ..current.clone()
    })
}

/// The unit head's approval of the revision awaiting it: recorded beside the revision
/// (who, when, and whether it came late, judged now that the report reaches the
/// coordinating office), and the report is submitted.
pub async fn approve(
    conn: &mut AsyncPgConnection,
    current: &ReportRow,
    by: &str,
    at: DateTime<Utc>,
    late: bool,
) -> ApiResult<ReportRow> {
    let number = current.revision.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "report {} awaits approval without a revision",
            current.id
        ))
    })?;
    record_approval(conn, current.id, number, by, at, late).await?;
    Ok(diesel::update(reports::table.find(current.id))
        .set((
            reports::status.eq(ReportStatus::Submitted.as_str()),
            reports::late.eq(late),
            reports::version.eq(reports::version + 1),
            reports::updated_at.eq(at),
        ))
        .get_result(conn)
        .await?)
}

async fn record_approval(
    conn: &mut AsyncPgConnection,
    report: Uuid,
    number: i32,
    by: &str,
    at: DateTime<Utc>,
    late: bool,
) -> ApiResult<()> {
    diesel::insert_into(revision_approvals::table)
        .values((
            revision_approvals::report_id.eq(report),
            revision_approvals::number.eq(number),
            revision_approvals::approved_at.eq(at),
            revision_approvals::approved_by.eq(by),
            revision_approvals::late.eq(late),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The plan's `head_sign_off`, and whether `user` is a head of `unit` (false for a
/// service client's id, which names no user).
pub async fn sign_off(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    user: Uuid,
    unit: Uuid,
) -> ApiResult<(bool, bool)> {
    use diesel::sql_types::{Bool, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        required: bool,
        #[diesel(sql_type = Bool)]
        head: bool,
    }
    // One statement: it runs inside every submission.
    let row: Row = diesel::sql_query(
        "SELECT p.head_sign_off AS required, EXISTS (SELECT 1 FROM users u \
             WHERE u.id = $2 AND u.unit_id = $3 AND u.active AND u.unit_head) AS head \
         FROM plans p WHERE p.id = $1",
    )
    .bind::<SqlUuid, _>(plan_id)
    .bind::<SqlUuid, _>(user)
    .bind::<SqlUuid, _>(unit)
    .get_result(conn)
    .await?;
    Ok((row.required, row.head))
}

/// A review step: return, accept or reopen.
pub async fn review(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    to: ReportStatus,
    by: &str,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> ApiResult<ReportRow> {
    Ok(diesel::update(reports::table.find(id))
        .set((
            reports::status.eq(to.as_str()),
            reports::reviewed_at.eq(now),
            reports::reviewed_by.eq(by),
            reports::review_comment.eq(comment),
            reports::version.eq(reports::version + 1),
            reports::updated_at.eq(now),
        ))
        .get_result(conn)
        .await?)
}

pub async fn revision_latest(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    number: i32,
) -> ApiResult<Latest> {
    let v: Option<LatestColumns> = report_revisions::table
        .left_join(
            revision_approvals::table.on(revision_approvals::report_id
                .eq(report_revisions::report_id)
                .and(revision_approvals::number.eq(report_revisions::number))),
        )
        .filter(report_revisions::report_id.eq(id))
        .filter(report_revisions::number.eq(number))
        .select((
            report_revisions::warnings.nullable(),
            revision_approvals::approved_at.nullable(),
            revision_approvals::approved_by.nullable(),
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(v.map(latest_of).unwrap_or_default())
}

pub async fn revisions(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Vec<RevisionSummary>> {
    let rows: Vec<(i32, DateTime<Utc>, String, bool)> = report_revisions::table
        .filter(report_revisions::report_id.eq(id))
        .select((
            report_revisions::number,
            report_revisions::submitted_at,
            report_revisions::submitted_by,
            report_revisions::late,
        ))
        .order(report_revisions::number.asc())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(number, submitted_at, submitted_by, late)| RevisionSummary {
                number,
                submitted_at,
                submitted_by,
                late,
            },
        )
        .collect())
}

pub async fn revision(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    number: i32,
) -> ApiResult<Option<Revision>> {
    #[derive(Queryable)]
    struct Row {
        report_id: Uuid,
        number: i32,
        form_id: Uuid,
        data: serde_json::Value,
        warnings: serde_json::Value,
        submitted_at: DateTime<Utc>,
        submitted_by: String,
        late: bool,
        entered_by: Option<String>,
        entry_note: Option<String>,
    }
    let row: Option<Row> = report_revisions::table
        .find((id, number))
        .first(conn)
        .await
        .optional()?;
    let approval: Option<(DateTime<Utc>, String)> = revision_approvals::table
        .find((id, number))
        .select((
            revision_approvals::approved_at,
            revision_approvals::approved_by,
        ))
        .first(conn)
        .await
        .optional()?;
    let (approved_at, approved_by) = approval.unzip();
    row.map(|r| {
        Ok(Revision {
            report_id: r.report_id,
            number: r.number,
            form_id: r.form_id,
            data: serde_json::from_value(r.data).map_err(ApiError::internal)?,
            warnings: serde_json::from_value(r.warnings).unwrap_or_default(),
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
            late: r.late,
            entered_by: r.entered_by,
            entry_note: r.entry_note,
            approved_at,
            approved_by,
        })
    })
    .transpose()
}

pub struct ListFilter {
    pub period_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub status: Option<ReportStatus>,
    pub late: Option<bool>,
    /// Subtree prefix, or the exact unit path for reporters.
    pub scope: Option<(String, bool)>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ListFilter,
    page: PageRequest,
) -> ApiResult<(Vec<ReportSummary>, i64)> {
    let build = || {
        let mut q = reports::table
            .inner_join(org_units::table)
            .inner_join(periods::table)
            .into_boxed();
        if let Some(p) = f.period_id {
            q = q.filter(reports::period_id.eq(p));
        }
        if let Some(u) = f.unit_id {
            q = q.filter(reports::unit_id.eq(u));
        }
        if let Some(s) = f.status {
            q = q.filter(reports::status.eq(s.as_str()));
        }
        if let Some(l) = f.late {
            q = q.filter(reports::late.eq(l));
        }
        match &f.scope {
            Some((path, true)) => q = q.filter(org_units::path.eq(path.clone())),
            Some((path, false)) => q = q.filter(org_units::path.like(format!("{path}%"))),
            None => {}
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        (Uuid, Uuid, String, Uuid, String, String, String),
        (
            Option<i32>,
            Option<DateTime<Utc>>,
            Option<bool>,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
            i32,
        ),
    )> = build()
        .select((
            (
                reports::id,
                reports::period_id,
                periods::code,
                reports::unit_id,
                org_units::code,
                org_units::name,
                reports::status,
            ),
            (
                reports::revision,
                reports::submitted_at,
                reports::late,
                reports::reviewed_at,
                reports::updated_at,
                reports::version,
            ),
        ))
        // Newest period first by its due date (two periods may open on the same day,
        // as `2024S1` and `2024` do), each period's rows together, then by unit code.
        .order((
            periods::due_date.desc(),
            periods::id.asc(),
            org_units::code.asc(),
            reports::id.asc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .await?;
    let items = rows
        .into_iter()
        .map(
            |(
                (id, period_id, period_code, unit_id, unit_code, unit_name, status),
                (revision, submitted_at, late, reviewed_at, updated_at, version),
            )| {
                ReportSummary {
                    id,
                    period_id,
                    period_code,
                    unit_id,
                    unit_code,
                    unit_name,
                    status: status.parse().unwrap_or(ReportStatus::Draft),
                    revision,
                    submitted_at,
                    late,
                    reviewed_at,
                    updated_at,
                    version,
                }
            },
        )
        .collect();
    Ok((items, total))
}

/// Decides every submitted report's lateness of a period again, against its due date
/// as it stands; returns how many reports changed their mind. Run in the transaction
/// that moves the due date, so the filter, the compilation and the documents follow.
/// A unit's own extension, when it has one, counts instead of the period's date;
/// `unit` narrows the work to one unit's report.
pub async fn recompute_lateness(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit: Option<Uuid>,
) -> ApiResult<usize> {
    Ok(diesel::sql_query(
        "WITH decided AS ( \
             SELECT r.id, r.submitted_at >= gr_due_instant(coalesce(e.due_date, p.due_date)) AS late \
             FROM reports r JOIN periods p ON p.id = r.period_id \
             LEFT JOIN due_date_extensions e ON e.period_id = r.period_id AND e.unit_id = r.unit_id \
             WHERE r.period_id = $1 AND r.submitted_at IS NOT NULL \
               AND ($2::uuid IS NULL OR r.unit_id = $2)) \
         UPDATE reports r SET late = d.late FROM decided d \
         WHERE r.id = d.id AND r.late IS DISTINCT FROM d.late",
    )
    .bind::<diesel::sql_types::Uuid, _>(period_id)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(unit)
    .execute(conn)
    .await?)
}

/// The unit's report of the period a compilation compares `period` with
/// (`compile::store::previous_sql`), as its values and that period's code, when it was
/// submitted or accepted there. One statement: it runs inside a submission.
pub async fn previous_values(
    conn: &mut AsyncPgConnection,
    period: Uuid,
    unit: Uuid,
) -> ApiResult<Option<crate::plans::logic::Previous>> {
    use diesel::sql_types::{Jsonb, Text, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        code: String,
        #[diesel(sql_type = Jsonb)]
        data: serde_json::Value,
    }
    let previous = crate::compile::store::previous_sql(
        "me.kind",
        "me.window_start",
        "me.plan_id",
        "mp.issuing_unit_id",
        "mp.year",
    );
    let row: Option<Row> = diesel::sql_query(format!(
        "SELECT prev.code, r.data FROM periods me JOIN plans mp ON mp.id = me.plan_id \
         CROSS JOIN LATERAL ({previous}) prev \
         JOIN reports r ON r.period_id = prev.id AND r.unit_id = $2 \
         WHERE me.id = $1 AND r.status IN ('submitted', 'accepted')"
    ))
    .bind::<SqlUuid, _>(period)
    .bind::<SqlUuid, _>(unit)
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|r| crate::plans::logic::Previous {
        period_code: r.code,
        values: r
            .data
            .get("values")
            .and_then(|v| v.as_object())
            .cloned()
            .unwrap_or_default(),
    }))
}
