//! Login throttling: too many failures for one username, or from one client address,
//! within a window gets 429 with `Retry-After`. Kept in memory: each process throttles
//! on its own, which bounds guessing per process without a round trip per attempt.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    window: Duration,
    per_username: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(Duration::from_secs(15 * 60), 5, 30)
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, per_username: usize, per_address: usize) -> Self {
        LoginLimiter {
            window,
            per_username,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, address: &str) -> [(String, bool); 2] {
        [
            (format!("u:{}", username.to_lowercase()), true),
            (format!("a:{address}"), false),
        ]
    }

    /// `Some(seconds)` when the caller must wait before trying again.
    pub fn retry_after(&self, username: &str, address: &str) -> Option<u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().ok()?;
        let mut wait: Option<Duration> = None;
        for (key, is_user) in Self::keys(username, address) {
            let limit = if is_user {
                self.per_username
            } else {
                self.per_address
            };
            if let Some(q) = map.get_mut(&key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                if q.len() >= limit
                    && let Some(oldest) = q.front()
                {
                    let w = self.window.saturating_sub(now.duration_since(*oldest));
                    wait = Some(wait.map_or(w, |x| x.max(w)));
                }
            }
        }
        wait.map(|w| w.as_secs().max(1))
    }

    pub fn record_failure(&self, username: &str, address: &str) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                map.clear();
            }
            for (key, _) in Self::keys(username, address) {
                let q = map.entry(key).or_default();
                q.push_back(now);
                if q.len() > 1000 {
                    q.pop_front();
                }
            }
        }
    }

    /// A successful login clears the username's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("u:{}", username.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_and_address_limits_apply_separately() {
        let l = LoginLimiter::new(Duration::from_secs(60), 3, 5);
        for _ in 0..3 {
            assert_eq!(l.retry_after("Anna", "1.1.1.1"), None);
            l.record_failure("anna", "1.1.1.1");
        }
        assert!(l.retry_after("anna", "2.2.2.2").is_some(), "username limit");
        assert_eq!(l.retry_after("bob", "2.2.2.2"), None);
        l.record_failure("bob", "1.1.1.1");
        l.record_failure("carl", "1.1.1.1");
        assert!(l.retry_after("dave", "1.1.1.1").is_some(), "address limit");
        l.record_success("anna");
        assert_eq!(l.retry_after("anna", "3.3.3.3"), None);
    }

    #[test]
    fn failures_expire_with_the_window() {
        let l = LoginLimiter::new(Duration::from_millis(50), 1, 10);
        l.record_failure("x", "a");
        assert!(l.retry_after("x", "a").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(l.retry_after("x", "a"), None);
    }
}
