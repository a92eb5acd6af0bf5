//! The reporting world the workflow tests share: an admin made the way an operator
//! makes one (`gereport::demo::create_admin`), and everything else built through the
//! API — a department with two offices, a plan with the default form, two periods and
//! two indicators, a coordinator, a viewer and one reporter per office — plus report
//! data that passes every rule, request builders for the report routes, and a
//! database snapshot to prove that refused requests leave nothing behind.

use chrono::{Duration, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem, spawn_app_with};

pub const PASSWORD: &str = "mật khẩu thử nghiệm 2024";
pub const ADMIN: &str = "admin";

/// Someone who called `POST /auth/login`, with the token cached for the whole test.
#[derive(Clone, Debug)]
pub struct Caller {
    pub id: Uuid,
    pub username: String,
    pub token: String,
}

#[derive(Clone, Debug)]
pub struct Unit {
    pub id: Uuid,
    pub code: String,
}

#[derive(Clone, Debug)]
pub struct Period {
    pub id: Uuid,
    pub code: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub due_date: NaiveDate,
}

pub struct World {
    pub app: TestApp,
    pub admin: Caller,
    pub coordinator: Caller,
    pub viewer: Caller,
    pub reporter_a: Caller,
    pub reporter_b: Caller,
    pub root: Unit,
    pub a: Unit,
    pub b: Unit,
    pub plan_id: Uuid,
    /// Open, due in two months.
    pub open: Period,
    /// Open, but its due date passed ten days ago: submissions to it are late.
    pub past: Period,
}

/// Today's date in Vietnam, the calendar due dates are written in.
pub fn today_vn() -> NaiveDate {
    gereport::plans::period::vietnam_date(Utc::now())
}

pub fn days(n: i64) -> Duration {
    Duration::days(n)
}

/// Asserts the status (showing the body when it differs) and returns the JSON body.
pub async fn json_of(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The `ETag` of a response (which must carry one).
pub fn etag_of(res: &Response) -> String {
    res.headers()
        .get("etag")
        .unwrap_or_else(|| panic!("no ETag on a {} response", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// Status, ETag and JSON body of a report response, asserting the status.
pub async fn report_of(res: Response, status: u16) -> (Value, String) {
    let etag = if res.status().as_u16() == status {
        etag_of(&res)
    } else {
        String::new()
    };
    let body = json_of(res, status).await;
    assert_eq!(
        etag,
        format!(
            "\"{}-{}\"",
            body["id"].as_str().unwrap().replace('-', ""),
            body["version"]
        ),
        "the ETag names the report and its version"
    );
    (body, etag)
}

/// `(path, code, rule)` of every issue in a list, for exact comparisons.
pub fn issues(list: &Value) -> Vec<(String, String, Option<String>)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of issues: {list}"))
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_string(),
                i["code"].as_str().unwrap().to_string(),
                i["rule"].as_str().map(str::to_string),
            )
        })
        .collect()
}

pub fn issue(path: &str, code: &str, rule: Option<&str>) -> (String, String, Option<String>) {
    (path.to_string(), code.to_string(), rule.map(str::to_string))
}

/// A complete report that passes every rule of the default form for a period whose
/// data window starts on `window_start` (and lasts at least a week).
pub fn complete_report(window_start: NaiveDate) -> Value {
    let held = (window_start + days(5)).format("%Y-%m-%d").to_string();
    json!({
        "values": {
            "staff_total": 48, "staff_female": 27,
            "leaders_total": 4, "leaders_female": 2,
            "planning_pool_total": 7, "planning_pool_female": 4,
            "appointed_total": 2, "appointed_female": 1,
            "trained_political_total": 6, "trained_political_female": 3,
            "trained_professional_total": 12, "trained_professional_female": 7,
            "trained_total": 18,
            "committee_in_place": true,
            "committee_members_total": 5, "committee_members_female": 3,
            "committee_meetings": 2, "committee_inspections": 1,
            "budget_allocated_vnd": 40_000_000, "budget_spent_vnd": 28_500_000,
            "culture_activities_integrated": 3,
            "culture_integration_description": "Lồng ghép nội dung bình đẳng giới vào chương trình biểu diễn phục vụ cơ sở.",
            "narrative_results": "Đơn vị đã phổ biến Luật Bình đẳng giới tới toàn thể công chức, viên chức.",
            "narrative_difficulties": "Cán bộ làm công tác bình đẳng giới kiêm nhiệm.",
            "narrative_harmful_issues": "Nữ cán bộ ít tham gia các khóa đào tạo dài hạn.",
            "narrative_recommendations": "Đề nghị Sở mở lớp bồi dưỡng kỹ năng lãnh đạo cho nữ cán bộ."
        },
        "lists": {
            "activities": [{
                "type": "conference",
                "title": "Hội nghị quán triệt Luật Bình đẳng giới",
                "date": held,
                "participants_total": 80, "participants_female": 52,
                "topics": ["law_gender_equality", "directive_21_ct_tw"],
                "cost_vnd": 6_000_000
            }]
        }
    })
}

/// `data` with one top-level value replaced (`Value::Null` clears it).
pub fn with_value(mut data: Value, key: &str, value: Value) -> Value {
    data["values"][key] = value;
    data
}

/// `data` without one top-level value.
pub fn without_value(mut data: Value, key: &str) -> Value {
    data["values"].as_object_mut().unwrap().remove(key);
    data
}

/// `data` with one value of the first activity replaced.
pub fn with_activity(mut data: Value, key: &str, value: Value) -> Value {
    data["lists"]["activities"][0][key] = value;
    data
}

/// `data` without one value of the first activity.
pub fn without_activity(mut data: Value, key: &str) -> Value {
    data["lists"]["activities"][0]
        .as_object_mut()
        .unwrap()
        .remove(key);
    data
}

/// What a refused request must leave untouched: row counts, and digests of every row
/// of the tables a report write could change.
#[derive(diesel::QueryableByName, Debug, PartialEq, Eq)]
pub struct Snapshot {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub reports: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub revisions: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub audit_events: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub forms: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub indicators: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub periods: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub reports_digest: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub revisions_digest: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub periods_digest: String,
}

const SNAPSHOT_SQL: &str = "SELECT \
    (SELECT count(*) FROM reports) AS reports, \
    (SELECT count(*) FROM report_revisions) AS revisions, \
    (SELECT count(*) FROM audit_events) AS audit_events, \
    (SELECT count(*) FROM forms) AS forms, \
    (SELECT count(*) FROM indicators) AS indicators, \
    (SELECT count(*) FROM periods) AS periods, \
    (SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r.id), '')) FROM reports r) AS reports_digest, \
    (SELECT md5(coalesce(string_agg(v::text, '|' ORDER BY v.report_id, v.number), '')) FROM report_revisions v) AS revisions_digest, \
    (SELECT md5(coalesce(string_agg(p::text, '|' ORDER BY p.id), '')) FROM periods p) AS periods_digest";

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A direct connection to the test's database.
pub async fn connect(app: &TestApp) -> AsyncPgConnection {
    AsyncPgConnection::establish(&app.db.url).await.unwrap()
}

/// A `SELECT` of one bigint column named `n`.
pub async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let mut conn = connect(app).await;
    let row: Count = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    row.n
}

pub async fn snapshot(app: &TestApp) -> Snapshot {
    let mut conn = connect(app).await;
    diesel::sql_query(SNAPSHOT_SQL)
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn login_token(app: &TestApp, username: &str, password: &str) -> String {
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    json_of(res, 200).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Logs a user in and finds out its id.
pub async fn login(app: &TestApp, username: &str, password: &str) -> Caller {
    let token = login_token(app, username, password).await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let me = json_of(res, 200).await;
    Caller {
        id: me["id"].as_str().unwrap().parse().unwrap(),
        username: username.to_string(),
        token,
    }
}

pub fn report_path(period: Uuid, unit: &str) -> String {
    format!("/api/v1/periods/{period}/reports/{unit}")
}

impl World {
    pub async fn new() -> World {
        World::with(&[]).await
    }

    /// The same world on an app with these settings besides the tests' own.
    pub async fn with(settings: &[(&str, &str)]) -> World {
        let app = spawn_app_with(settings).await;
        {
            let mut conn = connect(&app).await;
            let created = gereport::demo::create_admin(&mut conn, ADMIN, PASSWORD.to_string())
                .await
                .unwrap();
            assert!(created);
        }
        let admin = login(&app, ADMIN, PASSWORD).await;
        let mut w = World {
            app,
            coordinator: admin.clone(),
            viewer: admin.clone(),
            reporter_a: admin.clone(),
            reporter_b: admin.clone(),
            admin,
            root: Unit {
                id: Uuid::nil(),
                code: String::new(),
            },
            a: Unit {
                id: Uuid::nil(),
                code: String::new(),
            },
            b: Unit {
                id: Uuid::nil(),
                code: String::new(),
            },
            plan_id: Uuid::nil(),
            open: Period {
                id: Uuid::nil(),
                code: String::new(),
                window_start: NaiveDate::MIN,
                window_end: NaiveDate::MIN,
                due_date: NaiveDate::MIN,
            },
            past: Period {
                id: Uuid::nil(),
                code: String::new(),
                window_start: NaiveDate::MIN,
                window_end: NaiveDate::MIN,
                due_date: NaiveDate::MIN,
            },
        };
        w.root = w
            .create_unit(
                "DEPT",
                "Sở Văn hóa và Thể thao (thử nghiệm)",
                "department",
                None,
            )
            .await;
        let (a, b) = tokio::join!(
            w.create_unit(
                "OFFICE-A",
                "Phòng Tổ chức - Pháp chế",
                "office",
                Some("DEPT")
            ),
            w.create_unit("OFFICE-B", "Phòng Quản lý văn hóa", "office", Some("DEPT")),
        );
        w.a = a;
        w.b = b;
        let (coordinator, viewer, reporter_a, reporter_b) = tokio::join!(
            w.create_user("coordinator", "coordinator", "DEPT"),
            w.create_user("director", "viewer", "DEPT"),
            w.create_user("reporter-a", "reporter", "OFFICE-A"),
            w.create_user("reporter-b", "reporter", "OFFICE-B"),
        );
        w.coordinator = coordinator;
        w.viewer = viewer;
        w.reporter_a = reporter_a;
        w.reporter_b = reporter_b;

        let form = gereport::plans::form::default_form_2024().unwrap();
        let year = today_vn().format("%Y").to_string().parse::<i32>().unwrap();
        let res = w
            .req(&w.coordinator, Method::POST, "/api/v1/plans")
            .json(&json!({
                "year": year,
                "document_number": "12/KH-SVHTT",
                "title": "Kế hoạch thực hiện công tác bình đẳng giới",
                "issue_date": today_vn() - days(100),
                "legal_basis": "Luật Bình đẳng giới năm 2006",
                "issuing_unit": "DEPT",
                "form": form,
            }))
            .send()
            .await
            .unwrap();
        let plan = json_of(res, 201).await;
        assert_eq!(plan["form_version"], 1, "{plan}");
        w.plan_id = plan["id"].as_str().unwrap().parse().unwrap();

        let today = today_vn();
        w.open = w
            .create_period("CUR", today - days(90), today + days(30), today + days(60))
            .await;
        w.past = w
            .create_period(
                "PAST",
                today - days(120),
                today - days(30),
                today - days(10),
            )
            .await;
        for (code, formula, target) in [
            (
                "leaders_with_woman",
                "count(leaders_female >= 1) / count()",
                1.0,
            ),
            (
                "trained_female_share",
                "sum(trained_political_female + trained_professional_female) / sum(trained_political_total + trained_professional_total)",
                0.5,
            ),
        ] {
            let res = w
                .req(
                    &w.coordinator,
                    Method::POST,
                    &format!("/api/v1/plans/{}/indicators", w.plan_id),
                )
                .json(&json!({
                    "code": code,
                    "name_vi": format!("Chỉ tiêu {code}"),
                    "name_en": format!("Indicator {code}"),
                    "formula": formula,
                    "target": target,
                    "direction": "at_least",
                    "source": "Kế hoạch của Sở",
                }))
                .send()
                .await
                .unwrap();
            json_of(res, 201).await;
        }
        w
    }

    /// A request with the caller's bearer token.
    pub fn req(&self, who: &Caller, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&who.token)
    }

    pub async fn get(&self, who: &Caller, path: &str) -> Response {
        self.req(who, Method::GET, path).send().await.unwrap()
    }

    pub async fn create_unit(
        &self,
        code: &str,
        name: &str,
        kind: &str,
        parent: Option<&str>,
    ) -> Unit {
        let res = self
            .req(&self.admin, Method::POST, "/api/v1/org-units")
            .json(&json!({ "code": code, "name": name, "kind": kind, "parent": parent }))
            .send()
            .await
            .unwrap();
        let unit = json_of(res, 201).await;
        Unit {
            id: unit["id"].as_str().unwrap().parse().unwrap(),
            code: code.to_string(),
        }
    }

    /// Creates a user through the API and logs it in.
    pub async fn create_user(&self, username: &str, role: &str, unit: &str) -> Caller {
        let res = self
            .req(&self.admin, Method::POST, "/api/v1/users")
            .json(&json!({
                "username": username,
                "display_name": format!("Người dùng {username}"),
                "role": role,
                "unit": unit,
                "password": PASSWORD,
            }))
            .send()
            .await
            .unwrap();
        let user = json_of(res, 201).await;
        let caller = login(&self.app, username, PASSWORD).await;
        assert_eq!(user["id"].as_str().unwrap(), caller.id.to_string());
        caller
    }

    pub async fn create_period(
        &self,
        code: &str,
        window_start: NaiveDate,
        window_end: NaiveDate,
        due_date: NaiveDate,
    ) -> Period {
        let res = self
            .req(
                &self.coordinator,
                Method::POST,
                &format!("/api/v1/plans/{}/periods", self.plan_id),
            )
            .json(&json!({
                "kind": "ad_hoc",
                "code": code,
                "name": format!("Kỳ {code}"),
                "window_start": window_start,
                "window_end": window_end,
                "due_date": due_date,
            }))
            .send()
            .await
            .unwrap();
        let p = json_of(res, 201).await;
        assert_eq!(p["status"], "open");
        Period {
            id: p["id"].as_str().unwrap().parse().unwrap(),
            code: code.to_string(),
            window_start,
            window_end,
            due_date,
        }
    }

    /// `PUT` of a report's data, with `If-Match` when given.
    pub fn put_report(
        &self,
        who: &Caller,
        period: &Period,
        unit: &str,
        data: &Value,
        if_match: Option<&str>,
    ) -> RequestBuilder {
        let mut r = self
            .req(who, Method::PUT, &report_path(period.id, unit))
            .json(data);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r
    }

    /// `POST …/{action}` (validate, submit, return, accept, reopen), with `If-Match`
    /// and a JSON body when given.
    pub fn act(
        &self,
        who: &Caller,
        period: &Period,
        unit: &str,
        action: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> RequestBuilder {
        let mut r = self.req(
            who,
            Method::POST,
            &format!("{}/{action}", report_path(period.id, unit)),
        );
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        r
    }

    /// The report as `who` reads it, with its ETag.
    pub async fn read(&self, who: &Caller, period: &Period, unit: &str) -> (Value, String) {
        report_of(self.get(who, &report_path(period.id, unit)).await, 200).await
    }

    /// Creates the report's draft (201) as `who`.
    pub async fn draft(
        &self,
        who: &Caller,
        period: &Period,
        unit: &str,
        data: &Value,
    ) -> (Value, String) {
        report_of(
            self.put_report(who, period, unit, data, None)
                .send()
                .await
                .unwrap(),
            201,
        )
        .await
    }

    /// Saves `data` over the existing report (200).
    pub async fn save(
        &self,
        who: &Caller,
        period: &Period,
        unit: &str,
        data: &Value,
        etag: &str,
    ) -> (Value, String) {
        report_of(
            self.put_report(who, period, unit, data, Some(etag))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await
    }

    /// A transition that must succeed (200).
    pub async fn transition(
        &self,
        who: &Caller,
        period: &Period,
        unit: &str,
        action: &str,
        etag: &str,
        body: Option<Value>,
    ) -> (Value, String) {
        report_of(
            self.act(who, period, unit, action, Some(etag), body)
                .send()
                .await
                .unwrap(),
            200,
        )
        .await
    }

    /// The reporter of `unit` drafts a complete report and submits it.
    pub async fn submitted(
        &self,
        reporter: &Caller,
        period: &Period,
        unit: &str,
    ) -> (Value, String) {
        let data = complete_report(period.window_start);
        let (_, etag) = self.draft(reporter, period, unit, &data).await;
        let (report, etag) = self
            .transition(reporter, period, unit, "submit", &etag, None)
            .await;
        assert_eq!(report["status"], "submitted");
        (report, etag)
    }

    /// Sends a request that must be refused with `status` and `code`, and proves the
    /// database is exactly as it was before; returns the problem document.
    pub async fn refused(&self, req: RequestBuilder, status: u16, code: &str) -> Value {
        let before = snapshot(&self.app).await;
        let res = req.send().await.unwrap();
        let problem = assert_problem(res, status, code).await;
        let after = snapshot(&self.app).await;
        assert_eq!(
            before, after,
            "a request refused with {status} {code} changed the database: {problem}"
        );
        problem
    }
}

/// Sends `req` while another transaction holds `sql` written but not committed (as a
/// concurrent request would), checks that `req` waits for that transaction instead of
/// going past it, commits, and returns `req`'s answer.
pub async fn send_across_uncommitted(app: &TestApp, sql: &str, req: RequestBuilder) -> Response {
    let mut other = app.db_conn().await;
    for statement in ["BEGIN", sql] {
        diesel::sql_query(statement)
            .execute(&mut other)
            .await
            .unwrap();
    }
    let sent = tokio::spawn(req.send());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!sent.is_finished(), "the request did not wait for: {sql}");
    diesel::sql_query("COMMIT")
        .execute(&mut other)
        .await
        .unwrap();
    sent.await.unwrap().unwrap()
}

/// Saves a change to unit A's draft in the open period while another transaction
/// holds `sql` written but uncommitted; the save must wait for it, then be refused
/// with 409 `code`, leaving the draft as it was. Returns the problem.
pub async fn save_refused_across_uncommitted(w: &World, sql: &str, code: &str) -> Value {
    let (p, a) = (&w.open, w.a.code.as_str());
    let good = complete_report(p.window_start);
    let (_, etag) = w.draft(&w.reporter_a, p, a, &good).await;
    let changed = with_value(good.clone(), "committee_meetings", json!(4));
    let res = send_across_uncommitted(
        &w.app,
        sql,
        w.put_report(&w.reporter_a, p, a, &changed, Some(&etag)),
    )
    .await;
    let problem = assert_problem(res, 409, code).await;
    let (report, tag) = w.read(&w.coordinator, p, a).await;
    assert_eq!(tag, etag);
    assert_eq!(report["data"], good);
    problem
}
