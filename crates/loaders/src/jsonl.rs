use std::path::Path;

use zhiku_core::{Document, LoadDefaults, LoadIssue, LoadedFile, SourceRef};

use super::{issue, scalar_text};

/// One parsed JSON Lines record with its line number.
pub struct JsonRecord {
    pub line: usize,
    pub value: serde_json::Map<String, serde_json::Value>,
}

/// Reads a JSON Lines file record by record: a line that is not UTF-8 or not a JSON object
/// is reported with its line number and skipped; the others are returned.
pub fn read_records(path: &Path, display: &str) -> (Vec<JsonRecord>, Vec<LoadIssue>) {
    let mut records = Vec::new();
    let mut issues = Vec::new();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            issues.push(issue(display, None, format!("cannot read file: {e}")));
            return (records, issues);
        }
    };
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            issues.push(issue(display, Some(line), "line is not valid UTF-8"));
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(value)) => records.push(JsonRecord { line, value }),
            Ok(_) => issues.push(issue(display, Some(line), "record is not a JSON object")),
            Err(e) => issues.push(issue(display, Some(line), format!("malformed JSON: {e}"))),
        }
    }
    (records, issues)
}

/// Generic records: `text` (or `body` / `content`) is required; `id`, `title`, `lang`,
/// `classification` are understood; other scalar fields become metadata.
pub fn load_jsonl(path: &Path, display: &str, domain: &str, defaults: &LoadDefaults) -> LoadedFile {
    let (records, mut issues) = read_records(path, display);
    let mut documents = Vec::new();
    for JsonRecord { line, value } in records {
        let get = |k: &str| value.get(k).and_then(scalar_text).filter(|s| !s.is_empty());
        let Some(text) = get("text")
            .or_else(|| get("body"))
            .or_else(|| get("content"))
        else {
            issues.push(issue(display, Some(line), "record has no \"text\" field"));
            continue;
        };
        let stated = match crate::stated_classification(&value) {
            Ok(c) => c,
            Err(e) => {
                issues.push(issue(display, Some(line), e));
                continue;
            }
        };
        let mut metadata: std::collections::BTreeMap<String, String> = value
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "id" | "title" | "text" | "body" | "content" | "lang"
                ) && !crate::is_classification_key(k)
            })
            .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
            .collect();
        defaults.apply_metadata(&mut metadata);
        documents.push(Document {
            id: get("id").unwrap_or_else(|| format!("{display}#L{line}")),
            domain: domain.to_string(),
            title: get("title").unwrap_or_default(),
            text,
            lang: get("lang"),
            classification: stated.unwrap_or(defaults.classification),
            classification_stated: stated.is_some(),
            metadata,
            location: None,
            sections: Vec::new(),
            source: SourceRef {
                path: display.to_string(),
                line: Some(line),
                text_offset: None,
            },
        });
    }
    LoadedFile { documents, issues }
}
