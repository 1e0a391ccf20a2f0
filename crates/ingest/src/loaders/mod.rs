//! Generic loaders: Markdown with YAML front matter, plain text and JSON Lines records.
//! Domain crates reuse these and add their own formats.

mod jsonl;
mod markdown;
mod text;

pub use jsonl::{load_jsonl, JsonRecord};
pub use markdown::{load_markdown, split_front_matter, FrontMatter};
pub use text::load_text;

use std::path::Path;

use zhiku_core::LoadIssue;

/// Reads a file as UTF-8, or says why it cannot (unreadable, or not UTF-8 at which line).
pub fn read_utf8(path: &Path, display: &str) -> Result<String, LoadIssue> {
    let bytes = std::fs::read(path).map_err(|e| LoadIssue {
        path: display.to_string(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        LoadIssue {
            path: display.to_string(),
            line: Some(line),
            message: format!("not valid UTF-8 (byte {at}); convert the file to UTF-8"),
        }
    })
}

pub fn issue(display: &str, line: Option<usize>, message: impl Into<String>) -> LoadIssue {
    LoadIssue {
        path: display.to_string(),
        line,
        message: message.into(),
    }
}

/// Lower-case file extension.
pub fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A YAML/JSON scalar as metadata text; lists become comma-separated text.
pub fn scalar_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar_text).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        _ => None,
    }
}
