//! Queries behind authentication: principals, login credentials, refresh tokens.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::auth::policy::Role;
use crate::auth::{Principal, PrincipalKind};
use crate::error::{ApiError, ApiResult};
use crate::schema::{org_units, refresh_tokens, service_clients, users};

fn role(s: &str) -> ApiResult<Role> {
    Role::parse(s)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role {s:?} in database")))
}

pub async fn principal(
    conn: &mut AsyncPgConnection,
    kind: PrincipalKind,
    id: Uuid,
) -> ApiResult<Option<Principal>> {
    type Row = (
        String,
        String,
        String,
        Uuid,
        bool,
        String,
        Option<DateTime<Utc>>,
    );
    let row: Option<Row> = match kind {
        PrincipalKind::User => users::table
            .inner_join(org_units::table)
            .filter(users::id.eq(id))
            .select((
                users::username,
                users::username,
                users::role,
                users::unit_id,
                users::active,
                org_units::path,
                users::tokens_valid_after,
            ))
            .first(conn)
            .await
            .optional()?,
        PrincipalKind::Client => service_clients::table
            .inner_join(org_units::table)
            .filter(service_clients::id.eq(id))
            .select((
                service_clients::client_id,
                service_clients::name,
                service_clients::role,
                service_clients::unit_id,
                service_clients::active,
                org_units::path,
                service_clients::tokens_valid_after,
            ))
            .first(conn)
            .await
            .optional()?,
    };
    row.map(
        |(name, display_name, r, unit_id, active, scope_path, tokens_valid_after)| {
            Ok(Principal {
                name,
                display_name,
                role: role(&r)?,
                unit_id,
                scope_path,
                active,
                tokens_valid_after,
            })
        },
    )
    .transpose()
}

/// What login needs to know about a username.
pub struct LoginRow {
    pub id: Uuid,
    pub role: Role,
    pub unit_id: Uuid,
    pub active: bool,
    pub password_hash: String,
}

pub async fn login_row(
    conn: &mut AsyncPgConnection,
    username: &str,
) -> ApiResult<Option<LoginRow>> {
    let row: Option<(Uuid, String, Uuid, bool, String)> = users::table
        .filter(users::username.eq(username))
        .select((
            users::id,
            users::role,
            users::unit_id,
            users::active,
            users::password_hash,
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(|(id, r, unit_id, active, password_hash)| {
        Ok(LoginRow {
            id,
            role: role(&r)?,
            unit_id,
            active,
            password_hash,
        })
    })
    .transpose()
}

pub struct ClientRow {
    pub id: Uuid,
    pub role: Role,
    pub unit_id: Uuid,
    pub active: bool,
    pub secret_hash: Vec<u8>,
}

pub async fn client_row(
    conn: &mut AsyncPgConnection,
    client_id: &str,
) -> ApiResult<Option<ClientRow>> {
    let row: Option<(Uuid, String, Uuid, bool, Vec<u8>)> = service_clients::table
        .filter(service_clients::client_id.eq(client_id))
        .select((
            service_clients::id,
            service_clients::role,
            service_clients::unit_id,
            service_clients::active,
            service_clients::secret_hash,
        ))
        .first(conn)
        .await
        .optional()?;
    row.map(|(id, r, unit_id, active, secret_hash)| {
        Ok(ClientRow {
            id,
            role: role(&r)?,
            unit_id,
            active,
            secret_hash,
        })
    })
    .transpose()
}

/// Stores a new refresh token of a family (a new family at login).
pub async fn insert_refresh(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    family_id: Uuid,
    token_hash: &[u8],
    days: i64,
) -> ApiResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::expires_at.eq(Utc::now() + Duration::days(days)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Queryable)]
pub struct RefreshRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Locks the token's row for the rest of the transaction, so two concurrent uses of
/// one token are serialised and the second one is seen as a reuse.
pub async fn lock_refresh(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> ApiResult<Option<RefreshRow>> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::user_id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            refresh_tokens::revoked_at,
        ))
        .for_update()
        .first::<RefreshRow>(conn)
        .await
        .optional()?)
}

pub async fn mark_refresh_used(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::used_at.eq(Utc::now()))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke_family(conn: &mut AsyncPgConnection, family_id: Uuid) -> ApiResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?)
}

/// Ends every session of a user: its refresh tokens and its access tokens.
pub async fn revoke_all_for_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> ApiResult<usize> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    end_sessions(conn, PrincipalKind::User, user_id).await?;
    Ok(n)
}

/// Ends every access token issued to a principal until now (see the migration
/// `sessions_end`); its refresh tokens are a separate matter.
pub async fn end_sessions(
    conn: &mut AsyncPgConnection,
    kind: PrincipalKind,
    id: Uuid,
) -> ApiResult<()> {
    match kind {
        PrincipalKind::User => {
            diesel::update(users::table.find(id))
                .set(users::tokens_valid_after.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
        PrincipalKind::Client => {
            diesel::update(service_clients::table.find(id))
                .set(service_clients::tokens_valid_after.eq(diesel::dsl::now))
                .execute(conn)
                .await?
        }
    };
    Ok(())
}
