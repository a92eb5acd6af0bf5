//! Every rule of the default form, through the API: sex pairs and error rules block
//! submission with a 422 naming the field; warning rules let it through and come back
//! in the report; required fields block submission; wrong types are refused already
//! when the draft is saved. Nothing refused leaves a trace in the database.

use serde_json::{Value, json};

use crate::fixtures::{
    World, complete_report, days, issue, issues, with_activity, with_value, without_activity,
    without_value,
};

/// Submitting `data` as the reporter of office A must fail with exactly `expected`.
async fn submit_fails(
    w: &World,
    etag: &mut String,
    data: Value,
    expected: Vec<(String, String, Option<String>)>,
) {
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, tag) = w.save(&w.reporter_a, p, unit, &data, etag).await;
    *etag = tag;
    let problem = w
        .refused(
            w.act(&w.reporter_a, p, unit, "submit", Some(etag), None),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(issues(&problem["errors"]), expected, "{problem}");
    // The dry run agrees with the refusal.
    let res = w
        .act(&w.reporter_a, p, unit, "validate", None, None)
        .send()
        .await
        .unwrap();
    let result = crate::fixtures::json_of(res, 200).await;
    assert_eq!(result["valid"], false);
    assert_eq!(issues(&result["errors"]), expected);
}

#[tokio::test]
async fn a_female_count_above_its_total_blocks_submission() {
    let w = World::new().await;
    let p = &w.open;
    let good = complete_report(p.window_start);
    let (_, mut etag) = w.draft(&w.reporter_a, p, &w.a.code, &good).await;
    for pair in [
        "staff",
        "leaders",
        "planning_pool",
        "appointed",
        "trained_political",
        "trained_professional",
        "committee_members",
    ] {
        let total = good["values"][format!("{pair}_total")].as_i64().unwrap();
        let female = format!("{pair}_female");
        let data = with_value(good.clone(), &female, json!(total + 1));
        submit_fails(
            &w,
            &mut etag,
            data,
            vec![issue(
                &format!("values.{female}"),
                "rule_failed",
                Some(pair),
            )],
        )
        .await;
    }
    let data = with_activity(good.clone(), "participants_female", json!(81));
    submit_fails(
        &w,
        &mut etag,
        data,
        vec![issue(
            "lists.activities[0].participants_female",
            "rule_failed",
            Some("participants"),
        )],
    )
    .await;
    // Equal counts are fine: an all-women committee.
    let data = with_value(good.clone(), "committee_members_female", json!(5));
    let (_, etag) = w.save(&w.reporter_a, p, &w.a.code, &data, &etag).await;
    let (report, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["revision"], 1);
}

#[tokio::test]
async fn cross_field_error_rules_block_submission() {
    let w = World::new().await;
    let p = &w.open;
    let good = complete_report(p.window_start);
    let (_, mut etag) = w.draft(&w.reporter_a, p, &w.a.code, &good).await;
    // staff_total is 48, staff_female 27.
    let cases = [
        (
            with_value(good.clone(), "leaders_total", json!(49)),
            issue(
                "values.leaders_total",
                "rule_failed",
                Some("leaders_within_staff"),
            ),
        ),
        (
            with_value(
                with_value(good.clone(), "staff_female", json!(1)),
                "leaders_female",
                json!(2),
            ),
            issue(
                "values.leaders_female",
                "rule_failed",
                Some("leaders_female_within_staff_female"),
            ),
        ),
        (
            with_value(
                with_value(good.clone(), "planning_pool_total", json!(60)),
                "planning_pool_female",
                json!(4),
            ),
            issue(
                "values.planning_pool_total",
                "rule_failed",
                Some("planning_pool_within_staff"),
            ),
        ),
    ];
    for (data, expected) in cases {
        submit_fails(&w, &mut etag, data, vec![expected]).await;
    }
    // Leaders may equal the staff (a two-person office with two leaders).
    let small = with_value(
        with_value(good.clone(), "staff_total", json!(4)),
        "staff_female",
        json!(2),
    );
    let small = with_value(
        with_value(small, "planning_pool_total", json!(3)),
        "planning_pool_female",
        json!(1),
    );
    let small = with_value(
        with_value(small, "trained_political_total", json!(2)),
        "trained_political_female",
        json!(1),
    );
    let small = with_value(
        with_value(small, "trained_professional_total", json!(4)),
        "trained_professional_female",
        json!(2),
    );
    let (_, etag) = w.save(&w.reporter_a, p, &w.a.code, &small, &etag).await;
    let (report, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["warnings"], json!([]));
}

#[tokio::test]
async fn warning_rules_let_the_submission_through_and_are_reported() {
    let w = World::new().await;
    let p = &w.open;
    let unit = w.a.code.as_str();
    let good = complete_report(p.window_start);
    let before_window = (p.window_start - days(1)).to_string();
    let after_window = (p.window_end + days(1)).to_string();
    let cases = [
        (
            with_value(good.clone(), "trained_political_total", json!(50)),
            "values.trained_political_total",
            "trained_political_within_staff",
        ),
        (
            with_value(good.clone(), "trained_professional_total", json!(60)),
            "values.trained_professional_total",
            "trained_professional_within_staff",
        ),
        (
            with_value(good.clone(), "budget_spent_vnd", json!(40_000_001)),
            "values.budget_spent_vnd",
            "budget_spent_within_allocated",
        ),
        (
            with_activity(good.clone(), "date", json!(before_window)),
            "lists.activities[0].date",
            "activity_date_from",
        ),
        (
            with_activity(good.clone(), "date", json!(after_window)),
            "lists.activities[0].date",
            "activity_date_to",
        ),
    ];
    let (_, mut etag) = w.draft(&w.reporter_a, p, unit, &good).await;
    for (n, (data, path, rule)) in cases.into_iter().enumerate() {
        let (_, tag) = w.save(&w.reporter_a, p, unit, &data, &etag).await;
        let (report, tag) = w
            .transition(&w.reporter_a, p, unit, "submit", &tag, None)
            .await;
        let expected = vec![issue(path, "rule_failed", Some(rule))];
        assert_eq!(report["status"], "submitted", "{rule}");
        assert_eq!(report["revision"], n as i64 + 1);
        assert_eq!(issues(&report["warnings"]), expected, "{rule}");
        let warning = &report["warnings"][0];
        assert!(warning["message"].as_str().unwrap().len() > 10);
        assert!(warning["message_vi"].as_str().unwrap().len() > 10);
        // The warnings are frozen with the revision and shown on later reads.
        let (read, _) = w.read(&w.coordinator, p, unit).await;
        assert_eq!(issues(&read["warnings"]), expected);
        let rev = crate::fixtures::json_of(
            w.get(
                &w.coordinator,
                &format!(
                    "{}/revisions/{}",
                    crate::fixtures::report_path(p.id, unit),
                    n + 1
                ),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(issues(&rev["warnings"]), expected);
        let (_, tag) = w
            .transition(
                &w.coordinator,
                p,
                unit,
                "return",
                &tag,
                Some(json!({ "reason": "Kiểm tra lại" })),
            )
            .await;
        etag = tag;
    }
}

#[tokio::test]
async fn required_fields_are_needed_to_submit_but_not_to_save() {
    let w = World::new().await;
    let p = &w.open;
    let good = complete_report(p.window_start);
    let (_, mut etag) = w.draft(&w.reporter_a, p, &w.a.code, &json!({})).await;
    let cases = [
        (
            without_value(good.clone(), "narrative_results"),
            vec![issue("values.narrative_results", "required", None)],
        ),
        (
            with_value(good.clone(), "narrative_results", json!("   ")),
            vec![issue("values.narrative_results", "required", None)],
        ),
        (
            with_value(good.clone(), "staff_total", Value::Null),
            vec![issue("values.staff_total", "required", None)],
        ),
        (
            without_value(good.clone(), "committee_in_place"),
            vec![issue("values.committee_in_place", "required", None)],
        ),
        (
            without_activity(good.clone(), "title"),
            vec![issue("lists.activities[0].title", "required", None)],
        ),
        (
            without_value(
                without_value(good.clone(), "budget_allocated_vnd"),
                "budget_spent_vnd",
            ),
            vec![
                issue("values.budget_allocated_vnd", "required", None),
                issue("values.budget_spent_vnd", "required", None),
            ],
        ),
    ];
    for (data, expected) in cases {
        submit_fails(&w, &mut etag, data, expected).await;
    }
    // Optional fields may stay empty; zero and `false` are answers, not blanks.
    let mut data = without_value(
        without_value(good.clone(), "narrative_difficulties"),
        "culture_integration_description",
    );
    for key in [
        "committee_members_total",
        "committee_members_female",
        "committee_meetings",
        "committee_inspections",
    ] {
        data = without_value(data, key);
    }
    let data = with_value(data, "committee_in_place", json!(false));
    let data = with_value(data, "appointed_total", json!(0));
    let data = with_value(data, "appointed_female", json!(0));
    let data = with_value(data, "budget_allocated_vnd", json!(0));
    let data = with_value(data, "budget_spent_vnd", json!(0));
    let data = without_activity(data, "cost_vnd");
    let (_, etag) = w.save(&w.reporter_a, p, &w.a.code, &data, &etag).await;
    let (report, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["data"], data);
    assert_eq!(report["warnings"], json!([]));
}

#[tokio::test]
async fn wrong_types_are_refused_on_save_and_nothing_is_written() {
    let w = World::new().await;
    let p = &w.open;
    let unit = w.a.code.as_str();
    let good = complete_report(p.window_start);
    let cases = [
        (
            with_value(good.clone(), "staff_total", json!("48")),
            issue("values.staff_total", "wrong_type", None),
        ),
        (
            with_value(good.clone(), "staff_total", json!(3.5)),
            issue("values.staff_total", "wrong_type", None),
        ),
        (
            with_value(good.clone(), "committee_in_place", json!("yes")),
            issue("values.committee_in_place", "wrong_type", None),
        ),
        (
            with_value(good.clone(), "budget_spent_vnd", json!(-1)),
            issue("values.budget_spent_vnd", "out_of_range", None),
        ),
        (
            with_activity(good.clone(), "date", json!("2024-02-30")),
            issue("lists.activities[0].date", "invalid_date", None),
        ),
        (
            with_activity(good.clone(), "date", json!("08/03/2024")),
            issue("lists.activities[0].date", "invalid_date", None),
        ),
        (
            with_activity(good.clone(), "type", json!("party")),
            issue("lists.activities[0].type", "unknown_option", None),
        ),
        (
            with_activity(
                good.clone(),
                "topics",
                json!(["law_gender_equality", "fashion"]),
            ),
            issue("lists.activities[0].topics[1]", "unknown_option", None),
        ),
        (
            with_value(good.clone(), "favourite_colour", json!("tím")),
            issue("values.favourite_colour", "unknown_field", None),
        ),
        // PostgreSQL cannot store U+0000; it must be a 422, not a 500 from the database.
        (
            with_value(good.clone(), "narrative_results", json!("kết quả\u{0}")),
            issue("values.narrative_results", "invalid_character", None),
        ),
        (
            with_activity(good.clone(), "title", json!("\u{0}")),
            issue("lists.activities[0].title", "invalid_character", None),
        ),
    ];
    // Refused when the draft is created: no report appears.
    for (data, expected) in &cases {
        let problem = w
            .refused(
                w.put_report(&w.reporter_a, p, unit, data, None),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(issues(&problem["errors"]), vec![expected.clone()]);
    }
    // Refused when an existing draft is saved: it keeps its data and version.
    let (_, etag) = w.draft(&w.reporter_a, p, unit, &good).await;
    for (data, expected) in &cases {
        let problem = w
            .refused(
                w.put_report(&w.reporter_a, p, unit, data, Some(&etag)),
                422,
                "validation_failed",
            )
            .await;
        assert_eq!(issues(&problem["errors"]), vec![expected.clone()]);
    }
    let (report, tag) = w.read(&w.reporter_a, p, unit).await;
    assert_eq!(tag, etag);
    assert_eq!(report["data"], good);
    // A body that is not report data at all names the offending member.
    let problem = w
        .refused(
            w.put_report(
                &w.reporter_a,
                p,
                unit,
                &json!({ "values": {}, "notes": "x" }),
                Some(&etag),
            ),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.notes");
}

/// Form logic of the default form: the Committee's members are required only while a
/// Committee is in place (`required_when`).
#[tokio::test]
async fn committee_members_are_required_only_when_a_committee_is_in_place() {
    let w = World::new().await;
    let p = &w.open;
    let good = complete_report(p.window_start);
    let (_, mut etag) = w.draft(&w.reporter_a, p, &w.a.code, &good).await;
    let without_members = without_value(
        without_value(good.clone(), "committee_members_total"),
        "committee_members_female",
    );
    submit_fails(
        &w,
        &mut etag,
        without_members.clone(),
        vec![
            issue("values.committee_members_total", "required", None),
            issue("values.committee_members_female", "required", None),
        ],
    )
    .await;
    // The message says why: the condition, in both languages.
    let res = w
        .act(&w.reporter_a, p, &w.a.code, "validate", None, None)
        .send()
        .await
        .unwrap();
    let result = crate::fixtures::json_of(res, 200).await;
    let first = &result["errors"][0];
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("is required when \"The unit has a Committee for the Advancement of Women in place\" is answered yes"),
        "{first}"
    );
    assert!(
        first["message_vi"]
            .as_str()
            .unwrap()
            .ends_with("là bắt buộc khi \"Đơn vị đã thành lập, kiện toàn Ban Vì sự tiến bộ của phụ nữ\" chọn Có"),
        "{first}"
    );

    // No Committee: the members may stay empty.
    let no_committee = with_value(without_members, "committee_in_place", json!(false));
    let (_, etag) = w
        .save(&w.reporter_a, p, &w.a.code, &no_committee, &etag)
        .await;
    let (report, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "submitted");
}

/// A computed field (`trained_total`) is derived on every save from its parts, replaces
/// what a client sent, and is left out while a part is missing; the dry run derives it
/// too.
#[tokio::test]
async fn computed_totals_are_derived_on_save() {
    let w = World::new().await;
    let p = &w.open;
    let sent = with_value(complete_report(p.window_start), "trained_total", json!(999));
    let (report, etag) = w.draft(&w.reporter_a, p, &w.a.code, &sent).await;
    assert_eq!(report["data"]["values"]["trained_total"], 18, "6 + 12");
    let (stored, _) = w.read(&w.viewer, p, &w.a.code).await;
    assert_eq!(stored["data"]["values"]["trained_total"], 18);

    let partial = without_value(sent.clone(), "trained_professional_total");
    let (report, etag) = w.save(&w.reporter_a, p, &w.a.code, &partial, &etag).await;
    assert!(
        report["data"]["values"].get("trained_total").is_none(),
        "no partial total: {}",
        report["data"]["values"]
    );

    let res = w
        .act(
            &w.reporter_a,
            p,
            &w.a.code,
            "validate",
            None,
            Some(with_value(
                sent.clone(),
                "trained_professional_total",
                json!(20),
            )),
        )
        .send()
        .await
        .unwrap();
    let result = crate::fixtures::json_of(res, 200).await;
    assert_eq!(result["valid"], true, "{result}");

    // The derived total is what the compilation sums.
    let (_, etag) = w.save(&w.reporter_a, p, &w.a.code, &sent, &etag).await;
    w.transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    let res = w
        .get(
            &w.coordinator,
            &format!(
                "/api/v1/periods/{}/compilation?include=submitted&parts=totals",
                p.id
            ),
        )
        .await;
    let c = crate::fixtures::json_of(res, 200).await;
    let total = c["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["field"] == "trained_total")
        .unwrap_or_else(|| panic!("no trained_total in {c}"));
    assert_eq!(total["sum"], 18.0, "{total}");
}

/// A value that moves by more than the form's `max_change` from the unit's report of
/// the previous period warns on submission, and does not block it.
#[tokio::test]
async fn a_count_far_from_the_previous_period_warns() {
    let w = World::new().await;
    let before = complete_report(w.past.window_start);
    let (_, etag) = w.draft(&w.reporter_a, &w.past, &w.a.code, &before).await;
    w.transition(&w.reporter_a, &w.past, &w.a.code, "submit", &etag, None)
        .await;

    let p = &w.open;
    // 48 staff before, 100 now: +108 %, over the form's 50 %.
    let now = with_value(
        with_value(complete_report(p.window_start), "staff_total", json!(100)),
        "staff_female",
        json!(27),
    );
    let (_, etag) = w.draft(&w.reporter_a, p, &w.a.code, &now).await;
    let (report, _) = w
        .transition(&w.reporter_a, p, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["status"], "submitted");
    let warned: Vec<&Value> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "unusual_change")
        .collect();
    assert_eq!(warned.len(), 1, "{}", report["warnings"]);
    assert_eq!(warned[0]["path"], "values.staff_total");
    let message = warned[0]["message"].as_str().unwrap();
    assert!(
        message.contains("PAST") && message.contains("+108 %"),
        "{message}"
    );

    // Within the threshold (48 → 60, +25 %): no such warning.
    let res = w
        .act(&w.reporter_a, &w.past, &w.a.code, "validate", None, None)
        .send()
        .await
        .unwrap();
    let first = crate::fixtures::json_of(res, 200).await;
    assert!(
        !first["warnings"].to_string().contains("unusual_change"),
        "the first period has nothing to compare with: {first}"
    );
    let res = w
        .act(
            &w.reporter_b,
            p,
            &w.b.code,
            "validate",
            None,
            Some(with_value(
                complete_report(p.window_start),
                "staff_total",
                json!(60),
            )),
        )
        .send()
        .await
        .unwrap();
    let b = crate::fixtures::json_of(res, 200).await;
    assert!(!b["warnings"].to_string().contains("unusual_change"), "{b}");
}
