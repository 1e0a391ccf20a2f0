//! What goes into the agent and what comes out of it: the request, the streamed events, the
//! finished answer and the errors.

use serde::Serialize;
use zhiku_core::{Classification, CoreError, Hit, SearchFilter};
use zhiku_index::IndexError;

use crate::citations::Citation;
use crate::conversation::Turn;
use crate::llm::LlmError;
use crate::prompts::PromptError;
use crate::relevance::Relevance;

/// One question.
#[derive(Debug, Clone, Default)]
pub struct AskRequest {
    pub question: String,
    /// Restrict to one domain (its retrieval settings, prompts and policies apply).
    pub domain: Option<String>,
    /// Who is asking: clearance, metadata filters, distance. Its `domains` is replaced by
    /// `domain` when that is set.
    pub filter: SearchFilter,
    /// The earlier turns, oldest first (at most `agent.history_turns` are used).
    pub history: Vec<Turn>,
    /// The conversation's id, echoed in the events; the agent stores nothing.
    pub conversation_id: Option<String>,
    /// Answer from exactly these passages instead of retrieving: how `zhiku eval --answers`
    /// asks a question with its answer's passages taken out. Never set from a request.
    pub passages: Option<Vec<Hit>>,
}

/// How an answer was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Written by the configured large model from the passages.
    Model,
    /// Sentences copied from the passages (no model configured, or it failed).
    Extractive,
}

impl AnswerMode {
    /// The mode's name on every wire and in the store, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Model => "model",
            AnswerMode::Extractive => "extractive",
        }
    }
}

/// What the user sees, as it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnswerEvent {
    Started {
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation_id: Option<String>,
        /// The stand-alone query retrieval ran.
        query: String,
        mode: AnswerMode,
        passages: usize,
    },
    Text {
        text: String,
    },
    /// A source cited for the first time, sent right after the text that cites it.
    Citation {
        citation: Citation,
    },
    Notice {
        text: String,
    },
}

/// The finished answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The turn's number in its conversation, once stored (feedback names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<i64>,
    pub query: String,
    pub text: String,
    /// Sources actually cited, in order of first citation.
    pub citations: Vec<Citation>,
    pub mode: AnswerMode,
    pub notices: Vec<String>,
    /// The answer says the sources do not answer.
    pub abstained: bool,
    /// Markers that pointed at no passage and were removed.
    pub removed_markers: usize,
    /// What checking a model's sentences against the passages changed (all zero for an
    /// extractive answer, whose sentences are the passages' own).
    pub support: SupportReport,
    pub relevance: Relevance,
    /// The most restricted level among the passages the answer was formed from: whoever
    /// reads this answer later needs that clearance.
    pub level: Classification,
    /// The domains of those passages, sorted: what the answer is about, whatever was asked.
    pub domains: Vec<String>,
    /// Patient identifiers replaced by placeholders in the question before anything else saw
    /// it (set by the engine).
    #[serde(skip_serializing_if = "is_zero")]
    pub redacted_identifiers: usize,
}

/// The sentences of a model's answer against the passages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SupportReport {
    /// Sentences that make a claim (checked).
    pub sentences: usize,
    /// Distinct markers the model wrote in those sentences, and how many of them point at a
    /// passage that supports their sentence.
    pub markers_written: usize,
    pub markers_supported: usize,
    /// Supported sentences the model left without a marker, now citing their passage.
    pub markers_added: usize,
    /// Markers the model wrote that pointed at a passage sharing nothing with the sentence.
    pub markers_moved: usize,
    /// Sentences no passage supports, removed.
    pub removed: usize,
    /// Sentences in the other language than the passages they cite: kept, not checked word
    /// for word (see the notice).
    pub unchecked: usize,
    /// The model's answer was not shown: none of it was supported (the answer is extractive).
    pub rejected: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Answer {
    /// This answer as a turn of its conversation.
    pub fn turn(&self, question: &str) -> Turn {
        Turn {
            question: question.trim().to_string(),
            standalone: self.query.clone(),
            answer: self.text.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Empty or over-long question, unknown domain, bad filter: the caller's to fix.
    #[error(transparent)]
    Invalid(#[from] CoreError),
    // The cause is part of the message and deliberately not a `source`: a chain printer
    // (`{:#}`) would otherwise say it twice.
    #[error("retrieval failed: {0}")]
    Retrieval(IndexError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("language model: {0}")]
    Llm(LlmError),
}

impl From<IndexError> for AgentError {
    fn from(e: IndexError) -> Self {
        AgentError::Retrieval(e)
    }
}

impl From<LlmError> for AgentError {
    fn from(e: LlmError) -> Self {
        AgentError::Llm(e)
    }
}

impl AgentError {
    /// The caller's mistake (a 4xx), as opposed to ours or an upstream's.
    pub fn is_caller_error(&self) -> bool {
        matches!(self, AgentError::Invalid(_))
            || matches!(self, AgentError::Retrieval(IndexError::Core(_)))
    }
}
