use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Classification, CoreError};

/// A circle on the earth: points within `radius_m` metres of (`lat`, `lon`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoRadius {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
}

/// What a search may return. Both indexes apply the same filter, so the two retrieval legs
/// never disagree about what a caller may see.
///
/// Deliberately not `Deserialize`: its `clearance` comes from the caller's authentication
/// (the engine's `Caller`), so no request body can ever be turned into one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchFilter {
    /// Empty: every domain.
    pub domains: Vec<String>,
    /// The caller's clearance: only chunks at or below it are returned.
    pub clearance: Classification,
    /// Metadata equality: for each key, any of the values matches.
    pub fields: BTreeMap<String, Vec<String>>,
    pub geo: Option<GeoRadius>,
}

impl Default for SearchFilter {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            clearance: Classification::Public,
            fields: BTreeMap::new(),
            geo: None,
        }
    }
}

impl SearchFilter {
    /// Adds `key=value` (the form users type on the command line).
    pub fn add_field_expr(&mut self, expr: &str) -> Result<(), CoreError> {
        let (k, v) = expr.split_once('=').ok_or_else(|| {
            CoreError::InvalidFilter(format!("{expr:?} is not of the form key=value"))
        })?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(CoreError::InvalidFilter(format!(
                "{expr:?} has an empty key or value"
            )));
        }
        self.fields
            .entry(k.to_string())
            .or_default()
            .push(v.to_string());
        Ok(())
    }

    /// The `key=value` tags any of which must be present, one group per key.
    pub fn tag_groups(&self) -> Vec<Vec<String>> {
        self.fields
            .iter()
            .map(|(k, vs)| vs.iter().map(|v| format!("{k}={v}")).collect())
            .collect()
    }

    pub fn classification_levels(&self) -> Vec<&'static str> {
        self.clearance
            .visible_levels()
            .map(|l| l.as_str())
            .collect()
    }
}

/// Great-circle distance in metres (haversine), used to post-check geo filters.
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let r = 6_371_008.8_f64;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin()
}

impl GeoRadius {
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        haversine_m(self.lat, self.lon, lat, lon) <= self.radius_m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_expressions() {
        let mut f = SearchFilter::default();
        f.add_field_expr("subject=math").unwrap();
        f.add_field_expr("subject = physics").unwrap();
        assert!(f.add_field_expr("nonsense").is_err());
        assert_eq!(
            f.tag_groups(),
            vec![vec!["subject=math", "subject=physics"]]
        );
    }

    #[test]
    fn haversine_forbidden_city_to_temple_of_heaven() {
        // About 4.3 km apart.
        let d = haversine_m(39.9163, 116.3972, 39.8822, 116.4066);
        assert!((3_500.0..5_000.0).contains(&d), "{d}");
    }
}
