//! The extracted figures (`report_figures`, kept by a trigger on `reports`) against the
//! documents they come from: over randomised reports — several units in two
//! departments, numbers, decimals, nulls, strings and missing keys, activity lists of
//! every shape — each figure query of the compilation must answer exactly what the
//! document queries it replaced (`compile::reference`) answer, after inserts, edits,
//! status changes and a rebuild like the migration's backfill.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use gereport::compile::ledger::{self, Ledger};
use gereport::compile::reference;
use gereport::compile::shape::{ListShape, Shape, sql_raw};
use gereport::compile::store::{self, Selection};
use gereport::db::Pool;
use gereport::plans::indicator::{self, CmpOp, Condition, Formula, Test};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::spawn_app;

/// xorshift64*: reproducible randomness without a dependency; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const NUMERIC: [&str; 5] = ["women", "men", "budget", "share_x", "leaders"];
const TEXTS: [&str; 2] = ["notes", "plans"];
const FLAGS: [&str; 2] = ["committee", "plan_issued"];

/// A value of any shape a stored document may hold for a key, or `None` (no key).
fn any_value(rng: &mut Rng) -> Option<Value> {
    match rng.below(10) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!("a string")),
        3 => Some(json!(
            format!("{}.{:03}", rng.below(10_000), rng.below(1000))
                .parse::<f64>()
                .unwrap()
        )),
        4 => Some(json!(rng.below(1u64 << 50))),
        5 => Some(json!(-(rng.below(1000) as i64))),
        6 => Some(json!(true)),
        _ => Some(json!(rng.below(500))),
    }
}

fn any_text(rng: &mut Rng) -> Option<Value> {
    match rng.below(6) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!(rng.below(100))),
        3 => Some(json!("   ")),
        _ => Some(json!(format!("text {} ý kiến", rng.below(1000)))),
    }
}

fn document(rng: &mut Rng) -> Value {
    let mut values = serde_json::Map::new();
    for code in NUMERIC {
        if let Some(v) = any_value(rng) {
            values.insert(code.into(), v);
        }
    }
    for code in TEXTS {
        if let Some(v) = any_text(rng) {
            values.insert(code.into(), v);
        }
    }
    for code in FLAGS {
        let v = match rng.below(6) {
            0 => continue,
            1 => Value::Null,
            2 => json!(false),
            3 => json!("yes"),
            4 => json!(1),
            _ => json!(true),
        };
        values.insert(code.into(), v);
    }
    // A choice answer, or something else in its place.
    let level = match rng.below(6) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!("ward")),
        3 => Some(json!(3)),
        _ => Some(json!("city")),
    };
    if let Some(v) = level {
        values.insert("level".into(), v);
    }
    // A multi-choice answer, or something else in its place.
    let areas = match rng.below(6) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!("law")),
        3 => Some(json!([])),
        4 => Some(json!(["health", "law"])),
        _ => Some(json!(["health"])),
    };
    if let Some(v) = areas {
        values.insert("areas".into(), v);
    }
    let items: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            if rng.below(12) == 0 {
                return json!("not an item");
            }
            let mut item = serde_json::Map::new();
            match rng.below(5) {
                0 => {}
                1 => {
                    item.insert("type".into(), Value::Null);
                }
                2 => {
                    item.insert("type".into(), json!("training"));
                }
                3 => {
                    item.insert("type".into(), json!("campaign"));
                }
                _ => {
                    item.insert("type".into(), json!("meeting"));
                }
            }
            for code in ["total", "female", "cost"] {
                if let Some(v) = any_value(rng) {
                    item.insert(code.into(), v);
                }
            }
            let topics = match rng.below(6) {
                0 => None,
                1 => Some(Value::Null),
                2 => Some(json!("law")),
                3 => Some(json!([])),
                4 => Some(json!(["law", "health", null])),
                _ => Some(json!(["law", "leadership"])),
            };
            if let Some(t) = topics {
                item.insert("topics".into(), t);
            }
            Value::Object(item)
        })
        .collect();
    let lists = match rng.below(8) {
        0 => json!({}),
        1 => json!({"activities": "not a list"}),
        _ => json!({ "activities": items }),
    };
    let mut doc = json!({ "values": values, "lists": lists });
    if rng.below(25) == 0 {
        doc = json!({ "values": "not an object" });
    }
    doc
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Sums {
    #[diesel(sql_type = Array<Text>)]
    sums: Vec<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Shares {
    #[diesel(sql_type = BigInt)]
    reports: i64,
    #[diesel(sql_type = Array<BigInt>)]
    met: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    short: Vec<String>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Group {
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    items: i64,
    #[diesel(sql_type = Array<Text>)]
    sums: Vec<String>,
}

#[derive(QueryableByName, Debug, PartialEq, PartialOrd, Ord, Eq)]
struct Texts {
    #[diesel(sql_type = Text)]
    unit_code: String,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    texts: Vec<Option<String>>,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Values {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    vals: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Bool>>)]
    met: Vec<Option<bool>>,
    #[diesel(sql_type = Array<Text>)]
    items: Vec<String>,
}

async fn run<T: QueryableByName<diesel::pg::Pg> + Send + 'static>(
    conn: &mut AsyncPgConnection,
    sql: &str,
    s: &Selection,
) -> Vec<T> {
    let sql = store::with_literals(sql, s);
    diesel::sql_query(&sql)
        .load(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Unit-share conditions of every kind: numeric thresholds (one below zero, which
/// formulas cannot write but the queries must still get right), yes/no and choice
/// answers, multi-choice ones, and a missing code.
fn share_conditions() -> Vec<Condition> {
    let mut owned: Vec<Condition> = [
        ("women", CmpOp::Ge, 100.0),
        ("budget", CmpOp::Gt, 0.5),
        ("leaders", CmpOp::Lt, 250.0),
        ("absent", CmpOp::Eq, 0.0),
        ("share_x", CmpOp::Le, -3.0),
    ]
    .into_iter()
    .map(|(field, op, threshold)| Condition {
        field: field.into(),
        test: Test::Compare { op, threshold },
    })
    .collect();
    for src in [
        "count(committee) / count()",
        "count(plan_issued == false) / count()",
        "count(level == \"city\") / count()",
        "count(absent) / count()",
        "count(areas has \"law\") / count()",
        "count(absent has \"law\") / count()",
    ] {
        match indicator::parse(src).unwrap() {
            Formula::UnitShare { condition } => owned.push(condition),
            other => panic!("{other:?}"),
        }
    }
    owned
}

/// List formulas: filtered and unfiltered sums, item shares by a multi-choice, a
/// choice and a numeric condition.
fn list_formulas() -> Vec<Formula> {
    [
        "sum(activities.female + activities.cost where type == \"training\") / sum(activities.total)",
        "count(activities where topics has \"law\") / count(activities)",
        "count(activities where total >= 100) / count(activities)",
        "sum(activities.female where topics has \"leadership\") / sum(activities.total where type == \"meeting\")",
        "count(activities where type == \"campaign\") / count(activities)",
    ]
    .into_iter()
    .map(|f| indicator::parse(f).unwrap())
    .collect()
}

/// Every figure family over one selection, from the extracted rows and from the
/// documents, side by side.
async fn compare(conn: &mut AsyncPgConnection, s: &Selection, seed: u64, stage: &str) {
    let ctx = format!(
        "seed {seed}, {stage}, subtree {}, {:?}",
        s.prefix, s.statuses
    );
    // A code no report holds, and one asked for twice.
    let fields = [NUMERIC.as_slice(), &["absent", "women"]].concat();

    let new = store::field_sums(conn, s, &fields).await.unwrap();
    let old: Vec<Sums> = run(conn, &reference::field_sums_sql(&fields).unwrap(), s).await;
    assert_eq!(new, old[0].sums, "field sums, {ctx}");

    let owned = share_conditions();
    let conditions: Vec<&Condition> = owned.iter().collect();
    let (reports, shares) = store::unit_shares(conn, s, &conditions).await.unwrap();
    let old: Vec<Shares> = run(conn, &reference::unit_shares_sql(&conditions).unwrap(), s).await;
    assert_eq!(reports, old[0].reports, "reports counted, {ctx}");
    let old_shares: Vec<(i64, Vec<String>)> = old[0]
        .met
        .iter()
        .zip(&old[0].short)
        .map(|(m, codes)| {
            (
                *m,
                codes
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        })
        .collect();
    assert_eq!(shares, old_shares, "unit shares, {ctx}");

    for group in [Some("type"), None] {
        let fields = ["total", "female", "cost"];
        let new: Vec<Group> = store::list_sums(conn, s, "activities", group, &fields)
            .await
            .unwrap()
            .into_iter()
            .map(|g| Group {
                grp: g.grp,
                items: g.items,
                sums: g.sums,
            })
            .collect();
        let old: Vec<Group> = run(
            conn,
            &reference::list_sums_sql("activities", group, &fields).unwrap(),
            s,
        )
        .await;
        assert_eq!(new, old, "activities by {group:?}, {ctx}");
    }

    let parsed = list_formulas();
    let items: Vec<&Formula> = parsed.iter().collect();
    let new = store::item_figures(conn, s, "activities", &items)
        .await
        .unwrap();
    let old: Vec<Sums> = run(
        conn,
        &reference::item_figures_sql("activities", &items).unwrap(),
        s,
    )
    .await;
    assert_eq!(
        new,
        store::pairs(old[0].sums.clone()),
        "list formulas, {ctx}"
    );

    let fields = ["total", "female"];
    let new: Vec<Group> = store::list_sums_by_each(conn, s, "activities", "topics", &fields)
        .await
        .unwrap()
        .into_iter()
        .map(|g| Group {
            grp: g.grp,
            items: g.items,
            sums: g.sums,
        })
        .collect();
    let old: Vec<Group> = run(
        conn,
        &reference::list_sums_by_each_sql("activities", "topics", &fields).unwrap(),
        s,
    )
    .await;
    assert_eq!(new, old, "activities by topic, {ctx}");

    // Yes/no answers: a string, a number or a null is no answer.
    let flags = [FLAGS.as_slice(), &["absent", "women"]].concat();
    let new = store::flag_counts(conn, s, &flags).await.unwrap();
    let old: Vec<store::FlagCounts> =
        run(conn, &reference::flag_counts_sql(&flags).unwrap(), s).await;
    assert_eq!(vec![new], old, "yes/no answers, {ctx}");

    let texts = [TEXTS.as_slice(), &["women", "absent"]].concat();
    let mut new: Vec<Texts> = store::narratives(conn, s, &texts)
        .await
        .unwrap()
        .into_iter()
        .map(|r| Texts {
            unit_code: r.unit_code,
            texts: r.texts,
        })
        .collect();
    let mut old: Vec<Texts> = run(conn, &reference::narratives_sql(&texts).unwrap(), s).await;
    new.sort();
    old.sort();
    assert_eq!(new, old, "narratives, {ctx}");

    let new: Vec<Values> = store::unit_values(conn, s, &fields, &conditions, &items)
        .await
        .unwrap()
        .into_iter()
        .map(|u| Values {
            code: u.code,
            status: u.status,
            vals: u.vals,
            met: u.met,
            items: u.items,
        })
        .collect();
    let old: Vec<Values> = run(
        conn,
        &reference::unit_values_sql(&fields, &conditions, &items).unwrap(),
        s,
    )
    .await;
    assert_eq!(new, old, "unit values, {ctx}");
}

/// What the ledger test asks of the reports: every family of `compare`, with a list
/// grouped by a field and by topic, and again not grouped at all.
fn ledger_shape() -> Shape {
    let strings = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    Shape {
        codes: strings(&[NUMERIC.as_slice(), &["absent", "women"]].concat()),
        conds: share_conditions().into_iter().enumerate().collect(),
        items: vec![(
            "activities".to_string(),
            list_formulas().into_iter().enumerate().collect(),
        )],
        flags: strings(&[FLAGS.as_slice(), &["absent", "women"]].concat()),
        texts: strings(&[TEXTS.as_slice(), &["women", "absent"]].concat()),
        lists: vec![
            ListShape {
                list: "activities".into(),
                group: Some("type".into()),
                fields: strings(&["total", "female", "cost"]),
                multi: Some("topics".into()),
                pair: strings(&["total", "female"]),
            },
            ListShape {
                list: "activities".into(),
                group: None,
                fields: strings(&["cost"]),
                multi: None,
                pair: Vec::new(),
            },
            ListShape {
                list: "absent".into(),
                group: Some("type".into()),
                fields: Vec::new(),
                multi: Some("topics".into()),
                pair: Vec::new(),
            },
        ],
    }
}

/// The ledger kept by deltas in `kept` is brought up to the data, and over every
/// selection it must answer what the aggregate queries answer, as must a ledger read
/// whole now.
async fn compare_ledger(
    pool: &Pool,
    conn: &mut AsyncPgConnection,
    kept: &mut Option<Ledger>,
    period: Uuid,
    selections: &[Selection],
    seed: u64,
    stage: &str,
) {
    let shape = ledger_shape();
    let mark = store::fingerprints(conn, &[period])
        .await
        .unwrap()
        .remove(&period)
        .unwrap();
    assert!(
        ledger::sync(kept, pool, period, &mark, &shape)
            .await
            .unwrap()
    );
    let mut fresh = None;
    assert!(
        ledger::sync(&mut fresh, pool, period, &mark, &shape)
            .await
            .unwrap()
    );
    let (kept, fresh) = (kept.as_ref().unwrap(), fresh.unwrap());
    assert_eq!(kept.len(), fresh.len(), "seed {seed}, {stage}");
    let texts: Vec<&str> = shape.texts.iter().map(String::as_str).collect();
    for s in selections {
        let ctx = format!(
            "seed {seed}, {stage}, subtree {}, {:?}",
            s.prefix, s.statuses
        );
        let sql = sql_raw(pool, s, &shape).await.unwrap();
        assert_eq!(
            kept.raw(s).as_ref(),
            Some(&sql),
            "ledger kept by deltas, {ctx}"
        );
        assert_eq!(
            fresh.raw(s).as_ref(),
            Some(&sql),
            "ledger read whole, {ctx}"
        );
        let mut old = store::narratives(conn, s, &texts).await.unwrap();
        old.sort_by(|a, b| a.unit_path.cmp(&b.unit_path));
        assert_eq!(kept.narratives(s), old, "narratives from the ledger, {ctx}");
    }
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    conn.batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn quote(v: &Value) -> String {
    format!("'{}'::jsonb", v.to_string().replace('\'', "''"))
}

#[tokio::test]
async fn extracted_figures_compile_exactly_as_the_documents_do() {
    let app = spawn_app().await;
    let mut conn = app.db_conn().await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);

    // A root, two departments, twelve units under them.
    let root = Uuid::now_v7();
    let depts = [Uuid::now_v7(), Uuid::now_v7()];
    exec(
        &mut conn,
        &format!(
            "INSERT INTO org_units (id, code, name, kind, path, depth) \
             VALUES ('{root}', 'ROOT', 'Root', 'department', '/{root}/', 0)"
        ),
    )
    .await;
    let mut units = Vec::new();
    for (d, dept) in depts.iter().enumerate() {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO org_units (id, code, name, kind, parent_id, path, depth) \
                 VALUES ('{dept}', 'D{d}', 'Dept {d}', 'department', '{root}', '/{root}/{dept}/', 1)"
            ),
        )
        .await;
        for i in 0..6 {
            let u = Uuid::now_v7();
            exec(
                &mut conn,
                &format!(
                    "INSERT INTO org_units (id, code, name, kind, parent_id, path, depth) \
                     VALUES ('{u}', 'U{d}{i}', 'Unit {d}{i}', 'office', '{dept}', \
                             '/{root}/{dept}/{u}/', 2)"
                ),
            )
            .await;
            units.push(u);
        }
    }
    let (plan, form, form2, period) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    exec(
        &mut conn,
        &format!(
            "INSERT INTO plans (id, year, document_number, title, issuing_unit_id, status) \
             VALUES ('{plan}', 2025, 'P-1', 'Plan', '{root}', 'active'); \
             INSERT INTO forms (id, plan_id, version, definition, created_by) \
             VALUES ('{form}', '{plan}', 1, '{{}}', 'test'), ('{form2}', '{plan}', 2, '{{}}', 'test'); \
             INSERT INTO periods (id, plan_id, kind, code, window_start, window_end, due_date, status) \
             VALUES ('{period}', '{plan}', 'semi_annual', 'H1', '2025-01-01', '2025-06-30', \
                     '2025-07-15', 'open')"
        ),
    )
    .await;

    let statuses = ["draft", "submitted", "returned", "accepted"];
    // The issuer reports too, so that leaving it out is checked.
    let reporters: Vec<Uuid> = units.iter().copied().chain([root]).collect();
    let mut reports = Vec::new();
    for u in &reporters {
        // One unit in five has no report.
        if rng.below(5) == 0 && *u != root {
            continue;
        }
        let id = Uuid::now_v7();
        let status = statuses[rng.below(4) as usize];
        let f = if rng.below(3) == 0 { form2 } else { form };
        exec(
            &mut conn,
            &format!(
                "INSERT INTO reports (id, period_id, unit_id, form_id, status, data) \
                 VALUES ('{id}', '{period}', '{u}', '{f}', '{status}', {})",
                quote(&document(&mut rng))
            ),
        )
        .await;
        reports.push(id);
    }

    let selections = |statuses: &[&str]| {
        [
            format!("/{root}/"),
            format!("/{root}/{}/", depts[0]),
            format!("/{root}/{}/", depts[1]),
        ]
        .into_iter()
        .map(|prefix| Selection {
            period_id: period,
            prefix,
            issuer: root,
            statuses: statuses.iter().map(|s| s.to_string()).collect(),
        })
        .collect::<Vec<_>>()
    };
    let all = || {
        selections(&["accepted"])
            .into_iter()
            .chain(selections(&["submitted", "accepted"]))
            .chain(selections(&["draft", "returned", "submitted", "accepted"]))
            .collect::<Vec<_>>()
    };
    for s in all() {
        compare(&mut conn, &s, seed, "as inserted").await;
    }
    let pool = gereport::db::build_pool(
        &app.db.url,
        4,
        std::time::Duration::from_secs(10),
        Default::default(),
    )
    .unwrap();
    let mut kept = None;
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "as inserted",
    )
    .await;
    // Units expected to report, some of them without a report.
    for u in units.iter().filter(|_| rng.below(2) == 0) {
        exec(
            &mut conn,
            &format!(
                "INSERT INTO period_expected_units (period_id, unit_id, origin) \
                 VALUES ('{period}', '{u}', 'default') ON CONFLICT DO NOTHING"
            ),
        )
        .await;
    }
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "units expected",
    )
    .await;

    // Edits, status changes (alone and with the data) and a form change, as the
    // service's writers and SQL fixtures make them.
    for id in &reports {
        let sql = match rng.below(4) {
            0 => format!(
                "UPDATE reports SET data = {}, version = version + 1 WHERE id = '{id}'",
                quote(&document(&mut rng))
            ),
            1 => format!(
                "UPDATE reports SET status = '{}' WHERE id = '{id}'",
                statuses[rng.below(4) as usize]
            ),
            2 => format!(
                "UPDATE reports SET status = '{}', data = {} WHERE id = '{id}'",
                statuses[rng.below(4) as usize],
                quote(&document(&mut rng))
            ),
            _ => format!("UPDATE reports SET form_id = '{form2}', late = true WHERE id = '{id}'"),
        };
        exec(&mut conn, &sql).await;
    }
    for s in all() {
        compare(&mut conn, &s, seed, "after edits").await;
    }
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "after edits",
    )
    .await;
    // One report at a time, as the service writes them: each sync reads only it.
    for _ in 0..3 {
        let id = reports[rng.below(reports.len() as u64) as usize];
        exec(
            &mut conn,
            &format!(
                "UPDATE reports SET data = {}, status = '{}' WHERE id = '{id}'",
                quote(&document(&mut rng)),
                statuses[rng.below(4) as usize]
            ),
        )
        .await;
        compare_ledger(
            &pool,
            &mut conn,
            &mut kept,
            period,
            &all(),
            seed,
            "one report",
        )
        .await;
    }
    // A new unit (the tree changed: the ledger is read whole), then its first report
    // of the period (read alone).
    let new = Uuid::now_v7();
    let unit = Uuid::now_v7();
    exec(
        &mut conn,
        &format!(
            "INSERT INTO org_units (id, code, name, kind, parent_id, path, depth) \
             VALUES ('{unit}', 'U9', 'Unit 9', 'office', '{}', '/{root}/{}/{unit}/', 2)",
            depts[1], depts[1],
        ),
    )
    .await;
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "a new unit",
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO reports (id, period_id, unit_id, form_id, status, data) \
             VALUES ('{new}', '{period}', '{unit}', '{form}', 'accepted', {})",
            quote(&document(&mut rng))
        ),
    )
    .await;
    reports.push(new);
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "a new unit's report",
    )
    .await;

    // The migration's backfill rebuilds the same rows from scratch.
    exec(
        &mut conn,
        "DELETE FROM report_figures; SELECT report_figures_extract(r) FROM reports r",
    )
    .await;
    for s in all() {
        compare(&mut conn, &s, seed, "after a rebuild").await;
    }
    compare_ledger(
        &pool,
        &mut conn,
        &mut kept,
        period,
        &all(),
        seed,
        "after a rebuild",
    )
    .await;
    assert_eq!(
        app.db_i64("SELECT count(*) AS n FROM report_figures").await,
        reports.len() as i64
    );
}
