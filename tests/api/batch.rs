//! `POST /periods/{period_id}/reports:batch`: many units' drafts and submissions in
//! one request, each item carried out or refused on its own, with the answers of the
//! single calls; a dry run writes nothing; scope is checked item by item.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    Caller, World, complete_report, json_of, scalar, snapshot, with_value, without_value,
};
use crate::helpers::assert_problem;

fn batch_path(w: &World) -> String {
    format!("/api/v1/periods/{}/reports:batch", w.open.id)
}

async fn batch(w: &World, who: &Caller, body: Value) -> Value {
    let res = w
        .req(who, Method::POST, &batch_path(w))
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(res, 200).await
}

/// `(unit, outcome, problem code)` of every item.
fn outcomes(result: &Value) -> Vec<(String, String, Option<String>)> {
    result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["unit"].as_str().unwrap().to_string(),
                i["outcome"].as_str().unwrap().to_string(),
                i["problem"]["code"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn o(unit: &str, outcome: &str, code: Option<&str>) -> (String, String, Option<String>) {
    (unit.into(), outcome.into(), code.map(str::to_string))
}

/// A third office under the department, for batches of three.
async fn office_c(w: &World) -> String {
    w.create_unit("OFFICE-C", "Phòng Di sản", "office", Some("DEPT"))
        .await
        .code
}

#[tokio::test]
async fn items_are_created_updated_submitted_or_refused_each_on_its_own() {
    let w = World::new().await;
    let c = office_c(&w).await;
    let good = complete_report(w.open.window_start);
    let partial = json!({ "values": { "staff_total": 10, "staff_female": 6 } });
    let first = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-A", "values": good["values"], "lists": good["lists"], "submit": true },
            { "unit": "office-b", "values": partial["values"] },
            { "unit": "NO-SUCH-UNIT", "values": partial["values"] },
            { "unit": c, "values": { "staff_total": "many" } },
        ]}),
    )
    .await;
    assert_eq!(first["dry_run"], false);
    assert_eq!(
        outcomes(&first),
        vec![
            o("OFFICE-A", "submitted", None),
            o("office-b", "created", None),
            o("NO-SUCH-UNIT", "refused", Some("not_found")),
            o(&c, "refused", Some("validation_failed")),
        ]
    );
    assert_eq!(
        first["summary"],
        json!({"created": 1, "updated": 0, "submitted": 1, "unchanged": 0, "refused": 2})
    );
    // The problem is the single call's, naming the field and the request.
    let problem = &first["items"][3]["problem"];
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["errors"][0]["path"], "values.staff_total");
    assert_eq!(problem["instance"], batch_path(&w));
    // What the items answer is what a read shows.
    let (a, a_tag) = w.read(&w.admin, &w.open, "OFFICE-A").await;
    assert_eq!(a["status"], "submitted");
    assert_eq!(a["revision"], 1);
    assert_eq!(first["items"][0]["etag"], a_tag);
    assert_eq!(first["items"][0]["revision"], 1);
    assert_eq!(first["items"][0]["status"], "submitted");
    let (b, b_tag) = w.read(&w.admin, &w.open, "OFFICE-B").await;
    assert_eq!(b["status"], "draft");
    assert_eq!(b["data"]["values"], partial["values"]);
    assert_eq!(first["items"][1]["etag"], b_tag);
    assert_eq!(
        scalar(
            &w.app,
            "SELECT count(*) AS n FROM reports r JOIN org_units u ON u.id = r.unit_id \
             WHERE u.code = 'OFFICE-C'"
        )
        .await,
        0
    );
    // The same events as the single calls.
    assert_eq!(
        scalar(
            &w.app,
            "SELECT count(*) AS n FROM audit_events WHERE action IN ('report.create', 'report.submit')"
        )
        .await,
        3
    );

    // Again: A's data is the same (unchanged), B's needs its ETag (428, then 412 for a
    // stale one), and with it B is updated.
    let more = json!({ "values": { "staff_total": 12, "staff_female": 7 } });
    let second = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-A", "values": good["values"], "lists": good["lists"] },
            { "unit": "OFFICE-B", "values": more["values"] },
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&second),
        vec![
            o("OFFICE-A", "unchanged", None),
            o("OFFICE-B", "refused", Some("if_match_required")),
        ]
    );
    assert_eq!(second["items"][0]["etag"], a_tag, "nothing was written");
    let stale = "\"00000000000000000000000000000000-1\"";
    let third = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-B", "if_match": stale, "values": more["values"] },
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&third),
        vec![o("OFFICE-B", "refused", Some("stale_etag"))]
    );
    assert_eq!(third["items"][0]["problem"]["current_etag"], b_tag);
    let fourth = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-B", "if_match": b_tag, "values": more["values"] },
            // Submitting a report that is already submitted: the workflow's 409.
            { "unit": "OFFICE-A", "if_match": a_tag, "submit": true },
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&fourth),
        vec![
            o("OFFICE-B", "updated", None),
            o("OFFICE-A", "refused", Some("illegal_transition")),
        ]
    );
    let (b, b_tag2) = w.read(&w.admin, &w.open, "OFFICE-B").await;
    assert_eq!(b["data"]["values"], more["values"]);
    assert_eq!(fourth["items"][0]["etag"], b_tag2);
}

#[tokio::test]
async fn an_item_is_atomic_a_save_whose_submission_fails_is_not_kept() {
    let w = World::new().await;
    let good = complete_report(w.open.window_start);
    // Saved as a draft it would pass; submitted it lacks a required value.
    let incomplete = without_value(good.clone(), "staff_total");
    let before = snapshot(&w.app).await;
    let res = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-A", "values": incomplete["values"], "lists": incomplete["lists"], "submit": true },
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&res),
        vec![o("OFFICE-A", "refused", Some("validation_failed"))]
    );
    assert_eq!(
        res["items"][0]["problem"]["errors"][0]["path"],
        "values.staff_total"
    );
    assert_eq!(
        before,
        snapshot(&w.app).await,
        "nothing of the item was kept"
    );

    // A draft that exists: the item's new data and its submission both roll back.
    let (_, tag) = w.draft(&w.admin, &w.open, "OFFICE-A", &good).await;
    let res = batch(
        &w,
        &w.admin,
        json!({ "items": [
            { "unit": "OFFICE-A", "if_match": tag, "values": incomplete["values"], "lists": incomplete["lists"], "submit": true },
            { "unit": "OFFICE-B", "values": good["values"], "lists": good["lists"], "submit": true },
        ]}),
    )
    .await;
    assert_eq!(
        outcomes(&res),
        vec![
            o("OFFICE-A", "refused", Some("validation_failed")),
            o("OFFICE-B", "submitted", None),
        ]
    );
    let (a, a_tag) = w.read(&w.admin, &w.open, "OFFICE-A").await;
    assert_eq!(a_tag, tag);
    assert_eq!(a["data"], good);
    assert_eq!(a["status"], "draft");
}

#[tokio::test]
async fn a_dry_run_answers_what_would_happen_and_writes_nothing() {
    let w = World::new().await;
    let good = complete_report(w.open.window_start);
    let (_, tag) = w.draft(&w.admin, &w.open, "OFFICE-A", &good).await;
    let changed = with_value(good.clone(), "committee_meetings", json!(5));
    let before = snapshot(&w.app).await;
    let res = batch(
        &w,
        &w.admin,
        json!({ "dry_run": true, "items": [
            { "unit": "OFFICE-A", "if_match": tag, "values": changed["values"], "lists": changed["lists"], "submit": true },
            { "unit": "OFFICE-B", "values": good["values"] },
            { "unit": "OFFICE-B", "values": good["values"] },
        ]}),
    )
    .await;
    assert_eq!(res["dry_run"], true);
    assert_eq!(
        outcomes(&res),
        vec![
            o("OFFICE-A", "submitted", None),
            o("OFFICE-B", "created", None),
            o("OFFICE-B", "refused", Some("validation_failed")),
        ]
    );
    assert_eq!(res["items"][2]["problem"]["errors"][0]["code"], "duplicate");
    assert_eq!(res["items"][0]["status"], "submitted");
    assert_eq!(res["items"][0]["revision"], 1);
    assert_eq!(res["items"][0]["etag"], Value::Null);
    assert_eq!(res["items"][0]["warnings"], json!([]));
    assert_eq!(before, snapshot(&w.app).await, "a dry run writes nothing");

    // A submission's warnings come with its item: an activity before the window.
    let early = (w.open.window_start - crate::fixtures::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let warned = crate::fixtures::with_activity(changed, "date", json!(early));
    let res = batch(
        &w,
        &w.admin,
        json!({ "dry_run": true, "items": [
            { "unit": "OFFICE-A", "if_match": tag, "values": warned["values"], "lists": warned["lists"], "submit": true },
        ]}),
    )
    .await;
    assert_eq!(res["items"][0]["outcome"], "submitted", "{res}");
    assert_eq!(
        res["items"][0]["warnings"][0]["rule"], "activity_date_from",
        "{res}"
    );
}

#[tokio::test]
async fn scope_is_checked_item_by_item_and_roles_for_the_whole_batch() {
    let w = World::new().await;
    let good = complete_report(w.open.window_start);
    let res = batch(
        &w,
        &w.reporter_a,
        json!({ "items": [
            { "unit": "OFFICE-B", "values": good["values"] },
            { "unit": "OFFICE-A", "values": good["values"], "lists": good["lists"] },
            { "unit": "DEPT", "values": good["values"] },
        ]}),
    )
    .await;
    // Outside the reporter's unit: the 404 a single call gives, nothing revealed.
    assert_eq!(
        outcomes(&res),
        vec![
            o("OFFICE-B", "refused", Some("not_found")),
            o("OFFICE-A", "created", None),
            o("DEPT", "refused", Some("not_found")),
        ]
    );
    for role in [&w.coordinator, &w.viewer] {
        let before = snapshot(&w.app).await;
        let res = w
            .req(role, Method::POST, &batch_path(&w))
            .json(&json!({ "items": [{ "unit": "OFFICE-A", "values": good["values"] }] }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "forbidden").await;
        assert_eq!(before, snapshot(&w.app).await);
    }
    // A period the caller cannot see is a 404 for the whole batch.
    let res = w
        .req(
            &w.admin,
            Method::POST,
            &format!("/api/v1/periods/{}/reports:batch", uuid::Uuid::nil()),
        )
        .json(&json!({ "items": [{ "unit": "OFFICE-A", "values": {} }] }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn too_many_items_or_none_are_refused_whole() {
    let w = World::new().await;
    let item = json!({ "unit": "OFFICE-A", "values": { "staff_total": 1 } });
    for (items, code) in [
        (vec![item.clone(); 101], "too_many_items"),
        (vec![], "too_short"),
    ] {
        let req = w
            .req(&w.admin, Method::POST, &batch_path(&w))
            .json(&json!({ "items": items }));
        let problem = w.refused(req, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["path"], "body.items");
        assert_eq!(problem["errors"][0]["code"], code);
    }
    // A hundred is allowed: every item after the first names the same unit.
    let res = batch(&w, &w.admin, json!({ "items": vec![item; 100] })).await;
    assert_eq!(res["summary"]["created"], 1);
    assert_eq!(res["summary"]["refused"], 99);
    // An unknown member of an item is a 422 naming it.
    let req = w
        .req(&w.admin, Method::POST, &batch_path(&w))
        .json(&json!({ "items": [{ "unit": "OFFICE-A", "data": {} }] }));
    let problem = w.refused(req, 422, "validation_failed").await;
    assert!(
        problem["errors"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("body.items[0]"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_batch_retried_with_one_idempotency_key_runs_once() {
    let w = World::new().await;
    let good = complete_report(w.open.window_start);
    let body = json!({ "items": [
        { "unit": "OFFICE-A", "values": good["values"], "lists": good["lists"], "submit": true },
    ]});
    let send = || {
        w.req(&w.admin, Method::POST, &batch_path(&w))
            .header("idempotency-key", "batch-import-2024-0001")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(again.text().await.unwrap(), first);
    assert_eq!(
        scalar(&w.app, "SELECT count(*) AS n FROM report_revisions").await,
        1
    );
}

#[tokio::test]
async fn a_locked_period_refuses_each_reporters_item_as_a_single_save_would() {
    let w = World::new().await;
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/periods/{}/lock", w.open.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before = snapshot(&w.app).await;
    let res = batch(
        &w,
        &w.reporter_a,
        json!({ "items": [{ "unit": "OFFICE-A", "values": { "staff_total": 3 } }] }),
    )
    .await;
    assert_eq!(
        outcomes(&res),
        vec![o("OFFICE-A", "refused", Some("period_locked"))]
    );
    assert_eq!(res["items"][0]["problem"]["status"], 409);
    assert_eq!(before, snapshot(&w.app).await);
    // The admin may still write a locked period, as with a single PUT.
    let res = batch(
        &w,
        &w.admin,
        json!({ "items": [{ "unit": "OFFICE-A", "values": { "staff_total": 3 } }] }),
    )
    .await;
    assert_eq!(outcomes(&res), vec![o("OFFICE-A", "created", None)]);
}
