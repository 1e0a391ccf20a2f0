//! The configuration of the clinical door (`[clinical]`, `[privacy]`, `[server.tls]`) and the
//! per-key request rate, whose text form (`120/min`) keys, the CLI and the server share.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::Classification;
use serde::{Deserialize, Serialize};

/// At most `requests` in any `period`, with bursts up to `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub requests: u32,
    pub period: Duration,
}

impl RateLimit {
    /// The time one request's allowance takes to come back.
    pub fn replenish_interval(&self) -> Duration {
        self.period / self.requests.max(1)
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// `N/s`, `N/min`, `N/h` or `N/day` (also `sec`, `second`, `m`, `minute`, `hour`, `d`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a rate: write N/s, N/min, N/h or N/day, e.g. 120/min");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        if requests == 0 {
            return Err(format!("{s:?}: a rate needs at least 1 request"));
        }
        let secs = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            _ => return Err(bad()),
        };
        Ok(Self {
            requests,
            period: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s".to_string(),
            60 => "min".to_string(),
            3_600 => "h".to_string(),
            86_400 => "day".to_string(),
            n => format!("{n}s"),
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

/// HTTPS served by Zhiku itself (rustls). Empty `cert`: plain HTTP (behind a proxy that does
/// TLS, or on a trusted network).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's certificate first.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM certificates of the authorities whose client certificates are accepted. Set: every
    /// connection must present a certificate they signed (mutual TLS).
    pub client_ca: String,
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        !self.cert.trim().is_empty()
    }
}

/// Identifiers removed from questions before they reach a model, a log or the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Replace patient identifiers (resident ID numbers, phone numbers, record numbers,
    /// e-mail addresses, dates of birth) by placeholders in every question.
    pub redact_identifiers: bool,
    /// A hospital's own record-number formats, as regular expressions; a group named `id`
    /// marks the part to replace (e.g. `ZY\d{8}` or `(?:床旁号)(?P<id>\d{6})`).
    pub record_patterns: Vec<String>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            redact_identifiers: true,
            record_patterns: Vec::new(),
        }
    }
}

/// The clinicians' API, its audit trail and the CDS Hooks service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClinicalConfig {
    /// Keep each clinical question's text (after redaction) in its audit record; off: only a
    /// salted hash of it.
    pub audit_question_text: bool,
    /// This instance's name in audit records (`AuditEvent.source.observer`); empty: the host
    /// name.
    pub instance: String,
    /// The address hospital systems reach this server by (`https://zhiku.hospital.example`),
    /// for links in CDS cards and the expected `aud` of CDS clients' tokens; empty: taken from
    /// the request's `Host` header.
    pub public_url: String,
    /// EMRs allowed to call the CDS Hooks service, each identified by its signed JWT.
    pub cds_clients: Vec<CdsClient>,
}

/// A CDS client: its JWT issuer and where its public keys are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdsClient {
    /// The `iss` claim its tokens carry.
    pub iss: String,
    /// PEM file of its public key (EC P-256/P-384 or RSA).
    pub public_key: String,
    /// Or its JWK Set, fetched (and refreshed on an unknown `kid`).
    pub jwks_url: String,
    /// What it may read: `public`, `internal` or `restricted` (default `internal`). Any other
    /// value (`Internal`, empty) stops the configuration from loading.
    pub clearance: Classification,
}

impl Default for CdsClient {
    fn default() -> Self {
        Self {
            iss: String::new(),
            public_key: String::new(),
            jwks_url: String::new(),
            clearance: Classification::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cds_clients_clearance_is_a_level_or_the_configuration_is_refused() {
        let client = |line: &str| {
            toml::from_str::<ClinicalConfig>(&format!(
                "[[cds_clients]]\niss = \"https://emr.test\"\npublic_key = \"emr.pem\"\n{line}\n"
            ))
        };
        let default = client("").expect("no clearance: the default");
        assert_eq!(default.cds_clients[0].clearance, Classification::Internal);
        let public = client("clearance = \"public\"").expect("a level");
        assert_eq!(public.cds_clients[0].clearance, Classification::Public);
        for wrong in ["Internal", "", "internl", "secret"] {
            let err = client(&format!("clearance = \"{wrong}\""))
                .expect_err("a wrong level stops the configuration");
            assert!(err.to_string().contains("clearance"), "{wrong}: {err}");
        }
    }

    #[test]
    fn rates_read_and_print() {
        let r: RateLimit = "120/min".parse().unwrap();
        assert_eq!(r.requests, 120);
        assert_eq!(r.period, Duration::from_secs(60));
        assert_eq!(r.to_string(), "120/min");
        assert_eq!(r.replenish_interval(), Duration::from_millis(500));
        assert_eq!("5 / s".parse::<RateLimit>().unwrap().to_string(), "5/s");
        for bad in ["120", "0/min", "x/min", "10/week", "-1/s"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }
}
