//! `zhiku bench serve --rate R`: an open-loop load at a fixed rate — a request is sent every
//! 1/R s whether or not the earlier ones have finished, alternating search and extractive
//! ask — for `--duration` seconds after a warm-up, with the server's RSS sampled every
//! second. Latency is counted from when a request was due, not when it went out, so a server
//! that falls behind shows it. It passes when no request failed and the RSS stayed within
//! 10% of its warm level.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bench::p50_p99;
use crate::bench_serve::{request, rss_mb};

/// How far the RSS may move from its warm level.
const RSS_TOLERANCE: f64 = 0.10;
const ROUTES: [&str; 2] = ["search", "ask"];

#[derive(Default)]
struct Tally {
    latencies_ms: [Vec<f64>; 2],
    errors: usize,
}

/// Sends `rate` requests a second for `seconds`; returns the tally once all have finished.
async fn drive(client: &reqwest::Client, url: &str, rate: f64, seconds: f64) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let every = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * seconds).round() as usize;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + every.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let route = i % ROUTES.len();
        let req = request(client, url, ROUTES[route], None, i);
        let tally = Arc::clone(&tally);
        tasks.push(tokio::spawn(async move {
            let ok = match req.send().await {
                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                _ => false,
            };
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            if ok {
                t.latencies_ms[route].push(due.elapsed().as_secs_f64() * 1e3);
            } else {
                t.errors += 1;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
    std::mem::take(&mut *t)
}

/// Warm-up, then the measured run; prints its figures and returns whether it passed.
pub async fn run(client: &reqwest::Client, url: &str, pid: u32, rate: f64, seconds: f64) -> bool {
    let warmup = seconds.min(10.0);
    let warm = drive(client, url, rate, warmup).await;
    let warm_mb = rss_mb(pid, "VmRSS:");
    println!(
        "fixed rate {rate} req/s (search and extractive ask in turn): warm-up {warmup:.0} s, \
         {} errors; RSS warm {warm_mb:.0} MB",
        warm.errors
    );
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let samples = Arc::clone(&samples);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let mb = rss_mb(pid, "VmRSS:");
                samples.lock().unwrap_or_else(|p| p.into_inner()).push(mb);
            }
        })
    };
    let started = Instant::now();
    let tally = drive(client, url, rate, seconds).await;
    let elapsed = started.elapsed().as_secs_f64();
    sampler.abort();
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
    let (lo, hi) = samples
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    let last = samples.last().copied().unwrap_or(0.0);
    let drift = samples
        .iter()
        .map(|s| (s - warm_mb).abs() / warm_mb.max(1.0))
        .fold(0.0, f64::max);
    let sent: usize = tally.latencies_ms.iter().map(Vec::len).sum::<usize>() + tally.errors;
    println!("\n| route | requests | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for (route, latencies) in ROUTES.iter().zip(tally.latencies_ms) {
        let n = latencies.len();
        let (p50, p99) = p50_p99(latencies);
        println!("| {route} | {n} | {p50:.1} | {p99:.1} |");
    }
    println!(
        "\n{sent} requests in {elapsed:.1} s ({:.1} req/s), {} errors",
        sent as f64 / elapsed.max(1e-9),
        tally.errors
    );
    println!(
        "RSS over the run ({} samples): min {lo:.0} MB, max {hi:.0} MB, last {last:.0} MB; \
         largest move from warm {:.1}% (limit {:.0}%)",
        samples.len(),
        drift * 100.0,
        RSS_TOLERANCE * 100.0
    );
    let passed = tally.errors == 0 && drift <= RSS_TOLERANCE;
    println!(
        "{}",
        if passed {
            "PASS: no errors, RSS flat".to_string()
        } else {
            format!(
                "FAIL:{}{}",
                if tally.errors > 0 { " errors" } else { "" },
                if drift > RSS_TOLERANCE {
                    " RSS moved"
                } else {
                    ""
                }
            )
        }
    );
    passed
}
