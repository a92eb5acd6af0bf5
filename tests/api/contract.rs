//! The client contract: what a frontend generated from the OpenAPI document relies on —
//! CORS headers on every answer, every failing field at once, Vietnamese texts,
//! content negotiation by q-value, accent-insensitive search, and request examples the
//! service accepts as they stand.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{connect, json_of};
use crate::helpers::{TestApp, assert_json, assert_problem, seed_admin, spawn_app, spawn_app_with};

const ORIGIN: &str = "https://ui.example.gov.vn";
const DEMO_PASSWORD: &str = "demo-password-2024";

/// A request from the allowed browser origin.
fn from_ui(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("origin", ORIGIN)
}

fn assert_cors(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    assert_eq!(
        h.get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(ORIGIN),
        "{what}: {} without Access-Control-Allow-Origin",
        res.status()
    );
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "etag",
        "location",
        "retry-after",
        "x-request-id",
        "content-disposition",
        "idempotent-replayed",
    ] {
        assert!(
            exposed.contains(name),
            "{what}: {name} not exposed ({exposed})"
        );
    }
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
}

/// Every status class a browser page must be able to read carries the CORS headers:
/// successes, 304, the framework's own refusals, the handlers', the throttle's.
#[tokio::test]
async fn every_answer_to_an_allowed_origin_carries_cors_headers() {
    let app = spawn_app_with(&[
        ("GEREPORT_CORS_ORIGINS", ORIGIN),
        ("GEREPORT_BODY_LIMIT", "2048"),
    ])
    .await;
    let admin = seed_admin(&app).await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut check = |res: reqwest::Response, status: u16, what: &str| {
        assert_eq!(res.status().as_u16(), status, "{what}");
        assert_cors(&res, what);
        seen.push(status);
        res
    };
    check(
        from_ui(&app, Method::GET, "/healthz").send().await.unwrap(),
        200,
        "liveness",
    );
    check(
        from_ui(&app, Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap(),
        401,
        "no token",
    );
    check(
        from_ui(&app, Method::GET, "/api/v1/nowhere")
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        404,
        "unknown route",
    );
    check(
        from_ui(&app, Method::DELETE, "/api/v1/me")
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        405,
        "wrong method",
    );
    check(
        from_ui(&app, Method::POST, "/api/v1/users")
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        400,
        "malformed JSON",
    );
    check(
        from_ui(&app, Method::POST, "/api/v1/users")
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap(),
        415,
        "not JSON",
    );
    check(
        from_ui(&app, Method::POST, "/api/v1/auth/login")
            .json(&json!({"username": "x", "password": "p".repeat(4000)}))
            .send()
            .await
            .unwrap(),
        413,
        "body over the limit",
    );
    check(
        from_ui(&app, Method::POST, "/api/v1/users").bearer_auth(&admin)
            .json(&json!({"username": "A B", "display_name": "", "role": "viewer", "unit": "SVHTT", "password": "short"}))
            .send().await.unwrap(),
        422,
        "validation",
    );
    let xdns = crate::fixtures::login(&app, "xdns", DEMO_PASSWORD).await;
    check(
        from_ui(&app, Method::GET, "/api/v1/users")
            .bearer_auth(&xdns.token)
            .send()
            .await
            .unwrap(),
        403,
        "role",
    );

    // A report: 428 without If-Match, 412 with a stale one.
    let period = json_of(app.get_as("/api/v1/periods?code=2024S1", &admin).await, 200).await;
    let period_id = period["items"][0]["id"].as_str().unwrap().to_string();
    let compilation = format!("/api/v1/periods/{period_id}/compilation");
    let res = check(
        from_ui(&app, Method::GET, &compilation)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        200,
        "compilation",
    );
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    check(
        from_ui(&app, Method::GET, &compilation)
            .bearer_auth(&admin)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap(),
        304,
        "poll",
    );
    check(
        from_ui(&app, Method::GET, &compilation)
            .bearer_auth(&admin)
            .header("accept", "image/png")
            .send()
            .await
            .unwrap(),
        406,
        "nothing acceptable",
    );
    let reports = json_of(
        app.get_as(
            &format!("/api/v1/reports?period={period_id}&status=submitted"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    let unit = reports["items"][0]["unit_code"].as_str().unwrap();
    let accept = format!("/api/v1/periods/{period_id}/reports/{unit}/accept");
    check(
        from_ui(&app, Method::POST, &accept)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        428,
        "no If-Match",
    );
    check(
        from_ui(&app, Method::POST, &accept)
            .bearer_auth(&admin)
            .header("if-match", "\"stale-1\"")
            .send()
            .await
            .unwrap(),
        412,
        "stale If-Match",
    );
    // Wrong passwords until the throttle answers; its Retry-After must be readable.
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            from_ui(&app, Method::POST, "/api/v1/auth/login")
                .json(&json!({"username": "tvhn", "password": "wrong-password-here"}))
                .send()
                .await
                .unwrap(),
        );
    }
    let res = check(last.unwrap(), 429, "throttle");
    assert!(res.headers().contains_key("retry-after"));

    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        [
            200, 304, 400, 401, 403, 404, 405, 406, 412, 413, 415, 422, 428, 429
        ]
    );
}

#[tokio::test]
async fn preflight_allows_the_headers_a_frontend_sends_and_refuses_other_origins() {
    let app = spawn_app_with(&[("GEREPORT_CORS_ORIGINS", ORIGIN)]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/periods/x/reports/y"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match, if-none-match, accept-language, idempotency-key",
            )
            .send()
    };
    let res = preflight(ORIGIN).await.unwrap();
    assert_eq!(res.status(), 204);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT")
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "accept-language",
        "idempotency-key",
    ] {
        assert!(allowed.contains(name), "{name} not allowed: {allowed}");
    }

    // Another origin: the preflight is refused, and ordinary answers carry no grant.
    let res = preflight("https://evil.example").await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}

/// A form with three bad fields gets three issues in one answer, not one per attempt.
#[tokio::test]
async fn every_failing_field_is_named_at_once() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let body = assert_problem(
        app.post_as(
            "/api/v1/users",
            &admin,
            &json!({"username": "Bad Name!", "display_name": "  ", "role": "viewer",
                    "unit": "SVHTT", "password": "short"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let mut paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["body.display_name", "body.password", "body.username"],
        "{body}"
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE display_name = '  '")
            .await,
        0
    );

    // An unknown enum value names its member and the allowed values.
    let body = assert_problem(
        app.post_as(
            "/api/v1/org-units",
            &admin,
            &json!({"code": "X1", "name": "X", "kind": "ministry"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.kind");
    assert_eq!(body["errors"][0]["code"], "unknown_variant");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("office") && message.contains("ministry"),
        "{message}"
    );
    assert!(!body.to_string().contains("line 1"), "{body}");
}

/// `Accept-Language: vi` gives Vietnamese titles, details and issue messages; the
/// default language is a setting.
#[tokio::test]
async fn problems_speak_vietnamese_when_asked() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("accept-language", "vi-VN,vi;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-language"], "vi");
    let body = assert_problem(res, 401, "missing_token").await;
    let vi = gereport::error::texts::problem("missing_token").unwrap();
    assert_eq!(body["title"], vi.title_vi);
    assert_eq!(body["detail"], vi.meaning_vi);

    // Issue messages too, whether the site wrote its own Vietnamese or not.
    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .header("accept-language", "vi")
        .json(
            &json!({"username": "Bad Name!", "display_name": "Lan", "role": "viewer",
                      "unit": "SVHTT", "password": "short"}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["title"], "Dữ liệu không hợp lệ");
    for issue in body["errors"].as_array().unwrap() {
        let code = issue["code"].as_str().unwrap();
        let text = gereport::error::texts::issue(code).unwrap();
        assert_ne!(issue["message"], text.message_en, "{issue}");
        assert!(!issue["message"].as_str().unwrap().is_ascii(), "{issue}");
    }
    // English otherwise.
    let res = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(res.headers()["content-language"], "en");
    let body = assert_problem(res, 401, "missing_token").await;
    assert_eq!(
        body["title"],
        gereport::error::texts::problem("missing_token")
            .unwrap()
            .title_en
    );

    // A Vietnamese deployment: Vietnamese unless English is asked for.
    let vi_app = spawn_app_with(&[("GEREPORT_DEFAULT_LANGUAGE", "vi")]).await;
    let res = vi_app
        .client
        .get(vi_app.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-language"], "vi");
    let res = vi_app
        .client
        .get(vi_app.url("/api/v1/me"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-language"], "en");
}

/// The document's `code` enum is exactly the table of texts, so a client that handles
/// every documented code handles every code the service sends, in both languages.
#[test]
fn the_documented_codes_are_the_translated_ones() {
    let doc: Value = serde_json::from_str(&gereport::openapi::document_json().unwrap()).unwrap();
    let documented: Vec<&str> =
        doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
    let table: Vec<&str> = gereport::error::texts::PROBLEMS
        .iter()
        .map(|t| t.code)
        .collect();
    assert_eq!(documented, table);
}

/// Every problem code a handler can construct is in the table: the source is scanned
/// for the constructors and the literal code each is given.
#[test]
fn every_code_in_the_source_has_its_texts() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut files = vec![std::path::PathBuf::from(root)];
    let mut missing = Vec::new();
    let mut found = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for ctor in [
            "ApiError::new(",
            "ApiError::bad_request(",
            "ApiError::conflict(",
            "ApiError::unauthorized(",
            "oauth_error(",
        ] {
            for (at, _) in text.match_indices(ctor) {
                if text[..at].ends_with("fn ") {
                    continue; // the definition of a helper, not a call
                }
                let rest = &text[at + ctor.len()..];
                // The arguments: up to the parenthesis that closes the call.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map_or(rest.len(), |(i, _)| i);
                let call = &rest[..end];
                // The code is the first string literal of the call (after a status).
                let Some(start) = call.find('"') else {
                    continue;
                };
                let literal = &call[start + 1..];
                let code = &literal[..literal.find('"').unwrap()];
                if code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && !code.is_empty() {
                    found += 1;
                    if gereport::error::texts::problem(code).is_none() {
                        missing.push(format!("{}: {code}", path.display()));
                    }
                }
            }
        }
    }
    assert!(found > 40, "the scan found only {found} codes");
    assert!(missing.is_empty(), "codes without texts: {missing:?}");
}

#[tokio::test]
async fn the_compilation_is_negotiated_by_q_values() {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let coordinator = crate::fixtures::login(&app, "coordinator", DEMO_PASSWORD).await;
    let period = json_of(
        app.get_as("/api/v1/periods?code=2024", &coordinator.token)
            .await,
        200,
    )
    .await;
    let path = format!(
        "/api/v1/periods/{}/compilation",
        period["items"][0]["id"].as_str().unwrap()
    );
    for (accept, status, expected) in [
        ("application/json, text/csv;q=0", 200, "application/json"),
        ("text/csv;q=0.9, application/json;q=0.5", 200, "text/csv"),
        ("text/*", 200, "text/csv"),
        ("*/*", 200, "application/json"),
        ("text/csv;q=0, */*;q=0.1", 200, "application/json"),
        ("image/png, text/csv;q=0", 406, "application/problem+json"),
    ] {
        let res = app
            .client
            .get(app.url(&path))
            .bearer_auth(&coordinator.token)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{accept}");
        let ct = res.headers()["content-type"].to_str().unwrap();
        assert!(ct.starts_with(expected), "{accept}: {ct}");
    }
}

/// `q=thu vien` finds "Thư viện …": case and Vietnamese diacritics are ignored, for
/// units and for people.
#[tokio::test]
async fn search_ignores_diacritics_and_case() {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let admin = crate::fixtures::login(&app, "admin", DEMO_PASSWORD).await;
    app.post_as(
        "/api/v1/org-units",
        &admin.token,
        &json!({"code": "TVQG", "name": "Thư viện Quốc gia thử nghiệm", "kind": "subordinate_unit", "parent": "SVHTT"}),
    )
    .await;
    for q in ["thu vien quoc gia", "THƯ VIỆN QUỐC", "thu%20vi"] {
        let page = json_of(
            app.get_as(&format!("/api/v1/org-units?q={q}"), &admin.token)
                .await,
            200,
        )
        .await;
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"Thư viện Quốc gia thử nghiệm"),
            "{q}: {names:?}"
        );
    }
    let page = json_of(
        app.get_as("/api/v1/org-units?q=thu%20vien%20tinh", &admin.token)
            .await,
        200,
    )
    .await;
    assert_eq!(page["total"], 0);

    let user = json!({"username": "dang.hoa", "display_name": "Đặng Thị Hòa", "role": "viewer",
                      "unit": "SVHTT", "password": "a long enough password"});
    assert_json(app.post_as("/api/v1/users", &admin.token, &user).await, 201).await;
    let page = json_of(
        app.get_as("/api/v1/users?q=dang%20thi%20hoa", &admin.token)
            .await,
        200,
    )
    .await;
    assert_eq!(page["total"], 1, "{page}");
}

/// `from` and `to` take a date as well as an instant; a date is a whole day in Vietnam.
#[tokio::test]
async fn the_audit_filter_takes_dates() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let today = crate::fixtures::today_vn();
    let tomorrow = today.succ_opt().unwrap();
    let all = json_of(app.get_as("/api/v1/audit", &admin).await, 200).await;
    assert!(all["total"].as_i64().unwrap() > 0);
    let from_today = json_of(
        app.get_as(&format!("/api/v1/audit?from={today}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(from_today["total"], all["total"]);
    let until_today = json_of(
        app.get_as(&format!("/api/v1/audit?to={today}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(until_today["total"], all["total"]);
    let from_tomorrow = json_of(
        app.get_as(&format!("/api/v1/audit?from={tomorrow}"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(from_tomorrow["total"], 0);
    let body = assert_problem(
        app.get_as("/api/v1/audit?from=yesterday", &admin).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "query.from");
}

/// The examples of the document, sent as they stand to the demo department (what
/// Swagger UI's "Try it out" does), succeed. Tokens and secrets cannot be known in
/// advance, so the refresh and client-credentials examples are placeholders.
#[tokio::test]
async fn request_examples_are_accepted_as_they_stand() {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let admin = crate::fixtures::login(&app, "admin", DEMO_PASSWORD)
        .await
        .token;
    let (app, admin) = (&app, admin.as_str());
    let doc: Value = serde_json::from_str(&gereport::openapi::document_json().unwrap()).unwrap();
    let example = |path: &str, method: &str| -> Value {
        let content = &doc["paths"][path][method]["requestBody"]["content"];
        match &content["application/json"]["example"] {
            Value::Null => content["application/octet-stream"]["example"].clone(),
            v => v.clone(),
        }
    };
    let send = |method: Method, path: String, body: Value, if_match: Option<String>| {
        let mut req = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(admin)
            .json(&body);
        if let Some(tag) = if_match {
            req = req.header("if-match", tag);
        }
        async move { req.send().await.unwrap() }
    };
    let ok = |res: reqwest::Response, what: &'static str| async move {
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(status.is_success(), "{what}: {status} {body}");
        serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)
    };
    let mut tried = std::collections::BTreeSet::new();
    let mut run = |id: &'static str| {
        tried.insert(id);
        id
    };

    let plans = json_of(app.get_as("/api/v1/plans", admin).await, 200).await;
    let plan = plans["items"][0]["id"].as_str().unwrap().to_string();
    let periods = json_of(app.get_as("/api/v1/periods?code=2024", admin).await, 200).await;
    let period = periods["items"][0]["id"].as_str().unwrap().to_string();

    ok(
        app.post_json("/api/v1/auth/login", &example("/api/v1/auth/login", "post"))
            .await,
        run("login"),
    )
    .await;
    let unit = ok(
        send(
            Method::POST,
            "/api/v1/org-units".into(),
            example("/api/v1/org-units", "post"),
            None,
        )
        .await,
        run("createOrgUnit"),
    )
    .await;
    assert_eq!(unit["code"], "TTVHTT-BV");
    ok(
        send(
            Method::PATCH,
            "/api/v1/org-units/XDNS".into(),
            example("/api/v1/org-units/{unit}", "patch"),
            None,
        )
        .await,
        run("updateOrgUnit"),
    )
    .await;
    let user = ok(
        send(
            Method::POST,
            "/api/v1/users".into(),
            example("/api/v1/users", "post"),
            None,
        )
        .await,
        run("createUser"),
    )
    .await;
    let user_id = user["id"].as_str().unwrap().to_string();
    ok(
        send(
            Method::PATCH,
            format!("/api/v1/users/{user_id}"),
            example("/api/v1/users/{user_id}", "patch"),
            None,
        )
        .await,
        run("updateUser"),
    )
    .await;
    ok(
        send(
            Method::POST,
            format!("/api/v1/users/{user_id}/password"),
            example("/api/v1/users/{user_id}/password", "post"),
            None,
        )
        .await,
        run("resetUserPassword"),
    )
    .await;
    ok(
        send(
            Method::POST,
            "/api/v1/service-clients".into(),
            example("/api/v1/service-clients", "post"),
            None,
        )
        .await,
        run("createServiceClient"),
    )
    .await;
    ok(
        send(
            Method::POST,
            "/api/v1/plans".into(),
            example("/api/v1/plans", "post"),
            None,
        )
        .await,
        run("createPlan"),
    )
    .await;
    ok(
        send(
            Method::PATCH,
            format!("/api/v1/plans/{plan}"),
            example("/api/v1/plans/{plan_id}", "patch"),
            None,
        )
        .await,
        run("updatePlan"),
    )
    .await;
    ok(
        send(
            Method::PUT,
            format!("/api/v1/plans/{plan}/form"),
            example("/api/v1/plans/{plan_id}/form", "put"),
            None,
        )
        .await,
        run("savePlanForm"),
    )
    .await;
    let copy = ok(
        send(
            Method::POST,
            format!("/api/v1/plans/{plan}/copy"),
            example("/api/v1/plans/{plan_id}/copy", "post"),
            None,
        )
        .await,
        run("copyPlan"),
    )
    .await;
    assert_eq!(copy["plan"]["year"], 2025, "{copy}");
    let codes = ok(
        send(
            Method::PUT,
            format!("/api/v1/plans/{plan}/data-element-codes"),
            example("/api/v1/plans/{plan_id}/data-element-codes", "put"),
            None,
        )
        .await,
        run("setDataElementCodes"),
    )
    .await;
    assert_eq!(codes["version"], 1, "{codes}");
    let indicator = ok(
        send(
            Method::POST,
            format!("/api/v1/plans/{plan}/indicators"),
            example("/api/v1/plans/{plan_id}/indicators", "post"),
            None,
        )
        .await,
        run("createIndicator"),
    )
    .await;
    let indicator = indicator["id"].as_str().unwrap().to_string();
    ok(
        send(
            Method::PATCH,
            format!("/api/v1/indicators/{indicator}"),
            example("/api/v1/indicators/{indicator_id}", "patch"),
            None,
        )
        .await,
        run("updateIndicator"),
    )
    .await;
    let task = ok(
        send(
            Method::POST,
            format!("/api/v1/plans/{plan}/tasks"),
            example("/api/v1/plans/{plan_id}/tasks", "post"),
            None,
        )
        .await,
        run("createPlanTask"),
    )
    .await;
    let task = task["id"].as_str().unwrap().to_string();
    ok(
        send(
            Method::PUT,
            format!("/api/v1/plans/{plan}/tasks/{task}"),
            example("/api/v1/plans/{plan_id}/tasks/{task_id}", "put"),
            None,
        )
        .await,
        run("replacePlanTask"),
    )
    .await;
    let adhoc = ok(
        send(
            Method::POST,
            format!("/api/v1/plans/{plan}/periods"),
            example("/api/v1/plans/{plan_id}/periods", "post"),
            None,
        )
        .await,
        run("createPeriod"),
    )
    .await;
    let adhoc = adhoc["id"].as_str().unwrap().to_string();
    ok(
        send(
            Method::PATCH,
            format!("/api/v1/periods/{period}"),
            example("/api/v1/periods/{period_id}", "patch"),
            None,
        )
        .await,
        run("updatePeriod"),
    )
    .await;
    ok(
        send(
            Method::PUT,
            format!("/api/v1/periods/{period}/extensions/XDNS"),
            example("/api/v1/periods/{period_id}/extensions/{unit}", "put"),
            None,
        )
        .await,
        run("extendDueDate"),
    )
    .await;
    ok(
        send(
            Method::PUT,
            format!("/api/v1/periods/{period}/expected-units/XDNS"),
            example("/api/v1/periods/{period_id}/expected-units/{unit}", "put"),
            None,
        )
        .await,
        run("addExpectedUnit"),
    )
    .await;

    let report_path = "/api/v1/periods/{period_id}/reports/{unit}";
    ok(
        send(
            Method::PUT,
            format!("/api/v1/periods/{adhoc}/reports/XDNS"),
            example(report_path, "put"),
            None,
        )
        .await,
        run("saveReportDraft"),
    )
    .await;
    // The draft as a workbook, sent back as it came: saved again as it is.
    let workbook = app
        .get_as(
            &format!("/api/v1/periods/{adhoc}/reports/XDNS/template.xlsx"),
            admin,
        )
        .await;
    let tag = workbook.headers()["etag"].to_str().unwrap().to_string();
    let bytes = workbook.bytes().await.unwrap();
    ok(
        app.client
            .put(app.url(&format!(
                "/api/v1/periods/{adhoc}/reports/XDNS/template.xlsx"
            )))
            .bearer_auth(admin)
            .header("content-type", gereport::sheets::XLSX)
            .header("if-match", tag)
            .body(bytes)
            .send()
            .await
            .unwrap(),
        run("importReportWorkbook"),
    )
    .await;
    // The upload's example is a (tiny) PDF as it stands.
    let pdf = example(
        "/api/v1/periods/{period_id}/reports/{unit}/attachments",
        "post",
    );
    let pdf = pdf.as_str().unwrap().to_string();
    ok(
        app.client
            .post(app.url(&format!(
                "/api/v1/periods/{adhoc}/reports/XDNS/attachments?kind=signed_report&filename=b%C3%A1o-c%C3%A1o.pdf"
            )))
            .bearer_auth(admin)
            .header("content-type", "application/octet-stream")
            .body(pdf)
            .send()
            .await
            .unwrap(),
        run("uploadAttachment"),
    )
    .await;
    // A dry run of two new drafts in the ad hoc period: both would be created.
    let imported = ok(
        send(
            Method::POST,
            format!("/api/v1/periods/{adhoc}/reports:batch"),
            example("/api/v1/periods/{period_id}/reports:batch", "post"),
            None,
        )
        .await,
        run("importReports"),
    )
    .await;
    assert_eq!(imported["summary"]["created"], 2, "{imported}");
    let result = ok(
        send(
            Method::POST,
            format!("/api/v1/periods/{period}/reports/XDNS/validate"),
            example(&format!("{report_path}/validate"), "post"),
            None,
        )
        .await,
        run("validateReport"),
    )
    .await;
    assert_eq!(result["valid"], true, "{result}");
    assert_eq!(result["warnings"], json!([]), "{result}");

    // Review transitions on reports in the states they need.
    let in_state = |status: &'static str| {
        let path = format!("/api/v1/reports?period={period}&status={status}");
        async move {
            let page = json_of(app.get_as(&path, admin).await, 200).await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["unit_code"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let etag = |unit: String| {
        let path = format!("/api/v1/periods/{period}/reports/{unit}");
        async move {
            app.get_as(&path, admin).await.headers()["etag"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    let submitted = in_state("submitted").await;
    assert!(submitted.len() >= 2, "the demo has two submitted reports");
    let accepted = in_state("accepted").await;
    for (unit, action, id) in [
        (submitted[0].clone(), "return", "returnReport"),
        (submitted[1].clone(), "accept", "acceptReport"),
        (accepted[0].clone(), "reopen", "reopenReport"),
    ] {
        let tag = etag(unit.clone()).await;
        let body = example(&format!("{report_path}/{action}"), "post");
        ok(
            send(
                Method::POST,
                format!("/api/v1/periods/{period}/reports/{unit}/{action}"),
                body,
                Some(tag),
            )
            .await,
            run(id),
        )
        .await;
    }
    // The unit head's sign-off, on a draft of the demo: with the plan asking for it,
    // the admin's submission waits; a head of the unit declines it, then approves the
    // resubmission.
    let unit = in_state("draft").await[0].clone();
    let plan_path = format!("/api/v1/plans/{plan}");
    ok(
        send(
            Method::PATCH,
            plan_path.clone(),
            json!({ "head_sign_off": true }),
            None,
        )
        .await,
        "head sign-off on",
    )
    .await;
    let head_password = "mật-khẩu-thủ-trưởng-2024";
    ok(
        send(
            Method::POST,
            "/api/v1/users".into(),
            json!({ "username": "thu.truong", "display_name": "Thủ trưởng đơn vị", "role": "reporter",
                    "unit": unit, "password": head_password, "unit_head": true }),
            None,
        )
        .await,
        "a unit head",
    )
    .await;
    let head = crate::fixtures::login(app, "thu.truong", head_password)
        .await
        .token;
    let as_head = |action: &'static str, tag: String| {
        let body = example(&format!("{report_path}/{action}"), "post");
        app.client
            .post(app.url(&format!("/api/v1/periods/{period}/reports/{unit}/{action}")))
            .bearer_auth(&head)
            .header("if-match", tag)
            .json(&body)
            .send()
    };
    for (action, id, status) in [
        ("decline", "declineReport", "returned"),
        ("approve", "approveReport", "submitted"),
    ] {
        let tag = etag(unit.clone()).await;
        let waiting = ok(
            send(
                Method::POST,
                format!("/api/v1/periods/{period}/reports/{unit}/submit"),
                json!(null),
                Some(tag),
            )
            .await,
            "submit for the head",
        )
        .await;
        assert_eq!(waiting["status"], "awaiting_approval", "{waiting}");
        let tag = etag(unit.clone()).await;
        let done = ok(as_head(action, tag).await.unwrap(), run(id)).await;
        assert_eq!(done["status"], status, "{done}");
    }
    ok(
        send(
            Method::PATCH,
            plan_path,
            json!({ "head_sign_off": false }),
            None,
        )
        .await,
        "head sign-off off",
    )
    .await;
    let webhook = ok(
        send(
            Method::POST,
            "/api/v1/webhooks".into(),
            example("/api/v1/webhooks", "post"),
            None,
        )
        .await,
        run("createWebhook"),
    )
    .await;
    ok(
        send(
            Method::PATCH,
            format!("/api/v1/webhooks/{}", webhook["id"].as_str().unwrap()),
            example("/api/v1/webhooks/{webhook_id}", "patch"),
            None,
        )
        .await,
        run("updateWebhook"),
    )
    .await;
    for (method, path, template, id) in [
        (
            Method::PUT,
            format!("/api/v1/periods/{period}/reminders"),
            "/api/v1/periods/{period_id}/reminders",
            "putReminderSchedule",
        ),
        (
            Method::POST,
            format!("/api/v1/periods/{period}/reminders:send"),
            "/api/v1/periods/{period_id}/reminders:send",
            "remindMissingUnits",
        ),
        (
            Method::PUT,
            "/api/v1/me/notification-settings".to_string(),
            "/api/v1/me/notification-settings",
            "putMyNotificationSettings",
        ),
        (
            Method::PUT,
            "/api/v1/org-units/SVHTT/document-settings".to_string(),
            "/api/v1/org-units/{unit}/document-settings",
            "putDocumentSettings",
        ),
    ] {
        let verb = method.as_str().to_lowercase();
        ok(
            send(method, path, example(template, &verb), None).await,
            run(id),
        )
        .await;
    }
    ok(
        send(
            Method::POST,
            "/api/v1/me/password".into(),
            example("/api/v1/me/password", "post"),
            None,
        )
        .await,
        run("changeOwnPassword"),
    )
    .await;
    // The password change ended the admin's sessions; the logout needs a new one.
    let changed = example("/api/v1/me/password", "post");
    let admin = crate::fixtures::login(app, "admin", changed["new_password"].as_str().unwrap())
        .await
        .token;
    ok(
        app.client
            .post(app.url("/api/v1/auth/logout"))
            .bearer_auth(&admin)
            .json(&example("/api/v1/auth/logout", "post"))
            .send()
            .await
            .unwrap(),
        run("logout"),
    )
    .await;

    // Every example of the document was tried, but for the two that hold a secret.
    let mut with_examples: Vec<&str> = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if !op["requestBody"].is_null() {
                let id = op["operationId"].as_str().unwrap();
                assert!(
                    op["requestBody"]["content"]
                        .as_object()
                        .unwrap()
                        .values()
                        .all(|m| !m["example"].is_null()),
                    "{id} has no example"
                );
                if !["refreshToken", "issueClientToken"].contains(&id) {
                    with_examples.push(id);
                }
            }
        }
    }
    with_examples.sort_unstable();
    assert_eq!(with_examples, tried.into_iter().collect::<Vec<_>>());
}

/// What the document allows is accepted in every spelling JSON Schema allows: a whole
/// number written `2030.0`, and `null` for an optional body.
#[tokio::test]
async fn json_schema_spellings_of_valid_bodies_are_accepted() {
    let w = crate::fixtures::World::new().await;
    let plan = |year: Value, number: &str| {
        w.req(&w.coordinator, Method::POST, "/api/v1/plans")
            .json(&json!({
                "year": year,
                "document_number": number,
                "title": "Kế hoạch năm 2030",
                "issuing_unit": "DEPT",
            }))
    };
    let created = json_of(
        plan(json!(2030.0), "30/KH-SVHTT").send().await.unwrap(),
        201,
    )
    .await;
    assert_eq!(created["year"], 2030);
    let problem = w
        .refused(plan(json!(2030.5), "31/KH-SVHTT"), 422, "validation_failed")
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.year", "{problem}");

    // `null` as the body of the dry run checks the stored report, as no body does.
    let (p, unit) = (&w.open, w.a.code.as_str());
    w.draft(
        &w.reporter_a,
        p,
        unit,
        &crate::fixtures::complete_report(p.window_start),
    )
    .await;
    let res = w
        .act(&w.reporter_a, p, unit, "validate", None, Some(Value::Null))
        .send()
        .await
        .unwrap();
    let result = json_of(res, 200).await;
    assert_eq!(result["valid"], true, "{result}");
}

/// A client that accepts gzip gets the compilation gzipped (the demo's narratives make
/// it large), and the same bytes once unpacked; one that does not, gets it plain.
#[tokio::test]
async fn answers_are_gzipped_for_clients_that_accept_it() {
    let app = spawn_app().await;
    let mut conn = connect(&app).await;
    gereport::demo::load(&mut conn, DEMO_PASSWORD)
        .await
        .unwrap();
    let coordinator = crate::fixtures::login(&app, "coordinator", DEMO_PASSWORD).await;
    let period = json_of(
        app.get_as("/api/v1/periods?code=2024", &coordinator.token)
            .await,
        200,
    )
    .await;
    let path = format!(
        "/api/v1/periods/{}/compilation",
        period["items"][0]["id"].as_str().unwrap()
    );
    let get = |encoding: &'static str| {
        app.client
            .get(app.url(&path))
            .bearer_auth(&coordinator.token)
            .header("accept-encoding", encoding)
            .send()
    };
    let plain = get("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let zipped = get("gzip").await.unwrap();
    assert_eq!(zipped.status().as_u16(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let vary: Vec<String> = zipped
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(
        vary.iter().any(|v| v.contains("accept-encoding")),
        "{vary:?}"
    );
    let zipped = zipped.bytes().await.unwrap();
    assert_eq!(&zipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        zipped.len() * 3 < plain.len(),
        "{} vs {}",
        zipped.len(),
        plain.len()
    );
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut unpacked,
    )
    .unwrap();
    // The same document (but for the moment it was generated).
    let figures = |bytes: &[u8]| {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        v.as_object_mut().unwrap().remove("generated_at");
        v
    };
    assert!(figures(&unpacked) == figures(&plain), "unpacked differs");
}
