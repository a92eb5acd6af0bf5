//! The integration suite: one binary, every test against the real service on a real
//! PostgreSQL, each with its own database cloned from a migrated template.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod authz;
mod compile;
mod errors;
mod helpers;
mod openapi;
mod ops;
mod org;
mod outage;
mod process;
mod users;
