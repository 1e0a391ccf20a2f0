//! The culture domain: cultural relics, historical buildings, scenic spots and museums (with
//! bilingual names, era, category, site, district, coordinates, opening hours and tickets),
//! literary works (title, author, dynasty, text, notes) and Markdown articles.
//!
//! It loads JSON Lines and CSV records and Markdown, validates coordinates, turns a record
//! into citable bilingual text, and sets each place's location for "near me" search. Its
//! answers are for visitors on a phone: short, in the visitor's language. Search and answering
//! are left to the index and the agent.

mod records;

use std::path::Path;

use zhiku_core::{AnswerPolicy, Domain, FilterField, LoadDefaults, LoadedFile};
use zhiku_loaders::{extension, issue, load_markdown, read_records};

pub use records::{record_document, Record};

pub const NAME: &str = "culture";

const FIELDS: &[FilterField] = &[
    FilterField {
        key: "site",
        description: "site or complex, e.g. 故宫 / Forbidden City",
    },
    FilterField {
        key: "dynasty",
        description: "dynasty in Chinese, e.g. 明",
    },
    FilterField {
        key: "era",
        description: "era in English, e.g. Ming",
    },
    FilterField {
        key: "category",
        description: "palace, temple, garden, great_wall, museum, poem…",
    },
    FilterField {
        key: "district",
        description: "Beijing district, e.g. Dongcheng",
    },
    FilterField {
        key: "author",
        description: "author of a literary work",
    },
    FilterField {
        key: "unesco",
        description: "true for World Heritage sites",
    },
];

#[derive(Debug, Default, Clone, Copy)]
pub struct CultureDomain;

impl Domain for CultureDomain {
    fn name(&self) -> &'static str {
        NAME
    }

    /// About one phone screen: 180 Chinese characters or some 60 English words.
    fn answer_policy(&self) -> AnswerPolicy {
        AnswerPolicy {
            max_width: Some(360),
            passages: Some(4),
            ..AnswerPolicy::default()
        }
    }
    fn description(&self) -> &'static str {
        "Cultural relics, historical buildings, scenic spots, museums and literary works"
    }
    fn prompts(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "answer/culture.zh.j2",
                include_str!("../../../../prompts/answer/culture.zh.j2"),
            ),
            (
                "answer/culture.en.j2",
                include_str!("../../../../prompts/answer/culture.en.j2"),
            ),
        ]
    }

    fn filter_fields(&self) -> &'static [FilterField] {
        FIELDS
    }
    fn facets(&self) -> &'static [&'static str] {
        &["category", "district"]
    }
    fn accepts(&self, path: &Path) -> bool {
        matches!(
            extension(path).as_str(),
            "md" | "markdown" | "jsonl" | "csv"
        )
    }
    fn load(&self, path: &Path, display: &str, defaults: &LoadDefaults) -> LoadedFile {
        let mut out = LoadedFile::default();
        let records: Vec<Record> = match extension(path).as_str() {
            "jsonl" => {
                let (records, issues) = read_records(path, display);
                out.issues.extend(issues);
                records
                    .into_iter()
                    .map(|r| Record {
                        line: r.line,
                        fields: r.value,
                    })
                    .collect()
            }
            "csv" => read_csv(path, display, &mut out.issues),
            _ => {
                let mut loaded = load_markdown(path, display, NAME, defaults);
                for doc in &mut loaded.documents {
                    records::finish_article(doc, display, &mut loaded.issues);
                }
                loaded.documents.retain(|d| !d.text.is_empty());
                return loaded;
            }
        };
        for r in records {
            match record_document(&r, display, defaults) {
                Ok(d) => out.documents.push(d),
                Err(e) => out.issues.push(e),
            }
        }
        out
    }
}

/// CSV with a header row; a row with the wrong number of columns is reported and skipped.
fn read_csv(path: &Path, display: &str, issues: &mut Vec<zhiku_core::LoadIssue>) -> Vec<Record> {
    let mut reader = match csv::ReaderBuilder::new().flexible(true).from_path(path) {
        Ok(r) => r,
        Err(e) => {
            issues.push(issue(display, None, format!("cannot read CSV: {e}")));
            return Vec::new();
        }
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            issues.push(issue(display, Some(1), format!("bad CSV header: {e}")));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for row in reader.records() {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                issues.push(issue(display, line, format!("bad CSV row: {e}")));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line() as usize);
        if row.len() != headers.len() {
            issues.push(issue(
                display,
                Some(line),
                format!(
                    "row has {} columns, the header has {}",
                    row.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let fields = headers
            .iter()
            .zip(row.iter())
            .map(|(k, v)| {
                (
                    k.trim().to_string(),
                    serde_json::Value::String(v.to_string()),
                )
            })
            .collect();
        out.push(Record { line, fields });
    }
    out
}
