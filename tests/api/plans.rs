//! Plans, forms, indicators and periods as the coordinating office manages them: form
//! definitions are checked when saved and versioned rather than changed in place;
//! indicator formulas are parsed and checked against the form; period codes are
//! unique within a plan and findable.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{World, complete_report, issue, issues, json_of, scalar, with_value};

fn default_form() -> Value {
    serde_json::to_value(gereport::plans::form::default_form_2024().unwrap()).unwrap()
}

async fn count(w: &World, table: &str) -> i64 {
    scalar(&w.app, &format!("SELECT count(*) AS n FROM {table}")).await
}

#[tokio::test]
async fn a_form_rule_naming_an_unknown_field_is_refused() {
    let w = World::new().await;
    let mut form = default_form();
    form["rules"][0]["left"] = json!("leaders_count");
    let problem = w
        .refused(
            w.req(
                &w.coordinator,
                Method::PUT,
                &format!("/api/v1/plans/{}/form", w.plan_id),
            )
            .json(&form),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue("body.rules[0].left", "unknown_reference", None)]
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("leaders_count")
    );
    // A list rule is checked in its own scope: `staff_total` is not an activity field.
    let mut form = default_form();
    form["sections"][2]["list"]["rules"][0]["right"] = json!("staff_total");
    let problem = w
        .refused(
            w.req(
                &w.coordinator,
                Method::PUT,
                &format!("/api/v1/plans/{}/form", w.plan_id),
            )
            .json(&form),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue(
            "body.sections[2].list.rules[0].right",
            "unknown_reference",
            None
        )]
    );

    // Sent with a new plan, the path says it is inside `form`; no plan is created.
    let plans = count(&w, "plans").await;
    let mut form = default_form();
    form["rules"][0]["left"] = json!("leaders_count");
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::POST, "/api/v1/plans")
                .json(&json!({
                    "year": 2025,
                    "document_number": "01/KH-SVHTT",
                    "title": "Kế hoạch năm 2025",
                    "issuing_unit": "DEPT",
                    "form": form,
                })),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue("body.form.rules[0].left", "unknown_reference", None)]
    );
    assert_eq!(count(&w, "plans").await, plans);
    let form = json_of(
        w.get(&w.reporter_a, &format!("/api/v1/plans/{}/form", w.plan_id))
            .await,
        200,
    )
    .await;
    assert_eq!(form["version"], 1);
}

#[tokio::test]
async fn saving_a_form_makes_a_new_version_and_reports_keep_theirs() {
    let w = World::new().await;
    let p = &w.open;
    let good = complete_report(p.window_start);
    let (report_a, etag_a) = w.draft(&w.reporter_a, p, &w.a.code, &good).await;
    assert_eq!(report_a["form_version"], 1);

    // Version 2 adds an optional field to section G.
    let mut form = default_form();
    form["sections"][6]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "code": "narrative_good_practices",
            "label_vi": "Mô hình, cách làm hay",
            "label_en": "Good practices",
            "type": "text",
            "max_length": 4000
        }));
    let res = w
        .req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/plans/{}/form", w.plan_id),
        )
        .json(&form)
        .send()
        .await
        .unwrap();
    let saved = json_of(res, 201).await;
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["created_by"], w.coordinator.username);
    let plan = json_of(
        w.get(&w.viewer, &format!("/api/v1/plans/{}", w.plan_id))
            .await,
        200,
    )
    .await;
    assert_eq!(plan["form_version"], 2);
    let current = json_of(
        w.get(&w.reporter_a, &format!("/api/v1/plans/{}/form", w.plan_id))
            .await,
        200,
    )
    .await;
    assert_eq!(current["version"], 2);
    // Stored as parsed: defaults such as `required: false` are spelled out.
    let normalised: gereport::plans::form::FormDefinition =
        serde_json::from_value(form.clone()).unwrap();
    assert_eq!(
        current["definition"],
        serde_json::to_value(normalised).unwrap()
    );
    assert_eq!(
        current["definition"]["sections"][6]["fields"][4]["code"],
        "narrative_good_practices"
    );
    let v1 = json_of(
        w.get(
            &w.reporter_a,
            &format!("/api/v1/plans/{}/form?version=1", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["definition"], default_form());
    assert_eq!(v1["id"], report_a["form_id"]);
    assert_eq!(count(&w, "forms").await, 2);

    // A's report stays on version 1: the new field is unknown to it.
    let (read_a, _) = w.read(&w.reporter_a, p, &w.a.code).await;
    assert_eq!(read_a["form_version"], 1);
    let with_practices = with_value(
        good.clone(),
        "narrative_good_practices",
        json!("Câu lạc bộ gia đình phát triển bền vững."),
    );
    let problem = w
        .refused(
            w.put_report(&w.reporter_a, p, &w.a.code, &with_practices, Some(&etag_a)),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue(
            "values.narrative_good_practices",
            "unknown_field",
            None
        )]
    );
    let (submitted_a, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag_a, None)
        .await;
    assert_eq!(submitted_a["form_version"], 1);

    // B's new report is made with version 2 and may use the field.
    let (report_b, etag_b) = w.draft(&w.reporter_b, p, &w.b.code, &with_practices).await;
    assert_eq!(report_b["form_version"], 2);
    assert_eq!(report_b["form_id"], saved["id"]);
    let (submitted_b, _) = w
        .transition(&w.reporter_b, p, &w.b.code, "submit", &etag_b, None)
        .await;
    assert_eq!(submitted_b["form_version"], 2);
    // Each revision remembers the form it was validated against.
    let rev = json_of(
        w.get(
            &w.coordinator,
            &format!(
                "{}/revisions/1",
                crate::fixtures::report_path(p.id, &w.a.code)
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rev["form_id"], report_a["form_id"]);

    // Reporters and viewers do not change forms.
    for who in [&w.reporter_a, &w.viewer] {
        w.refused(
            w.req(
                who,
                Method::PUT,
                &format!("/api/v1/plans/{}/form", w.plan_id),
            )
            .json(&form),
            403,
            "forbidden",
        )
        .await;
    }
}

#[tokio::test]
async fn indicator_formulas_are_parsed_and_checked_against_the_form() {
    let w = World::new().await;
    let path = format!("/api/v1/plans/{}/indicators", w.plan_id);
    let listed = json_of(w.get(&w.viewer, &path).await, 200).await;
    let targets: Vec<(String, f64)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["target"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            ("leaders_with_woman".to_string(), 1.0),
            ("trained_female_share".to_string(), 0.5)
        ]
    );

    let indicator = |code: &str, formula: &str| {
        json!({
            "code": code,
            "name_vi": "Tỷ lệ nữ trong Ban",
            "name_en": "Women's share of the committee",
            "formula": formula,
            "target": 0.5,
            "direction": "at_least",
            "source": "Nghị quyết 28/NQ-CP",
        })
    };
    for (formula, code) in [
        (
            "sum(committee_members_female) / sum(committee_total)",
            "unknown_field",
        ),
        // A text field exists, but an indicator cannot compare it with a number.
        (
            "count(narrative_results >= 1) / count()",
            "formula_type_mismatch",
        ),
        ("count(participants_female >= 1) / count()", "unknown_field"),
        ("sum(committee_members_female / sum(", "invalid_formula"),
        ("avg(committee_members_female)", "invalid_formula"),
        ("", "invalid_formula"),
    ] {
        let problem = w
            .refused(
                w.req(&w.coordinator, Method::POST, &path)
                    .json(&indicator("committee_female_share", formula)),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(
            issues(&problem["errors"]),
            vec![issue("body.formula", code, None)],
            "{formula}"
        );
    }
    let res = w
        .req(&w.coordinator, Method::POST, &path)
        .json(&indicator(
            "committee_female_share",
            "sum(committee_members_female)/sum(committee_members_total)",
        ))
        .send()
        .await
        .unwrap();
    let created = json_of(res, 201).await;
    assert_eq!(
        created["formula"],
        "sum(committee_members_female) / sum(committee_members_total)"
    );
    // Codes are unique within the plan; formulas are checked on update too.
    w.refused(
        w.req(&w.coordinator, Method::POST, &path)
            .json(&indicator("committee_female_share", "count() / count()")),
        422,
        "validation_failed",
    )
    .await;
    w.refused(
        w.req(&w.coordinator, Method::POST, &path).json(&indicator(
            "committee_female_share",
            "sum(staff_female) / sum(staff_total)",
        )),
        409,
        "indicator_code_taken",
    )
    .await;
    let problem = w
        .refused(
            w.req(
                &w.coordinator,
                Method::PATCH,
                &format!("/api/v1/indicators/{}", created["id"].as_str().unwrap()),
            )
            .json(&json!({ "formula": "sum(no_such_field) / sum(staff_total)" })),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(
        issues(&problem["errors"]),
        vec![issue("body.formula", "unknown_field", None)]
    );
    w.refused(
        w.req(&w.reporter_a, Method::POST, &path)
            .json(&indicator("mine", "sum(staff_female) / sum(staff_total)")),
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_form_version_cannot_drop_fields_that_indicators_use() {
    let w = World::new().await;
    let path = format!("/api/v1/plans/{}/form", w.plan_id);
    let form_with = |fields: &[&str]| {
        json!({ "sections": [{
            "code": "A",
            "title_vi": "Nhân sự",
            "title_en": "Staff",
            "fields": fields.iter().map(|code| json!({
                "code": code, "label_vi": code, "label_en": code, "type": "integer"
            })).collect::<Vec<_>>(),
        }] })
    };
    // Only leaders_female is kept: the training share loses all four of its fields.
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::PUT, &path)
                .json(&form_with(&["leaders_female", "staff_total"])),
            409,
            "indicator_fields_missing",
        )
        .await;
    let broken = problem["indicators"].as_array().unwrap();
    assert_eq!(broken.len(), 1, "{problem}");
    assert_eq!(broken[0]["indicator"], "trained_female_share");
    assert!(
        broken[0]["problem"]
            .as_str()
            .unwrap()
            .contains("trained_political_female"),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("trained_female_share")
    );
    // Nothing was saved.
    let current = json_of(w.get(&w.viewer, &path).await, 200).await;
    assert_eq!(current["version"], 1);

    // A field that changes type away from a number breaks the other indicator too.
    let mut form = form_with(&[
        "leaders_female",
        "trained_political_total",
        "trained_political_female",
        "trained_professional_total",
        "trained_professional_female",
    ]);
    form["sections"][0]["fields"][0]["type"] = json!("text");
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::PUT, &path).json(&form),
            409,
            "indicator_fields_missing",
        )
        .await;
    assert_eq!(problem["indicators"][0]["indicator"], "leaders_with_woman");
    // With every field the indicators use, the version is saved.
    form["sections"][0]["fields"][0]["type"] = json!("integer");
    let res = w
        .req(&w.coordinator, Method::PUT, &path)
        .json(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 201).await["version"], 2);
}

#[tokio::test]
async fn period_codes_are_unique_within_a_plan_and_findable() {
    let w = World::new().await;
    let s1 = w
        .create_period(
            "2024S1",
            "2024-01-01".parse().unwrap(),
            "2024-06-30".parse().unwrap(),
            "2024-05-20".parse().unwrap(),
        )
        .await;
    let periods_path = format!("/api/v1/plans/{}/periods", w.plan_id);
    let again = json!({
        "kind": "semi_annual",
        "code": "2024S1",
        "window_start": "2024-01-01",
        "window_end": "2024-06-30",
        "due_date": "2024-05-20",
    });
    w.refused(
        w.req(&w.coordinator, Method::POST, &periods_path)
            .json(&again),
        409,
        "period_code_taken",
    )
    .await;
    // Bad codes and windows are named.
    for (field, value, path) in [
        ("code", json!("2024 S1"), "body.code"),
        ("window_end", json!("2023-12-31"), "body.window_end"),
        ("due_date", json!("2023-12-20"), "body.window_end"),
    ] {
        let mut body = again.clone();
        body[field] = value;
        body["code"] = if field == "code" {
            body["code"].clone()
        } else {
            json!("2024S1B")
        };
        let problem = w
            .refused(
                w.req(&w.coordinator, Method::POST, &periods_path)
                    .json(&body),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(problem["errors"][0]["path"], path, "{field}");
    }

    // Another plan may use the same code.
    let res = w
        .req(&w.admin, Method::POST, "/api/v1/plans")
        .json(&json!({
            "year": 2024,
            "document_number": "99/KH-SVHTT",
            "title": "Kế hoạch khác",
            "issuing_unit": "OFFICE-A",
        }))
        .send()
        .await
        .unwrap();
    let other_plan = json_of(res, 201).await;
    assert_eq!(other_plan["form_version"], Value::Null);
    let other_id = other_plan["id"].as_str().unwrap();
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/plans/{other_id}/periods"),
        )
        .json(&again)
        .send()
        .await
        .unwrap();
    let other_s1 = json_of(res, 201).await;

    let found = json_of(
        w.get(&w.reporter_b, "/api/v1/periods?code=2024S1").await,
        200,
    )
    .await;
    // Reporter B sees the department's plan, not office A's.
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["id"], s1.id.to_string());
    assert_eq!(found["items"][0]["due_date"], "2024-05-20");
    assert_eq!(found["items"][0]["due_at"], "2024-05-20T17:00:00Z");
    // The coordinator sees both: the code alone no longer says which period, and the
    // answer says so rather than let a script take the first.
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::GET, "/api/v1/periods?code=2024S1"),
            409,
            "ambiguous_period_code",
        )
        .await;
    let ids: Vec<&str> = problem["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["period_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{problem}");
    assert!(ids.contains(&s1.id.to_string().as_str()));
    assert!(ids.contains(&other_s1["id"].as_str().unwrap()));
    let found = json_of(
        w.get(
            &w.coordinator,
            &format!("/api/v1/periods?code=2024S1&plan={}", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["total"], 1);
    let found = json_of(
        w.get(&w.coordinator, "/api/v1/periods?code=2024s1").await,
        200,
    )
    .await;
    assert_eq!(found["total"], 0, "codes are exact");
    // A plan filter naming a plan the caller cannot see (office A's, for office B's
    // reporter) or no plan at all is a 404, as it is for other filters naming objects.
    for plan in [other_id.to_string(), uuid::Uuid::new_v4().to_string()] {
        w.refused(
            w.req(
                &w.reporter_b,
                Method::GET,
                &format!("/api/v1/periods?plan={plan}"),
            ),
            404,
            "not_found",
        )
        .await;
    }

    // Office A reports for it; its due date is long past, so the submission is late.
    let (report, _) = w.submitted(&w.reporter_a, &s1, &w.a.code).await;
    assert_eq!(report["period_code"], "2024S1");
    assert_eq!(report["late"], true);
}

/// A draft made under form version 1 moves to version 2: what version 2 still asks for
/// is kept, what it dropped is listed (and kept in the audit log), and the fields it
/// added can then be filled in.
#[tokio::test]
async fn a_draft_moves_to_the_current_form_version_and_says_what_it_dropped() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let data = complete_report(p.window_start);
    let (report, etag) = w.draft(&w.reporter_a, p, unit, &data).await;
    assert_eq!(report["form_version"], 1);
    let inspections = data["values"]["committee_inspections"].clone();
    assert!(!inspections.is_null());

    // Version 2 drops `committee_inspections` and adds `committee_trainings`.
    let mut form = default_form();
    let fields = form["sections"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| {
            s["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["code"] == "committee_inspections"))
        })
        .unwrap()["fields"]
        .as_array_mut()
        .unwrap();
    let mut added = fields
        .iter()
        .find(|f| f["code"] == "committee_inspections")
        .unwrap()
        .clone();
    fields.retain(|f| f["code"] != "committee_inspections");
    added["code"] = json!("committee_trainings");
    fields.push(added);
    let saved = json_of(
        w.req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/plans/{}/form", w.plan_id),
        )
        .json(&form)
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(saved["version"], 2);

    // The draft still speaks version 1: the new field is unknown to it.
    let path = format!("/api/v1/periods/{}/reports/{unit}/upgrade-form", p.id);
    let with_new = with_value(data.clone(), "committee_trainings", json!(1));
    w.refused(
        w.put_report(&w.reporter_a, p, unit, &with_new, Some(&etag)),
        422,
        "validation_failed",
    )
    .await;
    // Moving it needs the ETag of the last read.
    w.refused(
        w.req(&w.reporter_a, Method::POST, &path),
        428,
        "if_match_required",
    )
    .await;
    let res = w
        .req(&w.reporter_a, Method::POST, &path)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    let new_etag = res.headers()["etag"].to_str().unwrap().to_string();
    let moved = json_of(res, 200).await;
    assert_eq!(moved["from_version"], 1);
    assert_eq!(moved["to_version"], 2);
    assert_eq!(
        moved["dropped"],
        json!([{"path": "values.committee_inspections", "value": inspections}])
    );
    assert_eq!(moved["report"]["form_version"], 2);
    assert!(
        moved["report"]["data"]["values"]
            .get("committee_inspections")
            .is_none()
    );
    assert_eq!(
        moved["report"]["data"]["values"]["staff_total"],
        data["values"]["staff_total"]
    );
    // The audit log keeps the dropped value.
    let audit = json_of(
        w.get(
            &w.admin,
            &format!("/api/v1/audit?object_id={}", report["id"].as_str().unwrap()),
        )
        .await,
        200,
    )
    .await;
    let event = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "report.upgrade_form")
        .unwrap_or_else(|| panic!("no upgrade event: {audit}"));
    assert_eq!(
        event["change"]["dropped"][0]["value"], inspections,
        "{event}"
    );

    // Now the new field is the draft's, and moving again changes nothing.
    let without_old = crate::fixtures::without_value(with_new, "committee_inspections");
    let (_, etag) = w
        .save(&w.reporter_a, p, unit, &without_old, &new_etag)
        .await;
    let again = json_of(
        w.req(&w.reporter_a, Method::POST, &path)
            .header("if-match", &etag)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(again["dropped"], json!([]));
    assert_eq!(again["report"]["data"]["values"]["committee_trainings"], 1);

    // A submitted report is frozen: it stays on the version it was submitted with.
    let (_, etag) = w.read(&w.reporter_a, p, unit).await;
    let submitted = w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None);
    let (_, etag) = crate::fixtures::report_of(submitted.send().await.unwrap(), 200).await;
    w.refused(
        w.req(&w.reporter_a, Method::POST, &path)
            .header("if-match", &etag),
        409,
        "not_editable",
    )
    .await;
}
