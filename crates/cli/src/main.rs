//! The `zhiku` command: ingest, search, eval, bench. It only parses arguments, opens the
//! engine and prints; everything else lives in the library crates.

mod abstention;
mod app;
mod ask;
mod bench;
mod domains;
mod eval;
mod search;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "zhiku",
    version,
    about = "Zhiku (智库): hybrid retrieval over education, medicine and culture material"
)]
struct Cli {
    /// Configuration file (TOML). Without one, built-in defaults apply.
    #[arg(long, global = true, env = "ZHIKU_CONFIG")]
    config: Option<PathBuf>,
    /// Where the indexes live (overrides the file and ZHIKU_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest files or folders (Markdown, text, JSON Lines, and each domain's formats).
    Ingest {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Put everything in this domain instead of choosing by folder name.
        #[arg(long)]
        domain: Option<String>,
        /// Remove documents whose files are gone from the given paths (a file that exists but
        /// fails to load keeps its indexed version).
        #[arg(long)]
        prune: bool,
        /// Let --prune remove more than ingest.prune_max_share of the indexed documents.
        #[arg(long, requires = "prune")]
        yes: bool,
        /// Exit with status 2 if any file or record could not be ingested (and prune nothing).
        #[arg(long)]
        strict: bool,
    },
    /// Answer a question from the indexes, citing its sources (by the configured model, else
    /// extractive).
    Ask(ask::AskArgs),
    /// A conversation: one question per line on standard input; follow-ups are rewritten
    /// into stand-alone queries.
    Chat(ask::ChatArgs),
    /// Search the indexes and print hits with their sources.
    Search(search::SearchArgs),
    /// Evaluate retrieval, extractive answers and abstention on BEIR-style folders
    /// (corpus.jsonl, queries.jsonl, qrels.tsv).
    Eval(eval::EvalArgs),
    /// Measure ingest throughput, query latency and memory.
    Bench(bench::BenchArgs),
    /// Print what the data directory holds (documents, chunks in each index) as JSON.
    Stats {
        /// Also list every chunk id (sorted).
        #[arg(long)]
        ids: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            // Qdrant Edge warns about process-wide flags it does not need here: keep it quiet.
            tracing_subscriber::EnvFilter::new(format!(
                "{},ort=warn,tantivy=warn,qdrant_edge=error",
                std::env::var("ZHIKU_LOG").unwrap_or_else(|_| "info".into())
            )),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = app::load_config(cli.config.as_deref(), cli.data_dir.as_deref())?;
    match cli.command {
        Command::Ingest {
            paths,
            domain,
            prune,
            yes,
            strict,
        } => {
            let app = app::App::open(config).await?;
            let opts = zhiku_ingest::IngestOptions {
                prune,
                yes,
                strict,
                domain,
                progress_bar: std::io::stderr().is_terminal(),
            };
            let report = app.ingest(&paths, &opts).await?;
            app::print_report(&report);
            Ok(if strict && !report.issues.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Search(args) => search::run(config, args).await,
        Command::Ask(args) => ask::run(config, args).await,
        Command::Chat(args) => ask::chat(config, args).await,
        Command::Eval(args) => eval::run(config, args).await,
        Command::Bench(args) => bench::run(config, args).await,
        Command::Stats { ids } => app::stats(&config, ids).await,
    }
}
