use std::collections::BTreeMap;
use std::path::Path;

use zhiku_core::{Classification, Document, LoadDefaults, LoadedFile, SourceRef};

use super::{issue, read_utf8, scalar_text};

/// Front matter keys every loader understands; the rest become metadata.
#[derive(Debug, Default, Clone)]
pub struct FrontMatter {
    pub id: Option<String>,
    pub title: Option<String>,
    pub lang: Option<String>,
    pub classification: Option<Classification>,
    pub metadata: BTreeMap<String, String>,
    pub raw: serde_json::Map<String, serde_json::Value>,
}

/// Splits `---\nyaml\n---\n` off the start of a Markdown file. Returns the parsed front
/// matter and the byte offset where the body starts.
pub fn split_front_matter(text: &str) -> Result<(FrontMatter, usize), (usize, String)> {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Ok((FrontMatter::default(), 0));
    };
    let head = text.len() - rest.len();
    let mut pos = 0;
    let mut end = None;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            end = Some((pos, pos + line.len()));
            break;
        }
        pos += line.len();
    }
    let Some((yaml_end, body_start)) = end else {
        return Err((1, "front matter starts with --- but never ends".into()));
    };
    let yaml = &rest[..yaml_end];
    let value: serde_json::Value = if yaml.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_yaml::from_str(yaml).map_err(|e| {
            let line = e.location().map(|l| l.line() + 1).unwrap_or(1);
            (line, format!("front matter is not valid YAML: {e}"))
        })?
    };
    let serde_json::Value::Object(raw) = value else {
        return Err((2, "front matter must be a mapping of keys to values".into()));
    };
    let mut fm = FrontMatter {
        raw: raw.clone(),
        ..Default::default()
    };
    fm.classification =
        crate::stated_classification(&raw).map_err(|e| (classification_line(yaml), e))?;
    for (k, v) in raw {
        if crate::is_classification_key(&k) {
            continue;
        }
        let Some(text) = scalar_text(&v) else {
            continue;
        };
        match k.as_str() {
            "id" => fm.id = Some(text),
            "title" => fm.title = Some(text),
            "lang" | "language" => fm.lang = Some(text),
            _ => {
                fm.metadata.insert(k, text);
            }
        }
    }
    Ok((fm, head + body_start))
}

/// The file line of the front matter's classification key (the opening `---` is line 1).
fn classification_line(yaml: &str) -> usize {
    yaml.lines()
        .position(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| crate::is_classification_key(k.trim_matches(['"', '\''])))
        })
        .map_or(2, |i| i + 2)
}

/// First `# ` heading of a Markdown body.
fn first_heading(body: &str) -> Option<String> {
    body.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn file_stem(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("untitled")
        .to_string()
}

/// One Markdown file → one document (front matter as metadata, body as text).
pub fn load_markdown(
    path: &Path,
    display: &str,
    domain: &str,
    defaults: &LoadDefaults,
) -> LoadedFile {
    let mut out = LoadedFile::default();
    let text = match read_utf8(path, display) {
        Ok(x) => x,
        Err(e) => return LoadedFile::failed(e),
    };
    let (fm, body_start) = match split_front_matter(&text) {
        Ok(x) => x,
        Err((line, msg)) => {
            out.issues.push(issue(display, Some(line), msg));
            return out;
        }
    };
    let body = &text[body_start..];
    if body.trim().is_empty() {
        out.issues
            .push(issue(display, None, "document has no text"));
        return out;
    }
    let mut metadata = fm.metadata.clone();
    defaults.apply_metadata(&mut metadata);
    out.documents.push(Document {
        id: fm.id.clone().unwrap_or_else(|| display.to_string()),
        domain: domain.to_string(),
        title: fm
            .title
            .clone()
            .or_else(|| first_heading(body))
            .unwrap_or_else(|| file_stem(path)),
        text: body.to_string(),
        lang: fm.lang.clone(),
        classification: fm.classification.unwrap_or(defaults.classification),
        classification_stated: fm.classification.is_some(),
        metadata,
        location: None,
        sections: Vec::new(),
        source: SourceRef {
            path: display.to_string(),
            line: None,
            text_offset: Some(body_start),
        },
    });
    out
}

/// A Markdown heading: where its line starts, its level (1–6) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub offset: usize,
    pub level: usize,
    pub title: String,
}

/// Every ATX heading (`# …` to `###### …`) outside code fences.
pub fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut in_fence = false;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if t.starts_with("```") || t.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            let level = t.chars().take_while(|c| *c == '#').count();
            if (1..=6).contains(&level) && t[level..].starts_with(' ') {
                out.push(Heading {
                    offset: pos,
                    level,
                    title: t[level..].trim().to_string(),
                });
            }
        }
        pos += line.len();
    }
    out
}

/// Heading paths ("A > B > C") in force from each heading's offset on.
pub fn heading_paths(headings: &[Heading]) -> Vec<(usize, String)> {
    let mut stack: Vec<(usize, &str)> = Vec::new();
    headings
        .iter()
        .map(|h| {
            stack.retain(|(l, _)| *l < h.level);
            stack.push((h.level, &h.title));
            let path: Vec<&str> = stack.iter().map(|(_, s)| *s).collect();
            (h.offset, path.join(" > "))
        })
        .collect()
}

/// The heading path in force at byte `at` (a chunk starting with a heading belongs under it).
pub fn path_at(paths: &[(usize, String)], at: usize) -> String {
    paths
        .iter()
        .take_while(|(o, _)| *o <= at)
        .last()
        .map(|(_, p)| p.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_and_body_offset() {
        let t =
            "---\ntitle: 故宫\nclassification: internal\nsubject: history\nyear: 2024\n---\n正文";
        let (fm, at) = split_front_matter(t).unwrap();
        assert_eq!(&t[at..], "正文");
        assert_eq!(fm.title.as_deref(), Some("故宫"));
        assert_eq!(fm.classification, Some(Classification::Internal));
        assert_eq!(fm.metadata.get("year").map(String::as_str), Some("2024"));
        assert!(split_front_matter("---\ntitle: [unclosed\n---\nx").is_err());
        assert!(split_front_matter("---\ntitle: x\n").is_err());
        assert_eq!(split_front_matter("# no front matter").unwrap().1, 0);
    }
}
