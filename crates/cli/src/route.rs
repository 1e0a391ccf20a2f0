//! `zhiku route`: a day's visit from a point and time, as the mini-program's `/route` plans it,
//! for operators checking what tourists will be told.

use std::process::ExitCode;

use clap::Args;
use zhiku_core::{Classification, Config};
use zhiku_engine::{Caller, Lang, RouteRequest, Travel};

use crate::search::parse_point;

#[derive(Args)]
pub struct RouteArgs {
    /// Where the day starts: LAT,LON.
    #[arg(long, value_parser = parse_point)]
    pub from: (f64, f64),
    /// Local time at the sights, e.g. 2026-12-08T09:00.
    #[arg(long)]
    pub start: jiff::civil::DateTime,
    /// The time budget in hours.
    #[arg(long, default_value_t = 6.0)]
    pub hours: f64,
    /// What the tourist likes (repeatable), e.g. --interest history --interest 园林.
    #[arg(long = "interest")]
    pub interests: Vec<String>,
    /// zh or en.
    #[arg(long, default_value = "zh", value_parser = parse_lang)]
    pub lang: Lang,
    /// Print the plan as JSON (what `/api/mp/v1/route` returns).
    #[arg(long)]
    pub json: bool,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| "zh or en".into())
}

pub async fn run(config: Config, args: RouteArgs) -> anyhow::Result<ExitCode> {
    let engine = crate::app::open(config).await?;
    let request = RouteRequest {
        lat: args.from.0,
        lon: args.from.1,
        start: args.start,
        hours: args.hours,
        interests: args.interests,
        lang: args.lang,
    };
    // What a tourist may read: public documents.
    let caller = Caller::operator(Classification::Public);
    let plan = engine.route(&caller, &request).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} ({}), {}–{}: {} of {} minutes",
        plan.date, plan.weekday, plan.start, plan.end, plan.used_min, plan.budget_min
    );
    for s in &plan.stops {
        let how = match s.travel.mode {
            Travel::Walk => "walk",
            Travel::Transit => "transit",
        };
        println!(
            "{}. {}–{} {} [{}; {} {:.1} km, {} min; open {}]\n   {}\n   ({}:{})",
            s.order,
            s.start,
            s.leave,
            s.place.name,
            s.place.category.as_deref().unwrap_or("?"),
            how,
            s.travel.distance_m / 1000.0,
            s.travel.minutes,
            s.hours_today.as_deref().unwrap_or("not stated"),
            s.reason,
            s.source.path,
            s.source.line.map_or(String::from("-"), |l| l.to_string()),
        );
    }
    for n in &plan.not_proposed {
        println!("not proposed: {} ({:?})", n.name, n.reason);
    }
    for n in &plan.notices {
        println!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
