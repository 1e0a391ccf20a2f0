//! A tourist's day. It reads a place's opening hours from the free text of its record
//! (seasons, closing days, last entry; Chinese and English), estimates travel between places
//! from their distance and each visit's length from its category, and proposes an ordered
//! visit that keeps to the time budget and to when each place is open.
//!
//! It knows nothing of indexes, users or HTTP: the engine hands it candidate places (already
//! filtered by what the caller may read and ranked by relevance to their interests) and
//! explains the plan it gets back.

mod hours;
mod plan;

pub use hours::{weekday_name, Day, LastEntry, OpeningHours, Window};
pub use plan::{plan, Candidate, Leg, Plan, Skip, Stop, Travel, Trip};

/// Minutes since midnight as `HH:MM`.
pub fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Words a tourist may use for what a category of place offers, in Chinese and English.
const INTERESTS: &[(&str, &[&str])] = &[
    (
        "palace",
        &[
            "palace",
            "宫殿",
            "皇宫",
            "imperial",
            "皇家",
            "history",
            "历史",
            "architecture",
            "建筑",
        ],
    ),
    (
        "museum",
        &[
            "museum",
            "博物馆",
            "art",
            "艺术",
            "history",
            "历史",
            "culture",
            "文化",
        ],
    ),
    (
        "garden",
        &[
            "garden", "园林", "花园", "park", "公园", "nature", "自然", "imperial", "皇家",
        ],
    ),
    (
        "great_wall",
        &["great wall", "长城", "hiking", "徒步", "history", "历史"],
    ),
    (
        "temple",
        &[
            "temple",
            "寺庙",
            "庙",
            "religion",
            "宗教",
            "confucius",
            "孔子",
            "儒家",
            "history",
            "历史",
            "architecture",
            "建筑",
        ],
    ),
    (
        "religious_site",
        &[
            "religion",
            "宗教",
            "temple",
            "寺庙",
            "buddhism",
            "佛教",
            "taoism",
            "道教",
            "islam",
            "伊斯兰",
        ],
    ),
    (
        "altar",
        &[
            "altar",
            "祭坛",
            "ritual",
            "祭祀",
            "imperial",
            "皇家",
            "history",
            "历史",
            "architecture",
            "建筑",
        ],
    ),
    (
        "park",
        &[
            "park", "公园", "nature", "自然", "view", "风景", "garden", "园林",
        ],
    ),
    (
        "residence",
        &["residence", "故居", "history", "历史", "literature", "文学"],
    ),
    (
        "hutong",
        &[
            "hutong",
            "胡同",
            "old beijing",
            "老北京",
            "local life",
            "市井",
            "food",
            "美食",
            "architecture",
            "建筑",
        ],
    ),
    (
        "tomb",
        &["tomb", "陵", "陵墓", "history", "历史", "imperial", "皇家"],
    ),
    ("bridge", &["bridge", "桥", "history", "历史"]),
    (
        "observatory",
        &[
            "observatory",
            "观象台",
            "science",
            "科学",
            "astronomy",
            "天文",
        ],
    ),
];

/// The first of `interests` that a place of `category` (or one of its `words`: era, names)
/// matches, if any.
pub fn matching_interest<'i>(
    interests: &'i [String],
    category: &str,
    words: &[&str],
) -> Option<&'i str> {
    let labels = INTERESTS
        .iter()
        .find(|(c, _)| *c == category)
        .map_or(&[][..], |(_, l)| *l);
    interests.iter().map(String::as_str).find(|interest| {
        let i = interest.trim().to_lowercase();
        i.chars().count() >= 2
            && (i == category.replace('_', " ")
                || labels.iter().any(|l| *l == i)
                || words
                    .iter()
                    .any(|w| w.chars().count() >= 2 && w.to_lowercase().contains(&i)))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn interests_match_by_category_words_and_names() {
        let i = vec!["园林".to_string(), "history".to_string()];
        assert_eq!(super::matching_interest(&i, "garden", &[]), Some("园林"));
        assert_eq!(super::matching_interest(&i, "museum", &[]), Some("history"));
        assert_eq!(super::matching_interest(&i, "observatory", &["Qing"]), None);
        let i = vec!["Ming".to_string()];
        assert_eq!(
            super::matching_interest(&i, "tomb", &["Ming–Qing"]),
            Some("Ming")
        );
    }
}
