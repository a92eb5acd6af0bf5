//! ADX, the SDMX-based aggregate data exchange message that DHIS2 and other national
//! systems import: `<adx xmlns="urn:ihe:qrph:adx:2015" exported="…">` with one
//! `<group orgUnit period dataSet>` per unit and one `<dataValue dataElement value>`
//! per mapped field (`codes`), the disaggregation attributes of the mapping on it.
//!
//! Only numbers travel: ADX values are decimals, so only the numeric top-level fields
//! a plan maps are written, and a unit with none of them filled in has no group. Text,
//! choices and list items are not exported (the tidy table has them all).

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, Datelike, Months, NaiveDate, SecondsFormat, Utc};

use super::codes::DataElementCode;
use super::data::DataRow;

pub const MEDIA_TYPE: &str = "application/adx+xml";
pub const NAMESPACE: &str = "urn:ihe:qrph:adx:2015";

/// A reporting period as ADX writes it: its first day and an ISO 8601 duration
/// (`2024-01-01/P1Y`, `2024-01-01/P6M`), from the data window (last day included).
/// A window that is not a whole number of months is counted in days.
pub fn iso_period(start: NaiveDate, end: NaiveDate) -> String {
    let after = end.succ_opt().unwrap_or(end);
    let months = (after.year() - start.year()) * 12 + after.month() as i32 - start.month() as i32;
    let whole_months = months > 0
        && start
            .checked_add_months(Months::new(months as u32))
            .is_some_and(|d| d == after);
    let duration = if whole_months && months % 12 == 0 {
        format!("P{}Y", months / 12)
    } else if whole_months {
        format!("P{months}M")
    } else {
        format!("P{}D", (after - start).num_days().max(1))
    };
    format!("{}/{duration}", start.format("%Y-%m-%d"))
}

/// A JSON number as an `xs:decimal` (no exponent), or `None` for anything else.
pub fn decimal(v: &serde_json::Value) -> Option<String> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        Some(i.to_string())
    } else if let Some(u) = n.as_u64() {
        Some(u.to_string())
    } else {
        // Rust writes every finite f64 out in full, never with an exponent.
        n.as_f64().filter(|f| f.is_finite()).map(|f| format!("{f}"))
    }
}

/// Text made safe inside a double-quoted XML attribute.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// The ADX message of `rows` (ordered by unit, as the tidy table is): a group per unit
/// with at least one mapped number.
pub fn to_adx(
    exported: DateTime<Utc>,
    period: &str,
    data_set: &str,
    codes: &[DataElementCode],
    rows: &[DataRow],
) -> String {
    let by_field: HashMap<&str, &DataElementCode> =
        codes.iter().map(|c| (c.field.as_str(), c)).collect();
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        out,
        r#"<adx xmlns="{NAMESPACE}" exported="{}">"#,
        exported.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let mut open: Option<&str> = None;
    for r in rows.iter().filter(|r| r.item.is_none()) {
        let (Some(code), Some(value)) = (by_field.get(r.field_code.as_str()), decimal(&r.value))
        else {
            continue;
        };
        if open != Some(r.unit_code.as_str()) {
            if open.is_some() {
                out.push_str("  </group>\n");
            }
            let _ = writeln!(
                out,
                r#"  <group orgUnit="{}" period="{}" dataSet="{}">"#,
                attr(&r.unit_code),
                attr(period),
                attr(data_set)
            );
            open = Some(r.unit_code.as_str());
        }
        let _ = write!(
            out,
            r#"    <dataValue dataElement="{}" value="{value}""#,
            attr(&code.data_element)
        );
        for (name, v) in &code.attributes {
            let _ = write!(out, r#" {name}="{}""#, attr(v));
        }
        out.push_str("/>\n");
    }
    if open.is_some() {
        out.push_str("  </group>\n");
    }
    out.push_str("</adx>\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_are_a_start_and_a_duration() {
        assert_eq!(iso_period(d(2024, 1, 1), d(2024, 12, 31)), "2024-01-01/P1Y");
        assert_eq!(iso_period(d(2024, 1, 1), d(2024, 6, 30)), "2024-01-01/P6M");
        assert_eq!(iso_period(d(2024, 7, 1), d(2024, 9, 30)), "2024-07-01/P3M");
        assert_eq!(iso_period(d(2023, 1, 1), d(2024, 12, 31)), "2023-01-01/P2Y");
        assert_eq!(iso_period(d(2024, 2, 1), d(2024, 2, 29)), "2024-02-01/P1M");
        // The semiannual report's window of the demo plan ends mid-May: days.
        assert_eq!(
            iso_period(d(2024, 1, 1), d(2024, 5, 15)),
            "2024-01-01/P136D"
        );
        assert_eq!(iso_period(d(2024, 3, 5), d(2024, 3, 5)), "2024-03-05/P1D");
    }

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(decimal(&json!(40000000)).unwrap(), "40000000");
        assert_eq!(decimal(&json!(2.5)).unwrap(), "2.5");
        assert_eq!(decimal(&json!(1e20)).unwrap(), "100000000000000000000");
        assert_eq!(decimal(&json!(-0.125)).unwrap(), "-0.125");
        assert!(decimal(&json!("12")).is_none());
        assert!(decimal(&json!(true)).is_none());
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(attr(r#"A&B<"'>"#), "A&amp;B&lt;&quot;&apos;&gt;");
    }
}
