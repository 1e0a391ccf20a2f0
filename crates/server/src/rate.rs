//! Request rates: each API key's own (`zhiku keys create --rate 120/min`) and sign-in attempts
//! per address (`web.login_rate`). GCRA buckets from `governor`, in this process's memory:
//! with several replicas each enforces the rate on its own share of the traffic.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use zhiku_core::RateLimit;

use crate::error::ApiError;

fn quota(rate: RateLimit) -> Option<Quota> {
    let burst = NonZeroU32::new(rate.requests)?;
    Some(Quota::with_period(rate.replenish_interval())?.allow_burst(burst))
}

/// 429 with the seconds until the next request would pass.
fn too_many(wait: std::time::Duration, what: &str) -> ApiError {
    ApiError {
        retry_after: Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
        ..ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{what}; retry after the time in Retry-After"),
        )
    }
}

#[derive(Default)]
pub struct RateLimiters {
    /// Per key id, with the rate it was made for (a key re-made with another rate gets a
    /// fresh bucket).
    keys: Mutex<HashMap<String, (RateLimit, Arc<DefaultDirectRateLimiter>)>>,
    logins: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Per address, for callers without credentials.
    anonymous: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

impl RateLimiters {
    pub fn new(login_rate: Option<RateLimit>, anonymous_rate: Option<RateLimit>) -> Self {
        Self {
            keys: Mutex::default(),
            logins: login_rate
                .and_then(quota)
                .map(DefaultKeyedRateLimiter::keyed),
            anonymous: anonymous_rate
                .and_then(quota)
                .map(DefaultKeyedRateLimiter::keyed),
        }
    }

    /// One request without credentials from `ip` (`None`: the address is unknown, as in
    /// tests that call the router directly; such requests share one bucket).
    pub fn check_anonymous(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(l) = &self.anonymous else {
            return Ok(());
        };
        let ip = ip.unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        l.check_key(&ip).map_err(|not_until| {
            too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                "too many requests without credentials from this address: slow down, or use a key",
            )
        })
    }

    /// One request by key `id`, limited to `rate`.
    pub fn check_key(&self, id: &str, rate: RateLimit) -> Result<(), ApiError> {
        let limiter = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            match keys.get(id) {
                Some((r, l)) if *r == rate => Arc::clone(l),
                _ => {
                    let Some(q) = quota(rate) else {
                        return Ok(());
                    };
                    let l = Arc::new(DefaultDirectRateLimiter::direct(q));
                    keys.insert(id.to_string(), (rate, Arc::clone(&l)));
                    l
                }
            }
        };
        limiter.check().map_err(|not_until| {
            too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                &format!("this key may make {rate} requests"),
            )
        })
    }

    /// One sign-in attempt from `ip`.
    pub fn check_login(&self, ip: IpAddr) -> Result<(), ApiError> {
        let Some(l) = &self.logins else {
            return Ok(());
        };
        l.check_key(&ip).map_err(|not_until| {
            too_many(
                not_until.wait_time_from(DefaultClock::default().now()),
                "too many sign-in attempts from this address",
            )
        })
    }
}
