//! The one clock of the app.

use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::client::Clock;

/// The browser's wall clock (`Date.now()` through chrono's `wasmbind`) and timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn sleep(&self, ms: u32) -> LocalBoxFuture<'static, ()> {
        Box::pin(yew::platform::time::sleep(Duration::from_millis(
            u64::from(ms),
        )))
    }
}
