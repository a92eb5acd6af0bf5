//! Bulk data out for programs: the tidy table of every value of a period's reports
//! (`data`: JSON pages, NDJSON, CSV, XLSX), the ADX message national systems import
//! (`adx`) over each plan's mapping of fields to data element codes (`codes`).

pub mod adx;
pub mod codes;
pub mod data;
pub mod routes;
