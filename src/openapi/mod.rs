//! Assembles the OpenAPI 3.1 document from the annotated handlers.
//!
//! Routes are registered once (`crate::routes`); utoipa-actix-web collects their
//! annotations, and `finish` adds what every operation shares — the problem responses
//! and the bearer security requirement — so that no handler can forget them.

use actix_web::App;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa_actix_web::AppExt;

pub(crate) mod examples;

pub use examples::report_2024 as report_example;

use crate::error::{Issue, PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gereport",
        description = "Gender-equality reporting: units submit periodic reports against a form defined as data; \
the coordinating office reviews and compiles them. Errors are RFC 9457 problem details \
(`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, Issue)),
    tags(
        (name = "operations", description = "Liveness, readiness, metrics and this document"),
        (name = "auth", description = "Login, token refresh and the client-credentials grant"),
        (name = "org-units", description = "The organisation tree"),
        (name = "users", description = "People and service clients"),
        (name = "plans", description = "Plans, forms, indicators and periods"),
        (name = "reports", description = "Unit reports and their review workflow"),
        (name = "attachments", description = "Files attached to a unit's report (signed scans, minutes, decisions): streamed uploads typed by their bytes, frozen with the revision on submission"),
        (name = "compilation", description = "Compiled reports and indicator trends"),
        (name = "audit", description = "The append-only audit log"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks): endpoints, their delivery log, redelivery"),
        (name = "notifications", description = "The caller's notifications (in the app and by e-mail) and the reminder schedules of periods"),
    )
)]
struct BaseDoc;

/// Paths anyone may call without a token.
const PUBLIC_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/token",
];

pub const BEARER: &str = "bearer";

/// The complete document as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let doc = finish(generated());
    match polished(&doc) {
        Ok(polished) => polished,
        Err(e) => {
            // A test (`the_polished_document_reads_back`) fails on this before it ships.
            tracing::error!(error = %e, "the polished OpenAPI document does not parse");
            doc
        }
    }
}

/// The document as the annotations make it.
fn generated() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(BaseDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    doc
}

/// The document as pretty JSON with a trailing newline, as checked into `openapi/`.
pub fn document_json() -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(&document())?;
    s.push('\n');
    Ok(s)
}

const SHARED_RESPONSES: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "Malformed request: invalid JSON, query or path parameter",
    ),
    (
        "401",
        "Unauthorized",
        "Missing, invalid or expired access token",
    ),
    (
        "403",
        "Forbidden",
        "The caller's role never allows this action",
    ),
    (
        "404",
        "NotFound",
        "No such object, or outside the caller's scope",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body exceeds the configured limit",
    ),
    ("415", "UnsupportedMediaType", "The body is not JSON"),
    (
        "422",
        "UnprocessableEntity",
        "Values that break the rules; `errors` names every field",
    ),
    (
        "500",
        "InternalError",
        "An unexpected error; it has been logged",
    ),
    (
        "503",
        "ServiceUnavailable",
        "The database is unreachable or too busy (`Retry-After` says when to retry)",
    ),
];

fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "Access token from /api/v1/auth/login or /api/v1/auth/token",
                ))
                .build(),
        ),
    );
    for (status, name, description) in SHARED_RESPONSES {
        let mut response = Response::builder().description(*description).content(
            PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        );
        if *status == "503" {
            response = response.header("Retry-After", retry_after_header());
        }
        components
            .responses
            .insert(name.to_string(), RefOr::T(response.build()));
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC_PATHS.contains(&path.as_str());
        let has_params = path.contains('{');
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            add_shared(op, public, has_params);
        }
        if path.starts_with("/api/v1/")
            && let Some(op) = item.post.as_mut()
        {
            add_idempotency(op);
        }
    }
    components.responses.insert(
        IDEMPOTENCY_CONFLICT.to_string(),
        RefOr::T(
            Response::builder()
                .description(
                    "`idempotency_in_flight`: a request with this Idempotency-Key is still \
                     running (retry after `Retry-After`); `idempotent_response_withheld`: it \
                     already succeeded with a response holding a secret, which is never stored",
                )
                .content(
                    PROBLEM_JSON,
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .header("Retry-After", retry_after_header())
                .build(),
        ),
    );
    doc
}

const IDEMPOTENCY_CONFLICT: &str = "IdempotencyConflict";

/// `Retry-After` in seconds, as the 409 in flight, the 429 and the 503 send it.
fn retry_after_header() -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// Every POST takes `Idempotency-Key` (the middleware in `crate::idempotency`): its
/// header, the replay marker on answers, and the answers about the key itself.
fn add_idempotency(op: &mut Operation) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};

    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the first response to a key is stored (for at least 24 \
             hours, per caller) and replayed to every retry with the same request; the same \
             key with another request is a 422 `idempotency_key_reused`",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    op.parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(key));
    for (status, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(r)) = (status.starts_with('2'), response) {
            r.headers.insert(
                "Idempotent-Replayed".to_string(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .enum_values(Some(["true"])),
                        ))
                        .description(Some("`true` when this is the stored answer to an earlier request with the same Idempotency-Key"))
                        .build(),
                ),
            );
        }
    }
    let responses = &mut op.responses.responses;
    responses
        .entry("409".to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(IDEMPOTENCY_CONFLICT)));
    responses
        .entry("422".to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name("UnprocessableEntity")));
}

fn add_shared(op: &mut Operation, public: bool, has_params: bool) {
    let has_body = op.request_body.is_some();
    if !public && op.security.is_none() {
        op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    }
    for (status, name, _) in SHARED_RESPONSES {
        let wanted = match *status {
            "400" | "500" | "503" => true,
            "401" | "403" => !public,
            "404" => has_params,
            "413" | "415" | "422" => has_body,
            _ => false,
        };
        if wanted {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
        }
    }
}

/// The schema of `Problem`: a plain object whose `code` is the closed list of codes in
/// `crate::error::texts`, with every extra member a problem can carry typed.
pub fn problem_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use crate::error::texts::PROBLEMS;
    let codes: Vec<&str> = PROBLEMS.iter().map(|t| t.code).collect();
    let table: String = PROBLEMS
        .iter()
        .map(|t| format!("\n- `{}` ({}): {}", t.code, t.status, t.meaning_en))
        .collect();
    let schema = serde_json::json!({
        "type": "object",
        "description": "An RFC 9457 problem document, as every error response carries it \
            (`application/problem+json`). `title`, `detail` and each issue's `message` are \
            in Vietnamese when the request asks for it with `Accept-Language: vi`.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "description": "`urn:gereport:problem:<code>`", "examples": ["urn:gereport:problem:not_found"]},
            "title": {"type": "string", "description": "Short summary of the code, in the request's language"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "What went wrong in this request, in the request's language"},
            "instance": {"type": "string", "description": "The request path the problem occurred on"},
            "code": {
                "type": "string",
                "enum": codes,
                "description": format!("Stable machine-readable code; clients branch on this, never on `detail`.{table}"),
            },
            "request_id": {"type": "string", "description": "The request's `X-Request-Id`, for support"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}, "description": "Every failing field, for validation problems"},
            "current_etag": {"type": "string", "description": "`stale_etag`: the report's current ETag"},
            "current_status": {"$ref": "#/components/schemas/ReportStatus", "description": "`illegal_transition`, `not_editable`: the report's current status"},
            "period_status": {"type": "string", "enum": ["open", "locked"], "description": "`period_locked`: the period's status"},
            "first_status": {"type": "integer", "description": "`idempotent_response_withheld`: the status of the first answer"},
            "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Issue"}, "description": "`validation_failed` at submit: the warnings beside the errors"},
            "indicators": {
                "type": "array",
                "description": "`indicator_fields_missing`: each indicator the form would break, and why",
                "items": {
                    "type": "object",
                    "required": ["indicator", "problem", "problem_vi", "code"],
                    "properties": {
                        "indicator": {"type": "string", "description": "The indicator's code"},
                        "problem": {"type": "string"},
                        "problem_vi": {"type": "string"},
                        "code": {"type": "string", "description": "The formula issue code, e.g. `unknown_field`, `formula_type_mismatch`"}
                    }
                }
            },
            "matches": {
                "type": "array",
                "description": "`ambiguous_period_code`: the periods the code names",
                "items": {
                    "type": "object",
                    "required": ["period_id", "plan_id", "name"],
                    "properties": {
                        "period_id": {"type": "string", "format": "uuid"},
                        "plan_id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"}
                    }
                }
            },
            "error": {"type": "string", "description": "`/auth/token`: the code again, under OAuth 2.0's name (RFC 6749 §5.2)"}
        }
    });
    match serde_json::from_value(schema) {
        Ok(s) => utoipa::openapi::RefOr::T(s),
        // The literal above is fixed; a test renders the document, so this never ships.
        Err(_) => utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::default()),
    }
}

/// Response descriptions by status, for answers whose annotation gave none.
fn status_description(status: &str) -> &'static str {
    match status {
        "200" => "Success",
        "201" => "Created; `Location` names the new object",
        "204" => "Done; no body",
        "304" => "Not modified: the representation still matches `If-None-Match`",
        _ => "See the problem's `code`",
    }
}

/// Closed sets the Rust types hold as strings: `(schema, property, values)`.
const ENUMS: &[(&str, &str, &[&str])] = &[
    ("AuditEvent", "actor_kind", &["user", "client", "system"]),
    (
        "AuditEvent",
        "actor_role",
        &["admin", "coordinator", "viewer", "reporter"],
    ),
    (
        "ClientCredentialsRequest",
        "grant_type",
        &["client_credentials"],
    ),
    ("FieldTotal", "type", &["integer", "decimal", "money_vnd"]),
    ("Health", "status", &["ok"]),
    ("PeriodRef", "kind", &["semi_annual", "annual", "ad_hoc"]),
    ("TokenResponse", "token_type", &["Bearer"]),
];

/// The last touches no annotation can express, made on the JSON form of the document:
/// servers, `security: []` on public operations, a description on every response,
/// bounds on paging parameters, binary bodies, closed sets, request examples, and
/// `required` on every member an answer always carries.
///
/// The result must read back into utoipa's types (a member schema with no keyword at
/// all, `{}`, does not); when it does not, the error says where.
fn polished(doc: &utoipa::openapi::OpenApi) -> serde_json::Result<utoipa::openapi::OpenApi> {
    let mut v = serde_json::to_value(doc)?;
    // utoipa writes a free-form map as `additionalProperties: {}` but reads back only
    // `true`; both mean the same.
    free_form_as_true(&mut v);
    v["servers"] = serde_json::json!([
        {"url": "/", "description": "The service that serves this document"},
        {"url": "http://127.0.0.1:8080", "description": "`scripts/run` on this machine"}
    ]);
    // What the service sends to webhook endpoints (OpenAPI 3.1 `webhooks`).
    v["webhooks"] = crate::webhooks::openapi_webhooks();
    let examples = examples::request_examples();
    if let Some(paths) = v.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (_, op) in item.iter_mut() {
                polish_operation(path, op, &examples);
            }
        }
    }
    if let Some(schemas) = v
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(|s| s.as_object_mut())
    {
        for (schema, property, values) in ENUMS {
            if let Some(p) = schemas
                .get_mut(*schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(*property))
            {
                let nullable = p["type"].is_array();
                let mut values: Vec<serde_json::Value> =
                    values.iter().map(|s| serde_json::Value::from(*s)).collect();
                if nullable {
                    values.push(serde_json::Value::Null);
                }
                p["enum"] = serde_json::Value::Array(values);
            }
        }
    }
    require_answer_members(&mut v);
    serde_json::from_value(v)
}

fn polish_operation(
    path: &str,
    op: &mut serde_json::Value,
    examples: &std::collections::HashMap<&'static str, serde_json::Value>,
) {
    if op.get("security").is_none() && PUBLIC_PATHS.contains(&path) {
        op["security"] = serde_json::json!([]);
    }
    if let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) {
        for (status, response) in responses.iter_mut() {
            let missing = response
                .get("description")
                .and_then(|d| d.as_str())
                .is_none_or(str::is_empty);
            if response.get("$ref").is_none() && missing {
                response["description"] = status_description(status).into();
            }
            // A client must be able to find out how long to wait.
            if status == "429" && response.get("$ref").is_none() {
                response["headers"]["Retry-After"] = serde_json::json!({
                    "description": "Seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 1}
                });
            }
            // (`get_mut`, not indexing: indexing a missing member inserts a null.)
            if let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut()) {
                for (media, body) in content.iter_mut() {
                    if is_binary(media) {
                        body["schema"] = serde_json::json!({"type": "string", "format": "binary"});
                    }
                }
            }
        }
    }
    // Uploads (attachments, workbooks) are raw bytes, not JSON arrays of numbers.
    if let Some(content) = op
        .get_mut("requestBody")
        .and_then(|b| b.get_mut("content"))
        .and_then(|c| c.as_object_mut())
    {
        for (media, body) in content.iter_mut() {
            if is_binary(media) {
                body["schema"] = serde_json::json!({"type": "string", "format": "binary"});
            }
        }
    }
    let id = op
        .get("operationId")
        .and_then(|i| i.as_str())
        .unwrap_or_default()
        .to_string();
    if let Some(params) = op.get_mut("parameters").and_then(|p| p.as_array_mut()) {
        for p in params.iter_mut() {
            if p["in"] != "query" {
                continue;
            }
            match p["name"].as_str() {
                Some("limit") => {
                    p["schema"] = serde_json::json!({
                        "type": "integer", "format": "int64",
                        "minimum": 1, "maximum": crate::pagination::MAX_LIMIT,
                        "default": crate::pagination::DEFAULT_LIMIT
                    });
                    p["description"] = "Page size".into();
                }
                Some("offset") => {
                    p["schema"] = serde_json::json!({
                        "type": "integer", "format": "int64", "minimum": 0, "default": 0
                    });
                    p["description"] = "Items to skip".into();
                }
                // The audit's bounds: a day or an instant.
                Some("from" | "to") if id == "listAuditEvents" => {
                    p["schema"] = serde_json::json!({"anyOf": [
                        {"type": "string", "format": "date"},
                        {"type": "string", "format": "date-time"}
                    ]});
                }
                _ => {}
            }
        }
    }
    // Returning and reopening share the accept body's type, but a reason is required.
    if (id == "returnReport" || id == "reopenReport")
        && let Some(body) = op.get_mut("requestBody")
    {
        body["required"] = true.into();
        body["content"]["application/json"]["schema"] = serde_json::json!({
            "type": "object",
            "required": ["reason"],
            "additionalProperties": false,
            "properties": {"reason": {
                "type": "string", "minLength": 1, "pattern": "\\S",
                "description": "Why: shown to the unit and kept in the audit log"
            }}
        });
    }
    if let (Some(example), Some(content)) = (
        examples.get(id.as_str()),
        op.get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
            .and_then(|c| c.as_object_mut()),
    ) {
        for (_, media) in content.iter_mut() {
            media["example"] = example.clone();
        }
    }
}

/// Media types whose bodies are files.
fn is_binary(media: &str) -> bool {
    media.starts_with("application/vnd.openxmlformats") || media == "application/octet-stream"
}

fn free_form_as_true(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            if m.get("additionalProperties")
                .is_some_and(|a| a.as_object().is_some_and(|o| o.is_empty()))
            {
                m.insert("additionalProperties".into(), true.into());
            }
            // A bare `{"type": "object"}` (an audit change, this document) is free-form
            // data; said so, a generated client can read its members.
            let bare_object = m.get("type").is_some_and(|t| t == "object")
                && !m.contains_key("properties")
                && !m.contains_key("additionalProperties")
                && !m.contains_key("allOf")
                && !m.contains_key("oneOf");
            if bare_object {
                m.insert("additionalProperties".into(), true.into());
            }
            m.values_mut().for_each(free_form_as_true);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(free_form_as_true),
        _ => {}
    }
}

/// Names of the component schemas a `$ref` somewhere below `v` points to.
fn refs_below(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(|r| r.as_str())
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                out.insert(name.to_string());
            }
            m.values().for_each(|x| refs_below(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| refs_below(x, out)),
        _ => {}
    }
}

/// Every schema reachable from `roots`, following `$ref`s through the components.
fn closure(
    roots: std::collections::BTreeSet<String>,
    schemas: &serde_json::Map<String, serde_json::Value>,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut next = std::collections::BTreeSet::new();
        if let Some(s) = schemas.get(&name) {
            refs_below(s, &mut next);
        }
        todo.extend(next.into_iter().filter(|n| !seen.contains(n)));
    }
    seen
}

/// Answers serialise every member (absent ones as `null`), so each member of a schema
/// used only in answers is `required`: a generated client types it `T | null`, not
/// `T | null | undefined`. Schemas that requests use too keep their optional members.
/// `Problem` is written by hand (its extras really are optional), and `Compilation`'s
/// parts are absent when `?parts=` leaves them out.
fn require_answer_members(v: &mut serde_json::Value) {
    let mut in_requests = std::collections::BTreeSet::new();
    let mut in_answers = std::collections::BTreeSet::new();
    if let Some(paths) = v.get("paths").and_then(|p| p.as_object()) {
        for item in paths.values() {
            for op in item.as_object().into_iter().flat_map(|m| m.values()) {
                for member in ["requestBody", "parameters"] {
                    if let Some(m) = op.get(member) {
                        refs_below(m, &mut in_requests);
                    }
                }
                if let Some(m) = op.get("responses") {
                    refs_below(m, &mut in_answers);
                }
            }
        }
    }
    let Some(schemas) = v
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    let in_requests = closure(in_requests, schemas);
    let in_answers = closure(in_answers, schemas);
    for name in in_answers.difference(&in_requests) {
        if name == "Problem" || name == "Compilation" {
            continue;
        }
        if let Some(s) = schemas.get_mut(name) {
            require_all(s);
        }
    }
}

fn require_all(s: &mut serde_json::Value) {
    match s {
        serde_json::Value::Object(m) => {
            if let Some(props) = m.get("properties").and_then(|p| p.as_object()) {
                let names: Vec<serde_json::Value> = props
                    .keys()
                    .map(|k| serde_json::Value::from(k.as_str()))
                    .collect();
                m.insert("required".to_string(), serde_json::Value::Array(names));
            }
            m.values_mut().for_each(require_all);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(require_all),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Were the polish to fail, the service would quietly serve the unpolished document
    /// (no servers, examples, webhooks or enums), and the checked-in copy with it.
    #[test]
    fn the_polished_document_reads_back() {
        let doc = finish(generated());
        if let Err(e) = polished(&doc) {
            // Name the schemas that do not read back, which serde's error does not.
            let v = serde_json::to_value(&doc).unwrap();
            let bad: Vec<&String> = v
                .pointer("/components/schemas")
                .and_then(|s| s.as_object())
                .map(|s| {
                    s.iter()
                        .filter(|(_, sc)| {
                            serde_json::from_value::<
                                utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                            >((*sc).clone())
                            .is_err()
                        })
                        .map(|(k, _)| k)
                        .collect()
                })
                .unwrap_or_default();
            panic!("the polished document does not read back: {e}; schemas: {bad:?}");
        }
    }
}
