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
    cache: HashMap<PathBuf, Option<LoadDefaults>>,
}

impl FolderDefaults {
    pub fn for_file(
        &mut self,
        file: &Path,
        root: &Path,
        issues: &mut Vec<LoadIssue>,
    ) -> LoadDefaults {
        let mut dir = file.parent();
        while let Some(d) = dir {
            if let Some(c) = self.read(d, issues) {
                return c;
            }
            if d == root || !d.starts_with(root) {
                break;
            }
            dir = d.parent();
        }
        LoadDefaults::default()
    }

    fn read(&mut self, dir: &Path, issues: &mut Vec<LoadIssue>) -> Option<LoadDefaults> {
        if let Some(c) = self.cache.get(dir) {
            return c.clone();
        }
        let path = dir.join("_defaults.yaml");
        let shown = path.display().to_string();
        let problem = |message: String| LoadIssue {
            path: shown.clone(),
            line: None,
            message,
        };
        let value = std::fs::read_to_string(&path).ok().and_then(|text| {
            let map = match serde_yaml::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => {
                    issues.push(problem("expected a mapping of keys to values".into()));
                    return None;
                }
                Err(e) => {
                    issues.push(problem(format!("not valid YAML: {e}")));
                    return None;
                }
            };
            let mut defaults = LoadDefaults::default();
            for (k, v) in map {
                let Some(v) = scalar_text(&v) else { continue };
                if k == "classification" {
                    match v.parse() {
                        Ok(c) => defaults.classification = c,
                        Err(e) => issues.push(problem(e)),
                    }
                } else {
                    defaults.metadata.insert(k, v);
                }
            }
            Some(defaults)
        });
        self.cache.insert(dir.to_path_buf(), value.clone());
        value
    }
}
