//! The rules of task progress inside a report (`ReportData::tasks`): a unit reports on
//! its own tasks only — as lead unit with a status, as cooperating unit with a note —
//! for tasks the period spans; and a submission carries a status for every task the
//! unit leads in the period. Checked on every save and again on submission, in the
//! report's transaction, so the report workflow (If-Match, frozen revisions, returns)
//! carries progress with the rest of the report.

use std::collections::HashSet;

use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::TaskProgress;
use super::store::{self, TaskRow};
use crate::error::{ApiError, ApiResult, Issue};
use crate::plans::form::ReportData;

/// The longest note a unit may write on a task.
pub const MAX_NOTE: usize = 4000;

/// The task with this code if the unit reports on it in the period — it leads or helps
/// with it, and the period is one the task spans — or the issue at `path` saying why
/// not. Progress entries and the files attached to them follow this one rule.
pub fn unit_task<'a>(
    tasks: &'a [TaskRow],
    code: &str,
    unit_id: Uuid,
    period_id: Uuid,
    path: &str,
) -> Result<&'a TaskRow, Issue> {
    let Some(task) = tasks.iter().find(|t| t.code == code) else {
        return Err(Issue::new(
            path,
            "unknown_task",
            format!("the plan has no task {code:?}"),
        )
        .vi(format!("Kế hoạch không có nhiệm vụ mã {code:?}")));
    };
    if task.lead_unit_id != unit_id && !task.cooperating_unit_ids.contains(&unit_id) {
        return Err(Issue::new(
            path,
            "not_your_task",
            format!("the unit neither leads nor helps with task {}", task.code),
        )
        .vi(format!(
            "Đơn vị không chủ trì cũng không phối hợp thực hiện nhiệm vụ {}",
            task.code
        )));
    }
    if !task.spans(period_id) {
        return Err(Issue::new(
            path,
            "task_not_in_period",
            format!("task {} is not reported on in this period", task.code),
        )
        .vi(format!("Nhiệm vụ {} không thuộc kỳ báo cáo này", task.code)));
    }
    Ok(task)
}

/// The issues of a unit's progress entries against the plan's tasks; with `submitting`,
/// also every task the unit leads in the period that has no status.
pub fn check(
    tasks: &[TaskRow],
    unit_id: Uuid,
    period_id: Uuid,
    entries: &[TaskProgress],
    submitting: bool,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut seen = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        let at = |member: &str| format!("tasks[{i}].{member}");
        let task = match unit_task(tasks, &e.task, unit_id, period_id, &at("task")) {
            Ok(task) => task,
            Err(issue) => {
                issues.push(issue);
                continue;
            }
        };
        if !seen.insert(task.code.as_str()) {
            issues.push(
                Issue::new(
                    at("task"),
                    "duplicate_task",
                    format!("task {} is reported on twice", task.code),
                )
                .vi(format!("Nhiệm vụ {} được báo cáo hai lần", task.code)),
            );
        }
        let lead = task.lead_unit_id == unit_id;
        if !lead && e.status.is_some() {
            issues.push(
                Issue::new(
                    at("status"),
                    "lead_unit_only",
                    "only the lead unit gives a task's status; a cooperating unit adds a note",
                )
                .vi("Chỉ đơn vị chủ trì báo cáo trạng thái nhiệm vụ; đơn vị phối hợp chỉ ghi ý kiến"),
            );
        }
        if e.note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE)
        {
            issues.push(
                Issue::new(
                    at("note"),
                    "too_long",
                    format!("at most {MAX_NOTE} characters"),
                )
                .vi(format!("Tối đa {MAX_NOTE} ký tự")),
            );
        }
    }
    if submitting {
        for task in tasks
            .iter()
            .filter(|t| t.lead_unit_id == unit_id && t.spans(period_id))
        {
            let reported = entries
                .iter()
                .any(|e| e.task == task.code && e.status.is_some());
            if !reported {
                issues.push(
                    Issue::new(
                        "tasks",
                        "task_status_missing",
                        format!("the unit leads task {} and must give its status", task.code),
                    )
                    .vi(format!(
                        "Đơn vị chủ trì nhiệm vụ {} nên phải báo cáo trạng thái thực hiện",
                        task.code
                    )),
                );
            }
        }
    }
    issues
}

/// The check of a report's task progress, inside the report write's transaction: a 422
/// naming every failing entry. A draft without progress needs no look-up.
pub async fn check_report(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    period_id: Uuid,
    unit_id: Uuid,
    data: &ReportData,
    submitting: bool,
) -> ApiResult<()> {
    if data.tasks.is_empty() && !submitting {
        return Ok(());
    }
    let tasks = store::list(conn, plan_id).await?;
    let issues = check(&tasks, unit_id, period_id, &data.tasks, submitting);
    if issues.is_empty() {
        return Ok(());
    }
    let n = issues.len();
    let detail = if submitting {
        format!("the report cannot be submitted: {n} problem(s) with task progress")
    } else {
        format!("{n} task progress entr(y/ies) do not match the plan's tasks")
    };
    Err(ApiError::validation(detail, issues))
}

/// The dry run's share: the issues a submission of `data` would meet, added to the
/// form's validation `result`.
pub async fn dry_run(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
    period_id: Uuid,
    unit_id: Uuid,
    data: &ReportData,
    result: &mut crate::plans::form::ValidationResult,
) -> ApiResult<()> {
    let tasks = store::list(conn, plan_id).await?;
    let issues = check(&tasks, unit_id, period_id, &data.tasks, true);
    if !issues.is_empty() {
        result.valid = false;
        result.errors.extend(issues);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tasks::model::TaskStatus;
    use chrono::Utc;

    fn task(code: &str, lead: Uuid, helpers: Vec<Uuid>, periods: Vec<Uuid>) -> TaskRow {
        TaskRow {
            id: Uuid::now_v7(),
            plan_id: Uuid::nil(),
            code: code.into(),
            title_vi: code.into(),
            description_vi: String::new(),
            plan_section: String::new(),
            lead_unit_id: lead,
            cooperating_unit_ids: helpers,
            due_date: None,
            period_ids: periods,
            expected_output: String::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn entry(code: &str, status: Option<TaskStatus>, note: Option<&str>) -> TaskProgress {
        TaskProgress {
            task: code.into(),
            status,
            note: note.map(str::to_string),
        }
    }

    fn codes(issues: &[Issue]) -> Vec<(String, String)> {
        issues
            .iter()
            .map(|i| (i.path.clone(), i.code.clone()))
            .collect()
    }

    #[test]
    fn a_unit_reports_on_its_own_tasks_only_and_helpers_give_no_status() {
        let (lead, helper, peer, period) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let tasks = [task("T1", lead, vec![helper], vec![])];
        let ok = [entry("T1", Some(TaskStatus::Done), Some("xong"))];
        assert!(check(&tasks, lead, period, &ok, true).is_empty());
        assert!(
            check(
                &tasks,
                helper,
                period,
                &[entry("T1", None, Some("đã phối hợp"))],
                true
            )
            .is_empty()
        );
        assert_eq!(
            codes(&check(&tasks, helper, period, &ok, false)),
            [("tasks[0].status".to_string(), "lead_unit_only".to_string())]
        );
        assert_eq!(
            codes(&check(&tasks, peer, period, &ok, false)),
            [("tasks[0].task".to_string(), "not_your_task".to_string())]
        );
        assert_eq!(
            codes(&check(
                &tasks,
                lead,
                period,
                &[entry("T9", None, None)],
                false
            )),
            [("tasks[0].task".to_string(), "unknown_task".to_string())]
        );
        assert_eq!(
            codes(&check(
                &tasks,
                lead,
                period,
                &[ok[0].clone(), ok[0].clone()],
                false
            )),
            [("tasks[1].task".to_string(), "duplicate_task".to_string())]
        );
        let long = "x".repeat(MAX_NOTE + 1);
        assert_eq!(
            codes(&check(
                &tasks,
                lead,
                period,
                &[entry("T1", None, Some(&long))],
                false
            )),
            [("tasks[0].note".to_string(), "too_long".to_string())]
        );
    }

    #[test]
    fn a_submission_needs_a_status_for_every_task_the_unit_leads_in_the_period() {
        let (lead, period, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let tasks = [
            task("T1", lead, vec![], vec![]),
            task("T2", lead, vec![], vec![other]),
        ];
        // A draft may leave it out; a submission may not; a task of another period
        // needs nothing here and takes nothing.
        assert!(check(&tasks, lead, period, &[], false).is_empty());
        assert_eq!(
            codes(&check(
                &tasks,
                lead,
                period,
                &[entry("T1", None, Some("…"))],
                true
            )),
            [("tasks".to_string(), "task_status_missing".to_string())]
        );
        assert_eq!(
            codes(&check(
                &tasks,
                lead,
                period,
                &[entry("T2", Some(TaskStatus::Done), None)],
                false
            )),
            [(
                "tasks[0].task".to_string(),
                "task_not_in_period".to_string()
            )]
        );
    }
}
