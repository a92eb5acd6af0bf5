//! Signed webhooks: city systems subscribe to events of a subtree instead of polling.
//!
//! A change that causes an event calls [`emit`] inside its own transaction: the event is
//! written to the outbox (`webhook_events`) with one delivery per enabled endpoint that
//! wants its type and whose subtree holds the event's unit, or nothing at all when no
//! endpoint does. The change and its events commit together or not at all. The
//! delivery worker (`worker`) sends them signed as Standard Webhooks says, retries on a
//! schedule of more than a day, keeps the order per report, logs every attempt, and
//! disables an endpoint that keeps failing.

pub mod model;
pub mod routes;
pub mod sign;
pub mod store;
pub mod worker;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiResult;

/// What an endpoint can subscribe to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
pub enum EventType {
    /// A unit submitted its report.
    #[serde(rename = "report.submitted")]
    ReportSubmitted,
    /// A coordinator returned a report for changes.
    #[serde(rename = "report.returned")]
    ReportReturned,
    /// A coordinator accepted a report.
    #[serde(rename = "report.accepted")]
    ReportAccepted,
    /// A coordinator reopened an accepted report.
    #[serde(rename = "report.reopened")]
    ReportReopened,
    /// A period was locked: reporters can no longer write to it.
    #[serde(rename = "period.locked")]
    PeriodLocked,
    /// A period was unlocked.
    #[serde(rename = "period.unlocked")]
    PeriodUnlocked,
    /// A period's due date moved, or one unit was given its own.
    #[serde(rename = "period.due_date_changed")]
    DueDateChanged,
    /// A period's compiled figures or completeness changed: read the compilation again.
    #[serde(rename = "compilation.changed")]
    CompilationChanged,
    /// A test message sent on request (`POST /webhooks/{webhook_id}/test`); always
    /// delivered to that endpoint, never subscribed to.
    #[serde(rename = "webhook.test")]
    Test,
}

impl EventType {
    /// The types an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 8] = [
        EventType::ReportSubmitted,
        EventType::ReportReturned,
        EventType::ReportAccepted,
        EventType::ReportReopened,
        EventType::PeriodLocked,
        EventType::PeriodUnlocked,
        EventType::DueDateChanged,
        EventType::CompilationChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ReportSubmitted => "report.submitted",
            EventType::ReportReturned => "report.returned",
            EventType::ReportAccepted => "report.accepted",
            EventType::ReportReopened => "report.reopened",
            EventType::PeriodLocked => "period.locked",
            EventType::PeriodUnlocked => "period.unlocked",
            EventType::DueDateChanged => "period.due_date_changed",
            EventType::CompilationChanged => "compilation.changed",
            EventType::Test => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([EventType::Test])
            .find(|t| t.as_str() == s)
    }
}

/// Which endpoints an event's unit reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Endpoints whose subtree holds the unit (events about a unit's report).
    Subtree,
    /// Also endpoints below the unit: a plan's periods concern every unit under the
    /// issuing one, as they can all read it.
    Plan,
}

/// One event about to be written.
pub struct Emit {
    pub event: EventType,
    pub unit_id: Uuid,
    pub reach: Reach,
    /// Deliveries with the same key go to each endpoint in the order they were made.
    pub ordering_key: String,
    pub data: serde_json::Value,
}

/// The body every delivery of the event carries.
pub fn payload(event: EventType, at: DateTime<Utc>, data: serde_json::Value) -> serde_json::Value {
    json!({ "type": event.as_str(), "timestamp": at, "data": data })
}

/// Writes the event and its deliveries in the caller's transaction.
pub async fn emit(conn: &mut diesel_async::AsyncPgConnection, e: Emit) -> ApiResult<()> {
    let body = payload(e.event, Utc::now(), e.data.clone());
    store::write_event(conn, &e, &body).await
}

/// A report's transition, as its webhook events tell it.
pub struct ReportChange<'a> {
    pub report_id: Uuid,
    pub period_id: Uuid,
    pub period_code: &'a str,
    pub unit_id: Uuid,
    pub unit_code: &'a str,
    pub status: &'a str,
    pub revision: Option<i32>,
    pub late: Option<bool>,
    /// Who made the transition (a username or a service client's name).
    pub by: &'a str,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// A report was submitted, returned, accepted or reopened: its own event, ordered
/// per report, and `compilation.changed`, as every transition changes the period's
/// compilation (its figures or who is counted as having reported).
pub async fn report_changed(
    conn: &mut diesel_async::AsyncPgConnection,
    event: EventType,
    c: ReportChange<'_>,
) -> ApiResult<()> {
    emit(
        conn,
        Emit {
            event,
            unit_id: c.unit_id,
            reach: Reach::Subtree,
            ordering_key: format!("report:{}", c.report_id),
            data: json!({
                "report_id": c.report_id, "period_id": c.period_id, "period_code": c.period_code,
                "unit_id": c.unit_id, "unit_code": c.unit_code, "status": c.status,
                "revision": c.revision, "late": c.late, "by": c.by, "reason": c.reason,
                "at": c.at,
            }),
        },
    )
    .await?;
    // The unit's reporters hear of it in the app and by e-mail, in the same transaction.
    crate::notifications::report_changed(conn, event, &c).await?;
    compilation_changed(
        conn,
        c.period_id,
        c.period_code,
        (c.unit_id, Some(c.unit_code)),
        Reach::Subtree,
        event.as_str(),
    )
    .await
}

/// `compilation.changed` for a period: `unit` is the unit whose data changed (for a
/// period-wide change, the plan's issuing unit, with no code, reaching every endpoint
/// of the plan).
pub async fn compilation_changed(
    conn: &mut diesel_async::AsyncPgConnection,
    period_id: Uuid,
    period_code: &str,
    unit: (Uuid, Option<&str>),
    reach: Reach,
    cause: &str,
) -> ApiResult<()> {
    emit(
        conn,
        Emit {
            event: EventType::CompilationChanged,
            unit_id: unit.0,
            reach,
            ordering_key: format!("compilation:{period_id}"),
            data: json!({
                "period_id": period_id, "period_code": period_code,
                "unit_id": unit.0, "unit_code": unit.1, "cause": cause,
            }),
        },
    )
    .await
}

/// A period's state, as period events tell it.
pub struct PeriodChange<'a> {
    pub period_id: Uuid,
    pub period_code: &'a str,
    pub plan_id: Uuid,
    pub issuing_unit_id: Uuid,
    pub by: &'a str,
}

/// `period.locked` or `period.unlocked`, to every endpoint of the plan.
pub async fn period_status_changed(
    conn: &mut diesel_async::AsyncPgConnection,
    locked: bool,
    p: PeriodChange<'_>,
) -> ApiResult<()> {
    let (event, status) = if locked {
        (EventType::PeriodLocked, "locked")
    } else {
        (EventType::PeriodUnlocked, "open")
    };
    emit(
        conn,
        Emit {
            event,
            unit_id: p.issuing_unit_id,
            reach: Reach::Plan,
            ordering_key: format!("period:{}", p.period_id),
            data: json!({
                "period_id": p.period_id, "period_code": p.period_code, "plan_id": p.plan_id,
                "status": status, "by": p.by,
            }),
        },
    )
    .await?;
    crate::notifications::period_status_changed(conn, locked, p.period_id, p.period_code, p.by)
        .await
}

/// A moved due date: the period's own (`unit` is `None`; every endpoint of the plan
/// hears of it) or one unit's extension (endpoints whose subtree holds that unit).
/// When it changed some report's lateness, `compilation.changed` follows.
pub struct DueDateChange<'a> {
    pub period: PeriodChange<'a>,
    pub unit: Option<(Uuid, &'a str)>,
    pub due_date: NaiveDate,
    pub previous_due_date: Option<NaiveDate>,
    pub reason: Option<&'a str>,
    pub reports_lateness_changed: usize,
}

pub async fn due_date_changed(
    conn: &mut diesel_async::AsyncPgConnection,
    d: DueDateChange<'_>,
) -> ApiResult<()> {
    let p = &d.period;
    let (unit_id, reach) = match d.unit {
        Some((id, _)) => (id, Reach::Subtree),
        None => (p.issuing_unit_id, Reach::Plan),
    };
    emit(
        conn,
        Emit {
            event: EventType::DueDateChanged,
            unit_id,
            reach,
            ordering_key: format!("period:{}", p.period_id),
            data: json!({
                "period_id": p.period_id, "period_code": p.period_code, "plan_id": p.plan_id,
                "unit_id": d.unit.map(|u| u.0), "unit_code": d.unit.map(|u| u.1),
                "due_date": d.due_date, "previous_due_date": d.previous_due_date,
                "reason": d.reason, "reports_lateness_changed": d.reports_lateness_changed,
                "by": p.by,
            }),
        },
    )
    .await?;
    if d.previous_due_date != Some(d.due_date) {
        crate::notifications::due_date_changed(
            conn,
            p.period_id,
            p.period_code,
            d.unit.map(|u| u.0),
            d.due_date,
            d.previous_due_date,
            d.reason,
        )
        .await?;
    }
    if d.reports_lateness_changed > 0 {
        compilation_changed(
            conn,
            p.period_id,
            p.period_code,
            (unit_id, d.unit.map(|u| u.1)),
            reach,
            EventType::DueDateChanged.as_str(),
        )
        .await?;
    }
    Ok(())
}

/// The messages the service sends, for the OpenAPI document's `webhooks` section
/// (OpenAPI 3.1): one `POST` a type, with its headers and body.
pub fn openapi_webhooks() -> serde_json::Value {
    let id = json!({"type": "string", "format": "uuid"});
    let nullable_id = json!({"type": ["string", "null"], "format": "uuid"});
    let text = json!({"type": "string"});
    let nullable_text = json!({"type": ["string", "null"]});
    let date = json!({"type": "string", "format": "date"});
    let report = json!({
        "report_id": id, "period_id": id, "period_code": text, "unit_id": id, "unit_code": text,
        "status": {"type": "string", "enum": ["draft", "awaiting_approval", "submitted", "returned", "accepted"]},
        "revision": {"type": ["integer", "null"]}, "late": {"type": ["boolean", "null"]},
        "by": {"type": "string", "description": "Who made the transition"},
        "reason": {"type": ["string", "null"], "description": "Why (return, reopen; an acceptance's optional comment)"},
        "at": {"type": "string", "format": "date-time"},
    });
    let period = json!({
        "period_id": id, "period_code": text, "plan_id": id,
        "status": {"type": "string", "enum": ["open", "locked"]}, "by": text,
    });
    let due = json!({
        "period_id": id, "period_code": text, "plan_id": id,
        "unit_id": nullable_id, "unit_code": nullable_text,
        "due_date": date, "previous_due_date": {"type": ["string", "null"], "format": "date"},
        "reason": nullable_text, "reports_lateness_changed": {"type": "integer", "minimum": 0},
        "by": text,
    });
    let compilation = json!({
        "period_id": id, "period_code": text, "unit_id": id, "unit_code": nullable_text,
        "cause": {"type": "string", "description": "What changed it: the event type (`report.accepted`, `period.due_date_changed`, …), `indicator.changed`, or `period.expected_units_changed`"},
    });
    let test = json!({"webhook_id": id, "unit_id": id, "unit_code": text, "by": text});
    let header = |name: &str, description: &str| {
        json!({"name": name, "in": "header", "required": true,
               "description": description, "schema": {"type": "string"}})
    };
    let parameters = json!([
        header(
            "webhook-id",
            "The message id (`msg_…`), the same on every retry: drop repeats by it"
        ),
        header(
            "webhook-timestamp",
            "Seconds since 1970 when this attempt was signed; refuse old ones"
        ),
        header(
            "webhook-signature",
            "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret; two, space-separated, for a day after a rotation"
        ),
    ]);
    let mut out = serde_json::Map::new();
    for t in EventType::SUBSCRIBABLE.into_iter().chain([EventType::Test]) {
        let (data, when) = match t {
            EventType::ReportSubmitted => (&report, "A unit submitted its report"),
            EventType::ReportReturned => (&report, "A coordinator returned a report for changes"),
            EventType::ReportAccepted => (&report, "A coordinator accepted a report"),
            EventType::ReportReopened => (&report, "A coordinator reopened an accepted report"),
            EventType::PeriodLocked => (&period, "A period was locked"),
            EventType::PeriodUnlocked => (&period, "A period was unlocked"),
            EventType::DueDateChanged => (
                &due,
                "A period's due date moved (`unit_id` null), or one unit was given its own",
            ),
            EventType::CompilationChanged => (
                &compilation,
                "The period's compilation changed: read it again",
            ),
            EventType::Test => (&test, "A test message, sent on request"),
        };
        let required: Vec<&String> = data
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let op_id: String = t
            .as_str()
            .split(['.', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect();
        out.insert(
            t.as_str().to_string(),
            json!({"post": {
                "operationId": format!("on{op_id}"),
                "tags": ["webhooks"],
                "summary": format!("`{}`: {when}", t.as_str()),
                "description": "Sent to each enabled endpoint that subscribed to this type and \
                    whose subtree the event concerns. Answer 2xx within the timeout; anything \
                    else is retried (see the README).",
                "parameters": parameters,
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "enum": [t.as_str()]},
                        "timestamp": {"type": "string", "format": "date-time"},
                        "data": {"type": "object", "required": required, "properties": data},
                    },
                }}}},
                "responses": {"2XX": {"description": "Received"}},
            }}),
        );
    }
    serde_json::Value::Object(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_as_text() {
        for t in EventType::SUBSCRIBABLE.into_iter().chain([EventType::Test]) {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(EventType::parse("report.deleted"), None);
    }

    #[test]
    fn every_message_is_documented() {
        let doc = openapi_webhooks();
        assert_eq!(doc.as_object().unwrap().len(), 9);
        let op = &doc["period.due_date_changed"]["post"];
        assert_eq!(op["operationId"], "onPeriodDueDateChanged");
        assert_eq!(op["parameters"].as_array().unwrap().len(), 3);
    }
}
