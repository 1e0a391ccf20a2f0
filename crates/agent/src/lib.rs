//! The answering side of Zhiku: turns retrieved hits into an answer whose every claim cites
//! a numbered passage, and checks the citations of any answer against those passages.
//!
//! This first part holds what needs no large model: citation parsing and checking, and the
//! extractive answerer (the best sentences of the top passages) that the embedded default
//! runs. Retrieval is `zhiku-index`'s job; HTTP and the terminal are the binary's.

mod citations;
mod extractive;
mod lang;
pub mod llm;

pub use citations::{check_citations, CheckedAnswer, Citation};
pub use extractive::{extractive_answer, ExtractiveOptions};
pub use lang::{detect_language, Language};

use serde::Serialize;

/// How an answer was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerMode {
    /// Sentences copied from the passages (no large model involved).
    Extractive,
}

/// An answer with the sources it actually cites.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub text: String,
    pub citations: Vec<Citation>,
    pub mode: AnswerMode,
    /// Shown to the user with the answer (e.g. that it is extractive).
    pub notice: Option<String>,
    /// True when the passages did not support an answer and the answer says so.
    pub abstained: bool,
}
