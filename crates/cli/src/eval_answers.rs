//! `zhiku eval --answers N`: what the configured model writes from the passages, on N
//! questions of a set spread over it, N/2 of them again with their answer's passages taken
//! out, and N/2 questions of another set (off-topic). Each is asked through the agent as a
//! user would (the relevance gate, the prompts, the support check of every sentence), and the
//! figures say how often the answer holds a gold answer, how many of the markers the model
//! wrote point at a passage that supports their sentence, how often the model (or the gate)
//! says the sources do not answer, and how long the first shown text and the whole answer
//! took.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use zhiku_agent::{Agent, Answer, AnswerEvent, AnswerMode, AskRequest};
use zhiku_core::{AgentConfig, Hit, RetrievalMode, SearchFilter};
use zhiku_index::HybridRetriever;

use crate::eval::{percentile, Grades};

/// One question to ask, with what is known of its answer.
pub struct Question<'a> {
    pub text: &'a str,
    pub answers: &'a [String],
    pub relevant: Option<&'a Grades>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct AnswerFigures {
    /// Answerable questions asked, and those with gold answer strings.
    pub answerable: usize,
    pub with_gold: usize,
    /// Share of the latter whose answer contains a gold answer (case-insensitive).
    pub contains_gold: f64,
    /// Shares of the latter whose gold answer is in the first sentence, and in the first 180
    /// characters (markers removed), as for the extractive answer.
    pub first_sentence: f64,
    pub first_180: f64,
    /// Shares of answerable questions: the gate refused before the model; the model said
    /// NO_ANSWER; the model's answer gave way to the extractive one (failure or rejection);
    /// rejected for want of support alone.
    pub gated: f64,
    pub model_no_answer: f64,
    pub fallback: f64,
    pub rejected: f64,
    /// Over the model's answers to answerable questions: checked sentences, those removed,
    /// uncited ones given a marker; markers written and how many point at a supporting passage.
    pub sentences: usize,
    pub sentences_removed: usize,
    pub markers_added: usize,
    pub markers_written: usize,
    pub markers_supported: usize,
    /// Questions asked with every relevant passage taken out, and the share answered "no
    /// answer" (by the gate or the model).
    pub answer_removed: usize,
    pub answer_removed_no_answer: f64,
    pub off_topic: usize,
    pub off_topic_no_answer: f64,
    /// Time to the first text shown (sentences are released whole) and to the whole answer,
    /// over the model's answers.
    pub first_text_ms_p50: f64,
    pub whole_ms_p50: f64,
    pub whole_ms_p90: f64,
}

/// `questions` are the set's (spread over it), `off_topic` another set's.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    agent: &Agent,
    retriever: &HybridRetriever,
    agent_cfg: &AgentConfig,
    domain: &str,
    filter: &SearchFilter,
    passages: usize,
    questions: &[Question<'_>],
    off_topic: &[String],
) -> anyhow::Result<AnswerFigures> {
    let mut f = AnswerFigures::default();
    let (mut first_ms, mut whole_ms) = (Vec::new(), Vec::new());
    let mut gold_hits = 0usize;
    let (mut gold_first, mut gold_lead) = (0usize, 0usize);
    for (i, q) in questions.iter().enumerate() {
        let hits = retrieve(retriever, q.text, filter, passages).await?;
        let asked = ask(agent, q.text, domain, filter, hits).await?;
        let a = &asked.answer;
        f.answerable += 1;
        let gated = !a.relevance.sufficient(agent_cfg);
        f.gated += f64::from(gated);
        if !q.answers.is_empty() {
            f.with_gold += 1;
            let text = a.text.to_lowercase();
            gold_hits += usize::from(q.answers.iter().any(|g| text.contains(&g.to_lowercase())));
            let (first, lead) = crate::eval::lead_of(&text);
            gold_first += usize::from(q.answers.iter().any(|g| first.contains(&g.to_lowercase())));
            gold_lead += usize::from(q.answers.iter().any(|g| lead.contains(&g.to_lowercase())));
        }
        if !gated {
            f.model_no_answer += f64::from(a.abstained && a.mode == AnswerMode::Model);
            f.fallback += f64::from(a.mode == AnswerMode::Extractive);
            f.rejected += f64::from(a.support.rejected);
            f.sentences += a.support.sentences;
            f.sentences_removed += a.support.removed;
            f.markers_added += a.support.markers_added;
            f.markers_written += a.support.markers_written;
            f.markers_supported += a.support.markers_supported;
            if let Some(t) = asked.first_text_ms {
                first_ms.push(t);
            }
            whole_ms.push(asked.whole_ms);
        }
        // Every other question again without the passages that answer it.
        if i % 2 == 0 {
            if let Some(relevant) = q.relevant {
                let without = without_answer(retriever, q.text, filter, passages, relevant).await?;
                let asked = ask(agent, q.text, domain, filter, without).await?;
                f.answer_removed += 1;
                f.answer_removed_no_answer += f64::from(asked.answer.abstained);
            }
        }
    }
    for q in off_topic {
        let hits = retrieve(retriever, q, filter, passages).await?;
        let asked = ask(agent, q, domain, filter, hits).await?;
        f.off_topic += 1;
        f.off_topic_no_answer += f64::from(asked.answer.abstained);
    }
    let share = |x: f64, n: usize| if n == 0 { 0.0 } else { x / n as f64 };
    f.contains_gold = share(gold_hits as f64, f.with_gold);
    f.first_sentence = share(gold_first as f64, f.with_gold);
    f.first_180 = share(gold_lead as f64, f.with_gold);
    f.gated = share(f.gated, f.answerable);
    f.model_no_answer = share(f.model_no_answer, f.answerable);
    f.fallback = share(f.fallback, f.answerable);
    f.rejected = share(f.rejected, f.answerable);
    f.answer_removed_no_answer = share(f.answer_removed_no_answer, f.answer_removed);
    f.off_topic_no_answer = share(f.off_topic_no_answer, f.off_topic);
    first_ms.sort_by(f64::total_cmp);
    whole_ms.sort_by(f64::total_cmp);
    f.first_text_ms_p50 = percentile(&first_ms, 50.0);
    f.whole_ms_p50 = percentile(&whole_ms, 50.0);
    f.whole_ms_p90 = percentile(&whole_ms, 90.0);
    Ok(f)
}

struct Asked {
    answer: Answer,
    first_text_ms: Option<f64>,
    whole_ms: f64,
}

async fn ask(
    agent: &Agent,
    question: &str,
    domain: &str,
    filter: &SearchFilter,
    passages: Vec<Hit>,
) -> anyhow::Result<Asked> {
    let started = Instant::now();
    let mut first_text_ms = None;
    let answer = agent
        .ask(
            AskRequest {
                question: question.to_string(),
                domain: Some(domain.to_string()),
                filter: filter.clone(),
                passages: Some(passages),
                ..AskRequest::default()
            },
            |e| {
                if first_text_ms.is_none() && matches!(e, AnswerEvent::Text { .. }) {
                    first_text_ms = Some(started.elapsed().as_secs_f64() * 1e3);
                }
            },
        )
        .await?;
    Ok(Asked {
        answer,
        first_text_ms,
        whole_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The passages the agent would get. Eval sets are indexed as plain passages (domain
/// `general`), so the agent is handed them rather than searching its domain's own.
async fn retrieve(
    retriever: &HybridRetriever,
    question: &str,
    filter: &SearchFilter,
    k: usize,
) -> anyhow::Result<Vec<Hit>> {
    Ok(retriever
        .search(question, filter, k, RetrievalMode::Hybrid)
        .await?
        .hits)
}

/// The passages the agent would get, with every relevant document's taken out.
async fn without_answer(
    retriever: &HybridRetriever,
    question: &str,
    filter: &SearchFilter,
    k: usize,
    relevant: &Grades,
) -> anyhow::Result<Vec<Hit>> {
    let relevant: HashSet<&String> = relevant.keys().collect();
    let hits = retriever
        .search(question, filter, k + 50, RetrievalMode::Hybrid)
        .await?
        .hits;
    Ok(hits
        .into_iter()
        .filter(|h| !relevant.contains(&h.chunk.doc_id))
        .take(k)
        .collect())
}

/// `n` items spread evenly over `items` (every source of a set gets its share).
pub fn spread<T>(items: &[T], n: usize) -> Vec<&T> {
    if n >= items.len() {
        return items.iter().collect();
    }
    (0..n).map(|i| &items[i * items.len() / n]).collect()
}

pub const TABLE_HEAD: &str = "| set | asked | contains gold | in first sentence / 180 chars | gate refused | model NO_ANSWER | fell back (rejected) | sentences removed / checked | markers added | markers supported / written | no answer: answer removed | no answer: off-topic | first text p50 ms | whole p50 / p90 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|";

pub fn table_row(set: &str, f: &AnswerFigures) -> String {
    format!(
        "| {set} | {} | {:.2} ({} with gold) | {:.2} / {:.2} | {:.2} | {:.2} | {:.2} ({:.2}) | {} / {} | {} | {} / {} | {:.2} of {} | {:.2} of {} | {:.0} | {:.0} / {:.0} |",
        f.answerable,
        f.contains_gold,
        f.with_gold,
        f.first_sentence,
        f.first_180,
        f.gated,
        f.model_no_answer,
        f.fallback,
        f.rejected,
        f.sentences_removed,
        f.sentences,
        f.markers_added,
        f.markers_supported,
        f.markers_written,
        f.answer_removed_no_answer,
        f.answer_removed,
        f.off_topic_no_answer,
        f.off_topic,
        f.first_text_ms_p50,
        f.whole_ms_p50,
        f.whole_ms_p90,
    )
}
