//! Splits documents into chunks sized in the embedding model's tokens, Markdown-aware, with
//! overlap, never across a section boundary the domain set, each chunk carrying its heading
//! path and its byte span in the document.

use text_splitter::{ChunkConfig, MarkdownSplitter};
use tokenizers::Tokenizer;
use zhiku_core::{stable_chunk_id, Chunk, Document, IngestConfig, Section};

pub struct Chunker<'t> {
    splitter: MarkdownSplitter<&'t Tokenizer>,
    signature: String,
}

impl<'t> Chunker<'t> {
    pub fn new(tokenizer: &'t Tokenizer, cfg: &IngestConfig) -> Result<Self, String> {
        let config = ChunkConfig::new(cfg.chunk_min_tokens..=cfg.chunk_max_tokens)
            .with_overlap(cfg.overlap_tokens)
            .map_err(|e| e.to_string())?
            .with_sizer(tokenizer);
        Ok(Self {
            splitter: MarkdownSplitter::new(config),
            signature: signature(cfg),
        })
    }

    /// Identifies the chunking settings: a change re-chunks every document.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    pub fn chunk(&self, doc: &Document) -> Vec<Chunk> {
        let whole = [Section {
            start: 0,
            end: doc.text.len(),
            path: String::new(),
        }];
        let sections: &[Section] = if doc.sections.is_empty() {
            &whole
        } else {
            &doc.sections
        };
        let headings = heading_trail(&doc.text);
        let mut out = Vec::new();
        for section in sections {
            let Some(text) = doc.text.get(section.start..section.end) else {
                continue;
            };
            for (offset, piece) in self.splitter.chunk_indices(text) {
                let start = section.start + offset;
                let end = start + piece.len();
                let path = if section.path.is_empty() {
                    trail_at(&headings, start)
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
                    metadata: doc.metadata.clone(),
                    location: doc.location,
                    source: doc.source.clone(),
                });
            }
        }
        out
    }
}

pub fn signature(cfg: &IngestConfig) -> String {
    format!(
        "md-tokens:{}-{}/{}",
        cfg.chunk_min_tokens, cfg.chunk_max_tokens, cfg.overlap_tokens
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

/// (offset, heading path) for every Markdown heading outside code fences.
fn heading_trail(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut in_fence = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            let level = t.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&level) && t[level..].starts_with(' ') {
                let title = t[level..].trim().to_string();
                stack.retain(|(l, _)| *l < level);
                stack.push((level, title));
                let path: Vec<&str> = stack.iter().map(|(_, s)| s.as_str()).collect();
                out.push((pos, path.join(" > ")));
            }
        }
        pos += line.len();
    }
    out
}

fn trail_at(headings: &[(usize, String)], at: usize) -> String {
    // A chunk that starts with a heading belongs under it.
    headings
        .iter()
        .take_while(|(o, _)| *o <= at)
        .last()
        .map(|(_, p)| p.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_paths() {
        let t = "# Guide\nintro\n## 4 Treatment\n### 4.2 Drugs\ntext\n```\n# not a heading\n```\n## 5 Follow-up\n";
        let h = heading_trail(t);
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
        assert_eq!(trail_at(&h, at), "Guide > 4 Treatment > 4.2 Drugs");
    }
}
