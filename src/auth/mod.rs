//! Authentication and authorisation: who is calling (`Actor`, an extractor), and what
//! they may do (`policy`). Tokens, passwords and login throttling live beside them.

pub mod limiter;
pub mod password;
pub mod policy;
pub mod routes;
pub mod store;
pub mod tokens;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::telemetry::RequestId;
use policy::Role;

/// A person (user) or a machine (service client).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Client,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Client => "client",
        }
    }
}

/// What the database says about a principal right now.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Username, or a service client's public id.
    pub name: String,
    /// What the audit, `submitted_by` and `reviewed_by` show: the username, or a
    /// service client's name (its public id means nothing to a reader).
    pub display_name: String,
    pub role: Role,
    pub unit_id: Uuid,
    pub scope_path: String,
    pub active: bool,
    /// Access tokens issued before this are refused (sessions ended).
    pub tokens_valid_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// The authenticated caller of a request. Role and scope come from the database (at
/// most `PRINCIPAL_TTL` old), not from the token, so a demotion or deactivation takes
/// effect within that time even for tokens already issued.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Uuid,
    pub kind: PrincipalKind,
    pub name: String,
    /// See `Principal::display_name`.
    pub display_name: String,
    pub role: Role,
    pub unit_id: Uuid,
    pub scope_path: String,
    pub request_id: Option<String>,
}

/// How long a principal's role, scope, active flag and session cut-off may be served
/// from memory: a logout, a password change or a deactivation made through another
/// service process ends this process's acceptance of older tokens within this time.
pub const PRINCIPAL_TTL: Duration = Duration::from_secs(2);

/// A small per-process cache of principals, so that authenticated reads do not each
/// cost a query; entries expire after `PRINCIPAL_TTL` and are dropped on local changes.
#[derive(Default)]
pub struct PrincipalCache {
    entries: Mutex<HashMap<(PrincipalKind, Uuid), (Instant, Principal)>>,
}

impl PrincipalCache {
    pub async fn get(
        &self,
        pool: &crate::db::Pool,
        kind: PrincipalKind,
        id: Uuid,
    ) -> ApiResult<Option<Principal>> {
        if let Ok(map) = self.entries.lock()
            && let Some((at, p)) = map.get(&(kind, id))
            && at.elapsed() < PRINCIPAL_TTL
        {
            return Ok(Some(p.clone()));
        }
        let mut conn = crate::db::conn(pool).await?;
        let found = store::principal(&mut conn, kind, id).await?;
        if let (Some(p), Ok(mut map)) = (&found, self.entries.lock()) {
            if map.len() > 100_000 {
                map.clear();
            }
            map.insert((kind, id), (Instant::now(), p.clone()));
        }
        Ok(found)
    }

    /// Forgets a principal after this process changed it.
    pub fn invalidate(&self, kind: PrincipalKind, id: Uuid) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(&(kind, id));
        }
    }

    /// Forgets everything, e.g. after a unit moved and scope paths changed.
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

fn bearer_token(req: &HttpRequest) -> ApiResult<String> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "an access token is required (Authorization: Bearer …)",
            )
        })?;
    let value = header.to_str().map_err(|_| {
        ApiError::unauthorized("invalid_token", "the Authorization header is not readable")
    })?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "expected `Authorization: Bearer <token>`")
    })?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Ok(token.trim().to_string())
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("no app state")))?;
            let claims = state.jwt.verify(&token?)?;
            let principal = state
                .principals
                .get(&state.pool, claims.kind, claims.sub)
                .await?
                .filter(|p| p.active)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "account_disabled",
                        "this account is disabled or no longer exists",
                    )
                })?;
            if let Some(cutoff) = principal.tokens_valid_after
                && claims.issued_at() < cutoff
            {
                return Err(ApiError::unauthorized(
                    "invalid_token",
                    "this session has ended (logout, password change or account change); log in again",
                )
                .vi("Phiên làm việc đã kết thúc; đề nghị đăng nhập lại"));
            }
            Ok(Actor {
                id: claims.sub,
                kind: claims.kind,
                name: principal.name,
                display_name: principal.display_name,
                role: principal.role,
                unit_id: principal.unit_id,
                scope_path: principal.scope_path,
                request_id,
            })
        })
    }
}
