//! The integration suite: one binary, every test against the real service on a real
//! PostgreSQL, each with its own database cloned from a migrated template.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attachments;
mod auth;
mod authz;
mod batch;
mod bulk_data;
mod compile;
mod concurrency;
mod contract;
mod demo;
mod documents;
mod errors;
mod expected_units;
mod figures;
mod fixtures;
mod form_rules;
mod hardening;
mod helpers;
mod idempotency;
mod indicators;
mod nextyear;
mod notifications;
mod openapi;
mod ops;
mod org;
mod outage;
mod periods;
mod plans;
mod process;
mod report_scope;
mod sheets;
mod signoff;
mod tasks;
mod users;
mod webhooks;
mod workflow;
