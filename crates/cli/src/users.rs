//! `zhiku users` (the web chat's local accounts) and `zhiku feedback export` (what users
//! rated, for teachers and admins to review). Both work on the store alone, without the model.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::Subcommand;
use zhiku_engine::{Config, Role};

use crate::keys::open_store;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add an account. The password is asked for at the terminal, or read from the first line
    /// of standard input with --password-stdin.
    Add {
        name: String,
        /// student (public material) or teacher (also internal material).
        #[arg(long)]
        role: String,
        #[arg(long)]
        password_stdin: bool,
        /// No password: the account signs in only through the trusted proxy header.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// List accounts (never their passwords).
    List,
    /// Set an account's password (signs it out everywhere).
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change an account's role (takes effect at its next request).
    Role { name: String, role: String },
    /// Remove an account, sign it out and delete its conversations (a later account of the
    /// same name starts with none).
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum FeedbackCommand {
    /// Print ratings as JSON Lines, oldest first, with the question and answer they rate
    /// (where those were kept).
    Export {
        /// Only ratings given on or after this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password("password: ")?;
    let again = rpassword::prompt_password("again: ")?;
    if first != again {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

pub async fn run(config: Config, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    match command {
        UsersCommand::Add {
            name,
            role,
            password_stdin,
            no_password,
        } => {
            let role: Role = role.parse()?;
            let password = if no_password {
                None
            } else {
                Some(read_password(password_stdin)?)
            };
            let user = zhiku_engine::add_user(&store, &name, role, password.as_deref()).await?;
            println!(
                "added {} ({}: {} material){}",
                user.name,
                role.as_str(),
                role.clearance().as_str(),
                if user.has_password {
                    ""
                } else {
                    "; signs in through the trusted proxy only"
                }
            );
        }
        UsersCommand::List => {
            for u in store.users().await? {
                println!(
                    "{}\t{}\t{}",
                    u.name,
                    u.role,
                    if u.has_password {
                        "password"
                    } else {
                        "proxy only"
                    }
                );
            }
        }
        UsersCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            if !zhiku_engine::set_password(&store, &name, &password).await? {
                anyhow::bail!("no user {name:?}");
            }
            println!("password of {name} set; its sessions have ended");
        }
        UsersCommand::Role { name, role } => {
            let role: Role = role.parse()?;
            if !store.set_role(&name, role.as_str()).await? {
                anyhow::bail!("no user {name:?}");
            }
            println!("{name} is now a {}", role.as_str());
        }
        UsersCommand::Remove { name } => {
            if !store.remove_user(&name).await? {
                anyhow::bail!("no user {name:?}");
            }
            println!("removed {name}");
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn feedback(config: Config, command: FeedbackCommand) -> anyhow::Result<ExitCode> {
    let FeedbackCommand::Export { since } = command;
    let since_ms = zhiku_engine::time_range(since.as_deref(), None)
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?
        .0;
    let store = open_store(&config).await?;
    let records = store.feedback_since(since_ms).await?;
    let mut out = std::io::stdout().lock();
    for r in &records {
        use std::io::Write;
        serde_json::to_writer(&mut out, r)?;
        writeln!(out)?;
    }
    eprintln!("{} ratings", records.len());
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
