//! A unit's own report as a document its head signs (`GET …/reports/{unit}/document`):
//! the unit's heading (its document settings), the opening citing the plan, then the
//! form's sections in order — figures in a table, yes/no and choices in words, texts
//! as paragraphs, the activities listed — the unit's progress on the plan's tasks, and
//! the unit's signature block. Written with the same small WordprocessingML writer as
//! the compiled report (`compile::docx`), so both look alike.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::compile::docx::{
    BODY, CENTRE, HEADING, Letter, PLAIN, TEXT_WIDTH, col, data_table, document_part,
    heading_block, in_sentence, money, number, ordinal, package, period_phrase, rule, run,
    short_date, signature_block,
};
use crate::error::ApiResult;
use crate::plans::form::{Field, FieldType, FormDefinition, ReportData};
use crate::tasks::model::TaskProgress;

/// What the document shows of a report besides its data.
pub struct ReportFacts<'a> {
    pub unit_name: &'a str,
    pub period_name: &'a str,
    pub period_code: &'a str,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    /// `draft`, `submitted`, `returned` or `accepted`.
    pub status: &'a str,
    pub revision: Option<i32>,
    /// The titles of the tasks progress names, by code.
    pub task_titles: &'a [(String, String)],
    pub generated_at: DateTime<Utc>,
}

const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

/// A value as the document prints it; `—` when not filled in.
fn shown(field: &Field, v: Option<&Value>) -> String {
    let dash = || "—".to_string();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return dash();
    };
    let label = |code: &str| {
        field
            .options
            .iter()
            .flatten()
            .find(|o| o.code == code)
            .map_or_else(|| code.to_string(), |o| o.label_vi.clone())
    };
    match field.kind {
        FieldType::Integer | FieldType::Decimal => v.as_f64().map_or_else(dash, number),
        FieldType::MoneyVnd => v.as_f64().map_or_else(dash, money),
        FieldType::Boolean => match v.as_bool() {
            Some(true) => "Có".into(),
            Some(false) => "Không".into(),
            None => dash(),
        },
        FieldType::Date => v
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map_or_else(dash, short_date),
        FieldType::Text => v.as_str().map_or_else(dash, |t| t.trim().to_string()),
        FieldType::Choice => v.as_str().map_or_else(dash, label),
        FieldType::MultiChoice => v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(label)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(dash),
    }
}

/// Paragraphs of a text, each line its own.
fn text_paragraphs(label: &str, text: &str) -> Vec<String> {
    let mut out = vec![BODY.with(&[run(&format!("{label}:"), PLAIN.italic())])];
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        out.push(BODY.text("Không có ý kiến.", PLAIN));
    }
    out.extend(lines.into_iter().map(|l| BODY.text(l, PLAIN)));
    out
}

fn section(
    n: usize,
    s: &crate::plans::form::Section,
    values: &Map<String, Value>,
    data: &ReportData,
) -> String {
    let title = format!(
        "{}. {}",
        ROMAN.get(n).copied().unwrap_or("*"),
        s.title_vi.trim().to_uppercase()
    );
    let mut out = vec![HEADING.text(&title, PLAIN)];
    let table_rows: Vec<Vec<String>> = s
        .fields
        .iter()
        .filter(|f| f.kind != FieldType::Text)
        .enumerate()
        .map(|(i, f)| {
            vec![
                ordinal(i),
                f.label_vi.clone(),
                shown(f, values.get(&f.code)),
            ]
        })
        .collect();
    if !table_rows.is_empty() {
        let columns = [
            col("TT", 567, true),
            col("Nội dung", 0, false),
            col("Số liệu", 2268, true),
        ];
        out.push(data_table(&columns, &table_rows, false));
    }
    for f in s.fields.iter().filter(|f| f.kind == FieldType::Text) {
        let text = values
            .get(&f.code)
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.extend(text_paragraphs(&f.label_vi, text));
    }
    if let Some(list) = &s.list {
        let items = data
            .lists
            .get(&list.code)
            .map(Vec::as_slice)
            .unwrap_or_default();
        out.push(BODY.keep_next().with(&[run(
            &format!("{} ({} mục):", list.label_vi.trim(), items.len()),
            PLAIN.italic(),
        )]));
        if items.is_empty() {
            out.push(BODY.text("Không có.", PLAIN));
        } else {
            // At most five columns fit the page: the first fields of an item.
            let shown_fields: Vec<&Field> = list.fields.iter().take(5).collect();
            let width = (TEXT_WIDTH - 567) / shown_fields.len().max(1) as u32;
            let mut columns = vec![col("TT", 567, true)];
            columns.extend(shown_fields.iter().map(|f| col(&f.label_vi, width, false)));
            let rows: Vec<Vec<String>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut r = vec![ordinal(i)];
                    r.extend(shown_fields.iter().map(|f| shown(f, item.get(&f.code))));
                    r
                })
                .collect();
            out.push(data_table(&columns, &rows, false));
        }
    }
    out.concat()
}

fn tasks(progress: &[TaskProgress], titles: &[(String, String)], n: usize) -> String {
    if progress.is_empty() {
        return String::new();
    }
    let mut out = vec![HEADING.text(
        &format!(
            "{}. TIẾN ĐỘ THỰC HIỆN CÁC NHIỆM VỤ CỦA KẾ HOẠCH",
            ROMAN.get(n).copied().unwrap_or("*")
        ),
        PLAIN,
    )];
    for p in progress {
        let title = titles
            .iter()
            .find(|(code, _)| *code == p.task)
            .map_or(p.task.as_str(), |(_, t)| t.as_str());
        let status = p.status.map_or_else(
            || "đơn vị phối hợp".to_string(),
            |s| s.label_vi().to_lowercase(),
        );
        out.push(BODY.with(&[
            run(&format!("- {} {}: ", p.task, title.trim()), PLAIN.italic()),
            run(&format!("{status}."), PLAIN),
        ]));
        if let Some(note) = p.note.as_deref().filter(|n| !n.trim().is_empty()) {
            out.extend(
                note.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| BODY.text(l.trim(), PLAIN)),
            );
        }
    }
    out.concat()
}

/// The report as a .docx for the unit's head to sign.
pub fn to_docx(
    form: &FormDefinition,
    data: &ReportData,
    facts: &ReportFacts,
    l: &Letter,
) -> ApiResult<Vec<u8>> {
    let phrase = period_phrase(facts.period_name, facts.period_code);
    let subject =
        format!("Kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {phrase}");
    let state = match (facts.status, facts.revision) {
        ("draft", _) | ("returned", _) => "(Dự thảo, chưa nộp)".to_string(),
        ("awaiting_approval", _) => "(Chờ thủ trưởng đơn vị duyệt)".to_string(),
        (_, Some(n)) => format!("(Bản đã nộp lần {n})"),
        _ => String::new(),
    };
    let unit = in_sentence(facts.unit_name);
    let mut body = vec![
        heading_block(&l.settings, "BC", l.date),
        CENTRE.before(360).keep_next().text("BÁO CÁO", PLAIN.bold()),
        CENTRE.keep_next().text(&subject, PLAIN.bold()),
    ];
    if !state.is_empty() {
        body.push(CENTRE.keep_next().text(&state, PLAIN.italic()));
    }
    body.push(rule(TEXT_WIDTH, 2268));
    body.push(BODY.text(
        &format!(
            "{}, {unit} báo cáo kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {phrase} (số liệu tính từ ngày {} đến ngày chốt số liệu {}) như sau:",
            l.plan.opening(),
            short_date(facts.window_start),
            short_date(facts.window_end),
        ),
        PLAIN,
    ));
    for (n, s) in form.sections.iter().enumerate() {
        body.push(section(n, s, &data.values, data));
    }
    body.push(tasks(&data.tasks, facts.task_titles, form.sections.len()));
    body.push(BODY.before(240).keep_next().text(
        &format!(
            "Trên đây là báo cáo kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {phrase} của {unit}./."
        ),
        PLAIN,
    ));
    body.push(signature_block(&l.settings));
    package(
        document_part(&body.concat()),
        &format!("Báo cáo {} của {unit}", subject.to_lowercase()),
        facts.unit_name,
        facts.generated_at,
    )
}
