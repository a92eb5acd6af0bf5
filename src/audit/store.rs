//! Audit queries: append, and the filtered, paginated read.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{By, Event};
use crate::error::ApiResult;
use crate::pagination::PageRequest;
use crate::schema::{audit_events, org_units};

pub async fn append(conn: &mut AsyncPgConnection, by: &By, event: Event<'_>) -> ApiResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::actor_kind.eq(by.kind),
            audit_events::actor_id.eq(by.id),
            audit_events::actor_name.eq(&by.name),
            audit_events::actor_role.eq(by.role),
            audit_events::action.eq(event.action),
            audit_events::object_type.eq(event.object_type),
            audit_events::object_id.eq(&event.object_id),
            audit_events::unit_id.eq(event.unit_id),
            audit_events::request_id.eq(&by.request_id),
            audit_events::change.eq(&event.change),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Queryable)]
pub struct Row {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub actor_role: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub unit_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub change: serde_json::Value,
}

#[derive(Default)]
pub struct Filter {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events of units under this path (coordinators); `None` for admins.
    pub scope_prefix: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &Filter,
    page: PageRequest,
) -> ApiResult<(Vec<Row>, i64)> {
    let build = || {
        let mut q = audit_events::table
            .left_join(org_units::table)
            .select(audit_events::all_columns)
            .into_boxed();
        if let Some(t) = &f.object_type {
            q = q.filter(audit_events::object_type.eq(t.clone()));
        }
        if let Some(id) = &f.object_id {
            q = q.filter(audit_events::object_id.eq(id.clone()));
        }
        if let Some(a) = f.actor_id {
            q = q.filter(audit_events::actor_id.eq(a));
        }
        if let Some(from) = f.from {
            q = q.filter(audit_events::at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(audit_events::at.lt(to));
        }
        if let Some(prefix) = &f.scope_prefix {
            q = q.filter(org_units::path.like(format!("{prefix}%")));
        }
        q
    };
    let total: i64 = build().count().get_result(conn).await?;
    let rows = build()
        .order(audit_events::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load::<Row>(conn)
        .await?;
    Ok((rows, total))
}
