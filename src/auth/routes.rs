//! `/api/v1/auth`: password login, refresh-token rotation, logout, and the OAuth 2.0
//! client-credentials grant for scripts and city systems.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use base64::Engine;
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::limiter::client_address;
use super::{Actor, PrincipalKind, password, store, tokens};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::error::{ApiError, ApiResult};
use crate::idempotency::no_store;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// End this session only; without it, every session of the caller ends.
    pub refresh_token: Option<String>,
}

/// RFC 6749 §4.4: form-encoded (or JSON); the credentials may instead come in HTTP Basic.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Accepted and ignored: a client's rights are its role and scope.
    pub scope: Option<String>,
}

/// Just the grant type of a token request, read without refusing other fields.
#[derive(Deserialize)]
struct GrantTypeOnly {
    grant_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque, single use, valid 30 days; null for service clients.
    pub refresh_token: Option<String>,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "the username or password is not correct",
    )
}

fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<crate::telemetry::RequestId>()
        .map(|r| r.0.clone())
}

fn login_event(
    action: &'static str,
    user_id: Uuid,
    unit_id: Uuid,
    change: serde_json::Value,
) -> Event<'static> {
    Event {
        action,
        object_type: "user",
        object_id: user_id.to_string(),
        unit_id: Some(unit_id),
        change,
    }
}

/// Exchanges a username and password for an access token and a refresh token.
/// Repeated failures for one username or from one address get 429 with Retry-After.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Wrong username or password (never says which)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::extract::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let username = body.username.trim().to_lowercase();
    let address = client_address(&req);
    let (attempt, row) = {
        let mut conn = crate::db::conn(&state.pool).await?;
        let attempt = state.limiter.begin(&mut conn, &username, &address).await?;
        (attempt, store::login_row(&mut conn, &username).await?)
    };
    // Failures of this username elsewhere slow it down rather than lock it out.
    tokio::time::sleep(attempt.delay).await;
    // The pool connection is released before hashing: a login holds no connection
    // while it spends ~50 ms of CPU.
    let verified = match password::verify(
        body.password,
        row.as_ref().map(|r| r.password_hash.clone()),
    )
    .await
    {
        Ok(v) => v,
        // Not checked at all (the hashing queue was full): not a failure either.
        Err(e) => {
            let mut conn = crate::db::conn(&state.pool).await?;
            state.limiter.withdraw(&mut conn, attempt).await?;
            return Err(e);
        }
    };
    let row = match row {
        Some(r) if verified && r.active => r,
        // The attempt was counted as a failure before the check; it stays one.
        _ => return Err(invalid_credentials()),
    };
    let (access_token, expires_in) =
        state
            .jwt
            .issue(row.id, PrincipalKind::User, row.role, row.unit_id)?;
    let refresh_token = tokens::new_secret()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    state.limiter.succeeded(&mut conn, attempt).await?;
    let by = By {
        kind: "user",
        id: Some(row.id),
        name: username.clone(),
        role: Some(row.role.as_str()),
        request_id: request_id(&req),
    };
    conn.transaction::<_, ApiError, _>(async |conn| {
        store::insert_refresh(
            conn,
            row.id,
            Uuid::now_v7(),
            &tokens::hash_secret(&refresh_token),
            tokens::REFRESH_TOKEN_DAYS,
        )
        .await?;
        audit::append(
            conn,
            &by,
            login_event(
                "auth.login",
                row.id,
                row.unit_id,
                json!({ "address": address }),
            ),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(no_store(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh_token),
    })))
}

enum RefreshOutcome {
    Issued { user_id: Uuid },
    Reused,
    Invalid(&'static str),
}

/// Trades a refresh token for a new access token and a new refresh token. Each refresh
/// token works once: presenting a spent one revokes every token of its login.
#[utoipa::path(
    operation_id = "refreshToken",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: crate::extract::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let request_id = request_id(&req);
    let presented = tokens::hash_secret(body.refresh_token.trim());
    let next = tokens::new_secret()?;
    let next_hash = tokens::hash_secret(&next);
    let grace = chrono::Duration::from_std(state.settings.refresh_grace).unwrap_or_default();
    let mut conn = crate::db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(row) = store::lock_refresh(conn, &presented).await? else {
                return Ok(RefreshOutcome::Invalid("the refresh token is not valid"));
            };
            let now = chrono::Utc::now();
            // Several tabs of one browser refresh the same token at once: within the
            // grace window a second use gets its own pair in the same family.
            let in_grace = row.revoked_at.is_none()
                && row.expires_at > now
                && row.used_at.is_some_and(|used| now - used <= grace);
            if !in_grace && (row.used_at.is_some() || row.revoked_at.is_some()) {
                // Either a replay by someone holding a stolen token, or by its owner after
                // the thief used it: end the whole login either way.
                store::revoke_family(conn, row.family_id).await?;
                if row.used_at.is_none() {
                    return Ok(RefreshOutcome::Invalid(
                        "the refresh token has been revoked",
                    ));
                }
                // A reuse is a sign of theft: the coordinating office's audit shows it.
                if let Some(p) =
                    super::store::principal(conn, PrincipalKind::User, row.user_id).await?
                {
                    let by = By {
                        kind: "user",
                        id: Some(row.user_id),
                        name: p.name,
                        role: Some(p.role.as_str()),
                        request_id: request_id.clone(),
                    };
                    let change = json!({ "family_revoked": row.family_id });
                    let event = login_event("auth.refresh_reused", row.user_id, p.unit_id, change);
                    audit::append(conn, &by, event).await?;
                }
                return Ok(RefreshOutcome::Reused);
            }
            if row.expires_at <= now {
                return Ok(RefreshOutcome::Invalid("the refresh token has expired"));
            }
            if !in_grace {
                store::mark_refresh_used(conn, row.id).await?;
            }
            store::insert_refresh(
                conn,
                row.user_id,
                row.family_id,
                &next_hash,
                tokens::REFRESH_TOKEN_DAYS,
            )
            .await?;
            Ok(RefreshOutcome::Issued {
                user_id: row.user_id,
            })
        })
        .await?;
    let user_id = match outcome {
        RefreshOutcome::Issued { user_id } => user_id,
        RefreshOutcome::Reused => {
            return Err(ApiError::unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; every session of this login has been ended",
            ));
        }
        RefreshOutcome::Invalid(why) => {
            return Err(ApiError::unauthorized("invalid_refresh_token", why));
        }
    };
    // The principal is read fresh: a deactivated user's refresh tokens stop at once.
    let principal = super::store::principal(&mut conn, PrincipalKind::User, user_id)
        .await?
        .filter(|p| p.active);
    let Some(principal) = principal else {
        super::store::revoke_all_for_user(&mut conn, user_id).await?;
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    };
    let (access_token, expires_in) = state.jwt.issue(
        user_id,
        PrincipalKind::User,
        principal.role,
        principal.unit_id,
    )?;
    Ok(no_store(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(next),
    })))
}

/// Ends the session of the given refresh token, or every session of the caller.
#[utoipa::path(operation_id = "logout", tag = "auth", request_body = LogoutRequest, responses((status = 204, description = "Logged out")))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    // A misspelt member must not widen "end this session" into "end every session".
    let body: LogoutRequest = crate::error::extractors::optional_json(&body)?.unwrap_or_default();
    let mut conn = crate::db::conn(&state.pool).await?;
    let by = By::from(&actor);
    conn.transaction::<_, ApiError, _>(async |conn| {
        match &body.refresh_token {
            Some(t) => {
                if let Some(row) = store::lock_refresh(conn, &tokens::hash_secret(t.trim())).await?
                    && row.user_id == actor.id
                {
                    store::revoke_family(conn, row.family_id).await?;
                    // The access tokens in hand end too (the user's other sessions
                    // get new ones with their refresh tokens).
                    store::end_sessions(conn, PrincipalKind::User, actor.id).await?;
                }
            }
            None => {
                store::revoke_all_for_user(conn, actor.id).await?;
            }
        }
        audit::append(
            conn,
            &by,
            login_event("auth.logout", actor.id, actor.unit_id, json!({})),
        )
        .await?;
        Ok(())
    })
    .await?;
    state.principals.invalidate(PrincipalKind::User, actor.id);
    Ok(HttpResponse::NoContent().finish())
}

fn oauth_error(status: StatusCode, code: &'static str, detail: &str) -> ApiError {
    // `error` repeats the code under RFC 6749's name, for OAuth client libraries.
    ApiError::new(status, code, detail).with_extra("error", code)
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for service clients.
#[utoipa::path(
    operation_id = "issueClientToken",
    tag = "auth",
    request_body(content(
        (ClientCredentialsRequest = "application/x-www-form-urlencoded"),
        (ClientCredentialsRequest = "application/json"),
    )),
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Unknown client or wrong secret", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this client id from this address; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    if !is_form && !content_type.starts_with(ContentType::json().essence_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/x-www-form-urlencoded (or application/json)",
        ));
    }
    let unsupported_grant = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported here; people use /api/v1/auth/login",
        )
    };
    let strict: Result<ClientCredentialsRequest, String> = if is_form {
        serde_urlencoded::from_bytes(&body).map_err(|e| format!("malformed form body: {e}"))
    } else {
        serde_json::from_slice(&body).map_err(|e| format!("malformed JSON body: {e}"))
    };
    let parsed = match strict {
        Ok(p) => p,
        Err(detail) => {
            // Another grant brings its own fields (`username`, `password`, `code`), which
            // the strict parse refuses; answer for the grant, as RFC 6749 §5.2 asks.
            let grant = if is_form {
                serde_urlencoded::from_bytes::<GrantTypeOnly>(&body).ok()
            } else {
                serde_json::from_slice::<GrantTypeOnly>(&body).ok()
            };
            if grant
                .and_then(|g| g.grant_type)
                .is_some_and(|g| g != "client_credentials")
            {
                return Err(unsupported_grant());
            }
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &detail,
            ));
        }
    };
    if parsed.grant_type != "client_credentials" {
        return Err(unsupported_grant());
    }
    let (client_id, secret) = match (
        basic_credentials(&req),
        parsed.client_id,
        parsed.client_secret,
    ) {
        (Some(c), _, _) => c,
        (None, Some(id), Some(secret)) => (id, secret),
        // No client authentication at all is a failed one (RFC 6749 §5.2).
        _ => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication is required: HTTP Basic, or client_id and client_secret",
            )
            .with_header(header::WWW_AUTHENTICATE, "Basic realm=\"gereport\""));
        }
    };
    let address = client_address(&req);
    let mut conn = crate::db::conn(&state.pool).await?;
    let attempt = state.limiter.begin(&mut conn, &client_id, &address).await?;
    tokio::time::sleep(attempt.delay).await;
    let row = store::client_row(&mut conn, &client_id).await?;
    let presented = tokens::hash_secret(&secret);
    let ok = row
        .as_ref()
        .is_some_and(|r| r.active && constant_time_eq(&r.secret_hash, &presented));
    let Some(row) = row.filter(|_| ok) else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        ));
    };
    state.limiter.succeeded(&mut conn, attempt).await?;
    let (access_token, expires_in) =
        state
            .jwt
            .issue(row.id, PrincipalKind::Client, row.role, row.unit_id)?;
    Ok(no_store(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
    })))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login)
        .service(refresh)
        .service(logout)
        .service(token);
}
