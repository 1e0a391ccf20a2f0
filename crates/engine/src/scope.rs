//! What a request may say about where to search, and how it meets the caller's rights: a
//! request narrows (domains, metadata, distance); clearance and the domains allowed come from
//! the [`Caller`] alone.

use std::collections::{BTreeMap, BTreeSet};

use zhiku_core::{CoreError, DomainRegistry, GeoRadius, SearchFilter};

use crate::{Caller, EngineError};

/// The narrowing part of a request, already parsed by its transport.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Narrowing {
    /// Restrict to these domains (each must be registered and allowed to the caller).
    pub domains: Vec<String>,
    /// Metadata equality: for each key, any of the values.
    pub filters: BTreeMap<String, Vec<String>>,
    pub near: Option<GeoRadius>,
}

impl Narrowing {
    /// Adds `key=value` (the form typed on a command line).
    pub fn add_filter_expr(&mut self, expr: &str) -> Result<(), CoreError> {
        let mut probe = SearchFilter::default();
        probe.add_field_expr(expr)?;
        for (k, vs) in probe.fields {
            self.filters.entry(k).or_default().extend(vs);
        }
        Ok(())
    }
}

/// The filter a search runs with: the caller's clearance and domains, narrowed by the request.
pub(crate) fn resolve(
    registry: &DomainRegistry,
    caller: &Caller,
    narrowing: &Narrowing,
) -> Result<SearchFilter, EngineError> {
    let mut domains = Vec::new();
    for name in &narrowing.domains {
        let domain = registry.get(name)?;
        if !caller.may_use(domain.name()) {
            return Err(EngineError::Forbidden(format!(
                "this caller may not use the domain {name:?}"
            )));
        }
        if !domains.iter().any(|d| d == name) {
            domains.push(name.clone());
        }
    }
    if domains.is_empty() {
        if let Some(allowed) = caller.domains() {
            domains = allowed.to_vec();
        }
    }
    check_filter_keys(registry, &domains, &narrowing.filters)?;
    let mut fields = BTreeMap::new();
    for (key, values) in &narrowing.filters {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(CoreError::InvalidFilter(format!("filter {key:?} has no value")).into());
        }
        fields.insert(key.trim().to_string(), values);
    }
    if let Some(g) = narrowing.near {
        let ok = (-90.0..=90.0).contains(&g.lat)
            && (-180.0..=180.0).contains(&g.lon)
            && g.radius_m.is_finite()
            && g.radius_m > 0.0;
        if !ok {
            return Err(CoreError::InvalidFilter(
                "near needs lat in -90..90, lon in -180..180 and a positive radius_m".into(),
            )
            .into());
        }
    }
    Ok(SearchFilter {
        domains,
        clearance: caller.clearance(),
        fields,
        geo: narrowing.near,
    })
}

/// A key no domain in scope declares would silently match nothing: say so, with the choices.
fn check_filter_keys(
    registry: &DomainRegistry,
    domains: &[String],
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<(), EngineError> {
    if filters.is_empty() {
        return Ok(());
    }
    let in_scope: Vec<_> = if domains.is_empty() {
        registry.iter().collect()
    } else {
        domains
            .iter()
            .filter_map(|d| registry.get(d).ok())
            .collect()
    };
    let fields: BTreeSet<&'static str> = in_scope
        .iter()
        .flat_map(|d| d.filter_fields().iter().map(|f| f.key))
        .collect();
    for key in filters.keys() {
        if !fields.contains(key.trim()) {
            let scope = match domains {
                [one] => format!("the domain {one:?}"),
                [] => "all domains together".to_string(),
                many => format!("the domains {}", many.join(", ")),
            };
            return Err(EngineError::UnknownFilterKey {
                key: key.clone(),
                scope,
                fields: fields.into_iter().collect(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;
    use zhiku_core::Classification;

    #[test]
    fn a_request_narrows_but_never_widens() {
        let registry = crate::registry();
        let student = Caller::anonymous(Channel::Web);
        let f = resolve(&registry, &student, &Narrowing::default()).unwrap();
        assert_eq!(f.clearance, Classification::Public);
        let nurse = Caller::authenticated(
            "key:1",
            Channel::Clinical,
            Classification::Internal,
            Some(vec!["medicine".into()]),
            false,
        );
        let f = resolve(&registry, &nurse, &Narrowing::default()).unwrap();
        assert_eq!(f.domains, ["medicine"], "the key's domains apply unasked");
        assert_eq!(f.clearance, Classification::Internal);
        let wider = Narrowing {
            domains: vec!["culture".into()],
            ..Default::default()
        };
        let err = resolve(&registry, &nurse, &wider).unwrap_err();
        assert!(matches!(err, EngineError::Forbidden(_)), "{err}");
    }

    #[test]
    fn unknown_filter_keys_list_the_domains_fields() {
        let registry = crate::registry();
        let mut n = Narrowing {
            domains: vec!["medicine".into()],
            ..Default::default()
        };
        n.add_filter_expr("strenght=strong").unwrap();
        let err = resolve(&registry, &Caller::anonymous(Channel::Api), &n)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"strenght\"") && err.contains("strength"),
            "{err}"
        );
        assert!(err.contains("department"), "{err}");
        let mut ok = Narrowing::default();
        ok.add_filter_expr("strength=strong").unwrap();
        resolve(&registry, &Caller::anonymous(Channel::Api), &ok).unwrap();
    }
}
