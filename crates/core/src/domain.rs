use std::collections::BTreeMap;
use std::path::Path;

use crate::{Chunk, Classification, CoreError, Document, RetrievalConfig, SearchFilter};

/// What applies to documents that do not say otherwise: set per folder by `_defaults.yaml`
/// (`classification` plus any metadata keys, e.g. `subject: physics`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadDefaults {
    pub classification: Classification,
    /// Whether a `_defaults.yaml` stated the level (else it is the domain's default).
    pub classification_stated: bool,
    pub metadata: BTreeMap<String, String>,
}

impl LoadDefaults {
    /// Fills in the metadata keys a document does not set itself.
    pub fn apply_metadata(&self, metadata: &mut BTreeMap<String, String>) {
        for (k, v) in &self.metadata {
            metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// A metadata field a domain lets users filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterField {
    pub key: &'static str,
    pub description: &'static str,
}

/// A problem with one file or record. Ingest reports it and goes on with the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadIssue {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for LoadIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.path, l, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// What loading one file produced: the documents that could be read, and the problems met.
#[derive(Debug, Default)]
pub struct LoadedFile {
    pub documents: Vec<Document>,
    pub issues: Vec<LoadIssue>,
}

/// Retrieval settings a domain prefers for searches restricted to it (unset: the
/// configuration's own).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DomainRetrieval {
    pub bm25_weight: Option<f32>,
    pub dense_weight: Option<f32>,
}

impl DomainRetrieval {
    /// The configuration with this domain's preferences applied.
    pub fn apply(&self, cfg: &RetrievalConfig) -> RetrievalConfig {
        let mut out = cfg.clone();
        if let Some(w) = self.bm25_weight {
            out.bm25_weight = w;
        }
        if let Some(w) = self.dense_weight {
            out.dense_weight = w;
        }
        out
    }
}

/// What a question implies beyond its words, read by the domain: e.g. the grade an
/// education question is asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuestionHints {
    /// Preferred metadata (`grade_band = junior`): retrieval tries these first and drops
    /// them when nothing matches, so a hint never empties the answer.
    pub prefer: BTreeMap<String, Vec<String>>,
    /// Values handed to the prompt template under `hints` (e.g. `grade = 初中`).
    pub prompt: BTreeMap<String, String>,
}

/// How a domain wants its answers shaped. The prompt templates say it to the model; the
/// agent enforces what can be checked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnswerPolicy {
    /// Longest answer in display columns, a CJK character counting two (e.g. what fits a
    /// phone screen); `None`: no limit.
    pub max_width: Option<usize>,
    /// Passages given to the model / quoted by the extractive answer; `None`: the agent's.
    pub passages: Option<usize>,
    /// Whether [`Domain::check_sentence`] has checks to run (a model's answer is then
    /// released sentence by sentence instead of token by token).
    pub checks_sentences: bool,
}

impl LoadedFile {
    /// A file that could not be read at all: no documents, one issue.
    pub fn failed(issue: LoadIssue) -> Self {
        Self {
            documents: Vec::new(),
            issues: vec![issue],
        }
    }
}

/// A subject area (education, medicine, culture…) as a plug-in: it owns its file formats,
/// record schemas, filterable metadata and how a record becomes citable text. Retrieval and
/// the agent only ever see the [`Document`]s it produces, so adding a domain is one crate
/// implementing this trait plus one `DomainRegistry::register` line in the binary.
pub trait Domain: Send + Sync {
    /// Short lowercase name, also the folder name under `corpora/` (e.g. `"medicine"`).
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The metadata keys users may filter on in this domain.
    fn filter_fields(&self) -> &'static [FilterField];
    /// Whether every reading of this domain's passages is recorded in the audit trail,
    /// whichever door it comes through (medicine: clinical guidelines). Off by default.
    fn audited(&self) -> bool {
        false
    }
    /// The filter fields a chat page offers as pickers (their values are read from the
    /// index), most useful first.
    fn facets(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether this domain has a loader for the file (usually by extension).
    fn accepts(&self, path: &Path) -> bool;
    /// Reads one file. `display_path` is the path to report and to store as the source;
    /// `defaults` apply to documents that do not state their own level or metadata.
    fn load(&self, path: &Path, display_path: &str, defaults: &LoadDefaults) -> LoadedFile;
    /// Retrieval settings for searches restricted to this domain.
    fn retrieval(&self) -> DomainRetrieval {
        DomainRetrieval::default()
    }
    /// What a question implies for retrieval and the prompt.
    fn interpret(&self, _question: &str) -> QuestionHints {
        QuestionHints::default()
    }
    /// The domain's built-in prompt templates, `(name, text)` with names as under `prompts/`
    /// (`answer/<domain>.zh.j2`, `answer/<domain>.en.j2`); a `prompts/` folder's file of the
    /// same name wins. None: the general rules apply.
    fn prompts(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// How answers in this domain are shaped.
    fn answer_policy(&self) -> AnswerPolicy {
        AnswerPolicy::default()
    }
    /// Checks one sentence of a model's answer against the text of the passages it may rely
    /// on; `Err(reason)` drops the sentence and tells the user why (e.g. a dose that no cited
    /// passage states).
    fn check_sentence(&self, _sentence: &str, _cited: &[&str]) -> Result<(), String> {
        Ok(())
    }
    /// A short line on a cited chunk's standing for the reader (e.g. recommendation
    /// strength, evidence level and guideline version), in `lang` (`zh` or `en`).
    fn source_note(&self, _chunk: &Chunk, _lang: &str) -> Option<String> {
        None
    }
}

/// The registered domains, looked up by name.
#[derive(Default)]
pub struct DomainRegistry {
    domains: Vec<Box<dyn Domain>>,
}

impl DomainRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, domain: impl Domain + 'static) -> &mut Self {
        self.domains.retain(|d| d.name() != domain.name());
        self.domains.push(Box::new(domain));
        self
    }

    pub fn get(&self, name: &str) -> Result<&dyn Domain, CoreError> {
        self.domains
            .iter()
            .find(|d| d.name() == name)
            .map(|d| d.as_ref())
            .ok_or_else(|| CoreError::UnknownDomain(name.to_string()))
    }

    /// The retrieval settings for a search under `filter`: those of the one domain it is
    /// restricted to, if any, else `base`.
    pub fn retrieval_for(&self, filter: &SearchFilter, base: &RetrievalConfig) -> RetrievalConfig {
        match filter.domains.as_slice() {
            [only] => match self.get(only) {
                Ok(domain) => domain.retrieval().apply(base),
                Err(_) => base.clone(),
            },
            _ => base.clone(),
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.domains.iter().map(|d| d.name()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn Domain> {
        self.domains.iter().map(|d| d.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_retrieval_overrides_only_what_it_sets() {
        let base = RetrievalConfig::default();
        let out = DomainRetrieval {
            bm25_weight: None,
            dense_weight: Some(2.0),
        }
        .apply(&base);
        assert_eq!(out.dense_weight, 2.0);
        assert_eq!(out.bm25_weight, base.bm25_weight);
        assert_eq!(out.rrf_k, base.rrf_k);
    }
}
