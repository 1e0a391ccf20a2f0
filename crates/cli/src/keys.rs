//! `zhiku keys`: API keys in the store (the secret is shown once; only a digest is kept).

use std::process::ExitCode;

use clap::Subcommand;
use zhiku_engine::{Classification, Config};
use zhiku_store::Store;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its secret (once).
    Add {
        #[arg(long)]
        name: String,
        /// What the key's holder may read: public, internal or restricted.
        #[arg(long, default_value = "public")]
        clearance: Classification,
        /// Domains it may use (comma-separated); all when absent.
        #[arg(long, value_delimiter = ',')]
        domains: Vec<String>,
        /// The door it is for: api, web, clinical or mini-program.
        #[arg(long, default_value = "api")]
        channel: String,
        /// It may ingest (POST /admin/ingest, zhiku ingest --server).
        #[arg(long)]
        admin: bool,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(zhiku_engine::open_store(config, &config.data_dir).await?)
}

pub async fn run(config: Config, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    match command {
        KeysCommand::Add {
            name,
            clearance,
            domains,
            channel,
            admin,
        } => {
            if !["api", "web", "clinical", "mini-program"].contains(&channel.as_str()) {
                anyhow::bail!("--channel must be api, web, clinical or mini-program");
            }
            let registry = zhiku_engine::registry();
            for d in &domains {
                registry.get(d)?;
            }
            let domains = (!domains.is_empty()).then_some(domains);
            let (key, secret) = store
                .create_key(
                    &name,
                    &channel,
                    clearance.as_str(),
                    domains.as_deref(),
                    admin,
                )
                .await?;
            eprintln!(
                "key {} ({}) made: clearance {}, domains {}, channel {}{}. Its secret, shown only now:",
                key.id,
                key.name,
                key.clearance,
                key.domains.as_ref().map_or("all".to_string(), |d| d.join(",")),
                key.channel,
                if admin { ", admin" } else { "" }
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            for k in store.keys().await? {
                println!(
                    "{}  {:<20} {:<12} {:<10} {:<24} {}{}",
                    k.id,
                    k.name,
                    k.channel,
                    k.clearance,
                    k.domains
                        .as_ref()
                        .map_or("all".to_string(), |d| d.join(",")),
                    if k.admin { "admin" } else { "" },
                    if k.revoked { " (revoked)" } else { "" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_key(&id).await? {
                anyhow::bail!("no live key with id {id:?}");
            }
            println!("revoked {id}");
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
