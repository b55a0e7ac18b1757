//! The browser-free core: every decision the client makes, as plain functions of
//! (stored tokens, the time, a server response).  Nothing here touches the DOM, the
//! network or storage, so all of it is covered by host `cargo test`.

pub mod next;
pub mod plan;
pub mod response;
pub mod token;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties;
