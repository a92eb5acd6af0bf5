//! `/api/v1/plans/{plan_id}/data-element-codes`: a plan's mapping of its numeric form
//! fields to the data element codes of a national system (DHIS2 and the like), which
//! the ADX export writes. Kept as data per plan, set by the plan's coordinators.

use std::collections::{BTreeMap, HashSet};

use actix_web::{get, put, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::audit::{self, By};
use crate::auth::Actor;
use crate::auth::policy::{self, Action};
use crate::error::{ApiError, ApiResult, Issue};
use crate::plans::form::FormDefinition;
use crate::plans::routes::{plan_event, readable_plan, writable_plan};
use crate::schema::data_element_codes;

/// The most fields one mapping names.
const MAX_CODES: usize = 500;
/// The most disaggregation attributes of one data value.
const MAX_ATTRIBUTES: usize = 8;
/// The longest code or attribute value.
const MAX_ID_LEN: usize = 100;
/// Attribute names ADX gives a meaning of its own on a data value.
const RESERVED_ATTRIBUTES: [&str; 3] = ["dataElement", "value", "annotation"];

/// One field's code in the receiving system.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataElementCode {
    /// A top-level integer, decimal or money field of the plan's current form.
    pub field: String,
    /// The data element's code in the receiving system: an SDMX identifier (letters,
    /// digits, `_`, `@`, `$`, `-`).
    #[schema(pattern = r"^[A-Za-z0-9_@$\-]{1,100}$")]
    pub data_element: String,
    /// The disaggregation the receiving system expects for this value, as ADX writes
    /// it: attributes of the data value, e.g. `{"SEX": "F"}`. Names are XML names
    /// (not `dataElement`, `value` or `annotation`), values SDMX identifiers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// The mapping as a coordinator sets it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataElementCodesInput {
    /// The data set's code in the receiving system (the ADX `dataSet` of every group).
    #[schema(pattern = r"^[A-Za-z0-9_@$\-]{1,100}$")]
    pub data_set: String,
    /// One entry per mapped field (at most 500); unmapped fields are not exported.
    #[schema(max_items = 500)]
    pub codes: Vec<DataElementCode>,
}

/// A plan's mapping of fields to data element codes.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct DataElementCodes {
    pub plan_id: Uuid,
    /// Null until a coordinator sets the mapping.
    #[schema(required = true)]
    pub data_set: Option<String>,
    pub codes: Vec<DataElementCode>,
    /// Bumped by every save; 0 while never set.
    pub version: i32,
    #[schema(required = true)]
    pub updated_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub updated_by: Option<String>,
}

#[derive(Queryable)]
struct Row {
    plan_id: Uuid,
    data_set: String,
    codes: serde_json::Value,
    version: i32,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

impl Row {
    fn into_api(self) -> DataElementCodes {
        DataElementCodes {
            plan_id: self.plan_id,
            data_set: Some(self.data_set),
            // Written by `put_codes` only, after its checks.
            codes: serde_json::from_value(self.codes).unwrap_or_default(),
            version: self.version,
            updated_at: Some(self.updated_at),
            updated_by: Some(self.updated_by),
        }
    }
}

/// The plan's mapping (an empty one, version 0, while never set).
pub async fn get(conn: &mut AsyncPgConnection, plan_id: Uuid) -> ApiResult<DataElementCodes> {
    let row: Option<Row> = data_element_codes::table
        .find(plan_id)
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(Row::into_api).unwrap_or(DataElementCodes {
        plan_id,
        data_set: None,
        codes: Vec::new(),
        version: 0,
        updated_at: None,
        updated_by: None,
    }))
}

/// `count.sum-of-xmin` of the plan's mapping row: moves whenever the mapping does
/// (the ADX export's `ETag` includes it).
pub async fn mark(conn: &mut AsyncPgConnection, plan_id: Uuid) -> ApiResult<String> {
    #[derive(QueryableByName)]
    struct Mark {
        #[diesel(sql_type = diesel::sql_types::Text)]
        mark: String,
    }
    let m: Mark = diesel::sql_query(
        "SELECT count(*) || '.' || coalesce(sum(xmin::text::bigint), 0) AS mark \
         FROM data_element_codes WHERE plan_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(plan_id)
    .get_result(conn)
    .await?;
    Ok(m.mark)
}

/// An SDMX identifier (`IDType`): letters, digits, `_`, `@`, `$` and `-`.
pub fn is_sdmx_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'$' | b'-'))
}

/// An XML attribute name without a namespace prefix, in ASCII.
fn is_attribute_name(s: &str) -> bool {
    s.len() <= 64
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !RESERVED_ATTRIBUTES.contains(&s)
}

/// Every problem of a mapping against the plan's current form, each naming its place.
pub fn check(input: &DataElementCodesInput, form: &FormDefinition) -> Vec<Issue> {
    let id_rule = "an SDMX identifier: 1 to 100 letters, digits, `_`, `@`, `$` or `-`";
    let mut issues = Vec::new();
    if !is_sdmx_id(&input.data_set) {
        issues.push(Issue::new("body.data_set", "invalid_code", id_rule));
    }
    if input.codes.len() > MAX_CODES {
        issues.push(Issue::new(
            "body.codes",
            "too_many_items",
            format!("at most {MAX_CODES} fields"),
        ));
        return issues;
    }
    let mut fields = HashSet::new();
    let mut values = HashSet::new();
    for (i, c) in input.codes.iter().enumerate() {
        let at = |member: &str| format!("body.codes[{i}].{member}");
        match form.field(&c.field) {
            None => issues.push(Issue::new(
                at("field"),
                "unknown_field",
                format!("the plan's form has no top-level field `{}`", c.field),
            )),
            Some(f) if !f.kind.is_numeric() => issues.push(Issue::new(
                at("field"),
                "wrong_type",
                format!(
                    "`{}` is not a number field; ADX carries numbers only",
                    c.field
                ),
            )),
            Some(_) => {}
        }
        if !fields.insert(c.field.as_str()) {
            issues.push(Issue::new(
                at("field"),
                "duplicate",
                format!("`{}` is mapped twice", c.field),
            ));
        }
        if !is_sdmx_id(&c.data_element) {
            issues.push(Issue::new(at("data_element"), "invalid_code", id_rule));
        }
        if c.attributes.len() > MAX_ATTRIBUTES {
            issues.push(Issue::new(
                at("attributes"),
                "too_many_items",
                format!("at most {MAX_ATTRIBUTES} attributes"),
            ));
        }
        for (name, value) in &c.attributes {
            if !is_attribute_name(name) {
                issues.push(Issue::new(
                    at(&format!("attributes.{name}")),
                    "invalid_code",
                    "an XML name of letters, digits, `_`, `-` or `.` (not dataElement, value or annotation)",
                ));
            }
            if !is_sdmx_id(value) {
                issues.push(Issue::new(
                    at(&format!("attributes.{name}")),
                    "invalid_code",
                    id_rule,
                ));
            }
        }
        // Two fields written as the same data value would contradict each other.
        if !values.insert((c.data_element.as_str(), &c.attributes)) {
            issues.push(Issue::new(
                at("data_element"),
                "duplicate",
                format!(
                    "another field is already written as data element {} with the same attributes",
                    c.data_element
                ),
            ));
        }
    }
    issues
}

/// The plan's mapping of form fields to data element codes for the ADX export (an
/// empty mapping, version 0, until one is set).
#[utoipa::path(
    operation_id = "getDataElementCodes",
    tag = "plans",
    params(("plan_id" = Uuid, Path, description = "Plan id")),
    responses((status = 200, body = DataElementCodes))
)]
#[get("/plans/{plan_id}/data-element-codes")]
pub async fn get_codes(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<DataElementCodes>> {
    policy::require(&actor, Action::ReadPlans)?;
    let mut conn = crate::db::conn(&state.pool).await?;
    let plan = readable_plan(&mut conn, &actor, *id).await?;
    Ok(web::Json(get(&mut conn, plan.id).await?))
}

/// Sets the plan's mapping whole: the data set's code and, per numeric field of the
/// plan's current form, its data element code and disaggregation attributes (e.g. the
/// national gender-statistics indicator codes). A field the form lacks, or one that
/// is not a number, is a 422 naming it. The ADX export
/// (`GET /periods/{period_id}/data?format=adx`) writes mapped fields only.
#[utoipa::path(
    operation_id = "setDataElementCodes",
    tag = "plans",
    params(("plan_id" = Uuid, Path, description = "Plan id")),
    request_body = DataElementCodesInput,
    responses(
        (status = 200, body = DataElementCodes),
        (status = 409, description = "The plan has no form yet (`no_form`)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[put("/plans/{plan_id}/data-element-codes")]
pub async fn put_codes(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: crate::extract::Json<DataElementCodesInput>,
) -> ApiResult<web::Json<DataElementCodes>> {
    let input = body.into_inner();
    let by = By::from(&actor);
    let mut conn = crate::db::conn(&state.pool).await?;
    let saved = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let plan = writable_plan(conn, &actor, *id).await?;
            // Held against a form saved meanwhile, as indicators are.
            crate::plans::store::lock_plan_definitions(conn, plan.id).await?;
            let form = crate::plans::store::get_form(conn, plan.id, None)
                .await?
                .ok_or_else(|| ApiError::conflict("no_form", "the plan has no report form yet"))?;
            let issues = check(&input, &form.definition);
            if !issues.is_empty() {
                let n = issues.len();
                return Err(ApiError::validation(
                    format!("{n} problem(s) in the data element codes"),
                    issues,
                ));
            }
            let codes = serde_json::to_value(&input.codes).map_err(ApiError::internal)?;
            let row: Row = diesel::insert_into(data_element_codes::table)
                .values((
                    data_element_codes::plan_id.eq(plan.id),
                    data_element_codes::data_set.eq(&input.data_set),
                    data_element_codes::codes.eq(&codes),
                    data_element_codes::updated_by.eq(&actor.display_name),
                ))
                .on_conflict(data_element_codes::plan_id)
                .do_update()
                .set((
                    data_element_codes::data_set.eq(&input.data_set),
                    data_element_codes::codes.eq(&codes),
                    data_element_codes::version.eq(data_element_codes::version + 1),
                    data_element_codes::updated_at.eq(Utc::now()),
                    data_element_codes::updated_by.eq(&actor.display_name),
                ))
                .get_result(conn)
                .await?;
            audit::append(
                conn,
                &by,
                plan_event(
                    "plan.data_element_codes.save",
                    &plan,
                    json!({ "data_set": input.data_set, "fields": input.codes.len(), "version": row.version }),
                ),
            )
            .await?;
            Ok(row.into_api())
        })
        .await?;
    Ok(web::Json(saved))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(field: &str, element: &str, attrs: &[(&str, &str)]) -> DataElementCode {
        DataElementCode {
            field: field.into(),
            data_element: element.into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_mapping_is_checked_against_the_form_and_the_identifier_rules() {
        let form = crate::plans::form::default_form_2024().unwrap();
        let good = DataElementCodesInput {
            data_set: "GE_CULTURE_ANNUAL".into(),
            codes: vec![
                code("staff_total", "GE_STAFF", &[("SEX", "T")]),
                code("staff_female", "GE_STAFF", &[("SEX", "F")]),
                code("budget_spent_vnd", "GE-BUDGET@SPENT", &[]),
            ],
        };
        assert!(check(&good, &form).is_empty());
        let bad = DataElementCodesInput {
            data_set: "bad set".into(),
            codes: vec![
                code("no_such_field", "X", &[]),
                code("narrative_results", "Y", &[]),
                code("staff_total", "GE STAFF", &[("value", "T")]),
                code("staff_total", "Z", &[]),
                code("staff_female", "Q", &[("SEX", "F")]),
                code("leaders_total", "Q", &[("SEX", "F")]),
            ],
        };
        let got: Vec<(String, String)> = check(&bad, &form)
            .into_iter()
            .map(|i| (i.path, i.code))
            .collect();
        let want: Vec<(String, String)> = [
            ("body.data_set", "invalid_code"),
            ("body.codes[0].field", "unknown_field"),
            ("body.codes[1].field", "wrong_type"),
            ("body.codes[2].data_element", "invalid_code"),
            ("body.codes[2].attributes.value", "invalid_code"),
            ("body.codes[3].field", "duplicate"),
            ("body.codes[5].data_element", "duplicate"),
        ]
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
        assert_eq!(got, want);
    }
}
