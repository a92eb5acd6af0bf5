//! `gereport demo`: the 2024 plan of the seed with its form, indicators, periods and
//! reports in several states, visible through the API; loading twice changes nothing.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fixtures::{connect, json_of, login, scalar, snapshot};
use crate::helpers::spawn_app;
use gereport::plans::period::due_instant;

const DEMO_PASSWORD: &str = "demo-password-2024";

fn statuses(page: &Value) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for r in page["items"].as_array().unwrap() {
        *by.entry(r["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    by
}

#[tokio::test]
async fn the_demo_loads_the_2024_plan_with_data_and_loads_idempotently() {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    let first = gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    assert!(first.plan_created);
    let units = gereport::demo::DEMO_UNITS.len();
    assert_eq!(first.units, units + 1);
    assert_eq!(first.users_created, 3 + units);

    let coordinator = login(&app, "coordinator", DEMO_PASSWORD).await;
    let get = |path: String| {
        let req = app
            .client
            .get(app.url(&path))
            .bearer_auth(&coordinator.token);
        async move { json_of(req.send().await.unwrap(), 200).await }
    };

    let plans = get("/api/v1/plans?year=2024".into()).await;
    assert_eq!(plans["total"], 1);
    let plan = &plans["items"][0];
    assert_eq!(plan["document_number"], "/KH-SVHTT");
    assert_eq!(plan["issuing_unit_code"], "SVHTT");
    assert_eq!(plan["issue_date"], "2024-03-15");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["form_version"], 1);
    let plan_id = plan["id"].as_str().unwrap().to_string();

    let form = get(format!("/api/v1/plans/{plan_id}/form")).await;
    let expected =
        serde_json::to_value(gereport::plans::form::default_form_2024().unwrap()).unwrap();
    assert_eq!(form["definition"], expected);

    let indicators = get(format!("/api/v1/plans/{plan_id}/indicators")).await;
    let mut targets: Vec<(String, f64, String)> = indicators["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["target"].as_f64().unwrap(),
                i["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        targets,
        vec![
            ("committee_consolidated".into(), 1.0, "at_least".into()),
            ("leaders_with_woman".into(), 1.0, "at_least".into()),
            ("trained_female_share".into(), 0.5, "at_least".into()),
        ]
    );

    let periods = get(format!("/api/v1/periods?plan={plan_id}")).await;
    assert_eq!(periods["total"], 2);
    let mut due: Vec<(String, String, String)> = periods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_string(),
                p["due_date"].as_str().unwrap().to_string(),
                p["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    due.sort();
    assert_eq!(
        due,
        vec![
            ("2024".into(), "2024-11-20".into(), "annual".into()),
            ("2024S1".into(), "2024-05-20".into(), "semi_annual".into()),
        ]
    );
    let s1 = get("/api/v1/periods?code=2024S1".into()).await;
    assert_eq!(s1["total"], 1);
    let s1 = &s1["items"][0];

    // Reports in several states; lateness agrees with the due date.
    let reports = get(format!(
        "/api/v1/reports?period={}&limit=500",
        s1["id"].as_str().unwrap()
    ))
    .await;
    let by_status = statuses(&reports);
    for status in ["draft", "submitted", "returned", "accepted"] {
        assert!(
            by_status.get(status).is_some_and(|n| *n > 0),
            "{status}: {by_status:?}"
        );
    }
    let deadline = due_instant("2024-05-20".parse().unwrap());
    let mut late = 0;
    for r in reports["items"].as_array().unwrap() {
        if r["status"] == "draft" {
            assert_eq!(r["late"], Value::Null);
            continue;
        }
        let at: chrono::DateTime<chrono::Utc> =
            r["submitted_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(r["late"], at >= deadline, "{r}");
        late += usize::from(r["late"] == true);
    }
    assert!(late > 0, "the demo shows late submissions too");
    let annual = get("/api/v1/periods?code=2024".into()).await;
    let annual_id = annual["items"][0]["id"].as_str().unwrap().to_string();
    let reports = get(format!("/api/v1/reports?period={annual_id}&limit=500")).await;
    assert!(statuses(&reports).len() >= 3, "{:?}", statuses(&reports));

    // Both periods expect the units of the tree; the half-year one exempted the last
    // unit, with a reason. The annual compilation says what its figures cover.
    let expected = get(format!(
        "/api/v1/periods/{annual_id}/expected-units?limit=200"
    ))
    .await;
    assert_eq!(expected["total"], units as i64);
    let expected = get(format!(
        "/api/v1/periods/{}/expected-units?limit=200",
        s1["id"].as_str().unwrap()
    ))
    .await;
    assert_eq!(expected["total"], units as i64 - 1);
    let c = get(format!("/api/v1/periods/{annual_id}/compilation")).await;
    assert_eq!(c["coverage"]["expected"], units as i64, "{}", c["coverage"]);
    assert_eq!(c["coverage"]["counted"], 5);
    assert_eq!(
        c["indicators"][0]["coverage"]["not_counted"]
            .as_array()
            .unwrap()
            .len(),
        units - 5
    );

    // The annual period has a reminder schedule of its own, reminders and other
    // notifications were sent, and one report came on paper, entered by the office.
    let schedule = get(format!("/api/v1/periods/{annual_id}/reminders")).await;
    assert_eq!(schedule["is_default"], false, "{schedule}");
    assert!(scalar(&app, "SELECT count(*) AS n FROM reminders_sent").await >= 1);
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM notifications WHERE kind = 'reminder'"
        )
        .await
            >= 1
    );
    assert!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM notifications WHERE kind = 'report.returned'"
        )
        .await
            >= 1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) AS n FROM report_revisions WHERE entry_note IS NOT NULL"
        )
        .await,
        1
    );

    // A submitted demo report reads like any other: its data passes its form.
    let submitted = get(format!(
        "/api/v1/reports?period={}&status=returned",
        s1["id"].as_str().unwrap()
    ))
    .await;
    let unit = submitted["items"][0]["unit_code"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!(
        "/api/v1/periods/{}/reports/{unit}",
        s1["id"].as_str().unwrap()
    );
    let report = get(path.clone()).await;
    assert_eq!(report["revision"], 1);
    assert!(report["review_comment"].as_str().unwrap().len() > 10);
    let res = app
        .client
        .post(app.url(&format!("{path}/validate")))
        .bearer_auth(&coordinator.token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);
    // Its reporter sees its own reports only.
    let reporter = login(&app, &unit.to_lowercase(), DEMO_PASSWORD).await;
    let res = app
        .client
        .get(app.url("/api/v1/reports?limit=500"))
        .bearer_auth(&reporter.token)
        .send()
        .await
        .unwrap();
    let mine = json_of(res, 200).await;
    assert!(mine["total"].as_i64().unwrap() >= 1);
    for r in mine["items"].as_array().unwrap() {
        assert_eq!(r["unit_code"], unit.as_str());
    }

    // Loading again creates nothing and changes nothing.
    let before = snapshot(&app).await;
    let users = scalar(&app, "SELECT count(*) AS n FROM users").await;
    let plans = scalar(&app, "SELECT count(*) AS n FROM plans").await;
    let second = gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    assert!(!second.plan_created);
    assert_eq!(second.users_created, 0);
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(scalar(&app, "SELECT count(*) AS n FROM users").await, users);
    assert_eq!(scalar(&app, "SELECT count(*) AS n FROM plans").await, plans);
}
