//! `zhiku ask`: retrieve, answer with cited sentences, print the sources actually cited.
//! Without a large model configured the answer is extractive and says so.

use std::process::ExitCode;

use clap::Args;
use zhiku_agent::{extractive_answer, ExtractiveOptions};
use zhiku_core::{Config, RetrievalMode};

use crate::search::{open_for, FilterArgs};

#[derive(Args)]
pub struct AskArgs {
    pub question: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Passages retrieved for the answer.
    #[arg(short, long, default_value_t = 5)]
    pub k: usize,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: Config, args: AskArgs) -> anyhow::Result<ExitCode> {
    let (app, filter) = open_for(config, &args.question, &args.filter).await?;
    let results = app
        .retriever_for(&filter)
        .search(&args.question, &filter, args.k, RetrievalMode::Hybrid)
        .await?;
    let answer = extractive_answer(&args.question, &results.hits, ExtractiveOptions::default());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(n) = &answer.notice {
        println!("{n}\n");
    }
    println!("{}\n", answer.text);
    for c in &answer.citations {
        let place = match c.line {
            Some(l) => format!("{}:{l}", c.path),
            None => c.path.clone(),
        };
        let span = if c.span_in_file {
            "file bytes"
        } else {
            "text bytes"
        };
        let section = if c.section.is_empty() {
            String::new()
        } else {
            format!(" § {}", c.section)
        };
        println!(
            "[{}] {}{section} — {place} ({span} {}..{})",
            c.marker, c.title, c.start, c.end
        );
    }
    Ok(ExitCode::SUCCESS)
}
