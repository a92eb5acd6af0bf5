//! Notification queries: writing them to reporters, a user's list, reminder
//! schedules and steps sent, and the e-mail outbox's claim and record.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bool, Date, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Note;
use super::model::{Notification, ReminderSchedule};
use crate::error::ApiResult;
use crate::pagination::PageRequest;

/// One notification to every active reporter of each unit; an e-mail is queued for
/// those with an address who did not switch e-mail off. Returns how many were written.
pub async fn to_reporters(
    conn: &mut AsyncPgConnection,
    unit_ids: &[Uuid],
    n: &Note,
) -> ApiResult<usize> {
    write(conn, unit_ids, n, false).await
}

/// The same for the active heads of a unit (`users.unit_head`), whatever their role.
pub async fn to_unit_heads(conn: &mut AsyncPgConnection, unit: Uuid, n: &Note) -> ApiResult<usize> {
    write(conn, &[unit], n, true).await
}

async fn write(
    conn: &mut AsyncPgConnection,
    unit_ids: &[Uuid],
    n: &Note,
    heads: bool,
) -> ApiResult<usize> {
    if unit_ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::sql_query(
        "WITH written AS ( \
             INSERT INTO notifications (id, user_id, kind, title, body, data, period_id, unit_id, \
                 report_id) \
             SELECT gen_random_uuid(), u.id, $1, $2, $3, $4, $5, u.unit_id, $6 \
             FROM users u WHERE u.unit_id = ANY ($7) AND u.active \
                 AND CASE WHEN $8 THEN u.unit_head ELSE u.role = 'reporter' END \
             ORDER BY u.id \
             RETURNING id, user_id), \
         mailed AS ( \
             INSERT INTO notification_emails (notification_id, email_to) \
             SELECT w.id, u.email FROM written w JOIN users u ON u.id = w.user_id \
             WHERE coalesce(u.email, '') <> '' AND u.email_notifications) \
         SELECT 1 FROM written",
    )
    .bind::<Text, _>(n.kind)
    .bind::<Text, _>(&n.title)
    .bind::<Text, _>(&n.body)
    .bind::<Jsonb, _>(&n.data)
    .bind::<Nullable<SqlUuid>, _>(n.period_id)
    .bind::<Nullable<SqlUuid>, _>(n.report_id)
    .bind::<Array<SqlUuid>, _>(unit_ids)
    .bind::<Bool, _>(heads)
    .execute(conn)
    .await?)
}

/// A unit expected to report in a period (its expected units, `plans::expected`) that
/// has an active reporter (there is nobody to remind in the others).
#[derive(QueryableByName, Debug, Clone)]
pub struct Expected {
    #[diesel(sql_type = SqlUuid)]
    pub unit_id: Uuid,
    #[diesel(sql_type = Text)]
    pub unit_code: String,
    #[diesel(sql_type = Text)]
    pub unit_path: String,
    /// The unit's own due date (its extension's, when it has one).
    #[diesel(sql_type = Date)]
    pub due_date: NaiveDate,
    /// No submitted or accepted report yet.
    #[diesel(sql_type = Bool)]
    pub missing: bool,
}

pub async fn expected_units(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
) -> ApiResult<Vec<Expected>> {
    Ok(diesel::sql_query(
        "SELECT u.id AS unit_id, u.code AS unit_code, u.path AS unit_path, \
             coalesce(x.due_date, p.due_date) AS due_date, \
             NOT EXISTS (SELECT 1 FROM reports r WHERE r.period_id = p.id AND r.unit_id = u.id \
                 AND r.status IN ('submitted', 'accepted')) AS missing \
         FROM periods p \
         JOIN period_expected_units e ON e.period_id = p.id AND e.removed_at IS NULL \
         JOIN org_units u ON u.id = e.unit_id \
             AND EXISTS (SELECT 1 FROM users r WHERE r.unit_id = u.id AND r.role = 'reporter' \
                 AND r.active) \
         LEFT JOIN due_date_extensions x ON x.period_id = p.id AND x.unit_id = u.id \
         WHERE p.id = $1 ORDER BY u.path",
    )
    .bind::<SqlUuid, _>(period_id)
    .load(conn)
    .await?)
}

pub async fn expected_unit_ids(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
) -> ApiResult<Vec<Uuid>> {
    Ok(expected_units(conn, period_id)
        .await?
        .into_iter()
        .map(|e| e.unit_id)
        .collect())
}

// --- a user's notifications -------------------------------------------------------

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Jsonb)]
    data: serde_json::Value,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    period_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    unit_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    unit_code: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    report_id: Option<Uuid>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    read_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    email_status: String,
}

impl Row {
    fn into_api(self) -> Notification {
        let link = match (self.period_id, &self.unit_code) {
            (Some(p), Some(u)) if self.report_id.is_some() => {
                Some(format!("/api/v1/periods/{p}/reports/{u}"))
            }
            (Some(p), _) => Some(format!("/api/v1/periods/{p}")),
            _ => None,
        };
        Notification {
            id: self.id,
            kind: self.kind,
            title: self.title,
            body: self.body,
            data: self.data,
            period_id: self.period_id,
            unit_id: self.unit_id,
            report_id: self.report_id,
            link,
            created_at: self.created_at,
            read_at: self.read_at,
            email_status: self.email_status,
        }
    }
}

const SELECT: &str = "SELECT n.id, n.kind, n.title, n.body, n.data, n.period_id, n.unit_id, \
    u.code AS unit_code, n.report_id, n.created_at, n.read_at, \
    coalesce(e.status, 'none') AS email_status \
    FROM notifications n LEFT JOIN org_units u ON u.id = n.unit_id \
    LEFT JOIN notification_emails e ON e.notification_id = n.id";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A user's notifications, newest first; the total matching and the unread count.
pub async fn list(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    unread_only: bool,
    page: PageRequest,
) -> ApiResult<(Vec<Notification>, i64, i64)> {
    let rows: Vec<Row> = diesel::sql_query(format!(
        "{SELECT} WHERE n.user_id = $1 AND (NOT $2 OR n.read_at IS NULL) \
         ORDER BY n.created_at DESC, n.id DESC LIMIT $3 OFFSET $4"
    ))
    .bind::<SqlUuid, _>(user_id)
    .bind::<Bool, _>(unread_only)
    .bind::<BigInt, _>(page.limit)
    .bind::<BigInt, _>(page.offset)
    .load(conn)
    .await?;
    let total: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM notifications WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Bool, _>(unread_only)
    .get_result(conn)
    .await?;
    let unread: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind::<SqlUuid, _>(user_id)
    .get_result(conn)
    .await?;
    Ok((
        rows.into_iter().map(Row::into_api).collect(),
        total.n,
        unread.n,
    ))
}

/// Marks one of the user's notifications read (kept as first read); `None` when the
/// user has no such notification.
pub async fn mark_read(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<Notification>> {
    diesel::sql_query(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(user_id)
    .execute(conn)
    .await?;
    let row: Option<Row> =
        diesel::sql_query(format!("{SELECT} WHERE n.id = $1 AND n.user_id = $2"))
            .bind::<SqlUuid, _>(id)
            .bind::<SqlUuid, _>(user_id)
            .get_result(conn)
            .await
            .optional()?;
    Ok(row.map(Row::into_api))
}

pub async fn mark_all_read(conn: &mut AsyncPgConnection, user_id: Uuid) -> ApiResult<usize> {
    Ok(diesel::sql_query(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind::<SqlUuid, _>(user_id)
    .execute(conn)
    .await?)
}

#[derive(QueryableByName)]
pub struct EmailSetting {
    #[diesel(sql_type = Bool)]
    pub email_notifications: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
}

/// A user's e-mail switch, changed when `set` is given.
pub async fn email_setting(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    set: Option<bool>,
) -> ApiResult<Option<EmailSetting>> {
    Ok(diesel::sql_query(
        "UPDATE users SET email_notifications = coalesce($2, email_notifications) \
         WHERE id = $1 RETURNING email_notifications, email",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Nullable<Bool>, _>(set)
    .get_result(conn)
    .await
    .optional()?)
}

// --- reminder schedules -----------------------------------------------------------

#[derive(QueryableByName)]
struct ScheduleRow {
    #[diesel(sql_type = Array<Integer>)]
    offsets_days: Vec<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    repeat_every_days: Option<i32>,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Nullable<Text>)]
    updated_by: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    updated_at: Option<DateTime<Utc>>,
}

/// A period's schedule, or the default when it has none of its own.
pub async fn schedule(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
) -> ApiResult<ReminderSchedule> {
    let row: Option<ScheduleRow> = diesel::sql_query(
        "SELECT offsets_days, repeat_every_days, enabled, updated_by, updated_at \
         FROM reminder_schedules WHERE period_id = $1",
    )
    .bind::<SqlUuid, _>(period_id)
    .get_result(conn)
    .await
    .optional()?;
    Ok(match row {
        Some(r) => ReminderSchedule {
            period_id,
            offsets_days: r.offsets_days,
            repeat_every_days: r.repeat_every_days,
            enabled: r.enabled,
            is_default: false,
            updated_by: r.updated_by,
            updated_at: r.updated_at,
        },
        None => ReminderSchedule::default_for(period_id),
    })
}

pub async fn put_schedule(
    conn: &mut AsyncPgConnection,
    s: &ReminderSchedule,
    by: &str,
) -> ApiResult<()> {
    diesel::sql_query(
        "INSERT INTO reminder_schedules (period_id, offsets_days, repeat_every_days, enabled, updated_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (period_id) DO UPDATE SET \
         offsets_days = EXCLUDED.offsets_days, repeat_every_days = EXCLUDED.repeat_every_days, \
         enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now()",
    )
    .bind::<SqlUuid, _>(s.period_id)
    .bind::<Array<Integer>, _>(&s.offsets_days)
    .bind::<Nullable<Integer>, _>(s.repeat_every_days)
    .bind::<Bool, _>(s.enabled)
    .bind::<Text, _>(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Open periods whose reminders may be due around `today`: those with a due date
/// (or a unit's extension) no more than a year away either side.
#[derive(QueryableByName)]
pub struct OpenPeriod {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub name: String,
}

pub async fn open_periods(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
) -> ApiResult<Vec<OpenPeriod>> {
    Ok(diesel::sql_query(
        "SELECT p.id, p.code, p.name FROM periods p \
         WHERE p.status = 'open' AND p.due_date BETWEEN $1 - 366 AND $1 + 366 \
         AND coalesce((SELECT enabled FROM reminder_schedules s WHERE s.period_id = p.id), true) \
         ORDER BY p.due_date, p.id",
    )
    .bind::<Date, _>(today)
    .load(conn)
    .await?)
}

/// Records that `step` of a period's reminders went to a unit; `false` when it
/// already had (by this process or any other), so that nothing is sent twice.
pub async fn claim_step(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    step: &str,
    by: &str,
    message: Option<&str>,
    at: DateTime<Utc>,
) -> ApiResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO reminders_sent (period_id, unit_id, step, sent_by, message, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(period_id)
    .bind::<SqlUuid, _>(unit_id)
    .bind::<Text, _>(step)
    .bind::<Text, _>(by)
    .bind::<Nullable<Text>, _>(message)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

// --- the e-mail outbox --------------------------------------------------------------

/// An e-mail claimed by one worker.
#[derive(QueryableByName, Debug)]
pub struct Claimed {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub email_to: String,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Integer)]
    pub email_attempts: i32,
}

/// Claims up to `limit` e-mails due at `now` for `lease`; `SKIP LOCKED` lets several
/// processes claim at once without taking each other's rows.
pub async fn claim_emails(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
    lease: Duration,
    token: Uuid,
) -> ApiResult<Vec<Claimed>> {
    Ok(diesel::sql_query(
        "WITH due AS ( \
             SELECT notification_id FROM notification_emails \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
               AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY next_attempt_at, notification_id LIMIT $2 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE notification_emails e \
         SET locked_until = $1 + $3 * interval '1 millisecond', claim_token = $4 \
         FROM due, notifications n \
         WHERE e.notification_id = due.notification_id AND n.id = e.notification_id \
         RETURNING n.id, e.email_to, n.title, n.body, e.attempts AS email_attempts",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
    .bind::<SqlUuid, _>(token)
    .load(conn)
    .await?)
}

/// Records an attempt while the claim is still this worker's: sent, due again at
/// `retry_at`, or failed when that is `None`.
pub async fn record_email(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    token: Uuid,
    error: Option<&str>,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ApiResult<bool> {
    let status = match (error, retry_at) {
        (None, _) => "sent",
        (Some(_), Some(_)) => "pending",
        (Some(_), None) => "failed",
    };
    let n = diesel::sql_query(
        "UPDATE notification_emails SET status = $3, attempts = attempts + 1, \
             next_attempt_at = coalesce($4, next_attempt_at), last_error = $5, \
             sent_at = CASE WHEN $3 = 'sent' THEN $6 END, \
             locked_until = NULL, claim_token = NULL \
         WHERE notification_id = $1 AND claim_token = $2 AND status = 'pending'",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(token)
    .bind::<Text, _>(status)
    .bind::<Nullable<Timestamptz>, _>(retry_at)
    .bind::<Nullable<Text>, _>(error)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    Ok(n == 1)
}
