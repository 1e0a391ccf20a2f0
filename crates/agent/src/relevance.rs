//! Whether retrieval found anything relevant enough to answer from. Two signals, because
//! each fails alone: the dense similarity of the best passage (high for any on-topic text,
//! even when the specific answer is missing) and how much of the question's content the top
//! passages contain (low for paraphrases). They are added, coverage weighted, and compared
//! with one threshold, calibrated on the dev sets (`zhiku eval` sweeps it;
//! docs/evaluation.md). A third check stands apart from the scores: a question naming
//! something no passage mentions is not answered from passages about something else.

use serde::Serialize;
use zhiku_core::{AgentConfig, Hit};

use crate::lang::{content_terms, terms};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relevance {
    /// Best dense-leg score (cosine similarity) among the passages; `None` without a dense leg.
    pub top_dense: Option<f32>,
    /// Share of the question's content terms found in the passages, each term weighted by its
    /// length in characters (a long term is a rarer one).
    pub coverage: f32,
    /// The name the question is about when no passage mentions it ("is it really about
    /// this?"): refused whatever the scores say.
    pub unmentioned: Option<String>,
    /// Whether the best passage's title names what the question is about (故宫 in
    /// "故宫（故宫博物院）"): the passage is about the question's subject, whatever words the
    /// question asks with, so a slightly lower score still answers.
    pub titled: bool,
}

/// How far below `min_relevance` a passage titled with the question's subject may score.
const TITLED_SLACK: f32 = 0.02;

impl Relevance {
    pub fn assess(question: &str, passages: &[Hit]) -> Self {
        let top_dense = passages
            .iter()
            .filter_map(|h| h.dense.map(|d| d.score))
            .max_by(f32::total_cmp);
        let q = {
            let mut q = content_terms(question);
            q.sort();
            q.dedup();
            q
        };
        let mut found = std::collections::HashSet::new();
        for h in passages {
            for t in terms(&h.chunk.text)
                .into_iter()
                .chain(terms(&h.chunk.title))
            {
                found.insert(t);
            }
        }
        let weight = |t: &String| t.chars().count() as f32;
        let total: f32 = q.iter().map(weight).sum();
        let coverage = if total == 0.0 {
            0.0
        } else {
            q.iter()
                .filter(|t| found.contains(*t))
                .map(weight)
                .sum::<f32>()
                / total
        };
        Self {
            top_dense,
            coverage,
            unmentioned: crate::entity::unmentioned(question, passages),
            titled: passages
                .first()
                .is_some_and(|h| crate::entity::subject_in_title(question, &h.chunk.title)),
        }
    }

    /// Enough to answer from, under the configured thresholds.
    pub fn sufficient(&self, cfg: &AgentConfig) -> bool {
        // Without a dense leg only the terms can speak.
        let combined_ok = self.top_dense.is_none_or(|d| {
            let slack = if self.titled { TITLED_SLACK } else { 0.0 };
            d + cfg.coverage_weight * self.coverage >= cfg.min_relevance - slack
        });
        combined_ok && self.coverage >= cfg.min_term_coverage && self.unmentioned.is_none()
    }
}
