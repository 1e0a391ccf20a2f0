use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Classification;

/// Where a document's text came from, so that every chunk can be traced back to the exact
/// bytes of its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    /// Path of the source file as given to ingest (relative to the ingest root when possible).
    pub path: String,
    /// 1-based line of the record, for line-oriented formats (JSON Lines, CSV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Byte offset of `Document::text` inside the source file, when the text is a verbatim
    /// slice of the file (Markdown body, plain text). `None` when the text was decoded from a
    /// structured record (a JSON string field, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_offset: Option<usize>,
}

/// A span of a document that chunking must not cross, with its heading path
/// (e.g. "4 Treatment > 4.2 First-line drugs") and metadata of its own (a recommendation's
/// strength, say), both carried by every chunk inside it. A domain that sets sections must
/// cover all of the text it wants indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub start: usize,
    pub end: usize,
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One loaded document, before chunking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Stable id: from the source (front matter `id`, record `id`) or its path.
    pub id: String,
    pub domain: String,
    pub title: String,
    /// The citable text; chunk offsets are byte offsets into it.
    pub text: String,
    pub lang: Option<String>,
    pub classification: Classification,
    /// Whether the document said its level itself (front matter, record field), rather than
    /// taking its folder's or domain's default. Not part of the content hash.
    #[serde(skip)]
    pub classification_stated: bool,
    /// Filterable metadata (subject, grade_band, department, dynasty…), as text.
    pub metadata: BTreeMap<String, String>,
    /// WGS84 latitude / longitude, for documents about a place.
    pub location: Option<(f64, f64)>,
    /// Boundaries chunking respects; empty means the whole text is one section.
    pub sections: Vec<Section>,
    pub source: SourceRef,
}

impl Document {
    /// Hash of everything that determines the document's chunks and their payloads. Equal
    /// hashes mean re-ingesting the document would write exactly what is already stored.
    pub fn content_hash(&self, chunking_signature: &str) -> String {
        let mut h = Sha256::new();
        // serde_json of the whole document is deterministic (BTreeMap, fixed field order).
        h.update(serde_json::to_vec(self).unwrap_or_default());
        h.update(chunking_signature.as_bytes());
        hex::encode(h.finalize())
    }
}

/// One indexed unit: a span of a document's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// UUID (v5) derived from the document id, the chunk's position and its text.
    pub id: String,
    pub doc_id: String,
    pub domain: String,
    pub title: String,
    pub text: String,
    /// Byte range of `text` inside `Document::text`.
    pub start: usize,
    pub end: usize,
    pub ordinal: usize,
    pub section: String,
    pub lang: Option<String>,
    pub classification: Classification,
    pub metadata: BTreeMap<String, String>,
    pub location: Option<(f64, f64)>,
    pub source: SourceRef,
}

/// Where a chunk's text stands in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSpan {
    pub start: usize,
    pub end: usize,
    /// True: bytes of the file itself; false: of the document's extracted text (PDF, DOCX, a
    /// record's fields).
    pub in_file: bool,
}

impl Chunk {
    /// The chunk's byte span in its file when its text is a verbatim slice of it, else in the
    /// document's text: what a citation points at.
    pub fn source_span(&self) -> SourceSpan {
        let base = self.source.text_offset;
        SourceSpan {
            start: base.unwrap_or(0) + self.start,
            end: base.unwrap_or(0) + self.end,
            in_file: base.is_some(),
        }
    }

    /// The keyword tags both indexes filter on: `key=value` for every metadata field.
    pub fn tags(&self) -> Vec<String> {
        self.metadata
            .iter()
            .map(|(k, v)| format!("{k}={}", v.trim()))
            .collect()
    }
}

const CHUNK_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a68_696b_7500_4000_8000_6368_756e_6b73);

/// Stable chunk id: the same document, position and text always give the same id, on both
/// vector backends and in the keyword index.
pub fn stable_chunk_id(doc_id: &str, ordinal: usize, text: &str) -> String {
    let key = format!("{doc_id}\u{1f}{ordinal}\u{1f}{text}");
    uuid::Uuid::new_v5(&CHUNK_NAMESPACE, key.as_bytes()).to_string()
}

/// Which retrieval legs to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    Bm25,
    Dense,
    #[default]
    Hybrid,
}

impl RetrievalMode {
    pub const ALL: [RetrievalMode; 3] = [Self::Bm25, Self::Dense, Self::Hybrid];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Dense => "dense",
            Self::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for RetrievalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetrievalMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bm25" => Ok(Self::Bm25),
            "dense" => Ok(Self::Dense),
            "hybrid" => Ok(Self::Hybrid),
            o => Err(format!(
                "unknown mode {o:?} (expected bm25, dense or hybrid)"
            )),
        }
    }
}

/// A chunk's rank (1-based) and raw score in one retrieval leg.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LegScore {
    pub rank: usize,
    pub score: f32,
}

/// One retrieved chunk with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub chunk: Chunk,
    /// Final score (fused score in hybrid mode, the leg's score otherwise).
    pub score: f32,
    pub bm25: Option<LegScore>,
    pub dense: Option<LegScore>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ids_are_stable_and_content_bound() {
        let a = stable_chunk_id("doc", 0, "text");
        assert_eq!(a, stable_chunk_id("doc", 0, "text"));
        assert_ne!(a, stable_chunk_id("doc", 1, "text"));
        assert_ne!(a, stable_chunk_id("doc", 0, "text!"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
