//! The prompt templates of `prompts/`, loaded at run time with minijinja so they can be
//! edited without recompiling; the binary carries copies for when no folder is found.

use std::path::{Path, PathBuf};

use std::collections::HashMap;

use minijinja::Environment;
use serde::Serialize;
use zhiku_core::DomainRegistry;

use crate::lang::Language;

/// The templates every answer needs, built into the binary: the same files as `prompts/`.
/// A domain's own `answer/<domain>.*.j2` come with its crate ([`Domain::prompts`]).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "answer/base.zh.j2",
        include_str!("../../../prompts/answer/base.zh.j2"),
    ),
    (
        "answer/base.en.j2",
        include_str!("../../../prompts/answer/base.en.j2"),
    ),
    (
        "answer/general.zh.j2",
        include_str!("../../../prompts/answer/general.zh.j2"),
    ),
    (
        "answer/general.en.j2",
        include_str!("../../../prompts/answer/general.en.j2"),
    ),
    (
        "passages.zh.j2",
        include_str!("../../../prompts/passages.zh.j2"),
    ),
    (
        "passages.en.j2",
        include_str!("../../../prompts/passages.en.j2"),
    ),
    (
        "rewrite.zh.j2",
        include_str!("../../../prompts/rewrite.zh.j2"),
    ),
    (
        "rewrite.en.j2",
        include_str!("../../../prompts/rewrite.en.j2"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt folder {0} does not exist")]
    MissingDir(PathBuf),
    #[error("prompt template {name}: {message}")]
    Template { name: String, message: String },
}

/// Where the templates come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptSource {
    Folder(PathBuf),
    BuiltIn,
}

/// One passage as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct PromptPassage {
    pub n: usize,
    pub title: String,
    pub section: String,
    pub source: String,
    pub text: String,
    pub meta: std::collections::BTreeMap<String, String>,
    pub note: Option<String>,
}

/// One earlier turn, for the rewrite template.
#[derive(Debug, Clone, Serialize)]
pub struct PromptTurn {
    pub question: String,
    pub answer: String,
}

pub struct PromptSet {
    env: Environment<'static>,
    source: PromptSource,
}

impl PromptSet {
    /// `dir` set: that folder (it must exist). Unset: `prompts/` in the working directory
    /// if present, else the built-in copies.
    /// `domains`' built-in templates fill in what the folder lacks.
    pub fn load(dir: Option<&Path>, domains: &DomainRegistry) -> Result<Self, PromptError> {
        let folder = match dir {
            Some(d) if !d.as_os_str().is_empty() => {
                if !d.is_dir() {
                    return Err(PromptError::MissingDir(d.to_path_buf()));
                }
                Some(d.to_path_buf())
            }
            _ => Some(PathBuf::from("prompts")).filter(|p| p.join("answer").is_dir()),
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        let built_in: HashMap<&'static str, &'static str> = BUILT_IN
            .iter()
            .copied()
            .chain(domains.iter().flat_map(|d| d.prompts().iter().copied()))
            .collect();
        // The folder's file when it has one (edits apply without a rebuild), else the copy
        // built into the binary.
        let files = folder.clone().map(minijinja::path_loader);
        env.set_loader(move |name| {
            if let Some(load) = &files {
                if let Some(text) = load(name)? {
                    return Ok(Some(text));
                }
            }
            Ok(built_in.get(name).map(|t| t.to_string()))
        });
        let source = match folder {
            Some(f) => PromptSource::Folder(f),
            None => PromptSource::BuiltIn,
        };
        let set = Self { env, source };
        // Fail at start-up, not on the first question, if a template does not parse.
        for lang in ["zh", "en"] {
            for name in [
                format!("answer/general.{lang}.j2"),
                format!("passages.{lang}.j2"),
                format!("rewrite.{lang}.j2"),
            ] {
                set.env
                    .get_template(&name)
                    .map_err(|e| template_error(&name, e))?;
            }
        }
        Ok(set)
    }

    pub fn source(&self) -> &PromptSource {
        &self.source
    }

    /// The system message for `domain` (its own template, else `general`).
    pub fn system(
        &self,
        domain: Option<&str>,
        lang: Language,
        ctx: minijinja::Value,
    ) -> Result<String, PromptError> {
        let l = lang.code();
        let own = domain.map(|d| format!("answer/{d}.{l}.j2"));
        let name = match own {
            Some(n) if self.env.get_template(&n).is_ok() => n,
            _ => format!("answer/general.{l}.j2"),
        };
        self.render(&name, ctx)
    }

    pub fn passages(&self, lang: Language, ctx: minijinja::Value) -> Result<String, PromptError> {
        self.render(&format!("passages.{}.j2", lang.code()), ctx)
    }

    pub fn rewrite(&self, lang: Language, ctx: minijinja::Value) -> Result<String, PromptError> {
        self.render(&format!("rewrite.{}.j2", lang.code()), ctx)
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, PromptError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map(|s| s.trim().to_string())
            // Only the short form: the detailed one lists the variables, i.e. the question.
            .map_err(|e| PromptError::Template {
                name: name.to_string(),
                message: e.to_string(),
            })
    }
}

/// A template that does not parse, in detail (at start-up, with no user data around).
fn template_error(name: &str, e: minijinja::Error) -> PromptError {
    PromptError::Template {
        name: name.to_string(),
        message: format!("{e:#}"),
    }
}

/// A random fence for one request: passage text cannot forge its end because it cannot know it.
pub fn new_fence() -> String {
    let mut s = String::with_capacity(12);
    for _ in 0..12 {
        s.push(fastrand::alphanumeric());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A domain that brings its own prompt templates, as a domain crate does.
    struct Medicine;

    impl zhiku_core::Domain for Medicine {
        fn name(&self) -> &'static str {
            "medicine"
        }
        fn description(&self) -> &'static str {
            "test"
        }
        fn filter_fields(&self) -> &'static [zhiku_core::FilterField] {
            &[]
        }
        fn accepts(&self, _: &Path) -> bool {
            false
        }
        fn load(&self, _: &Path, _: &str, _: &zhiku_core::LoadDefaults) -> zhiku_core::LoadedFile {
            zhiku_core::LoadedFile::default()
        }
        fn prompts(&self) -> &'static [(&'static str, &'static str)] {
            &[
                (
                    "answer/medicine.zh.j2",
                    include_str!("../../../prompts/answer/medicine.zh.j2"),
                ),
                (
                    "answer/medicine.en.j2",
                    include_str!("../../../prompts/answer/medicine.en.j2"),
                ),
            ]
        }
    }

    #[test]
    fn built_in_copies_render_with_domain_rules() {
        let mut domains = DomainRegistry::new();
        domains.register(Medicine);
        let set = PromptSet::load(None, &domains).unwrap();
        let ctx = minijinja::context! {
            domain => "medicine", lang => "zh", max_width => 300, no_answer => "NO_ANSWER",
            fence => "f3nce", hints => minijinja::context!{},
        };
        let s = set
            .system(Some("medicine"), Language::Chinese, ctx.clone())
            .unwrap();
        assert!(
            s.contains("推荐强度") && s.contains("NO_ANSWER") && s.contains("150"),
            "{s}"
        );
        // A domain with no template of its own gets the general rules.
        let g = set
            .system(Some("transport"), Language::English, ctx)
            .unwrap();
        assert!(
            g.contains("Answer only from the passages") && !g.contains("Clinical"),
            "{g}"
        );
    }

    #[test]
    fn a_missing_folder_is_an_error() {
        let err = PromptSet::load(
            Some(Path::new("/nonexistent/prompts")),
            &DomainRegistry::new(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/prompts"));
    }
}
