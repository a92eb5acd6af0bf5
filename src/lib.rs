//! gereport: the gender-equality reporting service.
//!
//! `Application::build` wires settings, the database pool and every route into an
//! actix-web server bound to a real port (port 0 in tests); `routes` is the one list of
//! endpoints, used both to serve and to generate the OpenAPI document.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod compile;
pub mod config;
pub mod conneg;
pub mod cors;
pub mod db;
pub mod demo;
pub mod demo_2025;
pub mod documents;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod org;
pub mod pagination;
pub mod plans;
pub mod reports;
pub mod schema;
pub mod sheets;
pub mod tasks;
pub mod telemetry;
pub mod users;
pub mod webhooks;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use config::{Environment, Settings};

/// What every request handler can reach.
pub struct AppState {
    pub settings: Settings,
    pub pool: db::Pool,
    pub metrics: telemetry::Metrics,
    pub openapi_json: String,
    pub routes: ops::RouteTable,
    pub jwt: auth::tokens::JwtKeys,
    pub principals: auth::PrincipalCache,
    pub limiter: auth::limiter::LoginLimiter,
    pub forms: plans::cache::FormCache,
    pub compilations: compile::CompilationCache,
    /// Where attachments' bytes are kept.
    pub attachments: attachments::Storage,
}

/// Every endpoint of the service. Register new features here.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .wrap(actix_web::middleware::from_fn(idempotency::middleware))
                .wrap(actix_web::middleware::from_fn(db::retry_lost_reads))
                .service(ops::openapi_json)
                .configure(auth::routes::configure)
                .configure(users::routes::configure)
                .configure(org::routes::configure)
                .configure(documents::routes::configure)
                // Before plans: `/indicators/trend` must win over `/indicators/{id}`.
                .configure(compile::routes::configure)
                .configure(plans::routes::configure)
                .configure(tasks::routes::configure)
                .configure(reports::routes::configure)
                .configure(reports::batch::configure)
                .configure(sheets::routes::configure)
                .configure(attachments::routes::configure)
                .configure(bulk::routes::configure)
                .configure(audit::routes::configure)
                .configure(webhooks::routes::configure)
                .configure(notifications::routes::configure),
        );
}

fn extractor_configs(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit)
            .error_handler(error::extractors::json),
    )
    .app_data(
        web::FormConfig::default()
            .limit(body_limit)
            .error_handler(error::extractors::form),
    )
    .app_data(web::QueryConfig::default().error_handler(error::extractors::query))
    .app_data(web::PathConfig::default().error_handler(error::extractors::path))
    .app_data(web::PayloadConfig::default().limit(body_limit));
}

/// Hourly upkeep: expired idempotency keys and day-old login failures are purged.
fn spawn_housekeeping(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Ok(mut conn) = db::conn(&state.pool).await {
                match idempotency::store::purge_expired(&mut conn).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(purged = n, "expired idempotency keys removed")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging idempotency keys failed"),
                }
                if let Err(e) = auth::limiter::purge_expired(&mut conn).await {
                    tracing::warn!(error = %e, "purging old login failures failed");
                }
            }
        }
    });
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let jwt = auth::tokens::JwtKeys::new(settings.require_jwt_secret()?);
        let pool = db::build_pool(
            &settings.database_url,
            settings.db_pool_size,
            settings.db_timeout,
            settings.statement_limits,
        )?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let doc = openapi::document();
        let routes_table = ops::RouteTable::from_doc(&doc);
        let openapi_json = serde_json::to_string(&doc)?;
        if settings.environment == Environment::Production && settings.cors_origins.is_empty() {
            tracing::info!("no CORS origins configured: browsers on other origins are refused");
        }
        let attachments = attachments::storage(&settings.files)?;
        let state = web::Data::new(AppState {
            settings,
            pool,
            metrics: telemetry::Metrics::new()?,
            openapi_json,
            routes: routes_table,
            jwt,
            principals: auth::PrincipalCache::default(),
            limiter: auth::limiter::LoginLimiter::default(),
            forms: plans::cache::FormCache::default(),
            compilations: compile::CompilationCache::default(),
            attachments,
        });

        spawn_housekeeping(state.clone());
        webhooks::worker::spawn(state.clone());
        notifications::worker::spawn(state.clone());
        attachments::spawn_sweeper(state.clone());
        // The stand-in hash for unknown usernames is made now, not by the first login
        // that needs it (which would otherwise take twice as long as any other).
        tokio::task::spawn_blocking(auth::password::prepare);
        let server_state = state.clone();
        let server = HttpServer::new(move || {
            let state = server_state.clone();
            let body_limit = state.settings.body_limit;
            App::new()
                .app_data(state.clone())
                .configure(|cfg| extractor_configs(cfg, body_limit))
                // Answers are gzipped for clients that accept it: a compilation's
                // narratives and a bulk export shrink tenfold.
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(telemetry::request_context))
                // Outermost, so that every answer passes it (see `cors`).
                .wrap(middleware::from_fn(cors::middleware))
                .into_utoipa_app()
                .configure(routes)
                .into_app()
                .service(
                    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
                )
                .route("/docs", web::get().to(ops::docs_redirect))
                .default_service(web::to(ops::fallback))
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT; in-flight requests are drained before it returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
