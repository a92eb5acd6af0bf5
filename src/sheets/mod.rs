//! The spreadsheet round trip of a report: [`template`] writes a workbook from the
//! report's form (one sheet per section, one per repeatable list, Vietnamese labels
//! and help, the field codes in a hidden column, data validation for every field, label
//! cells locked, the current values filled in) and [`read`] turns a filled workbook back
//! into [`ReportData`], naming the sheet and cell of every value it cannot take. Both
//! are pure: bytes and definitions in, bytes or data out. `routes` serves them.

pub mod routes;

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use rust_xlsxwriter::{
    DataValidation, DataValidationRule, ExcelDateTime, Format, FormatAlign, Formula, Workbook,
    Worksheet, XlsxError,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Issue};
use crate::plans::form::{Field, FieldType, FormDefinition, ReportData};

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The hidden sheet that says which form a workbook was made from.
const META_SHEET: &str = "_gereport";
/// The hidden sheet holding the options of choice fields, which dropdowns refer to.
const OPTIONS_SHEET: &str = "_options";
/// What the first cell of the meta sheet says, so a foreign workbook is told apart.
const MAGIC: &str = "gereport-report-workbook";
/// Section sheets: the first row of fields (0-based); rows above are title and header.
const FIELD_ROW: u32 = 2;
/// List sheets: the row of codes (hidden) and the first row of items.
const LIST_CODE_ROW: u32 = 2;
const ITEM_ROW: u32 = 3;
const YES: &str = "Có";
const NO: &str = "Không";

/// What the workbook is of, written in its meta sheet.
pub struct TemplateMeta<'a> {
    pub form_id: Uuid,
    pub form_version: i32,
    pub period_code: &'a str,
    pub unit_code: &'a str,
    pub unit_name: &'a str,
}

/// The form a workbook says it was made from.
#[derive(Debug, PartialEq)]
pub struct WorkbookForm {
    pub form_id: Uuid,
    pub form_version: i32,
}

fn x(e: XlsxError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("xlsx: {e}"))
}

/// `'A'!C5`: how errors point at a cell.
fn cell_ref(sheet: &str, row: u32, col: u16) -> String {
    format!(
        "'{sheet}'!{}",
        rust_xlsxwriter::utility::row_col_to_cell(row, col)
    )
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(s: &str) -> String {
    s.chars()
        .map(|c| if "[]:*?/\\'".contains(c) { '-' } else { c })
        .take(31)
        .collect()
}

/// The sheet of a section's plain fields.
fn section_sheet(code: &str) -> String {
    sheet_name(code)
}

/// The sheet of a repeatable list.
fn list_sheet(section: &str, list: &str) -> String {
    sheet_name(&format!("{section} - {list}"))
}

/// What a reader is told to type into a field's cell.
fn hint(f: &Field) -> String {
    let bounds = match (f.min, f.max) {
        (Some(lo), Some(hi)) => format!(" từ {lo} đến {hi}"),
        (Some(lo), None) => format!(" ≥ {lo}"),
        (None, Some(hi)) => format!(" ≤ {hi}"),
        (None, None) => String::new(),
    };
    let mut s = match f.kind {
        FieldType::Integer => format!("Số nguyên{bounds}"),
        FieldType::Decimal => format!("Số{bounds}"),
        FieldType::MoneyVnd => format!("Số tiền (đồng){bounds}"),
        FieldType::Boolean => format!("{YES} / {NO}"),
        FieldType::Date => "Ngày (dd/mm/yyyy)".to_string(),
        FieldType::Text => match f.max_length {
            Some(n) => format!("Văn bản, tối đa {n} ký tự"),
            None => "Văn bản".to_string(),
        },
        FieldType::Choice => "Chọn một giá trị trong danh sách".to_string(),
        FieldType::MultiChoice => {
            "Một hoặc nhiều giá trị trong danh sách, cách nhau bởi dấu ;".to_string()
        }
    };
    if f.required {
        s.push_str(" (bắt buộc khi nộp)");
    }
    if let Some(h) = &f.help_vi {
        s.push_str(". ");
        s.push_str(h);
    }
    s
}

/// Formats of the template: labels locked (the sheet is protected), values not.
struct Formats {
    title: Format,
    header: Format,
    label: Format,
    value: Format,
    date: Format,
    text: Format,
}

impl Formats {
    fn new() -> Self {
        let value = Format::new()
            .set_unlocked()
            .set_background_color(0xFFF9E5)
            .set_border(rust_xlsxwriter::FormatBorder::Thin);
        Formats {
            title: Format::new().set_bold().set_font_size(13),
            header: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_background_color(0xD9E1F2)
                .set_border(rust_xlsxwriter::FormatBorder::Thin),
            label: Format::new()
                .set_text_wrap()
                .set_align(FormatAlign::VerticalCenter),
            date: value.clone().set_num_format("dd/mm/yyyy"),
            text: value.clone().set_text_wrap(),
            value,
        }
    }
}

/// Where the options of each choice field are listed, for its dropdown.
struct OptionLists {
    /// Field (by list code and field code) → the formula of its options' range.
    ranges: HashMap<(String, String), String>,
    columns: Vec<Vec<String>>,
}

impl OptionLists {
    fn collect(form: &FormDefinition) -> Self {
        let mut lists = OptionLists {
            ranges: HashMap::new(),
            columns: Vec::new(),
        };
        let mut add = |scope: &str, f: &Field| {
            if let (FieldType::Choice, Some(options)) = (f.kind, &f.options) {
                let col = lists.columns.len() as u16;
                let letter = rust_xlsxwriter::utility::column_number_to_name(col);
                lists.ranges.insert(
                    (scope.to_string(), f.code.clone()),
                    format!("='{OPTIONS_SHEET}'!${letter}$1:${letter}${}", options.len()),
                );
                lists
                    .columns
                    .push(options.iter().map(|o| o.label_vi.clone()).collect());
            }
        };
        for f in form.fields() {
            add("", f);
        }
        for (_, list) in form.lists() {
            for f in &list.fields {
                add(&list.code, f);
            }
        }
        lists
    }
}

/// The validation of one field's cells: its type, bounds and options.
fn validation(f: &Field, options: Option<&String>) -> Option<DataValidation> {
    let lo = f.min.unwrap_or(if f.kind == FieldType::MoneyVnd {
        0.0
    } else {
        f64::MIN
    });
    let hi = f.max.unwrap_or(f64::MAX);
    let v = match f.kind {
        FieldType::Integer
            if lo >= f64::from(i32::MIN) && hi <= f64::from(i32::MAX) && lo.fract() == 0.0 =>
        {
            DataValidation::new()
                .allow_whole_number(DataValidationRule::Between(lo as i32, hi as i32))
        }
        FieldType::Integer | FieldType::Decimal | FieldType::MoneyVnd => {
            let rule = match (f.min, f.max, f.kind) {
                (_, Some(_), _) | (Some(_), None, _) | (None, None, FieldType::MoneyVnd) => {
                    if hi == f64::MAX {
                        DataValidationRule::GreaterThanOrEqualTo(lo)
                    } else {
                        DataValidationRule::Between(lo, hi)
                    }
                }
                (None, None, _) => DataValidationRule::Between(-1e15, 1e15),
            };
            DataValidation::new().allow_decimal_number(rule)
        }
        FieldType::Boolean => DataValidation::new().allow_list_strings(&[YES, NO]).ok()?,
        FieldType::Date => {
            let from = ExcelDateTime::from_ymd(1900, 1, 1).ok()?;
            let to = ExcelDateTime::from_ymd(2200, 12, 31).ok()?;
            DataValidation::new().allow_date(DataValidationRule::Between(from, to))
        }
        FieldType::Text => DataValidation::new().allow_text_length(
            DataValidationRule::LessThanOrEqualTo(f.max_length.unwrap_or(32_000).min(32_000)),
        ),
        FieldType::Choice => {
            DataValidation::new().allow_list_formula(Formula::new(options?.as_str()))
        }
        FieldType::MultiChoice => return None,
    };
    let message: String = hint(f).chars().take(250).collect();
    let title: String = f.label_vi.chars().take(32).collect();
    let v = v
        .set_input_title(title.clone())
        .ok()?
        .set_input_message(message.clone())
        .ok()?
        .set_error_title(title)
        .ok()?
        .set_error_message(message)
        .ok()?;
    Some(v)
}

/// The label of an option code (the code itself when the form does not know it).
fn option_label(f: &Field, code: &str) -> String {
    f.options
        .iter()
        .flatten()
        .find(|o| o.code == code)
        .map_or_else(|| code.to_string(), |o| o.label_vi.clone())
}

/// Writes one value in its cell, in the cell's type.
fn write_value(
    ws: &mut Worksheet,
    fmt: &Formats,
    row: u32,
    col: u16,
    f: &Field,
    v: Option<&Value>,
) -> Result<(), XlsxError> {
    let blank = |ws: &mut Worksheet, format: &Format| ws.write_blank(row, col, format).map(|_| ());
    let Some(v) = v.filter(|v| !v.is_null()) else {
        let format = match f.kind {
            FieldType::Date => &fmt.date,
            FieldType::Text => &fmt.text,
            _ => &fmt.value,
        };
        return blank(ws, format);
    };
    match (f.kind, v) {
        (FieldType::Integer | FieldType::Decimal | FieldType::MoneyVnd, Value::Number(n)) => {
            ws.write_number_with_format(row, col, n.as_f64().unwrap_or_default(), &fmt.value)?;
        }
        (FieldType::Boolean, Value::Bool(b)) => {
            ws.write_string_with_format(row, col, if *b { YES } else { NO }, &fmt.value)?;
        }
        (FieldType::Date, Value::String(s)) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => {
                use chrono::Datelike;
                let d = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
                ws.write_datetime_with_format(row, col, &d, &fmt.date)?;
            }
            Err(_) => {
                ws.write_string_with_format(row, col, s, &fmt.date)?;
            }
        },
        (FieldType::Choice, Value::String(s)) => {
            ws.write_string_with_format(row, col, option_label(f, s), &fmt.value)?;
        }
        (FieldType::MultiChoice, Value::Array(items)) => {
            let labels: Vec<String> = items
                .iter()
                .filter_map(Value::as_str)
                .map(|c| option_label(f, c))
                .collect();
            ws.write_string_with_format(row, col, labels.join("; "), &fmt.text)?;
        }
        (_, Value::String(s)) => {
            let text = crate::compile::export::xlsx_text(s);
            ws.write_string_with_format(row, col, text.as_ref(), &fmt.text)?;
        }
        (_, other) => {
            ws.write_string_with_format(row, col, other.to_string(), &fmt.value)?;
        }
    }
    Ok(())
}

/// The workbook of a report: its form's sections and lists, with `data` filled in.
pub fn template(
    form: &FormDefinition,
    meta: &TemplateMeta,
    data: &ReportData,
) -> ApiResult<Vec<u8>> {
    build(form, meta, data).map_err(x)
}

fn build(
    form: &FormDefinition,
    meta: &TemplateMeta,
    data: &ReportData,
) -> Result<Vec<u8>, XlsxError> {
    let fmt = Formats::new();
    let options = OptionLists::collect(form);
    let mut wb = Workbook::new();
    for section in &form.sections {
        let title = format!("{}. {}", section.code, section.title_vi);
        if !section.fields.is_empty() {
            let ws = wb.add_worksheet();
            ws.set_name(section_sheet(&section.code))?;
            ws.write_string_with_format(0, 1, &title, &fmt.title)?;
            for (col, h) in ["Mã", "Nội dung", "Giá trị", "Hướng dẫn"]
                .iter()
                .enumerate()
            {
                ws.write_string_with_format(1, col as u16, *h, &fmt.header)?;
            }
            ws.set_column_width(1, 60)?;
            ws.set_column_width(2, 24)?;
            ws.set_column_width(3, 60)?;
            for (i, f) in section.fields.iter().enumerate() {
                let row = FIELD_ROW + i as u32;
                ws.write_string(row, 0, &f.code)?;
                ws.write_string_with_format(row, 1, &f.label_vi, &fmt.label)?;
                ws.write_string_with_format(row, 3, hint(f), &fmt.label)?;
                write_value(ws, &fmt, row, 2, f, data.values.get(&f.code))?;
                if let Some(v) = validation(f, options.ranges.get(&(String::new(), f.code.clone())))
                {
                    ws.add_data_validation(row, 2, row, 2, &v)?;
                }
            }
            ws.set_column_hidden(0)?;
            ws.protect();
        }
        if let Some(list) = &section.list {
            let ws = wb.add_worksheet();
            ws.set_name(list_sheet(&section.code, &list.code))?;
            ws.write_string_with_format(
                0,
                0,
                format!(
                    "{title}: {} (tối đa {} dòng)",
                    list.label_vi, list.max_items
                ),
                &fmt.title,
            )?;
            let items = data.lists.get(&list.code);
            let last = ITEM_ROW + list.max_items.max(1) - 1;
            for (i, f) in list.fields.iter().enumerate() {
                let col = i as u16;
                ws.write_string_with_format(1, col, &f.label_vi, &fmt.header)?;
                ws.write_string(LIST_CODE_ROW, col, &f.code)?;
                ws.set_column_width(col, if f.kind == FieldType::Text { 40 } else { 18 })?;
                for row in ITEM_ROW..=last {
                    let item = items.and_then(|it| it.get((row - ITEM_ROW) as usize));
                    write_value(ws, &fmt, row, col, f, item.and_then(|m| m.get(&f.code)))?;
                }
                if let Some(v) =
                    validation(f, options.ranges.get(&(list.code.clone(), f.code.clone())))
                {
                    ws.add_data_validation(ITEM_ROW, col, last, col, &v)?;
                }
                ws.insert_note(
                    1,
                    col,
                    &rust_xlsxwriter::Note::new(hint(f)).add_author_prefix(false),
                )?;
            }
            ws.set_row_hidden(LIST_CODE_ROW)?;
            ws.set_freeze_panes(ITEM_ROW, 0)?;
            ws.protect();
        }
    }
    let ws = wb.add_worksheet();
    ws.set_name(OPTIONS_SHEET)?;
    for (col, labels) in options.columns.iter().enumerate() {
        for (row, label) in labels.iter().enumerate() {
            ws.write_string(row as u32, col as u16, label)?;
        }
    }
    ws.set_hidden(true);
    ws.protect();
    let ws = wb.add_worksheet();
    ws.set_name(META_SHEET)?;
    let rows = [
        ("kind", MAGIC.to_string()),
        ("form_id", meta.form_id.to_string()),
        ("form_version", meta.form_version.to_string()),
        ("period", meta.period_code.to_string()),
        ("unit", meta.unit_code.to_string()),
        ("unit_name", meta.unit_name.to_string()),
    ];
    for (row, (k, v)) in rows.iter().enumerate() {
        ws.write_string(row as u32, 0, *k)?;
        ws.write_string(row as u32, 1, v)?;
    }
    ws.set_very_hidden(true);
    ws.protect();
    wb.save_to_buffer()
}

fn not_a_workbook(detail: &str) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_workbook",
        format!("the body is not a report workbook of this service: {detail}"),
    )
    .vi(format!(
        "Tệp gửi lên không phải bảng tính báo cáo do hệ thống tạo ra: {detail}"
    ))
}

/// An opened workbook, with the form it says it was made from.
pub struct Opened {
    book: Xlsx<Cursor<Vec<u8>>>,
    pub form: WorkbookForm,
}

/// Opens a workbook and reads which form it was made from. Anything but an XLSX
/// workbook made by [`template`] is a 422 `invalid_workbook`.
pub fn open(bytes: Vec<u8>) -> ApiResult<Opened> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(not_a_workbook("it is not an XLSX file"));
    }
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| not_a_workbook(&format!("it cannot be read as XLSX ({e})")))?;
    let meta = book.worksheet_range(META_SHEET).map_err(|_| {
        not_a_workbook("its sheet `_gereport` is missing; download the template first")
    })?;
    let text = |row: u32| match meta.get_value((row, 1)) {
        Some(Data::String(s)) => s.trim().to_string(),
        Some(Data::Float(f)) => format!("{f}"),
        Some(Data::Int(i)) => i.to_string(),
        _ => String::new(),
    };
    if text(0) != MAGIC {
        return Err(not_a_workbook("its sheet `_gereport` was changed"));
    }
    let form_id = text(1)
        .parse()
        .map_err(|_| not_a_workbook("its form id is unreadable"))?;
    let form_version = text(2)
        .parse::<f64>()
        .map_err(|_| not_a_workbook("its form version is unreadable"))?
        as i32;
    Ok(Opened {
        book,
        form: WorkbookForm {
            form_id,
            form_version,
        },
    })
}

/// Report data, and where each value came from (field path → cell).
pub struct Read {
    pub data: ReportData,
    pub cells: HashMap<String, String>,
}

/// A value of the wrong kind in a cell.
fn cell_issue(path: &str, cell: &str, code: &str, en: &str, vi: &str) -> Issue {
    Issue::new(path, code, format!("{cell}: {en}")).vi(format!("{cell}: {vi}"))
}

fn number_of(d: &Data) -> Option<f64> {
    match d {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::String(s) => s.trim().replace(' ', "").parse().ok(),
        _ => None,
    }
}

fn is_blank(d: &Data) -> bool {
    match d {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The option code a cell names by its code or either label.
fn option_code(f: &Field, s: &str) -> Option<String> {
    let s = s.trim();
    f.options.iter().flatten().find_map(|o| {
        (o.code == s
            || o.label_vi.trim().eq_ignore_ascii_case(s)
            || o.label_en.trim().eq_ignore_ascii_case(s))
        .then(|| o.code.clone())
    })
}

/// The JSON value of one cell for its field: `Ok(None)` when blank.
fn cell_value(f: &Field, d: &Data, path: &str, cell: &str) -> Result<Option<Value>, Issue> {
    if is_blank(d) {
        return Ok(None);
    }
    let wrong = |en: &str, vi: &str| cell_issue(path, cell, "wrong_type", en, vi);
    let v = match f.kind {
        FieldType::Integer | FieldType::MoneyVnd => match number_of(d) {
            Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(n as i64),
            _ => return Err(wrong("expected a whole number", "cần nhập số nguyên")),
        },
        FieldType::Decimal => match number_of(d).and_then(serde_json::Number::from_f64) {
            Some(n) => Value::Number(n),
            None => return Err(wrong("expected a number", "cần nhập một số")),
        },
        FieldType::Boolean => {
            let b = match d {
                Data::Bool(b) => Some(*b),
                Data::Int(i) => Some(*i != 0),
                Data::Float(f) => Some(*f != 0.0),
                Data::String(s) => match s.trim().to_lowercase().as_str() {
                    "có" | "co" | "x" | "yes" | "true" | "1" => Some(true),
                    "không" | "khong" | "no" | "false" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match b {
                Some(b) => Value::Bool(b),
                None => return Err(wrong("expected Có or Không", "cần chọn Có hoặc Không")),
            }
        }
        FieldType::Date => {
            let date = match d {
                Data::DateTime(dt) => dt.as_datetime().map(|t| t.date()),
                Data::DateTimeIso(s) => {
                    NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
                }
                Data::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .or_else(|_| NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y"))
                    .ok(),
                _ => None,
            };
            match date {
                Some(d) => Value::String(d.format("%Y-%m-%d").to_string()),
                None => {
                    return Err(cell_issue(
                        path,
                        cell,
                        "invalid_date",
                        "expected a date (dd/mm/yyyy)",
                        "cần nhập ngày (dd/mm/yyyy)",
                    ));
                }
            }
        }
        FieldType::Text => match d {
            Data::String(s) => Value::String(s.clone()),
            Data::Float(f) => Value::String(format!("{f}")),
            Data::Int(i) => Value::String(i.to_string()),
            Data::Bool(b) => Value::String(if *b { YES } else { NO }.to_string()),
            other => Value::String(other.to_string()),
        },
        FieldType::Choice => {
            let s = d.to_string();
            match option_code(f, &s) {
                Some(code) => Value::String(code),
                None => {
                    return Err(cell_issue(
                        path,
                        cell,
                        "unknown_option",
                        &format!("{s:?} is not one of the field's options"),
                        &format!("\"{s}\" không có trong danh sách lựa chọn"),
                    ));
                }
            }
        }
        FieldType::MultiChoice => {
            let s = d.to_string();
            let mut codes = Vec::new();
            for part in s
                .split([';', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                match option_code(f, part) {
                    Some(code) => codes.push(Value::String(code)),
                    None => {
                        return Err(cell_issue(
                            path,
                            cell,
                            "unknown_option",
                            &format!("{part:?} is not one of the field's options"),
                            &format!("\"{part}\" không có trong danh sách lựa chọn"),
                        ));
                    }
                }
            }
            Value::Array(codes)
        }
    };
    Ok(Some(v))
}

/// Reads the values of an opened workbook against `form` (the form it was made from).
/// Every cell that cannot be taken is an issue naming the field's path and the cell;
/// the form's own type checks of the result come after, in [`check`].
pub fn read(opened: &mut Opened, form: &FormDefinition) -> Result<Read, Vec<Issue>> {
    let mut issues = Vec::new();
    let mut data = ReportData::default();
    let mut cells = HashMap::new();
    let missing = |sheet: &str| {
        Issue::new(
            "body",
            "missing_sheet",
            format!("the workbook has no sheet '{sheet}'"),
        )
        .vi(format!("Bảng tính thiếu trang '{sheet}'"))
    };
    for section in &form.sections {
        if !section.fields.is_empty() {
            let name = section_sheet(&section.code);
            match opened.book.worksheet_range(&name) {
                Err(_) => issues.push(missing(&name)),
                Ok(range) => {
                    let (height, _) = range.get_size();
                    let start = range.start().map_or(0, |s| s.0);
                    for row in FIELD_ROW.max(start)..start + height as u32 {
                        let Some(Data::String(code)) = range.get_value((row, 0)) else {
                            continue;
                        };
                        let Some(f) = section.fields.iter().find(|f| &f.code == code) else {
                            continue;
                        };
                        let path = format!("values.{code}");
                        let cell = cell_ref(&name, row, 2);
                        let d = range.get_value((row, 2)).cloned().unwrap_or_default();
                        match cell_value(f, &d, &path, &cell) {
                            Ok(Some(v)) => {
                                data.values.insert(code.clone(), v);
                            }
                            Ok(None) => {}
                            Err(i) => issues.push(i),
                        }
                        cells.insert(path, cell);
                    }
                }
            }
        }
        if let Some(list) = &section.list {
            let name = list_sheet(&section.code, &list.code);
            let range = match opened.book.worksheet_range(&name) {
                Err(_) => {
                    issues.push(missing(&name));
                    continue;
                }
                Ok(r) => r,
            };
            let (height, width) = range.get_size();
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let columns: Vec<(u16, &Field)> = (c0..c0 + width as u32)
                .filter_map(|col| match range.get_value((LIST_CODE_ROW, col)) {
                    Some(Data::String(code)) => list
                        .fields
                        .iter()
                        .find(|f| &f.code == code)
                        .map(|f| (col as u16, f)),
                    _ => None,
                })
                .collect();
            let mut items = Vec::new();
            for row in ITEM_ROW.max(r0)..r0 + height as u32 {
                let blank = columns
                    .iter()
                    .all(|(col, _)| range.get_value((row, u32::from(*col))).is_none_or(is_blank));
                if blank {
                    continue;
                }
                let index = items.len();
                let mut item = Map::new();
                for (col, f) in &columns {
                    let path = format!("lists.{}[{index}].{}", list.code, f.code);
                    let cell = cell_ref(&name, row, *col);
                    let d = range
                        .get_value((row, u32::from(*col)))
                        .cloned()
                        .unwrap_or_default();
                    match cell_value(f, &d, &path, &cell) {
                        Ok(Some(v)) => {
                            item.insert(f.code.clone(), v);
                        }
                        Ok(None) => {}
                        Err(i) => issues.push(i),
                    }
                    cells.insert(path, cell);
                }
                cells.insert(
                    format!("lists.{}[{index}]", list.code),
                    cell_ref(&name, row, 0),
                );
                items.push(item);
            }
            if !items.is_empty() {
                data.lists.insert(list.code.clone(), items);
            }
        }
    }
    if issues.is_empty() {
        Ok(Read { data, cells })
    } else {
        Err(issues)
    }
}

/// The form's draft checks of what was read, each issue pointing at its cell too.
pub fn check(form: &FormDefinition, read: &Read) -> Vec<Issue> {
    form.check_values(&read.data)
        .into_iter()
        .map(|i| locate(i, &read.cells))
        .collect()
}

/// Prefixes an issue's messages with the cell its path came from, when known.
pub fn locate(mut issue: Issue, cells: &HashMap<String, String>) -> Issue {
    if let Some(cell) = cells.get(&issue.path) {
        issue.message = format!("{cell}: {}", issue.message);
        issue.message_vi = issue.message_vi.map(|m| format!("{cell}: {m}"));
    }
    issue
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::plans::form::default_form_2024;
    use serde_json::json;

    fn meta(form_id: Uuid) -> TemplateMeta<'static> {
        TemplateMeta {
            form_id,
            form_version: 3,
            period_code: "2024",
            unit_code: "XDNS",
            unit_name: "Phòng XDNS",
        }
    }

    #[test]
    fn a_template_reads_back_as_the_data_it_was_filled_with() {
        let form = default_form_2024().unwrap();
        let mut data: ReportData =
            serde_json::from_value(crate::openapi::examples::report_2024()).unwrap();
        // Task progress is not part of the workbook (an import keeps the draft's).
        data.tasks.clear();
        let id = Uuid::now_v7();
        let bytes = template(&form, &meta(id), &data).unwrap();
        let mut opened = open(bytes).unwrap();
        assert_eq!(
            opened.form,
            WorkbookForm {
                form_id: id,
                form_version: 3
            }
        );
        let read = read(&mut opened, &form).unwrap();
        assert_eq!(read.data, data);
        assert!(check(&form, &read).is_empty());
    }

    #[test]
    fn an_empty_template_reads_back_empty() {
        let form = default_form_2024().unwrap();
        let bytes = template(&form, &meta(Uuid::nil()), &ReportData::default()).unwrap();
        let read = read(&mut open(bytes).unwrap(), &form).unwrap();
        assert_eq!(read.data, ReportData::default());
    }

    #[test]
    fn what_is_not_a_workbook_is_refused() {
        let e = open(b"%PDF-1.7".to_vec()).err().unwrap();
        assert_eq!(e.code, "invalid_workbook");
        let e = open(b"PK\x03\x04garbage".to_vec()).err().unwrap();
        assert_eq!(e.code, "invalid_workbook");
    }

    #[test]
    fn a_wrong_cell_names_its_sheet_cell_and_path() {
        let f: Field = serde_json::from_value(json!({
            "code": "staff_total", "label_vi": "Tổng số", "label_en": "Staff", "type": "integer"
        }))
        .unwrap();
        let e = cell_value(
            &f,
            &Data::String("mười".into()),
            "values.staff_total",
            "'A'!C3",
        )
        .unwrap_err();
        assert_eq!(e.path, "values.staff_total");
        assert_eq!(e.code, "wrong_type");
        assert!(e.message.starts_with("'A'!C3: "), "{}", e.message);
        assert_eq!(
            cell_value(&f, &Data::Float(12.0), "p", "c").unwrap(),
            Some(json!(12))
        );
    }
}
