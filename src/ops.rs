//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document, and the
//! fallback that answers unknown routes (404) and wrong methods (405) as problems.

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the check passed.
    pub status: &'static str,
}

/// Liveness: 200 while the process runs, whatever the database does.
#[utoipa::path(operation_id = "getHealth", tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Readiness: 200 only when the database answers and no migration is pending.
#[utoipa::path(operation_id = "getReadiness", tag = "operations", responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<web::Json<Health>> {
    let mut conn = crate::db::conn(&state.pool).await?;
    let pending = crate::db::pending_migrations(&mut conn).await?;
    if !pending.is_empty() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "migrations_pending",
            format!(
                "{} migration(s) not applied yet: {}; run `gereport migrate`",
                pending.len(),
                pending.join(", ")
            ),
        ));
    }
    Ok(web::Json(Health { status: "ok" }))
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    operation_id = "getMetrics",
    tag = "operations",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String))
)]
#[get("/metrics")]
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    // With GEREPORT_METRICS_TOKEN set, only a scraper holding it reads the metrics.
    if let Some(expected) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = presented.is_some_and(|p| {
            crate::auth::tokens::hash_secret(p) == crate::auth::tokens::hash_secret(expected)
        });
        if !ok {
            return Err(ApiError::unauthorized(
                "missing_token",
                "the metrics need `Authorization: Bearer <GEREPORT_METRICS_TOKEN>`",
            ));
        }
    }
    let body = state
        .metrics
        .render(&state.pool)
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body))
}

/// This OpenAPI 3.1 document.
#[utoipa::path(operation_id = "getOpenApiDocument", tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

/// `/docs` without the slash: send browsers to the Swagger UI page.
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// Route templates of the API with the methods each accepts, so that a wrong method is
/// told apart from an unknown path.
pub struct RouteTable(Vec<(actix_web::dev::ResourceDef, Vec<Method>)>);

impl RouteTable {
    pub fn from_doc(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let mut methods = Vec::new();
                let ops = [
                    (Method::GET, item.get.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                ];
                for (m, present) in ops {
                    if present {
                        methods.push(m);
                    }
                }
                (actix_web::dev::ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        RouteTable(routes)
    }

    /// The methods of the first route template matching `path`. Templates are in the
    /// document's order, where a literal segment (`/indicators/trend`) sorts before a
    /// parameter (`/indicators/{indicator_id}`), so the literal route answers first.
    pub fn allowed(&self, path: &str) -> Option<&[Method]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, m)| m.as_slice())
    }
}

/// 405 with `Allow` when the path is a known route that does not take this method.
pub fn method_not_allowed(req: &HttpRequest, routes: &RouteTable) -> Option<ApiError> {
    let methods = routes.allowed(req.path())?;
    if methods.contains(req.method()) {
        return None;
    }
    let allow = methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Some(
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed here; use {allow}", req.method()),
        )
        .with_header(header::ALLOW, &allow),
    )
}

/// The app's default service: 405 with `Allow` for a known path, else 404.
pub async fn fallback(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Err(match method_not_allowed(&req, &state.routes) {
        Some(e) => e,
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route matches {}", req.path()),
        ),
    })
}
