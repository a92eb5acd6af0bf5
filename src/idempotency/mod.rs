//! `Idempotency-Key` on POST, as the IETF httpapi draft and Stripe define it: the first
//! response to a key is stored and replayed to every retry (status and body alike); the
//! same key with another request is a 422; a duplicate still in flight is a 409. Keys
//! are scoped to the caller (the token's subject) and kept at least 24 hours.
//!
//! Only answers of a request that ran are stored (2xx, and conflicts such as an
//! illegal transition): a refusal before it ran — 400, 401, 403, 404, 412, 422, 428,
//! 429 and the like — or a 5xx releases the key, so the corrected retry runs. The
//! fingerprint covers the method, the path and query, the body and `If-Match`.
//! A response marked `Cache-Control: no-store` (tokens, a service client's secret) is
//! recorded without its body, as secrets are never kept: a retry learns that the first
//! request succeeded (409 `idempotent_response_withheld`) but not the secret again.

pub mod store;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;
use store::Claim;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Marks a response that carries a secret (a token, a client secret) `Cache-Control:
/// no-store`: no cache keeps it, and this middleware records it without its body.
pub fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Headers of the first response worth replaying besides the content type.
const KEPT_HEADERS: [HeaderName; 2] = [header::ETAG, header::LOCATION];

/// Stops a lease renewal when the request it belongs to ends or is dropped.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether an answer is the outcome of the request having run, and so what every
/// retry must get again. A refusal before it ran — the caller, the precondition
/// (412, 428), a malformed or invalid request (400, 422), the throttle — and any
/// server failure release the key instead: the corrected retry runs.
fn worth_storing(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(
            status.as_u16(),
            400 | 401 | 403 | 404 | 405 | 406 | 408 | 412 | 413 | 415 | 422 | 428 | 429
        ))
}

fn bad_key(detail: &str) -> ApiError {
    ApiError::bad_request("invalid_idempotency_key", detail.to_string())
}

/// The caller, when its token is valid *and* its account may still act: a stored
/// answer is never replayed to a deactivated account or an ended session. Anything
/// else is left to the handler, which answers 401.
async fn principal_of(req: &ServiceRequest, state: &AppState) -> Option<uuid::Uuid> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let claims = state.jwt.verify(token.trim()).ok()?;
    let principal = state
        .principals
        .get(&state.pool, claims.kind, claims.sub)
        .await
        .ok()??;
    let current = principal.active
        && principal
            .tokens_valid_after
            .is_none_or(|cutoff| claims.issued_at() >= cutoff);
    current.then_some(claims.sub)
}

fn render(req: &ServiceRequest, e: ApiError) -> HttpResponse {
    e.render_for(req.request())
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        Some(v) if req.method() == Method::POST => v.to_str().ok().map(str::to_string),
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    // Keys are opaque strings (the draft suggests a UUID); quotes of a structured-field
    // string are accepted and stripped. A malformed key is refused on every POST, the
    // public ones included, as the document says.
    let key = key.map(|k| k.trim().trim_matches('"').to_string());
    let Some(key) = key.filter(|k| {
        !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..0x7f).contains(&b))
    }) else {
        let res = render(
            &req,
            bad_key("Idempotency-Key must be 1 to 255 visible ASCII characters"),
        );
        return Ok(req.into_response(res));
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // A key whose bearer is unauthenticated is left to the handler, which answers 401.
    let Some(principal) = principal_of(&req, &state).await else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };

    // Every failure is answered as a response, never returned as an `Err`, so that the
    // outer layers (problem rendering, CORS) see it.
    let read = tokio::time::timeout(state.settings.body_timeout, req.extract::<web::Bytes>());
    let payload = match read.await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return Ok(req.error_response(e)),
        Err(_) => {
            let e = crate::extract::body_timeout(state.settings.body_timeout);
            return Ok(req.error_response(e));
        }
    };
    // Everything that changes the outcome: method, path and query, body and the
    // precondition. (The caller is part of the key itself.)
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update([0]);
    hasher.update(req.uri().to_string().as_bytes());
    hasher.update([0]);
    hasher.update(&payload);
    hasher.update([0]);
    if let Some(tag) = req.headers().get(header::IF_MATCH) {
        hasher.update(tag.as_bytes());
    }
    let hash = hasher.finalize().to_vec();
    req.set_payload(actix_http::Payload::from(payload));

    let mut conn = match crate::db::conn(&state.pool).await {
        Ok(c) => c,
        Err(e) => {
            let res = render(&req, e);
            return Ok(req.into_response(res));
        }
    };
    match store::claim(&mut conn, principal, &key, &hash).await {
        Err(e) => {
            let res = render(&req, e);
            return Ok(req.into_response(res));
        }
        Ok(Claim::Mismatch) => {
            let e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            );
            let res = render(&req, e);
            return Ok(req.into_response(res));
        }
        Ok(Claim::InFlight) => {
            let e = ApiError::conflict(
                "idempotency_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .with_header(header::RETRY_AFTER, "1");
            let res = render(&req, e);
            return Ok(req.into_response(res));
        }
        Ok(Claim::Done(stored)) if stored.body.is_none() => {
            let e = ApiError::conflict(
                "idempotent_response_withheld",
                format!(
                    "the request with this Idempotency-Key already succeeded (status {}); \
                     its response held a secret, which is shown only once and never stored",
                    stored.status.unwrap_or(200)
                ),
            )
            .with_extra("first_status", stored.status.unwrap_or(200));
            let res = render(&req, e);
            return Ok(req.into_response(res));
        }
        Ok(Claim::Done(stored)) => {
            let status = stored
                .status
                .and_then(|s| u16::try_from(s).ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let mut builder = HttpResponse::build(status);
            if let Some(ct) = &stored.content_type {
                builder.content_type(ct.as_str());
            }
            if let Some(serde_json::Value::Object(h)) = &stored.headers {
                for (name, value) in h {
                    if let (Ok(n), Some(v)) = (HeaderName::try_from(name.as_str()), value.as_str())
                        && let Ok(v) = HeaderValue::from_str(v)
                    {
                        builder.insert_header((n, v));
                    }
                }
            }
            builder.insert_header((REPLAYED, "true"));
            let res = builder.body(stored.body.unwrap_or_default());
            return Ok(req.into_response(res));
        }
        Ok(Claim::Fresh) => {}
    }
    // The connection goes back to the pool while the handler runs; the key's lease is
    // renewed meanwhile, and the renewal stops with the request, however it ends.
    drop(conn);
    let _heartbeat = Heartbeat(tokio::spawn({
        let (state, key) = (state.clone(), key.clone());
        async move {
            loop {
                tokio::time::sleep(store::HEARTBEAT).await;
                if let Ok(mut conn) = crate::db::conn(&state.pool).await {
                    let _ = store::renew(&mut conn, principal, &key).await;
                }
            }
        }
    }));

    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();

    let mut conn = match crate::db::conn(&state.pool).await {
        Ok(c) => c,
        Err(_) => return Ok(res),
    };
    if !worth_storing(status) {
        let _ = store::release(&mut conn, principal, &key).await;
        return Ok(res);
    }
    // Render problems now, with this request's path and id, so the stored body is the
    // very body the client received.
    let (http_req, response) = res.into_parts();
    let response = match response.error().and_then(|e| e.as_error::<ApiError>()) {
        Some(api) => api.render_for(&http_req),
        None => response,
    };
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut kept = serde_json::Map::new();
    for name in KEPT_HEADERS {
        if let Some(v) = response.headers().get(&name).and_then(|v| v.to_str().ok()) {
            kept.insert(name.to_string(), v.into());
        }
    }
    let secret = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("no-store"));
    let (head, resp_body) = response.into_parts();
    let bytes = body::to_bytes(resp_body).await.unwrap_or_default();
    if let Err(e) = store::complete(
        &mut conn,
        principal,
        &key,
        status.as_u16(),
        content_type.as_deref(),
        &serde_json::Value::Object(kept),
        (!secret).then_some(&bytes[..]),
    )
    .await
    {
        tracing::warn!(error = %e, "could not store the idempotent response");
        let _ = store::release(&mut conn, principal, &key).await;
    }
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(BoxBody::new(bytes)),
    ))
}
