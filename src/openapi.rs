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
        (name = "compilation", description = "Compiled reports and indicator trends"),
        (name = "audit", description = "The append-only audit log"),
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
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(BaseDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    finish(doc)
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
        "The database is unreachable; retry later",
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
    for (_, name, description) in SHARED_RESPONSES {
        components.responses.insert(
            name.to_string(),
            RefOr::T(
                Response::builder()
                    .description(*description)
                    .content(
                        PROBLEM_JSON,
                        Content::new(Some(Ref::from_schema_name("Problem"))),
                    )
                    .build(),
            ),
        );
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
    }
    doc
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
