//! The city-scale benchmark: a city, 30 departments and 10,000 units, each with an
//! accepted report for two periods, then measured on loopback against the release
//! binary: the root compilation, concurrent report reads, concurrent draft-and-submit,
//! the service's peak memory, and the compilation's own SQL run straight through psql.
//! Before the service starts, pgbench measures this machine's ceiling against the same
//! PostgreSQL with the same client count (TPC-B-like for writes, select-only for
//! reads), and the service's rates are written as shares of it. Writes the results to
//! docs/BENCHMARKS.md. Run it with `scripts/bench`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use gereport::org::model::UnitKind;
use gereport::org::store::Row as UnitRow;
use gereport::schema::{org_units, reports};
use serde_json::{Value, json};
use uuid::Uuid;

const DEPARTMENTS: usize = 30;
const UNITS: usize = 10_000;
const CONCURRENCY: usize = 32;
const COMPILE_RUNS: usize = 50;
const SQL_RUNS: usize = 20;
const RECOMPUTE_RUNS: usize = 20;
/// How long each pgbench run lasts.
const PGBENCH_SECONDS: u64 = 20;
const PASSWORD: &str = "bench-password-2024";
const SECRET: &str = "bench-only-secret-bench-only-secret-0123456789";

fn admin_url() -> String {
    if let Ok(u) = std::env::var("GEREPORT_PG_ADMIN_URL") {
        return u;
    }
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    with_db(&base, "postgres")
}

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let cut = base[base.find("://").map_or(0, |i| i + 3)..]
        .find('/')
        .map_or(base.len(), |i| i + base.find("://").map_or(0, |j| j + 3));
    format!(
        "{}/{db}{}",
        &base[..cut],
        query.map(|q| format!("?{q}")).unwrap_or_default()
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Seeded {
    period_current: Uuid,
    period_previous: Uuid,
    period_bench: Uuid,
    read_unit: String,
    units: Vec<UnitRow>,
    window_start: NaiveDate,
}

fn unit_row(
    id: Uuid,
    code: String,
    name: String,
    kind: UnitKind,
    parent: Option<&UnitRow>,
) -> UnitRow {
    let (path, depth) = match parent {
        Some(p) => (format!("{}{id}/", p.path), p.depth + 1),
        None => (format!("/{id}/"), 0),
    };
    UnitRow {
        id,
        code,
        name,
        kind: kind.as_str().into(),
        parent_id: parent.map(|p| p.id),
        path,
        depth,
        active: true,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        version: 1,
    }
}

async fn seed(conn: &mut AsyncPgConnection) -> Result<Seeded> {
    let city = unit_row(
        Uuid::now_v7(),
        "HN".into(),
        "Thành phố Hà Nội".into(),
        UnitKind::Other,
        None,
    );
    let mut all = vec![city.clone()];
    let mut leaves = Vec::with_capacity(UNITS);
    let per_dept = UNITS / DEPARTMENTS;
    for d in 0..DEPARTMENTS {
        let dept = unit_row(
            Uuid::now_v7(),
            format!("S{:02}", d + 1),
            format!("Sở số {}", d + 1),
            UnitKind::Department,
            Some(&city),
        );
        let count = if d == DEPARTMENTS - 1 {
            UNITS - per_dept * (DEPARTMENTS - 1)
        } else {
            per_dept
        };
        for u in 0..count {
            let kind = if u % 4 == 0 {
                UnitKind::Office
            } else {
                UnitKind::SubordinateUnit
            };
            let leaf = unit_row(
                Uuid::now_v7(),
                format!("S{:02}-{:04}", d + 1, u + 1),
                format!("Đơn vị {} thuộc Sở số {}", u + 1, d + 1),
                kind,
                Some(&dept),
            );
            leaves.push(leaf);
        }
        all.push(dept);
    }
    all.extend(leaves.iter().cloned());
    for chunk in all.chunks(2000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|u| {
                (
                    org_units::id.eq(u.id),
                    org_units::code.eq(&u.code),
                    org_units::name.eq(&u.name),
                    org_units::kind.eq(&u.kind),
                    org_units::parent_id.eq(u.parent_id),
                    org_units::path.eq(&u.path),
                    org_units::depth.eq(u.depth),
                )
            })
            .collect();
        diesel::insert_into(org_units::table)
            .values(rows)
            .execute(conn)
            .await?;
    }

    let hash = gereport::auth::password::hash(PASSWORD.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let by = gereport::audit::By::system("bench");
    for (name, role) in [
        ("admin", gereport::auth::policy::Role::Admin),
        ("coordinator", gereport::auth::policy::Role::Coordinator),
    ] {
        gereport::demo::ensure_user(conn, &by, name, name, role, &city, &hash)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }

    use gereport::plans::store::{self as ps, IndicatorValues, NewPlanRow, PeriodValues};
    let plan = ps::insert_plan(
        conn,
        NewPlanRow {
            year: 2024,
            document_number: "BENCH/KH-UBND",
            title: "Kế hoạch bình đẳng giới (benchmark)",
            issue_date: None,
            legal_basis: "",
            issuing_unit_id: city.id,
            status: gereport::plans::model::PlanStatus::Active,
            head_sign_off: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let form_def = gereport::plans::form::default_form_2024()?;
    let form = ps::insert_form(conn, plan, &form_def, "bench")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for (code, formula, target) in [
        (
            "leaders_with_woman",
            "count(leaders_female >= 1) / count()",
            1.0,
        ),
        (
            "trained_female_share",
            "sum(trained_political_female + trained_professional_female) / sum(trained_political_total + trained_professional_total)",
            0.5,
        ),
    ] {
        ps::insert_indicator(
            conn,
            plan,
            IndicatorValues {
                code,
                name_vi: code,
                name_en: code,
                formula,
                target,
                direction: gereport::plans::indicator::Direction::AtLeast,
                source: "bench",
                targets: &[],
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let kind = gereport::plans::period::PeriodKind::SemiAnnual;
    let p1 = ps::insert_period(
        conn,
        plan,
        PeriodValues {
            kind,
            code: "2024S1",
            name: "",
            window_start: d(2024, 1, 1),
            window_end: d(2024, 5, 15),
            due_date: d(2024, 5, 20),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let p2 = ps::insert_period(
        conn,
        plan,
        PeriodValues {
            kind,
            code: "2024S2",
            name: "",
            window_start: d(2024, 5, 16),
            window_end: d(2024, 11, 15),
            due_date: d(2024, 11, 20),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let p3 = ps::insert_period(
        conn,
        plan,
        PeriodValues {
            kind: gereport::plans::period::PeriodKind::AdHoc,
            code: "BENCH",
            name: "",
            window_start: d(2024, 1, 1),
            window_end: d(2099, 12, 31),
            due_date: d(2099, 12, 31),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    for (period, start) in [(&p1, p1.window_start), (&p2, p2.window_start)] {
        for chunk in leaves.chunks(500) {
            let now = Utc::now();
            let rows: Vec<_> = chunk
                .iter()
                .map(|u| {
                    let data = serde_json::to_value(gereport::demo::plan2024::sample_data(
                        u, false, start,
                    ))
                    .unwrap_or(Value::Null);
                    (
                        reports::id.eq(Uuid::now_v7()),
                        reports::period_id.eq(period.id),
                        reports::unit_id.eq(u.id),
                        reports::form_id.eq(form.id),
                        reports::status.eq("accepted"),
                        reports::data.eq(data),
                        reports::revision.eq(Some(1)),
                        reports::submitted_at.eq(Some(now)),
                        reports::submitted_by.eq(Some(u.code.to_lowercase())),
                        reports::late.eq(Some(false)),
                        reports::reviewed_at.eq(Some(now)),
                        reports::reviewed_by.eq(Some("coordinator")),
                    )
                })
                .collect();
            diesel::insert_into(reports::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
    }
    // The state autovacuum reaches soon after a bulk load in production (PostgreSQL
    // vacuums after inserts too): statistics gathered, visibility map and hint bits set.
    diesel::sql_query("VACUUM (ANALYZE)").execute(conn).await?;
    Ok(Seeded {
        period_current: p2.id,
        period_previous: p1.id,
        period_bench: p3.id,
        read_unit: leaves[UNITS / 2].code.clone(),
        units: leaves,
        window_start: p3.window_start,
    })
}

async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<String> {
    let res: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": user, "password": PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    res["access_token"]
        .as_str()
        .map(str::to_string)
        .context("login failed")
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM",
        mem as f64 / 1024.0 / 1024.0
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let admin = admin_url();
    let db = "gereport_bench";
    let url = with_db(&admin, db);
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
    let bin = format!("{target_dir}/release/gereport");
    if !std::path::Path::new(&bin).exists() {
        bail!(
            "{bin} is missing: run `cargo build --release --bin gereport` first (scripts/bench does)"
        );
    }

    eprintln!(
        "seeding {UNITS} units and {} reports into {db} …",
        UNITS * 2
    );
    let started = Instant::now();
    {
        let mut c = AsyncPgConnection::establish(&admin).await?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut c)
            .await?;
        diesel::sql_query(format!("CREATE DATABASE {db}"))
            .execute(&mut c)
            .await?;
    }
    gereport::db::run_migrations(&url).await?;
    let mut conn = AsyncPgConnection::establish(&url).await?;
    let seeded = seed(&mut conn).await?;
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    eprintln!("measuring this machine's ceiling with pgbench …");
    let ceiling = pgbench_ceiling(&admin)?;

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(&bin)
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("GEREPORT_BIND", format!("127.0.0.1:{port}"))
        .env("GEREPORT_JWT_SECRET", SECRET)
        .env("GEREPORT_DB_POOL_SIZE", pool_size().to_string())
        .env("GEREPORT_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let ready = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        if ready.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            bail!("the service did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = measure(&http, &base, &seeded, &mut conn, pid, &ceiling).await;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    let report = result?;
    println!("{report}");
    // The measured table is regenerated; the hand-written analysis after it is kept.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/BENCHMARKS.md");
    let notes = std::fs::read_to_string(path)
        .ok()
        .and_then(|old| old.find("\n## Notes").map(|i| old[i..].to_string()))
        .unwrap_or_default();
    std::fs::write(path, format!("{report}{notes}"))?;
    eprintln!("written to docs/BENCHMARKS.md");
    Ok(())
}

/// pgbench's binary: on PATH, in the server's bindir (`GEREPORT_PG_BINDIR`, as
/// scripts/lib.sh finds it), or the newest Debian server's.
fn pgbench_bin() -> String {
    if let Ok(dir) = std::env::var("GEREPORT_PG_BINDIR") {
        let bin = format!("{dir}/pgbench");
        if std::path::Path::new(&bin).exists() {
            return bin;
        }
    }
    let on_path = Command::new("pgbench")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if on_path {
        return "pgbench".into();
    }
    let mut debian: Vec<String> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| format!("{}/bin/pgbench", e.path().display()))
                .filter(|b| std::path::Path::new(b).exists())
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    debian.pop().unwrap_or_else(|| "pgbench".into())
}

/// This machine's ceiling, measured against the same PostgreSQL server with the same
/// number of clients the service gets: pgbench's TPC-B-like transactions (writes) and
/// its select-only ones (reads), in transactions per second.
struct Ceiling {
    tpcb_tps: f64,
    select_tps: f64,
}

fn pgbench_ceiling(admin: &str) -> Result<Ceiling> {
    let db = "gereport_pgbench";
    let url = with_db(admin, db);
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        let out = Command::new("psql")
            .args(["-X", "-q", "-d", admin, "-c", &sql])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let bin = pgbench_bin();
    let run = |args: &[&str]| -> Result<String> {
        let out = Command::new(&bin)
            .args(args)
            .arg(&url)
            .output()
            .with_context(|| format!("running {bin}"))?;
        if !out.status.success() {
            bail!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // Scale 10: a million accounts, more rows than clients can contend on.
    run(&["-i", "-q", "-s", "10"])?;
    let clients = CONCURRENCY.to_string();
    let seconds = PGBENCH_SECONDS.to_string();
    let tps = |out: &str| -> Result<f64> {
        out.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .context("no `tps = ` line in pgbench's output")
    };
    let common = ["-n", "-c", &clients, "-j", "2", "-T", &seconds];
    let tpcb_tps = tps(&run(&common)?)?;
    let mut select = common.to_vec();
    select.push("-S");
    let select_tps = tps(&run(&select)?)?;
    eprintln!("pgbench: TPC-B-like {tpcb_tps:.0} tps, select-only {select_tps:.0} tps");
    let _ = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-d",
            admin,
            "-c",
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        ])
        .output();
    Ok(Ceiling {
        tpcb_tps,
        select_tps,
    })
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// The service's connection pool for the run: `GEREPORT_BENCH_POOL`, default 16 (the
/// service's own default, `GEREPORT_DB_POOL_SIZE`).
fn pool_size() -> u32 {
    std::env::var("GEREPORT_BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(16)
}

/// One root compilation, timed from request to the last byte; with its size.
async fn compile_once(http: &reqwest::Client, url: &str, token: &str) -> Result<(Duration, usize)> {
    let t = Instant::now();
    let r = http.get(url).bearer_auth(token).send().await?;
    if r.status() != 200 {
        bail!("compilation answered {}: {}", r.status(), r.text().await?);
    }
    let size = r.bytes().await?.len();
    Ok((t.elapsed(), size))
}

/// Rewrites one unit of the tree unchanged: every period's fingerprint moves in the
/// part its ledger stands on, so the service compiles with the aggregate queries
/// over every report of both periods (as after the tree or the expected units
/// changed, or on a cold start) and reads the ledgers whole in the background.
async fn touch_the_tree(conn: &mut AsyncPgConnection) -> Result<()> {
    diesel::sql_query(
        "UPDATE org_units SET name = name WHERE id = (SELECT id FROM org_units LIMIT 1)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites one report of a period unchanged: a new row version, as an edit makes,
/// so the service's cached parts of that period no longer apply.
async fn touch_a_report(conn: &mut AsyncPgConnection, period: Uuid) -> Result<()> {
    diesel::sql_query(
        "UPDATE reports SET updated_at = updated_at \
         WHERE id = (SELECT id FROM reports WHERE period_id = $1 LIMIT 1)",
    )
    .bind::<diesel::sql_types::Uuid, _>(period)
    .execute(conn)
    .await?;
    Ok(())
}

async fn measure(
    http: &reqwest::Client,
    base: &str,
    s: &Seeded,
    conn: &mut AsyncPgConnection,
    pid: u32,
    ceiling: &Ceiling,
) -> Result<String> {
    let coordinator = login(http, base, "coordinator").await?;
    let admin = login(http, base, "admin").await?;

    // (a) The root compilation: polls over unchanged data (the parts come from the
    // service's cache); the figures alone, without narratives, polled; after one report
    // of the period changed (the period's ledger reads that report again, the previous
    // period's figures are reused); after a report of each period changed (both
    // ledgers read one report); and computed whole after the tree changed (the
    // aggregate queries over both periods' reports, as on a cold start).
    let compile_url = format!("{base}/api/v1/periods/{}/compilation", s.period_current);
    let (first, size) = compile_once(http, &compile_url, &coordinator).await?;
    eprintln!("first compilation after start {:.1} ms", ms(first));
    let mut compile = Vec::new();
    for _ in 0..COMPILE_RUNS {
        compile.push(compile_once(http, &compile_url, &coordinator).await?.0);
    }
    compile.sort();
    let compile_p50 = percentile(&compile, 0.5);
    let compile_p99 = percentile(&compile, 0.99);
    let figures_url =
        format!("{compile_url}?parts=completeness,indicators,totals,activities,previous");
    let (_, figures_size) = compile_once(http, &figures_url, &coordinator).await?;
    let mut polled_figures = Vec::new();
    for _ in 0..COMPILE_RUNS {
        polled_figures.push(compile_once(http, &figures_url, &coordinator).await?.0);
    }
    polled_figures.sort();
    // 2024S1 is the period 2024S2 is compared with.
    let prev_id = Some(s.period_previous);
    let mut changed = Vec::new();
    let mut each = Vec::new();
    let mut cold = Vec::new();
    // Changes one after another: the ledgers are read by the first compilation's
    // background read, before the runs measured.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..RECOMPUTE_RUNS {
        touch_a_report(conn, s.period_current).await?;
        changed.push(compile_once(http, &compile_url, &coordinator).await?.0);
    }
    for _ in 0..RECOMPUTE_RUNS {
        touch_a_report(conn, s.period_current).await?;
        if let Some(prev) = prev_id {
            touch_a_report(conn, prev).await?;
        }
        each.push(compile_once(http, &compile_url, &coordinator).await?.0);
    }
    for _ in 0..RECOMPUTE_RUNS {
        touch_the_tree(conn).await?;
        cold.push(compile_once(http, &compile_url, &coordinator).await?.0);
        // The ledgers' background read ends before the next run is measured.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    changed.sort();
    each.sort();
    cold.sort();
    eprintln!(
        "compilation: polls p50 {:.1} ms p99 {:.1} ms; figures polled p50 {:.1} ms; after a \
         change p50 {:.1} ms; after a change in each period p50 {:.1} ms; computed whole \
         p50 {:.1} ms p99 {:.1} ms ({} KiB)",
        ms(compile_p50),
        ms(compile_p99),
        ms(percentile(&polled_figures, 0.5)),
        ms(percentile(&changed, 0.5)),
        ms(percentile(&each, 0.5)),
        ms(percentile(&cold, 0.5)),
        ms(percentile(&cold, 0.99)),
        size / 1024
    );

    // The same statements through psql.
    let period = gereport::plans::store::get_period(conn, s.period_current)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("period")?;
    let plan = gereport::plans::store::get_plan(conn, period.plan_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("plan")?;
    let root = gereport::org::store::find_by_id(conn, plan.issuing_unit_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("root")?;
    let mut statements =
        gereport::compile::sql_statements(conn, &period, &plan, &root, false, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(prev) = prev_id {
        let prev = gereport::plans::store::get_period(conn, prev)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .context("previous")?;
        statements.extend(
            gereport::compile::sql_statements(conn, &prev, &plan, &root, false, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    let script = format!(
        "\\timing on\n{}\n",
        statements
            .iter()
            .map(|q| format!("{q};"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let script_path = std::env::temp_dir().join("gereport-bench-compile.sql");
    std::fs::write(&script_path, script)?;
    let url = with_db(&admin_url(), "gereport_bench");
    let mut sql_times = Vec::new();
    for _ in 0..SQL_RUNS {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-d", &url, "-f"])
            .arg(&script_path)
            .output()?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let total: f64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("Time: "))
            .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
            .sum();
        sql_times.push(Duration::from_secs_f64(total / 1000.0));
    }
    sql_times.sort();
    let sql_p50 = percentile(&sql_times, 0.5);
    eprintln!(
        "same SQL through psql p50 {:.1} ms over {} statements",
        ms(sql_p50),
        statements.len()
    );

    // (b) Reads of one report by 32 concurrent clients.
    let read_url = Arc::new(format!(
        "{base}/api/v1/periods/{}/reports/{}",
        s.period_current, s.read_unit
    ));
    let reads_total = 20_000usize;
    let counter = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, url, token, counter) = (
            http.clone(),
            read_url.clone(),
            coordinator.clone(),
            counter.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            while counter.fetch_add(1, Ordering::Relaxed) < reads_total {
                let t = Instant::now();
                match http.get(url.as_str()).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, errors)
        }));
    }
    let mut read_lat = Vec::new();
    let mut read_errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        read_lat.extend(l);
        read_errors += e;
    }
    let read_secs = t0.elapsed().as_secs_f64();
    read_lat.sort();
    let read_rps = read_lat.len() as f64 / read_secs;
    let read_p99 = percentile(&read_lat, 0.99);
    eprintln!(
        "reads {read_rps:.0}/s p99 {:.1} ms errors {read_errors}",
        ms(read_p99)
    );

    // (c) Draft save plus submit by 32 concurrent clients, each on its own units.
    let submit_total = 4_000usize.min(s.units.len());
    let next = Arc::new(AtomicUsize::new(0));
    let units = Arc::new(s.units.clone());
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (http, token, next, units) = (http.clone(), admin.clone(), next.clone(), units.clone());
        let base = base.to_string();
        let period = s.period_bench;
        let start = s.window_start;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= submit_total {
                    break;
                }
                let unit = &units[i];
                let body = gereport::demo::plan2024::sample_data(unit, false, start);
                let url = format!("{base}/api/v1/periods/{period}/reports/{}", unit.code);
                let t = Instant::now();
                let ok = async {
                    let r = http
                        .put(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .ok()?;
                    if r.status() != 201 {
                        return None;
                    }
                    let etag = r.headers().get("etag")?.to_str().ok()?.to_string();
                    let r = http
                        .post(format!("{url}/submit"))
                        .bearer_auth(&token)
                        .header("if-match", etag)
                        .header("idempotency-key", Uuid::new_v4().to_string())
                        .send()
                        .await
                        .ok()?;
                    (r.status() == 200).then_some(())
                }
                .await;
                lat.push(t.elapsed());
                if ok.is_none() {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut submit_lat = Vec::new();
    let mut submit_errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        submit_lat.extend(l);
        submit_errors += e;
    }
    let submit_secs = t0.elapsed().as_secs_f64();
    submit_lat.sort();
    let submit_rate = submit_lat.len() as f64 / submit_secs;
    let submit_p99 = percentile(&submit_lat, 0.99);
    eprintln!(
        "submissions {submit_rate:.0}/s p99 {:.1} ms errors {submit_errors}",
        ms(submit_p99)
    );

    let rss = peak_rss_mb(pid);
    let ratio = ms(percentile(&cold, 0.5)) / ms(sql_p50).max(0.001);
    let pg = Command::new("psql")
        .args(["-X", "-A", "-t", "-d", &url, "-c", "SHOW server_version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    Ok(format!(
        "# Benchmarks\n\n\
Measured by `scripts/bench` (bench/city.rs) on {date}: {machine}; PostgreSQL {pg}; the release binary \
on loopback with a pool of {pool} connections. Data: a city, {DEPARTMENTS} departments and {UNITS} units, each with \
an accepted report (the default 2024 form, realistic values, 1–2 activities) for two semi-annual periods.\n\n\
| measure | result | target | |\n|---|---|---|---|\n\
| (a) root compilation, JSON ({size_kib} KiB), polled over unchanged data, {COMPILE_RUNS} runs | p50 {c50:.1} ms, p99 {c99:.1} ms | p50 ≤ 200 ms | {va} |\n\
| (a) the figures alone (`?parts=` without narratives and tasks, {figures_kib} KiB), polled, {COMPILE_RUNS} runs | p50 {f50:.1} ms, p99 {f99:.1} ms | p50 ≤ 20 ms | {vf} |\n\
| (a) the whole compilation after one report of the period changed, {RECOMPUTE_RUNS} runs | p50 {h50:.1} ms, p99 {h99:.1} ms | p50 ≤ 100 ms | {vh} |\n\
| (a) the same after a report of each period changed, {RECOMPUTE_RUNS} runs | p50 {e50:.1} ms, p99 {e99:.1} ms | | |\n\
| (a) the same computed whole (after the tree changed: every report read again), {RECOMPUTE_RUNS} runs; the first after start: {first:.0} ms | p50 {w50:.1} ms, p99 {w99:.1} ms | p50 ≤ 150 ms | {vw} |\n\
| (a′) the {nstat} statements of a whole computation through psql, {SQL_RUNS} runs | p50 {s50:.1} ms | | |\n\
| service (computed whole) / SQL | {ratio:.2}× | ≤ 1.5× | {vr} |\n\
| (b) reads of one report, {CONCURRENCY} clients, {nreads} requests | {read_rps:.0} req/s, p99 {r99:.1} ms, {read_errors} errors | p99 ≤ 20 ms, no errors | {vb} |\n\
| (b′) pgbench select-only, {CONCURRENCY} clients, {PGBENCH_SECONDS} s | {sel_tps:.0} tps | | |\n\
| reads / pgbench select-only | {read_share:.0} % | ≥ 50 % | {vbs} |\n\
| (c) draft save + submit, {CONCURRENCY} clients, {nsub} reports | {submit_rate:.0} reports/s, p99 {p99s:.1} ms, {submit_errors} errors | p99 ≤ 100 ms, no errors | {vc} |\n\
| (c′) pgbench TPC-B-like, {CONCURRENCY} clients, {PGBENCH_SECONDS} s | {tpcb_tps:.0} tps | | |\n\
| submissions / pgbench TPC-B-like | {submit_share:.0} % | ≥ 50 % | {vcs} |\n\
| (d) service peak resident memory | {rss:.0} MB | ≤ 150 MB | {vd} |\n\n\
The psql figure sums the server-side time of each statement as psql's `\\timing` reports it; the service \
figures are wall time at the client, including HTTP, JSON encoding of the whole compilation and its transfer. \
Before each run of the third and fourth rows the benchmark rewrites one report row in SQL (of the period, \
then of each period), which is what any edit, submission or review does to the service's fingerprint of a \
period; before each run of the fifth it rewrites a unit of the tree, which makes the service compile from \
every report of both periods with its aggregate queries (and read the ledgers whole in the background, given \
3 s before the next run).\n",
        date = Utc::now().format("%Y-%m-%d"),
        pool = pool_size(),
        machine = machine(),
        size_kib = size / 1024,
        c50 = ms(compile_p50),
        c99 = ms(compile_p99),
        va = verdict(ms(compile_p50) <= 200.0),
        figures_kib = figures_size / 1024,
        f50 = ms(percentile(&polled_figures, 0.5)),
        f99 = ms(percentile(&polled_figures, 0.99)),
        vf = verdict(ms(percentile(&polled_figures, 0.5)) <= 20.0),
        e50 = ms(percentile(&each, 0.5)),
        e99 = ms(percentile(&each, 0.99)),
        h50 = ms(percentile(&changed, 0.5)),
        h99 = ms(percentile(&changed, 0.99)),
        vh = verdict(ms(percentile(&changed, 0.5)) <= 100.0),
        w50 = ms(percentile(&cold, 0.5)),
        w99 = ms(percentile(&cold, 0.99)),
        vw = verdict(ms(percentile(&cold, 0.5)) <= 150.0),
        first = ms(first),
        nstat = statements.len(),
        s50 = ms(sql_p50),
        vr = verdict(ratio <= 1.5),
        nreads = read_lat.len(),
        r99 = ms(read_p99),
        vb = verdict(ms(read_p99) <= 20.0 && read_errors == 0),
        sel_tps = ceiling.select_tps,
        read_share = 100.0 * read_rps / ceiling.select_tps.max(1.0),
        vbs = verdict(read_rps >= 0.5 * ceiling.select_tps),
        nsub = submit_lat.len(),
        p99s = ms(submit_p99),
        vc = verdict(ms(submit_p99) <= 100.0 && submit_errors == 0),
        tpcb_tps = ceiling.tpcb_tps,
        submit_share = 100.0 * submit_rate / ceiling.tpcb_tps.max(1.0),
        vcs = verdict(submit_rate >= 0.5 * ceiling.tpcb_tps),
        vd = verdict(rss > 0.0 && rss <= 150.0),
    ))
}
