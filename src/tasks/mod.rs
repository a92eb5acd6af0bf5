//! Plan tasks (nhiệm vụ): what a plan assigns, to which lead unit, with which
//! cooperating units, by when. Coordinators keep the tasks as data (`routes`, `store`);
//! units report progress inside their report for the period, under the report data's
//! `tasks` member, checked against the plan's tasks on every save and submission
//! (`progress`), so that progress is drafted, submitted, frozen in revisions and
//! reviewed with the report. The compilation's tasks part (`part`) counts tasks by
//! status, lists the overdue ones and gathers the units' notes, in every format.

pub mod demo;
pub mod model;
pub mod part;
pub mod progress;
pub mod routes;
pub mod store;
