//! The compilation as spreadsheets: the same tables rendered as one CSV file (sections
//! as row groups, UTF-8 with a BOM so Excel reads Vietnamese) or as an XLSX workbook
//! (a sheet per section, Vietnamese headings, number and percent formats, frozen
//! header rows).

use rust_xlsxwriter::{Format, Workbook};

use super::model::{Compilation, Coverage, Figures, UnitRef};
use crate::error::{ApiError, ApiResult};

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Money(f64),
    Percent(Option<f64>),
    Empty,
}

pub struct Table {
    /// Sheet name (at most 31 characters) and CSV group title.
    pub name: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn yes_no(b: Option<bool>) -> Cell {
    match b {
        Some(true) => text("Đạt"),
        Some(false) => text("Chưa đạt"),
        None => Cell::Empty,
    }
}

fn previous_of<'a, T>(
    prev: Option<&'a Figures>,
    pick: impl Fn(&'a Figures) -> Option<T>,
) -> Option<T> {
    prev.and_then(pick)
}

/// Unit codes, comma separated.
fn unit_codes(units: &[UnitRef]) -> String {
    units
        .iter()
        .map(|u| u.code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// "x/y đơn vị (z %)": reports counted out of units expected.
pub fn coverage_text(c: &Coverage) -> String {
    let share = c
        .share
        .map(|s| format!(" ({})", super::docx::percent(Some(s))))
        .unwrap_or_default();
    format!("{}/{} đơn vị{share}", c.counted, c.expected)
}

/// The tables of a compilation, in order.
pub fn tables(c: &Compilation) -> Vec<Table> {
    let f = &c.figures;
    let prev = c.previous.as_deref();
    let mut out = Vec::new();

    out.push(Table {
        name: "Tổng quan",
        headers: vec!["Mục", "Giá trị"],
        rows: vec![
            vec![
                text("Đơn vị"),
                text(format!("{} ({})", c.unit.name, c.unit.code)),
            ],
            vec![
                text("Kế hoạch"),
                text(format!(
                    "{} {}",
                    f.period.plan_document_number, f.period.plan_title
                )),
            ],
            vec![
                text("Kỳ báo cáo"),
                text(format!("{} {}", f.period.code, f.period.name)),
            ],
            vec![
                text("Thời gian chốt số liệu"),
                text(format!(
                    "{} – {}",
                    f.period.window_start, f.period.window_end
                )),
            ],
            vec![text("Hạn nộp"), text(f.period.due_date.to_string())],
            vec![
                text("Báo cáo được tính"),
                text(if c.include_submitted {
                    "đã duyệt và đã nộp chờ duyệt"
                } else {
                    "đã duyệt"
                }),
            ],
            vec![
                text("Số báo cáo được tính"),
                Cell::Number(f.reports_included as f64),
            ],
            vec![
                text("Số đơn vị phải báo cáo"),
                Cell::Number(f.coverage.expected as f64),
            ],
            vec![
                text("Độ bao phủ (báo cáo được tính/đơn vị phải báo cáo)"),
                text(coverage_text(&f.coverage)),
            ],
            vec![
                text("Đơn vị chưa được tính"),
                text(unit_codes(&f.coverage.not_counted)),
            ],
            vec![
                text("Thời điểm tổng hợp"),
                text(c.generated_at.to_rfc3339()),
            ],
        ],
    });

    let cp = &f.completeness;
    let prev_c = prev.map(|p| &p.completeness);
    let mut rows = vec![
        (
            "Số đơn vị phải báo cáo",
            cp.expected,
            prev_c.map(|p| p.expected),
        ),
        ("Đã nộp", cp.submitted, prev_c.map(|p| p.submitted)),
        ("Đã duyệt", cp.accepted, prev_c.map(|p| p.accepted)),
        ("Đúng hạn", cp.on_time, prev_c.map(|p| p.on_time)),
        ("Muộn", cp.late, prev_c.map(|p| p.late)),
        ("Chưa nộp", cp.missing, prev_c.map(|p| p.missing)),
    ]
    .into_iter()
    .map(|(label, n, p)| {
        vec![
            text(label),
            Cell::Number(n as f64),
            p.map_or(Cell::Empty, |v| Cell::Number(v as f64)),
        ]
    })
    .collect::<Vec<_>>();
    if let Some(units) = &cp.units {
        let groups = [
            ("Đã duyệt", &units.accepted),
            ("Đã nộp, chờ duyệt", &units.submitted),
            ("Bị trả lại", &units.returned),
            ("Chờ thủ trưởng đơn vị duyệt", &units.awaiting_approval),
            ("Đang soạn", &units.draft),
            ("Chưa báo cáo", &units.not_started),
            ("Nộp muộn", &units.late),
            (
                "Đã đính kèm báo cáo có chữ ký",
                &units.signed_report_attached,
            ),
        ];
        for (label, list) in groups {
            for u in list {
                rows.push(vec![
                    text(format!("{label}: {}", u.code)),
                    text(u.name.clone()),
                    Cell::Empty,
                ]);
            }
        }
    }
    out.push(Table {
        name: "Tiến độ",
        headers: vec!["Tình trạng", "Kỳ này", "Kỳ trước"],
        rows,
    });

    out.push(Table {
        name: "Chỉ tiêu",
        headers: vec![
            "Mã",
            "Chỉ tiêu",
            "Giá trị",
            "Tử số",
            "Mẫu số",
            "Mục tiêu",
            "Đánh giá",
            "Kỳ trước",
            "Đơn vị chưa đạt",
            "Số báo cáo được tính",
            "Số đơn vị phải báo cáo",
            "Độ bao phủ",
            "Đơn vị chưa được tính",
            "Ghi chú",
            "Mục tiêu của năm",
        ],
        rows: f
            .indicators
            .iter()
            .map(|i| {
                let before = previous_of(prev, |p| {
                    p.indicators
                        .iter()
                        .find(|x| x.code == i.code)
                        .map(|x| x.value)
                });
                vec![
                    text(i.code.clone()),
                    text(i.name_vi.clone()),
                    Cell::Percent(i.value),
                    Cell::Number(i.numerator),
                    Cell::Number(i.denominator),
                    Cell::Percent(Some(i.target)),
                    yes_no(i.met),
                    before.map_or(Cell::Empty, Cell::Percent),
                    text(unit_codes(&i.units_short)),
                    Cell::Number(i.coverage.counted as f64),
                    Cell::Number(i.coverage.expected as f64),
                    Cell::Percent(i.coverage.share),
                    text(unit_codes(&i.coverage.not_counted)),
                    text(i.reason.clone().unwrap_or_default()),
                    // The targets of the period's year beside the plan's own.
                    text(
                        i.targets
                            .iter()
                            .filter(|t| t.year.is_some())
                            .map(|t| t.describe_vi(i.direction))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                ]
            })
            .collect(),
    });

    out.push(Table {
        name: "Số liệu",
        headers: vec![
            "Phần",
            "Mã",
            "Chỉ tiêu thống kê",
            "Tổng",
            "Số báo cáo",
            "Kỳ trước",
        ],
        rows: f
            .totals
            .iter()
            .map(|t| {
                let before = previous_of(prev, |p| {
                    p.totals.iter().find(|x| x.field == t.field).map(|x| x.sum)
                });
                let num = |v: f64| {
                    if t.kind == "money_vnd" {
                        Cell::Money(v)
                    } else {
                        Cell::Number(v)
                    }
                };
                vec![
                    text(t.section.clone()),
                    text(t.field.clone()),
                    text(t.label_vi.clone()),
                    num(t.sum),
                    Cell::Number(t.reports as f64),
                    before.map_or(Cell::Empty, num),
                ]
            })
            .collect(),
    });

    out.push(Table {
        name: "Tỷ lệ nữ",
        headers: vec![
            "Mã",
            "Nội dung",
            "Tổng số",
            "Nữ",
            "Tỷ lệ nữ",
            "Số báo cáo",
            "Tỷ lệ nữ kỳ trước",
        ],
        rows: f
            .pairs
            .iter()
            .map(|p| {
                let before = previous_of(prev, |x| {
                    x.pairs
                        .iter()
                        .find(|y| y.code == p.code)
                        .map(|y| y.female_share)
                });
                vec![
                    text(p.code.clone()),
                    text(p.label_vi.clone()),
                    Cell::Number(p.total),
                    Cell::Number(p.female),
                    Cell::Percent(p.female_share),
                    Cell::Number(p.reports as f64),
                    before.map_or(Cell::Empty, Cell::Percent),
                ]
            })
            .collect(),
    });

    out.push(Table {
        name: "Có - Không",
        headers: vec![
            "Mục",
            "Mã",
            "Nội dung",
            "Số báo cáo trả lời Có",
            "Số báo cáo trả lời",
            "Tỷ lệ",
            "Kỳ trước",
        ],
        rows: f
            .flags
            .iter()
            .map(|g| {
                let before = previous_of(prev, |p| {
                    p.flags.iter().find(|x| x.field == g.field).map(|x| x.yes)
                });
                vec![
                    text(g.section.clone()),
                    text(g.field.clone()),
                    text(g.label_vi.clone()),
                    Cell::Number(g.yes as f64),
                    Cell::Number(g.answered as f64),
                    Cell::Percent(g.share),
                    before.map_or(Cell::Empty, |v| Cell::Number(v as f64)),
                ]
            })
            .collect(),
    });

    out.push(Table {
        name: "Hoạt động",
        headers: vec![
            "Loại",
            "Loại hoạt động",
            "Số hoạt động",
            "Người tham gia",
            "Nữ",
            "Tỷ lệ nữ",
            "Kinh phí (đồng)",
        ],
        rows: f
            .activities
            .iter()
            .map(|a| {
                vec![
                    text(a.kind.clone()),
                    text(a.label_vi.clone()),
                    Cell::Number(a.count as f64),
                    Cell::Number(a.participants_total),
                    Cell::Number(a.participants_female),
                    Cell::Percent(a.female_share),
                    Cell::Money(a.cost_vnd),
                ]
            })
            .collect(),
    });

    out.push(Table {
        name: "Hoạt động theo chủ đề",
        headers: vec![
            "Mã",
            "Chủ đề",
            "Số hoạt động",
            "Người tham gia",
            "Nữ",
            "Tỷ lệ nữ",
        ],
        rows: f
            .topics
            .iter()
            .map(|a| {
                vec![
                    text(a.kind.clone()),
                    text(a.label_vi.clone()),
                    Cell::Number(a.count as f64),
                    Cell::Number(a.participants_total),
                    Cell::Number(a.participants_female),
                    Cell::Percent(a.female_share),
                ]
            })
            .collect(),
    });

    if let Some(units) = &c.units {
        out.push(Table {
            name: "Theo đơn vị",
            headers: vec!["Mã đơn vị", "Đơn vị", "Loại", "Mã", "Giá trị"],
            rows: units
                .iter()
                .flat_map(|u| {
                    let totals = u.totals.iter().map(move |(code, v)| {
                        vec![
                            text(u.unit.code.clone()),
                            text(u.unit.name.clone()),
                            text("Số liệu"),
                            text(code.clone()),
                            v.map_or(Cell::Empty, Cell::Number),
                        ]
                    });
                    let indicators = u.indicators.iter().map(move |(code, v)| {
                        vec![
                            text(u.unit.code.clone()),
                            text(u.unit.name.clone()),
                            text("Chỉ tiêu"),
                            text(code.clone()),
                            Cell::Percent(*v),
                        ]
                    });
                    totals.chain(indicators)
                })
                .collect(),
        });
    }

    out.push(Table {
        name: "Thuyết minh",
        headers: vec!["Phần", "Nội dung", "Mã đơn vị", "Đơn vị", "Ý kiến"],
        rows: c
            .narratives
            .iter()
            .flat_map(|n| {
                n.entries.iter().map(move |e| {
                    vec![
                        text(n.section.clone()),
                        text(n.label_vi.clone()),
                        text(e.unit_code.clone()),
                        text(e.unit_name.clone()),
                        text(e.text.clone()),
                    ]
                })
            })
            .collect(),
    });
    out.extend(crate::tasks::part::tables(&c.tasks));
    out
}

/// Text as a spreadsheet shows it, never as a formula: units write narratives and
/// names, and a cell starting with `=`, `+`, `-`, `@` or a control character would
/// run as a formula when the office opens the CSV in Excel. Such text is prefixed
/// with an apostrophe, which Excel shows as plain text.
fn inert_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Excel holds at most 32,767 characters in a cell; longer text is cut with a note.
const XLSX_CELL_CHARS: usize = 32_000;

pub(crate) fn xlsx_text(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(XLSX_CELL_CHARS) {
        None => std::borrow::Cow::Borrowed(s),
        Some((at, _)) => std::borrow::Cow::Owned(format!("{}… (cắt bớt)", &s[..at])),
    }
}

fn csv_value(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => inert_text(s),
        Cell::Number(v) | Cell::Money(v) => format_number(*v),
        Cell::Percent(Some(v)) => format!("{:.2}%", v * 100.0),
        Cell::Percent(None) | Cell::Empty => String::new(),
    }
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One CSV file: each table as a titled group of rows, a blank row between groups.
pub fn to_csv(c: &Compilation) -> ApiResult<Vec<u8>> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(&mut out);
        for (i, t) in tables(c).iter().enumerate() {
            if i > 0 {
                w.write_record(Vec::<&str>::new())
                    .map_err(ApiError::internal)?;
            }
            w.write_record([t.name]).map_err(ApiError::internal)?;
            w.write_record(&t.headers).map_err(ApiError::internal)?;
            for row in &t.rows {
                w.write_record(row.iter().map(csv_value))
                    .map_err(ApiError::internal)?;
            }
        }
        w.flush().map_err(ApiError::internal)?;
    }
    Ok(out)
}

/// The number format of a figure: a whole number shows no decimal separator (`12`,
/// not `12.`, which `#,##0.##` would print); others show up to two decimals.
fn number_format(v: f64) -> &'static str {
    if v.fract() == 0.0 {
        "#,##0"
    } else {
        "#,##0.##"
    }
}

/// An XLSX workbook with a sheet per table.
pub fn to_xlsx(c: &Compilation) -> ApiResult<Vec<u8>> {
    let mut wb = Workbook::new();
    let header = Format::new().set_bold().set_text_wrap();
    let money = Format::new().set_num_format("#,##0");
    let percent = Format::new().set_num_format("0.0%");
    let wrap = Format::new().set_text_wrap();
    let x = |e: rust_xlsxwriter::XlsxError| ApiError::internal(anyhow::anyhow!("xlsx: {e}"));
    for t in tables(c) {
        let ws = wb.add_worksheet();
        ws.set_name(t.name).map_err(x)?;
        for (col, h) in t.headers.iter().enumerate() {
            let col = col as u16;
            ws.write_with_format(0, col, *h, &header).map_err(x)?;
            ws.set_column_width(col, if col == 0 { 14 } else { 22 })
                .map_err(x)?;
        }
        ws.set_freeze_panes(1, 0).map_err(x)?;
        for (r, row) in t.rows.iter().enumerate() {
            let r = (r + 1) as u32;
            for (col, cell) in row.iter().enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Text(s) => ws
                        .write_with_format(r, col, xlsx_text(s).as_ref(), &wrap)
                        .map(|_| ()),
                    Cell::Number(v) => {
                        // (The workbook keeps one copy of each distinct format.)
                        let format = Format::new().set_num_format(number_format(*v));
                        ws.write_with_format(r, col, *v, &format).map(|_| ())
                    }
                    Cell::Money(v) => ws.write_with_format(r, col, *v, &money).map(|_| ()),
                    Cell::Percent(Some(v)) => {
                        ws.write_with_format(r, col, *v, &percent).map(|_| ())
                    }
                    Cell::Percent(None) | Cell::Empty => Ok(()),
                }
                .map_err(x)?;
            }
        }
    }
    wb.save_to_buffer().map_err(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_show_no_decimal_separator() {
        assert_eq!(number_format(12.0), "#,##0");
        assert_eq!(number_format(0.0), "#,##0");
        assert_eq!(number_format(2.5), "#,##0.##");
    }

    #[test]
    fn csv_text_never_reads_as_a_formula() {
        for bad in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let v = csv_value(&Cell::Text(bad.to_string()));
            assert_eq!(v, format!("'{bad}"));
        }
        assert_eq!(
            csv_value(&Cell::Text("Phòng Văn hóa".into())),
            "Phòng Văn hóa"
        );
        // Numbers stay numbers, negative ones included.
        assert_eq!(csv_value(&Cell::Number(-3.0)), "-3");
    }

    #[test]
    fn text_too_long_for_an_excel_cell_is_cut_with_a_note() {
        let short = "ă".repeat(100);
        assert_eq!(xlsx_text(&short), short.as_str());
        let long = "ă".repeat(40_000);
        let cut = xlsx_text(&long);
        assert!(cut.chars().count() < 32_767);
        assert!(cut.ends_with("(cắt bớt)"));
        // A workbook with such a cell is written, not refused.
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        assert!(ws.write(0, 0, cut.as_ref()).is_ok());
        assert!(wb.save_to_buffer().is_ok());
    }
}
