//! The OpenAI-compatible door: `GET /v1/models` (one model per domain, plus `zhiku` for all)
//! and `POST /v1/chat/completions`, whole or streamed (`data: … [DONE]`), so that any OpenAI
//! client or chat front end can use Zhiku as a model. The messages' history is the
//! conversation (nothing is stored); the answer text carries the `[n]` markers and the cited
//! sources travel in a `zhiku` field of the response (the final chunk when streamed).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhiku_engine::{Answer, AnswerEvent, AskInput, History, Narrowing, Turn};

use super::answer::{self, Streamed};
use crate::auth::Authed;
use crate::error::{ApiError, ApiJson};
use crate::AppState;

const ALL: &str = "zhiku";

fn model_ids(state: &AppState) -> Vec<String> {
    let mut ids = vec![ALL.to_string()];
    ids.extend(
        state
            .engine
            .registry()
            .names()
            .into_iter()
            // The catch-all domain has no model of its own: `zhiku` covers everything.
            .filter(|d| *d != zhiku_engine::GENERAL_DOMAIN)
            .map(|d| format!("{ALL}-{d}")),
    );
    ids
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize, ToSchema)]
pub struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

/// The models: `zhiku` (every domain) and `zhiku-<domain>`.
#[utoipa::path(get, path = "/v1/models", tag = "openai", responses((status = 200, body = ModelList)))]
pub async fn models(State(state): State<AppState>, Authed(_): Authed) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: model_ids(&state)
            .into_iter()
            .map(|id| Model {
                id,
                object: "model",
                created: 0,
                owned_by: "zhiku",
            })
            .collect(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// `zhiku` or `zhiku-<domain>` (see `/v1/models`).
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    // Other OpenAI parameters (temperature, max_tokens, …) are accepted and ignored: the
    // configured model's settings apply.
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (system messages are ignored: Zhiku's own rules apply).
    pub role: String,
    #[schema(value_type = Object)]
    pub content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

impl ChatMessage {
    fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(t)) => t.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter(|p| p.kind == "text")
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// The domain a model names; 404 for a model that does not exist.
fn domain_of(state: &AppState, model: &str) -> Result<Option<String>, ApiError> {
    if model == ALL {
        return Ok(None);
    }
    if model_ids(state).iter().any(|m| m == model) {
        return Ok(model.strip_prefix("zhiku-").map(str::to_string));
    }
    Err(ApiError::not_found(
        "model_not_found",
        format!(
            "the model {model:?} does not exist; choose one of {}",
            model_ids(state).join(", ")
        ),
    ))
}

/// The question (the last user message) and the history (earlier user/assistant pairs).
fn question_and_history(
    state: &AppState,
    messages: &[ChatMessage],
) -> Result<(String, Vec<Turn>), ApiError> {
    if messages.len() > state.limits.max_history_messages {
        return Err(ApiError::bad_request(
            "too_many_messages",
            format!(
                "{} messages; at most {} (server.max_history_messages)",
                messages.len(),
                state.limits.max_history_messages
            ),
        ));
    }
    let talk: Vec<&ChatMessage> = messages
        .iter()
        .filter(|m| m.role != "system" && m.role != "developer")
        .collect();
    let Some((last, earlier)) = talk.split_last() else {
        return Err(ApiError::bad_request(
            "no_question",
            "messages holds no user message",
        ));
    };
    if last.role != "user" {
        return Err(ApiError::bad_request(
            "no_question",
            "the last message must be the user's question",
        ));
    }
    let mut history = Vec::new();
    let mut pending: Option<String> = None;
    for m in earlier {
        match m.role.as_str() {
            "user" => pending = Some(m.text()),
            "assistant" => {
                if let Some(q) = pending.take() {
                    history.push(Turn {
                        standalone: q.clone(),
                        question: q,
                        answer: m.text(),
                    });
                }
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_role",
                    format!("unsupported message role {other:?} (system, user, assistant)"),
                ))
            }
        }
    }
    Ok((last.text(), history))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the answer adds to the protocol: sources and notices, the mode, abstention.
fn extras(a: &Answer) -> serde_json::Value {
    json!({
        "citations": a.citations,
        "notices": a.notices,
        "mode": a.mode,
        "abstained": a.abstained,
        "query": a.query,
    })
}

/// A notice shown in the text itself, so that a plain chat client shows it too.
fn notice_text(notice: &str, after_text: bool) -> String {
    if after_text {
        format!("\n\n({notice})")
    } else {
        format!("({notice})\n\n")
    }
}

/// Answers like an OpenAI chat model, citing sources with `[n]`.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatRequest, responses(
    (status = 200, description = "chat.completion, or chat.completion.chunk events ending in [DONE]", body = Object),
    (status = 400, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
    (status = 422, body = crate::ErrorBody), (status = 429, body = crate::ErrorBody)))]
pub async fn chat_completions(
    State(state): State<AppState>,
    Authed(caller): Authed,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let domain = domain_of(&state, &req.model)?;
    let (question, history) = question_and_history(&state, &req.messages)?;
    let input = AskInput {
        question,
        domain,
        narrowing: Narrowing::default(),
        history: History::Given(history),
    };
    answer::precheck(&state, &caller, &input).await?;
    let permit = answer::permit(&state).await?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = now_s();
    if !req.stream {
        let _permit = permit;
        let mut text = String::new();
        let a = answer::answer(&state, &caller, input, "openai", |e| match e {
            AnswerEvent::Text { text: t } => text.push_str(&t),
            AnswerEvent::Notice { text: n } => {
                let n = notice_text(&n, !text.is_empty());
                text.push_str(&n);
            }
            _ => {}
        })
        .await?;
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": req.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text.trim()},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "zhiku": extras(&a),
        }))
        .into_response());
    }
    let rx = answer::spawn(state, caller, input, "openai", permit);
    Ok(Sse::new(chunks(rx, id, created, req.model))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn chunks(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Streamed>,
    id: String,
    created: u64,
    model: String,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let chunk =
        move |delta: serde_json::Value, finish: Option<&str>, extra: Option<serde_json::Value>| {
            let mut c = json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            });
            if let Some(x) = extra {
                c["zhiku"] = x;
            }
            Event::default().data(c.to_string())
        };
    async_stream::stream! {
        yield Ok(chunk(json!({"role": "assistant", "content": ""}), None, None));
        let mut shown = false;
        while let Some(item) = rx.recv().await {
            match item {
                Streamed::Event(AnswerEvent::Text { text }) => {
                    shown = true;
                    yield Ok(chunk(json!({"content": text}), None, None));
                }
                Streamed::Event(AnswerEvent::Notice { text }) => {
                    let t = notice_text(&text, shown);
                    yield Ok(chunk(json!({"content": t}), None, None));
                }
                Streamed::Event(_) => {}
                Streamed::Done(a) => {
                    yield Ok(chunk(json!({}), Some("stop"), Some(extras(&a))));
                }
                Streamed::Failed(e) => {
                    let t = notice_text(&e.message, shown);
                    yield Ok(chunk(json!({"content": t}), Some("stop"), Some(json!({
                        "error": {"code": e.code, "message": e.message}
                    }))));
                }
            }
        }
        yield Ok(Event::default().data("[DONE]"));
    }
}
