//! Saved form versions never change (a change is a new version), so each is read and
//! parsed once per process and shared from memory afterwards.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::FormVersion;
use super::store;
use crate::error::ApiResult;

#[derive(Default)]
pub struct FormCache {
    forms: RwLock<HashMap<Uuid, Arc<FormVersion>>>,
}

impl FormCache {
    pub async fn get(&self, conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Arc<FormVersion>> {
        if let Ok(map) = self.forms.read()
            && let Some(f) = map.get(&id)
        {
            return Ok(f.clone());
        }
        let form = Arc::new(store::get_form_by_id(conn, id).await?);
        if let Ok(mut map) = self.forms.write() {
            // Forms are few (a handful per plan); the bound only guards against surprises.
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(id, form.clone());
        }
        Ok(form)
    }

    /// The plan's current form version, if any (the lookup of which version is current
    /// is a query; the form itself comes from memory).
    pub async fn current(
        &self,
        conn: &mut AsyncPgConnection,
        plan_id: Uuid,
    ) -> ApiResult<Option<Arc<FormVersion>>> {
        match store::current_form_id(conn, plan_id).await? {
            Some(id) => Ok(Some(self.get(conn, id).await?)),
            None => Ok(None),
        }
    }
}
