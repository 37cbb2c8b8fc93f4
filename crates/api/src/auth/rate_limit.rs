//! Rate limiting of failed sign-ins, per account and per IP address.
//!
//! Only failures count, so a script that signs in often is never slowed down; once a key has
//! failed more often than its quota allows, every attempt with it is refused (429) until the
//! quota refills, even one with the right password, so guessing gains nothing. The counts live
//! in this process: with several instances, each enforces the quota on its own.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The failure quotas.
#[derive(Debug, Clone, Copy)]
pub struct LoginQuota {
    /// Failures allowed in a burst per account, then one more per `account_period`.
    pub account_burst: u32,
    pub account_period: Duration,
    /// The same per IP address (several accounts tried from one place).
    pub ip_burst: u32,
    pub ip_period: Duration,
}

impl Default for LoginQuota {
    fn default() -> Self {
        LoginQuota {
            account_burst: 5,
            account_period: Duration::from_secs(60),
            ip_burst: 20,
            ip_period: Duration::from_secs(10),
        }
    }
}

/// Counts failed sign-ins and refuses attempts from keys that failed too often.
pub struct LoginLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<String>,
    blocked: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
}

fn quota(burst: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period.max(Duration::from_millis(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LoginLimiter {
    pub fn new(q: LoginQuota) -> LoginLimiter {
        LoginLimiter {
            accounts: RateLimiter::keyed(quota(q.account_burst, q.account_period)),
            ips: RateLimiter::keyed(quota(q.ip_burst, q.ip_period)),
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    fn keys(account: &str, ip: Option<&str>) -> [Option<String>; 2] {
        [
            Some(format!("account:{}", account.to_lowercase())),
            ip.map(|ip| format!("ip:{ip}")),
        ]
    }

    /// Refuses an attempt while its account or IP is blocked.
    ///
    /// # Errors
    /// `RateLimited` with the seconds to wait.
    pub fn check(&self, account: &str, ip: Option<&str>) -> Result<(), ApiError> {
        let now = Instant::now();
        let Ok(blocked) = self.blocked.lock() else {
            return Ok(());
        };
        let wait = Self::keys(account, ip)
            .into_iter()
            .flatten()
            .filter_map(|key| blocked.get(&key).copied())
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(ApiError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure; blocks the keys whose quota it exhausts.
    ///
    /// # Errors
    /// `RateLimited` when this failure exhausted a quota (so the caller answers 429 at once).
    pub fn record_failure(&self, account: &str, ip: Option<&str>) -> Result<(), ApiError> {
        let [account_key, ip_key] = Self::keys(account, ip);
        let mut longest: Option<Duration> = None;
        for (limiter, key) in [(&self.accounts, account_key), (&self.ips, ip_key)] {
            let Some(key) = key else { continue };
            if let Err(not_until) = limiter.check_key(&key) {
                let wait = not_until.wait_time_from(self.clock.now());
                longest = Some(longest.map_or(wait, |l| l.max(wait)));
                if let Ok(mut blocked) = self.blocked.lock() {
                    let now = Instant::now();
                    if blocked.len() > 10_000 {
                        blocked.retain(|_, until| *until > now);
                    }
                    blocked.insert(key, now + wait);
                }
            }
        }
        match longest {
            Some(wait) => Err(ApiError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginQuota {
            account_burst: 3,
            account_period: Duration::from_secs(60),
            ip_burst: 5,
            ip_period: Duration::from_secs(60),
        })
    }

    #[test]
    fn blocks_an_account_after_its_burst() {
        let l = limiter();
        for _ in 0..3 {
            assert!(l.check("a@x.cn", Some("1.1.1.1")).is_ok());
            assert!(l.record_failure("a@x.cn", Some("1.1.1.1")).is_ok());
        }
        assert!(
            l.record_failure("A@X.CN", Some("1.1.1.1")).is_err(),
            "case-insensitive"
        );
        match l.check("a@x.cn", Some("2.2.2.2")) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("{other:?}"),
        }
        assert!(
            l.check("b@x.cn", Some("2.2.2.2")).is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn blocks_an_ip_trying_many_accounts() {
        let l = limiter();
        for i in 0..5 {
            assert!(
                l.record_failure(&format!("u{i}@x.cn"), Some("9.9.9.9"))
                    .is_ok()
            );
        }
        assert!(l.record_failure("u9@x.cn", Some("9.9.9.9")).is_err());
        assert!(l.check("fresh@x.cn", Some("9.9.9.9")).is_err());
        assert!(l.check("fresh@x.cn", Some("8.8.8.8")).is_ok());
    }
}
