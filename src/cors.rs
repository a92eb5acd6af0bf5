//! Cross-origin access for browser frontends on other origins.
//!
//! This is the outermost layer, so every answer — success, 304, a problem from a
//! handler, an extractor, the throttle, the idempotency layer or the router's
//! fallback — carries `Access-Control-Allow-Origin` for an allowed origin, and a
//! browser page can read a 401, a 412 or a 422's field errors instead of seeing an
//! opaque network failure. (actix-cors adds nothing to an error that travels as
//! `Err` through the middleware stack.) Origins are an explicit list; requests from
//! others are answered as usual but without the headers, so the browser withholds
//! the answer from the page; a preflight from them is refused outright.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::error::ApiError;

const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// Request headers a page may send beyond the CORS-safelisted ones.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Accept, Accept-Language, If-Match, \
     If-None-Match, Idempotency-Key, X-Request-Id";
/// Response headers a page may read beyond the CORS-safelisted ones.
const EXPOSED_HEADERS: &str = "ETag, Location, Retry-After, X-Request-Id, Content-Disposition, \
     Content-Language, Idempotent-Replayed, WWW-Authenticate, Allow";
const MAX_AGE_SECS: &str = "3600";

fn allowed_origin(req: &ServiceRequest) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    let state = req.app_data::<web::Data<AppState>>()?;
    let text = origin.to_str().ok()?;
    state
        .settings
        .cors_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = allowed_origin(&req);
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let res = match &origin {
            Some(o) => HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o.clone()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS))
                .insert_header((header::VARY, "Origin"))
                .finish(),
            None => ApiError::new(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this origin may not call the API from a browser (GEREPORT_CORS_ORIGINS)",
            )
            .render_for(req.request()),
        };
        return Ok(req.into_response(res));
    }
    let mut res = match next.call(req).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => return Err(e),
    };
    let headers = res.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(o) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    Ok(res)
}
