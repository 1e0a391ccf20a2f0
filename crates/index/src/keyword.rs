//! BM25 over Tantivy: one `zh_en` analyzed title and body, a CJK-bigram field beside them,
//! keyword fields for the filters, and the whole chunk stored as JSON for provenance.

use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use zhiku_core::{Chunk, SearchFilter};

use crate::analysis::{self, CJK_BIGRAM, ZH_EN};
use crate::IndexError;

#[derive(Clone, Copy)]
struct Fields {
    chunk_id: Field,
    doc_id: Field,
    domain: Field,
    classification: Field,
    tags: Field,
    title: Field,
    body: Field,
    cjk: Field,
    lat: Field,
    lon: Field,
    stored: Field,
}

fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let fields = Fields {
        chunk_id: b.add_text_field("chunk_id", STRING),
        doc_id: b.add_text_field("doc_id", STRING),
        domain: b.add_text_field("domain", STRING),
        classification: b.add_text_field("classification", STRING),
        tags: b.add_text_field("tags", STRING),
        title: b.add_text_field("title", text(ZH_EN)),
        body: b.add_text_field("body", text(ZH_EN)),
        cjk: b.add_text_field("cjk", text(CJK_BIGRAM)),
        lat: b.add_f64_field("lat", INDEXED | FAST),
        lon: b.add_f64_field("lon", INDEXED | FAST),
        stored: b.add_text_field("chunk", STORED),
    };
    (b.build(), fields)
}

/// How much each field's BM25 counts.
pub(crate) const TITLE_BOOST: f32 = 1.0;
pub(crate) const CJK_BOOST: f32 = 0.5;

pub struct KeywordIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    analyzer: TextAnalyzer,
    bigrams: TextAnalyzer,
}

impl KeywordIndex {
    /// Opens the index in `dir`, creating it if the folder is empty.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| IndexError::Keyword(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = build_schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| IndexError::Keyword(format!("{}: {e}", dir.display())))?;
        let index = Index::open_or_create(mmap, schema)?;
        index
            .tokenizers()
            .register(ZH_EN, analysis::zh_en_analyzer());
        index
            .tokenizers()
            .register(CJK_BIGRAM, analysis::cjk_bigram_analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let analyzer = analysis::zh_en_analyzer();
        analysis::warm_up();
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            analyzer,
            bigrams: analysis::cjk_bigram_analyzer(),
        })
    }

    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| IndexError::Keyword("writer lock poisoned".into()))?;
        if guard.is_none() {
            let w = self.index.writer(64 * 1024 * 1024).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => {
                    IndexError::Busy(std::path::PathBuf::from("keyword index"))
                }
                other => other.into(),
            })?;
            *guard = Some(w);
        }
        match guard.as_mut() {
            Some(w) => f(w),
            None => Err(IndexError::Keyword("no writer".into())),
        }
    }

    /// Removes every chunk of the document (takes effect at the next commit).
    pub fn delete_doc(&self, doc_id: &str) -> Result<(), IndexError> {
        let term = Term::from_field_text(self.fields.doc_id, doc_id);
        self.with_writer(|w| {
            w.delete_term(term);
            Ok(())
        })
    }

    pub fn add(&self, chunks: &[Chunk]) -> Result<(), IndexError> {
        let f = self.fields;
        self.with_writer(|w| {
            for c in chunks {
                let mut doc = TantivyDocument::default();
                doc.add_text(f.chunk_id, &c.id);
                doc.add_text(f.doc_id, &c.doc_id);
                doc.add_text(f.domain, &c.domain);
                doc.add_text(f.classification, c.classification.as_str());
                for tag in c.tags() {
                    doc.add_text(f.tags, &tag);
                }
                doc.add_text(f.title, &c.title);
                doc.add_text(f.body, &c.text);
                doc.add_text(f.cjk, &c.title);
                doc.add_text(f.cjk, &c.text);
                if let Some((lat, lon)) = c.location {
                    doc.add_f64(f.lat, lat);
                    doc.add_f64(f.lon, lon);
                }
                let json =
                    serde_json::to_string(c).map_err(|e| IndexError::Corrupt(e.to_string()))?;
                doc.add_text(f.stored, &json);
                w.add_document(doc)?;
            }
            Ok(())
        })
    }

    /// Makes all adds and deletes durable and visible to searches.
    pub fn commit(&self) -> Result<(), IndexError> {
        self.with_writer(|w| {
            w.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    pub fn num_chunks(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn filter_clauses(&self, filter: &SearchFilter) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let any_of = |field: Field, values: &[String]| -> Box<dyn Query> {
            let clauses = values
                .iter()
                .map(|v| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(field, v),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            Box::new(ConstScoreQuery::new(
                Box::new(BooleanQuery::new(clauses)),
                0.0,
            ))
        };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !filter.domains.is_empty() {
            must.push((Occur::Must, any_of(f.domain, &filter.domains)));
        }
        let levels: Vec<String> = filter
            .classification_levels()
            .iter()
            .map(|s| s.to_string())
            .collect();
        must.push((Occur::Must, any_of(f.classification, &levels)));
        for group in filter.tag_groups() {
            must.push((Occur::Must, any_of(f.tags, &group)));
        }
        if let Some(g) = filter.geo {
            // A bounding box here; the exact circle is checked on the results.
            let dlat = g.radius_m / 111_000.0;
            let dlon = g.radius_m / (111_000.0 * g.lat.to_radians().cos().abs().max(0.01));
            for (field, lo, hi) in [
                (f.lat, g.lat - dlat, g.lat + dlat),
                (f.lon, g.lon - dlon, g.lon + dlon),
            ] {
                let q: Box<dyn Query> = Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_f64(field, lo)),
                    Bound::Included(Term::from_field_f64(field, hi)),
                ));
                must.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))));
            }
        }
        must
    }

    /// Every chunk of one document that the filter lets through, in reading order.
    pub fn chunks_of(&self, doc_id: &str, filter: &SearchFilter) -> Result<Vec<Chunk>, IndexError> {
        let mut clauses = self.filter_clauses(filter);
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(self.fields.doc_id, doc_id),
                IndexRecordOption::Basic,
            )),
        ));
        let searcher = self.reader.searcher();
        let query = BooleanQuery::new(clauses);
        let addrs = searcher.search(&query, &tantivy::collector::DocSetCollector)?;
        let mut chunks = Vec::with_capacity(addrs.len());
        for addr in addrs {
            chunks.push(self.stored_chunk(&searcher, addr)?);
        }
        chunks.sort_by_key(|c| (c.start, c.ordinal));
        Ok(chunks)
    }

    /// The values of one metadata key among the chunks the filter lets through, with how
    /// many chunks carry each, most common first.
    pub fn tag_values(
        &self,
        key: &str,
        filter: &SearchFilter,
    ) -> Result<Vec<(String, usize)>, IndexError> {
        let prefix = format!("{key}=");
        let searcher = self.reader.searcher();
        let mut values = std::collections::BTreeSet::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.fields.tags)?;
            let mut terms = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .into_stream()
                .map_err(|e| IndexError::Keyword(format!("reading the tags: {e}")))?;
            while terms.advance() {
                let Some(value) = std::str::from_utf8(terms.key())
                    .ok()
                    .and_then(|t| t.strip_prefix(&prefix))
                else {
                    break;
                };
                values.insert(value.to_string());
            }
        }
        let mut counted = Vec::with_capacity(values.len());
        for value in values {
            let mut clauses = self.filter_clauses(filter);
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.tags, &format!("{prefix}{value}")),
                    IndexRecordOption::Basic,
                )),
            ));
            let n = searcher.search(&BooleanQuery::new(clauses), &tantivy::collector::Count)?;
            if n > 0 {
                counted.push((value, n));
            }
        }
        counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(counted)
    }

    fn stored_chunk(
        &self,
        searcher: &tantivy::Searcher,
        addr: tantivy::DocAddress,
    ) -> Result<Chunk, IndexError> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let json = doc
            .get_first(self.fields.stored)
            .and_then(|v| v.as_str())
            .ok_or_else(|| IndexError::Corrupt("chunk without stored JSON".into()))?;
        serde_json::from_str(json).map_err(|e| IndexError::Corrupt(e.to_string()))
    }

    /// BM25 top-`k` chunks for the query under the filter, best first.
    pub fn search(
        &self,
        query: &str,
        filter: &SearchFilter,
        k: usize,
    ) -> Result<Vec<(Chunk, f32)>, IndexError> {
        let f = self.fields;
        let mut analyzer = self.analyzer.clone();
        let mut bigrams = self.bigrams.clone();
        // Term queries from the analyzer's own tokens: the query parser would turn an unspaced
        // Chinese question into a phrase query that matches nothing.
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in analysis::tokens(&mut analyzer, query) {
            for (field, boost) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
                let tq = TermQuery::new(
                    Term::from_field_text(field, &t),
                    IndexRecordOption::WithFreqs,
                );
                should.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(tq), boost)),
                ));
            }
        }
        for t in analysis::tokens(&mut bigrams, query) {
            let tq = TermQuery::new(
                Term::from_field_text(f.cjk, &t),
                IndexRecordOption::WithFreqs,
            );
            should.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(tq), CJK_BOOST)),
            ));
        }
        if should.is_empty() {
            return Ok(Vec::new());
        }
        let mut clauses = self.filter_clauses(filter);
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(should))));
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        // The geo filter is a bounding box here, trimmed to the circle below: fetch enough
        // that the trimming does not leave fewer than k.
        let fetch = if filter.geo.is_some() {
            k.max(1) * 4
        } else {
            k.max(1)
        };
        let top = searcher.search(&query, &TopDocs::with_limit(fetch).order_by_score())?;
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let chunk = self.stored_chunk(&searcher, addr)?;
            if let (Some(g), Some((lat, lon))) = (filter.geo, chunk.location) {
                if !g.contains(lat, lon) {
                    continue;
                }
            }
            out.push((chunk, score));
            if out.len() == k.max(1) {
                break;
            }
        }
        Ok(out)
    }
}
