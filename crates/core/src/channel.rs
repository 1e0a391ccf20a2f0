use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The door a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The `zhiku` command on the machine that holds the data.
    Terminal,
    /// The OpenAI-compatible endpoint and the JSON API.
    Api,
    /// The web chat page.
    Web,
    /// A hospital system (server to server).
    Clinical,
    /// The WeChat mini-program backend.
    MiniProgram,
}

impl Channel {
    /// The channels an API key may be made for (the terminal is no key's).
    pub const KEYED: [Channel; 4] = [Self::Api, Self::Web, Self::Clinical, Self::MiniProgram];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Terminal => "terminal",
            Self::Api => "api",
            Self::Web => "web",
            Self::Clinical => "clinical",
            Self::MiniProgram => "mini-program",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;
    /// Exactly one of the names `as_str` gives: a stored or configured channel that is
    /// anything else is an error, never a guess.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Terminal,
            Self::Api,
            Self::Web,
            Self::Clinical,
            Self::MiniProgram,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| {
            format!("unknown channel {s:?} (expected api, web, clinical or mini-program)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_parses() {
        for c in Channel::KEYED {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
        }
        for bad in ["", "Clinical", "api ", "mini_program", "wechat"] {
            assert!(bad.parse::<Channel>().is_err(), "{bad}");
        }
    }
}
