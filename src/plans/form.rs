//! The report form as data. A plan's form is a [`FormDefinition`]: sections of typed
//! fields, total/female pairs, cross-field rules and at most one repeatable list per
//! section. This module holds those types, the checker that decides whether a definition
//! may be saved ([`FormDefinition::check`]), and the two value validators the report
//! workflow needs: [`FormDefinition::check_values`] for drafts (every value well typed,
//! nothing required) and [`FormDefinition::validate`] for submission (required fields and
//! every rule too). The frontend renders from the same definition the server validates
//! with, so everything here is pure: values in, issues out, no I/O.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The default form of the 2024 plan, kept as data so that it reads like any form an
/// administrator would upload.
const DEFAULT_FORM_2024: &str = include_str!("default_form_2024.json");

/// Longest field, list, option, pair and rule code (matches `^[a-z][a-z0-9_]{0,62}$`).
const MAX_CODE_LEN: usize = 63;
/// Longest section code; sections are short labels like `A` or `II`.
const MAX_SECTION_CODE_LEN: usize = 16;

/// Parses the default form of the 2024 plan.
pub fn default_form_2024() -> Result<FormDefinition, serde_json::Error> {
    serde_json::from_str(DEFAULT_FORM_2024)
}

// ---------------------------------------------------------------------------------------
// Definition types
// ---------------------------------------------------------------------------------------

/// A whole report form: what a unit fills in for one period.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// Sections in display order.
    #[schema(min_items = 1)]
    pub sections: Vec<Section>,
    /// Total/female pairs over the top-level fields; each implies `female <= total`.
    #[serde(default)]
    pub pairs: Vec<SexPair>,
    /// Cross-field rules over the top-level fields.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One section of the form (A, B, ...), holding plain fields, a repeatable list, or both.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Short display code such as `A`.
    pub code: String,
    pub title_vi: String,
    pub title_en: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<RepeatableList>,
}

/// A list of like items inside a section (the activities of section C). Its fields, pairs
/// and rules form their own scope: rules compare fields of the same item.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatableList {
    /// Key of the list in [`ReportData::lists`].
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
    pub max_items: u32,
    pub fields: Vec<Field>,
    #[serde(default)]
    pub pairs: Vec<SexPair>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One typed value a unit reports.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Key of the value in the report; `^[a-z][a-z0-9_]{0,62}$`.
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Needed on submission; drafts may leave it empty.
    #[serde(default)]
    pub required: bool,
    /// Inclusive lower bound, numeric types only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound, numeric types only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Longest text in characters (not bytes), text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// The allowed codes of `choice` and `multi_choice` fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Choice>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_vi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_en: Option<String>,
    /// Required on submission only while this condition over another field of the same
    /// scope holds (`required` must then be false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_when: Option<super::logic::Condition>,
    /// Read-only, top-level numeric fields: derived on every save from other top-level
    /// fields (a value sent for it is replaced); absent while a part is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed: Option<super::logic::Computed>,
    /// Soft check, top-level numeric fields: a submission warns (never blocks) when the
    /// value moves by more than this fraction (0.5 = 50 %) from the unit's report of the
    /// previous period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0.0)]
    pub max_change: Option<f64>,
}

/// The type of a field and so the JSON shape of its value.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A JSON integer that fits in i64.
    Integer,
    /// Any JSON number.
    Decimal,
    /// Whole đồng as a JSON integer; never negative unless the field sets its own `min`.
    MoneyVnd,
    Boolean,
    /// A `YYYY-MM-DD` string naming a real calendar date.
    Date,
    Text,
    /// One option code as a string.
    Choice,
    /// An array of distinct option codes.
    MultiChoice,
}

impl FieldType {
    /// Integer, decimal and money: the types that can be bounded, summed and compared.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Decimal | Self::MoneyVnd)
    }

    /// Whether the field takes its values from `options`.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Choice | Self::MultiChoice)
    }

    /// What a rule may compare this type with.
    fn class(self) -> OperandClass {
        match self {
            Self::Integer | Self::Decimal | Self::MoneyVnd => OperandClass::Number,
            Self::Date => OperandClass::Date,
            Self::Boolean => OperandClass::Bool,
            Self::Text | Self::Choice | Self::MultiChoice => OperandClass::NotComparable,
        }
    }
}

/// One option of a choice field.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub code: String,
    pub label_vi: String,
    pub label_en: String,
}

/// A count disaggregated by sex: `female` is part of `total`. Compilations report the
/// female share of every pair.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SexPair {
    pub code: String,
    /// Code of the field holding the total.
    pub total: String,
    /// Code of the field holding the number of women.
    pub female: String,
    pub label_vi: String,
    pub label_en: String,
}

/// A comparison that a submitted report must satisfy: `left op right`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub code: String,
    /// A field of the rule's scope.
    pub left: String,
    pub op: CmpOp,
    /// A field of the same scope, a number literal, `$period.start` or `$period.end`.
    pub right: String,
    pub severity: Severity,
    pub message_vi: String,
    pub message_en: String,
}

/// Comparison operators, written as in the formula.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
pub enum CmpOp {
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl CmpOp {
    /// Whether `left op right` holds given how left compares to right.
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Self::Le => ordering != Ordering::Greater,
            Self::Lt => ordering == Ordering::Less,
            Self::Ge => ordering != Ordering::Less,
            Self::Gt => ordering == Ordering::Greater,
            Self::Eq => ordering == Ordering::Equal,
            Self::Ne => ordering != Ordering::Equal,
        }
    }

    pub(super) fn symbol(self) -> &'static str {
        match self {
            Self::Le => "<=",
            Self::Lt => "<",
            Self::Ge => ">=",
            Self::Gt => ">",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

/// Errors block submission; warnings are shown but let the report through.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

// ---------------------------------------------------------------------------------------
// Issues, report data, results
// ---------------------------------------------------------------------------------------

pub use crate::error::Issue;

/// What a report holds: flat field values, plus the repeatable lists by their code.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportData {
    /// Top-level field values by field code; `null` means not filled in.
    #[serde(default)]
    pub values: Map<String, Value>,
    /// Items of each repeatable list by list code.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<Map<String, Value>>>,
    /// Progress on the plan's tasks (`crate::tasks`): checked against the plan's tasks
    /// rather than the form, and left out when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<crate::tasks::model::TaskProgress>,
}

/// What validation needs to know beyond the report: the period's data window, which
/// `$period.start` and `$period.end` refer to, and the unit's previous period for the
/// soft checks (`max_change`), when the form has any and there is one.
#[derive(Clone, Copy, Debug)]
pub struct ValidationContext<'a> {
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub previous: Option<&'a super::logic::Previous>,
}

/// The outcome of validating a report for submission.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug, PartialEq)]
pub struct ValidationResult {
    /// True when there are no errors; warnings do not block submission.
    pub valid: bool,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

// ---------------------------------------------------------------------------------------
// Look-ups used by the rest of the crate
// ---------------------------------------------------------------------------------------

impl FormDefinition {
    /// The top-level field with this code.
    pub fn field(&self, code: &str) -> Option<&Field> {
        self.fields().find(|f| f.code == code)
    }

    /// Every top-level field, in definition order.
    pub fn fields(&self) -> impl Iterator<Item = &Field> + '_ {
        self.sections.iter().flat_map(|s| s.fields.iter())
    }

    /// Top-level integer, decimal and money fields: what indicator formulas may name and
    /// what compilations sum.
    pub fn numeric_fields(&self) -> impl Iterator<Item = &Field> + '_ {
        self.fields().filter(|f| f.kind.is_numeric())
    }

    /// Top-level text fields with their section: the narratives compilations group.
    pub fn text_fields(&self) -> impl Iterator<Item = (&Section, &Field)> + '_ {
        self.sections.iter().flat_map(|s| {
            s.fields
                .iter()
                .filter(|f| f.kind == FieldType::Text)
                .map(move |f| (s, f))
        })
    }

    /// The top-level total/female pairs.
    pub fn all_pairs(&self) -> impl Iterator<Item = &SexPair> + '_ {
        self.pairs.iter()
    }

    /// Every repeatable list with its section, in definition order.
    pub fn lists(&self) -> impl Iterator<Item = (&Section, &RepeatableList)> + '_ {
        self.sections
            .iter()
            .filter_map(|s| s.list.as_ref().map(|l| (s, l)))
    }

    /// The repeatable list with this code.
    pub fn list(&self, code: &str) -> Option<&RepeatableList> {
        self.lists().map(|(_, l)| l).find(|l| l.code == code)
    }
}

// ---------------------------------------------------------------------------------------
// Definition checker
// ---------------------------------------------------------------------------------------

/// What a rule operand is, for deciding whether two operands can be compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OperandClass {
    Number,
    Date,
    Bool,
    NotComparable,
}

/// The right-hand side of a rule as written in a definition.
enum RightRef<'a> {
    Field(&'a Field),
    Number,
    PeriodStart,
    PeriodEnd,
}

const PERIOD_START: &str = "$period.start";
const PERIOD_END: &str = "$period.end";

fn is_valid_code(code: &str) -> bool {
    let mut chars = code.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && code.len() <= MAX_CODE_LEN
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_valid_section_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_SECTION_CODE_LEN
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A JSON number literal; parsed strictly so that `inf` or `nan`, which Rust's float
/// parser accepts, can never be mistaken for one.
fn parse_number_literal(text: &str) -> Option<f64> {
    serde_json::from_str::<serde_json::Number>(text)
        .ok()
        .and_then(|n| n.as_f64())
        .filter(|x| x.is_finite())
}

/// Field lookup in one scope; the first definition wins when codes are duplicated (the
/// duplicate is reported separately).
fn find_field<'a>(fields: &[&'a Field], code: &str) -> Option<&'a Field> {
    fields.iter().copied().find(|f| f.code == code)
}

fn resolve_right<'a>(fields: &[&'a Field], right: &str) -> Option<RightRef<'a>> {
    if let Some(field) = find_field(fields, right) {
        return Some(RightRef::Field(field));
    }
    match right {
        PERIOD_START => Some(RightRef::PeriodStart),
        PERIOD_END => Some(RightRef::PeriodEnd),
        _ => parse_number_literal(right).map(|_| RightRef::Number),
    }
}

fn check_label(value: &str, path: String, out: &mut Vec<Issue>) {
    if value.trim().is_empty() {
        out.push(Issue::new(path, "empty", "must not be empty"));
    }
}

/// Collects the codes of one namespace and reports the second use of any of them.
struct CodeRegistry<'a> {
    what: &'static str,
    seen: HashMap<&'a str, String>,
}

impl<'a> CodeRegistry<'a> {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            seen: HashMap::new(),
        }
    }

    fn register(&mut self, code: &'a str, path: String, out: &mut Vec<Issue>) {
        if let Some(first) = self.seen.get(code) {
            out.push(Issue::new(
                path,
                "duplicate_code",
                format!("{} code `{code}` is already used at {first}", self.what),
            ));
        } else {
            self.seen.insert(code, path);
        }
    }
}

fn check_field<'a>(
    field: &'a Field,
    path: &str,
    codes: &mut CodeRegistry<'a>,
    out: &mut Vec<Issue>,
) {
    let code_path = format!("{path}.code");
    if !is_valid_code(&field.code) {
        out.push(Issue::new(
            code_path.clone(),
            "invalid_code",
            format!(
                "field code `{}` must match ^[a-z][a-z0-9_]{{0,62}}$",
                field.code
            ),
        ));
    }
    codes.register(&field.code, code_path, out);
    check_label(&field.label_vi, format!("{path}.label_vi"), out);
    check_label(&field.label_en, format!("{path}.label_en"), out);

    if field.kind.is_numeric() {
        if let (Some(min), Some(max)) = (field.min, field.max)
            && min > max
        {
            out.push(Issue::new(
                format!("{path}.min"),
                "invalid_bounds",
                format!("min {min} is greater than max {max}"),
            ));
        }
    } else {
        for (name, bound) in [("min", field.min), ("max", field.max)] {
            if bound.is_some() {
                out.push(Issue::new(
                    format!("{path}.{name}"),
                    "invalid_bounds",
                    format!("`{name}` applies only to integer, decimal and money_vnd fields"),
                ));
            }
        }
    }

    match (field.kind, field.max_length) {
        (FieldType::Text, Some(0)) => out.push(Issue::new(
            format!("{path}.max_length"),
            "invalid_bounds",
            "max_length must be at least 1",
        )),
        (FieldType::Text, _) | (_, None) => {}
        (_, Some(_)) => out.push(Issue::new(
            format!("{path}.max_length"),
            "invalid_bounds",
            "max_length applies only to text fields",
        )),
    }

    let options_path = format!("{path}.options");
    match (&field.options, field.kind.has_options()) {
        (Some(options), true) if !options.is_empty() => {
            let mut option_codes = CodeRegistry::new("option");
            for (i, option) in options.iter().enumerate() {
                let option_path = format!("{options_path}[{i}]");
                if !is_valid_code(&option.code) {
                    out.push(Issue::new(
                        format!("{option_path}.code"),
                        "invalid_code",
                        format!(
                            "option code `{}` must match ^[a-z][a-z0-9_]{{0,62}}$",
                            option.code
                        ),
                    ));
                }
                option_codes.register(&option.code, format!("{option_path}.code"), out);
                check_label(&option.label_vi, format!("{option_path}.label_vi"), out);
                check_label(&option.label_en, format!("{option_path}.label_en"), out);
            }
        }
        (_, true) => out.push(Issue::new(
            options_path,
            "missing_options",
            "choice and multi_choice fields need at least one option",
        )),
        (Some(_), false) => out.push(Issue::new(
            options_path,
            "unexpected_options",
            "only choice and multi_choice fields take options",
        )),
        (None, false) => {}
    }
}

fn check_pairs<'a>(
    pairs: &'a [SexPair],
    fields: &[&Field],
    base: &str,
    codes: &mut CodeRegistry<'a>,
    out: &mut Vec<Issue>,
) {
    for (i, pair) in pairs.iter().enumerate() {
        let path = format!("{base}[{i}]");
        if !is_valid_code(&pair.code) {
            out.push(Issue::new(
                format!("{path}.code"),
                "invalid_code",
                format!(
                    "pair code `{}` must match ^[a-z][a-z0-9_]{{0,62}}$",
                    pair.code
                ),
            ));
        }
        codes.register(&pair.code, format!("{path}.code"), out);
        check_label(&pair.label_vi, format!("{path}.label_vi"), out);
        check_label(&pair.label_en, format!("{path}.label_en"), out);
        for (side, code) in [("total", &pair.total), ("female", &pair.female)] {
            match find_field(fields, code) {
                None => out.push(Issue::new(
                    format!("{path}.{side}"),
                    "unknown_reference",
                    format!("pair `{}` refers to unknown field `{code}`", pair.code),
                )),
                // Money is not a head count; pairs are about people.
                Some(f) if !matches!(f.kind, FieldType::Integer | FieldType::Decimal) => {
                    out.push(Issue::new(
                        format!("{path}.{side}"),
                        "type_mismatch",
                        format!(
                            "pair `{}` needs integer or decimal fields, `{code}` is not",
                            pair.code
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if pair.total == pair.female {
            out.push(Issue::new(
                format!("{path}.female"),
                "invalid_pair",
                format!(
                    "pair `{}` uses the same field for total and female",
                    pair.code
                ),
            ));
        }
    }
}

fn check_rules<'a>(
    rules: &'a [Rule],
    fields: &[&Field],
    base: &str,
    codes: &mut CodeRegistry<'a>,
    out: &mut Vec<Issue>,
) {
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("{base}[{i}]");
        if !is_valid_code(&rule.code) {
            out.push(Issue::new(
                format!("{path}.code"),
                "invalid_code",
                format!(
                    "rule code `{}` must match ^[a-z][a-z0-9_]{{0,62}}$",
                    rule.code
                ),
            ));
        }
        codes.register(&rule.code, format!("{path}.code"), out);
        check_label(&rule.message_vi, format!("{path}.message_vi"), out);
        check_label(&rule.message_en, format!("{path}.message_en"), out);

        let left = match find_field(fields, &rule.left) {
            None => {
                out.push(Issue::new(
                    format!("{path}.left"),
                    "unknown_reference",
                    format!(
                        "rule `{}` refers to unknown field `{}`",
                        rule.code, rule.left
                    ),
                ));
                None
            }
            Some(f) if f.kind.class() == OperandClass::NotComparable => {
                out.push(Issue::new(
                    format!("{path}.left"),
                    "type_mismatch",
                    format!(
                        "rule `{}` cannot compare field `{}`: text and choice fields are not comparable",
                        rule.code, rule.left
                    ),
                ));
                None
            }
            Some(f) => Some(f.kind.class()),
        };

        let right = match resolve_right(fields, &rule.right) {
            None => {
                out.push(Issue::new(
                    format!("{path}.right"),
                    "unknown_reference",
                    format!(
                        "rule `{}` refers to `{}`, which is neither a field of its scope, a number, {PERIOD_START} nor {PERIOD_END}",
                        rule.code, rule.right
                    ),
                ));
                None
            }
            Some(RightRef::Field(f)) => Some(f.kind.class()),
            Some(RightRef::Number) => Some(OperandClass::Number),
            Some(RightRef::PeriodStart | RightRef::PeriodEnd) => Some(OperandClass::Date),
        };

        // Only judge agreement when both sides are known, so one mistake gives one issue.
        let (Some(left), Some(right)) = (left, right) else {
            continue;
        };
        if left != right {
            out.push(Issue::new(
                format!("{path}.right"),
                "type_mismatch",
                format!(
                    "rule `{}` compares {} `{}` with {} `{}`",
                    rule.code,
                    class_name(left),
                    rule.left,
                    class_name(right),
                    rule.right
                ),
            ));
        } else if left == OperandClass::Bool && !matches!(rule.op, CmpOp::Eq | CmpOp::Ne) {
            out.push(Issue::new(
                format!("{path}.op"),
                "type_mismatch",
                format!(
                    "rule `{}` orders yes/no values with `{}`; only == and != apply",
                    rule.code,
                    rule.op.symbol()
                ),
            ));
        }
    }
}

fn class_name(class: OperandClass) -> &'static str {
    match class {
        OperandClass::Number => "a number",
        OperandClass::Date => "a date",
        OperandClass::Bool => "a yes/no value",
        OperandClass::NotComparable => "a text",
    }
}

impl FormDefinition {
    /// Checks the definition itself, as it is saved: codes well formed and unique, bounds
    /// and options that fit the field types, pairs and rules that name fields of their
    /// scope with comparable types. Returns every issue found, in definition order.
    pub fn check(&self) -> Result<(), Vec<Issue>> {
        let mut out = Vec::new();
        if self.sections.is_empty() {
            out.push(Issue::new(
                "sections",
                "empty",
                "a form needs at least one section",
            ));
        }

        let mut section_codes = CodeRegistry::new("section");
        let mut field_codes = CodeRegistry::new("field");
        let mut list_codes = CodeRegistry::new("list");
        let mut top_fields: Vec<&Field> = Vec::new();

        for (s, section) in self.sections.iter().enumerate() {
            let path = format!("sections[{s}]");
            if !is_valid_section_code(&section.code) {
                out.push(Issue::new(
                    format!("{path}.code"),
                    "invalid_code",
                    format!(
                        "section code `{}` must be 1 to {MAX_SECTION_CODE_LEN} letters, digits, `_`, `.` or `-`",
                        section.code
                    ),
                ));
            }
            section_codes.register(&section.code, format!("{path}.code"), &mut out);
            check_label(&section.title_vi, format!("{path}.title_vi"), &mut out);
            check_label(&section.title_en, format!("{path}.title_en"), &mut out);
            if section.fields.is_empty() && section.list.is_none() {
                out.push(Issue::new(
                    path.clone(),
                    "empty",
                    "a section needs fields or a list",
                ));
            }
            for (f, field) in section.fields.iter().enumerate() {
                check_field(
                    field,
                    &format!("{path}.fields[{f}]"),
                    &mut field_codes,
                    &mut out,
                );
                top_fields.push(field);
            }
            if let Some(list) = &section.list {
                check_list(list, &format!("{path}.list"), &mut list_codes, &mut out);
            }
        }

        for (s, section) in self.sections.iter().enumerate() {
            for (f, field) in section.fields.iter().enumerate() {
                let path = format!("sections[{s}].fields[{f}]");
                super::logic::check_field(field, &path, &top_fields, true, &mut out);
            }
        }

        // Pairs and rules share one namespace so `Issue::rule` is never ambiguous.
        let mut rule_codes = CodeRegistry::new("pair or rule");
        check_pairs(&self.pairs, &top_fields, "pairs", &mut rule_codes, &mut out);
        check_rules(&self.rules, &top_fields, "rules", &mut rule_codes, &mut out);

        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

fn check_list<'a>(
    list: &'a RepeatableList,
    path: &str,
    list_codes: &mut CodeRegistry<'a>,
    out: &mut Vec<Issue>,
) {
    if !is_valid_code(&list.code) {
        out.push(Issue::new(
            format!("{path}.code"),
            "invalid_code",
            format!(
                "list code `{}` must match ^[a-z][a-z0-9_]{{0,62}}$",
                list.code
            ),
        ));
    }
    list_codes.register(&list.code, format!("{path}.code"), out);
    check_label(&list.label_vi, format!("{path}.label_vi"), out);
    check_label(&list.label_en, format!("{path}.label_en"), out);
    if list.max_items == 0 {
        out.push(Issue::new(
            format!("{path}.max_items"),
            "invalid_bounds",
            "max_items must be at least 1",
        ));
    }
    if list.fields.is_empty() {
        out.push(Issue::new(
            format!("{path}.fields"),
            "empty",
            "a list needs at least one field",
        ));
    }
    let mut field_codes = CodeRegistry::new("field");
    for (f, field) in list.fields.iter().enumerate() {
        check_field(field, &format!("{path}.fields[{f}]"), &mut field_codes, out);
    }
    let scope: Vec<&Field> = list.fields.iter().collect();
    for (f, field) in list.fields.iter().enumerate() {
        super::logic::check_field(field, &format!("{path}.fields[{f}]"), &scope, false, out);
    }
    let mut rule_codes = CodeRegistry::new("pair or rule");
    check_pairs(
        &list.pairs,
        &scope,
        &format!("{path}.pairs"),
        &mut rule_codes,
        out,
    );
    check_rules(
        &list.rules,
        &scope,
        &format!("{path}.rules"),
        &mut rule_codes,
        out,
    );
}

// ---------------------------------------------------------------------------------------
// Value validation
// ---------------------------------------------------------------------------------------

/// A value as a rule sees it. Integers stay integers so that large money amounts compare
/// exactly.
#[derive(Clone, Copy, Debug)]
enum Operand {
    Int(i64),
    Num(f64),
    Date(NaiveDate),
    Bool(bool),
}

fn compare(left: Operand, right: Operand) -> Option<Ordering> {
    use Operand::{Bool, Date, Int, Num};
    match (left, right) {
        (Int(a), Int(b)) => Some(a.cmp(&b)),
        (Int(a), Num(b)) => (a as f64).partial_cmp(&b),
        (Num(a), Int(b)) => a.partial_cmp(&(b as f64)),
        (Num(a), Num(b)) => a.partial_cmp(&b),
        (Date(a), Date(b)) => Some(a.cmp(&b)),
        (Bool(a), Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// `YYYY-MM-DD` exactly: chrono alone would also take `2024-1-5` or a signed year.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The well-typed value of a field, or None when it is absent, null or of the wrong type
/// (the type problem is reported elsewhere); rules over such values are skipped.
fn field_operand(field: &Field, value: Option<&Value>) -> Option<Operand> {
    let value = value?;
    match field.kind {
        FieldType::Integer | FieldType::MoneyVnd => value.as_i64().map(Operand::Int),
        FieldType::Decimal => value.as_f64().map(Operand::Num),
        FieldType::Date => value.as_str().and_then(parse_date).map(Operand::Date),
        FieldType::Boolean => value.as_bool().map(Operand::Bool),
        FieldType::Text | FieldType::Choice | FieldType::MultiChoice => None,
    }
}

/// Whether a present value still counts as not filled in for a required field.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn type_name(kind: FieldType) -> (&'static str, &'static str) {
    match kind {
        FieldType::Integer => ("a whole number", "một số nguyên"),
        FieldType::Decimal => ("a number", "một số"),
        FieldType::MoneyVnd => ("a whole number of đồng", "một số nguyên (đơn vị: đồng)"),
        FieldType::Boolean => ("true or false", "true hoặc false"),
        FieldType::Date => ("a date written YYYY-MM-DD", "một ngày theo dạng YYYY-MM-DD"),
        FieldType::Text => ("a text", "một chuỗi văn bản"),
        FieldType::Choice => ("one option code", "một mã lựa chọn"),
        FieldType::MultiChoice => ("a list of option codes", "một danh sách mã lựa chọn"),
    }
}

fn wrong_type(field: &Field, path: String) -> Issue {
    let (en, vi) = type_name(field.kind);
    Issue::new(
        path,
        "wrong_type",
        format!("\"{}\" must be {en}", field.label_en),
    )
    .vi(format!("\"{}\" phải là {vi}", field.label_vi))
}

fn check_bounds(field: &Field, x: f64, path: &str, out: &mut Vec<Issue>) {
    // Money is never negative unless the form says otherwise (a refund line, say).
    let min = match (field.min, field.kind) {
        (None, FieldType::MoneyVnd) => Some(0.0),
        (min, _) => min,
    };
    if let Some(min) = min
        && x < min
    {
        out.push(
            Issue::new(
                path,
                "out_of_range",
                format!("\"{}\" must be at least {min}", field.label_en),
            )
            .vi(format!(
                "\"{}\" phải lớn hơn hoặc bằng {min}",
                field.label_vi
            )),
        );
    }
    if let Some(max) = field.max
        && x > max
    {
        out.push(
            Issue::new(
                path,
                "out_of_range",
                format!("\"{}\" must be at most {max}", field.label_en),
            )
            .vi(format!(
                "\"{}\" phải nhỏ hơn hoặc bằng {max}",
                field.label_vi
            )),
        );
    }
}

fn unknown_option(field: &Field, code: &str, path: String) -> Issue {
    Issue::new(
        path,
        "unknown_option",
        format!("`{code}` is not an option of \"{}\"", field.label_en),
    )
    .vi(format!(
        "`{code}` không phải là lựa chọn của \"{}\"",
        field.label_vi
    ))
}

fn is_option(field: &Field, code: &str) -> bool {
    field
        .options
        .as_deref()
        .is_some_and(|options| options.iter().any(|o| o.code == code))
}

/// Type, bounds, length and option checks of one non-null value.
fn check_value(field: &Field, value: &Value, path: &str, out: &mut Vec<Issue>) {
    match field.kind {
        FieldType::Integer | FieldType::MoneyVnd => match value {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    check_bounds(field, i as f64, path, out);
                } else if n.is_u64() {
                    out.push(
                        Issue::new(
                            path,
                            "out_of_range",
                            format!("\"{}\" is too large", field.label_en),
                        )
                        .vi(format!("\"{}\" quá lớn", field.label_vi)),
                    );
                } else {
                    out.push(wrong_type(field, path.to_owned()));
                }
            }
            _ => out.push(wrong_type(field, path.to_owned())),
        },
        FieldType::Decimal => match value.as_f64() {
            Some(x) if value.is_number() => check_bounds(field, x, path, out),
            _ => out.push(wrong_type(field, path.to_owned())),
        },
        FieldType::Boolean => {
            if !value.is_boolean() {
                out.push(wrong_type(field, path.to_owned()));
            }
        }
        FieldType::Date => match value {
            Value::String(s) => {
                if parse_date(s).is_none() {
                    out.push(
                        Issue::new(
                            path,
                            "invalid_date",
                            format!(
                                "\"{}\" must be a real date written YYYY-MM-DD",
                                field.label_en
                            ),
                        )
                        .vi(format!(
                            "\"{}\" phải là một ngày có thật, viết theo dạng YYYY-MM-DD",
                            field.label_vi
                        )),
                    );
                }
            }
            _ => out.push(wrong_type(field, path.to_owned())),
        },
        FieldType::Text => match value {
            // PostgreSQL cannot store U+0000 in text or JSON; refuse it as a value.
            Value::String(s) if s.contains('\0') => out.push(
                Issue::new(
                    path,
                    "invalid_character",
                    format!("\"{}\" must not contain the NUL character", field.label_en),
                )
                .vi(format!("\"{}\" không được chứa ký tự NUL", field.label_vi)),
            ),
            Value::String(s) => {
                if let Some(max) = field.max_length {
                    // Characters, not bytes: a Vietnamese letter takes two or three bytes.
                    let length = s.chars().count();
                    if length > max as usize {
                        out.push(
                            Issue::new(
                                path,
                                "too_long",
                                format!(
                                    "\"{}\" has {length} characters; at most {max} are allowed",
                                    field.label_en
                                ),
                            )
                            .vi(format!(
                                "\"{}\" dài {length} ký tự; tối đa {max} ký tự",
                                field.label_vi
                            )),
                        );
                    }
                }
            }
            _ => out.push(wrong_type(field, path.to_owned())),
        },
        FieldType::Choice => match value {
            Value::String(s) => {
                if !is_option(field, s) {
                    out.push(unknown_option(field, s, path.to_owned()));
                }
            }
            _ => out.push(wrong_type(field, path.to_owned())),
        },
        FieldType::MultiChoice => match value {
            Value::Array(items) => {
                let mut chosen = HashSet::new();
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    match item {
                        Value::String(s) if !is_option(field, s) => {
                            out.push(unknown_option(field, s, item_path));
                        }
                        Value::String(s) => {
                            if !chosen.insert(s.as_str()) {
                                out.push(
                                    Issue::new(
                                        item_path,
                                        "duplicate_option",
                                        format!(
                                            "`{s}` is chosen more than once in \"{}\"",
                                            field.label_en
                                        ),
                                    )
                                    .vi(format!(
                                        "`{s}` được chọn nhiều lần trong \"{}\"",
                                        field.label_vi
                                    )),
                                );
                            }
                        }
                        _ => out.push(wrong_type(field, item_path)),
                    }
                }
            }
            _ => out.push(wrong_type(field, path.to_owned())),
        },
    }
}

/// Where issues go: one list for drafts, errors and warnings for submission.
struct Sink {
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

/// One record (the top-level values, or one list item) against the fields, pairs and
/// rules of its scope.
struct Scope<'a> {
    fields: Vec<&'a Field>,
    pairs: &'a [SexPair],
    rules: &'a [Rule],
}

impl Scope<'_> {
    /// Field checks, then unknown keys, then (on submission) pairs and rules.
    fn check_record(
        &self,
        record: &Map<String, Value>,
        base: &str,
        ctx: Option<&ValidationContext<'_>>,
        sink: &mut Sink,
    ) {
        let submitting = ctx.is_some();
        for field in &self.fields {
            let path = format!("{base}.{}", field.code);
            let value = record.get(&field.code);
            let when = field
                .required_when
                .as_ref()
                .filter(|c| super::logic::holds(c, record));
            if submitting && (field.required || when.is_some()) && value.is_none_or(is_blank) {
                let mut issue = Issue::new(
                    path.clone(),
                    "required",
                    format!("\"{}\" is required", field.label_en),
                )
                .vi(format!("\"{}\" là bắt buộc", field.label_vi));
                if let Some(c) = when {
                    let other = find_field(&self.fields, &c.field);
                    let label =
                        |vi: bool| {
                            other.map_or(c.field.as_str(), |f| {
                                if vi { &f.label_vi } else { &f.label_en }
                            })
                        };
                    issue = Issue::new(
                        path.clone(),
                        "required",
                        format!(
                            "\"{}\" is required when {}",
                            field.label_en,
                            super::logic::describe(c, label(false), false)
                        ),
                    )
                    .vi(format!(
                        "\"{}\" là bắt buộc khi {}",
                        field.label_vi,
                        super::logic::describe(c, label(true), true)
                    ));
                }
                sink.errors.push(issue);
            }
            if let Some(value) = value.filter(|v| !v.is_null()) {
                check_value(field, value, &path, &mut sink.errors);
            }
        }

        // Sorted so the order never depends on how serde_json's map was built.
        let mut unknown: Vec<&String> = record
            .keys()
            .filter(|k| find_field(&self.fields, k).is_none())
            .collect();
        unknown.sort();
        for key in unknown {
            sink.errors.push(
                Issue::new(
                    format!("{base}.{key}"),
                    "unknown_field",
                    format!("`{key}` is not a field of this form"),
                )
                .vi(format!("`{key}` không phải là trường của biểu mẫu")),
            );
        }

        if let Some(ctx) = ctx {
            self.check_pairs(record, base, sink);
            self.check_rules(record, base, ctx, sink);
        }
    }

    fn operand(&self, record: &Map<String, Value>, code: &str) -> Option<Operand> {
        find_field(&self.fields, code).and_then(|f| field_operand(f, record.get(code)))
    }

    fn check_pairs(&self, record: &Map<String, Value>, base: &str, sink: &mut Sink) {
        for pair in self.pairs {
            let (Some(total), Some(female)) = (
                self.operand(record, &pair.total),
                self.operand(record, &pair.female),
            ) else {
                continue;
            };
            if compare(female, total) == Some(Ordering::Greater) {
                let (f, t) = (operand_text(female), operand_text(total));
                sink.errors.push(
                    Issue::new(
                        format!("{base}.{}", pair.female),
                        "rule_failed",
                        format!(
                            "{}: the number of women ({f}) exceeds the total ({t})",
                            pair.label_en
                        ),
                    )
                    .vi(format!(
                        "{}: số nữ ({f}) lớn hơn tổng số ({t})",
                        pair.label_vi
                    ))
                    .with_rule(&pair.code),
                );
            }
        }
    }

    fn check_rules(
        &self,
        record: &Map<String, Value>,
        base: &str,
        ctx: &ValidationContext<'_>,
        sink: &mut Sink,
    ) {
        for rule in self.rules {
            let right = match rule.right.as_str() {
                code if find_field(&self.fields, code).is_some() => self.operand(record, code),
                PERIOD_START => Some(Operand::Date(ctx.window_start)),
                PERIOD_END => Some(Operand::Date(ctx.window_end)),
                literal => parse_number_literal(literal).map(Operand::Num),
            };
            // A missing operand is the business of `required`, not of the rule.
            let (Some(left), Some(right)) = (self.operand(record, &rule.left), right) else {
                continue;
            };
            let Some(ordering) = compare(left, right) else {
                continue;
            };
            if rule.op.holds(ordering) {
                continue;
            }
            let issue = Issue::new(
                format!("{base}.{}", rule.left),
                "rule_failed",
                rule.message_en.clone(),
            )
            .vi(rule.message_vi.clone())
            .with_rule(&rule.code);
            match rule.severity {
                Severity::Error => sink.errors.push(issue),
                Severity::Warning => sink.warnings.push(issue),
            }
        }
    }
}

fn operand_text(operand: Operand) -> String {
    match operand {
        Operand::Int(i) => i.to_string(),
        Operand::Num(x) => x.to_string(),
        Operand::Date(d) => d.to_string(),
        Operand::Bool(b) => b.to_string(),
    }
}

impl FormDefinition {
    /// What a draft must satisfy: every key known and every non-null value well typed,
    /// within bounds and lengths; lists known and not over-long. Missing values are fine.
    pub fn check_values(&self, data: &ReportData) -> Vec<Issue> {
        let mut sink = Sink {
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        self.walk(data, None, &mut sink);
        sink.errors
    }

    /// What submission requires: everything [`Self::check_values`] checks, plus required
    /// fields filled in, every pair's female count within its total, and every rule.
    /// Rules and pairs with a missing operand are skipped.
    pub fn validate(&self, data: &ReportData, ctx: &ValidationContext<'_>) -> ValidationResult {
        let mut sink = Sink {
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        self.walk(data, Some(ctx), &mut sink);
        ValidationResult {
            valid: sink.errors.is_empty(),
            errors: sink.errors,
            warnings: sink.warnings,
        }
    }

    /// `ctx` present means submission. Order: top-level values, then each list in
    /// definition order and its items in index order, then unknown lists.
    fn walk(&self, data: &ReportData, ctx: Option<&ValidationContext<'_>>, sink: &mut Sink) {
        let top = Scope {
            fields: self.fields().collect(),
            pairs: &self.pairs,
            rules: &self.rules,
        };
        top.check_record(&data.values, "values", ctx, sink);
        if let Some(prev) = ctx.and_then(|c| c.previous) {
            sink.warnings
                .extend(self.change_warnings(&data.values, prev));
        }

        for (_, list) in self.lists() {
            let Some(items) = data.lists.get(&list.code) else {
                continue;
            };
            let base = format!("lists.{}", list.code);
            if items.len() > list.max_items as usize {
                sink.errors.push(
                    Issue::new(
                        base.clone(),
                        "too_many_items",
                        format!(
                            "\"{}\" has {} items; at most {} are allowed",
                            list.label_en,
                            items.len(),
                            list.max_items
                        ),
                    )
                    .vi(format!(
                        "\"{}\" có {} mục; tối đa {} mục",
                        list.label_vi,
                        items.len(),
                        list.max_items
                    )),
                );
            }
            let scope = Scope {
                fields: list.fields.iter().collect(),
                pairs: &list.pairs,
                rules: &list.rules,
            };
            for (i, item) in items.iter().enumerate() {
                scope.check_record(item, &format!("{base}[{i}]"), ctx, sink);
            }
        }

        for code in data.lists.keys() {
            if self.list(code).is_none() {
                sink.errors.push(
                    Issue::new(
                        format!("lists.{code}"),
                        "unknown_field",
                        format!("`{code}` is not a list of this form"),
                    )
                    .vi(format!("`{code}` không phải là danh sách của biểu mẫu")),
                );
            }
        }
    }
}

/// A value a draft held that the form it moves to has no place for.
#[derive(Serialize, Clone, Debug, PartialEq, ToSchema)]
pub struct DroppedValue {
    /// Where it was, as a validation issue names it: `values.x`, `lists.l`,
    /// `lists.l[2].y`.
    pub path: String,
    #[schema(value_type = DroppedContent)]
    pub value: Value,
}

/// What a dropped value can be (for the document; the value is JSON as stored).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum DroppedContent {
    /// Integer, decimal and money fields.
    Number(f64),
    /// Text, a date (`YYYY-MM-DD`) or a choice's option code.
    Text(String),
    /// A yes/no field.
    Flag(bool),
    /// A multiple choice's option codes.
    Codes(Vec<String>),
    /// A whole list the new form no longer has: its items.
    Items(Vec<Map<String, Value>>),
}

impl FormDefinition {
    /// A draft made under another version of the form, moved to this one: every value
    /// and list this form still has is kept as it is, and the rest is returned beside
    /// it (empty values are not worth reporting). Whether the kept values fit their
    /// fields' new types is [`FormDefinition::check_values`]'s to say.
    pub fn carry_over(&self, data: &ReportData) -> (ReportData, Vec<DroppedValue>) {
        let mut kept = ReportData {
            tasks: data.tasks.clone(),
            ..ReportData::default()
        };
        let mut dropped = Vec::new();
        for (code, value) in &data.values {
            if self.field(code).is_some() {
                kept.values.insert(code.clone(), value.clone());
            } else if !value.is_null() {
                dropped.push(DroppedValue {
                    path: format!("values.{code}"),
                    value: value.clone(),
                });
            }
        }
        for (code, items) in &data.lists {
            let Some(list) = self.list(code) else {
                if !items.is_empty() {
                    dropped.push(DroppedValue {
                        path: format!("lists.{code}"),
                        value: Value::Array(items.iter().cloned().map(Value::Object).collect()),
                    });
                }
                continue;
            };
            let known: HashSet<&str> = list.fields.iter().map(|f| f.code.as_str()).collect();
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut keep = Map::new();
                for (member, value) in item {
                    if known.contains(member.as_str()) {
                        keep.insert(member.clone(), value.clone());
                    } else if !value.is_null() {
                        dropped.push(DroppedValue {
                            path: format!("lists.{code}[{i}].{member}"),
                            value: value.clone(),
                        });
                    }
                }
                out.push(keep);
            }
            kept.lists.insert(code.clone(), out);
        }
        (kept, dropped)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form() -> FormDefinition {
        default_form_2024().unwrap()
    }

    /// The first half of 2024, as the semi-annual period `2024S1` would cover.
    fn ctx() -> ValidationContext<'static> {
        ValidationContext {
            window_start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            window_end: NaiveDate::from_ymd_opt(2024, 6, 30).unwrap(),
            previous: None,
        }
    }

    fn data(value: Value) -> ReportData {
        serde_json::from_value(value).unwrap()
    }

    /// A complete report that satisfies every rule of the default form.
    fn good() -> ReportData {
        data(json!({
            "values": {
                "staff_total": 40, "staff_female": 22,
                "leaders_total": 3, "leaders_female": 1,
                "planning_pool_total": 6, "planning_pool_female": 3,
                "appointed_total": 1, "appointed_female": 1,
                "trained_political_total": 5, "trained_political_female": 3,
                "trained_professional_total": 10, "trained_professional_female": 6,
                "committee_in_place": true,
                "committee_members_total": 5, "committee_members_female": 3,
                "committee_meetings": 2, "committee_inspections": 1,
                "budget_allocated_vnd": 50_000_000, "budget_spent_vnd": 32_500_000,
                "culture_activities_integrated": 4,
                "culture_integration_description": "Lồng ghép nội dung bình đẳng giới trong các buổi biểu diễn nghệ thuật.",
                "narrative_results": "Đơn vị đã tổ chức gặp mặt nữ cán bộ nhân ngày 8/3.",
                "narrative_difficulties": null
            },
            "lists": {
                "activities": [{
                    "type": "event_march_8",
                    "title": "Gặp mặt nữ cán bộ nhân Ngày Quốc tế Phụ nữ 8/3",
                    "date": "2024-03-08",
                    "participants_total": 60, "participants_female": 41,
                    "topics": ["law_gender_equality", "gender_equality_politics"],
                    "cost_vnd": 12_000_000
                }]
            }
        }))
    }

    fn with(mut d: ReportData, key: &str, value: Value) -> ReportData {
        d.values.insert(key.to_owned(), value);
        d
    }

    fn with_item(mut d: ReportData, key: &str, value: Value) -> ReportData {
        d.lists.get_mut("activities").unwrap()[0].insert(key.to_owned(), value);
        d
    }

    fn paths_and_codes(issues: &[Issue]) -> Vec<(String, String)> {
        issues
            .iter()
            .map(|i| (i.path.clone(), i.code.clone()))
            .collect()
    }

    fn one(path: &str, code: &str) -> Vec<(String, String)> {
        vec![(path.to_owned(), code.to_owned())]
    }

    // --- the default form -------------------------------------------------------------

    #[test]
    fn nul_characters_in_text_are_refused() {
        let form = default_form_2024().unwrap();
        let mut data = ReportData::default();
        data.values
            .insert("narrative_results".into(), Value::String("a\0b".into()));
        let issues = form.check_values(&data);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].code, "invalid_character");
        assert_eq!(issues[0].path, "values.narrative_results");
    }

    #[test]
    fn default_form_parses_and_passes_check() {
        assert_eq!(form().check(), Ok(()));
    }

    #[test]
    fn default_form_has_the_agreed_codes() {
        let f = form();
        let sections: Vec<&str> = f.sections.iter().map(|s| s.code.as_str()).collect();
        assert_eq!(sections, ["A", "B", "C", "D", "E", "F", "G"]);
        let fields: Vec<&str> = f.fields().map(|x| x.code.as_str()).collect();
        assert_eq!(
            fields,
            [
                "staff_total",
                "staff_female",
                "leaders_total",
                "leaders_female",
                "planning_pool_total",
                "planning_pool_female",
                "appointed_total",
                "appointed_female",
                "trained_political_total",
                "trained_political_female",
                "trained_professional_total",
                "trained_professional_female",
                "trained_total",
                "committee_in_place",
                "committee_members_total",
                "committee_members_female",
                "committee_meetings",
                "committee_inspections",
                "budget_allocated_vnd",
                "budget_spent_vnd",
                "culture_activities_integrated",
                "culture_integration_description",
                "narrative_results",
                "narrative_difficulties",
                "narrative_harmful_issues",
                "narrative_recommendations",
            ]
        );
        let list = f.list("activities").unwrap();
        assert_eq!(list.max_items, 500);
        let list_fields: Vec<&str> = list.fields.iter().map(|x| x.code.as_str()).collect();
        assert_eq!(
            list_fields,
            [
                "type",
                "title",
                "date",
                "participants_total",
                "participants_female",
                "topics",
                "cost_vnd"
            ]
        );
        let pairs: Vec<&str> = f.all_pairs().map(|p| p.code.as_str()).collect();
        assert_eq!(
            pairs,
            [
                "staff",
                "leaders",
                "planning_pool",
                "appointed",
                "trained_political",
                "trained_professional",
                "committee_members"
            ]
        );
        let rules: Vec<(&str, Severity)> = f
            .rules
            .iter()
            .map(|r| (r.code.as_str(), r.severity))
            .collect();
        assert_eq!(
            rules,
            [
                ("leaders_within_staff", Severity::Error),
                ("leaders_female_within_staff_female", Severity::Error),
                ("planning_pool_within_staff", Severity::Error),
                ("trained_political_within_staff", Severity::Warning),
                ("trained_professional_within_staff", Severity::Warning),
                ("budget_spent_within_allocated", Severity::Warning),
            ]
        );
        assert_eq!(f.numeric_fields().count(), 20);
        let texts: Vec<(&str, &str)> = f
            .text_fields()
            .map(|(s, x)| (s.code.as_str(), x.code.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("F", "culture_integration_description"),
                ("G", "narrative_results"),
                ("G", "narrative_difficulties"),
                ("G", "narrative_harmful_issues"),
                ("G", "narrative_recommendations"),
            ]
        );
        assert_eq!(
            f.field("budget_spent_vnd").unwrap().kind,
            FieldType::MoneyVnd
        );
        assert!(f.field("type").is_none(), "list fields are not top-level");
    }

    #[test]
    fn default_form_round_trips_through_json() {
        let f = form();
        let text = serde_json::to_string(&f).unwrap();
        let back: FormDefinition = serde_json::from_str(&text).unwrap();
        assert_eq!(back, f);
        assert!(text.contains(r#""op":"<=""#));
        assert!(text.contains(r#""type":"money_vnd""#));
    }

    #[test]
    fn compliant_report_is_valid_without_warnings() {
        let f = form();
        assert_eq!(f.check_values(&good()), vec![]);
        let result = f.validate(&good(), &ctx());
        assert_eq!(result.errors, vec![]);
        assert_eq!(result.warnings, vec![]);
        assert!(result.valid);
    }

    #[test]
    fn every_default_rule_fires_on_a_violation() {
        let f = form();
        let cases = [
            (
                "leaders_within_staff",
                "leaders_total",
                json!(41),
                Severity::Error,
            ),
            (
                "leaders_female_within_staff_female",
                "staff_female",
                json!(0),
                Severity::Error,
            ),
            (
                "planning_pool_within_staff",
                "planning_pool_total",
                json!(41),
                Severity::Error,
            ),
            (
                "trained_political_within_staff",
                "trained_political_total",
                json!(41),
                Severity::Warning,
            ),
            (
                "trained_professional_within_staff",
                "trained_professional_total",
                json!(41),
                Severity::Warning,
            ),
            (
                "budget_spent_within_allocated",
                "budget_spent_vnd",
                json!(50_000_001),
                Severity::Warning,
            ),
        ];
        let covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
        let defined: Vec<&str> = f.rules.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(covered, defined, "every default rule has a case");

        for (rule, key, value, severity) in cases {
            let result = f.validate(&with(good(), key, value), &ctx());
            let (hit, quiet) = match severity {
                Severity::Error => (&result.errors, &result.warnings),
                Severity::Warning => (&result.warnings, &result.errors),
            };
            assert_eq!(hit.len(), 1, "{rule}: {result:?}");
            assert!(quiet.is_empty(), "{rule}: {result:?}");
            let left = &f.rules.iter().find(|r| r.code == rule).unwrap().left;
            assert_eq!(hit[0].path, format!("values.{left}"));
            assert_eq!(hit[0].code, "rule_failed");
            assert_eq!(hit[0].rule.as_deref(), Some(rule));
            assert!(hit[0].message_vi.is_some());
            assert_eq!(result.valid, severity == Severity::Warning);
        }
    }

    #[test]
    fn rules_hold_on_equality() {
        let d = with(good(), "leaders_total", json!(40));
        let d = with(d, "budget_spent_vnd", json!(50_000_000));
        let result = form().validate(&d, &ctx());
        assert!(result.valid);
        assert!(result.warnings.is_empty());
    }

    #[test]
    fn every_default_pair_fires_when_women_exceed_the_total() {
        let f = form();
        let base = good();
        for pair in f.all_pairs() {
            let total = base.values[&pair.total].as_i64().unwrap();
            let equal = with(good(), &pair.female, json!(total));
            let result = f.validate(&equal, &ctx());
            assert!(
                !result
                    .errors
                    .iter()
                    .any(|i| i.rule.as_deref() == Some(&pair.code)),
                "{}: {result:?}",
                pair.code
            );

            let over = with(good(), &pair.female, json!(total + 1));
            let result = f.validate(&over, &ctx());
            let hits: Vec<&Issue> = result
                .errors
                .iter()
                .filter(|i| i.rule.as_deref() == Some(&pair.code))
                .collect();
            assert_eq!(hits.len(), 1, "{}: {result:?}", pair.code);
            assert_eq!(hits[0].path, format!("values.{}", pair.female));
            assert_eq!(hits[0].code, "rule_failed");
            assert!(!result.valid);
        }
    }

    #[test]
    fn activity_participants_pair_fires_per_item() {
        let d = with_item(good(), "participants_female", json!(61));
        let result = form().validate(&d, &ctx());
        assert_eq!(
            paths_and_codes(&result.errors),
            one("lists.activities[0].participants_female", "rule_failed")
        );
        assert_eq!(result.errors[0].rule.as_deref(), Some("participants"));
        assert!(result.errors[0].message.contains("61"));

        let d = with_item(good(), "participants_female", json!(60));
        assert!(form().validate(&d, &ctx()).valid);
    }

    #[test]
    fn activity_date_outside_the_window_is_a_warning() {
        let f = form();
        for (date, rule) in [
            ("2023-12-31", "activity_date_from"),
            ("2024-07-01", "activity_date_to"),
        ] {
            let result = f.validate(&with_item(good(), "date", json!(date)), &ctx());
            assert!(result.valid, "{result:?}");
            assert!(result.errors.is_empty());
            assert_eq!(
                paths_and_codes(&result.warnings),
                one("lists.activities[0].date", "rule_failed")
            );
            assert_eq!(result.warnings[0].rule.as_deref(), Some(rule));
        }
        for date in ["2024-01-01", "2024-06-30"] {
            let result = f.validate(&with_item(good(), "date", json!(date)), &ctx());
            assert!(result.warnings.is_empty(), "{date}: {result:?}");
        }
    }

    // --- drafts: types, bounds, keys ---------------------------------------------------

    #[test]
    fn integer_rejects_other_json_types() {
        let f = form();
        for value in [
            json!(3.0),
            json!("3"),
            json!(true),
            json!([3]),
            json!({"n": 3}),
        ] {
            let issues = f.check_values(&with(good(), "staff_total", value.clone()));
            assert_eq!(
                paths_and_codes(&issues),
                one("values.staff_total", "wrong_type"),
                "{value}"
            );
        }
    }

    #[test]
    fn integer_bounds_are_inclusive() {
        let f = form();
        assert!(
            f.check_values(&with(good(), "staff_female", json!(0)))
                .is_empty()
        );
        assert!(
            f.check_values(&with(good(), "staff_total", json!(100_000)))
                .is_empty()
        );
        for value in [json!(-1), json!(100_001), json!(u64::MAX)] {
            let issues = f.check_values(&with(good(), "staff_female", value.clone()));
            assert_eq!(
                paths_and_codes(&issues),
                one("values.staff_female", "out_of_range"),
                "{value}"
            );
        }
    }

    #[test]
    fn money_rejects_fractions_and_negatives() {
        let f = form();
        let cases = [
            (json!(1.5), "wrong_type"),
            (json!("1000"), "wrong_type"),
            (json!(-1), "out_of_range"),
            (json!(10_000_000_000_001_i64), "out_of_range"),
        ];
        for (value, code) in cases {
            let issues = f.check_values(&with(good(), "budget_spent_vnd", value.clone()));
            assert_eq!(
                paths_and_codes(&issues),
                one("values.budget_spent_vnd", code),
                "{value}"
            );
        }
    }

    /// A form with one field of every type, bounds where they apply, and no `min` on the
    /// money field so that its implicit floor of zero shows.
    fn every_type_form() -> FormDefinition {
        serde_json::from_value(json!({
            "sections": [{
                "code": "X", "title_vi": "Thử", "title_en": "Test",
                "fields": [
                    {"code": "n", "label_vi": "Số", "label_en": "Count", "type": "integer", "min": 1, "max": 9},
                    {"code": "d", "label_vi": "Tỷ lệ", "label_en": "Rate", "type": "decimal", "min": 0.5, "max": 2.5},
                    {"code": "m", "label_vi": "Tiền", "label_en": "Money", "type": "money_vnd"},
                    {"code": "b", "label_vi": "Có", "label_en": "Yes", "type": "boolean"},
                    {"code": "day", "label_vi": "Ngày", "label_en": "Day", "type": "date"},
                    {"code": "t", "label_vi": "Chữ", "label_en": "Text", "type": "text", "max_length": 3},
                    {"code": "c", "label_vi": "Chọn", "label_en": "Pick", "type": "choice",
                     "options": [{"code": "a", "label_vi": "A", "label_en": "A"},
                                 {"code": "b", "label_vi": "B", "label_en": "B"}]},
                    {"code": "mc", "label_vi": "Chọn nhiều", "label_en": "Pick many", "type": "multi_choice",
                     "options": [{"code": "a", "label_vi": "A", "label_en": "A"},
                                 {"code": "b", "label_vi": "B", "label_en": "B"}]}
                ]
            }]
        }))
        .unwrap()
    }

    #[test]
    fn every_field_type_checks_its_values() {
        let f = every_type_form();
        assert_eq!(f.check(), Ok(()));
        let cases: Vec<(&str, Value, &str, &str)> = vec![
            ("n", json!(5), "", ""),
            ("n", json!(5.5), "values.n", "wrong_type"),
            ("n", json!(0), "values.n", "out_of_range"),
            ("n", json!(10), "values.n", "out_of_range"),
            ("d", json!(1), "", ""),
            ("d", json!(2.5), "", ""),
            ("d", json!("1.5"), "values.d", "wrong_type"),
            ("d", json!(0.49), "values.d", "out_of_range"),
            ("d", json!(2.51), "values.d", "out_of_range"),
            ("m", json!(0), "", ""),
            ("m", json!(-5), "values.m", "out_of_range"),
            ("m", json!(5.0), "values.m", "wrong_type"),
            ("b", json!(false), "", ""),
            ("b", json!("true"), "values.b", "wrong_type"),
            ("b", json!(1), "values.b", "wrong_type"),
            ("day", json!("2024-02-29"), "", ""),
            ("day", json!(20_240_101), "values.day", "wrong_type"),
            ("day", json!("2023-02-29"), "values.day", "invalid_date"),
            ("day", json!("2024-1-5"), "values.day", "invalid_date"),
            ("day", json!("05/01/2024"), "values.day", "invalid_date"),
            (
                "day",
                json!("2024-01-05T00:00:00"),
                "values.day",
                "invalid_date",
            ),
            ("t", json!("abc"), "", ""),
            ("t", json!(""), "", ""),
            ("t", json!("abcd"), "values.t", "too_long"),
            ("t", json!(5), "values.t", "wrong_type"),
            ("c", json!("b"), "", ""),
            ("c", json!("z"), "values.c", "unknown_option"),
            ("c", json!(["a"]), "values.c", "wrong_type"),
            ("mc", json!([]), "", ""),
            ("mc", json!(["b", "a"]), "", ""),
            ("mc", json!("a"), "values.mc", "wrong_type"),
            ("mc", json!(["a", "z"]), "values.mc[1]", "unknown_option"),
            ("mc", json!(["a", 1]), "values.mc[1]", "wrong_type"),
            (
                "mc",
                json!(["a", "b", "a"]),
                "values.mc[2]",
                "duplicate_option",
            ),
        ];
        for (key, value, path, code) in cases {
            let d = with(ReportData::default(), key, value.clone());
            let issues = f.check_values(&d);
            let expected = if code.is_empty() {
                vec![]
            } else {
                one(path, code)
            };
            assert_eq!(paths_and_codes(&issues), expected, "{key} = {value}");
            assert!(issues.iter().all(|i| i.message_vi.is_some()));
        }
    }

    #[test]
    fn null_means_not_filled_in() {
        let f = every_type_form();
        let mut d = ReportData::default();
        for field in f.fields() {
            d.values.insert(field.code.clone(), Value::Null);
        }
        assert!(f.check_values(&d).is_empty());
        assert!(f.validate(&d, &ctx()).valid);
    }

    #[test]
    fn unknown_keys_and_lists_are_reported() {
        let f = form();
        let d = with(good(), "staff_males", json!(18));
        let d = with_item(d, "venue", json!("Hội trường"));
        let mut d = d;
        d.lists.insert("events".to_owned(), vec![]);
        assert_eq!(
            paths_and_codes(&f.check_values(&d)),
            vec![
                ("values.staff_males".to_owned(), "unknown_field".to_owned()),
                (
                    "lists.activities[0].venue".to_owned(),
                    "unknown_field".to_owned()
                ),
                ("lists.events".to_owned(), "unknown_field".to_owned()),
            ]
        );
    }

    #[test]
    fn report_data_rejects_unknown_top_level_keys() {
        let parsed =
            serde_json::from_value::<ReportData>(json!({"values": {}, "status": "accepted"}));
        assert!(parsed.is_err());
        let empty: ReportData = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, ReportData::default());
    }

    #[test]
    fn too_many_list_items() {
        let f = form();
        let item = good().lists["activities"][0].clone();
        let mut d = good();
        d.lists
            .insert("activities".to_owned(), vec![item.clone(); 500]);
        assert!(f.check_values(&d).is_empty());
        d.lists.insert("activities".to_owned(), vec![item; 501]);
        assert_eq!(
            paths_and_codes(&f.check_values(&d)),
            one("lists.activities", "too_many_items")
        );
    }

    #[test]
    fn list_items_are_checked_with_indexed_paths() {
        let f = form();
        let mut d = good();
        let mut second = d.lists["activities"][0].clone();
        second.insert("type".to_owned(), json!("webinar"));
        second.insert("cost_vnd".to_owned(), json!(-1));
        d.lists.get_mut("activities").unwrap().push(second);
        assert_eq!(
            paths_and_codes(&f.check_values(&d)),
            vec![
                (
                    "lists.activities[1].type".to_owned(),
                    "unknown_option".to_owned()
                ),
                (
                    "lists.activities[1].cost_vnd".to_owned(),
                    "out_of_range".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let f = form();
        let fits = "ữ".repeat(500);
        assert_eq!(fits.len(), 1500);
        assert!(
            f.check_values(&with_item(good(), "title", json!(fits)))
                .is_empty()
        );
        let over = "ữ".repeat(501);
        assert_eq!(
            paths_and_codes(&f.check_values(&with_item(good(), "title", json!(over)))),
            one("lists.activities[0].title", "too_long")
        );
    }

    #[test]
    fn issues_follow_definition_order() {
        let f = form();
        let d = with(good(), "narrative_results", json!(5));
        let d = with(d, "staff_female", json!("x"));
        let d = with(d, "staff_total", json!(-3));
        let d = with(d, "aaa_unknown", json!(1));
        let d = with_item(d, "date", json!("tomorrow"));
        assert_eq!(
            paths_and_codes(&f.check_values(&d)),
            vec![
                ("values.staff_total".to_owned(), "out_of_range".to_owned()),
                ("values.staff_female".to_owned(), "wrong_type".to_owned()),
                (
                    "values.narrative_results".to_owned(),
                    "wrong_type".to_owned()
                ),
                ("values.aaa_unknown".to_owned(), "unknown_field".to_owned()),
                (
                    "lists.activities[0].date".to_owned(),
                    "invalid_date".to_owned()
                ),
            ]
        );
    }

    // --- submission: required and rules ------------------------------------------------

    #[test]
    fn required_is_checked_on_submit_only() {
        let f = form();
        let empty = ReportData::default();
        assert!(f.check_values(&empty).is_empty());

        let result = f.validate(&empty, &ctx());
        assert!(!result.valid);
        let required: Vec<String> = f
            .fields()
            .filter(|x| x.required)
            .map(|x| format!("values.{}", x.code))
            .collect();
        assert_eq!(required.len(), 17);
        let paths: Vec<String> = result.errors.iter().map(|i| i.path.clone()).collect();
        assert_eq!(paths, required);
        assert!(result.errors.iter().all(|i| i.code == "required"));
    }

    #[test]
    fn blank_text_and_missing_item_fields_count_as_missing() {
        let f = form();
        let d = with(good(), "narrative_results", json!("  \n "));
        let mut d = d;
        d.lists.get_mut("activities").unwrap()[0].remove("title");
        assert!(f.check_values(&d).is_empty());
        let result = f.validate(&d, &ctx());
        assert_eq!(
            paths_and_codes(&result.errors),
            vec![
                ("values.narrative_results".to_owned(), "required".to_owned()),
                (
                    "lists.activities[0].title".to_owned(),
                    "required".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_missing_operand_skips_rules_and_pairs() {
        let f = form();
        // Far more leaders and women than staff, but the staff figures are not given.
        let d = with(good(), "staff_total", Value::Null);
        let d = with(d, "staff_female", Value::Null);
        let d = with(d, "leaders_total", json!(900));
        let d = with(d, "leaders_female", json!(800));
        let d = with(d, "budget_allocated_vnd", Value::Null);
        let result = f.validate(&d, &ctx());
        assert!(result.warnings.is_empty(), "{result:?}");
        let issues: Vec<(String, String, Option<String>)> = result
            .errors
            .iter()
            .map(|i| (i.path.clone(), i.code.clone(), i.rule.clone()))
            .collect();
        assert_eq!(
            issues,
            vec![
                ("values.staff_total".into(), "required".into(), None),
                ("values.staff_female".into(), "required".into(), None),
                (
                    "values.budget_allocated_vnd".into(),
                    "required".into(),
                    None
                ),
            ]
        );
        // The draft itself is fine: nulls are allowed and rules are not checked.
        assert!(f.check_values(&d).is_empty());
    }

    #[test]
    fn a_wrongly_typed_operand_gives_one_issue_not_two() {
        let d = with(good(), "staff_total", json!("forty"));
        let result = form().validate(&d, &ctx());
        assert_eq!(
            paths_and_codes(&result.errors),
            one("values.staff_total", "wrong_type")
        );
    }

    #[test]
    fn literal_and_boolean_rules_evaluate() {
        let f: FormDefinition = serde_json::from_value(json!({
            "sections": [{"code": "X", "title_vi": "Thử", "title_en": "Test", "fields": [
                {"code": "n", "label_vi": "Số", "label_en": "Count", "type": "integer"},
                {"code": "r", "label_vi": "Tỷ lệ", "label_en": "Rate", "type": "decimal"},
                {"code": "a", "label_vi": "A", "label_en": "A", "type": "boolean"},
                {"code": "b", "label_vi": "B", "label_en": "B", "type": "boolean"},
                {"code": "day", "label_vi": "Ngày", "label_en": "Day", "type": "date"}
            ]}],
            "rules": [
                {"code": "n_at_least_one", "left": "n", "op": ">=", "right": "1", "severity": "error",
                 "message_vi": "Ít nhất 1", "message_en": "At least 1"},
                {"code": "r_below_n", "left": "r", "op": "<", "right": "n", "severity": "error",
                 "message_vi": "r < n", "message_en": "r < n"},
                {"code": "a_is_b", "left": "a", "op": "==", "right": "b", "severity": "warning",
                 "message_vi": "a = b", "message_en": "a = b"},
                {"code": "day_in_window", "left": "day", "op": "<=", "right": "$period.end", "severity": "error",
                 "message_vi": "Trong kỳ", "message_en": "Within the period"}
            ]
        }))
        .unwrap();
        assert_eq!(f.check(), Ok(()));
        let ok =
            data(json!({"values": {"n": 2, "r": 1.5, "a": true, "b": true, "day": "2024-06-30"}}));
        let result = f.validate(&ok, &ctx());
        assert!(result.valid && result.warnings.is_empty(), "{result:?}");

        let bad =
            data(json!({"values": {"n": 0, "r": 0.5, "a": true, "b": false, "day": "2024-07-01"}}));
        let result = f.validate(&bad, &ctx());
        let fired: Vec<&str> = result
            .errors
            .iter()
            .chain(&result.warnings)
            .filter_map(|i| i.rule.as_deref())
            .collect();
        assert_eq!(
            fired,
            ["n_at_least_one", "r_below_n", "day_in_window", "a_is_b"]
        );
        assert_eq!(result.errors[0].message, "At least 1");
        assert_eq!(result.errors[0].message_vi.as_deref(), Some("Ít nhất 1"));
    }

    #[test]
    fn issue_json_always_carries_every_member() {
        // Absent parts are null, not missing: a generated client types them `T | null`.
        let issue = Issue::new("values.n", "wrong_type", "bad");
        assert_eq!(
            serde_json::to_value(&issue).unwrap(),
            json!({"path": "values.n", "code": "wrong_type", "message": "bad", "message_vi": null, "rule": null})
        );
    }

    // --- the definition checker --------------------------------------------------------

    /// A one-section form with two integers, a date and whatever extra is merged in.
    fn small_form(extra: Value) -> Value {
        let mut form = json!({
            "sections": [{"code": "A", "title_vi": "Thử", "title_en": "Test", "fields": [
                {"code": "total", "label_vi": "Tổng", "label_en": "Total", "type": "integer"},
                {"code": "female", "label_vi": "Nữ", "label_en": "Women", "type": "integer"},
                {"code": "held_on", "label_vi": "Ngày", "label_en": "Date", "type": "date"},
                {"code": "ok", "label_vi": "Có", "label_en": "Yes", "type": "boolean"},
                {"code": "note", "label_vi": "Ghi chú", "label_en": "Note", "type": "text"}
            ]}]
        });
        if let (Some(target), Value::Object(extra)) = (form.as_object_mut(), extra) {
            target.extend(extra);
        }
        form
    }

    fn rule(left: &str, op: &str, right: &str) -> Value {
        json!({"code": "r", "left": left, "op": op, "right": right, "severity": "error",
               "message_vi": "Sai", "message_en": "Wrong"})
    }

    fn check_issues(definition: Value) -> Vec<(String, String)> {
        let form: FormDefinition = serde_json::from_value(definition).unwrap();
        paths_and_codes(&form.check().unwrap_err())
    }

    #[test]
    fn rule_naming_an_unknown_field() {
        let form: FormDefinition =
            serde_json::from_value(small_form(json!({"rules": [rule("staff", "<=", "total")]})))
                .unwrap();
        let issues = form.check().unwrap_err();
        assert_eq!(
            paths_and_codes(&issues),
            one("rules[0].left", "unknown_reference")
        );
        assert!(issues[0].message.contains("`staff`"));

        assert_eq!(
            check_issues(small_form(
                json!({"rules": [rule("female", "<=", "everyone")]})
            )),
            one("rules[0].right", "unknown_reference")
        );
        for right in ["$period.middle", "nan", "inf", "1e999", "0x10"] {
            assert_eq!(
                check_issues(small_form(json!({"rules": [rule("female", "<=", right)]}))),
                one("rules[0].right", "unknown_reference"),
                "{right}"
            );
        }
    }

    #[test]
    fn list_rule_naming_an_unknown_field() {
        let mut form = form();
        let list = form.sections[2].list.as_mut().unwrap();
        list.rules.push(list.rules[0].clone());
        list.rules[2].code = "venue_rule".to_owned();
        list.rules[2].left = "venue".to_owned();
        // A top-level field is not in the list's scope either.
        list.rules[0].right = "staff_total".to_owned();
        assert_eq!(
            paths_and_codes(&form.check().unwrap_err()),
            vec![
                (
                    "sections[2].list.rules[0].right".to_owned(),
                    "unknown_reference".to_owned()
                ),
                (
                    "sections[2].list.rules[2].left".to_owned(),
                    "unknown_reference".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn rule_operand_types_must_agree() {
        let cases = [
            (rule("held_on", ">=", "5"), "rules[0].right"),
            (rule("total", "<=", "held_on"), "rules[0].right"),
            (rule("total", "<=", "$period.start"), "rules[0].right"),
            (rule("ok", "==", "total"), "rules[0].right"),
            (rule("ok", "<=", "ok"), "rules[0].op"),
            (rule("note", "==", "note"), "rules[0].left"),
        ];
        for (r, path) in cases {
            assert_eq!(
                check_issues(small_form(json!({"rules": [r.clone()]}))),
                one(path, "type_mismatch"),
                "{r}"
            );
        }
        for r in [
            rule("held_on", ">=", "$period.start"),
            rule("female", "<=", "total"),
            rule("female", "<", "1.5e3"),
            rule("ok", "!=", "ok"),
        ] {
            let form: FormDefinition =
                serde_json::from_value(small_form(json!({"rules": [r.clone()]}))).unwrap();
            assert_eq!(form.check(), Ok(()), "{r}");
        }
    }

    #[test]
    fn duplicate_field_codes_are_rejected_across_sections() {
        let mut form = form();
        form.sections[6].fields[0].code = "staff_total".to_owned();
        let issues = form.check().unwrap_err();
        assert_eq!(
            paths_and_codes(&issues),
            one("sections[6].fields[0].code", "duplicate_code")
        );
        assert!(issues[0].message.contains("sections[0].fields[0].code"));

        // A list field may reuse a top-level code: it lives in its own scope.
        let mut form = self::form();
        form.sections[2].list.as_mut().unwrap().fields[1].code = "staff_total".to_owned();
        form.sections[2].list.as_mut().unwrap().fields[3].code = "staff_total".to_owned();
        let issues = paths_and_codes(&form.check().unwrap_err());
        assert!(issues.contains(&(
            "sections[2].list.fields[3].code".to_owned(),
            "duplicate_code".to_owned()
        )));
        assert!(
            !issues
                .iter()
                .any(|(p, _)| p == "sections[2].list.fields[1].code")
        );
    }

    #[test]
    fn bounds_must_fit_the_type() {
        let mut form = form();
        form.sections[0].fields[0].min = Some(10.0);
        form.sections[0].fields[0].max = Some(1.0);
        form.sections[0].fields[1].max_length = Some(20);
        form.sections[6].fields[0].min = Some(0.0);
        form.sections[6].fields[1].max_length = Some(0);
        assert_eq!(
            paths_and_codes(&form.check().unwrap_err()),
            vec![
                (
                    "sections[0].fields[0].min".to_owned(),
                    "invalid_bounds".to_owned()
                ),
                (
                    "sections[0].fields[1].max_length".to_owned(),
                    "invalid_bounds".to_owned()
                ),
                (
                    "sections[6].fields[0].min".to_owned(),
                    "invalid_bounds".to_owned()
                ),
                (
                    "sections[6].fields[1].max_length".to_owned(),
                    "invalid_bounds".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn options_belong_to_choice_fields_only() {
        let mut form = form();
        let list = form.sections[2].list.as_mut().unwrap();
        list.fields[0].options = Some(vec![]);
        list.fields[5].options = None;
        let mut twice = list.fields[0].clone();
        twice.code = "twice".to_owned();
        let choice = |code: &str| Choice {
            code: code.to_owned(),
            label_vi: "Lựa chọn".to_owned(),
            label_en: "Option".to_owned(),
        };
        twice.options = Some(vec![choice("a"), choice("a")]);
        list.fields.push(twice);
        assert_eq!(
            paths_and_codes(&form.check().unwrap_err()),
            vec![
                (
                    "sections[2].list.fields[0].options".to_owned(),
                    "missing_options".to_owned()
                ),
                (
                    "sections[2].list.fields[5].options".to_owned(),
                    "missing_options".to_owned()
                ),
                (
                    "sections[2].list.fields[7].options[1].code".to_owned(),
                    "duplicate_code".to_owned()
                ),
            ]
        );

        let mut form = self::form();
        form.sections[0].fields[0].options = Some(vec![choice("a")]);
        assert_eq!(
            paths_and_codes(&form.check().unwrap_err()),
            one("sections[0].fields[0].options", "unexpected_options")
        );
    }

    #[test]
    fn codes_must_be_well_formed() {
        let mut form = form();
        form.sections[0].fields[0].code = "Staff_total".to_owned();
        form.sections[0].fields[1].code = "9staff".to_owned();
        form.sections[0].fields[2].code = "a".repeat(64);
        form.sections[1].code = String::new();
        let issues = paths_and_codes(&form.check().unwrap_err());
        for path in [
            "sections[0].fields[0].code",
            "sections[0].fields[1].code",
            "sections[0].fields[2].code",
            "sections[1].code",
        ] {
            assert!(
                issues.contains(&(path.to_owned(), "invalid_code".to_owned())),
                "{path}: {issues:?}"
            );
        }
        let mut ok = self::form();
        ok.sections[0].fields[0].code = "a".repeat(63);
        // Renaming breaks the references to the old code, and only those.
        let issues = paths_and_codes(&ok.check().unwrap_err());
        assert!(
            issues.iter().all(|(_, c)| c == "unknown_reference"),
            "{issues:?}"
        );
    }

    #[test]
    fn pairs_need_numeric_fields_of_their_scope() {
        let pair = |code: &str, total: &str, female: &str| json!({"code": code, "total": total, "female": female, "label_vi": "Cặp", "label_en": "Pair"});
        assert_eq!(
            check_issues(small_form(json!({"pairs": [
                pair("p", "total", "female"),
                pair("q", "total", "women"),
                pair("p", "note", "female"),
                pair("s", "total", "total")
            ]}))),
            vec![
                ("pairs[1].female".to_owned(), "unknown_reference".to_owned()),
                ("pairs[2].code".to_owned(), "duplicate_code".to_owned()),
                ("pairs[2].total".to_owned(), "type_mismatch".to_owned()),
                ("pairs[3].female".to_owned(), "invalid_pair".to_owned()),
            ]
        );
    }

    #[test]
    fn rule_codes_are_unique_and_distinct_from_pair_codes() {
        let mut r2 = rule("female", "<=", "total");
        r2["code"] = json!("p");
        assert_eq!(
            check_issues(small_form(json!({
                "pairs": [{"code": "p", "total": "total", "female": "female", "label_vi": "Cặp", "label_en": "Pair"}],
                "rules": [rule("female", "<=", "total"), rule("female", ">=", "0"), r2]
            }))),
            vec![
                ("rules[1].code".to_owned(), "duplicate_code".to_owned()),
                ("rules[2].code".to_owned(), "duplicate_code".to_owned()),
            ]
        );
    }

    #[test]
    fn a_form_needs_sections_with_content() {
        assert_eq!(
            check_issues(json!({"sections": []})),
            one("sections", "empty")
        );
        assert_eq!(
            check_issues(json!({"sections": [{"code": "A", "title_vi": "Thử", "title_en": ""}]})),
            vec![
                ("sections[0].title_en".to_owned(), "empty".to_owned()),
                ("sections[0]".to_owned(), "empty".to_owned()),
            ]
        );
    }

    #[test]
    fn definitions_refuse_unknown_keys() {
        let mut text = serde_json::to_value(form()).unwrap();
        text["sections"][0]["fields"][0]["colour"] = json!("red");
        assert!(serde_json::from_value::<FormDefinition>(text).is_err());
        let bad_op = small_form(json!({"rules": [rule("female", "=<", "total")]}));
        assert!(serde_json::from_value::<FormDefinition>(bad_op).is_err());
    }

    #[test]
    fn a_draft_carried_to_a_new_form_keeps_what_fits_and_returns_the_rest() {
        let mut next = form();
        // The new version drops a field and a list member, and adds a field.
        next.sections[0]
            .fields
            .retain(|f| f.code != "appointed_total");
        let list = next
            .sections
            .iter_mut()
            .find_map(|s| s.list.as_mut())
            .unwrap();
        let list_code = list.code.clone();
        list.fields.retain(|f| f.code != "cost_vnd");
        let mut old = good();
        old.values.insert("appointed_total".into(), json!(1));
        old.values.insert("retired_field".into(), Value::Null);
        let items = old.lists.get(&list_code).map_or(0, Vec::len);
        let (kept, dropped) = next.carry_over(&old);
        assert!(!kept.values.contains_key("appointed_total"));
        assert!(!kept.values.contains_key("retired_field"));
        assert_eq!(kept.values.len(), old.values.len() - 2);
        assert_eq!(kept.lists[&list_code].len(), items);
        let paths: Vec<&str> = dropped.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths[0], "values.appointed_total", "{paths:?}");
        assert_eq!(dropped[0].value, json!(1));
        // Every item's cost is returned, an empty value is not.
        assert!(items > 0);
        assert_eq!(paths.len(), 1 + items, "{paths:?}");
        assert!(paths[1..].iter().all(|p| p.starts_with(&format!("lists.{list_code}[")) && p.ends_with("].cost_vnd")));
        assert!(next.check_values(&kept).is_empty());
    }
}
