//! User and service-client types of the API. Password and secret hashes never appear.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::policy::Role;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    /// The unit whose subtree (or, for reporters, the unit itself) the user works in.
    pub unit_id: Uuid,
    pub unit_code: String,
    pub active: bool,
    /// The head of the unit (thủ trưởng đơn vị): approves the unit's reports where the
    /// plan asks for the head's sign-off.
    pub unit_head: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Lower-case letters, digits, `_`, `.`, `-`; 2 to 64.
    #[schema(
        min_length = 2,
        max_length = 64,
        pattern = r"^[a-z0-9][a-z0-9_.-]{1,63}$"
    )]
    pub username: String,
    pub display_name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub role: Role,
    /// Scope unit, by id or code.
    #[schema(min_length = 1)]
    pub unit: String,
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    /// Head of `unit`, who signs off its reports; default false.
    #[serde(default)]
    pub unit_head: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub display_name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub role: Option<Role>,
    /// New scope unit, by id or code.
    #[schema(min_length = 1)]
    pub unit: Option<String>,
    /// false deactivates: refresh and access tokens stop at once (other service
    /// processes: within seconds).
    pub active: Option<bool>,
    /// Head of the user's unit, who signs off its reports.
    pub unit_head: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub role: Option<Role>,
    /// Scope unit, by id or code.
    pub unit: Option<String>,
    pub active: Option<bool>,
    /// Substring of username or display name.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ServiceClient {
    pub id: Uuid,
    /// The public identifier used with the client-credentials grant.
    pub client_id: String,
    pub name: String,
    pub role: Role,
    pub unit_id: Uuid,
    pub unit_code: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A client with its secret: returned once, at creation and at rotation.
#[derive(Serialize, ToSchema)]
pub struct ServiceClientWithSecret {
    #[serde(flatten)]
    pub client: ServiceClient,
    /// Shown only now; store it safely. Only its hash is kept.
    pub client_secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceClient {
    pub name: String,
    pub role: Role,
    /// Scope unit, by id or code.
    #[schema(min_length = 1)]
    pub unit: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceClientQuery {
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub fn check_username(field: &str, u: &str) -> ApiResult<()> {
    let ok = (2..=64).contains(&u.len())
        && u.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && u.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "invalid_username",
            "use 2 to 64 lower-case letters, digits, `_`, `.` or `-`",
        ))
    }
}

pub fn check_email(field: &str, e: &str) -> ApiResult<()> {
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !e.contains(char::is_whitespace)
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "invalid_email",
            "not an e-mail address",
        ))
    }
}
