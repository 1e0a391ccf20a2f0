use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How sensitive a document is. Every chunk carries its document's level, and a caller with
/// clearance `c` retrieves only chunks whose level is `<= c`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    #[default]
    Public,
    Internal,
    Restricted,
}

impl Classification {
    pub const ALL: [Classification; 3] = [Self::Public, Self::Internal, Self::Restricted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Restricted => "restricted",
        }
    }

    /// The levels a caller with this clearance may see, lowest first.
    pub fn visible_levels(self) -> impl Iterator<Item = Classification> {
        Self::ALL.into_iter().filter(move |l| *l <= self)
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Classification {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "公开" => Ok(Self::Public),
            "internal" | "内部" => Ok(Self::Internal),
            "restricted" | "受限" | "秘密" => Ok(Self::Restricted),
            other => Err(format!(
                "unknown classification {other:?} (expected public, internal or restricted)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearance_sees_lower_levels_only() {
        let v: Vec<_> = Classification::Internal.visible_levels().collect();
        assert_eq!(v, vec![Classification::Public, Classification::Internal]);
        assert_eq!(
            "内部".parse::<Classification>(),
            Ok(Classification::Internal)
        );
        assert!("secret-ish".parse::<Classification>().is_err());
    }
}
