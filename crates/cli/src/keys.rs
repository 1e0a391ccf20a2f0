//! `zhiku keys`: API keys in the store (the secret is shown once; only a digest is kept).

use std::process::ExitCode;

use clap::Subcommand;
use zhiku_engine::{Channel, Classification, Config, RateLimit};
use zhiku_store::{NewKey, Store};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its secret (once).
    #[command(alias = "create")]
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
        channel: Channel,
        /// It may ingest (POST /admin/ingest, zhiku ingest --server) and read the audit trail.
        #[arg(long)]
        admin: bool,
        /// Requests allowed per period, e.g. 120/min or 10/s (per replica); unlimited when
        /// absent. Beyond it: 429 with Retry-After.
        #[arg(long)]
        rate: Option<RateLimit>,
        /// Last day the key works (YYYY-MM-DD, UTC), or an exact time (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// For a clinical key: the other doors it may use besides the clinical one
        /// (comma-separated: api, openai, web, mini-program). Its medicine readings there are
        /// audited like the clinical door's.
        #[arg(long, value_delimiter = ',')]
        doors: Vec<String>,
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
            rate,
            expires,
            doors,
        } => {
            if channel == Channel::Terminal {
                anyhow::bail!("--channel must be api, web, clinical or mini-program");
            }
            if !doors.is_empty() && channel != Channel::Clinical {
                anyhow::bail!(
                    "--doors is for clinical keys (--channel clinical); other keys use every door"
                );
            }
            if let Some(d) = doors
                .iter()
                .find(|d| !zhiku_server::DOORS.contains(&d.as_str()))
            {
                anyhow::bail!("--doors: {d:?} is not a door (api, openai, web, mini-program)");
            }
            let registry = zhiku_engine::registry();
            for d in &domains {
                registry.get(d)?;
            }
            let expires_at_ms = expires.as_deref().map(end_of).transpose()?;
            if expires_at_ms.is_some_and(|t| t <= jiff::Timestamp::now().as_millisecond()) {
                anyhow::bail!("--expires is in the past");
            }
            let new = NewKey {
                name,
                channel,
                clearance,
                domains: (!domains.is_empty()).then_some(domains),
                admin,
                rate: rate.map(|r| (i64::from(r.requests), r.period.as_millis() as i64)),
                expires_at_ms,
                doors,
            };
            let (key, secret) = store.create_key(&new).await?;
            eprintln!(
                "key {} ({}) made: {}. Its secret, shown only now:",
                key.id,
                key.name,
                describe(&key)
            );
            println!("{secret}");
        }
        KeysCommand::List => {
            let now = jiff::Timestamp::now().as_millisecond();
            for k in store.keys().await? {
                let state = if k.revoked {
                    " (revoked)"
                } else if k.expired_at(now) {
                    " (expired)"
                } else {
                    ""
                };
                println!("{}  {:<20} {}{state}", k.id, k.name, describe(&k));
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

/// A key's rights in one line.
fn describe(k: &zhiku_store::ApiKey) -> String {
    let mut parts = vec![
        format!("channel {}", k.channel),
        format!("clearance {}", k.clearance),
        format!(
            "domains {}",
            k.domains
                .as_ref()
                .map_or("all".to_string(), |d| d.join(","))
        ),
    ];
    if !k.doors.is_empty() {
        parts.push(format!("also doors {}", k.doors.join(",")));
    }
    if let Some((n, ms)) = k.rate {
        let rate = RateLimit {
            requests: u32::try_from(n).unwrap_or(u32::MAX),
            period: std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0)),
        };
        parts.push(format!("rate {rate}"));
    }
    if let Some(t) = k
        .expires_at_ms
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    {
        parts.push(format!("expires {}", t.strftime("%Y-%m-%d %H:%M UTC")));
    }
    if k.admin {
        parts.push("admin".into());
    }
    parts.join(", ")
}

/// `--expires`: a date means the key works through that day (UTC).
fn end_of(text: &str) -> anyhow::Result<i64> {
    Ok(zhiku_engine::time_range(None, Some(text))
        .map_err(|e| anyhow::anyhow!("--expires: {e}"))?
        .1)
}
