//! Prometheus metrics, and the middleware that gives every request an id, a log line and its
//! counts. Log lines carry route, status and time, never bodies (questions, answers) or keys.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::AppState;

pub const REQUEST_ID: &str = "x-request-id";

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_seconds: HistogramVec,
    pub retrieval_seconds: HistogramVec,
    pub first_token_seconds: HistogramVec,
    pub answer_seconds: HistogramVec,
    pub ingest_documents: IntCounterVec,
    pub abstentions: IntCounter,
    pub fallbacks: IntCounter,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("zhiku".into()), None)?;
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
        };
        let m = Self {
            requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by route and status"),
                &["route", "status"],
            )?,
            request_seconds: histogram(
                "http_request_duration_seconds",
                "Time to the response head, by route",
                &["route"],
            )?,
            retrieval_seconds: histogram(
                "retrieval_duration_seconds",
                "Retrieval (both legs and fusion), by door",
                &["door"],
            )?,
            first_token_seconds: histogram(
                "answer_first_text_seconds",
                "From the question to the first text of the answer, by mode",
                &["mode"],
            )?,
            answer_seconds: histogram(
                "answer_duration_seconds",
                "Whole answers, by mode",
                &["mode"],
            )?,
            ingest_documents: IntCounterVec::new(
                Opts::new("ingest_documents_total", "Documents by ingest outcome"),
                &["outcome"],
            )?,
            abstentions: IntCounter::new(
                "abstentions_total",
                "Answers that said the sources do not answer",
            )?,
            fallbacks: IntCounter::new(
                "model_fallbacks_total",
                "Answers made extractive because the configured model failed",
            )?,
            registry,
        };
        m.registry.register(Box::new(m.requests.clone()))?;
        m.registry.register(Box::new(m.request_seconds.clone()))?;
        m.registry.register(Box::new(m.retrieval_seconds.clone()))?;
        m.registry
            .register(Box::new(m.first_token_seconds.clone()))?;
        m.registry.register(Box::new(m.answer_seconds.clone()))?;
        m.registry.register(Box::new(m.ingest_documents.clone()))?;
        m.registry.register(Box::new(m.abstentions.clone()))?;
        m.registry.register(Box::new(m.fallbacks.clone()))?;
        Ok(m)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("encoding metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Gives the request its id (the client's `x-request-id` if it sent a sane one, else a new
/// UUID), runs it inside a span carrying that id, counts it, and returns the id in the
/// response.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, %method, route = %route);
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .requests
        .with_label_values(&[&route, &status.to_string()])
        .inc();
    state
        .metrics
        .request_seconds
        .with_label_values(&[&route])
        .observe(seconds);
    span.in_scope(|| tracing::info!(status, ms = seconds * 1e3, "served"));
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    response
}
