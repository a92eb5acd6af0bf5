//! `Idempotency-Key` on report POSTs: a retried submission submits once and every
//! retry gets the first answer; a reused key with another request is a 422; keys
//! belong to their caller; a duplicate still running is a 409; failures replay too.

use diesel_async::RunQueryDsl;
use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures::{
    World, complete_report, connect, json_of, report_path, scalar, snapshot, without_value,
};
use crate::helpers::assert_problem;

/// Status, ETag, replay flag and raw body of a response.
struct Seen {
    status: u16,
    etag: Option<String>,
    replayed: bool,
    body: String,
}

async fn seen(res: Response) -> Seen {
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let etag = header("etag");
    let replayed = match header("idempotent-replayed").as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => panic!("Idempotent-Replayed: {other}"),
    };
    Seen {
        status: res.status().as_u16(),
        etag,
        replayed,
        body: res.text().await.unwrap(),
    }
}

async fn revisions(w: &World) -> i64 {
    scalar(&w.app, "SELECT count(*) AS n FROM report_revisions").await
}

async fn audited(w: &World, action: &str) -> i64 {
    scalar(
        &w.app,
        &format!("SELECT count(*) AS n FROM audit_events WHERE action = '{action}'"),
    )
    .await
}

#[tokio::test]
async fn a_submission_retried_with_one_key_submits_once_and_replays_the_answer() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let key = "9f0d6c1e-5a77-4b8e-9a55-2f5c1f0e0a01";
    let submit = || {
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", key)
    };

    let first = seen(submit().send().await.unwrap()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(!first.replayed);
    let report: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["revision"], 1);
    let after_first = snapshot(&w.app).await;

    // The retries — with an ETag that is stale by now — get the very same answer.
    for _ in 0..2 {
        let retry = seen(submit().send().await.unwrap()).await;
        assert_eq!(retry.status, first.status);
        assert_eq!(retry.body, first.body);
        assert_eq!(retry.etag, first.etag);
        assert!(retry.replayed);
    }
    assert_eq!(snapshot(&w.app).await, after_first);
    assert_eq!(revisions(&w).await, 1);
    assert_eq!(audited(&w, "report.submit").await, 1);
    let (stored, _) = w.read(&w.reporter_a, p, unit).await;
    assert_eq!(stored["revision"], 1);
    assert_eq!(stored["version"], report["version"]);

    // The same key with another request is refused, whatever differs.
    w.refused(
        w.act(
            &w.reporter_a,
            p,
            unit,
            "submit",
            Some(&etag),
            Some(json!({})),
        )
        .header("idempotency-key", key),
        422,
        "idempotency_key_reused",
    )
    .await;
    w.refused(
        w.act(&w.reporter_a, p, unit, "validate", None, None)
            .header("idempotency-key", key),
        422,
        "idempotency_key_reused",
    )
    .await;
    w.refused(
        w.act(&w.reporter_a, &w.past, unit, "submit", Some(&etag), None)
            .header("idempotency-key", key),
        422,
        "idempotency_key_reused",
    )
    .await;

    // Another caller's key is its own: reporter B submits B's report with it.
    let (_, etag_b) = w
        .draft(
            &w.reporter_b,
            p,
            &w.b.code,
            &complete_report(p.window_start),
        )
        .await;
    let res = w
        .act(&w.reporter_b, p, &w.b.code, "submit", Some(&etag_b), None)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("idempotent-replayed").is_none());
    let report_b = json_of(res, 200).await;
    assert_eq!(report_b["unit_code"], w.b.code);
    assert_eq!(report_b["submitted_by"], w.reporter_b.username);
    assert_eq!(revisions(&w).await, 2);

    // Keys are checked for shape.
    w.refused(
        w.act(&w.reporter_a, p, unit, "validate", None, None)
            .header("idempotency-key", "k".repeat(256)),
        400,
        "invalid_idempotency_key",
    )
    .await;
    // ... on the public operations too, before any credential is looked at.
    let res = w
        .app
        .client
        .post(w.app.url("/api/v1/auth/refresh"))
        .header("idempotency-key", "two words")
        .json(&json!({"refresh_token": "not-a-token"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn concurrent_duplicates_submit_once() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let submit = || {
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", "burst-1")
            .send()
    };
    let (a, b, c) = tokio::join!(submit(), submit(), submit());
    let mut answers = Vec::new();
    for res in [a, b, c] {
        let s = seen(res.unwrap()).await;
        match s.status {
            200 => answers.push(s.body),
            409 => {
                let problem: Value = serde_json::from_str(&s.body).unwrap();
                assert_eq!(problem["code"], "idempotency_in_flight", "{problem}");
            }
            other => panic!("unexpected {other}: {}", s.body),
        }
    }
    assert!(!answers.is_empty());
    assert!(answers.iter().all(|a| a == &answers[0]));
    assert_eq!(revisions(&w).await, 1);
    assert_eq!(audited(&w, "report.submit").await, 1);
}

/// The request hash the middleware keeps: method, URI, body and If-Match,
/// NUL-separated.
fn request_hash(method: &str, uri: &str, body: &[u8], if_match: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(uri.as_bytes());
    h.update([0]);
    h.update(body);
    h.update([0]);
    h.update(if_match.as_bytes());
    h.finalize().to_vec()
}

#[tokio::test]
async fn a_duplicate_still_in_flight_is_a_409_until_abandoned() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let (_, etag) = w
        .draft(&w.reporter_a, p, unit, &complete_report(p.window_start))
        .await;
    let key = "in-flight-7";
    let uri = format!("{}/submit", report_path(p.id, unit));
    // A first request with this key is running (as far as the database can tell).
    let mut conn = connect(&w.app).await;
    diesel::sql_query(
        "INSERT INTO idempotency_keys (principal_id, key, request_hash, state) \
         VALUES ($1, $2, $3, 'in_flight')",
    )
    .bind::<diesel::sql_types::Uuid, _>(w.reporter_a.id)
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Bytea, _>(request_hash("POST", &uri, b"", &etag))
    .execute(&mut conn)
    .await
    .unwrap();

    let submit = || {
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", key)
    };
    let before = snapshot(&w.app).await;
    let res = submit().send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_problem(res, 409, "idempotency_in_flight").await;
    assert_eq!(snapshot(&w.app).await, before);
    // Another request under the key is still a reuse, in flight or not.
    w.refused(
        w.act(
            &w.reporter_a,
            p,
            unit,
            "submit",
            Some(&etag),
            Some(json!({})),
        )
        .header("idempotency-key", key),
        422,
        "idempotency_key_reused",
    )
    .await;
    // Another caller using the same key is not held up by it.
    let res = w
        .act(&w.admin, p, unit, "validate", None, None)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);

    // A request whose lease has not been renewed for over ten seconds died with its
    // process (or lost its database): a retry takes the key over and runs.
    diesel::sql_query(
        "UPDATE idempotency_keys SET created_at = now() - interval '11 seconds' \
         WHERE principal_id = $1 AND key = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(w.reporter_a.id)
    .bind::<diesel::sql_types::Text, _>(key)
    .execute(&mut conn)
    .await
    .unwrap();
    let res = submit().send().await.unwrap();
    let report = json_of(res, 200).await;
    assert_eq!(report["revision"], 1);
    let replay = seen(submit().send().await.unwrap()).await;
    assert!(replay.replayed);
    assert_eq!(serde_json::from_str::<Value>(&replay.body).unwrap(), report);
}

#[tokio::test]
async fn a_refused_submission_is_not_stored_and_the_corrected_retry_runs() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let complete = complete_report(p.window_start);
    let incomplete = without_value(complete.clone(), "staff_female");
    let (_, etag) = w.draft(&w.reporter_a, p, unit, &incomplete).await;
    let key = "submit-once-422";
    let before = snapshot(&w.app).await;
    let first = seen(
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", key)
            .header("x-request-id", "first-try")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first.status, 422);
    assert!(!first.replayed);
    let problem: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(problem["errors"][0]["path"], "values.staff_female");
    assert_eq!(problem["request_id"], "first-try");
    assert_eq!(snapshot(&w.app).await, before);

    // A stale precondition is not stored either: the same key with the stale tag
    // answers 412 again, not a replay.
    let (_, fixed) = w.save(&w.reporter_a, p, unit, &complete, &etag).await;
    let stale = w
        .act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap();
    assert!(!stale.headers().contains_key("idempotent-replayed"));
    assert_problem(stale, 412, "stale_etag").await;

    // The unit fixed its draft and retries under the same key with the new tag: the
    // submission runs (the 422 was not the key's answer), and is then the key's
    // answer for every retry.
    let submit = || {
        w.act(&w.reporter_a, p, unit, "submit", Some(&fixed), None)
            .header("idempotency-key", key)
    };
    let done = seen(submit().send().await.unwrap()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(!done.replayed);
    let replay = seen(submit().send().await.unwrap()).await;
    assert!(replay.replayed);
    assert_eq!(replay.body, done.body);
    assert_eq!(revisions(&w).await, 1);
    // Once stored, the key with another precondition is another request.
    w.refused(
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .header("idempotency-key", key),
        422,
        "idempotency_key_reused",
    )
    .await;
}

#[tokio::test]
async fn a_response_holding_a_secret_is_never_stored_and_its_retry_says_so() {
    let w = World::new().await;
    // A frontend that sends its bearer token and a key with a login: the answer holds
    // fresh tokens (Cache-Control: no-store).
    let login = || {
        w.req(&w.reporter_a, reqwest::Method::POST, "/api/v1/auth/login")
            .header("idempotency-key", "login-1")
            .json(&json!({ "username": w.reporter_a.username, "password": crate::fixtures::PASSWORD }))
            .send()
    };
    let first = login().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let tokens: Value = first.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string());
    // The key is recorded, its body is not: no token rests in the database.
    let stored = scalar(
        &w.app,
        "SELECT count(*) AS n FROM idempotency_keys \
         WHERE key = 'login-1' AND state = 'done' AND response_body IS NULL",
    )
    .await;
    assert_eq!(stored, 1);
    // A retry is told the first attempt succeeded, and gets no tokens.
    let retry = login().await.unwrap();
    let body = assert_problem(retry, 409, "idempotent_response_withheld").await;
    assert_eq!(body["first_status"], 200);
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn a_service_client_secret_is_never_stored_for_a_retry() {
    let w = World::new().await;
    let post = |path: String, key: &'static str, body: Option<Value>| {
        let req = w
            .req(&w.admin, reqwest::Method::POST, &path)
            .header("idempotency-key", key);
        match body {
            Some(b) => req.json(&b),
            None => req,
        }
        .send()
    };
    let create = json!({ "name": "Cổng dữ liệu thành phố", "role": "viewer", "unit": w.root.code });
    let first = post(
        "/api/v1/service-clients".into(),
        "client-1",
        Some(create.clone()),
    )
    .await
    .unwrap();
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let created: Value = first.json().await.unwrap();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();

    let rotate = format!("/api/v1/service-clients/{id}/rotate");
    let rotated = post(rotate.clone(), "rotate-1", None).await.unwrap();
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let new_secret = json_of(rotated, 200).await["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, secret);

    // Both keys are recorded without a body, so neither secret rests in the database.
    let stored = scalar(
        &w.app,
        "SELECT count(*) AS n FROM idempotency_keys \
         WHERE key IN ('client-1', 'rotate-1') AND state = 'done' AND response_body IS NULL",
    )
    .await;
    assert_eq!(stored, 2);
    // Retries learn that the first attempts succeeded, without a secret and without
    // creating a second client or rotating again.
    let retry = post("/api/v1/service-clients".into(), "client-1", Some(create))
        .await
        .unwrap();
    let body = assert_problem(retry, 409, "idempotent_response_withheld").await;
    assert_eq!(body["first_status"], 201);
    assert!(!body.to_string().contains(&secret));
    let retry = post(rotate, "rotate-1", None).await.unwrap();
    let body = assert_problem(retry, 409, "idempotent_response_withheld").await;
    assert_eq!(body["first_status"], 200);
    assert!(!body.to_string().contains(&new_secret));
    let clients = scalar(
        &w.app,
        "SELECT count(*) AS n FROM service_clients WHERE name = 'Cổng dữ liệu thành phố'",
    )
    .await;
    assert_eq!(clients, 1);
}
