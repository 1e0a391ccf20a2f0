//! `zhiku ask`: one question, answered with cited sources and streamed to the terminal as it
//! forms. With `llm.base_url` configured the configured model writes it; otherwise (or when
//! the model fails) the answer is extractive and says so.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use zhiku_agent::{Agent, AnswerEvent, AskRequest, Citation};
use zhiku_core::Config;

use crate::search::{filter_from, open_for, FilterArgs};

#[derive(Args)]
pub struct AskArgs {
    pub question: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the finished answer as JSON instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// Print every event as a JSON line while the answer forms.
    #[arg(long, conflicts_with = "json")]
    pub events: bool,
}

pub async fn run(config: Config, args: AskArgs) -> anyhow::Result<ExitCode> {
    let (app, _) = open_for(config, &args.question, &args.filter).await?;
    let agent = Agent::new(app.retriever(), Arc::clone(&app.registry), &app.config)?;
    let mut filter = filter_from(&args.filter)?;
    let domain = match filter.domains.len() {
        0 => None,
        1 => filter.domains.pop(),
        _ => anyhow::bail!("ask takes at most one --domain"),
    };
    let req = AskRequest {
        question: args.question.clone(),
        domain,
        filter,
        conversation: None,
    };
    let mut stdout = std::io::stdout().lock();
    let mut citations: Vec<Citation> = Vec::new();
    let quiet = args.json;
    let as_events = args.events;
    let answer = agent
        .ask(req, |e| {
            if quiet {
                return;
            }
            if as_events {
                if let Ok(line) = serde_json::to_string(&e) {
                    let _ = writeln!(stdout, "{line}");
                }
                return;
            }
            match e {
                AnswerEvent::Text { text } => {
                    let _ = write!(stdout, "{text}");
                    let _ = stdout.flush();
                }
                // Notices are part of the answer (why it is extractive, what was removed).
                AnswerEvent::Notice { text } => {
                    let _ = writeln!(stdout, "({text})");
                }
                AnswerEvent::Citation { citation } => citations.push(citation),
                AnswerEvent::Started { .. } => {}
            }
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ExitCode::SUCCESS);
    }
    if as_events {
        return Ok(ExitCode::SUCCESS);
    }
    println!("\n");
    for c in &citations {
        println!("{}", describe(c));
    }
    Ok(ExitCode::SUCCESS)
}

/// `[1] Title § Section — path:line (file bytes a..b) — note`
fn describe(c: &Citation) -> String {
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
    let note = c
        .note
        .as_ref()
        .map(|n| format!(" — {n}"))
        .unwrap_or_default();
    format!(
        "[{}] {}{section} — {place} ({span} {}..{}){note}",
        c.marker, c.title, c.start, c.end
    )
}
