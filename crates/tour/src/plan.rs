//! The day's route: from the start point and time, repeatedly the best next place that is
//! open on arrival and whose visit ends before it closes and before the budget runs out.
//! "Best" weighs the tourist's interests against travel and waiting. Ties go to the earlier
//! candidate, so the same input always gives the same plan.

use jiff::civil::{DateTime, Weekday};
use jiff::ToSpan;
use serde::Serialize;
use zhiku_core::{haversine_m, RouteConfig};

use crate::hours::{Day, OpeningHours};

/// A place that may be visited.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub category: String,
    pub hours: OpeningHours,
    /// How well it matches the interests, 0..=1 (1: its category or era was asked for).
    pub interest: f64,
}

/// Where and when the day starts, and how long it may last.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    pub lat: f64,
    pub lon: f64,
    pub start: DateTime,
    pub budget_min: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Travel {
    Walk,
    Transit,
}

/// Getting to a stop from the previous one (or the start).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Leg {
    pub mode: Travel,
    pub distance_m: f64,
    pub minutes: u32,
}

#[derive(Debug, Clone)]
pub struct Stop {
    /// Index into the candidates given to [`plan`].
    pub candidate: usize,
    pub leg: Leg,
    pub arrive: DateTime,
    /// After any wait for the place to open.
    pub start: DateTime,
    pub leave: DateTime,
    pub visit_min: u32,
    /// Whether the place's hours were read from its record; `false`: they were not stated,
    /// and the tourist should check.
    pub hours_known: bool,
}

/// Why a candidate is not in the plan, when it could never have been.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Skip {
    ClosedThatDay { weekday: &'static str },
    OpensTooLate,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub stops: Vec<Stop>,
    /// When the last visit ends (the start when there is none).
    pub end: DateTime,
    pub minutes_used: u32,
    pub skipped: Vec<(usize, Skip)>,
}

/// Travel from a distance: walking up to `walk_max_m`, else transit with its wait.
pub fn leg(distance_m: f64, cfg: &RouteConfig) -> Leg {
    let per_min = |kmh: f64| kmh * 1000.0 / 60.0;
    if distance_m <= cfg.walk_max_m {
        Leg {
            mode: Travel::Walk,
            distance_m,
            minutes: (distance_m / per_min(cfg.walk_kmh)).ceil() as u32,
        }
    } else {
        Leg {
            mode: Travel::Transit,
            distance_m,
            minutes: cfg.transit_wait_min + (distance_m / per_min(cfg.transit_kmh)).ceil() as u32,
        }
    }
}

pub fn visit_minutes(category: &str, cfg: &RouteConfig) -> u32 {
    cfg.visit_min
        .get(category)
        .copied()
        .unwrap_or(cfg.default_visit_min)
        .max(1)
}

fn minute_of_day(t: DateTime) -> u16 {
    t.hour() as u16 * 60 + t.minute() as u16
}

fn later(t: DateTime, minutes: u32) -> DateTime {
    t.checked_add(i64::from(minutes).minutes()).unwrap_or(t)
}

/// Whole minutes from `a` to `b` (0 if `b` is earlier).
fn minutes_between(a: DateTime, b: DateTime) -> u32 {
    u32::try_from(b.duration_since(a).as_secs().max(0) / 60).unwrap_or(u32::MAX)
}

fn weekday_str(d: Weekday) -> &'static str {
    crate::hours::weekday_name(d)
}

/// One feasible next stop and its score.
struct Option_ {
    candidate: usize,
    score: f64,
    stop: Stop,
}

pub fn plan(trip: &Trip, candidates: &[Candidate], cfg: &RouteConfig) -> Plan {
    let date = trip.start.date();
    let end_of_budget = later(trip.start, trip.budget_min);
    let mut skipped = Vec::new();
    let mut open_today = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match c.hours.on(date) {
            Day::Closed(d) => skipped.push((
                i,
                Skip::ClosedThatDay {
                    weekday: weekday_str(d),
                },
            )),
            Day::Open { last_entry, .. } if last_entry <= minute_of_day(trip.start) => {}
            Day::Open { open, .. }
                if u32::from(open) >= u32::from(minute_of_day(trip.start)) + trip.budget_min =>
            {
                skipped.push((i, Skip::OpensTooLate));
            }
            _ => open_today.push(i),
        }
    }
    let (mut lat, mut lon, mut now) = (trip.lat, trip.lon, trip.start);
    let mut stops: Vec<Stop> = Vec::new();
    while stops.len() < cfg.max_stops {
        let mut best: Option<Option_> = None;
        for &i in &open_today {
            if stops.iter().any(|s| s.candidate == i) {
                continue;
            }
            let c = &candidates[i];
            let leg = leg(haversine_m(lat, lon, c.lat, c.lon), cfg);
            let arrive = later(now, leg.minutes);
            if arrive.date() != date {
                continue;
            }
            let visit_min = visit_minutes(&c.category, cfg);
            let (start, close, known) = match c.hours.on(date) {
                Day::Open {
                    open,
                    last_entry,
                    close,
                } => {
                    let at = minute_of_day(arrive);
                    let wait = u32::from(open.saturating_sub(at));
                    if wait > cfg.max_wait_min || at.max(open) > last_entry {
                        continue;
                    }
                    (later(arrive, wait), Some(close), true)
                }
                // Unknown hours: a daytime visit is assumed, and the stop says so.
                Day::Unknown => (arrive, None, false),
                Day::Closed(_) => continue,
            };
            let leave = later(start, visit_min);
            let closes_in_time = match close {
                Some(close) => leave.date() == date && minute_of_day(leave) <= close,
                None => leave.date() == date && leave.hour() < 18,
            };
            if !closes_in_time || leave > end_of_budget {
                continue;
            }
            let wait_min = minutes_between(arrive, start) as f64;
            let score = 2.0 * c.interest - f64::from(leg.minutes) / 45.0 - wait_min / 60.0
                + if known { 0.0 } else { -0.5 };
            if best.as_ref().is_none_or(|b| score > b.score) {
                best = Some(Option_ {
                    candidate: i,
                    score,
                    stop: Stop {
                        candidate: i,
                        leg,
                        arrive,
                        start,
                        leave,
                        visit_min,
                        hours_known: known,
                    },
                });
            }
        }
        let Some(chosen) = best else { break };
        let c = &candidates[chosen.candidate];
        (lat, lon, now) = (c.lat, c.lon, chosen.stop.leave);
        stops.push(chosen.stop);
    }
    let minutes_used = minutes_between(trip.start, now);
    Plan {
        stops,
        end: now,
        minutes_used,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(
        id: &str,
        lat: f64,
        lon: f64,
        category: &str,
        hours: &str,
        interest: f64,
    ) -> Candidate {
        Candidate {
            id: id.into(),
            lat,
            lon,
            category: category.into(),
            hours: OpeningHours::parse(hours),
            interest,
        }
    }

    fn places() -> Vec<Candidate> {
        vec![
            place(
                "palace",
                39.9163,
                116.3972,
                "palace",
                "8:30–16:30, closed on Mondays",
                1.0,
            ),
            place("park", 39.9252, 116.3966, "park", "6:00–20:00", 0.4),
            place("tower", 39.9406, 116.3946, "palace", "9:30–17:30", 0.6),
            place(
                "museum",
                39.905,
                116.401,
                "museum",
                "9:00–17:00; closed on Mondays",
                0.8,
            ),
        ]
    }

    fn trip(start: &str, hours: u32) -> Trip {
        Trip {
            lat: 39.9087,
            lon: 116.3975,
            start: start.parse().expect("a datetime"),
            budget_min: hours * 60,
        }
    }

    #[test]
    fn same_input_same_plan_within_budget_and_hours() {
        let cfg = RouteConfig::default();
        let t = trip("2026-12-08T09:00", 6);
        let a = plan(&t, &places(), &cfg);
        let b = plan(&t, &places(), &cfg);
        let ids = |p: &Plan| p.stops.iter().map(|s| s.candidate).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert!(!a.stops.is_empty());
        assert!(a.minutes_used <= 6 * 60, "{}", a.minutes_used);
        for s in &a.stops {
            assert!(s.start >= s.arrive && s.leave > s.start);
            let Day::Open { open, close, .. } = places()[s.candidate].hours.on(t.start.date())
            else {
                panic!("a stop on a closed day")
            };
            assert!(minute_of_day(s.start) >= open && minute_of_day(s.leave) <= close);
        }
        // Stops follow one another in time.
        for w in a.stops.windows(2) {
            assert!(w[1].arrive >= w[0].leave);
        }
    }

    #[test]
    fn closed_on_mondays_is_never_proposed_on_a_monday() {
        let p = plan(
            &trip("2026-12-07T09:00", 8),
            &places(),
            &RouteConfig::default(),
        );
        assert!(p.stops.iter().all(|s| s.candidate != 0 && s.candidate != 3));
        assert!(p
            .skipped
            .iter()
            .any(|(i, s)| *i == 0 && matches!(s, Skip::ClosedThatDay { weekday: "Monday" })));
        assert!(!p.stops.is_empty(), "the park and the tower are open");
    }

    #[test]
    fn a_short_budget_holds_and_late_starts_find_little() {
        let cfg = RouteConfig::default();
        let p = plan(&trip("2026-12-08T09:00", 1), &places(), &cfg);
        assert!(p.minutes_used <= 60);
        assert!(p.stops.iter().all(|s| s.visit_min <= 60));
        let p = plan(&trip("2026-12-08T09:00", 5), &places(), &cfg);
        let last = p.stops.last().expect("a stop");
        assert_eq!(
            p.minutes_used,
            minutes_between(p.stops[0].arrive, last.leave) + p.stops[0].leg.minutes
        );
        assert!(p.minutes_used > 60, "{}", p.minutes_used);
        let p = plan(&trip("2026-12-08T16:45", 4), &places(), &cfg);
        assert!(
            p.stops.iter().all(|s| s.candidate == 1),
            "only the park is open after 17:00"
        );
    }

    #[test]
    fn far_legs_are_transit() {
        let cfg = RouteConfig::default();
        assert_eq!(leg(800.0, &cfg).mode, Travel::Walk);
        let l = leg(9_000.0, &cfg);
        assert_eq!(l.mode, Travel::Transit);
        assert!(l.minutes > cfg.transit_wait_min);
    }
}
