//! The compiled report, checked figure by figure against numbers computed by hand for a
//! small tree: root R with units A, B, C, D; A and B accepted, C submitted, D silent.

use diesel_async::AsyncConnection;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(e) = if_match {
            req = req.header("if-match", e);
        }
        req.send().await.unwrap()
    }

    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (Value, Option<String>) {
        let res = self.send(method.clone(), path, body, if_match).await;
        let status = res.status();
        let etag = res
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string());
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        (serde_json::from_str(&text).unwrap_or(Value::Null), etag)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.ok(reqwest::Method::POST, path, Some(body), None)
            .await
            .0
    }
}

async fn admin(app: &TestApp) -> Api<'_> {
    let mut conn = diesel_async::AsyncPgConnection::establish(&app.db.url)
        .await
        .unwrap();
    gereport::demo::create_admin(&mut conn, "root-admin", "admin-password-123".into())
        .await
        .unwrap();
    let res: Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "root-admin", "password": "admin-password-123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Api {
        app,
        token: res["access_token"].as_str().unwrap().to_string(),
    }
}

/// A complete report: every required field, the given figures, and activities of
/// (type, participants, of whom women, cost).
#[allow(clippy::too_many_arguments)]
fn report(
    staff: (i64, i64),
    leaders: (i64, i64),
    political: (i64, i64),
    professional: (i64, i64),
    activities: &[(&str, i64, i64, i64)],
    results: &str,
    date: &str,
) -> Value {
    let acts: Vec<Value> = activities
        .iter()
        .map(|(kind, total, female, cost)| {
            json!({"type": kind, "title": format!("Hoạt động {kind}"), "date": date,
                   "participants_total": total, "participants_female": female, "cost_vnd": cost})
        })
        .collect();
    json!({
        "values": {
            "staff_total": staff.0, "staff_female": staff.1,
            "leaders_total": leaders.0, "leaders_female": leaders.1,
            "planning_pool_total": 0, "planning_pool_female": 0,
            "appointed_total": 0, "appointed_female": 0,
            "trained_political_total": political.0, "trained_political_female": political.1,
            "trained_professional_total": professional.0, "trained_professional_female": professional.1,
            "committee_in_place": true,
            "committee_members_total": 5, "committee_members_female": 3,
            "budget_allocated_vnd": 0, "budget_spent_vnd": 0,
            "culture_activities_integrated": 0,
            "narrative_results": results,
        },
        "lists": {"activities": acts}
    })
}

/// Draft, submit and (unless `accept` is false) accept a unit's report as the admin.
async fn file(api: &Api<'_>, period: &str, unit: &str, body: Value, accept: bool) {
    let path = format!("/api/v1/periods/{period}/reports/{unit}");
    let (_, etag) = api.ok(reqwest::Method::PUT, &path, Some(body), None).await;
    let (_, etag) = api
        .ok(
            reqwest::Method::POST,
            &format!("{path}/submit"),
            None,
            etag.as_deref(),
        )
        .await;
    if accept {
        api.ok(
            reqwest::Method::POST,
            &format!("{path}/accept"),
            None,
            etag.as_deref(),
        )
        .await;
    }
}

struct World {
    current: String,
    previous: String,
}

async fn world(api: &Api<'_>) -> World {
    api.post(
        "/api/v1/org-units",
        json!({"code": "R", "name": "Sở thử nghiệm", "kind": "department"}),
    )
    .await;
    for code in ["A", "B", "C", "D"] {
        api.post(
            "/api/v1/org-units",
            json!({"code": code, "name": format!("Phòng {code}"), "kind": "office", "parent": "R"}),
        )
        .await;
    }
    let form = serde_json::to_value(gereport::plans::form::default_form_2024().unwrap()).unwrap();
    let plan = api
        .post("/api/v1/plans", json!({"year": 2030, "document_number": "1/KH-TEST", "title": "Kế hoạch thử", "issuing_unit": "R", "form": form}))
        .await;
    let plan_id = plan["id"].as_str().unwrap();
    api.post(
        &format!("/api/v1/plans/{plan_id}/indicators"),
        json!({"code": "leaders_with_woman", "name_vi": "Có lãnh đạo nữ", "name_en": "Woman leader", "formula": "count(leaders_female >= 1) / count()", "target": 1.0, "direction": "at_least"}),
    )
    .await;
    api.post(
        &format!("/api/v1/plans/{plan_id}/indicators"),
        json!({"code": "trained_female_share", "name_vi": "Tỷ lệ nữ được đào tạo", "name_en": "Trained women",
               "formula": "sum(trained_political_female + trained_professional_female) / sum(trained_political_total + trained_professional_total)",
               "target": 0.5, "direction": "at_least"}),
    )
    .await;
    let previous = api
        .post(&format!("/api/v1/plans/{plan_id}/periods"), json!({"kind": "semi_annual", "code": "2030S1", "window_start": "2030-01-01", "window_end": "2030-05-15", "due_date": "2099-05-20"}))
        .await;
    let current = api
        .post(&format!("/api/v1/plans/{plan_id}/periods"), json!({"kind": "semi_annual", "code": "2030S2", "window_start": "2030-05-16", "window_end": "2030-11-15", "due_date": "2099-11-20"}))
        .await;
    let (current, previous) = (
        current["id"].as_str().unwrap().to_string(),
        previous["id"].as_str().unwrap().to_string(),
    );

    file(
        api,
        &previous,
        "A",
        report(
            (10, 5),
            (2, 0),
            (1, 1),
            (1, 0),
            &[],
            "A trước",
            "2030-02-01",
        ),
        true,
    )
    .await;
    file(
        api,
        &current,
        "A",
        report(
            (10, 6),
            (2, 1),
            (2, 1),
            (4, 2),
            &[("conference", 30, 20, 1_000_000)],
            "A kết quả",
            "2030-06-01",
        ),
        true,
    )
    .await;
    file(
        api,
        &current,
        "B",
        report(
            (20, 8),
            (3, 0),
            (0, 0),
            (6, 4),
            &[("conference", 10, 5, 500_000), ("seminar", 40, 10, 0)],
            "B kết quả",
            "2030-06-02",
        ),
        true,
    )
    .await;
    file(
        api,
        &current,
        "C",
        report(
            (5, 5),
            (1, 1),
            (2, 2),
            (0, 0),
            &[],
            "C kết quả",
            "2030-06-03",
        ),
        false,
    )
    .await;
    World { current, previous }
}

fn codes(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect()
}

fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[tokio::test]
async fn every_figure_matches_a_hand_computation() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let (c, _) = api
        .ok(
            reqwest::Method::GET,
            &format!("/api/v1/periods/{}/compilation?unit=R", w.current),
            None,
            None,
        )
        .await;

    assert_eq!(c["unit"]["code"], "R");
    assert_eq!(c["include_submitted"], false);
    assert_eq!(c["reports_included"], 2);
    let cp = &c["completeness"];
    assert_eq!(
        (
            cp["expected"].as_i64(),
            cp["submitted"].as_i64(),
            cp["accepted"].as_i64()
        ),
        (Some(4), Some(3), Some(2))
    );
    assert_eq!(
        (
            cp["on_time"].as_i64(),
            cp["late"].as_i64(),
            cp["missing"].as_i64()
        ),
        (Some(3), Some(0), Some(1))
    );
    close(&cp["submitted_share"], 0.75);
    assert_eq!(codes(&cp["units"]["accepted"]), ["A", "B"]);
    assert_eq!(codes(&cp["units"]["submitted"]), ["C"]);
    assert_eq!(codes(&cp["units"]["not_started"]), ["D"]);

    let ind = |code: &str| {
        c["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap()
            .clone()
    };
    let leaders = ind("leaders_with_woman");
    close(&leaders["value"], 0.5);
    close(&leaders["numerator"], 1.0);
    close(&leaders["denominator"], 2.0);
    assert_eq!(leaders["met"], false);
    assert_eq!(codes(&leaders["units_short"]), ["B"]);
    let trained = ind("trained_female_share");
    close(&trained["numerator"], 7.0);
    close(&trained["denominator"], 12.0);
    close(&trained["value"], 7.0 / 12.0);
    assert_eq!(trained["met"], true);

    let total = |field: &str| {
        c["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["field"] == field)
            .unwrap()["sum"]
            .clone()
    };
    close(&total("staff_total"), 30.0);
    close(&total("staff_female"), 14.0);
    close(&total("trained_professional_total"), 10.0);
    close(&total("budget_allocated_vnd"), 0.0);
    let staff = c["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "staff")
        .unwrap();
    close(&staff["female_share"], 14.0 / 30.0);
    let pool = c["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "planning_pool")
        .unwrap();
    assert_eq!(pool["female_share"], Value::Null, "0 of 0 has no share");

    let acts = c["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 2);
    let conf = acts.iter().find(|a| a["type"] == "conference").unwrap();
    assert_eq!(conf["count"], 2);
    close(&conf["participants_total"], 40.0);
    close(&conf["participants_female"], 25.0);
    close(&conf["female_share"], 25.0 / 40.0);
    close(&conf["cost_vnd"], 1_500_000.0);
    let sem = acts.iter().find(|a| a["type"] == "seminar").unwrap();
    assert_eq!(sem["count"], 1);
    close(&sem["participants_female"], 10.0);

    let results = c["narratives"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["field"] == "narrative_results")
        .unwrap();
    assert_eq!(results["section"], "G");
    let texts: Vec<(&str, &str)> = results["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["unit_code"].as_str().unwrap(),
                e["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(texts, [("A", "A kết quả"), ("B", "B kết quả")]);

    let prev = &c["previous"];
    assert_eq!(prev["period"]["code"], "2030S1");
    assert_eq!(prev["reports_included"], 1);
    let prev_leaders = prev["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "leaders_with_woman")
        .unwrap();
    close(&prev_leaders["value"], 0.0);
    assert!(prev["completeness"]["units"].is_null());

    // With submitted reports counted, C joins every figure.
    let (s, _) = api
        .ok(
            reqwest::Method::GET,
            &format!(
                "/api/v1/periods/{}/compilation?unit=R&include=submitted",
                w.current
            ),
            None,
            None,
        )
        .await;
    assert_eq!(s["reports_included"], 3);
    let l = s["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "leaders_with_woman")
        .unwrap();
    close(&l["value"], 2.0 / 3.0);
    let t = s["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "trained_female_share")
        .unwrap();
    close(&t["value"], 9.0 / 14.0);

    // A subtree of one unit.
    let (a, _) = api
        .ok(
            reqwest::Method::GET,
            &format!("/api/v1/periods/{}/compilation?unit=A", w.current),
            None,
            None,
        )
        .await;
    assert_eq!(a["completeness"]["expected"], 1);
    close(
        &a["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["field"] == "staff_total")
            .unwrap()["sum"],
        10.0,
    );

    // The trend over both periods, oldest first.
    let (trend, _) = api
        .ok(
            reqwest::Method::GET,
            "/api/v1/indicators/trend?unit=R&indicator=leaders_with_woman",
            None,
            None,
        )
        .await;
    let points = trend["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[0]["period"]["code"], "2030S1");
    close(&points[0]["value"], 0.0);
    close(&points[1]["value"], 0.5);
    let res = api
        .send(
            reqwest::Method::GET,
            "/api/v1/indicators/trend?indicator=no_such_thing",
            None,
            None,
        )
        .await;
    assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn no_accepted_reports_gives_null_values_with_reasons() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    // The previous period has only A; compile B's subtree there: nothing accepted.
    let (c, _) = api
        .ok(
            reqwest::Method::GET,
            &format!("/api/v1/periods/{}/compilation?unit=B", w.previous),
            None,
            None,
        )
        .await;
    assert_eq!(c["reports_included"], 0);
    for i in c["indicators"].as_array().unwrap() {
        assert_eq!(i["value"], Value::Null, "{i}");
        assert_eq!(i["met"], Value::Null);
        assert!(i["reason"].is_string(), "{i}");
    }
    assert_eq!(c["previous"], Value::Null);
}

#[tokio::test]
async fn csv_and_xlsx_by_accept_or_format() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let path = format!("/api/v1/periods/{}/compilation?unit=R", w.current);

    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(&api.token)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let cd = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cd.contains("attachment") && cd.contains(".csv"), "{cd}");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    for needle in [
        "Chỉ tiêu",
        "leaders_with_woman",
        "50.00%",
        "Tỷ lệ nữ",
        "Thuyết minh",
        "A kết quả",
        "Số đơn vị phải báo cáo,4",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }

    let res = app
        .client
        .get(app.url(&format!("{path}&format=xlsx")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");

    let res = app
        .client
        .get(app.url(&path))
        .bearer_auth(&api.token)
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_problem(res, 406, "not_acceptable").await;
    let res = app
        .client
        .get(app.url(&format!("{path}&format=pdf")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_query").await;
    let res = app
        .client
        .get(app.url(&format!("{path}&include=everything")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_query").await;
}

#[tokio::test]
async fn compilation_respects_role_and_scope() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    for (user, role, unit) in [("viewer-a", "viewer", "A"), ("reporter-a", "reporter", "A")] {
        api.post("/api/v1/users", json!({"username": user, "display_name": user, "role": role, "unit": unit, "password": "long-enough-password"}))
            .await;
    }
    let login = |u: &'static str| {
        let app = &app;
        async move {
            let v: Value = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"username": u, "password": "long-enough-password"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["access_token"].as_str().unwrap().to_string()
        }
    };
    let viewer = Api {
        app: &app,
        token: login("viewer-a").await,
    };
    let reporter = Api {
        app: &app,
        token: login("reporter-a").await,
    };
    let base = format!("/api/v1/periods/{}/compilation", w.current);

    let (own, _) = viewer.ok(reqwest::Method::GET, &base, None, None).await;
    assert_eq!(
        own["unit"]["code"], "A",
        "defaults to the root of the caller's scope"
    );
    assert_eq!(own["completeness"]["expected"], 1);
    let res = viewer
        .send(reqwest::Method::GET, &format!("{base}?unit=B"), None, None)
        .await;
    assert_problem(res, 404, "not_found").await;
    let res = reporter.send(reqwest::Method::GET, &base, None, None).await;
    assert_problem(res, 403, "forbidden").await;
}

/// The entries of a DOCX package, and its main part as text.
pub(crate) fn docx_document(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    for part in ["[Content_Types].xml", "_rels/.rels", "word/styles.xml"] {
        assert!(zip.by_name(part).is_ok(), "{part} missing");
    }
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

#[tokio::test]
async fn docx_draft_report_by_format_or_accept() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let path = format!("/api/v1/periods/{}/compilation?unit=R", w.current);
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    let by_format = app
        .client
        .get(app.url(&format!("{path}&format=docx")))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    let by_accept = app
        .client
        .get(app.url(&path))
        .bearer_auth(&api.token)
        .header("accept", DOCX)
        .send()
        .await
        .unwrap();
    for res in [by_format, by_accept] {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], DOCX);
        assert_eq!(
            res.headers()["content-disposition"],
            "attachment; filename=\"bao-cao-2030S2-R.docx\""
        );
        let bytes = res.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"PK", "a DOCX is a zip");
        let xml = docx_document(&bytes);
        for needle in [
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "SỞ THỬ NGHIỆM",
            "/BC-R",
            "BÁO CÁO",
            "Có lãnh đạo nữ",
            "Tỷ lệ nữ được đào tạo",
            // Accepted reports only: C's narrative is not there, A's and B's are.
            "A kết quả",
            "B kết quả",
            "Phòng D",
            "Nơi nhận",
        ] {
            assert!(xml.contains(needle), "{needle} missing in the document");
        }
        assert!(!xml.contains("C kết quả"), "C's report is not accepted");
    }
}

/// A compilation read with `If-None-Match` and its status, tag and body.
async fn poll(api: &Api<'_>, path: &str, tag: Option<&str>) -> (u16, String, Value) {
    let mut req = api
        .app
        .client
        .get(api.app.url(path))
        .bearer_auth(&api.token);
    if let Some(t) = tag {
        req = req.header("if-none-match", t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    if status == 304 {
        assert!(text.is_empty(), "a 304 has no body: {text}");
    }
    (
        status,
        etag,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn sum_of(c: &Value, field: &str) -> f64 {
    c["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["field"] == field)
        .and_then(|t| t["sum"].as_f64())
        .unwrap_or_else(|| panic!("no total for {field}"))
}

#[tokio::test]
async fn a_poll_gets_304_until_data_under_the_compilation_changes() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let path = format!("/api/v1/periods/{}/compilation?unit=R", w.current);

    let (status, tag, c) = poll(&api, &path, None).await;
    assert_eq!(status, 200);
    assert!(tag.starts_with("W/\"c-"), "{tag}");
    close(&json!(sum_of(&c, "staff_total")), 30.0);
    assert_eq!(c["previous"]["reports_included"], 1);

    // Nothing changed: 304, with the same tag; a second full read is served equal.
    let (status, again, _) = poll(&api, &path, Some(&tag)).await;
    assert_eq!((status, again.as_str()), (304, tag.as_str()));
    let (status, _, same) = poll(&api, &path, Some("W/\"c-other\", \"x\"")).await;
    assert_eq!(status, 200);
    assert_eq!(same["totals"], c["totals"]);
    assert_eq!(same["narratives"], c["narratives"]);
    // Another representation, another subtree or `include` has a tag of its own.
    for other in [
        format!("{path}&format=csv"),
        format!("{path}&include=submitted"),
        format!("/api/v1/periods/{}/compilation?unit=A", w.current),
    ] {
        let (status, t, _) = poll(&api, &other, Some(&tag)).await;
        assert_eq!(status, 200, "{other}");
        assert_ne!(t, tag, "{other}");
    }

    // C's report is accepted: the totals move, and so does the tag.
    let report = format!("/api/v1/periods/{}/reports/C", w.current);
    let (_, etag) = api.ok(reqwest::Method::GET, &report, None, None).await;
    api.ok(
        reqwest::Method::POST,
        &format!("{report}/accept"),
        None,
        etag.as_deref(),
    )
    .await;
    let (status, tag2, c2) = poll(&api, &path, Some(&tag)).await;
    assert_eq!(status, 200);
    assert_ne!(tag2, tag);
    close(&json!(sum_of(&c2, "staff_total")), 35.0);
    assert_eq!(c2["reports_included"], 3);

    // The previous period's report is reopened: the comparison column follows.
    let old = format!("/api/v1/periods/{}/reports/A", w.previous);
    let (_, etag) = api.ok(reqwest::Method::GET, &old, None, None).await;
    api.ok(
        reqwest::Method::POST,
        &format!("{old}/reopen"),
        Some(json!({"reason": "Sửa số liệu"})),
        etag.as_deref(),
    )
    .await;
    let (status, tag3, c3) = poll(&api, &path, Some(&tag2)).await;
    assert_eq!(status, 200);
    assert_ne!(tag3, tag2);
    assert_eq!(c3["previous"]["reports_included"], 0);

    // A renamed unit shows under its new name.
    api.ok(
        reqwest::Method::PATCH,
        "/api/v1/org-units/B",
        Some(json!({"name": "Phòng B mới"})),
        None,
    )
    .await;
    let (status, tag4, c4) = poll(&api, &path, Some(&tag3)).await;
    assert_eq!(status, 200);
    assert_ne!(tag4, tag3);
    let names: Vec<&str> = c4["narratives"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["entries"].as_array().unwrap())
        .filter(|e| e["unit_code"] == "B")
        .map(|e| e["unit_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Phòng B mới"]);

    // A new target is compiled at once.
    let (period, _) = api
        .ok(
            reqwest::Method::GET,
            &format!("/api/v1/periods/{}", w.current),
            None,
            None,
        )
        .await;
    let (indicators, _) = api
        .ok(
            reqwest::Method::GET,
            &format!(
                "/api/v1/plans/{}/indicators",
                period["plan_id"].as_str().unwrap()
            ),
            None,
            None,
        )
        .await;
    let share = indicators["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "trained_female_share")
        .unwrap();
    api.ok(
        reqwest::Method::PATCH,
        &format!("/api/v1/indicators/{}", share["id"].as_str().unwrap()),
        Some(json!({"target": 0.25})),
        None,
    )
    .await;
    let (status, tag5, c5) = poll(&api, &path, Some(&tag4)).await;
    assert_eq!(status, 200);
    assert_ne!(tag5, tag4);
    let target = c5["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "trained_female_share")
        .unwrap()["target"]
        .clone();
    close(&target, 0.25);
    let (status, _, _) = poll(&api, &path, Some(&tag5)).await;
    assert_eq!(status, 304);

    // Requests arriving together after a change get one and the same new answer.
    api.ok(
        reqwest::Method::PATCH,
        "/api/v1/org-units/C",
        Some(json!({"name": "Phòng C mới"})),
        None,
    )
    .await;
    let polls = futures_util::future::join_all((0..6).map(|_| poll(&api, &path, None))).await;
    let (_, tag6, first) = &polls[0];
    assert_ne!(tag6, &tag5);
    for (status, tag, c) in &polls {
        assert_eq!(*status, 200);
        assert_eq!(tag, tag6);
        assert_eq!(c["totals"], first["totals"]);
        assert_eq!(c["narratives"], first["narratives"]);
        assert_eq!(c["completeness"], first["completeness"]);
    }
}

/// A unit deactivated during the period stays expected (its draft is still owed)
/// until the office removes it from the period's expected units.
#[tokio::test]
async fn a_compilation_is_answered_in_the_parts_asked_for() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let path = format!("/api/v1/periods/{}/compilation?unit=R", w.current);
    let (_, whole_tag, whole) = poll(&api, &path, None).await;
    assert!(!whole["narratives"].as_array().unwrap().is_empty());

    let figures = format!("{path}&parts=indicators,totals");
    let (status, tag, c) = poll(&api, &figures, None).await;
    assert_eq!(status, 200);
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "coverage",
            "flags",
            "generated_at",
            "include_submitted",
            "indicators",
            "pairs",
            "period",
            "reports_included",
            "totals",
            "unit",
            "units"
        ]
    );
    // The same figures as the whole, under a tag of their own that polls like it.
    assert_eq!(c["totals"], whole["totals"]);
    assert_eq!(c["indicators"], whole["indicators"]);
    assert_ne!(tag, whole_tag);
    let (status, again, _) = poll(&api, &figures, Some(&tag)).await;
    assert_eq!((status, again.as_str()), (304, tag.as_str()));
    let (status, _, _) = poll(&api, &figures, Some(&whole_tag)).await;
    assert_eq!(status, 200);

    // `previous` alone, with the null it has when there is none.
    let (_, _, p) = poll(&api, &format!("{path}&parts=previous"), None).await;
    assert_eq!(p["previous"], whole["previous"]);
    assert!(p.get("totals").is_none() && p.get("narratives").is_none());

    // The documents always hold every part.
    let (status, _, _) = poll(&api, &format!("{path}&parts=totals&format=csv"), None).await;
    assert_eq!(status, 200);

    // An unknown part, or none, is a 400 naming the parameter.
    for bad in ["parts=totals,figures", "parts="] {
        let res = api
            .app
            .client
            .get(api.app.url(&format!("{path}&{bad}")))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, 400, "invalid_query").await;
        assert_eq!(problem["errors"][0]["path"], "query.parts", "{problem}");
    }
}

#[tokio::test]
async fn a_deactivated_unit_is_owed_until_removed_from_the_expected_units() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let w = world(&api).await;
    let path = format!("/api/v1/periods/{}/compilation?unit=R", w.current);
    // D starts a draft, then the unit is closed down.
    api.ok(
        reqwest::Method::PUT,
        &format!("/api/v1/periods/{}/reports/D", w.current),
        Some(json!({"values": {"staff_total": 3}})),
        None,
    )
    .await;
    let (before, _) = api.ok(reqwest::Method::GET, &path, None, None).await;
    assert_eq!(before["completeness"]["expected"], 4);
    assert_eq!(codes(&before["completeness"]["units"]["draft"]), ["D"]);
    api.ok(
        reqwest::Method::POST,
        "/api/v1/org-units/D/deactivate",
        None,
        None,
    )
    .await;
    let (after, _) = api.ok(reqwest::Method::GET, &path, None, None).await;
    let cp = &after["completeness"];
    assert_eq!(
        (cp["expected"].as_i64(), cp["missing"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(codes(&cp["units"]["draft"]), ["D"], "{cp}");
    let res = api
        .send(
            reqwest::Method::DELETE,
            &format!(
                "/api/v1/periods/{}/expected-units/D?reason=%C4%90%C3%A3%20gi%E1%BA%A3i%20th%E1%BB%83",
                w.current
            ),
            None,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let (after, _) = api.ok(reqwest::Method::GET, &path, None, None).await;
    let cp = &after["completeness"];
    assert_eq!(
        (cp["expected"].as_i64(), cp["missing"].as_i64()),
        (Some(3), Some(0))
    );
    assert!(codes(&cp["units"]["draft"]).is_empty(), "{cp}");
    // A deactivated unit that did submit still counts: C is closed after submitting.
    api.ok(
        reqwest::Method::POST,
        "/api/v1/org-units/C/deactivate",
        None,
        None,
    )
    .await;
    let (last, _) = api.ok(reqwest::Method::GET, &path, None, None).await;
    assert_eq!(last["completeness"]["expected"], 3);
    assert_eq!(codes(&last["completeness"]["units"]["submitted"]), ["C"]);
}
