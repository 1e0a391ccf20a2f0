//! What every loader promises about what it returns, whatever the bytes of the file were.
//! The fuzz targets (`fuzz/`) and the regression tests check loaded files against it; a
//! domain crate's own tests can too.

use zhiku_core::{Document, LoadedFile};

/// Every broken promise in `loaded`, read from a file whose bytes were `file`; empty when
/// there is none.
///
/// - Every issue names the file and says something.
/// - Every document has an id, and its sections are empty or tile its text exactly, in order,
///   on character boundaries: the chunker skips a section it cannot slice, so anything else
///   would silently drop text.
/// - A text said to be a verbatim slice of the file (`source.text_offset`) is exactly that,
///   so a citation's byte span points at the words it quotes.
/// - A location is a real latitude and longitude.
pub fn loaded_file_faults(file: &[u8], display: &str, loaded: &LoadedFile) -> Vec<String> {
    let mut faults = Vec::new();
    for issue in &loaded.issues {
        if issue.path != display || issue.message.trim().is_empty() {
            faults.push(format!("issue without its file or message: {issue:?}"));
        }
    }
    for doc in &loaded.documents {
        faults.extend(
            document_faults(file, doc)
                .into_iter()
                .map(|f| format!("document {:?}: {f}", doc.id)),
        );
    }
    faults
}

fn document_faults(file: &[u8], doc: &Document) -> Vec<String> {
    let mut faults = Vec::new();
    if doc.id.trim().is_empty() {
        faults.push("empty id".to_string());
    }
    if !doc.sections.is_empty() {
        let mut at = 0;
        for s in &doc.sections {
            let whole = s.start == at
                && s.start < s.end
                && doc.text.is_char_boundary(s.start)
                && doc.text.is_char_boundary(s.end);
            if !whole {
                faults.push(format!(
                    "section {}..{} does not follow on from {at} within {} bytes of text",
                    s.start,
                    s.end,
                    doc.text.len()
                ));
                return faults;
            }
            at = s.end;
        }
        if at != doc.text.len() {
            faults.push(format!("sections end at {at} of {} bytes", doc.text.len()));
        }
    }
    if let Some(offset) = doc.source.text_offset {
        let slice = file.get(offset..offset.saturating_add(doc.text.len()));
        if slice != Some(doc.text.as_bytes()) {
            faults.push(format!(
                "text is not the file's bytes from {offset} on, as its source says"
            ));
        }
    }
    if let Some((lat, lon)) = doc.location {
        if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
            faults.push(format!("location ({lat}, {lon}) is not on Earth"));
        }
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhiku_core::{LoadIssue, Section, SourceRef};

    fn doc(text: &str, sections: &[(usize, usize)], text_offset: Option<usize>) -> Document {
        Document {
            id: "d".into(),
            domain: "general".into(),
            title: "t".into(),
            text: text.into(),
            lang: None,
            classification: Default::default(),
            classification_stated: false,
            metadata: Default::default(),
            location: None,
            sections: sections
                .iter()
                .map(|&(start, end)| Section {
                    start,
                    end,
                    path: String::new(),
                    metadata: Default::default(),
                })
                .collect(),
            source: SourceRef {
                path: "f.md".into(),
                line: None,
                text_offset,
            },
        }
    }

    fn faults(file: &str, d: Document) -> Vec<String> {
        let loaded = LoadedFile {
            documents: vec![d],
            issues: Vec::new(),
        };
        loaded_file_faults(file.as_bytes(), "f.md", &loaded)
    }

    #[test]
    fn a_kept_promise_has_no_faults() {
        let file = "---\nid: d\n---\n勾股定理 a²+b²=c²\n";
        let text = &file[14..];
        assert_eq!(faults(file, doc(text, &[], Some(14))), Vec::<String>::new());
        assert!(faults(file, doc(text, &[(0, 12), (12, text.len())], Some(14))).is_empty());
    }

    #[test]
    fn every_broken_promise_is_found() {
        let text = "勾股定理 a²+b²=c²\n";
        // a gap, an overlap, a section inside a character, sections that stop short
        for sections in [
            vec![(0, 5), (6, text.len())],
            vec![(0, 6), (5, text.len())],
            vec![(0, 1), (1, text.len())],
            vec![(0, 6)],
        ] {
            assert_eq!(
                faults(text, doc(text, &sections, None)).len(),
                1,
                "{sections:?}"
            );
        }
        assert_eq!(faults("xx勾股定理", doc(text, &[], Some(2))).len(), 1);
        assert_eq!(faults(text, doc(text, &[], Some(usize::MAX))).len(), 1);
        let mut far = doc(text, &[], None);
        far.location = Some((91.0, 0.0));
        far.id = " ".into();
        assert_eq!(faults(text, far).len(), 2);
        let loaded = LoadedFile {
            documents: Vec::new(),
            issues: vec![LoadIssue {
                path: "other.md".into(),
                line: Some(1),
                message: "bad".into(),
            }],
        };
        assert_eq!(loaded_file_faults(b"", "f.md", &loaded).len(), 1);
    }
}
