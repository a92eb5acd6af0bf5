//! Plan, form-version, indicator and period types of the API.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::form::FormDefinition;
use super::indicator::Direction;
use super::period::{PeriodKind, PeriodStatus};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Draft,
    Active,
    Closed,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Draft => "draft",
            PlanStatus::Active => "active",
            PlanStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "draft" => PlanStatus::Draft,
            "closed" => PlanStatus::Closed,
            _ => PlanStatus::Active,
        }
    }
}

/// A year's plan (kế hoạch) of an issuing unit.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Plan {
    pub id: Uuid,
    pub year: i32,
    /// Số ký hiệu, e.g. `123/KH-SVHTT`.
    pub document_number: String,
    pub title: String,
    pub issue_date: Option<NaiveDate>,
    /// Căn cứ: the documents the plan implements.
    pub legal_basis: String,
    pub issuing_unit_id: Uuid,
    pub issuing_unit_code: String,
    pub status: PlanStatus,
    /// Version of the current report form, if one was saved.
    pub form_version: Option<i32>,
    /// Whether a unit's report needs its head's approval (a user of the unit with
    /// `unit_head`) before it reaches the coordinating office: a reporter's submission
    /// then waits as `awaiting_approval` until the head approves it.
    pub head_sign_off: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    #[schema(minimum = 2000, maximum = 2100)]
    #[serde(deserialize_with = "crate::extract::whole::i32")]
    pub year: i32,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub document_number: String,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub title: String,
    pub issue_date: Option<NaiveDate>,
    #[serde(default)]
    pub legal_basis: String,
    /// Issuing unit, by id or code; its subtree reports under the plan.
    #[schema(min_length = 1)]
    pub issuing_unit: String,
    /// Defaults to `active`.
    pub status: Option<PlanStatus>,
    /// The report form; it can also be saved later with `PUT /plans/{id}/form`.
    pub form: Option<FormDefinition>,
    /// The unit head's sign-off (see `Plan`); off unless set.
    #[serde(default)]
    pub head_sign_off: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlan {
    #[schema(minimum = 2000, maximum = 2100)]
    #[serde(default, deserialize_with = "crate::extract::whole::option_i32")]
    pub year: Option<i32>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub document_number: Option<String>,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub title: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub legal_basis: Option<String>,
    pub status: Option<PlanStatus>,
    /// Turning the sign-off off does not submit reports already awaiting approval:
    /// their heads still approve them.
    pub head_sign_off: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlanQuery {
    pub year: Option<i32>,
    pub status: Option<PlanStatus>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One saved version of a plan's report form.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct FormVersion {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub version: i32,
    pub definition: FormDefinition,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FormQuery {
    /// A past version; default the current one.
    pub version: Option<i32>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Indicator {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    /// In canonical form, one of: `sum(a + b) / sum(c + d)` (report fields);
    /// `count(condition) / count()` (a share of reports); `sum(list.a [where
    /// condition]) / sum(list.b [where condition])` (list items);
    /// `count(list where condition) / count(list)` (a share of items). A condition is
    /// `n >= 1` (any of `>= > <= < == !=`) on a number, `flag` or `flag == false` on a
    /// yes/no field, `choice == "option"`, or `multi has "option"`.
    pub formula: String,
    /// A fraction: 1.0 is 100 %.
    pub target: f64,
    pub direction: Direction,
    /// Where the target comes from (the plan, a national strategy, …).
    pub source: String,
    /// Targets for given years beside the plan's own `target` (e.g. 60 % in 2025 from
    /// Resolution 28/NQ-CP), in the same `direction`; a compilation judges the value
    /// against the plan's own target and those of its period's year.
    pub targets: Vec<YearTarget>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A target that holds for one year, with where it comes from.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct YearTarget {
    /// The year whose periods are judged against it (the year of a period's
    /// `window_end`).
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    /// A fraction: 0.6 is 60 %.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub value: f64,
    /// e.g. `Nghị quyết 28/NQ-CP`; unique among the targets of the same year.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub source: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIndicator {
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,63}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub name_vi: String,
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub name_en: String,
    /// Checked against the plan's form (see `Indicator.formula` for the shapes), e.g.
    /// `count(leaders_female >= 1) / count()`, `count(committee_in_place) / count()`,
    /// `count(activities where topics has "law_gender_equality") / count(activities)`.
    #[schema(min_length = 1, pattern = r"\S")]
    pub formula: String,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub target: f64,
    pub direction: Direction,
    #[serde(default)]
    pub source: String,
    /// Targets for given years beside `target`; at most 20.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub targets: Vec<YearTarget>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIndicator {
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub name_vi: Option<String>,
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub name_en: Option<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    pub formula: Option<String>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub target: Option<f64>,
    pub direction: Option<Direction>,
    pub source: Option<String>,
    /// Replaces the year targets; at most 20.
    #[schema(max_items = 20)]
    pub targets: Option<Vec<YearTarget>>,
}

/// A reporting period (kỳ báo cáo). Due means the end of `due_date` in Vietnam time.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Period {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub kind: PeriodKind,
    /// e.g. `2024S1`, `2024`; unique within the plan.
    pub code: String,
    pub name: String,
    /// First and last day of the data window (thời gian chốt số liệu).
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
    /// The instant the period becomes late: the end of `due_date` in Asia/Ho_Chi_Minh.
    pub due_at: DateTime<Utc>,
    pub status: PeriodStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeriod {
    pub kind: PeriodKind,
    pub code: String,
    #[serde(default)]
    pub name: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePeriod {
    pub name: Option<String>,
    pub window_start: Option<NaiveDate>,
    pub window_end: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
}

/// A unit's own due date for a period, granted with a reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendDueDate {
    /// The unit's report is late after the end of this day (Vietnam time).
    pub due_date: NaiveDate,
    /// Why (kept with the extension and in the audit log).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// Only the periods of this plan.
    pub plan: Option<Uuid>,
    /// Exact period code, e.g. `2024S1`. Without `plan`, a code that names periods of
    /// several plans is a 409 `ambiguous_period_code` listing them.
    pub code: Option<String>,
    pub kind: Option<PeriodKind>,
    pub status: Option<PeriodStatus>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}
