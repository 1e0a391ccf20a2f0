//! load → chunk → embed (length-sorted batches) → write both indexes → commit → manifest.
//!
//! Idempotence: chunk ids come from content, a document whose hash is in the manifest is
//! skipped (no embedding, no write), and a document being written is always first deleted by
//! id from both indexes.
//!
//! Crash safety: before a batch (or a prune) touches either index, the documents it changes
//! are written to `intent.json` with the hash each will have; the manifest is saved after both
//! indexes have committed, then the intent is cleared. A run killed anywhere leaves either no
//! intent (the manifest claims exactly what the indexes hold) or one that the next run
//! settles first: every document whose change did not reach the manifest is deleted from
//! both indexes and from the manifest, and is then written afresh from its current file.
//! Optimising the vector index is owed in the manifest until it succeeds.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use zhiku_core::{Chunk, Document, DomainRegistry, IngestConfig, LoadIssue};
use zhiku_embed::Embedder;
use zhiku_index::{IndexSet, VectorPoint};

use crate::chunker::{embedding_text, Chunker};
use crate::manifest::{DocEntry, Intent, Manifest};
use crate::sources::{absolute, prune_plan, SourceNames};
use crate::walk::{files_under, FolderDefaults};
use crate::{IngestError, GENERAL};

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Remove documents whose files are gone (under the given paths).
    pub prune: bool,
    /// Allow a prune larger than `ingest.prune_max_share` of the index.
    pub yes: bool,
    /// Any problem is fatal to the prune: a run that reports problems removes nothing.
    pub strict: bool,
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
    /// Documents an interrupted earlier run had left half-changed, repaired first.
    pub settled: usize,
    pub chunks_written: usize,
    pub embedded: u64,
    pub total_chunks: usize,
    pub optimized: bool,
    pub issues: Vec<LoadIssue>,
    /// What the run chose not to do, and why (documents kept by `--prune`).
    pub notices: Vec<String>,
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

/// A loaded document with the absolute path of its file.
struct Loaded {
    docs: Vec<(Document, PathBuf)>,
    /// Files that loaded without a problem.
    clean: HashSet<PathBuf>,
    /// Documents whose level is their domain's default: neither they nor their folder said.
    defaulted: HashSet<String>,
}

/// A document to write: the document, its hash, its chunks and its file.
type Pending = (Document, String, Vec<Chunk>, PathBuf);

/// Test hook: with `ZHIKU_FAILPOINT=NAME` the process aborts at the point of that name, as a
/// `kill -9` there would (the crash tests use it to hit the narrow windows exactly).
fn failpoint(name: &str) {
    if std::env::var("ZHIKU_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}

impl Ingestor<'_> {
    fn names(&self) -> SourceNames {
        SourceNames::new(&self.config.corpus_root, &self.indexes.dir)
    }

    /// Picks the domain of a file: the `--domain` option, else the nearest folder (from the
    /// named root down) called like a registered domain, else `general`.
    fn domain_for(&self, file: &Path, root: &Path, opts: &IngestOptions) -> String {
        if let Some(d) = &opts.domain {
            return d.clone();
        }
        let rel = file.strip_prefix(root).unwrap_or(file);
        let names = self.registry.names();
        absolute(root)
            .file_name()
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
    ) -> Result<Loaded, IngestError> {
        if let Some(d) = &opts.domain {
            self.registry.get(d)?;
        }
        let names = self.names();
        let mut defaults = FolderDefaults::default();
        let mut loaded = Loaded {
            docs: Vec::new(),
            clean: HashSet::new(),
            defaulted: HashSet::new(),
        };
        let mut seen: HashSet<String> = HashSet::new();
        for root in roots {
            let (files, problems) = files_under(root);
            report.issues.extend(problems);
            for file in files {
                let path = absolute(&file);
                let shown = names.name(&path);
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
                let problems_before = report.issues.len();
                let Some(mut file_defaults) = defaults.for_file(&file, root, &mut report.issues)
                else {
                    report.issues.push(LoadIssue {
                        path: shown.clone(),
                        line: None,
                        message: "not ingested: the _defaults.yaml of its folder has a problem"
                            .into(),
                    });
                    continue;
                };
                if !file_defaults.classification_stated {
                    file_defaults.classification = self
                        .config
                        .default_classification
                        .get(domain.name())
                        .copied()
                        .unwrap_or_default();
                }
                let file_docs = domain.load(&file, &shown, &file_defaults);
                report.issues.extend(file_docs.issues);
                for doc in file_docs.documents {
                    if !seen.insert(doc.id.clone()) {
                        report.issues.push(LoadIssue {
                            path: shown.clone(),
                            line: doc.source.line,
                            message: format!("duplicate document id {:?}; skipped", doc.id),
                        });
                        continue;
                    }
                    if !doc.classification_stated && !file_defaults.classification_stated {
                        loaded.defaulted.insert(doc.id.clone());
                    }
                    loaded.docs.push((doc, path.clone()));
                }
                if report.issues.len() == problems_before {
                    loaded.clean.insert(path);
                }
            }
        }
        Ok(loaded)
    }

    /// The chunks ingest would make of these paths, without writing anything (benchmarks
    /// use it to embed exactly what ingest embeds).
    pub fn plan(&self, roots: &[PathBuf], opts: &IngestOptions) -> Result<Vec<Chunk>, IngestError> {
        let mut report = IngestReport::default();
        let loaded = self.load(roots, opts, &mut report)?;
        let chunker = Chunker::new(self.embedder, self.config).map_err(IngestError::Config)?;
        Ok(loaded
            .docs
            .iter()
            .flat_map(|(d, _)| chunker.chunk(d))
            .collect())
    }

    pub async fn run(
        &self,
        roots: &[PathBuf],
        opts: &IngestOptions,
    ) -> Result<IngestReport, IngestError> {
        let started = Instant::now();
        // Before anything is written (settling an interrupted run writes too).
        self.indexes.ensure_room()?;
        let mut report = IngestReport::default();
        let mut manifest = Manifest::load(&self.indexes.dir)?;
        report.settled = self.settle(&mut manifest).await?;
        let embedded_before = self.embedder.embedded_count();

        let t = Instant::now();
        let loaded = self.load(roots, opts, &mut report)?;
        report.documents = loaded.docs.len();
        report.load_s = t.elapsed().as_secs_f64();

        let t = Instant::now();
        let chunker = Chunker::new(self.embedder, self.config).map_err(IngestError::Config)?;
        let mut todo: Vec<Pending> = Vec::new();
        let mut levels_learned = false;
        for (doc, file) in &loaded.docs {
            let hash = doc.content_hash(chunker.signature());
            if let Some(entry) = manifest
                .documents
                .get_mut(&doc.id)
                .filter(|e| e.hash == hash)
            {
                // A manifest from before levels were kept learns this one without a rewrite.
                let defaulted = loaded.defaulted.contains(&doc.id);
                levels_learned |= entry.classification != doc.classification
                    || entry.classification_defaulted != defaulted;
                entry.classification = doc.classification;
                entry.classification_defaulted = defaulted;
                report.unchanged += 1;
                continue;
            }
            let chunks = chunker.chunk(doc);
            todo.push((doc.clone(), hash, chunks, file.clone()));
        }
        report.chunk_s = t.elapsed().as_secs_f64();
        if levels_learned {
            manifest.save()?;
        }

        // Decided before anything is written, so that a refused prune changes nothing.
        let gone = if opts.prune {
            self.gone(roots, opts, &loaded, &manifest, &mut report)?
        } else {
            Vec::new()
        };

        let total: usize = todo.iter().map(|p| p.2.len()).sum();
        report.total_chunks = total;
        let bar = progress(opts.progress_bar, total as u64);
        let mut batch: Vec<Pending> = Vec::new();
        let mut batch_chunks = 0;
        let mut todo = todo.into_iter().peekable();
        while let Some(item) = todo.next() {
            batch_chunks += item.2.len();
            batch.push(item);
            if batch_chunks >= self.config.commit_every_chunks || todo.peek().is_none() {
                let written = std::mem::take(&mut batch);
                self.write_batch(written, &loaded.defaulted, &mut manifest, &mut report)
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
            self.remove(&gone, &mut manifest).await?;
            report.removed = gone.len();
            report.write_s += t.elapsed().as_secs_f64();
        }
        if manifest.optimize_pending {
            let t = Instant::now();
            failpoint("optimize");
            self.indexes.vectors.optimize().await?;
            manifest.optimize_pending = false;
            manifest.save()?;
            report.optimized = true;
            report.write_s += t.elapsed().as_secs_f64();
        }
        report.embedded = self.embedder.embedded_count() - embedded_before;
        report.total_s = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The documents `--prune` removes (see `sources::prune_plan`), refused when there are
    /// problems under `--strict` or when they are too large a share of the index.
    fn gone(
        &self,
        roots: &[PathBuf],
        opts: &IngestOptions,
        loaded: &Loaded,
        manifest: &Manifest,
        report: &mut IngestReport,
    ) -> Result<Vec<String>, IngestError> {
        if opts.strict && !report.issues.is_empty() {
            report
                .notices
                .push("nothing pruned: --strict and this run had problems".into());
            return Ok(Vec::new());
        }
        let roots: Vec<PathBuf> = roots.iter().map(|r| absolute(r)).collect();
        let seen: HashSet<&str> = loaded.docs.iter().map(|(d, _)| d.id.as_str()).collect();
        let plan = prune_plan(manifest, &self.names(), &roots, &seen, &loaded.clean);
        for (source, n) in &plan.kept {
            report.notices.push(format!(
                "{source}: kept {n} indexed document(s): the file exists but did not load cleanly in this run"
            ));
        }
        let indexed = manifest.documents.len();
        let share = self.config.prune_max_share;
        if !opts.yes && plan.gone.len() as f64 > share * indexed as f64 {
            return Err(IngestError::PruneTooLarge {
                would_remove: plan.gone.len(),
                indexed,
                share,
            });
        }
        Ok(plan.gone)
    }

    /// Finishes what an interrupted run left: every document of its intent whose change did
    /// not reach the manifest is deleted from both indexes and the manifest (this run, or a
    /// later one, writes it again from its file as it is now). Returns how many.
    async fn settle(&self, manifest: &mut Manifest) -> Result<usize, IngestError> {
        let dir = &self.indexes.dir;
        let Some(intent) = Intent::load(dir)? else {
            return Ok(0);
        };
        let unfinished = intent.unfinished(manifest);
        if !unfinished.is_empty() {
            tracing::warn!(
                documents = unfinished.len(),
                "an earlier ingest was interrupted; settling the documents it was changing"
            );
            self.delete_from_indexes(&unfinished).await?;
            for id in &unfinished {
                manifest.documents.remove(id);
            }
            manifest.optimize_pending = true;
            manifest.save()?;
        }
        Intent::clear(dir)?;
        Ok(unfinished.len())
    }

    /// Deletes documents from both indexes and makes the deletion durable.
    async fn delete_from_indexes(&self, ids: &[String]) -> Result<(), IngestError> {
        for id in ids {
            self.indexes.keyword.delete_doc(id)?;
        }
        self.indexes.vectors.delete_docs(ids).await?;
        self.indexes.keyword.commit()?;
        self.indexes.vectors.flush().await?;
        Ok(())
    }

    async fn remove(&self, gone: &[String], manifest: &mut Manifest) -> Result<(), IngestError> {
        let dir = &self.indexes.dir;
        Intent {
            documents: gone.iter().map(|id| (id.clone(), None)).collect(),
        }
        .save(dir)?;
        self.delete_from_indexes(gone).await?;
        failpoint("prune:after-commit");
        for id in gone {
            manifest.documents.remove(id);
        }
        manifest.optimize_pending = true;
        manifest.save()?;
        Intent::clear(dir)?;
        Ok(())
    }

    async fn write_batch(
        &self,
        batch: Vec<Pending>,
        defaulted: &HashSet<String>,
        manifest: &mut Manifest,
        report: &mut IngestReport,
    ) -> Result<(), IngestError> {
        let t = Instant::now();
        let chunks: Vec<&Chunk> = batch.iter().flat_map(|p| &p.2).collect();
        let texts: Vec<String> = chunks.iter().map(|c| embedding_text(c)).collect();
        let vectors = self.embedder.embed_passages(&texts)?;
        report.embed_s += t.elapsed().as_secs_f64();

        let t = Instant::now();
        // Before each batch, not only at the start: the disk may fill while a large ingest
        // runs, and a batch refused here leaves the batches before it committed.
        self.indexes.ensure_free_space()?;
        let dir = &self.indexes.dir;
        Intent {
            documents: batch
                .iter()
                .map(|(d, hash, _, _)| (d.id.clone(), Some(hash.clone())))
                .collect(),
        }
        .save(dir)?;
        let ids: Vec<String> = batch.iter().map(|p| p.0.id.clone()).collect();
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
        failpoint("write:before-commit");
        self.indexes.keyword.commit()?;
        self.indexes.vectors.flush().await?;
        failpoint("write:after-commit");
        let mut entries = BTreeMap::new();
        for (doc, hash, chunks, file) in batch {
            entries.insert(
                doc.id.clone(),
                DocEntry {
                    hash,
                    source: doc.source.path.clone(),
                    domain: doc.domain.clone(),
                    chunks: chunks.iter().map(|c| c.id.clone()).collect(),
                    file: Some(file),
                    classification: doc.classification,
                    classification_defaulted: defaulted.contains(&doc.id),
                },
            );
        }
        report.written += entries.len();
        report.chunks_written += owned.len();
        manifest.documents.extend(entries);
        manifest.optimize_pending = true;
        manifest.save()?;
        Intent::clear(dir)?;
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
