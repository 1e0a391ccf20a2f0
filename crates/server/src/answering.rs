//! One answer pipeline for every door ([`respond`]): the engine prepares the question (every
//! check, once), the door adds its own check, a turn is taken among
//! `server.max_concurrent_answers`, and the answer is formed with its metrics — sent whole as
//! JSON or as server-sent events. A door only says how its wire looks ([`Door`]).

use std::future::Future;
use std::time::Instant;

use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;
use zhiku_engine::{Answer, AnswerEvent, AnswerMode, AskInput, Caller, Channel, Prepared};

use crate::error::ApiError;
use crate::AppState;

/// How one door writes answers: the default is Zhiku's own events (`started`, `text`,
/// `citation`, `notice`, then `done` with the whole body, or `error`).
pub trait Door: Send + 'static {
    /// The door's label in the metrics.
    const LABEL: &'static str;

    /// The whole answer as this door sends it: the response, or a stream's `done`.
    type Body: Serialize + Send;

    /// The door's own check, after the engine's and before a turn is taken (the
    /// mini-program's content check).
    fn admit(
        &mut self,
        _state: &AppState,
        _prepared: &Prepared,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Ok(()) }
    }

    /// Called once, before anything is sent, when the answer will be a stream: the stream's
    /// first event, if any.
    fn streaming(&mut self) -> Option<Event> {
        None
    }

    /// An answer event as it happens (whole answers too: a door may keep what it needs for
    /// the body); in a stream, what is sent for it.
    fn event(&mut self, e: AnswerEvent) -> Option<Event> {
        json_event(event_name(&e), &e)
    }

    /// The formed answer as this door's body.
    fn whole(
        &mut self,
        state: &AppState,
        caller: &Caller,
        answer: Answer,
    ) -> impl Future<Output = Result<Self::Body, ApiError>> + Send;

    /// A stream's last event for a formed answer.
    fn done(
        &mut self,
        state: &AppState,
        caller: &Caller,
        answer: Answer,
    ) -> impl Future<Output = Result<Event, ApiError>> + Send {
        async move {
            let body = self.whole(state, caller, answer).await?;
            json_event("done", &body).ok_or_else(unserialisable)
        }
    }

    /// A stream's last event when the answer failed.
    fn failed(&mut self, e: &ApiError) -> Event {
        error_event(e)
    }

    /// A stream's outcome, before its last event is sent (a whole response has its
    /// middleware for this); an error here is sent instead of that event.
    fn settle(
        &mut self,
        _state: &AppState,
        _outcome: Result<(), &ApiError>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Ok(()) }
    }

    /// Sent after the last event (OpenAI's `[DONE]`).
    fn closing(&mut self) -> Option<Event> {
        None
    }
}

/// Answers `input` for `caller` through `door`: whole, or streamed when `streamed`.
pub async fn respond<D: Door>(
    state: AppState,
    caller: &Caller,
    input: AskInput,
    streamed: bool,
    mut door: D,
) -> Result<Response, ApiError> {
    let prepared = state.engine.prepare(caller, input).await?;
    door.admit(&state, &prepared).await?;
    let permit = permit(&state).await?;
    if !streamed {
        let _permit = permit;
        let a = answer(&state, prepared, D::LABEL, |e| {
            door.event(e);
        })
        .await?;
        return Ok(Json(door.whole(&state, caller, a).await?).into_response());
    }
    let first = door.streaming();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Some(e) = first {
        let _ = tx.send(e);
    }
    // The answer forms in a task of its own: it finishes (its turn stored, its audit record
    // written) even if the client goes away.
    tokio::spawn(async move {
        let _permit = permit;
        let caller = prepared.caller().clone();
        let events = tx.clone();
        let formed = answer(&state, prepared, D::LABEL, |e| {
            if let Some(event) = door.event(e) {
                let _ = events.send(event);
            }
        })
        .await;
        let last = match formed {
            Ok(a) => door.done(&state, &caller, a).await,
            Err(e) => Err(e),
        };
        let last = match last {
            Ok(event) => door.settle(&state, Ok(())).await.map(|()| event),
            Err(e) => {
                let event = door.failed(&e);
                door.settle(&state, Err(&e)).await.map(|()| event)
            }
        };
        let _ = tx.send(last.unwrap_or_else(|e| door.failed(&e)));
        if let Some(e) = door.closing() {
            let _ = tx.send(e);
        }
    });
    let events = async_stream::stream! {
        while let Some(event) = rx.recv().await {
            yield Ok::<_, std::convert::Infallible>(event);
        }
    };
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A turn to answer, or 429 when none frees up within `server.queue_timeout_ms`.
async fn permit(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(
        state.limits.queue_timeout,
        state.answers.clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(p)) => Ok(p),
        _ => Err(ApiError::busy(
            "every answer slot is busy (server.max_concurrent_answers); try again shortly",
        )),
    }
}

/// Forms one answer, recording its timings; `door` labels the retrieval histogram.
async fn answer(
    state: &AppState,
    prepared: Prepared,
    door: &'static str,
    mut on_event: impl FnMut(AnswerEvent) + Send,
) -> Result<Answer, ApiError> {
    // Never a clinical question; identifiers are already replaced.
    if state.limits.log_questions && prepared.caller().channel() != Channel::Clinical {
        tracing::info!(question = %prepared.question(), "question (server.log_questions is on)");
    }
    let m = &state.metrics;
    let started = Instant::now();
    let mut first_text = None;
    let answer = state
        .engine
        .ask(prepared, |e| {
            match &e {
                // Retrieval (and a follow-up's rewrite) is done when the answer starts.
                AnswerEvent::Started { .. } => m
                    .retrieval_seconds
                    .with_label_values(&[door])
                    .observe(started.elapsed().as_secs_f64()),
                AnswerEvent::Text { .. } if first_text.is_none() => {
                    first_text = Some(started.elapsed().as_secs_f64());
                }
                _ => {}
            }
            on_event(e);
        })
        .await?;
    let mode = answer.mode.as_str();
    if let Some(s) = first_text {
        m.first_token_seconds.with_label_values(&[mode]).observe(s);
    }
    m.answer_seconds
        .with_label_values(&[mode])
        .observe(started.elapsed().as_secs_f64());
    if answer.abstained {
        m.abstentions.inc();
    }
    if answer.mode == AnswerMode::Extractive && state.engine.answer_mode() == AnswerMode::Model {
        m.fallbacks.inc();
    }
    Ok(answer)
}

/// Whether the request asks for server-sent events (`Accept: text/event-stream`).
pub fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"))
}

/// The server-sent event name of an answer event.
fn event_name(e: &AnswerEvent) -> &'static str {
    match e {
        AnswerEvent::Started { .. } => "started",
        AnswerEvent::Text { .. } => "text",
        AnswerEvent::Citation { .. } => "citation",
        AnswerEvent::Notice { .. } => "notice",
    }
}

/// A named event carrying `data` as JSON (nothing if it cannot be written as JSON).
fn json_event(name: &'static str, data: &impl Serialize) -> Option<Event> {
    let data = serde_json::to_string(data).ok()?;
    Some(Event::default().event(name).data(data))
}

/// The `error` event: the same JSON body as an error response.
pub fn error_event(e: &ApiError) -> Event {
    Event::default().event("error").data(e.body_json())
}

fn unserialisable() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "unserialisable",
        "the answer could not be written as JSON",
    )
}
