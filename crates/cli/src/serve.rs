//! `zhiku serve` and `zhiku ingest --server`: the HTTP server in the foreground, and the
//! client side of ingesting into a running one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use zhiku_engine::Config;

/// Written by a running server into its data directory, so that other commands can say where
/// it is.
#[derive(Serialize, Deserialize)]
pub struct ServerNote {
    pub url: String,
    pub pid: u32,
}

fn note_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server.json")
}

/// The server serving `data_dir`, if one wrote its note and is still alive.
pub fn running_server(data_dir: &Path) -> Option<ServerNote> {
    let text = std::fs::read_to_string(note_path(data_dir)).ok()?;
    let note: ServerNote = serde_json::from_str(&text).ok()?;
    Path::new(&format!("/proc/{}", note.pid))
        .exists()
        .then_some(note)
}

pub async fn serve(config: Config, listen: Option<String>) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let listen = listen.unwrap_or_else(|| config.server.listen.clone());
    let data_dir = config.data_dir.clone();
    let engine = match crate::app::open(config).await {
        Ok(e) => Arc::new(e),
        Err(e) => {
            if let Some(note) = running_server(&data_dir) {
                bail!(
                    "{e:#}\na zhiku server (pid {}) already serves {} at {}",
                    note.pid,
                    data_dir.display(),
                    note.url
                );
            }
            return Err(e);
        }
    };
    let listener = zhiku_server::bind(&listen).await?;
    let addr = listener.local_addr()?;
    let tls = &engine.config().server.tls;
    let scheme = if tls.enabled() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    let note = ServerNote {
        url: url.clone(),
        pid: std::process::id(),
    };
    std::fs::write(note_path(&data_dir), serde_json::to_vec(&note)?)
        .with_context(|| format!("writing {}", note_path(&data_dir).display()))?;
    let stats = engine.stats().await?;
    let mode = if engine.config().llm.enabled() {
        format!("model {}", engine.config().llm.model)
    } else {
        "no model configured: answers are extractive".to_string()
    };
    let accounts = engine.store().users().await.map(|u| u.len()).unwrap_or(0);
    let mut banner = format!(
        "Zhiku is serving {} documents from {} at {url}/ (ready in {:.1} s; {mode})\n\
         \x20 OpenAI-compatible base URL: {url}/v1   API document: {url}/openapi.json   Ctrl-C stops\n\
         \x20 Chat page: {url}/   {}{}\n",
        stats.documents,
        data_dir.display(),
        started.elapsed().as_secs_f64(),
        if accounts == 0 {
            "no accounts yet: add one with `zhiku users add NAME --role teacher|student`"
                .to_string()
        } else {
            format!("{accounts} accounts (zhiku users list)")
        },
        if engine.config().server.anonymous {
            "; guests may ask (public material only)"
        } else {
            ""
        }
    );
    banner.push_str(&format!(
        "  Hospital systems: {url}/api/clinical/v1/ (keys: zhiku keys create --domains medicine){}\n",
        if tls.client_ca.trim().is_empty() {
            ""
        } else {
            "; client certificates required"
        }
    ));
    if stats.documents == 0 {
        banner.push_str(&format!("  The index is empty: add documents with `zhiku ingest --server {url} PATHS` (an admin key) or POST /admin/ingest.\n"));
    }
    // Written at once, and a closed stdout (a supervisor that read the first line and went
    // away) must not stop the server.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes());
    let _ = out.flush();
    drop(out);
    let result = zhiku_server::serve(engine, listener, shutdown_signal()).await;
    let _ = std::fs::remove_file(note_path(&data_dir));
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Sends an ingest to a running server: the paths are read by the server, so they are made
/// absolute here (the usual case: the same machine). The key is `ZHIKU_API_KEY`.
pub async fn ingest_via_server(
    url: &str,
    paths: &[PathBuf],
    domain: Option<String>,
    prune: bool,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let key = std::env::var("ZHIKU_API_KEY").unwrap_or_default();
    if key.trim().is_empty() {
        bail!("set ZHIKU_API_KEY to an admin key of that server (make one with `zhiku keys add --name ops --admin`)");
    }
    let paths: Vec<String> = paths
        .iter()
        .map(|p| zhiku_ingest::absolute(p).display().to_string())
        .collect();
    let body = serde_json::json!({ "paths": paths, "domain": domain, "prune": prune, "yes": yes });
    let response = reqwest::Client::new()
        .post(format!("{}/admin/ingest", url.trim_end_matches('/')))
        .bearer_auth(key.trim())
        .json(&body)
        .send()
        .await
        .with_context(|| format!("reaching the server at {url}"))?;
    let status = response.status();
    let value: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "the server refused the ingest ({status}): {}",
            value["error"]["message"].as_str().unwrap_or("no detail")
        );
    }
    for p in value["problems"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", p.as_str().unwrap_or_default());
    }
    for n in value["notices"].as_array().into_iter().flatten() {
        eprintln!("note: {}", n.as_str().unwrap_or_default());
    }
    println!(
        "ingested by the server: {} files, {} documents ({} unchanged, {} written, {} removed), {} chunks written; {:.1} s",
        value["files"], value["documents"], value["unchanged"], value["written"], value["removed"],
        value["chunks_written"], value["seconds"].as_f64().unwrap_or(0.0)
    );
    Ok(ExitCode::SUCCESS)
}
