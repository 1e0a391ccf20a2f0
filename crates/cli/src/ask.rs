//! `zhiku ask` (one question) and `zhiku chat` (a conversation read line by line from
//! standard input): answers with cited sources, streamed to the terminal as they form. With
//! `llm.base_url` configured the configured model writes them; otherwise (or when the model
//! fails) they are extractive and say so.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use zhiku_agent::{Agent, AnswerEvent, AskRequest, Citation};
use zhiku_core::{Config, SearchFilter};

use crate::app::App;
use crate::search::{open_for, FilterArgs};

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

#[derive(Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn agent_for(app: &App) -> anyhow::Result<Agent> {
    Ok(Agent::new(
        app.retriever(),
        Arc::clone(&app.registry),
        &app.config,
    )?)
}

/// The filter without its domain, and the one domain of a request.
fn split_domain(mut filter: SearchFilter) -> anyhow::Result<(SearchFilter, Option<String>)> {
    let domain = match filter.domains.len() {
        0 => None,
        1 => filter.domains.pop(),
        _ => anyhow::bail!("ask and chat take at most one --domain"),
    };
    Ok((filter, domain))
}

pub async fn run(config: Config, args: AskArgs) -> anyhow::Result<ExitCode> {
    let (app, filter) = open_for(config, &args.question, &args.filter).await?;
    let agent = agent_for(&app)?;
    let (filter, domain) = split_domain(filter)?;
    let req = AskRequest {
        question: args.question.clone(),
        domain,
        filter,
        conversation: None,
    };
    let mut printer = Printer::new(&args.question);
    let answer = agent
        .ask(req, |e| {
            if args.events {
                if let Ok(line) = serde_json::to_string(&e) {
                    println!("{line}");
                }
            } else if !args.json {
                printer.event(e);
            }
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else if !args.events {
        printer.sources();
    }
    Ok(ExitCode::SUCCESS)
}

/// One question per line; follow-ups are understood in the context of the earlier ones.
pub async fn chat(config: Config, args: ChatArgs) -> anyhow::Result<ExitCode> {
    let (app, filter) = open_for(config, "chat", &args.filter).await?;
    let agent = agent_for(&app)?;
    let (filter, domain) = split_domain(filter)?;
    let mut conversation: Option<String> = None;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let question = line?;
        if question.trim().is_empty() {
            continue;
        }
        let req = AskRequest {
            question: question.clone(),
            domain: domain.clone(),
            filter: filter.clone(),
            conversation: conversation.clone(),
        };
        let mut printer = Printer::new(&question);
        match agent.ask(req, |e| printer.event(e)).await {
            Ok(answer) => {
                printer.sources();
                conversation = Some(answer.conversation_id);
            }
            // A bad question is this turn's problem, not the conversation's.
            Err(e) if e.is_caller_error() => eprintln!("error: {e}"),
            Err(e) => return Err(e.into()),
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams an answer's events to standard output.
struct Printer {
    question: String,
    citations: Vec<Citation>,
}

impl Printer {
    fn new(question: &str) -> Self {
        Self {
            question: question.trim().to_string(),
            citations: Vec::new(),
        }
    }

    fn event(&mut self, e: AnswerEvent) {
        let mut out = std::io::stdout().lock();
        match e {
            // A follow-up rewritten for retrieval: show what was searched.
            AnswerEvent::Started { query, .. } if query != self.question => {
                let _ = writeln!(out, "(query: {query})");
            }
            AnswerEvent::Started { .. } => {}
            AnswerEvent::Text { text } => {
                let _ = write!(out, "{text}");
            }
            // Notices are part of the answer (why it is extractive, what was removed).
            AnswerEvent::Notice { text } => {
                let _ = writeln!(out, "({text})");
            }
            AnswerEvent::Citation { citation } => self.citations.push(citation),
        }
        let _ = out.flush();
    }

    fn sources(&self) {
        println!("\n");
        for c in &self.citations {
            println!("{}", describe(c));
        }
    }
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
