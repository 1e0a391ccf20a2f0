//! `zhiku search`: prints hits with their provenance.

use std::process::ExitCode;

use clap::Args;
use zhiku_core::{Classification, Config, GeoRadius, Hit, RetrievalMode};
use zhiku_engine::{Caller, Engine, Narrowing};

/// Who is asking and what they may see: shared by `search` and `ask`.
#[derive(Args)]
pub struct FilterArgs {
    /// Restrict to a domain (repeatable).
    #[arg(long)]
    pub domain: Vec<String>,
    /// Metadata filter key=value (repeatable; values of one key are OR-ed, keys AND-ed).
    #[arg(long = "filter", short = 'f')]
    pub filters: Vec<String>,
    /// Your clearance: public, internal or restricted (the terminal's user holds the data).
    #[arg(long, default_value = "public")]
    pub clearance: Classification,
    /// Only places within this many metres of --near.
    #[arg(long, requires = "near")]
    pub radius_m: Option<f64>,
    /// Latitude,longitude for a distance filter.
    #[arg(long, value_parser = parse_point)]
    pub near: Option<(f64, f64)>,
}

#[derive(Args)]
pub struct SearchArgs {
    pub query: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[arg(long, default_value = "hybrid")]
    pub mode: RetrievalMode,
    #[arg(short, long, default_value_t = 5)]
    pub k: usize,
    /// Print hits as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn parse_point(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected LAT,LON")?;
    let lat: f64 = a.trim().parse().map_err(|e| format!("latitude: {e}"))?;
    let lon: f64 = b.trim().parse().map_err(|e| format!("longitude: {e}"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err("coordinates out of range".into());
    }
    Ok((lat, lon))
}

/// Who is asking (the operator, at the clearance they chose) and how they narrow the search.
pub fn caller_and_narrowing(args: &FilterArgs) -> anyhow::Result<(Caller, Narrowing)> {
    let mut narrowing = Narrowing {
        domains: args.domain.clone(),
        ..Default::default()
    };
    for f in &args.filters {
        narrowing.add_filter_expr(f)?;
    }
    if let Some((lat, lon)) = args.near {
        narrowing.near = Some(GeoRadius {
            lat,
            lon,
            radius_m: args.radius_m.unwrap_or(5_000.0),
        });
    }
    Ok((Caller::operator(args.clearance), narrowing))
}

/// Checks what can be checked before the (slow) model load, then opens the engine and checks
/// the rest: the query's text, the domains and the filter keys.
pub async fn open_for(
    config: Config,
    query: &str,
    args: &FilterArgs,
) -> anyhow::Result<(Engine, Caller, Narrowing)> {
    zhiku_core::validate_query(query, config.retrieval.max_query_chars)?;
    let (caller, narrowing) = caller_and_narrowing(args)?;
    let engine = crate::app::open(config).await?;
    engine.scope(&caller, &narrowing)?;
    Ok((engine, caller, narrowing))
}

pub async fn run(config: Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let (engine, caller, narrowing) = open_for(config, &args.query, &args.filter).await?;
    let results = engine
        .search(&caller, &args.query, &narrowing, args.k, args.mode)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results.hits)?);
        return Ok(ExitCode::SUCCESS);
    }
    if results.hits.is_empty() {
        println!("no results");
    }
    for (i, hit) in results.hits.iter().enumerate() {
        print_hit(i + 1, hit);
    }
    let t = results.timings;
    eprintln!(
        "{} hits in {:.1} ms (bm25 {:.1} ms, embed {:.1} ms, dense {:.1} ms)",
        results.hits.len(),
        t.total_ms,
        t.bm25_ms,
        t.embed_ms,
        t.dense_ms
    );
    Ok(ExitCode::SUCCESS)
}

fn print_hit(n: usize, hit: &Hit) {
    let c = &hit.chunk;
    let mut place = c.source.path.clone();
    if let Some(line) = c.source.line {
        place.push_str(&format!(":{line}"));
    }
    let s = c.source_span();
    let span = format!(
        "{} bytes {}..{}",
        if s.in_file { "file" } else { "text" },
        s.start,
        s.end
    );
    println!(
        "{n}. [{:.4}] {} — {place} ({span}) [{} / {}]",
        hit.score, c.title, c.domain, c.classification
    );
    if !c.section.is_empty() {
        println!("   § {}", c.section);
    }
    let leg = |name: &str, s: Option<zhiku_core::LegScore>| {
        s.map(|s| format!("{name} #{} ({:.3})", s.rank, s.score))
            .unwrap_or_else(|| format!("{name} —"))
    };
    println!(
        "   {} | {} | doc {} chunk {}",
        leg("bm25", hit.bm25),
        leg("dense", hit.dense),
        c.doc_id,
        c.id
    );
    let snippet: String = c
        .text
        .chars()
        .take(160)
        .collect::<String>()
        .replace('\n', " ");
    println!(
        "   {snippet}{}",
        if c.text.chars().count() > 160 {
            "…"
        } else {
            ""
        }
    );
}
