//! The conversation set (tests/conversations): two- and three-turn dialogues over the sample
//! corpora. Every turn is asked through the engine with the earlier turns as history, as the
//! chat page and the mini-program ask it, so a follow-up is searched the way the agent rewrites
//! it. Per turn kind (first, anaphoric, switch) and language: recall@5 of the turn's expected
//! documents on the query the agent actually searched, how many turns were refused, and how
//! many were rewritten.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use zhiku_core::{Classification, Config, RetrievalMode, SearchFilter};
use zhiku_engine::{AskInput, Caller, Engine, History};
use zhiku_ingest::IngestOptions;

use crate::eval::recall_at;

#[derive(Deserialize)]
struct DialogueTurn {
    id: String,
    dialogue: String,
    turn: usize,
    text: String,
    lang: String,
    kind: String,
    domain: String,
}

/// Figures for the turns of one kind in one language.
#[derive(Debug, Default, Clone, Serialize)]
pub struct KindFigures {
    pub turns: usize,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    /// Share of turns the agent refused.
    pub refused: f64,
    /// Share of turns searched as something other than what was asked.
    pub rewritten: f64,
}

/// Keyed by (kind, language); language "all" pools both.
pub type ConversationFigures = BTreeMap<(String, String), KindFigures>;

pub async fn evaluate(
    config: Config,
    set: &Path,
    corpora: &Path,
    only: Option<usize>,
) -> anyhow::Result<ConversationFigures> {
    let text = std::fs::read_to_string(set.join("queries.jsonl"))?;
    let mut turns = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let t: DialogueTurn = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!("{}:{}: {e}", set.join("queries.jsonl").display(), i + 1)
        })?;
        turns.push(t);
    }
    let mut expected: HashMap<String, HashSet<String>> = HashMap::new();
    for line in std::fs::read_to_string(set.join("qrels.tsv"))?
        .lines()
        .skip(1)
    {
        let mut cols = line.split('\t');
        if let (Some(q), Some(d)) = (cols.next(), cols.next()) {
            expected.entry(q.into()).or_default().insert(d.into());
        }
    }
    // The sample corpora in a scratch index of their own, kept between runs (ingest only
    // embeds what changed).
    let scratch = config.data_dir.join("eval-cache").join("conversations");
    let app = Engine::open_at(scratch, config).await?;
    let caller = Caller::operator(Classification::Restricted);
    let opts = IngestOptions {
        prune: true,
        yes: true,
        ..Default::default()
    };
    let report = app.ingest(&caller, &[corpora.to_path_buf()], &opts).await?;
    let known: HashSet<&String> = expected.values().flatten().collect();
    eprintln!(
        "conversation set: {} turns over {} ({} documents, {} newly embedded chunks; {} expected documents)",
        turns.len(),
        corpora.display(),
        report.documents,
        report.embedded,
        known.len()
    );
    let mut dialogues: BTreeMap<&str, Vec<&DialogueTurn>> = BTreeMap::new();
    for t in &turns {
        dialogues.entry(&t.dialogue).or_default().push(t);
    }
    let mut dialogues: Vec<Vec<&DialogueTurn>> = dialogues.into_values().collect();
    if let Some(n) = only {
        dialogues = crate::eval_answers::spread(&dialogues, n)
            .into_iter()
            .cloned()
            .collect();
    }
    let mut figures = ConversationFigures::new();
    for dialogue in &mut dialogues {
        dialogue.sort_by_key(|t| t.turn);
        let mut history = Vec::new();
        for t in dialogue.iter() {
            let input = AskInput {
                question: t.text.clone(),
                domain: Some(t.domain.clone()),
                history: History::Given(history.clone()),
                ..Default::default()
            };
            let answer = app.ask(app.prepare(&caller, input).await?, |_| {}).await?;
            let domain = app.registry().get(&t.domain)?;
            let retriever = app
                .retriever()
                .with_config(domain.retrieval().apply(&app.config().retrieval));
            let filter = SearchFilter {
                clearance: Classification::Restricted,
                domains: vec![t.domain.clone()],
                ..Default::default()
            };
            let hits = retriever
                .search(&answer.query, &filter, 50, RetrievalMode::Hybrid)
                .await?
                .hits;
            let mut seen = HashSet::new();
            let ranked: Vec<String> = hits
                .iter()
                .filter(|h| seen.insert(h.chunk.doc_id.clone()))
                .map(|h| h.chunk.doc_id.clone())
                .collect();
            let relevant = expected.get(&t.id).cloned().unwrap_or_default();
            let recall = recall_at(&ranked, &relevant, 5);
            for lang in [t.lang.as_str(), "all"] {
                let f = figures.entry((t.kind.clone(), lang.into())).or_default();
                f.turns += 1;
                f.recall_5 += recall;
                f.refused += f64::from(answer.abstained);
                f.rewritten += f64::from(answer.query != t.text);
            }
            history.push(answer.turn(&t.text));
        }
    }
    for f in figures.values_mut() {
        let n = f.turns.max(1) as f64;
        f.recall_5 /= n;
        f.refused /= n;
        f.rewritten /= n;
    }
    Ok(figures)
}

pub fn print(figures: &ConversationFigures) {
    println!("conversation set (every turn asked with the earlier ones as history; recall@5 on the query actually searched):");
    println!("| turn kind | language | turns | recall@5 | refused | rewritten |");
    println!("|---|---|---|---|---|---|");
    for ((kind, lang), f) in figures {
        println!(
            "| {kind} | {lang} | {} | {:.3} | {:.3} | {:.3} |",
            f.turns, f.recall_5, f.refused, f.rewritten
        );
    }
}
