//! Notifications in the app and by e-mail, reminders on a schedule, and reports
//! entered by a coordinator on a unit's behalf. E-mail goes to a small SMTP server run
//! here on loopback, which keeps what it received; reminders and retries are driven by
//! calling the worker's rounds with a moved clock, never by sleeping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::fixtures::{World, complete_report, days, json_of, report_path, scalar, today_vn};
use crate::helpers::assert_problem;
use gereport::config::{NotifySettings, SmtpSettings, SmtpTls};
use gereport::notifications::{mail, worker};

/// One message as the server received it.
#[derive(Clone, Debug)]
struct Received {
    rcpt: Vec<String>,
    data: String,
}

/// A small SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. It refuses the
/// first `fail_first` messages with a 451 after DATA (a temporary failure).
struct SmtpServer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    async fn start(fail_first: usize) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failures = Arc::new(Mutex::new(fail_first));
        let store = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                let failures = failures.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read);
                    write.write_all(b"220 test.local ESMTP\r\n").await.ok();
                    let mut rcpt = Vec::new();
                    loop {
                        let mut line = String::new();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                            "HELO" => b"250 test.local\r\n",
                            "MAIL" => {
                                rcpt.clear();
                                b"250 OK\r\n"
                            }
                            "RCPT" => {
                                rcpt.push(line[8..].trim().to_string());
                                b"250 OK\r\n"
                            }
                            "DATA" => {
                                write.write_all(b"354 go ahead\r\n").await.ok();
                                let mut data = String::new();
                                loop {
                                    let mut l = String::new();
                                    if lines.read_line(&mut l).await.unwrap_or(0) == 0 {
                                        return;
                                    }
                                    if l == ".\r\n" {
                                        break;
                                    }
                                    data.push_str(&l);
                                }
                                let fail = {
                                    let mut f = failures.lock().unwrap();
                                    let fail = *f > 0;
                                    *f = f.saturating_sub(1);
                                    fail
                                };
                                if fail {
                                    b"451 4.3.0 try again later\r\n"
                                } else {
                                    store.lock().unwrap().push(Received {
                                        rcpt: std::mem::take(&mut rcpt),
                                        data,
                                    });
                                    b"250 2.0.0 queued\r\n"
                                }
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok();
                                return;
                            }
                            _ => b"250 OK\r\n",
                        };
                        if write.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpServer { port, received }
    }

    fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn settings(&self) -> NotifySettings {
        NotifySettings {
            worker: true,
            poll: Duration::from_secs(1),
            smtp: Some(SmtpSettings {
                host: "127.0.0.1".into(),
                port: self.port,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "Hệ thống báo cáo <no-reply@gereport.test>".into(),
            }),
            retry_schedule: vec![Duration::from_secs(60), Duration::from_secs(600)],
        }
    }
}

/// The service with its own worker off: the test runs the worker's rounds itself.
async fn world() -> World {
    World::with(&[("GEREPORT_NOTIFY_WORKER", "off")]).await
}

fn pool(w: &World) -> gereport::db::Pool {
    gereport::db::build_pool(&w.app.db.url, 4, Duration::from_secs(3), Default::default()).unwrap()
}

async fn set_email(w: &World, username: &str, email: &str) {
    scalar(
        &w.app,
        &format!(
            "WITH u AS (UPDATE users SET email = '{email}' WHERE username = '{username}' RETURNING 1) \
             SELECT count(*) AS n FROM u"
        ),
    )
    .await;
}

/// Locks or unlocks the open period as the coordinator.
async fn period_action(w: &World, action: &str) {
    let path = format!("/api/v1/periods/{}/{action}", w.open.id);
    let res = w
        .req(&w.coordinator, Method::POST, &path)
        .send()
        .await
        .unwrap();
    json_of(res, 200).await;
}

async fn bell(w: &World, who: &crate::fixtures::Caller, query: &str) -> Value {
    json_of(
        w.get(who, &format!("/api/v1/me/notifications{query}"))
            .await,
        200,
    )
    .await
}

/// Decodes a header with RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`)
/// among plain ones; the space between two encoded words is not part of the text.
fn decode_words(header: &str) -> String {
    let mut out = String::new();
    let mut last_encoded = false;
    for word in header.split_whitespace() {
        let encoded = word.starts_with("=?") && word.ends_with("?=");
        let joined = encoded && last_encoded;
        if !out.is_empty() && !joined {
            out.push(' ');
        }
        if encoded {
            let parts: Vec<&str> = word[2..word.len() - 2].split('?').collect();
            assert_eq!(parts.len(), 3, "not an encoded word: {word}");
            assert!(parts[0].eq_ignore_ascii_case("utf-8"), "{word}");
            let bytes = if parts[1].eq_ignore_ascii_case("b") {
                base64::engine::general_purpose::STANDARD
                    .decode(parts[2])
                    .unwrap()
            } else {
                quoted_printable(&parts[2].replace('_', " "))
            };
            out.push_str(&String::from_utf8(bytes).unwrap());
        } else {
            out.push_str(word);
        }
        last_encoded = encoded;
    }
    out
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A header's value (unfolded) of a received message.
fn header(data: &str, name: &str) -> String {
    let head = data.split("\r\n\r\n").next().unwrap();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// The decoded `text/plain` part of a received message.
fn plain_text(data: &str) -> String {
    let start = data
        .find("Content-Type: text/plain")
        .expect("a text/plain part");
    let part = &data[start..];
    let (head, body) = part.split_once("\r\n\r\n").unwrap();
    let body = body.split("\r\n--").next().unwrap();
    let encoding = header(head, "Content-Transfer-Encoding").to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.replace("\r\n", ""))
            .unwrap(),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).unwrap()
}

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    // `hour` in Việt Nam (UTC+7).
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap()) - chrono::Duration::hours(7)
}

#[tokio::test]
async fn a_returned_report_reaches_the_reporters_in_the_app_and_by_email() {
    let w = world().await;
    set_email(&w, "reporter-a", "reporter.a@donvi.test").await;
    let (_, etag) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    w.transition(
        &w.coordinator,
        &w.open,
        "OFFICE-A",
        "return",
        &etag,
        Some(json!({ "reason": "Thiếu số liệu mục B." })),
    )
    .await;

    let page = bell(&w, &w.reporter_a, "?unread=true").await;
    let returned = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "report.returned")
        .unwrap_or_else(|| panic!("{page}"))
        .clone();
    assert!(
        returned["body"]
            .as_str()
            .unwrap()
            .contains("Lý do: Thiếu số liệu mục B.")
    );
    assert_eq!(
        returned["title"],
        format!("Báo cáo kỳ {} bị trả lại", w.open.code)
    );
    assert_eq!(returned["email_status"], "pending");
    assert_eq!(
        returned["link"],
        format!("/api/v1/periods/{}/reports/OFFICE-A", w.open.id)
    );
    let unread = page["unread"].as_i64().unwrap();
    assert!(unread >= 1);
    // Others see nothing of it: reporter B has no such notification, and cannot mark
    // reporter A's read.
    let b = bell(&w, &w.reporter_b, "").await;
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "report.returned")
    );
    let id = returned["id"].as_str().unwrap();
    let res = w
        .req(
            &w.reporter_b,
            Method::POST,
            &format!("/api/v1/me/notifications/{id}/read"),
        )
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;

    // The e-mail goes out through SMTP: Vietnamese subject (RFC 2047), plain text.
    let smtp = SmtpServer::start(0).await;
    let settings = smtp.settings();
    let mailer = mail::mailer(settings.smtp.as_ref().unwrap()).unwrap();
    let pool = pool(&w);
    let sent = worker::send_due_emails(&pool, &mailer, &settings, Utc::now())
        .await
        .unwrap();
    assert!(sent >= 1);
    let messages = smtp.messages();
    let m = messages
        .iter()
        .find(|m| plain_text(&m.data).contains("Thiếu số liệu mục B."))
        .unwrap_or_else(|| panic!("{messages:?}"));
    assert_eq!(m.rcpt, vec!["<reporter.a@donvi.test>"]);
    let subject = header(&m.data, "Subject");
    assert!(subject.contains("=?utf-8?"), "{subject}");
    assert_eq!(
        decode_words(&subject),
        format!("Báo cáo kỳ {} bị trả lại", w.open.code)
    );
    assert!(m.data.contains("multipart/alternative"));
    // Nothing is sent twice.
    worker::send_due_emails(
        &pool,
        &mailer,
        &settings,
        Utc::now() + chrono::Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(smtp.messages().len(), messages.len());
    let after = bell(&w, &w.reporter_a, "").await;
    let n = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == returned["id"])
        .unwrap();
    assert_eq!(n["email_status"], "sent");

    // Marked read, one then all.
    let read = json_of(
        w.req(
            &w.reporter_a,
            Method::POST,
            &format!("/api/v1/me/notifications/{id}/read"),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert!(read["read_at"].is_string());
    assert_eq!(bell(&w, &w.reporter_a, "").await["unread"], unread - 1);
    let all = json_of(
        w.req(
            &w.reporter_a,
            Method::POST,
            "/api/v1/me/notifications/read-all",
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(all["marked"], unread - 1);
    let page = bell(&w, &w.reporter_a, "?unread=true").await;
    assert_eq!(
        (page["unread"].as_i64(), page["total"].as_i64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn a_user_can_switch_email_off_and_a_refused_email_is_retried_later() {
    let w = world().await;
    set_email(&w, "reporter-a", "reporter.a@donvi.test").await;
    set_email(&w, "reporter-b", "reporter.b@donvi.test").await;
    let off = json_of(
        w.req(
            &w.reporter_b,
            Method::PUT,
            "/api/v1/me/notification-settings",
        )
        .json(&json!({ "email": false }))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        off,
        json!({ "email": false, "email_address": "reporter.b@donvi.test" })
    );
    let pool = pool(&w);
    // Drop what the fixture's periods queued, to count this test's e-mails alone.
    let smtp = SmtpServer::start(0).await;
    let settings = smtp.settings();
    let mailer = mail::mailer(settings.smtp.as_ref().unwrap()).unwrap();
    worker::send_due_emails(&pool, &mailer, &settings, Utc::now())
        .await
        .unwrap();
    let before = smtp.messages().len();

    // The period is locked: both offices hear of it, only A by e-mail.
    period_action(&w, "lock").await;
    let b = bell(&w, &w.reporter_b, "").await;
    let locked = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "period.locked")
        .unwrap();
    assert_eq!(locked["email_status"], "none");

    // A server that refuses the first attempt (451): retried after the schedule's
    // first wait, not before.
    let failing = SmtpServer::start(1).await;
    let settings = failing.settings();
    let mailer = mail::mailer(settings.smtp.as_ref().unwrap()).unwrap();
    let now = Utc::now();
    assert_eq!(
        worker::send_due_emails(&pool, &mailer, &settings, now)
            .await
            .unwrap(),
        1
    );
    assert!(failing.messages().is_empty());
    assert_eq!(
        scalar(&w.app, "SELECT count(*) AS n FROM notification_emails WHERE status = 'pending' AND last_error LIKE '%451%'").await,
        1
    );
    let soon = now + chrono::Duration::seconds(30);
    assert_eq!(
        worker::send_due_emails(&pool, &mailer, &settings, soon)
            .await
            .unwrap(),
        0
    );
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(
        worker::send_due_emails(&pool, &mailer, &settings, later)
            .await
            .unwrap(),
        1
    );
    let got = failing.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, vec!["<reporter.a@donvi.test>"]);
    assert!(plain_text(&got[0].data).contains("đã khoá kỳ báo cáo"));
    assert_eq!(smtp.messages().len(), before);

    // A server that keeps refusing: given up after the schedule (two retries).
    let refusing = SmtpServer::start(usize::MAX).await;
    let settings = refusing.settings();
    let mailer = mail::mailer(settings.smtp.as_ref().unwrap()).unwrap();
    period_action(&w, "unlock").await;
    for minutes in [0, 2, 20] {
        let t = Utc::now() + chrono::Duration::minutes(minutes);
        assert_eq!(
            worker::send_due_emails(&pool, &mailer, &settings, t)
                .await
                .unwrap(),
            1
        );
    }
    assert_eq!(
        scalar(
            &w.app,
            "SELECT count(*) AS n FROM notification_emails WHERE status = 'failed' AND attempts = 3"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn two_workers_never_send_one_email_twice() {
    let w = world().await;
    for i in 0..6 {
        w.create_user(&format!("reporter-a{i}"), "reporter", "OFFICE-A")
            .await;
        set_email(&w, &format!("reporter-a{i}"), &format!("a{i}@donvi.test")).await;
    }
    let (_, etag) = w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    w.transition(&w.coordinator, &w.open, "OFFICE-A", "accept", &etag, None)
        .await;
    let smtp = SmtpServer::start(0).await;
    let settings = smtp.settings();
    let (m1, m2) = (
        mail::mailer(settings.smtp.as_ref().unwrap()).unwrap(),
        mail::mailer(settings.smtp.as_ref().unwrap()).unwrap(),
    );
    let (p1, p2) = (pool(&w), pool(&w));
    let now = Utc::now();
    let (a, b) = tokio::join!(
        worker::send_due_emails(&p1, &m1, &settings, now),
        worker::send_due_emails(&p2, &m2, &settings, now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // A second round finds nothing left.
    let c = worker::send_due_emails(&p1, &m1, &settings, now)
        .await
        .unwrap();
    let queued = scalar(&w.app, "SELECT count(*) AS n FROM notification_emails").await;
    assert_eq!(
        queued, 6,
        "the acceptance, to each of the six with an address"
    );
    assert_eq!((a + b + c) as i64, queued);
    // Each (recipient, subject) once: one message per queued e-mail, none twice.
    let sent: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| m.rcpt.join(",") + &header(&m.data, "Subject"))
        .collect();
    assert_eq!(sent.len() as i64, queued);
    let mut unique = sent.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), sent.len(), "{sent:?}");
    assert_eq!(
        scalar(
            &w.app,
            "SELECT count(*) AS n FROM notification_emails WHERE status = 'sent' AND attempts = 1"
        )
        .await,
        queued
    );
}

#[tokio::test]
async fn reminders_follow_the_schedule_once_per_unit_and_step() {
    let w = world().await;
    let pool = pool(&w);
    let due = w.open.due_date;
    let reminders = |who: &crate::fixtures::Caller| {
        let w = &w;
        let who = who.clone();
        async move {
            bell(w, &who, "").await["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| n["kind"] == "reminder")
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    let schedule = json_of(
        w.get(
            &w.reporter_a,
            &format!("/api/v1/periods/{}/reminders", w.open.id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(schedule["offsets_days"], json!([-7, -1, 0]));
    assert_eq!(schedule["repeat_every_days"], 3);
    assert_eq!(schedule["is_default"], true);

    // The fixture's past period is overdue already: its step is made up once.
    let first = worker::remind_due(&pool, at(due - days(8), 9))
        .await
        .unwrap();
    let past_only = scalar(
        &w.app,
        &format!(
            "SELECT count(*) AS n FROM reminders_sent WHERE period_id <> '{}'",
            w.open.id
        ),
    )
    .await;
    assert_eq!(first as i64, past_only);
    assert_eq!(
        scalar(
            &w.app,
            &format!(
                "SELECT count(*) AS n FROM reminders_sent WHERE period_id = '{}'",
                w.open.id
            )
        )
        .await,
        0
    );

    // Seven days before: both offices are missing; the same day again sends nothing.
    worker::remind_due(&pool, at(due - days(7), 8))
        .await
        .unwrap();
    worker::remind_due(&pool, at(due - days(7), 17))
        .await
        .unwrap();
    let open_count = || async {
        scalar(
            &w.app,
            &format!(
                "SELECT count(*) AS n FROM reminders_sent WHERE period_id = '{}'",
                w.open.id
            ),
        )
        .await
    };
    assert_eq!(open_count().await, 2);
    let r = reminders(&w.reporter_a).await;
    let open_reminders: Vec<&Value> = r
        .iter()
        .filter(|n| n["period_id"] == w.open.id.to_string())
        .collect();
    assert_eq!(open_reminders.len(), 1);
    assert!(
        open_reminders[0]["body"]
            .as_str()
            .unwrap()
            .contains("còn 7 ngày nữa")
    );

    // A submits; on the due date only B is reminded; two workers at once send one.
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let (x, y) = tokio::join!(
        worker::remind_due(&pool, at(due, 9)),
        worker::remind_due(&pool, at(due, 9)),
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(open_count().await, 3);
    assert_eq!(
        scalar(&w.app, &format!("SELECT count(*) AS n FROM reminders_sent WHERE period_id = '{}' AND unit_id = '{}' AND step = 'd+0'", w.open.id, w.b.id)).await,
        1
    );
    // Every 3 days after, while missing.
    worker::remind_due(&pool, at(due + days(2), 9))
        .await
        .unwrap();
    assert_eq!(open_count().await, 3);
    worker::remind_due(&pool, at(due + days(3), 9))
        .await
        .unwrap();
    assert_eq!(open_count().await, 4);
    let b_reminders = reminders(&w.reporter_b).await;
    assert!(b_reminders.iter().any(|n| {
        n["body"]
            .as_str()
            .unwrap()
            .contains("đã quá hạn nộp 3 ngày")
    }));

    // A schedule of its own: every day after the due date.
    let put = json_of(
        w.req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/reminders", w.open.id),
        )
        .json(&json!({ "offsets_days": [0, -2], "repeat_every_days": 1 }))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(put["offsets_days"], json!([-2, 0]));
    assert_eq!(put["is_default"], false);
    worker::remind_due(&pool, at(due + days(4), 9))
        .await
        .unwrap();
    assert_eq!(open_count().await, 5);
    let res = w
        .req(
            &w.reporter_a,
            Method::PUT,
            &format!("/api/v1/periods/{}/reminders", w.open.id),
        )
        .json(&json!({ "offsets_days": [0] }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "forbidden").await;
    let res = w
        .req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/reminders", w.open.id),
        )
        .json(&json!({ "offsets_days": [400] }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert!(body.to_string().contains("body.offsets_days"), "{body}");
}

#[tokio::test]
async fn a_coordinator_reminds_the_missing_units_now() {
    let w = world().await;
    w.submitted(&w.reporter_a, &w.open, "OFFICE-A").await;
    let res = json_of(
        w.req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/periods/{}/reminders:send", w.open.id),
        )
        .json(&json!({ "message": "Đề nghị nộp trước thứ Sáu." }))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(res["units"], json!(["OFFICE-B"]), "{res}");
    assert_eq!(res["notifications"], 1);
    let b = bell(&w, &w.reporter_b, "").await;
    let reminder = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "reminder")
        .unwrap();
    assert!(
        reminder["body"]
            .as_str()
            .unwrap()
            .contains("Đề nghị nộp trước thứ Sáu.")
    );
    let a = bell(&w, &w.reporter_a, "").await;
    assert!(
        a["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "reminder")
    );
    let res = w
        .req(
            &w.coordinator,
            Method::POST,
            &format!("/api/v1/periods/{}/reminders:send", w.open.id),
        )
        .json(&json!({ "message": "  " }))
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert!(body.to_string().contains("body.message"), "{body}");
}

#[tokio::test]
async fn a_coordinator_enters_a_paper_report_on_a_units_behalf() {
    let w = world().await;
    let data = complete_report(w.open.window_start);
    let path = report_path(w.open.id, "OFFICE-A");
    // Without a note: 422 naming it.
    let res = w
        .req(&w.coordinator, Method::PUT, &path)
        .json(&data)
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert!(body.to_string().contains("query.entry_note"), "{body}");
    // A viewer may not; a coordinator of another subtree does not see the unit.
    let res = w
        .req(&w.viewer, Method::PUT, &format!("{path}?entry_note=x"))
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "forbidden").await;
    let other = w
        .create_user("coordinator-b", "coordinator", "OFFICE-B")
        .await;
    let res = w
        .req(&other, Method::PUT, &format!("{path}?entry_note=x"))
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;

    let note = "Nhận bản giấy, công văn số 15/PTC ngày 20/11/2026";
    let res = w
        .req(&w.coordinator, Method::PUT, &path)
        .query(&[("entry_note", note)])
        .json(&data)
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    json_of(res, 201).await;
    let res = w
        .req(&w.coordinator, Method::POST, &format!("{path}/submit"))
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    let body = assert_problem(res, 422, "validation_failed").await;
    assert!(body.to_string().contains("query.entry_note"), "{body}");
    let res = w
        .req(&w.coordinator, Method::POST, &format!("{path}/submit"))
        .query(&[("entry_note", note)])
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    let report = json_of(res, 200).await;
    assert_eq!(report["status"], "submitted");
    let coordinator = report["submitted_by"].clone();
    assert!(
        coordinator.as_str().unwrap().contains("coordinator"),
        "{report}"
    );

    let revision = json_of(
        w.get(&w.reporter_a, &format!("{path}/revisions/1")).await,
        200,
    )
    .await;
    assert_eq!(revision["entered_by"], coordinator);
    assert_eq!(revision["entry_note"], note);
    let audit = json_of(
        w.get(
            &w.admin,
            &format!("/api/v1/audit?object_id={}", report["id"].as_str().unwrap()),
        )
        .await,
        200,
    )
    .await;
    let submit = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "report.submit")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(submit["change"]["entry_note"], note);
    assert_eq!(submit["change"]["entered_on_behalf_of"], "OFFICE-A");
    let a = bell(&w, &w.reporter_a, "").await;
    let entered: Vec<&Value> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "report.entered_on_behalf")
        .collect();
    assert_eq!(entered.len(), 2, "saved, then submitted: {a}");
    assert!(entered[0]["body"].as_str().unwrap().contains(note));
    // The reporters of B heard nothing of it.
    let b = bell(&w, &w.reporter_b, "").await;
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["kind"] != "report.entered_on_behalf")
    );
    let _ = today_vn();
}

#[tokio::test]
async fn the_services_own_worker_sends_through_the_configured_server() {
    let smtp = SmtpServer::start(0).await;
    let port = smtp.port.to_string();
    let w = World::with(&[
        ("GEREPORT_NOTIFY_POLL_MS", "50"),
        ("GEREPORT_SMTP_HOST", "127.0.0.1"),
        ("GEREPORT_SMTP_PORT", &port),
        ("GEREPORT_SMTP_TLS", "none"),
        ("GEREPORT_SMTP_FROM", "Sở VHTT <baocao@gereport.test>"),
    ])
    .await;
    set_email(&w, "reporter-b", "reporter.b@donvi.test").await;
    let (_, etag) = w.submitted(&w.reporter_b, &w.open, "OFFICE-B").await;
    w.transition(&w.coordinator, &w.open, "OFFICE-B", "accept", &etag, None)
        .await;
    // The worker polls every 50 ms: wait for the message, at most 10 s.
    let mut got = Vec::new();
    for _ in 0..200 {
        got = smtp.messages();
        if got.iter().any(|m| plain_text(&m.data).contains("đã được")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let accepted = got
        .iter()
        .find(|m| plain_text(&m.data).contains("tiếp nhận"))
        .unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(accepted.rcpt, vec!["<reporter.b@donvi.test>"]);
    assert!(header(&accepted.data, "From").contains("baocao@gereport.test"));
}

#[tokio::test]
async fn an_email_claimed_by_a_worker_that_died_is_sent_after_its_lease() {
    let w = world().await;
    set_email(&w, "reporter-a", "reporter.a@donvi.test").await;
    let pool = pool(&w);
    period_action(&w, "lock").await;
    let now = Utc::now();
    // A worker claims everything due, then dies before sending or recording.
    let claimed = {
        let mut conn = crate::fixtures::connect(&w.app).await;
        gereport::notifications::store::claim_emails(
            &mut conn,
            now,
            100,
            Duration::from_secs(120),
            uuid::Uuid::new_v4(),
        )
        .await
        .unwrap()
    };
    assert!(
        !claimed.is_empty(),
        "the fixture's due dates were told by e-mail"
    );
    let smtp = SmtpServer::start(0).await;
    let settings = smtp.settings();
    let mailer = mail::mailer(settings.smtp.as_ref().unwrap()).unwrap();
    // A restarted worker leaves them alone while the lease runs, then sends them.
    let during = now + chrono::Duration::seconds(60);
    assert_eq!(
        worker::send_due_emails(&pool, &mailer, &settings, during)
            .await
            .unwrap(),
        0
    );
    let after = now + chrono::Duration::seconds(121);
    assert_eq!(
        worker::send_due_emails(&pool, &mailer, &settings, after)
            .await
            .unwrap(),
        claimed.len()
    );
    assert_eq!(smtp.messages().len(), claimed.len());
}
