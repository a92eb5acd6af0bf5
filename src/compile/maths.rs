//! The arithmetic of a compilation, on values PostgreSQL has already aggregated:
//! completeness counts, indicator values from sums and counts, female shares.
//! Pure functions; a zero denominator gives no value and a reason, never NaN.

use std::collections::HashMap;

use super::model::{Completeness, CompletenessUnits, Coverage, UnitRef};
use super::store::UnitState;
use crate::plans::indicator::{Formula, IndicatorValue, ratio, ratio_value};

/// A decimal sum as PostgreSQL printed it.
pub fn parse_sum(text: &str) -> f64 {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
}

/// female / total, or none when the total is zero.
pub fn share(part: f64, whole: f64) -> Option<f64> {
    ratio(part, whole).0
}

/// Which report statuses a compilation counts.
pub fn included_statuses(include_submitted: bool) -> Vec<String> {
    let mut s = vec!["accepted".to_string()];
    if include_submitted {
        s.push("submitted".to_string());
    }
    s
}

/// Completeness and timeliness from each expected unit's report state.
pub fn completeness(states: &[UnitState], with_units: bool) -> Completeness {
    let mut c = Completeness {
        expected: states.len() as i64,
        ..Default::default()
    };
    let mut units = CompletenessUnits::default();
    for s in states {
        let unit = UnitRef {
            id: s.unit_id,
            code: s.code.clone(),
            name: s.name.clone(),
        };
        match s.status.as_deref() {
            Some("accepted") | Some("submitted") => {
                c.submitted += 1;
                if s.signed_report {
                    units.signed_report_attached.push(unit.clone());
                }
                if s.late == Some(true) {
                    c.late += 1;
                    units.late.push(unit.clone());
                } else {
                    c.on_time += 1;
                }
                if s.status.as_deref() == Some("accepted") {
                    c.accepted += 1;
                    units.accepted.push(unit);
                } else {
                    units.submitted.push(unit);
                }
            }
            Some("returned") => units.returned.push(unit),
            Some("awaiting_approval") => units.awaiting_approval.push(unit),
            Some(_) => units.draft.push(unit),
            None => units.not_started.push(unit),
        }
    }
    c.missing = c.expected - c.submitted;
    c.submitted_share = share(c.submitted as f64, c.expected as f64);
    if with_units {
        c.units = Some(units);
    }
    c
}

/// What the figures cover: the expected units whose report is counted (its status is
/// one of `statuses`) out of all of them, and (with the unit lists) the others.
pub fn coverage(states: &[UnitState], statuses: &[String], with_units: bool) -> Coverage {
    let counted = |s: &UnitState| {
        s.status
            .as_deref()
            .is_some_and(|st| statuses.iter().any(|x| x == st))
    };
    let n = states.iter().filter(|s| counted(s)).count() as i64;
    let expected = states.len() as i64;
    Coverage {
        counted: n,
        expected,
        share: share(n as f64, expected as f64),
        not_counted: if with_units {
            states
                .iter()
                .filter(|s| !counted(s))
                .map(|s| UnitRef {
                    id: s.unit_id,
                    code: s.code.clone(),
                    name: s.name.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A ratio-of-sums indicator from the per-field sums.
pub fn ratio_of_sums(
    numerator: &[String],
    denominator: &[String],
    sums: &HashMap<String, f64>,
) -> IndicatorValue {
    let total = |fields: &[String]| {
        fields
            .iter()
            .map(|f| sums.get(f).copied().unwrap_or(0.0))
            .sum::<f64>()
    };
    ratio_value(total(numerator), total(denominator))
}

/// A unit-share indicator from the count of reports meeting it among those included.
pub fn unit_share(met: i64, reports: i64, short: Vec<String>) -> IndicatorValue {
    if reports == 0 {
        return IndicatorValue {
            value: None,
            numerator: 0.0,
            denominator: 0.0,
            reason: Some("no reports".to_string()),
            units_short: short,
        };
    }
    let (value, reason) = ratio(met as f64, reports as f64);
    IndicatorValue {
        value,
        numerator: met as f64,
        denominator: reports as f64,
        reason,
        units_short: short,
    }
}

/// What PostgreSQL counted for an indicator that is not a ratio of field sums.
#[derive(Clone, Debug, PartialEq)]
pub enum Counted {
    /// A unit share: the reports meeting it, the reports, the units short.
    Units(i64, i64, Vec<String>),
    /// A list formula: its numerator and denominator totals over the items.
    Items(f64, f64),
}

/// Evaluates an indicator from aggregated figures: ratios of report fields from the
/// field sums, the other shapes from what was counted for them (nothing counted
/// reads as no reports, no items).
pub fn indicator(
    f: &Formula,
    sums: &HashMap<String, f64>,
    counted: Option<Counted>,
) -> IndicatorValue {
    match (f, counted) {
        (
            Formula::RatioOfSums {
                numerator,
                denominator,
            },
            _,
        ) => ratio_of_sums(numerator, denominator, sums),
        (Formula::UnitShare { .. }, Some(Counted::Units(met, reports, short))) => {
            unit_share(met, reports, short)
        }
        (Formula::UnitShare { .. }, _) => unit_share(0, 0, Vec::new()),
        (_, Some(Counted::Items(num, den))) => ratio_value(num, den),
        (_, _) => ratio_value(0.0, 0.0),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plans::indicator::{UnitRow, evaluate, parse};
    use serde_json::json;

    fn state(code: &str, status: Option<&str>, late: Option<bool>) -> UnitState {
        UnitState {
            unit_id: uuid::Uuid::nil(),
            code: code.into(),
            name: code.into(),
            status: status.map(str::to_string),
            late,
            signed_report: false,
        }
    }

    #[test]
    fn completeness_counts_every_state() {
        let states = [
            state("A", Some("accepted"), Some(false)),
            state("B", Some("accepted"), Some(true)),
            state("C", Some("submitted"), Some(false)),
            state("D", Some("returned"), Some(false)),
            state("E", Some("draft"), None),
            state("F", None, None),
            state("G", Some("awaiting_approval"), Some(false)),
        ];
        let c = completeness(&states, true);
        assert_eq!(
            (
                c.expected,
                c.submitted,
                c.accepted,
                c.on_time,
                c.late,
                c.missing
            ),
            (7, 3, 2, 2, 1, 4)
        );
        assert_eq!(c.submitted_share, Some(3.0 / 7.0));
        let u = c.units.unwrap();
        assert_eq!(u.late.len(), 1);
        assert_eq!(u.not_started[0].code, "F");
        assert_eq!(u.returned[0].code, "D");
        assert_eq!(u.draft[0].code, "E");
        assert_eq!(u.awaiting_approval[0].code, "G");
        assert!(completeness(&[], false).submitted_share.is_none());
    }

    #[test]
    fn ratio_of_sums_matches_a_hand_computation() {
        // Trained women 3 + 4 = 7 of 5 + 9 = 14 people: 50 %.
        let f = parse("sum(tp_f + tq_f) / sum(tp_t + tq_t)").unwrap();
        let sums = HashMap::from([
            ("tp_f".to_string(), 3.0),
            ("tq_f".to_string(), 4.0),
            ("tp_t".to_string(), 5.0),
            ("tq_t".to_string(), 9.0),
        ]);
        let v = indicator(&f, &sums, None);
        assert_eq!(
            (v.numerator, v.denominator, v.value),
            (7.0, 14.0, Some(0.5))
        );
    }

    #[test]
    fn zero_denominators_give_a_reason_not_nan() {
        let f = parse("sum(a) / sum(b)").unwrap();
        let v = indicator(&f, &HashMap::from([("a".to_string(), 0.0)]), None);
        assert_eq!(v.value, None);
        assert_eq!(v.reason.as_deref(), Some("denominator is zero"));
        let v = unit_share(0, 0, Vec::new());
        assert_eq!(v.value, None);
        assert_eq!(v.reason.as_deref(), Some("no reports"));
        assert!(share(1.0, 0.0).is_none());
    }

    #[test]
    fn unit_share_agrees_with_the_reference_evaluator() {
        let rows = [
            json!({"lf": 0}),
            json!({"lf": 2}),
            json!({"lf": 1}),
            json!({}),
        ];
        let maps: Vec<_> = rows
            .iter()
            .map(|r| r.as_object().unwrap().clone())
            .collect();
        let codes = ["A", "B", "C", "D"];
        let no_lists = serde_json::Map::new();
        let unit_rows: Vec<UnitRow> = maps
            .iter()
            .zip(codes)
            .map(|(m, c)| UnitRow {
                unit_code: c,
                values: m,
                lists: &no_lists,
            })
            .collect();
        let f = parse("count(lf >= 1) / count()").unwrap();
        let reference = evaluate(&f, &unit_rows);
        let ours = unit_share(2, 4, vec!["A".into(), "D".into()]);
        assert_eq!(ours, reference);
        assert_eq!(ours.value, Some(0.5));
    }
}
