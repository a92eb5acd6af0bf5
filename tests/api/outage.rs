//! A database outage: requests answer 503 within the pool timeout, /readyz fails,
//! /healthz stays up, and the service recovers by itself when PostgreSQL returns.
//!
//! The test runs its own throwaway PostgreSQL cluster so it can stop and start it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::{assert_problem, client, init_logs, start_server, test_settings};

fn pg_bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("GEREPORT_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .filter(|d| d.join("initdb").exists())
        .expect("no initdb found: set GEREPORT_PG_BINDIR or install postgresql")
}

/// A private cluster owned by `postgres` when we run as root (initdb refuses root).
struct Cluster {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bindir.join(program);
        let status = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .status()
        } else {
            Command::new(&exe).args(args).status()
        }
        .unwrap();
        assert!(status.success(), "{program} {args:?} failed");
    }

    fn create() -> Cluster {
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let dir =
            std::env::temp_dir().join(format!("gereport-outage-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bindir: pg_bindir(),
            dir,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(if self.as_postgres { "runuser" } else { "true" })
            .args(if self.as_postgres {
                vec!["-u", "postgres", "--"]
            } else {
                vec![]
            })
            .arg(self.bindir.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .status();
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

async fn wait_for(mut check: impl AsyncFnMut() -> bool, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("condition not met within {limit:?}");
}

#[tokio::test]
async fn database_outage_gives_503_and_the_service_recovers() {
    init_logs();
    let cluster = Cluster::create();
    let mut conn = <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
        &cluster.url("postgres"),
    )
    .await
    .unwrap();
    diesel_async::RunQueryDsl::execute(diesel::sql_query("CREATE DATABASE gereport"), &mut conn)
        .await
        .unwrap();
    drop(conn);
    let url = cluster.url("gereport");
    gereport::db::run_migrations(&url).await.unwrap();
    let address = start_server(test_settings(&url, &[("GEREPORT_DB_TIMEOUT_SECS", "2")])).await;
    let http = client();
    let get = |path: &str| http.get(format!("{address}{path}")).send();

    assert_eq!(get("/readyz").await.unwrap().status(), 200);

    cluster.stop();
    let started = Instant::now();
    let res = get("/readyz").await.unwrap();
    let took = started.elapsed();
    assert_problem(res, 503, "database_unavailable").await;
    assert!(took < Duration::from_secs(10), "503 took {took:?}");
    for _ in 0..3 {
        let started = Instant::now();
        let res = get("/readyz").await.unwrap();
        assert_eq!(res.status(), 503);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    assert_eq!(get("/healthz").await.unwrap().status(), 200);

    cluster.start();
    wait_for(
        async || {
            get("/readyz")
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false)
        },
        Duration::from_secs(30),
    )
    .await;
}
