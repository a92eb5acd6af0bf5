//! Attachment queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::schema::attachments;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = attachments)]
pub struct Row {
    pub id: Uuid,
    pub report_id: Uuid,
    pub subject: String,
    pub subject_id: Option<Uuid>,
    pub kind: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub revision: Option<i32>,
    pub uploaded_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &Row) -> ApiResult<Row> {
    Ok(diesel::insert_into(attachments::table)
        .values(row)
        .returning(Row::as_returning())
        .get_result(conn)
        .await?)
}

/// The attachments of a report, oldest first.
pub async fn list(conn: &mut AsyncPgConnection, report_id: Uuid) -> ApiResult<Vec<Row>> {
    Ok(attachments::table
        .filter(attachments::report_id.eq(report_id))
        .order((attachments::created_at, attachments::id))
        .select(Row::as_select())
        .load(conn)
        .await?)
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    report_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<Row>> {
    Ok(attachments::table
        .filter(attachments::report_id.eq(report_id))
        .filter(attachments::id.eq(id))
        .select(Row::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    diesel::delete(attachments::table.filter(attachments::id.eq(id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Freezes the report's attachments that no revision holds yet with the revision
/// being submitted (inside the submission's transaction).
pub async fn freeze(conn: &mut AsyncPgConnection, report_id: Uuid, revision: i32) -> ApiResult<()> {
    diesel::update(
        attachments::table
            .filter(attachments::report_id.eq(report_id))
            .filter(attachments::revision.is_null()),
    )
    .set(attachments::revision.eq(revision))
    .execute(conn)
    .await?;
    Ok(())
}

/// Which of these storage keys have a row.
pub async fn existing_keys(
    conn: &mut AsyncPgConnection,
    keys: &[String],
) -> ApiResult<std::collections::HashSet<String>> {
    Ok(attachments::table
        .filter(attachments::storage_key.eq_any(keys))
        .select(attachments::storage_key)
        .load::<String>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Of these reports, the ones with a signed report attached.
pub async fn with_signed_report(
    conn: &mut AsyncPgConnection,
    report_ids: &[Uuid],
) -> ApiResult<std::collections::HashSet<Uuid>> {
    Ok(attachments::table
        .filter(attachments::report_id.eq_any(report_ids))
        .filter(attachments::kind.eq("signed_report"))
        .select(attachments::report_id)
        .distinct()
        .load::<Uuid>(conn)
        .await?
        .into_iter()
        .collect())
}
