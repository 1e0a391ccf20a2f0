//! What every command shares: the configuration, opening the engine, printing an ingest
//! report and the data directory's counts.

use std::path::Path;

use anyhow::Context;
use zhiku_engine::{Config, Engine, IngestReport};
use zhiku_index::IndexSet;

pub fn load_config(file: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Config> {
    let mut config = Config::load(file)?;
    if let Some(d) = data_dir {
        config.data_dir = d.to_path_buf();
    }
    Ok(config)
}

pub fn print_report(r: &IngestReport) {
    for issue in &r.issues {
        eprintln!("warning: {issue}");
    }
    for notice in &r.notices {
        eprintln!("note: {notice}");
    }
    if r.settled > 0 {
        eprintln!(
            "note: an earlier ingest was interrupted; {} document(s) it was changing were settled first",
            r.settled
        );
    }
    let rate = if r.total_s > 0.0 {
        r.chunks_written as f64 / r.total_s
    } else {
        0.0
    };
    println!(
        "ingested {} files: {} documents ({} unchanged, {} written, {} removed), {} chunks written, {} embeddings computed, {} problems; {:.1} s ({:.1} chunks/s; load {:.1} s, chunk {:.1} s, embed {:.1} s, write {:.1} s)",
        r.files, r.documents, r.unchanged, r.written, r.removed, r.chunks_written, r.embedded,
        r.issues.len(), r.total_s, rate, r.load_s, r.chunk_s, r.embed_s, r.write_s
    );
}

/// The engine on the configured data directory, saying which directory failed to open.
pub async fn open(config: Config) -> anyhow::Result<Engine> {
    let dir = config.data_dir.clone();
    Engine::open(config)
        .await
        .with_context(|| format!("opening the data directory {}", dir.display()))
}

/// Counts from the manifest and from both indexes; they agree after any completed ingest.
pub async fn stats(config: &Config, with_ids: bool) -> anyhow::Result<std::process::ExitCode> {
    let indexes = IndexSet::open(&config.data_dir, config).await?;
    let mut json = serde_json::to_value(zhiku_engine::stats_of(&indexes).await?)?;
    if with_ids {
        let manifest = zhiku_ingest::Manifest::load(&config.data_dir)?;
        let mut ids: Vec<&String> = manifest
            .documents
            .values()
            .flat_map(|d| &d.chunks)
            .collect();
        ids.sort();
        json["chunk_ids"] = serde_json::json!(ids);
    }
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(std::process::ExitCode::SUCCESS)
}
