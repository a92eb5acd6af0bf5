//! Reporting-period arithmetic: the kinds and statuses a period can have, when a
//! period's due date actually ends (the end of that day in Vietnam time), whether a
//! submission was late, and the checks applied to a period's code and date window.
//! Everything here is pure so the deadline rules can be tested to the millisecond
//! without a clock or a database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Vietnam's offset from UTC in seconds. Asia/Ho_Chi_Minh has been UTC+7 with no
/// daylight saving since 1975, so a fixed offset is exact for every date a report
/// can carry and spares us a time-zone database.
const VIETNAM_OFFSET_SECS: i32 = 7 * 3600;

// Checked while compiling, so the fallback in `vietnam_offset` is provably dead code.
const _: () = assert!(FixedOffset::east_opt(VIETNAM_OFFSET_SECS).is_some());

/// The fixed UTC+07:00 offset of Asia/Ho_Chi_Minh.
pub fn vietnam_offset() -> FixedOffset {
    // `east_opt` only refuses offsets of a day or more; the const assertion above
    // proves 7 h is accepted, so the UTC fallback is never taken.
    FixedOffset::east_opt(VIETNAM_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// How often a period recurs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// First or second half of the year (due 20 May / 20 November in the 2024 plan).
    SemiAnnual,
    /// The whole year.
    Annual,
    /// A one-off request outside the regular calendar.
    AdHoc,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 3] = [
        PeriodKind::SemiAnnual,
        PeriodKind::Annual,
        PeriodKind::AdHoc,
    ];

    /// The text stored in PostgreSQL and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            PeriodKind::SemiAnnual => "semi_annual",
            PeriodKind::Annual => "annual",
            PeriodKind::AdHoc => "ad_hoc",
        }
    }
}

impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodKind::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown period kind `{s}`"))
    }
}

/// Whether reporters may still write to a period.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    /// Reporters may create, edit and submit; late submissions are taken and marked.
    Open,
    /// No writes from reporters; a coordinator can unlock it.
    Locked,
}

impl PeriodStatus {
    pub const ALL: [PeriodStatus; 2] = [PeriodStatus::Open, PeriodStatus::Locked];

    /// The text stored in PostgreSQL and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            PeriodStatus::Open => "open",
            PeriodStatus::Locked => "locked",
        }
    }

    /// Whether reporters may write reports of this period.
    pub fn is_open(self) -> bool {
        self == PeriodStatus::Open
    }
}

impl fmt::Display for PeriodStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PeriodStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown period status `{s}`"))
    }
}

/// The first instant that counts as late for a period due on `due_date`.
///
/// "Due 20 May" means a unit may submit until the end of 20 May in Vietnam, so the
/// deadline is midnight at the start of 21 May, +07:00 — 17:00 UTC on 20 May.
/// For the last date chrono can represent there is no next day; no submission can
/// be late against it, so the latest representable instant is returned.
pub fn due_instant(due_date: NaiveDate) -> DateTime<Utc> {
    due_date
        .succ_opt()
        .and_then(|next| {
            next.and_time(NaiveTime::MIN)
                .and_local_timezone(vietnam_offset())
                .single()
        })
        .map(|local| local.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether a submission made at `submitted_at` missed a period due on `due_date`.
/// The deadline instant itself is already late: the due day has ended.
pub fn is_late(submitted_at: DateTime<Utc>, due_date: NaiveDate) -> bool {
    submitted_at >= due_instant(due_date)
}

/// The calendar date in Vietnam at `instant` (what a reporter would call "today").
pub fn vietnam_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&vietnam_offset()).date_naive()
}

/// Maximum length of a period code; long enough for `2024-ad-hoc-khao-sat`-style codes,
/// short enough to sit in URLs and file names.
pub const MAX_CODE_LEN: usize = 32;

/// Checks a period code: 1 to 32 characters, each an ASCII letter, digit, `_` or `-`.
/// Codes appear in URLs that scripts build by hand, so nothing needing escaping is let in.
pub fn check_code(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("period code must not be empty".to_owned());
    }
    // Counting bytes is correct here: any non-ASCII byte is rejected below anyway.
    if code.len() > MAX_CODE_LEN {
        return Err(format!(
            "period code must be at most {MAX_CODE_LEN} characters, got {}",
            code.chars().count()
        ));
    }
    if let Some(bad) = code
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "period code may contain only letters A-Z, a-z, digits, `_` and `-`; found `{bad}`"
        ));
    }
    Ok(())
}

/// The conventional code for a period, in the style DHIS2 uses: `2024S1` and `2024S2`
/// for the halves of a year, `2024` for the year itself.
///
/// `half` matters only for semi-annual periods, where it is expected to be 1 or 2;
/// anything above 2 is clamped to 2 and 0 to 1 so the result is always a valid code
/// (callers validate `half` themselves if they accept it from users). Ad-hoc periods
/// have no calendar slot, so `half` is used as a sequence number: `2024AH1`, `2024AH2`.
pub fn default_code(kind: PeriodKind, year: i32, half: u8) -> String {
    match kind {
        PeriodKind::SemiAnnual => format!("{year}S{}", half.clamp(1, 2)),
        PeriodKind::Annual => format!("{year}"),
        PeriodKind::AdHoc => format!("{year}AH{half}"),
    }
}

/// Which half of the year a date falls in (1 for January–June, 2 for July–December),
/// for deriving a semi-annual code from a data window.
pub fn half_of(date: NaiveDate) -> u8 {
    use chrono::Datelike;
    if date.month() <= 6 { 1 } else { 2 }
}

/// Checks a period's data window (`start`..=`end`, inclusive dates) and due date.
/// The due date may fall inside the window — the 2024 plan asks for the half-year
/// report on 20 May, before the half ends — but not before the window opens.
pub fn check_window(start: NaiveDate, end: NaiveDate, due: NaiveDate) -> Result<(), String> {
    if start > end {
        return Err(format!(
            "data window starts on {start}, after it ends on {end}"
        ));
    }
    if due < start {
        return Err(format!(
            "due date {due} is before the data window starts on {start}"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn offset_is_seven_hours() {
        assert_eq!(vietnam_offset().local_minus_utc(), 25_200);
    }

    #[test]
    fn due_instant_is_end_of_day_in_vietnam() {
        assert_eq!(due_instant(d(2024, 5, 20)), utc("2024-05-20T17:00:00Z"));
        assert_eq!(due_instant(d(2024, 11, 20)), utc("2024-11-20T17:00:00Z"));
        // Same instant expressed in Vietnam time: midnight starting the next day.
        let local = vietnam_offset()
            .with_ymd_and_hms(2024, 5, 21, 0, 0, 0)
            .unwrap();
        assert_eq!(due_instant(d(2024, 5, 20)), local.with_timezone(&Utc));
        // Month, year and leap-day boundaries.
        assert_eq!(due_instant(d(2024, 12, 31)), utc("2024-12-31T17:00:00Z"));
        assert_eq!(due_instant(d(2024, 2, 29)), utc("2024-02-29T17:00:00Z"));
    }

    #[test]
    fn due_instant_at_end_of_calendar_does_not_panic() {
        assert_eq!(due_instant(NaiveDate::MAX), DateTime::<Utc>::MAX_UTC);
        assert!(!is_late(
            DateTime::<Utc>::MAX_UTC - chrono::Duration::seconds(1),
            NaiveDate::MAX
        ));
    }

    #[test]
    fn lateness_either_side_of_vietnam_midnight() {
        let due = d(2024, 5, 20);
        assert!(!is_late(utc("2024-05-20T16:59:59.999Z"), due));
        assert!(is_late(utc("2024-05-20T17:00:00Z"), due));
        assert!(is_late(utc("2024-05-20T17:00:00.001Z"), due));
        // Early on the due day in Vietnam is the previous evening in UTC: on time.
        assert!(!is_late(utc("2024-05-19T17:00:00Z"), due));
        // 23:30 on 20 May in Vietnam is still on time even though UTC says 16:30.
        assert!(!is_late(utc("2024-05-20T23:30:00+07:00"), due));
        assert!(is_late(utc("2024-05-21T00:00:00+07:00"), due));
        // Well after.
        assert!(is_late(utc("2024-06-01T00:00:00Z"), due));
    }

    #[test]
    fn vietnam_calendar_date() {
        assert_eq!(vietnam_date(utc("2024-05-20T16:59:59Z")), d(2024, 5, 20));
        assert_eq!(vietnam_date(utc("2024-05-20T17:00:00Z")), d(2024, 5, 21));
    }

    #[test]
    fn codes_accepted() {
        for ok in [
            "2024",
            "2024S1",
            "2024S2",
            "2024-ad_hoc",
            "a",
            &"x".repeat(32),
        ] {
            assert_eq!(check_code(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn codes_rejected() {
        assert!(check_code("").unwrap_err().contains("empty"));
        assert!(
            check_code(&"x".repeat(33))
                .unwrap_err()
                .contains("at most 32")
        );
        for bad in ["2024 S1", "2024/S1", "kỳ1", "2024.1", "a?b", "S1\n"] {
            assert!(check_code(bad).is_err(), "{bad:?}");
        }
        assert!(check_code("2024/S1").unwrap_err().contains("`/`"));
        // A long non-ASCII code fails on the character, whichever check hits first.
        assert!(check_code(&"ư".repeat(20)).is_err());
    }

    #[test]
    fn default_codes() {
        assert_eq!(default_code(PeriodKind::SemiAnnual, 2024, 1), "2024S1");
        assert_eq!(default_code(PeriodKind::SemiAnnual, 2024, 2), "2024S2");
        assert_eq!(default_code(PeriodKind::Annual, 2024, 0), "2024");
        assert_eq!(default_code(PeriodKind::Annual, 2025, 2), "2025");
        assert_eq!(default_code(PeriodKind::SemiAnnual, 2024, 0), "2024S1");
        assert_eq!(default_code(PeriodKind::SemiAnnual, 2024, 7), "2024S2");
        assert_eq!(default_code(PeriodKind::AdHoc, 2024, 3), "2024AH3");
        for kind in PeriodKind::ALL {
            for half in 0..=3 {
                assert_eq!(check_code(&default_code(kind, 2024, half)), Ok(()));
            }
        }
    }

    #[test]
    fn halves() {
        assert_eq!(half_of(d(2024, 1, 1)), 1);
        assert_eq!(half_of(d(2024, 6, 30)), 1);
        assert_eq!(half_of(d(2024, 7, 1)), 2);
        assert_eq!(half_of(d(2024, 12, 31)), 2);
    }

    #[test]
    fn windows() {
        // The 2024 plan: first half due 20 May, inside its own window.
        assert_eq!(
            check_window(d(2024, 1, 1), d(2024, 6, 30), d(2024, 5, 20)),
            Ok(())
        );
        assert_eq!(
            check_window(d(2024, 1, 1), d(2024, 12, 31), d(2025, 1, 15)),
            Ok(())
        );
        // One-day window due the same day.
        assert_eq!(
            check_window(d(2024, 3, 8), d(2024, 3, 8), d(2024, 3, 8)),
            Ok(())
        );
        let err = check_window(d(2024, 7, 1), d(2024, 6, 30), d(2024, 11, 20)).unwrap_err();
        assert!(
            err.contains("2024-07-01") && err.contains("2024-06-30"),
            "{err}"
        );
        let err = check_window(d(2024, 7, 1), d(2024, 12, 31), d(2024, 6, 30)).unwrap_err();
        assert!(err.contains("due date 2024-06-30"), "{err}");
    }

    #[test]
    fn enum_text_round_trips_and_matches_serde() {
        for k in PeriodKind::ALL {
            assert_eq!(k.as_str().parse::<PeriodKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for s in PeriodStatus::ALL {
            assert_eq!(s.as_str().parse::<PeriodStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(
            PeriodKind::ALL.map(|k| k.as_str()),
            ["semi_annual", "annual", "ad_hoc"]
        );
        assert!("semiannual".parse::<PeriodKind>().is_err());
        assert!("closed".parse::<PeriodStatus>().is_err());
        assert!(PeriodStatus::Open.is_open());
        assert!(!PeriodStatus::Locked.is_open());
    }
}
