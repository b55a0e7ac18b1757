//! The one module that touches browser storage: the token pair in localStorage.

use gloo_storage::{LocalStorage, Storage};

use crate::client::TokenStore;
use crate::core::plan::StoredTokens;

/// localStorage key of the access token.
pub const ACCESS_KEY: &str = "yew-simplejwt.access";
/// localStorage key of the refresh token.
pub const REFRESH_KEY: &str = "yew-simplejwt.refresh";

/// Tokens in localStorage, as plain strings under namespaced keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalTokenStore;

fn read(key: &str) -> Option<String> {
    let raw = LocalStorage::raw().get_item(key).ok().flatten()?;
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
        }
    }

    fn save(&self, access: &str, refresh: &str) {
        let storage = LocalStorage::raw();
        // Both writes happen in one synchronous turn, so no other tab reads between them.
        // If a write fails (quota, private mode) the access token is dropped rather than
        // left beside a refresh token from another response; the next request refreshes.
        if storage.set_item(REFRESH_KEY, refresh).is_err()
            || storage.set_item(ACCESS_KEY, access).is_err()
        {
            let _ = storage.remove_item(ACCESS_KEY);
        }
    }

    fn clear(&self) {
        let storage = LocalStorage::raw();
        let _ = storage.remove_item(ACCESS_KEY);
        let _ = storage.remove_item(REFRESH_KEY);
    }
}
