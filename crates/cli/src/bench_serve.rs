//! `zhiku bench serve`: the server under load on loopback — requests/s and p50/p99 for search
//! and for (extractive) ask at several client counts, its memory at rest and under load, the
//! time from start to ready — and the same searches inside one process, for the ratio.
//! Figures only; the server runs as a child process on the configured data directory. With
//! `--rate`, a fixed-rate run instead (`bench_rate`).

use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};
use zhiku_engine::{Caller, Config, Narrowing, RetrievalMode};

use crate::bench::p50_p99;

#[derive(Args)]
pub struct ServeBenchArgs {
    /// Concurrent clients, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub clients: Vec<usize>,
    /// Requests per run.
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Also load the clinical API (`/api/clinical/v1/search` and `…/ask`, each request
    /// audited) with medical questions, through a key made for the run and revoked after it.
    /// Its audit records stay in the trail.
    #[arg(long)]
    pub clinical: bool,
    /// Instead of the client counts: a fixed rate (requests per second, search and ask in
    /// turn) for `--duration` seconds, with the RSS sampled each second; fails on any error
    /// or an RSS more than 10% away from its level after the warm-up.
    #[arg(long, conflicts_with = "clinical")]
    pub rate: Option<f64>,
    /// Seconds at `--rate` (after a warm-up of up to 10 s).
    #[arg(long, default_value_t = 60.0, requires = "rate")]
    pub duration: f64,
}

/// Questions of the kinds users ask, in both languages and all three domains.
const QUESTIONS: &[&str] = &[
    "故宫是哪一年开始修建的？",
    "天坛祈年殿有什么建筑特点",
    "颐和园里有哪些景点",
    "长城是为什么修建的",
    "二次函数的顶点坐标怎么求",
    "勾股定理怎么证明",
    "牛顿第二定律的内容",
    "化学方程式怎么配平",
    "2型糖尿病的一线用药是什么",
    "高血压患者的血压控制目标",
    "儿童发热应该怎么处理",
    "When was the Forbidden City built?",
    "first-line drug for type 2 diabetes",
    "how to find the vertex of a parabola",
    "treatment of community-acquired pneumonia",
    "What is photosynthesis?",
];

/// Clinicians' questions, both languages, several departments.
const CLINICAL_QUESTIONS: &[&str] = &[
    "2型糖尿病患者 eGFR 35 时二甲双胍还能用吗",
    "Should metformin be stopped when eGFR falls below 30?",
    "高血压患者的降压目标是多少",
    "first-line anticoagulation for atrial fibrillation",
    "急性缺血性卒中静脉溶栓的时间窗",
    "How is anaphylaxis treated in adults?",
    "幽门螺杆菌根除的一线方案",
    "sepsis antibiotics within one hour",
];

pub(crate) fn rss_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub async fn run(config: Config, args: ServeBenchArgs) -> anyhow::Result<ExitCode> {
    if args
        .rate
        .is_some_and(|r| !(r.is_finite() && r > 0.0 && args.duration > 0.0))
    {
        bail!("--rate and --duration must be numbers above 0");
    }
    let bench_key = if args.clinical {
        let store = crate::keys::open_store(&config).await?;
        let made = store
            .create_key(&zhiku_store::NewKey {
                name: "bench-clinical".into(),
                channel: zhiku_core::Channel::Clinical,
                clearance: zhiku_core::Classification::Internal,
                domains: Some(vec!["medicine".into()]),
                ..Default::default()
            })
            .await?;
        store.close().await;
        Some(made)
    } else {
        None
    };
    // The server's throughput is measured, not its limit on callers without a key.
    let mut config = config;
    config.server.anonymous_rate = String::new();
    let config_file = tempfile_path("zhiku-bench-serve.toml");
    std::fs::write(&config_file, toml::to_string(&config)?)?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--config")
        .arg(&config_file)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ZHIKU_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting zhiku serve")?;
    let pid = child.id().unwrap_or(0);
    let stdout = child.stdout.take().context("no stdout from the server")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .context("the server did not start within 120 s")??
    {
        if let Some(rest) = line.split(" at http://").nth(1) {
            url = rest.split('/').next().map(|a| format!("http://{a}"));
            break;
        }
    }
    let Some(url) = url else {
        bail!("the server exited before saying where it listens")
    };
    let client = reqwest::Client::new();
    loop {
        let ready = client.get(format!("{url}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the server was not ready within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rest_mb = rss_mb(pid, "VmRSS:");
    println!(
        "zhiku bench serve — {} cores; server pid {pid} at {url}; answers: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if config.llm.enabled() {
            "model (figures include the model's time)"
        } else {
            "extractive"
        }
    );
    println!("start to ready: {ready_s:.2} s; RSS at rest: {rest_mb:.0} MB\n");
    if let Some(rate) = args.rate {
        let passed = crate::bench_rate::run(&client, &url, pid, rate, args.duration).await;
        stop(pid, &mut child).await;
        let _ = std::fs::remove_file(&config_file);
        return Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!("| route | clients | requests | errors | req/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    let mut server_search_p50_1 = None;
    let mut routes = vec!["search", "ask"];
    if bench_key.is_some() {
        routes.extend(["clinical-search", "clinical-ask"]);
    }
    let secret = bench_key.as_ref().map(|(_, s)| s.as_str());
    for route in routes {
        for &clients in &args.clients {
            let r = load(&client, &url, route, secret, clients.max(1), args.requests).await;
            let (p50, p99) = p50_p99(r.latencies_ms.clone());
            if route == "search" && clients == 1 {
                server_search_p50_1 = Some(p50);
            }
            println!(
                "| {route} | {clients} | {} | {} | {:.1} | {p50:.1} | {p99:.1} |",
                r.latencies_ms.len() + r.errors,
                r.errors,
                r.latencies_ms.len() as f64 / r.seconds,
            );
        }
    }
    let peak_mb = rss_mb(pid, "VmHWM:");
    println!("\nserver peak RSS under load: {peak_mb:.0} MB");
    stop(pid, &mut child).await;
    let _ = std::fs::remove_file(&config_file);
    if let Some((key, _)) = &bench_key {
        let store = crate::keys::open_store(&config).await?;
        store.revoke_key(&key.id).await?;
        store.close().await;
        println!(
            "(the clinical rows used key {}, now revoked; their audit records stay)",
            key.id
        );
    }

    let engine = crate::app::open(config).await?;
    let caller = Caller::anonymous(zhiku_engine::Channel::Api);
    let mut inside = Vec::new();
    for i in 0..args.requests {
        let q = QUESTIONS[i % QUESTIONS.len()];
        let t = Instant::now();
        engine
            .search(&caller, q, &Narrowing::default(), 5, RetrievalMode::Hybrid)
            .await?;
        inside.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (in50, in99) = p50_p99(inside);
    println!("in-process search (1 client): p50 {in50:.1} ms, p99 {in99:.1} ms");
    if let Some(s) = server_search_p50_1 {
        println!(
            "server/in-process search p50 ratio: {:.2}",
            s / in50.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Stops the server gently (SIGTERM): the data directory is then free for the in-process run.
async fn stop(pid: u32, child: &mut tokio::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}-{name}", std::process::id()))
}

/// The `i`th request of a load on `route` (`search`, `ask`, `clinical-search`,
/// `clinical-ask`), with questions taken in turn.
pub(crate) fn request(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    key: Option<&str>,
    i: usize,
) -> reqwest::RequestBuilder {
    let (endpoint, questions) = match route.strip_prefix("clinical-") {
        Some(r) => (format!("{url}/api/clinical/v1/{r}"), CLINICAL_QUESTIONS),
        None => (format!("{url}/v1/{route}"), QUESTIONS),
    };
    let q = questions[i % questions.len()];
    let body = match route {
        "search" | "clinical-search" => serde_json::json!({ "query": q, "k": 5 }),
        "ask" => serde_json::json!({ "question": q, "remember": false }),
        _ => serde_json::json!({ "question": q }),
    };
    let request = client.post(endpoint).json(&body);
    match key {
        Some(k) => request.bearer_auth(k),
        None => request,
    }
}

struct LoadResult {
    latencies_ms: Vec<f64>,
    errors: usize,
    seconds: f64,
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    route: &str,
    key: Option<&str>,
    clients: usize,
    requests: usize,
) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next) = (client.clone(), Arc::clone(&next));
        let (url, route) = (url.to_string(), route.to_string());
        let key = key.map(str::to_string);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let t = Instant::now();
                match request(&client, &url, &route, key.as_deref(), i)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    _ => errors += 1,
                }
            }
            (ok, errors)
        }));
    }
    let mut result = LoadResult {
        latencies_ms: Vec::new(),
        errors: 0,
        seconds: 0.0,
    };
    for t in tasks {
        if let Ok((ok, errors)) = t.await {
            result.latencies_ms.extend(ok);
            result.errors += errors;
        }
    }
    result.seconds = started.elapsed().as_secs_f64().max(1e-9);
    result
}
