//! Form logic: what a field of the form may say beyond its type, in the same data the
//! frontend renders from and the server validates with.
//!
//! * `required_when` — the field is required on submission only while a condition over
//!   another field of the same scope holds (the Committee's members only when a
//!   Committee is in place). A condition whose field is empty does not hold.
//! * `computed` — the field is read-only and derived on every save from other top-level
//!   fields: a sum (a total from its parts) or a share (one field over another). A value
//!   sent for it is replaced by the derived one; it is left out while a part is empty
//!   (a partial total would read as a real one), or a share's denominator is zero.
//! * `max_change` — a soft check against the unit's report of the previous period (the
//!   one a compilation compares with): a warning, never an error, when the value moves
//!   by more than this fraction of the previous value.
//!
//! Everything here is pure, like the rest of the form: values in, values or issues out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use utoipa::ToSchema;

use super::form::{CmpOp, Field, FieldType, FormDefinition, ReportData};
use crate::error::Issue;

/// A condition over another field of the same scope (the top-level fields, or the
/// fields of one list item): `{"field": "committee_in_place", "op": "==", "value": true}`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    /// Any comparison for a numeric field; `==` or `!=` for a yes/no, choice or
    /// multi-choice field (for multi-choice: the option is, or is not, among those chosen).
    pub op: CmpOp,
    pub value: Literal,
}

/// What a condition compares with: `true`/`false` for a yes/no field, a number for a
/// numeric one, an option code for a choice or multi-choice one.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Number(f64),
    Code(String),
}

/// How a computed field is derived from other top-level numeric fields: exactly one of
/// `sum` and `share`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Computed {
    /// The sum of these fields, once every one is filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<Vec<String>>,
    /// `numerator / denominator` as a fraction (a decimal field); none while the
    /// denominator is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Share>,
}

/// The two fields of a computed share.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub numerator: String,
    pub denominator: String,
}

/// A [`Computed`] as the one derivation it names (`None` when it names none or both,
/// which the form check refuses).
enum How<'a> {
    Sum(&'a [String]),
    Share(&'a Share),
}

impl Computed {
    fn how(&self) -> Option<How<'_>> {
        match (&self.sum, &self.share) {
            (Some(parts), None) => Some(How::Sum(parts)),
            (None, Some(share)) => Some(How::Share(share)),
            _ => None,
        }
    }

    fn parts(&self) -> Vec<&String> {
        match self.how() {
            Some(How::Sum(parts)) => parts.iter().collect(),
            Some(How::Share(s)) => vec![&s.numerator, &s.denominator],
            None => Vec::new(),
        }
    }
}

/// The unit's values of the period a soft check compares with.
#[derive(Clone, Debug)]
pub struct Previous {
    pub period_code: String,
    pub values: Map<String, Value>,
}

fn find<'a>(scope: &[&'a Field], code: &str) -> Option<&'a Field> {
    scope.iter().copied().find(|f| f.code == code)
}

/// Checks a field's `required_when`, `computed` and `max_change` against its scope
/// (`top` when the field is a top-level one, else one list's fields).
pub(super) fn check_field(
    field: &Field,
    path: &str,
    scope: &[&Field],
    top: bool,
    out: &mut Vec<Issue>,
) {
    if let Some(c) = &field.required_when {
        let at = format!("{path}.required_when");
        if field.required {
            out.push(Issue::new(
                at.clone(),
                "invalid_logic",
                "a field is either always required or required when a condition holds, not both",
            ));
        }
        check_condition(field, c, &at, scope, out);
    }
    if let Some(c) = &field.computed {
        check_computed(field, c, &format!("{path}.computed"), scope, top, out);
    }
    if let Some(m) = field.max_change {
        let at = format!("{path}.max_change");
        if !field.kind.is_numeric() {
            out.push(Issue::new(
                at,
                "invalid_logic",
                "max_change applies only to integer, decimal and money_vnd fields",
            ));
        } else if !top {
            out.push(Issue::new(
                at,
                "invalid_logic",
                "max_change applies only to top-level fields: list items have no previous period to compare with",
            ));
        } else if !(m.is_finite() && m > 0.0) {
            out.push(Issue::new(
                at,
                "invalid_logic",
                "max_change must be a fraction greater than 0 (0.5 is 50 %)",
            ));
        }
    }
}

fn check_condition(field: &Field, c: &Condition, at: &str, scope: &[&Field], out: &mut Vec<Issue>) {
    let Some(other) = find(scope, &c.field).filter(|o| o.code != field.code) else {
        out.push(Issue::new(
            format!("{at}.field"),
            "unknown_field",
            format!(
                "`{}` is not another field of the same scope (the form's top-level fields, or the list's)",
                c.field
            ),
        ));
        return;
    };
    let equality = matches!(c.op, CmpOp::Eq | CmpOp::Ne);
    let fits = match (other.kind, &c.value) {
        (FieldType::Boolean, Literal::Bool(_)) => equality,
        (k, Literal::Number(n)) if k.is_numeric() => n.is_finite(),
        (FieldType::Choice | FieldType::MultiChoice, Literal::Code(code)) => {
            equality
                && other
                    .options
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|o| &o.code == code))
        }
        _ => false,
    };
    if !fits {
        out.push(Issue::new(
            format!("{at}.value"),
            "invalid_logic",
            format!(
                "`{}` is {} field: compare it {}",
                other.code,
                kind_name(other.kind),
                match other.kind {
                    FieldType::Boolean => "with `==` or `!=` and true or false",
                    k if k.is_numeric() => "with a number",
                    FieldType::Choice | FieldType::MultiChoice =>
                        "with `==` or `!=` and one of its option codes",
                    _ => "with nothing: conditions read yes/no, numeric and choice fields",
                }
            ),
        ));
    }
}

fn check_computed(
    field: &Field,
    c: &Computed,
    at: &str,
    scope: &[&Field],
    top: bool,
    out: &mut Vec<Issue>,
) {
    if !top {
        out.push(Issue::new(
            at,
            "invalid_logic",
            "computed fields are top-level fields",
        ));
        return;
    }
    let Some(how) = c.how() else {
        out.push(Issue::new(
            at,
            "invalid_logic",
            "a computed field is either a `sum` or a `share`: give exactly one",
        ));
        return;
    };
    let kind_fits = match how {
        How::Sum(_) => field.kind.is_numeric(),
        How::Share(_) => field.kind == FieldType::Decimal,
    };
    if !kind_fits {
        out.push(Issue::new(
            at,
            "invalid_logic",
            match how {
                How::Sum(_) => "a sum is an integer, decimal or money_vnd field",
                How::Share(_) => "a share is a decimal field",
            },
        ));
    }
    if let How::Sum(parts) = how
        && parts.is_empty()
    {
        out.push(Issue::new(
            format!("{at}.sum"),
            "invalid_logic",
            "a sum needs at least one field",
        ));
    }
    for part in c.parts() {
        let ok = find(scope, part).is_some_and(|p| {
            p.code != field.code
                && p.kind.is_numeric()
                && p.computed.is_none()
                // An integer total is exact only over whole numbers.
                && (field.kind == FieldType::Decimal || p.kind != FieldType::Decimal)
        });
        if !ok {
            out.push(Issue::new(
                at,
                "invalid_logic",
                format!(
                    "`{part}` must be another top-level numeric field that is not computed itself{}",
                    if field.kind == FieldType::Decimal {
                        ""
                    } else {
                        " and, for a whole-number total, not a decimal one"
                    }
                ),
            ));
        }
    }
}

fn kind_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Integer => "an integer",
        FieldType::Decimal => "a decimal",
        FieldType::MoneyVnd => "a money_vnd",
        FieldType::Boolean => "a yes/no",
        FieldType::Date => "a date",
        FieldType::Text => "a text",
        FieldType::Choice => "a choice",
        FieldType::MultiChoice => "a multi-choice",
    }
}

/// Whether a condition holds over one record (top-level values or one list item).
/// An empty or mistyped value makes it false.
pub(super) fn holds(c: &Condition, record: &Map<String, Value>) -> bool {
    let Some(v) = record.get(&c.field) else {
        return false;
    };
    let eq = |same: bool| match c.op {
        CmpOp::Eq => same,
        CmpOp::Ne => !same,
        _ => false,
    };
    match (&c.value, v) {
        (Literal::Bool(b), Value::Bool(x)) => eq(b == x),
        (Literal::Number(n), Value::Number(x)) => x
            .as_f64()
            .and_then(|x| x.partial_cmp(n))
            .is_some_and(|o| c.op.holds(o)),
        (Literal::Code(code), Value::String(s)) => eq(s == code),
        (Literal::Code(code), Value::Array(items)) => {
            eq(items.iter().any(|i| i.as_str() == Some(code.as_str())))
        }
        _ => false,
    }
}

/// The reading of a condition in "required when …" messages, in English or in
/// Vietnamese.
pub(super) fn describe(c: &Condition, label: &str, vi: bool) -> String {
    let negated = c.op == CmpOp::Ne;
    match (&c.value, vi) {
        (Literal::Bool(b), false) => {
            let answer = if *b != negated { "yes" } else { "no" };
            format!("\"{label}\" is answered {answer}")
        }
        (Literal::Bool(b), true) => {
            let answer = if *b != negated { "Có" } else { "Không" };
            format!("\"{label}\" chọn {answer}")
        }
        (Literal::Number(n), _) => format!("\"{label}\" {} {n}", c.op.symbol()),
        (Literal::Code(code), false) => {
            format!(
                "\"{label}\" is{} \"{code}\"",
                if negated { " not" } else { "" }
            )
        }
        (Literal::Code(code), true) => {
            format!(
                "\"{label}\" {}là \"{code}\"",
                if negated { "không " } else { "" }
            )
        }
    }
}

impl FormDefinition {
    /// The data with every computed field derived from the others, or `None` when that
    /// changes nothing (so the caller stores what it was given).
    pub fn derive(&self, data: &ReportData) -> Option<ReportData> {
        let mut values = data.values.clone();
        let mut changed = false;
        for field in self.fields() {
            let Some(c) = &field.computed else {
                continue;
            };
            let derived = compute(field.kind, c, &data.values);
            let before = data.values.get(&field.code);
            if before != derived.as_ref() {
                changed = true;
                match derived {
                    Some(v) => values.insert(field.code.clone(), v),
                    None => values.remove(&field.code),
                };
            }
        }
        changed.then(|| ReportData {
            values,
            ..data.clone()
        })
    }

    /// Whether any field is checked against the previous period (so the caller knows
    /// whether to read it).
    pub fn has_change_checks(&self) -> bool {
        self.fields().any(|f| f.max_change.is_some())
    }

    /// The soft checks against the previous period: a warning for every top-level value
    /// that moved by more than its field's `max_change` from a non-zero previous value.
    pub(super) fn change_warnings(
        &self,
        values: &Map<String, Value>,
        prev: &Previous,
    ) -> Vec<Issue> {
        let mut out = Vec::new();
        for field in self.fields() {
            let Some(limit) = field.max_change else {
                continue;
            };
            let now = values.get(&field.code).and_then(Value::as_f64);
            let before = prev.values.get(&field.code).and_then(Value::as_f64);
            let (Some(now), Some(before)) = (now, before) else {
                continue;
            };
            if before == 0.0 {
                continue;
            }
            let change = (now - before) / before.abs();
            if change.abs() <= limit + 1e-12 {
                continue;
            }
            let (pct, limit_pct) = (
                format!("{:+.0} %", change * 100.0),
                format!("{:.0} %", limit * 100.0),
            );
            out.push(
                Issue::new(
                    format!("values.{}", field.code),
                    "unusual_change",
                    format!(
                        "\"{}\" is {now} against {before} in period {} ({pct}), more than the {limit_pct} the form expects; please check",
                        field.label_en, prev.period_code
                    ),
                )
                .vi(format!(
                    "\"{}\" là {now}, kỳ {} là {before} ({pct}), thay đổi quá {limit_pct}; đề nghị kiểm tra lại",
                    field.label_vi, prev.period_code
                )),
            );
        }
        out
    }
}

/// A computed field's value from the others, or `None` while it cannot be computed.
fn compute(kind: FieldType, c: &Computed, values: &Map<String, Value>) -> Option<Value> {
    let number = |code: &String| values.get(code).filter(|v| v.is_number());
    match c.how()? {
        How::Sum(parts) => {
            let parts: Vec<&Value> = parts.iter().map(number).collect::<Option<_>>()?;
            if kind == FieldType::Decimal {
                let sum: f64 = parts.iter().filter_map(|v| v.as_f64()).sum();
                Number::from_f64(sum).map(Value::Number)
            } else {
                parts
                    .iter()
                    .try_fold(0i64, |acc, v| acc.checked_add(v.as_i64()?))
                    .map(Value::from)
            }
        }
        How::Share(Share {
            numerator,
            denominator,
        }) => {
            let (n, d) = (number(numerator)?.as_f64()?, number(denominator)?.as_f64()?);
            if d == 0.0 {
                return None;
            }
            Number::from_f64(n / d).map(Value::Number)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn form(extra: Value) -> FormDefinition {
        let mut f = json!({"sections": [{"code": "A", "title_vi": "A", "title_en": "A", "fields": [
            {"code": "a", "label_vi": "a", "label_en": "a", "type": "integer"},
            {"code": "b", "label_vi": "b", "label_en": "b", "type": "integer"},
            {"code": "d", "label_vi": "d", "label_en": "d", "type": "decimal"},
            {"code": "flag", "label_vi": "f", "label_en": "f", "type": "boolean"},
            {"code": "kind", "label_vi": "k", "label_en": "k", "type": "choice",
             "options": [{"code": "x", "label_vi": "x", "label_en": "x"}]}
        ]}]});
        f["sections"][0]["fields"]
            .as_array_mut()
            .unwrap()
            .push(extra);
        serde_json::from_value(f).unwrap()
    }

    fn issues(extra: Value) -> Vec<String> {
        match form(extra).check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|i| i.path).collect(),
        }
    }

    #[test]
    fn logic_is_checked_against_the_form() {
        let ok = [
            json!({"code": "t", "label_vi": "t", "label_en": "t", "type": "integer", "computed": {"sum": ["a", "b"]}}),
            json!({"code": "s", "label_vi": "s", "label_en": "s", "type": "decimal", "computed": {"share": {"numerator": "a", "denominator": "b"}}}),
            json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "flag", "op": "==", "value": true}}),
            json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "kind", "op": "!=", "value": "x"}}),
            json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "a", "op": ">", "value": 0}, "max_change": 0.5}),
        ];
        for f in ok {
            assert_eq!(issues(f.clone()), Vec::<String>::new(), "{f}");
        }
        let bad = [
            // An integer total of a decimal part.
            (
                json!({"code": "t", "label_vi": "t", "label_en": "t", "type": "integer", "computed": {"sum": ["a", "d"]}}),
                "computed",
            ),
            (
                json!({"code": "t", "label_vi": "t", "label_en": "t", "type": "integer", "computed": {"sum": ["nope"]}}),
                "computed",
            ),
            (
                json!({"code": "t", "label_vi": "t", "label_en": "t", "type": "integer", "computed": {"share": {"numerator": "a", "denominator": "b"}}}),
                "computed",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "flag", "op": ">", "value": true}}),
                "required_when.value",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "kind", "op": "==", "value": "y"}}),
                "required_when.value",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required_when": {"field": "m", "op": "==", "value": 1}}),
                "required_when.field",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "required": true, "required_when": {"field": "a", "op": "==", "value": 1}}),
                "required_when",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "text", "max_change": 0.5}),
                "max_change",
            ),
            (
                json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "max_change": 0}),
                "max_change",
            ),
        ];
        for (f, at) in bad {
            let got = issues(f.clone());
            assert_eq!(got, vec![format!("sections[0].fields[5].{at}")], "{f}");
        }
    }

    #[test]
    fn computed_fields_are_derived_only_when_every_part_is_there() {
        let f = form(
            json!({"code": "t", "label_vi": "t", "label_en": "t", "type": "integer", "computed": {"sum": ["a", "b"]}}),
        );
        let data = |v: Value| ReportData {
            values: v.as_object().unwrap().clone(),
            ..Default::default()
        };
        let d = f.derive(&data(json!({"a": 3, "b": 4, "t": 99}))).unwrap();
        assert_eq!(d.values["t"], json!(7));
        assert!(f.derive(&data(json!({"a": 3, "b": 4, "t": 7}))).is_none());
        let d = f.derive(&data(json!({"a": 3, "t": 7}))).unwrap();
        assert!(!d.values.contains_key("t"));
        assert!(f.derive(&data(json!({"a": 3}))).is_none());
        let overflow = f
            .derive(&data(json!({"a": i64::MAX, "b": 1, "t": 1})))
            .unwrap();
        assert!(!overflow.values.contains_key("t"));

        let s = form(
            json!({"code": "s", "label_vi": "s", "label_en": "s", "type": "decimal", "computed": {"share": {"numerator": "a", "denominator": "b"}}}),
        );
        assert_eq!(
            s.derive(&data(json!({"a": 1, "b": 4}))).unwrap().values["s"],
            json!(0.25)
        );
        assert!(s.derive(&data(json!({"a": 1, "b": 0}))).is_none());
    }

    #[test]
    fn conditions_read_booleans_numbers_and_options() {
        let c = |v: Value| -> Condition { serde_json::from_value(v).unwrap() };
        let rec = json!({"flag": true, "a": 3, "kind": "x", "topics": ["p", "q"]});
        let rec = rec.as_object().unwrap();
        assert!(holds(
            &c(json!({"field": "flag", "op": "==", "value": true})),
            rec
        ));
        assert!(!holds(
            &c(json!({"field": "flag", "op": "!=", "value": true})),
            rec
        ));
        assert!(holds(
            &c(json!({"field": "a", "op": ">=", "value": 3})),
            rec
        ));
        assert!(!holds(
            &c(json!({"field": "a", "op": ">", "value": 3})),
            rec
        ));
        assert!(holds(
            &c(json!({"field": "kind", "op": "==", "value": "x"})),
            rec
        ));
        assert!(holds(
            &c(json!({"field": "topics", "op": "==", "value": "q"})),
            rec
        ));
        assert!(holds(
            &c(json!({"field": "topics", "op": "!=", "value": "r"})),
            rec
        ));
        // An empty field makes the condition false, whatever the operator.
        assert!(!holds(
            &c(json!({"field": "missing", "op": "!=", "value": 1})),
            rec
        ));
    }

    #[test]
    fn moves_beyond_the_threshold_warn() {
        let f = form(
            json!({"code": "m", "label_vi": "m", "label_en": "m", "type": "integer", "max_change": 0.5}),
        );
        let prev = Previous {
            period_code: "2023".into(),
            values: json!({"m": 100}).as_object().unwrap().clone(),
        };
        let w = |v: i64| f.change_warnings(json!({ "m": v }).as_object().unwrap(), &prev);
        assert!(w(150).is_empty());
        assert!(w(50).is_empty());
        let up = w(151);
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].path, "values.m");
        assert_eq!(up[0].code, "unusual_change");
        assert!(up[0].message.contains("+51 %"), "{}", up[0].message);
        assert_eq!(w(10).len(), 1);
        let zero = Previous {
            values: json!({"m": 0}).as_object().unwrap().clone(),
            ..prev.clone()
        };
        assert!(
            f.change_warnings(json!({"m": 5}).as_object().unwrap(), &zero)
                .is_empty()
        );
    }
}
