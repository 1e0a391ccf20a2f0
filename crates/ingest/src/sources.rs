//! How a source file is named in the index, and which indexed documents `--prune` removes.
//!
//! A file's name must not depend on how its path was typed: `ingest corpora`, `ingest
//! ./corpora` and `ingest /srv/zhiku/corpora` must name every file alike, or the corpus is
//! stored twice. So a file is named by its absolute path (symbolic links resolved) relative to
//! the corpus root — `ingest.corpus_root`, by default the folder holding the data directory —
//! with `/` separators; a file outside the root keeps its absolute path. Documents without an
//! `id` of their own take this name as their id.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::manifest::{DocEntry, Manifest};

/// The absolute form of `path`: symbolic links resolved where it exists, else made absolute
/// and `.`/`..` folded by hand (a root that is gone must still be recognised).
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub struct SourceNames {
    root: PathBuf,
}

impl SourceNames {
    /// `configured` is `ingest.corpus_root` (empty: the folder holding `data_dir`).
    pub fn new(configured: &Path, data_dir: &Path) -> Self {
        let root = if configured.as_os_str().is_empty() {
            let data = absolute(data_dir);
            data.parent().map(Path::to_path_buf).unwrap_or(data)
        } else {
            absolute(configured)
        };
        Self { root }
    }

    /// The source name of a file given by its absolute path.
    pub fn name(&self, file: &Path) -> String {
        match file.strip_prefix(&self.root) {
            Ok(rel) => rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => file.to_string_lossy().into_owned(),
        }
    }

    /// The absolute path of an indexed document's file. Entries written before files were
    /// recorded hold the path as it was typed, relative to the folder zhiku ran in: the
    /// current folder is the best guess, so an upgrade's first `--prune` run from that folder
    /// replaces them with their newly named selves.
    pub fn file_of(&self, entry: &DocEntry) -> PathBuf {
        entry
            .file
            .clone()
            .unwrap_or_else(|| absolute(Path::new(&entry.source)))
    }
}

/// What `--prune` decided.
#[derive(Debug, Default)]
pub struct PrunePlan {
    /// Documents to remove: under a pruned root, not loaded in this run, and either their file
    /// is gone or it loaded cleanly without them (a record deleted from a JSON Lines file).
    pub gone: Vec<String>,
    /// Per source name, documents kept because their file exists but did not load cleanly
    /// (or cannot even be checked): their indexed version stays until it does.
    pub kept: BTreeMap<String, usize>,
}

/// Decides which indexed documents are gone from `roots` (absolute paths). `seen` are the
/// documents loaded in this run, `clean` the files that loaded without a problem.
pub fn prune_plan(
    manifest: &Manifest,
    names: &SourceNames,
    roots: &[PathBuf],
    seen: &HashSet<&str>,
    clean: &HashSet<PathBuf>,
) -> PrunePlan {
    let mut plan = PrunePlan::default();
    for (id, entry) in &manifest.documents {
        if seen.contains(id.as_str()) {
            continue;
        }
        let file = names.file_of(entry);
        // Path::starts_with compares whole components: corpora-old is not under corpora.
        if !roots.iter().any(|r| file.starts_with(r)) {
            continue;
        }
        match file.try_exists() {
            Ok(false) => plan.gone.push(id.clone()),
            Ok(true) if clean.contains(&file) => plan.gone.push(id.clone()),
            _ => *plan.kept.entry(entry.source.clone()).or_default() += 1,
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_do_not_depend_on_how_the_path_was_typed() {
        let work = tempfile::tempdir().unwrap();
        let base = absolute(work.path());
        std::fs::create_dir_all(base.join("corpora/education")).unwrap();
        std::fs::write(base.join("corpora/education/a.md"), "# A").unwrap();
        let names = SourceNames::new(Path::new(""), &base.join("zhiku-data"));
        let spellings = [
            base.join("corpora/education/a.md"),
            base.join("corpora/./education/../education/a.md"),
            base.join("zhiku-data/../corpora/education/a.md"),
        ];
        for p in spellings {
            assert_eq!(names.name(&absolute(&p)), "corpora/education/a.md", "{p:?}");
        }
        let outside = SourceNames::new(&base.join("corpora/education"), &base.join("d"));
        assert_eq!(
            outside.name(&absolute(&base.join("corpora/education/a.md"))),
            "a.md"
        );
        let elsewhere = absolute(Path::new("/etc/hostname"));
        assert_eq!(names.name(&elsewhere), elsewhere.to_string_lossy());
    }

    #[test]
    fn prune_matches_whole_path_components_and_keeps_files_that_failed() {
        let work = tempfile::tempdir().unwrap();
        let base = absolute(work.path());
        for f in ["corpora/a.md", "corpora-old/b.md", "corpora/broken.md"] {
            std::fs::create_dir_all(base.join(f).parent().unwrap()).unwrap();
            std::fs::write(base.join(f), "x").unwrap();
        }
        let names = SourceNames::new(Path::new(""), &base.join("data"));
        let mut manifest = Manifest::default();
        for (id, f) in [
            ("a", "corpora/a.md"),
            ("gone", "corpora/gone.md"),
            ("old", "corpora-old/b.md"),
            ("broken", "corpora/broken.md"),
            ("removed-record", "corpora/a.md"),
        ] {
            manifest.documents.insert(
                id.into(),
                DocEntry {
                    hash: String::new(),
                    source: f.into(),
                    domain: "general".into(),
                    chunks: Vec::new(),
                    file: Some(base.join(f)),
                    classification: zhiku_core::Classification::Public,
                    classification_defaulted: false,
                },
            );
        }
        let seen: HashSet<&str> = ["a"].into();
        let clean: HashSet<PathBuf> = [base.join("corpora/a.md")].into();
        let plan = prune_plan(&manifest, &names, &[base.join("corpora")], &seen, &clean);
        assert_eq!(
            plan.gone,
            vec!["gone".to_string(), "removed-record".to_string()]
        );
        assert_eq!(plan.kept.get("corpora/broken.md"), Some(&1));
        assert_eq!(plan.kept.len(), 1, "corpora-old is not under corpora");
    }
}
