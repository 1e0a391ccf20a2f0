//! DOCX and PDF extraction on the real files in tests/fixtures/documents (made by
//! make_fixtures.py there with python-docx and reportlab).

use std::path::{Path, PathBuf};

use zhiku_core::{Classification, LoadDefaults, LoadedFile};

fn level(classification: Classification) -> LoadDefaults {
    LoadDefaults {
        classification,
        ..Default::default()
    }
}
use zhiku_loaders::{docx_text, load_docx, load_pdf, pdf_text, ExtractError};

fn fixture(name: &str) -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../tests/fixtures/documents")
    .join(name)
}

fn load(name: &str) -> LoadedFile {
    let path = fixture(name);
    let display = format!("documents/{name}");
    if name.ends_with(".pdf") {
        load_pdf(&path, &display, "general", &level(Classification::Internal))
    } else {
        load_docx(&path, &display, "general", &level(Classification::Internal))
    }
}

/// Byte position of `needle` in `text`, with the text in the failure message.
fn find(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found in:\n{text}"))
}

/// The file fails to load with exactly one issue, naming the file and containing `message`.
fn assert_refused(name: &str, message: &str) {
    let loaded = load(name);
    assert!(
        loaded.documents.is_empty(),
        "{name}: expected no documents, got {:?}",
        loaded.documents
    );
    assert_eq!(loaded.issues.len(), 1, "{name}: {:?}", loaded.issues);
    let issue = &loaded.issues[0];
    assert_eq!(issue.path, format!("documents/{name}"));
    assert_eq!(issue.line, None);
    assert!(
        issue.message.contains(message),
        "{name}: expected {message:?} in {:?}",
        issue.message
    );
}

#[test]
fn english_docx_headings_table_and_list() {
    let x = docx_text(&fixture("handout-en.docx")).unwrap();
    let t = &x.text;
    assert_eq!(
        x.title.as_deref(),
        Some("Forces and Motion: Teacher Handout")
    );

    // Heading 1 / Heading 2 → # / ##, each on its own line.
    let lines: Vec<&str> = t.lines().collect();
    for h in [
        "# Forces and Motion",
        "## Learning objectives",
        "## Key quantities",
        "## Classroom activities",
        "# Safety",
    ] {
        assert!(lines.contains(&h), "no line {h:?} in:\n{t}");
    }
    assert!(
        t.starts_with("# Forces and Motion\n\nThis handout supports"),
        "{t}"
    );

    // The 3x3 table: a pipe table, header separator after the first row, cells in order.
    let table = "| Quantity | Symbol | Unit |\n\
                 | --- | --- | --- |\n\
                 | Force | F | newton (N) |\n\
                 | Mass | m | kilogram (kg) |";
    let at = find(t, table);
    assert!(find(t, "## Key quantities") < at);
    assert!(at < find(t, "## Classroom activities"));

    // Bulleted list: consecutive "- " lines, in order.
    find(
        t,
        "- Pull a trolley with a spring balance and record the force.\n\
         - Add 200 g masses one at a time and time each run.\n\
         - Plot acceleration against mass and describe the curve.",
    );

    // Plain paragraphs are blank-line separated, not list items or headings, and keep
    // their non-ASCII characters.
    find(
        t,
        "\n\nBy the end of the unit students can state Newton's second law, F = m × a,",
    );
    assert!(!t.contains("- By the end"));
    assert!(!t.contains("\n\n\n"), "{t}");
}

#[test]
fn chinese_docx_with_chinese_style_names() {
    let x = docx_text(&fixture("handout-zh.docx")).unwrap();
    let t = &x.text;
    assert_eq!(x.title.as_deref(), Some("二次函数讲义"));
    // Styles named "标题 1" / "标题 2" (style ids 标题1 / 标题2) are headings.
    assert!(
        t.starts_with("# 二次函数的图像与性质\n\n本讲义用于九年级数学第二十二章，共两课时。"),
        "{t}"
    );
    let lines: Vec<&str> = t.lines().collect();
    for h in ["## 一、基本概念", "## 二、顶点与对称轴", "## 三、课堂练习"] {
        assert!(lines.contains(&h), "no line {h:?} in:\n{t}");
    }
    find(
        t,
        "形如 y = ax² + bx + c（a ≠ 0）的函数叫做二次函数，它的图像是一条抛物线。",
    );
    find(
        t,
        "| 函数 | 开口方向 | 顶点坐标 |\n\
         | --- | --- | --- |\n\
         | y = x² | 向上 | (0, 0) |\n\
         | y = -2(x-1)² + 3 | 向下 | (1, 3) |",
    );
    // "List Number" paragraphs are list items too.
    find(
        t,
        "- 求抛物线 y = x² - 4x + 3 的顶点坐标。\n- 说出抛物线 y = -x² 的开口方向。",
    );
}

#[test]
fn docx_loader_builds_one_document() {
    let loaded = load("handout-en.docx");
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
    assert_eq!(loaded.documents.len(), 1);
    let d = &loaded.documents[0];
    assert_eq!(d.id, "documents/handout-en.docx");
    assert_eq!(d.domain, "general");
    assert_eq!(d.title, "Forces and Motion: Teacher Handout");
    assert_eq!(d.classification, Classification::Internal);
    assert_eq!(d.source.path, "documents/handout-en.docx");
    assert_eq!(
        d.source.text_offset, None,
        "extracted text is not a slice of the file"
    );
    assert_eq!(d.text, docx_text(&fixture("handout-en.docx")).unwrap().text);
}

#[test]
fn english_pdf_pages_in_order_with_metadata_title() {
    let x = pdf_text(&fixture("guideline-en.pdf")).unwrap();
    let t = &x.text;
    assert_eq!(
        x.title.as_deref(),
        Some("Type 2 Diabetes in Adults (demonstration excerpt)")
    );
    // Page 1, in reading order, then page 2.
    let order = [
        "Type 2 Diabetes in Adults: Guideline Excerpt",
        "Demonstration material for software tests. Not medical advice.",
        "4 Treatment",
        "4.1 Lifestyle",
        "4.2 First-line drugs",
        "Recommendation 4.2.1 (Strength: strong; Evidence: A) Offer metformin as first-line therapy.",
        "Recommendation 4.2.2 (Strength: conditional; Evidence: B)",
        "4.3 Intensification",
        "Recommendation 4.3.1 (Strength: strong; Evidence: A)",
        "5 Monitoring",
        "Measure HbA1c every three months until stable, then every six months.",
    ];
    let positions: Vec<usize> = order.iter().map(|s| find(t, s)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order {positions:?}:\n{t}"
    );
    // Headings are lines of their own; the recommendation line is intact on one line.
    let lines: Vec<&str> = t.lines().map(str::trim).collect();
    assert!(lines.contains(&"4 Treatment"), "{t}");
    assert!(lines.contains(&"4.2 First-line drugs"), "{t}");
    assert!(
        lines.contains(
            &"Recommendation 4.2.1 (Strength: strong; Evidence: A) Offer metformin as first-line therapy."
        ),
        "{t}"
    );
    // Pages are separated by a blank line; no form feeds.
    let page_break = find(t, "4.3 Intensification");
    assert!(t[..page_break].ends_with("\n\n"), "{t}");
    assert!(!t.contains('\u{c}'));
}

#[test]
fn chinese_pdf_with_cid_font_extracts_exact_text() {
    // reportlab's STSong-Light: a non-embedded CID font with the predefined UniGB-UCS2-H
    // CMap and no ToUnicode map.
    let x = pdf_text(&fixture("guideline-zh.pdf")).unwrap();
    let t = &x.text;
    assert_eq!(
        x.title.as_deref(),
        Some("成人2型糖尿病防治指南（演示节选）")
    );
    let order = [
        "成人2型糖尿病防治指南（节选）",
        "本文为软件测试用的演示材料，不构成医疗建议。",
        "4 治疗",
        "治疗目标是在避免低血糖的前提下控制血糖。",
        "4.2 一线药物",
        "推荐 4.2.1（强推荐；证据等级 A）：二甲双胍为首选药物。",
        "5 监测",
        "血糖稳定前每三个月检测一次糖化血红蛋白。",
    ];
    let positions: Vec<usize> = order.iter().map(|s| find(t, s)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order {positions:?}:\n{t}"
    );
    let page_break = find(t, "5 监测");
    assert!(t[..page_break].ends_with("\n\n"), "{t}");
}

#[test]
fn pdf_loader_builds_one_document() {
    let loaded = load("guideline-zh.pdf");
    assert!(loaded.issues.is_empty(), "{:?}", loaded.issues);
    assert_eq!(loaded.documents.len(), 1);
    let d = &loaded.documents[0];
    assert_eq!(d.id, "documents/guideline-zh.pdf");
    assert_eq!(d.title, "成人2型糖尿病防治指南（演示节选）");
    assert_eq!(d.source.text_offset, None);
    assert!(d.text.contains("二甲双胍为首选药物"));
}

#[test]
fn encrypted_pdf_is_refused() {
    assert_refused(
        "encrypted.pdf",
        "PDF is encrypted; decrypt it before ingesting",
    );
}

#[test]
fn scanned_pdf_is_refused() {
    assert_refused(
        "scanned.pdf",
        "PDF has no text layer (scanned images?); OCR it first",
    );
}

#[test]
fn corrupt_pdf_is_refused() {
    assert_refused("corrupt.pdf", "cannot read PDF");
    let e = pdf_text(&fixture("corrupt.pdf")).unwrap_err().to_string();
    assert!(!e.contains("encrypted") && !e.contains("text layer"), "{e}");
}

#[test]
fn not_a_zip_docx_is_refused() {
    assert_refused("not-a-zip.docx", "not a DOCX (ZIP) file");
}

#[test]
fn wrong_formats_and_missing_files_are_issues() {
    // A PDF handed to the DOCX loader and the other way round.
    let e = docx_text(&fixture("guideline-en.pdf")).unwrap_err();
    assert!(matches!(e, ExtractError::NotDocx(_)), "{e:?}");
    assert!(e.to_string().contains("not a DOCX (ZIP) file"), "{e}");
    let e = pdf_text(&fixture("handout-en.docx")).unwrap_err();
    assert!(matches!(e, ExtractError::NotPdf), "{e:?}");
    assert!(e.to_string().contains("not a PDF file"), "{e}");
    let missing = load_pdf(
        &fixture("no-such.pdf"),
        "no-such.pdf",
        "general",
        &level(Classification::Public),
    );
    assert!(missing.documents.is_empty());
    assert!(missing.issues[0].message.contains("cannot read file"));
}

#[test]
fn damaged_inputs_never_panic() {
    // Every prefix-truncation and a byte-flipped copy of each fixture: errors are fine,
    // panics are not (the loaders catch them and report an issue).
    let dir = tempfile::tempdir().unwrap();
    for name in ["guideline-en.pdf", "guideline-zh.pdf", "handout-en.docx"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let mut variants: Vec<Vec<u8>> = [7, 3, 2]
            .iter()
            .map(|d| bytes[..bytes.len() * (d - 1) / d].to_vec())
            .collect();
        let mut flipped = bytes.clone();
        for i in (600..flipped.len()).step_by(97) {
            flipped[i] ^= 0x5a;
        }
        variants.push(flipped);
        for (i, v) in variants.iter().enumerate() {
            let p = dir.path().join(format!("v{i}.{ext}"));
            std::fs::write(&p, v).unwrap();
            let loaded = if ext == "pdf" {
                load_pdf(&p, "v", "general", &level(Classification::Public))
            } else {
                load_docx(&p, "v", "general", &level(Classification::Public))
            };
            assert_eq!(
                loaded.documents.len() + loaded.issues.len(),
                1,
                "{name} variant {i}: {:?}",
                loaded.issues
            );
        }
    }
}

#[test]
fn owner_password_only_pdf_is_read() {
    // Encrypted, but with an empty user password: readers open it without asking.
    let x = pdf_text(&fixture("owner-password-only.pdf")).unwrap();
    assert_eq!(x.title.as_deref(), Some("Owner password only"));
    find(
        &x.text,
        "Opened without a password: only changes need the owner password.",
    );
}

/// A minimal DOCX: `document.xml` body content, optional styles and title.
fn make_docx(
    dir: &Path,
    name: &str,
    body: &str,
    styles: Option<&str>,
    title: Option<&str>,
) -> PathBuf {
    use std::io::Write;
    let path = dir.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut part = |name: &str, text: String| {
        zip.start_file(name, opts).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    };
    part(
        "word/document.xml",
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"w\" xmlns:mc=\"mc\">\
             <w:body>{body}</w:body></w:document>"
        ),
    );
    if let Some(styles) = styles {
        part(
            "word/styles.xml",
            format!("<w:styles xmlns:w=\"w\">{styles}</w:styles>"),
        );
    }
    if let Some(title) = title {
        part(
            "docProps/core.xml",
            format!(
                "<cp:coreProperties xmlns:cp=\"cp\" xmlns:dc=\"dc\"><dc:title>{title}</dc:title>\
                 </cp:coreProperties>"
            ),
        );
    }
    zip.finish().unwrap();
    path
}

#[test]
fn docx_runs_entities_breaks_and_skipped_content() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_docx(
        dir.path(),
        "runs.docx",
        "<w:p><w:r><w:t xml:space=\"preserve\">Salt &amp; </w:t></w:r>\
         <w:r><w:t>pepper&#x2014;to taste</w:t><w:br/><w:t>next</w:t></w:r>\
         <w:r><w:instrText>PAGE</w:instrText><w:delText>gone</w:delText></w:r></w:p>\
         <w:p/><w:p><w:pPr><w:tabs><w:tab w:val=\"left\"/></w:tabs></w:pPr>\
         <w:r><w:t>a</w:t><w:tab/><w:t>b</w:t></w:r>\
         <mc:AlternateContent><mc:Choice><w:txbxContent><w:p><w:r><w:t>box</w:t></w:r></w:p>\
         </w:txbxContent></mc:Choice><mc:Fallback><w:p><w:r><w:t>box</w:t></w:r></w:p>\
         </mc:Fallback></mc:AlternateContent></w:p>",
        None,
        Some("A &amp; B"),
    );
    let x = docx_text(&p).unwrap();
    assert_eq!(x.title.as_deref(), Some("A & B"));
    // Deleted text, field codes, tab stops and the duplicate fallback text box are left out.
    assert_eq!(x.text, "Salt & pepper\u{2014}to taste next\n\nbox\n\na b\n");
}

#[test]
fn docx_outline_levels_numbering_and_merged_cells() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_docx(
        dir.path(),
        "structure.docx",
        "<w:p><w:pPr><w:outlineLvl w:val=\"1\"/></w:pPr><w:r><w:t>Outlined</w:t></w:r></w:p>\
         <w:p><w:pPr><w:numPr><w:ilvl w:val=\"1\"/><w:numId w:val=\"3\"/></w:numPr></w:pPr>\
         <w:r><w:t>nested item</w:t></w:r></w:p>\
         <w:p><w:pPr><w:numPr><w:numId w:val=\"0\"/></w:numPr></w:pPr>\
         <w:r><w:t>not a list</w:t></w:r></w:p>\
         <w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val=\"2\"/></w:tcPr>\
         <w:p><w:r><w:t>wide|cell</w:t></w:r></w:p></w:tc>\
         <w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc></w:tr>\
         <w:tr><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p><w:p><w:r><w:t>2</w:t></w:r></w:p></w:tc>\
         <w:tc><w:tbl><w:tr><w:tc><w:p><w:r><w:t>in</w:t></w:r></w:p></w:tc></w:tr></w:tbl>\
         </w:tc></w:tr></w:tbl>",
        None,
        None,
    );
    let x = docx_text(&p).unwrap();
    assert_eq!(x.title, None);
    assert_eq!(
        x.text,
        "## Outlined\n\n  - nested item\n\nnot a list\n\n\
         | wide\\|cell |  | c |\n| --- | --- | --- |\n| 1 2 | in |  |\n"
    );
    // No metadata title and no `# ` heading: the first short line, markers stripped.
    let loaded = load_docx(
        &p,
        "structure.docx",
        "general",
        &level(Classification::Public),
    );
    assert_eq!(loaded.documents[0].title, "Outlined");
}

#[test]
fn docx_style_ids_names_bases_and_numbering() {
    let dir = tempfile::tempdir().unwrap();
    // Word zh-CN style ids ("1", "a5"), a heading by outline level inherited through
    // basedOn, a list style with numbering, and a character style that must not count.
    let styles = "<w:style w:type=\"paragraph\" w:styleId=\"1\"><w:name w:val=\"heading 1\"/></w:style>\
        <w:style w:type=\"paragraph\" w:styleId=\"a5\"><w:name w:val=\"My Head\"/><w:basedOn w:val=\"x\"/></w:style>\
        <w:style w:type=\"paragraph\" w:styleId=\"x\"><w:name w:val=\"Base\"/><w:pPr><w:outlineLvl w:val=\"2\"/></w:pPr></w:style>\
        <w:style w:type=\"paragraph\" w:styleId=\"L\"><w:name w:val=\"Steps\"/><w:pPr><w:numPr><w:numId w:val=\"4\"/></w:numPr></w:pPr></w:style>\
        <w:style w:type=\"character\" w:styleId=\"Heading1Char\"><w:name w:val=\"heading 1 char\"/></w:style>";
    let para = |style: &str, text: &str| {
        format!(
            "<w:p><w:pPr><w:pStyle w:val=\"{style}\"/></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>"
        )
    };
    let body = [
        para("1", "故宫"),
        para("a5", "三级标题"),
        para("L", "第一步"),
        para("L", "第二步"),
        para("Heading1Char", "正文"),
        para("ListBullet", "要点"),
    ]
    .concat();
    let p = make_docx(dir.path(), "zh-ids.docx", &body, Some(styles), None);
    let x = docx_text(&p).unwrap();
    assert_eq!(
        x.text,
        "# 故宫\n\n### 三级标题\n\n- 第一步\n- 第二步\n\n正文\n\n- 要点\n"
    );
    let loaded = load_docx(&p, "zh-ids.docx", "general", &level(Classification::Public));
    assert_eq!(loaded.documents[0].title, "故宫");
}

#[test]
fn docx_zip_without_document_part_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.docx");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("xl/workbook.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.finish().unwrap();
    let e = docx_text(&path).unwrap_err();
    assert!(matches!(e, ExtractError::NoMainPart(_)), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("not a DOCX file") && e.contains("word/document.xml"),
        "{e}"
    );
}

#[test]
fn pdf_extractor_panics_become_issues() {
    // The Chinese fixture with its font's encoding renamed to a non-Unicode predefined CMap
    // (same length, so the xref offsets stay valid): pdf-extract panics on it ("unsupported
    // encoding"); the loader reports an issue instead.
    let mut bytes = std::fs::read(fixture("guideline-zh.pdf")).unwrap();
    let from = b"/UniGB-UCS2-H";
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("fixture uses UniGB-UCS2-H");
    bytes[at..at + from.len()].copy_from_slice(b"/GBK-EUC-H   ");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gbk.pdf");
    std::fs::write(&p, &bytes).unwrap();
    let loaded = load_pdf(&p, "gbk.pdf", "general", &level(Classification::Public));
    assert!(loaded.documents.is_empty());
    assert_eq!(loaded.issues.len(), 1, "{:?}", loaded.issues);
    let m = &loaded.issues[0].message;
    assert!(m.starts_with("cannot extract text from the PDF"), "{m}");
    assert!(m.contains("unsupported encoding"), "{m}");
}
