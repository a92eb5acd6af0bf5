//! Unit reports and their review workflow: drafts, validation, submission with
//! immutable revisions, and the coordinating office's review.

pub mod batch;
pub mod model;
pub mod routes;
pub mod store;
pub mod workflow;
