//! A passage read as the pieces an extractive answer may quote: sentences, list items and
//! table rows (each row as "column: value" pairs, since a bare row means nothing without its
//! header), in plain text. Headings, title lines, separator rows and lead-ins that stop
//! mid-thought ("…则", "as follows:") are not answers and are left out.

use crate::citations::strip_markers;
use crate::lang::is_cjk;

/// One quotable piece of a passage, in plain text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unit {
    pub text: String,
}

/// The units of `text`, in order; `title` is the document's (a line repeating it is not an
/// answer). `chinese` picks the half of a bilingual field label ("开放时间 Opening hours:")
/// and the punctuation used to join a table row's cells.
pub(crate) fn units(text: &str, title: &str, chinese: bool) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, out: &mut Vec<Unit>| {
        for s in sentences(paragraph) {
            push(out, s, title);
        }
        paragraph.clear();
    };
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(cells) = table_cells(line) {
            flush(&mut paragraph, &mut out);
            if cells.iter().all(|c| is_separator_cell(c)) {
                continue;
            }
            match &header {
                None => header = Some(cells),
                Some(h) => {
                    let sep = if chinese { "；" } else { "; " };
                    let colon = if chinese { "：" } else { ": " };
                    let pairs: Vec<String> = h
                        .iter()
                        .zip(&cells)
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| {
                            if k.is_empty() {
                                v.clone()
                            } else {
                                format!("{k}{colon}{v}")
                            }
                        })
                        .collect();
                    push(&mut out, pairs.join(sep), title);
                }
            }
            continue;
        }
        header = None;
        if line.is_empty() || line.starts_with('#') || line.starts_with("$$") {
            flush(&mut paragraph, &mut out);
            continue;
        }
        if let Some(item) = list_item(line) {
            flush(&mut paragraph, &mut out);
            push(&mut out, item.to_string(), title);
            continue;
        }
        if let Some((label, value)) = bilingual_field(line, chinese) {
            flush(&mut paragraph, &mut out);
            // "Site: Summer Palace" under the Summer Palace's title says nothing new.
            let title_terms = crate::lang::terms(title);
            if !crate::lang::terms(value)
                .iter()
                .all(|t| title_terms.contains(t))
            {
                let colon = if chinese { "：" } else { ": " };
                push(&mut out, format!("{label}{colon}{value}"), title);
            }
            continue;
        }
        if !paragraph.is_empty() {
            // A line break inside a paragraph: Chinese joins directly, English with a space.
            let last_cjk = paragraph.chars().last().is_some_and(is_cjk);
            if !last_cjk {
                paragraph.push(' ');
            }
        }
        paragraph.push_str(line);
    }
    flush(&mut paragraph, &mut out);
    out
}

fn push(out: &mut Vec<Unit>, raw: String, title: &str) {
    // A source's own footnote marks ("…in 1406.[2]") would read as our citations.
    let text = strip_markers(&plain(&raw)).trim().to_string();
    let content = text.chars().filter(|c| c.is_alphanumeric()).count();
    if content < 4 || is_fragment(&text) || same_as_title(&text, title) {
        return;
    }
    out.push(Unit { text });
}

/// Sentences of a paragraph; Chinese and English end marks.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let boundary = matches!(c, '。' | '！' | '？')
            || (matches!(c, '.' | '!' | '?')
                && text[end..].starts_with(char::is_whitespace)
                && !ends_with_abbreviation(&text[start..i]));
        if boundary {
            out.push(text[start..end].trim().to_string());
            start = end;
        }
    }
    out.push(text[start..].trim().to_string());
    out.retain(|s| !s.is_empty());
    out
}

/// "e.g." and "Dr." do not end a sentence.
fn ends_with_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        word.as_str(),
        "e.g" | "i.e" | "dr" | "mr" | "mrs" | "ms" | "vs" | "etc" | "approx" | "no" | "fig"
    )
}

fn table_cells(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix('|')?;
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    Some(inner.split('|').map(|c| plain(c.trim())).collect())
}

fn is_separator_cell(cell: &str) -> bool {
    !cell.is_empty() && cell.chars().all(|c| matches!(c, '-' | ':' | ' '))
}

fn list_item(line: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(rest.trim());
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=2).contains(&digits) {
        let rest = &line[digits..];
        for mark in [". ", ") ", "、"] {
            if let Some(item) = rest.strip_prefix(mark) {
                return Some(item.trim());
            }
        }
    }
    None
}

/// "开放时间 Opening hours: value" as the reader's half of the label, and the value.
fn bilingual_field(line: &str, chinese: bool) -> Option<(&str, &str)> {
    let (label, value) = line.split_once(':')?;
    let value = value.trim();
    let split = label.find(|c: char| c.is_ascii_alphabetic())?;
    let (zh, en) = (label[..split].trim(), label[split..].trim());
    let ok = !zh.is_empty()
        && zh.chars().all(is_cjk)
        && en.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
        && !value.is_empty();
    // "明清 / Ming–Qing": the reader's half of a bilingual value too.
    let value = match value.split_once(" / ") {
        Some((a, b)) if a.chars().any(is_cjk) && !b.chars().any(is_cjk) => {
            if chinese {
                a.trim()
            } else {
                b.trim()
            }
        }
        _ => value,
    };
    ok.then_some((if chinese { zh } else { en }, value))
}

/// Markdown emphasis and inline code removed (links stay: the page renders them, safely, and
/// says where they go); a bold lead-in label
/// ("**Recommendation 4.2.3** (Strength: strong; Evidence: B)") dropped when text follows it,
/// since the source's note says the same once, beside the citation.
pub(crate) fn plain(text: &str) -> String {
    let mut s = text.trim().to_string();
    if let Some(rest) = s.strip_prefix("**") {
        if let Some(end) = rest.find("**") {
            let mut after = rest[end + 2..].trim_start();
            if after.starts_with('(') || after.starts_with('（') {
                if let Some(close) = after.find([')', '）']) {
                    let close_len = after[close..].chars().next().map_or(1, char::len_utf8);
                    after = after[close + close_len..].trim_start();
                }
            }
            let after = after.trim_start_matches([':', '：', ' ']);
            if after.chars().filter(|c| c.is_alphanumeric()).count() >= 8 {
                s = after.to_string();
            }
        }
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '`' => continue,
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out.trim().to_string()
}

/// A lead-in that stops where its content should start.
fn is_fragment(text: &str) -> bool {
    let t = text.trim_end();
    let Some(last) = t.chars().last() else {
        return true;
    };
    if matches!(
        last,
        ':' | '：' | '，' | ',' | '、' | '；' | ';' | '(' | '（' | '-' | '—'
    ) {
        return true;
    }
    if t.ends_with('则') || t.ends_with("如下") || t.ends_with("包括") {
        return true;
    }
    let lower = t.to_ascii_lowercase();
    [
        "as follows",
        "the following",
        " is",
        " are",
        " and",
        " or",
        " of",
        " the",
    ]
    .iter()
    .any(|w| lower.ends_with(w))
}

/// A line that only names the document ("故宫（故宫博物院） / Forbidden City").
fn same_as_title(text: &str, title: &str) -> bool {
    let norm = |s: &str| -> String { s.chars().filter(|c| c.is_alphanumeric()).collect() };
    let (t, title) = (norm(text), norm(title));
    !title.is_empty() && (t == title || (title.contains(&t) && t.chars().count() < 40))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, chinese: bool) -> Vec<String> {
        units(text, "天坛 / Temple of Heaven", chinese)
            .into_iter()
            .map(|u| u.text)
            .collect()
    }

    #[test]
    fn tables_become_column_value_pairs_and_headings_go() {
        let t = "## 教学流程\n\n| 时间段 | 教学内容 | 观察记录 |\n|---|---|---|\n| 0–5 分钟 | 导入：提问 | 学生举手 |\n";
        assert_eq!(
            texts(t, true),
            vec!["时间段：0–5 分钟；教学内容：导入：提问；观察记录：学生举手"]
        );
    }

    #[test]
    fn lead_ins_titles_and_markdown() {
        let t = "天坛 / Temple of Heaven\n**知识回顾**：若 {aₙ} 为等差数列，公差为 d，则\n\n- 前 n 项和：Sₙ = n(a₁+aₙ)/2\n开放时间 Opening hours: 8:00–17:00 daily";
        assert_eq!(
            texts(t, true),
            vec!["前 n 项和：Sₙ = n(a₁+aₙ)/2", "开放时间：8:00–17:00 daily"]
        );
        assert_eq!(texts(t, false)[1], "Opening hours: 8:00–17:00 daily");
        assert!(texts("地点 Site: Temple of Heaven", false).is_empty());
        assert_eq!(
            texts("年代 Era: 明清 / Ming–Qing", false),
            vec!["Era: Ming–Qing"]
        );
        assert_eq!(
            plain("**Recommendation 4.2.2** (Strength: strong; Evidence: B) Start metformin at a low dose."),
            "Start metformin at a low dose."
        );
        assert_eq!(
            plain("See [the guide](http://x/y) and **Drum Tower**."),
            "See [the guide](http://x/y) and Drum Tower."
        );
        assert_eq!(
            texts("It costs 60 CNY, e.g. in April. It opens at 8.", false),
            vec!["It costs 60 CNY, e.g. in April.", "It opens at 8."]
        );
    }
}
