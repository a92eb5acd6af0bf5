//! The compiled report (báo cáo tổng hợp) of any subtree for a period: completeness,
//! indicators against targets, totals, female shares, activities and narratives, with
//! the previous period beside it — aggregated in PostgreSQL (`store`), finished by pure
//! arithmetic (`maths`), and exported as JSON, CSV or XLSX (`export`).

pub mod cache;
pub mod docx;
pub mod export;
pub mod ledger;
pub mod maths;
pub mod model;
pub mod parts;
pub mod reference;
pub mod routes;
pub mod shape;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, Utc};
use diesel_async::AsyncPgConnection;

use crate::error::ApiResult;
use crate::org::store::Row as UnitRow;
use crate::plans::form::{FieldType, FormDefinition};
use crate::plans::indicator::{self, Formula, met};
use crate::plans::store::{self as plan_store, PeriodRow, PlanRow};
pub use cache::CompilationCache;
use model::*;
use store::Selection;

pub fn period_ref(p: &PeriodRow, plan: &PlanRow) -> PeriodRef {
    PeriodRef {
        id: p.id,
        code: p.code.clone(),
        name: p.name.clone(),
        kind: p.kind.clone(),
        window_start: p.window_start,
        window_end: p.window_end,
        due_date: p.due_date,
        plan_id: plan.id,
        plan_year: plan.year,
        plan_document_number: plan.document_number.clone(),
        plan_title: plan.title.clone(),
    }
}

pub fn unit_ref(u: &UnitRow) -> UnitRef {
    UnitRef {
        id: u.id,
        code: u.code.clone(),
        name: u.name.clone(),
    }
}

/// Indicator values of a plan: ratios of report fields from the field sums, the
/// other shapes from what was counted for them (`counted`, by indicator index).
fn indicators(
    rows: &[plan_store::IndicatorRow],
    parsed: Vec<(usize, Formula)>,
    mut counted: HashMap<usize, maths::Counted>,
    sums: &HashMap<String, f64>,
    units: &HashMap<String, UnitRef>,
    coverage: &Coverage,
    year: i32,
) -> Vec<IndicatorResult> {
    let mut out = Vec::new();
    for (i, f) in parsed {
        let row = &rows[i];
        let v = maths::indicator(&f, sums, counted.remove(&i));
        let api = row.to_api();
        out.push(IndicatorResult {
            code: row.code.clone(),
            name_vi: row.name_vi.clone(),
            name_en: row.name_en.clone(),
            formula: row.formula.clone(),
            value: v.value,
            numerator: v.numerator,
            denominator: v.denominator,
            target: row.target,
            direction: api.direction,
            met: met(v.value, row.target, api.direction),
            reason: v.reason,
            units_short: v
                .units_short
                .iter()
                .map(|c| {
                    units.get(c).cloned().unwrap_or_else(|| UnitRef {
                        id: uuid::Uuid::nil(),
                        code: c.clone(),
                        name: c.clone(),
                    })
                })
                .collect(),
            coverage: coverage.clone(),
            source: row.source.clone(),
            targets: judged_targets(row, api.direction, v.value, year),
        });
    }
    out
}

/// The plan's own target and the indicator's targets for `year`, each judged.
pub(crate) fn judged_targets(
    row: &plan_store::IndicatorRow,
    direction: indicator::Direction,
    value: Option<f64>,
    year: i32,
) -> Vec<JudgedTarget> {
    let own = JudgedTarget {
        year: None,
        target: row.target,
        source: row.source.clone(),
        met: met(value, row.target, direction),
    };
    std::iter::once(own)
        .chain(
            row.year_targets()
                .into_iter()
                .filter(|t| t.year == year)
                .map(|t| JudgedTarget {
                    year: Some(t.year),
                    target: t.value,
                    met: met(value, t.value, direction),
                    source: t.source,
                }),
        )
        .collect()
}

/// The plan's form and indicators, and what its figures ask of each report.
pub struct Asked {
    form: Option<FormDefinition>,
    indicator_rows: Vec<plan_store::IndicatorRow>,
    parsed: Vec<(usize, Formula)>,
    pub shape: shape::Shape,
}

/// Two small lookups: the plan's current form and its indicators.
pub async fn asked(pool: &crate::db::Pool, plan: &PlanRow) -> ApiResult<Asked> {
    let mut conn = crate::db::conn(pool).await?;
    let form = plan_store::get_form(&mut conn, plan.id, None)
        .await?
        .map(|f| f.definition);
    let indicator_rows = plan_store::list_indicators(&mut conn, plan.id).await?;
    let parsed = parsed_formulas(&indicator_rows);
    let shape = shape::Shape::new(form.as_ref(), &parsed);
    Ok(Asked {
        form,
        indicator_rows,
        parsed,
        shape,
    })
}

/// The numeric figures of one period for a subtree, from the aggregate queries over
/// the period's reports (`shape::sql_raw`). The service compiles from the period's
/// ledger instead (`compiled_figures`), which answers the same.
pub async fn figures(
    pool: &crate::db::Pool,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    with_units: bool,
) -> ApiResult<Figures> {
    let asked = asked(pool, plan).await?;
    let sel = selection(period, plan, root, include_submitted);
    let raw = shape::sql_raw(pool, &sel, &asked.shape).await?;
    Ok(finish(&asked, raw, period, plan, &sel, with_units))
}

/// Reads from the period's ledger in memory, brought up to `mark` first (`ledger`);
/// `None` where the ledger cannot serve the period, or would have to be read whole
/// (then noted in `later`, to be read once the answer is complete): the caller
/// compiles with the aggregate queries.
async fn from_ledger<T>(
    pool: &crate::db::Pool,
    cache: &CompilationCache,
    later: &Later,
    period: uuid::Uuid,
    mark: &store::Mark,
    shape: &shape::Shape,
    read: impl FnOnce(&ledger::Ledger) -> Option<T>,
) -> ApiResult<Option<T>> {
    let slot = cache.ledger(period);
    let mut held = slot.lock().await;
    if ledger::needs_whole_read(&held, mark, shape) {
        later.add(period, mark, shape);
        return Ok(None);
    }
    // Connections are taken after the ledger's lock, never held while waiting for it.
    if !ledger::sync(&mut held, pool, period, mark, shape).await? {
        return Ok(None);
    }
    Ok(held.as_ref().and_then(read))
}

/// The periods whose ledgers a compilation found stale: read whole in the background
/// once its answer is complete ([`Later::start`]), so that the reads do not compete
/// with its own queries, and the next compilations after a change read only what
/// changed.
#[derive(Default)]
pub struct Later(std::sync::Mutex<Vec<(uuid::Uuid, store::Mark, shape::Shape)>>);

impl Later {
    fn add(&self, period: uuid::Uuid, mark: &store::Mark, shape: &shape::Shape) {
        if let Ok(mut v) = self.0.lock()
            && !v
                .iter()
                .any(|(p, m, s)| *p == period && m == mark && s == shape)
        {
            v.push((period, mark.clone(), shape.clone()));
        }
    }

    /// Starts the reads. Each finds its ledger already read when another task got
    /// there first.
    pub fn start(self, pool: &crate::db::Pool, cache: &CompilationCache) {
        for (period, mark, shape) in self.0.into_inner().unwrap_or_default() {
            let (pool, slot) = (pool.clone(), cache.ledger(period));
            tokio::spawn(async move {
                let mut held = slot.lock().await;
                if ledger::needs_whole_read(&held, &mark, &shape)
                    && let Err(e) = ledger::sync(&mut held, &pool, period, &mark, &shape).await
                {
                    tracing::warn!(%period, error = %e, "reading the period's ledger failed");
                }
            });
        }
    }
}

/// The figures of one period for a subtree as the service compiles them: summed from
/// the period's ledger, or by the aggregate queries where a ledger cannot serve.
#[allow(clippy::too_many_arguments)]
async fn compiled_figures(
    pool: &crate::db::Pool,
    cache: &CompilationCache,
    later: &Later,
    mark: &store::Mark,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    with_units: bool,
) -> ApiResult<Figures> {
    let asked = asked(pool, plan).await?;
    let sel = selection(period, plan, root, include_submitted);
    let from = from_ledger(pool, cache, later, period.id, mark, &asked.shape, |l| {
        l.raw(&sel)
    });
    let raw = match from.await? {
        Some(raw) => raw,
        None => shape::sql_raw(pool, &sel, &asked.shape).await?,
    };
    Ok(finish(&asked, raw, period, plan, &sel, with_units))
}

/// Figures from what the reports answered: the arithmetic, the labels and the order.
fn finish(
    asked: &Asked,
    raw: shape::Raw,
    period: &PeriodRow,
    plan: &PlanRow,
    sel: &Selection,
    with_units: bool,
) -> Figures {
    let form = asked.form.as_ref();
    let counted = raw.counted(&asked.shape);
    let booleans = top_fields(form, |k| k == FieldType::Boolean);
    let flags = booleans
        .iter()
        .zip(raw.flags.yes.iter().zip(&raw.flags.answered))
        .map(|((section, f), (yes, answered))| FlagCount {
            section: section.to_string(),
            field: f.code.clone(),
            label_vi: f.label_vi.clone(),
            label_en: f.label_en.clone(),
            yes: *yes,
            answered: *answered,
            share: maths::share(*yes as f64, *answered as f64),
        })
        .collect();
    let states = &raw.states;
    let completeness = maths::completeness(states, with_units);
    let coverage = maths::coverage(states, &sel.statuses, with_units);
    let reports_included = coverage.counted;
    let units: HashMap<String, UnitRef> = states
        .iter()
        .map(|s| {
            (
                s.code.clone(),
                UnitRef {
                    id: s.unit_id,
                    code: s.code.clone(),
                    name: s.name.clone(),
                },
            )
        })
        .collect();

    let sums: HashMap<String, f64> = asked
        .shape
        .codes
        .iter()
        .zip(raw.sums.iter())
        .map(|(c, s)| (c.clone(), maths::parse_sum(s)))
        .collect();
    let totals = numeric_fields(form)
        .iter()
        .map(|(section, f)| FieldTotal {
            section: section.to_string(),
            field: f.code.clone(),
            label_vi: f.label_vi.clone(),
            label_en: f.label_en.clone(),
            kind: match f.kind {
                FieldType::MoneyVnd => "money_vnd",
                FieldType::Decimal => "decimal",
                _ => "integer",
            }
            .to_string(),
            sum: sums.get(&f.code).copied().unwrap_or(0.0),
            reports: reports_included,
        })
        .collect();
    let pairs = form
        .iter()
        .flat_map(|f| f.all_pairs())
        .map(|p| {
            let total = sums.get(&p.total).copied().unwrap_or(0.0);
            let female = sums.get(&p.female).copied().unwrap_or(0.0);
            PairTotal {
                code: p.code.clone(),
                label_vi: p.label_vi.clone(),
                label_en: p.label_en.clone(),
                total,
                female,
                female_share: maths::share(female, total),
                reports: reports_included,
            }
        })
        .collect();
    let (activities, topics) = match form {
        Some(f) => (activities(f, raw.lists), topics(f, raw.topics)),
        None => (Vec::new(), Vec::new()),
    };
    let indicators = indicators(
        &asked.indicator_rows,
        asked.parsed.clone(),
        counted,
        &sums,
        &units,
        &coverage,
        period.window_end.year(),
    );
    Figures {
        period: period_ref(period, plan),
        reports_included,
        coverage,
        completeness,
        indicators,
        totals,
        pairs,
        flags,
        activities,
        topics,
    }
}

/// How a repeatable list is compiled: grouped by its first choice field, summing its
/// first sex pair and its first money field.
struct ListSpec<'a> {
    list: &'a crate::plans::form::RepeatableList,
    group_field: Option<&'a crate::plans::form::Field>,
    pair: Option<&'a crate::plans::form::SexPair>,
    cost: Option<&'a crate::plans::form::Field>,
    fields: Vec<&'a str>,
}

fn list_specs(form: &FormDefinition) -> Vec<ListSpec<'_>> {
    form.lists()
        .map(|(_, list)| {
            let pair = list.pairs.first();
            let cost = list.fields.iter().find(|f| f.kind == FieldType::MoneyVnd);
            let mut fields: Vec<&str> = Vec::new();
            if let Some(p) = pair {
                fields.push(&p.total);
                fields.push(&p.female);
            }
            if let Some(c) = cost {
                fields.push(&c.code);
            }
            ListSpec {
                list,
                group_field: list.fields.iter().find(|f| f.kind == FieldType::Choice),
                pair,
                cost,
                fields,
            }
        })
        .collect()
}

/// The top-level numeric fields of a form with their section codes.
fn numeric_fields(form: Option<&FormDefinition>) -> Vec<(&str, &crate::plans::form::Field)> {
    top_fields(form, FieldType::is_numeric)
}

/// The top-level fields of a form whose type passes `kind`, with their section codes.
fn top_fields(
    form: Option<&FormDefinition>,
    kind: impl Fn(FieldType) -> bool + Copy,
) -> Vec<(&str, &crate::plans::form::Field)> {
    form.iter()
        .flat_map(|f| f.sections.iter())
        .flat_map(|s| {
            s.fields
                .iter()
                .filter(move |f| kind(f.kind))
                .map(move |f| (s.code.as_str(), f))
        })
        .collect()
}

/// Each indicator's parsed formula with its index (formulas were checked when saved;
/// one that no longer parses is left out rather than failing the compilation).
fn parsed_formulas(rows: &[plan_store::IndicatorRow]) -> Vec<(usize, Formula)> {
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| indicator::parse(&r.formula).ok().map(|f| (i, f)))
        .collect()
}

/// The unit-share conditions of a plan's parsed indicator formulas, in order, with
/// the indicator index of each.
fn conditions(parsed: &[(usize, Formula)]) -> (Vec<usize>, Vec<&indicator::Condition>) {
    parsed
        .iter()
        .filter_map(|(i, f)| match f {
            Formula::UnitShare { condition } => Some((*i, condition)),
            _ => None,
        })
        .unzip()
}

/// The list formulas of a plan's parsed indicators, by the list they read (in order
/// of first use), with the indicator index of each: one query per list.
fn item_formulas(parsed: &[(usize, Formula)]) -> Vec<(&str, Vec<(usize, &Formula)>)> {
    let mut out: Vec<(&str, Vec<(usize, &Formula)>)> = Vec::new();
    for (i, f) in parsed {
        let Some(list) = f.list() else { continue };
        match out.iter_mut().find(|(l, _)| *l == list) {
            Some((_, fs)) => fs.push((*i, f)),
            None => out.push((list, vec![(*i, f)])),
        }
    }
    out
}

/// Runs the unit-share query and one list query per list the indicators read, and
/// returns what was counted for each indicator by its index.
async fn count_indicators(
    conn: &mut AsyncPgConnection,
    sel: &Selection,
    parsed: &[(usize, Formula)],
) -> ApiResult<HashMap<usize, maths::Counted>> {
    let mut out = HashMap::new();
    let (indices, conds) = conditions(parsed);
    let (reports, shares) = store::unit_shares(conn, sel, &conds).await?;
    for (i, (met, short)) in indices.into_iter().zip(shares) {
        out.insert(i, maths::Counted::Units(met, reports, short));
    }
    for (list, formulas) in item_formulas(parsed) {
        let fs: Vec<&Formula> = formulas.iter().map(|(_, f)| *f).collect();
        let totals = store::item_figures(conn, sel, list, &fs).await?;
        for ((i, _), (n, d)) in formulas.iter().zip(totals) {
            out.insert(
                *i,
                maths::Counted::Items(maths::parse_sum(&n), maths::parse_sum(&d)),
            );
        }
    }
    Ok(out)
}

/// The statements a compilation of this period runs for its figures (not the small
/// lookups of plan, form and indicators), with literal values: the benchmark runs them
/// through psql to compare the service with PostgreSQL alone.
pub async fn sql_statements(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    with_narratives: bool,
) -> ApiResult<Vec<String>> {
    let form = plan_store::get_form(conn, plan.id, None)
        .await?
        .map(|f| f.definition);
    let sel = selection(period, plan, root, include_submitted);
    let mut out = vec![store::unit_states_with_literals(&sel)];
    let codes: Vec<&str> = numeric_fields(form.as_ref())
        .iter()
        .map(|(_, f)| f.code.as_str())
        .collect();
    if !codes.is_empty() {
        out.push(store::with_literals(&store::field_sums_sql(&codes)?, &sel));
    }
    let rows = plan_store::list_indicators(conn, plan.id).await?;
    let parsed = parsed_formulas(&rows);
    let (_, conds) = conditions(&parsed);
    if !conds.is_empty() {
        out.push(store::with_literals(&store::unit_shares_sql(&conds)?, &sel));
    }
    for (list, formulas) in item_formulas(&parsed) {
        let fs: Vec<&Formula> = formulas.iter().map(|(_, f)| *f).collect();
        out.push(store::with_literals(
            &store::item_figures_sql(list, &fs)?,
            &sel,
        ));
    }
    if let Some(f) = &form {
        for spec in list_specs(f) {
            let sql = store::list_sums_sql(
                &spec.list.code,
                spec.group_field.map(|g| g.code.as_str()),
                &spec.fields,
            )?;
            out.push(store::with_literals(&sql, &sel));
        }
        if with_narratives {
            let fields: Vec<&str> = f.text_fields().map(|(_, t)| t.code.as_str()).collect();
            if !fields.is_empty() {
                out.push(store::with_literals(&store::narratives_sql(&fields)?, &sel));
            }
        }
    }
    Ok(out)
}

/// Activities (the form's repeatable lists) by their type, with participants and
/// cost, from each list's groups (`Raw::lists`).
fn activities(form: &FormDefinition, lists: Vec<Vec<store::GroupSums>>) -> Vec<ActivityGroup> {
    let mut out = Vec::new();
    for (spec, groups) in list_specs(form).into_iter().zip(lists) {
        let (list, group_field, pair, cost) = (spec.list, spec.group_field, spec.pair, spec.cost);
        for g in groups {
            let kind = g.grp.unwrap_or_else(|| list.code.clone());
            let option = group_field
                .and_then(|f| f.options.as_ref())
                .and_then(|o| o.iter().find(|c| c.code == kind));
            let num = |i: usize| g.sums.get(i).map(|s| maths::parse_sum(s)).unwrap_or(0.0);
            let (total, female) = if pair.is_some() {
                (num(0), num(1))
            } else {
                (0.0, 0.0)
            };
            let cost_vnd = if cost.is_some() {
                num(if pair.is_some() { 2 } else { 0 })
            } else {
                0.0
            };
            out.push(ActivityGroup {
                label_vi: option
                    .map(|o| o.label_vi.clone())
                    .unwrap_or_else(|| kind.clone()),
                label_en: option
                    .map(|o| o.label_en.clone())
                    .unwrap_or_else(|| kind.clone()),
                kind,
                count: g.items,
                participants_total: total,
                participants_female: female,
                female_share: maths::share(female, total),
                cost_vnd,
            });
        }
    }
    out
}

/// The activities again by topic: each list's first multi-choice field, its codes in
/// the form's order of options (a code the form no longer offers last), with the
/// list's first sex pair summed (`Raw::topics`).
fn topics(form: &FormDefinition, by_topic: Vec<Vec<store::GroupSums>>) -> Vec<ActivityGroup> {
    let mut out = Vec::new();
    for (spec, mut groups) in list_specs(form).into_iter().zip(by_topic) {
        let Some(multi) = spec
            .list
            .fields
            .iter()
            .find(|f| f.kind == FieldType::MultiChoice)
        else {
            continue;
        };
        let options = multi.options.as_deref().unwrap_or_default();
        groups.sort_by_key(|g| {
            options
                .iter()
                .position(|o| Some(&o.code) == g.grp.as_ref())
                .unwrap_or(usize::MAX)
        });
        for g in groups {
            let code = g.grp.unwrap_or_default();
            let option = options.iter().find(|o| o.code == code);
            let num = |i: usize| g.sums.get(i).map(|s| maths::parse_sum(s)).unwrap_or(0.0);
            let (total, female) = if spec.pair.is_none() {
                (0.0, 0.0)
            } else {
                (num(0), num(1))
            };
            out.push(ActivityGroup {
                label_vi: option.map_or_else(|| code.clone(), |o| o.label_vi.clone()),
                label_en: option.map_or_else(|| code.clone(), |o| o.label_en.clone()),
                kind: code,
                count: g.items,
                participants_total: total,
                participants_female: female,
                female_share: maths::share(female, total),
                cost_vnd: 0.0,
            });
        }
    }
    out
}

/// Every text answer of the included reports (`rows`), grouped by section and field,
/// in the organisation's order.
fn narratives(form: &FormDefinition, rows: Vec<store::NarrativeRow>) -> Vec<NarrativeSection> {
    let fields: Vec<&str> = form.text_fields().map(|(_, f)| f.code.as_str()).collect();
    let mut by_field: HashMap<&str, Vec<(String, NarrativeEntry)>> = HashMap::new();
    for r in rows {
        for (field, text) in fields.iter().zip(r.texts) {
            // A blank answer (whitespace only) says nothing.
            if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
                by_field.entry(field).or_default().push((
                    r.unit_path.clone(),
                    NarrativeEntry {
                        unit_code: r.unit_code.clone(),
                        unit_name: r.unit_name.clone(),
                        text,
                    },
                ));
            }
        }
    }
    form.text_fields()
        .map(|(s, f)| NarrativeSection {
            section: s.code.clone(),
            section_title_vi: s.title_vi.clone(),
            field: f.code.clone(),
            label_vi: f.label_vi.clone(),
            label_en: f.label_en.clone(),
            entries: {
                // In the organisation's order (units under a unit follow it).
                let mut entries = by_field.remove(f.code.as_str()).unwrap_or_default();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.into_iter().map(|(_, e)| e).collect()
            },
        })
        .collect()
}

/// The narratives of one period for a subtree: from the period's ledger, or by the
/// narratives query where a ledger cannot serve.
#[allow(clippy::too_many_arguments)]
async fn compiled_narratives(
    pool: &crate::db::Pool,
    cache: &CompilationCache,
    later: &Later,
    mark: &store::Mark,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
) -> ApiResult<Vec<NarrativeSection>> {
    let asked = asked(pool, plan).await?;
    let Some(form) = &asked.form else {
        return Ok(Vec::new());
    };
    let sel = selection(period, plan, root, include_submitted);
    let rows = match from_ledger(pool, cache, later, period.id, mark, &asked.shape, |l| {
        Some(l.narratives(&sel))
    })
    .await?
    {
        Some(rows) => rows,
        None => {
            let fields: Vec<&str> = asked.shape.texts.iter().map(String::as_str).collect();
            let mut conn = crate::db::conn(pool).await?;
            store::narratives(&mut conn, &sel, &fields).await?
        }
    };
    Ok(narratives(form, rows))
}

/// One indicator of one period for a subtree, running only the query that indicator
/// needs (for trends, which visit many periods). `None` when its formula no longer
/// parses. Returns the value and the number of reports it was computed over.
pub async fn one_indicator(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    row: &plan_store::IndicatorRow,
) -> ApiResult<Option<(indicator::IndicatorValue, i64)>> {
    let Ok(formula) = indicator::parse(&row.formula) else {
        return Ok(None);
    };
    let sel = selection(period, plan, root, include_submitted);
    let sums: HashMap<String, f64> = match &formula {
        Formula::RatioOfSums { .. } => {
            let fields = formula.fields();
            fields
                .iter()
                .zip(store::field_sums(conn, &sel, &fields).await?)
                .map(|(f, s)| (f.to_string(), maths::parse_sum(&s)))
                .collect()
        }
        _ => HashMap::new(),
    };
    let parsed = [(0, formula)];
    let mut counted = count_indicators(conn, &sel, &parsed).await?;
    let reports = match counted.get(&0) {
        Some(maths::Counted::Units(_, reports, _)) => *reports,
        _ => store::count_included(conn, &sel).await?,
    };
    let [(_, formula)] = parsed;
    Ok(Some((
        maths::indicator(&formula, &sums, counted.remove(&0)),
        reports,
    )))
}

/// The unit whose subtree a plan's figures cover when `root` is asked for: `root`
/// itself inside the plan's tree, the plan's issuer when `root` lies above it, and
/// none when the two trees are apart.
pub async fn effective_root(
    conn: &mut AsyncPgConnection,
    root: &UnitRow,
    plan: &PlanRow,
) -> ApiResult<Option<UnitRow>> {
    if root.path.starts_with(&plan.unit_path) {
        Ok(Some(root.clone()))
    } else if plan.unit_path.starts_with(&root.path) {
        crate::org::store::find_by_id(conn, plan.issuing_unit_id).await
    } else {
        Ok(None)
    }
}

/// What a compilation of a subtree for a period stands on: the previous period it is
/// compared with, and the fingerprints of both periods' data (`cache`).
pub struct Basis {
    previous: Option<(PeriodRow, PlanRow)>,
    current: store::Mark,
    /// The current period's whole fingerprint with the plan's tasks: what its
    /// figures and narratives are cached under.
    current_mark: String,
    previous_mark: Option<store::Mark>,
}

impl Basis {
    /// The entity tag of one representation of the compilation: equal as long as none
    /// of the data under it changes. Weak, because two equal compilations still differ
    /// in `generated_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn etag(
        &self,
        period: &PeriodRow,
        root: &UnitRow,
        include_submitted: bool,
        format: Format,
        detail: bool,
        parts: &parts::Parts,
        printed: &str,
    ) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            // A new release may compile differently: its tags never match older ones.
            env!("CARGO_PKG_VERSION"),
            &period.id.to_string(),
            self.current_mark.as_str(),
            self.previous_mark
                .as_ref()
                .map_or("-".to_string(), store::Mark::whole)
                .as_str(),
            &root.id.to_string(),
            if include_submitted {
                "submitted"
            } else {
                "accepted"
            },
            &format!("{format:?}"),
            if detail { "units" } else { "-" },
            &parts.tag(),
            printed,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        format!("W/\"c-{}\"", &hex::encode(h.finalize())[..32])
    }
}

/// Finds the previous period and reads both fingerprints: two small queries, run
/// before anything is compiled (a poll answered 304 needs nothing more).
pub async fn basis(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    plan: &PlanRow,
) -> ApiResult<Basis> {
    let previous = previous_of(conn, period, plan).await?;
    let mut ids = vec![period.id];
    ids.extend(previous.as_ref().map(|(p, _)| p.id));
    let mut marks = store::fingerprints(conn, &ids).await?;
    let current = marks.remove(&period.id).unwrap_or(store::Mark {
        rows: String::new(),
        other: String::new(),
        reports: String::new(),
    });
    Ok(Basis {
        current_mark: current.whole() + &crate::tasks::store::mark(conn, plan.id).await?,
        current,
        previous_mark: previous.as_ref().and_then(|(p, _)| marks.remove(&p.id)),
        previous,
    })
}

/// The figures of one period from the cache, or compiled (and then cached under
/// `key`, the fingerprint they were compiled after).
#[allow(clippy::too_many_arguments)]
async fn cached_figures(
    pool: &crate::db::Pool,
    cache: &CompilationCache,
    later: &Later,
    mark: &store::Mark,
    key_mark: &str,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    with_units: bool,
) -> ApiResult<Arc<Figures>> {
    let key = cache::Key {
        period: period.id,
        root: root.id,
        include_submitted,
        with_units,
    };
    if let Some(hit) = cache.figures(&key, key_mark) {
        return Ok(hit);
    }
    let gate = cache.gate(cache::Part::Figures, key);
    let _turn = gate.lock().await;
    if let Some(hit) = cache.figures(&key, key_mark) {
        return Ok(hit);
    }
    let computed = Arc::new(
        compiled_figures(
            pool,
            cache,
            later,
            mark,
            period,
            plan,
            root,
            include_submitted,
            with_units,
        )
        .await?,
    );
    cache.put_figures(key, key_mark.to_string(), computed.clone());
    Ok(computed)
}

/// The whole compilation of `root`'s subtree for a period. The figures, the
/// narratives and the previous period are independent, so each comes from the cache
/// or runs on a connection of its own, concurrently.
#[allow(clippy::too_many_arguments)]
pub async fn compile(
    pool: &crate::db::Pool,
    cache: &CompilationCache,
    basis: &Basis,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
    parts: &parts::Parts,
) -> ApiResult<Compilation> {
    use parts::Part;
    let later = Later::default();
    let current = cached_figures(
        pool,
        cache,
        &later,
        &basis.current,
        &basis.current_mark,
        period,
        plan,
        root,
        include_submitted,
        true,
    );
    let texts = async {
        if !parts.has(Part::Narratives) {
            return Ok(Arc::default());
        }
        let key = cache::Key {
            period: period.id,
            root: root.id,
            include_submitted,
            with_units: true,
        };
        if let Some(hit) = cache.narratives(&key, &basis.current_mark) {
            return Ok(hit);
        }
        let gate = cache.gate(cache::Part::Narratives, key);
        let _turn = gate.lock().await;
        if let Some(hit) = cache.narratives(&key, &basis.current_mark) {
            return Ok(hit);
        }
        let computed = Arc::new(
            compiled_narratives(
                pool,
                cache,
                &later,
                &basis.current,
                period,
                plan,
                root,
                include_submitted,
            )
            .await?,
        );
        cache.put_narratives(key, basis.current_mark.clone(), computed.clone());
        Ok(computed)
    };
    let previous = async {
        match (&basis.previous, &basis.previous_mark) {
            (Some((prev, prev_plan)), Some(mark)) if parts.has(Part::Previous) => Ok(Some(
                cached_figures(
                    pool,
                    cache,
                    &later,
                    mark,
                    &mark.whole(),
                    prev,
                    prev_plan,
                    root,
                    include_submitted,
                    false,
                )
                .await?,
            )),
            _ => Ok(None),
        }
    };
    let tasks = async {
        if !parts.has(Part::Tasks) {
            return Ok(Default::default());
        }
        let mut conn = crate::db::conn(pool).await?;
        crate::tasks::part::compile(&mut conn, period, plan, root, include_submitted).await
    };
    let (figures, narratives, previous, tasks) = tokio::try_join!(current, texts, previous, tasks)?;
    later.start(pool, cache);
    Ok(Compilation {
        unit: unit_ref(root),
        include_submitted,
        generated_at: Utc::now(),
        figures,
        narratives,
        tasks,
        previous,
        units: None,
    })
}

/// Each included report's own figures (`?detail=units`): its values of the form's
/// numeric fields, and every indicator over its report alone (a unit-share indicator
/// is 1 when the unit meets the condition, else 0).
pub async fn unit_figures(
    pool: &crate::db::Pool,
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
) -> ApiResult<Vec<UnitFigures>> {
    let mut conn = crate::db::conn(pool).await?;
    let form = plan_store::get_form(&mut conn, plan.id, None)
        .await?
        .map(|f| f.definition);
    let indicator_rows = plan_store::list_indicators(&mut conn, plan.id).await?;
    let parsed = parsed_formulas(&indicator_rows);
    let numeric: Vec<&str> = numeric_fields(form.as_ref())
        .iter()
        .map(|(_, f)| f.code.as_str())
        .collect();
    let mut codes = numeric.clone();
    for (_, f) in &parsed {
        if let Formula::RatioOfSums { .. } = f {
            for field in f.fields() {
                if !codes.contains(&field) {
                    codes.push(field);
                }
            }
        }
    }
    let (share_indices, conds) = conditions(&parsed);
    let item_indices: Vec<(usize, &Formula)> = parsed
        .iter()
        .filter(|(_, f)| f.list().is_some())
        .map(|(i, f)| (*i, f))
        .collect();
    let items: Vec<&Formula> = item_indices.iter().map(|(_, f)| *f).collect();
    let sel = selection(period, plan, root, include_submitted);
    let rows = store::unit_values(&mut conn, &sel, &codes, &conds, &items).await?;
    Ok(rows
        .into_iter()
        .map(|u| {
            let values: HashMap<String, f64> = codes
                .iter()
                .zip(&u.vals)
                .filter_map(|(c, v)| v.as_deref().map(|v| (c.to_string(), maths::parse_sum(v))))
                .collect();
            // What was counted over this report alone: 1 of 1 where it meets a unit
            // share, its own items' totals for a list formula.
            let mut counted: HashMap<usize, maths::Counted> = HashMap::new();
            for (i, m) in share_indices.iter().zip(&u.met) {
                let met = m.unwrap_or(false);
                let short = if met {
                    Vec::new()
                } else {
                    vec![u.code.clone()]
                };
                counted.insert(*i, maths::Counted::Units(i64::from(met), 1, short));
            }
            for ((i, _), (n, d)) in item_indices.iter().zip(store::pairs(u.items.clone())) {
                counted.insert(
                    *i,
                    maths::Counted::Items(maths::parse_sum(&n), maths::parse_sum(&d)),
                );
            }
            let indicators = parsed
                .iter()
                .map(|(i, f)| {
                    (
                        indicator_rows[*i].code.clone(),
                        maths::indicator(f, &values, counted.remove(i)).value,
                    )
                })
                .collect();
            UnitFigures {
                totals: numeric
                    .iter()
                    .map(|c| (c.to_string(), values.get(*c).copied()))
                    .collect(),
                indicators,
                unit: UnitRef {
                    id: u.unit_id,
                    code: u.code,
                    name: u.name,
                },
                status: u.status,
                late: u.late,
            }
        })
        .collect())
}

fn selection(
    period: &PeriodRow,
    plan: &PlanRow,
    root: &UnitRow,
    include_submitted: bool,
) -> Selection {
    Selection {
        period_id: period.id,
        prefix: root.path.clone(),
        issuer: plan.issuing_unit_id,
        statuses: maths::included_statuses(include_submitted),
    }
}

/// The previous period of the same kind, with its plan, if there is one.
async fn previous_of(
    conn: &mut AsyncPgConnection,
    period: &PeriodRow,
    plan: &PlanRow,
) -> ApiResult<Option<(PeriodRow, PlanRow)>> {
    let Some(id) = store::previous_period(
        conn,
        plan.id,
        plan.issuing_unit_id,
        plan.year,
        &period.kind,
        period.window_start,
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(prev) = plan_store::get_period(conn, id).await? else {
        return Ok(None);
    };
    let Some(prev_plan) = plan_store::get_plan(conn, prev.plan_id).await? else {
        return Ok(None);
    };
    Ok(Some((prev, prev_plan)))
}
