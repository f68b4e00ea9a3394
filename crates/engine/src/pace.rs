//! At most once a period: for warnings that a flood (refused connections, failed
//! authentications from many addresses) must not multiply into a flood of log lines.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Says yes at most once per `every`.
pub struct Pace {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl Pace {
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
        }
    }

    /// True the first time, then again only once `every` has passed since the last yes.
    pub fn due(&self) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock();
        let due = last.is_none_or(|at| now.duration_since(at) >= self.every);
        if due {
            *last = Some(now);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_period() {
        let pace = Pace::new(Duration::from_secs(60));
        assert!(pace.due());
        assert!(!pace.due());
        let eager = Pace::new(Duration::ZERO);
        assert!(eager.due() && eager.due());
    }
}
