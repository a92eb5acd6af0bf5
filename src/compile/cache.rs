//! Compilations in memory, reused while the data under them stands still.
//!
//! A root compilation reads every report of a subtree twice (this period and the
//! previous one) and weighs megabytes; city systems poll it. Its parts — the figures
//! of a period, the narratives of a period — change only when a report of that period,
//! its expected units, the tree, a plan, a period, an indicator or a form changes. Each
//! part is kept under the fingerprint of that data (`store::fingerprints`) and served again while the
//! fingerprint is unchanged, so a poll costs one small query, and a compilation after
//! one report was accepted recomputes only the current period — from the period's
//! ledger (`ledger`, kept here too), which reads again only that report.
//!
//! The fingerprint is always read *before* the part is computed, so a part can only be
//! newer than its fingerprint says, never older: a change committed in between makes the
//! next fingerprint differ and the part is recomputed. Each process keeps its own
//! memory; processes behind a load balancer agree because the fingerprint comes from
//! the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::ledger::Ledger;
use super::model::{Figures, NarrativeSection};

/// Which part of which compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub period: Uuid,
    pub root: Uuid,
    pub include_submitted: bool,
    /// Figures with the unit lists (the compiled period) or without (as the previous one).
    pub with_units: bool,
}

struct Entry<V> {
    fingerprint: String,
    value: Arc<V>,
    weight: usize,
    used: u64,
}

/// A map bounded by the estimated bytes of its values; the least recently used go first.
struct Lru<V> {
    entries: HashMap<Key, Entry<V>>,
    weight: usize,
    budget: usize,
    clock: u64,
}

impl<V> Lru<V> {
    fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            weight: 0,
            budget,
            clock: 0,
        }
    }

    fn get(&mut self, key: &Key, fingerprint: &str) -> Option<Arc<V>> {
        self.clock += 1;
        let clock = self.clock;
        match self.entries.get_mut(key) {
            Some(e) if e.fingerprint == fingerprint => {
                e.used = clock;
                Some(e.value.clone())
            }
            Some(_) => {
                // Stale: the data changed since. Free its memory now.
                if let Some(old) = self.entries.remove(key) {
                    self.weight -= old.weight;
                }
                None
            }
            None => None,
        }
    }

    fn put(&mut self, key: Key, fingerprint: String, value: Arc<V>, weight: usize) {
        if weight > self.budget {
            return;
        }
        self.clock += 1;
        if let Some(old) = self.entries.remove(&key) {
            self.weight -= old.weight;
        }
        while self.weight + weight > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.weight -= e.weight;
            }
        }
        self.weight += weight;
        self.entries.insert(
            key,
            Entry {
                fingerprint,
                value,
                weight,
                used: self.clock,
            },
        );
    }
}

/// Which kind of part a computation produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Figures,
    Narratives,
}

/// A lock that one computation of a part holds while it runs.
type Gate = Arc<tokio::sync::Mutex<()>>;

/// A period's ledger (`ledger`), locked while it is brought up to date or read.
pub type LedgerSlot = Arc<tokio::sync::Mutex<Option<Ledger>>>;

/// The cache of compiled figures and narratives, shared by the workers of a process.
pub struct CompilationCache {
    figures: Mutex<Lru<Figures>>,
    narratives: Mutex<Lru<Vec<NarrativeSection>>>,
    /// One gate per part being computed: see [`CompilationCache::gate`].
    gates: Mutex<HashMap<(Part, Key), Gate>>,
    /// The ledgers of the periods compiled lately, with when each was last asked for.
    ledgers: Mutex<Ledgers>,
}

/// A clock, and each period's ledger with the clock's time when it was last asked for.
type Ledgers = (u64, HashMap<Uuid, (u64, LedgerSlot)>);

/// Periods whose ledgers are kept: a compilation reads two (the period and the
/// previous one); a ledger of 10,000 reports holds about 20 MB.
const LEDGERS: usize = 4;

/// Bytes of figures kept: a root compilation's figures with their unit lists weigh
/// about 1 MB at 10,000 units.
const FIGURES_BUDGET: usize = 16 << 20;
/// Bytes of narratives kept: about 10 MB for 10,000 units' texts.
const NARRATIVES_BUDGET: usize = 48 << 20;

impl Default for CompilationCache {
    fn default() -> Self {
        Self::with_budgets(FIGURES_BUDGET, NARRATIVES_BUDGET)
    }
}

impl CompilationCache {
    pub fn with_budgets(figures: usize, narratives: usize) -> Self {
        Self {
            figures: Mutex::new(Lru::new(figures)),
            narratives: Mutex::new(Lru::new(narratives)),
            gates: Mutex::new(HashMap::new()),
            ledgers: Mutex::new((0, HashMap::new())),
        }
    }

    /// The ledger of a period, empty until first synced; the least recently asked for
    /// is dropped beyond [`LEDGERS`] periods (a holder of its lock keeps it alive).
    pub fn ledger(&self, period: Uuid) -> LedgerSlot {
        let Ok(mut guard) = self.ledgers.lock() else {
            // A poisoned map only costs the reuse of rows.
            return LedgerSlot::default();
        };
        let (clock, map) = &mut *guard;
        *clock += 1;
        let now = *clock;
        if let Some((used, slot)) = map.get_mut(&period) {
            *used = now;
            return slot.clone();
        }
        while map.len() >= LEDGERS {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            map.remove(&oldest);
        }
        let slot = LedgerSlot::default();
        map.insert(period, (now, slot.clone()));
        slot
    }

    /// The gate of one part: a caller that missed the cache holds it while computing,
    /// so that requests arriving together after a change (city systems polling at the
    /// same minute) wait for one computation and then find its result in the cache,
    /// instead of each running the same queries on connections of their own. Gates no
    /// one holds or waits for are dropped on the next call.
    pub fn gate(&self, part: Part, key: Key) -> Gate {
        let Ok(mut gates) = self.gates.lock() else {
            // A poisoned map only costs the sharing of work.
            return Arc::new(tokio::sync::Mutex::new(()));
        };
        gates.retain(|_, g| Arc::strong_count(g) > 1);
        gates.entry((part, key)).or_default().clone()
    }

    pub fn figures(&self, key: &Key, fingerprint: &str) -> Option<Arc<Figures>> {
        self.figures.lock().ok()?.get(key, fingerprint)
    }

    pub fn put_figures(&self, key: Key, fingerprint: String, value: Arc<Figures>) {
        let weight = figures_weight(&value);
        if let Ok(mut lru) = self.figures.lock() {
            lru.put(key, fingerprint, value, weight);
        }
    }

    pub fn narratives(&self, key: &Key, fingerprint: &str) -> Option<Arc<Vec<NarrativeSection>>> {
        self.narratives.lock().ok()?.get(key, fingerprint)
    }

    pub fn put_narratives(&self, key: Key, fingerprint: String, value: Arc<Vec<NarrativeSection>>) {
        let weight = narratives_weight(&value);
        if let Ok(mut lru) = self.narratives.lock() {
            lru.put(key, fingerprint, value, weight);
        }
    }
}

/// Heap bytes of a unit reference, roughly: the struct and its two strings.
const UNIT_REF_BYTES: usize = 96;

fn figures_weight(f: &Figures) -> usize {
    let listed = f.completeness.units.as_ref().map_or(0, |u| {
        u.accepted.len()
            + u.submitted.len()
            + u.returned.len()
            + u.awaiting_approval.len()
            + u.draft.len()
            + u.not_started.len()
            + u.late.len()
    });
    let short: usize = f.indicators.iter().map(|i| i.units_short.len()).sum();
    4096 + (listed + short) * UNIT_REF_BYTES + (f.totals.len() + f.pairs.len()) * 160
}

fn narratives_weight(sections: &[NarrativeSection]) -> usize {
    sections
        .iter()
        .map(|s| {
            256 + s
                .entries
                .iter()
                .map(|e| 72 + e.text.len() + e.unit_code.len() + e.unit_name.len())
                .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> Key {
        Key {
            period: Uuid::from_u128(n),
            root: Uuid::from_u128(1),
            include_submitted: false,
            with_units: true,
        }
    }

    #[test]
    fn a_value_is_served_only_under_its_fingerprint() {
        let mut lru = Lru::new(1000);
        lru.put(key(1), "a".into(), Arc::new(7), 10);
        assert_eq!(lru.get(&key(1), "a").as_deref(), Some(&7));
        assert_eq!(lru.get(&key(1), "b"), None);
        // A stale entry is dropped at once, so it neither serves nor weighs.
        assert_eq!(lru.get(&key(1), "a"), None);
        assert_eq!(lru.weight, 0);
    }

    #[tokio::test]
    async fn one_computation_per_part_at_a_time_and_idle_gates_go() {
        let cache = CompilationCache::default();
        let first = cache.gate(Part::Figures, key(1));
        let held = first.clone().lock_owned().await;
        // The same part waits; another part or key does not.
        let same = cache.gate(Part::Figures, key(1));
        assert!(same.try_lock().is_err());
        assert!(cache.gate(Part::Narratives, key(1)).try_lock().is_ok());
        assert!(cache.gate(Part::Figures, key(2)).try_lock().is_ok());
        drop(held);
        assert!(same.try_lock().is_ok());
        drop((first, same));
        // Nobody holds the gates now: the next call keeps only its own.
        let _next = cache.gate(Part::Figures, key(3));
        assert_eq!(cache.gates.lock().map(|g| g.len()).unwrap_or(0), 1);
    }

    #[test]
    fn the_least_recently_used_leave_first_when_over_budget() {
        let mut lru = Lru::new(100);
        lru.put(key(1), "f".into(), Arc::new(1), 40);
        lru.put(key(2), "f".into(), Arc::new(2), 40);
        assert!(lru.get(&key(1), "f").is_some());
        lru.put(key(3), "f".into(), Arc::new(3), 40);
        assert!(lru.get(&key(2), "f").is_none(), "the oldest use leaves");
        assert!(lru.get(&key(1), "f").is_some());
        assert!(lru.get(&key(3), "f").is_some());
        assert_eq!(lru.weight, 80);
        // Replacing an entry does not count it twice; a value over budget is not kept.
        lru.put(key(3), "g".into(), Arc::new(4), 40);
        assert_eq!(lru.weight, 80);
        lru.put(key(4), "f".into(), Arc::new(5), 101);
        assert!(lru.get(&key(4), "f").is_none());
        assert_eq!(lru.weight, 80);
    }
}
