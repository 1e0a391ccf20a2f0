use std::path::Path;

use zhiku_core::{Document, LoadDefaults, LoadedFile, SourceRef};

use super::markdown::file_stem;
use super::{issue, read_utf8};

/// A plain text file → one document; a short first line is taken as the title.
pub fn load_text(path: &Path, display: &str, domain: &str, defaults: &LoadDefaults) -> LoadedFile {
    let mut out = LoadedFile::default();
    let text = match read_utf8(path, display) {
        Ok(t) => t,
        Err(e) => {
            out.issues.push(e);
            return out;
        }
    };
    if text.trim().is_empty() {
        out.issues
            .push(issue(display, None, "document has no text"));
        return out;
    }
    let first = text.lines().next().unwrap_or("").trim();
    let title = if !first.is_empty() && first.chars().count() <= 80 {
        first.to_string()
    } else {
        file_stem(path)
    };
    out.documents.push(Document {
        id: display.to_string(),
        domain: domain.to_string(),
        title,
        text,
        lang: None,
        classification: defaults.classification,
        metadata: defaults.metadata.clone(),
        location: None,
        sections: Vec::new(),
        source: SourceRef {
            path: display.to_string(),
            line: None,
            text_offset: Some(0),
        },
    });
    out
}
