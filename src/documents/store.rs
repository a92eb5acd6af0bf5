//! Document settings queries.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::schema::document_settings;

#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = document_settings)]
pub struct Row {
    pub unit_id: Uuid,
    pub superior_body: String,
    pub issuing_body: String,
    pub abbreviation: String,
    pub place: String,
    pub signer_authority: String,
    pub signer_title: String,
    pub signer_name: String,
    pub recipients: Vec<String>,
    pub drafting_unit: String,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn get(conn: &mut AsyncPgConnection, unit_id: Uuid) -> ApiResult<Option<Row>> {
    Ok(document_settings::table
        .find(unit_id)
        .select(Row::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Stores the unit's settings, replacing any it had.
pub async fn put(conn: &mut AsyncPgConnection, row: &Row) -> ApiResult<Row> {
    Ok(diesel::insert_into(document_settings::table)
        .values(row)
        .on_conflict(document_settings::unit_id)
        .do_update()
        .set(row)
        .returning(Row::as_returning())
        .get_result(conn)
        .await?)
}
