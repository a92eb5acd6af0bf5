//! Logging, request ids and request metrics.
//!
//! One middleware (`request_context`) wraps every request: it settles the request id
//! (taken from `X-Request-Id` when sane, else a fresh UUIDv7), opens the span every log
//! line of the request is written in, renders any error as problem+json with `instance`
//! and `request_id` filled in, and records the Prometheus metrics. Headers are never
//! logged, so passwords, tokens and the Authorization header stay out of the logs.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use tracing::{Instrument, field};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::AppState;
use crate::config::LogFormat;
use crate::error::{ApiError, Lang, PROBLEM_JSON};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Swagger UI is served from the binary: scripts, styles and the document all come
/// from this origin (its styles set inline attributes, its logo is a data: image).
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; \
     form-action 'self'";

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: tests build many apps in one process; only the first installs.
    let _ = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().compact())
            .try_init(),
    };
}

/// The id of the current request, readable from request extensions by any handler.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Accepts a caller's id only when it is short and plain, so it is safe in logs and headers.
fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| s.to_string())
}

/// Request metrics, exposed in the Prometheus text format at `/metrics`.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_size: IntGauge,
    pool_in_use: IntGauge,
    pool_max: IntGauge,
    pool_waiting: IntGauge,
    webhook_attempts: IntCounterVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template and status",
            ),
            labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route template and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            labels,
        )?;
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections")?;
        let pool_in_use = IntGauge::new(
            "db_pool_connections_in_use",
            "Database connections handed out to requests",
        )?;
        let pool_max = IntGauge::new("db_pool_max_connections", "Configured pool size")?;
        let pool_waiting = IntGauge::new(
            "db_pool_waiting",
            "Requests waiting for a database connection",
        )?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_attempts_total",
                "Webhook delivery attempts by outcome: succeeded, retrying (failed, retried \
                 later) or failed (out of retries)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(webhook_attempts.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_in_use.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(pool_waiting.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            pool_size,
            pool_in_use,
            pool_max,
            pool_waiting,
            webhook_attempts,
        })
    }

    /// Counts one webhook delivery attempt.
    pub fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Renders every metric, reading the pool's state at scrape time.
    pub fn render(&self, pool: &crate::db::Pool) -> anyhow::Result<String> {
        let status = pool.status();
        self.pool_size.set(status.size as i64);
        self.pool_in_use
            .set(status.size.saturating_sub(status.available) as i64);
        self.pool_max.set(status.max_size as i64);
        self.pool_waiting.set(status.waiting as i64);
        let encoder = prometheus::TextEncoder::new();
        Ok(encoder.encode_to_string(&self.registry.gather())?)
    }
}

/// The middleware described in the module documentation.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let default_lang = state
        .as_ref()
        .map_or(Lang::En, |s| s.settings.default_language);
    let lang = Lang::negotiate(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
        default_lang,
    );
    req.extensions_mut().insert(lang);
    let method = req.method().to_string();
    let path = req.path().to_string();
    let is_docs = path.starts_with("/docs");

    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %path,
        route = field::Empty,
    );
    // Handlers' and extractors' errors arrive as responses, and the middlewares inside
    // this one answer with responses too, so every answer passes the rendering below
    // and the CORS layer outside. (Holding a clone of the request to turn an `Err` into
    // a response here is not possible: routing needs the request unshared.)
    let res = next.call(req).instrument(span.clone()).await?;
    let mut res = res.map_into_boxed_body();

    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_string());
    span.record("route", route.as_str());

    // Every error leaves as problem+json carrying the request's path and id.
    let mut replacement = None;
    if let Some(api) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        if api.status.is_server_error() {
            span.in_scope(|| tracing::error!(error = %api, "request failed"));
        }
        replacement = Some(api.render(Some(path.clone()), Some(request_id.clone()), lang));
    }
    let status = res.status();
    if replacement.is_none() && (status.is_client_error() || status.is_server_error()) {
        let is_problem = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(PROBLEM_JSON));
        if !is_problem {
            // A framework error's own text is not for clients (it can quote parser
            // internals); the code's sentence is, and the cause goes to the log.
            if let Some(e) = res.response().error() {
                span.in_scope(|| tracing::info!(error = %e, "framework error"));
            }
            let code = match status.as_u16() {
                404 => "not_found",
                405 => "method_not_allowed",
                408 => "body_timeout",
                413 => "body_too_large",
                415 => "unsupported_media_type",
                s if s >= 500 => "internal_error",
                _ => "bad_request",
            };
            let detail =
                crate::error::texts::problem(code).map_or("the request failed", |t| t.meaning_en);
            replacement = Some(ApiError::new(status, code, detail).render(
                Some(path),
                Some(request_id.clone()),
                lang,
            ));
        }
    }
    if let Some(new) = replacement {
        res = res.into_response(new);
    }

    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    // Browsers must not guess a type other than the one sent (a JSON body read as HTML).
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The documentation page runs only its own (vendored) scripts and is never framed.
    if is_docs {
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_CSP),
        );
        res.headers_mut()
            .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = &state {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_filtered() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(sane_request_id(&ok).as_deref(), Some("abc-123_x.y:z"));
        for bad in ["", "has space", "quote\"", "semi;colon"] {
            let v = HeaderValue::from_str(bad).unwrap_or(HeaderValue::from_static(""));
            assert_eq!(sane_request_id(&v), None, "{bad:?}");
        }
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap_or(HeaderValue::from_static(""));
        assert_eq!(sane_request_id(&long), None);
    }
}
