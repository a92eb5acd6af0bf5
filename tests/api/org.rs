//! The organisation tree: create, read by id or code, rename, move (never into its own
//! subtree), deactivate (never a delete), list with filters and pagination, and the
//! audit trail of each write.

use serde_json::{Value, json};
use unicode_normalization::UnicodeNormalization;

use crate::helpers::{
    TestApp, Tree, assert_json, assert_problem, create_unit, seed_admin, spawn_app,
};

fn codes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_string())
        .collect()
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.db_i64(&format!(
        "SELECT count(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
    .await
}

/// Every unit's code, parent and path, to prove a refused write changed nothing.
async fn tree_snapshot(app: &TestApp) -> String {
    app.db_text(
        "SELECT string_agg(code || ':' || coalesce(parent_id::text, '-') || ':' || path || ':' \
         || depth || ':' || active || ':' || name, ',' ORDER BY code) AS t FROM org_units",
    )
    .await
}

#[tokio::test]
async fn a_unit_is_created_with_a_location_and_an_nfc_name_and_read_by_id_or_code() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let root = assert_json(app.get_as("/api/v1/org-units/SVHTT", &admin).await, 200).await;

    // "Phòng Kế hoạch" typed with combining marks (NFD), as some keyboards send it.
    let nfd = "Pho\u{300}ng Ke\u{302}\u{301} hoa\u{323}ch";
    let nfc: String = nfd.nfc().collect();
    assert_ne!(nfd, nfc);
    assert_eq!(nfc, "Phòng Kế hoạch");

    let res = app
        .post_as(
            "/api/v1/org-units",
            &admin,
            &json!({ "code": "KHTC-2", "name": format!("  {nfd} "), "kind": "office", "parent": "SVHTT" }),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let created = assert_json(res, 201).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/org-units/{id}"));
    assert_eq!(created["code"], "KHTC-2");
    assert_eq!(created["name"], nfc.as_str());
    assert_eq!(created["kind"], "office");
    assert_eq!(created["parent_id"], root["id"]);
    assert_eq!(created["depth"], 1);
    assert_eq!(created["active"], true);
    // Stored normalised, too.
    assert_eq!(
        app.db_text("SELECT name AS t FROM org_units WHERE code = 'KHTC-2'")
            .await,
        nfc
    );

    // By id (the Location), by code in any case.
    for path in [
        location.clone(),
        "/api/v1/org-units/KHTC-2".into(),
        "/api/v1/org-units/khtc-2".into(),
        "/api/v1/org-units/Khtc-2".into(),
    ] {
        let got = assert_json(app.get_as(&path, &admin).await, 200).await;
        assert_eq!(got, created, "{path}");
    }
    // A search typed in NFD finds the NFC name.
    let page = assert_json(
        app.get_as(
            &format!("/api/v1/org-units?q={}", "Ke\u{302}\u{301} hoa\u{323}ch"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(codes(&page), ["KHTC-2"]);

    // A new root (a city above departments) is allowed too.
    let city = create_unit(&app, &admin, "HN", "Thành phố Hà Nội", "other", None).await;
    let got = assert_json(
        app.get_as(&format!("/api/v1/org-units/{}", city.id), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(got["depth"], 0);
    assert!(got["parent_id"].is_null());

    // The write is audited with what was created.
    let audit = assert_json(
        app.get_as(
            &format!("/api/v1/audit?object_type=org_unit&object_id={id}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(audit["total"], 1);
    let event = &audit["items"][0];
    assert_eq!(event["action"], "org_unit.create");
    assert_eq!(event["actor_name"], "admin");
    assert_eq!(event["actor_role"], "admin");
    assert_eq!(event["change"]["after"]["name"], nfc.as_str());
    assert!(event["request_id"].is_string(), "{event}");
}

#[tokio::test]
async fn refused_creations_leave_no_row_and_no_audit_event() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_unit(
        &app,
        &admin,
        "DUP",
        "Phòng thứ nhất",
        "office",
        Some("SVHTT"),
    )
    .await;
    let before = tree_snapshot(&app).await;
    let events = audit_count(&app, "org_unit.create").await;

    // Codes are unique regardless of case.
    for code in ["DUP", "dup", "Dup"] {
        let body = assert_problem(
            app.post_as(
                "/api/v1/org-units",
                &admin,
                &json!({ "code": code, "name": "Phòng thứ hai", "kind": "office", "parent": "SVHTT" }),
            )
            .await,
            409,
            "code_taken",
        )
        .await;
        assert_eq!(body["errors"][0]["path"], "body.code", "{body}");
    }
    // Bad values, each naming its field.
    for (body, path, code) in [
        (
            json!({ "code": "có dấu", "name": "X", "kind": "office" }),
            "body.code",
            "invalid_code",
        ),
        (
            json!({ "code": "-X", "name": "X", "kind": "office" }),
            "body.code",
            "invalid_code",
        ),
        (
            json!({ "code": "A".repeat(65), "name": "X", "kind": "office" }),
            "body.code",
            "invalid_code",
        ),
        (
            json!({ "code": "OK1", "name": "   ", "kind": "office" }),
            "body.name",
            "invalid_length",
        ),
        (
            json!({ "code": "OK1", "name": "x".repeat(301), "kind": "office" }),
            "body.name",
            "invalid_length",
        ),
        (
            json!({ "code": "OK1", "name": "X", "kind": "office", "parent": "NOPE" }),
            "body.parent",
            "unknown_unit",
        ),
    ] {
        let res = app.post_as("/api/v1/org-units", &admin, &body).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["path"], path, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}: {problem}");
    }
    assert_problem(
        app.post_as(
            "/api/v1/org-units",
            &admin,
            &json!({ "code": "OK1", "name": "X", "kind": "ministry" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    assert_eq!(tree_snapshot(&app).await, before);
    assert_eq!(audit_count(&app, "org_unit.create").await, events);
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM org_units WHERE lower(code) = 'dup'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_unit_moves_with_its_subtree_but_never_into_it() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let admin = &tree.admin;
    let a1 = create_unit(&app, admin, "TEAM-A1", "Tổ A1", "other", Some("OFFICE-A")).await;
    create_unit(
        &app,
        admin,
        "TEAM-A1X",
        "Nhóm A1X",
        "other",
        Some("TEAM-A1"),
    )
    .await;
    let coordinator = tree.token(&app, "coordinator_a").await;
    let seen = assert_json(app.get_as("/api/v1/org-units", &coordinator).await, 200).await;
    assert_eq!(codes(&seen), ["OFFICE-A", "TEAM-A1", "TEAM-A1X"]);

    // Into its own subtree, or under itself: a cycle.
    let before = tree_snapshot(&app).await;
    let updates = audit_count(&app, "org_unit.update").await;
    for (unit, parent) in [
        ("OFFICE-A", "TEAM-A1X"),
        ("OFFICE-A", "TEAM-A1"),
        ("OFFICE-A", "OFFICE-A"),
        ("SVHTT", "OFFICE-B"),
    ] {
        let body = assert_problem(
            app.patch_as(
                &format!("/api/v1/org-units/{unit}"),
                admin,
                &json!({ "parent": parent, "name": "Không được đổi" }),
            )
            .await,
            409,
            "cycle",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(unit), "{body}");
    }
    let body = assert_problem(
        app.patch_as(
            "/api/v1/org-units/TEAM-A1",
            admin,
            &json!({ "parent": "NOPE" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.parent");
    // Nothing moved, nothing renamed, nothing audited.
    assert_eq!(tree_snapshot(&app).await, before);
    assert_eq!(audit_count(&app, "org_unit.update").await, updates);

    // Under B, by id: the whole subtree follows.
    let moved = assert_json(
        app.patch_as(
            &format!("/api/v1/org-units/{}", a1.id),
            admin,
            &json!({ "parent": tree.b.id }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["parent_id"], tree.b.id.as_str());
    assert_eq!(moved["depth"], 2);
    let sub = assert_json(
        app.get_as("/api/v1/org-units/OFFICE-B/subtree", admin)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&sub), ["OFFICE-B", "TEAM-A1", "TEAM-A1X"]);
    assert_eq!(sub["items"][2]["depth"], 3);
    let sub = assert_json(
        app.get_as("/api/v1/org-units/OFFICE-A/subtree", admin)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&sub), ["OFFICE-A"]);
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM org_units u, org_units b \
             WHERE b.code = 'OFFICE-B' AND u.code IN ('TEAM-A1', 'TEAM-A1X') AND u.path LIKE b.path || '%'"
        )
        .await,
        2
    );
    // Scope follows the tree at once: A's coordinator no longer sees the moved units.
    let seen = assert_json(app.get_as("/api/v1/org-units", &coordinator).await, 200).await;
    assert_eq!(codes(&seen), ["OFFICE-A"]);
    assert_problem(
        app.get_as("/api/v1/org-units/TEAM-A1X", &coordinator).await,
        404,
        "not_found",
    )
    .await;

    // Rename and re-kind; the event keeps before and after.
    let renamed = assert_json(
        app.patch_as(
            "/api/v1/org-units/TEAM-A1",
            admin,
            &json!({ "name": "Tổ công tác", "kind": "subordinate_unit" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["name"], "Tổ công tác");
    assert_eq!(renamed["kind"], "subordinate_unit");
    assert_eq!(renamed["parent_id"], tree.b.id.as_str());
    let audit = assert_json(
        app.get_as(
            &format!("/api/v1/audit?object_type=org_unit&object_id={}", a1.id),
            admin,
        )
        .await,
        200,
    )
    .await;
    let items = audit["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["org_unit.update", "org_unit.update", "org_unit.create"]
    );
    assert_eq!(items[0]["change"]["before"]["name"], "Tổ A1");
    assert_eq!(items[0]["change"]["after"]["name"], "Tổ công tác");
    assert_eq!(
        items[1]["change"]["before"]["parent_id"],
        tree.a.id.as_str()
    );
    assert_eq!(items[1]["change"]["after"]["parent_id"], tree.b.id.as_str());
}

#[tokio::test]
async fn deactivation_needs_inactive_children_and_keeps_the_unit_readable() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_unit(&app, &admin, "OFFICE-A", "Phòng A", "office", Some("SVHTT")).await;
    create_unit(&app, &admin, "TEAM-A1", "Tổ A1", "other", Some("OFFICE-A")).await;

    let before = tree_snapshot(&app).await;
    let body = assert_problem(
        app.post_as("/api/v1/org-units/OFFICE-A/deactivate", &admin, &json!({}))
            .await,
        409,
        "has_active_children",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("OFFICE-A"));
    assert_eq!(tree_snapshot(&app).await, before);
    assert_eq!(audit_count(&app, "org_unit.deactivate").await, 0);

    // A leaf goes, and stays readable.
    let leaf = assert_json(
        app.post_as("/api/v1/org-units/TEAM-A1/deactivate", &admin, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(leaf["active"], false);
    let got = assert_json(app.get_as("/api/v1/org-units/TEAM-A1", &admin).await, 200).await;
    assert_eq!(got["active"], false);
    assert_eq!(got["name"], "Tổ A1");
    let page = assert_json(
        app.get_as("/api/v1/org-units?active=false", &admin).await,
        200,
    )
    .await;
    assert_eq!(codes(&page), ["TEAM-A1"]);
    let page = assert_json(
        app.get_as("/api/v1/org-units?active=true", &admin).await,
        200,
    )
    .await;
    assert_eq!(codes(&page), ["OFFICE-A", "SVHTT"]);
    let sub = assert_json(
        app.get_as("/api/v1/org-units/OFFICE-A/subtree", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(codes(&sub), ["OFFICE-A", "TEAM-A1"]);
    let sub = assert_json(
        app.get_as(
            "/api/v1/org-units/OFFICE-A/subtree?include_inactive=false",
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(codes(&sub), ["OFFICE-A"]);

    // Now the parent can go as well; then the leaf comes back.
    let a = assert_json(
        app.post_as("/api/v1/org-units/OFFICE-A/deactivate", &admin, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(a["active"], false);
    // Nothing is created, moved or revived under a deactivated unit.
    create_unit(&app, &admin, "OFFICE-B", "Phòng B", "office", Some("SVHTT")).await;
    let before = tree_snapshot(&app).await;
    for res in [
        app.post_as(
            "/api/v1/org-units",
            &admin,
            &json!({ "code": "TEAM-A2", "name": "Tổ A2", "kind": "other", "parent": "OFFICE-A" }),
        )
        .await,
        app.patch_as(
            "/api/v1/org-units/OFFICE-B",
            &admin,
            &json!({ "parent": "OFFICE-A" }),
        )
        .await,
        app.post_as("/api/v1/org-units/TEAM-A1/reactivate", &admin, &json!({}))
            .await,
    ] {
        let body = assert_problem(res, 409, "parent_inactive").await;
        assert!(
            body["detail"].as_str().unwrap().contains("OFFICE-A"),
            "{body}"
        );
    }
    assert_eq!(tree_snapshot(&app).await, before);
    // The parent first, then the leaf comes back.
    for code in ["OFFICE-A", "TEAM-A1"] {
        let back = assert_json(
            app.post_as(
                &format!("/api/v1/org-units/{code}/reactivate"),
                &admin,
                &json!({}),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(back["active"], true);
    }
    // Never a delete.
    assert_eq!(app.db_i64("SELECT count(*) AS n FROM org_units").await, 4);
    assert_eq!(audit_count(&app, "org_unit.deactivate").await, 2);
    assert_eq!(audit_count(&app, "org_unit.reactivate").await, 2);
    assert_problem(
        app.post_as("/api/v1/org-units/NOPE/deactivate", &admin, &json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn lists_filter_and_paginate_in_a_stable_order() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    for i in 1..=12 {
        let kind = if i % 2 == 0 {
            "office"
        } else {
            "subordinate_unit"
        };
        create_unit(
            &app,
            &admin,
            &format!("U{i:02}"),
            &format!("Đơn vị số {i:02}"),
            kind,
            Some("SVHTT"),
        )
        .await;
    }
    create_unit(&app, &admin, "U05-1", "Tổ trực thuộc", "other", Some("U05")).await;
    assert_json(
        app.post_as("/api/v1/org-units/U03/deactivate", &admin, &json!({}))
            .await,
        200,
    )
    .await;

    let list = |query: &str| {
        let app = &app;
        let admin = &admin;
        let path = format!("/api/v1/org-units?{query}");
        async move { assert_json(app.get_as(&path, admin).await, 200).await }
    };

    let all = list("").await;
    assert_eq!(all["total"], 14);
    assert_eq!(all["limit"], 50);
    assert_eq!(all["offset"], 0);
    let mut expected: Vec<String> = (1..=12).map(|i| format!("U{i:02}")).collect();
    expected.insert(5, "U05-1".into());
    expected.insert(0, "SVHTT".into());
    // Sorted by code: SVHTT, U01, ..., U05, U05-1, U06, ...
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(codes(&all), sorted);

    // Filters, alone and together.
    let page = list("parent=SVHTT").await;
    assert_eq!(page["total"], 12);
    let page = list("parent=u05").await;
    assert_eq!(codes(&page), ["U05-1"]);
    let page = list("kind=office").await;
    assert_eq!(codes(&page), ["U02", "U04", "U06", "U08", "U10", "U12"]);
    let page = list("active=false").await;
    assert_eq!(codes(&page), ["U03"]);
    let page = list("q=u1").await;
    assert_eq!(codes(&page), ["U10", "U11", "U12"]);
    let page = list("q=SỐ%2011").await;
    assert_eq!(codes(&page), ["U11"]);
    let page = list("kind=office&q=u1&active=true&parent=SVHTT").await;
    assert_eq!(codes(&page), ["U10", "U12"]);
    assert_eq!(page["total"], 2);
    // Wildcards in the search are literal.
    assert_eq!(list("q=%25").await["total"], 0);
    assert_eq!(list("q=U_1").await["total"], 0);

    // Pages of 5 walk the same order without gaps or repeats, each with the total.
    let mut walked = Vec::new();
    for offset in [0, 5, 10] {
        let page = list(&format!("limit=5&offset={offset}")).await;
        assert_eq!(page["total"], 14);
        assert_eq!(page["limit"], 5);
        assert_eq!(page["offset"], offset);
        walked.extend(codes(&page));
    }
    assert_eq!(walked, sorted);
    assert_eq!(
        list("limit=5&offset=5").await,
        list("limit=5&offset=5").await
    );
    let past = list("offset=100").await;
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
    assert_eq!(past["total"], 14);
    // The hard cap.
    assert_eq!(list("limit=500").await["limit"], 500);
    let body = assert_problem(
        app.get_as("/api/v1/org-units?limit=501", &admin).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "query.limit");
    // The subtree is paginated too.
    let sub = assert_json(
        app.get_as("/api/v1/org-units/SVHTT/subtree?limit=3&offset=12", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(sub["total"], 14);
    assert_eq!(codes(&sub), ["U12", "U05-1"]);
}

#[tokio::test]
async fn concurrent_moves_and_creations_keep_every_path_consistent() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    for (code, parent) in [
        ("EAST", "SVHTT"),
        ("WEST", "SVHTT"),
        ("MOVER", "EAST"),
        ("MID", "MOVER"),
    ] {
        create_unit(&app, &admin, code, code, "office", Some(parent)).await;
    }
    // MOVER (with MID below it) swings between EAST and WEST while units are created
    // under MID: each write rewrites, or derives a path from, a path another one is
    // changing.
    let (app, admin) = (&app, &admin);
    let moves = futures_util::future::join_all((0..12).map(|i| async move {
        let to = if i % 2 == 0 { "WEST" } else { "EAST" };
        let body = json!({ "parent": to });
        app.patch_as("/api/v1/org-units/MOVER", admin, &body).await
    }));
    let creations = futures_util::future::join_all((0..12).map(|i| {
        let body = json!({ "code": format!("LEAF-{i}"), "name": format!("Tổ {i}"), "kind": "other", "parent": "MID" });
        async move { app.post_as("/api/v1/org-units", admin, &body).await }
    }));
    let (moved, created) = tokio::join!(moves, creations);
    for res in moved.into_iter().chain(created) {
        assert!(res.status().is_success(), "{}", res.status());
    }
    // Every unit's path is its parent's path and its own id; every depth follows.
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM org_units c JOIN org_units p ON p.id = c.parent_id \
             WHERE c.path <> p.path || c.id || '/' OR c.depth <> p.depth + 1"
        )
        .await,
        0
    );
    let leaves = assert_json(
        app.get_as("/api/v1/org-units/MID/subtree", admin).await,
        200,
    )
    .await;
    assert_eq!(leaves["items"].as_array().unwrap().len(), 13);
}
