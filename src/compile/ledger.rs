//! Compilations after a change cost one report's work, not a recomputation of every
//! report: a [`Ledger`] keeps in memory, for one period, each report's own
//! contribution to the figures (its values of the summed fields, whether it meets
//! each unit-share condition, its list formulas' totals, its list items by group and
//! by topic, its yes/no and text answers, its unit and status), read from
//! `report_figures` by one statement for the answers and one per pass over a list's
//! items, grouped by report and run side by side. Any subtree's figures, with either set
//! of statuses, are then sums over the ledger's rows in memory ([`Ledger::raw`]),
//! exactly as the aggregate queries of `store` sum them in PostgreSQL: sums are
//! exact decimals ([`Dec`]) written back as PostgreSQL writes a `numeric`, groups and
//! units in byte order of their codes and paths, NULL last (PostgreSQL's order under
//! the `C` and `C.UTF-8` collations the databases here use).
//! `tests/api/figures.rs` checks that, over randomised reports, after random edits,
//! a ledger kept up to date by deltas answers what the queries answer.
//!
//! Keeping it current ([`sync`]). The caller passes the period's fingerprint
//! (`store::Mark`), read before:
//! - when its `rows` part (the tree, the expected units) or the shape of the figures
//!   (the form, the indicators) differs from the ledger's, the ledger is read whole
//!   again. The service does not wait for that: it answers that request with the
//!   aggregate queries, as fast as before, and reads the ledger in the background
//!   (`compile::from_ledger`);
//! - when only its `reports` part differs, the ledger lists `(id, xmin)` of the
//!   period's reports and reads again just the rows whose `xmin` differs from the
//!   one it holds (every committed write gives the row a new `xmin`, and the figures
//!   row is written by a trigger in the same transaction), dropping reports gone;
//! - when neither differs, nothing is read.
//!
//! Why that is consistent: each row is stored with the `xmin` of the version it was
//! read from, so a row is replaced exactly when a later version committed. The
//! listing and the reads run after the fingerprint was taken, so the ledger is at
//! least as new as the fingerprint it records; a write committed meanwhile moves the
//! next fingerprint (xmin only grows), and the next sync reads that row. A row read
//! at a newer version than the listing showed is simply newer, and one whose answers
//! and list passes (separate statements) came from different versions is stored
//! under no version, so the next sync reads it again; a report deleted between
//! listing and read is dropped. So after a sync every row is the committed
//! version at some instant no earlier than the fingerprint — as a whole
//! recomputation after the fingerprint would be, which is what `cache` requires.
//!
//! A value a ledger cannot hold exactly (a decimal beyond 18 digits) makes [`sync`]
//! answer `false`, and the caller uses the aggregate queries for that period until
//! its tree, expected units or shape change.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::shape::{Raw, Shape};
use super::store::{
    self, FlagCounts, GroupSums, Grouping, NarrativeRow, Selection, UnitState, each_field,
};
use crate::db::Pool;
use crate::error::{ApiError, ApiResult};

/// An exact decimal as PostgreSQL's `numeric` holds it: `m / 10^s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dec {
    m: i64,
    s: u8,
}

impl Dec {
    /// Reads `numeric` text (`-12.340`); `None` for anything else or too many digits.
    pub fn parse(text: &str) -> Option<Dec> {
        let (neg, t) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let s = u8::try_from(frac.len()).ok().filter(|s| *s <= 18)?;
        let mut m: i64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            m = m.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            s,
        })
    }
}

/// A running sum of [`Dec`]s at the largest scale seen, as `numeric` addition keeps
/// it; `None` once it would overflow.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    m: i128,
    s: u8,
    any: bool,
}

impl Acc {
    fn add(&mut self, d: Dec) -> Option<()> {
        let mut m = i128::from(d.m);
        if d.s > self.s {
            self.m = self
                .m
                .checked_mul(10i128.checked_pow(u32::from(d.s - self.s))?)?;
            self.s = d.s;
        } else {
            m = m.checked_mul(10i128.checked_pow(u32::from(self.s - d.s))?)?;
        }
        self.m = self.m.checked_add(m)?;
        self.any = true;
        Some(())
    }

    /// As PostgreSQL writes `coalesce(sum(…), 0)::text`.
    fn text(&self) -> String {
        if !self.any {
            return "0".to_string();
        }
        let digits = self.m.unsigned_abs().to_string();
        let sign = if self.m < 0 { "-" } else { "" };
        let s = usize::from(self.s);
        if s == 0 {
            return format!("{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = s + 1);
        let (int, frac) = padded.split_at(padded.len() - s);
        format!("{sign}{int}.{frac}")
    }
}

/// One group of a report's list items: its key, how many items, the sums of the
/// fields asked for.
#[derive(Clone, Debug)]
struct Group {
    grp: Option<String>,
    items: i64,
    sums: Vec<Dec>,
}

/// One report's contribution, as read from `report_figures`.
#[derive(Clone, Debug)]
struct Entry {
    version: i64,
    unit: Unit,
    status: String,
    late: Option<bool>,
    signed_report: bool,
    nums: Vec<Option<Dec>>,
    met: Vec<Option<bool>>,
    /// Per list of `Shape::items`: each formula's numerator and denominator over the
    /// report's own items (empty when it has none).
    items: Vec<Vec<Dec>>,
    flags: Vec<Option<bool>>,
    texts: Vec<Option<String>>,
    lists: Vec<Vec<Group>>,
    topics: Vec<Vec<Group>>,
}

/// A unit as the figures name it, and where it stands in the tree.
#[derive(QueryableByName, Clone, Debug)]
struct Unit {
    #[diesel(sql_type = SqlUuid)]
    unit_id: Uuid,
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    report_id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(embed)]
    unit: Unit,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Bool>)]
    late: Option<bool>,
    #[diesel(sql_type = Bool)]
    signed_report: bool,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    nums: Vec<Option<String>>,
    #[diesel(sql_type = Array<Nullable<Bool>>)]
    met: Vec<Option<bool>>,
    #[diesel(sql_type = Array<Nullable<Bool>>)]
    flags: Vec<Option<bool>>,
    #[diesel(sql_type = Array<Nullable<Text>>)]
    texts: Vec<Option<String>>,
}

/// One report's share of a pass over a list's items: one group of them (`grp`,
/// `items`), or, for the list formulas, their totals (`grp` and `items` unused).
#[derive(QueryableByName)]
struct ItemRow {
    #[diesel(sql_type = SqlUuid)]
    report_id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Nullable<Text>)]
    grp: Option<String>,
    #[diesel(sql_type = BigInt)]
    items: i64,
    #[diesel(sql_type = Array<Text>)]
    sums: Vec<String>,
}

impl Row {
    fn entry(self, shape: &Shape) -> Option<(Uuid, Entry)> {
        let nums = self
            .nums
            .iter()
            .map(|n| match n {
                Some(t) => Dec::parse(t).map(Some),
                None => Some(None),
            })
            .collect::<Option<_>>()?;
        Some((
            self.report_id,
            Entry {
                version: self.version,
                unit: self.unit,
                status: self.status,
                late: self.late,
                signed_report: self.signed_report,
                nums,
                met: self.met,
                items: vec![Vec::new(); shape.items.len()],
                flags: self.flags,
                texts: self.texts,
                lists: vec![Vec::new(); shape.lists.len()],
                topics: vec![Vec::new(); shape.lists.len()],
            },
        ))
    }
}

/// Which pass over a list's items an [`ItemRow`] comes from.
#[derive(Clone, Copy, Debug)]
enum Pass {
    /// The list formulas of `Shape::items[i]`.
    Items(usize),
    /// `Shape::lists[i]` by its group.
    Groups(usize),
    /// `Shape::lists[i]` by each code of its multi-choice field.
    Topics(usize),
}

/// What every statement of a read is restricted to: the period's reports (`$1`), or
/// only those of `$2` when it is not NULL.
const ROWS: &str = "report_figures f JOIN reports r ON r.id = f.report_id";
const ROWS_WHERE: &str = "f.period_id = $1 AND ($2::uuid[] IS NULL OR f.report_id = ANY($2))";

/// The statement reading each report's answers to `shape`, but for its lists.
fn rows_sql(shape: &Shape) -> ApiResult<String> {
    let conds = shape.conditions();
    let mut all: Vec<&str> = shape.codes.iter().map(String::as_str).collect();
    let at_cond = all.len();
    all.extend(conds.iter().map(|c| c.field.as_str()));
    let at_flag = all.len();
    all.extend(shape.flags.iter().map(String::as_str));
    let at_text = all.len();
    all.extend(shape.texts.iter().map(String::as_str));

    let nums = each_field(shape.codes.len(), |i| format!("f.nums[l.p[{i}]]::text"));
    let met = conds
        .iter()
        .enumerate()
        .map(|(j, c)| store::layout_test(at_cond + j + 1, c))
        .collect::<ApiResult<Vec<_>>>()?
        .join(", ");
    let flags = each_field(shape.flags.len(), |i| {
        format!("f.bools[l.p[{}]]", at_flag + i)
    });
    let texts = each_field(shape.texts.len(), |i| {
        format!("f.texts[l.p[{}]]", at_text + i)
    });
    Ok(format!(
        "SELECT f.report_id, r.xmin::text::bigint AS version, u.id AS unit_id, u.path, u.code, \
                u.name, f.status, r.late, \
                EXISTS (SELECT 1 FROM attachments a WHERE a.report_id = r.id \
                        AND a.kind = 'signed_report' AND a.revision IS NOT NULL) AS signed_report, \
                ARRAY[{nums}]::text[] AS nums, ARRAY[{met}]::boolean[] AS met, \
                ARRAY[{flags}]::boolean[] AS flags, ARRAY[{texts}]::text[] AS texts \
         FROM {ROWS} JOIN org_units u ON u.id = f.unit_id {} \
         WHERE {ROWS_WHERE}",
        store::positions(&all)?,
    ))
}

/// The passes over list items a shape asks for, each one statement that groups by
/// report: a hash aggregate over the items, as the aggregate queries make, rather
/// than a subquery per report.
fn passes_sql(shape: &Shape) -> ApiResult<Vec<(Pass, String)>> {
    let mut out = Vec::new();
    for (i, (list, formulas)) in shape.items.iter().enumerate() {
        let fs: Vec<&crate::plans::indicator::Formula> = formulas.iter().map(|(_, f)| f).collect();
        out.push((
            Pass::Items(i),
            format!(
                "SELECT f.report_id, r.xmin::text::bigint AS version, NULL::text AS grp, \
                        0::bigint AS items, {} \
                 FROM {ROWS} CROSS JOIN LATERAL {} \
                 WHERE {ROWS_WHERE} AND jsonb_typeof(a.item) = 'object' GROUP BY 1, 2",
                store::item_columns(&fs)?,
                store::list_items("f.lists", list)?
            ),
        ));
    }
    let grouped = |grouping: &Grouping, list: &str, fields: &[String]| -> ApiResult<String> {
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let (select, items) = store::grouped(list, grouping, &fields)?;
        Ok(format!(
            "SELECT f.report_id, r.xmin::text::bigint AS version, {select} \
             FROM {ROWS} CROSS JOIN LATERAL {items} \
             WHERE {ROWS_WHERE} AND jsonb_typeof(a.item) = 'object' GROUP BY 1, 2, 3"
        ))
    };
    for (i, l) in shape.lists.iter().enumerate() {
        out.push((
            Pass::Groups(i),
            grouped(&Grouping::By(l.group.as_deref()), &l.list, &l.fields)?,
        ));
        if let Some(m) = &l.multi {
            out.push((
                Pass::Topics(i),
                grouped(&Grouping::Each(m), &l.list, &l.pair)?,
            ));
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// One period's reports, each as what it contributes to the figures.
pub struct Ledger {
    /// `Mark::rows` when the rows were read whole.
    rows_mark: String,
    reports_mark: String,
    shape: Shape,
    rows_sql: String,
    passes_sql: Vec<(Pass, String)>,
    entries: HashMap<Uuid, Entry>,
    /// Report ids in the order of their units' paths.
    order: Vec<Uuid>,
    /// The units expected to report, with no regard to whether they did.
    expected: Vec<Unit>,
    /// False when a value of the period cannot be held exactly: the ledger is empty
    /// and answers nothing until the tree, the expected units or the shape change.
    holds: bool,
}

/// A version no row has: an entry whose parts were read from different versions of
/// its report is read again by the next sync.
const MIXED: i64 = -1;

/// Reads the entries of the period's reports (of `only`, when given): the row
/// statement and each pass over list items side by side, each on a pool connection
/// of its own. `None` when a value cannot be held exactly.
async fn read_entries(
    pool: &Pool,
    rows_sql: &str,
    passes_sql: &[(Pass, String)],
    shape: &Shape,
    period: Uuid,
    only: Option<Vec<Uuid>>,
) -> ApiResult<Option<HashMap<Uuid, Entry>>> {
    let rows = async {
        let mut conn = crate::db::conn(pool).await?;
        let rows: Vec<Row> = diesel::sql_query(rows_sql)
            .bind::<SqlUuid, _>(period)
            .bind::<Nullable<Array<SqlUuid>>, _>(only.clone())
            .load(&mut conn)
            .await?;
        Ok::<_, ApiError>(rows)
    };
    let passes = futures_util::future::try_join_all(passes_sql.iter().map(|(pass, sql)| {
        let only = only.clone();
        async move {
            let mut conn = crate::db::conn(pool).await?;
            let rows: Vec<ItemRow> = diesel::sql_query(sql)
                .bind::<SqlUuid, _>(period)
                .bind::<Nullable<Array<SqlUuid>>, _>(only)
                .load(&mut conn)
                .await?;
            Ok::<_, ApiError>((*pass, rows))
        }
    }));
    let (rows, passes) = tokio::try_join!(rows, passes)?;
    let mut entries: HashMap<Uuid, Entry> = HashMap::with_capacity(rows.len());
    for row in rows {
        let Some((id, entry)) = row.entry(shape) else {
            return Ok(None);
        };
        entries.insert(id, entry);
    }
    for (pass, rows) in passes {
        for r in rows {
            // A report written between the statements: what was read of it stands
            // for this answer, and the next sync reads it again.
            let Some(e) = entries.get_mut(&r.report_id) else {
                continue;
            };
            if e.version != r.version {
                e.version = MIXED;
            }
            let Some(sums) = r
                .sums
                .iter()
                .map(|t| Dec::parse(t))
                .collect::<Option<Vec<_>>>()
            else {
                return Ok(None);
            };
            match pass {
                Pass::Items(i) => e.items[i] = sums,
                Pass::Groups(i) | Pass::Topics(i) => {
                    let group = Group {
                        grp: r.grp,
                        items: r.items,
                        sums,
                    };
                    match pass {
                        Pass::Groups(_) => e.lists[i].push(group),
                        _ => e.topics[i].push(group),
                    }
                }
            }
        }
    }
    Ok(Some(entries))
}

/// Whether a ledger can be brought up to `mark` by reading only the reports written
/// since: the tree and the expected units are as it read them, and it holds the
/// figures `shape` asks for.
fn follows(l: &Ledger, mark: &store::Mark, shape: &Shape) -> bool {
    l.rows_mark == mark.rows && l.shape == *shape
}

/// Whether bringing `slot` up to `mark` would read the period whole.
pub fn needs_whole_read(slot: &Option<Ledger>, mark: &store::Mark, shape: &Shape) -> bool {
    !slot.as_ref().is_some_and(|l| follows(l, mark, shape))
}

/// Brings `slot` up to the period's data under `mark` (the module header says how and
/// why that is consistent). `false`: the period's values cannot be kept exactly; the
/// slot says so (and is not read again until its rows or shape change) and the
/// caller compiles with the aggregate queries.
pub async fn sync(
    slot: &mut Option<Ledger>,
    pool: &Pool,
    period: Uuid,
    mark: &store::Mark,
    shape: &Shape,
) -> ApiResult<bool> {
    if let Some(l) = slot.as_mut().filter(|l| follows(l, mark, shape)) {
        if !l.holds {
            return Ok(false);
        }
        if l.reports_mark == mark.reports {
            return Ok(true);
        }
        let versions: Vec<Version> = {
            let mut conn = crate::db::conn(pool).await?;
            diesel::sql_query(
                "SELECT id, xmin::text::bigint AS version FROM reports WHERE period_id = $1",
            )
            .bind::<SqlUuid, _>(period)
            .load(&mut conn)
            .await?
        };
        let current: HashSet<Uuid> = versions.iter().map(|v| v.id).collect();
        l.entries.retain(|id, _| current.contains(id));
        let changed: Vec<Uuid> = versions
            .iter()
            .filter(|v| l.entries.get(&v.id).map(|e| e.version) != Some(v.version))
            .map(|v| v.id)
            .collect();
        if !changed.is_empty() {
            let Some(read) = read_entries(
                pool,
                &l.rows_sql,
                &l.passes_sql,
                shape,
                period,
                Some(changed.clone()),
            )
            .await?
            else {
                *slot = Some(Ledger::unheld(mark, shape));
                return Ok(false);
            };
            for id in &changed {
                l.entries.remove(id);
            }
            l.entries.extend(read);
        }
        l.reports_mark = mark.reports.clone();
        l.reorder();
        return Ok(true);
    }
    *slot = None;
    let rows_sql = rows_sql(shape)?;
    let passes_sql = passes_sql(shape)?;
    let expected = async {
        let mut conn = crate::db::conn(pool).await?;
        let units: Vec<Unit> = diesel::sql_query(
            "SELECT u.id AS unit_id, u.path, u.code, u.name FROM period_expected_units e \
             JOIN org_units u ON u.id = e.unit_id WHERE e.period_id = $1 AND e.removed_at IS NULL",
        )
        .bind::<SqlUuid, _>(period)
        .load(&mut conn)
        .await?;
        Ok::<_, ApiError>(units)
    };
    let (entries, expected) = tokio::try_join!(
        read_entries(pool, &rows_sql, &passes_sql, shape, period, None),
        expected
    )?;
    let Some(entries) = entries else {
        *slot = Some(Ledger::unheld(mark, shape));
        return Ok(false);
    };
    let mut ledger = Ledger {
        rows_mark: mark.rows.clone(),
        reports_mark: mark.reports.clone(),
        shape: shape.clone(),
        rows_sql,
        passes_sql,
        entries,
        order: Vec::new(),
        expected,
        holds: true,
    };
    ledger.reorder();
    *slot = Some(ledger);
    Ok(true)
}

/// The per-group sums of one list over the included reports, in PostgreSQL's order
/// of the group (`C` collation, NULL last).
#[derive(Default)]
struct GroupAcc {
    by: BTreeMap<(bool, String), (i64, Vec<Acc>)>,
}

impl GroupAcc {
    fn add(&mut self, groups: &[Group]) -> Option<()> {
        for g in groups {
            let key = (g.grp.is_none(), g.grp.clone().unwrap_or_default());
            let (items, sums) = self
                .by
                .entry(key)
                .or_insert_with(|| (0, vec![Acc::default(); g.sums.len()]));
            *items += g.items;
            for (acc, d) in sums.iter_mut().zip(&g.sums) {
                acc.add(*d)?;
            }
        }
        Some(())
    }

    fn done(self) -> Vec<GroupSums> {
        self.by
            .into_iter()
            .map(|((none, grp), (items, sums))| GroupSums {
                grp: (!none).then_some(grp),
                items,
                sums: sums.iter().map(Acc::text).collect(),
            })
            .collect()
    }
}

impl Ledger {
    /// The ledger of a period whose values cannot be held exactly.
    fn unheld(mark: &store::Mark, shape: &Shape) -> Ledger {
        Ledger {
            rows_mark: mark.rows.clone(),
            reports_mark: mark.reports.clone(),
            shape: shape.clone(),
            rows_sql: String::new(),
            passes_sql: Vec::new(),
            entries: HashMap::new(),
            order: Vec::new(),
            expected: Vec::new(),
            holds: false,
        }
    }

    fn reorder(&mut self) {
        let mut order: Vec<(&str, Uuid)> = self
            .entries
            .iter()
            .map(|(id, e)| (e.unit.path.as_str(), *id))
            .collect();
        order.sort_unstable();
        self.order = order.into_iter().map(|(_, id)| id).collect();
    }

    /// The included reports of a selection, in the order of their units' paths.
    fn included<'a>(&'a self, sel: &'a Selection) -> impl Iterator<Item = &'a Entry> + 'a {
        self.order.iter().filter_map(move |id| {
            let e = self.entries.get(id)?;
            (e.unit.path.starts_with(&sel.prefix)
                && e.unit.unit_id != sel.issuer
                && sel.statuses.contains(&e.status))
            .then_some(e)
        })
    }

    /// Every unit of the subtree expected to report, and any other whose report was
    /// submitted or accepted, with its report's state, in the order of their paths
    /// (`store::UNIT_STATES_SQL`).
    fn states(&self, sel: &Selection) -> Vec<UnitState> {
        let in_tree = |path: &str, unit: Uuid| path.starts_with(&sel.prefix) && unit != sel.issuer;
        let by_unit: HashMap<Uuid, &Entry> =
            self.entries.values().map(|e| (e.unit.unit_id, e)).collect();
        let mut out: Vec<(&str, UnitState)> = Vec::new();
        let mut seen: HashSet<Uuid> = HashSet::new();
        for x in &self.expected {
            if !in_tree(&x.path, x.unit_id) || !seen.insert(x.unit_id) {
                continue;
            }
            let e = by_unit.get(&x.unit_id);
            out.push((
                &x.path,
                UnitState {
                    unit_id: x.unit_id,
                    code: x.code.clone(),
                    name: x.name.clone(),
                    status: e.map(|e| e.status.clone()),
                    late: e.and_then(|e| e.late),
                    signed_report: e.is_some_and(|e| e.signed_report),
                },
            ));
        }
        for e in self.entries.values() {
            let u = &e.unit;
            if !in_tree(&u.path, u.unit_id)
                || !matches!(e.status.as_str(), "submitted" | "accepted")
                || !seen.insert(u.unit_id)
            {
                continue;
            }
            out.push((
                &u.path,
                UnitState {
                    unit_id: u.unit_id,
                    code: u.code.clone(),
                    name: u.name.clone(),
                    status: Some(e.status.clone()),
                    late: e.late,
                    signed_report: e.signed_report,
                },
            ));
        }
        out.sort_by(|a, b| a.0.cmp(b.0));
        out.into_iter().map(|(_, s)| s).collect()
    }

    /// The figures of a selection from the rows in memory, as `shape::sql_raw` would
    /// read them; `None` only if a sum overflows what a ledger holds exactly.
    pub fn raw(&self, sel: &Selection) -> Option<Raw> {
        let shape = &self.shape;
        let mut sums = vec![Acc::default(); shape.codes.len()];
        let mut reports = 0i64;
        let mut met = vec![0i64; shape.conds.len()];
        let mut short: Vec<Vec<String>> = vec![Vec::new(); shape.conds.len()];
        let mut items: Vec<Vec<Acc>> = shape
            .items
            .iter()
            .map(|(_, fs)| vec![Acc::default(); fs.len() * 2])
            .collect();
        let mut lists: Vec<GroupAcc> = shape.lists.iter().map(|_| GroupAcc::default()).collect();
        let mut topics: Vec<GroupAcc> = shape.lists.iter().map(|_| GroupAcc::default()).collect();
        let mut yes = vec![0i64; shape.flags.len()];
        let mut answered = vec![0i64; shape.flags.len()];
        for e in self.included(sel) {
            reports += 1;
            for (acc, n) in sums.iter_mut().zip(&e.nums) {
                if let Some(d) = n {
                    acc.add(*d)?;
                }
            }
            for (i, m) in e.met.iter().enumerate() {
                match m {
                    Some(true) => met[i] += 1,
                    Some(false) => short[i].push(e.unit.code.clone()),
                    None => {}
                }
            }
            for (accs, ds) in items.iter_mut().zip(&e.items) {
                for (acc, d) in accs.iter_mut().zip(ds) {
                    acc.add(*d)?;
                }
            }
            for (acc, groups) in lists.iter_mut().zip(&e.lists) {
                acc.add(groups)?;
            }
            for (acc, groups) in topics.iter_mut().zip(&e.topics) {
                acc.add(groups)?;
            }
            for (i, f) in e.flags.iter().enumerate() {
                if let Some(y) = f {
                    answered[i] += 1;
                    yes[i] += i64::from(*y);
                }
            }
        }
        let item_totals = items
            .iter()
            .map(|accs| {
                accs.chunks_exact(2)
                    .filter_map(|nd| match nd {
                        [n, d] => Some((n.text(), d.text())),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Some(Raw {
            states: self.states(sel),
            sums: sums.iter().map(Acc::text).collect(),
            reports: if shape.conds.is_empty() { 0 } else { reports },
            shares: met.into_iter().zip(short).collect(),
            items: item_totals,
            lists: lists.into_iter().map(GroupAcc::done).collect(),
            topics: topics.into_iter().map(GroupAcc::done).collect(),
            flags: if shape.flags.is_empty() {
                FlagCounts::default()
            } else {
                FlagCounts { yes, answered }
            },
        })
    }

    /// The text answers of a selection's included reports (`store::narratives`).
    pub fn narratives(&self, sel: &Selection) -> Vec<NarrativeRow> {
        if self.shape.texts.is_empty() {
            return Vec::new();
        }
        self.included(sel)
            .map(|e| NarrativeRow {
                unit_path: e.unit.path.clone(),
                unit_code: e.unit.code.clone(),
                unit_name: e.unit.name.clone(),
                texts: e.texts.clone(),
            })
            .collect()
    }

    /// How many reports the ledger holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sum(parts: &[&str]) -> String {
        let mut acc = Acc::default();
        for p in parts {
            acc.add(Dec::parse(p).unwrap()).unwrap();
        }
        acc.text()
    }

    #[test]
    fn sums_are_written_as_postgresql_writes_numeric() {
        assert_eq!(sum(&[]), "0");
        assert_eq!(sum(&["1.50", "2"]), "3.50");
        assert_eq!(sum(&["1.5", "-1.5"]), "0.0");
        assert_eq!(sum(&["-0.05"]), "-0.05");
        assert_eq!(sum(&["-3", "0.001"]), "-2.999");
        assert_eq!(
            sum(&["1125899906842624", "1125899906842624"]),
            "2251799813685248"
        );
        assert_eq!(sum(&["0.000"]), "0.000");
    }

    #[test]
    fn what_is_not_numeric_text_or_too_long_is_refused() {
        for bad in [
            "",
            "-",
            "1e5",
            "NaN",
            ".5",
            "1.2.3",
            "99999999999999999999",
            "+1",
        ] {
            assert_eq!(Dec::parse(bad), None, "{bad}");
        }
        assert_eq!(Dec::parse("12.340"), Some(Dec { m: 12340, s: 3 }));
    }
}
