//! Hardening: sessions that end in every service process, no replay for an account
//! that may no longer act, bounded statements, bodies that must arrive, and the
//! headers every answer carries.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fixtures::{World, complete_report};
use crate::helpers::{
    ADMIN_PASSWORD, PASSWORD, assert_json, assert_problem, create_user, login, seed_admin,
    spawn_app, spawn_app_with, start_server, test_settings,
};

/// Polls `probe` until it answers `status`, for at most `within`; returns how long
/// it took.
async fn until_status(
    within: Duration,
    status: u16,
    probe: impl AsyncFn() -> reqwest::Response,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = probe().await.status().as_u16();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {got} after {within:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Two service processes on one database: a logout, a password change, an admin's
/// reset, a role change and a deactivation made through one end the access tokens
/// the other accepts, within seconds.
#[tokio::test]
async fn sessions_end_in_every_process_within_seconds() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let other = start_server(test_settings(&app.db.url, &[])).await;
    let me_at_other = |token: String| {
        let (client, url) = (app.client.clone(), format!("{other}/api/v1/me"));
        async move || client.get(&url).bearer_auth(&token).send().await.unwrap()
    };
    let within = Duration::from_secs(5);

    // Logout of every session, through the first process.
    create_user(&app, &admin, "lan", "reporter", "SVHTT").await;
    let pair = login(&app, "lan", PASSWORD).await;
    let probe = me_at_other(pair.access_token.clone());
    assert_eq!(probe().await.status(), 200);
    let res = app
        .post_as("/api/v1/auth/logout", &pair.access_token, &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    until_status(within, 401, probe).await;
    // A new login works at once, even within the same second.
    let pair = login(&app, "lan", PASSWORD).await;
    let probe = me_at_other(pair.access_token.clone());
    assert_eq!(probe().await.status(), 200);

    // The user's own password change.
    let res = app
        .post_as(
            "/api/v1/me/password",
            &pair.access_token,
            &json!({"current_password": PASSWORD, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(res.status(), 204);
    until_status(within, 401, probe).await;

    // An admin's reset, a role change and a deactivation.
    let id = app
        .db_text("SELECT id::text AS t FROM users WHERE username = 'lan'")
        .await;
    for change in [
        (
            "password",
            json!({"new_password": "reset by the admin 2024"}),
        ),
        ("", json!({"role": "viewer"})),
        ("", json!({"active": false})),
    ] {
        let current = match change.1.get("new_password") {
            Some(_) => "a brand new password",
            None => "reset by the admin 2024",
        };
        let pair = login(&app, "lan", current).await;
        let probe = me_at_other(pair.access_token.clone());
        assert_eq!(probe().await.status(), 200);
        let res = match change.0 {
            "password" => {
                app.post_as(&format!("/api/v1/users/{id}/password"), &admin, &change.1)
                    .await
            }
            _ => {
                app.patch_as(&format!("/api/v1/users/{id}"), &admin, &change.1)
                    .await
            }
        };
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        until_status(within, 401, probe).await;
    }
    assert_eq!(
        login_status(&app, "admin", ADMIN_PASSWORD).await,
        200,
        "nobody else's session ended"
    );
}

async fn login_status(app: &crate::helpers::TestApp, user: &str, password: &str) -> u16 {
    crate::helpers::try_login(app, user, password)
        .await
        .status()
        .as_u16()
}

/// A stored answer is replayed only to a caller who may still act: a deactivated
/// account's still-valid token gets 401, not the replay.
#[tokio::test]
async fn no_replay_for_a_deactivated_account() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let submit = || {
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", "replay-after-deactivation")
    };
    assert_eq!(submit().send().await.unwrap().status(), 200);
    let replay = submit().send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let res = w
        .req(
            &w.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", w.reporter_a.id),
        )
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = submit().send().await.unwrap();
    assert!(!res.headers().contains_key("idempotent-replayed"));
    assert_problem(res, 401, "account_disabled").await;
}

/// A query blocked in the database gives up after the lock timeout and answers 503
/// with Retry-After, instead of holding its connection for as long as the block lasts.
#[tokio::test]
async fn a_blocked_write_becomes_a_503_not_a_held_connection() {
    let app = spawn_app_with(&[("GEREPORT_DB_LOCK_TIMEOUT_MS", "300")]).await;
    let admin = seed_admin(&app).await;
    let user = create_user(&app, &admin, "held", "viewer", "SVHTT").await;
    // Another session holds the user's row.
    let mut blocker = app.db_conn().await;
    use diesel_async::SimpleAsyncConnection;
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM users WHERE id = '{}' FOR UPDATE",
            user.id
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let res = app
        .patch_as(
            &format!("/api/v1/users/{}", user.id),
            &admin,
            &json!({"display_name": "Changed"}),
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503, "database_unavailable").await;
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let res = app
        .patch_as(
            &format!("/api/v1/users/{}", user.id),
            &admin,
            &json!({"display_name": "Changed"}),
        )
        .await;
    assert_json(res, 200).await;
}

/// A body sent half-way and then left is answered 408 once the body timeout passes.
#[tokio::test]
async fn a_body_that_stops_arriving_times_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&[("GEREPORT_BODY_TIMEOUT_SECS", "1")]).await;
    let addr = app.address.trim_start_matches("http://").to_string();
    for path in ["/api/v1/auth/login", "/api/v1/auth/logout"] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Authorization: Bearer x\r\nIdempotency-Key: k1\r\nContent-Length: 100\r\n\r\n{{\"user"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
            .await
            .expect("the server answered within 10 s")
            .unwrap();
        let text = String::from_utf8_lossy(&answer[..n]);
        // The login reads its body (408); the logout refuses the bad token first (401).
        assert!(
            text.starts_with("HTTP/1.1 408") || text.starts_with("HTTP/1.1 401"),
            "{path}: {text}"
        );
    }
}

/// Every answer says `nosniff`; the documentation page may not be framed and runs
/// only its own scripts; `/metrics` can be guarded by a token.
#[tokio::test]
async fn headers_and_the_metrics_guard() {
    let app = spawn_app_with(&[("GEREPORT_METRICS_TOKEN", "metrics-scraper-token-123")]).await;
    for path in ["/healthz", "/api/v1/me", "/api/v1/openapi.json", "/nowhere"] {
        let res = app.get(path).await;
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    let res = app.get("/docs/").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");

    assert_problem(app.get("/metrics").await, 401, "missing_token").await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-scraper-token-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("http_requests_total"));
}

/// The service's own database role: it owns nothing, so it cannot alter, truncate or
/// drop a table or disable the triggers that keep history, and may delete only
/// expired keys and forgiven failures; yet the service works with it.
#[tokio::test]
async fn the_serving_role_cannot_undo_history_but_runs_the_service() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    const ROLE: &str = "gereport_serving_test";
    // Only the service on the serving role below delivers webhooks.
    let app = spawn_app_with(&[("GEREPORT_WEBHOOK_WORKER", "off")]).await;
    let mut owner = app.db_conn().await;
    owner
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE {ROLE} LOGIN; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))
        .await
        .unwrap();
    gereport::db::grant_serving_role(&mut owner, ROLE)
        .await
        .unwrap();
    gereport::demo::load(&mut owner, "demo-password-2024")
        .await
        .unwrap();

    let url = app
        .db
        .url
        .replacen("://postgres@", &format!("://{ROLE}@"), 1);
    assert_ne!(url, app.db.url, "the test URL names the postgres user");
    let mut served = AsyncPgConnection::establish(&url).await.unwrap();
    for refused in [
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "ALTER TABLE report_revisions DISABLE TRIGGER USER",
        "DELETE FROM reports",
        "DELETE FROM report_revisions",
        "DELETE FROM audit_events",
        "UPDATE audit_events SET action = action",
        "UPDATE webhook_attempts SET error = error",
        "DELETE FROM webhook_attempts",
        "UPDATE webhook_events SET payload = payload",
        "DELETE FROM webhook_deliveries",
        "DROP TABLE reports",
        "CREATE TABLE intruder (id int)",
    ] {
        let err = served.batch_execute(refused).await.err();
        assert!(
            err.as_ref()
                .is_some_and(|e| e.to_string().contains("permission denied")
                    || e.to_string().contains("must be owner")),
            "{refused}: {err:?}"
        );
    }
    served
        .batch_execute("SELECT count(*) FROM reports; DELETE FROM login_failures WHERE false")
        .await
        .unwrap();

    // The service on that role: log in, save, submit, review, compile, audit.
    let address = start_server(test_settings(&url, &[])).await;
    let client = crate::helpers::client();
    let login = |user: &'static str| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let res = client
                .post(format!("{address}/api/v1/auth/login"))
                .json(&json!({"username": user, "password": "demo-password-2024"}))
                .send()
                .await
                .unwrap();
            assert_json(res, 200).await["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (reporter, coordinator) = (login("xdns").await, login("coordinator").await);
    let periods = assert_json(
        client
            .get(format!("{address}/api/v1/periods?code=2024"))
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let period = periods["items"][0]["id"].as_str().unwrap().to_string();
    // A period the demo left without XDNS's report: a new ad hoc one.
    let plan = periods["items"][0]["plan_id"].as_str().unwrap();
    let adhoc = assert_json(
        client
            .post(format!("{address}/api/v1/plans/{plan}/periods"))
            .bearer_auth(&coordinator)
            .json(
                &json!({"kind": "ad_hoc", "code": "2024X", "window_start": "2024-01-01",
                          "window_end": "2024-12-31", "due_date": "2099-12-31"}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let report = format!(
        "{address}/api/v1/periods/{}/reports/XDNS",
        adhoc["id"].as_str().unwrap()
    );
    let saved = client
        .put(&report)
        .bearer_auth(&reporter)
        .json(&gereport::openapi::report_example())
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 201);
    let etag = saved.headers()["etag"].to_str().unwrap().to_string();
    let submitted = client
        .post(format!("{report}/submit"))
        .bearer_auth(&reporter)
        .header("if-match", &etag)
        .header("idempotency-key", "serving-role-1")
        .send()
        .await
        .unwrap();
    let etag = submitted.headers()["etag"].to_str().unwrap().to_string();
    assert_json(submitted, 200).await;
    let accepted = client
        .post(format!("{report}/accept"))
        .bearer_auth(&coordinator)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_json(accepted, 200).await;
    for path in [
        format!("/api/v1/periods/{period}/compilation"),
        "/api/v1/audit?limit=5".to_string(),
        "/readyz".to_string(),
    ] {
        let res = client
            .get(format!("{address}{path}"))
            .bearer_auth(&coordinator)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // A plan task no report names is deleted on that role; a file attached to a
    // task's progress is taken with the task locked as its deletion locks it.
    let task = assert_json(
        client
            .post(format!("{address}/api/v1/plans/{plan}/tasks"))
            .bearer_auth(&coordinator)
            .json(&json!({"code": "X.1", "title_vi": "Nhiệm vụ thử", "lead_unit": "XDNS"}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let pdf = b"%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let draft = format!("{address}/api/v1/periods/{period}/reports/XDNS");
    let res = client
        .post(format!(
            "{draft}/attachments?kind=minutes&filename=a.pdf&task=X.1"
        ))
        .bearer_auth(&reporter)
        .header("content-type", "application/octet-stream")
        .body(pdf)
        .send()
        .await
        .unwrap();
    // 201, or 409 when the demo's report of the period is no longer a draft: either
    // way the locking statement ran without a permission error.
    assert!(
        [201, 409].contains(&res.status().as_u16()),
        "{}",
        res.status()
    );
    let removed = client
        .delete(format!(
            "{address}/api/v1/plans/{plan}/tasks/{}",
            task["id"].as_str().unwrap()
        ))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap();
    let expected = if res.status() == 201 { 409 } else { 204 };
    assert_eq!(removed.status(), expected);

    // The webhook worker claims and logs its attempts on that role too.
    let hook = assert_json(
        client
            .post(format!("{address}/api/v1/webhooks"))
            .bearer_auth(&coordinator)
            .json(&json!({"url": "https://receiver.example.invalid/hook",
                          "event_types": ["report.accepted"]}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let test = client
        .post(format!(
            "{address}/api/v1/webhooks/{}/test",
            hook["id"].as_str().unwrap()
        ))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap();
    assert_eq!(test.status(), 202);
    let start = std::time::Instant::now();
    while app
        .db_i64("SELECT count(*) AS n FROM webhook_attempts")
        .await
        == 0
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no attempt logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A literal route wins over a parameter route for the method check too:
/// `PATCH /indicators/trend` is a 405 naming GET, not a 400 about an id.
#[tokio::test]
async fn a_wrong_method_on_a_literal_route_is_a_405() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let res = app
        .patch_as("/api/v1/indicators/trend", &admin, &json!({}))
        .await;
    assert_eq!(res.headers()["allow"], "GET");
    assert_problem(res, 405, "method_not_allowed").await;
    // A malformed id on the parameter route is still a 400 naming the path.
    let res = app
        .patch_as("/api/v1/indicators/not-an-id", &admin, &json!({}))
        .await;
    assert_problem(res, 400, "invalid_path").await;
}

/// A service client's name, not its opaque public id, is what `submitted_by`, the
/// revisions and the audit show.
#[tokio::test]
async fn a_service_clients_name_is_shown_where_a_persons_would_be() {
    let w = World::new().await;
    let created = assert_json(
        w.req(&w.admin, reqwest::Method::POST, "/api/v1/service-clients")
            .json(&json!({"name": "Phần mềm nhân sự", "role": "reporter", "unit": w.a.code}))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let token = assert_json(
        w.app
            .client
            .post(w.app.url("/api/v1/auth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", created["client_id"].as_str().unwrap()),
                ("client_secret", created["client_secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let script = crate::fixtures::Caller {
        id: created["id"].as_str().unwrap().parse().unwrap(),
        username: "script".into(),
        token: token["access_token"].as_str().unwrap().to_string(),
    };
    let (report, _) = w.submitted(&script, &w.open, &w.a.code).await;
    assert_eq!(report["submitted_by"], "Phần mềm nhân sự");
    let n = w
        .app
        .db_i64(
            "SELECT count(*) AS n FROM audit_events \
             WHERE actor_name = 'Phần mềm nhân sự' AND action = 'report.submit'",
        )
        .await;
    assert_eq!(n, 1);
}

/// Ends, from the database side, every backend of the test's database that is waiting
/// for a lock; returns how many it ended.
async fn end_waiting_backends(conn: &mut diesel_async::AsyncPgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    use diesel_async::RunQueryDsl;
    let ended: N = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock' \
           AND pid <> pg_backend_pid()",
    )
    .get_result(conn)
    .await
    .unwrap();
    ended.n
}

/// A connection ended under a request (a restart, a failover): a read is tried once
/// more on a fresh connection and succeeds; a write is answered 503 and not repeated.
#[tokio::test]
async fn a_read_whose_connection_is_ended_runs_again_on_a_fresh_one() {
    use diesel_async::SimpleAsyncConnection;
    let app = spawn_app_with(&[("GEREPORT_DB_LOCK_TIMEOUT_MS", "20000")]).await;
    let admin = seed_admin(&app).await;
    let mut blocker = app.db_conn().await;
    let mut killer = app.db_conn().await;

    for write in [false, true] {
        blocker
            .batch_execute("BEGIN; LOCK TABLE org_units IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        let request = {
            let (client, admin) = (app.client.clone(), admin.clone());
            let url = app.url("/api/v1/org-units/SVHTT");
            tokio::spawn(async move {
                let req = if write {
                    client.patch(url).json(&json!({"name": "Renamed"}))
                } else {
                    client.get(url)
                };
                req.bearer_auth(admin).send().await.unwrap()
            })
        };
        // Wait for the request to queue on the lock, then end its connection.
        let started = Instant::now();
        while end_waiting_backends(&mut killer).await == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nothing waited"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        blocker.batch_execute("ROLLBACK").await.unwrap();
        let res = request.await.unwrap();
        if write {
            assert!(res.headers().contains_key("retry-after"));
            assert_problem(res, 503, "database_unavailable").await;
        } else {
            let unit = assert_json(res, 200).await;
            assert_eq!(unit["code"], "SVHTT");
        }
    }
    // The write was not run behind the caller's back.
    let unit = assert_json(app.get_as("/api/v1/org-units/SVHTT", &admin).await, 200).await;
    assert_ne!(unit["name"], "Renamed");
}
