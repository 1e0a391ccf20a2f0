//! The answering side of Zhiku: a question becomes an answer whose every claim cites a
//! numbered passage, written by a configured OpenAI-compatible model or, without one (or when
//! it fails), extracted from the passages, and streamed as events.
//!
//! It owns prompts, the model client, citation checking, abstention, conversations and the
//! hooks through which a domain shapes its answers. Retrieval is `zhiku-index`'s job and the
//! domains' rules are their own crates'; HTTP servers and terminals are the binaries': this
//! crate knows no transport but the one it uses to reach the model.

mod agent;
mod answer;
mod answer_type;
mod assembler;
mod budget;
mod citations;
mod conversation;
mod entity;
mod extractive;
mod lang;
pub mod llm;
mod messages;
mod output;
mod prompts;
mod relevance;
mod support;
mod units;

pub use agent::Agent;
pub use answer::{AgentError, Answer, AnswerEvent, AnswerMode, AskRequest, SupportReport};
pub use assembler::width as display_width;
pub use citations::{check_citations, CheckedAnswer, Citation};
pub use conversation::{rule_rewrite, Turn};
pub use extractive::{
    extractive_answer, extractive_answer_with, ExtractiveAnswer, ExtractiveOptions,
};
pub use lang::{detect_language, Language};
pub use messages::redacted as redaction_notice;
pub use messages::search_degraded as search_degraded_notice;
pub use prompts::{PromptSet, PromptSource};
pub use relevance::Relevance;
