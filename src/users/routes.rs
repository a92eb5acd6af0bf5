//! `/api/v1/users`, `/api/v1/me` and `/api/v1/service-clients`.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use diesel_async::AsyncConnection;
use serde_json::json;
use uuid::Uuid;

use super::model::*;
use super::store::{self, NewUserRow, UserChanges, UserFilter};
use crate::AppState;
use crate::audit::{self, By, Event};
use crate::auth::limiter::client_address;
use crate::auth::policy::{self, Action};
use crate::auth::{Actor, PrincipalKind, password, tokens};
use crate::error::{AllFields, ApiError, ApiResult};
use crate::idempotency::no_store;
use crate::org::store as org_store;
use crate::pagination::{Page, PageRequest};

async fn unit_id(
    conn: &mut diesel_async::AsyncPgConnection,
    field: &str,
    unit_ref: &str,
) -> ApiResult<Uuid> {
    let unit = org_store::find(conn, unit_ref).await?.ok_or_else(|| {
        ApiError::invalid_field(field, "unknown_unit", format!("no unit {unit_ref:?}"))
    })?;
    // A deactivated unit's history stays readable, but nobody new acts for it.
    if !unit.active {
        return Err(ApiError::invalid_field(
            field,
            "unit_inactive",
            format!("unit {} is deactivated", unit.code),
        ));
    }
    Ok(unit.id)
}

fn user_event(action: &'static str, user: &User, change: serde_json::Value) -> Event<'static> {
    Event {
        action,
        object_type: "user",
        object_id: user.id.to_string(),
        unit_id: Some(user.unit_id),
        change,
    }
}

fn clean_display_name(field: &str, raw: &str) -> ApiResult<String> {
    crate::org::model::clean_name(field, raw)
}

/// Users, filtered (admins).
#[utoipa::path(operation_id = "listUsers", tag = "users", params(UserQuery), responses((status = 200, body = Page<User>), (status = 404, description = "The `unit` filter names no unit", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/users")]
pub async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<UserQuery>,
) -> ApiResult<web::Json<Page<User>>> {
    policy::require(&actor, Action::ManageUsers)?;
    let q = q.into_inner();
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    // A filter on a unit that does not exist finds nothing to list: 404, as the
    // unit's own address would answer. A deactivated unit's users stay listable.
    let unit_id = match &q.unit {
        Some(u) => Some(
            org_store::find(&mut conn, u)
                .await?
                .ok_or_else(|| ApiError::not_found("unit"))?
                .id,
        ),
        None => None,
    };
    let filter = UserFilter {
        role: q.role,
        unit_id,
        active: q.active,
        text: q.q.filter(|t| !t.trim().is_empty()),
    };
    let (items, total) = store::list(&mut conn, &filter, page).await?;
    Ok(web::Json(Page::new(items, total, page)))
}

/// One user (admins).
#[utoipa::path(operation_id = "getUser", tag = "users", params(("user_id" = Uuid, Path, description = "User id")), responses((status = 200, body = User)))]
#[get("/users/{user_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<User>> {
    policy::require(&actor, Action::ManageUsers)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    store::get(&mut conn, *id)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("user"))
}

/// Creates a user (admins).
#[utoipa::path(operation_id = "createUser", tag = "users", request_body = NewUser, responses((status = 201, body = User), (status = 409, description = "Username taken", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/users")]
pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<NewUser>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageUsers)?;
    let body = body.into_inner();
    let (_, display_name, _, _) = (
        check_username("body.username", &body.username),
        clean_display_name("body.display_name", &body.display_name),
        body.email
            .as_deref()
            .map_or(Ok(()), |e| check_email("body.email", e)),
        password::check_strength("body.password", &body.password),
    )
        .all_fields()?;
    let hash = password::hash(body.password).await?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let unit_id = unit_id(conn, "body.unit", &body.unit).await?;
            let id = store::insert(
                conn,
                NewUserRow {
                    username: &body.username,
                    display_name: &display_name,
                    email: body.email.as_deref(),
                    role: body.role,
                    unit_id,
                    password_hash: &hash,
                    unit_head: body.unit_head,
                },
            )
            .await?;
            let user = store::get(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            audit::append(
                conn,
                &by,
                user_event("user.create", &user, json!({ "after": user })),
            )
            .await?;
            Ok(user)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/users/{}", user.id),
        ))
        .json(user))
}

/// Changes a user's name, e-mail, role, scope or active flag (admins). Deactivation
/// revokes the user's refresh tokens at once.
#[utoipa::path(operation_id = "updateUser", tag = "users", params(("user_id" = Uuid, Path, description = "User id")), request_body = UpdateUser, responses((status = 200, body = User)))]
#[patch("/users/{user_id}")]
pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<UpdateUser>,
) -> ApiResult<web::Json<User>> {
    policy::require(&actor, Action::ManageUsers)?;
    let id = id.into_inner();
    let body = body.into_inner();
    let (display_name, _) = (
        body.display_name
            .as_deref()
            .map(|n| clean_display_name("body.display_name", n))
            .transpose(),
        body.email
            .as_deref()
            .map_or(Ok(()), |e| check_email("body.email", e)),
    )
        .all_fields()?;
    if id == actor.id && (body.active == Some(false) || body.role.is_some_and(|r| r != actor.role))
    {
        return Err(ApiError::conflict(
            "self_lockout",
            "admins cannot deactivate or demote themselves",
        ));
    }
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = store::get(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            let unit_id = match &body.unit {
                Some(u) => Some(unit_id(conn, "body.unit", u).await?),
                None => None,
            };
            store::update(
                conn,
                id,
                UserChanges {
                    display_name,
                    email: body.email.clone().map(Some),
                    role: body.role,
                    unit_id,
                    active: body.active,
                    unit_head: body.unit_head,
                },
            )
            .await?;
            if body.active == Some(false) {
                crate::auth::store::revoke_all_for_user(conn, id).await?;
            } else if body.role.is_some() || body.unit.is_some() {
                // Tokens issued under the old role or scope end; refreshing gives new ones.
                crate::auth::store::end_sessions(conn, PrincipalKind::User, id).await?;
            }
            let after = store::get(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            audit::append(
                conn,
                &by,
                user_event(
                    "user.update",
                    &after,
                    json!({ "before": before, "after": after }),
                ),
            )
            .await?;
            Ok(after)
        })
        .await?;
    state.principals.invalidate(PrincipalKind::User, id);
    Ok(web::Json(user))
}

/// Sets a new password for a user (admins); the user's sessions end.
#[utoipa::path(operation_id = "resetUserPassword", tag = "users", params(("user_id" = Uuid, Path, description = "User id")), request_body = PasswordReset, responses((status = 204, description = "Password set")))]
#[post("/users/{user_id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<PasswordReset>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageUsers)?;
    let id = id.into_inner();
    password::check_strength("body.new_password", &body.new_password)?;
    let hash = password::hash(body.into_inner().new_password).await?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let user = store::get(conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        store::set_password(conn, id, &hash).await?;
        crate::auth::store::revoke_all_for_user(conn, id).await?;
        audit::append(
            conn,
            &by,
            user_event("user.reset_password", &user, json!({})),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub kind: PrincipalKind,
    /// Username, or client id for service clients.
    pub name: String,
    pub role: policy::Role,
    pub unit_id: Uuid,
    /// The full user record, for people.
    pub user: Option<User>,
}

/// The caller: role, scope and (for people) the user record.
#[utoipa::path(operation_id = "getMe", tag = "users", responses((status = 200, body = Me)))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, actor: Actor) -> ApiResult<web::Json<Me>> {
    let user = match actor.kind {
        PrincipalKind::User => {
            let mut conn = crate::db::conn(&state.pool).await?;
            store::get(&mut conn, actor.id).await?
        }
        PrincipalKind::Client => None,
    };
    Ok(web::Json(Me {
        id: actor.id,
        kind: actor.kind,
        name: actor.name,
        role: actor.role,
        unit_id: actor.unit_id,
        user,
    }))
}

/// Changes the caller's own password, given the current one; other sessions end.
///
/// A wrong current password counts as a failed login of the caller's username: after
/// too many, 429 with `Retry-After`, here and at login alike.
#[utoipa::path(
    operation_id = "changeOwnPassword",
    tag = "users",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Password changed"),
        (status = 429, description = "Too many wrong current passwords; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    if actor.kind != PrincipalKind::User {
        return Err(ApiError::forbidden(
            "service clients have no password; rotate the client secret instead",
        ));
    }
    let body = body.into_inner();
    password::check_strength("body.new_password", &body.new_password)?;
    let address = client_address(&req);
    let mut conn = crate::db::conn(&state.pool).await?;
    let attempt = state
        .limiter
        .begin(&mut conn, &actor.name, &address)
        .await?;
    tokio::time::sleep(attempt.delay).await;
    let stored = store::password_hash(&mut conn, actor.id).await?;
    let verified = match password::verify(body.current_password, Some(stored)).await {
        Ok(v) => v,
        // Not checked at all (the hashing queue was full): not a failure either.
        Err(e) => {
            state.limiter.withdraw(&mut conn, attempt).await?;
            return Err(e);
        }
    };
    if !verified {
        return Err(ApiError::invalid_field(
            "body.current_password",
            "wrong_password",
            "the current password is not correct",
        ));
    }
    let hash = password::hash(body.new_password).await?;
    let by = By::from(&actor);
    conn.transaction::<_, ApiError, _>(async |conn| {
        store::set_password(conn, actor.id, &hash).await?;
        crate::auth::store::revoke_all_for_user(conn, actor.id).await?;
        audit::append(
            conn,
            &by,
            Event {
                action: "user.change_password",
                object_type: "user",
                object_id: actor.id.to_string(),
                unit_id: Some(actor.unit_id),
                change: json!({}),
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    // The token in hand ended with the others: not even this process's cache keeps it.
    state.principals.invalidate(PrincipalKind::User, actor.id);
    state.limiter.succeeded(&mut conn, attempt).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn client_event(action: &'static str, c: &ServiceClient) -> Event<'static> {
    Event {
        action,
        object_type: "service_client",
        object_id: c.id.to_string(),
        unit_id: Some(c.unit_id),
        change: json!({ "client": c }),
    }
}

/// Service clients (admins).
#[utoipa::path(operation_id = "listServiceClients", tag = "users", params(ServiceClientQuery), responses((status = 200, body = Page<ServiceClient>)))]
#[get("/service-clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    actor: Actor,
    q: crate::extract::Query<ServiceClientQuery>,
) -> ApiResult<web::Json<Page<ServiceClient>>> {
    policy::require(&actor, Action::ManageServiceClients)?;
    let page = PageRequest::new(q.limit, q.offset)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let (items, total) = store::list_clients(&mut conn, q.active, page).await?;
    Ok(web::Json(Page::new(items, total, page)))
}

/// One service client (admins).
#[utoipa::path(operation_id = "getServiceClient", tag = "users", params(("service_client_id" = Uuid, Path, description = "Service client id (the record id, not the public `client_id`)")), responses((status = 200, body = ServiceClient)))]
#[get("/service-clients/{service_client_id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ServiceClient>> {
    policy::require(&actor, Action::ManageServiceClients)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    store::get_client(&mut conn, *id)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("service client"))
}

/// Creates a service client for a script or city system (admins). The secret is in
/// this response only.
#[utoipa::path(operation_id = "createServiceClient", tag = "users", request_body = NewServiceClient, responses((status = 201, body = ServiceClientWithSecret)))]
#[post("/service-clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    actor: Actor,
    body: crate::extract::Json<NewServiceClient>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageServiceClients)?;
    let body = body.into_inner();
    let name = clean_display_name("body.name", &body.name)?;
    let secret = tokens::new_secret()?;
    let client_id = format!("gr_{}", Uuid::new_v4().simple());
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let client = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let unit_id = unit_id(conn, "body.unit", &body.unit).await?;
            let id = store::insert_client(
                conn,
                &client_id,
                &name,
                body.role,
                unit_id,
                &tokens::hash_secret(&secret),
                Some(actor.id),
            )
            .await?;
            let c = store::get_client(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("service client"))?;
            audit::append(conn, &by, client_event("service_client.create", &c)).await?;
            Ok(c)
        })
        .await?;
    Ok(no_store(
        HttpResponse::Created()
            .insert_header((
                actix_web::http::header::LOCATION,
                format!("/api/v1/service-clients/{}", client.id),
            ))
            .json(ServiceClientWithSecret {
                client,
                client_secret: secret,
            }),
    ))
}

/// Replaces a client's secret (admins); the old one stops working at once.
#[utoipa::path(operation_id = "rotateServiceClientSecret", tag = "users", params(("service_client_id" = Uuid, Path, description = "Service client id (the record id, not the public `client_id`)")), responses((status = 200, body = ServiceClientWithSecret), (status = 409, description = "The client is revoked", body = crate::error::Problem, content_type = "application/problem+json")))]
#[post("/service-clients/{service_client_id}/rotate")]
pub async fn rotate_client(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManageServiceClients)?;
    let id = id.into_inner();
    let secret = tokens::new_secret()?;
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let client = conn
        .transaction::<_, ApiError, _>(async |conn| {
            store::get_client(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("service client"))?;
            store::rotate_client(conn, id, &tokens::hash_secret(&secret)).await?;
            crate::auth::store::end_sessions(conn, PrincipalKind::Client, id).await?;
            let c = store::get_client(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("service client"))?;
            audit::append(conn, &by, client_event("service_client.rotate", &c)).await?;
            Ok(c)
        })
        .await?;
    Ok(no_store(HttpResponse::Ok().json(ServiceClientWithSecret {
        client,
        client_secret: secret,
    })))
}

/// Revokes a client for good (admins); its tokens stop within seconds.
#[utoipa::path(operation_id = "revokeServiceClient", tag = "users", params(("service_client_id" = Uuid, Path, description = "Service client id (the record id, not the public `client_id`)")), responses((status = 200, body = ServiceClient)))]
#[post("/service-clients/{service_client_id}/revoke")]
pub async fn revoke_client(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ServiceClient>> {
    policy::require(&actor, Action::ManageServiceClients)?;
    let id = id.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let client = conn
        .transaction::<_, ApiError, _>(async |conn| {
            store::get_client(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("service client"))?;
            store::revoke_client(conn, id).await?;
            crate::auth::store::end_sessions(conn, PrincipalKind::Client, id).await?;
            let c = store::get_client(conn, id)
                .await?
                .ok_or_else(|| ApiError::not_found("service client"))?;
            audit::append(conn, &by, client_event("service_client.revoke", &c)).await?;
            Ok(c)
        })
        .await?;
    state.principals.invalidate(PrincipalKind::Client, id);
    Ok(web::Json(client))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(me)
        .service(change_password)
        .service(list)
        .service(create)
        .service(get_one)
        .service(update)
        .service(reset_password)
        .service(list_clients)
        .service(create_client)
        .service(get_client)
        .service(rotate_client)
        .service(revoke_client);
}
