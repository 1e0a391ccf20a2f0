//! `zhiku bench`: figures, never assertions.
//!
//! 1. Ingest throughput (chunks/s) of a corpus beside the raw throughput of the same model on
//!    the same chunk texts (length-sorted batches, nothing else), and their ratio.
//! 2. Re-ingest time of the unchanged corpus.
//! 3. Query latency p50/p99 of each leg at several index sizes. The large indexes are made of
//!    the corpus's real chunks and vectors repeated with small perturbations (embedding 100k
//!    chunks would take hours on 2 cores); query embedding is timed separately.
//! 4. Peak resident memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use zhiku_core::{stable_chunk_id, Chunk, Config, SearchFilter};
use zhiku_index::{IndexSet, VectorPoint};
use zhiku_ingest::{embedding_text, IngestOptions, Ingestor};

use crate::eval::percentile;
use zhiku_engine::{discard, scratch_config, Caller, Engine};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub target: Option<BenchTarget>,
    /// Corpus to ingest.
    #[arg(long, default_value = "corpora")]
    pub corpus: Vec<PathBuf>,
    /// Index sizes (chunks) for the latency figures.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub sizes: Vec<usize>,
    /// Queries per latency measurement.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
}

#[derive(clap::Subcommand)]
pub enum BenchTarget {
    /// Load-test `zhiku serve` on loopback: search and extractive ask at several client counts.
    Serve(crate::bench_serve::ServeBenchArgs),
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (percentile(&v, 50.0), percentile(&v, 99.0))
}

/// Deterministic small perturbation, so that repeated vectors are distinct points.
fn perturb(v: &[f32], seed: u64) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out: Vec<f32> = v
        .iter()
        .map(|a| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            a + ((x % 2001) as f32 / 1000.0 - 1.0) * 0.02
        })
        .collect();
    let n = out.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
    out.iter_mut().for_each(|a| *a /= n);
    out
}

pub async fn run(config: Config, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let scratch = config.data_dir.join("bench-scratch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    // Scratch indexes only: on a Qdrant server, collections of their own, removed after.
    let app = Engine::open_at(scratch.join("ingest"), scratch_config(&config)).await?;
    let outcome = measure(&app, &config, &scratch, &args).await;
    app.discard_scratch().await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

async fn measure(
    app: &Engine,
    config: &Config,
    scratch: &Path,
    args: &BenchArgs,
) -> anyhow::Result<ExitCode> {
    println!(
        "zhiku bench — {} cores; vector store {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        app.indexes().vectors.backend_name()
    );
    // Warm the model so neither measurement pays the first-run cost.
    app.embedder().embed_passages(&["warm-up 预热"; 8])?;

    let opts = IngestOptions::default();
    let report = app
        .ingest(
            &Caller::operator(zhiku_core::Classification::Restricted),
            &args.corpus,
            &opts,
        )
        .await?;
    for issue in &report.issues {
        eprintln!("warning: {issue}");
    }
    if report.chunks_written == 0 {
        bail!(
            "nothing to benchmark: {} holds no document that ingest can chunk ({} files read)",
            args.corpus
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            report.files
        );
    }
    let ingest_rate = report.chunks_written as f64 / report.total_s;
    let chunks = Ingestor {
        registry: app.registry(),
        indexes: app.indexes(),
        embedder: app.embedder(),
        config: &config.ingest,
    }
    .plan(&args.corpus, &opts)?;
    let texts: Vec<String> = chunks.iter().map(embedding_text).collect();
    let t = Instant::now();
    let vectors = app.embedder().embed_passages(&texts)?;
    let raw_s = t.elapsed().as_secs_f64();
    let raw_rate = texts.len() as f64 / raw_s;
    let tokens: usize = texts
        .iter()
        .map(|t| app.embedder().count_tokens(t) + 4)
        .sum();
    println!(
        "\n## Ingest ({} documents, {} chunks, {} tokens incl. prefixes)",
        report.documents, report.chunks_written, tokens
    );
    println!(
        "ingest    {:>8.1} chunks/s  ({:.1} s: load {:.2}, chunk {:.2}, embed {:.1}, write {:.2})",
        ingest_rate, report.total_s, report.load_s, report.chunk_s, report.embed_s, report.write_s
    );
    println!(
        "raw model {:>8.1} chunks/s  ({:.1} s, {:.0} tokens/s)",
        raw_rate,
        raw_s,
        tokens as f64 / raw_s
    );
    println!("ratio     {:>8.3}", ingest_rate / raw_rate);

    let report2 = app
        .ingest(
            &Caller::operator(zhiku_core::Classification::Restricted),
            &args.corpus,
            &opts,
        )
        .await?;
    println!(
        "re-ingest unchanged: {:.3} s, {} embeddings computed",
        report2.total_s, report2.embedded
    );
    println!("peak RSS so far: {:.0} MB", peak_rss_mb());

    // Queries: the opening words of chunks, in both languages.
    let queries: Vec<String> = chunks
        .iter()
        .step_by((chunks.len() / args.queries.max(1)).max(1))
        .take(args.queries)
        .map(|c| {
            c.text
                .chars()
                .filter(|ch| !ch.is_control())
                .take(24)
                .collect()
        })
        .collect();
    let mut embed_ms = Vec::new();
    let mut qvecs = Vec::new();
    for q in &queries {
        let t = Instant::now();
        qvecs.push(app.embedder().embed_query(q)?);
        embed_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (e50, e99) = p50_p99(embed_ms);
    println!(
        "\n## Query latency ({} queries, k=50; query embedding p50 {:.1} ms, p99 {:.1} ms)",
        queries.len(),
        e50,
        e99
    );
    println!("| chunks | build s | optimize s | bm25 p50 | bm25 p99 | dense p50 | dense p99 | dense+filter p50 | dense+filter p99 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &size in &args.sizes {
        let dir = scratch.join(format!("n{size}"));
        let set = IndexSet::open(&dir, &scratch_config(config)).await?;
        let t = Instant::now();
        let mut batch: Vec<VectorPoint> = Vec::with_capacity(1000);
        for i in 0..size {
            let base = &chunks[i % chunks.len()];
            let mut c: Chunk = base.clone();
            c.doc_id = format!("bench-{i}");
            c.id = stable_chunk_id(&c.doc_id, 0, &c.text);
            batch.push(VectorPoint {
                vector: perturb(&vectors[i % chunks.len()], i as u64),
                chunk: c,
            });
            if batch.len() == 1000 || i + 1 == size {
                let owned: Vec<Chunk> = batch.iter().map(|p| p.chunk.clone()).collect();
                set.keyword.add(&owned)?;
                set.vectors.upsert(std::mem::take(&mut batch)).await?;
            }
        }
        set.keyword.commit()?;
        set.vectors.flush().await?;
        let build_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        set.vectors.optimize().await?;
        let optimize_s = t.elapsed().as_secs_f64();
        let all = SearchFilter::default();
        let filtered = SearchFilter {
            domains: vec![chunks[0].domain.clone()],
            clearance: zhiku_core::Classification::Restricted,
            ..Default::default()
        };
        let (mut bm, mut de, mut df) = (Vec::new(), Vec::new(), Vec::new());
        for (q, v) in queries.iter().zip(&qvecs) {
            let t = Instant::now();
            set.keyword.search(q, &all, 50).await?;
            bm.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            set.vectors
                .search(v.clone(), &all, 50, config.retrieval.hnsw_ef)
                .await?;
            de.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            set.vectors
                .search(v.clone(), &filtered, 50, config.retrieval.hnsw_ef)
                .await?;
            df.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let ((b50, b99), (d50, d99), (f50, f99)) = (p50_p99(bm), p50_p99(de), p50_p99(df));
        println!("| {size} | {build_s:.1} | {optimize_s:.1} | {b50:.2} | {b99:.2} | {d50:.2} | {d99:.2} | {f50:.2} | {f99:.2} |");
        discard(set).await;
    }
    println!("\npeak RSS: {:.0} MB", peak_rss_mb());
    Ok(ExitCode::SUCCESS)
}
