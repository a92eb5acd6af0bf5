//! Who may do what: the one place every handler asks, object by object.
//!
//! Two questions, answered separately so the answers map to the right status:
//! `require(actor, action)` — does the role ever allow this? (no → 403); and
//! `require_in_scope(actor, unit_path)` — is the object inside the caller's scope?
//! (no → 404, so that the existence of objects outside it is not revealed).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Coordinator,
    Viewer,
    Reporter,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Coordinator, Role::Viewer, Role::Reporter];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Coordinator => "coordinator",
            Role::Viewer => "viewer",
            Role::Reporter => "reporter",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Everything a caller can ask to do; handlers name one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    ReadOrgUnits,
    ManageOrgUnits,
    ManageUsers,
    ManageServiceClients,
    ReadAudit,
    ReadPlans,
    ManagePlans,
    ReadReports,
    EditReport,
    SubmitReport,
    ReviewReport,
    ManagePeriods,
    Compile,
    /// Webhook endpoints of a subtree and their delivery log.
    ManageWebhooks,
    /// Writing and submitting a unit's report on its behalf (a report received on
    /// paper or by e-mail), with a note saying so.
    EnterOnBehalf,
}

/// The role table: which roles may take an action at all.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Coordinator => matches!(
            action,
            ReadOrgUnits
                | ReadAudit
                | ReadPlans
                | ManagePlans
                | ReadReports
                | ReviewReport
                | ManagePeriods
                | Compile
                | ManageWebhooks
                | EnterOnBehalf
        ),
        Role::Viewer => matches!(action, ReadOrgUnits | ReadPlans | ReadReports | Compile),
        Role::Reporter => matches!(
            action,
            ReadOrgUnits | ReadPlans | ReadReports | EditReport | SubmitReport
        ),
    }
}

/// 403 unless the caller's role allows the action.
pub fn require(actor: &Actor, action: Action) -> ApiResult<()> {
    if allows(actor.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "the {} role may not do this",
            actor.role.as_str()
        )))
    }
}

/// Whether a unit (given by its materialised path) lies in the caller's scope: the
/// whole tree for admins, the exact unit for reporters, the subtree for the others.
pub fn covers(actor: &Actor, unit_path: &str) -> bool {
    match actor.role {
        Role::Admin => true,
        Role::Reporter => unit_path == actor.scope_path,
        Role::Coordinator | Role::Viewer => unit_path.starts_with(&actor.scope_path),
    }
}

/// Whether the caller may read a plan (and its form, indicators and periods) issued by
/// the unit at `issuing_path`: plans that apply to the caller's unit (issued above it)
/// and plans issued inside the caller's scope.
pub fn sees_plan(actor: &Actor, issuing_path: &str) -> bool {
    covers(actor, issuing_path) || actor.scope_path.starts_with(issuing_path)
}

/// 404 (named after `what`) unless the unit lies in the caller's scope.
pub fn require_in_scope(actor: &Actor, unit_path: &str, what: &str) -> ApiResult<()> {
    if covers(actor, unit_path) {
        Ok(())
    } else {
        Err(ApiError::not_found(what))
    }
}

/// The path prefix a list query must be limited to; `None` means no limit (admin).
/// Reporters are additionally limited to exact matches by `exact_scope`.
pub fn scope_prefix(actor: &Actor) -> Option<&str> {
    match actor.role {
        Role::Admin => None,
        _ => Some(actor.scope_path.as_str()),
    }
}

/// Whether list queries must match the scope path exactly rather than as a prefix.
pub fn exact_scope(actor: &Actor) -> bool {
    actor.role == Role::Reporter
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Actor, PrincipalKind};

    fn actor(role: Role, path: &str) -> Actor {
        Actor {
            id: uuid::Uuid::nil(),
            kind: PrincipalKind::User,
            name: "t".into(),
            display_name: "t".into(),
            role,
            unit_id: uuid::Uuid::nil(),
            scope_path: path.into(),
            request_id: None,
        }
    }

    #[test]
    fn scope_rules_per_role() {
        let unit = "/root/a/";
        let child = "/root/a/b/";
        let other = "/root/c/";
        let a = actor(Role::Admin, "/root/c/");
        assert!(covers(&a, unit) && covers(&a, other));
        let r = actor(Role::Reporter, unit);
        assert!(covers(&r, unit) && !covers(&r, child) && !covers(&r, other));
        for role in [Role::Coordinator, Role::Viewer] {
            let c = actor(role, unit);
            assert!(covers(&c, unit) && covers(&c, child) && !covers(&c, other));
        }
    }

    #[test]
    fn only_admins_manage_identity() {
        for role in Role::ALL {
            let admin = role == Role::Admin;
            assert_eq!(allows(role, Action::ManageUsers), admin);
            assert_eq!(allows(role, Action::ManageOrgUnits), admin);
            assert_eq!(allows(role, Action::ManageServiceClients), admin);
        }
        assert!(!allows(Role::Viewer, Action::EditReport));
        assert!(!allows(Role::Reporter, Action::ReviewReport));
        assert!(allows(Role::Coordinator, Action::ReviewReport));
    }

    #[test]
    fn roles_round_trip_as_text() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
