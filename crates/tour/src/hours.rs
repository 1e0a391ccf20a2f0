//! Opening hours as places write them: "8:30–17:00 from April to October and 8:30–16:30 from
//! November to March; last entry one hour before closing; closed on Mondays", "opens at 7:00
//! and closes around 19:00 in summer and 17:30 in winter", "旺季（4月-10月）8:30-17:00；
//! 淡季 8:30-16:30，周一闭馆", "accessible at all times". What the text does not say stays
//! unknown: a plan says so rather than guessing.

use std::sync::LazyLock;

use jiff::civil::{Date, Weekday};
use regex::Regex;
use serde::Serialize;

/// Daily hours over a span of months (`from..=to`, wrapping past December: 11..=3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from_month: u8,
    pub to_month: u8,
    /// Minutes since midnight.
    pub open: u16,
    pub close: u16,
}

impl Window {
    fn covers(&self, month: u8) -> bool {
        if self.from_month <= self.to_month {
            (self.from_month..=self.to_month).contains(&month)
        } else {
            month >= self.from_month || month <= self.to_month
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LastEntry {
    /// Minutes before closing.
    BeforeClose(u16),
    /// A time of day.
    At(u16),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpeningHours {
    pub always_open: bool,
    pub windows: Vec<Window>,
    #[serde(serialize_with = "weekday_names")]
    pub closed_on: Vec<Weekday>,
    pub last_entry: Option<LastEntry>,
}

/// A place's hours on one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Closed(Weekday),
    /// `last_entry` ≤ `close`; minutes since midnight.
    Open {
        open: u16,
        last_entry: u16,
        close: u16,
    },
    /// The text says nothing usable about that day.
    Unknown,
}

fn weekday_names<S: serde::Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(days.iter().map(|d| weekday_name(*d)))
}

pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    }
}

const TIME: &str = r"(\d{1,2})[:：](\d{2})";

static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"{TIME}(?:\s*/\s*\d{{1,2}}[:：]\d{{2}})?\s*(?:–|—|-|~|～|至|到|to)\s*{TIME}"
    ))
    .expect("a valid pattern")
});
static ONE_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(TIME).expect("a valid pattern"));
static MONTHS_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*(?:to|–|—|-|through|until)\s*(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)")
        .expect("a valid pattern")
});
static MONTHS_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{1,2})\s*月(?:\s*\d{1,2}\s*日)?\s*(?:至|到|–|—|-|~|～)\s*(\d{1,2})\s*月")
        .expect("a valid pattern")
});
static CLOSED_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bclose[ds]?\s+(?:on\s+|every\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?")
        .expect("a valid pattern")
});
static CLOSED_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:周|星期|礼拜)([一二三四五六日天])(?:全天)?(?:闭馆|闭园|休馆|休园|休息|不开放|关闭)",
    )
    .expect("a valid pattern")
});
static ALWAYS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)at all times|24 hours|24/7|round the clock|全天开放|24\s*小时")
        .expect("a valid pattern")
});
static LAST_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)last (?:entry|admission)[^;；.。\d]{{0,20}}{TIME}|{TIME}\s*(?:停止|截止)(?:入场|入园|入馆|售票|检票)|停止(?:入场|入园|入馆|售票)(?:时间)?[^\d]{{0,4}}{TIME}"
    ))
    .expect("a valid pattern")
});
static LAST_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)last (?:entry|admission)[^;；.。]{0,20}?\b(one|an|half an|\d+)\s*(hours?|minutes?|min)\s+before\s+clos|闭[馆园]前\s*(\d+|一|半)\s*(个)?\s*(小时|分钟)")
        .expect("a valid pattern")
});

const PEAK: (u8, u8) = (4, 10);
const OFF_PEAK: (u8, u8) = (11, 3);

fn minutes(h: &str, m: &str) -> Option<u16> {
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

fn month_number(name: &str) -> Option<u8> {
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    months
        .iter()
        .position(|m| lower.starts_with(m))
        .map(|i| i as u8 + 1)
}

/// The months a clause names: explicit months first, then season words.
fn season(clause: &str) -> Option<(u8, u8)> {
    if let Some(c) = MONTHS_EN.captures(clause) {
        return Some((month_number(&c[1])?, month_number(&c[2])?));
    }
    if let Some(c) = MONTHS_ZH.captures(clause) {
        let (a, b): (u8, u8) = (c[1].parse().ok()?, c[2].parse().ok()?);
        if (1..=12).contains(&a) && (1..=12).contains(&b) {
            return Some((a, b));
        }
    }
    // The season word said first is the one the range belongs to ("in peak season with
    // shorter hours in winter").
    let lower = clause.to_lowercase();
    let first = |words: &[&str]| words.iter().filter_map(|w| lower.find(w)).min();
    let off = first(&[
        "off-peak",
        "off peak",
        "off season",
        "off-season",
        "winter",
        "淡季",
        "冬季",
    ]);
    // "peak" inside "off-peak" is not a peak season.
    let peak = ["peak", "summer", "high season", "旺季", "夏季"]
        .iter()
        .flat_map(|w| lower.match_indices(w).map(|(i, _)| i).collect::<Vec<_>>())
        .filter(|&i| !lower[..i].ends_with("off-") && !lower[..i].ends_with("off "))
        .min();
    match (peak, off) {
        (Some(p), Some(o)) if p < o => Some(PEAK),
        (_, Some(_)) => Some(OFF_PEAK),
        (Some(_), None) => Some(PEAK),
        (None, None) => None,
    }
}

/// The text after a match up to the next clause break, and before it back to the previous.
fn clause_around(
    text: &str,
    start: usize,
    end: usize,
    prev_end: usize,
    next_start: usize,
) -> (&str, &str) {
    let breaks = [';', '；', '。', '\n'];
    let after = &text[end..next_start];
    let after = after.find(breaks).map_or(after, |i| &after[..i]);
    let before = &text[prev_end..start];
    let before = before.rfind(breaks).map_or(before, |i| {
        let skip = before[i..].chars().next().map_or(1, char::len_utf8);
        &before[i + skip..]
    });
    (after, before)
}

impl OpeningHours {
    pub fn parse(text: &str) -> Self {
        let mut hours = OpeningHours {
            always_open: ALWAYS.is_match(text),
            ..Self::default()
        };
        for c in CLOSED_EN.captures_iter(text) {
            push_day(&mut hours.closed_on, weekday_en(&c[1]));
        }
        for c in CLOSED_ZH.captures_iter(text) {
            push_day(&mut hours.closed_on, weekday_zh(&c[1]));
        }
        let ranges: Vec<_> = RANGE.captures_iter(text).collect();
        for (i, c) in ranges.iter().enumerate() {
            let whole = c.get(0).expect("group 0 always matches");
            let (Some(open), Some(close)) = (minutes(&c[1], &c[2]), minutes(&c[3], &c[4])) else {
                continue;
            };
            // "around 6:00–6:30" is when a place opens, not a day's hours.
            if close < open + 60 {
                continue;
            }
            let prev_end = i
                .checked_sub(1)
                .map_or(0, |p| ranges[p].get(0).map_or(0, |m| m.end()));
            let next_start = ranges
                .get(i + 1)
                .and_then(|n| n.get(0))
                .map_or(text.len(), |m| m.start());
            let (after, before) =
                clause_around(text, whole.start(), whole.end(), prev_end, next_start);
            let (from_month, to_month) =
                season(after).or_else(|| season(before)).unwrap_or((1, 12));
            hours.add(Window {
                from_month,
                to_month,
                open,
                close,
            });
        }
        if hours.windows.is_empty() {
            hours.opens_and_closes(text);
        }
        hours.last_entry = last_entry(text);
        hours
    }

    /// A range counts once per season; the first said for a season wins.
    fn add(&mut self, w: Window) {
        if !self
            .windows
            .iter()
            .any(|x| x.from_month == w.from_month && x.to_month == w.to_month)
        {
            self.windows.push(w);
        }
    }

    /// Without ranges: "opens at 7:00 and closes around 19:00 in summer and 17:30 in winter",
    /// "from early morning (around 6:00–6:30) to about 21:00 in summer and 20:00 in winter".
    /// The first time is the opening (alternatives within the hour after it are skipped); the
    /// later ones are closings, each with the season said after it.
    fn opens_and_closes(&mut self, text: &str) {
        let times: Vec<_> = ONE_TIME.captures_iter(text).collect();
        let Some(first) = times.first() else { return };
        let (Some(open), Some(at)) = (minutes(&first[1], &first[2]), first.get(0)) else {
            return;
        };
        let lower = text[..at.start()].to_lowercase();
        if !["open", "from", "开放", "开园"]
            .iter()
            .any(|w| lower.contains(w))
        {
            return;
        }
        for (i, c) in times.iter().enumerate().skip(1) {
            let Some(close) = minutes(&c[1], &c[2]) else {
                continue;
            };
            if close < open + 60 {
                continue;
            }
            let end = c.get(0).map_or(0, |m| m.end());
            let next = times
                .get(i + 1)
                .and_then(|n| n.get(0))
                .map_or(text.len(), |m| m.start());
            let after = &text[end..next];
            let after = after.find([';', '；', '。']).map_or(after, |j| &after[..j]);
            let (from_month, to_month) = season(after).unwrap_or((1, 12));
            self.add(Window {
                from_month,
                to_month,
                open,
                close,
            });
        }
        let rest = text[at.end()..].to_lowercase();
        if self.windows.is_empty() && (rest.contains("evening") || rest.contains("傍晚")) {
            // "closes in the evening": the earliest evening, so that a plan never counts on more.
            self.add(Window {
                from_month: 1,
                to_month: 12,
                open,
                close: 18 * 60,
            });
        }
    }

    pub fn known(&self) -> bool {
        self.always_open || !self.windows.is_empty()
    }

    /// The hours on `date`: closed on a closing weekday, else the window of its month (or,
    /// when only another season's is stated, that one).
    pub fn on(&self, date: Date) -> Day {
        let weekday = date.weekday();
        if self.closed_on.contains(&weekday) {
            return Day::Closed(weekday);
        }
        if self.always_open {
            return Day::Open {
                open: 0,
                last_entry: 24 * 60,
                close: 24 * 60,
            };
        }
        let month = date.month() as u8;
        let Some(w) = self
            .windows
            .iter()
            .find(|w| w.covers(month))
            .or_else(|| self.windows.first())
        else {
            return Day::Unknown;
        };
        let last_entry = match self.last_entry {
            Some(LastEntry::BeforeClose(m)) => w.close.saturating_sub(m),
            Some(LastEntry::At(t)) => t.min(w.close),
            None => w.close,
        }
        .max(w.open);
        Day::Open {
            open: w.open,
            last_entry,
            close: w.close,
        }
    }
}

fn push_day(days: &mut Vec<Weekday>, d: Option<Weekday>) {
    if let Some(d) = d {
        if !days.contains(&d) {
            days.push(d);
        }
    }
}

fn weekday_en(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn weekday_zh(name: &str) -> Option<Weekday> {
    Some(match name {
        "一" => Weekday::Monday,
        "二" => Weekday::Tuesday,
        "三" => Weekday::Wednesday,
        "四" => Weekday::Thursday,
        "五" => Weekday::Friday,
        "六" => Weekday::Saturday,
        "日" | "天" => Weekday::Sunday,
        _ => return None,
    })
}

fn last_entry(text: &str) -> Option<LastEntry> {
    if let Some(c) = LAST_BEFORE.captures(text) {
        let (n, unit) = match (c.get(1), c.get(2), c.get(3), c.get(5)) {
            (Some(n), Some(u), _, _) => (n.as_str(), u.as_str()),
            (_, _, Some(n), Some(u)) => (n.as_str(), u.as_str()),
            _ => return None,
        };
        let count: u16 = match n {
            "one" | "an" | "一" => 1,
            "half an" | "半" => return Some(LastEntry::BeforeClose(30)),
            n => n.parse().ok()?,
        };
        let hour = unit.starts_with("hour") || unit == "小时";
        return Some(LastEntry::BeforeClose(if hour {
            count * 60
        } else {
            count
        }));
    }
    let c = LAST_AT.captures(text)?;
    let groups = [(1, 2), (3, 4), (5, 6)];
    groups
        .iter()
        .find_map(|&(h, m)| minutes(c.get(h)?.as_str(), c.get(m)?.as_str()))
        .map(LastEntry::At)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().expect("a date")
    }

    #[test]
    fn seasons_closing_day_and_last_entry_in_english() {
        let h = OpeningHours::parse("Typically 8:30–17:00 from April to October and 8:30–16:30 from November to March; last entry about one hour before closing; usually closed on Mondays except public holidays.");
        assert_eq!(h.closed_on, vec![Weekday::Monday]);
        assert_eq!(h.last_entry, Some(LastEntry::BeforeClose(60)));
        // 2026-12-07 is a Monday, 2026-12-08 a Tuesday, 2026-07-08 a Wednesday.
        assert_eq!(h.on(date("2026-12-07")), Day::Closed(Weekday::Monday));
        assert_eq!(
            h.on(date("2026-12-08")),
            Day::Open {
                open: 510,
                last_entry: 930,
                close: 990
            }
        );
        assert_eq!(
            h.on(date("2026-07-08")),
            Day::Open {
                open: 510,
                last_entry: 960,
                close: 1020
            }
        );
    }

    #[test]
    fn peak_and_off_peak_words_and_alternative_openings() {
        let h = OpeningHours::parse("Typically about 6:00/6:30–18:00 in peak season (April–October) and 7:00–17:00 off-peak, with the inner scenic areas closing earlier.");
        assert!(h.closed_on.is_empty());
        assert_eq!(
            h.on(date("2026-05-04")),
            Day::Open {
                open: 360,
                last_entry: 1080,
                close: 1080
            }
        );
        assert_eq!(
            h.on(date("2026-01-05")),
            Day::Open {
                open: 420,
                last_entry: 1020,
                close: 1020
            }
        );
        let h = OpeningHours::parse(
            "Typically 8:30–17:00 (summer) or 8:30–16:30 (winter), usually closed on Mondays.",
        );
        assert_eq!(
            h.on(date("2026-12-08")),
            Day::Open {
                open: 510,
                last_entry: 990,
                close: 990
            }
        );
        assert_eq!(h.on(date("2026-12-07")), Day::Closed(Weekday::Monday));
    }

    #[test]
    fn opens_at_and_closes_around_by_season() {
        let h = OpeningHours::parse("Typically opens at 7:00 and closes around 19:00 in summer and 17:30 in winter, with the ruins area closing earlier.");
        assert_eq!(
            h.on(date("2026-07-01")),
            Day::Open {
                open: 420,
                last_entry: 1140,
                close: 1140
            }
        );
        assert_eq!(
            h.on(date("2026-12-01")),
            Day::Open {
                open: 420,
                last_entry: 1050,
                close: 1050
            }
        );
        let h = OpeningHours::parse(
            "Typically about 7:30–18:00 in peak season with shorter hours in winter.",
        );
        assert_eq!(h.windows[0].from_month, 4);
        let h = OpeningHours::parse("Typically from early morning (around 6:00–6:30) to about 21:00 in summer and 20:00 in winter.");
        assert_eq!(
            h.on(date("2026-07-01")),
            Day::Open {
                open: 360,
                last_entry: 1260,
                close: 1260
            }
        );
        assert_eq!(
            h.on(date("2026-12-01")),
            Day::Open {
                open: 360,
                last_entry: 1200,
                close: 1200
            }
        );
    }

    #[test]
    fn absolute_last_entry_and_may_close() {
        let h = OpeningHours::parse(
            "Typically about 9:00–16:00 (last entry around 15:30); may close on Mondays.",
        );
        assert_eq!(h.closed_on, vec![Weekday::Monday]);
        assert_eq!(
            h.on(date("2026-12-09")),
            Day::Open {
                open: 540,
                last_entry: 930,
                close: 960
            }
        );
    }

    #[test]
    fn chinese_seasons_and_closing_day() {
        let h = OpeningHours::parse("旺季（4月1日-10月31日）8:30-17:00；淡季（11月1日-3月31日）8:30-16:30，16:00停止入场，每周一闭馆（法定节假日除外）。");
        assert_eq!(h.closed_on, vec![Weekday::Monday]);
        assert_eq!(
            h.on(date("2026-06-02")),
            Day::Open {
                open: 510,
                last_entry: 960,
                close: 1020
            }
        );
        assert_eq!(
            h.on(date("2026-12-08")),
            Day::Open {
                open: 510,
                last_entry: 960,
                close: 990
            }
        );
        let h = OpeningHours::parse("9:00—17:00，闭馆前1小时停止入场，周二闭馆");
        assert_eq!(h.on(date("2026-12-08")), Day::Closed(Weekday::Tuesday));
        assert_eq!(
            h.on(date("2026-12-09")),
            Day::Open {
                open: 540,
                last_entry: 960,
                close: 1020
            }
        );
    }

    #[test]
    fn always_open_and_unknown() {
        let h = OpeningHours::parse("Public street, accessible at all times; shops typically open from late morning to evening.");
        assert!(h.always_open);
        assert!(matches!(h.on(date("2026-12-07")), Day::Open { .. }));
        let h = OpeningHours::parse(
            "Typically open by advance booking; hours vary by season. Check the official website.",
        );
        assert!(!h.known());
        assert_eq!(h.on(date("2026-12-07")), Day::Unknown);
        let h = OpeningHours::parse("The park typically opens early in the morning (around 6:00) and closes in the evening.");
        assert_eq!(
            h.on(date("2026-12-07")),
            Day::Open {
                open: 360,
                last_entry: 1080,
                close: 1080
            }
        );
    }
}
