//! Zhiku over HTTP: one axum server in front of one [`Engine`]. It authenticates callers,
//! reads and bounds requests, maps them onto engine operations and renders the results as
//! JSON, server-sent events or the OpenAI chat-completions protocol; it also serves the
//! operational routes (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`).
//!
//! It holds no rules about data: who may see what is the engine's business, decided from the
//! [`zhiku_engine::Caller`] built here from the request's credentials.

mod answering;
mod audit_layer;
mod auth;
mod cds_auth;
mod connections;
mod error;
mod metrics;
mod openapi;
mod rate;
mod routes;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;
use zhiku_engine::Engine;

pub use auth::DOORS;
pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use openapi::openapi_json;

/// Bounds read once from `server.*`.
#[derive(Clone)]
pub(crate) struct Limits {
    pub max_body_bytes: usize,
    pub max_upload_bytes: usize,
    pub body_timeout: Duration,
    pub queue_timeout: Duration,
    pub max_history_messages: usize,
    pub log_questions: bool,
}

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub(crate) engine: Arc<Engine>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
    /// Answers being formed at once (`server.max_concurrent_answers`).
    pub(crate) answers: Arc<Semaphore>,
    /// Per-key and sign-in request rates.
    pub(crate) rate: Arc<rate::RateLimiters>,
    /// CDS clients' key sets.
    pub(crate) jwks: Arc<cds_auth::JwksCache>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("TLS (server.tls): {0}")]
    Tls(String),
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Result<Self, ServeError> {
        let s = &engine.config().server;
        let limits = Limits {
            max_body_bytes: s.max_body_bytes,
            max_upload_bytes: s.max_upload_bytes,
            body_timeout: Duration::from_millis(s.body_timeout_ms),
            queue_timeout: Duration::from_millis(s.queue_timeout_ms),
            max_history_messages: s.max_history_messages,
            log_questions: s.log_questions,
        };
        // Both were parsed when the configuration loaded; empty means unlimited.
        let parse_rate = |rate: &str| rate.trim().parse().ok();
        let login_rate = parse_rate(&engine.config().web.login_rate);
        let anonymous_rate = parse_rate(&s.anonymous_rate);
        Ok(Self {
            rate: Arc::new(rate::RateLimiters::new(login_rate, anonymous_rate)),
            jwks: Arc::default(),
            answers: Arc::new(Semaphore::new(s.max_concurrent_answers)),
            metrics: Arc::new(Metrics::new()?),
            engine,
            limits,
        })
    }
}

/// Every route, with its middleware.
pub fn router(state: AppState) -> Router {
    let request_timeout = Duration::from_millis(state.engine.config().server.request_timeout_ms);
    let upload_limit = state.limits.max_upload_bytes;
    // Compressed: the page's files (the first load is bounded), never the answer streams.
    let page = Router::new()
        .route("/", get(routes::web::index))
        .route("/assets/{*path}", get(routes::web::asset))
        .layer(CompressionLayer::new());
    // Every request here leaves an audit record, allowed or refused.
    let clinical = Router::new()
        .route("/api/clinical/v1/search", post(routes::clinical::search))
        .route("/api/clinical/v1/ask", post(routes::clinical::ask))
        .route("/api/clinical/v1/audit", get(routes::clinical::audit))
        .route("/cds-services/{id}", post(routes::cds::call))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_layer::record,
        ));
    Router::new()
        .merge(page)
        .merge(clinical)
        .route("/cds-services", get(routes::cds::discovery))
        .route("/api/mp/v1/login", post(routes::mp::login))
        .route("/api/mp/v1/ask", post(routes::mp::ask))
        .route("/api/mp/v1/spots/nearby", get(routes::mp::nearby))
        .route("/api/mp/v1/spots/{id}", get(routes::mp::spot))
        .route("/api/mp/v1/route", post(routes::mp::route))
        .route(
            "/api/mp/v1/preferences",
            get(routes::mp::preferences).put(routes::mp::set_preferences),
        )
        .route(
            "/api/mp/v1/me",
            axum::routing::delete(routes::mp::delete_me),
        )
        .route("/auth/me", get(routes::web::who))
        .route("/auth/login", post(routes::web::login))
        .route("/auth/logout", post(routes::web::logout))
        .route("/v1/domains", get(routes::api::domains))
        .route("/v1/documents/{id}", get(routes::api::document))
        .route("/v1/conversations", get(routes::api::conversations))
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(routes::ops::openapi))
        .route("/v1/models", get(routes::openai::models))
        .route(
            "/v1/chat/completions",
            post(routes::openai::chat_completions),
        )
        .route("/v1/search", post(routes::api::search))
        .route("/v1/ask", post(routes::api::ask))
        .route("/v1/near", get(routes::api::near))
        .route("/v1/stats", get(routes::api::stats))
        .route(
            "/v1/conversations/{id}",
            get(routes::api::conversation)
                .patch(routes::api::rename_conversation)
                .delete(routes::api::delete_conversation),
        )
        .route(
            "/v1/conversations/{id}/feedback",
            post(routes::api::feedback),
        )
        .route(
            "/admin/ingest",
            post(routes::admin::ingest).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .fallback(routes::ops::not_found)
        .method_not_allowed_fallback(routes::ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            routes::ops::panicked,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets requests in flight (answers being streamed)
/// finish for up to `server.shutdown_grace_ms` before returning. HTTPS when `server.tls` is
/// set (checked before anything is served: a bad certificate is an error here).
pub async fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let server_config = engine.config().server.clone();
    let grace = Duration::from_millis(server_config.shutdown_grace_ms);
    let header_timeout = Duration::from_millis(server_config.header_timeout_ms);
    let app = router(AppState::new(engine)?).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; requests in flight may finish");
        stopping.graceful_shutdown(Some(grace));
    });
    let listener = listener.into_std()?;
    let max = server_config.max_connections;
    let tls = &server_config.tls;
    if tls.enabled() {
        let config = axum_server::tls_rustls::RustlsConfig::from_config(tls::server_config(tls)?);
        let mut server = axum_server::from_tcp_rustls(listener, config)?
            .map(|tls| connections::Limited::new(tls, max))
            .handle(handle);
        connections::bound(server.http_builder(), header_timeout);
        server.serve(app).await?;
    } else {
        let mut server = axum_server::from_tcp(listener)?
            .map(|plain| connections::Limited::new(plain, max))
            .handle(handle);
        connections::bound(server.http_builder(), header_timeout);
        server.serve(app).await?;
    }
    Ok(())
}

/// Binds `addr`, saying which address failed.
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}
