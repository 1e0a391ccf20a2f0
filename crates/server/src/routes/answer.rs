//! Forming an answer for any door: a turn among `server.max_concurrent_answers`, metrics, and
//! for streams a task whose events arrive on a channel.

use std::time::Instant;

use tokio::sync::{mpsc, OwnedSemaphorePermit};
use zhiku_engine::{Answer, AnswerEvent, AnswerMode, AskInput, Caller, History};

use crate::error::ApiError;
use crate::AppState;

/// What a streamed answer sends.
pub enum Streamed {
    Event(AnswerEvent),
    Done(Box<Answer>),
    Failed(ApiError),
}

/// A turn to answer, or 429 when none frees up within `server.queue_timeout_ms`.
pub async fn permit(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
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

/// The checks a stream must pass before its `200` is sent: afterwards an error can only be an
/// event.
pub async fn precheck(state: &AppState, caller: &Caller, input: &AskInput) -> Result<(), ApiError> {
    let engine = &state.engine;
    engine.check_query(&input.question)?;
    let mut narrowing = input.narrowing.clone();
    narrowing.domains = input.domain.iter().cloned().collect();
    engine.scope(caller, &narrowing)?;
    if let History::Stored(Some(id)) = &input.history {
        engine.check_conversation(caller, id).await?;
    }
    Ok(())
}

/// Forms one answer, recording its timings; `door` labels the retrieval histogram.
pub async fn answer(
    state: &AppState,
    caller: &Caller,
    input: AskInput,
    door: &'static str,
    mut on_event: impl FnMut(AnswerEvent) + Send,
) -> Result<Answer, ApiError> {
    // Never a clinical question, and never an identifier.
    if state.limits.log_questions && caller.channel() != zhiku_engine::Channel::Clinical {
        let question = state.engine.redact(&input.question).text;
        tracing::info!(question = %question, "question (server.log_questions is on)");
    }
    let m = &state.metrics;
    let started = Instant::now();
    let mut first_text = None;
    let answer = state
        .engine
        .ask(caller, input, |e| {
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
    let mode = match answer.mode {
        AnswerMode::Model => "model",
        AnswerMode::Extractive => "extractive",
    };
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

/// Forms the answer in its own task (it finishes even if the client goes away, so that its
/// turn is stored); events arrive on the returned channel.
pub fn spawn(
    state: AppState,
    caller: Caller,
    input: AskInput,
    door: &'static str,
    permit: OwnedSemaphorePermit,
) -> mpsc::UnboundedReceiver<Streamed> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _permit = permit;
        let events = tx.clone();
        let result = answer(&state, &caller, input, door, move |e| {
            let _ = events.send(Streamed::Event(e));
        })
        .await;
        let _ = tx.send(match result {
            Ok(a) => Streamed::Done(Box::new(a)),
            Err(e) => Streamed::Failed(e),
        });
    });
    rx
}

/// The server-sent event name of an answer event.
pub fn event_name(e: &AnswerEvent) -> &'static str {
    match e {
        AnswerEvent::Started { .. } => "started",
        AnswerEvent::Text { .. } => "text",
        AnswerEvent::Citation { .. } => "citation",
        AnswerEvent::Notice { .. } => "notice",
    }
}
