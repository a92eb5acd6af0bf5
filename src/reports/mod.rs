//! Unit reports and their review workflow.

pub mod workflow;
