//! The append-only audit log: every write and transition appends one event in the
//! same transaction as the change it records. Nothing updates or deletes events; a
//! database trigger refuses it even to the service.

pub mod routes;
pub mod store;

use uuid::Uuid;

use crate::auth::Actor;

/// Who an event is attributed to.
#[derive(Clone, Debug)]
pub struct By {
    pub kind: &'static str,
    pub id: Option<Uuid>,
    pub name: String,
    pub role: Option<&'static str>,
    pub request_id: Option<String>,
}

impl By {
    /// The service itself, acting from the command line (demo, create-admin).
    pub fn system(name: &str) -> Self {
        By {
            kind: "system",
            id: None,
            name: name.to_string(),
            role: None,
            request_id: None,
        }
    }
}

impl From<&Actor> for By {
    fn from(a: &Actor) -> Self {
        By {
            kind: a.kind.as_str(),
            id: Some(a.id),
            name: a.display_name.clone(),
            role: Some(a.role.as_str()),
            request_id: a.request_id.clone(),
        }
    }
}

/// One event about to be appended.
pub struct Event<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub unit_id: Option<Uuid>,
    pub change: serde_json::Value,
}

pub use store::append;
