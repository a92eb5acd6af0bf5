//! User and service-client queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{ServiceClient, User};
use crate::auth::policy::Role;
use crate::error::{ApiError, ApiResult, Issue};
use crate::pagination::{PageRequest, gr_fold, like_pattern};
use crate::schema::{org_units, service_clients, users};

type UserTuple = (
    Uuid,
    String,
    String,
    Option<String>,
    String,
    Uuid,
    String,
    bool,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn user_from(
    (
        id,
        username,
        display_name,
        email,
        role,
        unit_id,
        unit_code,
        active,
        unit_head,
        created_at,
        updated_at,
    ): UserTuple,
) -> User {
    User {
        id,
        username,
        display_name,
        email,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        unit_id,
        unit_code,
        active,
        unit_head,
        created_at,
        updated_at,
    }
}

macro_rules! user_columns {
    () => {
        (
            users::id,
            users::username,
            users::display_name,
            users::email,
            users::role,
            users::unit_id,
            org_units::code,
            users::active,
            users::unit_head,
            users::created_at,
            users::updated_at,
        )
    };
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Option<User>> {
    let row: Option<UserTuple> = users::table
        .inner_join(org_units::table)
        .filter(users::id.eq(id))
        .select(user_columns!())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(user_from))
}

pub struct UserFilter {
    pub role: Option<Role>,
    pub unit_id: Option<Uuid>,
    pub active: Option<bool>,
    pub text: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &UserFilter,
    page: PageRequest,
) -> ApiResult<(Vec<User>, i64)> {
    let build = || {
        let mut q = users::table.inner_join(org_units::table).into_boxed();
        if let Some(r) = f.role {
            q = q.filter(users::role.eq(r.as_str()));
        }
        if let Some(u) = f.unit_id {
            q = q.filter(users::unit_id.eq(u));
        }
        if let Some(a) = f.active {
            q = q.filter(users::active.eq(a));
        }
        if let Some(t) = &f.text {
            let pat = like_pattern(t);
            q = q.filter(
                users::username
                    .ilike(pat.clone())
                    .or(gr_fold(users::display_name).like(gr_fold(pat))),
            );
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows: Vec<UserTuple> = build()
        .select(user_columns!())
        .order(users::username.asc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .await?;
    Ok((rows.into_iter().map(user_from).collect(), total))
}

pub struct NewUserRow<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub unit_id: Uuid,
    pub password_hash: &'a str,
    pub unit_head: bool,
}

pub async fn username_taken(conn: &mut AsyncPgConnection, username: &str) -> ApiResult<bool> {
    let n: i64 = users::table
        .filter(users::username.eq(username))
        .count()
        .get_result(conn)
        .await?;
    Ok(n > 0)
}

pub async fn insert(conn: &mut AsyncPgConnection, u: NewUserRow<'_>) -> ApiResult<Uuid> {
    if username_taken(conn, u.username).await? {
        return Err(ApiError::conflict(
            "username_taken",
            format!("the username {:?} is taken", u.username),
        )
        .with_errors(vec![Issue::new(
            "body.username",
            "duplicate",
            "already taken",
        )]));
    }
    let id = Uuid::now_v7();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::username.eq(u.username),
            users::display_name.eq(u.display_name),
            users::email.eq(u.email),
            users::role.eq(u.role.as_str()),
            users::unit_id.eq(u.unit_id),
            users::password_hash.eq(u.password_hash),
            users::unit_head.eq(u.unit_head),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

#[derive(Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub role: Option<Role>,
    pub unit_id: Option<Uuid>,
    pub active: Option<bool>,
    pub unit_head: Option<bool>,
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, c: UserChanges) -> ApiResult<()> {
    #[derive(AsChangeset)]
    #[diesel(table_name = users)]
    struct Set {
        display_name: Option<String>,
        email: Option<Option<String>>,
        role: Option<String>,
        unit_id: Option<Uuid>,
        active: Option<bool>,
        unit_head: Option<bool>,
        updated_at: DateTime<Utc>,
    }
    diesel::update(users::table.find(id))
        .set((
            Set {
                display_name: c.display_name,
                email: c.email,
                role: c.role.map(|r| r.as_str().to_string()),
                unit_id: c.unit_id,
                active: c.active,
                unit_head: c.unit_head,
                updated_at: Utc::now(),
            },
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn password_hash(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<String> {
    Ok(users::table
        .find(id)
        .select(users::password_hash)
        .first(conn)
        .await?)
}

pub async fn set_password(conn: &mut AsyncPgConnection, id: Uuid, hash: &str) -> ApiResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::password_changed_at.eq(Utc::now()),
            users::updated_at.eq(Utc::now()),
            users::version.eq(users::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

type ClientTuple = (
    Uuid,
    String,
    String,
    String,
    Uuid,
    String,
    bool,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn client_from(
    (id, client_id, name, role, unit_id, unit_code, active, created_at, rotated_at, revoked_at): ClientTuple,
) -> ServiceClient {
    ServiceClient {
        id,
        client_id,
        name,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        unit_id,
        unit_code,
        active,
        created_at,
        rotated_at,
        revoked_at,
    }
}

macro_rules! client_columns {
    () => {
        (
            service_clients::id,
            service_clients::client_id,
            service_clients::name,
            service_clients::role,
            service_clients::unit_id,
            org_units::code,
            service_clients::active,
            service_clients::created_at,
            service_clients::rotated_at,
            service_clients::revoked_at,
        )
    };
}

pub async fn get_client(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> ApiResult<Option<ServiceClient>> {
    let row: Option<ClientTuple> = service_clients::table
        .inner_join(org_units::table)
        .filter(service_clients::id.eq(id))
        .select(client_columns!())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(client_from))
}

pub async fn list_clients(
    conn: &mut AsyncPgConnection,
    active: Option<bool>,
    page: PageRequest,
) -> ApiResult<(Vec<ServiceClient>, i64)> {
    let build = || {
        let mut q = service_clients::table
            .inner_join(org_units::table)
            .into_boxed();
        if let Some(a) = active {
            q = q.filter(service_clients::active.eq(a));
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows: Vec<ClientTuple> = build()
        .select(client_columns!())
        .order(service_clients::client_id.asc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .await?;
    Ok((rows.into_iter().map(client_from).collect(), total))
}

pub async fn insert_client(
    conn: &mut AsyncPgConnection,
    client_id: &str,
    name: &str,
    role: Role,
    unit_id: Uuid,
    secret_hash: &[u8],
    created_by: Option<Uuid>,
) -> ApiResult<Uuid> {
    let id = Uuid::now_v7();
    diesel::insert_into(service_clients::table)
        .values((
            service_clients::id.eq(id),
            service_clients::client_id.eq(client_id),
            service_clients::name.eq(name),
            service_clients::role.eq(role.as_str()),
            service_clients::unit_id.eq(unit_id),
            service_clients::secret_hash.eq(secret_hash),
            service_clients::created_by.eq(created_by),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

pub async fn rotate_client(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    secret_hash: &[u8],
) -> ApiResult<()> {
    let n = diesel::update(
        service_clients::table
            .find(id)
            .filter(service_clients::active.eq(true)),
    )
    .set((
        service_clients::secret_hash.eq(secret_hash),
        service_clients::rotated_at.eq(Utc::now()),
        service_clients::updated_at.eq(Utc::now()),
        service_clients::version.eq(service_clients::version + 1),
    ))
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(ApiError::conflict(
            "client_revoked",
            "a revoked client cannot be rotated; create a new one",
        ));
    }
    Ok(())
}

pub async fn revoke_client(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    diesel::update(service_clients::table.find(id))
        .set((
            service_clients::active.eq(false),
            service_clients::revoked_at.eq(Utc::now()),
            service_clients::updated_at.eq(Utc::now()),
            service_clients::version.eq(service_clients::version + 1),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
