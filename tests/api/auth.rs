//! Login, access tokens (and forgeries of them), refresh-token rotation, logout,
//! login throttling, deactivation, and the client-credentials grant.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, JWT_SECRET, PASSWORD, TestApp, assert_json, assert_problem, create_user, login,
    seed_admin, spawn_app, spawn_app_with, start_server, test_settings, try_login, try_refresh,
};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims the service itself would put in a token for this principal.
fn claims(sub: &str, role: &str, unit: &str) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "kind": "user",
        "role": role,
        "unit": unit,
        "iss": "gereport",
        "aud": "gereport-api",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid::Uuid::new_v4(),
    })
}

fn sign(claims: &Value, secret: &str) -> String {
    sign_with(Algorithm::HS256, claims, secret)
}

fn sign_with(alg: Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get_as("/api/v1/me", token).await
}

async fn me_json(app: &TestApp, token: &str) -> Value {
    assert_json(me(app, token).await, 200).await
}

#[tokio::test]
async fn login_returns_a_short_lived_bearer_token_and_a_refresh_token() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let admin_id = me_json(&app, &admin).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Usernames are matched case-insensitively and trimmed.
    let res = try_login(&app, " Admin ", ADMIN_PASSWORD).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = assert_json(res, 200).await;
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((60..=900).contains(&expires_in), "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    // 256 random bits, base64url.
    assert_eq!(URL_SAFE_NO_PAD.decode(refresh).unwrap().len(), 32);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 3);

    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let c = payload(access);
    assert_eq!(c["sub"], admin_id.as_str());
    assert_eq!(c["role"], "admin");
    assert_eq!(c["iss"], "gereport");
    assert_eq!(c["aud"], "gereport-api");
    let (iat, nbf, exp) = (
        c["iat"].as_i64().unwrap(),
        c["nbf"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap(),
    );
    assert!(
        nbf <= iat + 1 && exp - iat == expires_in && exp - iat <= 900,
        "{c}"
    );
    assert!((iat - now()).abs() < 60, "{c}");
    assert!(c["jti"].is_string() && c["unit"].is_string(), "{c}");

    let m = me_json(&app, access).await;
    assert_eq!(m["name"], "admin");
    assert_eq!(m["kind"], "user");
    assert_eq!(m["user"]["username"], "admin");

    // Both logins are in the audit log, with the address they came from.
    assert_eq!(
        app.db_i64(&format!(
            "SELECT count(*) AS n FROM audit_events WHERE action = 'auth.login' \
             AND object_id = '{admin_id}' AND change->>'address' = '127.0.0.1'"
        ))
        .await,
        2
    );
    // Only hashes of refresh tokens are stored.
    assert_eq!(
        app.db_i64(&format!(
            "SELECT count(*) AS n FROM refresh_tokens \
             WHERE token_hash = sha256(convert_to('{refresh}', 'UTF8'))"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    seed_admin(&app).await;
    let wrong = assert_problem(
        try_login(&app, "admin", "not-the-password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_problem(
        try_login(&app, "nobody-here", ADMIN_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["title"], unknown["title"]);
    assert_eq!(wrong["type"], unknown["type"]);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&wrong), keys(&unknown));
    // An empty password is just a wrong one.
    assert_problem(
        try_login(&app, "admin", "").await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn forged_and_broken_access_tokens_are_refused_with_401() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let reporter = create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;
    let m = me_json(&app, &admin).await;
    let (admin_id, unit) = (
        m["id"].as_str().unwrap().to_string(),
        m["unit_id"].as_str().unwrap().to_string(),
    );

    // Control: a token minted exactly as the service does is accepted, so every
    // refusal below is due to the one thing changed.
    let good = sign(&claims(&admin_id, "admin", &unit), JWT_SECRET);
    assert_eq!(me(&app, &good).await.status(), 200);
    // A small clock skew is tolerated.
    let mut skewed = claims(&admin_id, "admin", &unit);
    skewed["nbf"] = json!(now() + 10);
    skewed["iat"] = json!(now() + 10);
    assert_eq!(me(&app, &sign(&skewed, JWT_SECRET)).await.status(), 200);

    let mut forged: Vec<(&str, String, &str)> = Vec::new();

    let none_header = json!({ "alg": "none", "typ": "JWT" });
    forged.push((
        "alg none, empty signature",
        format!(
            "{}.{}.",
            b64(&none_header),
            b64(&claims(&admin_id, "admin", &unit))
        ),
        "invalid",
    ));
    forged.push((
        "alg none, no signature part",
        format!(
            "{}.{}",
            b64(&none_header),
            b64(&claims(&admin_id, "admin", &unit))
        ),
        "invalid",
    ));
    forged.push((
        "wrong key",
        sign(
            &claims(&admin_id, "admin", &unit),
            "another-secret-another-secret-another-secret",
        ),
        "invalid",
    ));
    forged.push((
        "HS512 with the right key (algorithm is pinned)",
        sign_with(
            Algorithm::HS512,
            &claims(&admin_id, "admin", &unit),
            JWT_SECRET,
        ),
        "invalid",
    ));
    let mut c = claims(&admin_id, "admin", &unit);
    c["aud"] = json!("some-other-api");
    forged.push((
        "wrong aud",
        sign(&c, JWT_SECRET),
        "not meant for this service",
    ));
    let mut c = claims(&admin_id, "admin", &unit);
    c.as_object_mut().unwrap().remove("aud");
    forged.push(("no aud", sign(&c, JWT_SECRET), "invalid"));
    let mut c = claims(&admin_id, "admin", &unit);
    c["iss"] = json!("someone-else");
    forged.push((
        "wrong iss",
        sign(&c, JWT_SECRET),
        "not issued by this service",
    ));
    let mut c = claims(&admin_id, "admin", &unit);
    c["iat"] = json!(now() - 1200);
    c["nbf"] = json!(now() - 1200);
    c["exp"] = json!(now() - 120);
    forged.push(("expired beyond the leeway", sign(&c, JWT_SECRET), "expired"));
    let mut c = claims(&admin_id, "admin", &unit);
    c.as_object_mut().unwrap().remove("exp");
    forged.push(("no exp", sign(&c, JWT_SECRET), "invalid"));
    let mut c = claims(&admin_id, "admin", &unit);
    c["nbf"] = json!(now() + 300);
    c["iat"] = json!(now() + 300);
    forged.push(("not yet valid", sign(&c, JWT_SECRET), "not valid yet"));

    // A genuine reporter token with its payload edited to claim admin (and then to be
    // the admin), the signature kept.
    let genuine = login(&app, "reporter_x", PASSWORD).await.access_token;
    assert_eq!(me(&app, &genuine).await.status(), 200);
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut p = payload(&genuine);
    assert_eq!(p["role"], "reporter");
    p["role"] = json!("admin");
    forged.push((
        "tampered role",
        format!("{}.{}.{}", parts[0], b64(&p), parts[2]),
        "invalid",
    ));
    p["sub"] = json!(admin_id);
    forged.push((
        "tampered subject",
        format!("{}.{}.{}", parts[0], b64(&p), parts[2]),
        "invalid",
    ));
    forged.push(("garbage", "not.a.jwt".to_string(), "invalid"));
    forged.push(("empty segments", "..".to_string(), "invalid"));

    for (what, token, detail) in &forged {
        for path in ["/api/v1/me", "/api/v1/users"] {
            let res = app.get_as(path, token).await;
            assert!(res.headers().contains_key("www-authenticate"), "{what}");
            let body = assert_problem(res, 401, "invalid_token").await;
            assert!(
                body["detail"].as_str().unwrap().contains(detail),
                "{what}: {body}"
            );
        }
    }

    // Signed with the right key but naming no principal: refused too.
    let ghost = sign(
        &claims(&uuid::Uuid::new_v4().to_string(), "admin", &unit),
        JWT_SECRET,
    );
    assert_problem(me(&app, &ghost).await, 401, "account_disabled").await;

    // Role and scope come from the database, not the token: a validly signed token
    // claiming admin for the reporter still acts as the reporter.
    let claims_admin = sign(&claims(&reporter.id, "admin", &unit), JWT_SECRET);
    assert_eq!(me_json(&app, &claims_admin).await["role"], "reporter");
    assert_problem(
        app.get_as("/api/v1/users", &claims_admin).await,
        403,
        "forbidden",
    )
    .await;
    // Nothing was written by any of it.
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM users WHERE role = 'admin'")
            .await,
        1
    );
}

/// Several browser tabs refresh the same token within the grace window: each gets a
/// working pair. After the window, the same token is a reuse and ends the login.
#[tokio::test]
async fn refreshes_of_one_token_in_the_grace_window_all_work_and_later_ones_end_the_login() {
    let app = spawn_app_with(&[("GEREPORT_REFRESH_GRACE_SECS", "1")]).await;
    seed_admin(&app).await;
    let first = login(&app, "admin", ADMIN_PASSWORD).await;

    let tab_a = assert_json(try_refresh(&app, &first.refresh_token).await, 200).await;
    let tab_b = assert_json(try_refresh(&app, &first.refresh_token).await, 200).await;
    assert_ne!(tab_a["refresh_token"], tab_b["refresh_token"]);
    for tab in [&tab_a, &tab_b] {
        let access = tab["access_token"].as_str().unwrap();
        assert_eq!(me(&app, access).await.status(), 200);
    }
    // Each tab's new refresh token works in turn.
    let tab_a = assert_json(
        try_refresh(&app, tab_a["refresh_token"].as_str().unwrap()).await,
        200,
    )
    .await;

    // Past the window the first token is a stolen copy: the whole family ends.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_problem(
        try_refresh(&app, &first.refresh_token).await,
        401,
        "refresh_token_reused",
    )
    .await;
    for tab in [&tab_a, &tab_b] {
        assert_problem(
            try_refresh(&app, tab["refresh_token"].as_str().unwrap()).await,
            401,
            "invalid_refresh_token",
        )
        .await;
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_its_whole_login() {
    // No grace window: any second use is a reuse (the window has its own test).
    let app = spawn_app_with(&[("GEREPORT_REFRESH_GRACE_SECS", "0")]).await;
    seed_admin(&app).await;
    let first = login(&app, "admin", ADMIN_PASSWORD).await;
    let other_session = login(&app, "admin", ADMIN_PASSWORD).await;

    let res = try_refresh(&app, &first.refresh_token).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let second: crate::helpers::TokenPair =
        serde_json::from_value(assert_json(res, 200).await).unwrap();
    assert_eq!(second.token_type, "Bearer");
    assert!(second.expires_in <= 900);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(me(&app, &second.access_token).await.status(), 200);

    // The spent token presented again: someone holds a copy. The login ends.
    let body = assert_problem(
        try_refresh(&app, &first.refresh_token).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("already used"));
    // ... including the token the rotation had just handed out.
    assert_problem(
        try_refresh(&app, &second.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // Another login of the same user is a different family and goes on working.
    let other = assert_json(try_refresh(&app, &other_session.refresh_token).await, 200).await;
    assert!(other["refresh_token"].is_string());

    // In the database: the first family is fully revoked, the other one is not.
    assert_eq!(
        app.db_i64(
            "SELECT count(DISTINCT family_id) AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM refresh_tokens WHERE used_at IS NULL AND revoked_at IS NULL"
        )
        .await,
        // the seed login's token and the other session's new one
        2
    );
    // The reuse is in the audit log, once, as the user's, naming the ended family.
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM audit_events WHERE action = 'auth.refresh_reused' \
             AND actor_name = 'admin' AND object_type = 'user' \
             AND change ? 'family_revoked' AND request_id IS NOT NULL"
        )
        .await,
        1
    );

    // Unknown and empty tokens.
    for bogus in ["definitely-not-a-token", ""] {
        assert_problem(try_refresh(&app, bogus).await, 401, "invalid_refresh_token").await;
    }
}

#[tokio::test]
async fn logout_revokes_one_session_or_all_of_them_and_nobody_elses() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;
    let a = login(&app, "reporter_x", PASSWORD).await;
    let b = login(&app, "reporter_x", PASSWORD).await;
    let admins_session = login(&app, "admin", ADMIN_PASSWORD).await;

    // Someone else's refresh token is not the caller's to end.
    let res = app
        .post_as(
            "/api/v1/auth/logout",
            &a.access_token,
            &json!({ "refresh_token": admins_session.refresh_token }),
        )
        .await;
    assert_eq!(res.status(), 204);
    let admins_session: crate::helpers::TokenPair = serde_json::from_value(
        assert_json(try_refresh(&app, &admins_session.refresh_token).await, 200).await,
    )
    .unwrap();

    // This session only.
    let res = app
        .post_as(
            "/api/v1/auth/logout",
            &a.access_token,
            &json!({ "refresh_token": a.refresh_token }),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(
        try_refresh(&app, &a.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let b2 = assert_json(try_refresh(&app, &b.refresh_token).await, 200).await;

    // That logout ended the access token in hand too; the other session's new one
    // logs out of everything (no body: every session of the caller).
    assert_problem(
        app.get_as("/api/v1/me", &a.access_token).await,
        401,
        "invalid_token",
    )
    .await;
    let res = app
        .authed(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            b2["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(
        try_refresh(&app, b2["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM refresh_tokens r JOIN users u ON u.id = r.user_id \
             WHERE u.username = 'reporter_x' AND r.revoked_at IS NULL"
        )
        .await,
        0
    );
    // The admin's session survived all of it.
    assert_eq!(
        try_refresh(&app, &admins_session.refresh_token)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM audit_events WHERE action = 'auth.logout'")
            .await,
        3
    );
    // Logout needs a token.
    let res = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": b.refresh_token }),
        )
        .await;
    assert_problem(res, 401, "missing_token").await;
}

#[tokio::test]
async fn five_failed_logins_for_a_username_get_429_with_retry_after() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;

    // A success clears the count: four failures, a success, four more are all 401.
    for _ in 0..4 {
        assert_problem(
            try_login(&app, "reporter_x", "wrong-password!").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    login(&app, "reporter_x", PASSWORD).await;
    for _ in 0..4 {
        assert_problem(
            try_login(&app, "reporter_x", "wrong-password!").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // The fifth failure in a row ...
    assert_problem(
        try_login(&app, "REPORTER_X", "wrong-password!").await,
        401,
        "invalid_credentials",
    )
    .await;
    // ... and even the right password now waits.
    for username in ["reporter_x", "Reporter_X"] {
        let res = try_login(&app, username, PASSWORD).await;
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&retry), "{retry}");
        let body = assert_problem(res, 429, "too_many_attempts").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&retry.to_string()),
            "{body}"
        );
    }
    // Other usernames from the same address are not locked out.
    login(&app, "admin", ADMIN_PASSWORD).await;
    assert_problem(
        try_login(&app, "someone-else", "whatever-password").await,
        401,
        "invalid_credentials",
    )
    .await;
    // A throttled attempt issues nothing.
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM refresh_tokens r JOIN users u ON u.id = r.user_id \
             WHERE u.username = 'reporter_x'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn guessing_the_current_password_with_a_stolen_token_is_throttled_like_login() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "reporter_y", "reporter", "SVHTT").await;
    let session = login(&app, "reporter_y", PASSWORD).await;
    let body = |current: &str| json!({ "current_password": current, "new_password": "a-brand-new-password" });
    let (wrong, right) = (body("guess-number-one"), body(PASSWORD));
    let change = |body| app.post_as("/api/v1/me/password", &session.access_token, body);
    // Two wrong guesses here and three at login make five failures for the username.
    for _ in 0..2 {
        assert_problem(change(&wrong).await, 422, "validation_failed").await;
    }
    for _ in 0..3 {
        assert_problem(
            try_login(&app, "reporter_y", "guess-number-two").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Now even the right current password waits, and nothing changes.
    let res = change(&right).await;
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 429, "too_many_attempts").await;
    assert_problem(
        try_login(&app, "reporter_y", PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM audit_events WHERE action = 'user.change_password'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_throttle_holds_across_processes_sharing_the_database() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;
    // A second service process on the same database, as behind a load balancer.
    let other = start_server(test_settings(&app.db.url, &[])).await;
    let login_at = |base: &str, password: &str| {
        app.client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "username": "reporter_x", "password": password }))
            .send()
    };
    // Failures alternate between the two processes ...
    for i in 0..5 {
        let base = if i % 2 == 0 { &app.address } else { &other };
        let res = login_at(base, "wrong-password!").await.unwrap();
        assert_problem(res, 401, "invalid_credentials").await;
    }
    // ... and both count all five.
    for base in [&app.address, &other] {
        let res = login_at(base, PASSWORD).await.unwrap();
        assert!(res.headers().contains_key("retry-after"));
        assert_problem(res, 429, "too_many_attempts").await;
    }
    // The username is counted under its digest, never in clear.
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM login_failures \
             WHERE key = 'u:' || encode(sha256('reporter_x'), 'hex')"
        )
        .await,
        5
    );
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM login_failures WHERE key LIKE '%reporter%'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_deactivated_user_is_locked_out_at_once() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    let x = create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;
    let session = login(&app, "reporter_x", PASSWORD).await;
    assert_eq!(me(&app, &session.access_token).await.status(), 200);

    let body = assert_json(
        app.patch_as(
            &format!("/api/v1/users/{}", x.id),
            &admin,
            &json!({ "active": false }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["active"], false);

    // Refresh tokens stop at once (they were revoked with the deactivation) ...
    assert_problem(
        try_refresh(&app, &session.refresh_token).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        app.db_i64(&format!(
            "SELECT count(*) AS n FROM refresh_tokens WHERE user_id = '{}' AND revoked_at IS NULL",
            x.id
        ))
        .await,
        0
    );
    // ... logging in again fails like a wrong password ...
    assert_problem(
        try_login(&app, "reporter_x", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // ... and the access token: this process forgot the cached principal ...
    assert_problem(
        me(&app, &session.access_token).await,
        401,
        "account_disabled",
    )
    .await;
    // ... and another process (no cache yet) reads the database.
    let other = start_server(test_settings(&app.db.url, &[])).await;
    let res = app
        .client
        .get(format!("{other}/api/v1/me"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "account_disabled").await;
}

#[tokio::test]
async fn refresh_reads_the_user_fresh_even_when_its_tokens_were_not_revoked() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "reporter_x", "reporter", "SVHTT").await;
    let session = login(&app, "reporter_x", PASSWORD).await;
    // Deactivated behind the service's back (another process, an operator with psql).
    use diesel_async::RunQueryDsl;
    let mut conn = app.db_conn().await;
    diesel::sql_query("UPDATE users SET active = false WHERE username = 'reporter_x'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_problem(
        try_refresh(&app, &session.refresh_token).await,
        401,
        "account_disabled",
    )
    .await;
    assert_eq!(
        app.db_i64(
            "SELECT count(*) AS n FROM refresh_tokens r JOIN users u ON u.id = r.user_id \
             WHERE u.username = 'reporter_x' AND r.revoked_at IS NULL"
        )
        .await,
        0
    );
}

async fn token_form(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn creds<'a>(id: &'a str, secret: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ]
}

async fn assert_client_token(res: reqwest::Response) -> String {
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = assert_json(res, 200).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() <= 900);
    assert!(
        body["refresh_token"].is_null(),
        "clients get no refresh token: {body}"
    );
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn service_clients_use_the_client_credentials_grant() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;

    let res = app
        .post_as(
            "/api/v1/service-clients",
            &admin,
            &json!({ "name": "Hệ thống của UBND Thành phố", "role": "viewer", "unit": "SVHTT" }),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let created = assert_json(res, 201).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/service-clients/{id}"));
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert!(client_id.starts_with("gr_"), "{created}");
    assert_eq!(URL_SAFE_NO_PAD.decode(&secret).unwrap().len(), 32);
    assert_eq!(created["role"], "viewer");
    assert_eq!(created["unit_code"], "SVHTT");
    // The secret is shown once; afterwards only its SHA-256 exists.
    let got = assert_json(app.get_as(&location, &admin).await, 200).await;
    assert!(got.get("client_secret").is_none(), "{got}");
    assert!(!got.to_string().contains(&secret));
    assert_eq!(
        app.db_i64(&format!(
            "SELECT count(*) AS n FROM service_clients WHERE id = '{id}' \
             AND secret_hash = sha256(convert_to('{secret}', 'UTF8'))"
        ))
        .await,
        1
    );

    // Form body (RFC 6749 §4.4) ...
    let token = assert_client_token(token_form(&app, &creds(&client_id, &secret)).await).await;
    let m = me_json(&app, &token).await;
    assert_eq!(m["kind"], "client");
    assert_eq!(m["name"], client_id.as_str());
    assert_eq!(m["role"], "viewer");
    assert!(m["user"].is_null(), "{m}");
    // ... with the client's own role: a viewer manages nothing, has no password.
    assert_problem(app.get_as("/api/v1/users", &token).await, 403, "forbidden").await;
    assert_problem(
        app.post_as(
            "/api/v1/me/password",
            &token,
            &json!({ "current_password": "x", "new_password": "long-enough-password" }),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get_as("/api/v1/org-units/SVHTT", &token).await.status(),
        200
    );

    // HTTP Basic ...
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "anything")])
        .send()
        .await
        .unwrap();
    assert_client_token(res).await;
    // ... and JSON.
    let res = app
        .post_json(
            "/api/v1/auth/token",
            &json!({ "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret }),
        )
        .await;
    assert_client_token(res).await;

    // Wrong secret, unknown client.
    for (who, s) in [
        (client_id.as_str(), "wrong-secret"),
        ("gr_nobody", secret.as_str()),
    ] {
        let body = assert_problem(
            token_form(&app, &creds(who, s)).await,
            401,
            "invalid_client",
        )
        .await;
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .basic_auth(&client_id, Some("wrong-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "invalid_client").await;

    // Only this grant, and the credentials are required.
    let body = assert_problem(
        token_form(
            &app,
            &[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await,
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let body = assert_problem(
        token_form(&app, &[("grant_type", "password")]).await,
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_eq!(body["error"], "unsupported_grant_type");
    let body = assert_problem(
        token_form(
            &app,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
            ],
        )
        .await,
        401,
        "invalid_client",
    )
    .await;
    assert_eq!(body["error"], "invalid_client");

    // Rotation: the old secret stops at once, the new one works.
    let rotated = assert_json(
        app.post_as(&format!("{location}/rotate"), &admin, &json!({}))
            .await,
        200,
    )
    .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert!(rotated["rotated_at"].is_string(), "{rotated}");
    assert_eq!(rotated["client_id"], client_id.as_str());
    assert_problem(
        token_form(&app, &creds(&client_id, &secret)).await,
        401,
        "invalid_client",
    )
    .await;
    let token = assert_client_token(token_form(&app, &creds(&client_id, &new_secret)).await).await;

    // Revocation: no more tokens, and the ones issued stop working.
    let revoked = assert_json(
        app.post_as(&format!("{location}/revoke"), &admin, &json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(revoked["active"], false);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_problem(
        token_form(&app, &creds(&client_id, &new_secret)).await,
        401,
        "invalid_client",
    )
    .await;
    assert_problem(me(&app, &token).await, 401, "account_disabled").await;
    assert_problem(
        app.post_as(&format!("{location}/rotate"), &admin, &json!({}))
            .await,
        409,
        "client_revoked",
    )
    .await;

    // Each change is audited, and no secret is in the log.
    let audit = assert_json(
        app.get_as(
            &format!("/api/v1/audit?object_type=service_client&object_id={id}"),
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
            "service_client.revoke",
            "service_client.rotate",
            "service_client.create"
        ]
    );
    let text = audit.to_string();
    assert!(!text.contains(&secret) && !text.contains(&new_secret));
}

#[tokio::test]
async fn pair_and_address_limits_apply_separately_and_expire() {
    use gereport::auth::limiter::LoginLimiter;
    let app = spawn_app().await;
    let mut conn = app.db_conn().await;
    let l = LoginLimiter::new(std::time::Duration::from_millis(800), 2, 4);
    // `begin` counts a failure unless `succeeded` takes it back; Err is a 429.
    let fail = async |conn: &mut _, user: &str, addr: &str| l.begin(conn, user, addr).await.is_ok();
    assert!(fail(&mut conn, "anna", "10.0.0.1").await);
    assert!(fail(&mut conn, "Anna", "10.0.0.1").await);
    // The username is throttled from that address ...
    assert!(!fail(&mut conn, "ANNA", "10.0.0.1").await);
    // ... but not from another one, where it is only slowed down.
    let elsewhere = l.begin(&mut conn, "anna", "10.0.0.2").await.unwrap();
    assert!(elsewhere.delay > std::time::Duration::ZERO);
    l.succeeded(&mut conn, elsewhere).await.unwrap();
    // The address is throttled for any username once it reaches its own limit
    // (two failures of anna, one refused attempt that did not count, bob and carl).
    assert!(fail(&mut conn, "bob", "10.0.0.1").await);
    assert!(fail(&mut conn, "carl", "10.0.0.1").await);
    assert!(!fail(&mut conn, "dave", "10.0.0.1").await);
    assert!(fail(&mut conn, "dave", "10.0.0.3").await);
    // Failures leave with the window.
    tokio::time::sleep(std::time::Duration::from_millis(900)).await;
    assert!(fail(&mut conn, "dave", "10.0.0.1").await);
}

/// An attempt whose password was never checked (the hashing queue was full) is taken
/// back, but the failures before it stay: an overload cannot wash them away.
#[tokio::test]
async fn an_unjudged_attempt_is_withdrawn_without_forgiving_earlier_failures() {
    use gereport::auth::limiter::LoginLimiter;
    let app = spawn_app().await;
    let mut conn = app.db_conn().await;
    let l = LoginLimiter::new(std::time::Duration::from_secs(60), 2, 100);
    let _failed = l.begin(&mut conn, "eve", "10.0.0.9").await.unwrap();
    let unjudged = l.begin(&mut conn, "eve", "10.0.0.9").await.unwrap();
    l.withdraw(&mut conn, unjudged).await.unwrap();
    // One failure counts: one more attempt is allowed, then the pair is throttled.
    let _second = l.begin(&mut conn, "eve", "10.0.0.9").await.unwrap();
    assert!(l.begin(&mut conn, "eve", "10.0.0.9").await.is_err());
}

/// A burst of concurrent guesses gets no more through than the limit: each attempt is
/// counted before its password is checked, under a lock of its keys.
#[tokio::test]
async fn concurrent_guesses_do_not_pass_the_throttle() {
    let app = spawn_app().await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "target", "reporter", "SVHTT").await;
    let statuses = |n: usize, user: fn(usize) -> String| {
        let app = &app;
        async move {
            let tries = (0..n).map(|i| {
                let body = json!({"username": user(i), "password": "wrong-password!"});
                async move {
                    app.post_json("/api/v1/auth/login", &body)
                        .await
                        .status()
                        .as_u16()
                }
            });
            let mut by = std::collections::BTreeMap::new();
            for s in futures_util::future::join_all(tries).await {
                *by.entry(s).or_insert(0) += 1;
            }
            by
        }
    };
    // 40 at once for one username: five are checked, the rest wait.
    let by = statuses(40, |_| "target".to_string()).await;
    assert_eq!(by.get(&401), Some(&5), "{by:?}");
    assert_eq!(by.get(&429), Some(&35), "{by:?}");
    // 100 at once from one address for many usernames: thirty, counting the five.
    let by = statuses(100, |i| format!("someone{i}")).await;
    assert_eq!(by.get(&401), Some(&25), "{by:?}");
    assert_eq!(by.get(&429), Some(&75), "{by:?}");
}

/// Behind the trusted reverse proxy, failures lock a username only from the address
/// that failed: a colleague elsewhere, or an admin, still logs in; the same holds for
/// a service client's public id. Without the proxy setting, a forged header is ignored.
#[tokio::test]
async fn failures_elsewhere_lock_nobody_out() {
    let app = spawn_app_with(&[("GEREPORT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let admin = seed_admin(&app).await;
    create_user(&app, &admin, "victim", "reporter", "SVHTT").await;
    let from = |addr: &'static str, user: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.99, {addr}"))
            .json(&json!({"username": user, "password": password}))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            from("203.0.113.66", "victim", "wrong-password!")
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        from("203.0.113.66", "victim", PASSWORD)
            .await
            .unwrap()
            .status(),
        429
    );
    // The victim, from the office, gets in (slowed down, not locked out).
    assert_eq!(
        from("203.0.113.10", "victim", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );
    // Thirty failures from one address lock that address only.
    for i in 0..30 {
        let user: &'static str = Box::leak(format!("nobody{i}").into_boxed_str());
        assert_eq!(
            from("203.0.113.77", user, "wrong-password!")
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        from("203.0.113.77", "admin", ADMIN_PASSWORD)
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        from("203.0.113.11", "admin", ADMIN_PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );

    // A service client, guessed at by its public id from one address, works elsewhere.
    let created = assert_json(
        app.post_as(
            "/api/v1/service-clients",
            &admin,
            &json!({"name": "HR system", "role": "reporter", "unit": "SVHTT"}),
        )
        .await,
        201,
    )
    .await;
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let token = |addr: &'static str, secret: String| {
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("x-forwarded-for", addr)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", &secret),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            token("203.0.113.88", "wrong".into())
                .await
                .unwrap()
                .status(),
            401
        );
    }
    assert_eq!(
        token("203.0.113.88", secret.into()).await.unwrap().status(),
        429
    );
    assert_eq!(
        token("203.0.113.12", secret.into()).await.unwrap().status(),
        200
    );

    // Where the peer is not a trusted proxy, X-Forwarded-For is ignored.
    let direct = spawn_app().await;
    seed_admin(&direct).await;
    for i in 0..30 {
        let res = direct
            .client
            .post(direct.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .json(&json!({"username": format!("x{i}"), "password": "wrong-password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        try_login(&direct, "admin", ADMIN_PASSWORD).await.status(),
        429
    );
}
