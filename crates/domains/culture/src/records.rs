//! Culture records (places, literary works) → citable documents.

use std::collections::BTreeMap;

use zhiku_core::{Document, LoadDefaults, LoadIssue, SourceRef};
use zhiku_loaders::{issue, scalar_text};

use crate::NAME;

/// One record, from a JSON Lines line or a CSV row.
pub struct Record {
    pub line: usize,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Record {
    fn get(&self, k: &str) -> Option<String> {
        self.fields
            .get(k)
            .and_then(scalar_text)
            .filter(|s| !s.is_empty())
    }
}

fn coordinate(r: &Record, key: &str, limit: f64, display: &str) -> Result<Option<f64>, LoadIssue> {
    let Some(v) = r.get(key) else { return Ok(None) };
    let x: f64 = v.parse().map_err(|_| {
        issue(
            display,
            Some(r.line),
            format!("{key} {v:?} is not a number"),
        )
    })?;
    if !x.is_finite() || x.abs() > limit {
        return Err(issue(
            display,
            Some(r.line),
            format!("coordinates out of range: {key} = {x}"),
        ));
    }
    Ok(Some(x))
}

/// Latitude and longitude, both or neither, in range.
fn location(r: &Record, display: &str) -> Result<Option<(f64, f64)>, LoadIssue> {
    let lat = coordinate(r, "lat", 90.0, display)?;
    let lon = coordinate(r, "lon", 180.0, display)?;
    match (lat, lon) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (None, None) => Ok(None),
        _ => Err(issue(
            display,
            Some(r.line),
            "record has only one of lat and lon",
        )),
    }
}

fn push_line(text: &mut String, label: &str, value: Option<String>) {
    if let Some(v) = value {
        text.push_str(&format!("{label}: {v}\n"));
    }
}

/// A place (has `name_zh` / `name_en`) or a literary work (has `author`); otherwise a
/// generic record with `title` and `text`.
pub fn record_document(
    r: &Record,
    display: &str,
    defaults: &LoadDefaults,
) -> Result<Document, LoadIssue> {
    let fail = |m: String| issue(display, Some(r.line), m);
    let id = r.get("id").ok_or_else(|| fail("record has no id".into()))?;
    let stated = zhiku_loaders::stated_classification(&r.fields).map_err(fail)?;
    let mut metadata = BTreeMap::new();
    let mut meta = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            metadata.insert(k.to_string(), v);
        }
    };
    let (title, text, lang, location) = if r.get("name_zh").is_some() || r.get("name_en").is_some()
    {
        let (zh, en) = (r.get("name_zh"), r.get("name_en"));
        let desc = [r.get("description_zh"), r.get("description_en")];
        if desc.iter().all(Option::is_none) {
            return Err(fail(
                "place record has no description_zh or description_en".into(),
            ));
        }
        let category = r
            .get("category")
            .ok_or_else(|| fail("place record has no category".into()))?;
        let location = location(r, display)?;
        let title = [zh.clone(), en.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        let mut text = format!("{title}\n");
        push_line(&mut text, "类别 Category", Some(category.clone()));
        let era = [r.get("dynasty_zh"), r.get("era")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        push_line(&mut text, "朝代 Era", (!era.is_empty()).then_some(era));
        push_line(&mut text, "始建 Built", r.get("built"));
        push_line(&mut text, "地点 Site", r.get("site"));
        push_line(&mut text, "区 District", r.get("district"));
        push_line(
            &mut text,
            "地址 Address",
            r.get("address_zh").or_else(|| r.get("address")),
        );
        push_line(&mut text, "开放时间 Opening hours", r.get("opening_hours"));
        push_line(&mut text, "门票 Tickets", r.get("tickets"));
        for d in desc.into_iter().flatten() {
            text.push('\n');
            text.push_str(&d);
            text.push('\n');
        }
        meta("category", Some(category));
        meta("site", r.get("site").or_else(|| zh.clone()));
        meta("dynasty", r.get("dynasty_zh").or_else(|| r.get("dynasty")));
        meta("era", r.get("era"));
        meta("district", r.get("district"));
        meta("unesco", r.get("unesco"));
        // What a visitor's app shows of a place without parsing its text.
        meta("name_zh", zh.clone());
        meta("name_en", en.clone());
        meta("built", r.get("built"));
        meta("address", r.get("address_zh").or_else(|| r.get("address")));
        meta("opening_hours", r.get("opening_hours"));
        meta("tickets", r.get("tickets"));
        (title, text, Some("zh-en".to_string()), location)
    } else if let Some(author) = r.get("author") {
        let title = r
            .get("title")
            .ok_or_else(|| fail("literary work has no title".into()))?;
        let body = r
            .get("text")
            .ok_or_else(|| fail("literary work has no text".into()))?;
        let dynasty = r.get("dynasty");
        let by = match &dynasty {
            Some(d) => format!("{author}（{d}）"),
            None => author.clone(),
        };
        let mut text = format!("{title}\n{by}\n\n{body}\n");
        if let Some(notes) = r.get("notes") {
            text.push_str(&format!("\n注释 Notes: {notes}\n"));
        }
        meta("category", Some("literature".into()));
        meta("author", Some(author));
        meta("dynasty", dynasty);
        (title, text, r.get("lang"), None)
    } else {
        let text = r
            .get("text")
            .ok_or_else(|| fail("record has no text".into()))?;
        (
            r.get("title").unwrap_or_default(),
            text,
            r.get("lang"),
            location(r, display)?,
        )
    };
    if let Some(l) = &lang {
        metadata.insert("lang".into(), l.clone());
    }
    defaults.apply_metadata(&mut metadata);
    Ok(Document {
        id,
        domain: NAME.into(),
        title,
        text,
        lang,
        classification: stated.unwrap_or(defaults.classification),
        classification_stated: stated.is_some(),
        metadata,
        location,
        sections: Vec::new(),
        source: SourceRef {
            path: display.into(),
            line: Some(r.line),
            text_offset: None,
        },
    })
}

/// Markdown articles: `lat` / `lon` in the front matter become the location.
pub fn finish_article(doc: &mut Document, display: &str, issues: &mut Vec<LoadIssue>) {
    let parse = |k: &str| doc.metadata.get(k).map(|v| v.parse::<f64>());
    match (parse("lat"), parse("lon")) {
        (Some(Ok(lat)), Some(Ok(lon))) if lat.abs() <= 90.0 && lon.abs() <= 180.0 => {
            doc.location = Some((lat, lon));
        }
        (None, None) => {}
        _ => {
            issues.push(issue(
                display,
                None,
                "coordinates out of range or not numbers (lat/lon)",
            ));
            doc.text.clear();
            return;
        }
    }
    if let Some(lang) = &doc.lang {
        doc.metadata.insert("lang".into(), lang.clone());
    }
}
