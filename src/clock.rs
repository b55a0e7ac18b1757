//! The one clock of the app.

use crate::client::Clock;

/// The browser's wall clock (`Date.now()` through chrono's `wasmbind`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}
