//! `zhiku ask` (one question) and `zhiku chat` (a conversation read line by line from
//! standard input): answers with cited sources, streamed to the terminal as they form. With
//! `llm.base_url` configured the configured model writes them; otherwise (or when the model
//! fails) they are extractive and say so.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use clap::Args;
use zhiku_engine::{AnswerEvent, AskInput, Citation, Config, History, Narrowing};

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

/// The narrowing without its domains, and the one domain of a question.
fn split_domain(mut narrowing: Narrowing) -> anyhow::Result<(Narrowing, Option<String>)> {
    let domain = match narrowing.domains.len() {
        0 => None,
        1 => narrowing.domains.pop(),
        _ => anyhow::bail!("ask and chat take at most one --domain"),
    };
    Ok((narrowing, domain))
}

pub async fn run(config: Config, args: AskArgs) -> anyhow::Result<ExitCode> {
    let (engine, caller, narrowing) = open_for(config, &args.question, &args.filter).await?;
    let (narrowing, domain) = split_domain(narrowing)?;
    let input = AskInput {
        question: args.question.clone(),
        domain,
        narrowing,
        history: History::None,
    };
    let mut printer = Printer::new(&args.question);
    let prepared = engine.prepare(&caller, input).await?;
    let answer = engine
        .ask(prepared, |e| {
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
    let (engine, caller, narrowing) = open_for(config, "chat", &args.filter).await?;
    let (narrowing, domain) = split_domain(narrowing)?;
    // The terminal's conversation lives in this process only.
    let mut history = Vec::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let question = line?;
        if question.trim().is_empty() {
            continue;
        }
        let input = AskInput {
            question: question.clone(),
            domain: domain.clone(),
            narrowing: narrowing.clone(),
            history: History::Given(history.clone()),
        };
        let mut printer = Printer::new(&question);
        let answered = match engine.prepare(&caller, input).await {
            Ok(prepared) => engine.ask(prepared, |e| printer.event(e)).await,
            Err(e) => Err(e),
        };
        match answered {
            Ok(answer) => {
                printer.sources();
                history.push(answer.turn(&question));
            }
            // A bad question is this turn's problem, not the conversation's.
            Err(e) if e.kind() == zhiku_engine::ErrorKind::Invalid => eprintln!("error: {e}"),
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
