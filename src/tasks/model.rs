//! Plan tasks and task progress as the API shows them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::compile::model::UnitRef;

/// Where a task stands, as its lead unit reports it in a period.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    NotStarted,
    InProgress,
    Done,
    CannotBeDone,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::NotStarted,
        TaskStatus::InProgress,
        TaskStatus::Done,
        TaskStatus::CannotBeDone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::NotStarted => "not_started",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
            TaskStatus::CannotBeDone => "cannot_be_done",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            TaskStatus::NotStarted => "Chưa triển khai",
            TaskStatus::InProgress => "Đang thực hiện",
            TaskStatus::Done => "Đã hoàn thành",
            TaskStatus::CannotBeDone => "Không thể thực hiện",
        }
    }

    /// Whether the task needs no more work (done, or given up with a reason).
    pub fn is_closed(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::CannotBeDone)
    }
}

/// One entry of a report's `tasks`: the unit's progress on a task of the plan in this
/// period. The lead unit gives a `status` (and usually a note); a cooperating unit
/// gives only a `note` on its part of the work.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TaskProgress {
    /// The task's code in the plan, e.g. `III.1.3`.
    pub task: String,
    /// Required of the lead unit at submission; a cooperating unit gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// What was done, what is left, what stands in the way (at most 4000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A task (nhiệm vụ) of a plan.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Task {
    pub id: Uuid,
    pub plan_id: Uuid,
    /// Unique within the plan, e.g. `III.1.3`; report progress names it.
    pub code: String,
    pub title_vi: String,
    pub description_vi: String,
    /// The part of the plan the task comes from, e.g. `III.1`.
    pub plan_section: String,
    /// The unit that carries the task out and reports its progress.
    pub lead_unit: UnitRef,
    /// Units that help; they add notes in their own reports.
    pub cooperating_units: Vec<UnitRef>,
    /// The date the task is due, if it has one.
    #[schema(required = true)]
    pub due_date: Option<NaiveDate>,
    /// Codes of the periods the task spans; empty means every period of the plan.
    pub periods: Vec<String>,
    pub expected_output: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A task to create, or the whole of a task to replace.
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    /// 1–32 letters, digits, `.`, `_` or `-`, starting with a letter or digit.
    pub code: String,
    /// 1–500 characters.
    pub title_vi: String,
    #[serde(default)]
    pub description_vi: Option<String>,
    #[serde(default)]
    pub plan_section: Option<String>,
    /// Unit id or code, inside the plan's tree.
    pub lead_unit: String,
    /// Unit ids or codes, inside the plan's tree, other than the lead unit.
    #[serde(default)]
    pub cooperating_units: Option<Vec<String>>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// Codes of periods of the plan; none means every period.
    #[serde(default)]
    pub periods: Option<Vec<String>>,
    #[serde(default)]
    pub expected_output: Option<String>,
}

/// How many tasks stand at one status (`not_reported`: no progress from the lead unit
/// among the counted reports).
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TaskStatusCount {
    pub status: String,
    pub label_vi: String,
    pub count: i64,
}

/// A note on a task from one unit's report.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TaskNote {
    pub unit: UnitRef,
    /// Whether the note comes from the lead unit (else from a cooperating unit).
    pub lead: bool,
    pub note: String,
}

/// One task in a compilation, with where it stands in the period.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct TaskLine {
    pub code: String,
    pub title_vi: String,
    pub plan_section: String,
    pub lead_unit: UnitRef,
    /// The task's due date, or else the end of the data window of the last period it
    /// spans.
    #[schema(required = true)]
    pub due: Option<NaiveDate>,
    /// The lead unit's status in the period; null when its counted report gives none.
    #[schema(required = true)]
    pub status: Option<TaskStatus>,
    /// Due by the end of the period's data window and neither done nor given up.
    pub overdue: bool,
    pub notes: Vec<TaskNote>,
}

/// The tasks part of a compilation: the plan's tasks of the period led by units of the
/// subtree, counted by status, the overdue ones, and the notes of every counted report.
#[derive(Serialize, ToSchema, Clone, Debug, Default, PartialEq)]
pub struct TasksPart {
    pub total: i64,
    pub by_status: Vec<TaskStatusCount>,
    /// Codes of the overdue tasks.
    pub overdue: Vec<String>,
    pub tasks: Vec<TaskLine>,
}
