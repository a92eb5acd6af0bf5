//! `?parts=`: a compilation answered in parts. A city system that wants the figures
//! asks for `parts=indicators,totals` and is spared the narratives (megabytes at city
//! scale); parts left out are neither computed (narratives, tasks, the previous period)
//! nor sent. The JSON names what every answer holds — the unit, the period, what was
//! counted (`reports_included`, `coverage`) — and the members of the parts asked for;
//! the CSV, XLSX and DOCX are whole documents and always hold every part.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::model::*;

/// A part of the compilation's JSON.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `completeness`: who reported, on time or late, and who did not.
    Completeness,
    /// `indicators`, each against its target.
    Indicators,
    /// `totals` of the numeric fields, `pairs` (female shares) and `flags` (yes/no).
    Totals,
    /// `activities` by type and `topics`.
    Activities,
    /// `narratives` by section, with every unit's text.
    Narratives,
    /// `tasks`: the plan's tasks by status.
    Tasks,
    /// `previous`: the previous period's figures.
    Previous,
}

/// The parts a request asked for (every part when it named none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts(Option<BTreeSet<Part>>);

impl Parts {
    pub fn all() -> Self {
        Parts(None)
    }

    pub fn only(parts: &[Part]) -> Self {
        Parts(Some(parts.iter().copied().collect()))
    }

    pub fn has(&self, part: Part) -> bool {
        self.0.as_ref().is_none_or(|set| set.contains(&part))
    }

    /// A stable spelling for the compilation's `ETag`: a partial answer is another
    /// representation than the whole.
    pub fn tag(&self) -> String {
        match &self.0 {
            None => "all".into(),
            Some(set) => set
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// `parts=indicators,totals` (one comma-separated value, OpenAPI `style: form,
/// explode: false`): known part names, at least one.
pub fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Part>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim) {
        let part = Part::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(name))
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "unknown part {name:?}; the parts are completeness, indicators, totals, \
                     activities, narratives, tasks and previous"
                ))
            })?;
        out.push(part);
    }
    Ok(Some(out))
}

/// The compilation's JSON with only the parts asked for.
pub struct Shaped<'a> {
    pub compilation: &'a Compilation,
    pub parts: &'a Parts,
}

impl Serialize for Shaped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (c, has) = (self.compilation, |p| self.parts.has(p));
        let f = &c.figures;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("unit", &c.unit)?;
        m.serialize_entry("include_submitted", &c.include_submitted)?;
        m.serialize_entry("generated_at", &c.generated_at)?;
        m.serialize_entry("period", &f.period)?;
        m.serialize_entry("reports_included", &f.reports_included)?;
        m.serialize_entry("coverage", &f.coverage)?;
        if has(Part::Completeness) {
            m.serialize_entry("completeness", &f.completeness)?;
        }
        if has(Part::Indicators) {
            m.serialize_entry("indicators", &f.indicators)?;
        }
        if has(Part::Totals) {
            m.serialize_entry("totals", &f.totals)?;
            m.serialize_entry("pairs", &f.pairs)?;
            m.serialize_entry("flags", &f.flags)?;
        }
        if has(Part::Activities) {
            m.serialize_entry("activities", &f.activities)?;
            m.serialize_entry("topics", &f.topics)?;
        }
        if has(Part::Narratives) {
            m.serialize_entry("narratives", &c.narratives)?;
        }
        if has(Part::Tasks) {
            m.serialize_entry("tasks", &c.tasks)?;
        }
        if has(Part::Previous) {
            m.serialize_entry("previous", &c.previous)?;
        }
        m.serialize_entry("units", &c.units)?;
        m.end()
    }
}

/// The compiled report of a subtree for a period, as JSON. Every member is there
/// unless `parts` leaves its part out; `unit`, `period`, `include_submitted`,
/// `generated_at`, `reports_included`, `coverage` and `units` always are.
// The schema of `Shaped`'s output; never built.
#[derive(ToSchema)]
#[schema(as = Compilation)]
#[allow(dead_code)]
pub struct CompilationDoc {
    /// The root of the compiled subtree.
    unit: UnitRef,
    /// Whether submitted (not yet accepted) reports are counted.
    include_submitted: bool,
    generated_at: DateTime<Utc>,
    period: PeriodRef,
    /// How many reports the figures are computed over.
    reports_included: i64,
    /// The reports counted out of the units expected, for all the figures.
    coverage: Coverage,
    /// Part `completeness`.
    #[schema(nullable = false, required = false)]
    completeness: Option<Completeness>,
    /// Part `indicators`.
    #[schema(nullable = false, required = false)]
    indicators: Option<Vec<IndicatorResult>>,
    /// Part `totals`.
    #[schema(nullable = false, required = false)]
    totals: Option<Vec<FieldTotal>>,
    /// Part `totals`: female shares of the sex-disaggregated pairs.
    #[schema(nullable = false, required = false)]
    pairs: Option<Vec<PairTotal>>,
    /// Part `totals`: the yes/no fields, each with how many reports answer yes.
    #[schema(nullable = false, required = false)]
    flags: Option<Vec<FlagCount>>,
    /// Part `activities`.
    #[schema(nullable = false, required = false)]
    activities: Option<Vec<ActivityGroup>>,
    /// Part `activities`: the activities by topic (an activity counts under each).
    #[schema(nullable = false, required = false)]
    topics: Option<Vec<ActivityGroup>>,
    /// Part `narratives`.
    #[schema(nullable = false, required = false)]
    narratives: Option<Vec<NarrativeSection>>,
    /// Part `tasks`: the plan's tasks of the period led by units of the subtree.
    #[schema(nullable = false, required = false)]
    tasks: Option<crate::tasks::model::TasksPart>,
    /// Part `previous`: the previous period of the same kind, for comparison; null
    /// when there is none.
    #[schema(value_type = Option<Figures>, required = false)]
    previous: Option<Option<Arc<Figures>>>,
    /// Each included report's own figures, by unit code: only with `?detail=units`
    /// (null otherwise).
    #[schema(required = true)]
    units: Option<Vec<UnitFigures>>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Q {
        #[serde(default, deserialize_with = "comma_list")]
        parts: Option<Vec<Part>>,
    }

    fn parse(q: &str) -> Result<Option<Vec<Part>>, String> {
        crate::extract::parse_query::<Q>(q)
            .map(|q| q.parts)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parts_are_one_comma_separated_value_of_known_names() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(
            parse("parts=indicators,totals").unwrap(),
            Some(vec![Part::Indicators, Part::Totals])
        );
        assert_eq!(parse("parts=previous").unwrap(), Some(vec![Part::Previous]));
        let e = parse("parts=indicators,figures").unwrap_err();
        assert!(e.contains("unknown part \"figures\""), "{e}");
        assert!(parse("parts=").is_err());
    }

    #[test]
    fn only_what_was_asked_is_had_and_the_tag_tells_them_apart() {
        let some = Parts::only(&[Part::Totals, Part::Indicators]);
        assert!(some.has(Part::Totals) && !some.has(Part::Narratives));
        assert!(Parts::all().has(Part::Narratives));
        assert_eq!(
            some.tag(),
            Parts::only(&[Part::Indicators, Part::Totals]).tag()
        );
        assert_ne!(some.tag(), Parts::all().tag());
    }
}
