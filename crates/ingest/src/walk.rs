//! Finds the files to ingest and the per-folder defaults that apply to them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zhiku_core::{LoadDefaults, LoadIssue};

use zhiku_loaders::scalar_text;

/// Files that describe a corpus rather than belong to it.
fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('_')
        || name.starts_with("README")
        || name.starts_with("LICENSE")
        || name.starts_with("LICENCE")
}

/// Every file under `root` (or `root` itself), sorted, hidden and descriptive files left out,
/// with a problem for each folder that could not be listed (the rest is still walked, and
/// `--prune` keeps what it cannot see).
pub fn files_under(root: &Path) -> (Vec<PathBuf>, Vec<LoadIssue>) {
    let unreadable = |path: &Path, what: &str, e: std::io::Error| LoadIssue {
        path: path.display().to_string(),
        line: None,
        message: format!("{what}: {e}"),
    };
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => return (Vec::new(), vec![unreadable(root, "cannot read", e)]),
    };
    if meta.is_file() {
        return (vec![root.to_path_buf()], Vec::new());
    }
    let mut out = Vec::new();
    let mut issues = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                issues.push(unreadable(&dir, "cannot list folder", e));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    issues.push(unreadable(&dir, "cannot list folder", e));
                    continue;
                }
            };
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if skipped(&name) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    (out, issues)
}

/// `_defaults.yaml` in a folder (or its nearest ancestor up to the ingest root) sets the
/// classification and default metadata of documents that do not state their own.
#[derive(Default)]
pub struct FolderDefaults {
    cache: HashMap<PathBuf, Folder>,
}

/// What one folder's `_defaults.yaml` says.
#[derive(Clone)]
enum Folder {
    /// There is none: look further up.
    Silent,
    Says(LoadDefaults),
    /// There is one and it has a problem (reported once): the files below it are not
    /// ingested, since they would otherwise take a level their folder did not mean.
    Broken,
}

impl FolderDefaults {
    /// The defaults for `file`, or `None` when the `_defaults.yaml` that governs it has a
    /// problem (reported in `issues`), in which case the file must not be ingested.
    pub fn for_file(
        &mut self,
        file: &Path,
        root: &Path,
        issues: &mut Vec<LoadIssue>,
    ) -> Option<LoadDefaults> {
        let mut dir = file.parent();
        while let Some(d) = dir {
            match self.read(d, issues) {
                Folder::Says(defaults) => return Some(defaults),
                Folder::Broken => return None,
                Folder::Silent => {}
            }
            if d == root || !d.starts_with(root) {
                break;
            }
            dir = d.parent();
        }
        Some(LoadDefaults::default())
    }

    fn read(&mut self, dir: &Path, issues: &mut Vec<LoadIssue>) -> Folder {
        if let Some(c) = self.cache.get(dir) {
            return c.clone();
        }
        let path = dir.join("_defaults.yaml");
        let shown = path.display().to_string();
        let problem = |line: Option<usize>, message: String| LoadIssue {
            path: shown.clone(),
            line,
            message: format!("{message}; the files below this folder are not ingested"),
        };
        let folder = match std::fs::read_to_string(&path) {
            Err(_) => Folder::Silent,
            Ok(text) => match serde_yaml::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => {
                    match zhiku_loaders::stated_classification(&map) {
                        Err(e) => {
                            let line = text
                                .lines()
                                .position(|l| {
                                    l.split_once(':').is_some_and(|(k, _)| {
                                        zhiku_loaders::is_classification_key(k)
                                    })
                                })
                                .map(|i| i + 1);
                            issues.push(problem(line, e));
                            Folder::Broken
                        }
                        Ok(level) => {
                            let mut defaults = LoadDefaults {
                                classification: level.unwrap_or_default(),
                                classification_stated: level.is_some(),
                                ..LoadDefaults::default()
                            };
                            for (k, v) in map {
                                if zhiku_loaders::is_classification_key(&k) {
                                    continue;
                                }
                                if let Some(v) = scalar_text(&v) {
                                    defaults.metadata.insert(k, v);
                                }
                            }
                            Folder::Says(defaults)
                        }
                    }
                }
                Ok(_) => {
                    issues.push(problem(None, "expected a mapping of keys to values".into()));
                    Folder::Broken
                }
                Err(e) => {
                    let line = e.location().map(|l| l.line());
                    issues.push(problem(line, format!("not valid YAML: {e}")));
                    Folder::Broken
                }
            },
        };
        self.cache.insert(dir.to_path_buf(), folder.clone());
        folder
    }
}
