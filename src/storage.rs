//! The one module that touches browser storage: the token pair in localStorage, and the
//! cross-tab lock that keeps two tabs from refreshing with the same token.
//!
//! localStorage is reached through web-sys, not gloo-storage: gloo-storage panics (which
//! kills the whole wasm app) when the browser refuses access, as it does for a user who
//! blocks site data; here that reads as "no session" and a failed save.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use crate::client::{RefreshWork, StorageUnavailable, TokenStore};
use crate::core::plan::StoredTokens;
use crate::core::response::ApiError;

/// localStorage key of the access token.
pub const ACCESS_KEY: &str = "yew-simplejwt.access";
/// localStorage key of the refresh token.
pub const REFRESH_KEY: &str = "yew-simplejwt.refresh";
/// localStorage key of the server-minus-local clock offset (milliseconds).
pub const CLOCK_OFFSET_KEY: &str = "yew-simplejwt.clock-offset";
/// Name of the Web Lock held while refreshing.
const REFRESH_LOCK: &str = "yew-simplejwt.refresh";

/// Tokens in localStorage, as plain strings under namespaced keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalTokenStore;

/// localStorage, unless the browser refuses it (site data blocked, no window).
fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn read(key: &str) -> Option<String> {
    let raw = local_storage()?.get_item(key).ok().flatten()?;
    // gloo-storage's typed API (and earlier builds) stored values JSON-quoted.
    match serde_json::from_str::<String>(&raw) {
        Ok(unquoted) => Some(unquoted),
        Err(_) => Some(raw),
    }
}

impl TokenStore for LocalTokenStore {
    fn load(&self) -> StoredTokens {
        StoredTokens {
            access: read(ACCESS_KEY),
            refresh: read(REFRESH_KEY),
            clock_offset_ms: read(CLOCK_OFFSET_KEY)
                .and_then(|offset| offset.parse().ok())
                .unwrap_or(0),
        }
    }

    fn save(
        &self,
        access: &str,
        refresh: &str,
        clock_offset_ms: i64,
    ) -> Result<(), StorageUnavailable> {
        let storage = local_storage().ok_or(StorageUnavailable)?;
        // All writes happen in one synchronous turn, so no other tab reads between them.
        // If a write fails (quota, private mode) the access token is dropped rather than
        // left beside a refresh token from another response; the next request refreshes.
        if storage.set_item(REFRESH_KEY, refresh).is_err()
            || storage.set_item(ACCESS_KEY, access).is_err()
        {
            let _ = storage.remove_item(ACCESS_KEY);
            return Err(StorageUnavailable);
        }
        let _ = storage.set_item(CLOCK_OFFSET_KEY, &clock_offset_ms.to_string());
        Ok(())
    }

    fn clear(&self) {
        let Some(storage) = local_storage() else {
            return;
        };
        for key in [ACCESS_KEY, REFRESH_KEY, CLOCK_OFFSET_KEY] {
            let _ = storage.remove_item(key);
        }
    }

    /// Runs the refresh under the Web Lock `yew-simplejwt.refresh`, which every tab of
    /// this origin shares.  Browsers without Web Locks (or pages outside a secure
    /// context) run it unlocked; the client then still re-reads storage before and after.
    fn exclusive(&self, refresh: RefreshWork) -> RefreshWork {
        let Some((locks, request)) = web_lock_request() else {
            return refresh;
        };
        let (done, result) = futures::channel::oneshot::channel();
        // Runs when the lock is granted; the lock is held until the promise settles.
        // The promise's future is driven by the browser, so the refresh completes (and
        // its tokens are stored) even if every caller has stopped waiting.
        let with_lock = Closure::once_into_js(move |_lock: JsValue| -> Promise {
            wasm_bindgen_futures::future_to_promise(async move {
                let _ = done.send(refresh.await);
                Ok(JsValue::UNDEFINED)
            })
        });
        if request
            .call2(&locks, &JsValue::from_str(REFRESH_LOCK), &with_lock)
            .is_err()
        {
            return Box::pin(async { Err(ApiError::Unreachable) });
        }
        Box::pin(async move { result.await.unwrap_or(Err(ApiError::Unreachable)) })
    }
}

/// `navigator.locks` and its `request` method, where the browser has them.
fn web_lock_request() -> Option<(JsValue, Function)> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    let request = Reflect::get(&locks, &JsValue::from_str("request"))
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    Some((locks, request))
}

/// Listens for changes another tab of this origin makes to localStorage (a sign-in, a
/// sign-out, a refresh there); the browser does not report a tab's own writes.  The
/// listener is removed when this is dropped.
pub struct OtherTabsWatch {
    window: web_sys::Window,
    listener: Closure<dyn FnMut()>,
}

impl OtherTabsWatch {
    /// Calls `on_change` after every change another tab makes.  `None` outside a window.
    pub fn start(on_change: impl FnMut() + 'static) -> Option<Self> {
        let window = web_sys::window()?;
        let listener = Closure::<dyn FnMut()>::new(on_change);
        window
            .add_event_listener_with_callback("storage", listener.as_ref().unchecked_ref())
            .ok()?;
        Some(Self { window, listener })
    }
}

impl Drop for OtherTabsWatch {
    fn drop(&mut self) {
        let _ = self
            .window
            .remove_event_listener_with_callback("storage", self.listener.as_ref().unchecked_ref());
    }
}
