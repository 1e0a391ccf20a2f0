//! Finds the files to ingest and the per-folder defaults that apply to them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zhiku_core::{Classification, LoadIssue};

/// Files that describe a corpus rather than belong to it.
fn skipped(name: &str) -> bool {
    name.starts_with('.')
        || name.starts_with('_')
        || name.starts_with("README")
        || name.starts_with("LICENSE")
        || name.starts_with("LICENCE")
}

/// Every file under `root` (or `root` itself), sorted, hidden and descriptive files left out.
pub fn files_under(root: &Path) -> Result<Vec<PathBuf>, LoadIssue> {
    let meta = std::fs::metadata(root).map_err(|e| LoadIssue {
        path: root.display().to_string(),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| LoadIssue {
            path: dir.display().to_string(),
            line: None,
            message: format!("cannot list folder: {e}"),
        })?;
        for entry in entries.flatten() {
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
    Ok(out)
}

/// `_defaults.yaml` in a folder (or its ancestors up to the ingest root) sets the
/// classification of documents that do not state one.
#[derive(Default)]
pub struct FolderDefaults {
    cache: HashMap<PathBuf, Option<Classification>>,
}

impl FolderDefaults {
    pub fn classification(
        &mut self,
        file: &Path,
        root: &Path,
        issues: &mut Vec<LoadIssue>,
    ) -> Classification {
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
        Classification::Public
    }

    fn read(&mut self, dir: &Path, issues: &mut Vec<LoadIssue>) -> Option<Classification> {
        if let Some(c) = self.cache.get(dir) {
            return *c;
        }
        let path = dir.join("_defaults.yaml");
        let value = std::fs::read_to_string(&path).ok().and_then(|text| {
            let parsed: Result<serde_json::Value, _> = serde_yaml::from_str(&text);
            match parsed {
                Ok(v) => v
                    .get("classification")
                    .and_then(|c| c.as_str())
                    .and_then(|c| {
                        c.parse()
                            .map_err(|e: String| {
                                issues.push(LoadIssue {
                                    path: path.display().to_string(),
                                    line: None,
                                    message: e,
                                })
                            })
                            .ok()
                    }),
                Err(e) => {
                    issues.push(LoadIssue {
                        path: path.display().to_string(),
                        line: None,
                        message: format!("not valid YAML: {e}"),
                    });
                    None
                }
            }
        });
        self.cache.insert(dir.to_path_buf(), value);
        value
    }
}
