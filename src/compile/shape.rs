//! What the figures of a period ask of its reports ([`Shape`], from the plan's form and
//! indicators), and what they answer before any arithmetic ([`Raw`]: the sums as exact
//! decimal text, the counts, the groups, the unit states). A `Raw` comes either from
//! the aggregate queries of `store` ([`sql_raw`]) or from the per-report rows `ledger`
//! keeps in memory; `compile::finish` turns either into the same figures.

use std::collections::HashMap;

use crate::db::Pool;
use crate::error::ApiResult;
use crate::plans::form::{FieldType, FormDefinition};
use crate::plans::indicator::{Condition, Formula};

use super::store::{self, FlagCounts, GroupSums, Selection, UnitState};

/// A repeatable list as the compilation reads it: grouped by its first choice field,
/// summing its first sex pair and its first money field (`fields`), and again by each
/// code of its first multi-choice field (`multi`), summing the pair alone (`pair`).
#[derive(Clone, Debug, PartialEq)]
pub struct ListShape {
    pub list: String,
    pub group: Option<String>,
    pub fields: Vec<String>,
    pub multi: Option<String>,
    pub pair: Vec<String>,
}

/// Everything a period's figures read of each report, in the order the answers come.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Shape {
    /// The numeric fields summed: the form's top-level ones, then any a ratio of sums
    /// names that the form lacks (reports of an older version may hold it).
    pub codes: Vec<String>,
    /// The unit-share conditions, with the index of their indicator.
    pub conds: Vec<(usize, Condition)>,
    /// The list formulas by the list they read (in order of first use), with the
    /// index of their indicator.
    pub items: Vec<(String, Vec<(usize, Formula)>)>,
    /// The form's top-level yes/no fields.
    pub flags: Vec<String>,
    /// The form's text fields (the narratives).
    pub texts: Vec<String>,
    pub lists: Vec<ListShape>,
}

impl Shape {
    pub fn new(form: Option<&FormDefinition>, parsed: &[(usize, Formula)]) -> Self {
        let top = |kind: fn(FieldType) -> bool| -> Vec<String> {
            form.iter()
                .flat_map(|f| f.sections.iter())
                .flat_map(|s| s.fields.iter())
                .filter(|f| kind(f.kind))
                .map(|f| f.code.clone())
                .collect()
        };
        let mut codes = top(FieldType::is_numeric);
        for (_, f) in parsed {
            if let Formula::RatioOfSums { .. } = f {
                for field in f.fields() {
                    if !codes.iter().any(|c| c == field) {
                        codes.push(field.to_string());
                    }
                }
            }
        }
        let conds = parsed
            .iter()
            .filter_map(|(i, f)| match f {
                Formula::UnitShare { condition } => Some((*i, condition.clone())),
                _ => None,
            })
            .collect();
        let mut items: Vec<(String, Vec<(usize, Formula)>)> = Vec::new();
        for (i, f) in parsed {
            let Some(list) = f.list() else { continue };
            match items.iter_mut().find(|(l, _)| l == list) {
                Some((_, fs)) => fs.push((*i, f.clone())),
                None => items.push((list.to_string(), vec![(*i, f.clone())])),
            }
        }
        let lists = form
            .map(|f| {
                f.lists()
                    .map(|(_, list)| {
                        let pair: Vec<String> = list
                            .pairs
                            .first()
                            .map(|p| vec![p.total.clone(), p.female.clone()])
                            .unwrap_or_default();
                        let mut fields = pair.clone();
                        fields.extend(
                            list.fields
                                .iter()
                                .find(|f| f.kind == FieldType::MoneyVnd)
                                .map(|c| c.code.clone()),
                        );
                        let first = |kind: FieldType| {
                            list.fields
                                .iter()
                                .find(|f| f.kind == kind)
                                .map(|f| f.code.clone())
                        };
                        ListShape {
                            list: list.code.clone(),
                            group: first(FieldType::Choice),
                            fields,
                            multi: first(FieldType::MultiChoice),
                            pair,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Shape {
            codes,
            conds,
            items,
            flags: top(|k| k == FieldType::Boolean),
            texts: form
                .map(|f| f.text_fields().map(|(_, t)| t.code.clone()).collect())
                .unwrap_or_default(),
            lists,
        }
    }

    pub fn conditions(&self) -> Vec<&Condition> {
        self.conds.iter().map(|(_, c)| c).collect()
    }
}

/// What the included reports of a selection answer to a [`Shape`], before arithmetic.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Raw {
    pub states: Vec<UnitState>,
    /// The sum of each of `Shape::codes`, as exact decimal text.
    pub sums: Vec<String>,
    /// The reports counted for the unit shares (0 when there are none).
    pub reports: i64,
    /// For each of `Shape::conds`: the reports meeting it and the codes of the units
    /// falling short, in the organisation's order.
    pub shares: Vec<(i64, Vec<String>)>,
    /// For each list of `Shape::items`: each formula's numerator and denominator.
    pub items: Vec<Vec<(String, String)>>,
    /// For each of `Shape::lists`: its items by group, in the order of the group.
    pub lists: Vec<Vec<GroupSums>>,
    /// For each of `Shape::lists`: its items by each code of `multi` (none without one).
    pub topics: Vec<Vec<GroupSums>>,
    pub flags: FlagCounts,
}

impl Raw {
    /// What was counted for each indicator read from the units or the lists, by its
    /// index.
    pub fn counted(&self, shape: &Shape) -> HashMap<usize, super::maths::Counted> {
        use super::maths::{Counted, parse_sum};
        let mut out = HashMap::new();
        for ((i, _), (met, short)) in shape.conds.iter().zip(&self.shares) {
            out.insert(*i, Counted::Units(*met, self.reports, short.clone()));
        }
        for ((_, formulas), totals) in shape.items.iter().zip(&self.items) {
            for ((i, _), (n, d)) in formulas.iter().zip(totals) {
                out.insert(*i, Counted::Items(parse_sum(n), parse_sum(d)));
            }
        }
        out
    }
}

/// The [`Raw`] answer of a selection from the aggregate queries, each an independent
/// CPU-bound pass over the period's reports on a pool connection of its own, so that
/// PostgreSQL works on them side by side.
pub async fn sql_raw(pool: &Pool, sel: &Selection, shape: &Shape) -> ApiResult<Raw> {
    let states = async {
        let mut conn = crate::db::conn(pool).await?;
        store::unit_states(&mut conn, sel.period_id, &sel.prefix, sel.issuer).await
    };
    let sums = async {
        let codes: Vec<&str> = shape.codes.iter().map(String::as_str).collect();
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = crate::db::conn(pool).await?;
        store::field_sums(&mut conn, sel, &codes).await
    };
    let counted = async {
        let mut conn = crate::db::conn(pool).await?;
        let (reports, shares) = store::unit_shares(&mut conn, sel, &shape.conditions()).await?;
        let mut items = Vec::new();
        for (list, formulas) in &shape.items {
            let fs: Vec<&Formula> = formulas.iter().map(|(_, f)| f).collect();
            items.push(store::item_figures(&mut conn, sel, list, &fs).await?);
        }
        Ok::<_, crate::error::ApiError>((reports, shares, items))
    };
    let lists = async {
        if shape.lists.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = crate::db::conn(pool).await?;
        let mut out = Vec::new();
        for l in &shape.lists {
            let fields: Vec<&str> = l.fields.iter().map(String::as_str).collect();
            out.push(store::list_sums(&mut conn, sel, &l.list, l.group.as_deref(), &fields).await?);
        }
        Ok(out)
    };
    let topics = async {
        if shape.lists.iter().all(|l| l.multi.is_none()) {
            return Ok(vec![Vec::new(); shape.lists.len()]);
        }
        let mut conn = crate::db::conn(pool).await?;
        let mut out = Vec::new();
        for l in &shape.lists {
            out.push(match &l.multi {
                Some(m) => {
                    let pair: Vec<&str> = l.pair.iter().map(String::as_str).collect();
                    store::list_sums_by_each(&mut conn, sel, &l.list, m, &pair).await?
                }
                None => Vec::new(),
            });
        }
        Ok(out)
    };
    let flags = async {
        if shape.flags.is_empty() {
            return Ok(FlagCounts::default());
        }
        let codes: Vec<&str> = shape.flags.iter().map(String::as_str).collect();
        let mut conn = crate::db::conn(pool).await?;
        store::flag_counts(&mut conn, sel, &codes).await
    };
    let (states, sums, (reports, shares, items), lists, topics, flags) =
        tokio::try_join!(states, sums, counted, lists, topics, flags)?;
    Ok(Raw {
        states,
        sums,
        reports,
        shares,
        items,
        lists,
        topics,
        flags,
    })
}
