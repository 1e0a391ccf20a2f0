//! The keyword leg as Qdrant sparse vectors, so that it lives in the vector store (and, on a
//! cluster, in no replica's local disk).
//!
//! It reproduces the Tantivy leg's scoring: the same analyzers (jieba + stemming, and CJK
//! bigrams), the same three fields (title, body, bigrams of both) with the same boosts, and
//! BM25 (k1 = 1.2, b = 0.75, Tantivy's defaults). A document's vector holds, per term, BM25's
//! term-frequency part; Qdrant's `idf` modifier multiplies in the inverse document frequency
//! at query time (the same formula as Tantivy's), over the points the collection holds then.
//! A query's vector holds each distinct term once, weighted by its field's boost, so the
//! dot product is the sum Tantivy computes. What differs: the average field lengths are
//! constants (measured on the sample corpora) rather than the index's running averages, and
//! term ids are 32-bit hashes (a collision merges two rare terms; at a million distinct terms
//! about one pair in 8,600 does).

use std::collections::HashMap;

use tantivy::tokenizer::{TextAnalyzer, TokenStream};
use zhiku_core::Chunk;

use crate::analysis;
use crate::keyword::{CJK_BOOST, TITLE_BOOST};

/// Name of the sparse vector in both backends.
pub const SPARSE_NAME: &str = "bm25";

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// The fields of the Tantivy leg, each its own term-id space.
#[derive(Clone, Copy)]
enum Field {
    Title,
    Body,
    Bigrams,
}

impl Field {
    fn tag(self) -> u8 {
        match self {
            Self::Title => b't',
            Self::Body => b'b',
            Self::Bigrams => b'c',
        }
    }

    /// Average length in tokens, measured on `corpora/` and the dev sets' corpora (the
    /// Tantivy index's own averages after `zhiku ingest`; see docs/scaling.md).
    fn average_length(self) -> f32 {
        match self {
            Self::Title => 6.0,
            Self::Body => 150.0,
            Self::Bigrams => 260.0,
        }
    }

    fn boost(self) -> f32 {
        match self {
            Self::Title => TITLE_BOOST,
            Self::Body => 1.0,
            Self::Bigrams => CJK_BOOST,
        }
    }
}

/// A sparse vector: term ids, ascending and distinct, with their weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseTerms {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseTerms {
    fn from_map(map: HashMap<u32, f32>) -> Self {
        let mut pairs: Vec<(u32, f32)> = map.into_iter().collect();
        pairs.sort_by_key(|(i, _)| *i);
        let (indices, values) = pairs.into_iter().unzip();
        Self { indices, values }
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// FNV-1a over the field's tag and the token: stable across versions and platforms, which a
/// stored index needs (std's hasher is neither).
fn term_id(field: Field, token: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in std::iter::once(field.tag()).chain(token.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Turns chunks and queries into sparse vectors. Cheap to clone (the jieba dictionary is
/// shared); each call works on its own analyzers.
#[derive(Clone)]
pub struct SparseEncoder {
    words: TextAnalyzer,
    bigrams: TextAnalyzer,
}

impl Default for SparseEncoder {
    fn default() -> Self {
        Self {
            words: analysis::zh_en_analyzer(),
            bigrams: analysis::cjk_bigram_analyzer(),
        }
    }
}

impl SparseEncoder {
    fn analyzer(&self, field: Field) -> TextAnalyzer {
        match field {
            Field::Title | Field::Body => self.words.clone(),
            Field::Bigrams => self.bigrams.clone(),
        }
    }

    /// BM25's term-frequency part of every term of the chunk's fields.
    pub fn document(&self, chunk: &Chunk) -> SparseTerms {
        let mut weights = HashMap::new();
        for (field, texts) in [
            (Field::Title, vec![chunk.title.as_str()]),
            (Field::Body, vec![chunk.text.as_str()]),
            (
                Field::Bigrams,
                vec![chunk.title.as_str(), chunk.text.as_str()],
            ),
        ] {
            let mut analyzer = self.analyzer(field);
            let mut counts: HashMap<String, f32> = HashMap::new();
            let mut length = 0.0f32;
            for text in texts {
                let mut stream = analyzer.token_stream(text);
                while stream.advance() {
                    *counts.entry(stream.token().text.clone()).or_default() += 1.0;
                    length += 1.0;
                }
            }
            let norm = K1 * (1.0 - B + B * length / field.average_length());
            for (token, tf) in counts {
                let weight = tf * (K1 + 1.0) / (tf + norm);
                // Two tokens hashing alike in one field add up, as one term would.
                *weights.entry(term_id(field, &token)).or_insert(0.0) += weight;
            }
        }
        SparseTerms::from_map(weights)
    }

    /// Each distinct query term once per field, weighted by the field's boost.
    pub fn query(&self, text: &str) -> SparseTerms {
        let mut weights = HashMap::new();
        for field in [Field::Title, Field::Body, Field::Bigrams] {
            let mut analyzer = self.analyzer(field);
            for token in analysis::tokens(&mut analyzer, text) {
                *weights.entry(term_id(field, &token)).or_insert(0.0) += field.boost();
            }
        }
        SparseTerms::from_map(weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(title: &str, text: &str) -> Chunk {
        zhiku_testkit::sample_chunk("d", "education", title, text)
    }

    #[test]
    fn query_terms_meet_document_terms_in_every_field() {
        let enc = SparseEncoder::default();
        let doc = enc.document(&chunk(
            "牛顿第三定律",
            "作用力与反作用力大小相等。Newton's laws.",
        ));
        let query = enc.query("牛顿定律 newton");
        assert!(!doc.is_empty() && !query.is_empty());
        assert!(
            doc.indices.windows(2).all(|w| w[0] < w[1]),
            "sorted, distinct"
        );
        let shared: Vec<u32> = query
            .indices
            .iter()
            .filter(|i| doc.indices.contains(i))
            .copied()
            .collect();
        // 牛顿 and 定律 in the title, "newton" (stemmed) in the body, bigrams 牛顿 and 定律.
        assert!(shared.len() >= 4, "{shared:?}");
        assert!(doc.values.iter().all(|v| *v > 0.0 && *v < K1 + 1.0));
    }

    #[test]
    fn term_frequency_saturates_and_long_fields_weigh_less() {
        let enc = SparseEncoder::default();
        let weight = |text: &str| {
            let d = enc.document(&chunk("", text));
            let id = term_id(Field::Body, "heart");
            d.indices
                .iter()
                .position(|i| *i == id)
                .map(|p| d.values[p])
                .unwrap_or(0.0)
        };
        let once = weight("heart rate");
        let thrice = weight("heart heart heart rate");
        let diluted = weight(&format!("heart rate {}", "other words here ".repeat(100)));
        assert!(thrice > once && thrice < 3.0 * once, "{once} {thrice}");
        assert!(diluted < once, "{diluted} {once}");
    }

    #[test]
    fn ids_are_stable_across_runs_and_fields() {
        // Stored indexes depend on these values never changing.
        assert_eq!(term_id(Field::Body, "rate"), term_id(Field::Body, "rate"));
        assert_ne!(term_id(Field::Body, "rate"), term_id(Field::Title, "rate"));
        assert_eq!(term_id(Field::Body, ""), 0xe70c_2de5);
        assert_eq!(term_id(Field::Body, "rate"), 0xa808_7887);
    }
}
