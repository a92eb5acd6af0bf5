//! The integration suite: one binary, every test against the real service on a real
//! PostgreSQL, each with its own database cloned from a migrated template.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod concurrency;
mod demo;
mod fixtures;
mod form_rules;
mod helpers;
mod idempotency;
mod openapi;
mod ops;
mod outage;
mod periods;
mod plans;
mod report_scope;
mod workflow;
