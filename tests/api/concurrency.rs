//! Optimistic concurrency: reads carry an ETag, writes and transitions need If-Match;
//! of two writers holding the same ETag exactly one wins and the other gets 412.

use reqwest::Response;
use serde_json::{Value, json};

use crate::fixtures::{World, complete_report, report_of, scalar, snapshot, with_value};
use crate::helpers::assert_problem;

/// A 200 with its report and ETag, or a 412 with its problem.
async fn outcome(res: Response) -> Result<(Value, String), Value> {
    match res.status().as_u16() {
        200 => Ok(report_of(res, 200).await),
        _ => Err(assert_problem(res, 412, "stale_etag").await),
    }
}

/// Exactly one of two concurrent outcomes won; returns the winner's index, report and
/// ETag after checking the loser was told the winner's ETag.
fn one_winner(
    first: Result<(Value, String), Value>,
    second: Result<(Value, String), Value>,
) -> (usize, Value, String) {
    let (i, (report, etag), problem) = match (first, second) {
        (Ok(won), Err(lost)) => (0, won, lost),
        (Err(lost), Ok(won)) => (1, won, lost),
        (Ok(_), Ok(_)) => panic!("both writers succeeded: one change was silently lost"),
        (Err(a), Err(b)) => panic!("both writers were refused: {a} {b}"),
    };
    assert_eq!(problem["current_etag"], etag.as_str(), "{problem}");
    (i, report, etag)
}

async fn report_version(w: &World) -> i64 {
    scalar(&w.app, "SELECT max(version)::bigint AS n FROM reports").await
}

#[tokio::test]
async fn two_writers_with_the_same_etag_exactly_one_wins() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let good = complete_report(p.window_start);

    // Two first saves race to create the report: one creates it; the other is told
    // the report now exists — 412 if it raced the insert itself, 428 (now If-Match is
    // needed) if it arrived just after.
    let other = with_value(good.clone(), "staff_total", json!(99));
    let (r1, r2) = tokio::join!(
        w.put_report(&w.reporter_a, p, unit, &good, None).send(),
        w.put_report(&w.admin, p, unit, &other, None).send(),
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    let (created, lost) = match (r1.status().as_u16(), r2.status().as_u16()) {
        (201, 412 | 428) => (r1, r2),
        (412 | 428, 201) => (r2, r1),
        (a, b) => panic!("expected one 201 and one 412 or 428, got {a} and {b}"),
    };
    let (first, mut etag) = report_of(created, 201).await;
    match lost.status().as_u16() {
        412 => assert_problem(lost, 412, "stale_etag").await,
        _ => assert_problem(lost, 428, "if_match_required").await,
    };
    let (stored, stored_etag) = w.read(&w.viewer, p, unit).await;
    assert_eq!(stored["data"], first["data"]);
    assert_eq!(stored_etag, etag);
    assert_eq!(scalar(&w.app, "SELECT count(*) AS n FROM reports").await, 1);
    assert_eq!(
        scalar(
            &w.app,
            "SELECT count(*) AS n FROM audit_events WHERE action = 'report.create'"
        )
        .await,
        1
    );

    for round in 0..6_i64 {
        // Alternately two sessions of the reporter, and the reporter against an admin.
        let other = if round % 2 == 0 {
            &w.reporter_a
        } else {
            &w.admin
        };
        let mine = with_value(good.clone(), "staff_total", json!(100 + round));
        let theirs = with_value(good.clone(), "staff_total", json!(200 + round));
        let before = snapshot(&w.app).await;
        let version = report_version(&w).await;
        let (r1, r2) = tokio::join!(
            w.put_report(&w.reporter_a, p, unit, &mine, Some(&etag))
                .send(),
            w.put_report(other, p, unit, &theirs, Some(&etag)).send(),
        );
        let (winner, report, new_etag) =
            one_winner(outcome(r1.unwrap()).await, outcome(r2.unwrap()).await);
        let expected = if winner == 0 { &mine } else { &theirs };
        assert_eq!(&report["data"], expected);
        // The database holds the winner's data, one version later, one save audited.
        let (stored, stored_etag) = w.read(&w.coordinator, p, unit).await;
        assert_eq!(&stored["data"], expected);
        assert_eq!(stored_etag, new_etag);
        assert_eq!(report_version(&w).await, version + 1);
        let after = snapshot(&w.app).await;
        assert_eq!(after.audit_events, before.audit_events + 1);
        assert_eq!(after.reports, before.reports);
        etag = new_etag;
    }

    // Two concurrent submissions of the same version freeze one revision.
    let (s1, s2) = tokio::join!(
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag), None)
            .send(),
        w.act(&w.admin, p, unit, "submit", Some(&etag), None).send(),
    );
    let (_, report, etag) = one_winner(outcome(s1.unwrap()).await, outcome(s2.unwrap()).await);
    assert_eq!(report["revision"], 1);
    assert_eq!(
        scalar(&w.app, "SELECT count(*) AS n FROM report_revisions").await,
        1
    );

    // Two reviewers deciding at once: one decision stands.
    let reason = Some(json!({ "reason": "Thiếu số liệu" }));
    let (r1, r2) = tokio::join!(
        w.act(&w.coordinator, p, unit, "accept", Some(&etag), None)
            .send(),
        w.act(&w.admin, p, unit, "return", Some(&etag), reason)
            .send(),
    );
    let (winner, report, _) = one_winner(outcome(r1.unwrap()).await, outcome(r2.unwrap()).await);
    let status = if winner == 0 { "accepted" } else { "returned" };
    assert_eq!(report["status"], status);
    let (stored, _) = w.read(&w.viewer, p, unit).await;
    assert_eq!(stored["status"], status);
}

#[tokio::test]
async fn writes_and_transitions_need_a_current_if_match() {
    let w = World::new().await;
    let (p, unit) = (&w.open, w.a.code.as_str());
    let good = complete_report(p.window_start);

    // If-Match on a report that does not exist yet is stale.
    w.refused(
        w.put_report(&w.reporter_a, p, unit, &good, Some("\"0-1\"")),
        412,
        "stale_etag",
    )
    .await;
    let (_, etag1) = w.draft(&w.reporter_a, p, unit, &good).await;
    // Once it exists, writing blind is refused; so is every transition.
    w.refused(
        w.put_report(&w.reporter_a, p, unit, &good, None),
        428,
        "if_match_required",
    )
    .await;
    w.refused(
        w.act(&w.reporter_a, p, unit, "submit", None, None),
        428,
        "if_match_required",
    )
    .await;
    let reason = Some(json!({ "reason": "Lý do" }));
    for (action, body) in [
        ("return", reason.clone()),
        ("accept", None),
        ("reopen", reason.clone()),
    ] {
        w.refused(
            w.act(&w.coordinator, p, unit, action, None, body),
            428,
            "if_match_required",
        )
        .await;
    }

    let changed = with_value(good.clone(), "committee_meetings", json!(3));
    let (_, etag2) = w.save(&w.reporter_a, p, unit, &changed, &etag1).await;
    // The old ETag is stale for saves and transitions alike.
    let problem = w
        .refused(
            w.put_report(&w.reporter_a, p, unit, &good, Some(&etag1)),
            412,
            "stale_etag",
        )
        .await;
    assert_eq!(problem["current_etag"], etag2.as_str());
    w.refused(
        w.act(&w.reporter_a, p, unit, "submit", Some(&etag1), None),
        412,
        "stale_etag",
    )
    .await;
    w.refused(
        w.put_report(&w.reporter_a, p, unit, &good, Some("garbage")),
        412,
        "stale_etag",
    )
    .await;

    // The strong comparison: a weak tag never matches, even with the current value.
    w.refused(
        w.put_report(&w.reporter_a, p, unit, &good, Some(&format!("W/{etag2}"))),
        412,
        "stale_etag",
    )
    .await;
    // Lists of tags and `*` are understood.
    let (_, etag3) = w.save(&w.reporter_a, p, unit, &good, &etag2).await;
    let (_, etag4) = w
        .save(
            &w.reporter_a,
            p,
            unit,
            &changed,
            &format!("{etag1}, {etag3}"),
        )
        .await;
    let (report, etag5) = w.save(&w.reporter_a, p, unit, &good, "*").await;
    assert_ne!(etag4, etag5);
    assert_eq!(report["version"], 5);
    let (submitted, etag6) = w
        .transition(&w.reporter_a, p, unit, "submit", &etag5, None)
        .await;
    assert_eq!(submitted["version"], 6);
    // A transition moves the ETag on too: the pre-submission one is now stale.
    w.refused(
        w.act(&w.coordinator, p, unit, "accept", Some(&etag5), None),
        412,
        "stale_etag",
    )
    .await;
    w.transition(&w.coordinator, p, unit, "accept", &etag6, None)
        .await;
}
