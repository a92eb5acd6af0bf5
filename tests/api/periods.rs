//! Periods as reporters live them: a locked period takes no writes from reporters
//! (admins still can, coordinators still review), unlocking opens it again; and a
//! submission is late exactly when it comes after the end of the due day in Vietnam.

use chrono::{DateTime, NaiveTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{
    World, complete_report, days, json_of, save_refused_across_uncommitted, today_vn, with_value,
};
use gereport::plans::period::{due_instant, vietnam_date, vietnam_offset};

async fn set_lock(
    w: &World,
    who: &crate::fixtures::Caller,
    period: uuid::Uuid,
    action: &str,
) -> Value {
    let res = w
        .req(
            who,
            Method::POST,
            &format!("/api/v1/periods/{period}/{action}"),
        )
        .send()
        .await
        .unwrap();
    json_of(res, 200).await
}

#[tokio::test]
async fn a_locked_period_takes_no_writes_from_reporters_until_unlocked() {
    let w = World::new().await;
    let (p, a, b) = (&w.open, w.a.code.as_str(), w.b.code.as_str());
    let good = complete_report(p.window_start);
    let (_, etag) = w.draft(&w.reporter_a, p, a, &good).await;

    // Only coordinators and admins lock.
    for who in [&w.reporter_a, &w.viewer] {
        w.refused(
            w.req(who, Method::POST, &format!("/api/v1/periods/{}/lock", p.id)),
            403,
            "forbidden",
        )
        .await;
    }
    let period = set_lock(&w, &w.coordinator, p.id, "lock").await;
    assert_eq!(period["status"], "locked");
    let listed = json_of(
        w.get(
            &w.reporter_a,
            &format!("/api/v1/periods?status=locked&plan={}", w.plan_id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], p.id.to_string());

    // Reporters can neither save, create nor submit.
    let changed = with_value(good.clone(), "committee_meetings", json!(4));
    let problem = w
        .refused(
            w.put_report(&w.reporter_a, p, a, &changed, Some(&etag)),
            409,
            "period_locked",
        )
        .await;
    assert_eq!(problem["period_status"], "locked");
    w.refused(
        w.put_report(&w.reporter_b, p, b, &good, None),
        409,
        "period_locked",
    )
    .await;
    w.refused(
        w.act(&w.reporter_a, p, a, "submit", Some(&etag), None),
        409,
        "period_locked",
    )
    .await;
    // Reading and dry runs still work.
    let (report, tag) = w.read(&w.reporter_a, p, a).await;
    assert_eq!(tag, etag);
    assert_eq!(report["data"], good);
    let res = w
        .act(&w.reporter_a, p, a, "validate", None, None)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(res, 200).await["valid"], true);

    // An admin can still correct and submit a unit's report.
    let (_, etag) = w.save(&w.admin, p, a, &changed, &etag).await;
    let (report, etag) = w.transition(&w.admin, p, a, "submit", &etag, None).await;
    assert_eq!(report["submitted_by"], w.admin.username);
    assert_eq!(report["status"], "submitted");
    // The coordinating office still reviews in a locked period.
    let (report, etag) = w
        .transition(
            &w.coordinator,
            p,
            a,
            "return",
            &etag,
            Some(json!({ "reason": "Đơn vị tự nộp lại" })),
        )
        .await;
    assert_eq!(report["status"], "returned");
    w.refused(
        w.act(&w.reporter_a, p, a, "submit", Some(&etag), None),
        409,
        "period_locked",
    )
    .await;

    // Unlocked, reporters write again. Repeating either move changes nothing.
    let again = set_lock(&w, &w.admin, p.id, "lock").await;
    assert_eq!(again["status"], "locked");
    let period = set_lock(&w, &w.coordinator, p.id, "unlock").await;
    assert_eq!(period["status"], "open");
    let again = set_lock(&w, &w.coordinator, p.id, "unlock").await;
    assert_eq!(again["status"], "open");
    let (_, etag) = w.save(&w.reporter_a, p, a, &good, &etag).await;
    let (report, _) = w
        .transition(&w.reporter_a, p, a, "submit", &etag, None)
        .await;
    assert_eq!(report["revision"], 2);
    assert_eq!(report["submitted_by"], w.reporter_a.username);
    w.draft(&w.reporter_b, p, b, &good).await;

    // Both moves are audited, once each.
    let page = json_of(
        w.get(
            &w.admin,
            &format!("/api/v1/audit?object_type=period&object_id={}", p.id),
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["period.unlock", "period.lock", "period.create"]);
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn submissions_are_late_after_the_end_of_the_due_day_in_vietnam() {
    let w = World::new().await;
    let today = today_vn();
    let yesterday = w
        .create_period(
            "DUE-YESTERDAY",
            today - days(60),
            today - days(1),
            today - days(1),
        )
        .await;
    let due_today = w
        .create_period("DUE-TODAY", today - days(60), today, today)
        .await;

    // The period says when it turns late: midnight after the due day, +07:00.
    let period = json_of(
        w.get(&w.reporter_a, &format!("/api/v1/periods/{}", due_today.id))
            .await,
        200,
    )
    .await;
    let midnight = (today + days(1))
        .and_time(NaiveTime::MIN)
        .and_local_timezone(vietnam_offset())
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(instant(&period["due_at"]), midnight);
    assert_eq!(midnight, due_instant(today));
    assert_eq!(
        midnight.format("%H:%M:%S").to_string(),
        "17:00:00",
        "midnight in Hanoi is 17:00 UTC"
    );

    // Due yesterday: late, whatever the hour.
    let (report, _) = w.submitted(&w.reporter_a, &yesterday, &w.a.code).await;
    assert_eq!(report["late"], true);
    assert!(instant(&report["submitted_at"]) >= due_instant(yesterday.due_date));

    // Due today: on time — unless Vietnam's midnight fell between reading the date and
    // submitting, in which case it is late and must say so.
    let (report, _) = w.submitted(&w.reporter_a, &due_today, &w.a.code).await;
    let at = instant(&report["submitted_at"]);
    let crossed_midnight = vietnam_date(at) > today;
    assert_eq!(report["late"], crossed_midnight, "submitted at {at}");
    assert_eq!(crossed_midnight, at >= midnight);

    // The fixture's period, due ten days ago: late; its revision says so too.
    let (report, _) = w.submitted(&w.reporter_b, &w.past, &w.b.code).await;
    assert_eq!(report["late"], true);
    let revisions = json_of(
        w.get(
            &w.coordinator,
            &format!(
                "{}/revisions",
                crate::fixtures::report_path(w.past.id, &w.b.code)
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(revisions["items"][0]["late"], true);

    // A late report returned and resubmitted after its due date moved into the future
    // is on time; the revision frozen at the first submission keeps its lateness.
    let res = w
        .req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/periods/{}", yesterday.id),
        )
        .json(&json!({ "due_date": today + days(7) }))
        .send()
        .await
        .unwrap();
    json_of(res, 200).await;
    let (_, etag) = w.read(&w.coordinator, &yesterday, &w.a.code).await;
    let (_, etag) = w
        .transition(
            &w.coordinator,
            &yesterday,
            &w.a.code,
            "return",
            &etag,
            Some(json!({ "reason": "Gia hạn" })),
        )
        .await;
    let (report, _) = w
        .transition(&w.reporter_a, &yesterday, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(report["late"], false);
    assert_eq!(report["revision"], 2);
    let path = crate::fixtures::report_path(yesterday.id, &w.a.code);
    let revisions = json_of(
        w.get(&w.reporter_a, &format!("{path}/revisions")).await,
        200,
    )
    .await;
    assert_eq!(revisions["items"][0]["late"], true);
    assert_eq!(revisions["items"][1]["late"], false);
}

#[tokio::test]
async fn a_lock_committed_while_a_save_is_under_way_still_refuses_it() {
    let w = World::new().await;
    // The coordinating office's lock is written but not yet committed when the
    // reporter's save reads the period.
    let sql = format!(
        "UPDATE periods SET status = 'locked' WHERE id = '{}'",
        w.open.id
    );
    let problem = save_refused_across_uncommitted(&w, &sql, "period_locked").await;
    assert_eq!(problem["period_status"], "locked");
}

/// Moving a due date decides every submitted report's lateness again: the report, the
/// `late` filter and the compilation all follow, and the audit says how many changed.
#[tokio::test]
async fn lateness_follows_a_moved_due_date() {
    let w = World::new().await;
    let today = today_vn();
    let period = w
        .create_period("MOVED", today - days(60), today - days(1), today - days(1))
        .await;
    let (report, _) = w.submitted(&w.reporter_a, &period, &w.a.code).await;
    assert_eq!(report["late"], true);
    let late_units = async |late: bool| {
        let page = json_of(
            w.get(
                &w.coordinator,
                &format!("/api/v1/reports?period={}&late={late}", period.id),
            )
            .await,
            200,
        )
        .await;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["unit_code"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let late_in_compilation = async || {
        let c = json_of(
            w.get(
                &w.coordinator,
                &format!(
                    "/api/v1/periods/{}/compilation?include=submitted",
                    period.id
                ),
            )
            .await,
            200,
        )
        .await;
        c["completeness"]["late"].clone()
    };
    assert_eq!(late_units(true).await, vec![w.a.code.clone()]);
    assert_eq!(late_in_compilation().await, 1);

    // The office extends the deadline to next week: on time everywhere.
    let res = w
        .req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/periods/{}", period.id),
        )
        .json(&json!({ "due_date": today + days(7) }))
        .send()
        .await
        .unwrap();
    json_of(res, 200).await;
    let (report, _) = w.read(&w.coordinator, &period, &w.a.code).await;
    assert_eq!(report["late"], false);
    assert!(late_units(true).await.is_empty());
    assert_eq!(late_units(false).await, vec![w.a.code.clone()]);
    assert_eq!(late_in_compilation().await, 0);
    let audit = json_of(
        w.get(
            &w.coordinator,
            &format!("/api/v1/audit?object_type=period&object_id={}", period.id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(audit["items"][0]["change"]["reports_lateness_changed"], 1);

    // And back: the deadline restored, the report is late again.
    let res = w
        .req(
            &w.coordinator,
            Method::PATCH,
            &format!("/api/v1/periods/{}", period.id),
        )
        .json(&json!({ "due_date": today - days(1) }))
        .send()
        .await
        .unwrap();
    json_of(res, 200).await;
    assert_eq!(late_units(true).await, vec![w.a.code.clone()]);
}

/// A coordinator gives one unit its own due date, with a reason: that unit's report is
/// on time against it, the others' are judged as before; reporters cannot grant one,
/// and a unit outside the plan's tree is not found.
#[tokio::test]
async fn a_unit_extension_decides_that_units_lateness_only() {
    let w = World::new().await;
    let today = today_vn();
    let period = w
        .create_period("EXT", today - days(60), today - days(1), today - days(1))
        .await;
    let (a, _) = w.submitted(&w.reporter_a, &period, &w.a.code).await;
    let (b, _) = w.submitted(&w.reporter_b, &period, &w.b.code).await;
    assert_eq!(
        (a["late"].clone(), b["late"].clone()),
        (json!(true), json!(true))
    );

    let extend = |who: &crate::fixtures::Caller, unit: &str, body: Value| {
        w.req(
            who,
            Method::PUT,
            &format!("/api/v1/periods/{}/extensions/{unit}", period.id),
        )
        .json(&body)
        .send()
    };
    let granted = json_of(
        extend(
            &w.coordinator,
            &w.a.code,
            json!({"due_date": today + days(3), "reason": "Thay đổi cán bộ phụ trách"}),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(granted["unit_code"], w.a.code);
    assert_eq!(granted["reason"], "Thay đổi cán bộ phụ trách");
    let (a, _) = w.read(&w.coordinator, &period, &w.a.code).await;
    let (b, _) = w.read(&w.coordinator, &period, &w.b.code).await;
    assert_eq!(a["late"], false);
    assert_eq!(b["late"], true);
    let listed = json_of(
        w.get(
            &w.coordinator,
            &format!("/api/v1/periods/{}/extensions", period.id),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["total"], 1);

    // A resubmission is judged against the extension too.
    let (_, etag) = w.read(&w.coordinator, &period, &w.a.code).await;
    let (_, etag) = w
        .transition(
            &w.coordinator,
            &period,
            &w.a.code,
            "return",
            &etag,
            Some(json!({ "reason": "Bổ sung" })),
        )
        .await;
    let (a, _) = w
        .transition(&w.reporter_a, &period, &w.a.code, "submit", &etag, None)
        .await;
    assert_eq!(a["late"], false);

    let body = json!({"due_date": today + days(3), "reason": "x"});
    w.refused(
        w.req(
            &w.reporter_a,
            Method::PUT,
            &format!("/api/v1/periods/{}/extensions/{}", period.id, w.a.code),
        )
        .json(&body),
        403,
        "forbidden",
    )
    .await;
    w.refused(
        w.req(
            &w.coordinator,
            Method::PUT,
            &format!("/api/v1/periods/{}/extensions/NO-SUCH-UNIT", period.id),
        )
        .json(&body),
        404,
        "not_found",
    )
    .await;
    let problem = w
        .refused(
            w.req(
                &w.coordinator,
                Method::PUT,
                &format!("/api/v1/periods/{}/extensions/{}", period.id, w.b.code),
            )
            .json(&json!({"due_date": today, "reason": "   "})),
            422,
            "validation_failed",
        )
        .await;
    assert_eq!(problem["errors"][0]["path"], "body.reason");
}
