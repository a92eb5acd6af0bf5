//! Organisation unit queries. Subtrees are prefix matches on the materialised path.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::{OrgUnit, UnitKind};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{PageRequest, gr_fold, like_pattern};
use crate::schema::org_units;

#[derive(Queryable, Clone, Debug)]
pub struct Row {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<Uuid>,
    pub path: String,
    pub depth: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Row {
    pub fn to_api(&self) -> OrgUnit {
        OrgUnit {
            id: self.id,
            code: self.code.clone(),
            name: self.name.clone(),
            kind: UnitKind::parse(&self.kind).unwrap_or(UnitKind::Other),
            parent_id: self.parent_id,
            depth: self.depth,
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Finds a unit by id, or by code (case-insensitive) when the reference is not a UUID.
pub async fn find(conn: &mut AsyncPgConnection, unit_ref: &str) -> ApiResult<Option<Row>> {
    let q = org_units::table.into_boxed();
    let q = match Uuid::parse_str(unit_ref) {
        Ok(id) => q.filter(org_units::id.eq(id)),
        Err(_) => q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(code) = lower(")
                .bind::<diesel::sql_types::Text, _>(unit_ref.to_string())
                .sql(")"),
        ),
    };
    Ok(q.first::<Row>(conn).await.optional()?)
}

pub async fn find_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Option<Row>> {
    Ok(org_units::table
        .find(id)
        .first::<Row>(conn)
        .await
        .optional()?)
}

pub struct ListFilter {
    pub parent_id: Option<Uuid>,
    pub kind: Option<UnitKind>,
    pub active: Option<bool>,
    pub text: Option<String>,
    /// Restrict to this subtree (prefix) or this exact unit (`exact`).
    pub scope: Option<(String, bool)>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ListFilter,
    page: PageRequest,
) -> ApiResult<(Vec<Row>, i64)> {
    let build = || {
        let mut q = org_units::table.into_boxed();
        if let Some(p) = f.parent_id {
            q = q.filter(org_units::parent_id.eq(p));
        }
        if let Some(k) = f.kind {
            q = q.filter(org_units::kind.eq(k.as_str()));
        }
        if let Some(a) = f.active {
            q = q.filter(org_units::active.eq(a));
        }
        if let Some(t) = &f.text {
            let pat = like_pattern(t);
            q = q.filter(
                gr_fold(org_units::name)
                    .like(gr_fold(pat.clone()))
                    .or(org_units::code.ilike(pat)),
            );
        }
        match &f.scope {
            Some((path, true)) => q = q.filter(org_units::path.eq(path.clone())),
            Some((path, false)) => q = q.filter(org_units::path.like(format!("{path}%"))),
            None => {}
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows = build()
        .order(org_units::code.asc())
        .limit(page.limit)
        .offset(page.offset)
        .load::<Row>(conn)
        .await?;
    Ok((rows, total))
}

/// The unit and everything below it, in tree order (by path).
pub async fn subtree(
    conn: &mut AsyncPgConnection,
    path: &str,
    include_inactive: bool,
    page: PageRequest,
) -> ApiResult<(Vec<Row>, i64)> {
    let build = || {
        let mut q = org_units::table
            .filter(org_units::path.like(format!("{path}%")))
            .into_boxed();
        if !include_inactive {
            q = q.filter(org_units::active.eq(true));
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows = build()
        .order((org_units::depth.asc(), org_units::code.asc()))
        .limit(page.limit)
        .offset(page.offset)
        .load::<Row>(conn)
        .await?;
    Ok((rows, total))
}

/// Serialises every change to the shape of the tree (a unit created, moved,
/// deactivated or reactivated) until the transaction ends. Paths are derived from the
/// parent's path, and scope checks rest on them: two moves, or a move and a create
/// below it, must not both work from a path the other is rewriting. Tree changes are
/// rare admin actions; readers never take this lock.
pub async fn lock_tree(conn: &mut AsyncPgConnection) -> ApiResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(i64::from_be_bytes(*b"org-tree"))
        .execute(conn)
        .await?;
    Ok(())
}

/// 409 `parent_inactive`: nothing is placed or revived under a deactivated unit.
pub fn require_active_parent(unit_code: &str, parent: &Row) -> ApiResult<()> {
    if parent.active {
        return Ok(());
    }
    Err(ApiError::conflict(
        "parent_inactive",
        format!(
            "{} is deactivated; {unit_code} cannot be placed or reactivated under it",
            parent.code
        ),
    ))
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    code: &str,
    name: &str,
    kind: UnitKind,
    parent: Option<&Row>,
) -> ApiResult<Row> {
    let id = Uuid::now_v7();
    let (path, depth) = match parent {
        Some(p) => (format!("{}{id}/", p.path), p.depth + 1),
        None => (format!("/{id}/"), 0),
    };
    let exists: i64 = org_units::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(code) = lower(")
                .bind::<diesel::sql_types::Text, _>(code.to_string())
                .sql(")"),
        )
        .count()
        .get_result(conn)
        .await?;
    if exists > 0 {
        return Err(ApiError::conflict(
            "code_taken",
            format!("a unit with code {code:?} already exists"),
        )
        .with_errors(vec![crate::error::Issue::new(
            "body.code",
            "duplicate",
            "already used by another unit",
        )]));
    }
    Ok(diesel::insert_into(org_units::table)
        .values((
            org_units::id.eq(id),
            org_units::code.eq(code),
            org_units::name.eq(name),
            org_units::kind.eq(kind.as_str()),
            org_units::parent_id.eq(parent.map(|p| p.id)),
            org_units::path.eq(&path),
            org_units::depth.eq(depth),
        ))
        .get_result::<Row>(conn)
        .await?)
}

pub async fn rename(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: Option<&str>,
    kind: Option<UnitKind>,
) -> ApiResult<Row> {
    let current = org_units::table
        .find(id)
        .for_update()
        .first::<Row>(conn)
        .await?;
    Ok(diesel::update(org_units::table.find(id))
        .set((
            org_units::name.eq(name.unwrap_or(&current.name)),
            org_units::kind.eq(kind.map(UnitKind::as_str).unwrap_or(&current.kind)),
            org_units::updated_at.eq(Utc::now()),
            org_units::version.eq(current.version + 1),
        ))
        .get_result::<Row>(conn)
        .await?)
}

/// Moves a unit and its whole subtree under a new parent, rewriting their paths in
/// one statement. Refuses a move into the unit's own subtree (a cycle).
pub async fn move_under(
    conn: &mut AsyncPgConnection,
    unit: &Row,
    new_parent: &Row,
) -> ApiResult<Row> {
    if new_parent.path.starts_with(&unit.path) {
        return Err(ApiError::conflict(
            "cycle",
            format!(
                "{} cannot move under {}, which lies in its own subtree",
                unit.code, new_parent.code
            ),
        ));
    }
    let new_path = format!("{}{}/", new_parent.path, unit.id);
    let delta = new_parent.depth + 1 - unit.depth;
    diesel::sql_query(
        "UPDATE org_units SET path = $1 || substr(path, length($2) + 1), depth = depth + $3, \
         updated_at = now() WHERE path LIKE $2 || '%'",
    )
    .bind::<diesel::sql_types::Text, _>(&new_path)
    .bind::<diesel::sql_types::Text, _>(&unit.path)
    .bind::<diesel::sql_types::Integer, _>(delta)
    .execute(conn)
    .await?;
    Ok(diesel::update(org_units::table.find(unit.id))
        .set((
            org_units::parent_id.eq(new_parent.id),
            org_units::version.eq(org_units::version + 1),
        ))
        .get_result::<Row>(conn)
        .await?)
}

pub async fn count_active_children(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<i64> {
    Ok(org_units::table
        .filter(org_units::parent_id.eq(id))
        .filter(org_units::active.eq(true))
        .count()
        .get_result(conn)
        .await?)
}

pub async fn set_active(conn: &mut AsyncPgConnection, id: Uuid, active: bool) -> ApiResult<Row> {
    Ok(diesel::update(org_units::table.find(id))
        .set((
            org_units::active.eq(active),
            org_units::updated_at.eq(Utc::now()),
            org_units::version.eq(org_units::version + 1),
        ))
        .get_result::<Row>(conn)
        .await?)
}
