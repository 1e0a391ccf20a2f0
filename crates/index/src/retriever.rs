//! Hybrid retrieval: the BM25 leg and the dense leg run concurrently, each over the same
//! filter, and are fused by weighted reciprocal rank fusion. Every hit keeps its rank and
//! score in each leg, and the chunk's document id and byte span.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use zhiku_core::{
    validate_query, Chunk, Fusion, Hit, LegScore, RetrievalConfig, RetrievalMode, SearchFilter,
};
use zhiku_embed::Embedder;

use crate::{IndexError, IndexSet};

/// Milliseconds spent in each part of one search.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SearchTimings {
    pub bm25_ms: f64,
    pub embed_ms: f64,
    pub dense_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    pub hits: Vec<Hit>,
    pub timings: SearchTimings,
    /// A hybrid search whose one leg failed (its store unreachable) and that answered from
    /// the other: which leg failed, and why.
    pub degraded: Option<LegFailure>,
}

/// The leg a degraded hybrid search went without.
#[derive(Debug, Clone, PartialEq)]
pub struct LegFailure {
    /// `"keyword"` or `"dense"`.
    pub leg: &'static str,
    pub error: String,
}

#[derive(Clone)]
pub struct HybridRetriever {
    indexes: IndexSet,
    embedder: Arc<Embedder>,
    cfg: RetrievalConfig,
}

type Leg = Vec<(Chunk, f32)>;

impl HybridRetriever {
    pub fn new(indexes: IndexSet, embedder: Arc<Embedder>, cfg: RetrievalConfig) -> Self {
        Self {
            indexes,
            embedder,
            cfg,
        }
    }

    /// The same indexes and model with other settings.
    pub fn with_config(&self, cfg: RetrievalConfig) -> Self {
        Self {
            cfg,
            ..self.clone()
        }
    }

    /// The embedding model the dense leg uses.
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }

    pub fn config(&self) -> &RetrievalConfig {
        &self.cfg
    }

    /// The top `k` chunks for `query` under `filter`.
    pub async fn search(
        &self,
        query: &str,
        filter: &SearchFilter,
        k: usize,
        mode: RetrievalMode,
    ) -> Result<SearchResults, IndexError> {
        let started = Instant::now();
        let query = validate_query(query, self.cfg.max_query_chars)?.to_string();
        let k = k.max(1);
        // Fusion needs more candidates than it returns.
        let depth = match mode {
            RetrievalMode::Hybrid => self.cfg.candidates.max(k),
            _ => k,
        };
        let run_bm25 = mode != RetrievalMode::Dense;
        let run_dense = mode != RetrievalMode::Bm25;
        let (bm25, dense) = tokio::join!(
            self.bm25_leg(run_bm25, &query, filter, depth),
            self.dense_leg(run_dense, &query, filter, depth)
        );
        // A hybrid search survives one leg's store going away (a Qdrant server restarting,
        // say): it answers from the other and says so. A single-leg search, or both legs
        // failing, is an error.
        let mut degraded = None;
        let (bm25, dense) = match (mode, bm25, dense) {
            (RetrievalMode::Hybrid, Err(e), Ok(d)) if e.is_unavailable() => {
                degraded = Some(LegFailure {
                    leg: "keyword",
                    error: e.to_string(),
                });
                ((Vec::new(), 0.0), d)
            }
            (RetrievalMode::Hybrid, Ok(b), Err(e)) if e.is_unavailable() => {
                degraded = Some(LegFailure {
                    leg: "dense",
                    error: e.to_string(),
                });
                (b, (Vec::new(), 0.0, 0.0))
            }
            (_, b, d) => (b?, d?),
        };
        if let Some(f) = &degraded {
            tracing::warn!(leg = f.leg, error = %f.error, "search answered without one leg");
        }
        let (bm25, bm25_ms) = bm25;
        let (dense, embed_ms, dense_ms) = dense;
        let hits = match (mode, &degraded) {
            (RetrievalMode::Bm25, _) => single_leg(bm25, k, true),
            (RetrievalMode::Dense, _) => single_leg(dense, k, false),
            (RetrievalMode::Hybrid, Some(f)) if f.leg == "dense" => single_leg(bm25, k, true),
            (RetrievalMode::Hybrid, Some(_)) => single_leg(dense, k, false),
            (RetrievalMode::Hybrid, None) => fuse(bm25, dense, &self.cfg, k),
        };
        Ok(SearchResults {
            degraded,
            hits,
            timings: SearchTimings {
                bm25_ms,
                embed_ms,
                dense_ms,
                total_ms: started.elapsed().as_secs_f64() * 1e3,
            },
        })
    }

    async fn bm25_leg(
        &self,
        run: bool,
        query: &str,
        filter: &SearchFilter,
        depth: usize,
    ) -> Result<(Leg, f64), IndexError> {
        if !run {
            return Ok((Vec::new(), 0.0));
        }
        let t = Instant::now();
        let leg = self.indexes.keyword.search(query, filter, depth).await?;
        Ok((leg, ms(t)))
    }

    async fn dense_leg(
        &self,
        run: bool,
        query: &str,
        filter: &SearchFilter,
        depth: usize,
    ) -> Result<(Leg, f64, f64), IndexError> {
        if !run {
            return Ok((Vec::new(), 0.0, 0.0));
        }
        let t = Instant::now();
        let embedder = Arc::clone(&self.embedder);
        let q = query.to_string();
        let vector = tokio::task::spawn_blocking(move || embedder.embed_query(&q))
            .await
            .map_err(|e| IndexError::Vector(format!("embedding task failed: {e}")))??;
        let embed_ms = ms(t);
        let t = Instant::now();
        let leg = self
            .indexes
            .vectors
            .search(vector, filter, depth, self.cfg.hnsw_ef)
            .await?;
        Ok((leg, embed_ms, ms(t)))
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn single_leg(leg: Leg, k: usize, is_bm25: bool) -> Vec<Hit> {
    leg.into_iter()
        .take(k)
        .enumerate()
        .map(|(i, (chunk, score))| {
            let s = Some(LegScore { rank: i + 1, score });
            Hit {
                chunk,
                score,
                bm25: if is_bm25 { s } else { None },
                dense: if is_bm25 { None } else { s },
            }
        })
        .collect()
}

/// The two legs' candidates as one ranking, by the configured [`Fusion`].
pub fn fuse(bm25: Leg, dense: Leg, cfg: &RetrievalConfig, k: usize) -> Vec<Hit> {
    let total = (cfg.bm25_weight + cfg.dense_weight).max(f32::EPSILON);
    let mut by_id: HashMap<String, Hit> = HashMap::new();
    for (is_bm25, leg, weight) in [
        (true, bm25, cfg.bm25_weight),
        (false, dense, cfg.dense_weight),
    ] {
        // Min-max over the leg's own candidates: BM25 scores are unbounded and cosines bunch
        // near the top, so neither is comparable with the other as it comes.
        let (lo, hi) = leg.iter().fold((f32::MAX, f32::MIN), |(lo, hi), (_, s)| {
            (lo.min(*s), hi.max(*s))
        });
        for (i, (chunk, score)) in leg.into_iter().enumerate() {
            let rank = i + 1;
            let entry = by_id.entry(chunk.id.clone()).or_insert_with(|| Hit {
                chunk,
                score: 0.0,
                bm25: None,
                dense: None,
            });
            entry.score += match cfg.fusion {
                Fusion::Rrf => weight / (cfg.rrf_k + rank as f32),
                Fusion::Scores => {
                    let normalised = if hi > lo {
                        (score - lo) / (hi - lo)
                    } else {
                        1.0
                    };
                    weight / total * normalised
                }
            };
            let s = Some(LegScore { rank, score });
            if is_bm25 {
                entry.bm25 = s;
            } else {
                entry.dense = s;
            }
        }
    }
    let mut hits: Vec<Hit> = by_id.into_values().collect();
    let best_rank = |h: &Hit| {
        h.bm25
            .map_or(usize::MAX, |s| s.rank)
            .min(h.dense.map_or(usize::MAX, |s| s.rank))
    };
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| best_rank(a).cmp(&best_rank(b)))
            .then_with(|| a.chunk.id.cmp(&b.chunk.id))
    });
    hits.truncate(k);
    hits
}
