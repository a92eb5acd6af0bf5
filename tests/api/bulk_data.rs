//! `GET /periods/{period_id}/data`: the tidy table of every value of a period's
//! reports — JSON pages, NDJSON, CSV, XLSX — with its filters, the caller's scope and
//! `If-None-Match`; and ADX over a plan's data element codes, validated against the
//! ADX schema (tests/fixtures/adx.xsd) with xmllint.

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Caller, World, complete_report, etag_of, json_of};
use crate::helpers::assert_problem;

fn data_path(w: &World, query: &str) -> String {
    format!("/api/v1/periods/{}/data{query}", w.open.id)
}

/// The rows one report's data gives: a row per filled-in top-level value, and per
/// filled-in value of each list item.
fn cells(data: &Value) -> usize {
    let values = data["values"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| !v.is_null())
        .count();
    let items: usize = data["lists"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|l| l.as_array().unwrap())
        .map(|i| {
            i.as_object()
                .unwrap()
                .values()
                .filter(|v| !v.is_null())
                .count()
        })
        .sum();
    values + items
}

/// Office A's complete draft and office B's complete, submitted report.
async fn two_reports(w: &World) -> Value {
    let data = complete_report(w.open.window_start);
    w.draft(&w.reporter_a, &w.open, "OFFICE-A", &data).await;
    w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    data
}

/// Every row of the table as `who` pages through it.
async fn all_pages(w: &World, who: &Caller, query: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    loop {
        let sep = if query.is_empty() { "?" } else { "&" };
        let path = data_path(w, &format!("{query}{sep}limit=500&offset={}", rows.len()));
        let page = json_of(w.get(who, &path).await, 200).await;
        let items = page["items"].as_array().unwrap().clone();
        let done = items.is_empty()
            || rows.len() + items.len() >= page["total"].as_u64().unwrap() as usize;
        rows.extend(items);
        if done {
            return rows;
        }
    }
}

fn units_of(rows: &[Value]) -> Vec<String> {
    let mut units: Vec<String> = rows
        .iter()
        .map(|r| r["unit_code"].as_str().unwrap().to_string())
        .collect();
    units.dedup();
    units
}

#[tokio::test]
async fn a_row_per_value_in_a_stable_order_paged_like_every_list() {
    let w = World::new().await;
    let data = two_reports(&w).await;
    let per_report = cells(&data);
    let page = json_of(w.get(&w.admin, &data_path(&w, "?limit=5")).await, 200).await;
    assert_eq!(page["total"], 2 * per_report);
    assert_eq!(page["limit"], 5);
    let rows = all_pages(&w, &w.admin, "").await;
    assert_eq!(rows.len(), 2 * per_report);
    assert_eq!(units_of(&rows), ["OFFICE-A", "OFFICE-B"]);
    // Top-level values first, by field code; then the list items, item by item.
    let a: Vec<&Value> = rows
        .iter()
        .filter(|r| r["unit_code"] == "OFFICE-A")
        .collect();
    let codes: Vec<&str> = a
        .iter()
        .map(|r| r["field_code"].as_str().unwrap())
        .collect();
    let top = data["values"].as_object().unwrap().len();
    let mut sorted: Vec<&str> = data["values"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    sorted.sort_unstable();
    assert_eq!(codes[..top], sorted[..]);
    assert!(codes[top..].iter().all(|c| c.starts_with("activities.")));
    let staff = a.iter().find(|r| r["field_code"] == "staff_total").unwrap();
    assert_eq!(
        **staff,
        json!({
            "unit_code": "OFFICE-A", "unit_name": "Phòng Tổ chức - Pháp chế",
            "unit_path": "DEPT/OFFICE-A", "field_code": "staff_total", "item": null,
            "value": 48, "report_status": "draft", "revision": null,
            "submitted_at": null, "late": null,
        })
    );
    let topics = a
        .iter()
        .find(|r| r["field_code"] == "activities.topics")
        .unwrap();
    assert_eq!(topics["item"], 1);
    assert_eq!(topics["value"], data["lists"]["activities"][0]["topics"]);
    let b = rows.iter().find(|r| r["unit_code"] == "OFFICE-B").unwrap();
    assert_eq!(b["report_status"], "submitted");
    assert_eq!(b["revision"], 1);
    assert_eq!(b["late"], false);
    assert!(b["submitted_at"].is_string());
    // Pages cut the same order.
    let page = json_of(
        w.get(
            &w.admin,
            &data_path(&w, &format!("?limit=7&offset={}", per_report - 2)),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        page["items"].as_array().unwrap()[..],
        rows[per_report - 2..per_report + 5]
    );
    let problem = assert_problem(
        w.get(&w.admin, &data_path(&w, "?limit=501")).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "query.limit");
}

#[tokio::test]
async fn filters_by_subtree_status_and_field() {
    let w = World::new().await;
    let data = two_reports(&w).await;
    let per_report = cells(&data);
    let rows = all_pages(&w, &w.admin, "?status=submitted").await;
    assert_eq!(units_of(&rows), ["OFFICE-B"]);
    assert_eq!(rows.len(), per_report);
    let rows = all_pages(&w, &w.admin, "?status=draft,accepted").await;
    assert_eq!(units_of(&rows), ["OFFICE-A"]);
    let repeated = all_pages(&w, &w.admin, "?status=draft&status=accepted").await;
    assert_eq!(repeated, rows);
    let rows = all_pages(&w, &w.admin, "?unit=office-a").await;
    assert_eq!(units_of(&rows), ["OFFICE-A"]);
    let rows = all_pages(&w, &w.admin, &format!("?unit={}", w.root.id)).await;
    assert_eq!(units_of(&rows), ["OFFICE-A", "OFFICE-B"]);
    // A list's code takes every field of its items.
    let rows = all_pages(&w, &w.admin, "?field=staff_total,activities").await;
    let items = data["lists"]["activities"][0].as_object().unwrap().len();
    assert_eq!(rows.len(), 2 * (1 + items));
    let rows = all_pages(&w, &w.admin, "?field=activities.cost_vnd&unit=OFFICE-B").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["value"], 6_000_000);
    let problem = assert_problem(
        w.get(&w.admin, &data_path(&w, "?status=accepted,finished"))
            .await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "query.status");
    assert_problem(
        w.get(&w.admin, &data_path(&w, "?unit=NOWHERE")).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        w.get(&w.admin, &data_path(&w, "?colour=red")).await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn each_caller_gets_its_scope_only() {
    let w = World::new().await;
    two_reports(&w).await;
    let rows = all_pages(&w, &w.reporter_a, "").await;
    assert_eq!(units_of(&rows), ["OFFICE-A"]);
    let rows = all_pages(&w, &w.reporter_b, "?status=submitted").await;
    assert_eq!(units_of(&rows), ["OFFICE-B"]);
    for who in [&w.coordinator, &w.viewer] {
        assert_eq!(
            units_of(&all_pages(&w, who, "").await),
            ["OFFICE-A", "OFFICE-B"]
        );
    }
    // Another unit than one's own is not there to filter by.
    assert_problem(
        w.get(&w.reporter_a, &data_path(&w, "?unit=OFFICE-B")).await,
        404,
        "not_found",
    )
    .await;
    // Nor is a period of a plan one cannot see.
    assert_problem(
        w.get(
            &w.admin,
            &format!("/api/v1/periods/{}/data", uuid::Uuid::nil()),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // The same address, another caller: another tag (the rows differ).
    let tag_a = etag_of(&w.get(&w.reporter_a, &data_path(&w, "")).await);
    let tag_c = etag_of(&w.get(&w.coordinator, &data_path(&w, "")).await);
    assert_ne!(tag_a, tag_c);
}

async fn poll(w: &World, who: &Caller, path: &str, tag: Option<&str>) -> (u16, String) {
    let mut req = w.req(who, Method::GET, path);
    if let Some(t) = tag {
        req = req.header("if-none-match", t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, etag_of(&res))
}

#[tokio::test]
async fn a_poll_gets_304_until_a_report_changes() {
    let w = World::new().await;
    let data = two_reports(&w).await;
    for query in [
        "",
        "?format=csv",
        "?format=ndjson",
        "?format=xlsx&status=draft",
    ] {
        let path = data_path(&w, query);
        let (status, tag) = poll(&w, &w.coordinator, &path, None).await;
        assert_eq!(status, 200, "{query}");
        assert!(tag.starts_with("W/\""), "{tag}");
        let (status, same) = poll(&w, &w.coordinator, &path, Some(&tag)).await;
        assert_eq!((status, same.as_str()), (304, tag.as_str()), "{query}");
    }
    let path = data_path(&w, "?limit=10");
    let (_, tag) = poll(&w, &w.viewer, &path, None).await;
    let (_, other_page) = poll(&w, &w.viewer, &data_path(&w, "?limit=10&offset=10"), None).await;
    assert_ne!(tag, other_page, "each page has its own tag");
    // A's reporter changes a value: the data under the tag moved.
    let (_, etag) = w.read(&w.reporter_a, &w.open, "OFFICE-A").await;
    let changed = crate::fixtures::with_value(data, "committee_meetings", json!(3));
    w.save(&w.reporter_a, &w.open, "OFFICE-A", &changed, &etag)
        .await;
    let (status, new_tag) = poll(&w, &w.viewer, &path, Some(&tag)).await;
    assert_eq!(status, 200);
    assert_ne!(new_tag, tag);
    assert_eq!(poll(&w, &w.viewer, &path, Some(&new_tag)).await.0, 304);
}

#[tokio::test]
async fn csv_ndjson_and_xlsx_hold_the_same_rows() {
    let w = World::new().await;
    two_reports(&w).await;
    let rows = all_pages(&w, &w.admin, "").await;

    // CSV: one table, English headings, parsed back to the same rows.
    let res = w
        .req(&w.admin, Method::GET, &data_path(&w, ""))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let bytes = res.bytes().await.unwrap();
    assert!(!bytes.starts_with(b"\xef\xbb\xbf"), "no byte order mark");
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        gereport::bulk::data::HEADINGS
    );
    let parsed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(parsed.len(), rows.len());
    for (record, row) in parsed.iter().zip(&rows) {
        let text = |v: &Value| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let expected: Vec<String> = gereport::bulk::data::HEADINGS
            .iter()
            .map(|h| match (*h, &row[*h]) {
                ("submitted_at", Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
                    .unwrap()
                    .to_rfc3339(),
                (_, v) => text(v),
            })
            .collect();
        let got: Vec<String> = record.iter().map(str::to_string).collect();
        assert_eq!(got, expected);
    }

    // NDJSON: every row, one object a line, streamed.
    let res = w
        .req(&w.admin, Method::GET, &data_path(&w, ""))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, rows);

    // XLSX: one sheet, `data`, a heading row and a row per value; numbers as numbers.
    let res = w.get(&w.admin, &data_path(&w, "?format=xlsx")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = res.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let workbook = read("xl/workbook.xml");
    assert!(workbook.contains(r#"name="data""#), "{workbook}");
    assert_eq!(workbook.matches("<sheet ").count(), 1);
    let sheet = read("xl/worksheets/sheet1.xml");
    assert_eq!(sheet.matches("<row ").count(), rows.len() + 1);
    // staff_total of A: 48, a number cell (no type attribute), not a string.
    assert!(
        sheet.contains("<v>48</v>"),
        "the number 48 is a number cell"
    );
    let strings = read("xl/sharedStrings.xml");
    for heading in gereport::bulk::data::HEADINGS {
        assert!(strings.contains(&format!(">{heading}<")), "{heading}");
    }
    assert!(strings.contains("DEPT/OFFICE-B"));
}

// --- ADX -------------------------------------------------------------------------

fn codes_path(w: &World) -> String {
    format!("/api/v1/plans/{}/data-element-codes", w.plan_id)
}

/// Sets the plan's data element codes (200) and returns them.
async fn set_codes(w: &World, who: &Caller, body: &Value) -> Value {
    let res = w
        .req(who, Method::PUT, &codes_path(w))
        .json(body)
        .send()
        .await
        .unwrap();
    json_of(res, 200).await
}

fn mapping() -> Value {
    json!({
        "data_set": "GE_CULTURE_ANNUAL",
        "codes": [
            { "field": "staff_total", "data_element": "GE_STAFF", "attributes": { "SEX": "T" } },
            { "field": "staff_female", "data_element": "GE_STAFF", "attributes": { "SEX": "F" } },
            { "field": "leaders_female", "data_element": "GE_LEADERS_F" },
            { "field": "budget_spent_vnd", "data_element": "GE_BUDGET_SPENT" }
        ]
    })
}

/// Validates an ADX message against tests/fixtures/adx.xsd with xmllint, which must
/// be installed (Debian's libxml2-utils; scripts/test installs it): without it the
/// test fails rather than passing unchecked.
fn validate_adx(xml: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("gereport-adx-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("message.xml");
    std::fs::write(&file, xml).unwrap();
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adx.xsd");
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint could not run ({e}): install libxml2-utils (scripts/test does)")
        });
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test]
async fn data_element_codes_are_checked_and_kept_per_plan() {
    let w = World::new().await;
    let empty = json_of(w.get(&w.viewer, &codes_path(&w)).await, 200).await;
    assert_eq!(empty["data_set"], Value::Null);
    assert_eq!(empty["codes"], json!([]));
    assert_eq!(empty["version"], 0);
    for who in [&w.viewer, &w.reporter_a] {
        let req = w.req(who, Method::PUT, &codes_path(&w)).json(&mapping());
        w.refused(req, 403, "forbidden").await;
    }
    let bad = json!({
        "data_set": "GE CULTURE",
        "codes": [
            { "field": "narrative_results", "data_element": "GE_TEXT" },
            { "field": "no_such_field", "data_element": "GE_X" },
            { "field": "staff_total", "data_element": "GE STAFF" },
            { "field": "staff_female", "data_element": "GE_F", "attributes": { "value": "F" } }
        ]
    });
    let req = w
        .req(&w.coordinator, Method::PUT, &codes_path(&w))
        .json(&bad);
    let problem = w.refused(req, 422, "validation_failed").await;
    let paths: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["path"].as_str().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("body.data_set", "invalid_code"),
            ("body.codes[0].field", "wrong_type"),
            ("body.codes[1].field", "unknown_field"),
            ("body.codes[2].data_element", "invalid_code"),
            ("body.codes[3].attributes.value", "invalid_code"),
        ]
    );
    let saved = set_codes(&w, &w.coordinator, &mapping()).await;
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["data_set"], "GE_CULTURE_ANNUAL");
    assert_eq!(saved["codes"], mapping()["codes"]);
    assert_eq!(saved["updated_by"], "coordinator");
    let read = json_of(w.get(&w.reporter_b, &codes_path(&w)).await, 200).await;
    assert_eq!(read, saved);
    let again = set_codes(&w, &w.admin, &mapping()).await;
    assert_eq!(again["version"], 2);
    assert_eq!(
        crate::fixtures::scalar(
            &w.app,
            "SELECT count(*) AS n FROM audit_events WHERE action = 'plan.data_element_codes.save'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn adx_carries_the_mapped_numbers_and_validates_against_the_schema() {
    let w = World::new().await;
    let data = two_reports(&w).await;
    // No codes yet: a 409 that says to set them.
    let problem = assert_problem(
        w.get(&w.coordinator, &data_path(&w, "?format=adx")).await,
        409,
        "data_element_codes_missing",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("data-element-codes")
    );
    set_codes(&w, &w.coordinator, &mapping()).await;
    // Accepted reports only, by default: none yet, so no group.
    let res = w
        .req(&w.coordinator, Method::GET, &data_path(&w, ""))
        .header("accept", "application/adx+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/adx+xml; charset=utf-8"
    );
    let empty = res.text().await.unwrap();
    assert!(!empty.contains("<group"), "{empty}");
    validate_adx(&empty).unwrap();

    let (_, tag) = w.read(&w.coordinator, &w.open, "OFFICE-B").await;
    w.transition(&w.coordinator, &w.open, "OFFICE-B", "accept", &tag, None)
        .await;
    let xml = w
        .get(&w.coordinator, &data_path(&w, "?format=adx"))
        .await
        .text()
        .await
        .unwrap();
    validate_adx(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let period = gereport::bulk::adx::iso_period(w.open.window_start, w.open.window_end);
    let v = &data["values"];
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<adx xmlns=\"urn:ihe:qrph:adx:2015\" exported=\""), "{xml}");
    let body = xml.split_once("\">\n").unwrap().1;
    assert_eq!(
        body,
        format!(
            "  <group orgUnit=\"OFFICE-B\" period=\"{period}\" dataSet=\"GE_CULTURE_ANNUAL\">\n\
             \x20   <dataValue dataElement=\"GE_BUDGET_SPENT\" value=\"{}\"/>\n\
             \x20   <dataValue dataElement=\"GE_LEADERS_F\" value=\"{}\"/>\n\
             \x20   <dataValue dataElement=\"GE_STAFF\" value=\"{}\" SEX=\"F\"/>\n\
             \x20   <dataValue dataElement=\"GE_STAFF\" value=\"{}\" SEX=\"T\"/>\n\
             \x20 </group>\n</adx>\n",
            v["budget_spent_vnd"], v["leaders_female"], v["staff_female"], v["staff_total"]
        )
    );
    // Drafts too, when asked: A's group comes first; the field filter narrows.
    let xml = w
        .get(
            &w.coordinator,
            &data_path(&w, "?format=adx&status=draft,accepted&field=staff_total"),
        )
        .await
        .text()
        .await
        .unwrap();
    validate_adx(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    assert_eq!(xml.matches("<group ").count(), 2);
    assert_eq!(xml.matches("<dataValue ").count(), 2);
    assert!(xml.find("OFFICE-A").unwrap() < xml.find("OFFICE-B").unwrap());

    // A new mapping is a new tag.
    let path = data_path(&w, "?format=adx");
    let (_, tag) = poll(&w, &w.coordinator, &path, None).await;
    assert_eq!(poll(&w, &w.coordinator, &path, Some(&tag)).await.0, 304);
    let mut fewer = mapping();
    fewer["codes"].as_array_mut().unwrap().truncate(1);
    set_codes(&w, &w.coordinator, &fewer).await;
    assert_eq!(poll(&w, &w.coordinator, &path, Some(&tag)).await.0, 200);
}

#[test]
fn the_schema_refuses_what_adx_does_not_allow() {
    let good = "<?xml version=\"1.0\"?>\n<adx xmlns=\"urn:ihe:qrph:adx:2015\" exported=\"2024-12-31T10:00:00Z\">\
        <group orgUnit=\"XDNS\" period=\"2024-01-01/P1Y\" dataSet=\"GE\">\
        <dataValue dataElement=\"GE_STAFF\" value=\"42\" SEX=\"F\"/></group></adx>";
    validate_adx(good).unwrap();
    for bad in [
        good.replace("value=\"42\"", "value=\"many\""),
        good.replace("value=\"42\"", "value=\"4e2\""),
        good.replace(" exported=\"2024-12-31T10:00:00Z\"", ""),
        good.replace("period=\"2024-01-01/P1Y\"", "period=\"2024\""),
        good.replace("dataElement=\"GE_STAFF\"", "dataElement=\"GE STAFF\""),
        good.replace("urn:ihe:qrph:adx:2015", "urn:example:other"),
        good.replace(" dataSet=\"GE\"", ""),
    ] {
        assert!(validate_adx(&bad).is_err(), "accepted: {bad}");
    }
}

// --- the compilation's per-unit figures ---------------------------------------------

#[tokio::test]
async fn the_compilation_shows_what_each_unit_contributed() {
    let w = World::new().await;
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let (_, tag) = w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    // B reports fewer staff and no woman among its leaders.
    let mut less = complete_report(w.open.window_start);
    less["values"]["staff_total"] = json!(20);
    less["values"]["staff_female"] = json!(5);
    less["values"]["leaders_female"] = json!(0);
    let (_, tag) = w
        .transition(
            &w.coordinator,
            &w.open,
            "OFFICE-B",
            "return",
            &tag,
            Some(json!({ "reason": "Kiểm tra lại số liệu." })),
        )
        .await;
    let (_, tag) = w
        .save(&w.reporter_b, &w.open, "OFFICE-B", &less, &tag)
        .await;
    w.transition(&w.reporter_b, &w.open, "OFFICE-B", "submit", &tag, None)
        .await;

    let base = format!(
        "/api/v1/periods/{}/compilation?include=submitted",
        w.open.id
    );
    let plain = json_of(w.get(&w.coordinator, &base).await, 200).await;
    assert!(plain["units"].is_null(), "only when asked for");
    let res = w.get(&w.coordinator, &format!("{base}&detail=units")).await;
    let tag_detail = etag_of(&res);
    let c = json_of(res, 200).await;
    let units = c["units"].as_array().unwrap();
    let codes: Vec<&str> = units
        .iter()
        .map(|u| u["unit"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["OFFICE-A", "OFFICE-B"]);
    let (a, b) = (&units[0], &units[1]);
    assert_eq!(a["status"], "submitted");
    assert_eq!(a["totals"]["staff_total"], 48.0);
    assert_eq!(b["totals"]["staff_total"], 20.0);
    assert_eq!(a["indicators"]["leaders_with_woman"], 1.0);
    assert_eq!(b["indicators"]["leaders_with_woman"], 0.0);
    let share = a["indicators"]["trained_female_share"].as_f64().unwrap();
    assert!((share - 10.0 / 18.0).abs() < 1e-9, "{share}");
    // The units' figures add up to the totals.
    for total in c["totals"].as_array().unwrap() {
        let field = total["field"].as_str().unwrap();
        let sum: f64 = units
            .iter()
            .map(|u| u["totals"][field].as_f64().unwrap_or(0.0))
            .sum();
        assert_eq!(sum, total["sum"].as_f64().unwrap(), "{field}");
    }
    // Its own tag; and a sheet of its own in the CSV.
    assert_ne!(tag_detail, etag_of(&w.get(&w.coordinator, &base).await));
    let csv = w
        .get(&w.coordinator, &format!("{base}&detail=units&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Theo đơn vị"), "{csv}");
    assert!(
        csv.contains("OFFICE-B,Phòng Quản lý văn hóa,Số liệu,staff_total,20"),
        "{csv}"
    );
}
