//! Spawning the app for a test: a fresh database cloned from a migrated template, the
//! real server on port 0, and an HTTP client.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gereport::config::Settings;
use sha2::{Digest, Sha256};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The PostgreSQL server the suite uses, as an URL to its `postgres` database.
pub fn admin_url() -> String {
    if let Ok(url) = std::env::var("GEREPORT_PG_ADMIN_URL") {
        return url;
    }
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return with_database(&url, "postgres");
    }
    "postgres://postgres@127.0.0.1:5432/postgres".to_string()
}

/// The same server URL with another database name (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn migrations_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sub = entry.unwrap().path();
        for f in std::fs::read_dir(&sub).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.strip_prefix(&dir).unwrap().to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).unwrap());
    }
    hex::encode(&h.finalize()[..8])
}

async fn admin_conn(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url}: {e}; is DATABASE_URL right?"))
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let r: N = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result(conn)
        .await
        .unwrap();
    r.n > 0
}

/// Creates the migrated template once per migrations version, safely across the
/// parallel test processes (an advisory lock serialises the creators).
async fn ensure_template(admin: &str) -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    if let Some(n) = NAME.get() {
        return n.clone();
    }
    let name = format!("gereport_tpl_{}", migrations_fingerprint());
    let mut conn = admin_conn(admin).await;
    diesel::sql_query("SELECT pg_advisory_lock(727274)")
        .execute(&mut conn)
        .await
        .unwrap();
    if !database_exists(&mut conn, &name).await {
        let building = format!("{name}_build");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut conn)
            .await
            .unwrap();
        gereport::db::run_migrations(&with_database(admin, &building))
            .await
            .unwrap();
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727274)")
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = NAME.set(name.clone());
    name
}

/// A fresh, migrated database of the test's own.
pub async fn fresh_database() -> TestDatabase {
    let admin = admin_url();
    let template = ensure_template(&admin).await;
    let name = format!("gereport_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin_conn(&admin).await;
    let mut attempts = 0;
    loop {
        match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
        {
            Ok(_) => break,
            // Another process may be cloning the same template at this very moment.
            Err(e) if attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempts)).await;
                let _ = e;
            }
            Err(e) => panic!("creating {name}: {e}"),
        }
    }
    TestDatabase {
        url: with_database(&admin, &name),
        admin,
        name,
    }
}

pub struct TestDatabase {
    pub url: String,
    pub admin: String,
    pub name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we could borrow; a short-lived runtime
        // on its own thread does the cleanup, also when the test panicked.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

pub fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            gereport::telemetry::init(gereport::config::LogFormat::Pretty);
        }
    });
}

pub fn test_settings(database_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.to_string()),
        ("GEREPORT_BIND".into(), "127.0.0.1:0".into()),
        ("GEREPORT_JWT_SECRET".into(), JWT_SECRET.into()),
        ("GEREPORT_DB_POOL_SIZE".into(), "8".into()),
        ("GEREPORT_DB_TIMEOUT_SECS".into(), "3".into()),
    ]);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Settings::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Also held for its Drop, which removes the test's database.
    #[allow(dead_code)]
    pub db: TestDatabase,
}

/// The app on its own database, serving on a random port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    init_logs();
    let db = fresh_database().await;
    let settings = test_settings(&db.url, extra);
    let address = start_server(settings).await;
    TestApp {
        address,
        client: client(),
        db,
    }
}

/// Starts the server in the background and returns its base URL.
pub async fn start_server(settings: Settings) -> String {
    let app = gereport::Application::build(settings).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

/// Asserts a problem+json response with the given status and code; returns the body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let has_request_id = res.headers().contains_key("x-request-id");
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "status; body: {text}");
    assert_eq!(
        ct, "application/problem+json; charset=utf-8",
        "content type; body: {text}"
    );
    assert!(has_request_id, "no X-Request-Id header");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with(code), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert!(
        body["instance"].as_str().unwrap().starts_with('/'),
        "{body}"
    );
    body
}

// --- identity: people, tokens and a small organisation tree -----------------------

/// The password of the admin made by `seed_admin`.
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of every user the tree builder creates.
pub const PASSWORD: &str = "user-password-for-tests";

/// What login and refresh answer.
#[derive(serde::Deserialize, Clone, Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

impl TestApp {
    /// A request with `Authorization: Bearer <token>`.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.authed(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_as(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.authed(reqwest::Method::POST, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_as(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.authed(reqwest::Method::PATCH, path, token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POST with a JSON body and no token.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A direct connection to the test's database, for checking what was stored.
    pub async fn db_conn(&self) -> AsyncPgConnection {
        admin_conn(&self.db.url).await
    }

    /// Runs `SELECT <bigint> AS n ...` on the test's database.
    pub async fn db_i64(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db_conn().await;
        let r: N = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        r.n
    }

    /// Runs `SELECT <text> AS t ...` on the test's database (one row expected).
    pub async fn db_text(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut conn = self.db_conn().await;
        let r: T = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        r.t
    }
}

/// Asserts the status of a JSON response and returns its body.
pub async fn assert_json(res: reqwest::Response, status: u16) -> serde_json::Value {
    let got = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "status; body: {text}");
    assert!(
        ct.starts_with("application/json"),
        "content type {ct:?}; body: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Creates the admin `admin` (and the root unit SVHTT) the way `gereport create-admin`
/// does, and returns an access token for it.
pub async fn seed_admin(app: &TestApp) -> String {
    let mut conn = app.db_conn().await;
    let created = gereport::demo::create_admin(&mut conn, "admin", ADMIN_PASSWORD.to_string())
        .await
        .unwrap();
    assert!(created);
    login(app, "admin", ADMIN_PASSWORD).await.access_token
}

/// POST /api/v1/auth/login, without judging the answer.
pub async fn try_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/login",
        &serde_json::json!({ "username": username, "password": password }),
    )
    .await
}

/// Logs in, asserting success.
pub async fn login(app: &TestApp, username: &str, password: &str) -> TokenPair {
    let body = assert_json(try_login(app, username, password).await, 200).await;
    serde_json::from_value(body).unwrap()
}

/// POST /api/v1/auth/refresh, without judging the answer.
pub async fn try_refresh(app: &TestApp, refresh_token: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/refresh",
        &serde_json::json!({ "refresh_token": refresh_token }),
    )
    .await
}

/// An organisation unit as the tree builder knows it.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: String,
    pub code: String,
}

/// A user the tree builder created.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: String,
}

/// Creates a unit through the API as admin.
pub async fn create_unit(
    app: &TestApp,
    admin: &str,
    code: &str,
    name: &str,
    kind: &str,
    parent: Option<&str>,
) -> Unit {
    let body = assert_json(
        app.post_as(
            "/api/v1/org-units",
            admin,
            &serde_json::json!({ "code": code, "name": name, "kind": kind, "parent": parent }),
        )
        .await,
        201,
    )
    .await;
    Unit {
        id: body["id"].as_str().unwrap().to_string(),
        code: body["code"].as_str().unwrap().to_string(),
    }
}

/// Creates a user with `PASSWORD` through the API as admin.
pub async fn create_user(
    app: &TestApp,
    admin: &str,
    username: &str,
    role: &str,
    unit: &str,
) -> Person {
    let body = assert_json(
        app.post_as(
            "/api/v1/users",
            admin,
            &serde_json::json!({
                "username": username,
                "display_name": format!("Người dùng {username}"),
                "role": role,
                "unit": unit,
                "password": PASSWORD,
            }),
        )
        .await,
        201,
    )
    .await;
    Person {
        id: body["id"].as_str().unwrap().to_string(),
    }
}

/// The root department SVHTT with two offices, A and B, and one user of each role:
/// `admin` (root), `coordinator_a`, `viewer_a`, `reporter_a` (office A) and
/// `reporter_b` (office B), all made through the API by the admin.
pub struct Tree {
    pub admin: String,
    pub root: Unit,
    pub a: Unit,
    pub b: Unit,
    pub coordinator_a: Person,
    pub viewer_a: Person,
    pub reporter_a: Person,
    pub reporter_b: Person,
    tokens: std::sync::Mutex<HashMap<String, String>>,
}

impl Tree {
    pub async fn build(app: &TestApp) -> Tree {
        let admin = seed_admin(app).await;
        let root_body = assert_json(app.get_as("/api/v1/org-units/SVHTT", &admin).await, 200).await;
        let root = Unit {
            id: root_body["id"].as_str().unwrap().to_string(),
            code: "SVHTT".into(),
        };
        let a = create_unit(app, &admin, "OFFICE-A", "Phòng A", "office", Some("SVHTT")).await;
        let b = create_unit(app, &admin, "OFFICE-B", "Phòng B", "office", Some("SVHTT")).await;
        let coordinator_a = create_user(app, &admin, "coordinator_a", "coordinator", &a.code).await;
        let viewer_a = create_user(app, &admin, "viewer_a", "viewer", &a.code).await;
        let reporter_a = create_user(app, &admin, "reporter_a", "reporter", &a.code).await;
        let reporter_b = create_user(app, &admin, "reporter_b", "reporter", &b.code).await;
        let tokens = HashMap::from([("admin".to_string(), admin.clone())]);
        Tree {
            admin,
            root,
            a,
            b,
            coordinator_a,
            viewer_a,
            reporter_a,
            reporter_b,
            tokens: std::sync::Mutex::new(tokens),
        }
    }

    /// An access token of one of the tree's users, logging in on first use only.
    pub async fn token(&self, app: &TestApp, username: &str) -> String {
        if let Some(t) = self.tokens.lock().unwrap().get(username) {
            return t.clone();
        }
        let t = login(app, username, PASSWORD).await.access_token;
        self.tokens
            .lock()
            .unwrap()
            .insert(username.to_string(), t.clone());
        t
    }
}
