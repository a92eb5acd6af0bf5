//! The units expected to report for a period: the default set, coordinators adding and
//! removing units with a reason, and completeness and coverage counted against it in
//! every format of the compilation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{World, json_of};
use crate::helpers::assert_problem;

fn expected_path(period: uuid::Uuid) -> String {
    format!("/api/v1/periods/{period}/expected-units")
}

/// The codes of a period's expected units as `who` sees them, with their origins.
async fn expected(w: &World, who: &crate::fixtures::Caller, period: uuid::Uuid) -> Vec<String> {
    let page = json_of(
        w.get(who, &format!("{}?limit=200", expected_path(period)))
            .await,
        200,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}:{}",
                u["unit_code"].as_str().unwrap(),
                u["origin"].as_str().unwrap()
            )
        })
        .collect()
}

async fn remove(w: &World, period: uuid::Uuid, unit: &str, reason: &str) -> reqwest::Response {
    w.req(
        &w.coordinator,
        Method::DELETE,
        &format!("{}/{unit}", expected_path(period)),
    )
    .query(&[("reason", reason)])
    .send()
    .await
    .unwrap()
}

async fn add(w: &World, period: uuid::Uuid, unit: &str, reason: &str) -> reqwest::Response {
    w.req(
        &w.coordinator,
        Method::PUT,
        &format!("{}/{unit}", expected_path(period)),
    )
    .json(&json!({ "reason": reason }))
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_period_expects_the_active_units_of_its_plans_tree_and_units_created_while_it_is_open() {
    let w = World::new().await;
    assert_eq!(
        expected(&w, &w.coordinator, w.open.id).await,
        ["OFFICE-A:default", "OFFICE-B:default"]
    );
    // A unit created in the tree joins the open periods.
    w.create_unit("OFFICE-C", "Phòng Di sản", "office", Some("OFFICE-A"))
        .await;
    // A locked period's set stays as it was.
    json_of(
        w.req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/periods/{}/lock", w.past.id),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    w.create_unit("OFFICE-D", "Phòng Thư viện", "office", Some("DEPT"))
        .await;
    // A unit of another tree joins nothing.
    w.create_unit("OTHER", "Sở khác", "department", None).await;
    assert_eq!(
        expected(&w, &w.coordinator, w.open.id).await,
        [
            "OFFICE-A:default",
            "OFFICE-B:default",
            "OFFICE-C:new_unit",
            "OFFICE-D:new_unit"
        ]
    );
    assert_eq!(
        expected(&w, &w.coordinator, w.past.id).await,
        ["OFFICE-A:default", "OFFICE-B:default", "OFFICE-C:new_unit"]
    );
    // A new period: the active units of the tree at that moment, a deactivated one aside.
    json_of(
        w.req(
            &w.admin,
            Method::POST,
            "/api/v1/org-units/OFFICE-D/deactivate",
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let today = crate::fixtures::today_vn();
    let next = w
        .create_period(
            "NEXT",
            today,
            today + crate::fixtures::days(30),
            today + crate::fixtures::days(40),
        )
        .await;
    assert_eq!(
        expected(&w, &w.coordinator, next.id).await,
        ["OFFICE-A:default", "OFFICE-B:default", "OFFICE-C:default"]
    );
    // The deactivated unit stays expected in the period it was expected in.
    let open = json_of(w.get(&w.coordinator, &expected_path(w.open.id)).await, 200).await;
    let d = open["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_code"] == "OFFICE-D")
        .unwrap();
    assert_eq!(d["unit_active"], false, "{d}");
    // Reporters see their own unit only.
    assert_eq!(
        expected(&w, &w.reporter_a, w.open.id).await,
        ["OFFICE-A:default", "OFFICE-C:new_unit"]
    );
}

#[tokio::test]
async fn coordinators_add_and_remove_units_with_a_reason_and_history_is_kept() {
    let w = World::with(&[
        ("GEREPORT_WEBHOOK_ALLOW_PRIVATE_TARGETS", "on"),
        ("GEREPORT_WEBHOOK_WORKER", "off"),
    ])
    .await;
    let period = w.open.id;
    // A city system listening for changed compilations hears of each change.
    json_of(
        w.req(&w.coordinator, Method::POST, "/api/v1/webhooks")
            .json(&json!({ "url": "http://127.0.0.1:9/hook",
                           "event_types": ["compilation.changed"] }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    // The reason is required.
    let res = w
        .req(
            &w.coordinator,
            Method::DELETE,
            &format!("{}/OFFICE-B", expected_path(period)),
        )
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_query").await;
    let res = remove(&w, period, "OFFICE-B", "  ").await;
    assert_problem(res, 422, "validation_failed").await;

    let res = remove(&w, period, "OFFICE-B", "Đơn vị sáp nhập vào Phòng Tổ chức").await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        expected(&w, &w.coordinator, period).await,
        ["OFFICE-A:default"]
    );
    // Removing again changes nothing.
    assert_eq!(
        remove(&w, period, "OFFICE-B", "Lần nữa").await.status(),
        204
    );

    let res = add(&w, period, "OFFICE-B", "Đơn vị được giao lại nhiệm vụ").await;
    let entry = json_of(res, 200).await;
    assert_eq!(entry["origin"], "added", "{entry}");
    assert_eq!(entry["reason"], "Đơn vị được giao lại nhiệm vụ");
    assert!(entry["added_by"].as_str().is_some(), "{entry}");
    // Adding a unit already expected answers it as it stands.
    let again = json_of(add(&w, period, "OFFICE-B", "Lần nữa").await, 200).await;
    assert_eq!(again["reason"], "Đơn vị được giao lại nhiệm vụ");

    // The history: the removed membership is kept beside the current one.
    let rows = w
        .app
        .db_i64(&format!(
            "SELECT count(*) AS n FROM period_expected_units e JOIN org_units u ON u.id = e.unit_id \
             WHERE e.period_id = '{period}' AND u.code = 'OFFICE-B'"
        ))
        .await;
    assert_eq!(rows, 2);
    let events = w
        .app
        .db_i64(
            "SELECT count(*) AS n FROM webhook_events \
             WHERE type = 'compilation.changed' \
               AND payload::text LIKE '%period.expected_units_changed%'",
        )
        .await;
    assert_eq!(events, 2, "one event per change, none for the no-ops");
    let audit = json_of(
        w.get(
            &w.admin,
            &format!("/api/v1/audit?object_type=period&object_id={period}"),
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .unwrap()
                .starts_with("period.expected_unit")
        })
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["change"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(actions.contains(&(
        "period.expected_unit.remove".into(),
        "Đơn vị sáp nhập vào Phòng Tổ chức".into()
    )));
    assert!(actions.contains(&(
        "period.expected_unit.add".into(),
        "Đơn vị được giao lại nhiệm vụ".into()
    )));

    // Units that cannot be expected.
    let res = add(&w, period, "DEPT", "Sở tự báo cáo").await;
    assert_problem(res, 422, "issuing_unit_not_expected").await;
    w.create_unit("OTHER", "Sở khác", "department", None).await;
    // Outside the coordinator's scope it is not found; the admin learns why.
    let res = add(&w, period, "OTHER", "Đơn vị ngoài").await;
    assert_problem(res, 404, "not_found").await;
    let res = w
        .req(
            &w.admin,
            Method::PUT,
            &format!("{}/OTHER", expected_path(period)),
        )
        .json(&json!({ "reason": "Đơn vị ngoài" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "unit_outside_plan").await;
    let res = add(&w, period, "NOWHERE", "Không có").await;
    assert_problem(res, 404, "not_found").await;

    // Roles and scope: reporters and viewers may not write; a coordinator below the
    // plan's issuer may not either.
    for who in [&w.reporter_a, &w.viewer] {
        let res = w
            .req(
                who,
                Method::PUT,
                &format!("{}/OFFICE-A", expected_path(period)),
            )
            .json(&json!({ "reason": "Thử" }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "forbidden").await;
    }
    let local = w.create_user("coord-a", "coordinator", "OFFICE-A").await;
    let res = w
        .req(
            &local,
            Method::DELETE,
            &format!("{}/OFFICE-A?reason=x", expected_path(period)),
        )
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
}

async fn compilation(w: &World, query: &str) -> reqwest::Response {
    w.get(
        &w.coordinator,
        &format!("/api/v1/periods/{}/compilation?{query}", w.open.id),
    )
    .await
}

#[tokio::test]
async fn completeness_and_coverage_count_against_the_expected_units() {
    let w = World::new().await;
    let (_, etag) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    w.transition(&w.admin, &w.open, "OFFICE-A", "accept", &etag, None)
        .await;

    let res = compilation(&w, "").await;
    let tag = res.headers()["etag"].to_str().unwrap().to_string();
    let c = json_of(res, 200).await;
    assert_eq!(c["completeness"]["expected"], 2, "{c}");
    assert_eq!(c["completeness"]["missing"], 1);
    let coverage = &c["coverage"];
    assert_eq!(coverage["counted"], 1, "{coverage}");
    assert_eq!(coverage["expected"], 2);
    assert_eq!(coverage["share"], 0.5);
    assert_eq!(coverage["not_counted"][0]["code"], "OFFICE-B");
    for i in c["indicators"].as_array().unwrap() {
        assert_eq!(&i["coverage"], coverage, "{i}");
        // Falling short is about the units counted, not those missing.
        assert!(
            i["units_short"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["code"] != "OFFICE-B"),
            "{i}"
        );
    }
    for t in c["totals"].as_array().unwrap() {
        assert_eq!(t["reports"], 1, "{t}");
    }
    assert_eq!(c["pairs"][0]["reports"], 1);
    // The trend of an indicator says it too, period by period.
    let trend = json_of(
        w.get(
            &w.coordinator,
            "/api/v1/indicators/trend?indicator=leaders_with_woman",
        )
        .await,
        200,
    )
    .await;
    let point = trend["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["period"]["code"] == "CUR")
        .unwrap();
    assert_eq!(&point["coverage"], coverage, "{point}");

    // CSV, XLSX and DOCX say it too.
    let csv = compilation(&w, "format=csv").await.text().await.unwrap();
    assert!(csv.contains("Độ bao phủ"), "{csv}");
    assert!(csv.contains("1/2 đơn vị (50%)"), "{csv}");
    assert!(csv.contains("Đơn vị chưa được tính"), "{csv}");
    let xlsx = compilation(&w, "format=xlsx").await.bytes().await.unwrap();
    let strings = zip_part(&xlsx, "xl/sharedStrings.xml");
    assert!(strings.contains("Đơn vị chưa được tính"), "{strings}");
    assert!(strings.contains("1/2 đơn vị (50%)"), "{strings}");
    let docx = compilation(&w, "format=docx").await.bytes().await.unwrap();
    let doc = zip_part(&docx, "word/document.xml");
    assert!(doc.contains("1/2 đơn vị"), "{doc}");
    assert!(
        doc.contains(
            "số liệu mới phản ánh 1/2 đơn vị phải báo cáo; các đơn vị chưa được tính: Phòng Quản lý văn hóa."
        ),
        "{doc}"
    );

    // B no longer owes a report: the compilation changes, and so does its tag.
    assert_eq!(
        remove(&w, w.open.id, "OFFICE-B", "Đơn vị giải thể")
            .await
            .status(),
        204
    );
    let res = w
        .req(
            &w.coordinator,
            Method::GET,
            &format!("/api/v1/periods/{}/compilation", w.open.id),
        )
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the ETag did not change");
    assert_ne!(res.headers()["etag"].to_str().unwrap(), tag);
    let c = json_of(res, 200).await;
    assert_eq!(c["completeness"]["expected"], 1, "{c}");
    assert_eq!(c["completeness"]["missing"], 0);
    assert_eq!(
        c["coverage"],
        json!({ "counted": 1, "expected": 1, "share": 1.0, "not_counted": [] })
    );
    let doc = zip_part(
        &compilation(&w, "format=docx").await.bytes().await.unwrap(),
        "word/document.xml",
    );
    assert!(!doc.contains("số liệu mới phản ánh"), "{doc}");
    assert!(doc.contains("Số liệu tổng hợp từ 1/1 đơn vị phải báo cáo."));

    // Back in, then deactivated: a unit deactivated during the period stays expected.
    json_of(add(&w, w.open.id, "OFFICE-B", "Chưa giải thể").await, 200).await;
    json_of(
        w.req(
            &w.admin,
            Method::POST,
            "/api/v1/org-units/OFFICE-B/deactivate",
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let c: Value = json_of(compilation(&w, "").await, 200).await;
    assert_eq!(c["completeness"]["expected"], 2, "{c}");
    assert_eq!(c["coverage"]["not_counted"][0]["code"], "OFFICE-B");
    // `?detail=units` still answers each counted unit's figures.
    let c: Value = json_of(compilation(&w, "detail=units").await, 200).await;
    assert_eq!(c["units"].as_array().unwrap().len(), 1, "{c}");
}

fn zip_part(bytes: &[u8], name: &str) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}
