//! `POST /api/v1/periods/{period_id}/reports:batch`: many units' drafts, and
//! optionally their submissions, in one request. Each item is addressed by unit code
//! and carries its own `if_match`; each runs in a transaction of its own through the
//! same steps as `PUT …/reports/{unit}` and `POST …/submit` (`routes::save_draft_in`,
//! `routes::submit_in`), so one refused item leaves the others as they went. A dry run
//! takes every step and rolls each transaction back.

use std::collections::{BTreeMap, HashSet};

use actix_web::{HttpRequest, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::routes::{Target, etag, save_draft_in, submit_in, target};
use super::store::{self, ReportRow};
use super::workflow::ReportStatus;
use crate::AppState;
use crate::audit::By;
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult, Issue, Problem};
use crate::plans::form::ReportData;

/// The most items one batch may hold; split larger imports into several requests.
pub const MAX_BATCH_ITEMS: usize = 100;

/// Many units' reports of one period at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Check every item and answer what would happen, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// One to 100 items, processed in order, each on its own.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<BatchItem>,
}

/// One unit's draft, its submission, or both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    /// The unit, by code (or id); at most one item per unit.
    pub unit: String,
    /// The report's `ETag` as last read, as `If-Match` carries it in a single call:
    /// required to change an existing report, and to submit a stored one unchanged
    /// by this item; omitted to create the report. One that is not an ETag refuses
    /// its item (412), as a stale one does.
    pub if_match: Option<String>,
    /// The draft's top-level values, as in the body of `PUT …/reports/{unit}`. With
    /// `lists`, they replace the draft's figures; omit both to leave them as they are.
    pub values: Option<Map<String, Value>>,
    /// The draft's repeatable lists, as in the body of `PUT …/reports/{unit}`.
    pub lists: Option<BTreeMap<String, Vec<Map<String, Value>>>>,
    /// The draft's task progress, as in the body of `PUT …/reports/{unit}`; omitted,
    /// the draft keeps the progress it has (a figures import does not erase it).
    pub tasks: Option<Vec<crate::tasks::model::TaskProgress>>,
    /// Submit the report after saving it. The save and the submission stand or fall
    /// together: a report that cannot be submitted is not saved either.
    #[serde(default)]
    pub submit: bool,
}

/// What an item did (or, in a dry run, would do).
#[derive(Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The report was created as a draft.
    Created,
    /// The draft's data was replaced.
    Updated,
    /// The report was submitted (created or updated first when the item had data).
    Submitted,
    /// The data sent equals the stored data and nothing was submitted: nothing written.
    Unchanged,
    /// Nothing was written; `problem` says why, as a single call would.
    Refused,
}

/// The result of one item.
#[derive(Serialize, ToSchema)]
pub struct BatchItemResult {
    /// The item's position in the request, from 0.
    pub index: usize,
    /// The unit as the item named it.
    pub unit: String,
    pub outcome: Outcome,
    /// The report's status after the item; null when refused or when there is no report.
    #[schema(required = true)]
    pub status: Option<ReportStatus>,
    /// The report's new `ETag`, for the next write; null when refused and in a dry run.
    #[schema(required = true)]
    pub etag: Option<String>,
    /// The latest revision number after the item (one per submission).
    #[schema(required = true)]
    pub revision: Option<i32>,
    /// The warnings of the item's submission (rules of severity `warning`), as the
    /// submitted report lists them; empty otherwise.
    pub warnings: Vec<Issue>,
    /// Why the item was refused: the problem a single call would have answered.
    pub problem: Option<Problem>,
}

/// How many items ended which way.
#[derive(Serialize, ToSchema, Default)]
pub struct BatchSummary {
    pub created: usize,
    pub updated: usize,
    pub submitted: usize,
    pub unchanged: usize,
    pub refused: usize,
}

/// The import summary.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub dry_run: bool,
    pub summary: BatchSummary,
    /// One result per item, in the request's order.
    pub items: Vec<BatchItemResult>,
}

/// How an item's transaction ends: refused (rolled back), or a dry run's result
/// (rolled back too).
enum Stop {
    Refused(ApiError),
    DryRun(Box<Done>),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Refused(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Refused(e.into())
    }
}

struct Done {
    outcome: Outcome,
    row: Option<ReportRow>,
    warnings: Vec<Issue>,
}

impl BatchItem {
    /// The draft the item sends, if it sends one; without `tasks`, the progress of the
    /// stored draft is kept.
    fn data(&self, stored: Option<&ReportRow>) -> ApiResult<Option<ReportData>> {
        if self.values.is_none() && self.lists.is_none() && self.tasks.is_none() {
            return Ok(None);
        }
        let tasks = match (&self.tasks, stored) {
            (Some(tasks), _) => tasks.clone(),
            (None, Some(row)) => row.data()?.tasks,
            (None, None) => Vec::new(),
        };
        let (values, lists) = match (&self.values, &self.lists, stored) {
            // Only progress sent: the figures stay as they are.
            (None, None, Some(row)) => {
                let d = row.data()?;
                (d.values, d.lists)
            }
            (values, lists, _) => (
                values.clone().unwrap_or_default(),
                lists.clone().unwrap_or_default(),
            ),
        };
        Ok(Some(ReportData {
            values,
            lists,
            tasks,
        }))
    }
}

/// Saves many units' drafts of a period, and submits them when asked, in one request.
/// Each item is refused or carried out on its own, in a transaction of its own, with
/// the checks and the answers of the single calls (`PUT …/reports/{unit}`, `POST
/// …/submit`): a unit outside the caller's scope is refused with 404, a stale
/// `if_match` with 412, a value that breaks the form with 422, while the other items
/// go through. With `dry_run`, every item is checked and the answer says what would
/// happen; nothing is written. At most 100 items (`MAX_BATCH_ITEMS`).
#[utoipa::path(
    operation_id = "importReports",
    tag = "reports",
    params(("period_id" = Uuid, Path, description = "Period id")),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Every item's outcome; refused items carry their problem", body = BatchResult),
        (status = 404, description = "No such period in the caller's scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No items, more than 100 (`too_many_items`), or an item that is not an object of the documented shape", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/periods/{period_id}/reports:batch")]
pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    period_id: web::Path<Uuid>,
    body: crate::extract::Json<BatchRequest>,
) -> ApiResult<web::Json<BatchResult>> {
    policy::require(&actor, Action::EditReport)?;
    let body = body.into_inner();
    if body.items.iter().any(|i| i.submit) {
        policy::require(&actor, Action::SubmitReport)?;
    }
    if body.items.is_empty() {
        return Err(ApiError::invalid_field(
            "body.items",
            "too_short",
            "send at least one item",
        ));
    }
    if body.items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid_field(
            "body.items",
            "too_many_items",
            format!(
                "at most {MAX_BATCH_ITEMS} items in one batch, not {}; split the import",
                body.items.len()
            ),
        ));
    }
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    // A period the caller cannot see refuses the whole batch, as it would each item.
    crate::plans::routes::readable_period(&mut conn, &actor, *period_id).await?;
    let mut seen = HashSet::new();
    let mut summary = BatchSummary::default();
    let mut items = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.iter().enumerate() {
        let ended = run_item(
            &mut conn,
            &state,
            &actor,
            &by,
            *period_id,
            (index, item),
            body.dry_run,
            &mut seen,
        )
        .await;
        let result = match ended {
            Ok(done) => BatchItemResult {
                index,
                unit: item.unit.clone(),
                outcome: done.outcome,
                status: done.row.as_ref().map(ReportRow::status),
                etag: done.row.as_ref().filter(|_| !body.dry_run).map(etag),
                revision: done.row.as_ref().and_then(|r| r.revision),
                warnings: done.warnings,
                problem: None,
            },
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::warn!(error = %e, index, "a batch item failed");
                }
                BatchItemResult {
                    index,
                    unit: item.unit.clone(),
                    outcome: Outcome::Refused,
                    status: None,
                    etag: None,
                    revision: None,
                    warnings: Vec::new(),
                    problem: Some(e.problem_for(&req)),
                }
            }
        };
        match result.outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Updated => summary.updated += 1,
            Outcome::Submitted => summary.submitted += 1,
            Outcome::Unchanged => summary.unchanged += 1,
            Outcome::Refused => summary.refused += 1,
        }
        items.push(result);
    }
    Ok(web::Json(BatchResult {
        dry_run: body.dry_run,
        summary,
        items,
    }))
}

/// One item, in a transaction of its own.
#[allow(clippy::too_many_arguments)]
async fn run_item(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    actor: &Actor,
    by: &By,
    period_id: Uuid,
    (index, item): (usize, &BatchItem),
    dry_run: bool,
    seen: &mut HashSet<Uuid>,
) -> ApiResult<Done> {
    let t = target(conn, actor, period_id, &item.unit).await?;
    if !seen.insert(t.unit.id) {
        return Err(ApiError::invalid_field(
            &format!("body.items[{index}].unit"),
            "duplicate",
            format!(
                "unit {} has an earlier item in this batch; send one item per unit",
                t.unit.code
            ),
        ));
    }
    let ended = conn
        .transaction::<Done, Stop, _>(async |conn| {
            let done = carry_out(conn, state, actor, by, &t, item).await?;
            if dry_run {
                Err(Stop::DryRun(Box::new(done)))
            } else {
                Ok(done)
            }
        })
        .await;
    match ended {
        Ok(done) => Ok(done),
        Err(Stop::DryRun(done)) => Ok(*done),
        Err(Stop::Refused(e)) => Err(e),
    }
}

/// The item's save and submission, inside its transaction.
async fn carry_out(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    actor: &Actor,
    by: &By,
    t: &Target,
    item: &BatchItem,
) -> ApiResult<Done> {
    let mut row = store::find(conn, t.period.id, t.unit.id, false).await?;
    // Read unlocked: a draft changed before the save locks it fails `if_match` there.
    let mut data = item.data(row.as_ref())?;
    // Compared with the stored data as the save would store it: with the computed
    // fields derived, so a script that leaves them out is not a change.
    if let (Some(d), Some(r)) = (&data, &row) {
        let form = state.forms.get(conn, r.form_id).await?;
        if let Some(derived) = form.definition.derive(d) {
            data = Some(derived);
        }
    }
    let data_json = match &data {
        Some(d) => Some(serde_json::to_value(d).map_err(ApiError::internal)?),
        None => None,
    };
    let data = data.as_ref().zip(data_json.as_ref());
    let mut outcome = Outcome::Unchanged;
    let mut warnings = Vec::new();
    // The version a submission must find: the one this item wrote or found equal to
    // what it sent, or else the one the caller names.
    let mut submit_tag = item.if_match.clone();
    if let Some((data, data_json)) = data {
        match row.as_ref().filter(|r| &r.data == data_json) {
            // The same data again: nothing to write, and nothing a stale tag could lose.
            Some(same) => submit_tag = Some(etag(same)),
            None => {
                let (saved, created) = save_draft_in(
                    conn,
                    &state.forms,
                    actor,
                    by,
                    t,
                    item.if_match.as_deref(),
                    data,
                    data_json,
                    None,
                )
                .await?;
                outcome = if created {
                    Outcome::Created
                } else {
                    Outcome::Updated
                };
                submit_tag = Some(etag(&saved));
                row = Some(saved);
            }
        }
    }
    if item.submit {
        let (submitted, found) = submit_in(
            conn,
            &state.forms,
            actor,
            by,
            t,
            submit_tag.as_deref(),
            None,
        )
        .await?;
        outcome = Outcome::Submitted;
        row = Some(submitted);
        warnings = found.warnings;
    }
    Ok(Done {
        outcome,
        row,
        warnings,
    })
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import);
}
