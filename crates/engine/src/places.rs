//! Places for tourists: the sights near a point, one place in full with the poems and
//! articles that mention it, and a day's route through the ones open when the tourist gets
//! there. A place is any document with a location; its fields are the record's metadata.

use std::collections::BTreeMap;

use jiff::civil::DateTime;
use serde::Serialize;
use zhiku_core::{Chunk, GeoRadius, RetrievalMode};
use zhiku_tour::{clock, Candidate, Day, Leg, OpeningHours, Trip};

use crate::scope::Narrowing;
use crate::{Caller, Engine, EngineError};

/// `zh` or `en`: what names and reasons are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "zh-hans" => Some(Self::Zh),
            "en" | "en-us" | "en-gb" | "en_us" => Some(Self::En),
            _ => None,
        }
    }
}

/// A place as a list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub id: String,
    /// In the language asked for (the other when it has none).
    pub name: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    pub category: Option<String>,
    pub era: Option<String>,
    pub dynasty: Option<String>,
    pub district: Option<String>,
    pub lat: f64,
    pub lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    pub opening_hours: Option<String>,
    pub tickets: Option<String>,
}

impl Place {
    fn of(
        id: &str,
        title: &str,
        (lat, lon): (f64, f64),
        meta: &BTreeMap<String, String>,
        distance_m: Option<f64>,
        lang: Lang,
    ) -> Self {
        let get = |k: &str| meta.get(k).cloned().filter(|v| !v.is_empty());
        let (zh, en) = (get("name_zh"), get("name_en"));
        let name = match lang {
            Lang::Zh => zh.clone().or_else(|| en.clone()),
            Lang::En => en.clone().or_else(|| zh.clone()),
        }
        .unwrap_or_else(|| title.to_string());
        Self {
            id: id.to_string(),
            name,
            name_zh: zh,
            name_en: en,
            category: get("category"),
            era: get("era"),
            dynasty: get("dynasty"),
            district: get("district"),
            lat,
            lon,
            distance_m: distance_m.map(|d| d.round()),
            opening_hours: get("opening_hours"),
            tickets: get("tickets"),
        }
    }

    /// The names a text may use for it: each name, its parts around brackets, its site.
    fn names(&self, meta: &BTreeMap<String, String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let whole = [
            self.name_zh.as_deref(),
            self.name_en.as_deref(),
            meta.get("site").map(String::as_str),
        ];
        for name in whole.into_iter().flatten() {
            for part in name.split(['（', '）', '(', ')', '/', '·', ',']) {
                let part = part.trim();
                if part.chars().count() >= 2 && !out.iter().any(|o| o == part) {
                    out.push(part.to_string());
                }
            }
        }
        out
    }
}

/// A poem or article that names a place.
#[derive(Debug, Clone, Serialize)]
pub struct Mention {
    pub doc_id: String,
    pub chunk_id: String,
    pub title: String,
    /// `poem` (a literary work) or `article`.
    pub kind: &'static str,
    pub author: Option<String>,
    pub dynasty: Option<String>,
    /// The sentence that names the place, as it stands in the source.
    pub excerpt: String,
    pub path: String,
    pub line: Option<usize>,
}

/// One place in full.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceDetail {
    #[serde(flatten)]
    pub place: Place,
    pub built: Option<String>,
    pub address: Option<String>,
    pub unesco: bool,
    /// The record as indexed (both languages).
    pub text: String,
    pub path: String,
    pub line: Option<usize>,
    /// The opening hours as read for route planning.
    pub hours: OpeningHours,
    pub mentions: Vec<Mention>,
}

/// Where and when a day starts, and what the tourist likes.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub lat: f64,
    pub lon: f64,
    pub start: DateTime,
    pub hours: f64,
    pub interests: Vec<String>,
    pub lang: Lang,
}

/// The exact text a reason quotes, and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub doc_id: String,
    pub chunk_id: String,
    pub path: String,
    pub line: Option<usize>,
    pub text: String,
    /// Bytes of `text` in the file when `span_in_file`, else in the document's text.
    pub start: usize,
    pub end: usize,
    pub span_in_file: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteStop {
    pub order: usize,
    pub place: Place,
    pub travel: Leg,
    pub arrive: String,
    pub start: String,
    pub leave: String,
    pub visit_min: u32,
    /// The day's hours as read from the record (`null`: not stated; check before going).
    pub hours_today: Option<String>,
    pub matched_interest: Option<String>,
    /// One sentence: why this stop, quoting its source.
    pub reason: String,
    pub source: Quote,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotProposed {
    pub id: String,
    pub name: String,
    pub reason: zhiku_tour::Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    pub date: String,
    pub weekday: String,
    pub start: String,
    pub end: String,
    pub budget_min: u32,
    pub used_min: u32,
    pub stops: Vec<RouteStop>,
    /// Places nearby left out because they are closed that day or open too late.
    pub not_proposed: Vec<NotProposed>,
    pub notices: Vec<String>,
}

const SIGHTS: &str = "景点 名胜 古迹 博物馆 scenic spot museum heritage";

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

fn is_chinese(s: &str) -> bool {
    let total = s.chars().filter(|c| !c.is_whitespace()).count().max(1);
    s.chars().filter(|c| is_cjk(*c)).count() * 3 >= total
}

/// `text`'s first sentence (at most about a phone line's worth: longer ones are cut at a
/// clause break), as a slice of `text`.
fn first_sentence(text: &str, zh: bool) -> &str {
    let end = if zh {
        text.find(['。', '！', '？']).map(|i| i + '。'.len_utf8())
    } else {
        text.match_indices(". ").map(|(i, _)| i + 1).next()
    }
    .unwrap_or(text.len());
    let s = &text[..end];
    let limit = if zh { 90 } else { 220 };
    if s.chars().count() <= limit {
        return s;
    }
    let cut = s.char_indices().nth(limit).map_or(s.len(), |(i, _)| i);
    let breaks: &[char] = if zh {
        &['，', '；', '、']
    } else {
        &[',', ';']
    };
    s[..cut].rfind(breaks).map_or(&s[..cut], |i| &s[..i])
}

/// The description line of a place's chunk in `lang` (label lines like `类别 Category: …`
/// and the title are skipped), with its byte offset in the chunk.
fn description(chunk: &Chunk, zh: bool) -> Option<(usize, &str)> {
    let mut offset = 0;
    for (n, line) in chunk.text.split_inclusive('\n').enumerate() {
        let at = offset;
        offset += line.len();
        let line = line.trim_end();
        let labelled = line
            .split_once(": ")
            .is_some_and(|(label, _)| label.chars().count() <= 30 && label.contains(' '));
        if (n == 0 && chunk.start == 0) || labelled || line.chars().count() < 20 {
            continue;
        }
        if is_chinese(line) == zh {
            return Some((at, line));
        }
    }
    None
}

/// The byte range of the first sentence of `text` that names one of `names` (case aside),
/// preferring running text to a heading.
fn mention_sentence(text: &str, names: &[String]) -> Option<(usize, usize)> {
    let lower = text.to_lowercase();
    // Lower-casing keeps byte offsets only for ASCII and CJK, which is what names are; a text
    // where it does not is searched as it is.
    let hay = if lower.len() == text.len() {
        lower.as_str()
    } else {
        text
    };
    let is_end = |ch: char| matches!(ch, '。' | '！' | '？' | '\n');
    let sentence = |at: usize| {
        let from = text[..at].rfind(is_end).map_or(0, |i| {
            i + text[i..].chars().next().map_or(1, char::len_utf8)
        });
        let to = text[at..].find(is_end).map_or(text.len(), |i| {
            at + i + text[at + i..].chars().next().map_or(1, char::len_utf8)
        });
        (from, to)
    };
    let mut found: Vec<(usize, usize)> = names
        .iter()
        .flat_map(|n| {
            let n = n.to_lowercase();
            hay.match_indices(n.as_str())
                .map(|(i, _)| sentence(i))
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort_unstable();
    found
        .iter()
        .find(|(from, _)| !text[*from..].trim_start().starts_with('#'))
        .or(found.first())
        .copied()
}

impl Engine {
    /// Sights within `radius_m` of a point, nearest first, optionally of some categories.
    pub async fn spots_near(
        &self,
        caller: &Caller,
        point: GeoRadius,
        categories: Vec<String>,
        k: usize,
        lang: Lang,
    ) -> Result<Vec<Place>, EngineError> {
        let mut filters = BTreeMap::new();
        if !categories.is_empty() {
            filters.insert("category".to_string(), categories);
        }
        let spots = self.near(caller, point, filters, None, k).await?;
        Ok(spots
            .iter()
            .map(|s| {
                Place::of(
                    &s.doc_id,
                    &s.title,
                    (s.lat, s.lon),
                    &s.metadata,
                    Some(s.distance_m),
                    lang,
                )
            })
            .collect())
    }

    /// A place's chunks as the caller may read them (`DocumentNotFound` if it is not a place).
    async fn place_chunks(&self, caller: &Caller, id: &str) -> Result<Vec<Chunk>, EngineError> {
        let filter = self.scope(caller, &Narrowing::default())?;
        let chunks = self.indexes().keyword.chunks_of(id, &filter).await?;
        if chunks.first().and_then(|c| c.location).is_none() {
            return Err(EngineError::DocumentNotFound(id.to_string()));
        }
        Ok(chunks)
    }

    /// A place in full, with the poems and articles that name it.
    pub async fn place(
        &self,
        caller: &Caller,
        id: &str,
        lang: Lang,
    ) -> Result<PlaceDetail, EngineError> {
        let chunks = self.place_chunks(caller, id).await?;
        let first = &chunks[0];
        let location = first.location.unwrap_or_default();
        let place = Place::of(id, &first.title, location, &first.metadata, None, lang);
        let view = self.document(caller, id, None, None).await?;
        let names = place.names(&first.metadata);
        let mentions = self.mentions(caller, id, &names).await?;
        let meta = |k: &str| first.metadata.get(k).cloned();
        Ok(PlaceDetail {
            built: meta("built"),
            address: meta("address"),
            unesco: meta("unesco").is_some_and(|u| u == "true"),
            text: view.before,
            path: first.source.path.clone(),
            line: first.source.line,
            hours: OpeningHours::parse(place.opening_hours.as_deref().unwrap_or_default()),
            place,
            mentions,
        })
    }

    /// Passages of other documents without a location (poems, articles) that contain one of
    /// `names`, one per document, most relevant first.
    async fn mentions(
        &self,
        caller: &Caller,
        id: &str,
        names: &[String],
    ) -> Result<Vec<Mention>, EngineError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // The keyword leg: a mention is the name itself, wherever it stands in the ranking.
        let query = names.join(" ");
        let hits = self
            .search(
                caller,
                &query,
                &Narrowing::default(),
                100,
                RetrievalMode::Bm25,
            )
            .await?
            .hits;
        let mut out: Vec<Mention> = Vec::new();
        for h in hits {
            let c = h.chunk;
            if c.doc_id == id || c.location.is_some() || out.iter().any(|m| m.doc_id == c.doc_id) {
                continue;
            }
            let Some((from, to)) = mention_sentence(&c.text, names) else {
                continue;
            };
            let poem = c
                .metadata
                .get("category")
                .is_some_and(|k| k == "literature");
            out.push(Mention {
                doc_id: c.doc_id.clone(),
                chunk_id: c.id.clone(),
                title: c.title.clone(),
                kind: if poem { "poem" } else { "article" },
                author: c.metadata.get("author").cloned(),
                dynasty: c.metadata.get("dynasty").cloned(),
                excerpt: c.text[from..to].trim().to_string(),
                path: c.source.path.clone(),
                line: c.source.line,
            });
            if out.len() == 10 {
                break;
            }
        }
        Ok(out)
    }

    /// A day's visit from a point and time: see `zhiku_tour::plan`.
    pub async fn route(&self, caller: &Caller, r: &RouteRequest) -> Result<RoutePlan, EngineError> {
        let cfg = &self.config().mini_program.route;
        if !(r.hours > 0.0 && r.hours <= 16.0) {
            return Err(EngineError::Invalid(zhiku_core::CoreError::InvalidQuery(
                "hours must be more than 0 and at most 16".into(),
            )));
        }
        let narrowing = Narrowing {
            near: Some(GeoRadius {
                lat: r.lat,
                lon: r.lon,
                radius_m: cfg.radius_m,
            }),
            ..Narrowing::default()
        };
        let query = if r.interests.is_empty() {
            SIGHTS.to_string()
        } else {
            format!("{} {SIGHTS}", r.interests.join(" "))
        };
        let hits = self
            .search(caller, &query, &narrowing, 100, RetrievalMode::Hybrid)
            .await?
            .hits;
        // One candidate per place, in order of relevance: the planner breaks ties by it.
        let mut places: Vec<(Chunk, Place)> = Vec::new();
        for h in hits {
            let c = h.chunk;
            let Some(location) = c.location else { continue };
            if places.iter().any(|(p, _)| p.doc_id == c.doc_id) {
                continue;
            }
            let place = Place::of(&c.doc_id, &c.title, location, &c.metadata, None, r.lang);
            places.push((c, place));
        }
        let n = places.len().max(1) as f64;
        let candidates: Vec<Candidate> = places
            .iter()
            .enumerate()
            .map(|(rank, (c, p))| {
                let words: Vec<&str> = [&p.era, &p.dynasty, &p.name_zh, &p.name_en]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                let matched = zhiku_tour::matching_interest(
                    &r.interests,
                    p.category.as_deref().unwrap_or_default(),
                    &words,
                );
                Candidate {
                    id: c.doc_id.clone(),
                    lat: p.lat,
                    lon: p.lon,
                    category: p.category.clone().unwrap_or_default(),
                    hours: OpeningHours::parse(p.opening_hours.as_deref().unwrap_or_default()),
                    interest: if matched.is_some() {
                        1.0
                    } else {
                        0.5 * (1.0 - rank as f64 / n)
                    },
                }
            })
            .collect();
        let trip = Trip {
            lat: r.lat,
            lon: r.lon,
            start: r.start,
            budget_min: (r.hours * 60.0).round() as u32,
        };
        let plan = zhiku_tour::plan(&trip, &candidates, cfg);
        let date = r.start.date();
        let mut stops = Vec::new();
        for (order, s) in plan.stops.iter().enumerate() {
            let (chunk, place) = &places[s.candidate];
            let cand = &candidates[s.candidate];
            let words: Vec<&str> = [&place.era, &place.dynasty, &place.name_zh, &place.name_en]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            let matched = zhiku_tour::matching_interest(&r.interests, &cand.category, &words)
                .map(str::to_string);
            let chunks = self.place_chunks(caller, &chunk.doc_id).await?;
            let zh = r.lang == Lang::Zh;
            let found = chunks
                .iter()
                .find_map(|c| description(c, zh).map(|d| (c, d)))
                .or_else(|| {
                    chunks
                        .iter()
                        .find_map(|c| description(c, !zh).map(|d| (c, d)))
                });
            let Some((c, (line_at, line))) = found else {
                continue;
            };
            let sentence = first_sentence(line, is_chinese(line));
            let span = c.source_span();
            let start = span.start + line_at;
            let quote = Quote {
                doc_id: c.doc_id.clone(),
                chunk_id: c.id.clone(),
                path: c.source.path.clone(),
                line: c.source.line,
                text: sentence.to_string(),
                start,
                end: start + sentence.len(),
                span_in_file: span.in_file,
            };
            let cut = if sentence.len() < line.len() && !sentence.ends_with(['。', '.']) {
                "…"
            } else {
                ""
            };
            let reason = match (zh, &matched) {
                (true, Some(i)) => format!("符合你的兴趣「{i}」：{sentence}{cut}"),
                (true, None) => format!("顺路可看：{sentence}{cut}"),
                (false, Some(i)) => format!("For your interest in {i}: {sentence}{cut}"),
                (false, None) => format!("On your way: {sentence}{cut}"),
            };
            let hours_today = match cand.hours.on(date) {
                Day::Open { open, close, .. } => Some(format!("{}–{}", clock(open), clock(close))),
                _ => None,
            };
            let hm = |t: DateTime| format!("{:02}:{:02}", t.hour(), t.minute());
            stops.push(RouteStop {
                order: order + 1,
                place: Place {
                    distance_m: Some(s.leg.distance_m.round()),
                    ..place.clone()
                },
                travel: Leg {
                    distance_m: s.leg.distance_m.round(),
                    ..s.leg
                },
                arrive: hm(s.arrive),
                start: hm(s.start),
                leave: hm(s.leave),
                visit_min: s.visit_min,
                hours_today,
                matched_interest: matched,
                reason,
                source: quote,
            });
        }
        let not_proposed = plan
            .skipped
            .iter()
            .map(|(i, why)| NotProposed {
                id: places[*i].1.id.clone(),
                name: places[*i].1.name.clone(),
                reason: why.clone(),
            })
            .collect();
        let mut notices = Vec::new();
        if stops.iter().any(|s| s.hours_today.is_none()) {
            notices.push(match r.lang {
                Lang::Zh => "部分景点的开放时间未写明，出发前请先确认。".to_string(),
                Lang::En => {
                    "Some places do not state their hours; check before you go.".to_string()
                }
            });
        }
        if stops.is_empty() {
            notices.push(match r.lang {
                Lang::Zh => "附近没有在这段时间内开放且来得及参观的景点。".to_string(),
                Lang::En => {
                    "No place nearby is open and can be visited within this time.".to_string()
                }
            });
        }
        notices.push(match r.lang {
            Lang::Zh => "时间按直线距离估算（步行或公共交通），开放时间以景点公告为准。".to_string(),
            Lang::En => "Times are estimated from straight-line distances (walking or transit); opening hours may change, so check before you go.".to_string(),
        });
        Ok(RoutePlan {
            date: date.to_string(),
            weekday: zhiku_tour::weekday_name(date.weekday()).to_string(),
            start: format!("{:02}:{:02}", r.start.hour(), r.start.minute()),
            end: format!("{:02}:{:02}", plan.end.hour(), plan.end.minute()),
            budget_min: trip.budget_min,
            used_min: plan.minutes_used,
            stops,
            not_proposed,
            notices,
        })
    }
}
