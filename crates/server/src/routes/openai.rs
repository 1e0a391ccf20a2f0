//! The OpenAI-compatible door: `GET /v1/models` (one model per domain, plus `zhiku` for all)
//! and `POST /v1/chat/completions`, whole or streamed (`data: … [DONE]`), so that any OpenAI
//! client or chat front end can use Zhiku as a model. The messages' history is the
//! conversation (nothing is stored); the answer text carries the `[n]` markers and the cited
//! sources travel in a `zhiku` field of the response (the final chunk when streamed).

use axum::extract::State;
use axum::response::sse::Event;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhiku_engine::{Answer, AnswerEvent, AskInput, Caller, History, Narrowing, Turn};

use crate::answering::{respond, Door};
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
    let door = OpenAiDoor {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        created: now_s(),
        model: req.model,
        text: String::new(),
    };
    respond(state, &caller, input, req.stream, door).await
}

/// `chat.completion`, or `chat.completion.chunk` events ending in `[DONE]`; notices travel
/// in the text, so that a plain chat client shows them too.
struct OpenAiDoor {
    id: String,
    created: u64,
    model: String,
    /// The answer's text so far, notices included.
    text: String,
}

impl OpenAiDoor {
    fn chunk(
        &self,
        delta: serde_json::Value,
        finish: Option<&str>,
        extra: Option<serde_json::Value>,
    ) -> Event {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        if let Some(x) = extra {
            c["zhiku"] = x;
        }
        Event::default().data(c.to_string())
    }
}

impl Door for OpenAiDoor {
    const LABEL: &'static str = "openai";
    type Body = serde_json::Value;

    fn streaming(&mut self) -> Option<Event> {
        Some(self.chunk(json!({"role": "assistant", "content": ""}), None, None))
    }

    fn event(&mut self, e: AnswerEvent) -> Option<Event> {
        let added = match e {
            AnswerEvent::Text { text } => text,
            AnswerEvent::Notice { text } => notice_text(&text, !self.text.is_empty()),
            _ => return None,
        };
        self.text.push_str(&added);
        Some(self.chunk(json!({"content": added}), None, None))
    }

    async fn whole(&mut self, _: &AppState, _: &Caller, a: Answer) -> Result<Self::Body, ApiError> {
        Ok(json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.text.trim()},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "zhiku": extras(&a),
        }))
    }

    async fn done(&mut self, _: &AppState, _: &Caller, a: Answer) -> Result<Event, ApiError> {
        Ok(self.chunk(json!({}), Some("stop"), Some(extras(&a))))
    }

    fn failed(&mut self, e: &ApiError) -> Event {
        let t = notice_text(&e.message, !self.text.is_empty());
        let error = serde_json::to_value(e.body()).ok();
        self.chunk(json!({"content": t}), Some("stop"), error)
    }

    fn closing(&mut self) -> Option<Event> {
        Some(Event::default().data("[DONE]"))
    }
}
