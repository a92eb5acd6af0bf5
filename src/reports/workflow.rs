//! The report life cycle as a pure state machine: the four statuses a report can be
//! in, the four transitions reviewers and reporters can apply, and the single table
//! ([`next_status`]) that says which transition is legal from which status. Handlers
//! consult this module before touching the database, so the rules live in one place
//! and can be tested without any I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a report stands in review.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Being filled in by the unit; may be incomplete.
    Draft,
    /// Frozen as a revision and waiting for the coordinating office.
    Submitted,
    /// Sent back by a coordinator with a reason; editable again.
    Returned,
    /// Accepted by a coordinator; final until reopened.
    Accepted,
}

impl ReportStatus {
    /// Every status, in workflow order (handy for filters and tests).
    pub const ALL: [ReportStatus; 4] = [
        ReportStatus::Draft,
        ReportStatus::Submitted,
        ReportStatus::Returned,
        ReportStatus::Accepted,
    ];

    /// The text stored in PostgreSQL and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportStatus::Draft => "draft",
            ReportStatus::Submitted => "submitted",
            ReportStatus::Returned => "returned",
            ReportStatus::Accepted => "accepted",
        }
    }

    /// Whether the owning unit may change field values. Only statuses that are not
    /// awaiting or past review qualify: a submitted report is frozen so the reviewer
    /// judges exactly what was sent.
    pub fn is_editable(self) -> bool {
        matches!(self, ReportStatus::Draft | ReportStatus::Returned)
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown report status `{s}`"))
    }
}

/// An action that moves a report from one status to another.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The unit hands the report in (from draft or returned).
    Submit,
    /// A coordinator sends a submitted report back, with a reason.
    Return,
    /// A coordinator accepts a submitted report.
    Accept,
    /// A coordinator reopens an accepted report, with a reason; it becomes returned.
    Reopen,
}

impl Transition {
    /// Every transition, in the order they usually happen.
    pub const ALL: [Transition; 4] = [
        Transition::Submit,
        Transition::Return,
        Transition::Accept,
        Transition::Reopen,
    ];

    /// The text stored in PostgreSQL (audit log, revisions) and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Transition::Submit => "submit",
            Transition::Return => "return",
            Transition::Accept => "accept",
            Transition::Reopen => "reopen",
        }
    }

    /// Whether the caller must give a reason. Both transitions that undo a unit's
    /// progress need one, so the unit knows what to fix.
    pub fn requires_reason(self) -> bool {
        matches!(self, Transition::Return | Transition::Reopen)
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transition::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown transition `{s}`"))
    }
}

/// A transition that the workflow does not allow from the report's current status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: ReportStatus,
    pub transition: Transition,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} a report that is {}",
            self.transition.as_str(),
            self.from.as_str()
        )
    }
}

impl std::error::Error for IllegalTransition {}

/// The status a report reaches by applying `t` to a report in status `from`.
///
/// The match is exhaustive over the legal pairs and everything else is an error, so
/// adding a status or a transition forces a decision here rather than silently
/// allowing it.
pub fn next_status(from: ReportStatus, t: Transition) -> Result<ReportStatus, IllegalTransition> {
    use ReportStatus as S;
    use Transition as T;
    match (from, t) {
        (S::Draft | S::Returned, T::Submit) => Ok(S::Submitted),
        (S::Submitted, T::Return) => Ok(S::Returned),
        (S::Submitted, T::Accept) => Ok(S::Accepted),
        (S::Accepted, T::Reopen) => Ok(S::Returned),
        _ => Err(IllegalTransition {
            from,
            transition: t,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ReportStatus as S;
    use Transition as T;

    /// The whole 4×4 table, written out by hand from the workflow diagram so that the
    /// test does not merely restate the implementation's match.
    #[test]
    fn full_transition_table() {
        let table: [(S, T, Option<S>); 16] = [
            (S::Draft, T::Submit, Some(S::Submitted)),
            (S::Draft, T::Return, None),
            (S::Draft, T::Accept, None),
            (S::Draft, T::Reopen, None),
            (S::Submitted, T::Submit, None),
            (S::Submitted, T::Return, Some(S::Returned)),
            (S::Submitted, T::Accept, Some(S::Accepted)),
            (S::Submitted, T::Reopen, None),
            (S::Returned, T::Submit, Some(S::Submitted)),
            (S::Returned, T::Return, None),
            (S::Returned, T::Accept, None),
            (S::Returned, T::Reopen, None),
            (S::Accepted, T::Submit, None),
            (S::Accepted, T::Return, None),
            (S::Accepted, T::Accept, None),
            (S::Accepted, T::Reopen, Some(S::Returned)),
        ];
        for (from, t, expected) in table {
            let got = next_status(from, t);
            match expected {
                Some(to) => assert_eq!(got, Ok(to), "{from} --{t}-->"),
                None => assert_eq!(
                    got,
                    Err(IllegalTransition {
                        from,
                        transition: t
                    }),
                    "{from} --{t}--> should be illegal"
                ),
            }
        }
        // Every (status, transition) pair appears exactly once.
        for from in S::ALL {
            for t in T::ALL {
                let n = table
                    .iter()
                    .filter(|(f, tr, _)| *f == from && *tr == t)
                    .count();
                assert_eq!(n, 1, "{from}/{t}");
            }
        }
    }

    #[test]
    fn illegal_transition_message() {
        let err = next_status(S::Accepted, T::Submit).unwrap_err();
        assert_eq!(err.to_string(), "cannot submit a report that is accepted");
        let err = next_status(S::Draft, T::Reopen).unwrap_err();
        assert_eq!(err.to_string(), "cannot reopen a report that is draft");
        // Usable as a boxed error.
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert!(boxed.to_string().starts_with("cannot reopen"));
    }

    #[test]
    fn editable_statuses() {
        assert!(S::Draft.is_editable());
        assert!(S::Returned.is_editable());
        assert!(!S::Submitted.is_editable());
        assert!(!S::Accepted.is_editable());
    }

    #[test]
    fn reasons_required_for_backward_moves() {
        assert!(!T::Submit.requires_reason());
        assert!(T::Return.requires_reason());
        assert!(!T::Accept.requires_reason());
        assert!(T::Reopen.requires_reason());
    }

    #[test]
    fn text_round_trips_and_matches_serde() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().to_owned())
            );
            let back: S = serde_json::from_str(&format!("\"{}\"", s.as_str())).unwrap();
            assert_eq!(back, s);
        }
        for t in T::ALL {
            assert_eq!(t.as_str().parse::<T>().unwrap(), t);
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().to_owned())
            );
        }
        assert_eq!(
            [T::Submit, T::Return, T::Accept, T::Reopen].map(|t| t.as_str()),
            ["submit", "return", "accept", "reopen"]
        );
        assert!("Draft".parse::<S>().is_err());
        assert!("".parse::<T>().is_err());
        assert_eq!(
            "archived".parse::<S>().unwrap_err(),
            "unknown report status `archived`"
        );
    }
}
