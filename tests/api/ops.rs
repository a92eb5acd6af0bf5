//! Operations endpoints and the framework's own errors, all as problem+json.

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    let body = assert_problem(
        app.get("/api/v1/no-such-thing").await,
        404,
        "route_not_found",
    )
    .await;
    assert_eq!(body["instance"], "/api/v1/no-such-thing");
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    let res = app.client.post(app.url("/healthz")).send().await.unwrap();
    let allow = res
        .headers()
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(allow, "GET");
    assert_problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_generated_otherwise() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "script-42.run_7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "script-42.run_7");

    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "no spaces allowed; really")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, "no spaces allowed; really");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    // Problems carry the same id in their body.
    let res = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 404, "route_not_found").await;
    assert_eq!(body["request_id"], "trace-me");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/nowhere/at/all").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="(unmatched)",status="404""#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections 8"), "{text}");
    assert!(text.contains("db_pool_connections_in_use"), "{text}");
}

#[tokio::test]
async fn openapi_document_and_swagger_ui_are_served_offline() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/readyz"]["get"].is_object());

    let res = app.get("/docs").await;
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], "/docs/");
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // The UI's assets come from the binary, not from a CDN.
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "{html}"
    );
    let res = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(res.status(), 200);
    let res = app.get("/docs/swagger-initializer.js").await;
    assert!(res.text().await.unwrap().contains("/api/v1/openapi.json"));
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app =
        crate::helpers::spawn_app_with(&[("GEREPORT_CORS_ORIGINS", "https://ui.example.gov.vn")])
            .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let res = preflight("https://ui.example.gov.vn").await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://ui.example.gov.vn"
    );
    let res = preflight("https://evil.example").await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    assert!(res.status().is_client_error());

    // With nothing configured, no origin is allowed.
    let closed = spawn_app().await;
    let res = closed
        .client
        .request(reqwest::Method::OPTIONS, closed.url("/api/v1/me"))
        .header("origin", "https://ui.example.gov.vn")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
}
