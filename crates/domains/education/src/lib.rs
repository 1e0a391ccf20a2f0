//! The education domain: lesson plans, handouts (讲义), teaching cases, teaching methods and
//! exercises with worked solutions, across subjects and grade bands.
//!
//! It loads Markdown (front matter: `subject`, `grade_band`, `edition`, `unit`,
//! `material_type`, `lang`), DOCX and PDF handouts; normalises grade bands; and keeps each
//! worked example together with its solution as one section. It reads the grade a question
//! is asked for, so that answers fit that grade (`grade`). Indexing, search and answering are
//! left to the index and the agent.

mod grade;

use std::path::Path;

use zhiku_core::{
    Document, Domain, FilterField, LoadDefaults, LoadIssue, LoadedFile, QuestionHints, Section,
};

pub use grade::grade_in_question;
use zhiku_loaders::{extension, headings, load_docx, load_markdown, load_pdf, partition};

pub const NAME: &str = "education";

const FIELDS: &[FilterField] = &[
    FilterField {
        key: "subject",
        description: "math, physics, chinese, english, history…",
    },
    FilterField {
        key: "grade_band",
        description: "primary, junior, senior or university",
    },
    FilterField {
        key: "edition",
        description: "textbook edition, e.g. 人教版 2019",
    },
    FilterField {
        key: "unit",
        description: "unit or chapter",
    },
    FilterField {
        key: "material_type",
        description: "lesson_plan, handout, teaching_case, teaching_method, exercise",
    },
    FilterField {
        key: "lang",
        description: "zh or en",
    },
];

pub const GRADE_BANDS: [&str; 4] = ["primary", "junior", "senior", "university"];

/// Grade band in its canonical form (Chinese names and school years accepted).
pub fn normalise_grade_band(value: &str) -> Option<&'static str> {
    let v = value.trim().to_lowercase();
    let band = match v.as_str() {
        "primary" | "小学" | "primary school" | "elementary" => "primary",
        "junior" | "初中" | "middle school" | "junior high" => "junior",
        "senior" | "高中" | "high school" | "senior high" => "senior",
        "university" | "大学" | "college" | "higher education" => "university",
        _ => return None,
    };
    Some(band)
}

/// Headings that open a worked example (kept whole with its solution).
fn is_example_heading(title: &str) -> bool {
    let t = title.trim().to_lowercase();
    [
        "例题",
        "例",
        "练习",
        "习题",
        "example",
        "worked example",
        "exercise",
        "problem",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// One section per worked example: from its heading to the next heading of the same or a
/// higher level.
pub fn example_sections(text: &str) -> Vec<Section> {
    let hs = headings(text);
    let mut spans = Vec::new();
    for (i, h) in hs.iter().enumerate() {
        if !is_example_heading(&h.title) {
            continue;
        }
        // "## 例题" grouping "### 例题 1", "### 例题 2": keep each example, not the group.
        if hs
            .get(i + 1)
            .is_some_and(|n| n.level > h.level && is_example_heading(&n.title))
        {
            continue;
        }
        let end = hs[i + 1..]
            .iter()
            .find(|n| n.level <= h.level)
            .map_or(text.len(), |n| n.offset);
        spans.push(Section {
            start: h.offset,
            end,
            path: String::new(),
            metadata: Default::default(),
        });
    }
    if spans.is_empty() {
        return Vec::new();
    }
    partition(text, spans)
}

#[derive(Debug, Default, Clone, Copy)]
pub struct EducationDomain;

impl EducationDomain {
    fn finish(doc: &mut Document, display: &str) -> Result<(), LoadIssue> {
        if let Some(band) = doc.metadata.get("grade_band").cloned() {
            let Some(canonical) = normalise_grade_band(&band) else {
                return Err(LoadIssue {
                    path: display.into(),
                    line: doc.source.line,
                    message: format!(
                        "unknown grade_band {band:?} (expected one of {})",
                        GRADE_BANDS.join(", ")
                    ),
                });
            };
            doc.metadata.insert("grade_band".into(), canonical.into());
        }
        if let Some(lang) = &doc.lang {
            doc.metadata.insert("lang".into(), lang.clone());
        }
        doc.sections = example_sections(&doc.text);
        Ok(())
    }
}

impl Domain for EducationDomain {
    fn name(&self) -> &'static str {
        NAME
    }

    /// A question naming a grade prefers material of that band and asks the model to write
    /// for it.
    fn interpret(&self, question: &str) -> QuestionHints {
        let mut hints = QuestionHints::default();
        if let Some(band) = grade::grade_in_question(question) {
            hints
                .prefer
                .insert("grade_band".into(), vec![band.to_string()]);
            let lang = if question
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            {
                "zh"
            } else {
                "en"
            };
            hints
                .prompt
                .insert("grade".into(), grade::describe(band, lang).to_string());
        }
        hints
    }
    fn description(&self) -> &'static str {
        "Teaching materials for teachers and students: lesson plans, handouts, cases, methods, exercises"
    }
    fn prompts(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "answer/education.zh.j2",
                include_str!("../../../../prompts/answer/education.zh.j2"),
            ),
            (
                "answer/education.en.j2",
                include_str!("../../../../prompts/answer/education.en.j2"),
            ),
        ]
    }

    fn filter_fields(&self) -> &'static [FilterField] {
        FIELDS
    }
    fn facets(&self) -> &'static [&'static str] {
        &["subject", "grade_band"]
    }
    fn accepts(&self, path: &Path) -> bool {
        matches!(extension(path).as_str(), "md" | "markdown" | "docx" | "pdf")
    }
    fn load(&self, path: &Path, display: &str, defaults: &LoadDefaults) -> LoadedFile {
        let mut loaded = match extension(path).as_str() {
            "docx" => load_docx(path, display, NAME, defaults),
            "pdf" => load_pdf(path, display, NAME, defaults),
            _ => load_markdown(path, display, NAME, defaults),
        };
        let mut kept = Vec::with_capacity(loaded.documents.len());
        for mut doc in std::mem::take(&mut loaded.documents) {
            match Self::finish(&mut doc, display) {
                Ok(()) => kept.push(doc),
                Err(issue) => loaded.issues.push(issue),
            }
        }
        loaded.documents = kept;
        loaded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_become_whole_sections() {
        let t = "# 讲义\n导入\n## 例题\n### 例题 1\n求顶点。\n**解答** 顶点 (1,2)。\n### 例题 2\n题二\n**解答** 略\n## 小结\n总结";
        let s = example_sections(t);
        let texts: Vec<&str> = s.iter().map(|s| &t[s.start..s.end]).collect();
        assert!(
            texts.contains(&"### 例题 1\n求顶点。\n**解答** 顶点 (1,2)。\n"),
            "{texts:?}"
        );
        assert!(
            texts.contains(&"### 例题 2\n题二\n**解答** 略\n"),
            "{texts:?}"
        );
        assert_eq!(s.first().map(|s| s.start), Some(0));
        assert_eq!(
            s.last().map(|s| s.end),
            Some(t.len()),
            "sections cover the text"
        );
        assert_eq!(normalise_grade_band("初中"), Some("junior"));
        assert_eq!(normalise_grade_band("grade 13"), None);
    }
}
