//! The configuration of the WeChat mini-program door (`[mini_program]`) and of the day routes
//! it proposes (`[mini_program.route]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The mini-program's backend. Empty `appid`: the door is closed (its routes answer 503).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MiniProgramConfig {
    /// The mini-program's AppID (`ZHIKU_WECHAT_APPID`).
    pub appid: String,
    /// The environment variable holding its AppSecret (never the secret itself in a file).
    pub secret_env: String,
    /// WeChat's server API; a test or a proxy may point elsewhere.
    pub api_base: String,
    /// Each call to WeChat gives up after this long.
    pub timeout_ms: u64,
    /// How long a Zhiku session token lasts.
    pub session_hours: u64,
    /// The domains tourists may ask about.
    pub domains: Vec<String>,
    /// What a tourist's text goes through before it is answered.
    pub content_check: ContentCheck,
    pub route: RouteConfig,
}

/// `msgSecCheck` before answering: `off`; `advisory` (risky text is refused, but a failing
/// check lets the question through); `required` (a failing check refuses the question too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentCheck {
    Off,
    #[default]
    Advisory,
    Required,
}

impl Default for MiniProgramConfig {
    fn default() -> Self {
        Self {
            appid: String::new(),
            secret_env: "ZHIKU_WECHAT_SECRET".into(),
            api_base: "https://api.weixin.qq.com".into(),
            timeout_ms: 5_000,
            session_hours: 72,
            domains: vec!["culture".into()],
            content_check: ContentCheck::Advisory,
            route: RouteConfig::default(),
        }
    }
}

impl MiniProgramConfig {
    pub fn enabled(&self) -> bool {
        !self.appid.trim().is_empty()
    }
}

/// How a day's route estimates time. Distances are straight lines, so speeds are what a
/// tourist makes good along a straight line, not on the street.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Walking speed, km/h.
    pub walk_kmh: f64,
    /// Farther than this, the leg is by transit (metro, bus or taxi).
    pub walk_max_m: f64,
    /// Transit speed, km/h, plus a fixed wait and walk to the stop, minutes.
    pub transit_kmh: f64,
    pub transit_wait_min: u32,
    /// Minutes a visit takes, by category; `default_visit_min` for the others.
    pub visit_min: BTreeMap<String, u32>,
    pub default_visit_min: u32,
    /// Sites farther than this from the start are not considered.
    pub radius_m: f64,
    pub max_stops: usize,
    /// Longest wait for a site to open that a stop may include.
    pub max_wait_min: u32,
    /// The sites' local time as an offset from UTC, hours (China: 8); a start time given
    /// with another offset is converted to it.
    pub utc_offset_hours: i8,
}

impl Default for RouteConfig {
    fn default() -> Self {
        let visit_min = [
            ("palace", 150),
            ("museum", 120),
            ("garden", 120),
            ("great_wall", 180),
            ("tomb", 75),
            ("altar", 75),
            ("park", 60),
            ("temple", 45),
            ("religious_site", 45),
            ("residence", 60),
            ("hutong", 45),
            ("bridge", 30),
            ("observatory", 45),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            walk_kmh: 4.0,
            walk_max_m: 1_200.0,
            transit_kmh: 18.0,
            transit_wait_min: 10,
            visit_min,
            default_visit_min: 60,
            radius_m: 15_000.0,
            max_stops: 6,
            max_wait_min: 45,
            utc_offset_hours: 8,
        }
    }
}
