//! PDF → plain text through `pdf-extract` (on `lopdf`), page by page.
//!
//! Before extraction: encryption is checked (an owner-password-only PDF is opened, one that
//! needs a user password is refused), and Type0 fonts that use one of Adobe's predefined
//! Unicode CMaps (`UniGB-UCS2-H` and relatives, which reportlab, older Acrobat and many
//! Chinese / Japanese / Korean producers write for non-embedded CJK fonts) are rewritten to
//! `Identity-H` plus an identity `ToUnicode` map: their character codes *are* UCS-2, but
//! `pdf-extract` only knows `Identity-H` and would panic on them.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Once;

use pdf_extract::{Dictionary, Document, Object, ObjectId, Stream};
use zhiku_core::{LoadDefaults, LoadedFile};

use super::extracted::{load_extracted, ExtractError, ExtractedText};

/// PDF → text, pages separated by a blank line. Title: the Info dictionary `/Title` if
/// present and non-empty. Encrypted PDFs, PDFs without text and unreadable files are errors.
pub fn pdf_text(path: &Path) -> Result<ExtractedText, ExtractError> {
    let bytes = std::fs::read(path)?;
    let head = &bytes[..bytes.len().min(1024)];
    if !head.windows(5).any(|w| w == b"%PDF-") {
        return Err(ExtractError::NotPdf);
    }
    catch_silently(|| extract(&bytes)).unwrap_or_else(|panic| {
        Err(ExtractError::Damaged {
            format: "PDF",
            detail: panic,
        })
    })
}

/// A PDF file → one document (text as [`pdf_text`] extracts it).
pub fn load_pdf(path: &Path, display: &str, domain: &str, defaults: &LoadDefaults) -> LoadedFile {
    load_extracted(path, display, domain, defaults, pdf_text)
}

fn extract(bytes: &[u8]) -> Result<ExtractedText, ExtractError> {
    let mut doc = match Document::load_mem(bytes) {
        Ok(doc) => doc,
        Err(pdf_extract::Error::Decryption(_) | pdf_extract::Error::InvalidPassword) => {
            return Err(ExtractError::Encrypted)
        }
        Err(e) => {
            return Err(ExtractError::Damaged {
                format: "PDF",
                detail: e.to_string(),
            })
        }
    };
    // lopdf opens PDFs whose user password is empty by itself; `/Encrypt` still being in
    // the trailer means a password is needed.
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(ExtractError::Encrypted);
    }
    let title = info_title(&doc);
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(ExtractError::NoPages);
    }
    patch_unicode_cmap_fonts(&mut doc);

    let mut texts = Vec::new();
    let mut failed = Vec::new();
    let mut first_error = None;
    for &number in pages.keys() {
        let page = catch_silently(|| {
            let mut s = String::new();
            let result = {
                let mut out = pdf_extract::PlainTextOutput::new(&mut s);
                pdf_extract::output_doc_page(&doc, &mut out, number)
            };
            result.map(|_| s)
        });
        match page {
            Ok(Ok(s)) => texts.push(tidy_page(&s)),
            Ok(Err(e)) => {
                failed.push(number);
                first_error.get_or_insert_with(|| e.to_string());
            }
            Err(panic) => {
                failed.push(number);
                first_error.get_or_insert(panic);
            }
        }
    }
    let first_error = first_error.unwrap_or_default();
    if texts.is_empty() {
        return Err(ExtractError::NoPageText(first_error));
    }
    if !failed.is_empty() {
        tracing::warn!(
            "PDF pages {failed:?} of {} could not be read and are left out: {first_error}",
            pages.len()
        );
    }
    let text = texts
        .iter()
        .filter(|t| !t.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.trim().is_empty() {
        return Err(ExtractError::NoTextLayer);
    }
    Ok(ExtractedText {
        title,
        text: text + "\n",
    })
}

/// Trailing spaces off every line, runs of blank lines down to one, no blank edges.
fn tidy_page(raw: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in raw.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

fn info_title(doc: &Document) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(d) => d,
        _ => return None,
    };
    let title = match info.get(b"Title").ok()? {
        Object::Reference(id) => doc.get_object(*id).ok()?,
        o => o,
    };
    let title = pdf_extract::decode_text_string(title).ok()?;
    let title = title
        .trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then_some(title)
}

/// Adobe's predefined CMaps whose codes are UCS-2 / UTF-16BE, i.e. Unicode already.
const UNICODE_CMAPS: &[&str] = &[
    "UniGB-UCS2",
    "UniGB-UTF16",
    "UniCNS-UCS2",
    "UniCNS-UTF16",
    "UniJIS-UCS2",
    "UniJIS-UCS2-HW",
    "UniJIS-UTF16",
    "UniKS-UCS2",
    "UniKS-UTF16",
];

/// `Some(vertical)` for an encoding name like `UniGB-UCS2-H` / `UniJIS-UCS2-HW-V`.
fn unicode_cmap(name: &[u8]) -> Option<bool> {
    let name = std::str::from_utf8(name).ok()?;
    let (base, dir) = name.rsplit_once('-')?;
    let vertical = match dir {
        "H" => false,
        "V" => true,
        _ => return None,
    };
    UNICODE_CMAPS.contains(&base).then_some(vertical)
}

/// Rewrites Type0 fonts with a predefined Unicode CMap to Identity-H/V with a `ToUnicode`
/// map from each code to itself, and their glyph widths from CIDs to codes (ASCII only:
/// CIDs 1..=95 are U+0020..=U+007E in all four Adobe CJK collections; the rest keep the
/// default width, which for CJK ideographs is the full em they have). The map lists only
/// the codes the document shows (pdf-extract re-reads it for every page, and all 63 000
/// BMP code units made Chinese pages 60 times slower than English ones). Returns how many
/// fonts changed.
fn patch_unicode_cmap_fonts(doc: &mut Document) -> usize {
    let to_unicode = doc.new_object_id();
    let mut descendants = Vec::new();
    let mut patched = 0;
    for object in doc.objects.values_mut() {
        patched += walk_fonts(object, to_unicode, &mut descendants, 0);
    }
    if patched == 0 {
        return 0;
    }
    for id in descendants {
        if let Ok(Object::Dictionary(d)) = doc.get_object_mut(id) {
            remap_widths(d);
        }
    }
    let cmap = identity_to_unicode(shown_codes(doc));
    doc.objects.insert(
        to_unicode,
        Object::Stream(Stream::new(Dictionary::new(), cmap)),
    );
    patched
}

/// Every 2-byte code a text-showing operator uses, in page contents and form XObjects
/// (an over-approximation: strings of one-byte fonts are counted too). `None` when some
/// content cannot be parsed: then every code is mapped.
fn shown_codes(doc: &Document) -> Option<BTreeSet<u16>> {
    let mut contents: Vec<Vec<u8>> = Vec::new();
    for page in doc.get_pages().into_values() {
        contents.push(doc.get_page_content(page).ok()?);
    }
    for object in doc.objects.values() {
        if let Object::Stream(s) = object {
            if matches!(s.dict.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Form") {
                contents.push(
                    s.decompressed_content()
                        .unwrap_or_else(|_| s.content.clone()),
                );
            }
        }
    }
    let mut codes = BTreeSet::new();
    let mut add = |o: &Object| {
        if let Object::String(bytes, _) = o {
            for pair in bytes.chunks_exact(2) {
                codes.insert(u16::from_be_bytes([pair[0], pair[1]]));
            }
        }
    };
    for content in contents {
        let content = pdf_extract::content::Content::decode(&content).ok()?;
        for op in content.operations {
            if matches!(op.operator.as_str(), "Tj" | "TJ" | "'" | "\"") {
                for operand in &op.operands {
                    match operand {
                        Object::Array(items) => items.iter().for_each(&mut add),
                        o => add(o),
                    }
                }
            }
        }
    }
    Some(codes)
}

/// Patches every font dictionary in an object, including fonts written directly inside a
/// page's `/Resources /Font` dictionary (nesting is bounded).
fn walk_fonts(
    object: &mut Object,
    to_unicode: ObjectId,
    descendants: &mut Vec<ObjectId>,
    depth: usize,
) -> usize {
    if depth > 6 {
        return 0;
    }
    match object {
        Object::Dictionary(d) => {
            let mut n = patch_font_dict(d, to_unicode, descendants) as usize;
            for (_, v) in d.iter_mut() {
                n += walk_fonts(v, to_unicode, descendants, depth + 1);
            }
            n
        }
        Object::Array(a) => a
            .iter_mut()
            .map(|v| walk_fonts(v, to_unicode, descendants, depth + 1))
            .sum(),
        _ => 0,
    }
}

fn patch_font_dict(
    font: &mut Dictionary,
    to_unicode: ObjectId,
    descendants: &mut Vec<ObjectId>,
) -> bool {
    let is_type0 = matches!(font.get(b"Subtype"), Ok(Object::Name(n)) if n == b"Type0");
    let vertical = match font.get(b"Encoding") {
        Ok(Object::Name(n)) if is_type0 => unicode_cmap(n),
        _ => None,
    };
    let Some(vertical) = vertical else {
        return false;
    };
    let identity: &[u8] = if vertical {
        b"Identity-V"
    } else {
        b"Identity-H"
    };
    font.set("Encoding", Object::Name(identity.to_vec()));
    if !font.has(b"ToUnicode") {
        font.set("ToUnicode", Object::Reference(to_unicode));
    }
    if let Ok(Object::Array(ds)) = font.get_mut(b"DescendantFonts") {
        match ds.first_mut() {
            Some(Object::Dictionary(d)) => remap_widths(d),
            Some(Object::Reference(id)) => descendants.push(*id),
            _ => {}
        }
    }
    true
}

/// `/W` of a CID font, keyed by CID → the same widths keyed by UCS-2 code (see above).
fn remap_widths(cid_font: &mut Dictionary) {
    let mut by_cid = BTreeMap::new();
    if let Ok(Object::Array(w)) = cid_font.get(b"W") {
        let num = |o: &Object| match o {
            Object::Integer(i) => Some(*i as f64),
            Object::Real(r) => Some(*r as f64),
            _ => None,
        };
        let mut i = 0;
        while i < w.len() {
            let Some(first) = w.get(i).and_then(num) else {
                break;
            };
            match w.get(i + 1) {
                Some(Object::Array(ws)) => {
                    for (k, width) in ws.iter().enumerate() {
                        if let Some(width) = num(width) {
                            by_cid.insert(first as i64 + k as i64, width);
                        }
                    }
                    i += 2;
                }
                Some(last) => {
                    let (Some(last), Some(width)) = (num(last), w.get(i + 2).and_then(num)) else {
                        break;
                    };
                    for cid in (first as i64)..=(last as i64).min(first as i64 + 100) {
                        by_cid.insert(cid, width);
                    }
                    i += 3;
                }
                None => break,
            }
        }
    }
    let ascii: Vec<Option<f64>> = (1..=95).map(|cid| by_cid.get(&cid).copied()).collect();
    if ascii.iter().all(Option::is_some) {
        let widths = ascii
            .into_iter()
            .map(|w| Object::Real(w.unwrap_or(1000.0) as f32))
            .collect();
        cid_font.set(
            "W",
            Object::Array(vec![Object::Integer(0x20), Object::Array(widths)]),
        );
    } else {
        cid_font.remove(b"W");
    }
}

/// A `ToUnicode` CMap mapping 2-byte codes to the same UTF-16 code unit: the given codes,
/// or all of them (surrogates left out).
fn identity_to_unicode(codes: Option<BTreeSet<u16>>) -> Vec<u8> {
    let mut s = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let surrogate = |c: u32| (0xD800..=0xDFFF).contains(&c);
    match codes {
        Some(codes) => {
            let codes: Vec<u16> = codes
                .into_iter()
                .filter(|c| !surrogate(*c as u32))
                .collect();
            for block in codes.chunks(100) {
                s.push_str(&format!("{} beginbfchar\n", block.len()));
                for c in block {
                    s.push_str(&format!("<{c:04X}> <{c:04X}>\n"));
                }
                s.push_str("endbfchar\n");
            }
        }
        None => {
            let highs: Vec<u32> = (0u32..=0xFF).filter(|h| !surrogate(h << 8)).collect();
            for block in highs.chunks(100) {
                s.push_str(&format!("{} beginbfrange\n", block.len()));
                for h in block {
                    s.push_str(&format!("<{h:02X}00> <{h:02X}FF> <{h:02X}00>\n"));
                }
                s.push_str("endbfrange\n");
            }
        }
    }
    s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    s.into_bytes()
}

thread_local! {
    /// Non-zero while this thread runs code whose panics are caught and reported.
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, turning a panic into `Err(message)`. The panic message is not printed (the
/// caller reports it as a load issue instead); panics elsewhere print as usual.
pub(super) fn catch_silently<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "internal error".into());
        let message = message.lines().next().unwrap_or("").trim().to_string();
        if message.chars().count() > 200 {
            message.chars().take(200).collect::<String>() + "…"
        } else {
            message
        }
    })
}
