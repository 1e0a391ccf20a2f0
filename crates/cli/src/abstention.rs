//! How often the agent's relevance check abstains, measured on an eval set: on the questions
//! as asked (answerable: abstaining is a miss); on the same questions with every passage
//! judged relevant removed from the results (their answer is no longer in the corpus, but
//! passages on the same topic are: the hard case, abstaining is right); and on another set's
//! questions (off-topic: abstaining is right); and on questions naming a real entity the
//! corpus never mentions (`--unseen-entities`: abstaining is right). The sweep picks thresholds on pooled sets;
//! tune on dev sets only.

use std::collections::HashSet;

use serde::Serialize;
use zhiku_agent::Relevance;
use zhiku_core::{AgentConfig, Hit};

/// The two relevance readings of one query.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AbstentionSignals {
    pub answerable: Vec<Relevance>,
    pub unanswerable: Vec<Relevance>,
    pub off_topic: Vec<Relevance>,
    /// Questions naming something the corpus never mentions.
    pub unseen: Vec<Relevance>,
}

impl AbstentionSignals {
    /// `hits` must reach deeper than `k` plus the relevant documents.
    pub fn record(&mut self, question: &str, hits: &[Hit], relevant: &HashSet<String>, k: usize) {
        let top: Vec<Hit> = hits.iter().take(k).cloned().collect();
        self.answerable.push(Relevance::assess(question, &top));
        let without: Vec<Hit> = hits
            .iter()
            .filter(|h| !relevant.contains(&h.chunk.doc_id))
            .take(k)
            .cloned()
            .collect();
        self.unanswerable
            .push(Relevance::assess(question, &without));
    }

    /// A question from another set: its answer is not in this corpus.
    pub fn record_off_topic(&mut self, question: &str, hits: &[Hit], k: usize) {
        let top: Vec<Hit> = hits.iter().take(k).cloned().collect();
        self.off_topic.push(Relevance::assess(question, &top));
    }

    /// A question naming an entity this corpus never mentions.
    pub fn record_unseen(&mut self, question: &str, hits: &[Hit], k: usize) {
        let top: Vec<Hit> = hits.iter().take(k).cloned().collect();
        self.unseen.push(Relevance::assess(question, &top));
    }

    pub fn extend(&mut self, other: &AbstentionSignals) {
        self.unseen.extend_from_slice(&other.unseen);
        self.answerable.extend_from_slice(&other.answerable);
        self.unanswerable.extend_from_slice(&other.unanswerable);
        self.off_topic.extend_from_slice(&other.off_topic);
    }

    /// Abstention rates under `cfg`'s thresholds.
    pub fn rates(&self, cfg: &AgentConfig) -> AbstentionRates {
        let rate = |v: &[Relevance]| {
            v.iter().filter(|r| !r.sufficient(cfg)).count() as f64 / v.len().max(1) as f64
        };
        AbstentionRates {
            min_relevance: cfg.min_relevance,
            coverage_weight: cfg.coverage_weight,
            min_term_coverage: cfg.min_term_coverage,
            answerable_abstained: rate(&self.answerable),
            unanswerable_abstained: rate(&self.unanswerable),
            off_topic_abstained: rate(&self.off_topic),
            unseen_abstained: rate(&self.unseen),
            queries: self.answerable.len(),
            off_topic_queries: self.off_topic.len(),
            unseen_queries: self.unseen.len(),
        }
    }

    /// Every other question (`parity` 0 or 1) of each kind: one half of a two-fold check.
    fn half(&self, parity: usize) -> AbstentionSignals {
        let pick = |v: &[Relevance]| -> Vec<Relevance> {
            v.iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == parity)
                .map(|(_, r)| r.clone())
                .collect()
        };
        AbstentionSignals {
            answerable: pick(&self.answerable),
            unanswerable: pick(&self.unanswerable),
            off_topic: pick(&self.off_topic),
            unseen: pick(&self.unseen),
        }
    }

    /// Two-fold check of the sweep at `bound`: thresholds fitted on one half of the
    /// questions, then measured on the other half. One (fitted, unseen) pair per fold.
    pub fn two_fold(&self, bound: f64) -> Vec<(AbstentionRates, AbstentionRates)> {
        (0..2)
            .filter_map(|fold| {
                let fitted = self.half(fold).sweep(&[bound]).pop()?;
                let cfg = AgentConfig {
                    min_relevance: fitted.min_relevance,
                    coverage_weight: fitted.coverage_weight,
                    min_term_coverage: fitted.min_term_coverage,
                    ..AgentConfig::default()
                };
                Some((fitted, self.half(1 - fold).rates(&cfg)))
            })
            .collect()
    }

    /// For each bound on abstaining on answerable questions, the thresholds that abstain
    /// most often on unanswerable ones (the mean of the answer-removed and off-topic rates).
    pub fn sweep(&self, bounds: &[f64]) -> Vec<AbstentionRates> {
        let mut grid = Vec::new();
        for w in [0.0, 0.05, 0.1, 0.15, 0.2, 0.3] {
            for t in 0..=120 {
                for c in 0..=4 {
                    let cfg = AgentConfig {
                        min_relevance: 0.70 + t as f32 * 0.0025,
                        coverage_weight: w,
                        min_term_coverage: c as f32 * 0.05,
                        ..AgentConfig::default()
                    };
                    grid.push(self.rates(&cfg));
                }
            }
        }
        bounds
            .iter()
            .filter_map(|&b| {
                grid.iter()
                    .filter(|r| r.answerable_abstained <= b)
                    .max_by(|x, y| {
                        x.unanswerable_mean()
                            .total_cmp(&y.unanswerable_mean())
                            // Equal: prefer the lower thresholds (fewer surprises).
                            .then(y.min_relevance.total_cmp(&x.min_relevance))
                            .then(y.min_term_coverage.total_cmp(&x.min_term_coverage))
                    })
                    .cloned()
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AbstentionRates {
    pub min_relevance: f32,
    pub coverage_weight: f32,
    pub min_term_coverage: f32,
    /// Share of answerable questions the agent would refuse.
    pub answerable_abstained: f64,
    /// Share of questions whose answer was removed that the agent would refuse.
    pub unanswerable_abstained: f64,
    /// Share of other sets' questions the agent would refuse.
    pub off_topic_abstained: f64,
    /// Share of questions naming an entity the corpus never mentions that it would refuse.
    pub unseen_abstained: f64,
    pub queries: usize,
    pub off_topic_queries: usize,
    pub unseen_queries: usize,
}

impl AbstentionRates {
    fn unanswerable_mean(&self) -> f64 {
        (self.unanswerable_abstained + self.off_topic_abstained) / 2.0
    }
}

/// A share with its 95% margin (normal approximation, the share floored at half a question
/// so that 0 of n still shows its uncertainty).
fn with_margin(p: f64, n: usize) -> String {
    let n = n.max(1) as f64;
    let q = p.clamp(0.5 / n, 1.0 - 0.5 / n);
    format!("{p:.3} ± {:.3}", 1.96 * (q * (1.0 - q) / n).sqrt())
}

impl std::fmt::Display for AbstentionRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "| {:.4} | {:.2} | {:.2} | {} | {} | {} | {} | {} / {} / {} |",
            self.min_relevance,
            self.coverage_weight,
            self.min_term_coverage,
            with_margin(self.answerable_abstained, self.queries),
            with_margin(self.unanswerable_abstained, self.queries),
            with_margin(self.off_topic_abstained, self.off_topic_queries),
            if self.unseen_queries == 0 {
                "-".to_string()
            } else {
                with_margin(self.unseen_abstained, self.unseen_queries)
            },
            self.queries,
            self.off_topic_queries,
            self.unseen_queries
        )
    }
}

pub const TABLE_HEAD: &str = "| min relevance | coverage weight | min coverage | refused: answerable (± 95%) | answer removed | off-topic | named entity not in the sources | queries / off-topic / entity |\n|---|---|---|---|---|---|---|---|";
