//! Who may touch which report: a reporter only its own unit's (another unit's report
//! does not even exist for it), viewers read, coordinators review but never write,
//! and the report list shows exactly what the caller's scope covers.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Caller, World, complete_report, json_of, report_path};

#[tokio::test]
async fn a_reporter_cannot_see_or_touch_another_units_report() {
    let w = World::new().await;
    let p = &w.open;
    let b = w.b.code.as_str();
    let data = complete_report(p.window_start);
    let (report_b, etag_b) = w.draft(&w.reporter_b, p, b, &data).await;
    let path = report_path(p.id, b);
    let by_id = report_path(p.id, &w.b.id.to_string());
    let a = &w.reporter_a;

    for path in [&path, &by_id] {
        w.refused(w.req(a, Method::GET, path), 404, "not_found")
            .await;
        w.refused(
            w.req(a, Method::GET, &format!("{path}/revisions")),
            404,
            "not_found",
        )
        .await;
        w.refused(
            w.req(a, Method::GET, &format!("{path}/revisions/1")),
            404,
            "not_found",
        )
        .await;
    }
    // Writing is refused the same way, whether or not the ETag is right.
    for tag in [Some(etag_b.as_str()), None] {
        w.refused(w.put_report(a, p, b, &data, tag), 404, "not_found")
            .await;
        w.refused(w.act(a, p, b, "submit", tag, None), 404, "not_found")
            .await;
    }
    w.refused(w.act(a, p, b, "validate", None, None), 404, "not_found")
        .await;
    w.refused(
        w.act(a, p, b, "validate", None, Some(data.clone())),
        404,
        "not_found",
    )
    .await;
    // A unit without a report answers the same as one with a report.
    let c = w
        .create_unit("OFFICE-C", "Thanh tra Sở", "office", Some("DEPT"))
        .await;
    w.refused(
        w.req(a, Method::GET, &report_path(p.id, &c.code)),
        404,
        "not_found",
    )
    .await;
    w.refused(w.put_report(a, p, &c.code, &data, None), 404, "not_found")
        .await;
    // A unit outside the plan's tree has no report for it, not even for an admin.
    for unit in ["SVHTT", "NO-SUCH-UNIT"] {
        w.refused(
            w.put_report(&w.admin, p, unit, &data, None),
            404,
            "not_found",
        )
        .await;
        w.refused(
            w.req(&w.admin, Method::GET, &report_path(p.id, unit)),
            404,
            "not_found",
        )
        .await;
    }

    // B's report is untouched and B works on it normally.
    let (after, tag) = w.read(&w.reporter_b, p, b).await;
    assert_eq!(tag, etag_b);
    assert_eq!(after["data"], report_b["data"]);
    w.transition(&w.reporter_b, p, b, "submit", &etag_b, None)
        .await;
    let res = w.get(a, &format!("{path}/revisions")).await;
    crate::helpers::assert_problem(res, 404, "not_found").await;

    // Reporter A does all of it on A's report.
    w.draft(a, p, &w.a.code, &data).await;
    let (_, etag) = w.read(a, p, &w.a.id.to_string()).await;
    let res = w
        .act(a, p, &w.a.code, "validate", None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);
    w.transition(a, p, &w.a.code, "submit", &etag, None).await;
    let revisions = json_of(
        w.get(a, &format!("{}/revisions", report_path(p.id, &w.a.code)))
            .await,
        200,
    )
    .await;
    assert_eq!(revisions["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn viewers_read_coordinators_review_and_neither_writes() {
    let w = World::new().await;
    let p = &w.open;
    let unit = w.a.code.as_str();
    let data = complete_report(p.window_start);
    let (_, etag) = w.draft(&w.reporter_a, p, unit, &data).await;

    // Viewer: reads the report, validates, lists revisions; never writes or reviews.
    let (_, viewer_tag) = w.read(&w.viewer, p, unit).await;
    assert_eq!(viewer_tag, etag);
    let res = w
        .act(&w.viewer, p, unit, "validate", None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);
    w.refused(
        w.put_report(&w.viewer, p, unit, &data, Some(&etag)),
        403,
        "forbidden",
    )
    .await;
    w.refused(
        w.put_report(&w.viewer, p, &w.b.code, &data, None),
        403,
        "forbidden",
    )
    .await;
    w.refused(
        w.act(&w.viewer, p, unit, "submit", Some(&etag), None),
        403,
        "forbidden",
    )
    .await;

    // Coordinator: writes or submits for a unit only on its behalf, saying so (the
    // `entry_note`; see tests/api/notifications.rs), never silently.
    w.refused(
        w.put_report(&w.coordinator, p, unit, &data, Some(&etag)),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        w.put_report(&w.coordinator, p, &w.b.code, &data, None),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        w.act(&w.coordinator, p, unit, "submit", Some(&etag), None),
        422,
        "validation_failed",
    )
    .await;

    let (_, etag) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag, None)
        .await;
    // Reporters and viewers do not review.
    let reason = Some(json!({ "reason": "Tự duyệt" }));
    for who in [&w.reporter_a, &w.viewer] {
        w.refused(
            w.act(who, p, unit, "accept", Some(&etag), None),
            403,
            "forbidden",
        )
        .await;
        w.refused(
            w.act(who, p, unit, "return", Some(&etag), reason.clone()),
            403,
            "forbidden",
        )
        .await;
    }
    let list = json_of(
        w.get(&w.viewer, &format!("{}/revisions", report_path(p.id, unit)))
            .await,
        200,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The coordinator returns and accepts.
    let (r, etag) = w
        .transition(&w.coordinator, p, unit, "return", &etag, reason.clone())
        .await;
    assert_eq!(r["status"], "returned");
    let (_, etag) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag, None)
        .await;
    let (r, etag) = w
        .transition(&w.coordinator, p, unit, "accept", &etag, None)
        .await;
    assert_eq!(r["status"], "accepted");
    // Reporters cannot reopen either.
    w.refused(
        w.act(
            &w.reporter_a,
            p,
            unit,
            "reopen",
            Some(&etag),
            reason.clone(),
        ),
        403,
        "forbidden",
    )
    .await;

    // A coordinator of office B alone does not see office A's report.
    let coord_b = w
        .create_user("coordinator-b", "coordinator", "OFFICE-B")
        .await;
    w.refused(
        w.req(&coord_b, Method::GET, &report_path(p.id, unit)),
        404,
        "not_found",
    )
    .await;
    w.refused(
        w.act(&coord_b, p, unit, "reopen", Some(&etag), reason),
        404,
        "not_found",
    )
    .await;
}

fn codes(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["period_code"].as_str().unwrap().to_string(),
                r["unit_code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn list(w: &World, who: &Caller, query: &str) -> Value {
    json_of(w.get(who, &format!("/api/v1/reports{query}")).await, 200).await
}

fn pair(period: &str, unit: &str) -> (String, String) {
    (period.to_string(), unit.to_string())
}

#[tokio::test]
async fn the_report_list_covers_the_callers_scope_with_filters_and_pages() {
    let w = World::new().await;
    let (a, b) = (w.a.code.as_str(), w.b.code.as_str());
    // CUR: A submitted on time, B a draft. PAST: A submitted late, B accepted (late).
    w.submitted(&w.reporter_a, &w.open, a).await;
    w.draft(
        &w.reporter_b,
        &w.open,
        b,
        &complete_report(w.open.window_start),
    )
    .await;
    let (late_a, _) = w.submitted(&w.reporter_a, &w.past, a).await;
    assert_eq!(late_a["late"], true);
    let (_, etag) = w.submitted(&w.reporter_b, &w.past, b).await;
    w.transition(&w.coordinator, &w.past, b, "accept", &etag, None)
        .await;

    // The open period's window starts later, so it sorts first; then unit code.
    let everything = vec![
        pair("CUR", a),
        pair("CUR", b),
        pair("PAST", a),
        pair("PAST", b),
    ];
    for who in [&w.admin, &w.coordinator, &w.viewer] {
        let page = list(&w, who, "").await;
        assert_eq!(codes(&page), everything);
        assert_eq!(page["total"], 4);
    }
    let page = list(&w, &w.reporter_a, "").await;
    assert_eq!(codes(&page), vec![pair("CUR", a), pair("PAST", a)]);
    assert_eq!(page["total"], 2);
    let page = list(&w, &w.reporter_b, "").await;
    assert_eq!(codes(&page), vec![pair("CUR", b), pair("PAST", b)]);
    // Nothing of the list reveals data.
    assert!(page["items"][0].get("data").is_none());

    // Filters.
    let cases: Vec<(String, Vec<(String, String)>)> = vec![
        (
            format!("?period={}", w.open.id),
            vec![pair("CUR", a), pair("CUR", b)],
        ),
        (format!("?unit={b}"), vec![pair("CUR", b), pair("PAST", b)]),
        (
            format!("?unit={}", w.a.id),
            vec![pair("CUR", a), pair("PAST", a)],
        ),
        ("?status=draft".into(), vec![pair("CUR", b)]),
        ("?status=accepted".into(), vec![pair("PAST", b)]),
        (
            "?status=submitted".into(),
            vec![pair("CUR", a), pair("PAST", a)],
        ),
        ("?status=returned".into(), vec![]),
        ("?late=true".into(), vec![pair("PAST", a), pair("PAST", b)]),
        ("?late=false".into(), vec![pair("CUR", a)]),
        (
            format!("?period={}&status=submitted&late=true", w.past.id),
            vec![pair("PAST", a)],
        ),
    ];
    for (query, expected) in cases {
        let page = list(&w, &w.coordinator, &query).await;
        assert_eq!(codes(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len() as i64, "{query}");
    }
    // A reporter's filters never widen its scope.
    let page = list(&w, &w.reporter_a, &format!("?period={}", w.past.id)).await;
    assert_eq!(codes(&page), vec![pair("PAST", a)]);
    let page = list(&w, &w.reporter_a, "?late=true").await;
    assert_eq!(codes(&page), vec![pair("PAST", a)]);
    w.refused(
        w.req(
            &w.reporter_a,
            Method::GET,
            &format!("/api/v1/reports?unit={b}"),
        ),
        404,
        "not_found",
    )
    .await;

    // Pages: stable order, total over all pages.
    let mut seen = Vec::new();
    for offset in 0..3 {
        let page = list(&w, &w.viewer, &format!("?limit=2&offset={}", offset * 2)).await;
        assert_eq!(page["total"], 4);
        assert_eq!(page["limit"], 2);
        assert_eq!(page["offset"], offset * 2);
        seen.extend(codes(&page));
    }
    assert_eq!(seen, everything);
    for bad in ["?limit=0", "?limit=501", "?offset=-1"] {
        w.refused(
            w.req(&w.viewer, Method::GET, &format!("/api/v1/reports{bad}")),
            400,
            "invalid_query",
        )
        .await;
    }
    w.refused(
        w.req(&w.viewer, Method::GET, "/api/v1/reports?status=lost"),
        400,
        "invalid_query",
    )
    .await;

    // A coordinator of office A sees office A only; one of another tree sees nothing.
    let coord_a = w
        .create_user("coordinator-a", "coordinator", "OFFICE-A")
        .await;
    let page = list(&w, &coord_a, "").await;
    assert_eq!(codes(&page), vec![pair("CUR", a), pair("PAST", a)]);
    w.create_unit("ELSEWHERE", "Sở Du lịch", "department", None)
        .await;
    let outsider = w.create_user("outsider", "viewer", "ELSEWHERE").await;
    let page = list(&w, &outsider, "").await;
    assert_eq!(page["total"], 0);
    assert_eq!(codes(&page), vec![]);
    w.refused(
        w.req(&outsider, Method::GET, &report_path(w.open.id, a)),
        404,
        "not_found",
    )
    .await;
}

/// A report not started yet is a 404 that says so to whoever may see the unit; a unit
/// outside the caller's scope stays a plain 404, revealing nothing.
#[tokio::test]
async fn a_report_not_started_says_so_to_its_own_unit_only() {
    let w = crate::fixtures::World::new().await;
    let p = &w.open;
    let own = crate::fixtures::report_path(p.id, &w.a.code);
    let res = w.get(&w.reporter_a, &own).await;
    let body = crate::helpers::assert_problem(res, 404, "report_not_started").await;
    assert!(body["detail"].as_str().unwrap().contains(&w.a.code));
    let res = w.get(&w.coordinator, &own).await;
    crate::helpers::assert_problem(res, 404, "report_not_started").await;
    let peer = crate::fixtures::report_path(p.id, &w.b.code);
    let res = w.get(&w.reporter_a, &peer).await;
    crate::helpers::assert_problem(res, 404, "not_found").await;
}

/// `GET /reports` lists the period due last first — two periods opening the same day
/// (as `2024S1` and `2024` do) are not interleaved — and within it, units by code.
#[tokio::test]
async fn the_report_list_is_sorted_by_due_date_then_unit_code() {
    let w = World::new().await;
    let start = crate::fixtures::today_vn() - crate::fixtures::days(30);
    let half = w
        .create_period(
            "H1",
            start,
            start + crate::fixtures::days(60),
            start + crate::fixtures::days(70),
        )
        .await;
    let year = w
        .create_period(
            "Y",
            start,
            start + crate::fixtures::days(300),
            start + crate::fixtures::days(320),
        )
        .await;
    for period in [&half, &year] {
        for (who, unit) in [(&w.reporter_b, &w.b.code), (&w.reporter_a, &w.a.code)] {
            w.draft(who, period, unit, &complete_report(period.window_start))
                .await;
        }
    }
    let list = json_of(
        w.get(&w.coordinator, "/api/v1/reports?limit=500").await,
        200,
    )
    .await;
    let rows: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["period_code"] == "H1" || r["period_code"] == "Y")
        .map(|r| {
            (
                r["period_code"].as_str().unwrap().to_string(),
                r["unit_code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut units = [w.a.code.clone(), w.b.code.clone()];
    units.sort();
    let expected: Vec<(String, String)> = ["Y", "H1"]
        .iter()
        .flat_map(|p| units.iter().map(move |u| (p.to_string(), u.clone())))
        .collect();
    assert_eq!(rows, expected);
}
