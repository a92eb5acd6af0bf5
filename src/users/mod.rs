//! People (users) and machines (service clients): each has exactly one role and one
//! scope unit. Admins manage them; everyone reads and changes their own account.

pub mod model;
pub mod routes;
pub mod store;
