//! Hand-made chunks and hits for tests of the parts that take them (the indexes, citations,
//! extractive answers): one place that knows every field of a [`Chunk`].

use zhiku_core::{stable_chunk_id, Chunk, Classification, Hit, SourceRef};

/// A public chunk: the whole of document `doc` (`{doc}.md`) in `domain`, at offset 0, with no
/// metadata. Change what a test needs with struct update syntax.
pub fn sample_chunk(doc: &str, domain: &str, title: &str, text: &str) -> Chunk {
    Chunk {
        id: stable_chunk_id(doc, 0, text),
        doc_id: doc.into(),
        domain: domain.into(),
        title: title.into(),
        text: text.into(),
        start: 0,
        end: text.len(),
        ordinal: 0,
        section: String::new(),
        lang: None,
        classification: Classification::Public,
        metadata: Default::default(),
        location: None,
        source: SourceRef {
            path: format!("{doc}.md"),
            line: None,
            text_offset: Some(0),
        },
    }
}

/// `chunk` as a search hit with score 1 (no leg scores).
pub fn sample_hit(chunk: Chunk) -> Hit {
    Hit {
        chunk,
        score: 1.0,
        bm25: None,
        dense: None,
    }
}
