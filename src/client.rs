//! The API client service shared by every page.
//!
//! It owns the session's tokens: it reads them from storage before each request (so a
//! sign-in or refresh in another tab is seen at once), adds the `Authorization` header,
//! refreshes before or when the access token expires, and ends the session only when
//! the server says the refresh token is no good.  The browser is reached only through
//! the [`Transport`], [`TokenStore`] and [`Clock`] seams, so all of this runs, with
//! fakes, under host `cargo test`.

use std::cell::RefCell;
use std::rc::Rc;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::core::plan::{
    live_refresh, plan, session_user, usable_access, NoSession, Plan, StoredTokens,
};
use crate::core::response::{
    interpret_api, interpret_obtain, interpret_refresh, ApiError, ApiOutcome, RefreshOutcome,
    SignInError,
};

/// HTTP methods the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
}

/// One request for the transport to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The absolute or origin-relative URL.
    pub url: String,
    /// The full `Authorization` header value, when the request is authenticated.
    pub authorization: Option<String>,
    /// A JSON body, sent with `Content-Type: application/json`.
    pub json_body: Option<String>,
}

/// The status and body of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body as text (empty when it could not be read).
    pub body: String,
}

/// The request never got an answer (offline, connection refused, CORS, aborted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// Sends HTTP requests.  The browser implementation wraps `fetch`.
pub trait Transport {
    /// Sends `request` and resolves with the response or [`Unreachable`].
    fn send(
        &self,
        request: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<HttpResponse, Unreachable>>;
}

/// Persists the token pair.  The browser implementation uses localStorage.
pub trait TokenStore {
    /// Reads whatever is stored; never fails (unreadable storage reads as empty).
    fn load(&self) -> StoredTokens;
    /// Stores a pair.  Both tokens always come from the same server response.
    fn save(&self, access: &str, refresh: &str);
    /// Erases both tokens.
    fn clear(&self);
}

/// Tells the time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// Why a session is not (or no longer) active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// There was never a session in this browser (or its stored tokens were unreadable).
    NeverStarted,
    /// The refresh token expired or the server rejected it.
    Expired,
    /// The user signed out.
    SignedOut,
}

/// The session as the pages see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Signed in, as this user id (from the token's user id claim).
    Active {
        /// The user id claim, when the token has one.
        user_id: Option<String>,
    },
    /// Signed out.
    Ended(EndReason),
}

type SharedRefresh = Shared<LocalBoxFuture<'static, Result<String, ApiError>>>;
type SessionListener = Rc<dyn Fn(Session)>;

struct Inner {
    config: Config,
    transport: Rc<dyn Transport>,
    store: Rc<dyn TokenStore>,
    clock: Rc<dyn Clock>,
    /// The refresh request under way, which every caller that needs a new access token
    /// joins.  With rotation + blacklisting a second refresh with the same token is
    /// answered "Token is blacklisted" and would end the session.
    refresh_in_flight: RefCell<Option<SharedRefresh>>,
    listener: RefCell<Option<SessionListener>>,
}

/// A cheap, cloneable handle to the one client of the app.
#[derive(Clone)]
pub struct ApiClient {
    inner: Rc<Inner>,
}

impl PartialEq for ApiClient {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

/// Escapes `value` as a JSON string literal.
fn json_string(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A JSON object of string fields.
fn json_object(fields: &[(&str, &str)]) -> String {
    let mut body = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&json_string(key));
        body.push(':');
        body.push_str(&json_string(value));
    }
    body.push('}');
    body
}

impl ApiClient {
    /// A client over the given seams.
    pub fn new(
        config: Config,
        transport: Rc<dyn Transport>,
        store: Rc<dyn TokenStore>,
        clock: Rc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Rc::new(Inner {
                config,
                transport,
                store,
                clock,
                refresh_in_flight: RefCell::new(None),
                listener: RefCell::new(None),
            }),
        }
    }

    /// The settings this client was made with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Registers the one function told about every session change (the session context).
    pub fn on_session_change(&self, listener: impl Fn(Session) + 'static) {
        *self.inner.listener.borrow_mut() = Some(Rc::new(listener));
    }

    fn notify(&self, session: Session) {
        // Cloned out first so the listener may call back into the client.
        let listener = self.inner.listener.borrow().clone();
        if let Some(listener) = listener {
            listener(session);
        }
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The session as storage has it now: active while the refresh token is alive.
    pub fn session(&self) -> Session {
        let stored = self.inner.store.load();
        match live_refresh(&stored, self.now_ms()) {
            Ok(_) => Session::Active {
                user_id: session_user(&stored),
            },
            Err(NoSession::NoTokens) => Session::Ended(EndReason::NeverStarted),
            Err(NoSession::RefreshExpired) => Session::Ended(EndReason::Expired),
        }
    }

    fn end_session(&self, reason: EndReason) {
        self.inner.store.clear();
        self.notify(Session::Ended(reason));
    }

    /// Signs in with a username and password; on success the tokens are stored and the
    /// session becomes active.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<(), SignInError> {
        let config = &self.inner.config;
        let url = config
            .api_url(config.obtain_path)
            .ok_or(SignInError::BadResponse)?;
        let body = json_object(&[(config.username_field, username), ("password", password)]);
        let request = HttpRequest {
            method: Method::Post,
            url,
            authorization: None,
            json_body: Some(body),
        };
        let response = self
            .inner
            .transport
            .send(request)
            .await
            .map_err(|Unreachable| SignInError::Unreachable)?;
        let pair = interpret_obtain(response.status, &response.body)?;
        self.inner.store.save(&pair.access, &pair.refresh);
        self.notify(self.session());
        Ok(())
    }

    /// Signs out: the tokens are erased here first, then the refresh token is
    /// blacklisted on the server.  A failed blacklist call does not undo the sign-out.
    pub async fn sign_out(&self) {
        let stored = self.inner.store.load();
        self.end_session(EndReason::SignedOut);
        let config = &self.inner.config;
        if let (Some(refresh), Some(url)) = (stored.refresh, config.api_url(config.blacklist_path))
        {
            let body = json_object(&[("refresh", &refresh)]);
            let request = HttpRequest {
                method: Method::Post,
                url,
                authorization: None,
                json_body: Some(body),
            };
            // Ignored on purpose: the local session is already gone either way.
            let _ = self.inner.transport.send(request).await;
        }
    }

    /// GETs an API path (e.g. `/api/me/`) with the session's credentials and returns the body.
    pub async fn get(&self, path: &str) -> Result<String, ApiError> {
        let url = self
            .inner
            .config
            .api_url(path)
            .ok_or(ApiError::NotAnApiPath)?;
        let access = self.access_token().await?;
        match self.send_authorized(&url, &access).await? {
            ApiOutcome::Body(body) => Ok(body),
            ApiOutcome::Failed(error) => Err(error),
            ApiOutcome::Unauthorized => {
                // The server disagrees with our view of the token (clock skew, LEEWAY,
                // a rotated signing key): get a new one and retry exactly once.
                let access = self.access_after_rejection(&access).await?;
                match self.send_authorized(&url, &access).await? {
                    ApiOutcome::Body(body) => Ok(body),
                    ApiOutcome::Failed(error) => Err(error),
                    ApiOutcome::Unauthorized => {
                        self.end_session(EndReason::Expired);
                        Err(ApiError::SessionEnded)
                    }
                }
            }
        }
    }

    /// GETs an API path and parses the JSON body into `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let body = self.get(path).await?;
        serde_json::from_str(&body).map_err(|_| ApiError::BadResponse)
    }

    async fn send_authorized(&self, url: &str, access: &str) -> Result<ApiOutcome, ApiError> {
        let authorization = [self.inner.config.auth_scheme, " ", access].concat();
        let request = HttpRequest {
            method: Method::Get,
            url: url.to_owned(),
            authorization: Some(authorization),
            json_body: None,
        };
        let response = self
            .inner
            .transport
            .send(request)
            .await
            .map_err(|Unreachable| ApiError::Unreachable)?;
        Ok(interpret_api(response.status, response.body))
    }

    /// An access token good to send now, refreshing first when needed.
    async fn access_token(&self) -> Result<String, ApiError> {
        match plan(&self.inner.store.load(), self.now_ms()) {
            Plan::UseAccess(access) => Ok(access),
            Plan::Refresh(_) => self.shared_refresh().await,
            Plan::SignedOut(reason) => {
                self.end_session(match reason {
                    NoSession::NoTokens => EndReason::NeverStarted,
                    NoSession::RefreshExpired => EndReason::Expired,
                });
                Err(ApiError::SessionEnded)
            }
        }
    }

    /// A replacement for an access token the server just rejected.  When another
    /// request already replaced it, that token is used instead of refreshing again.
    async fn access_after_rejection(&self, rejected: &str) -> Result<String, ApiError> {
        let stored = self.inner.store.load();
        match usable_access(&stored, self.now_ms()) {
            Some(access) if access != rejected => Ok(access.to_owned()),
            _ => self.shared_refresh().await,
        }
    }

    /// Joins the refresh under way, or starts one.
    fn shared_refresh(&self) -> SharedRefresh {
        let mut slot = self.inner.refresh_in_flight.borrow_mut();
        if let Some(in_flight) = slot.as_ref() {
            return in_flight.clone();
        }
        let client = self.clone();
        let refresh = async move {
            let result = client.refresh_now().await;
            client.inner.refresh_in_flight.borrow_mut().take();
            result
        }
        .boxed_local()
        .shared();
        *slot = Some(refresh.clone());
        refresh
    }

    async fn refresh_now(&self) -> Result<String, ApiError> {
        let stored = self.inner.store.load();
        let refresh = match live_refresh(&stored, self.now_ms()) {
            Ok((refresh, _)) => refresh.to_owned(),
            Err(_) => {
                self.end_session(EndReason::Expired);
                return Err(ApiError::SessionEnded);
            }
        };
        let config = &self.inner.config;
        let url = config
            .api_url(config.refresh_path)
            .ok_or(ApiError::NotAnApiPath)?;
        let body = json_object(&[("refresh", &refresh)]);
        let request = HttpRequest {
            method: Method::Post,
            url,
            authorization: None,
            json_body: Some(body),
        };
        let response = self
            .inner
            .transport
            .send(request)
            .await
            .map_err(|Unreachable| ApiError::Unreachable)?;

        // While we waited, the user may have signed out, or another tab refreshed: the
        // stored state is newer than our answer and wins.
        let now_stored = self.inner.store.load();
        if now_stored.refresh.as_deref() != Some(refresh.as_str()) {
            return match usable_access(&now_stored, self.now_ms()) {
                Some(access) => Ok(access.to_owned()),
                None => Err(ApiError::SessionEnded),
            };
        }
        match interpret_refresh(response.status, &response.body) {
            RefreshOutcome::Renewed {
                access,
                refresh: rotated,
            } => {
                // Rotation off: the server sends no refresh token and the current one stays.
                self.inner
                    .store
                    .save(&access, rotated.as_deref().unwrap_or(&refresh));
                Ok(access)
            }
            RefreshOutcome::Rejected => {
                self.end_session(EndReason::Expired);
                Err(ApiError::SessionEnded)
            }
            RefreshOutcome::Failed(error) => Err(error),
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
