//! The report life cycle end to end, as a unit reporter and the coordinating office
//! see it: draft, validate, submit, return, resubmit, accept, reopen; the revisions it
//! leaves behind and their immutability; illegal transitions; the audit trail.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    World, complete_report, connect, issue, issues, json_of, report_of, report_path,
    save_refused_across_uncommitted, scalar, snapshot, with_value, without_value,
};

async fn version_in_db(w: &World, id: &str) -> i64 {
    scalar(
        &w.app,
        &format!("SELECT version::bigint AS n FROM reports WHERE id = '{id}'"),
    )
    .await
}

#[tokio::test]
async fn a_report_goes_through_draft_submission_review_and_reopening() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let reporter = &w.reporter_a;

    // The reporter reads the period it reports for.
    let period = json_of(
        w.get(reporter, &format!("/api/v1/periods/{}", p.id)).await,
        200,
    )
    .await;
    assert_eq!(period["code"], p.code);
    assert_eq!(period["window_start"], p.window_start.to_string());
    assert_eq!(period["window_end"], p.window_end.to_string());
    assert_eq!(period["due_date"], p.due_date.to_string());
    assert_eq!(period["status"], "open");

    // A first, very incomplete draft creates the report.
    let first = json!({ "values": { "staff_total": 48, "staff_female": 27 } });
    let (created, etag1) = w.draft(reporter, p, unit, &first).await;
    assert_eq!(created["status"], "draft");
    assert_eq!(created["version"], 1);
    assert_eq!(created["form_version"], 1);
    assert_eq!(created["unit_code"], unit);
    assert_eq!(created["period_code"], p.code);
    assert_eq!(created["revision"], Value::Null);
    assert_eq!(created["data"]["values"], first["values"]);
    let id = created["id"].as_str().unwrap().to_string();

    // Reading it gives the same ETag.
    let (read, etag) = w.read(reporter, p, unit).await;
    assert_eq!(etag, etag1);
    assert_eq!(read["data"], created["data"]);

    // A second save needs the ETag and yields a new one.
    let partial = without_value(complete_report(p.window_start), "narrative_results");
    let (saved, etag2) = w.save(reporter, p, unit, &partial, &etag1).await;
    assert_ne!(etag2, etag1);
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["data"], partial);

    // Validation of the stored draft lists what is missing and saves nothing.
    let before = snapshot(&w.app).await;
    let res = w
        .act(reporter, p, unit, "validate", None, None)
        .send()
        .await
        .unwrap();
    let result = json_of(res, 200).await;
    assert_eq!(result["valid"], false);
    assert_eq!(
        issues(&result["errors"]),
        vec![issue("values.narrative_results", "required", None)]
    );
    assert_eq!(issues(&result["warnings"]), vec![]);
    // Validating other data (the complete report) checks that data and stores nothing.
    let complete = complete_report(p.window_start);
    let res = w
        .act(reporter, p, unit, "validate", None, Some(complete.clone()))
        .send()
        .await
        .unwrap();
    let result = json_of(res, 200).await;
    assert_eq!(result["valid"], true, "{result}");
    assert_eq!(issues(&result["errors"]), vec![]);
    assert_eq!(snapshot(&w.app).await, before);
    assert_eq!(version_in_db(&w, &id).await, 2);
    let (stored, _) = w.read(reporter, p, unit).await;
    assert_eq!(stored["data"], partial, "validate must not save its body");

    // The complete report validates and is submitted as revision 1.
    let (_, etag3) = w.save(reporter, p, unit, &complete, &etag2).await;
    let res = w
        .act(reporter, p, unit, "validate", None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);
    assert_eq!(version_in_db(&w, &id).await, 3);
    let (submitted, etag4) = w
        .transition(reporter, p, unit, "submit", &etag3, None)
        .await;
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(submitted["revision"], 1);
    assert_eq!(submitted["late"], false);
    assert_eq!(submitted["submitted_by"], reporter.username);
    assert!(submitted["submitted_at"].is_string());
    assert_eq!(submitted["warnings"], json!([]));
    assert_eq!(
        scalar(&w.app, "SELECT count(*) AS n FROM report_revisions").await,
        1
    );

    // A submitted report is frozen for its unit.
    let problem = w
        .refused(
            w.put_report(reporter, p, unit, &complete, Some(&etag4)),
            409,
            "not_editable",
        )
        .await;
    assert_eq!(problem["current_status"], "submitted");

    // The coordinator returns it with a reason.
    let reason = "Đề nghị bổ sung số liệu cán bộ nữ diện quy hoạch.";
    let (coord_view, etag) = w.read(&w.coordinator, p, unit).await;
    assert_eq!(etag, etag4);
    assert_eq!(coord_view["data"], complete);
    let (returned, etag5) = w
        .transition(
            &w.coordinator,
            p,
            unit,
            "return",
            &etag,
            Some(json!({ "reason": reason })),
        )
        .await;
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["review_comment"], reason);
    assert_eq!(returned["reviewed_by"], w.coordinator.username);
    assert_eq!(returned["revision"], 1);

    // The reporter edits and resubmits: revision 2.
    let edited = with_value(complete.clone(), "planning_pool_female", json!(5));
    let (_, etag6) = w.save(reporter, p, unit, &edited, &etag5).await;
    let (resubmitted, etag7) = w
        .transition(reporter, p, unit, "submit", &etag6, None)
        .await;
    assert_eq!(resubmitted["status"], "submitted");
    assert_eq!(resubmitted["revision"], 2);
    assert_eq!(resubmitted["late"], false);

    // The coordinator accepts, then reopens with a reason.
    let (accepted, etag8) = w
        .transition(&w.coordinator, p, unit, "accept", &etag7, None)
        .await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["reviewed_by"], w.coordinator.username);
    let reopen_reason = "Số liệu kinh phí cần điều chỉnh theo quyết toán.";
    let (reopened, _) = w
        .transition(
            &w.coordinator,
            p,
            unit,
            "reopen",
            &etag8,
            Some(json!({ "reason": reopen_reason })),
        )
        .await;
    assert_eq!(reopened["status"], "returned");
    assert_eq!(reopened["review_comment"], reopen_reason);
    assert_eq!(reopened["revision"], 2);
    assert_eq!(reopened["data"], edited);

    // Two revisions, the first still holding what was first submitted.
    let path = report_path(p.id, unit);
    let list = json_of(w.get(reporter, &format!("{path}/revisions")).await, 200).await;
    let list = list["items"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["number"], 1);
    assert_eq!(list[1]["number"], 2);
    for r in list {
        assert_eq!(r["submitted_by"], reporter.username);
        assert_eq!(r["late"], false);
    }
    let rev1 = json_of(w.get(reporter, &format!("{path}/revisions/1")).await, 200).await;
    assert_eq!(rev1["data"], complete);
    assert_eq!(rev1["report_id"], id.as_str());
    let rev2 = json_of(
        w.get(&w.coordinator, &format!("{path}/revisions/2")).await,
        200,
    )
    .await;
    assert_eq!(rev2["data"], edited);
    w.refused(
        w.req(reporter, Method::GET, &format!("{path}/revisions/3")),
        404,
        "not_found",
    )
    .await;

    // Every step is in the audit log, in order.
    let mut conn = connect(&w.app).await;
    #[derive(diesel::QueryableByName)]
    struct Action {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    use diesel_async::RunQueryDsl;
    let actions: Vec<String> = diesel::sql_query(format!(
        "SELECT action FROM audit_events WHERE object_type = 'report' AND object_id = '{id}' ORDER BY id"
    ))
    .load::<Action>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.action)
    .collect();
    assert_eq!(
        actions,
        [
            "report.create",
            "report.save",
            "report.save",
            "report.submit",
            "report.return",
            "report.save",
            "report.submit",
            "report.accept",
            "report.reopen"
        ]
    );
}

#[tokio::test]
async fn revisions_and_reports_cannot_be_changed_or_deleted_even_in_sql() {
    let w = World::new().await;
    let (report, _) = w.submitted(&w.reporter_a, &w.open, &w.a.code).await;
    let id = report["id"].as_str().unwrap();
    let before = snapshot(&w.app).await;
    let mut conn = connect(&w.app).await;
    use diesel_async::RunQueryDsl;
    for sql in [
        format!("UPDATE report_revisions SET late = true WHERE report_id = '{id}'"),
        format!("UPDATE report_revisions SET data = '{{}}'::jsonb WHERE report_id = '{id}'"),
        format!("DELETE FROM report_revisions WHERE report_id = '{id}'"),
        "TRUNCATE report_revisions CASCADE".to_string(),
    ] {
        let err = diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("report revisions are immutable"),
            "{sql}: {err}"
        );
    }
    for sql in [
        format!("DELETE FROM reports WHERE id = '{id}'"),
        "DELETE FROM reports".to_string(),
    ] {
        let err = diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("reports are never deleted"),
            "{sql}: {err}"
        );
    }
    assert_eq!(snapshot(&w.app).await, before);
}

#[tokio::test]
async fn illegal_transitions_are_409_naming_the_current_status() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let coordinator = &w.coordinator;
    let reason = Some(json!({ "reason": "Lý do" }));

    // Nothing to submit yet.
    w.refused(
        w.act(&w.reporter_a, p, unit, "submit", Some("*"), None),
        404,
        "not_found",
    )
    .await;

    let (_, draft_tag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    for (action, body) in [
        ("accept", None),
        ("return", reason.clone()),
        ("reopen", reason.clone()),
    ] {
        let problem = w
            .refused(
                w.act(coordinator, p, unit, action, Some(&draft_tag), body),
                409,
                "illegal_transition",
            )
            .await;
        assert_eq!(problem["current_status"], "draft", "{action}");
    }

    let (_, submitted_tag) = w
        .transition(&w.reporter_a, p, unit, "submit", &draft_tag, None)
        .await;
    let problem = w
        .refused(
            w.act(
                coordinator,
                p,
                unit,
                "reopen",
                Some(&submitted_tag),
                reason.clone(),
            ),
            409,
            "illegal_transition",
        )
        .await;
    assert_eq!(problem["current_status"], "submitted");
    let problem = w
        .refused(
            w.act(&w.reporter_a, p, unit, "submit", Some(&submitted_tag), None),
            409,
            "illegal_transition",
        )
        .await;
    assert_eq!(problem["current_status"], "submitted");

    // A reason is bounded.
    let long = json!({ "reason": "x".repeat(4001) });
    let problem = w
        .refused(
            w.act(
                coordinator,
                p,
                unit,
                "return",
                Some(&submitted_tag),
                Some(long),
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue("body.reason", "too_long", None)]
    );

    // Return and reopen need a reason; blank ones do not count.
    for body in [
        json!({}),
        json!({ "reason": null }),
        json!({ "reason": "  \n " }),
    ] {
        let problem = w
            .refused(
                w.act(
                    coordinator,
                    p,
                    unit,
                    "return",
                    Some(&submitted_tag),
                    Some(body.clone()),
                ),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(
            issues(&problem["errors"]),
            vec![issue("body.reason", "required", None)],
            "{body}"
        );
    }

    let (_, accepted_tag) = w
        .transition(coordinator, p, unit, "accept", &submitted_tag, None)
        .await;
    for (who, action, body) in [
        (&w.reporter_a, "submit", None),
        (coordinator, "accept", None),
        (coordinator, "return", reason.clone()),
    ] {
        let problem = w
            .refused(
                w.act(who, p, unit, action, Some(&accepted_tag), body),
                409,
                "illegal_transition",
            )
            .await;
        assert_eq!(problem["current_status"], "accepted", "{action}");
    }
    let problem = w
        .refused(
            w.act(
                coordinator,
                p,
                unit,
                "reopen",
                Some(&accepted_tag),
                Some(json!({})),
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue("body.reason", "required", None)]
    );
    let (report, _) = w.read(coordinator, p, unit).await;
    assert_eq!(report["status"], "accepted");
}

#[tokio::test]
async fn transitions_are_audited_with_actor_role_and_request_id() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let steps = [
        (&w.reporter_a, "submit", None, "reporter"),
        (
            &w.coordinator,
            "return",
            Some(json!({ "reason": "Bổ sung" })),
            "coordinator",
        ),
        (&w.reporter_a, "submit", None, "reporter"),
        (&w.coordinator, "accept", None, "coordinator"),
    ];
    let mut etag = etag;
    let mut report_id = String::new();
    for (i, (who, action, body, _)) in steps.iter().enumerate() {
        let res = w
            .act(who, p, unit, action, Some(&etag), body.clone())
            .header("x-request-id", format!("audit-trail-{i}-{action}"))
            .send()
            .await
            .unwrap();
        let (report, tag) = report_of(res, 200).await;
        etag = tag;
        report_id = report["id"].as_str().unwrap().to_string();
    }

    let page = json_of(
        w.get(&w.coordinator, "/api/v1/audit?object_type=report&limit=100")
            .await,
        200,
    )
    .await;
    let events = page["items"].as_array().unwrap();
    for (i, (who, action, _, role)) in steps.iter().enumerate() {
        let request_id = format!("audit-trail-{i}-{action}");
        let found: Vec<&Value> = events
            .iter()
            .filter(|e| e["request_id"] == request_id.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{request_id}: {page}");
        let e = found[0];
        assert_eq!(e["action"], format!("report.{action}"));
        assert_eq!(e["object_type"], "report");
        assert_eq!(e["object_id"], report_id.as_str());
        assert_eq!(e["actor_kind"], "user");
        assert_eq!(e["actor_id"], who.id.to_string());
        assert_eq!(e["actor_name"], who.username);
        assert_eq!(e["actor_role"], *role);
        assert_eq!(e["unit_id"], w.a.id.to_string());
        assert_eq!(e["change"]["unit"], unit);
        assert_eq!(e["change"]["period"], p.code);
    }
    let submit = events
        .iter()
        .find(|e| e["request_id"] == "audit-trail-2-submit")
        .unwrap();
    assert_eq!(submit["change"]["revision"], 2);
    assert_eq!(submit["change"]["late"], false);
    let ret = events
        .iter()
        .find(|e| e["request_id"] == "audit-trail-1-return")
        .unwrap();
    assert_eq!(ret["change"]["reason"], "Bổ sung");

    // Reporters and viewers do not read the audit log.
    for who in [&w.reporter_a, &w.viewer] {
        w.refused(w.req(who, Method::GET, "/api/v1/audit"), 403, "forbidden")
            .await;
    }
    // A coordinator of office B does not see office A's report events.
    let coord_b = w
        .create_user("coordinator-b", "coordinator", "OFFICE-B")
        .await;
    let page = json_of(
        w.get(&coord_b, "/api/v1/audit?object_type=report").await,
        200,
    )
    .await;
    assert_eq!(page["total"], 0, "{page}");
}

#[tokio::test]
async fn a_malformed_optional_body_is_refused_not_ignored() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let complete = complete_report(p.window_start);
    let incomplete = without_value(complete.clone(), "narrative_results");
    let (_, etag) = w.draft(&w.reporter_a, p, unit, &complete).await;

    // A script dry-running its data with a misspelt member must not be told that the
    // stored report is valid.
    let typo = json!({ "value": incomplete["values"] });
    let problem = w
        .refused(
            w.act(&w.reporter_a, p, unit, "validate", None, Some(typo)),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.value");
    w.refused(
        w.act(
            &w.reporter_a,
            p,
            unit,
            "validate",
            None,
            Some(json!({ "values": [] })),
        ),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        w.act(&w.reporter_a, p, unit, "validate", None, None)
            .header("content-type", "application/json")
            .body("{\"values\": "),
        400,
        "malformed_json",
    )
    .await;
    // An empty body still means "the stored report".
    let res = w
        .act(&w.reporter_a, p, unit, "validate", None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);

    // An accept comment under the wrong name is not silently dropped.
    let (_, etag) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag, None)
        .await;
    let problem = w
        .refused(
            w.act(
                &w.coordinator,
                p,
                unit,
                "accept",
                Some(&etag),
                Some(json!({ "comment": "Đạt yêu cầu" })),
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.comment");
    let (accepted, _) = w
        .transition(
            &w.coordinator,
            p,
            unit,
            "accept",
            &etag,
            Some(json!({ "reason": "Đạt yêu cầu" })),
        )
        .await;
    assert_eq!(accepted["review_comment"], "Đạt yêu cầu");
}

#[tokio::test]
async fn a_deactivated_unit_drafts_and_submits_no_more_but_its_report_stays_readable() {
    let w = World::new().await;
    let (p, a) = (&w.open, w.a.code.as_str());
    let good = complete_report(p.window_start);
    let (_, etag) = w.draft(&w.reporter_a, p, a, &good).await;
    let res = w
        .req(
            &w.admin,
            Method::POST,
            &format!("/api/v1/org-units/{a}/deactivate"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["active"], false);

    let changed = with_value(good.clone(), "committee_meetings", json!(4));
    for who in [&w.reporter_a, &w.admin] {
        w.refused(
            w.put_report(who, p, a, &changed, Some(&etag)),
            409,
            "unit_inactive",
        )
        .await;
        w.refused(
            w.act(who, p, a, "submit", Some(&etag), None),
            409,
            "unit_inactive",
        )
        .await;
    }
    let (report, tag) = w.read(&w.coordinator, p, a).await;
    assert_eq!(tag, etag);
    assert_eq!(report["data"], good);
    assert_eq!(report["status"], "draft");
}

#[tokio::test]
async fn a_deactivation_committed_while_a_save_is_under_way_still_refuses_it() {
    let w = World::new().await;
    // The unit's deactivation is written but not yet committed when the save reads it.
    let sql = format!(
        "UPDATE org_units SET active = false WHERE id = '{}'",
        w.a.id
    );
    save_refused_across_uncommitted(&w, &sql, "unit_inactive").await;
}
