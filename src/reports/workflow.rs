//! The report life cycle as a pure state machine: the statuses a report can be in, the
//! transitions reporters, unit heads and reviewers can apply, and the single table
//! ([`next_status`]) that says which transition is legal from which status. Handlers
//! consult this module before touching the database, so the rules live in one place
//! and can be tested without any I/O.
//!
//! Where a plan asks for the unit head's sign-off, a reporter's submission stops at
//! `awaiting_approval` ([`submitted_status`]); the head approves it (it becomes
//! `submitted`, and only then reaches the coordinating office) or declines it with a
//! reason (it becomes `returned`, editable by the unit's reporters again).

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
    /// Submitted by a reporter and frozen, waiting for the unit head's approval (plans
    /// with `head_sign_off`); not yet with the coordinating office.
    AwaitingApproval,
    /// Frozen as a revision and waiting for the coordinating office.
    Submitted,
    /// Sent back by a coordinator with a reason; editable again.
    Returned,
    /// Accepted by a coordinator; final until reopened.
    Accepted,
}

impl ReportStatus {
    /// Every status, in workflow order (handy for filters and tests).
    pub const ALL: [ReportStatus; 5] = [
        ReportStatus::Draft,
        ReportStatus::AwaitingApproval,
        ReportStatus::Submitted,
        ReportStatus::Returned,
        ReportStatus::Accepted,
    ];

    /// The text stored in PostgreSQL and used on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportStatus::Draft => "draft",
            ReportStatus::AwaitingApproval => "awaiting_approval",
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
    /// The unit head approves a report awaiting approval: it is submitted.
    Approve,
    /// The unit head sends a report awaiting approval back to the reporters, with a
    /// reason; it becomes returned.
    Decline,
}

impl Transition {
    /// Every transition, in the order they usually happen.
    pub const ALL: [Transition; 6] = [
        Transition::Submit,
        Transition::Approve,
        Transition::Decline,
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
            Transition::Approve => "approve",
            Transition::Decline => "decline",
        }
    }

    /// Whether the caller must give a reason. Every transition that undoes a unit's
    /// progress needs one, so the unit knows what to fix.
    pub fn requires_reason(self) -> bool {
        matches!(
            self,
            Transition::Return | Transition::Reopen | Transition::Decline
        )
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
        (S::AwaitingApproval, T::Approve) => Ok(S::Submitted),
        (S::AwaitingApproval, T::Decline) => Ok(S::Returned),
        (S::Submitted, T::Return) => Ok(S::Returned),
        (S::Submitted, T::Accept) => Ok(S::Accepted),
        (S::Accepted, T::Reopen) => Ok(S::Returned),
        _ => Err(IllegalTransition {
            from,
            transition: t,
        }),
    }
}

/// Where a legal submission lands: with the coordinating office (`submitted`), or with
/// the unit head first when the plan asks for the head's sign-off and the submitter is
/// not a head of the unit (a head's own submission is its approval).
pub fn submitted_status(head_sign_off: bool, by_unit_head: bool) -> ReportStatus {
    if head_sign_off && !by_unit_head {
        ReportStatus::AwaitingApproval
    } else {
        ReportStatus::Submitted
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ReportStatus as S;
    use Transition as T;

    /// The whole table, written out by hand from the workflow diagram so that the
    /// test does not merely restate the implementation's match: every pair not listed
    /// as legal must be refused.
    #[test]
    fn full_transition_table() {
        let legal: [(S, T, S); 7] = [
            (S::Draft, T::Submit, S::Submitted),
            (S::Returned, T::Submit, S::Submitted),
            (S::AwaitingApproval, T::Approve, S::Submitted),
            (S::AwaitingApproval, T::Decline, S::Returned),
            (S::Submitted, T::Return, S::Returned),
            (S::Submitted, T::Accept, S::Accepted),
            (S::Accepted, T::Reopen, S::Returned),
        ];
        let mut checked = 0;
        for from in S::ALL {
            for t in T::ALL {
                let got = next_status(from, t);
                match legal.iter().find(|(f, tr, _)| *f == from && *tr == t) {
                    Some((_, _, to)) => assert_eq!(got, Ok(*to), "{from} --{t}-->"),
                    None => assert_eq!(
                        got,
                        Err(IllegalTransition {
                            from,
                            transition: t
                        }),
                        "{from} --{t}--> should be illegal"
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 30);
    }

    #[test]
    fn submission_waits_for_the_head_only_when_the_plan_asks() {
        assert_eq!(submitted_status(false, false), S::Submitted);
        assert_eq!(submitted_status(false, true), S::Submitted);
        assert_eq!(submitted_status(true, false), S::AwaitingApproval);
        assert_eq!(submitted_status(true, true), S::Submitted);
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
        assert!(!S::AwaitingApproval.is_editable());
        assert!(!S::Accepted.is_editable());
    }

    #[test]
    fn reasons_required_for_backward_moves() {
        assert!(!T::Submit.requires_reason());
        assert!(T::Return.requires_reason());
        assert!(!T::Accept.requires_reason());
        assert!(T::Reopen.requires_reason());
        assert!(T::Decline.requires_reason());
        assert!(!T::Approve.requires_reason());
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
            T::ALL.map(|t| t.as_str()),
            ["submit", "approve", "decline", "return", "accept", "reopen"]
        );
        assert!("Draft".parse::<S>().is_err());
        assert!("".parse::<T>().is_err());
        assert_eq!(
            "archived".parse::<S>().unwrap_err(),
            "unknown report status `archived`"
        );
    }
}
