//! The compiled report (báo cáo tổng hợp) as the API returns it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::plans::indicator::Direction;

#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct UnitRef {
    pub id: Uuid,
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct PeriodRef {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
    pub plan_id: Uuid,
    pub plan_year: i32,
    pub plan_document_number: String,
    pub plan_title: String,
}

/// Completeness and timeliness of the subtree's reporting.
#[derive(Serialize, ToSchema, Clone, Debug, Default)]
pub struct Completeness {
    /// Units expected to report: the period's expected units in the subtree
    /// (`/periods/{period_id}/expected-units`), and any other unit whose report was
    /// submitted or accepted anyway.
    pub expected: i64,
    /// Units whose report is submitted or accepted (awaiting review or done).
    pub submitted: i64,
    pub accepted: i64,
    /// Of the submitted and accepted, those that came by the due date …
    pub on_time: i64,
    /// … and those that came after it.
    pub late: i64,
    /// Units with no report, or only a draft or a returned one.
    pub missing: i64,
    /// Share of expected units that submitted; null when none is expected.
    #[schema(required = true)]
    pub submitted_share: Option<f64>,
    /// The units in each state (omitted in the previous-period comparison).
    pub units: Option<CompletenessUnits>,
}

#[derive(Serialize, ToSchema, Clone, Debug, Default)]
pub struct CompletenessUnits {
    pub accepted: Vec<UnitRef>,
    /// Submitted and awaiting review.
    pub submitted: Vec<UnitRef>,
    pub returned: Vec<UnitRef>,
    /// Finished by a reporter, waiting for the unit head's approval (plans with
    /// `head_sign_off`): not yet submitted.
    pub awaiting_approval: Vec<UnitRef>,
    pub draft: Vec<UnitRef>,
    /// No report at all.
    pub not_started: Vec<UnitRef>,
    pub late: Vec<UnitRef>,
    /// Submitted or accepted, with the signed and stamped report attached to a
    /// submitted revision.
    pub signed_report_attached: Vec<UnitRef>,
}

/// What a figure covers: the reports it counts out of the units expected to report,
/// and the expected units whose report it does not count (no report, a draft, a
/// returned one, or one awaiting review when only accepted reports count).
#[derive(Serialize, ToSchema, Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// Reports counted.
    pub counted: i64,
    /// Units expected to report (`completeness.expected`).
    pub expected: i64,
    /// counted / expected; null when no unit is expected.
    #[schema(required = true)]
    pub share: Option<f64>,
    /// The expected units not counted, by code (empty in the previous-period
    /// comparison, which omits unit lists).
    pub not_counted: Vec<UnitRef>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct IndicatorResult {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub formula: String,
    /// Fraction (1.0 = 100 %); null with `reason` when it cannot be computed.
    #[schema(required = true)]
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    pub target: f64,
    pub direction: Direction,
    /// Whether the value meets the target; null when there is no value.
    #[schema(required = true)]
    pub met: Option<bool>,
    pub reason: Option<String>,
    /// For unit-share indicators: the units that fall short (among those counted).
    pub units_short: Vec<UnitRef>,
    /// The reports the value is computed over, out of the units expected, and the
    /// units not counted (distinct from `units_short`).
    pub coverage: Coverage,
    pub source: String,
    /// Every target the value is judged against: the plan's own first (`year` null;
    /// the same as `target`, `met` and `source`), then those the indicator sets for
    /// the year of the period's `window_end` (e.g. Resolution 28/NQ-CP's 60 % in 2025).
    pub targets: Vec<JudgedTarget>,
}

impl JudgedTarget {
    /// How the exports name a year target and its verdict, in Vietnamese:
    /// `năm 2025: ≥ 60% (Nghị quyết 28/NQ-CP) — Đạt`.
    pub fn describe_vi(&self, direction: Direction) -> String {
        let op = match direction {
            Direction::AtLeast => "≥",
            Direction::AtMost => "≤",
        };
        let verdict = match self.met {
            Some(true) => "Đạt",
            Some(false) => "Chưa đạt",
            None => "chưa tính được",
        };
        let year = self
            .year
            .map_or_else(|| "kế hoạch".to_string(), |y| format!("năm {y}"));
        format!(
            "{year}: {op} {} ({}) — {verdict}",
            super::docx::percent(Some(self.target)),
            self.source
        )
    }
}

/// One target an indicator's value is judged against.
#[derive(Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct JudgedTarget {
    /// The year it holds for; null for the plan's own target.
    #[schema(required = true)]
    pub year: Option<i32>,
    /// A fraction (1.0 = 100 %), reached in the indicator's `direction`.
    pub target: f64,
    pub source: String,
    /// Whether the value meets it; null when there is no value.
    #[schema(required = true)]
    pub met: Option<bool>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct FieldTotal {
    pub section: String,
    pub field: String,
    pub label_vi: String,
    pub label_en: String,
    /// integer, decimal or money_vnd.
    #[serde(rename = "type")]
    pub kind: String,
    pub sum: f64,
    /// How many reports the sum adds up (see `coverage` for the units not counted).
    pub reports: i64,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct PairTotal {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
    pub total: f64,
    pub female: f64,
    /// female / total; null when the total is zero.
    #[schema(required = true)]
    pub female_share: Option<f64>,
    /// How many reports the totals add up.
    pub reports: i64,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ActivityGroup {
    /// The activity type code (`conference`, `event_march_8`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub label_vi: String,
    pub label_en: String,
    pub count: i64,
    pub participants_total: f64,
    pub participants_female: f64,
    #[schema(required = true)]
    pub female_share: Option<f64>,
    pub cost_vnd: f64,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct NarrativeEntry {
    pub unit_code: String,
    pub unit_name: String,
    pub text: String,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct NarrativeSection {
    pub section: String,
    pub section_title_vi: String,
    pub field: String,
    pub label_vi: String,
    pub label_en: String,
    pub entries: Vec<NarrativeEntry>,
}

/// The figures of one period (the compiled one, or the previous one for comparison).
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Figures {
    pub period: PeriodRef,
    /// How many reports the figures are computed over.
    pub reports_included: i64,
    /// The reports counted out of the units expected, for all the figures.
    pub coverage: Coverage,
    pub completeness: Completeness,
    pub indicators: Vec<IndicatorResult>,
    pub totals: Vec<FieldTotal>,
    pub pairs: Vec<PairTotal>,
    /// The form's yes/no fields, each with how many counted reports answer yes — e.g.
    /// the units that have consolidated their Committee for the Advancement of Women.
    pub flags: Vec<FlagCount>,
    pub activities: Vec<ActivityGroup>,
    /// The activities again by topic (the list's multi-choice field, in the form's
    /// order of options): an activity counts under each topic it has.
    pub topics: Vec<ActivityGroup>,
}

/// A yes/no field over the counted reports.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct FlagCount {
    pub section: String,
    pub field: String,
    pub label_vi: String,
    pub label_en: String,
    /// Reports answering yes.
    pub yes: i64,
    /// Reports answering yes or no (the others left it empty).
    pub answered: i64,
    /// yes / answered; null when none answered.
    #[schema(required = true)]
    pub share: Option<f64>,
}

/// The compiled report of a subtree for a period; its JSON is `parts::Shaped`'s.
#[derive(Clone, Debug)]
pub struct Compilation {
    /// The root of the compiled subtree.
    pub unit: UnitRef,
    /// Whether submitted (not yet accepted) reports are counted.
    pub include_submitted: bool,
    pub generated_at: DateTime<Utc>,
    // The parts are shared with the cache of compiled parts (`compile::cache`), so a
    // compilation served from memory is not copied.
    pub figures: Arc<Figures>,
    pub narratives: Arc<Vec<NarrativeSection>>,
    /// The plan's tasks of the period led by units of the subtree (`crate::tasks`).
    pub tasks: crate::tasks::model::TasksPart,
    /// The previous period of the same kind, for comparison; None when there is none.
    pub previous: Option<Arc<Figures>>,
    /// Each included report's own figures (`?detail=units` only).
    pub units: Option<Vec<UnitFigures>>,
}

/// What one unit contributed (`?detail=units`): its own values of the form's numeric
/// fields, and each indicator computed over its report alone.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct UnitFigures {
    pub unit: UnitRef,
    /// The status of the unit's report (accepted, or submitted when those count).
    pub status: String,
    #[schema(required = true)]
    pub late: Option<bool>,
    /// Field code → the unit's value; null when not filled in.
    pub totals: BTreeMap<String, Option<f64>>,
    /// Indicator code → its value over the unit's report (a fraction); null when it
    /// cannot be computed (nothing to divide by).
    pub indicators: BTreeMap<String, Option<f64>>,
}

/// Extra detail of a compilation.
#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Each unit's own figures beside the totals.
    Units,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    /// The draft report (báo cáo) in Word format, laid out per Decree 30/2020/NĐ-CP.
    Docx,
}

/// Which reports a compilation counts.
#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    /// Accepted reports only (the default).
    Accepted,
    /// Submitted reports awaiting review as well.
    Submitted,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompilationQuery {
    /// Root of the subtree (id or code); default the root of the caller's scope.
    pub unit: Option<String>,
    /// `submitted` also counts reports awaiting review; default accepted only.
    #[param(inline)]
    pub include: Option<Include>,
    /// Overrides the Accept header: json, csv, xlsx or docx.
    #[param(inline)]
    pub format: Option<Format>,
    /// `units` adds each unit's own figures (JSON `units`; a sheet of CSV and XLSX),
    /// so a city system sees which unit contributed what.
    #[param(inline)]
    pub detail: Option<Detail>,
    /// Only these parts of the JSON, comma-separated, e.g. `parts=indicators,totals`
    /// (`completeness`, `indicators`, `totals`, `activities`, `narratives`, `tasks`,
    /// `previous`); default every part. The unit, the period and what was counted are
    /// always there. The CSV, XLSX and DOCX always hold every part.
    #[param(style = Form, explode = false, inline, min_items = 1, value_type = Option<Vec<super::parts::Part>>)]
    #[serde(default, deserialize_with = "super::parts::comma_list")]
    pub parts: Option<Vec<super::parts::Part>>,
    /// The date the DOCX prints in its date line (`2024-11-25`); by default it is
    /// left as "ngày … tháng … năm …" for the office to fill in when it signs.
    pub date: Option<NaiveDate>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// Root of the subtree (id or code); default the root of the caller's scope.
    pub unit: Option<String>,
    /// Indicator code, e.g. `leaders_with_woman`.
    pub indicator: String,
    /// `submitted` also counts reports awaiting review.
    #[param(inline)]
    pub include: Option<Include>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct TrendPoint {
    pub period: PeriodRef,
    pub name_vi: String,
    #[schema(required = true)]
    pub value: Option<f64>,
    pub numerator: f64,
    pub denominator: f64,
    pub target: f64,
    #[schema(required = true)]
    pub met: Option<bool>,
    /// The plan's own target and those of the period's year, each judged (as in a
    /// compilation's indicators).
    pub targets: Vec<JudgedTarget>,
    pub reports_included: i64,
    /// The reports counted out of the period's expected units in the subtree, and the
    /// expected units not counted.
    pub coverage: Coverage,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Trend {
    pub unit: UnitRef,
    pub indicator: String,
    /// Every period of every plan that has the indicator, oldest first.
    pub points: Vec<TrendPoint>,
}
