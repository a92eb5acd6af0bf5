//! Report, revision and transition types of the API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::workflow::ReportStatus;
use crate::error::Issue;
use crate::plans::form::ReportData;

/// One unit's report for one period.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Report {
    pub id: Uuid,
    pub period_id: Uuid,
    pub period_code: String,
    pub unit_id: Uuid,
    pub unit_code: String,
    pub unit_name: String,
    pub status: ReportStatus,
    /// The form version this report was made with.
    pub form_id: Uuid,
    pub form_version: i32,
    pub data: ReportData,
    /// Number of the latest frozen revision (one per submission).
    pub revision: Option<i32>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub submitted_by: Option<String>,
    /// Whether the latest submission came after the due date (Vietnam time); where the
    /// plan asks for the unit head's sign-off, judged when the head approved it.
    pub late: Option<bool>,
    /// The unit head's approval of the latest revision (plans with `head_sign_off`):
    /// when and by whom; null while it awaits approval or when none was needed.
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    /// When the latest review (return, accept, reopen) happened. A resubmitted report
    /// keeps its latest review, so the reviewer sees what was asked for; compare with
    /// `submitted_at` to tell whether the review came before or after this submission.
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<String>,
    /// The latest reviewer's reason (return, reopen) or comment (accept).
    pub review_comment: Option<String>,
    /// Warnings of the latest submission (rules of severity `warning`).
    pub warnings: Vec<Issue>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; the `ETag` header carries it.
    pub version: i32,
}

/// A report in a list: everything but the data.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ReportSummary {
    pub id: Uuid,
    pub period_id: Uuid,
    pub period_code: String,
    pub unit_id: Uuid,
    pub unit_code: String,
    pub unit_name: String,
    pub status: ReportStatus,
    pub revision: Option<i32>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub late: Option<bool>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A frozen copy of a report as it was submitted.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Revision {
    pub report_id: Uuid,
    pub number: i32,
    pub form_id: Uuid,
    pub data: ReportData,
    pub warnings: Vec<Issue>,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
    pub late: bool,
    /// Set when a coordinator entered the revision on the unit's behalf (a report
    /// received on paper or by e-mail): who entered it (also `submitted_by`).
    pub entered_by: Option<String>,
    /// The coordinator's note on an entry on the unit's behalf.
    pub entry_note: Option<String>,
    /// The unit head's approval of this revision, when the plan asks for one.
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct RevisionSummary {
    pub number: i32,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
    pub late: bool,
}

/// Body of return, reopen and decline (reason required), accept and approve (comment
/// optional).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub reason: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    pub period: Option<Uuid>,
    /// Unit id or code.
    pub unit: Option<String>,
    pub status: Option<ReportStatus>,
    pub late: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A draft moved to its plan's current form version.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct FormUpgrade {
    pub from_version: i32,
    pub to_version: i32,
    /// The values the new version has no field for: kept in the audit log, not in the
    /// report. Empty when nothing was lost (or the report was already current).
    pub dropped: Vec<crate::plans::form::DroppedValue>,
    pub report: Report,
}

/// `?entry_note=` of a save or a submission: a coordinator entering a unit's report on
/// its behalf must say so.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntryQuery {
    /// Required of a coordinator, who enters the report on the unit's behalf (e.g.
    /// "received on paper, dated 12/01/2026"); kept with the revision and in the audit
    /// log, and told to the unit's reporters. An admin may give one; a reporter's is
    /// ignored. 1–2000 characters.
    pub entry_note: Option<String>,
}
