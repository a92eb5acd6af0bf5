//! Notifications to users, in the app and by e-mail, and reminders of missing reports.
//!
//! An event that concerns a unit's reporters (a report returned, accepted, reopened or
//! entered on the unit's behalf; a due date set, moved or extended; a period locked or
//! unlocked; a reminder) writes one notification per recipient in the transaction of
//! the event. Each notification that should go out by e-mail is also its own outbox
//! row (`email_status = 'pending'`), sent by the worker (`worker`) with retries.
//! Reminders follow a schedule kept per period (`reminder_schedules`), each step sent
//! once per unit (`reminders_sent`).

pub mod mail;
pub mod model;
pub mod routes;
pub mod store;
pub mod worker;

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiResult;
use crate::webhooks::{EventType, ReportChange};

/// One notification about to be written to the reporters of some units.
pub struct Note {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
    pub period_id: Option<Uuid>,
    pub report_id: Option<Uuid>,
}

/// A report's transition, told to its unit's reporters: returned (with the reason),
/// accepted or reopened. Submissions concern the reviewers, not the unit.
pub async fn report_changed(
    conn: &mut AsyncPgConnection,
    event: EventType,
    c: &ReportChange<'_>,
) -> ApiResult<()> {
    let period = c.period_code;
    let reason = c
        .reason
        .map(|r| format!("\nLý do: {r}"))
        .unwrap_or_default();
    let (kind, title, body) = match event {
        EventType::ReportReturned => (
            "report.returned",
            format!("Báo cáo kỳ {period} bị trả lại"),
            format!(
                "Báo cáo kỳ {period} của đơn vị {} đã bị {} trả lại để chỉnh sửa.{reason}",
                c.unit_code, c.by
            ),
        ),
        EventType::ReportAccepted => (
            "report.accepted",
            format!("Báo cáo kỳ {period} đã được tiếp nhận"),
            format!(
                "Báo cáo kỳ {period} của đơn vị {} đã được {} tiếp nhận.{}",
                c.unit_code,
                c.by,
                c.reason
                    .map(|r| format!("\nNhận xét: {r}"))
                    .unwrap_or_default()
            ),
        ),
        EventType::ReportReopened => (
            "report.reopened",
            format!("Báo cáo kỳ {period} được mở lại"),
            format!(
                "Báo cáo kỳ {period} của đơn vị {} đã được {} mở lại để chỉnh sửa.{reason}",
                c.unit_code, c.by
            ),
        ),
        _ => return Ok(()),
    };
    let note = Note {
        kind,
        title,
        body,
        data: json!({
            "period_code": period, "unit_code": c.unit_code, "status": c.status,
            "by": c.by, "reason": c.reason,
        }),
        period_id: Some(c.period_id),
        report_id: Some(c.report_id),
    };
    store::to_reporters(conn, &[c.unit_id], &note).await?;
    Ok(())
}

/// A reporter's submission told to the unit's heads, who must approve it; a head's
/// decline told to the unit's reporters, with the reason.
pub async fn sign_off(
    conn: &mut AsyncPgConnection,
    transition: crate::reports::workflow::Transition,
    s: &ReportChange<'_>,
) -> ApiResult<()> {
    let declined = transition == crate::reports::workflow::Transition::Decline;
    let (kind, title, body) = if declined {
        (
            "report.declined",
            format!("Báo cáo kỳ {} chưa được thủ trưởng duyệt", s.period_code),
            format!(
                "Báo cáo kỳ {} của đơn vị {} đã được {} trả lại để chỉnh sửa trước khi gửi.{}",
                s.period_code,
                s.unit_code,
                s.by,
                s.reason
                    .map(|r| format!("\nLý do: {r}"))
                    .unwrap_or_default()
            ),
        )
    } else {
        (
            "report.awaiting_approval",
            format!("Báo cáo kỳ {} chờ thủ trưởng duyệt", s.period_code),
            format!(
                "{} đã hoàn thành báo cáo kỳ {} của đơn vị {}; báo cáo chỉ được gửi cơ quan \
                 thường trực sau khi thủ trưởng đơn vị duyệt.",
                s.by, s.period_code, s.unit_code
            ),
        )
    };
    let note = Note {
        kind,
        title,
        body,
        data: json!({
            "period_code": s.period_code, "unit_code": s.unit_code, "by": s.by,
            "reason": s.reason,
        }),
        period_id: Some(s.period_id),
        report_id: Some(s.report_id),
    };
    if declined {
        store::to_reporters(conn, &[s.unit_id], &note).await?;
    } else {
        store::to_unit_heads(conn, s.unit_id, &note).await?;
    }
    Ok(())
}

/// A report a coordinator entered (saved or submitted) on the unit's behalf.
pub struct Entry<'a> {
    pub report_id: Uuid,
    pub period_id: Uuid,
    pub period_code: &'a str,
    pub unit_id: Uuid,
    pub unit_code: &'a str,
    pub by: &'a str,
    pub note: &'a str,
    pub submitted: bool,
}

pub async fn entered_on_behalf(conn: &mut AsyncPgConnection, e: &Entry<'_>) -> ApiResult<()> {
    let what = if e.submitted {
        "nộp thay"
    } else {
        "nhập thay"
    };
    let note = Note {
        kind: "report.entered_on_behalf",
        title: format!("Báo cáo kỳ {} được {what} đơn vị", e.period_code),
        body: format!(
            "{} đã {what} báo cáo kỳ {} của đơn vị {}.\nGhi chú: {}",
            e.by, e.period_code, e.unit_code, e.note
        ),
        data: json!({
            "period_code": e.period_code, "unit_code": e.unit_code, "by": e.by,
            "entry_note": e.note, "submitted": e.submitted,
        }),
        period_id: Some(e.period_id),
        report_id: Some(e.report_id),
    };
    store::to_reporters(conn, &[e.unit_id], &note).await?;
    Ok(())
}

/// A period locked or unlocked, told to the reporters of every unit that reports in it.
pub async fn period_status_changed(
    conn: &mut AsyncPgConnection,
    locked: bool,
    period_id: Uuid,
    period_code: &str,
    by: &str,
) -> ApiResult<()> {
    let (kind, title, body) = if locked {
        (
            "period.locked",
            format!("Kỳ báo cáo {period_code} đã khoá"),
            format!(
                "{by} đã khoá kỳ báo cáo {period_code}: các đơn vị không thể sửa hay nộp báo cáo cho đến khi kỳ được mở lại."
            ),
        )
    } else {
        (
            "period.unlocked",
            format!("Kỳ báo cáo {period_code} đã mở lại"),
            format!(
                "{by} đã mở lại kỳ báo cáo {period_code}: các đơn vị có thể sửa và nộp báo cáo."
            ),
        )
    };
    let units = store::expected_unit_ids(conn, period_id).await?;
    let note = Note {
        kind,
        title,
        body,
        data: json!({ "period_code": period_code, "by": by, "status": if locked { "locked" } else { "open" } }),
        period_id: Some(period_id),
        report_id: None,
    };
    store::to_reporters(conn, &units, &note).await?;
    Ok(())
}

/// A due date set (a new period), moved (the period's) or extended (one unit's).
pub async fn due_date_changed(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    period_code: &str,
    unit: Option<Uuid>,
    due_date: NaiveDate,
    previous: Option<NaiveDate>,
    reason: Option<&str>,
) -> ApiResult<()> {
    let due = due_date.format("%d/%m/%Y");
    let (kind, title, body) = match (unit, previous) {
        (Some(_), _) => (
            "period.due_date_extended",
            format!("Gia hạn nộp báo cáo kỳ {period_code}"),
            format!("Đơn vị được gia hạn nộp báo cáo kỳ {period_code} đến hết ngày {due}."),
        ),
        (None, None) => (
            "period.due_date_set",
            format!("Kỳ báo cáo mới {period_code}"),
            format!("Kỳ báo cáo {period_code} đã được mở; hạn nộp là ngày {due}."),
        ),
        (None, Some(p)) => (
            "period.due_date_moved",
            format!("Hạn nộp báo cáo kỳ {period_code} thay đổi"),
            format!(
                "Hạn nộp báo cáo kỳ {period_code} đã chuyển từ ngày {} sang ngày {due}.",
                p.format("%d/%m/%Y")
            ),
        ),
    };
    let body = match reason {
        Some(r) => format!("{body}\nLý do: {r}"),
        None => body,
    };
    let units = match unit {
        Some(u) => vec![u],
        None => store::expected_unit_ids(conn, period_id).await?,
    };
    let note = Note {
        kind,
        title,
        body,
        data: json!({
            "period_code": period_code, "due_date": due_date,
            "previous_due_date": previous, "reason": reason,
        }),
        period_id: Some(period_id),
        report_id: None,
    };
    store::to_reporters(conn, &units, &note).await?;
    Ok(())
}

/// The reminder to one unit whose report is missing.
pub fn reminder_note(
    period_id: Uuid,
    period_code: &str,
    period_name: &str,
    unit_code: &str,
    due: NaiveDate,
    days_to_due: i64,
    message: Option<&str>,
) -> Note {
    let when = match days_to_due {
        d if d > 0 => format!(
            "còn {d} ngày nữa là đến hạn nộp (ngày {})",
            due.format("%d/%m/%Y")
        ),
        0 => format!("hôm nay là hạn nộp (ngày {})", due.format("%d/%m/%Y")),
        d => format!(
            "đã quá hạn nộp {} ngày (hạn ngày {})",
            -d,
            due.format("%d/%m/%Y")
        ),
    };
    let mut body =
        format!("Đơn vị {unit_code} chưa nộp báo cáo kỳ {period_code} ({period_name}): {when}.");
    if let Some(m) = message {
        body.push_str(&format!("\nLời nhắn của văn phòng điều phối: {m}"));
    }
    Note {
        kind: "reminder",
        title: format!("Nhắc nộp báo cáo kỳ {period_code}"),
        body,
        data: json!({
            "period_code": period_code, "unit_code": unit_code, "due_date": due,
            "days_to_due": days_to_due, "message": message,
        }),
        period_id: Some(period_id),
        report_id: None,
    }
}
