//! The unit head's sign-off: where the plan asks for it, a reporter's submission waits
//! for the head of the unit, who approves it (then, and only then, it is submitted to
//! the coordinating office and counted) or declines it back to the reporters.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Caller, World, complete_report, json_of, login};
use crate::helpers::PASSWORD;

/// A head of `unit`: a reporter with `unit_head`, created by the admin.
async fn head(w: &World, username: &str, unit: &str) -> Caller {
    let res = w
        .req(&w.admin, Method::POST, "/api/v1/users")
        .json(&json!({
            "username": username, "display_name": format!("Thủ trưởng {unit}"),
            "role": "reporter", "unit": unit, "password": PASSWORD, "unit_head": true,
        }))
        .send()
        .await
        .unwrap();
    let user = json_of(res, 201).await;
    assert_eq!(user["unit_head"], true, "{user}");
    login(&w.app, username, PASSWORD).await
}

async fn require_sign_off(w: &World, on: bool) {
    let res = w
        .req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/plans/{}", w.plan_id),
        )
        .json(&json!({ "head_sign_off": on }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["head_sign_off"], on);
}

async fn bell_kinds(w: &World, who: &Caller) -> Vec<String> {
    let page = json_of(w.get(who, "/api/v1/me/notifications").await, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn completeness(w: &World) -> Value {
    let res = w
        .get(
            &w.coordinator,
            &format!(
                "/api/v1/periods/{}/compilation?include=submitted&parts=completeness",
                w.open.id
            ),
        )
        .await;
    json_of(res, 200).await["completeness"].clone()
}

#[tokio::test]
async fn a_report_reaches_the_office_only_once_its_head_approves() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let head_a = head(&w, "head-a", unit).await;
    require_sign_off(&w, true).await;

    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let (report, etag) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "awaiting_approval");
    assert_eq!(report["revision"], 1);
    assert_eq!(report["approved_by"], Value::Null);
    assert_eq!(bell_kinds(&w, &head_a).await, ["report.awaiting_approval"]);

    // Not with the office yet: not counted, listed as awaiting approval, and no
    // review can touch it.
    let c = completeness(&w).await;
    assert_eq!(c["submitted"], 0, "{c}");
    assert_eq!(c["units"]["awaiting_approval"][0]["code"], unit, "{c}");
    w.refused(
        w.act(&w.coordinator, p, unit, "accept", Some(&etag), None),
        409,
        "illegal_transition",
    )
    .await;
    // Only a head of the unit approves: not its reporter, not the office, not the
    // admin; another unit's reporter does not even see it.
    for who in [&w.reporter_a, &w.coordinator, &w.admin] {
        w.refused(
            w.act(who, p, unit, "approve", Some(&etag), None),
            403,
            "forbidden",
        )
        .await;
    }
    w.refused(
        w.act(&w.reporter_b, p, unit, "approve", Some(&etag), None),
        404,
        "not_found",
    )
    .await;

    // Declined with a reason: back to the reporters, who hear why.
    w.refused(
        w.act(&head_a, p, unit, "decline", Some(&etag), Some(json!({}))),
        422,
        "validation_failed",
    )
    .await;
    let (report, etag) = w
        .transition(
            &head_a,
            p,
            unit,
            "decline",
            &etag,
            Some(json!({ "reason": "Bổ sung số liệu mục B." })),
        )
        .await;
    assert_eq!(report["status"], "returned");
    assert_eq!(report["review_comment"], "Bổ sung số liệu mục B.");
    assert!(
        bell_kinds(&w, &w.reporter_a)
            .await
            .contains(&"report.declined".to_string())
    );

    // Submitted again, then approved: now it is submitted, with the approval recorded
    // in the report, its revision and the audit log.
    let (report, etag) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "awaiting_approval");
    assert_eq!(report["revision"], 2);
    let (report, etag) = w.transition(&head_a, p, unit, "approve", &etag, None).await;
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["submitted_by"], "reporter-a");
    assert_eq!(report["approved_by"], "head-a");
    assert!(report["approved_at"].is_string());
    assert_eq!(report["late"], false);
    let rev = json_of(
        w.get(
            &w.coordinator,
            &format!("{}/revisions/2", crate::fixtures::report_path(p.id, unit)),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (&rev["submitted_by"], &rev["approved_by"]),
        (&json!("reporter-a"), &json!("head-a"))
    );
    let c = completeness(&w).await;
    assert_eq!(c["submitted"], 1, "{c}");
    assert_eq!(
        w.app
            .db_text(
                "SELECT string_agg(action || ':' || actor_name, ',' ORDER BY id) AS t \
                 FROM audit_events WHERE action IN ('report.submit', 'report.approve', 'report.decline')"
            )
            .await,
        "report.submit:reporter-a,report.decline:head-a,report.submit:reporter-a,report.approve:head-a"
    );
    // The office reviews it as any other.
    let (report, _) = w
        .transition(&w.coordinator, p, unit, "accept", &etag, None)
        .await;
    assert_eq!(report["status"], "accepted");
}

#[tokio::test]
async fn a_heads_own_submission_is_its_approval_and_the_setting_is_off_by_default() {
    let w = World::new().await;
    let p = &w.open;
    let head_b = head(&w, "head-b", &w.b.code).await;
    // Off by default: a reporter's submission goes straight to the office.
    let plan = json_of(
        w.get(&w.viewer, &format!("/api/v1/plans/{}", w.plan_id))
            .await,
        200,
    )
    .await;
    assert_eq!(plan["head_sign_off"], false);
    let (report, _) = w.submitted(&w.reporter_a, p, &w.a.code).await;
    assert_eq!(report["approved_by"], Value::Null);

    require_sign_off(&w, true).await;
    let (_, etag) = w
        .draft(&head_b, p, &w.b.code, &complete_report(p.window_start))
        .await;
    let (report, _) = w
        .transition(&head_b, p, &w.b.code, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["approved_by"], "head-b");

    // A head is a head of their own unit only; the capability is the admin's to give.
    let users = json_of(w.get(&w.admin, "/api/v1/users?q=reporter-a").await, 200).await;
    let id = users["items"][0]["id"].as_str().unwrap().to_string();
    let res = w
        .req(&w.admin, Method::PATCH, &format!("/api/v1/users/{id}"))
        .json(&json!({ "unit_head": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["unit_head"], true);
    let res = w
        .req(&w.reporter_a, Method::PATCH, &format!("/api/v1/users/{id}"))
        .json(&json!({ "unit_head": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}
