//! The framework's own errors (malformed JSON, wrong content type, body too large, bad
//! path or query parameters, unknown fields) leave as problem+json with a stable code
//! and, where a field is at fault, its path.

use serde_json::json;

use crate::helpers::{assert_problem, seed_admin, spawn_app, spawn_app_with};

const LOGIN: &str = "/api/v1/auth/login";

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    for (path, token, truncated) in [
        (LOGIN, None, r#"{"username": "admin", "password": "#),
        (
            "/api/v1/org-units",
            Some(admin.as_str()),
            r#"{"code": "X1", "name": "Phòng"#,
        ),
        ("/api/v1/org-units", Some(admin.as_str()), "{'code': 'X1'}"),
    ] {
        let mut req = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(truncated);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body = assert_problem(req.send().await.unwrap(), 400, "malformed_json").await;
        assert_eq!(body["instance"], path);
        assert!(
            body["detail"].as_str().unwrap().contains("not valid JSON"),
            "{body}"
        );
    }
    // An empty body is malformed too, not a missing-field validation error.
    let res = app
        .client
        .post(app.url(LOGIN))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "malformed_json").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url(LOGIN))
        .header("content-type", "text/plain")
        .body(r#"{"username":"admin","password":"admin-password-for-tests"}"#)
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 415, "unsupported_media_type").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );

    // The token endpoint takes a form or JSON, nothing else.
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app_with(&[("GEREPORT_BODY_LIMIT", "1024")]).await;

    // Just under the limit the body is read and judged on its merits.
    let small = json!({ "username": "nobody", "password": "p".repeat(900) });
    assert!(small.to_string().len() < 1024);
    let res = app.post_json(LOGIN, &small).await;
    assert_problem(res, 401, "invalid_credentials").await;

    let big = json!({ "username": "nobody", "password": "p".repeat(2000) });
    let body = assert_problem(app.post_json(LOGIN, &big).await, 413, "body_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("1024"), "{body}");

    // The form-encoded token endpoint reads raw bytes under the same limit.
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id=x&client_secret={}",
            "s".repeat(2000)
        ))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "body_too_large").await;
}

#[tokio::test]
async fn bad_path_and_query_parameters_are_400_problems() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;

    for path in [
        "/api/v1/users/not-a-uuid",
        "/api/v1/service-clients/not-a-uuid",
        "/api/v1/users/not-a-uuid/password",
    ] {
        let method = if path.ends_with("password") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let mut req = app.authed(method, path, &admin);
        if path.ends_with("password") {
            req = req.json(&json!({ "new_password": "long-enough-password" }));
        }
        let body = assert_problem(req.send().await.unwrap(), 400, "invalid_path").await;
        assert_eq!(body["errors"][0]["path"], "path", "{path}: {body}");
        assert_eq!(body["instance"], path);
    }

    // Not a number at all: the parameter is named, with no parser wording.
    let body = assert_problem(
        app.get_as("/api/v1/org-units?limit=abc", &admin).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "query.limit", "{body}");
    assert_eq!(body["errors"][0]["code"], "invalid_value", "{body}");
    assert!(!body.to_string().contains("deserialize"), "{body}");

    // A number past the hard cap: the field itself is named.
    for limit in ["100000", "501", "0", "-1"] {
        let body = assert_problem(
            app.get_as(&format!("/api/v1/org-units?limit={limit}"), &admin)
                .await,
            400,
            "invalid_query",
        )
        .await;
        assert_eq!(body["errors"][0]["path"], "query.limit", "{limit}: {body}");
        assert_eq!(body["errors"][0]["code"], "out_of_range", "{body}");
    }
    let body = assert_problem(
        app.get_as("/api/v1/users?offset=-5", &admin).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "query.offset", "{body}");

    // Unknown query parameters and values of the wrong type are refused, not ignored.
    for query in [
        "/api/v1/org-units?colour=red",
        "/api/v1/org-units?active=maybe",
        "/api/v1/org-units?kind=ministry",
        "/api/v1/users?role=root",
        "/api/v1/audit?from=yesterday",
        "/api/v1/audit?actor_id=nobody",
    ] {
        assert_problem(app.get_as(query, &admin).await, 400, "invalid_query").await;
    }
    // The cap itself is allowed.
    let res = app.get_as("/api/v1/org-units?limit=500", &admin).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn unknown_and_missing_body_fields_are_422_problems_naming_the_field() {
    let app = spawn_app().await;

    let body = assert_problem(
        app.post_json(
            LOGIN,
            &json!({ "username": "admin", "password": "whatever-it-is", "role": "admin" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.role", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field"),
        "{body}"
    );

    let body = assert_problem(
        app.post_json(LOGIN, &json!({ "username": "admin" })).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.password", "{body}");

    let admin = seed_admin(&app).await;
    let body = assert_problem(
        app.post_as(
            "/api/v1/org-units",
            &admin,
            &json!({ "code": "X1", "name": "X", "kind": "office", "colour": "red" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.colour", "{body}");
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM org_units WHERE code = 'X1'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_its_field_not_the_value() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    // serde_json says "unknown variant `superadmin`" and "invalid type: integer `5`":
    // the quoted text is the value, not a field, so it must not become `body.superadmin`;
    // the member that holds it is named instead, and the message lists what is allowed.
    for (bad, value) in [
        (
            json!({ "username": "eve", "display_name": "Eve", "role": "superadmin",
                    "unit": "SVHTT", "password": "long-enough-password" }),
            "superadmin",
        ),
        (
            json!({ "username": "eve", "display_name": 5, "role": "viewer",
                    "unit": "SVHTT", "password": "long-enough-password" }),
            "5",
        ),
    ] {
        let body = assert_problem(
            app.post_as("/api/v1/users", &admin, &bad).await,
            422,
            "validation_failed",
        )
        .await;
        let path = body["errors"][0]["path"].as_str().unwrap();
        assert_ne!(path, format!("body.{value}"), "{body}");
        assert!(path == "body.role" || path == "body.display_name", "{body}");
        assert!(
            !body["detail"].as_str().unwrap().contains("line 1"),
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(value),
            "{body}"
        );
    }
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE username = 'eve'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_nul_character_anywhere_is_a_400_not_a_500() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    for path in [
        "/api/v1/org-units/%00",
        "/api/v1/org-units/A%00B/subtree",
        "/api/v1/org-units?q=%00",
        "/api/v1/users?q=a%00",
        "/api/v1/audit?object_type=%00",
    ] {
        let body = assert_problem(app.get_as(path, &admin).await, 400, "invalid_character").await;
        assert!(body["detail"].as_str().unwrap().contains("NUL"), "{body}");
    }
    let res = app
        .post_json(
            LOGIN,
            &json!({ "username": "ad\u{0}min", "password": "admin-password-for-tests" }),
        )
        .await;
    assert_problem(res, 400, "invalid_character").await;
    let res = app
        .post_as(
            "/api/v1/org-units",
            &admin,
            &json!({ "code": "NUL1", "name": "Phòng\u{0}", "kind": "office", "parent": "SVHTT" }),
        )
        .await;
    assert_problem(res, 400, "invalid_character").await;
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM org_units WHERE code = 'NUL1'")
            .await,
        0
    );
    // The service is fine afterwards.
    assert_eq!(app.get_as("/api/v1/me", &admin).await.status(), 200);
}

#[tokio::test]
async fn a_missing_or_unreadable_token_is_a_401_problem_with_a_challenge() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/me").await;
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"gereport\""
    );
    assert_problem(res, 401, "missing_token").await;

    for header in [
        "Bearer",
        "Bearer    ",
        "Basic YWRtaW46YWRtaW4=",
        "Token abc",
    ] {
        let res = app
            .client
            .get(app.url("/api/v1/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "invalid_token").await;
    }
}
