//! `zhiku audit`: the clinical audit trail, exported as a FHIR Bundle or checked link by link.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use zhiku_engine::Config;

use crate::keys::open_store;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Write the records as a FHIR R4 Bundle (searchset) of AuditEvents.
    Export {
        /// From this day (YYYY-MM-DD, UTC) or time (RFC 3339); default: the first record.
        #[arg(long)]
        since: Option<String>,
        /// Up to the end of this day, or this time; default: now.
        #[arg(long)]
        until: Option<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check the hash chain: every record unchanged and none removed. Exit status 1 at the
    /// first record that fails.
    Verify,
}

pub async fn run(config: Config, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    let code = match command {
        AuditCommand::Export {
            since,
            until,
            output,
        } => {
            let (from, to) = zhiku_engine::time_range(since.as_deref(), until.as_deref())?;
            let bundle = zhiku_engine::audit_bundle(&store, from, to, "zhiku audit export").await?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match &output {
                Some(path) => std::fs::write(path, format!("{text}\n"))
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?,
                None => writeln!(std::io::stdout().lock(), "{text}")?,
            }
            eprintln!("{} audit records", bundle["total"]);
            ExitCode::SUCCESS
        }
        AuditCommand::Verify => match store.verify_audit().await? {
            Ok(n) => {
                println!("the audit trail holds: {n} records, each unchanged, none missing");
                ExitCode::SUCCESS
            }
            Err(b) => {
                println!(
                    "the audit trail is broken at record {}: {}",
                    b.seq, b.reason
                );
                ExitCode::FAILURE
            }
        },
    };
    store.close().await;
    Ok(code)
}
