//! A plan's form versions side by side (`/plans/{plan_id}/forms`): which versions
//! exist, who saved them, how many reports use each, and what changed between two.
//!
//! A form that reports use is never changed in place, so a plan collects versions over
//! the year; a coordinator starting next year's plan, or answering a unit that asks why
//! its form looks different, needs to see them without knowing the numbers beforehand.
//! The diff is a pure function over two definitions: it compares every member of a
//! field, list, pair, rule and section by its JSON form, so members added to the form
//! language later are compared without touching this module.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Int4, Int8, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::form::FormDefinition;
use super::routes::readable_plan;
use super::store;
use crate::AppState;
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Page, PageQuery};

/// One saved version of a plan's form, without its definition.
#[derive(QueryableByName, Serialize, ToSchema, Clone, Debug)]
pub struct FormVersionSummary {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Int4)]
    pub version: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// Who saved it (display name).
    #[diesel(sql_type = Text)]
    pub created_by: String,
    /// How many reports (of every period of the plan) are made with this version.
    #[diesel(sql_type = Int8)]
    pub reports: i64,
    /// Whether new reports use it (the highest version).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub current: bool,
}

/// A plan's form versions, newest first, with how many reports use each.
pub async fn list_versions(
    conn: &mut AsyncPgConnection,
    plan_id: Uuid,
) -> ApiResult<Vec<FormVersionSummary>> {
    Ok(diesel::sql_query(
        "SELECT f.id, f.version, f.created_at, f.created_by, \
                (SELECT count(*) FROM reports r WHERE r.form_id = f.id) AS reports, \
                f.version = max(f.version) OVER () AS current \
         FROM forms f WHERE f.plan_id = $1 ORDER BY f.version DESC",
    )
    .bind::<SqlUuid, _>(plan_id)
    .load(conn)
    .await?)
}

/// What kind of form element an entry of a diff is about.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ElementKind {
    Section,
    Field,
    List,
    Pair,
    Rule,
}

/// One element added, removed or changed between two versions.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct DiffEntry {
    pub kind: ElementKind,
    pub code: String,
    /// The repeatable list the element belongs to; null at the top level.
    #[schema(required = true)]
    pub list: Option<String>,
    /// For a changed element, the members that differ (`type`, `required`,
    /// `label_vi`, `max`, `options`, ...); empty for added and removed ones.
    pub members: Vec<String>,
}

/// What changed from version `from` to version `to`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
pub struct FormDiff {
    pub from: i32,
    pub to: i32,
    /// In `to` and not in `from`.
    pub added: Vec<DiffEntry>,
    /// In `from` and not in `to`: values reports hold under these codes are dropped
    /// when a report moves to `to`.
    pub removed: Vec<DiffEntry>,
    /// In both, with different members.
    pub changed: Vec<DiffEntry>,
}

/// Element key: kind, list (None at the top level), code.
type Key = (ElementKind, Option<String>, String);

/// Every element of a definition by key, with its own members as JSON (a section
/// without its fields and list, a list without its fields, pairs and rules: those are
/// elements of their own).
fn elements(form: &FormDefinition) -> BTreeMap<Key, Map<String, Value>> {
    fn members(value: impl Serialize, without: &[&str]) -> Map<String, Value> {
        let mut map = match serde_json::to_value(value) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for key in without {
            map.remove(*key);
        }
        map
    }
    let mut out = BTreeMap::new();
    for section in &form.sections {
        out.insert(
            (ElementKind::Section, None, section.code.clone()),
            members(section, &["fields", "list"]),
        );
        for field in &section.fields {
            out.insert(
                (ElementKind::Field, None, field.code.clone()),
                members(field, &[]),
            );
        }
        if let Some(list) = &section.list {
            let mut list_members = members(list, &["fields", "pairs", "rules"]);
            list_members.insert("section".into(), Value::String(section.code.clone()));
            out.insert((ElementKind::List, None, list.code.clone()), list_members);
            let scope = Some(list.code.clone());
            for field in &list.fields {
                out.insert(
                    (ElementKind::Field, scope.clone(), field.code.clone()),
                    members(field, &[]),
                );
            }
            for pair in &list.pairs {
                out.insert(
                    (ElementKind::Pair, scope.clone(), pair.code.clone()),
                    members(pair, &[]),
                );
            }
            for rule in &list.rules {
                out.insert(
                    (ElementKind::Rule, scope.clone(), rule.code.clone()),
                    members(rule, &[]),
                );
            }
        }
        // A field moved to another section changes its section.
        for field in &section.fields {
            if let Some(m) = out.get_mut(&(ElementKind::Field, None, field.code.clone())) {
                m.insert("section".into(), Value::String(section.code.clone()));
            }
        }
    }
    for pair in &form.pairs {
        out.insert(
            (ElementKind::Pair, None, pair.code.clone()),
            members(pair, &[]),
        );
    }
    for rule in &form.rules {
        out.insert(
            (ElementKind::Rule, None, rule.code.clone()),
            members(rule, &[]),
        );
    }
    out
}

/// The differences between two definitions, by element, in a stable order (kind,
/// list, code).
pub fn diff(
    from_version: i32,
    from: &FormDefinition,
    to_version: i32,
    to: &FormDefinition,
) -> FormDiff {
    let old = elements(from);
    let new = elements(to);
    let entry = |(kind, list, code): &Key, members: Vec<String>| DiffEntry {
        kind: *kind,
        code: code.clone(),
        list: list.clone(),
        members,
    };
    let mut result = FormDiff {
        from: from_version,
        to: to_version,
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
    };
    for (key, before) in &old {
        match new.get(key) {
            None => result.removed.push(entry(key, Vec::new())),
            Some(after) => {
                let mut names: Vec<String> = before
                    .keys()
                    .chain(after.keys())
                    .filter(|k| before.get(*k) != after.get(*k))
                    .cloned()
                    .collect();
                names.sort();
                names.dedup();
                if !names.is_empty() {
                    result.changed.push(entry(key, names));
                }
            }
        }
    }
    for key in new.keys().filter(|k| !old.contains_key(*k)) {
        result.added.push(entry(key, Vec::new()));
    }
    result
}

/// The plan's form versions, newest first: when and by whom each was saved and how
/// many reports use it.
#[utoipa::path(operation_id = "listPlanForms", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), PageQuery), responses((status = 200, body = Page<FormVersionSummary>)))]
#[get("/plans/{plan_id}/forms")]
pub async fn list_forms(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<FormVersionSummary>>> {
    policy::require(&actor, Action::ReadPlans)?;
    let page = q.page()?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    let rows = list_versions(&mut conn, plan.id).await?;
    Ok(web::Json(Page::slice(rows, page)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older version.
    #[param(minimum = 1)]
    pub from: i32,
    /// The newer version.
    #[param(minimum = 1)]
    pub to: i32,
}

/// What changed between two versions of the plan's form: sections, fields, lists,
/// pairs and rules added, removed, or changed (naming the members that differ).
#[utoipa::path(operation_id = "diffPlanForms", tag = "plans", params(("plan_id" = Uuid, Path, description = "Plan id"), DiffQuery), responses((status = 200, body = FormDiff)))]
#[get("/plans/{plan_id}/forms/diff")]
pub async fn diff_forms(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    q: crate::extract::Query<DiffQuery>,
) -> ApiResult<web::Json<FormDiff>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    let from = store::get_form(&mut conn, plan.id, Some(q.from))
        .await?
        .ok_or_else(|| ApiError::not_found("form version"))?;
    let to = store::get_form(&mut conn, plan.id, Some(q.to))
        .await?
        .ok_or_else(|| ApiError::not_found("form version"))?;
    Ok(web::Json(diff(
        from.version,
        &from.definition,
        to.version,
        &to.definition,
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::plans::form::default_form_2024;

    fn entry(kind: ElementKind, list: Option<&str>, code: &str, members: &[&str]) -> DiffEntry {
        DiffEntry {
            kind,
            code: code.into(),
            list: list.map(Into::into),
            members: members.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn a_form_against_itself_has_no_differences() {
        let form = default_form_2024().unwrap();
        let d = diff(1, &form, 2, &form);
        assert!(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty());
    }

    #[test]
    fn added_removed_and_changed_fields_are_named_with_their_members() {
        let old = default_form_2024().unwrap();
        let mut new = old.clone();
        // A top-level field loses its required flag and gets a new label.
        let section = &mut new.sections[0];
        let field = &mut section.fields[0];
        let changed_code = field.code.clone();
        field.required = !field.required;
        field.label_en = "Changed".into();
        // A new field; a list field removed.
        let mut extra = field.clone();
        extra.code = "new_field".into();
        section.fields.push(extra);
        let (list_code, removed_code) = {
            let list = new
                .sections
                .iter_mut()
                .find_map(|s| s.list.as_mut())
                .unwrap();
            (list.code.clone(), list.fields.pop().unwrap().code)
        };
        let d = diff(1, &old, 2, &new);
        assert_eq!(
            d.added,
            vec![entry(ElementKind::Field, None, "new_field", &[])]
        );
        assert_eq!(
            d.removed,
            vec![entry(
                ElementKind::Field,
                Some(&list_code),
                &removed_code,
                &[]
            )]
        );
        assert_eq!(
            d.changed,
            vec![entry(
                ElementKind::Field,
                None,
                &changed_code,
                &["label_en", "required"]
            )]
        );
    }

    #[test]
    fn a_field_moved_to_another_section_changes_its_section() {
        let old = default_form_2024().unwrap();
        let mut new = old.clone();
        let moved = new.sections[0].fields.remove(0);
        let code = moved.code.clone();
        new.sections[1].fields.push(moved);
        let d = diff(1, &old, 2, &new);
        assert!(
            d.changed
                .contains(&entry(ElementKind::Field, None, &code, &["section"]))
        );
        assert!(d.added.is_empty() && d.removed.is_empty());
    }
}
