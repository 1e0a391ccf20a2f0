//! The `zhiku` command: ingest, search, eval, bench. It only parses arguments, opens the
//! engine and prints; everything else lives in the library crates.

mod abstention;
mod app;
mod ask;
mod audit;
mod bench;
mod bench_rate;
mod bench_serve;
mod eval;
mod eval_answers;
mod eval_conversations;
mod keys;
mod route;
mod search;
mod serve;
mod users;

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
        #[arg(long, conflicts_with = "server")]
        strict: bool,
        /// Send the ingest to the zhiku server at this URL (e.g. http://127.0.0.1:8080), which
        /// reads the paths; needs ZHIKU_API_KEY set to an admin key.
        #[arg(long)]
        server: Option<String>,
    },
    /// Serve over HTTP: the chat page, the JSON API, the OpenAI-compatible endpoint, health and metrics.
    Serve {
        /// Address to listen on (default server.listen, 127.0.0.1:8080; port 0 picks one).
        #[arg(long, env = "ZHIKU_LISTEN")]
        listen: Option<String>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Manage the web chat's local accounts (students, teachers, admins).
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// The clinical audit trail: export it as FHIR, verify its hash chain.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Review what users rated.
    Feedback {
        #[command(subcommand)]
        command: users::FeedbackCommand,
    },
    /// Answer a question from the indexes, citing its sources (by the configured model, else
    /// extractive).
    Ask(ask::AskArgs),
    /// A conversation: one question per line on standard input; follow-ups are rewritten
    /// into stand-alone queries.
    Chat(ask::ChatArgs),
    /// Search the indexes and print hits with their sources.
    Search(search::SearchArgs),
    /// Plan a tourist's day from a point and time (what the mini-program's route gives).
    Route(route::RouteArgs),
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
        // Colour codes only for a person at a terminal: systemd's journal, `docker logs` and
        // a file would keep them as text (`NO_COLOR` turns them off anywhere).
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
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
            server,
        } => {
            if let Some(url) = server {
                return serve::ingest_via_server(&url, &paths, domain, prune, yes).await;
            }
            if let Some(note) = serve::running_server(&config.data_dir) {
                anyhow::bail!(
                    "a zhiku server (pid {}) is serving {} at {}; send the ingest to it: \
                     ZHIKU_API_KEY=<admin key> zhiku ingest --server {} {} \
                     (make a key with `zhiku keys add --name ops --admin`)",
                    note.pid,
                    config.data_dir.display(),
                    note.url,
                    note.url,
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            let engine = app::open(config).await?;
            let opts = zhiku_ingest::IngestOptions {
                prune,
                yes,
                strict,
                domain,
                progress_bar: std::io::stderr().is_terminal(),
            };
            let operator = zhiku_engine::Caller::operator(zhiku_core::Classification::Restricted);
            let report = engine.ingest(&operator, &paths, &opts).await?;
            app::print_report(&report);
            Ok(if strict && !report.issues.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Search(args) => search::run(config, args).await,
        Command::Route(args) => route::run(config, args).await,
        Command::Ask(args) => ask::run(config, args).await,
        Command::Chat(args) => ask::chat(config, args).await,
        Command::Eval(args) => eval::run(config, args).await,
        Command::Bench(args) => match args.target {
            Some(bench::BenchTarget::Serve(serve_args)) => {
                bench_serve::run(config, serve_args).await
            }
            None => bench::run(config, args).await,
        },
        Command::Serve { listen } => serve::serve(config, listen).await,
        Command::Keys { command } => keys::run(config, command).await,
        Command::Users { command } => users::run(config, command).await,
        Command::Audit { command } => audit::run(config, command).await,
        Command::Feedback { command } => users::feedback(config, command).await,
        Command::Stats { ids } => app::stats(&config, ids).await,
    }
}
