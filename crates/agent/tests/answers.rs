//! Citations and extractive answers on hand-made hits.

use zhiku_agent::{check_citations, extractive_answer, ExtractiveOptions};
use zhiku_core::{Chunk, Hit, SourceRef};
use zhiku_testkit::{sample_chunk, sample_hit};

fn hit(doc: &str, title: &str, text: &str, offset: Option<usize>) -> Hit {
    let chunk = sample_chunk(doc, "culture", title, text);
    sample_hit(Chunk {
        start: 10,
        end: 10 + text.len(),
        source: SourceRef {
            text_offset: offset,
            ..chunk.source.clone()
        },
        ..chunk
    })
}

fn passages() -> Vec<Hit> {
    vec![
        hit("gugong", "故宫", "故宫是明清两代的皇家宫殿。故宫始建于明永乐四年（1406年），1420年建成。", Some(100)),
        hit("tiantan", "天坛", "天坛是皇帝祭天的场所。祈年殿是天坛的主体建筑。", None),
        hit("wall", "Great Wall", "Badaling is the best-preserved section of the Ming Great Wall. It opened to visitors in 1957.", Some(0)),
    ]
}

#[test]
fn markers_beyond_the_passages_are_removed_and_counted() {
    let p = passages();
    let checked = check_citations(
        "Built in 1406 [1]. Prayers at the altar [2][7]. See [1, 9] and [note].",
        &p,
    );
    assert_eq!(checked.removed, 2);
    assert_eq!(
        checked.text,
        "Built in 1406 [1]. Prayers at the altar [2]. See [1] and [note]."
    );
    let cited: Vec<&str> = checked
        .citations
        .iter()
        .map(|c| c.doc_id.as_str())
        .collect();
    assert_eq!(
        cited,
        vec!["gugong", "tiantan"],
        "cited, not merely retrieved"
    );
    let c = &checked.citations[0];
    assert_eq!(
        (c.start, c.end, c.span_in_file),
        (110, 110 + p[0].chunk.text.len(), true)
    );
    assert!(!checked.citations[1].span_in_file);
}

#[test]
fn extractive_answers_quote_the_best_sentences_with_citations() {
    let a = extractive_answer(
        "故宫始建于哪一年？",
        &passages(),
        ExtractiveOptions::default(),
    );
    assert!(
        a.text
            .contains("故宫始建于明永乐四年（1406年），1420年建成。[1]"),
        "{}",
        a.text
    );
    assert_eq!(
        check_citations(&a.text, &passages()).citations[0].doc_id,
        "gugong"
    );
    assert!(!a.abstained);

    let a = extractive_answer(
        "When did Badaling open to visitors?",
        &passages(),
        ExtractiveOptions::default(),
    );
    // Markers are numbered 1..n in order of first use: the only source cited is [1].
    assert!(
        a.text.starts_with("It opened to visitors in 1957.[1]"),
        "{}",
        a.text
    );
    assert_eq!(
        check_citations(&a.text, &a.cited_hits(&passages())).citations[0].doc_id,
        "wall"
    );
}

#[test]
fn no_overlap_means_saying_so_in_the_users_language() {
    let a = extractive_answer(
        "量子计算机的原理是什么？",
        &passages(),
        ExtractiveOptions::default(),
    );
    assert!(a.abstained);
    assert!(a.text.contains("没有找到"), "{}", a.text);
    assert!(!a.text.contains('['));
    let a = extractive_answer("quantum computers", &[], ExtractiveOptions::default());
    assert!(a.abstained && a.text.contains("do not contain"));
}
