//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and the JSON answers for unknown routes.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Part {
    ok: bool,
    /// What it is (vector count, model fingerprint, database kind), or why it failed.
    detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    ready: bool,
    indexes: Part,
    embedding_model: Part,
    database: Part,
    /// Whether a large model is configured; without one, answers are extractive.
    llm_configured: bool,
    llm_model: Option<String>,
}

fn part<T: ToString>(r: Result<T, String>) -> Part {
    match r {
        Ok(v) => Part {
            ok: true,
            detail: v.to_string(),
        },
        Err(e) => Part {
            ok: false,
            detail: e,
        },
    }
}

/// Whether every part answers: indexes, embedding model, database; and which model writes.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Ready, description = "ready"),
    (status = 503, body = Ready, description = "a part is not")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let r = state.engine.readiness().await;
    let body = Ready {
        ready: r.ready,
        // Whether the indexes answer, never how much they hold: /readyz is open to anyone,
        // and a count would include what most callers may not see.
        indexes: part(r.indexes.map(|_| "open".to_string())),
        embedding_model: part(r.embedding_model),
        database: part(r.database),
        llm_configured: r.llm.is_some(),
        llm_model: r.llm,
    };
    let status = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi_json(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}

pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; the request id is in the x-request-id header",
    )
    .into_response()
}
