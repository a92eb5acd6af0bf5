//! The spreadsheet round trip: the report's workbook, filled by a program (here the
//! Rust writer, copying the template and typing values into its cells), imported as
//! the draft under the rules of the JSON `PUT`.

use std::collections::HashMap;

use calamine::{Data, Reader, Xlsx};
use reqwest::Method;
use rust_xlsxwriter::{ExcelDateTime, Workbook};
use serde_json::{Value, json};

use crate::fixtures::{World, complete_report, etag_of, json_of, report_path};
use gereport::sheets::XLSX;

/// What a program types into a cell.
#[derive(Clone)]
enum Cell {
    Number(f64),
    Text(String),
    Date(u16, u8, u8),
}

/// Fills a template: every cell of every sheet is copied, and the value cells named
/// by `fields` (sheet, field code → value; a field's row is found by its code in the
/// hidden column A) and `items` (sheet → rows of field code → value; columns found by
/// the hidden row of codes) are written over. `meta` overrides cells of the hidden
/// `_gereport` sheet (row → text).
fn fill(
    template: &[u8],
    fields: &HashMap<(&str, &str), Cell>,
    items: &HashMap<&str, Vec<HashMap<&str, Cell>>>,
    meta: &HashMap<u32, String>,
) -> Vec<u8> {
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(template.to_vec())).unwrap();
    let mut out = Workbook::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        let ws = out.add_worksheet();
        ws.set_name(&name).unwrap();
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let put = |ws: &mut rust_xlsxwriter::Worksheet, row: u32, col: u16, cell: &Cell| {
            let written = match cell {
                Cell::Number(n) => ws.write_number(row, col, *n).map(|_| ()),
                Cell::Text(t) => ws.write_string(row, col, t).map(|_| ()),
                Cell::Date(y, m, d) => {
                    let date = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    let f = rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy");
                    ws.write_datetime_with_format(row, col, &date, &f)
                        .map(|_| ())
                }
            };
            written.unwrap();
        };
        for (i, row) in range.rows().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let (r, c) = (r0 + i as u32, (c0 + j as u32) as u16);
                match v {
                    Data::String(s) => put(ws, r, c, &Cell::Text(s.clone())),
                    Data::Float(f) => put(ws, r, c, &Cell::Number(*f)),
                    Data::Int(n) => put(ws, r, c, &Cell::Number(*n as f64)),
                    _ => {}
                }
                if name == "_gereport"
                    && c == 1
                    && let Some(t) = meta.get(&r)
                {
                    put(ws, r, c, &Cell::Text(t.clone()));
                }
                if c == 0
                    && let Data::String(code) = v
                    && let Some(cell) = fields.get(&(name.as_str(), code.as_str()))
                {
                    put(ws, r, 2, cell);
                }
            }
        }
        if let Some(rows) = items.get(name.as_str()) {
            let codes: HashMap<String, u16> = (0..40u32)
                .filter_map(|c| match range.get_value((2, c)) {
                    Some(Data::String(code)) => Some((code.clone(), c as u16)),
                    _ => None,
                })
                .collect();
            for (i, item) in rows.iter().enumerate() {
                for (code, cell) in item {
                    put(ws, 3 + i as u32, codes[*code], cell);
                }
            }
        }
    }
    out.save_to_buffer().unwrap()
}

/// Cells holding `data`'s values as an office would type them: numbers as numbers,
/// yes/no and options by their Vietnamese labels, dates as dates.
/// Values by (sheet, field code), and list rows by list code.
type SheetCells = (
    HashMap<(&'static str, &'static str), Cell>,
    HashMap<&'static str, Vec<HashMap<&'static str, Cell>>>,
);

fn cells_of(data: &Value) -> SheetCells {
    let form = gereport::plans::form::default_form_2024().unwrap();
    let mut fields = HashMap::new();
    for section in &form.sections {
        let sheet: &'static str = Box::leak(section.code.clone().into_boxed_str());
        for f in &section.fields {
            let code: &'static str = Box::leak(f.code.clone().into_boxed_str());
            let cell = match &data["values"][&f.code] {
                Value::Number(n) => Cell::Number(n.as_f64().unwrap()),
                Value::Bool(b) => Cell::Text(if *b { "Có" } else { "Không" }.into()),
                Value::String(s) => Cell::Text(s.clone()),
                Value::Null => continue,
                other => panic!("{other}"),
            };
            fields.insert((sheet, code), cell);
        }
    }
    let list = form.list("activities").unwrap();
    let label = |field: &str, code: &str| {
        list.fields
            .iter()
            .find(|f| f.code == field)
            .and_then(|f| f.options.as_ref())
            .and_then(|o| o.iter().find(|o| o.code == code))
            .map(|o| o.label_vi.clone())
            .unwrap()
    };
    let rows = data["lists"]["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let date: Vec<u32> = a["date"]
                .as_str()
                .unwrap()
                .split('-')
                .map(|p| p.parse().unwrap())
                .collect();
            let topics: Vec<String> = a["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| label("topics", t.as_str().unwrap()))
                .collect();
            HashMap::from([
                (
                    "type",
                    Cell::Text(label("type", a["type"].as_str().unwrap())),
                ),
                ("title", Cell::Text(a["title"].as_str().unwrap().into())),
                (
                    "date",
                    Cell::Date(date[0] as u16, date[1] as u8, date[2] as u8),
                ),
                (
                    "participants_total",
                    Cell::Number(a["participants_total"].as_f64().unwrap()),
                ),
                (
                    "participants_female",
                    Cell::Number(a["participants_female"].as_f64().unwrap()),
                ),
                ("topics", Cell::Text(topics.join("; "))),
                ("cost_vnd", Cell::Number(a["cost_vnd"].as_f64().unwrap())),
            ])
        })
        .collect();
    let sheet = form
        .sections
        .iter()
        .find(|s| s.list.is_some())
        .map(|s| format!("{} - activities", s.code))
        .unwrap();
    let items = HashMap::from([(&*Box::leak(sheet.into_boxed_str()), rows)]);
    (fields, items)
}

fn workbook_path(w: &World, unit: &str) -> String {
    format!("{}/template.xlsx", report_path(w.open.id, unit))
}

fn import(
    w: &World,
    who: &crate::fixtures::Caller,
    unit: &str,
    bytes: Vec<u8>,
    if_match: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut r = w
        .req(who, Method::PUT, &workbook_path(w, unit))
        .header("content-type", XLSX)
        .body(bytes);
    if let Some(t) = if_match {
        r = r.header("if-match", t);
    }
    r
}

#[tokio::test]
async fn a_filled_template_imports_as_the_report_it_holds() {
    let w = World::new().await;
    // A report not started yet still has its (empty) workbook.
    let res = w.get(&w.reporter_a, &workbook_path(&w, "OFFICE-A")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], XLSX);
    assert!(res.headers().get("etag").is_none());
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename*=UTF-8''bao-cao-CUR-OFFICE-A.xlsx")
    );
    let template = res.bytes().await.unwrap();

    let data = complete_report(w.open.window_start);
    let (fields, items) = cells_of(&data);
    let filled = fill(&template, &fields, &items, &HashMap::new());
    let res = import(&w, &w.reporter_a, "OFFICE-A", filled, None)
        .send()
        .await
        .unwrap();
    let created = json_of(res, 201).await;
    assert_eq!(created["data"], data, "the report holds what was typed");
    let (report, etag) = w.read(&w.reporter_a, &w.open, "OFFICE-A").await;
    assert_eq!(report["data"], data);
    assert_eq!(report["status"], "draft");

    // The filled workbook comes back with the values and the ETag, and sent back
    // unchanged it saves the same report; without If-Match it is refused like JSON.
    let res = w.get(&w.reporter_a, &workbook_path(&w, "OFFICE-A")).await;
    assert_eq!(etag_of(&res), etag);
    let again = res.bytes().await.unwrap().to_vec();
    w.refused(
        import(&w, &w.reporter_a, "OFFICE-A", again.clone(), None),
        428,
        "if_match_required",
    )
    .await;
    w.refused(
        import(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            again.clone(),
            Some("\"stale-1\""),
        ),
        412,
        "stale_etag",
    )
    .await;
    let res = import(&w, &w.reporter_a, "OFFICE-A", again, Some(&etag))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["data"], data);
    // The import is audited like a save.
    let saves = w
        .app
        .db_i64("SELECT count(*) AS n FROM audit_events WHERE action IN ('report.create', 'report.save')")
        .await;
    assert_eq!(saves, 2);

    // A peer unit sees neither the workbook nor may send one.
    let res = w.get(&w.reporter_b, &workbook_path(&w, "OFFICE-A")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_refused_cell_names_its_sheet_cell_and_path_and_nothing_is_saved() {
    let w = World::new().await;
    let template = w
        .get(&w.reporter_a, &workbook_path(&w, "OFFICE-A"))
        .await
        .bytes()
        .await
        .unwrap();
    let mut data = complete_report(w.open.window_start);
    data["values"]["staff_total"] = json!("bốn mươi");
    let (mut fields, mut items) = cells_of(&data);
    fields.insert(("A", "staff_total"), Cell::Text("bốn mươi".into()));
    let sheet = *items.keys().next().unwrap();
    items.get_mut(sheet).unwrap()[0].insert("type", Cell::Text("Hội chợ".into()));
    let filled = fill(&template, &fields, &items, &HashMap::new());
    let problem = w
        .refused(
            import(&w, &w.reporter_a, "OFFICE-A", filled, None),
            422,
            "validation_failed",
        )
        .await;
    let errors = problem["errors"].as_array().unwrap();
    let staff = errors
        .iter()
        .find(|e| e["path"] == "values.staff_total")
        .unwrap_or_else(|| panic!("{problem}"));
    assert_eq!(staff["code"], "wrong_type");
    assert!(
        staff["message"].as_str().unwrap().starts_with("'A'!C3: "),
        "{staff}"
    );
    let kind = errors
        .iter()
        .find(|e| e["path"] == "lists.activities[0].type")
        .unwrap_or_else(|| panic!("{problem}"));
    assert_eq!(kind["code"], "unknown_option");
    assert!(
        kind["message"].as_str().unwrap().contains("!A4: "),
        "{kind}"
    );

    // A value the form's draft check refuses (a female count below zero) points at its
    // cell too.
    let mut fields = cells_of(&complete_report(w.open.window_start)).0;
    fields.insert(("A", "staff_female"), Cell::Number(-1.0));
    let filled = fill(&template, &fields, &HashMap::new(), &HashMap::new());
    let problem = w
        .refused(
            import(&w, &w.reporter_a, "OFFICE-A", filled, None),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        problem["errors"][0]["path"], "values.staff_female",
        "{problem}"
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("'A'!C4: "),
        "{problem}"
    );
}

#[tokio::test]
async fn what_is_not_a_workbook_of_the_reports_form_is_refused_clearly() {
    let w = World::new().await;
    let template = w
        .get(&w.reporter_a, &workbook_path(&w, "OFFICE-A"))
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    w.refused(
        import(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            b"%PDF-1.7 not a workbook".to_vec(),
            None,
        ),
        422,
        "invalid_workbook",
    )
    .await;
    w.refused(
        w.req(&w.reporter_a, Method::PUT, &workbook_path(&w, "OFFICE-A"))
            .header("content-type", "text/csv")
            .body("staff_total,3"),
        415,
        "unsupported_media_type",
    )
    .await;
    // A workbook that is not one of ours (no `_gereport` sheet).
    let mut foreign = Workbook::new();
    foreign.add_worksheet().write_string(0, 0, "x").unwrap();
    w.refused(
        import(
            &w,
            &w.reporter_a,
            "OFFICE-A",
            foreign.save_to_buffer().unwrap(),
            None,
        ),
        422,
        "invalid_workbook",
    )
    .await;
    // Made from another form (version).
    let other = fill(
        &template,
        &HashMap::new(),
        &HashMap::new(),
        &HashMap::from([(1, uuid::Uuid::now_v7().to_string()), (2, "7".to_string())]),
    );
    let problem = w
        .refused(
            import(&w, &w.reporter_a, "OFFICE-A", other, None),
            409,
            "workbook_form_mismatch",
        )
        .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("version 7"),
        "{problem}"
    );
    // Larger than the setting (the size is checked before anything else).
    let small = World::with(&[("GEREPORT_WORKBOOK_LIMIT", "2048")]).await;
    assert!(template.len() > 2048);
    small
        .refused(
            import(&small, &small.reporter_a, "OFFICE-A", template, None),
            413,
            "body_too_large",
        )
        .await;
}
