//! Signed webhooks against a real HTTP receiver on loopback: signatures checked with an
//! HMAC computed here, retries after a 500, the order per report, two processes on one
//! database, a killed and restarted service, disabling, and scope.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Caller, World, days, json_of, today_vn};
use crate::helpers::{JWT_SECRET, assert_problem, start_server, test_settings};

/// Settings that deliver at once and retry within milliseconds, to a receiver on
/// loopback.
const FAST: &[(&str, &str)] = &[
    ("GEREPORT_WEBHOOK_ALLOW_PRIVATE_TARGETS", "on"),
    ("GEREPORT_WEBHOOK_POLL_MS", "50"),
    ("GEREPORT_WEBHOOK_TIMEOUT_MS", "2000"),
    (
        "GEREPORT_WEBHOOK_RETRY_SCHEDULE",
        "50ms,50ms,50ms,50ms,50ms",
    ),
];

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
    /// What the receiver answered.
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_string()
    }
}

/// A small HTTP server on loopback that records every request and answers 500 to the
/// first `fail_first` of them, after `delay`.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    failures_left: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    async fn start(port: u16, fail_first: usize, delay: Duration) -> Receiver {
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failures_left = Arc::new(AtomicUsize::new(fail_first));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (log2, failures2) = (log.clone(), failures_left.clone());
        let server = HttpServer::new(move || {
            let (log, failures) = (log2.clone(), failures2.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (log, failures) = (log.clone(), failures.clone());
                async move {
                    tokio::time::sleep(delay).await;
                    let header = |name: &str| {
                        req.headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    let fail = failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if fail { 500 } else { 200 };
                    log.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8(body.to_vec()).unwrap(),
                        status,
                    });
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                        .finish()
                }
            }))
        })
        .workers(2)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks/gereport"),
            log,
            failures_left,
            handle,
        }
    }

    fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn fail_next(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// Waits until `done` holds of the requests so far (at most 20 seconds).
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.requests();
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; got {:#?}",
                got.iter()
                    .map(|r| (r.id.clone(), r.status, r.event_type()))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Checks a request's signature as a receiver would, with HMAC-SHA256 computed here
/// from the secret: one of the space-separated `v1,` signatures must match, and the
/// timestamp must be recent.
fn verify(secret: &str, r: &Received) -> bool {
    use hmac::{Hmac, Mac};
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    let age = chrono::Utc::now().timestamp() - r.timestamp.parse::<i64>().unwrap();
    age.abs() < 300 && r.signature.split(' ').any(|s| s == expected)
}

/// A message's `data` has exactly the members the OpenAPI document's `webhooks` section
/// lists for its type, each of the documented JSON type.
fn matches_document(r: &Received) {
    let doc = serde_json::to_value(gereport::openapi::document()).unwrap();
    let body = r.json();
    let t = body["type"].as_str().unwrap();
    let schema = &doc["webhooks"][t]["post"]["requestBody"]["content"]["application/json"]["schema"]
        ["properties"]["data"];
    let mut documented: Vec<&str> = schema["required"]
        .as_array()
        .unwrap_or_else(|| panic!("{t} is not documented"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let data = body["data"].as_object().unwrap();
    let mut sent: Vec<&str> = data.keys().map(String::as_str).collect();
    documented.sort_unstable();
    sent.sort_unstable();
    assert_eq!(sent, documented, "{t}");
    for (k, v) in data {
        let types = &schema["properties"][k]["type"];
        let allowed: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|x| x.as_str().unwrap()).collect(),
            other => panic!("{t}.{k}: {other}"),
        };
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            _ => "object",
        };
        assert!(
            allowed.contains(&actual),
            "{t}.{k} = {v}: documented {types}"
        );
    }
}

/// Creates an endpoint as `who`; returns (id, secret).
async fn subscribe(
    w: &World,
    who: &Caller,
    url: &str,
    types: &[&str],
    unit: Option<&str>,
) -> (String, String) {
    let res = w
        .req(who, Method::POST, "/api/v1/webhooks")
        .json(&json!({ "url": url, "event_types": types, "unit": unit,
                        "description": "Hệ thống của Thành phố" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store")
    );
    let body = json_of(res, 201).await;
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// `POST /periods/{period_id}/lock` or `/unlock` of the open period, by the coordinator.
async fn period_action(w: &World, action: &str) {
    json_of(
        w.req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/periods/{}/{action}", w.open.id),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
}

/// The delivery log once `n` deliveries are there and none is pending any more (the
/// receiver has its request a moment before the worker records the answer).
async fn settled(w: &World, who: &Caller, endpoint: &str, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let log = deliveries(w, who, endpoint).await;
        if log.len() >= n && log.iter().all(|d| d["status"] != "pending") {
            return log;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "deliveries never settled: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(w: &World, who: &Caller, endpoint: &str) -> Vec<Value> {
    json_of(
        w.get(
            who,
            &format!("/api/v1/webhooks/{endpoint}/deliveries?limit=500"),
        )
        .await,
        200,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn events_arrive_signed_and_the_log_tells_each_attempt() {
    let w = World::with(FAST).await;
    let receiver = Receiver::start(0, 0, Duration::ZERO).await;
    let (id, secret) = subscribe(
        &w,
        &w.coordinator,
        &receiver.url,
        &["report.submitted", "compilation.changed"],
        None,
    )
    .await;
    // The secret is shown once: a read does not carry it.
    let read = json_of(
        w.get(&w.coordinator, &format!("/api/v1/webhooks/{id}"))
            .await,
        200,
    )
    .await;
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["unit_code"], "DEPT");
    assert!(secret.starts_with("whsec_"));

    let (report, _) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let got = receiver.wait_for("two events", |r| r.len() >= 2).await;
    assert_eq!(got.len(), 2, "{got:#?}");
    for r in &got {
        assert!(verify(&secret, r), "signature of {r:#?}");
        matches_document(r);
        assert!(!verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r));
        assert!(r.id.starts_with("msg_"));
    }
    let mut types: Vec<String> = got.iter().map(Received::event_type).collect();
    types.sort();
    assert_eq!(types, ["compilation.changed", "report.submitted"]);
    let submitted = got
        .iter()
        .find(|r| r.event_type() == "report.submitted")
        .unwrap()
        .json();
    let data = &submitted["data"];
    assert_eq!(data["report_id"], report["id"]);
    assert_eq!(data["unit_code"], "OFFICE-A");
    assert_eq!(data["period_code"], "CUR");
    assert_eq!(data["status"], "submitted");
    assert_eq!(data["revision"], 1);
    assert_eq!(data["late"], false);
    assert_eq!(data["by"], "reporter-a");
    assert!(submitted["timestamp"].is_string());

    // The delivery log: each succeeded at its first attempt, with its status and time.
    let log = settled(&w, &w.coordinator, &id, 2).await;
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d["status"], "succeeded", "{d}");
        assert_eq!(d["attempts"], 1);
        let attempt = &d["attempt_log"][0];
        assert_eq!(attempt["status_code"], 200);
        assert_eq!(attempt["cause"], "scheduled");
        assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
        assert!(got.iter().any(|r| r.id == d["message_id"]), "{d}");
    }

    // After a rotation both secrets sign for a day, so a receiver can switch over.
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let new_secret = json_of(res, 200).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_secret, secret);
    let test = json_of(
        w.req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/webhooks/{id}/test"),
        )
        .send()
        .await
        .unwrap(),
        202,
    )
    .await;
    assert_eq!(test["event_type"], "webhook.test");
    let got = receiver.wait_for("the test", |r| r.len() >= 3).await;
    let ping = &got[2];
    assert_eq!(ping.id, test["message_id"]);
    assert_eq!(ping.event_type(), "webhook.test");
    assert!(verify(&new_secret, ping) && verify(&secret, ping));
    matches_document(ping);
    assert_eq!(ping.signature.split(' ').count(), 2);
    receiver.stop().await;
}

#[tokio::test]
async fn a_500_is_retried_with_the_same_id_until_it_succeeds() {
    let w = World::with(FAST).await;
    let receiver = Receiver::start(0, 2, Duration::ZERO).await;
    let (id, secret) = subscribe(
        &w,
        &w.coordinator,
        &receiver.url,
        &["report.submitted"],
        None,
    )
    .await;
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let got = receiver
        .wait_for("a success", |r| r.iter().any(|r| r.status == 200))
        .await;
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(got.iter().all(|r| r.id == got[0].id && verify(&secret, r)));
    // The log shows the three attempts, then success; no attempt is left to make.
    let log = settled(&w, &w.coordinator, &id, 1).await;
    let d = &log[0];
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status_code"], 200);
    assert!(d["next_attempt_at"].is_null());
    let codes: Vec<i64> = d["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert_eq!(d["attempt_log"][0]["error"], "HTTP 500");
    // And nothing more arrives.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.requests().len(), 3);
    // Operators see the attempts in the metrics.
    let metrics = w.app.get("/metrics").await.text().await.unwrap();
    for line in [
        r#"webhook_attempts_total{outcome="retrying"} 2"#,
        r#"webhook_attempts_total{outcome="succeeded"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    receiver.stop().await;
}

#[tokio::test]
async fn the_order_per_report_is_kept_while_an_earlier_event_is_retried() {
    let w = World::with(FAST).await;
    // The first event of the report fails three times before it gets through.
    let receiver = Receiver::start(0, 3, Duration::from_millis(20)).await;
    let (_, secret) = subscribe(
        &w,
        &w.coordinator,
        &receiver.url,
        &["report.submitted", "report.returned", "report.accepted"],
        None,
    )
    .await;
    let (_, etag) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let (_, etag) = w
        .transition(
            &w.coordinator,
            &w.open,
            "OFFICE-A",
            "return",
            &etag,
            Some(json!({"reason": "Bổ sung số liệu"})),
        )
        .await;
    let (_, etag) = w
        .transition(&w.reporter_a, &w.open, "OFFICE-A", "submit", &etag, None)
        .await;
    w.transition(&w.coordinator, &w.open, "OFFICE-A", "accept", &etag, None)
        .await;
    let got = receiver
        .wait_for("four events delivered", |r| {
            r.iter().filter(|r| r.status == 200).count() >= 4
        })
        .await;
    let delivered: Vec<String> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.event_type())
        .collect();
    assert_eq!(
        delivered,
        [
            "report.submitted",
            "report.returned",
            "report.submitted",
            "report.accepted"
        ]
    );
    // No later event was even tried before the earlier one had succeeded.
    let first = &got[0].id;
    assert!(got[..4].iter().all(|r| &r.id == first), "{got:#?}");
    let revisions: Vec<Value> = got
        .iter()
        .filter(|r| r.status == 200 && r.event_type() == "report.submitted")
        .map(|r| r.json()["data"]["revision"].clone())
        .collect();
    assert_eq!(revisions, [json!(1), json!(2)]);
    assert!(got.iter().all(|r| verify(&secret, r)));
    receiver.stop().await;
}

#[tokio::test]
async fn two_processes_on_one_database_never_send_a_delivery_twice() {
    let w = World::with(FAST).await;
    // A second service process on the same database, with its own worker.
    let _second = start_server(test_settings(&w.app.db.url, FAST)).await;
    // A slow receiver, so that claims overlap in time.
    let receiver = Receiver::start(0, 0, Duration::from_millis(30)).await;
    let (id, _) = subscribe(&w, &w.admin, &receiver.url, &["report.submitted"], None).await;
    const N: usize = 40;
    for _ in 0..N {
        let res = w
            .req(
                &w.admin,
                Method::POST,
                &format!("/api/v1/webhooks/{id}/test"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    let got = receiver.wait_for("every test", |r| r.len() >= N).await;
    // Give a duplicate the time to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = receiver.requests();
    assert_eq!(got_after.len(), got.len());
    let mut ids: Vec<&str> = got_after.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "a delivery was sent twice");
    assert_eq!(got_after.len(), N, "a delivery was sent twice");
    let log = settled(&w, &w.admin, &id, N).await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1)
    );
    let attempts = w
        .app
        .db_i64("SELECT count(*) AS n FROM webhook_attempts")
        .await;
    assert_eq!(attempts, N as i64);
    receiver.stop().await;
}

/// `gereport serve` on the test's database, as a child process killed when dropped.
struct Service(Child);

impl Service {
    fn start(database_url: &str, extra: &[(&str, &str)]) -> Service {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gereport"));
        cmd.arg("serve")
            .env("DATABASE_URL", database_url)
            .env("GEREPORT_BIND", format!("127.0.0.1:{port}"))
            .env("GEREPORT_JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Service(cmd.spawn().unwrap())
    }

    /// SIGKILL: no draining, claims left as they were.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn nothing_is_lost_when_the_service_is_killed_and_started_again() {
    // The test's own app serves the API without a worker; the deliveries are sent by
    // `gereport serve` processes on the same database.
    let mut settings = vec![("GEREPORT_WEBHOOK_WORKER", "off")];
    settings.extend_from_slice(FAST);
    let w = World::with(&settings).await;
    let worker_settings: Vec<(&str, &str)> = FAST
        .iter()
        .copied()
        .filter(|(k, _)| *k != "GEREPORT_WEBHOOK_RETRY_SCHEDULE")
        .chain([(
            "GEREPORT_WEBHOOK_RETRY_SCHEDULE",
            "100ms,200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        )])
        .collect();
    // Nothing listens at the receiver's address yet.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks/gereport");
    let (id, secret) = subscribe(
        &w,
        &w.coordinator,
        &url,
        &[
            "report.submitted",
            "report.returned",
            "period.locked",
            "period.unlocked",
        ],
        None,
    )
    .await;

    // The service tries while the receiver is down, and is killed.
    let first = Service::start(&w.app.db.url, &worker_settings);
    let (_, etag_a) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    let start = Instant::now();
    while w
        .app
        .db_i64("SELECT count(*) AS n FROM webhook_attempts")
        .await
        < 2
    {
        assert!(start.elapsed() < Duration::from_secs(20), "no attempt made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();

    // Changes made while no worker runs are kept in the outbox.
    w.transition(
        &w.coordinator,
        &w.open,
        "OFFICE-A",
        "return",
        &etag_a,
        Some(json!({"reason": "Thiếu số liệu"})),
    )
    .await;
    for action in ["lock", "unlock"] {
        period_action(&w, action).await;
    }
    assert_eq!(
        w.app
            .db_i64("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
            .await,
        5
    );

    // The receiver comes up, then the service again: everything arrives, once each.
    let receiver = Receiver::start(port, 0, Duration::ZERO).await;
    let _second = Service::start(&w.app.db.url, &worker_settings);
    let got = receiver.wait_for("five events", |r| r.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = receiver.requests();
    assert_eq!(got_after.len(), 5, "{got:#?}");
    let mut ids: Vec<&str> = got_after.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(got_after.iter().all(|r| verify(&secret, r)));
    got_after.iter().for_each(matches_document);
    // A's report: submitted before returned; the period: locked before unlocked.
    let order = |types: [&str; 2], unit: Option<&str>| {
        let pos: Vec<usize> = types
            .iter()
            .map(|t| {
                got_after
                    .iter()
                    .position(|r| {
                        r.event_type() == *t
                            && unit.is_none_or(|u| r.json()["data"]["unit_code"] == u)
                    })
                    .unwrap()
            })
            .collect();
        assert!(pos[0] < pos[1], "{types:?} out of order");
    };
    order(["report.submitted", "report.returned"], Some("OFFICE-A"));
    order(["period.locked", "period.unlocked"], None);
    assert!(
        settled(&w, &w.coordinator, &id, 5)
            .await
            .iter()
            .all(|d| d["status"] == "succeeded")
    );
    receiver.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_audited() {
    let mut settings = vec![("GEREPORT_WEBHOOK_DISABLE_AFTER", "2")];
    settings.extend(
        FAST.iter()
            .filter(|(k, _)| *k != "GEREPORT_WEBHOOK_RETRY_SCHEDULE"),
    );
    settings.push(("GEREPORT_WEBHOOK_RETRY_SCHEDULE", "20ms"));
    let w = World::with(&settings).await;
    let receiver = Receiver::start(0, usize::MAX, Duration::ZERO).await;
    let (id, _) = subscribe(
        &w,
        &w.coordinator,
        &receiver.url,
        &["report.submitted"],
        None,
    )
    .await;
    let endpoint = format!("/api/v1/webhooks/{id}");
    // Two deliveries fail every retry (two attempts each): the endpoint is disabled.
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    let start = Instant::now();
    let disabled = loop {
        let e = json_of(w.get(&w.coordinator, &endpoint).await, 200).await;
        if e["enabled"] == false {
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never disabled: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(disabled["consecutive_failures"], 2);
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("2 deliveries in a row"),
        "{disabled}"
    );
    assert_eq!(receiver.requests().len(), 4);
    let log = deliveries(&w, &w.coordinator, &id).await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "failed" && d["attempts"] == 2)
    );
    // The audit log says so, as the service's own act.
    let audit = json_of(
        w.get(
            &w.admin,
            &format!("/api/v1/audit?object_type=webhook&object_id={id}"),
        )
        .await,
        200,
    )
    .await;
    let event = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "webhook.disable")
        .unwrap_or_else(|| panic!("no webhook.disable in {audit}"))
        .clone();
    assert_eq!(event["actor_kind"], "system");
    assert_eq!(event["change"]["consecutive_failures"], 2);

    // Disabled: no test and no redelivery, and new events are not kept for it.
    let test = w
        .req(&w.coordinator, Method::POST, &format!("{endpoint}/test"))
        .send()
        .await
        .unwrap();
    assert_problem(test, 409, "webhook_disabled").await;
    let failed = log[0]["id"].as_str().unwrap().to_string();
    let redeliver = format!("{endpoint}/deliveries/{failed}/redeliver");
    let res = w
        .req(&w.coordinator, Method::POST, &redeliver)
        .send()
        .await
        .unwrap();
    assert_problem(res, 409, "webhook_disabled").await;

    // Enabled again, with a receiver that works: a manual redelivery gets through.
    receiver.fail_next(0);
    let e = json_of(
        w.req(&w.coordinator, Method::PATCH, &endpoint)
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(e["enabled"], true);
    assert_eq!(e["consecutive_failures"], 0);
    assert!(e["disabled_reason"].is_null());
    let d = json_of(
        w.req(&w.coordinator, Method::POST, &redeliver)
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert_eq!(d["status"], "pending");
    receiver
        .wait_for("the redelivery", |r| r.iter().any(|r| r.status == 200))
        .await;
    let start = Instant::now();
    let d = loop {
        let d = json_of(
            w.get(&w.coordinator, &format!("{endpoint}/deliveries/{failed}"))
                .await,
            200,
        )
        .await;
        if d["status"] == "succeeded" {
            break d;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["attempt_log"][2]["cause"], "manual");
    assert_eq!(d["attempt_log"][2]["status_code"], 200);
    receiver.stop().await;
}

#[tokio::test]
async fn a_coordinator_hears_only_of_its_own_subtree() {
    let w = World::with(FAST).await;
    let coord_a = w.create_user("coord-a", "coordinator", "OFFICE-A").await;
    let receiver = Receiver::start(0, 0, Duration::ZERO).await;
    // Left out, the unit is the coordinator's own.
    let (id, _) = subscribe(
        &w,
        &coord_a,
        &receiver.url,
        &[
            "report.submitted",
            "period.locked",
            "period.due_date_changed",
            "compilation.changed",
        ],
        None,
    )
    .await;
    let mine = json_of(
        w.get(&coord_a, &format!("/api/v1/webhooks/{id}")).await,
        200,
    )
    .await;
    assert_eq!(mine["unit_code"], "OFFICE-A");
    // Not above its scope, and the department's endpoints are not its to see.
    let res = w
        .req(&coord_a, Method::POST, "/api/v1/webhooks")
        .json(&json!({"url": receiver.url, "event_types": ["report.submitted"], "unit": "DEPT"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["path"], "body.unit");
    let (dept, _) = subscribe(
        &w,
        &w.coordinator,
        "https://city.example.invalid/h",
        &["period.locked"],
        None,
    )
    .await;
    let res = w.get(&coord_a, &format!("/api/v1/webhooks/{dept}")).await;
    assert_problem(res, 404, "not_found").await;
    let list = json_of(w.get(&coord_a, "/api/v1/webhooks").await, 200).await;
    assert_eq!(list["total"], 1);
    for who in [&w.viewer, &w.reporter_a] {
        assert_problem(w.get(who, "/api/v1/webhooks").await, 403, "forbidden").await;
    }

    // B's report and B's own due date reach nobody in A.
    w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    let extend = |unit: &'static str| {
        w.req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/extensions/{unit}", w.open.id),
        )
        .json(&json!({"due_date": today_vn() + days(70), "reason": "Gia hạn do thay đổi nhân sự"}))
        .send()
    };
    json_of(extend("OFFICE-B").await.unwrap(), 200).await;
    // A's report, A's own due date, and the department's period (a plan above A)
    // reach it.
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    json_of(extend("OFFICE-A").await.unwrap(), 200).await;
    json_of(
        w.req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/periods/{}", w.open.id),
        )
        .json(&json!({"due_date": today_vn() + days(61)}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    period_action(&w, "lock").await;
    receiver.wait_for("five events", |r| r.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    receiver.requests().iter().for_each(matches_document);
    let got = receiver
        .requests()
        .iter()
        .map(|r| r.json())
        .collect::<Vec<_>>();
    let seen: Vec<(String, Value)> = got
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["unit_code"].clone(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 5, "{seen:?}");
    for (t, unit) in [
        ("report.submitted", json!("OFFICE-A")),
        ("compilation.changed", json!("OFFICE-A")),
        ("period.due_date_changed", json!("OFFICE-A")),
        ("period.due_date_changed", Value::Null),
        ("period.locked", Value::Null),
    ] {
        assert!(
            seen.contains(&(t.to_string(), unit.clone())),
            "{t} {unit} missing from {seen:?}"
        );
    }
    let period_wide = got
        .iter()
        .find(|e| e["type"] == "period.due_date_changed" && e["data"]["unit_code"].is_null())
        .unwrap();
    assert_eq!(
        period_wide["data"]["due_date"],
        json!(today_vn() + days(61))
    );
    assert_eq!(
        period_wide["data"]["previous_due_date"],
        json!(today_vn() + days(60))
    );
    let own = got
        .iter()
        .find(|e| e["type"] == "period.due_date_changed" && e["data"]["unit_code"] == "OFFICE-A")
        .unwrap();
    assert_eq!(own["data"]["reason"], "Gia hạn do thay đổi nhân sự");
    receiver.stop().await;
}

#[tokio::test]
async fn targets_are_checked_before_anything_is_sent() {
    // The default: private and loopback targets are refused.
    let w = World::new().await;
    for (url, code) in [
        ("http://127.0.0.1:9/hook", "private_target"),
        ("http://localhost/hook", "private_target"),
        ("http://[::1]/hook", "private_target"),
        ("http://10.0.0.7/hook", "private_target"),
        ("http://169.254.169.254/latest", "private_target"),
        ("ftp://city.example.vn/hook", "invalid_url"),
        ("https://user:pw@city.example.vn/hook", "invalid_url"),
        ("not a url", "invalid_url"),
    ] {
        let res = w
            .req(&w.coordinator, Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": url, "event_types": ["report.submitted"]}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["path"], "body.url", "{url}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{url}: {p}");
    }
    for (types, code) in [
        (json!([]), "required"),
        (json!(["webhook.test"]), "invalid_value"),
    ] {
        let res = w
            .req(&w.coordinator, Method::POST, "/api/v1/webhooks")
            .json(&json!({"url": "https://city.example.vn/hook", "event_types": types}))
            .send()
            .await
            .unwrap();
        let p = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["path"], "body.event_types", "{p}");
        assert_eq!(p["errors"][0]["code"], code, "{p}");
    }
    let res = w
        .req(&w.coordinator, Method::POST, "/api/v1/webhooks")
        .json(&json!({"url": "https://city.example.vn/hook", "event_types": ["report.archived"]}))
        .send()
        .await
        .unwrap();
    let p = assert_problem(res, 422, "validation_failed").await;
    assert!(
        p["errors"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("body.event_types"),
        "{p}"
    );
    assert_eq!(
        w.app
            .db_i64("SELECT count(*) AS n FROM webhook_endpoints")
            .await,
        0
    );

    // A deleted endpoint is gone, its pending deliveries cancelled, its log kept.
    let (id, _) = subscribe(
        &w,
        &w.coordinator,
        "https://city.example.invalid/hook",
        &["report.submitted"],
        None,
    )
    .await;
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let res = w
        .req(
            &w.coordinator,
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        w.get(&w.coordinator, &format!("/api/v1/webhooks/{id}"))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        w.app
            .db_i64("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
            .await,
        0
    );
    // No endpoint wants the next event: nothing is written to the outbox for it.
    let before = w
        .app
        .db_i64("SELECT count(*) AS n FROM webhook_events")
        .await;
    w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    assert_eq!(
        w.app
            .db_i64("SELECT count(*) AS n FROM webhook_events")
            .await,
        before
    );
}

#[tokio::test]
async fn a_due_date_that_changes_lateness_changes_the_compilation() {
    let w = World::with(FAST).await;
    let receiver = Receiver::start(0, 0, Duration::ZERO).await;
    let (id, secret) = subscribe(
        &w,
        &w.coordinator,
        &receiver.url,
        &[
            "report.submitted",
            "period.due_date_changed",
            "compilation.changed",
        ],
        None,
    )
    .await;
    // The period's due date passed ten days ago: A's submission is late ...
    w.submitted(&w.reporter_a, &w.past, "OFFICE-A").await;
    // ... until A is given its own due date, later than the submission.
    json_of(
        w.req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/extensions/OFFICE-A", w.past.id),
        )
        .json(&json!({"due_date": today_vn() + days(5), "reason": "Mất điện kéo dài"}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    receiver.wait_for("four events", |r| r.len() >= 4).await;
    let log = settled(&w, &w.coordinator, &id, 4).await;
    assert!(log.iter().all(|d| d["status"] == "succeeded"));
    let got: Vec<Value> = receiver
        .requests()
        .iter()
        .inspect(|r| {
            assert!(verify(&secret, r));
            matches_document(r);
        })
        .map(Received::json)
        .collect();
    assert_eq!(got.len(), 4);
    let find = |t: &str, cause: Option<&str>| {
        got.iter()
            .find(|e| e["type"] == t && cause.is_none_or(|c| e["data"]["cause"] == c))
            .unwrap_or_else(|| panic!("no {t} ({cause:?}) in {got:#?}"))
    };
    assert_eq!(find("report.submitted", None)["data"]["late"], true);
    let moved = &find("period.due_date_changed", None)["data"];
    assert_eq!(moved["unit_code"], "OFFICE-A");
    assert_eq!(moved["reports_lateness_changed"], 1);
    assert_eq!(moved["previous_due_date"], json!(w.past.due_date));
    find("compilation.changed", Some("report.submitted"));
    let relabelled = &find("compilation.changed", Some("period.due_date_changed"))["data"];
    assert_eq!(relabelled["unit_code"], "OFFICE-A");
    assert_eq!(relabelled["period_code"], "PAST");

    // A changed indicator changes the compilation of each period of its plan.
    let indicators = json_of(
        w.get(
            &w.coordinator,
            &format!("/api/v1/plans/{}/indicators", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    let indicator = indicators["items"][0]["id"].as_str().unwrap();
    json_of(
        w.req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/indicators/{indicator}"),
        )
        .json(&json!({"target": 0.75}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let got = receiver.wait_for("six events", |r| r.len() >= 6).await;
    let mut periods: Vec<Value> = got[4..]
        .iter()
        .map(|r| {
            matches_document(r);
            let e = r.json();
            assert_eq!(e["type"], "compilation.changed");
            assert_eq!(e["data"]["cause"], "indicator.changed");
            assert!(e["data"]["unit_code"].is_null());
            e["data"]["period_code"].clone()
        })
        .collect();
    periods.sort_by_key(|p| p.to_string());
    assert_eq!(periods, [json!("CUR"), json!("PAST")]);
    receiver.stop().await;
}
