//! Next year's plan from this year's (`POST /plans/{plan_id}/copy`): one audited call
//! makes a new plan of the same issuing unit and copies what the old one owns, so a
//! coordinating office starts a year by editing what changed rather than re-entering
//! the form, the indicators and the periods.
//!
//! What is copied, in order (each a function below, all in the caller's transaction):
//! the current form (as version 1 of the new plan), the indicators with their targets
//! and sources, the periods shifted by the difference in years (codes and names with
//! the year replaced, windows and due dates moved), each period's expected units where
//! the office had narrowed or widened the default set, each period's reminder schedule,
//! and the plan's data element codes for ADX. A feature that hangs more data on a plan
//! or a period (document settings, tasks, ...) adds its own `copy_*` function and one
//! line in [`copy_owned`]; the answer lists every part with how much was copied.
//! Reports, revisions, due-date extensions and reminders already sent belong to the
//! old year and stay there.

use actix_web::{HttpResponse, post, web};
use chrono::{Months, NaiveDate};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::indicator::Direction;
use super::model::{Plan, PlanStatus};
use super::period;
use super::routes::{check_text, plan_event, writable_plan};
use super::store::{self, IndicatorValues, NewPlanRow, PeriodFilter, PeriodValues, PlanRow};
use crate::AppState;
use crate::audit::{self, By};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{AllFields, ApiError, ApiResult};

/// The new plan's own details; everything else comes from the plan copied.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyPlan {
    /// The new plan's year; not the year of the plan copied.
    #[schema(minimum = 2000, maximum = 2100)]
    #[serde(deserialize_with = "crate::extract::whole::i32")]
    pub year: i32,
    /// The new plan's số ký hiệu; defaults to the old one (numbers restart each
    /// year). The issuing unit must not have a plan with it in the new year yet.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub document_number: Option<String>,
    /// Defaults to the old title with its year replaced by the new one.
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub title: Option<String>,
    pub issue_date: Option<NaiveDate>,
    /// Defaults to the old legal basis (edit it afterwards with `PATCH /plans/{id}`).
    pub legal_basis: Option<String>,
    /// Defaults to `draft`: the plan is being prepared.
    pub status: Option<PlanStatus>,
}

/// One part of a plan that a copy carried over, and how many items of it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct CopiedPart {
    /// `form`, `indicators`, `periods`, `expected_units`, `reminder_schedules`,
    /// `data_element_codes` (more as features add parts to a plan).
    pub part: String,
    pub count: i64,
}

/// The plan made by a copy, and what it got from the old one.
#[derive(Serialize, ToSchema)]
pub struct PlanCopy {
    pub plan: Plan,
    pub copied_from: Uuid,
    pub copied: Vec<CopiedPart>,
}

/// What a copy needs to know beyond the connection.
pub struct CopyRequest<'a> {
    pub year: i32,
    pub document_number: &'a str,
    pub title: Option<&'a str>,
    pub issue_date: Option<NaiveDate>,
    pub legal_basis: Option<&'a str>,
    pub status: PlanStatus,
    /// Display name recorded as the author of copied rows (form, schedules, ...).
    pub by: &'a str,
}

/// `text` with every whole occurrence of the year `from` written as `to`
/// (`2024S1` → `2025S1`, "năm 2024" → "năm 2025"; `12024` stays).
pub fn replace_year(text: &str, from: i32, to: i32) -> String {
    let from = from.to_string();
    let to = to.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(|c| c.is_ascii_digit()) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(&from);
        } else {
            out.push_str(&to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// `date` moved by `years` whole years; 29 February becomes 28 February when the new
/// year has none.
pub fn shift_years(date: NaiveDate, years: i32) -> Option<NaiveDate> {
    let months = Months::new(years.unsigned_abs().checked_mul(12)?);
    if years >= 0 {
        date.checked_add_months(months)
    } else {
        date.checked_sub_months(months)
    }
}

fn part(name: &str, count: impl TryInto<i64>) -> CopiedPart {
    CopiedPart {
        part: name.to_string(),
        count: count.try_into().unwrap_or(i64::MAX),
    }
}

/// Makes the new plan and copies what `source` owns into it; run inside a transaction.
pub async fn copy_plan_in(
    conn: &mut AsyncPgConnection,
    source: &PlanRow,
    req: &CopyRequest<'_>,
) -> ApiResult<(PlanRow, Vec<CopiedPart>)> {
    let title = req
        .title
        .map(str::to_string)
        .unwrap_or_else(|| replace_year(&source.title, source.year, req.year));
    let legal_basis = req.legal_basis.unwrap_or(&source.legal_basis);
    let id = store::insert_plan(
        conn,
        NewPlanRow {
            year: req.year,
            document_number: req.document_number,
            title: &title,
            issue_date: req.issue_date,
            legal_basis: legal_basis.trim(),
            issuing_unit_id: source.issuing_unit_id,
            status: req.status,
            head_sign_off: source.head_sign_off,
        },
    )
    .await?;
    let copied = copy_owned(conn, source, id, req).await?;
    let plan = store::get_plan(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan"))?;
    Ok((plan, copied))
}

/// Every part a plan owns, copied from `source` to the new plan `to`. The place to
/// add a part: one function, one line.
async fn copy_owned(
    conn: &mut AsyncPgConnection,
    source: &PlanRow,
    to: Uuid,
    req: &CopyRequest<'_>,
) -> ApiResult<Vec<CopiedPart>> {
    let mut copied = vec![
        copy_form(conn, source.id, to, req.by).await?,
        copy_indicators(conn, source.id, to).await?,
    ];
    let periods = copy_periods(conn, source, to, req).await?;
    copied.push(part("periods", periods.len()));
    copied.push(copy_expected_units(conn, &periods, req.by).await?);
    copied.push(copy_reminder_schedules(conn, &periods, req.by).await?);
    copied.push(copy_data_element_codes(conn, source.id, to, req.by).await?);
    Ok(copied)
}

async fn copy_form(
    conn: &mut AsyncPgConnection,
    from: Uuid,
    to: Uuid,
    by: &str,
) -> ApiResult<CopiedPart> {
    Ok(match store::get_form(conn, from, None).await? {
        Some(form) => {
            store::insert_form(conn, to, &form.definition, by).await?;
            part("form", 1)
        }
        None => part("form", 0),
    })
}

async fn copy_indicators(
    conn: &mut AsyncPgConnection,
    from: Uuid,
    to: Uuid,
) -> ApiResult<CopiedPart> {
    let indicators = store::list_indicators(conn, from).await?;
    for ind in &indicators {
        store::insert_indicator(
            conn,
            to,
            IndicatorValues {
                code: &ind.code,
                name_vi: &ind.name_vi,
                name_en: &ind.name_en,
                formula: &ind.formula,
                target: ind.target,
                direction: ind.direction.parse().unwrap_or(Direction::AtLeast),
                source: &ind.source,
                // Year targets name absolute years (2025, 2030), so they carry over.
                targets: &ind.year_targets(),
            },
        )
        .await?;
    }
    Ok(part("indicators", indicators.len()))
}

/// The source's periods moved by the difference in years, as (old id, new row).
async fn copy_periods(
    conn: &mut AsyncPgConnection,
    source: &PlanRow,
    to: Uuid,
    req: &CopyRequest<'_>,
) -> ApiResult<Vec<(Uuid, store::PeriodRow)>> {
    let years = req.year - source.year;
    let filter = PeriodFilter {
        plan_id: Some(source.id),
        code: None,
        kind: None,
        status: None,
    };
    let mut old = store::list_periods(conn, &filter).await?;
    // Oldest first, so the new plan's periods are created in the order of the year.
    old.sort_by_key(|(p, _)| (p.window_start, p.due_date, p.code.clone()));
    let mut out = Vec::with_capacity(old.len());
    for (p, _) in old {
        let shift = |d: NaiveDate| {
            shift_years(d, years).ok_or_else(|| {
                ApiError::invalid_field("body.year", "out_of_range", "dates move out of range")
            })
        };
        let mut code = replace_year(&p.code, source.year, req.year);
        if period::check_code(&code).is_err() {
            code = p.code.clone();
        }
        let row = store::insert_period(
            conn,
            to,
            PeriodValues {
                kind: p.kind.parse().unwrap_or(period::PeriodKind::AdHoc),
                code: &code,
                name: &replace_year(&p.name, source.year, req.year),
                window_start: shift(p.window_start)?,
                window_end: shift(p.window_end)?,
                due_date: shift(p.due_date)?,
            },
        )
        .await?;
        // As when a coordinator creates a period: the units hear of the due date.
        crate::notifications::due_date_changed(
            conn,
            row.id,
            &row.code,
            None,
            row.due_date,
            None,
            None,
        )
        .await?;
        out.push((p.id, row));
    }
    Ok(out)
}

/// A new period starts with the default set (the active units of the tree). Where the
/// office had changed the old period's set, the same change is made in the new one: a
/// unit it removed (and did not add back) is removed, a unit it added is added, both
/// with a reason naming the old period. Units that joined the tree since stay expected.
async fn copy_expected_units(
    conn: &mut AsyncPgConnection,
    periods: &[(Uuid, store::PeriodRow)],
    by: &str,
) -> ApiResult<CopiedPart> {
    let mut changed = 0;
    for (old, new) in periods {
        let reason = "Theo kỳ báo cáo năm trước (copied from the previous year's period)";
        changed += diesel::sql_query(
            "UPDATE period_expected_units n SET removed_at = now(), removed_by = $3, \
                 removal_reason = $4 \
             WHERE n.period_id = $2 AND n.removed_at IS NULL \
               AND EXISTS (SELECT 1 FROM period_expected_units o WHERE o.period_id = $1 \
                   AND o.unit_id = n.unit_id AND o.removed_at IS NOT NULL) \
               AND NOT EXISTS (SELECT 1 FROM period_expected_units o WHERE o.period_id = $1 \
                   AND o.unit_id = n.unit_id AND o.removed_at IS NULL)",
        )
        .bind::<SqlUuid, _>(old)
        .bind::<SqlUuid, _>(new.id)
        .bind::<Text, _>(by)
        .bind::<Text, _>(reason)
        .execute(conn)
        .await?;
        changed += diesel::sql_query(
            "INSERT INTO period_expected_units (period_id, unit_id, origin, reason, added_by) \
             SELECT $2, o.unit_id, 'added', $4, $3 FROM period_expected_units o \
             JOIN org_units u ON u.id = o.unit_id AND u.active \
             WHERE o.period_id = $1 AND o.removed_at IS NULL AND o.origin = 'added' \
             ON CONFLICT (period_id, unit_id) WHERE removed_at IS NULL DO NOTHING",
        )
        .bind::<SqlUuid, _>(old)
        .bind::<SqlUuid, _>(new.id)
        .bind::<Text, _>(by)
        .bind::<Text, _>(reason)
        .execute(conn)
        .await?;
    }
    Ok(part("expected_units", changed))
}

async fn copy_reminder_schedules(
    conn: &mut AsyncPgConnection,
    periods: &[(Uuid, store::PeriodRow)],
    by: &str,
) -> ApiResult<CopiedPart> {
    let mut copied = 0;
    for (old, new) in periods {
        copied += diesel::sql_query(
            "INSERT INTO reminder_schedules \
                 (period_id, offsets_days, repeat_every_days, enabled, updated_by) \
             SELECT $2, offsets_days, repeat_every_days, enabled, $3 \
             FROM reminder_schedules WHERE period_id = $1",
        )
        .bind::<SqlUuid, _>(old)
        .bind::<SqlUuid, _>(new.id)
        .bind::<Text, _>(by)
        .execute(conn)
        .await?;
    }
    Ok(part("reminder_schedules", copied))
}

async fn copy_data_element_codes(
    conn: &mut AsyncPgConnection,
    from: Uuid,
    to: Uuid,
    by: &str,
) -> ApiResult<CopiedPart> {
    let copied = diesel::sql_query(
        "INSERT INTO data_element_codes (plan_id, data_set, codes, updated_by) \
         SELECT $2, data_set, codes, $3 FROM data_element_codes WHERE plan_id = $1",
    )
    .bind::<SqlUuid, _>(from)
    .bind::<SqlUuid, _>(to)
    .bind::<Text, _>(by)
    .execute(conn)
    .await?;
    Ok(part("data_element_codes", copied))
}

/// Starts next year's plan from this one: a new plan of the same issuing unit with a
/// copy of the form, the indicators with their targets, the periods moved to the new
/// year (codes, names, data windows and due dates), their expected-unit changes and
/// reminder schedules, and the data element codes. Nothing of the old plan changes;
/// edit what differs afterwards. The number stays unless another is given; a number
/// the issuing unit already uses in the new year is a 409 `document_number_taken`, the
/// year of the plan copied a 422 `same_year` on `body.year`.
#[utoipa::path(
    operation_id = "copyPlan",
    tag = "plans",
    params(("plan_id" = Uuid, Path, description = "The plan to copy")),
    request_body = CopyPlan,
    responses(
        (status = 201, body = PlanCopy),
        (status = 409, description = "The issuing unit has a plan of that year with this number", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/plans/{plan_id}/copy")]
pub async fn copy_plan(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<CopyPlan>,
) -> ApiResult<HttpResponse> {
    policy::require(&actor, Action::ManagePlans)?;
    let body = body.into_inner();
    let (number, title) = (
        body.document_number
            .as_deref()
            .map(|n| check_text("body.document_number", n, 100))
            .transpose(),
        body.title
            .as_deref()
            .map(|t| check_text("body.title", t, 1000))
            .transpose(),
    )
        .all_fields()?;
    if !(2000..=2100).contains(&body.year) {
        return Err(ApiError::invalid_field(
            "body.year",
            "out_of_range",
            "must be between 2000 and 2100",
        ));
    }
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let (plan, source_id, copied) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let source = writable_plan(conn, &actor, *id).await?;
            if source.year == body.year {
                return Err(ApiError::invalid_field(
                    "body.year",
                    "same_year",
                    format!("the plan copied is of {}; choose another year", source.year),
                ));
            }
            let (plan, copied) = copy_plan_in(
                conn,
                &source,
                &CopyRequest {
                    year: body.year,
                    document_number: number.as_deref().unwrap_or(&source.document_number),
                    title: title.as_deref(),
                    issue_date: body.issue_date,
                    legal_basis: body.legal_basis.as_deref(),
                    status: body.status.unwrap_or(PlanStatus::Draft),
                    by: &actor.display_name,
                },
            )
            .await?;
            audit::append(
                conn,
                &by,
                plan_event(
                    "plan.copy",
                    &plan,
                    json!({ "copied_from": source.id, "after": plan.to_api(), "copied": copied }),
                ),
            )
            .await?;
            Ok((plan, source.id, copied))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/plans/{}", plan.id),
        ))
        .json(PlanCopy {
            plan: plan.to_api(),
            copied_from: source_id,
            copied,
        }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_year_is_replaced_where_it_stands_alone() {
        assert_eq!(replace_year("2024S1", 2024, 2025), "2025S1");
        assert_eq!(
            replace_year("Báo cáo năm 2024 (2024-2025)", 2024, 2025),
            "Báo cáo năm 2025 (2025-2025)"
        );
        assert_eq!(replace_year("mã 120245", 2024, 2025), "mã 120245");
        assert_eq!(replace_year("no year", 2024, 2025), "no year");
    }

    #[test]
    fn dates_move_by_whole_years_and_29_february_falls_back() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(shift_years(d(2024, 5, 20), 1), Some(d(2025, 5, 20)));
        assert_eq!(shift_years(d(2024, 2, 29), 1), Some(d(2025, 2, 28)));
        assert_eq!(shift_years(d(2025, 11, 20), -1), Some(d(2024, 11, 20)));
    }
}
