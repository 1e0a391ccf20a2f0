//! `zhiku eval DIR…`: BEIR-style retrieval evaluation of the three modes, the extractive
//! answer, and the agent's abstention (see `abstention`); with several sets, a threshold
//! sweep over all of them.
//!
//! The corpus is ingested into a scratch data directory named after the corpus's content
//! hash (so a second run computes no embeddings; with a Qdrant server configured, a fresh
//! directory and a scratch collection, both removed afterwards), every query is run in each
//! mode, and the chunk hits are turned into a document ranking (first occurrence wins) for
//! the metrics.
//!
//! A set is evaluated as a domain — `--domain`, else the set's folder name when it names a
//! registered domain — with that domain's retrieval settings and answer policy, as `zhiku
//! search --domain` and `zhiku ask --domain` run. The eval corpora are plain passages, so they
//! are loaded by the general loader whatever the domain; `hybrid-base` reports hybrid under
//! the global `[retrieval]` settings beside it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zhiku_agent::ExtractiveOptions;
use zhiku_core::{Classification, Config, Domain, RetrievalConfig, RetrievalMode, SearchFilter};
use zhiku_index::HybridRetriever;
use zhiku_ingest::IngestOptions;

use crate::abstention::{self, AbstentionRates, AbstentionSignals};
use zhiku_engine::{Caller, Engine};

#[derive(Args)]
pub struct EvalArgs {
    /// Folders with corpus.jsonl, queries.jsonl and qrels.tsv.
    #[arg(required_unless_present = "conversations")]
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
    /// Evaluate every set as this domain (default: the set's folder name if it is a domain,
    /// else general).
    #[arg(long)]
    pub domain: Option<String>,
    /// Append each query's keyword and dense candidates (100 chunks per leg, with scores and
    /// the query's relevant documents) to this JSON Lines file, for studying fusion offline.
    #[arg(long)]
    pub dump_candidates: Option<PathBuf>,
    /// Also have the configured model answer N questions per set (spread over the set), N/2
    /// of them again with their answer's passages removed, and N/2 off-topic ones; needs
    /// `[llm]` (see deploy/llm/ for a local model).
    #[arg(long, value_name = "N")]
    pub answers: Option<usize>,
    /// A folder of `<domain>.jsonl` questions naming entities the set's corpus never mentions
    /// (tests/eval/unseen-entities): the share the agent refuses, beside off-topic.
    #[arg(long, value_name = "DIR")]
    pub unseen_entities: Option<PathBuf>,
    /// A conversation set (tests/conversations): dialogues asked through the agent over the
    /// sample corpora (`--corpora`), recall@5 and refusals per turn kind.
    #[arg(long, value_name = "DIR")]
    pub conversations: Option<PathBuf>,
    /// The corpora the conversation set's documents come from.
    #[arg(long, value_name = "DIR", default_value = "corpora")]
    pub corpora: PathBuf,
    /// Ask only N dialogues of the conversation set, spread over it (with a slow local model).
    #[arg(long, value_name = "N")]
    pub dialogues: Option<usize>,
}

#[derive(Deserialize)]
struct Query {
    id: String,
    text: String,
    #[serde(default)]
    answers: Vec<String>,
    /// The dataset the question comes from (figures are also given per source).
    #[serde(default)]
    source: Option<String>,
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

/// A query's relevant documents with their qrels grades (all above 0).
pub type Grades = HashMap<String, f64>;

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

/// nDCG@k with graded relevance as BEIR computes it (trec_eval's `ndcg_cut`): the gain of a
/// document is its qrels grade, discounted by log2(rank + 1).
pub fn ndcg_at(ranked: &[String], grades: &Grades, k: usize) -> f64 {
    let discount = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter_map(|(i, d)| grades.get(d).map(|g| g * discount(i)))
        .sum();
    let mut best: Vec<f64> = grades.values().copied().collect();
    best.sort_by(|a, b| b.total_cmp(a));
    let ideal: f64 = best
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g * discount(i))
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

fn read_qrels(path: &Path) -> anyhow::Result<HashMap<String, Grades>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out: HashMap<String, Grades> = HashMap::new();
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
        let grade: f64 = cols[2].trim().parse().with_context(|| {
            format!(
                "{}:{}: score {:?} is not a number",
                path.display(),
                i + 1,
                cols[2]
            )
        })?;
        if grade > 0.0 {
            out.entry(cols[0].to_string())
                .or_default()
                .insert(cols[1].to_string(), grade);
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
    // The model variant too: int8 and float vectors must not share a cache.
    format!("{:?} {:?}", config.ingest, config.embedding.weights)
}

pub struct EvalOutcome {
    pub corpus: usize,
    pub queries: usize,
    /// The domain the set was evaluated as, and the retrieval settings that gave `hybrid`.
    pub domain: &'static str,
    pub retrieval: RetrievalConfig,
    pub modes: BTreeMap<&'static str, ModeFigures>,
    /// The extractive answerer on the hybrid hits, over queries with gold answers.
    pub extractive: ExtractiveFigures,
    /// The agent's relevance readings, answerable and with the answer removed.
    pub signals: AbstentionSignals,
    /// Abstention under the configured thresholds.
    pub abstention: AbstentionRates,
    /// The model's answers, with `--answers`.
    pub answers: Option<crate::eval_answers::AnswerFigures>,
    /// Hybrid nDCG@10 for each share of the dense leg in the fusion, and per source.
    pub sweep: Vec<(f32, f64)>,
    pub by_source: BTreeMap<String, SourceFigures>,
}

/// Hybrid figures over the questions of one source dataset.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SourceFigures {
    pub queries: usize,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
}

/// Shares of the dense leg tried by the fusion sweep.
const DENSE_SHARES: [f32; 9] = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7];

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
    /// Fraction of answers whose first sentence (markers removed) holds a gold answer.
    pub first_sentence: f64,
    /// Fraction of answers whose first `LEAD_CHARS` characters (markers removed) hold one.
    pub first_180: f64,
    pub queries: usize,
}

/// What a phone shows before the reader scrolls: the mini-program's reply width.
const LEAD_CHARS: usize = 180;

/// What a reader sees first of `answer`: its first sentence, and its first `LEAD_CHARS`
/// characters, markers removed.
pub fn lead_of(answer: &str) -> (String, String) {
    let lead = without_markers(answer).chars().take(LEAD_CHARS).collect();
    (first_sentence(answer), lead)
}

/// The answer's first sentence as a reader sees it: up to its first citation marker (each
/// extractive unit ends with one) or its first sentence end, markers removed.
pub fn first_sentence(answer: &str) -> String {
    let upto_marker = marker_start(answer).map_or(answer, |i| &answer[..i]);
    let plain = without_markers(upto_marker);
    let mut end = plain.len();
    let mut chars = plain.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let ends = matches!(c, '。' | '！' | '？' | '\n')
            || (matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace));
        if ends {
            end = i + c.len_utf8();
            break;
        }
    }
    plain[..end].trim().to_string()
}

/// Where the first `[n]` / `[n, m]` marker starts.
fn marker_start(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|&(i, c)| c == '[' && marker_len(&text[i..]) > 0)
        .map(|(i, _)| i)
}

/// Length in bytes of a citation marker at the start of `s` (0 if there is none).
fn marker_len(s: &str) -> usize {
    let Some(rest) = s.strip_prefix('[') else {
        return 0;
    };
    let inner: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | ' '))
        .collect();
    if inner.chars().any(|c| c.is_ascii_digit()) && rest[inner.len()..].starts_with(']') {
        inner.len() + 2
    } else {
        0
    }
}

/// The text without its citation markers.
pub fn without_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = marker_len(rest);
        if len > 0 {
            rest = &rest[len..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
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
    // On a Qdrant server the scratch index is made for this run and removed after it: a
    // cached directory would need its scratch collection kept on the server.
    let on_server = zhiku_engine::uses_server(&config);
    let (scratch, mut config) = if on_server {
        let unique = zhiku_engine::scratch_config(&config);
        let scratch = config
            .data_dir
            .join("eval-scratch")
            .join(&unique.qdrant.collection);
        (scratch, unique)
    } else {
        (scratch_dir(&config, &corpus)?, config)
    };
    // Source names relative to the set, wherever the set is.
    config.ingest.corpus_root = dir.to_path_buf();
    let app = Engine::open_at(scratch.clone(), config).await?;
    let outcome = measure(&app, dir, &corpus, off_topic, args).await;
    if on_server {
        app.discard_scratch().await;
    }
    outcome
}

/// The domain a set is evaluated as: `--domain`, else its folder's name if that is a
/// registered domain, else general.
fn set_domain<'a>(
    app: &'a Engine,
    dir: &Path,
    named: Option<&str>,
) -> anyhow::Result<&'a dyn Domain> {
    if let Some(d) = named {
        return Ok(app.registry().get(d)?);
    }
    let folder = zhiku_ingest::absolute(dir);
    let name = folder
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    Ok(app
        .registry()
        .get(name)
        .or_else(|_| app.registry().get(zhiku_ingest::GENERAL))?)
}

async fn measure(
    app: &Engine,
    dir: &Path,
    corpus: &Path,
    off_topic: &[String],
    args: &EvalArgs,
) -> anyhow::Result<EvalOutcome> {
    let mut queries = read_queries(&dir.join("queries.jsonl"))?;
    let qrels = read_qrels(&dir.join("qrels.tsv"))?;
    queries.retain(|q| qrels.contains_key(&q.id));
    if let Some(n) = args.limit {
        queries.truncate(n);
    }
    let domain = set_domain(app, dir, args.domain.as_deref())?;
    let agent_cfg = app.config().agent.clone();
    let policy = domain.answer_policy();
    let passages = policy.passages.unwrap_or(agent_cfg.passages);
    let opts = IngestOptions {
        prune: true,
        yes: true,
        domain: Some(zhiku_ingest::GENERAL.into()),
        ..Default::default()
    };
    let report = app
        .ingest(
            &Caller::operator(zhiku_core::Classification::Restricted),
            &[corpus.to_path_buf()],
            &opts,
        )
        .await?;
    for i in &report.issues {
        eprintln!("warning: {i}");
    }
    eprintln!(
        "eval corpus: {} documents ({} newly embedded chunks), {} queries, as domain {}",
        report.documents,
        report.embedded,
        queries.len(),
        domain.name()
    );
    let base = app.retriever();
    let tuned_cfg = domain.retrieval().apply(&app.config().retrieval);
    let tuned = base.with_config(tuned_cfg.clone());
    let mut runs: Vec<(&'static str, &HybridRetriever, RetrievalMode)> = RetrievalMode::ALL
        .iter()
        .map(|m| (m.as_str(), &tuned, *m))
        .collect();
    if format!("{tuned_cfg:?}") != format!("{:?}", app.config().retrieval) {
        runs.push(("hybrid-base", &base, RetrievalMode::Hybrid));
    }
    let filter = SearchFilter {
        clearance: Classification::Restricted,
        ..Default::default()
    };
    let mut modes = BTreeMap::new();
    let mut by_source: BTreeMap<String, SourceFigures> = BTreeMap::new();
    // Each query's two legs, kept to re-fuse them under other weights (the sweep).
    let mut legs: Vec<(Vec<zhiku_core::Hit>, Vec<zhiku_core::Hit>)> = Vec::new();
    let mut extractive = ExtractiveFigures::default();
    let mut signals = AbstentionSignals::default();
    for (label, retriever, mode) in runs {
        // The agent's view (abstention signals, extractive answers) is the domain's hybrid.
        let agent_view = label == "hybrid";
        let mut f = ModeFigures::default();
        let mut latencies = Vec::with_capacity(queries.len());
        let mut with_answers = 0usize;
        for q in &queries {
            let grades = &qrels[&q.id];
            let relevant: HashSet<String> = grades.keys().cloned().collect();
            let results = retriever.search(&q.text, &filter, args.depth, mode).await?;
            latencies.push(results.timings.total_ms);
            let mut seen = HashSet::new();
            let ranked: Vec<String> = results
                .hits
                .iter()
                .filter(|h| seen.insert(h.chunk.doc_id.clone()))
                .map(|h| h.chunk.doc_id.clone())
                .collect();
            f.recall_1 += recall_at(&ranked, &relevant, 1);
            f.recall_5 += recall_at(&ranked, &relevant, 5);
            f.recall_10 += recall_at(&ranked, &relevant, 10);
            f.hit_10 += f64::from(ranked.iter().take(10).any(|d| relevant.contains(d)));
            f.ndcg_10 += ndcg_at(&ranked, grades, 10);
            f.mrr_10 += mrr_at(&ranked, &relevant, 10);
            if agent_view {
                let s = by_source
                    .entry(q.source.clone().unwrap_or_else(|| "-".into()))
                    .or_default();
                s.queries += 1;
                s.ndcg_10 += ndcg_at(&ranked, grades, 10);
                s.recall_10 += recall_at(&ranked, &relevant, 10);
            }
            if agent_view {
                signals.record(&q.text, &results.hits, &relevant, passages);
            }
            if !q.answers.is_empty() {
                with_answers += 1;
                let top5 = results.hits.iter().take(5);
                let found = top5
                    .clone()
                    .any(|h| q.answers.iter().any(|a| h.chunk.text.contains(a.as_str())));
                f.answer_hit_5 += f64::from(found);
                if agent_view {
                    let options = ExtractiveOptions {
                        max_width: policy.max_width,
                        ..Default::default()
                    };
                    let answer = zhiku_agent::extractive_answer_with(
                        &q.text,
                        &results.hits,
                        options,
                        Some(retriever.embedder()),
                    );
                    extractive.queries += 1;
                    extractive.abstained += f64::from(answer.abstained);
                    let hit = q.answers.iter().any(|a| answer.text.contains(a.as_str()));
                    extractive.answer_hit += f64::from(hit);
                    let (first, lead) = lead_of(&answer.text);
                    extractive.first_sentence +=
                        f64::from(q.answers.iter().any(|a| first.contains(a.as_str())));
                    extractive.first_180 +=
                        f64::from(q.answers.iter().any(|a| lead.contains(a.as_str())));
                    let top = &results.hits[..results.hits.len().min(passages)];
                    let gated =
                        !zhiku_agent::Relevance::assess(&q.text, top).sufficient(&agent_cfg);
                    extractive.abstained_agent += f64::from(gated);
                    extractive.answer_hit_agent += f64::from(hit && !gated);
                }
            }
        }
        if label == "bm25" || label == "dense" {
            for (i, q) in queries.iter().enumerate() {
                let hits = retriever
                    .search(&q.text, &filter, tuned_cfg.candidates, mode)
                    .await?
                    .hits;
                if label == "bm25" {
                    legs.push((hits, Vec::new()));
                } else if let Some(l) = legs.get_mut(i) {
                    l.1 = hits;
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
        modes.insert(label, f);
    }
    for s in by_source.values_mut() {
        let n = s.queries.max(1) as f64;
        s.ndcg_10 /= n;
        s.recall_10 /= n;
    }
    let sweep = fusion_sweep(&queries, &qrels, &legs, &tuned_cfg, args.depth);
    let answers = match args.answers {
        Some(n) => {
            let asked: Vec<crate::eval_answers::Question> =
                crate::eval_answers::spread(&queries, n)
                    .into_iter()
                    .map(|q| crate::eval_answers::Question {
                        text: &q.text,
                        answers: &q.answers,
                        relevant: qrels.get(&q.id),
                    })
                    .collect();
            let strangers: Vec<String> = crate::eval_answers::spread(off_topic, n / 2)
                .into_iter()
                .cloned()
                .collect();
            eprintln!(
                "asking the model {} questions, {} without their answer, {} off-topic",
                asked.len(),
                asked.len().div_ceil(2),
                strangers.len()
            );
            Some(
                crate::eval_answers::measure(
                    app.agent(),
                    &tuned,
                    &agent_cfg,
                    domain.name(),
                    &filter,
                    passages,
                    &asked,
                    &strangers,
                )
                .await?,
            )
        }
        None => None,
    };
    if let Some(path) = &args.dump_candidates {
        dump_candidates(path, &tuned, &filter, &queries, &qrels, domain.name()).await?;
    }
    for q in off_topic {
        let results = tuned
            .search(q, &filter, passages, RetrievalMode::Hybrid)
            .await?;
        signals.record_off_topic(q, &results.hits, passages);
    }
    if let Some(folder) = &args.unseen_entities {
        let file = folder.join(format!("{}.jsonl", domain.name()));
        if file.exists() {
            for q in read_queries(&file)? {
                let results = tuned
                    .search(&q.text, &filter, passages, RetrievalMode::Hybrid)
                    .await?;
                signals.record_unseen(&q.text, &results.hits, passages);
            }
        } else {
            eprintln!("no {}: the named-entity line is left out", file.display());
        }
    }
    let n = extractive.queries.max(1) as f64;
    extractive.answer_hit /= n;
    extractive.abstained /= n;
    extractive.answer_hit_agent /= n;
    extractive.abstained_agent /= n;
    extractive.first_sentence /= n;
    extractive.first_180 /= n;
    Ok(EvalOutcome {
        corpus: report.documents,
        queries: queries.len(),
        domain: domain.name(),
        retrieval: tuned_cfg,
        modes,
        extractive,
        abstention: signals.rates(&agent_cfg),
        signals,
        answers,
        sweep,
        by_source,
    })
}

/// Hybrid nDCG@10 with the legs re-fused at each of [`DENSE_SHARES`] (score fusion).
fn fusion_sweep(
    queries: &[Query],
    qrels: &HashMap<String, Grades>,
    legs: &[(Vec<zhiku_core::Hit>, Vec<zhiku_core::Hit>)],
    cfg: &RetrievalConfig,
    depth: usize,
) -> Vec<(f32, f64)> {
    let as_leg = |hits: &[zhiku_core::Hit]| -> Vec<(zhiku_core::Chunk, f32)> {
        hits.iter().map(|h| (h.chunk.clone(), h.score)).collect()
    };
    DENSE_SHARES
        .iter()
        .map(|&share| {
            let cfg = RetrievalConfig {
                fusion: zhiku_core::Fusion::Scores,
                bm25_weight: 1.0 - share,
                dense_weight: share,
                ..cfg.clone()
            };
            let total: f64 = queries
                .iter()
                .zip(legs)
                .map(|(q, (b, d))| {
                    let fused = zhiku_index::fuse(as_leg(b), as_leg(d), &cfg, depth);
                    let mut seen = HashSet::new();
                    let ranked: Vec<String> = fused
                        .iter()
                        .filter(|h| seen.insert(h.chunk.doc_id.clone()))
                        .map(|h| h.chunk.doc_id.clone())
                        .collect();
                    ndcg_at(&ranked, &qrels[&q.id], 10)
                })
                .sum();
            (share, total / queries.len().max(1) as f64)
        })
        .collect()
}

/// One JSON line per query: both legs' top 100 chunks as `[doc_id, chunk_id, score]`.
async fn dump_candidates(
    path: &Path,
    retriever: &HybridRetriever,
    filter: &SearchFilter,
    queries: &[Query],
    qrels: &HashMap<String, Grades>,
    domain: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?,
    );
    for q in queries {
        let mut legs = serde_json::Map::new();
        for mode in [RetrievalMode::Bm25, RetrievalMode::Dense] {
            let hits = retriever.search(&q.text, filter, 100, mode).await?.hits;
            let rows: Vec<serde_json::Value> = hits
                .iter()
                .map(|h| serde_json::json!([h.chunk.doc_id, h.chunk.id, h.score]))
                .collect();
            legs.insert(mode.as_str().to_string(), rows.into());
        }
        let line = serde_json::json!({
            "domain": domain,
            "id": q.id,
            "text": q.text,
            "source": q.source,
            "answers": q.answers,
            "relevant": qrels.get(&q.id),
            "legs": legs,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Bounds on abstaining on answerable questions for the threshold sweep.
const SWEEP_BOUNDS: [f64; 4] = [0.02, 0.05, 0.10, 0.20];

pub async fn run(config: Config, args: EvalArgs) -> anyhow::Result<ExitCode> {
    if args.answers.is_some() && !config.llm.enabled() {
        bail!("--answers needs a model: set [llm] base_url (deploy/llm/ sets up a local one)");
    }
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
    let conversations = match &args.conversations {
        Some(set) => Some(
            crate::eval_conversations::evaluate(config.clone(), set, &args.corpora, args.dialogues)
                .await?,
        ),
        None => None,
    };
    let mut pooled = AbstentionSignals::default();
    for (_, o) in &outcomes {
        pooled.extend(&o.signals);
    }
    if args.json {
        let sets: Vec<serde_json::Value> = outcomes
            .iter()
            .map(|(dir, o)| {
                serde_json::json!({"dir": dir, "corpus": o.corpus, "queries": o.queries,
                    "domain": o.domain, "dense_weight": o.retrieval.dense_weight,
                    "bm25_weight": o.retrieval.bm25_weight, "modes": o.modes,
                    "extractive": o.extractive, "abstention": o.abstention,
                    "answers": o.answers, "fusion_sweep": o.sweep, "by_source": o.by_source})
            })
            .collect();
        let mut json = match sets.as_slice() {
            [one] => one.clone(),
            _ => serde_json::json!({"sets": sets, "abstention": pooled.rates(&config.agent),
                "sweep": pooled.sweep(&SWEEP_BOUNDS), "two_fold": pooled.two_fold(0.05)}),
        };
        if let (Some(c), Some(obj)) = (&conversations, json.as_object_mut()) {
            let rows: Vec<serde_json::Value> = c
                .iter()
                .map(|((kind, lang), f)| serde_json::json!({"kind": kind, "lang": lang, "figures": f}))
                .collect();
            obj.insert("conversations".into(), rows.into());
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (dir, out) in &outcomes {
        print_outcome(dir, out);
    }
    if let Some(c) = &conversations {
        crate::eval_conversations::print(c);
    }
    if outcomes.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if outcomes.iter().any(|(_, o)| o.answers.is_some()) {
        println!(
            "\nanswers written by the model {} (--answers):",
            config.llm.model
        );
        println!("{}", crate::eval_answers::TABLE_HEAD);
        for (_, out) in &outcomes {
            if let Some(a) = &out.answers {
                println!("{}", crate::eval_answers::table_row(out.domain, a));
            }
        }
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
        println!(
            "\nthe same per set (thresholds a domain of its own would get, and their spread):"
        );
        println!("{}", abstention::TABLE_HEAD);
        for (_, out) in &outcomes {
            for (fold, (fitted, unseen)) in out.signals.two_fold(0.05).iter().enumerate() {
                println!("{fitted} {} fold {fold}, fitted half", out.domain);
                println!("{unseen} {} fold {fold}, unseen half", out.domain);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(dir: &Path, out: &EvalOutcome) {
    println!(
        "{}: {} passages, {} queries, as domain {} (hybrid: bm25 weight {}, dense weight {}{})",
        dir.display(),
        out.corpus,
        out.queries,
        out.domain,
        out.retrieval.bm25_weight,
        out.retrieval.dense_weight,
        if out.modes.contains_key("hybrid-base") {
            "; hybrid-base: the global [retrieval] weights"
        } else {
            ""
        }
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
         behind the agent's relevance check: contains a gold answer {:.3}, refused {:.3}; \
         gold answer in the first sentence {:.3}, in the first {LEAD_CHARS} characters {:.3}",
        e.queries,
        e.answer_hit,
        e.abstained,
        e.answer_hit_agent,
        e.abstained_agent,
        e.first_sentence,
        e.first_180
    );
    println!("hybrid by source: | source | queries | nDCG@10 | R@10 |");
    for (source, f) in &out.by_source {
        println!(
            "| {source} | {} | {:.3} | {:.3} |",
            f.queries, f.ndcg_10, f.recall_10
        );
    }
    let best = out
        .sweep
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |b| b.0);
    let row: Vec<String> = out
        .sweep
        .iter()
        .map(|(share, ndcg)| format!("{share:.2}: {ndcg:.4}"))
        .collect();
    println!(
        "score fusion, hybrid nDCG@10 by the dense leg's share: {} (best {best:.2}; set it as \
         dense_weight / (bm25_weight + dense_weight))",
        row.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn graded(ids: &[(&str, f64)]) -> Grades {
        ids.iter().map(|(s, g)| (s.to_string(), *g)).collect()
    }

    #[test]
    fn the_first_sentence_is_what_a_reader_sees_first() {
        assert_eq!(
            first_sentence("天坛建于1420年。[1] 祈年殿[2]"),
            "天坛建于1420年。"
        );
        assert_eq!(
            first_sentence("Sₙ = n(a₁+aₙ)/2[1] 另一句[2]"),
            "Sₙ = n(a₁+aₙ)/2"
        );
        assert_eq!(
            first_sentence("It is 1.5 mg. Then [x] more"),
            "It is 1.5 mg."
        );
        assert_eq!(without_markers("a[1] b[2, 3] [x] c[1"), "a b [x] c[1");
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
        let binary = graded(&[("a", 1.0), ("b", 1.0), ("c", 1.0)]);
        assert!((ndcg_at(&ranked, &binary, 10) - dcg / ideal).abs() < 1e-12);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 50.0), 3.0);
    }

    #[test]
    fn ndcg_uses_graded_relevance_as_beir_does() {
        // b is highly relevant (2), a partly (1): ranking a first loses against the ideal
        // b, a. Gains are the grades (trec_eval's ndcg_cut), discounts log2(rank + 1).
        let ranked: Vec<String> = ["a", "x", "b"].iter().map(|s| s.to_string()).collect();
        let grades = graded(&[("a", 1.0), ("b", 2.0)]);
        let dcg = 1.0 + 2.0 / 4f64.log2();
        let ideal = 2.0 + 1.0 / 3f64.log2();
        assert!((ndcg_at(&ranked, &grades, 10) - dcg / ideal).abs() < 1e-12);
        let best: Vec<String> = ["b", "a"].iter().map(|s| s.to_string()).collect();
        assert!((ndcg_at(&best, &grades, 10) - 1.0).abs() < 1e-12);
    }
}
