//! Next year without a developer: a plan's form versions listed and compared, and a
//! plan copied to a new year in one call.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{World, days, json_of, scalar, today_vn};

fn default_form() -> Value {
    serde_json::to_value(gereport::plans::form::default_form_2024().unwrap()).unwrap()
}

fn this_year() -> i32 {
    today_vn().format("%Y").to_string().parse().unwrap()
}

#[tokio::test]
async fn form_versions_are_listed_with_their_reports_and_compared() {
    let w = World::new().await;
    let p = &w.open;
    let data = crate::fixtures::complete_report(p.window_start);
    w.draft(&w.reporter_a, p, &w.a.code, &data).await;

    // Version 2: a field added to section G, a label changed, the committee's
    // inspections field dropped.
    let mut form = default_form();
    form["sections"][6]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "code": "narrative_good_practices", "label_vi": "Mô hình, cách làm hay",
            "label_en": "Good practices", "type": "text", "max_length": 4000
        }));
    form["sections"][0]["fields"][0]["label_en"] = json!("Staff at the end of the window");
    let changed = form["sections"][0]["fields"][0]["code"].clone();
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
    json_of(res, 201).await;

    // Everyone who reads the plan sees its versions, newest first.
    let list = json_of(
        w.get(&w.reporter_b, &format!("/api/v1/plans/{}/forms", w.plan_id))
            .await,
        200,
    )
    .await;
    assert_eq!(list["total"], 2, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["version"], 2);
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[0]["reports"], 0);
    assert_eq!(items[1]["version"], 1);
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[1]["reports"], 1, "the draft of unit A uses version 1");
    assert_eq!(items[0]["created_by"], items[1]["created_by"]);
    assert!(items[0]["created_by"].as_str().unwrap().len() > 1);

    let diff = json_of(
        w.get(
            &w.viewer,
            &format!("/api/v1/plans/{}/forms/diff?from=1&to=2", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        diff["added"],
        json!([{ "kind": "field", "code": "narrative_good_practices", "list": null, "members": [] }]),
        "{diff}"
    );
    assert_eq!(diff["removed"], json!([]));
    assert_eq!(
        diff["changed"],
        json!([{ "kind": "field", "code": changed, "list": null, "members": ["label_en"] }])
    );
    // Backwards, the new field is removed.
    let back = json_of(
        w.get(
            &w.viewer,
            &format!("/api/v1/plans/{}/forms/diff?from=2&to=1", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(back["removed"][0]["code"], "narrative_good_practices");

    // A version the plan does not have is a 404; a missing parameter a 400.
    w.refused(
        w.req(
            &w.viewer,
            Method::GET,
            &format!("/api/v1/plans/{}/forms/diff?from=1&to=7", w.plan_id),
        ),
        404,
        "not_found",
    )
    .await;
    let res = w
        .get(
            &w.viewer,
            &format!("/api/v1/plans/{}/forms/diff?from=1", w.plan_id),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_plan_is_copied_to_next_year_in_one_audited_call() {
    let w = World::new().await;
    let year = this_year();
    let today = today_vn();
    // A period named by its year, whose expected units the office narrowed, with a
    // reminder schedule.
    let s1 = w
        .create_period(
            &format!("{year}S1"),
            today - days(60),
            today - days(5),
            today + days(20),
        )
        .await;
    let res = w
        .req(
            &w.coordinator,
            Method::DELETE,
            &format!(
                "/api/v1/periods/{}/expected-units/{}?reason=Sáp nhập",
                s1.id, w.b.code
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = w
        .req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/reminders", s1.id),
        )
        .json(&json!({"offsets_days": [-7, 0], "repeat_every_days": 3, "enabled": true}))
        .send()
        .await
        .unwrap();
    json_of(res, 200).await;
    let plans_before = scalar(&w.app, "SELECT count(*) AS n FROM plans").await;

    let copy_path = format!("/api/v1/plans/{}/copy", w.plan_id);
    // Reporters and viewers cannot; the year copied from and a number in use are refused.
    w.refused(
        w.req(&w.reporter_a, Method::POST, &copy_path)
            .json(&json!({"year": year + 1, "document_number": "15/KH-SVHTT"})),
        403,
        "forbidden",
    )
    .await;
    let problem = w
        .refused(
            w.req(&w.coordinator, Method::POST, &copy_path)
                .json(&json!({"year": year, "document_number": "15/KH-SVHTT"})),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.year");
    assert_eq!(problem["errors"][0]["code"], "same_year");
    let res = w
        .req(&w.coordinator, Method::POST, &copy_path)
        .json(&json!({"year": year + 1}))
        .send()
        .await
        .unwrap();
    let copy = json_of(res, 201).await;
    // Numbers restart each year: the copy keeps "12/KH-SVHTT"; a second copy to the
    // same year finds the number taken and writes nothing.
    w.refused(
        w.req(&w.coordinator, Method::POST, &copy_path)
            .json(&json!({"year": year + 1})),
        409,
        "document_number_taken",
    )
    .await;
    assert_eq!(
        scalar(&w.app, "SELECT count(*) AS n FROM plans").await,
        plans_before + 1,
        "nothing is half-written"
    );
    let plan = &copy["plan"];
    let new_id = plan["id"].as_str().unwrap().to_string();
    assert_eq!(plan["year"], year + 1);
    assert_eq!(plan["status"], "draft");
    assert_eq!(plan["document_number"], "12/KH-SVHTT");
    assert_eq!(plan["title"], "Kế hoạch thực hiện công tác bình đẳng giới");
    assert_eq!(plan["issuing_unit_code"], "DEPT");
    assert_eq!(plan["form_version"], 1);
    assert_eq!(copy["copied_from"], w.plan_id.to_string());
    let count_of = |part: &str| {
        copy["copied"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["part"] == part)
            .map(|p| p["count"].as_i64().unwrap())
    };
    assert_eq!(count_of("form"), Some(1), "{copy}");
    assert_eq!(count_of("indicators"), Some(2));
    assert_eq!(count_of("periods"), Some(3));
    assert_eq!(count_of("expected_units"), Some(1));
    assert_eq!(count_of("reminder_schedules"), Some(1));
    assert_eq!(count_of("data_element_codes"), Some(0));

    // The form is the same definition; the indicators keep formula and target.
    let old_form = json_of(
        w.get(&w.viewer, &format!("/api/v1/plans/{}/form", w.plan_id))
            .await,
        200,
    )
    .await;
    let new_form = json_of(
        w.get(&w.viewer, &format!("/api/v1/plans/{new_id}/form"))
            .await,
        200,
    )
    .await;
    assert_eq!(old_form["definition"], new_form["definition"]);
    let indicators = json_of(
        w.get(&w.viewer, &format!("/api/v1/plans/{new_id}/indicators"))
            .await,
        200,
    )
    .await;
    let indicators = indicators["items"].as_array().unwrap();
    assert_eq!(indicators.len(), 2);
    assert_eq!(indicators[0]["code"], "leaders_with_woman");
    assert_eq!(indicators[0]["target"], 1.0);
    assert_eq!(indicators[0]["source"], "Kế hoạch của Sở");

    // Periods move one year: the code's year too, windows and due dates.
    let periods = json_of(
        w.get(&w.viewer, &format!("/api/v1/periods?plan={new_id}"))
            .await,
        200,
    )
    .await;
    let find = |code: &str| {
        periods["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no period {code} in {periods}"))
    };
    let new_s1 = find(&format!("{}S1", year + 1));
    let shifted = |d: chrono::NaiveDate| {
        d.checked_add_months(chrono::Months::new(12))
            .unwrap()
            .to_string()
    };
    assert_eq!(new_s1["window_start"], shifted(s1.window_start));
    assert_eq!(new_s1["window_end"], shifted(s1.window_end));
    assert_eq!(new_s1["due_date"], shifted(s1.due_date));
    assert_eq!(new_s1["status"], "open");
    let new_cur = find("CUR");
    assert_eq!(new_cur["due_date"], shifted(w.open.due_date));
    find("PAST");

    // Office B stays out of the copied period, with the reason; A is expected.
    let expected = json_of(
        w.get(
            &w.coordinator,
            &format!(
                "/api/v1/periods/{}/expected-units",
                new_s1["id"].as_str().unwrap()
            ),
        )
        .await,
        200,
    )
    .await;
    let codes: Vec<&str> = expected["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec![w.a.code.as_str()], "{expected}");
    let schedule = json_of(
        w.get(
            &w.coordinator,
            &format!(
                "/api/v1/periods/{}/reminders",
                new_s1["id"].as_str().unwrap()
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(schedule["offsets_days"], json!([-7, 0]));
    assert_eq!(schedule["repeat_every_days"], 3);

    // One audit event names the plan copied; the old plan is untouched.
    assert_eq!(
        scalar(
            &w.app,
            &format!(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'plan.copy' \
                 AND object_id = '{new_id}' AND change->>'copied_from' = '{}'",
                w.plan_id
            ),
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &w.app,
            &format!(
                "SELECT count(*) AS n FROM periods WHERE plan_id = '{}'",
                w.plan_id
            ),
        )
        .await,
        3
    );
    // The new plan's period takes reports of its own, under the copied form.
    let res = w
        .get(&w.reporter_a, &format!("/api/v1/plans/{new_id}/forms"))
        .await;
    let versions = json_of(res, 200).await;
    assert_eq!(versions["items"][0]["reports"], 0);
}

#[tokio::test]
async fn the_demo_copies_its_2024_plan_to_2025_with_the_national_target() {
    const DEMO_PASSWORD: &str = "demo-password-2024";
    let app = crate::helpers::spawn_app().await;
    let mut conn = crate::fixtures::connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let made = gereport::demo_2025::load(&mut conn).await.unwrap().unwrap();
    assert!(
        made.copied
            .iter()
            .any(|p| p.part == "periods" && p.count == 2)
    );
    // Twice changes nothing.
    assert!(
        gereport::demo_2025::load(&mut conn)
            .await
            .unwrap()
            .is_none()
    );

    let coordinator = crate::fixtures::login(&app, "coordinator", DEMO_PASSWORD).await;
    let get = |path: String| {
        let req = app
            .client
            .get(app.url(&path))
            .bearer_auth(&coordinator.token);
        async move { json_of(req.send().await.unwrap(), 200).await }
    };
    let plans = get("/api/v1/plans?year=2025".into()).await;
    assert_eq!(plans["total"], 1, "{plans}");
    let plan = &plans["items"][0];
    assert_eq!(plan["id"], made.plan_id.to_string());
    assert_eq!(plan["document_number"], "/KH-SVHTT");
    assert_eq!(plan["status"], "draft");
    assert!(plan["title"].as_str().unwrap().ends_with("năm 2025"));

    let indicators = get(format!("/api/v1/plans/{}/indicators", made.plan_id)).await;
    let targets: Vec<(String, f64)> = indicators["items"]
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
    assert!(
        targets.contains(&("leaders_with_woman".into(), 1.0)),
        "{targets:?}"
    );
    assert!(targets.contains(&("committee_consolidated".into(), 1.0)));
    assert_eq!(targets.len(), 3);
    // Beside the plan's own 100 %, Resolution 28/NQ-CP's 60 % for 2025 (and 75 % for 2030).
    let leaders = indicators["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "leaders_with_woman")
        .unwrap();
    let by_year: Vec<(i64, f64)> = leaders["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["year"].as_i64().unwrap(), t["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(by_year, [(2025, 0.6), (2030, 0.75)]);
    assert!(
        leaders["targets"][0]["source"]
            .as_str()
            .unwrap()
            .contains("28/NQ-CP")
    );

    let periods = get(format!("/api/v1/periods?plan={}", made.plan_id)).await;
    let due: Vec<(String, String)> = periods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["due_date"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        due,
        vec![
            ("2025".to_string(), "2025-11-20".to_string()),
            ("2025S1".to_string(), "2025-05-20".to_string()),
        ]
    );
    // The unit exempted from the 2024 half-year report stays exempted in 2025.
    let s1 = periods["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "2025S1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let expected = get(format!("/api/v1/periods/{s1}/expected-units?limit=500")).await;
    let last = gereport::demo::DEMO_UNITS.last().unwrap().0;
    assert_eq!(
        expected["total"].as_u64().unwrap() as usize,
        gereport::demo::DEMO_UNITS.len() - 1
    );
    assert!(
        expected["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["unit_code"] != last)
    );
    // The compilation of the new year judges both targets side by side.
    let compiled = get(format!("/api/v1/periods/{s1}/compilation")).await;
    let leaders = compiled["indicators"]
        .as_array()
        .unwrap_or_else(|| panic!("{compiled}"))
        .iter()
        .find(|i| i["code"] == "leaders_with_woman")
        .unwrap();
    let judged: Vec<(Value, f64)> = leaders["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["year"].clone(), t["target"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        judged,
        [(Value::Null, 1.0), (json!(2025), 0.6)],
        "{leaders}"
    );
}
