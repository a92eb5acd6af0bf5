//! Indicators over yes/no, choice and multi-choice answers and over list items, and
//! targets by year: saved over HTTP (each formula checked against the form, with its
//! misfits told in English and Vietnamese), compiled from real reports, judged
//! against the plan's own target and the period's year's, shown in the exports and
//! carried to the next year's plan.

use chrono::Datelike;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{World, complete_report, json_of};

const COMMITTEE: &str = "count(committee_in_place) / count()";
const LAW_TOPIC: &str =
    "count(activities where topics has \"law_gender_equality\") / count(activities)";
const TRAINING_WOMEN: &str = "sum(activities.participants_female where type == \"training_course\") / sum(activities.participants_total where type == \"training_course\")";
const NQ28: &str = "Nghị quyết 28/NQ-CP";

fn indicator(code: &str, formula: &str, target: f64, targets: Value) -> Value {
    json!({
        "code": code,
        "name_vi": format!("Chỉ tiêu {code}"),
        "name_en": format!("Indicator {code}"),
        "formula": formula,
        "target": target,
        "direction": "at_least",
        "source": "Kế hoạch của Sở",
        "targets": targets,
    })
}

async fn create(w: &World, body: &Value, status: u16) -> Value {
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/plans/{}/indicators", w.plan_id),
        )
        .header("accept-language", "vi")
        .json(body)
        .send()
        .await
        .unwrap();
    json_of(res, status).await
}

fn activity(kind: &str, total: i64, female: i64, topics: &[&str]) -> Value {
    json!({
        "type": kind, "title": "Hoạt động", "participants_total": total,
        "participants_female": female, "topics": topics, "cost_vnd": 0
    })
}

/// Submits `unit`'s report with the given committee answer and activities.
async fn submit(
    w: &World,
    reporter: &crate::fixtures::Caller,
    unit: &str,
    committee: bool,
    activities: Value,
) {
    let mut data = complete_report(w.open.window_start);
    data["values"]["committee_in_place"] = json!(committee);
    for a in activities.as_array().unwrap().clone() {
        let mut a = a;
        a["date"] = json!(w.open.window_start.format("%Y-%m-%d").to_string());
        data["lists"]["activities"].as_array_mut().unwrap().push(a);
    }
    data["lists"]["activities"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    let (_, etag) = w.draft(reporter, &w.open, unit, &data).await;
    w.transition(reporter, &w.open, unit, "submit", &etag, None)
        .await;
}

fn find<'a>(list: &'a Value, code: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {list}"))
}

#[tokio::test]
async fn yes_no_choice_and_list_indicators_compile_against_the_years_targets() {
    let w = World::new().await;
    let year = w.open.window_end.year();
    let made = create(
        &w,
        &indicator(
            "committee",
            "count( committee_in_place == true )/count()",
            1.0,
            json!([
                {"year": year + 5, "value": 0.75, "source": NQ28},
                {"year": year, "value": 0.5, "source": format!("  {NQ28} ")},
            ]),
        ),
        201,
    )
    .await;
    // Stored canonically, the targets tidied and in year order.
    assert_eq!(made["formula"], COMMITTEE);
    assert_eq!(
        made["targets"],
        json!([
            {"year": year, "value": 0.5, "source": NQ28},
            {"year": year + 5, "value": 0.75, "source": NQ28},
        ])
    );
    create(&w, &indicator("law_topic", LAW_TOPIC, 0.5, json!([])), 201).await;
    let training = create(
        &w,
        &indicator("training_women", TRAINING_WOMEN, 0.5, json!([])),
        201,
    )
    .await;
    assert_eq!(training["formula"], TRAINING_WOMEN);
    assert_eq!(training["targets"], json!([]));

    submit(
        &w,
        &w.reporter_a,
        "OFFICE-A",
        true,
        json!([
            activity(
                "conference",
                80,
                52,
                &["law_gender_equality", "directive_21_ct_tw"]
            ),
            activity("training_course", 20, 15, &["other"]),
        ]),
    )
    .await;
    submit(
        &w,
        &w.reporter_b,
        "OFFICE-B",
        false,
        json!([activity("training_course", 30, 9, &["law_gender_equality"])]),
    )
    .await;

    let base = format!(
        "/api/v1/periods/{}/compilation?include=submitted",
        w.open.id
    );
    let c = json_of(
        w.get(&w.coordinator, &format!("{base}&detail=units")).await,
        200,
    )
    .await;
    let inds = &c["indicators"];

    let committee = find(inds, "committee");
    assert_eq!(committee["value"], 0.5);
    assert_eq!(
        (
            committee["numerator"].as_f64(),
            committee["denominator"].as_f64()
        ),
        (Some(1.0), Some(2.0))
    );
    // `target` and `met` stay the plan's own; `targets` adds this year's, not 2030's.
    assert_eq!(committee["target"], 1.0);
    assert_eq!(committee["met"], false);
    assert_eq!(
        committee["targets"],
        json!([
            {"year": null, "target": 1.0, "source": "Kế hoạch của Sở", "met": false},
            {"year": year, "target": 0.5, "source": NQ28, "met": true},
        ])
    );
    let short: Vec<&str> = committee["units_short"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(short, ["OFFICE-B"]);

    // Two of the three activities have the law topic.
    let law = find(inds, "law_topic");
    assert_eq!(
        (law["numerator"].as_f64(), law["denominator"].as_f64()),
        (Some(2.0), Some(3.0))
    );
    assert_eq!(law["met"], true);
    assert_eq!(law["units_short"], json!([]));
    // Women among training-course participants: 15 + 9 of 20 + 30.
    let tw = find(inds, "training_women");
    assert_eq!(
        (tw["numerator"].as_f64(), tw["denominator"].as_f64()),
        (Some(24.0), Some(50.0))
    );
    assert_eq!(tw["value"], 0.48);
    assert_eq!(tw["met"], false);
    assert_eq!(tw["targets"].as_array().unwrap().len(), 1);

    // Each unit over its own report.
    let units = c["units"].as_array().unwrap();
    let (a, b) = (&units[0]["indicators"], &units[1]["indicators"]);
    assert_eq!(
        (a["committee"].as_f64(), b["committee"].as_f64()),
        (Some(1.0), Some(0.0))
    );
    assert_eq!(
        (a["law_topic"].as_f64(), b["law_topic"].as_f64()),
        (Some(0.5), Some(1.0))
    );
    assert_eq!(
        (a["training_women"].as_f64(), b["training_women"].as_f64()),
        (Some(0.75), Some(0.3))
    );

    // The exports show the year's target beside the plan's own.
    let csv = w
        .get(&w.coordinator, &format!("{base}&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Mục tiêu của năm"), "{csv}");
    assert!(
        csv.contains(&format!("năm {year}: ≥ 50% ({NQ28}) — Đạt")),
        "{csv}"
    );
    assert!(!csv.contains(&format!("năm {}", year + 5)), "{csv}");
    let docx = w
        .get(&w.coordinator, &format!("{base}&format=docx"))
        .await
        .bytes()
        .await
        .unwrap();
    let xml = crate::compile::docx_document(&docx);
    for needle in [
        format!("≥ 50% (năm {year})"),
        "Chưa đạt".to_string(),
        format!("Đạt (năm {year})"),
        format!("Mục tiêu của chỉ tiêu “Chỉ tiêu committee” năm {year}: ≥ 50% ({NQ28}) — Đạt."),
    ] {
        assert!(xml.contains(&needle), "{needle} not in the DOCX");
    }
    assert!(!xml.contains(&format!("năm {}", year + 5)));

    // The trend judges each point against its own year's targets.
    let trend = json_of(
        w.get(
            &w.coordinator,
            "/api/v1/indicators/trend?indicator=committee&include=submitted",
        )
        .await,
        200,
    )
    .await;
    let point = trend["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["period"]["code"] == w.open.code)
        .unwrap();
    assert_eq!(point["targets"], committee["targets"]);
}

#[tokio::test]
async fn formulas_and_targets_are_checked_when_saved() {
    let w = World::new().await;
    let errors = |p: &Value| -> (String, String, String) {
        let e = &p["errors"][0];
        (
            e["path"].as_str().unwrap().to_string(),
            e["code"].as_str().unwrap().to_string(),
            e["message_vi"].as_str().unwrap_or_default().to_string(),
        )
    };
    for (formula, code, vi) in [
        (
            "count(committee_in_place >= 1) / count()",
            "formula_type_mismatch",
            "là trường có/không",
        ),
        (
            "sum(committee_in_place) / sum(staff_total)",
            "formula_type_mismatch",
            "không cộng được",
        ),
        (
            "count(activities where topics has \"sport\") / count(activities)",
            "unknown_option",
            "không phải là mã lựa chọn",
        ),
        (
            "count(activities where type has \"conference\") / count(activities)",
            "formula_type_mismatch",
            "trường chọn một",
        ),
        (
            "count(events where x) / count(events)",
            "unknown_list",
            "không có danh sách",
        ),
        (
            "count(activities where staff_total >= 1) / count(activities)",
            "unknown_field",
            "danh sách `activities`",
        ),
        (
            "count(activities where x) / count(other)",
            "invalid_formula",
            "vị trí 34",
        ),
    ] {
        let p = create(&w, &indicator("bad", formula, 0.5, json!([])), 422).await;
        assert_eq!(p["code"], "validation_failed", "{p}");
        let (path, got, message_vi) = errors(&p);
        assert_eq!(
            (path.as_str(), got.as_str()),
            ("body.formula", code),
            "{formula}: {p}"
        );
        assert!(message_vi.contains(vi), "{formula}: {p}");
        // Asked in Vietnamese, the detail is Vietnamese too.
        assert!(p["detail"].as_str().unwrap().contains(vi), "{p}");
    }
    for (targets, path, code) in [
        (
            json!([{"year": 1999, "value": 0.5, "source": NQ28}]),
            "body.targets[0].year",
            "out_of_range",
        ),
        (
            json!([{"year": 2025, "value": 1.5, "source": NQ28}]),
            "body.targets[0].value",
            "out_of_range",
        ),
        (
            json!([{"year": 2025, "value": 0.5, "source": "  "}]),
            "body.targets[0].source",
            "invalid_length",
        ),
        (
            json!([
                {"year": 2025, "value": 0.5, "source": NQ28},
                {"year": 2025, "value": 0.6, "source": NQ28},
            ]),
            "body.targets[1].source",
            "duplicate_target",
        ),
    ] {
        let p = create(&w, &indicator("bad", COMMITTEE, 0.5, targets), 422).await;
        let (got_path, got, _) = errors(&p);
        assert_eq!((got_path.as_str(), got.as_str()), (path, code), "{p}");
    }
    assert_eq!(
        crate::fixtures::scalar(
            &w.app,
            "SELECT count(*) AS n FROM indicators WHERE code = 'bad'"
        )
        .await,
        0
    );

    // A change is checked the same way, and a refused one changes nothing.
    let made = create(&w, &indicator("committee", COMMITTEE, 1.0, json!([])), 201).await;
    let path = format!("/api/v1/indicators/{}", made["id"].as_str().unwrap());
    let patch = |body: Value| {
        w.req(&w.coordinator, Method::PATCH, &path)
            .json(&body)
            .send()
    };
    let p = json_of(
        patch(json!({"formula": "count(committee_in_place == \"yes\") / count()", "target": 0.9}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(errors(&p).1, "formula_type_mismatch");
    let now = json_of(w.get(&w.coordinator, &path).await, 200).await;
    assert_eq!(
        (now["formula"].as_str(), now["target"].as_f64()),
        (Some(COMMITTEE), Some(1.0))
    );
    // `targets` replaces the year targets; leaving it out keeps them.
    let changed = json_of(
        patch(json!({"targets": [{"year": 2030, "value": 0.75, "source": NQ28}]}))
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(changed["targets"][0]["year"], 2030);
    let changed = json_of(patch(json!({"target": 0.9})).await.unwrap(), 200).await;
    assert_eq!(changed["targets"].as_array().unwrap().len(), 1);

    // A form version in which the yes/no field became a number (and the form's own
    // conditions on it went) breaks the indicator: refused, and told in both languages.
    let mut form =
        serde_json::to_value(gereport::plans::form::default_form_2024().unwrap()).unwrap();
    for section in form["sections"].as_array_mut().unwrap() {
        for field in section["fields"].as_array_mut().unwrap() {
            if field["code"] == "committee_in_place" {
                field["type"] = json!("integer");
            }
            field.as_object_mut().unwrap().remove("required_when");
        }
    }
    let form_path = format!("/api/v1/plans/{}/form", w.plan_id);
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::PUT, &form_path).json(&form),
            409,
            "indicator_fields_missing",
        )
        .await;
    let broken = &problem["indicators"][0];
    assert_eq!(broken["indicator"], "committee");
    assert_eq!(broken["code"], "formula_type_mismatch");
    assert!(
        broken["problem_vi"].as_str().unwrap().contains("trường số"),
        "{problem}"
    );

    // The next year's plan gets the indicators with their year targets.
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/plans/{}/copy", w.plan_id),
        )
        .json(&json!({"year": w.open.window_end.year() + 1, "document_number": "13/KH-SVHTT"}))
        .send()
        .await
        .unwrap();
    let copy = json_of(res, 201).await;
    let copied = json_of(
        w.get(
            &w.coordinator,
            &format!(
                "/api/v1/plans/{}/indicators",
                copy["plan"]["id"].as_str().unwrap()
            ),
        )
        .await,
        200,
    )
    .await;
    let c = find(&copied["items"], "committee");
    assert_eq!(c["formula"], COMMITTEE);
    assert_eq!(c["targets"], changed["targets"]);
}
