//! What the binary formats (DOCX, PDF) share: the text extracted from a file, why there is
//! none, and the one document made of it.

use std::path::Path;

use zhiku_core::{LoadDefaults, LoadedFile};

use super::issue;
use super::markdown::file_stem;

/// Text extracted from a binary document format, with the title its metadata states.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtractedText {
    pub title: Option<String>,
    pub text: String,
}

/// Why a DOCX or PDF gave no text. The message is what the user reads as the file's load
/// issue, so each says what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read file: {0}")]
    Read(#[from] std::io::Error),
    #[error(
        "not a DOCX (ZIP) file: this is an OLE2 container, i.e. a legacy .doc or a \
         password-protected document; save it as an unprotected .docx first"
    )]
    LegacyDoc,
    #[error("not a DOCX (ZIP) file: {0}")]
    NotDocx(String),
    #[error("not a DOCX file: the ZIP archive has no {0} (is it another Office format?)")]
    NoMainPart(String),
    #[error("cannot read {part} in the DOCX (damaged file?): {detail}")]
    Part { part: String, detail: String },
    #[error("{part} in the DOCX is larger than {limit_mib} MiB uncompressed")]
    PartTooLarge { part: String, limit_mib: u64 },
    #[error("the DOCX's main part is not well-formed XML (at byte {at}): {detail}")]
    BadXml { at: u64, detail: String },
    #[error("not a PDF file (no %PDF- header)")]
    NotPdf,
    #[error("PDF is encrypted; decrypt it before ingesting")]
    Encrypted,
    #[error("cannot read PDF: it has no pages (damaged file?)")]
    NoPages,
    #[error("cannot extract text from the PDF (damaged or unsupported feature): {0}")]
    NoPageText(String),
    #[error("PDF has no text layer (scanned images?); OCR it first")]
    NoTextLayer,
    /// The file could not be parsed, or its parser panicked (caught).
    #[error("cannot read {format} (damaged or unsupported feature): {detail}")]
    Damaged {
        format: &'static str,
        detail: String,
    },
}

impl ExtractError {
    pub(crate) fn part(name: &str, e: impl std::fmt::Display) -> Self {
        Self::Part {
            part: name.to_string(),
            detail: e.to_string(),
        }
    }
}

/// Title for an extracted document: the metadata title, else the first `# ` heading, else a
/// short first line, else the file stem.
fn choose_title(path: &Path, extracted: &ExtractedText) -> String {
    if let Some(t) = extracted
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return t.to_string();
    }
    let text = &extracted.text;
    if let Some(h) = text
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return h.to_string();
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('|'))
        .map(|l| l.trim_start_matches('#').trim_start_matches("- ").trim())
        .unwrap_or("");
    if !first.is_empty() && first.chars().count() <= 80 {
        first.to_string()
    } else {
        file_stem(path)
    }
}

/// One extracted file → one document, in the style of `load_markdown`.
pub(crate) fn load_extracted(
    path: &Path,
    display: &str,
    domain: &str,
    defaults: &LoadDefaults,
    extract: fn(&Path) -> Result<ExtractedText, ExtractError>,
) -> LoadedFile {
    let mut out = LoadedFile::default();
    let extracted = match extract(path) {
        Ok(x) => x,
        Err(e) => return LoadedFile::failed(issue(display, None, e.to_string())),
    };
    if extracted.text.trim().is_empty() {
        out.issues
            .push(issue(display, None, "document has no text"));
        return out;
    }
    let title = choose_title(path, &extracted);
    // Decoded from a binary format: not a verbatim slice of the file.
    out.documents.push(super::file_document(
        display,
        domain,
        title,
        extracted.text,
        defaults,
        None,
    ));
    out
}
