//! The compilation as an official report (báo cáo) in Word format, laid out the way
//! Decree 30/2020/NĐ-CP asks of administrative documents: A4 portrait, Times New
//! Roman, the superior and issuing bodies beside the national name and motto, number
//! and symbol beside place and date, the document type and subject, the body, then
//! the recipients ("Nơi nhận") beside the signature block — all of the issuing unit's
//! own as its document settings say (`documents`). Pages after the first carry their
//! number centred at the top. The body follows a report's shape: the basis (the plans
//! it implements), I. results, II. assessment, III. next period's tasks, IV.
//! proposals, and the units' texts in full as an appendix. The office fills in what
//! only it can say (marked in brackets), gives it a number and signs it.
//!
//! The WordprocessingML parts are written by hand (a handful of small XML files) and
//! zipped with `zip`; every piece of data goes through [`escape`]. A crate such as
//! `docx-rs` would replace the few dozen lines of the writer (runs, paragraphs, cells,
//! the package) but not the layout rules, which are most of this file, and it brings
//! its own dependency tree; the writer here is small, tested part by part, and its
//! output is exactly the XML the decree's layout needs (fixed table grids, `cantSplit`
//! rows, a first-page header without the number).
//!
//! The same writer makes each unit's own report (`documents::unit_report`): the
//! heading, the signature block and the package are shared.

use std::io::{Cursor, Write};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::model::{
    Compilation, CompletenessUnits, Coverage, Figures, IndicatorResult, NarrativeSection, UnitRef,
};
use crate::documents::model::DocumentSettings;
use crate::error::{ApiError, ApiResult};
use crate::plans::indicator::Direction;
use crate::plans::period::vietnam_offset;

// Page geometry in twentieths of a point (twips): A4 portrait, with the margins of
// Decree 30 (top and bottom 20–25 mm, left 30–35 mm, right 15–20 mm) at their narrow
// end, which leaves the most room for the tables.
const PAGE_WIDTH: u32 = 11906;
const PAGE_HEIGHT: u32 = 16838;
const MARGIN_TOP: u32 = 1134; // 20 mm
const MARGIN_BOTTOM: u32 = 1134; // 20 mm
const MARGIN_LEFT: u32 = 1701; // 30 mm
const MARGIN_RIGHT: u32 = 850; // 15 mm
/// Where the page number sits: 10 mm from the top edge, inside the top margin.
const HEADER_DISTANCE: u32 = 567;
pub(crate) const TEXT_WIDTH: u32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
/// First-line indent of body paragraphs (10 mm; the decree allows 1–1.27 cm).
const FIRST_LINE: u32 = 567;
/// Space between a table cell's edge and its text (1.5 mm).
const CELL_PADDING: u32 = 85;

// Font sizes in half-points.
const PT14: u32 = 28;
const PT13: u32 = 26;
const PT12: u32 = 24;
const PT11: u32 = 22;

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
const NS_W: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const NS_R: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// What the draft says where the office has to write: the number is given when the
/// report is registered, the name when it is signed.
const NUMBER_PLACEHOLDER: &str = "…";
const DASH: &str = "—";

/// Escapes text for XML content and attribute values, and drops the characters XML
/// 1.0 cannot carry at all (control characters other than tab, line feed and carriage
/// return), which a pasted narrative may contain and which would make Word refuse the
/// whole file.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Numbers and dates, the Vietnamese way.

/// `v` with `decimals` digits after the comma, thousands separated by dots; trailing
/// zeros of the fraction are dropped. Never "-0".
fn decimal(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return DASH.to_string();
    }
    let fixed = format!("{:.*}", decimals, v.abs());
    let (int, frac) = fixed.split_once('.').unwrap_or((fixed.as_str(), ""));
    let frac = frac.trim_end_matches('0');
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, d) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(d);
    }
    let zero = int.chars().all(|c| c == '0') && frac.is_empty();
    let sign = if v < 0.0 && !zero { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// A count or sum: `1.234.567`, `12,5`.
pub fn number(v: f64) -> String {
    decimal(v, 2)
}

/// An amount of đồng, whole: `1.500.000`.
pub fn money(v: f64) -> String {
    decimal(v, 0)
}

/// A fraction as a percentage with at most one decimal: `58,3%`, `100%`; `—` for none.
pub fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{}%", decimal(v * 100.0, 1)),
        _ => DASH.to_string(),
    }
}

/// Day and month as the decree writes them in the date line: a zero before days under
/// 10 and before months 1 and 2 ("ngày 05 tháng 02", "ngày 20 tháng 11").
fn date_parts(d: NaiveDate) -> (String, String, i32) {
    let day = format!("{:02}", d.day());
    let month = if d.month() <= 2 {
        format!("{:02}", d.month())
    } else {
        d.month().to_string()
    };
    (day, month, d.year())
}

/// A date inside the text, padded the same way: 05/02/2024, 15/5/2024.
pub(crate) fn short_date(d: NaiveDate) -> String {
    let (day, month, year) = date_parts(d);
    format!("{day}/{month}/{year}")
}

/// How the subject line names the period: its name without a leading "Báo cáo"
/// ("6 tháng đầu năm 2024"), or "kỳ <code>" when it has no name.
pub(crate) fn period_phrase(name: &str, code: &str) -> String {
    let name = name.trim();
    let rest = ["Báo cáo ", "báo cáo ", "BÁO CÁO "]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name)
        .trim();
    if rest.is_empty() {
        format!("kỳ {code}")
    } else {
        rest.to_string()
    }
}

/// The reasons the compiler gives for a missing indicator value, in Vietnamese.
fn reason_vi(reason: Option<&str>) -> String {
    match reason {
        Some("no reports") => "chưa có báo cáo".to_string(),
        Some("denominator is zero") => "mẫu số bằng 0".to_string(),
        Some(other) => other.to_string(),
        None => "chưa có số liệu".to_string(),
    }
}

/// The plan's own target, then each target of the period's year on a line of its own.
fn target_text(i: &IndicatorResult) -> String {
    let op = match i.direction {
        Direction::AtLeast => "≥",
        Direction::AtMost => "≤",
    };
    let mut lines = vec![format!("{op} {}", percent(Some(i.target)))];
    for t in year_targets(i) {
        if let Some(y) = t.year {
            lines.push(format!("{op} {} (năm {y})", percent(Some(t.target))));
        }
    }
    lines.join("\n")
}

fn year_targets(i: &IndicatorResult) -> impl Iterator<Item = &super::model::JudgedTarget> {
    i.targets.iter().filter(|t| t.year.is_some())
}

fn names(units: &[UnitRef]) -> String {
    units
        .iter()
        .map(|u| u.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------
// A very small WordprocessingML writer.

/// Direct character formatting of a run.
#[derive(Clone, Copy, Default)]
pub(crate) struct Font {
    bold: bool,
    italic: bool,
    underline: bool,
    /// Half-points; the style's size (14 pt in the body) when absent.
    size: Option<u32>,
}

pub(crate) const PLAIN: Font = Font {
    bold: false,
    italic: false,
    underline: false,
    size: None,
};

impl Font {
    pub(crate) const fn bold(self) -> Self {
        Font { bold: true, ..self }
    }
    pub(crate) const fn italic(self) -> Self {
        Font {
            italic: true,
            ..self
        }
    }
    const fn underline(self) -> Self {
        Font {
            underline: true,
            ..self
        }
    }
    const fn size(self, half_points: u32) -> Self {
        Font {
            size: Some(half_points),
            ..self
        }
    }

    /// `w:rPr`, its children in schema order.
    fn properties(self) -> String {
        let mut s = String::new();
        if self.bold {
            s.push_str("<w:b/><w:bCs/>");
        }
        if self.italic {
            s.push_str("<w:i/><w:iCs/>");
        }
        if let Some(sz) = self.size {
            s.push_str(&format!(r#"<w:sz w:val="{sz}"/><w:szCs w:val="{sz}"/>"#));
        }
        if self.underline {
            s.push_str(r#"<w:u w:val="single"/>"#);
        }
        if s.is_empty() {
            s
        } else {
            format!("<w:rPr>{s}</w:rPr>")
        }
    }
}

/// A run of text; line breaks and tabs in it become Word's own elements.
pub(crate) fn run(text: &str, font: Font) -> String {
    let mut out = format!("<w:r>{}", font.properties());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<w:br/>");
        }
        for (j, piece) in line.trim_end_matches('\r').split('\t').enumerate() {
            if j > 0 {
                out.push_str("<w:tab/>");
            }
            if !piece.is_empty() {
                out.push_str(&format!(
                    r#"<w:t xml:space="preserve">{}</w:t>"#,
                    escape(piece)
                ));
            }
        }
    }
    out.push_str("</w:r>");
    out
}

/// Paragraph properties: a style from styles.xml and a few direct overrides.
#[derive(Clone, Copy)]
pub(crate) struct Para {
    style: &'static str,
    keep_next: bool,
    /// Starts a new page (the appendix).
    page_break: bool,
    /// A short rule above the (empty) paragraph: the line Decree 30 draws under the
    /// issuing body and under the subject.
    rule: bool,
    before: Option<u32>,
    /// Left and right indents.
    indent: Option<(u32, u32)>,
    align: Option<&'static str>,
}

pub(crate) const fn para(style: &'static str) -> Para {
    Para {
        style,
        keep_next: false,
        page_break: false,
        rule: false,
        before: None,
        indent: None,
        align: None,
    }
}

impl Para {
    pub(crate) const fn keep_next(self) -> Self {
        Para {
            keep_next: true,
            ..self
        }
    }
    const fn page_break(self) -> Self {
        Para {
            page_break: true,
            ..self
        }
    }
    pub(crate) const fn before(self, twips: u32) -> Self {
        Para {
            before: Some(twips),
            ..self
        }
    }
    const fn align(self, jc: &'static str) -> Self {
        Para {
            align: Some(jc),
            ..self
        }
    }

    /// The paragraph with these runs; `w:pPr` children in schema order.
    pub(crate) fn with(self, runs: &[String]) -> String {
        let mut ppr = format!(r#"<w:pStyle w:val="{}"/>"#, self.style);
        if self.keep_next {
            ppr.push_str("<w:keepNext/>");
        }
        if self.page_break {
            ppr.push_str("<w:pageBreakBefore/>");
        }
        if self.rule {
            ppr.push_str(
                r#"<w:pBdr><w:top w:val="single" w:sz="6" w:space="0" w:color="000000"/></w:pBdr>"#,
            );
        }
        if let Some(b) = self.before {
            ppr.push_str(&format!(r#"<w:spacing w:before="{b}"/>"#));
        }
        if let Some((l, r)) = self.indent {
            ppr.push_str(&format!(r#"<w:ind w:left="{l}" w:right="{r}"/>"#));
        }
        if let Some(jc) = self.align {
            ppr.push_str(&format!(r#"<w:jc w:val="{jc}"/>"#));
        }
        format!("<w:p><w:pPr>{ppr}</w:pPr>{}</w:p>", runs.concat())
    }

    /// A paragraph of one run.
    pub(crate) fn text(self, text: &str, font: Font) -> String {
        self.with(&[run(text, font)])
    }
}

/// A short centred rule `width` twips long in a column `column` twips wide.
pub(crate) fn rule(column: u32, width: u32) -> String {
    let side = column.saturating_sub(width) / 2;
    Para {
        rule: true,
        indent: Some((side, side)),
        ..para("Rule")
    }
    .with(&[])
}

/// A table cell; `middle` centres the content vertically (data tables), otherwise it
/// hangs from the top (the heading and signature blocks).
fn cell(width: u32, content: &str, middle: bool) -> String {
    // A cell must end with a paragraph.
    let content = if content.ends_with("</w:p>") {
        content.to_string()
    } else {
        format!("{content}{}", para("Cell").with(&[]))
    };
    let valign = if middle {
        r#"<w:vAlign w:val="center"/>"#
    } else {
        ""
    };
    format!(r#"<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{valign}</w:tcPr>{content}</w:tc>"#)
}

/// How a table row behaves at a page break.
#[derive(Clone, Copy, PartialEq)]
enum Rows {
    /// The heading row of a data table: repeated on every page.
    Heading,
    /// A long row of data, free to break: a list of a hundred units short of a
    /// target may not fit on a page.
    Breakable,
    /// Short rows of data, and the heading and signature blocks: never broken.
    Whole,
}

fn row(cells: &[String], kind: Rows) -> String {
    let props = match kind {
        Rows::Heading => "<w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>",
        Rows::Breakable => "",
        Rows::Whole => "<w:trPr><w:cantSplit/></w:trPr>",
    };
    format!("<w:tr>{props}{}</w:tr>", cells.concat())
}

/// A fixed-layout table of the given column widths; ruled when `borders`.
fn table(widths: &[u32], borders: bool, rows: &[String]) -> String {
    let total: u32 = widths.iter().sum();
    let line = if borders {
        r#"w:val="single" w:sz="4" w:space="0" w:color="000000""#
    } else {
        r#"w:val="nil""#
    };
    let edges = ["top", "left", "bottom", "right", "insideH", "insideV"]
        .iter()
        .map(|e| format!("<w:{e} {line}/>"))
        .collect::<String>();
    let grid = widths
        .iter()
        .map(|w| format!(r#"<w:gridCol w:w="{w}"/>"#))
        .collect::<String>();
    format!(
        concat!(
            r#"<w:tbl><w:tblPr><w:tblW w:w="{total}" w:type="dxa"/><w:jc w:val="center"/>"#,
            r#"<w:tblBorders>{edges}</w:tblBorders><w:tblLayout w:type="fixed"/>"#,
            r#"<w:tblCellMar><w:left w:w="{pad}" w:type="dxa"/><w:right w:w="{pad}" w:type="dxa"/></w:tblCellMar>"#,
            r#"<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" w:lastColumn="0" w:noHBand="1" w:noVBand="1"/>"#,
            r#"</w:tblPr><w:tblGrid>{grid}</w:tblGrid>{rows}</w:tbl>"#
        ),
        total = total,
        edges = edges,
        grid = grid,
        pad = CELL_PADDING,
        rows = rows.concat(),
    )
}

/// A column of a ruled data table. Width 0 shares out what the others leave.
pub(crate) struct Column<'a> {
    title: &'a str,
    width: u32,
    /// Figures are centred, text is set left.
    centred: bool,
}

pub(crate) const fn col(title: &str, width: u32, centred: bool) -> Column<'_> {
    Column {
        title,
        width,
        centred,
    }
}

/// Characters beyond which a data row may break across pages (some ten lines of
/// the narrowest column).
const LONG_ROW: usize = 400;

/// A ruled table with a bold heading row that repeats on every page; `bold_last`
/// sets the last row (a total) in bold.
pub(crate) fn data_table(columns: &[Column<'_>], rows: &[Vec<String>], bold_last: bool) -> String {
    let fixed: u32 = columns.iter().map(|c| c.width).sum();
    let flexible = columns.iter().filter(|c| c.width == 0).count() as u32;
    let share = TEXT_WIDTH.saturating_sub(fixed) / flexible.max(1);
    let widths: Vec<u32> = columns
        .iter()
        .map(|c| if c.width == 0 { share } else { c.width })
        .collect();
    let mut out = vec![row(
        &columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| {
                cell(
                    *w,
                    &para("Cell").align("center").text(c.title, PLAIN.bold()),
                    true,
                )
            })
            .collect::<Vec<_>>(),
        Rows::Heading,
    )];
    for (n, values) in rows.iter().enumerate() {
        let font = if bold_last && n + 1 == rows.len() {
            PLAIN.bold()
        } else {
            PLAIN
        };
        out.push(row(
            &columns
                .iter()
                .zip(&widths)
                .zip(values)
                .map(|((c, w), v)| {
                    let p = if c.centred {
                        para("Cell").align("center")
                    } else {
                        para("Cell")
                    };
                    cell(*w, &p.text(v, font), true)
                })
                .collect::<Vec<_>>(),
            if values.iter().map(|v| v.chars().count()).sum::<usize>() > LONG_ROW {
                Rows::Breakable
            } else {
                Rows::Whole
            },
        ));
    }
    table(&widths, true, &out)
}

// ---------------------------------------------------------------------------------
// The document.

pub(crate) const BODY: Para = para("Body");
pub(crate) const HEADING: Para = para("Heading");
pub(crate) const CENTRE: Para = para("Centre");

/// The row number of a table ("TT"): 1, 2, …
pub(crate) fn ordinal(i: usize) -> String {
    (i + 1).to_string()
}

/// What a document prints beside its figures: the issuing unit's settings (heading,
/// signer, recipients), the plan it reports on, and the date — `None` leaves
/// "ngày … tháng … năm …" for the office to fill in when it signs.
pub struct Letter {
    pub settings: DocumentSettings,
    pub plan: PlanBasis,
    pub date: Option<NaiveDate>,
    /// The form's sex-disaggregated fields, shown as pairs rather than again alone.
    pub paired_fields: Vec<String>,
    /// Activity type codes in the form's order.
    pub activity_order: Vec<String>,
}

/// The plan a report answers to, as its opening cites it.
pub struct PlanBasis {
    pub document_number: String,
    pub issue_date: Option<NaiveDate>,
    pub title: String,
    /// The superior plan this one implements (e.g. the city's), cited first.
    pub legal_basis: String,
    pub issuer_name: String,
}

impl PlanBasis {
    /// "Kế hoạch số 12/KH-SVHTT ngày 15/3/2024 của Sở … về thực hiện …": a number
    /// without its figures (`/KH-SVHTT`, not yet registered) is left out rather than
    /// printed empty.
    pub fn citation(&self) -> String {
        let number = self.document_number.trim();
        let mut out = "Kế hoạch".to_string();
        if number
            .split('/')
            .next()
            .is_some_and(|n| !n.trim().is_empty())
        {
            out.push_str(&format!(" số {number}"));
        }
        if let Some(d) = self.issue_date {
            out.push_str(&format!(" ngày {}", short_date(d)));
        }
        if !self.issuer_name.trim().is_empty() {
            out.push_str(&format!(" của {}", self.issuer_name.trim()));
        }
        let title = self.title.trim();
        let about = ["Kế hoạch ", "kế hoạch ", "KẾ HOẠCH "]
            .iter()
            .find_map(|p| title.strip_prefix(p))
            .unwrap_or(title)
            .trim();
        if !about.is_empty() {
            out.push_str(&format!(" về {}", lower_first(about)));
        }
        out
    }

    /// "Thực hiện <the superior plan>; <this plan>," — the opening of a report.
    pub fn opening(&self) -> String {
        let basis = self.legal_basis.trim().trim_end_matches(['.', ';', ',']);
        if basis.is_empty() {
            format!("Thực hiện {}", self.citation())
        } else {
            format!("Thực hiện {basis}; {}", self.citation())
        }
    }
}

/// "thực hiện …" from "Thực hiện …": a title continues the sentence.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "Hà Nội, ngày 05 tháng 3 năm 2025", or with the day, month and year left for the
/// office when the document is not dated.
pub(crate) fn dated(place: &str, date: Option<NaiveDate>) -> String {
    match date {
        Some(d) => {
            let (day, month, year) = date_parts(d);
            format!("{place}, ngày {day} tháng {month} năm {year}")
        }
        None => format!("{place}, ngày … tháng … năm …"),
    }
}

/// Issuing body, number and symbol on the left; national name, motto, place and date
/// on the right — a borderless table, as every template of the decree does it.
pub(crate) fn heading_block(s: &DocumentSettings, kind: &str, date: Option<NaiveDate>) -> String {
    // The text area's 16.5 cm: 6.8 cm for the bodies, 9.7 cm for the national name;
    // at 12 pt (the decree allows 12–13) "SỞ VĂN HÓA VÀ THỂ THAO" and the national
    // name each stay on one line.
    let left = 3856;
    let right = TEXT_WIDTH - left;
    let mut issuer = Vec::new();
    if !s.superior_body.trim().is_empty() {
        issuer.push(CENTRE.text(&s.superior_body.to_uppercase(), PLAIN.size(PT12)));
    }
    issuer.push(CENTRE.text(&s.issuing_body.to_uppercase(), PLAIN.bold().size(PT12)));
    issuer.push(rule(left, 1418));
    let top = row(
        &[
            cell(left, &issuer.concat(), false),
            cell(
                right,
                &[
                    CENTRE.text(
                        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                        PLAIN.bold().size(PT12),
                    ),
                    CENTRE.text(
                        "Độc lập - Tự do - Hạnh phúc",
                        PLAIN.bold().underline().size(PT14),
                    ),
                ]
                .concat(),
                false,
            ),
        ],
        Rows::Whole,
    );
    let bottom = row(
        &[
            cell(
                left,
                &CENTRE.before(120).text(
                    &format!("Số: {NUMBER_PLACEHOLDER}/{kind}-{}", s.abbreviation),
                    PLAIN.size(PT13),
                ),
                false,
            ),
            cell(
                right,
                &CENTRE
                    .before(120)
                    .text(&dated(&s.place, date), PLAIN.italic().size(PT14)),
                false,
            ),
        ],
        Rows::Whole,
    );
    table(&[left, right], false, &[top, bottom])
}

fn subject(c: &Compilation) -> String {
    let p = &c.figures.period;
    format!(
        "Kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {}",
        period_phrase(&p.name, &p.code)
    )
}

/// A name inside a sentence: "Sở Văn hóa và Thể thao" as the tree spells it, never
/// the capitals of the heading.
pub(crate) fn in_sentence(name: &str) -> String {
    let name = name.trim();
    if name.chars().any(char::is_lowercase) {
        name.to_string()
    } else {
        let lower = name.to_lowercase();
        let mut chars = lower.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
}

fn introduction(c: &Compilation, l: &Letter) -> String {
    let f = &c.figures;
    let p = &f.period;
    let basis = if c.include_submitted {
        "đã được duyệt và đã nộp đang chờ duyệt"
    } else {
        "đã được duyệt"
    };
    [
        BODY.text(
            &format!(
                "{}, {} báo cáo kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {} như sau:",
                l.plan.opening(),
                in_sentence(&c.unit.name),
                period_phrase(&p.name, &p.code)
            ),
            PLAIN,
        ),
        BODY.text(
            &format!(
                "Số liệu được tổng hợp từ {} báo cáo {basis} của các đơn vị, tính đến ngày chốt số liệu {} (kỳ báo cáo từ ngày {}); hạn gửi báo cáo ngày {}.",
                number(f.reports_included as f64),
                short_date(p.window_end),
                short_date(p.window_start),
                short_date(p.due_date),
            ),
            PLAIN,
        ),
    ]
    .concat()
}

/// The units still owing a report, with what became of the ones that started one.
fn missing_units(units: &CompletenessUnits) -> String {
    units
        .not_started
        .iter()
        .map(|u| u.name.clone())
        .chain(
            units
                .draft
                .iter()
                .map(|u| format!("{} (đang soạn)", u.name)),
        )
        .chain(
            units
                .returned
                .iter()
                .map(|u| format!("{} (bị trả lại để hoàn thiện)", u.name)),
        )
        .chain(
            units
                .awaiting_approval
                .iter()
                .map(|u| format!("{} (chờ thủ trưởng đơn vị duyệt)", u.name)),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

fn completeness(c: &Compilation) -> String {
    let cp = &c.figures.completeness;
    let mut out = vec![
        HEADING.text("1. Tình hình thực hiện chế độ báo cáo", PLAIN.italic()),
        BODY.text(
            &format!(
                "Tổng số đơn vị phải báo cáo: {}. Số đơn vị đã nộp báo cáo: {} (đạt {}), trong đó đã được duyệt: {}; nộp đúng hạn: {}; nộp muộn: {}. Số đơn vị chưa nộp báo cáo: {}.",
                number(cp.expected as f64),
                number(cp.submitted as f64),
                percent(cp.submitted_share),
                number(cp.accepted as f64),
                number(cp.on_time as f64),
                number(cp.late as f64),
                number(cp.missing as f64),
            ),
            PLAIN,
        ),
    ];
    if let Some(prev) = &c.previous {
        let pc = &prev.completeness;
        out.push(BODY.text(
            &format!(
                "Kỳ trước ({}): {}/{} đơn vị đã nộp báo cáo ({}), {} đơn vị nộp muộn.",
                period_phrase(&prev.period.name, &prev.period.code),
                number(pc.submitted as f64),
                number(pc.expected as f64),
                percent(pc.submitted_share),
                number(pc.late as f64),
            ),
            PLAIN,
        ));
    }
    if let Some(units) = &cp.units {
        let missing = missing_units(units);
        let late = names(&units.late);
        for (label, list) in [
            ("Các đơn vị chưa nộp báo cáo: ", missing),
            ("Các đơn vị nộp báo cáo muộn: ", late),
        ] {
            let list = if list.is_empty() {
                "không có".to_string()
            } else {
                list
            };
            out.push(BODY.with(&[
                run(&format!("- {label}"), PLAIN.italic()),
                run(&format!("{list}."), PLAIN),
            ]));
        }
    }
    out.concat()
}

fn indicators(c: &Compilation) -> String {
    let f = &c.figures;
    let mut out = vec![HEADING.text("2. Kết quả thực hiện các chỉ tiêu", PLAIN.italic())];
    if f.indicators.is_empty() {
        out.push(BODY.text("Kế hoạch không đặt chỉ tiêu cho kỳ báo cáo này.", PLAIN));
        return out.concat();
    }
    let met = f.indicators.iter().filter(|i| i.met == Some(true)).count();
    out.push(BODY.keep_next().text(
        &format!(
            "Có {}/{} chỉ tiêu đạt mục tiêu đề ra; kết quả cụ thể như sau:",
            met,
            f.indicators.len()
        ),
        PLAIN,
    ));
    out.extend(coverage_note(&f.coverage));
    let prev = c.previous.as_deref();
    let mut columns = vec![
        col("TT", 567, true),
        col("Chỉ tiêu", 0, false),
        col("Kết quả", 1134, true),
        col("Tử số / mẫu số", 1304, true),
        col("Mục tiêu", 1077, true),
        col("Đánh giá", 1191, true),
    ];
    if prev.is_some() {
        columns.push(col("Kỳ trước", 1021, true));
    }
    columns.push(col("Đơn vị chưa đạt", 1701, false));
    let rows: Vec<Vec<String>> = f
        .indicators
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let mut assessment = match i.met {
                Some(true) => "Đạt".to_string(),
                Some(false) => "Chưa đạt".to_string(),
                None => format!("Chưa tính được ({})", reason_vi(i.reason.as_deref())),
            };
            // One verdict per line, beside the target it judges.
            for t in year_targets(i) {
                if let (Some(y), Some(met)) = (t.year, t.met) {
                    let verdict = if met { "Đạt" } else { "Chưa đạt" };
                    assessment.push_str(&format!("\n{verdict} (năm {y})"));
                }
            }
            let mut cells = vec![
                ordinal(n),
                i.name_vi.clone(),
                percent(i.value),
                format!("{} / {}", number(i.numerator), number(i.denominator)),
                target_text(i),
                assessment,
            ];
            if let Some(p) = prev {
                cells.push(percent(
                    p.indicators
                        .iter()
                        .find(|x| x.code == i.code)
                        .and_then(|x| x.value),
                ));
            }
            cells.push(names(&i.units_short));
            cells
        })
        .collect();
    out.push(data_table(&columns, &rows, false));
    // Where each year's target comes from, which the table has no room for.
    for i in &f.indicators {
        for t in year_targets(i) {
            out.push(BODY.text(
                &format!(
                    "Mục tiêu của chỉ tiêu “{}” {}.",
                    i.name_vi,
                    t.describe_vi(i.direction)
                ),
                PLAIN,
            ));
        }
    }
    out.push(BODY.text(
        &format!(
            "Số đơn vị được tính: {}/{} đơn vị phải báo cáo.",
            number(f.coverage.counted as f64),
            number(f.coverage.expected as f64)
        ),
        PLAIN.italic(),
    ));
    out.concat()
}

/// When some expected units are not counted, the sentence that says so: the figures
/// reflect only x of y units, and which ones they leave out.
fn coverage_note(c: &Coverage) -> Option<String> {
    if c.counted >= c.expected {
        return None;
    }
    let missing = if c.not_counted.is_empty() {
        String::new()
    } else {
        format!("; các đơn vị chưa được tính: {}", names(&c.not_counted))
    };
    Some(BODY.with(&[
        run("Lưu ý: ", PLAIN.italic()),
        run(
            &format!(
                "số liệu mới phản ánh {}/{} đơn vị phải báo cáo{missing}.",
                number(c.counted as f64),
                number(c.expected as f64),
            ),
            PLAIN,
        ),
    ]))
}

/// A total as its type reads: đồng whole, counts as counts.
fn total_text(kind: &str, v: f64) -> String {
    if kind == "money_vnd" {
        money(v)
    } else {
        number(v)
    }
}

fn key_figures(f: &Figures, prev: Option<&Figures>, l: &Letter) -> String {
    let mut out = vec![
        HEADING.text("3. Một số số liệu chủ yếu", PLAIN.italic()),
        coverage_note(&f.coverage).unwrap_or_else(|| {
            BODY.text(
                &format!(
                    "Số liệu tổng hợp từ {}/{} đơn vị phải báo cáo.",
                    number(f.coverage.counted as f64),
                    number(f.coverage.expected as f64),
                ),
                PLAIN,
            )
        }),
        HEADING.text("a) Số liệu phân tách theo giới tính", PLAIN.italic()),
    ];
    if f.pairs.is_empty() {
        out.push(BODY.text(
            "Mẫu báo cáo không có số liệu phân tách theo giới tính.",
            PLAIN,
        ));
    } else {
        let mut columns = vec![
            col("TT", 567, true),
            col("Nội dung", 0, false),
            col("Tổng số", 1247, true),
            col("Nữ", 1247, true),
            col("Tỷ lệ nữ", 1247, true),
        ];
        if prev.is_some() {
            columns.push(col("Tỷ lệ nữ kỳ trước", 1361, true));
        }
        let rows: Vec<Vec<String>> = f
            .pairs
            .iter()
            .enumerate()
            .map(|(n, p)| {
                let mut cells = vec![
                    ordinal(n),
                    p.label_vi.clone(),
                    number(p.total),
                    number(p.female),
                    percent(p.female_share),
                ];
                if let Some(before) = prev {
                    cells.push(percent(
                        before
                            .pairs
                            .iter()
                            .find(|x| x.code == p.code)
                            .and_then(|x| x.female_share),
                    ));
                }
                cells
            })
            .collect();
        out.push(data_table(&columns, &rows, false));
    }

    // Every other figure of the form, in its order: the Committee's meetings and
    // inspections, the budget allocated and spent, the activities integrating gender
    // equality …
    let others: Vec<_> = f
        .totals
        .iter()
        .filter(|t| !l.paired_fields.contains(&t.field))
        .collect();
    if !others.is_empty() || !f.flags.is_empty() {
        out.push(HEADING.text("b) Các số liệu khác", PLAIN.italic()));
        let mut columns = vec![
            col("TT", 567, true),
            col("Nội dung", 0, false),
            col("Kết quả", 1701, true),
        ];
        if prev.is_some() {
            columns.push(col("Kỳ trước", 1701, true));
        }
        // A yes/no field reads as how many reports answer yes: "12/25 báo cáo".
        let flag = |g: &super::model::FlagCount| {
            format!(
                "{}/{} báo cáo",
                number(g.yes as f64),
                number(g.answered as f64)
            )
        };
        let mut rows: Vec<Vec<String>> = f
            .flags
            .iter()
            .map(|g| {
                let mut cells = vec![String::new(), g.label_vi.clone(), flag(g)];
                if let Some(before) = prev {
                    cells.push(
                        before
                            .flags
                            .iter()
                            .find(|x| x.field == g.field)
                            .map_or_else(|| DASH.to_string(), flag),
                    );
                }
                cells
            })
            .collect();
        rows.extend(others.iter().map(|t| {
            let mut cells = vec![
                String::new(),
                t.label_vi.clone(),
                total_text(&t.kind, t.sum),
            ];
            if let Some(before) = prev {
                cells.push(
                    before
                        .totals
                        .iter()
                        .find(|x| x.field == t.field)
                        .map_or_else(|| DASH.to_string(), |x| total_text(&x.kind, x.sum)),
                );
            }
            cells
        }));
        for (n, r) in rows.iter_mut().enumerate() {
            r[0] = ordinal(n);
        }
        out.push(data_table(&columns, &rows, false));
    }

    let mut letter = if others.is_empty() && f.flags.is_empty() {
        'b'
    } else {
        'c'
    };
    out.push(HEADING.text(
        &format!("{letter}) Các hoạt động đã tổ chức theo loại hình"),
        PLAIN.italic(),
    ));
    if f.activities.is_empty() {
        out.push(BODY.text("Trong kỳ, các đơn vị chưa báo cáo hoạt động nào.", PLAIN));
    } else {
        let columns = [
            col("TT", 567, true),
            col("Loại hoạt động", 0, false),
            col("Số hoạt động", 1134, true),
            col("Người tham gia", 1361, true),
            col("Nữ", 1134, true),
            col("Kinh phí (đồng)", 1701, true),
        ];
        // In the form's order of types; a type the form no longer lists goes last.
        let mut groups: Vec<_> = f.activities.iter().collect();
        groups.sort_by_key(|a| {
            l.activity_order
                .iter()
                .position(|k| *k == a.kind)
                .unwrap_or(usize::MAX)
        });
        let mut rows: Vec<Vec<String>> = groups
            .iter()
            .enumerate()
            .map(|(n, a)| {
                vec![
                    ordinal(n),
                    a.label_vi.clone(),
                    number(a.count as f64),
                    number(a.participants_total),
                    number(a.participants_female),
                    money(a.cost_vnd),
                ]
            })
            .collect();
        let sum = |g: fn(&super::model::ActivityGroup) -> f64| -> f64 {
            f.activities.iter().map(g).sum()
        };
        rows.push(vec![
            String::new(),
            "Tổng cộng".to_string(),
            number(sum(|a| a.count as f64)),
            number(sum(|a| a.participants_total)),
            number(sum(|a| a.participants_female)),
            money(sum(|a| a.cost_vnd)),
        ]);
        out.push(data_table(&columns, &rows, true));
    }
    if !f.topics.is_empty() {
        letter = char::from(letter as u8 + 1);
        out.push(HEADING.text(
            &format!("{letter}) Các hoạt động theo chủ đề"),
            PLAIN.italic(),
        ));
        out.push(BODY.text(
            "Một hoạt động có nhiều chủ đề được tính ở mỗi chủ đề.",
            PLAIN.italic(),
        ));
        let columns = [
            col("TT", 567, true),
            col("Chủ đề", 0, false),
            col("Số hoạt động", 1134, true),
            col("Người tham gia", 1361, true),
            col("Nữ", 1134, true),
            col("Tỷ lệ nữ", 1134, true),
        ];
        let rows: Vec<Vec<String>> = f
            .topics
            .iter()
            .enumerate()
            .map(|(n, a)| {
                vec![
                    ordinal(n),
                    a.label_vi.clone(),
                    number(a.count as f64),
                    number(a.participants_total),
                    number(a.participants_female),
                    percent(a.female_share),
                ]
            })
            .collect();
        out.push(data_table(&columns, &rows, false));
    }
    out.concat()
}

/// Whether a narrative field holds the units' proposals (kiến nghị, đề xuất): those go
/// to the report's own proposals section, once.
fn is_proposal(s: &NarrativeSection) -> bool {
    let label = s.label_vi.to_lowercase();
    label.contains("kiến nghị") || label.contains("đề xuất") || s.field.contains("recommend")
}

/// How many points of a section the body shows; the rest are in the appendix.
const POINTS: usize = 6;
/// How many characters of a point the body shows.
const POINT_CHARS: usize = 240;

/// The first sentence (or line) of a text, cut at `POINT_CHARS` on a word.
fn point_of(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let sentence = match line.find(". ") {
        Some(i) => &line[..=i],
        None => line,
    };
    let sentence = sentence.trim().trim_end_matches(['.', ';']);
    if sentence.chars().count() <= POINT_CHARS {
        return sentence.to_string();
    }
    let cut: String = sentence.chars().take(POINT_CHARS).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{cut} …")
}

/// A section's texts condensed: each unit's first point, units that made the same
/// point together, the points most units made first.
fn condensed(s: &NarrativeSection) -> Vec<(String, Vec<&str>)> {
    let mut points: Vec<(String, Vec<&str>)> = Vec::new();
    for e in &s.entries {
        let p = point_of(&e.text);
        if p.is_empty() {
            continue;
        }
        match points
            .iter_mut()
            .find(|(q, _)| q.to_lowercase() == p.to_lowercase())
        {
            Some((_, units)) => units.push(&e.unit_name),
            None => points.push((p, vec![&e.unit_name])),
        }
    }
    // Stable: among points made equally often, the first unit's comes first.
    points.sort_by_key(|(_, units)| std::cmp::Reverse(units.len()));
    points
}

/// The condensed points of some narrative sections, each under its label.
fn condensed_sections(sections: &[&NarrativeSection]) -> Vec<String> {
    let mut out = Vec::new();
    for s in sections {
        let points = condensed(s);
        out.push(BODY.with(&[run(&format!("{}:", s.label_vi.trim()), PLAIN.italic())]));
        if points.is_empty() {
            out.push(BODY.text("- Các đơn vị không có ý kiến.", PLAIN));
            continue;
        }
        for (p, units) in points.iter().take(POINTS) {
            let who = if units.len() > 3 {
                format!(
                    "{} và {} đơn vị khác",
                    units[..2].join(", "),
                    units.len() - 2
                )
            } else {
                units.join(", ")
            };
            out.push(BODY.text(&format!("- {p} ({who})."), PLAIN));
        }
        if points.len() > POINTS {
            out.push(BODY.text(
                &format!(
                    "- Và {} ý kiến khác (xem Phụ lục).",
                    number((points.len() - POINTS) as f64)
                ),
                PLAIN.italic(),
            ));
        }
    }
    out
}

fn assessment(c: &Compilation) -> String {
    let mut out = vec![
        HEADING.text("II. ĐÁNH GIÁ CHUNG", PLAIN),
        HEADING.text("1. Kết quả đạt được", PLAIN.italic()),
        BODY.text(
            "[Đơn vị tổng hợp đánh giá những kết quả nổi bật trong kỳ trên cơ sở số liệu tại mục I.]",
            PLAIN.italic(),
        ),
        HEADING.text("2. Tồn tại, hạn chế và nguyên nhân", PLAIN.italic()),
        BODY.text(
            "[Đơn vị tổng hợp nêu những tồn tại, hạn chế và nguyên nhân, trong đó có các chỉ tiêu chưa đạt và các đơn vị chưa báo cáo.]",
            PLAIN.italic(),
        ),
    ];
    let sections: Vec<&NarrativeSection> =
        c.narratives.iter().filter(|s| !is_proposal(s)).collect();
    if !sections.is_empty() {
        out.push(HEADING.text("3. Ý kiến của các đơn vị", PLAIN.italic()));
        out.extend(condensed_sections(&sections));
    }
    out.concat()
}

fn next_period(c: &Compilation) -> String {
    let mut out = vec![HEADING.text("III. NHIỆM VỤ TRỌNG TÂM KỲ TỚI", PLAIN)];
    let open: Vec<_> = c
        .tasks
        .tasks
        .iter()
        .filter(|t| !t.status.is_some_and(|s| s.is_closed()))
        .collect();
    if !open.is_empty() {
        out.push(BODY.text(
            "Tiếp tục thực hiện các nhiệm vụ của Kế hoạch chưa hoàn thành:",
            PLAIN,
        ));
        for t in open {
            let due = t
                .due
                .map(|d| format!(", thời hạn {}", short_date(d)))
                .unwrap_or_default();
            out.push(BODY.text(
                &format!(
                    "- {} ({} chủ trì{due}).",
                    t.title_vi.trim(),
                    t.lead_unit.name
                ),
                PLAIN,
            ));
        }
    }
    out.push(BODY.text(
        "[Đơn vị tổng hợp bổ sung các nhiệm vụ trọng tâm kỳ tới.]",
        PLAIN.italic(),
    ));
    out.concat()
}

fn proposals(c: &Compilation) -> String {
    let mut out = vec![HEADING.text("IV. KIẾN NGHỊ, ĐỀ XUẤT", PLAIN)];
    let sections: Vec<&NarrativeSection> = c.narratives.iter().filter(|s| is_proposal(s)).collect();
    out.push(BODY.text(
        "[Đơn vị tổng hợp nêu các kiến nghị, đề xuất với cấp trên, căn cứ ý kiến của các đơn vị.]",
        PLAIN.italic(),
    ));
    out.extend(condensed_sections(&sections));
    // The closing sentence goes with the signature onto its page, never a signature
    // alone.
    out.push(BODY.before(240).keep_next().text(
        &format!(
            "Trên đây là báo cáo kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ {} của {}./.",
            period_phrase(&c.figures.period.name, &c.figures.period.code),
            in_sentence(&c.unit.name)
        ),
        PLAIN,
    ));
    out.concat()
}

/// Every unit's texts in full, after the signature: "Phụ lục".
fn appendix(c: &Compilation) -> String {
    if c.narratives.iter().all(|s| s.entries.is_empty()) {
        return String::new();
    }
    let mut out = vec![
        para("Normal").page_break().with(&[]),
        CENTRE.text("PHỤ LỤC", PLAIN.bold()),
        CENTRE.text("Ý kiến của các đơn vị", PLAIN.bold()),
        CENTRE.text(
            &format!("(Kèm theo Báo cáo số {NUMBER_PLACEHOLDER})"),
            PLAIN.italic(),
        ),
    ];
    for (n, s) in c.narratives.iter().enumerate() {
        // A field that is its section's only text is named with the section, so that
        // "Mô tả việc lồng ghép" says what it describes.
        let alone = c
            .narratives
            .iter()
            .filter(|x| x.section == s.section)
            .count()
            == 1;
        let title = if alone && !s.section_title_vi.trim().is_empty() {
            format!("{}: {}", s.section_title_vi.trim(), s.label_vi)
        } else {
            s.label_vi.clone()
        };
        out.push(HEADING.text(&format!("{}. {title}", n + 1), PLAIN.italic()));
        if s.entries.is_empty() {
            out.push(BODY.text("Không có ý kiến.", PLAIN));
        }
        for e in &s.entries {
            let mut lines = e.text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or_default();
            out.push(BODY.with(&[
                run(&format!("- {}: ", e.unit_name), PLAIN.italic()),
                run(first, PLAIN),
            ]));
            for line in lines {
                out.push(BODY.text(line, PLAIN));
            }
        }
    }
    out.concat()
}

/// Recipients on the left, the signature on the right, in one borderless row that is
/// kept on a page.
pub(crate) fn signature_block(s: &DocumentSettings) -> String {
    let left = 4536; // 8 cm
    let right = TEXT_WIDTH - left;
    let recipient = |t: &str| para("Cell").text(t, PLAIN.size(PT11));
    let mut recipients = vec![para("Cell").text("Nơi nhận:", PLAIN.bold().italic().size(PT12))];
    for r in &s.recipients {
        let r = r.trim().trim_end_matches([';', '.']);
        recipients.push(recipient(&format!("- {r};")));
    }
    recipients.push(recipient(&if s.drafting_unit.trim().is_empty() {
        "- Lưu: VT.".to_string()
    } else {
        format!("- Lưu: VT, {}.", s.drafting_unit.trim())
    }));
    let mut signature = Vec::new();
    if !s.signer_authority.trim().is_empty() {
        signature.push(CENTRE.text(&s.signer_authority.to_uppercase(), PLAIN.bold()));
    }
    signature.push(CENTRE.text(&s.signer_title.to_uppercase(), PLAIN.bold()));
    // Room for the signature and the seal, about 2.5 cm.
    signature.extend((0..5).map(|_| CENTRE.with(&[])));
    if !s.signer_name.trim().is_empty() {
        signature.push(CENTRE.text(s.signer_name.trim(), PLAIN.bold()));
    }
    let cells = [
        cell(left, &recipients.concat(), false),
        cell(right, &signature.concat(), false),
    ];
    [
        para("Normal").before(240).keep_next().with(&[]),
        table(&[left, right], false, &[row(&cells, Rows::Whole)]),
        // Word ends a body with a paragraph, not a table; this one is 6 pt high so
        // that it hardly ever needs a page of its own.
        para("Rule").with(&[]),
    ]
    .concat()
}

fn document_xml(c: &Compilation, l: &Letter) -> String {
    let title_width = 2268; // the rule under the subject, 4 cm
    let body = [
        heading_block(&l.settings, "BC", l.date),
        CENTRE.before(360).keep_next().text("BÁO CÁO", PLAIN.bold()),
        CENTRE.keep_next().text(&subject(c), PLAIN.bold()),
        rule(TEXT_WIDTH, title_width),
        introduction(c, l),
        HEADING.text("I. KẾT QUẢ THỰC HIỆN", PLAIN),
        completeness(c),
        indicators(c),
        key_figures(&c.figures, c.previous.as_deref(), l),
        crate::tasks::part::docx_body(&c.tasks),
        assessment(c),
        next_period(c),
        proposals(c),
        signature_block(&l.settings),
        appendix(c),
    ]
    .concat();
    document_part(&body)
}

/// The body of a document and its section properties: A4, the decree's margins, the
/// page number from page 2.
pub(crate) fn document_part(body: &str) -> String {
    format!(
        concat!(
            "{decl}<w:document xmlns:w=\"{w}\" xmlns:r=\"{r}\"><w:body>{body}",
            "<w:sectPr>",
            r#"<w:headerReference w:type="default" r:id="rIdHeader"/>"#,
            r#"<w:headerReference w:type="first" r:id="rIdHeaderFirst"/>"#,
            r#"<w:pgSz w:w="{pw}" w:h="{ph}"/>"#,
            r#"<w:pgMar w:top="{mt}" w:right="{mr}" w:bottom="{mb}" w:left="{ml}" w:header="{hd}" w:footer="{hd}" w:gutter="0"/>"#,
            r#"<w:cols w:space="720"/><w:titlePg/>"#,
            "</w:sectPr></w:body></w:document>"
        ),
        decl = XML_DECLARATION,
        w = NS_W,
        r = NS_R,
        body = body,
        pw = PAGE_WIDTH,
        ph = PAGE_HEIGHT,
        mt = MARGIN_TOP,
        mr = MARGIN_RIGHT,
        mb = MARGIN_BOTTOM,
        ml = MARGIN_LEFT,
        hd = HEADER_DISTANCE,
    )
}

/// The page number, centred at the top of every page but the first.
fn header_xml(with_number: bool) -> String {
    let content = if with_number {
        r#"<w:fldSimple w:instr=" PAGE "><w:r><w:t>2</w:t></w:r></w:fldSimple>"#
    } else {
        ""
    };
    format!(
        r#"{XML_DECLARATION}<w:hdr xmlns:w="{NS_W}" xmlns:r="{NS_R}"><w:p><w:pPr><w:pStyle w:val="Centre"/></w:pPr>{content}</w:p></w:hdr>"#
    )
}

/// Times New Roman 14 pt throughout, Vietnamese; the few paragraph styles the
/// document uses, so that the office's edits stay consistent.
fn styles_xml() -> String {
    let fonts = r#"<w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:eastAsia="Times New Roman" w:cs="Times New Roman"/>"#;
    let style = |id: &str, name: &str, ppr: &str, rpr: &str| {
        format!(
            r#"<w:style w:type="paragraph" w:customStyle="1" w:styleId="{id}"><w:name w:val="{name}"/><w:basedOn w:val="Normal"/><w:qFormat/><w:pPr>{ppr}</w:pPr><w:rPr>{rpr}</w:rPr></w:style>"#
        )
    };
    [
        XML_DECLARATION.to_string(),
        format!(r#"<w:styles xmlns:w="{NS_W}">"#),
        format!(
            concat!(
                "<w:docDefaults><w:rPrDefault><w:rPr>{fonts}",
                r#"<w:sz w:val="{sz}"/><w:szCs w:val="{sz}"/><w:lang w:val="vi-VN" w:eastAsia="vi-VN" w:bidi="ar-SA"/>"#,
                "</w:rPr></w:rPrDefault><w:pPrDefault><w:pPr>",
                r#"<w:spacing w:after="0" w:line="240" w:lineRule="auto"/>"#,
                "</w:pPr></w:pPrDefault></w:docDefaults>"
            ),
            fonts = fonts,
            sz = PT14,
        ),
        concat!(
            r#"<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/></w:style>"#,
            r#"<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont"><w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/></w:style>"#,
            r#"<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/><w:semiHidden/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/>"#,
            r#"<w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="85" w:type="dxa"/><w:bottom w:w="0" w:type="dxa"/><w:right w:w="85" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>"#,
        )
        .to_string(),
        // Body text: justified, first line indented, 6 pt between paragraphs (the
        // decree's minimum), a little more than single line spacing.
        style(
            "Body",
            "Nội dung",
            &format!(
                r#"<w:spacing w:before="120" w:after="0" w:line="288" w:lineRule="auto"/><w:ind w:firstLine="{FIRST_LINE}"/><w:jc w:val="both"/>"#
            ),
            "",
        ),
        style(
            "Heading",
            "Đề mục",
            &format!(
                r#"<w:keepNext/><w:spacing w:before="180" w:after="0" w:line="288" w:lineRule="auto"/><w:ind w:firstLine="{FIRST_LINE}"/><w:jc w:val="both"/><w:outlineLvl w:val="1"/>"#
            ),
            "<w:b/><w:bCs/>",
        ),
        style("Centre", "Canh giữa", r#"<w:jc w:val="center"/>"#, ""),
        style(
            "Cell",
            "Ô bảng",
            r#"<w:spacing w:before="40" w:after="40"/>"#,
            &format!(r#"<w:sz w:val="{PT13}"/><w:szCs w:val="{PT13}"/>"#),
        ),
        style(
            "Rule",
            "Gạch ngang",
            r#"<w:spacing w:before="100" w:after="0" w:line="120" w:lineRule="exact"/><w:jc w:val="center"/>"#,
            r#"<w:sz w:val="8"/><w:szCs w:val="8"/>"#,
        ),
        "</w:styles>".to_string(),
    ]
    .concat()
}

fn settings_xml() -> String {
    format!(
        concat!(
            r#"{decl}<w:settings xmlns:w="{w}"><w:zoom w:percent="100"/><w:defaultTabStop w:val="720"/>"#,
            r#"<w:characterSpacingControl w:val="doNotCompress"/><w:compat>"#,
            r#"<w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/>"#,
            r#"</w:compat><w:themeFontLang w:val="vi-VN"/></w:settings>"#
        ),
        decl = XML_DECLARATION,
        w = NS_W,
    )
}

fn core_xml(title: &str, creator: &str, at: DateTime<Utc>) -> String {
    let created = at.format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        concat!(
            r#"{decl}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" "#,
            r#"xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" "#,
            r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator><dc:language>vi-VN</dc:language>",
            r#"<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>"#,
            r#"<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>"#,
            "</cp:coreProperties>"
        ),
        decl = XML_DECLARATION,
        title = escape(title),
        creator = escape(creator),
        created = created,
    )
}

const CONTENT_TYPES: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
    r#"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#,
    r#"<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>"#,
    r#"<Default Extension="xml" ContentType="application/xml"/>"#,
    r#"<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>"#,
    r#"<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>"#,
    r#"<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>"#,
    r#"<Override PartName="/word/header1.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>"#,
    r#"<Override PartName="/word/header2.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"/>"#,
    r#"<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>"#,
    "</Types>"
);

const PACKAGE_RELS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
    r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>"#,
    r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>"#,
    "</Relationships>"
);

const DOCUMENT_RELS: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
    r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
    r#"<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>"#,
    r#"<Relationship Id="rIdSettings" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings" Target="settings.xml"/>"#,
    r#"<Relationship Id="rIdHeader" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header1.xml"/>"#,
    r#"<Relationship Id="rIdHeaderFirst" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/header" Target="header2.xml"/>"#,
    "</Relationships>"
);

/// The zip entries' timestamp: the generation time, on the Vietnamese clock.
fn zip_time(at: DateTime<Utc>) -> zip::DateTime {
    let local = at.with_timezone(&vietnam_offset());
    u16::try_from(local.year())
        .ok()
        .and_then(|y| {
            zip::DateTime::from_date_and_time(
                y,
                local.month() as u8,
                local.day() as u8,
                local.hour() as u8,
                local.minute() as u8,
                local.second() as u8,
            )
            .ok()
        })
        .unwrap_or_default()
}

/// The compilation as a draft report, a .docx file.
pub fn to_docx(c: &Compilation, l: &Letter) -> ApiResult<Vec<u8>> {
    package(
        document_xml(c, l),
        &format!("Báo cáo {}", subject(c).to_lowercase()),
        &c.unit.name,
        c.generated_at,
    )
}

/// A .docx package around a document part (`document_part`), with the styles, the
/// page-number headers and the core properties every document of the service shares.
pub(crate) fn package(
    document: String,
    title: &str,
    creator: &str,
    at: DateTime<Utc>,
) -> ApiResult<Vec<u8>> {
    // `[Content_Types].xml` comes first, as readers that stream the package expect.
    let parts: [(&str, String); 9] = [
        ("[Content_Types].xml", CONTENT_TYPES.to_string()),
        ("_rels/.rels", PACKAGE_RELS.to_string()),
        ("docProps/core.xml", core_xml(title, creator, at)),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS.to_string()),
        ("word/document.xml", document),
        ("word/styles.xml", styles_xml()),
        ("word/settings.xml", settings_xml()),
        ("word/header1.xml", header_xml(true)),
        ("word/header2.xml", header_xml(false)),
    ];
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip_time(at));
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in parts {
        zip.start_file(name, options).map_err(ApiError::internal)?;
        zip.write_all(content.as_bytes())
            .map_err(ApiError::internal)?;
    }
    Ok(zip.finish().map_err(ApiError::internal)?.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::io::Read;

    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::compile::model::*;

    fn unit(code: &str, name: &str) -> UnitRef {
        UnitRef {
            id: Uuid::nil(),
            code: code.to_string(),
            name: name.to_string(),
        }
    }

    fn period(code: &str, name: &str) -> PeriodRef {
        PeriodRef {
            id: Uuid::nil(),
            code: code.to_string(),
            name: name.to_string(),
            kind: "semi_annual".to_string(),
            window_start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            window_end: NaiveDate::from_ymd_opt(2024, 5, 15).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2024, 5, 20).unwrap(),
            plan_id: Uuid::nil(),
            plan_year: 2024,
            plan_document_number: "/KH-SVHTT".to_string(),
            plan_title: "Kế hoạch thực hiện công tác bình đẳng giới năm 2024".to_string(),
        }
    }

    fn indicator(code: &str, name: &str, value: Option<f64>, met: Option<bool>) -> IndicatorResult {
        IndicatorResult {
            code: code.to_string(),
            name_vi: name.to_string(),
            name_en: code.to_string(),
            formula: "count(leaders_female >= 1) / count()".to_string(),
            value,
            numerator: 0.0,
            denominator: 0.0,
            target: 1.0,
            direction: Direction::AtLeast,
            met,
            reason: value.is_none().then(|| "no reports".to_string()),
            units_short: vec![unit("B", "Phòng Quản lý <B>")],
            coverage: coverage(),
            source: String::new(),
            targets: Vec::new(),
        }
    }

    fn coverage() -> Coverage {
        Coverage {
            counted: 3,
            expected: 4,
            share: Some(0.75),
            not_counted: vec![unit("D", "Trung tâm D")],
        }
    }

    fn figures(p: PeriodRef, share: f64) -> Figures {
        Figures {
            period: p,
            reports_included: 3,
            coverage: coverage(),
            completeness: Completeness {
                expected: 4,
                submitted: 3,
                accepted: 3,
                on_time: 2,
                late: 1,
                missing: 1,
                submitted_share: Some(0.75),
                units: Some(CompletenessUnits {
                    accepted: vec![unit("A", "Phòng A"), unit("B", "Phòng B")],
                    not_started: vec![unit("D", "Trung tâm D")],
                    late: vec![unit("C", "Nhà hát C")],
                    ..Default::default()
                }),
            },
            indicators: vec![
                indicator(
                    "leaders_with_woman",
                    "Đơn vị có lãnh đạo nữ",
                    Some(share),
                    Some(false),
                ),
                indicator("empty", "Chỉ tiêu chưa có số liệu", None, None),
            ],
            totals: vec![],
            pairs: vec![PairTotal {
                code: "staff".to_string(),
                label_vi: "Cán bộ, công chức, viên chức".to_string(),
                label_en: "Staff".to_string(),
                total: 1200.0,
                female: 700.0,
                female_share: Some(700.0 / 1200.0),
                reports: 3,
            }],
            flags: vec![FlagCount {
                section: "D".to_string(),
                field: "committee_in_place".to_string(),
                label_vi: "Đơn vị đã kiện toàn Ban Vì sự tiến bộ của phụ nữ".to_string(),
                label_en: "Committee in place".to_string(),
                yes: 2,
                answered: 3,
                share: Some(2.0 / 3.0),
            }],
            topics: vec![],
            activities: vec![ActivityGroup {
                kind: "conference".to_string(),
                label_vi: "Hội nghị, hội thảo".to_string(),
                label_en: "Conference".to_string(),
                count: 2,
                participants_total: 40.0,
                participants_female: 25.0,
                female_share: Some(0.625),
                cost_vnd: 1_500_000.0,
            }],
        }
    }

    fn sample() -> Compilation {
        Compilation {
            unit: unit("SVHTT", "Sở Văn hóa & Thể thao"),
            include_submitted: false,
            generated_at: Utc.with_ymd_and_hms(2024, 3, 4, 20, 30, 0).unwrap(),
            figures: figures(period("2024S1", "Báo cáo 6 tháng đầu năm 2024"), 0.583_333).into(),
            narratives: vec![NarrativeSection {
                section: "G".to_string(),
                section_title_vi: "Đánh giá chung".to_string(),
                field: "narrative_results".to_string(),
                label_vi: "Kết quả đạt được".to_string(),
                label_en: "Results".to_string(),
                entries: vec![NarrativeEntry {
                    unit_code: "A".to_string(),
                    unit_name: "Phòng A".to_string(),
                    text: "Tổ chức gặp mặt nữ cán bộ nhân ngày 8/3.\nKhen thưởng 5 cá nhân."
                        .to_string(),
                }],
            }]
            .into(),
            tasks: Default::default(),
            previous: Some(figures(period("2023", "Báo cáo năm 2023"), 0.5).into()),
            units: None,
        }
    }

    fn letter() -> Letter {
        let dept = crate::org::store::Row {
            id: Uuid::nil(),
            code: "SVHTT".into(),
            name: "Sở Văn hóa & Thể thao".into(),
            kind: "department".into(),
            parent_id: None,
            path: String::new(),
            depth: 0,
            active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            version: 1,
        };
        let mut settings = crate::documents::defaults(&dept, None);
        settings.recipients = vec!["UBND Thành phố".into(), "Sở Lao động TB&XH".into()];
        settings.drafting_unit = "VP".into();
        settings.signer_name = "Trần Thị Vân Anh".into();
        Letter {
            settings,
            plan: PlanBasis {
                document_number: "/KH-SVHTT".into(),
                issue_date: NaiveDate::from_ymd_opt(2024, 3, 15),
                title: "Kế hoạch thực hiện công tác bình đẳng giới năm 2024".into(),
                legal_basis: "Kế hoạch số 39/KH-UBND ngày 29/01/2024 của UBND Thành phố".into(),
                issuer_name: "Sở Văn hóa & Thể thao".into(),
            },
            date: None,
            paired_fields: vec![],
            activity_order: vec![],
        }
    }

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    /// Tags open and close in order (the writer escapes every `<` and `>` in text
    /// and attribute values, so a scan for them finds the markup alone).
    fn assert_well_formed(name: &str, xml: &str) {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = xml;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').unwrap() + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') {
                continue;
            }
            if let Some(closing) = tag.strip_prefix('/') {
                assert_eq!(
                    stack.pop(),
                    Some(closing),
                    "{name}: unbalanced </{closing}>"
                );
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().unwrap());
            }
        }
        assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
    }

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape(r#"a & b < c > d " e ' f"#),
            "a &amp; b &lt; c &gt; d &quot; e &apos; f"
        );
        assert_eq!(escape("Bình đẳng giới"), "Bình đẳng giới");
        assert_eq!(escape("x\u{1}y\u{FFFF}\tz"), "xy\tz");
        assert_eq!(
            run("a<b\nc\td", PLAIN),
            r#"<w:r><w:t xml:space="preserve">a&lt;b</w:t><w:br/><w:t xml:space="preserve">c</w:t><w:tab/><w:t xml:space="preserve">d</w:t></w:r>"#
        );
    }

    #[test]
    fn numbers_are_written_the_vietnamese_way() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(999.0), "999");
        assert_eq!(number(1000.0), "1.000");
        assert_eq!(number(1_234_567.0), "1.234.567");
        assert_eq!(number(1234.5), "1.234,5");
        assert_eq!(number(12.345), "12,35");
        assert_eq!(number(-1234.0), "-1.234");
        assert_eq!(number(-0.001), "0");
        assert_eq!(money(1_500_000.0), "1.500.000");
        assert_eq!(money(2_499.6), "2.500");
        assert_eq!(percent(Some(7.0 / 12.0)), "58,3%");
        assert_eq!(percent(Some(0.5)), "50%");
        assert_eq!(percent(Some(1.0)), "100%");
        assert_eq!(percent(Some(0.999)), "99,9%");
        assert_eq!(percent(None), "—");
        assert_eq!(percent(Some(f64::NAN)), "—");
    }

    #[test]
    fn dates_follow_the_decree() {
        let on = |y, m, d| Some(NaiveDate::from_ymd_opt(y, m, d).unwrap());
        assert_eq!(
            dated("Hà Nội", on(2025, 2, 5)),
            "Hà Nội, ngày 05 tháng 02 năm 2025"
        );
        assert_eq!(
            dated("Hà Nội", on(2025, 11, 20)),
            "Hà Nội, ngày 20 tháng 11 năm 2025"
        );
        assert_eq!(
            dated("Hà Nội", on(2025, 3, 10)),
            "Hà Nội, ngày 10 tháng 3 năm 2025"
        );
        // Undated, for the office to date on signing.
        assert_eq!(dated("Hà Nội", None), "Hà Nội, ngày … tháng … năm …");
        assert_eq!(
            period_phrase("Báo cáo 6 tháng đầu năm 2024", "2024S1"),
            "6 tháng đầu năm 2024"
        );
        assert_eq!(period_phrase("  ", "2024S1"), "kỳ 2024S1");
    }

    #[test]
    fn only_long_rows_may_break_across_pages() {
        let columns = [col("TT", 567, true), col("Đơn vị chưa đạt", 0, false)];
        let many = vec!["Phòng Văn hóa và Thông tin quận"; 40].join(", ");
        let xml = data_table(
            &columns,
            &[
                vec!["1".to_string(), "Phòng A".to_string()],
                vec!["2".to_string(), many],
            ],
            false,
        );
        let rows: Vec<&str> = xml.split("<w:tr>").skip(1).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("<w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"));
        assert!(rows[1].starts_with("<w:trPr><w:cantSplit/></w:trPr>"));
        assert!(rows[2].starts_with("<w:tc>"), "a long row may break");
    }

    #[test]
    fn the_package_opens_and_holds_its_parts() {
        let bytes = to_docx(&sample(), &letter()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes.as_slice())).unwrap();
        assert_eq!(
            zip.by_index(0).unwrap().name().unwrap(),
            "[Content_Types].xml"
        );
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        for required in [
            "[Content_Types].xml",
            "_rels/.rels",
            "word/_rels/document.xml.rels",
            "word/document.xml",
            "word/styles.xml",
            "word/settings.xml",
            "word/header1.xml",
            "word/header2.xml",
            "docProps/core.xml",
        ] {
            assert!(names.iter().any(|n| n == required), "{required} missing");
            assert_well_formed(required, &part(&bytes, required));
        }
        // Every part the content types name is in the package.
        let types = part(&bytes, "[Content_Types].xml");
        for chunk in types.split("PartName=\"/").skip(1) {
            let name = &chunk[..chunk.find('"').unwrap()];
            assert!(names.iter().any(|n| n == name), "{name} declared, absent");
        }
    }

    #[test]
    fn the_document_reads_as_an_administrative_report() {
        let bytes = to_docx(&sample(), &letter()).unwrap();
        let doc = part(&bytes, "word/document.xml");
        for needle in [
            "UBND THÀNH PHỐ HÀ NỘI",
            "SỞ VĂN HÓA &amp; THỂ THAO",
            "Số: …/BC-SVHTT",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            // Undated: the office dates it when it signs.
            "Hà Nội, ngày … tháng … năm …",
            ">BÁO CÁO<",
            // The city's plan, then the department's, never an empty number.
            "Thực hiện Kế hoạch số 39/KH-UBND ngày 29/01/2024 của UBND Thành phố; Kế hoạch ngày 15/3/2024 của Sở Văn hóa &amp; Thể thao về thực hiện công tác bình đẳng giới năm 2024, Sở Văn hóa &amp; Thể thao báo cáo",
            "Kết quả thực hiện công tác bình đẳng giới và vì sự tiến bộ của phụ nữ 6 tháng đầu năm 2024",
            "Đơn vị có lãnh đạo nữ",
            "58,3%",
            "≥ 100%",
            "Chưa đạt",
            "Chưa tính được (chưa có báo cáo)",
            "Phòng Quản lý &lt;B&gt;",
            "1.200",
            "1.500.000",
            "Trung tâm D",
            "Nhà hát C",
            "3/4 đơn vị",
            "số liệu mới phản ánh 3/4 đơn vị phải báo cáo; các đơn vị chưa được tính: Trung tâm D.",
            "Tổ chức gặp mặt nữ cán bộ nhân ngày 8/3.",
            "Khen thưởng 5 cá nhân.",
            "I. KẾT QUẢ THỰC HIỆN",
            "II. ĐÁNH GIÁ CHUNG",
            "Tồn tại, hạn chế và nguyên nhân",
            "III. NHIỆM VỤ TRỌNG TÂM KỲ TỚI",
            "IV. KIẾN NGHỊ, ĐỀ XUẤT",
            "KT. GIÁM ĐỐC",
            "PHÓ GIÁM ĐỐC",
            "Trần Thị Vân Anh",
            "Nơi nhận:",
            "- Sở Lao động TB&amp;XH;",
            "- Lưu: VT, VP.",
            "Đơn vị đã kiện toàn Ban Vì sự tiến bộ của phụ nữ",
            "2/3 báo cáo",
            "PHỤ LỤC",
            // A4 and the decree's margins.
            r#"<w:pgSz w:w="11906" w:h="16838"/>"#,
            r#"w:top="1134" w:right="850" w:bottom="1134" w:left="1701""#,
        ] {
            assert!(doc.contains(needle), "{needle} missing");
        }
        // In the order of a report; proposals once; the placeholder wording is gone.
        let at = |needle: &str| doc.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("I. KẾT QUẢ") < at("II. ĐÁNH GIÁ") && at("II. ĐÁNH GIÁ") < at("III. NHIỆM VỤ"));
        assert!(at("IV. KIẾN NGHỊ") < at("Nơi nhận") && at("Nơi nhận") < at("PHỤ LỤC"));
        assert_eq!(doc.matches("KIẾN NGHỊ").count(), 1);
        for gone in ["(ký, ghi rõ họ tên)", "số /KH", "năm 2026"] {
            assert!(!doc.contains(gone), "{gone}");
        }
        // Numerator and denominator beside each value.
        assert!(doc.contains("Tử số / mẫu số"));
        // The previous period's column is there because there is one.
        assert!(doc.contains("Kỳ trước"));
        assert!(part(&bytes, "word/styles.xml").contains("Times New Roman"));

        let mut alone = sample();
        alone.previous = None;
        let doc = part(&to_docx(&alone, &letter()).unwrap(), "word/document.xml");
        assert!(!doc.contains("Kỳ trước"));
    }
}
