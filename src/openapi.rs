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
                .build(),
        ),
    );
    doc
}

const IDEMPOTENCY_CONFLICT: &str = "IdempotencyConflict";

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
