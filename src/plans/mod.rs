//! Plans and what they own: the report form (data, versioned), indicators and periods.

pub mod cache;
pub mod copy;
pub mod expected;
pub mod form;
pub mod indicator;
pub mod logic;
pub mod model;
pub mod period;
pub mod routes;
pub mod store;
pub mod versions;
