//! load → chunk → embed (length-sorted batches) → write both indexes → commit → manifest.
//!
//! Idempotence: chunk ids come from content, a document whose hash is in the manifest is
//! skipped (no embedding, no write), and a document being written is always first deleted by
//! id from both indexes. The manifest is saved only after both indexes have committed, so a
//! run killed anywhere is repaired by the next run redoing the unclaimed documents.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use zhiku_core::{Chunk, Document, DomainRegistry, IngestConfig, LoadIssue};
use zhiku_embed::Embedder;
use zhiku_index::{IndexSet, VectorPoint};

use crate::chunker::{embedding_text, Chunker};
use crate::manifest::{DocEntry, Manifest};
use crate::walk::{files_under, FolderDefaults};
use crate::{IngestError, GENERAL};

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Remove documents whose files are gone (under the given paths).
    pub prune: bool,
    /// Put everything in this domain instead of choosing by folder name.
    pub domain: Option<String>,
    /// Draw a progress bar (on a terminal); otherwise log lines.
    pub progress_bar: bool,
}

#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    pub files: usize,
    pub documents: usize,
    pub unchanged: usize,
    pub written: usize,
    pub removed: usize,
    pub chunks_written: usize,
    pub embedded: u64,
    pub total_chunks: usize,
    pub issues: Vec<LoadIssue>,
    pub load_s: f64,
    pub chunk_s: f64,
    pub embed_s: f64,
    pub write_s: f64,
    pub total_s: f64,
}

pub struct Ingestor<'a> {
    pub registry: &'a DomainRegistry,
    pub indexes: &'a IndexSet,
    pub embedder: &'a Embedder,
    pub config: &'a IngestConfig,
}

/// The display path of a file: as the user named it.
fn display(path: &Path) -> String {
    path.to_string_lossy().trim_start_matches("./").to_string()
}

impl Ingestor<'_> {
    /// Picks the domain of a file: the `--domain` option, else the nearest folder (from the
    /// named root down) called like a registered domain, else `general`.
    fn domain_for(&self, file: &Path, root: &Path, opts: &IngestOptions) -> String {
        if let Some(d) = &opts.domain {
            return d.clone();
        }
        let rel = file.strip_prefix(root).unwrap_or(file);
        let names = self.registry.names();
        root.file_name()
            .into_iter()
            .chain(rel.parent().into_iter().flat_map(|p| p.iter()))
            .filter_map(|c| c.to_str())
            .find(|c| names.contains(c))
            .map(str::to_string)
            .unwrap_or_else(|| GENERAL.to_string())
    }

    fn load(
        &self,
        roots: &[PathBuf],
        opts: &IngestOptions,
        report: &mut IngestReport,
    ) -> Result<Vec<Document>, IngestError> {
        if let Some(d) = &opts.domain {
            self.registry.get(d)?;
        }
        let mut defaults = FolderDefaults::default();
        let mut docs: Vec<Document> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for root in roots {
            let files = match files_under(root) {
                Ok(f) => f,
                Err(issue) => {
                    report.issues.push(issue);
                    continue;
                }
            };
            for file in files {
                let shown = display(&file);
                let domain = self.registry.get(&self.domain_for(&file, root, opts))?;
                let domain = if domain.accepts(&file) {
                    domain
                } else {
                    self.registry.get(GENERAL)?
                };
                if !domain.accepts(&file) {
                    report.issues.push(LoadIssue {
                        path: shown,
                        line: None,
                        message: format!("unsupported file type for domain {}", domain.name()),
                    });
                    continue;
                }
                report.files += 1;
                let file_defaults = defaults.for_file(&file, root, &mut report.issues);
                let loaded = domain.load(&file, &shown, &file_defaults);
                report.issues.extend(loaded.issues);
                for doc in loaded.documents {
                    if !seen.insert(doc.id.clone()) {
                        report.issues.push(LoadIssue {
                            path: shown.clone(),
                            line: doc.source.line,
                            message: format!("duplicate document id {:?}; skipped", doc.id),
                        });
                        continue;
                    }
                    docs.push(doc);
                }
            }
        }
        Ok(docs)
    }

    /// The chunks ingest would make of these paths, without writing anything (benchmarks
    /// use it to embed exactly what ingest embeds).
    pub fn plan(&self, roots: &[PathBuf], opts: &IngestOptions) -> Result<Vec<Chunk>, IngestError> {
        let mut report = IngestReport::default();
        let docs = self.load(roots, opts, &mut report)?;
        let chunker =
            Chunker::new(self.embedder.tokenizer(), self.config).map_err(IngestError::Config)?;
        Ok(docs.iter().flat_map(|d| chunker.chunk(d)).collect())
    }

    pub async fn run(
        &self,
        roots: &[PathBuf],
        opts: &IngestOptions,
    ) -> Result<IngestReport, IngestError> {
        let started = Instant::now();
        let mut report = IngestReport::default();
        let mut manifest = Manifest::load(&self.indexes.dir).map_err(IngestError::Manifest)?;
        let embedded_before = self.embedder.embedded_count();

        let t = Instant::now();
        let docs = self.load(roots, opts, &mut report)?;
        report.documents = docs.len();
        report.load_s = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let chunker =
            Chunker::new(self.embedder.tokenizer(), self.config).map_err(IngestError::Config)?;
        let mut todo: Vec<(Document, String, Vec<Chunk>)> = Vec::new();
        let seen: HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        for doc in &docs {
            let hash = doc.content_hash(chunker.signature());
            if manifest
                .documents
                .get(&doc.id)
                .is_some_and(|e| e.hash == hash)
            {
                report.unchanged += 1;
                continue;
            }
            let chunks = chunker.chunk(doc);
            todo.push((doc.clone(), hash, chunks));
        }
        report.chunk_s = t.elapsed().as_secs_f64();

        // Documents gone from the given paths.
        let prefixes: Vec<String> = roots.iter().map(|r| display(r)).collect();
        let gone: Vec<String> = if opts.prune {
            manifest
                .documents
                .iter()
                .filter(|(id, e)| {
                    !seen.contains(id.as_str())
                        && prefixes.iter().any(|p| e.source.starts_with(p.as_str()))
                })
                .map(|(id, _)| id.clone())
                .collect()
        } else {
            Vec::new()
        };

        let total: usize = todo.iter().map(|(_, _, c)| c.len()).sum();
        report.total_chunks = total;
        let bar = progress(opts.progress_bar, total as u64);
        let mut batch: Vec<(Document, String, Vec<Chunk>)> = Vec::new();
        let mut batch_chunks = 0;
        let mut todo = todo.into_iter().peekable();
        while let Some(item) = todo.next() {
            batch_chunks += item.2.len();
            batch.push(item);
            if batch_chunks >= self.config.commit_every_chunks || todo.peek().is_none() {
                self.write_batch(std::mem::take(&mut batch), &mut manifest, &mut report)
                    .await?;
                bar.inc(batch_chunks as u64);
                if bar.is_hidden() {
                    tracing::info!("ingest: {}/{} chunks written", report.chunks_written, total);
                }
                batch_chunks = 0;
            }
        }
        bar.finish_and_clear();

        if !gone.is_empty() {
            let t = Instant::now();
            for id in &gone {
                self.indexes.keyword.delete_doc(id)?;
            }
            self.indexes.vectors.delete_docs(&gone).await?;
            self.indexes.keyword.commit()?;
            self.indexes.vectors.flush().await?;
            for id in &gone {
                manifest.documents.remove(id);
            }
            manifest.save().map_err(IngestError::Manifest)?;
            report.removed = gone.len();
            report.write_s += t.elapsed().as_secs_f64();
        }
        if report.written > 0 || report.removed > 0 {
            let t = Instant::now();
            self.indexes.vectors.optimize().await?;
            report.write_s += t.elapsed().as_secs_f64();
        }
        report.embedded = self.embedder.embedded_count() - embedded_before;
        report.total_s = started.elapsed().as_secs_f64();
        Ok(report)
    }

    async fn write_batch(
        &self,
        batch: Vec<(Document, String, Vec<Chunk>)>,
        manifest: &mut Manifest,
        report: &mut IngestReport,
    ) -> Result<(), IngestError> {
        let t = Instant::now();
        let chunks: Vec<&Chunk> = batch.iter().flat_map(|(_, _, c)| c).collect();
        let texts: Vec<String> = chunks.iter().map(|c| embedding_text(c)).collect();
        let vectors = self.embedder.embed_passages(&texts)?;
        report.embed_s += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let ids: Vec<String> = batch.iter().map(|(d, _, _)| d.id.clone()).collect();
        for id in &ids {
            self.indexes.keyword.delete_doc(id)?;
        }
        self.indexes.vectors.delete_docs(&ids).await?;
        let owned: Vec<Chunk> = chunks.into_iter().cloned().collect();
        self.indexes.keyword.add(&owned)?;
        let points = owned
            .iter()
            .cloned()
            .zip(vectors)
            .map(|(chunk, vector)| VectorPoint { chunk, vector })
            .collect();
        self.indexes.vectors.upsert(points).await?;
        self.indexes.keyword.commit()?;
        self.indexes.vectors.flush().await?;
        let mut entries = BTreeMap::new();
        for (doc, hash, chunks) in batch {
            entries.insert(
                doc.id.clone(),
                DocEntry {
                    hash,
                    source: doc.source.path.clone(),
                    domain: doc.domain.clone(),
                    chunks: chunks.iter().map(|c| c.id.clone()).collect(),
                },
            );
        }
        report.written += entries.len();
        report.chunks_written += owned.len();
        manifest.documents.extend(entries);
        manifest.save().map_err(IngestError::Manifest)?;
        report.write_s += t.elapsed().as_secs_f64();
        Ok(())
    }
}

fn progress(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} chunks ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}
