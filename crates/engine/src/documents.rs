//! Reading the sources: a document as indexed, with a cited passage marked in it (what the
//! chat's source panel and its "whole document" view show), and the values of each domain's
//! facets (what its pickers offer). Both read only what the caller's clearance lets through.

use std::collections::BTreeMap;

use serde::Serialize;
use zhiku_core::Chunk;

use crate::scope::Narrowing;
use crate::{Caller, Engine, EngineError};

/// A document with one passage marked: `before + cited + after` is the document's text as
/// indexed (or the part of it around the passage that was asked for).
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub doc_id: String,
    pub title: String,
    pub domain: String,
    /// The source file as ingested, and the record's line for line-oriented formats.
    pub path: String,
    pub line: Option<usize>,
    pub classification: String,
    pub metadata: BTreeMap<String, String>,
    /// The marked passage's section path, its chunk id and byte span (in the file when
    /// `span_in_file`, else in the document's text), as its citation gives them.
    pub section: String,
    pub chunk_id: Option<String>,
    pub start: usize,
    pub end: usize,
    pub span_in_file: bool,
    pub before: String,
    pub cited: String,
    pub after: String,
    /// Text was left out before `before` / after `after` (a context window was asked for).
    pub more_before: bool,
    pub more_after: bool,
}

/// One value of a facet and how many passages carry it.
#[derive(Debug, Clone, Serialize)]
pub struct FacetValue {
    pub value: String,
    pub passages: usize,
}

/// A domain the caller may ask about, with its facets' values.
#[derive(Debug, Clone, Serialize)]
pub struct DomainFacets {
    pub name: String,
    pub description: String,
    /// Facet key → its values, most common first (only facets with values).
    pub facets: BTreeMap<String, Vec<FacetValue>>,
}

/// Chunks of one document joined back into its text. Overlapping chunks are joined where they
/// overlap; a gap no chunk covers (front matter, trimmed space) becomes a blank line.
struct Joined {
    text: String,
    /// Each chunk's byte range in `text`.
    spans: Vec<(usize, usize)>,
}

fn join(chunks: &[Chunk]) -> Joined {
    let mut text = String::new();
    let mut spans = Vec::with_capacity(chunks.len());
    // Document offset already written, and (text offset − document offset) in this run.
    let mut cursor = 0usize;
    let mut shift = 0isize;
    for c in chunks {
        if c.start > cursor || text.is_empty() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            shift = text.len() as isize - c.start as isize;
            cursor = c.start;
        }
        let at = |offset: usize| (offset as isize + shift).max(0) as usize;
        spans.push((at(c.start), at(c.end)));
        if c.end > cursor {
            // The overlap was written from the previous chunk; write the rest.
            let skip = cursor - c.start;
            let rest = c.text.get(skip..).unwrap_or_else(|| {
                let mut s = skip;
                while s < c.text.len() && !c.text.is_char_boundary(s) {
                    s += 1;
                }
                &c.text[s..]
            });
            text.push_str(rest);
            cursor = c.end;
        }
    }
    Joined { text, spans }
}

/// The last `n` bytes of `s`, starting at a line (or else a character) boundary.
fn tail(s: &str, n: usize) -> (&str, bool) {
    if s.len() <= n {
        return (s, false);
    }
    let mut from = s.len() - n;
    while !s.is_char_boundary(from) {
        from += 1;
    }
    if let Some(nl) = s[from..].find('\n') {
        if nl + 1 < s.len() - from {
            from += nl + 1;
        }
    }
    (&s[from..], true)
}

/// The first `n` bytes of `s`, ending at a line (or else a character) boundary.
fn head(s: &str, n: usize) -> (&str, bool) {
    if s.len() <= n {
        return (s, false);
    }
    let mut to = n;
    while !s.is_char_boundary(to) {
        to -= 1;
    }
    if let Some(nl) = s[..to].rfind('\n') {
        if nl > 0 {
            to = nl;
        }
    }
    (&s[..to], true)
}

impl Engine {
    /// A document the caller may read, with the chunk `chunk_id` marked, and at most `context`
    /// bytes on each side of it (`None`: the whole document).
    /// The chunk each of an answer's citations quotes, as `caller` may read it now (`None`
    /// when it no longer can), in the citations' order.
    pub async fn cited_sources(
        &self,
        caller: &Caller,
        answer: &zhiku_agent::Answer,
    ) -> Result<Vec<Option<Chunk>>, EngineError> {
        let filter = self.scope(caller, &Narrowing::default())?;
        let mut by_doc: BTreeMap<&str, Vec<Chunk>> = BTreeMap::new();
        let mut out = Vec::with_capacity(answer.citations.len());
        for c in &answer.citations {
            let doc = c.doc_id.as_str();
            if !by_doc.contains_key(doc) {
                let chunks = self.indexes().keyword.chunks_of(doc, &filter).await?;
                by_doc.insert(doc, chunks);
            }
            out.push(
                by_doc
                    .get(doc)
                    .and_then(|cs| cs.iter().find(|ch| ch.id == c.chunk_id).cloned()),
            );
        }
        Ok(out)
    }

    pub async fn document(
        &self,
        caller: &Caller,
        doc_id: &str,
        chunk_id: Option<&str>,
        context: Option<usize>,
    ) -> Result<DocumentView, EngineError> {
        let filter = self.scope(caller, &Narrowing::default())?;
        let chunks = self.indexes().keyword.chunks_of(doc_id, &filter).await?;
        let Some(first) = chunks.first() else {
            return Err(EngineError::DocumentNotFound(doc_id.to_string()));
        };
        let marked = match chunk_id {
            Some(id) => Some(
                chunks
                    .iter()
                    .position(|c| c.id == id)
                    .ok_or_else(|| EngineError::DocumentNotFound(format!("{doc_id}#{id}")))?,
            ),
            None => None,
        };
        let joined = join(&chunks);
        let whole = joined.text.as_str();
        let (before, cited, after) = match marked {
            Some(i) => {
                let (s, e) = joined.spans[i];
                match (whole.get(..s), whole.get(s..e), whole.get(e..)) {
                    // The join must give back the chunk's own bytes; if it did not, show the
                    // chunk alone rather than a wrong mark.
                    (Some(b), Some(c), Some(a)) if c == chunks[i].text => (b, c, a),
                    _ => ("", chunks[i].text.as_str(), ""),
                }
            }
            None => (whole, "", ""),
        };
        let ((before, more_before), (after, more_after)) = match context {
            Some(n) => (tail(before, n), head(after, n)),
            None => ((before, false), (after, false)),
        };
        let c = marked.map_or(first, |i| &chunks[i]);
        self.audit_reading(
            caller,
            "document",
            None,
            [(doc_id, c.title.as_str(), c.domain.as_str())],
        )
        .await?;
        let span = c.source_span();
        Ok(DocumentView {
            doc_id: doc_id.to_string(),
            title: c.title.clone(),
            domain: c.domain.clone(),
            path: c.source.path.clone(),
            line: c.source.line,
            classification: c.classification.as_str().to_string(),
            metadata: c.metadata.clone(),
            section: if marked.is_some() {
                c.section.clone()
            } else {
                String::new()
            },
            chunk_id: marked.map(|_| c.id.clone()),
            start: marked.map_or(0, |_| span.start),
            end: marked.map_or(0, |_| span.end),
            span_in_file: span.in_file,
            before: before.to_string(),
            cited: cited.to_string(),
            after: after.to_string(),
            more_before,
            more_after,
        })
    }

    /// The domains the caller may ask about, each with the values its facets take among the
    /// passages the caller may read.
    pub async fn domains(&self, caller: &Caller) -> Result<Vec<DomainFacets>, EngineError> {
        let mut out = Vec::new();
        for domain in self.registry().iter() {
            if !caller.may_use(domain.name()) {
                continue;
            }
            let filter = self.scope(
                caller,
                &Narrowing {
                    domains: vec![domain.name().to_string()],
                    ..Narrowing::default()
                },
            )?;
            let mut facets = BTreeMap::new();
            for key in domain.facets() {
                let values: Vec<FacetValue> = self
                    .indexes()
                    .keyword
                    .tag_values(key, &filter)
                    .await?
                    .into_iter()
                    .map(|(value, passages)| FacetValue { value, passages })
                    .collect();
                if !values.is_empty() {
                    facets.insert(key.to_string(), values);
                }
            }
            out.push(DomainFacets {
                name: domain.name().to_string(),
                description: domain.description().to_string(),
                facets,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str, start: usize) -> Chunk {
        Chunk {
            id: format!("c{start}"),
            doc_id: "d".into(),
            domain: "education".into(),
            title: "t".into(),
            text: text.into(),
            start,
            end: start + text.len(),
            ordinal: start,
            section: String::new(),
            lang: None,
            classification: zhiku_core::Classification::Public,
            metadata: BTreeMap::new(),
            location: None,
            source: zhiku_core::SourceRef {
                path: "p.md".into(),
                line: None,
                text_offset: Some(0),
            },
        }
    }

    #[test]
    fn overlapping_and_separated_chunks_join_back_with_exact_spans() {
        let doc = "勾股定理：a²+b²=c²。直角三角形。\n\n第二节 例题：3,4,5。";
        // a and b overlap on "c²。直角"; a gap of "\n\n" lies between b and c.
        let a = &doc[..doc.find("三角形").unwrap()];
        let b_start = doc.find("c²").unwrap();
        let b = &doc[b_start..doc.find("\n\n").unwrap()];
        let c_start = doc.find("第二节").unwrap();
        let c = &doc[c_start..];
        let chunks = vec![chunk(a, 0), chunk(b, b_start), chunk(c, c_start)];
        let joined = join(&chunks);
        assert_eq!(joined.text, doc);
        for (i, ch) in chunks.iter().enumerate() {
            let (s, e) = joined.spans[i];
            assert_eq!(&joined.text[s..e], ch.text, "chunk {i}");
        }
    }

    #[test]
    fn context_windows_cut_at_lines_and_characters() {
        let s = "第一行\n第二行很长很长\n第三行";
        let (t, more) = tail(s, 12);
        assert!(more && s.ends_with(t) && !t.contains('\n'));
        let (h, more) = head(s, 12);
        assert!(more && s.starts_with(h));
        assert_eq!(tail("短", 10), ("短", false));
    }
}
