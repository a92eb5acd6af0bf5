//! The organisation tree: a department and its offices and subordinate units (and a
//! city above several departments). Units are deactivated, never deleted.

pub mod model;
pub mod routes;
pub mod store;
