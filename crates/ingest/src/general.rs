use std::path::Path;

use zhiku_core::{Domain, FilterField, LoadDefaults, LoadedFile};

use zhiku_loaders::{extension, load_jsonl, load_markdown, load_text};

/// The catch-all domain: Markdown, plain text and JSON Lines with no domain-specific schema.
#[derive(Debug, Default, Clone, Copy)]
pub struct GeneralDomain;

pub const GENERAL: &str = "general";

impl Domain for GeneralDomain {
    fn name(&self) -> &'static str {
        GENERAL
    }
    fn description(&self) -> &'static str {
        "Any Markdown, text or JSON Lines material without a domain of its own"
    }
    fn filter_fields(&self) -> &'static [FilterField] {
        &[FilterField {
            key: "source",
            description: "origin of a record (JSON Lines)",
        }]
    }
    fn accepts(&self, path: &Path) -> bool {
        matches!(
            extension(path).as_str(),
            "md" | "markdown" | "txt" | "jsonl"
        )
    }
    fn load(&self, path: &Path, display: &str, defaults: &LoadDefaults) -> LoadedFile {
        match extension(path).as_str() {
            "md" | "markdown" => load_markdown(path, display, GENERAL, defaults),
            "jsonl" => load_jsonl(path, display, GENERAL, defaults),
            _ => load_text(path, display, GENERAL, defaults),
        }
    }
}
