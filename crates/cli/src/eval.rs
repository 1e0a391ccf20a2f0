//! `zhiku eval DIR…`: BEIR-style retrieval evaluation of the three modes, the extractive
//! answer, and the agent's abstention (see `abstention`); with several sets, a threshold
//! sweep over all of them.
//!
//! The corpus is ingested into a scratch data directory named after the corpus's content
//! hash (so a second run computes no embeddings), every query is run in each mode, and the
//! chunk hits are turned into a document ranking (first occurrence wins) for the metrics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zhiku_core::{Classification, Config, RetrievalMode, SearchFilter};
use zhiku_ingest::IngestOptions;

use crate::abstention::{self, AbstentionRates, AbstentionSignals};
use crate::app::App;

#[derive(Args)]
pub struct EvalArgs {
    /// Folders with corpus.jsonl, queries.jsonl and qrels.tsv.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Print the figures as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Chunks fetched per query before they are grouped into documents.
    #[arg(long, default_value_t = 50)]
    pub depth: usize,
    /// Only the first N queries (for quick checks).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Deserialize)]
struct Query {
    id: String,
    text: String,
    #[serde(default)]
    answers: Vec<String>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ModeFigures {
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "hit@10")]
    pub hit_10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    #[serde(rename = "answer_hit@5")]
    pub answer_hit_5: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p99: f64,
}

/// Per-query metrics for one ranked list of document ids against the relevant set.
pub fn recall_at(ranked: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|d| relevant.contains(*d))
        .count();
    found as f64 / relevant.len() as f64
}

pub fn ndcg_at(ranked: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, d)| relevant.contains(*d))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|i| 1.0 / ((i + 2) as f64).log2())
        .sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

pub fn mrr_at(ranked: &[String], relevant: &HashSet<String>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|d| relevant.contains(d))
        .map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn read_queries(path: &Path) -> anyhow::Result<Vec<Query>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

fn read_qrels(path: &Path) -> anyhow::Result<HashMap<String, HashSet<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out: HashMap<String, HashSet<String>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 && cols.first() == Some(&"query-id") {
            continue;
        }
        if cols.len() < 3 {
            if line.trim().is_empty() {
                continue;
            }
            bail!(
                "{}:{}: expected query-id, corpus-id, score",
                path.display(),
                i + 1
            );
        }
        if cols[2].trim().parse::<f64>().unwrap_or(0.0) > 0.0 {
            out.entry(cols[0].to_string())
                .or_default()
                .insert(cols[1].to_string());
        }
    }
    Ok(out)
}

/// Scratch data directory for a corpus: its content hash and the chunking settings.
fn scratch_dir(config: &Config, corpus: &Path) -> anyhow::Result<PathBuf> {
    let bytes = std::fs::read(corpus).with_context(|| format!("reading {}", corpus.display()))?;
    let mut h = Sha256::new();
    h.update(&bytes);
    h.update(zhiku_ingest_signature(config).as_bytes());
    let name = corpus
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("corpus");
    Ok(config
        .data_dir
        .join("eval-cache")
        .join(format!("{name}-{}", &hex::encode(h.finalize())[..12])))
}

fn zhiku_ingest_signature(config: &Config) -> String {
    format!("{:?}", config.ingest)
}

pub struct EvalOutcome {
    pub corpus: usize,
    pub queries: usize,
    pub modes: BTreeMap<&'static str, ModeFigures>,
    /// The extractive answerer on the hybrid hits, over queries with gold answers.
    pub extractive: ExtractiveFigures,
    /// The agent's relevance readings, answerable and with the answer removed.
    pub signals: AbstentionSignals,
    /// Abstention under the configured thresholds.
    pub abstention: AbstentionRates,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExtractiveFigures {
    /// Fraction of answers that contain a gold answer string.
    pub answer_hit: f64,
    /// Fraction of answers that said the sources do not answer (no sentence shared terms).
    pub abstained: f64,
    /// As the agent answers: the relevance check may abstain first (counted as a miss).
    pub answer_hit_agent: f64,
    /// Fraction of these answerable questions the agent's relevance check refuses.
    pub abstained_agent: f64,
    pub queries: usize,
}

/// Questions from other sets asked of each corpus, for the off-topic abstention rate.
const OFF_TOPIC_QUERIES: usize = 100;

/// Evaluates one set; `off_topic` are questions whose answers are elsewhere.
pub async fn evaluate(
    config: Config,
    dir: &Path,
    off_topic: &[String],
    args: &EvalArgs,
) -> anyhow::Result<EvalOutcome> {
    let corpus = dir.join("corpus.jsonl");
    let mut queries = read_queries(&dir.join("queries.jsonl"))?;
    let qrels = read_qrels(&dir.join("qrels.tsv"))?;
    queries.retain(|q| qrels.contains_key(&q.id));
    if let Some(n) = args.limit {
        queries.truncate(n);
    }
    let scratch = scratch_dir(&config, &corpus)?;
    let agent_cfg = config.agent.clone();
    let app = App::open_at(scratch, config).await?;
    let opts = IngestOptions {
        prune: true,
        domain: Some(zhiku_ingest::GENERAL.into()),
        progress_bar: false,
    };
    let report = app.ingest(std::slice::from_ref(&corpus), &opts).await?;
    if !report.issues.is_empty() {
        for i in &report.issues {
            eprintln!("warning: {i}");
        }
    }
    eprintln!(
        "eval corpus: {} documents ({} newly embedded chunks), {} queries",
        report.documents,
        report.embedded,
        queries.len()
    );
    let retriever = app.retriever();
    let filter = SearchFilter {
        clearance: Classification::Restricted,
        ..Default::default()
    };
    let mut modes = BTreeMap::new();
    let mut extractive = ExtractiveFigures::default();
    let mut signals = AbstentionSignals::default();
    for mode in RetrievalMode::ALL {
        let mut f = ModeFigures::default();
        let mut latencies = Vec::with_capacity(queries.len());
        let mut with_answers = 0usize;
        for q in &queries {
            let relevant = &qrels[&q.id];
            let results = retriever.search(&q.text, &filter, args.depth, mode).await?;
            latencies.push(results.timings.total_ms);
            let mut seen = HashSet::new();
            let ranked: Vec<String> = results
                .hits
                .iter()
                .filter(|h| seen.insert(h.chunk.doc_id.clone()))
                .map(|h| h.chunk.doc_id.clone())
                .collect();
            f.recall_1 += recall_at(&ranked, relevant, 1);
            f.recall_5 += recall_at(&ranked, relevant, 5);
            f.recall_10 += recall_at(&ranked, relevant, 10);
            f.hit_10 += f64::from(ranked.iter().take(10).any(|d| relevant.contains(d)));
            f.ndcg_10 += ndcg_at(&ranked, relevant, 10);
            f.mrr_10 += mrr_at(&ranked, relevant, 10);
            if mode == RetrievalMode::Hybrid {
                signals.record(&q.text, &results.hits, relevant, agent_cfg.passages);
            }
            if !q.answers.is_empty() {
                with_answers += 1;
                let top5 = results.hits.iter().take(5);
                let found = top5
                    .clone()
                    .any(|h| q.answers.iter().any(|a| h.chunk.text.contains(a.as_str())));
                f.answer_hit_5 += f64::from(found);
                if mode == RetrievalMode::Hybrid {
                    let answer =
                        zhiku_agent::extractive_answer(&q.text, &results.hits, Default::default());
                    extractive.queries += 1;
                    extractive.abstained += f64::from(answer.abstained);
                    let hit = q.answers.iter().any(|a| answer.text.contains(a.as_str()));
                    extractive.answer_hit += f64::from(hit);
                    let top = &results.hits[..results.hits.len().min(agent_cfg.passages)];
                    let gated =
                        !zhiku_agent::Relevance::assess(&q.text, top).sufficient(&agent_cfg);
                    extractive.abstained_agent += f64::from(gated);
                    extractive.answer_hit_agent += f64::from(hit && !gated);
                }
            }
        }
        let n = queries.len().max(1) as f64;
        for v in [
            &mut f.recall_1,
            &mut f.recall_5,
            &mut f.recall_10,
            &mut f.hit_10,
            &mut f.ndcg_10,
            &mut f.mrr_10,
        ] {
            *v /= n;
        }
        f.answer_hit_5 /= with_answers.max(1) as f64;
        latencies.sort_by(|a, b| a.total_cmp(b));
        f.latency_ms_p50 = percentile(&latencies, 50.0);
        f.latency_ms_p99 = percentile(&latencies, 99.0);
        modes.insert(mode.as_str(), f);
    }
    for q in off_topic {
        let results = retriever
            .search(q, &filter, agent_cfg.passages, RetrievalMode::Hybrid)
            .await?;
        signals.record_off_topic(q, &results.hits, agent_cfg.passages);
    }
    let n = extractive.queries.max(1) as f64;
    extractive.answer_hit /= n;
    extractive.abstained /= n;
    extractive.answer_hit_agent /= n;
    extractive.abstained_agent /= n;
    Ok(EvalOutcome {
        corpus: report.documents,
        queries: queries.len(),
        modes,
        extractive,
        abstention: signals.rates(&agent_cfg),
        signals,
    })
}

/// Bounds on abstaining on answerable questions for the threshold sweep.
const SWEEP_BOUNDS: [f64; 4] = [0.02, 0.05, 0.10, 0.20];

pub async fn run(config: Config, args: EvalArgs) -> anyhow::Result<ExitCode> {
    // Each set is also asked the questions of the next one (off-topic for it).
    let mut questions = Vec::new();
    for dir in &args.dirs {
        let qs = read_queries(&dir.join("queries.jsonl"))?;
        questions.push(
            qs.into_iter()
                .map(|q| q.text)
                .take(OFF_TOPIC_QUERIES)
                .collect::<Vec<_>>(),
        );
    }
    let mut outcomes = Vec::new();
    for (i, dir) in args.dirs.iter().enumerate() {
        let off_topic = if args.dirs.len() > 1 {
            questions[(i + 1) % args.dirs.len()].as_slice()
        } else {
            &[]
        };
        outcomes.push((dir, evaluate(config.clone(), dir, off_topic, &args).await?));
    }
    let mut pooled = AbstentionSignals::default();
    for (_, o) in &outcomes {
        pooled.extend(&o.signals);
    }
    if args.json {
        let sets: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(dir, o)| {
                serde_json::json!({"dir": dir, "corpus": o.corpus, "queries": o.queries, "modes": o.modes,
                    "extractive": o.extractive, "abstention": o.abstention})
            })
            .collect();
        let json = match sets.as_slice() {
            [one] => one.clone(),
            _ => serde_json::json!({"sets": sets, "abstention": pooled.rates(&config.agent),
                "sweep": pooled.sweep(&SWEEP_BOUNDS), "two_fold": pooled.two_fold(0.05)}),
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (dir, out) in &outcomes {
        print_outcome(dir, out);
    }
    println!("\nabstention under the configured thresholds (answer removed: every relevant passage taken out of the results; off-topic: the next set's first {OFF_TOPIC_QUERIES} questions):");
    println!("{}", abstention::TABLE_HEAD);
    for (dir, out) in &outcomes {
        println!("{} {}", out.abstention, dir.display());
    }
    if outcomes.len() > 1 {
        println!("{} all sets", pooled.rates(&config.agent));
        println!("\nsweep over all sets: thresholds abstaining most on unanswerable questions (mean of answer removed and off-topic), for a bound on abstaining on answerable ones:");
        println!("{}", abstention::TABLE_HEAD);
        for (bound, r) in SWEEP_BOUNDS.iter().zip(pooled.sweep(&SWEEP_BOUNDS)) {
            println!("{r} ≤ {bound}");
        }
        println!("\ntwo-fold check at ≤ 0.05: thresholds fitted on every other question, then measured on the rest:");
        println!("{}", abstention::TABLE_HEAD);
        for (fold, (fitted, unseen)) in pooled.two_fold(0.05).iter().enumerate() {
            println!("{fitted} fold {fold}, fitted half");
            println!("{unseen} fold {fold}, unseen half");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(dir: &Path, out: &EvalOutcome) {
    println!(
        "{}: {} passages, {} queries",
        dir.display(),
        out.corpus,
        out.queries
    );
    println!(
        "| mode | R@1 | R@5 | R@10 | hit@10 | nDCG@10 | MRR@10 | answer@5 | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (mode, f) in &out.modes {
        println!(
            "| {mode} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1} | {:.1} |",
            f.recall_1,
            f.recall_5,
            f.recall_10,
            f.hit_10,
            f.ndcg_10,
            f.mrr_10,
            f.answer_hit_5,
            f.latency_ms_p50,
            f.latency_ms_p99
        );
    }
    let e = &out.extractive;
    println!(
        "extractive answer (hybrid hits, {} queries with gold answers): contains a gold answer {:.3}, abstained {:.3}; \
         behind the agent's relevance check: contains a gold answer {:.3}, refused {:.3}",
        e.queries, e.answer_hit, e.abstained, e.answer_hit_agent, e.abstained_agent
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_on_a_hand_computed_ranking() {
        let ranked: Vec<String> = ["a", "x", "b", "y"].iter().map(|s| s.to_string()).collect();
        let rel = set(&["a", "b", "c"]);
        assert_eq!(recall_at(&ranked, &rel, 1), 1.0 / 3.0);
        assert_eq!(recall_at(&ranked, &rel, 5), 2.0 / 3.0);
        assert_eq!(mrr_at(&ranked, &set(&["b"]), 10), 1.0 / 3.0);
        let ideal = 1.0 + 1.0 / 3f64.log2() + 0.5;
        let dcg = 1.0 + 1.0 / 4f64.log2();
        assert!((ndcg_at(&ranked, &rel, 10) - dcg / ideal).abs() < 1e-12);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0), 3.0);
    }
}
