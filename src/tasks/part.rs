//! The tasks part of a compilation: the plan's tasks of the period led by units of the
//! compiled subtree, each with its lead unit's status from the counted reports, whether
//! it is overdue, and every counted unit's notes on it — then the same as spreadsheet
//! tables (CSV, XLSX) and as a block of the DOCX draft.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{TaskLine, TaskNote, TaskProgress, TaskStatus, TaskStatusCount, TasksPart};
use super::store::{self, TaskRow};
use crate::compile::export::{Cell, Table};
use crate::compile::model::UnitRef;
use crate::error::ApiResult;
use crate::org::store::Row as UnitRow;
use crate::plans::store::{self as plan_store, PeriodFilter, PeriodRow, PlanRow};

/// The `status` of tasks whose lead unit reported none among the counted reports.
pub const NOT_REPORTED: &str = "not_reported";
const NOT_REPORTED_VI: &str = "Chưa báo cáo";

/// Reads and assembles the part for one period and subtree.
pub async fn compile(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
) -> ApiResult<TasksPart> {
    let tasks: Vec<TaskRow> = store::list(conn, plan.id)
        .await?
        .into_iter()
        .filter(|t| t.spans(period.id))
        .collect();
    if tasks.is_empty() {
        return Ok(assemble(&[], &HashMap::new(), &[], &HashMap::new(), period));
    }
    let lead_ids: Vec<Uuid> = tasks.iter().map(|t| t.lead_unit_id).collect();
    let leads: HashMap<Uuid, UnitRef> = store::units(conn, &lead_ids)
        .await?
        .into_iter()
        .filter(|u| u.path.starts_with(&root.path))
        .map(|u| (u.id, crate::compile::unit_ref(&u)))
        .collect();
    let windows: HashMap<Uuid, NaiveDate> = plan_store::list_periods(
        conn,
        &PeriodFilter {
            plan_id: Some(plan.id),
            code: None,
            kind: None,
            status: None,
        },
    )
    .await?
    .into_iter()
    .map(|(p, _)| (p.id, p.window_end))
    .collect();
    let statuses = crate::compile::maths::included_statuses(include_submitted);
    let progress: Vec<(UnitRef, Vec<TaskProgress>)> =
        store::progress(conn, period.id, &statuses, &root.path)
            .await?
            .into_iter()
            .map(|r| {
                let entries = serde_json::from_value(r.tasks).unwrap_or_default();
                (
                    UnitRef {
                        id: r.unit_id,
                        code: r.unit_code,
                        name: r.unit_name,
                    },
                    entries,
                )
            })
            .collect();
    Ok(assemble(&tasks, &leads, &progress, &windows, period))
}

/// A task's due date, or else the end of the data window of the last period it spans.
fn due(task: &TaskRow, windows: &HashMap<Uuid, NaiveDate>) -> Option<NaiveDate> {
    task.due_date.or_else(|| {
        task.period_ids
            .iter()
            .filter_map(|p| windows.get(p))
            .max()
            .copied()
    })
}

/// The part from the tasks of the period, their lead units inside the subtree (tasks
/// led elsewhere are left out), and the counted reports' progress entries.
pub fn assemble(
    tasks: &[TaskRow],
    leads: &HashMap<Uuid, UnitRef>,
    progress: &[(UnitRef, Vec<TaskProgress>)],
    windows: &HashMap<Uuid, NaiveDate>,
    period: &PeriodRow,
) -> TasksPart {
    let mut lines = Vec::new();
    for task in tasks {
        let Some(lead) = leads.get(&task.lead_unit_id) else {
            continue;
        };
        let mut status = None;
        let mut notes = Vec::new();
        for (unit, entries) in progress {
            for e in entries.iter().filter(|e| e.task == task.code) {
                let is_lead = unit.id == task.lead_unit_id;
                if is_lead {
                    status = e.status.or(status);
                }
                if let Some(note) = e.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    notes.push(TaskNote {
                        unit: unit.clone(),
                        lead: is_lead,
                        note: note.to_string(),
                    });
                }
            }
        }
        // The lead unit's note first, then the helpers' in unit order.
        notes.sort_by(|a, b| b.lead.cmp(&a.lead).then(a.unit.code.cmp(&b.unit.code)));
        let due = due(task, windows);
        let overdue = due.is_some_and(|d| d <= period.window_end)
            && !status.is_some_and(TaskStatus::is_closed);
        lines.push(TaskLine {
            code: task.code.clone(),
            title_vi: task.title_vi.clone(),
            plan_section: task.plan_section.clone(),
            lead_unit: lead.clone(),
            due,
            status,
            overdue,
            notes,
        });
    }
    let mut by_status: Vec<TaskStatusCount> = TaskStatus::ALL
        .iter()
        .map(|s| TaskStatusCount {
            status: s.as_str().to_string(),
            label_vi: s.label_vi().to_string(),
            count: lines.iter().filter(|l| l.status == Some(*s)).count() as i64,
        })
        .collect();
    by_status.push(TaskStatusCount {
        status: NOT_REPORTED.to_string(),
        label_vi: NOT_REPORTED_VI.to_string(),
        count: lines.iter().filter(|l| l.status.is_none()).count() as i64,
    });
    TasksPart {
        total: lines.len() as i64,
        by_status,
        overdue: lines
            .iter()
            .filter(|l| l.overdue)
            .map(|l| l.code.clone())
            .collect(),
        tasks: lines,
    }
}

fn status_vi(s: Option<TaskStatus>) -> &'static str {
    s.map_or(NOT_REPORTED_VI, TaskStatus::label_vi)
}

fn date_vi(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// The part as spreadsheet tables: counts by status, every task, and the notes.
pub fn tables(part: &TasksPart) -> Vec<Table> {
    vec![
        Table {
            name: "Nhiệm vụ - trạng thái",
            headers: vec!["Trạng thái", "Mã", "Số nhiệm vụ"],
            rows: part
                .by_status
                .iter()
                .map(|s| {
                    vec![
                        text(s.label_vi.clone()),
                        text(s.status.clone()),
                        Cell::Number(s.count as f64),
                    ]
                })
                .collect(),
        },
        Table {
            name: "Nhiệm vụ",
            headers: vec![
                "Mã nhiệm vụ",
                "Nhiệm vụ",
                "Mục kế hoạch",
                "Mã đơn vị chủ trì",
                "Đơn vị chủ trì",
                "Thời hạn",
                "Trạng thái",
                "Quá hạn",
            ],
            rows: part
                .tasks
                .iter()
                .map(|t| {
                    vec![
                        text(t.code.clone()),
                        text(t.title_vi.clone()),
                        text(t.plan_section.clone()),
                        text(t.lead_unit.code.clone()),
                        text(t.lead_unit.name.clone()),
                        text(date_vi(t.due)),
                        text(status_vi(t.status)),
                        text(if t.overdue { "Quá hạn" } else { "" }),
                    ]
                })
                .collect(),
        },
        Table {
            name: "Nhiệm vụ - ý kiến",
            headers: vec!["Mã nhiệm vụ", "Mã đơn vị", "Đơn vị", "Vai trò", "Ý kiến"],
            rows: part
                .tasks
                .iter()
                .flat_map(|t| {
                    t.notes.iter().map(move |n| {
                        vec![
                            text(t.code.clone()),
                            text(n.unit.code.clone()),
                            text(n.unit.name.clone()),
                            text(if n.lead { "Chủ trì" } else { "Phối hợp" }),
                            text(n.note.clone()),
                        ]
                    })
                })
                .collect(),
        },
    ]
}

/// A paragraph of the DOCX body in one of the document's styles (`Heading`, `Body`).
fn paragraph(style: &str, runs: &[(&str, bool)]) -> String {
    use crate::compile::docx::escape;
    let runs: String = runs
        .iter()
        .map(|(t, italic)| {
            let props = if *italic {
                "<w:rPr><w:i/><w:iCs/></w:rPr>"
            } else {
                ""
            };
            format!(
                r#"<w:r>{props}<w:t xml:space="preserve">{}</w:t></w:r>"#,
                escape(t)
            )
        })
        .collect();
    format!(r#"<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr>{runs}</w:p>"#)
}

/// The tasks block of the DOCX draft (WordprocessingML body paragraphs): a heading
/// under section III, the counts by status, the overdue tasks, then each task with its
/// status and the units' notes.
pub fn docx_body(part: &TasksPart) -> String {
    let mut out = vec![paragraph(
        "Heading",
        &[("4. Kết quả thực hiện các nhiệm vụ của Kế hoạch", true)],
    )];
    if part.tasks.is_empty() {
        out.push(paragraph(
            "Body",
            &[(
                "Kế hoạch không giao nhiệm vụ cho các đơn vị trong kỳ này.",
                false,
            )],
        ));
        return out.concat();
    }
    let counts = part
        .by_status
        .iter()
        .filter(|s| s.count > 0)
        .map(|s| format!("{} {}", s.count, s.label_vi.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ");
    out.push(paragraph(
        "Body",
        &[(
            &format!("Tổng số {} nhiệm vụ: {counts}.", part.total),
            false,
        )],
    ));
    if part.overdue.is_empty() {
        out.push(paragraph("Body", &[("Không có nhiệm vụ quá hạn.", false)]));
    } else {
        out.push(paragraph(
            "Body",
            &[(
                &format!(
                    "Nhiệm vụ quá hạn chưa hoàn thành: {}.",
                    part.overdue.join(", ")
                ),
                false,
            )],
        ));
    }
    for t in &part.tasks {
        let due = t
            .due
            .map(|d| format!("; thời hạn {}", date_vi(Some(d))))
            .unwrap_or_default();
        let late = if t.overdue { " (quá hạn)" } else { "" };
        out.push(paragraph(
            "Body",
            &[
                (&format!("- {} {}: ", t.code, t.title_vi), true),
                (
                    &format!(
                        "{} chủ trì{due}; {}{late}.",
                        t.lead_unit.name,
                        status_vi(t.status).to_lowercase()
                    ),
                    false,
                ),
            ],
        ));
        for n in &t.notes {
            let role = if n.lead { "chủ trì" } else { "phối hợp" };
            out.push(paragraph(
                "Body",
                &[
                    (&format!("+ {} ({role}): ", n.unit.name), true),
                    (&n.note, false),
                ],
            ));
        }
    }
    out.concat()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn unit(code: &str) -> UnitRef {
        UnitRef {
            id: Uuid::now_v7(),
            code: code.into(),
            name: format!("Phòng {code}"),
        }
    }

    fn task(code: &str, lead: &UnitRef, due_date: Option<NaiveDate>) -> TaskRow {
        TaskRow {
            id: Uuid::now_v7(),
            plan_id: Uuid::nil(),
            code: code.into(),
            title_vi: format!("Nhiệm vụ {code}"),
            description_vi: String::new(),
            plan_section: "III.1".into(),
            lead_unit_id: lead.id,
            cooperating_unit_ids: vec![],
            due_date,
            period_ids: vec![],
            expected_output: String::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    fn period() -> PeriodRow {
        let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day).unwrap();
        PeriodRow {
            id: Uuid::now_v7(),
            plan_id: Uuid::nil(),
            kind: "semi_annual".into(),
            code: "2024S1".into(),
            name: "6 tháng đầu năm 2024".into(),
            window_start: d(1, 1),
            window_end: d(5, 15),
            due_date: d(5, 20),
            status: "open".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        }
    }

    #[test]
    fn tasks_are_counted_by_the_lead_units_status_and_late_when_due_and_not_closed() {
        let (a, b, outside) = (unit("A"), unit("B"), unit("X"));
        let d = |m, day| NaiveDate::from_ymd_opt(2024, m, day);
        let tasks = [
            task("T1", &a, d(3, 31)),
            task("T2", &a, d(3, 31)),
            task("T3", &b, d(12, 31)),
            task("T4", &b, d(1, 31)),
            task("T5", &outside, None),
        ];
        let leads = HashMap::from([(a.id, a.clone()), (b.id, b.clone())]);
        let entry = |code: &str, status, note: Option<&str>| TaskProgress {
            task: code.into(),
            status,
            note: note.map(str::to_string),
        };
        let progress = vec![
            (
                a.clone(),
                vec![
                    entry("T1", Some(TaskStatus::Done), Some("Đã kiện toàn Ban")),
                    entry("T2", Some(TaskStatus::InProgress), None),
                    entry("T3", None, Some("Đã cử cán bộ phối hợp")),
                ],
            ),
            (
                b.clone(),
                vec![entry("T3", Some(TaskStatus::InProgress), Some("Đang làm"))],
            ),
        ];
        let part = assemble(&tasks, &leads, &progress, &HashMap::new(), &period());
        assert_eq!(part.total, 4, "a task led outside the subtree is left out");
        let count = |s: &str| part.by_status.iter().find(|c| c.status == s).unwrap().count;
        assert_eq!(
            (count("done"), count("in_progress"), count(NOT_REPORTED)),
            (1, 2, 1)
        );
        assert_eq!(part.overdue, ["T2", "T4"]);
        let t3 = part.tasks.iter().find(|t| t.code == "T3").unwrap();
        let notes: Vec<(&str, bool)> = t3
            .notes
            .iter()
            .map(|n| (n.unit.code.as_str(), n.lead))
            .collect();
        assert_eq!(notes, [("B", true), ("A", false)]);
        let xml = docx_body(&part);
        assert!(
            xml.contains("Nhiệm vụ quá hạn chưa hoàn thành: T2, T4."),
            "{xml}"
        );
        assert!(xml.contains("Đã cử cán bộ phối hợp"));
        let t = tables(&part);
        assert_eq!(t[1].rows.len(), 4);
        assert_eq!(t[2].rows.len(), 3);
    }
}
