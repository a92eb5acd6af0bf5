//! Users: the admin's create, list, get, update and password reset; every user's
//! `/me` and own password change; password rules; and hashes that never leave the
//! database.

use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, Tree, assert_json, assert_problem, create_unit, login, seed_admin,
    spawn_app, try_login, try_refresh,
};

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    app.db_i64(&format!(
        "SELECT count(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
    .await
}

fn usernames(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

fn new_user(username: &str, role: &str, unit: &str) -> Value {
    json!({
        "username": username,
        "display_name": "Nguyễn Thị Hoa",
        "email": format!("{username}@svhtt.example.vn"),
        "role": role,
        "unit": unit,
        "password": PASSWORD,
    })
}

#[tokio::test]
async fn admins_create_list_get_and_update_users() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let a = create_unit(&app, &admin, "OFFICE-A", "Phòng A", "office", Some("SVHTT")).await;
    create_unit(&app, &admin, "OFFICE-B", "Phòng B", "office", Some("SVHTT")).await;

    let res = app
        .post_as(
            "/api/v1/users",
            &admin,
            &new_user("hoa.nt", "reporter", "office-a"),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let hoa = assert_json(res, 201).await;
    let id = hoa["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/users/{id}"));
    assert_eq!(hoa["username"], "hoa.nt");
    assert_eq!(hoa["display_name"], "Nguyễn Thị Hoa");
    assert_eq!(hoa["email"], "hoa.nt@svhtt.example.vn");
    assert_eq!(hoa["role"], "reporter");
    assert_eq!(hoa["unit_id"], a.id.as_str());
    assert_eq!(hoa["unit_code"], "OFFICE-A");
    assert_eq!(hoa["active"], true);
    let mut keys: Vec<&String> = hoa.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "active",
            "created_at",
            "display_name",
            "email",
            "id",
            "role",
            "unit_code",
            "unit_head",
            "unit_id",
            "updated_at",
            "username"
        ]
    );
    assert_eq!(
        assert_json(app.get_as(&location, &admin).await, 200).await,
        hoa
    );
    assert_problem(
        app.get_as(&format!("/api/v1/users/{}", uuid::Uuid::new_v4()), &admin)
            .await,
        404,
        "not_found",
    )
    .await;

    app.post_as(
        "/api/v1/users",
        &admin,
        &new_user("lan.pt", "viewer", "OFFICE-A"),
    )
    .await;
    app.post_as(
        "/api/v1/users",
        &admin,
        &new_user("binh.lv", "reporter", "OFFICE-B"),
    )
    .await;

    let list = |q: &str| {
        let (app, admin) = (&app, &admin);
        let path = format!("/api/v1/users?{q}");
        async move { assert_json(app.get_as(&path, admin).await, 200).await }
    };
    let all = list("").await;
    assert_eq!(usernames(&all), ["admin", "binh.lv", "hoa.nt", "lan.pt"]);
    assert_eq!(all["total"], 4);
    assert_eq!(
        usernames(&list("role=reporter").await),
        ["binh.lv", "hoa.nt"]
    );
    assert_eq!(
        usernames(&list("unit=OFFICE-A").await),
        ["hoa.nt", "lan.pt"]
    );
    assert_eq!(
        usernames(&list(&format!("unit={}", a.id)).await),
        ["hoa.nt", "lan.pt"]
    );
    assert_eq!(usernames(&list("q=HOA.NT").await), ["hoa.nt"]);
    assert_eq!(usernames(&list("q=nguyễn&role=viewer").await), ["lan.pt"]);
    let page = list("limit=2&offset=2").await;
    assert_eq!(usernames(&page), ["hoa.nt", "lan.pt"]);
    assert_eq!(page["total"], 4);
    // A filter on no unit: 404, as the unit's own address answers.
    assert_problem(
        app.get_as("/api/v1/users?unit=NOPE", &admin).await,
        404,
        "not_found",
    )
    .await;

    // Update: name, e-mail, role, scope; the user's next request sees the new role.
    let session = login(&app, "hoa.nt", PASSWORD).await;
    let me = assert_json(app.get_as("/api/v1/me", &session.access_token).await, 200).await;
    assert_eq!(me["role"], "reporter");
    let updated = assert_json(
        app.patch_as(
            &location,
            &admin,
            &json!({
                "display_name": "Nguyễn Thị Hoa (Phó phòng)",
                "email": "hoa@svhtt.example.vn",
                "role": "coordinator",
                "unit": "SVHTT",
            }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["role"], "coordinator");
    assert_eq!(updated["unit_code"], "SVHTT");
    assert_eq!(updated["email"], "hoa@svhtt.example.vn");
    assert_eq!(updated["display_name"], "Nguyễn Thị Hoa (Phó phòng)");
    assert_eq!(updated["created_at"], hoa["created_at"]);
    // The token issued under the old role ends; a refresh gives one under the new.
    assert_problem(
        app.get_as("/api/v1/me", &session.access_token).await,
        401,
        "invalid_token",
    )
    .await;
    let session = login(&app, "hoa.nt", PASSWORD).await;
    let me = assert_json(app.get_as("/api/v1/me", &session.access_token).await, 200).await;
    assert_eq!(me["role"], "coordinator");
    assert_eq!(me["user"]["unit_code"], "SVHTT");
    let seen = assert_json(
        app.get_as("/api/v1/org-units", &session.access_token).await,
        200,
    )
    .await;
    assert_eq!(
        seen["total"], 3,
        "the whole department is in scope now: {seen}"
    );

    // Deactivate: listed as inactive.
    let off = assert_json(
        app.patch_as(&location, &admin, &json!({ "active": false }))
            .await,
        200,
    )
    .await;
    assert_eq!(off["active"], false);
    assert_eq!(usernames(&list("active=false").await), ["hoa.nt"]);

    // Bad updates name their field and change nothing.
    for (body, path) in [
        (json!({ "email": "not-an-email" }), "body.email"),
        (json!({ "display_name": "  " }), "body.display_name"),
        (json!({ "unit": "NOPE" }), "body.unit"),
    ] {
        let problem = assert_problem(
            app.patch_as(&location, &admin, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["path"], path, "{problem}");
    }
    assert_eq!(
        assert_json(app.get_as(&location, &admin).await, 200).await,
        off
    );

    // Every write was audited with the change.
    assert_eq!(audit_count(&app, "user.create").await, 4);
    let audit = assert_json(
        app.get_as(
            &format!("/api/v1/audit?object_type=user&object_id={id}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.update",
            "auth.login",
            "user.update",
            "auth.login",
            "user.create"
        ]
    );
    assert_eq!(audit["items"][2]["change"]["before"]["role"], "reporter");
    assert_eq!(audit["items"][2]["change"]["after"]["role"], "coordinator");
}

#[tokio::test]
async fn refused_user_creations_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    assert_json(
        app.post_as(
            "/api/v1/users",
            &admin,
            &new_user("hoa.nt", "reporter", "SVHTT"),
        )
        .await,
        201,
    )
    .await;
    let users = app.db_i64("SELECT count(*) AS n FROM users").await;
    let events = audit_count(&app, "user.create").await;

    let body = assert_problem(
        app.post_as(
            "/api/v1/users",
            &admin,
            &new_user("hoa.nt", "viewer", "SVHTT"),
        )
        .await,
        409,
        "username_taken",
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "body.username");

    let mut cases = Vec::new();
    for short in ["", "short", "elevenchars"] {
        let mut b = new_user("new.user", "viewer", "SVHTT");
        b["password"] = json!(short);
        cases.push((b, "body.password", "too_short"));
    }
    let mut b = new_user("new.user", "viewer", "SVHTT");
    b["password"] = json!("x".repeat(257));
    cases.push((b, "body.password", "too_long"));
    for bad in ["Upper", "has space", "x", "-dash", "đặng"] {
        cases.push((
            new_user(bad, "viewer", "SVHTT"),
            "body.username",
            "invalid_username",
        ));
    }
    let mut b = new_user("new.user", "viewer", "SVHTT");
    b["email"] = json!("no-at-sign");
    cases.push((b, "body.email", "invalid_email"));
    cases.push((
        new_user("new.user", "viewer", "NOPE"),
        "body.unit",
        "unknown_unit",
    ));
    // A deactivated unit takes no new users.
    create_unit(
        &app,
        &admin,
        "OLD-OFFICE",
        "Phòng đã giải thể",
        "office",
        Some("SVHTT"),
    )
    .await;
    assert_json(
        app.post_as(
            "/api/v1/org-units/OLD-OFFICE/deactivate",
            &admin,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    cases.push((
        new_user("new.user", "viewer", "OLD-OFFICE"),
        "body.unit",
        "unit_inactive",
    ));
    let mut b = new_user("new.user", "viewer", "SVHTT");
    b.as_object_mut().unwrap().remove("password");
    cases.push((b, "body.password", "missing_field"));
    for (body, path, code) in cases {
        let problem = assert_problem(
            app.post_as("/api/v1/users", &admin, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["path"], path, "{body}: {problem}");
        assert_eq!(problem["errors"][0]["code"], code, "{body}: {problem}");
    }
    // Twelve characters, counted as characters, are enough.
    let mut b = new_user("mai.lt", "viewer", "SVHTT");
    b["password"] = json!("mật khẩu đủ!");
    assert_eq!("mật khẩu đủ!".chars().count(), 12);
    assert_json(app.post_as("/api/v1/users", &admin, &b).await, 201).await;
    login(&app, "mai.lt", "mật khẩu đủ!").await;

    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users").await,
        users + 1
    );
    assert_eq!(audit_count(&app, "user.create").await, events + 1);
}

#[tokio::test]
async fn a_password_reset_ends_the_users_sessions() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let body = assert_json(
        app.post_as(
            "/api/v1/users",
            &admin,
            &new_user("hoa.nt", "reporter", "SVHTT"),
        )
        .await,
        201,
    )
    .await;
    let path = format!("/api/v1/users/{}/password", body["id"].as_str().unwrap());
    let session = login(&app, "hoa.nt", PASSWORD).await;
    let hash_before = app
        .db_text("SELECT password_hash AS t FROM users WHERE username = 'hoa.nt'")
        .await;

    let problem = assert_problem(
        app.post_as(&path, &admin, &json!({ "new_password": "too-short" }))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "body.new_password");
    assert_eq!(
        app.db_text("SELECT password_hash AS t FROM users WHERE username = 'hoa.nt'")
            .await,
        hash_before
    );

    let res = app
        .post_as(
            &path,
            &admin,
            &json!({ "new_password": "brand-new-password-1" }),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        try_login(&app, "hoa.nt", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    login(&app, "hoa.nt", "brand-new-password-1").await;
    assert_problem(
        try_refresh(&app, &session.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(audit_count(&app, "user.reset_password").await, 1);
    assert_problem(
        app.post_as(
            &format!("/api/v1/users/{}/password", uuid::Uuid::new_v4()),
            &admin,
            &json!({ "new_password": "brand-new-password-1" }),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn everyone_reads_me_and_changes_their_own_password_with_the_current_one() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let session = login(&app, "viewer_a", PASSWORD).await;
    let token = &session.access_token;

    let me = assert_json(app.get_as("/api/v1/me", token).await, 200).await;
    assert_eq!(me["id"], tree.viewer_a.id.as_str());
    assert_eq!(me["kind"], "user");
    assert_eq!(me["name"], "viewer_a");
    assert_eq!(me["role"], "viewer");
    assert_eq!(me["unit_id"], tree.a.id.as_str());
    assert_eq!(me["user"]["username"], "viewer_a");
    assert_eq!(me["user"]["unit_code"], "OFFICE-A");

    // Wrong current password: 422 on that field; nothing changes.
    let problem = assert_problem(
        app.post_as(
            "/api/v1/me/password",
            token,
            &json!({ "current_password": "not-my-password", "new_password": "another-good-password" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "body.current_password");
    assert_eq!(problem["errors"][0]["code"], "wrong_password");
    // Too short a new one.
    let problem = assert_problem(
        app.post_as(
            "/api/v1/me/password",
            token,
            &json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["path"], "body.new_password");
    assert_eq!(audit_count(&app, "user.change_password").await, 0);
    assert_eq!(
        try_refresh(&app, &session.refresh_token).await.status(),
        200
    );

    let other = login(&app, "viewer_a", PASSWORD).await;
    let res = app
        .post_as(
            "/api/v1/me/password",
            token,
            &json!({ "current_password": PASSWORD, "new_password": "another-good-password" }),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        try_login(&app, "viewer_a", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    login(&app, "viewer_a", "another-good-password").await;
    // Every session ended, the access token in hand with them, at once.
    assert_problem(
        try_refresh(&app, &other.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_problem(app.get_as("/api/v1/me", token).await, 401, "invalid_token").await;
    assert_eq!(audit_count(&app, "user.change_password").await, 1);
}

#[tokio::test]
async fn password_hashes_never_leave_the_database() {
    let app = spawn_app().await;
    let tree = Tree::build(&app).await;
    let admin = &tree.admin;
    let id = &tree.reporter_a.id;
    let reporter = tree.token(&app, "reporter_a").await;

    // Stored as argon2id with at least the OWASP parameters.
    let hash = app
        .db_text("SELECT password_hash AS t FROM users WHERE username = 'reporter_a'")
        .await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );

    let mut texts = Vec::new();
    let created = app
        .post_as(
            "/api/v1/users",
            admin,
            &new_user("hoa.nt", "reporter", "OFFICE-B"),
        )
        .await;
    texts.push(created.text().await.unwrap());
    for path in [
        "/api/v1/users".to_string(),
        "/api/v1/users?q=reporter".to_string(),
        format!("/api/v1/users/{id}"),
        "/api/v1/me".to_string(),
        "/api/v1/audit?object_type=user&limit=500".to_string(),
        "/api/v1/audit?limit=500".to_string(),
    ] {
        let res = app.get_as(&path, admin).await;
        assert_eq!(res.status(), 200, "{path}");
        texts.push(res.text().await.unwrap());
    }
    let res = app
        .patch_as(
            &format!("/api/v1/users/{id}"),
            admin,
            &json!({ "display_name": "Đổi tên" }),
        )
        .await;
    texts.push(res.text().await.unwrap());
    texts.push(
        app.get_as("/api/v1/me", &reporter)
            .await
            .text()
            .await
            .unwrap(),
    );
    texts.push(app.get("/api/v1/openapi.json").await.text().await.unwrap());

    for text in &texts {
        for needle in ["argon2", "password_hash", &hash[30..]] {
            assert!(!text.contains(needle), "{needle:?} in {text}");
        }
    }
    // And the audit log saw the user writes.
    assert!(texts[5].contains("\"user.create\"") && texts[5].contains("hoa.nt"));
}
