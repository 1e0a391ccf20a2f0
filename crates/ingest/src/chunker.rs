//! Splits documents into chunks sized in the embedding model's tokens, Markdown-aware, with
//! overlap, never across a section boundary the domain set, each chunk carrying its heading
//! path and its byte span in the document.

use std::collections::BTreeMap;

use text_splitter::{ChunkConfig, MarkdownSplitter};
use tokenizers::Tokenizer;
use zhiku_core::{stable_chunk_id, Chunk, Document, IngestConfig, Section};
use zhiku_embed::Embedder;

use zhiku_loaders::{heading_paths, headings, path_at};

pub struct Chunker<'t> {
    splitter: MarkdownSplitter<&'t Tokenizer>,
    signature: String,
}

impl<'t> Chunker<'t> {
    pub fn new(embedder: &'t Embedder, cfg: &IngestConfig) -> Result<Self, String> {
        let config = ChunkConfig::new(cfg.chunk_min_tokens..=cfg.chunk_max_tokens)
            .with_overlap(cfg.overlap_tokens)
            .map_err(|e| e.to_string())?
            .with_sizer(embedder.tokenizer());
        Ok(Self {
            splitter: MarkdownSplitter::new(config),
            signature: signature(cfg, embedder),
        })
    }

    /// Identifies what turns a document into stored chunks and vectors (see [`signature`]).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    pub fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        let whole = [Section {
            start: 0,
            end: doc.text.len(),
            path: String::new(),
            metadata: Default::default(),
        }];
        let sections: &[Section] = if doc.sections.is_empty() {
            &whole
        } else {
            &doc.sections
        };
        let paths = heading_paths(&headings(&doc.text));
        let mut out = Vec::new();
        for section in sections {
            let Some(text) = doc.text.get(section.start..section.end) else {
                continue;
            };
            for (offset, piece) in self.splitter.chunk_indices(text) {
                let start = section.start + offset;
                let end = start + piece.len();
                let path = if section.path.is_empty() {
                    path_at(&paths, start)
                } else {
                    section.path.clone()
                };
                let ordinal = out.len();
                out.push(Chunk {
                    id: stable_chunk_id(&doc.id, ordinal, piece),
                    doc_id: doc.id.clone(),
                    domain: doc.domain.clone(),
                    title: doc.title.clone(),
                    text: piece.to_string(),
                    start,
                    end,
                    ordinal,
                    section: path,
                    lang: doc.lang.clone(),
                    classification: doc.classification,
                    metadata: merged(&doc.metadata, &section.metadata),
                    location: doc.location,
                    source: doc.source.clone(),
                });
            }
        }
        out
    }
}

fn merged(
    doc: &BTreeMap<String, String>,
    section: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut m = doc.clone();
    m.extend(section.iter().map(|(k, v)| (k.clone(), v.clone())));
    m
}

/// Bumped whenever chunking or the chunk payload changes in a way settings do not show.
const CHUNKER_VERSION: u32 = 2;

/// Identifies everything besides the document that decides its stored chunks and vectors:
/// the chunker's version, its settings and the embedding model's files. A change in any of
/// them re-chunks and re-embeds every document.
pub fn signature(cfg: &IngestConfig, embedder: &Embedder) -> String {
    format!(
        "chunker-v{CHUNKER_VERSION}:md-tokens:{}-{}/{};model:{}",
        cfg.chunk_min_tokens,
        cfg.chunk_max_tokens,
        cfg.overlap_tokens,
        embedder.fingerprint()
    )
}

/// The text an embedding sees for a chunk: title first, since passages often do not repeat
/// the subject their title names.
pub fn embedding_text(chunk: &Chunk) -> String {
    if chunk.title.is_empty() || chunk.text.starts_with(&chunk.title) {
        chunk.text.clone()
    } else {
        format!("{}\n{}", chunk.title, chunk.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_paths_skip_code_fences() {
        let t = "# Guide\nintro\n## 4 Treatment\n### 4.2 Drugs\ntext\n```\n# not a heading\n```\n## 5 Follow-up\n";
        let h = heading_paths(&headings(t));
        let paths: Vec<&str> = h.iter().map(|(_, p)| p.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "Guide",
                "Guide > 4 Treatment",
                "Guide > 4 Treatment > 4.2 Drugs",
                "Guide > 5 Follow-up"
            ]
        );
        let at = t.find("text").unwrap();
        assert_eq!(path_at(&h, at), "Guide > 4 Treatment > 4.2 Drugs");
    }
}
