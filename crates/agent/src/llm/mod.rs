//! A client for the OpenAI-compatible chat-completions protocol, which DeepSeek, Qwen
//! (DashScope compatible mode), GLM, Moonshot, OpenAI, vLLM, Ollama and llama.cpp's server
//! all speak: streamed (server-sent events) or whole, with connect / first-token / total
//! timeouts and jittered retries that honour `Retry-After` but never repeat an answer the
//! user has already started reading.
//!
//! Neither the key nor any message text is ever logged: questions may hold patient data.

mod retry;
mod sse;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::timeout_at;
use zhiku_core::LlmConfig;

use sse::{SseDecoder, SseEvent};

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system",
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user",
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant",
            content: content.into(),
        }
    }
}

/// What a model call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    /// Stream events that were not chat-completion chunks, skipped.
    pub malformed_events: usize,
    /// The model stopped at `max_tokens` (`finish_reason: length`): the answer may be cut.
    pub truncated: bool,
    /// Requests sent, retries included.
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("environment variable {0} (llm.api_key_env) is not set")]
    MissingKey(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("cannot reach the model endpoint: {0}")]
    Connect(String),
    #[error("the model sent nothing within the first-token timeout ({0} ms)")]
    FirstTokenTimeout(u64),
    #[error("the model's answer exceeded the total timeout ({0} ms)")]
    TotalTimeout(u64),
    #[error("the model endpoint answered HTTP {status}: {message}")]
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("the model's answer was not valid UTF-8")]
    InvalidUtf8,
    #[error("the model's answer was empty")]
    Empty,
    #[error("the model's response was not understood: {0}")]
    Protocol(String),
    #[error("the connection to the model broke mid-answer: {0}")]
    Interrupted(String),
    #[error("the model reported an error mid-answer: {0}")]
    Upstream(String),
}

impl LlmError {
    /// Worth another try: overload, server trouble, network trouble. Not: our own mistakes
    /// (4xx other than 429) and answers that were received but unusable.
    fn retryable(&self) -> bool {
        match self {
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            LlmError::Connect(_)
            | LlmError::FirstTokenTimeout(_)
            | LlmError::Interrupted(_)
            | LlmError::Upstream(_) => true,
            _ => false,
        }
    }
}

/// A configured chat-completions endpoint.
pub struct ChatClient {
    http: reqwest::Client,
    url: String,
    key: Option<String>,
    cfg: LlmConfig,
}

impl std::fmt::Debug for ChatClient {
    // Hand-written so that the key can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("url", &self.url)
            .field("model", &self.cfg.model)
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    stream: bool,
    temperature: f32,
    max_tokens: usize,
}

impl ChatClient {
    /// Reads the key from the environment variable the configuration names.
    pub fn new(cfg: &LlmConfig) -> Result<Self, LlmError> {
        let key = match cfg.api_key_env.trim() {
            "" => None,
            var => Some(
                std::env::var(var)
                    .ok()
                    .filter(|k| !k.trim().is_empty())
                    .ok_or_else(|| LlmError::MissingKey(var.to_string()))?,
            ),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .build()
            .map_err(|e| LlmError::Client(e.to_string()))?;
        let url = format!("{}/chat/completions", cfg.base_url.trim_end_matches('/'));
        Ok(Self {
            http,
            url,
            key,
            cfg: cfg.clone(),
        })
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// Sends `messages`; each piece of the answer goes to `on_delta` as it arrives (once, with
    /// the whole text, when not streaming). Retries only while nothing has been delivered.
    pub async fn chat(
        &self,
        messages: &[ChatMessage],
        stream: bool,
        max_tokens: usize,
        mut on_delta: impl FnMut(&str),
    ) -> Result<Completion, LlmError> {
        let started = Instant::now();
        let total = Duration::from_millis(self.cfg.total_timeout_ms);
        let body = self.body(messages, stream, max_tokens);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut delivered = false;
            let result = self
                .attempt(&body, started + total, &mut |d: &str| {
                    delivered = true;
                    on_delta(d)
                })
                .await;
            let err = match result {
                Ok(mut c) => {
                    c.attempts = attempt;
                    return Ok(c);
                }
                Err(e) => e,
            };
            if delivered || !err.retryable() || attempt > self.cfg.max_retries {
                return Err(err);
            }
            let wait = match &err {
                LlmError::Status {
                    retry_after: Some(w),
                    ..
                } => *w,
                _ => retry::backoff(Duration::from_millis(self.cfg.backoff_ms), attempt - 1),
            };
            // A server asking for more than the time left gets no second try.
            if started.elapsed().saturating_add(wait) >= total {
                return Err(err);
            }
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %err, "model call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One whole (non-streamed) answer, one attempt, within the first-token timeout: for
    /// side calls such as rewriting a follow-up, which must not hold the user up when the
    /// model is down.
    pub async fn quick(
        &self,
        messages: &[ChatMessage],
        max_tokens: usize,
    ) -> Result<Completion, LlmError> {
        let body = self.body(messages, false, max_tokens);
        let deadline = Instant::now() + Duration::from_millis(self.cfg.first_token_timeout_ms);
        self.attempt(&body, deadline, &mut |_| {}).await
    }

    fn body<'a>(
        &'a self,
        messages: &'a [ChatMessage],
        stream: bool,
        max_tokens: usize,
    ) -> RequestBody<'a> {
        RequestBody {
            model: &self.cfg.model,
            messages,
            stream,
            temperature: self.cfg.temperature,
            max_tokens,
        }
    }

    /// One request, to be finished by `deadline`.
    async fn attempt(
        &self,
        body: &RequestBody<'_>,
        deadline: Instant,
        on_delta: &mut impl FnMut(&str),
    ) -> Result<Completion, LlmError> {
        let now = Instant::now();
        let total_deadline = tokio::time::Instant::from_std(deadline);
        let first_deadline = total_deadline.min(tokio::time::Instant::from_std(
            now + Duration::from_millis(self.cfg.first_token_timeout_ms),
        ));
        let timed_out = || {
            if tokio::time::Instant::now() >= total_deadline {
                LlmError::TotalTimeout(self.cfg.total_timeout_ms)
            } else {
                LlmError::FirstTokenTimeout(self.cfg.first_token_timeout_ms)
            }
        };
        let mut req = self.http.post(&self.url).json(body);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        // A whole (non-streamed) answer has no first token before its end.
        let header_deadline = if body.stream {
            first_deadline
        } else {
            total_deadline
        };
        let resp = match timeout_at(header_deadline, req.send()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => return Err(LlmError::Connect(describe(&e))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry::retry_after);
            let text = match timeout_at(total_deadline, resp.bytes()).await {
                Ok(Ok(b)) => String::from_utf8_lossy(&b).into_owned(),
                _ => String::new(),
            };
            return Err(LlmError::Status {
                status: status.as_u16(),
                message: error_message(&text),
                retry_after,
            });
        }
        // A server that ignores `"stream": true` answers with one JSON body: take it whole.
        let json_body = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !body.stream || json_body {
            let bytes = match timeout_at(total_deadline, resp.bytes()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => return Err(LlmError::Interrupted(describe(&e))),
                Ok(Ok(b)) => b,
            };
            let text = std::str::from_utf8(&bytes).map_err(|_| LlmError::InvalidUtf8)?;
            let (content, finish) = whole_answer(text)?;
            if content.trim().is_empty() {
                return Err(LlmError::Empty);
            }
            on_delta(&content);
            return Ok(Completion {
                text: content,
                malformed_events: 0,
                truncated: finish.as_deref() == Some("length"),
                attempts: 1,
            });
        }
        let mut bytes = resp.bytes_stream();
        let mut decoder = SseDecoder::default();
        let mut text = String::new();
        let mut malformed = 0;
        let mut finished = false;
        let mut truncated = false;
        // Text, or a reasoning model's thinking, has started to arrive.
        let mut active = false;
        loop {
            // Before the first sign of life: the first-token deadline. After it: no silence
            // longer than that either (a stalled stream is cut, not waited out to the total).
            let gap = Duration::from_millis(self.cfg.first_token_timeout_ms);
            let deadline = if active {
                total_deadline.min(tokio::time::Instant::now() + gap)
            } else {
                first_deadline
            };
            let (events, eof) = match timeout_at(deadline, bytes.next()).await {
                Err(_) if active && tokio::time::Instant::now() < total_deadline => {
                    return Err(LlmError::Interrupted(format!(
                        "no data for {} ms",
                        self.cfg.first_token_timeout_ms
                    )))
                }
                Err(_) => return Err(timed_out()),
                Ok(Some(Err(e))) => return Err(LlmError::Interrupted(describe(&e))),
                Ok(Some(Ok(chunk))) => (decoder.feed(&chunk), false),
                Ok(None) => (decoder.finish(), true),
            };
            let events = events.map_err(|_| LlmError::InvalidUtf8)?;
            for ev in events {
                match ev {
                    SseEvent::Delta { text: t, finish } => {
                        if !t.is_empty() {
                            text.push_str(&t);
                            on_delta(&t);
                            active = true;
                        }
                        truncated |= finish.as_deref() == Some("length");
                        finished |= finish.is_some();
                    }
                    SseEvent::Thinking => active = true,
                    SseEvent::Done => finished = true,
                    SseEvent::Error(m) => return Err(LlmError::Upstream(m)),
                    SseEvent::Malformed => malformed += 1,
                }
            }
            if finished || eof {
                break;
            }
        }
        if !finished {
            return Err(LlmError::Interrupted(
                "the stream ended before [DONE]".into(),
            ));
        }
        if text.trim().is_empty() {
            return Err(LlmError::Empty);
        }
        Ok(Completion {
            text,
            malformed_events: malformed,
            truncated,
            attempts: 1,
        })
    }
}

/// A reqwest error with its causes, which is where the useful part (refused, reset) is.
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The `error.message` of an OpenAI-style error body, else the body's start.
fn error_message(body: &str) -> String {
    let parsed = serde_json::from_str::<serde_json::Value>(body).ok();
    let msg = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.get("message").and_then(|m| m.as_str()).or(e.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| body.trim().chars().take(200).collect());
    if msg.is_empty() {
        "(no body)".into()
    } else {
        msg
    }
}

/// `choices[0].message.content` and `finish_reason` of a non-streamed response.
fn whole_answer(body: &str) -> Result<(String, Option<String>), LlmError> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| LlmError::Protocol(format!("not JSON: {e}")))?;
    if let Some(e) = v.get("error") {
        if !e.is_null() {
            return Err(LlmError::Upstream(error_message(&v.to_string())));
        }
    }
    let content = v
        .pointer("/choices/0/message/content")
        .map(|c| c.as_str().unwrap_or("").to_string())
        .ok_or_else(|| LlmError::Protocol("no choices[0].message.content".into()))?;
    let finish = v
        .pointer("/choices/0/finish_reason")
        .and_then(|f| f.as_str())
        .map(str::to_string);
    Ok((content, finish))
}
