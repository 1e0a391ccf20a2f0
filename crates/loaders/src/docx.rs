//! DOCX (Office Open XML) → Markdown-ish text: headings become `#` lines, tables Markdown
//! pipe tables, list paragraphs `- ` lines, other paragraphs plain text, blank-line separated.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use zhiku_core::{LoadDefaults, LoadedFile};

use super::extracted::{load_extracted, ExtractError, ExtractedText};
use super::pdf::catch_silently;

/// Largest XML part read from a DOCX, uncompressed (a guard against zip bombs).
const MAX_PART_BYTES: u64 = 256 << 20;

/// DOCX → Markdown-ish text: paragraphs separated by blank lines; paragraphs with
/// Heading 1..6 (or 标题 1..6, or an outline level 1..6) styles become `#`..`######` lines;
/// tables become Markdown pipe tables (one row per line, header separator after the first
/// row); list paragraphs become `- ` lines. Title: `docProps/core.xml` `dc:title` if present.
pub fn docx_text(path: &Path) -> Result<ExtractedText, ExtractError> {
    let file = std::fs::File::open(path)?;
    catch_silently(|| docx_from(std::io::BufReader::new(file))).unwrap_or_else(|panic| {
        Err(ExtractError::Damaged {
            format: "DOCX",
            detail: panic,
        })
    })
}

fn docx_from<R: Read + Seek>(mut reader: R) -> Result<ExtractedText, ExtractError> {
    let mut magic = [0u8; 4];
    let n = reader.read(&mut magic).unwrap_or(0);
    reader.seek(std::io::SeekFrom::Start(0))?;
    if n == 4 && magic == [0xD0, 0xCF, 0x11, 0xE0] {
        return Err(ExtractError::LegacyDoc);
    }
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| ExtractError::NotDocx(e.to_string()))?;

    let main = main_part_name(&mut zip);
    let Some(body) = read_part(&mut zip, &main)? else {
        return Err(ExtractError::NoMainPart(main));
    };
    let dir = main.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let styles_name = if dir.is_empty() {
        "styles.xml".to_string()
    } else {
        format!("{dir}/styles.xml")
    };
    let styles = match read_part(&mut zip, &styles_name)? {
        Some(xml) => Styles::parse(&xml),
        None => Styles::default(),
    };
    let text = render_body(&body, &styles)?;
    let title = read_part(&mut zip, "docProps/core.xml")
        .ok()
        .flatten()
        .and_then(|xml| core_title(&xml));
    Ok(ExtractedText { title, text })
}

/// The main document part named by `_rels/.rels` (almost always `word/document.xml`).
fn main_part_name<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> String {
    const DEFAULT: &str = "word/document.xml";
    let Ok(Some(rels)) = read_part(zip, "_rels/.rels") else {
        return DEFAULT.into();
    };
    let mut reader = Reader::from_str(&rels);
    loop {
        match reader.read_event() {
            Ok(Event::Empty(e) | Event::Start(e)) if e.local_name().as_ref() == "Relationship" => {
                let ty = attr(&e, "Type").unwrap_or_default();
                if ty.ends_with("/officeDocument") {
                    if let Some(target) = attr(&e, "Target") {
                        let target = target.trim_start_matches('/').to_string();
                        if zip.by_name(&target).is_ok() {
                            return target;
                        }
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => return DEFAULT.into(),
            _ => {}
        }
    }
}

/// One part of the package as text; `Ok(None)` when the archive does not have it.
fn read_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Option<String>, ExtractError> {
    let entry = match zip.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(ExtractError::part(name, e)),
    };
    let mut bytes = Vec::new();
    entry
        .take(MAX_PART_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ExtractError::part(name, e))?;
    if bytes.len() as u64 > MAX_PART_BYTES {
        return Err(ExtractError::PartTooLarge {
            part: name.to_string(),
            limit_mib: MAX_PART_BYTES >> 20,
        });
    }
    Ok(Some(decode_xml_bytes(bytes)))
}

/// XML parts are UTF-8 in practice; UTF-16 (with a BOM) is allowed by the standard.
fn decode_xml_bytes(bytes: Vec<u8>) -> String {
    let utf16 = |be: bool, b: &[u8]| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if be {
                    u16::from_be_bytes([c[0], c[1]])
                } else {
                    u16::from_le_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes.as_slice() {
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8_lossy(rest).into_owned(),
        [0xFE, 0xFF, rest @ ..] => utf16(true, rest),
        [0xFF, 0xFE, rest @ ..] => utf16(false, rest),
        _ => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
    }
}

/// Value of the attribute whose local name is `name` (namespace prefixes ignored).
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name).then(|| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string())
        })
    })
}

fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    let mut title = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e)
                if e.name().as_ref() == "dc:title" || e.local_name().as_ref() == "title" =>
            {
                in_title = true
            }
            Event::End(e) if e.local_name().as_ref() == "title" => break,
            Event::Text(t) if in_title => title.push_str(&t.xml10_content()),
            Event::CData(t) if in_title => title.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_title => push_ref(&mut title, &r),
            Event::Eof => break,
            _ => {}
        }
    }
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then_some(title)
}

/// Appends an entity or character reference (`&amp;`, `&#x4E2D;`) as text.
fn push_ref(out: &mut String, r: &quick_xml::events::BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
    } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(r) {
        out.push_str(s);
    }
}

/// What the extractor needs from `styles.xml`: per paragraph style id, its name, outline
/// level, whether it carries list numbering, and the style it is based on.
#[derive(Debug, Default)]
struct Styles {
    by_id: HashMap<String, StyleInfo>,
}

#[derive(Debug, Default, Clone)]
struct StyleInfo {
    name: String,
    outline: Option<u8>,
    numbered: Option<bool>,
    based_on: Option<String>,
}

impl Styles {
    fn parse(xml: &str) -> Self {
        let mut by_id = HashMap::new();
        let mut reader = Reader::from_str(xml);
        let mut current: Option<(String, StyleInfo)> = None;
        loop {
            let (e, empty) = match reader.read_event() {
                Ok(Event::Start(e)) => (e, false),
                Ok(Event::Empty(e)) => (e, true),
                Ok(Event::End(e)) => {
                    if e.local_name().as_ref() == "style" {
                        if let Some((id, info)) = current.take() {
                            by_id.insert(id, info);
                        }
                    }
                    continue;
                }
                Ok(Event::Eof) | Err(_) => break,
                _ => continue,
            };
            match e.local_name().as_ref() {
                "style" => {
                    let id = attr(&e, "styleId").unwrap_or_default();
                    let is_para = attr(&e, "type").is_none_or(|t| t == "paragraph");
                    if !empty && is_para && !id.is_empty() {
                        current = Some((id, StyleInfo::default()));
                    }
                }
                "name" => {
                    if let Some((_, info)) = current.as_mut() {
                        info.name = attr(&e, "val").unwrap_or_default();
                    }
                }
                "basedOn" => {
                    if let Some((_, info)) = current.as_mut() {
                        info.based_on = attr(&e, "val");
                    }
                }
                "outlineLvl" => {
                    if let Some((_, info)) = current.as_mut() {
                        info.outline = attr(&e, "val").and_then(|v| v.trim().parse().ok());
                    }
                }
                "numId" => {
                    if let Some((_, info)) = current.as_mut() {
                        let id = attr(&e, "val").unwrap_or_default();
                        info.numbered = Some(id.trim() != "0");
                    }
                }
                _ => {}
            }
        }
        Styles { by_id }
    }

    /// The chain of a style and the styles it is based on (cycles and depth bounded).
    fn chain<'a>(&'a self, id: &str) -> impl Iterator<Item = (&'a str, &'a StyleInfo)> + 'a {
        let mut next = self.by_id.get_key_value(id);
        let mut steps = 0;
        std::iter::from_fn(move || {
            let (id, info) = next?;
            steps += 1;
            next = if steps < 16 {
                info.based_on
                    .as_deref()
                    .and_then(|b| self.by_id.get_key_value(b))
            } else {
                None
            };
            Some((id.as_str(), info))
        })
    }

    /// Heading level (1..=6) of a paragraph style, by id or name (`Heading1`, `heading 1`,
    /// `标题 1`, `标题1`) or else by the outline level it or its base styles set.
    fn heading_level(&self, id: &str) -> Option<u8> {
        if let Some(level) = heading_level_of_name(id) {
            return Some(level);
        }
        if let Some(level) = self
            .by_id
            .get(id)
            .and_then(|s| heading_level_of_name(&s.name))
        {
            return Some(level);
        }
        self.chain(id)
            .find_map(|(_, s)| s.outline)
            .filter(|l| *l < 6)
            .map(|l| l + 1)
    }

    fn is_list(&self, id: &str) -> bool {
        if let Some(n) = self.chain(id).find_map(|(_, s)| s.numbered) {
            return n;
        }
        let name = self.by_id.get(id).map(|s| s.name.as_str()).unwrap_or(id);
        let squashed: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_lowercase();
        squashed.starts_with("listbullet") || squashed.starts_with("listnumber")
    }
}

/// `Heading1`, `heading 1`, `Heading 1`, `标题 1`, `标题1` → 1 (levels 1..=6).
fn heading_level_of_name(name: &str) -> Option<u8> {
    let squashed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = squashed.to_lowercase();
    let digits = lower
        .strip_prefix("heading")
        .or_else(|| lower.strip_prefix("标题"))?;
    match digits.parse::<u8>() {
        Ok(l @ 1..=6) => Some(l),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Para {
    style: Option<String>,
    numbered: Option<bool>,
    list_level: usize,
    outline: Option<u8>,
    text: String,
}

#[derive(Debug, Default)]
struct Table {
    rows: Vec<Vec<String>>,
    row: Option<Vec<String>>,
    cell: Option<String>,
    span: usize,
}

/// One output block; consecutive list items are joined by single newlines.
enum Block {
    Text(String),
    Item(String),
}

struct Body<'s> {
    styles: &'s Styles,
    blocks: Vec<Block>,
    paras: Vec<Para>,
    tables: Vec<Table>,
    in_text: bool,
}

impl Body<'_> {
    /// Text goes to the innermost open paragraph.
    fn push_text(&mut self, s: &str) {
        if let Some(p) = self.paras.last_mut() {
            p.text.push_str(s);
        }
    }

    fn end_paragraph(&mut self) {
        let Some(p) = self.paras.pop() else {
            return;
        };
        let text = p.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            return;
        }
        // A paragraph directly inside a table cell belongs to the cell.
        if self.paras.is_empty() {
            if let Some(cell) = self.tables.last_mut().and_then(|t| t.cell.as_mut()) {
                if !cell.is_empty() {
                    cell.push(' ');
                }
                cell.push_str(&text);
                return;
            }
        }
        let style = p.style.as_deref().unwrap_or("");
        let level = self
            .styles
            .heading_level(style)
            .or_else(|| p.outline.filter(|l| *l < 6).map(|l| l + 1));
        let block = if let Some(level) = level {
            Block::Text(format!("{} {text}", "#".repeat(level as usize)))
        } else if p
            .numbered
            .unwrap_or_else(|| !style.is_empty() && self.styles.is_list(style))
        {
            Block::Item(format!("{}- {text}", "  ".repeat(p.list_level.min(8))))
        } else {
            Block::Text(text)
        };
        // A text box paragraph nested in another paragraph comes out as its own block.
        self.blocks.push(block);
    }

    fn end_table(&mut self) {
        let Some(mut t) = self.tables.pop() else {
            return;
        };
        if let Some(row) = t.row.take() {
            t.rows.push(row);
        }
        t.rows.retain(|r| r.iter().any(|c| !c.is_empty()));
        if t.rows.is_empty() {
            return;
        }
        // A table nested in a cell is flattened into that cell's text.
        if let Some(cell) = self.tables.last_mut().and_then(|o| o.cell.as_mut()) {
            for row in &t.rows {
                for c in row.iter().filter(|c| !c.is_empty()) {
                    if !cell.is_empty() {
                        cell.push(' ');
                    }
                    cell.push_str(c);
                }
            }
            return;
        }
        let width = t.rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let line = |row: &[String]| {
            let mut s = String::from("|");
            for i in 0..width {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                s.push(' ');
                s.push_str(&cell.replace('|', "\\|"));
                s.push_str(" |");
            }
            s
        };
        let mut out = vec![line(&t.rows[0])];
        out.push(format!("|{}", " --- |".repeat(width)));
        out.extend(t.rows[1..].iter().map(|r| line(r)));
        self.blocks.push(Block::Text(out.join("\n")));
    }

    fn start(&mut self, e: &BytesStart<'_>) {
        match e.local_name().as_ref() {
            "p" => self.paras.push(Para::default()),
            "t" => self.in_text = true,
            "tab" | "ptab" => self.push_text(" "),
            "br" | "cr" => self.push_text("\n"),
            "noBreakHyphen" => self.push_text("-"),
            "pStyle" => {
                if let Some(p) = self.paras.last_mut() {
                    p.style = attr(e, "val");
                }
            }
            "numId" => {
                if let Some(p) = self.paras.last_mut() {
                    p.numbered = Some(attr(e, "val").unwrap_or_default().trim() != "0");
                }
            }
            "ilvl" => {
                if let Some(p) = self.paras.last_mut() {
                    p.list_level = attr(e, "val").and_then(|v| v.parse().ok()).unwrap_or(0);
                }
            }
            "outlineLvl" => {
                if let Some(p) = self.paras.last_mut() {
                    p.outline = attr(e, "val").and_then(|v| v.trim().parse().ok());
                }
            }
            "tbl" => self.tables.push(Table::default()),
            "tr" => {
                if let Some(t) = self.tables.last_mut() {
                    if let Some(row) = t.row.take() {
                        t.rows.push(row);
                    }
                    t.row = Some(Vec::new());
                }
            }
            "tc" => {
                if let Some(t) = self.tables.last_mut() {
                    t.cell = Some(String::new());
                    t.span = 1;
                }
            }
            "gridSpan" => {
                if let Some(t) = self.tables.last_mut() {
                    if t.cell.is_some() && self.paras.is_empty() {
                        t.span = attr(e, "val")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(1)
                            .clamp(1, 64);
                    }
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, local: &str) {
        match local {
            "p" => self.end_paragraph(),
            "t" => self.in_text = false,
            "tc" => {
                if let Some(t) = self.tables.last_mut() {
                    let cell = t.cell.take().unwrap_or_default();
                    let row = t.row.get_or_insert_with(Vec::new);
                    row.push(cell);
                    for _ in 1..t.span {
                        row.push(String::new());
                    }
                    t.span = 1;
                }
            }
            "tr" => {
                if let Some(t) = self.tables.last_mut() {
                    if let Some(row) = t.row.take() {
                        t.rows.push(row);
                    }
                }
            }
            "tbl" => self.end_table(),
            _ => {}
        }
    }
}

fn render_body(xml: &str, styles: &Styles) -> Result<String, ExtractError> {
    let mut body = Body {
        styles,
        blocks: Vec::new(),
        paras: Vec::new(),
        tables: Vec::new(),
        in_text: false,
    };
    let mut reader = Reader::from_str(xml);
    // Depth inside elements whose content must not be read: `mc:Fallback` repeats the
    // `mc:Choice` content (text boxes), `w:tabs` holds tab stops, not tab characters.
    let mut skip = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| ExtractError::BadXml {
            at: reader.buffer_position(),
            detail: e.to_string(),
        })?;
        match event {
            Event::Start(e) => {
                let local = e.local_name();
                if skip > 0 || matches!(local.as_ref(), "Fallback" | "tabs" | "instrText") {
                    skip += 1;
                } else {
                    body.start(&e);
                }
            }
            Event::Empty(e) if skip == 0 => {
                body.start(&e);
                let local = e.local_name();
                if matches!(local.as_ref(), "p" | "t" | "tc" | "tr" | "tbl") {
                    body.end(local.as_ref());
                }
            }
            Event::End(_) if skip > 0 => skip -= 1,
            Event::End(e) => body.end(e.local_name().as_ref()),
            Event::Text(t) if body.in_text && skip == 0 => body.push_text(&t.xml10_content()),
            Event::CData(t) if body.in_text && skip == 0 => body.push_text(&t.xml10_content()),
            Event::GeneralRef(r) if body.in_text && skip == 0 => {
                let mut s = String::new();
                push_ref(&mut s, &r);
                body.push_text(&s);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // Unclosed elements of a truncated part: keep what was read.
    while !body.paras.is_empty() {
        body.end_paragraph();
    }
    while !body.tables.is_empty() {
        body.end_table();
    }
    let mut out = String::new();
    let mut prev_item = false;
    for block in &body.blocks {
        let (text, item) = match block {
            Block::Text(t) => (t, false),
            Block::Item(t) => (t, true),
        };
        if !out.is_empty() {
            out.push_str(if item && prev_item { "\n" } else { "\n\n" });
        }
        out.push_str(text);
        prev_item = item;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// A DOCX file → one document (text as [`docx_text`] renders it).
pub fn load_docx(path: &Path, display: &str, domain: &str, defaults: &LoadDefaults) -> LoadedFile {
    load_extracted(path, display, domain, defaults, docx_text)
}
