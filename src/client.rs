//! The API client service shared by every page.
//!
//! It owns the session's tokens: it reads them from storage before each request (so a
//! sign-in or refresh in another tab is seen at once), adds the `Authorization` header,
//! refreshes before or when the access token expires, and ends the session only when
//! the server says the refresh token is no good.  The browser is reached only through
//! the [`Transport`], [`TokenStore`] and [`Clock`] seams, so all of this runs, with
//! fakes, under host `cargo test`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use futures::future::{select, Either, FutureExt, LocalBoxFuture, Shared};
use serde::de::DeserializeOwned;

use crate::config::{Config, Destination};
use crate::core::plan::{
    clock_offset_for_pair, live_refresh, plan, refresh_due_in_ms, session_user, usable_access,
    NoSession, Plan, StoredTokens,
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

/// The browser would not store the tokens (site data blocked, storage full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageUnavailable;

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

/// The work of one refresh: resolves to the access token to use.
pub type RefreshWork = LocalBoxFuture<'static, Result<String, ApiError>>;

/// Persists the token pair.  The browser implementation uses localStorage.
pub trait TokenStore {
    /// Reads whatever is stored; never fails (unreadable storage reads as empty).
    fn load(&self) -> StoredTokens;
    /// Stores a pair and the clock offset learnt with it.  Both tokens always come from
    /// the same server response.  On failure no access token is left stored.
    fn save(
        &self,
        access: &str,
        refresh: &str,
        clock_offset_ms: i64,
    ) -> Result<(), StorageUnavailable>;
    /// Erases both tokens.
    fn clear(&self);
    /// Runs a refresh while holding a lock shared by every tab of this origin, so two
    /// tabs never send the same refresh token (the second would be blacklisted).  The
    /// default runs it as is, for stores no other tab can see.
    fn exclusive(&self, refresh: RefreshWork) -> RefreshWork {
        refresh
    }
}

/// Tells the time and waits.
pub trait Clock {
    /// Milliseconds since the Unix epoch, by the local clock (which may be wrong).
    fn now_ms(&self) -> i64;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u32) -> LocalBoxFuture<'static, ()>;
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

/// How many request timeouts a refresh waits for its answer before it counts as failed.
const REFRESH_PATIENCE: u32 = 8;

type SharedRefresh = Shared<RefreshWork>;
type SessionListener = Rc<dyn Fn(Session)>;

/// A refresh of one refresh token, shared by everyone who needs it.
struct RefreshEntry {
    token: String,
    refresh: SharedRefresh,
    /// The number of the failure, when the refresh failed (see [`REFRESH_FAILURES`]);
    /// successful refreshes leave the registry at once.
    failure: Rc<Cell<Option<u64>>>,
}

thread_local! {
    /// The refreshes of this page, by the refresh token they send.  Every caller that
    /// needs a new access token joins the one for its token, even from a separately
    /// created client: with rotation + blacklisting a second refresh with the same token
    /// is answered "Token is blacklisted" and would end the session.  A failed refresh
    /// stays here so that requests already under way when it failed share its failure
    /// instead of each trying again.
    static REFRESHES: RefCell<Vec<RefreshEntry>> = const { RefCell::new(Vec::new()) };
    /// How many refreshes have failed in this page: requests note it when they start, to
    /// tell whether a failure happened while they were under way.
    static REFRESH_FAILURES: Cell<u64> = const { Cell::new(0) };
}

struct Inner {
    config: Config,
    transport: Rc<dyn Transport>,
    store: Rc<dyn TokenStore>,
    clock: Rc<dyn Clock>,
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
                listener: RefCell::new(None),
            }),
        }
    }

    /// Waits `ms` milliseconds on the client's clock.
    pub fn sleep(&self, ms: u32) -> LocalBoxFuture<'static, ()> {
        self.inner.clock.sleep(ms)
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

    /// The server's time as far as we can tell: the local clock corrected by the offset
    /// learnt from the last tokens.
    fn server_now_ms(&self, stored: &StoredTokens) -> i64 {
        self.inner
            .clock
            .now_ms()
            .saturating_add(stored.clock_offset_ms)
    }

    /// Stores a pair with the clock offset learnt from it.  `replaced`: the refresh token
    /// a refresh sent and the offset kept so far (`None` for a sign-in).
    fn save_tokens(
        &self,
        access: &str,
        refresh: &str,
        replaced: Option<(&str, i64)>,
    ) -> Result<(), StorageUnavailable> {
        let local_now = self.inner.clock.now_ms();
        let offset = clock_offset_for_pair(access, refresh, replaced, local_now);
        self.inner.store.save(access, refresh, offset)
    }

    /// Gives up waiting for `work` after the configured request timeout.
    async fn within_timeout<T>(
        &self,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let timeout = self.inner.clock.sleep(self.inner.config.request_timeout_ms);
        match select(Box::pin(work), timeout).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => Err(ApiError::Unreachable),
        }
    }

    /// Sends a request, giving up after the configured timeout.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ApiError> {
        let response = self.inner.transport.send(request);
        self.within_timeout(async { response.await.map_err(|Unreachable| ApiError::Unreachable) })
            .await
    }

    /// The session as storage has it now: active while the refresh token is alive.
    pub fn session(&self) -> Session {
        let stored = self.inner.store.load();
        match live_refresh(&stored, self.server_now_ms(&stored)) {
            Ok(_) => Session::Active {
                user_id: session_user(&stored),
            },
            Err(reason) => Session::Ended(reason.into()),
        }
    }

    fn end_session(&self, reason: EndReason) {
        self.inner.store.clear();
        self.notify(Session::Ended(reason));
    }

    /// Signs in with a username and password; on success the tokens are stored and the
    /// session becomes active.  Nothing is stored unless the answer holds both tokens.
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
            .send(request)
            .await
            .map_err(|_| SignInError::Unreachable)?;
        let pair = interpret_obtain(response.status, &response.body)?;
        if self.save_tokens(&pair.access, &pair.refresh, None).is_err() {
            // Nothing half-way: no session rather than one that cannot be kept.
            self.inner.store.clear();
            return Err(SignInError::StorageUnavailable);
        }
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
            let request = HttpRequest {
                method: Method::Post,
                url,
                authorization: None,
                json_body: Some(json_object(&[("refresh", &refresh)])),
            };
            // Ignored on purpose: the local session is already gone either way.
            let _ = self.send(request).await;
        }
    }

    /// GETs an API path (e.g. `/api/me/`) with the session's credentials and returns the
    /// body.  An absolute URL outside the configured API is fetched without credentials.
    pub async fn get(&self, path_or_url: &str) -> Result<String, ApiError> {
        let url = match self.inner.config.destination(path_or_url) {
            Destination::Api(url) => url,
            Destination::Elsewhere(url) => return self.get_anonymous(url).await,
            Destination::Invalid => return Err(ApiError::NotAnApiPath),
        };
        let started_at = REFRESH_FAILURES.with(Cell::get);
        let access = self.access_token().await?;
        match self.send_authorized(&url, &access).await? {
            ApiOutcome::Body(body) => Ok(body),
            ApiOutcome::Failed(error) => Err(error),
            ApiOutcome::Unauthorized => {
                // The server disagrees with our view of the token (clock skew, LEEWAY,
                // a rotated signing key): get a new one and retry exactly once.
                let access = self.access_after_rejection(&access, started_at).await?;
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

    async fn get_anonymous(&self, url: String) -> Result<String, ApiError> {
        let request = HttpRequest {
            method: Method::Get,
            url,
            authorization: None,
            json_body: None,
        };
        let response = self.send(request).await?;
        match interpret_api(response.status, response.body) {
            ApiOutcome::Body(body) => Ok(body),
            ApiOutcome::Unauthorized => Err(ApiError::Refused(401)),
            ApiOutcome::Failed(error) => Err(error),
        }
    }

    async fn send_authorized(&self, url: &str, access: &str) -> Result<ApiOutcome, ApiError> {
        let request = HttpRequest {
            method: Method::Get,
            url: url.to_owned(),
            authorization: Some([self.inner.config.auth_scheme, " ", access].concat()),
            json_body: None,
        };
        let response = self.send(request).await?;
        Ok(interpret_api(response.status, response.body))
    }

    /// How long (local milliseconds) until the access token should be refreshed: the
    /// background refresh sleeps this long.  `None` without a live session.  Computed
    /// from the stored token each time, so it follows every refresh and page load.
    pub fn refresh_due_in_ms(&self) -> Option<i64> {
        let stored = self.inner.store.load();
        refresh_due_in_ms(&stored, self.server_now_ms(&stored))
    }

    /// Refreshes when the access token is expired or about to; does nothing otherwise.
    /// Waits for the refresh however long it takes (it runs in the background).
    pub async fn refresh_if_due(&self) -> Result<(), ApiError> {
        let stored = self.inner.store.load();
        match plan(&stored, self.server_now_ms(&stored)) {
            Plan::UseAccess(_) => Ok(()),
            Plan::Refresh(refresh) => self.shared_refresh(refresh, None).await.map(drop),
            Plan::SignedOut(reason) => {
                self.end_session(reason.into());
                Err(ApiError::SessionEnded)
            }
        }
    }

    /// An access token good to send now, refreshing first when needed.
    async fn access_token(&self) -> Result<String, ApiError> {
        let stored = self.inner.store.load();
        match plan(&stored, self.server_now_ms(&stored)) {
            Plan::UseAccess(access) => Ok(access),
            // Only this request gives up waiting after the timeout; the refresh goes on
            // and its answer is kept.
            Plan::Refresh(refresh) => {
                self.within_timeout(self.shared_refresh(refresh, None))
                    .await
            }
            Plan::SignedOut(reason) => {
                self.end_session(reason.into());
                Err(ApiError::SessionEnded)
            }
        }
    }

    /// A replacement for an access token the server just rejected, for a request that
    /// started when `started_at` refreshes had failed.  When another request already replaced the
    /// token, that one is used; when a refresh failed while this request was under way,
    /// its failure is shared rather than tried again.
    async fn access_after_rejection(
        &self,
        rejected: &str,
        started_at: u64,
    ) -> Result<String, ApiError> {
        let stored = self.inner.store.load();
        let now = self.server_now_ms(&stored);
        if let Some(access) = usable_access(&stored, now).filter(|access| *access != rejected) {
            return Ok(access.to_owned());
        }
        match live_refresh(&stored, now) {
            Ok((refresh, _)) => {
                self.within_timeout(self.shared_refresh(refresh.to_owned(), Some(started_at)))
                    .await
            }
            Err(reason) => {
                self.end_session(reason.into());
                Err(ApiError::SessionEnded)
            }
        }
    }

    /// Joins the refresh of `refresh_token` under way in this page, or starts it.  A
    /// failed refresh is joined too (its failure shared) by a request that started
    /// before it failed (`request_started_at`, a count of failures); anyone else starts
    /// a new one.
    fn shared_refresh(
        &self,
        refresh_token: String,
        request_started_at: Option<u64>,
    ) -> SharedRefresh {
        REFRESHES.with(|entries| {
            let mut entries = entries.borrow_mut();
            if let Some(index) = entries
                .iter()
                .position(|entry| entry.token == refresh_token)
            {
                let entry = &entries[index];
                let share = match (entry.failure.get(), request_started_at) {
                    (None, _) => true,
                    (Some(failure), Some(started_at)) => started_at < failure,
                    (Some(_), None) => false,
                };
                if share {
                    return entry.refresh.clone();
                }
                entries.remove(index);
            }
            let client = self.clone();
            let planned = refresh_token.clone();
            let work = self
                .inner
                .store
                .exclusive(Box::pin(async move { client.refresh_now(&planned).await }));
            let failure = Rc::new(Cell::new(None));
            let (finished, failure_number) = (refresh_token.clone(), failure.clone());
            let refresh = async move {
                let result = work.await;
                if result.is_ok() {
                    REFRESHES.with(|entries| {
                        entries.borrow_mut().retain(|entry| entry.token != finished)
                    });
                } else {
                    let number = REFRESH_FAILURES.with(|failures| {
                        failures.set(failures.get() + 1);
                        failures.get()
                    });
                    failure_number.set(Some(number));
                }
                result
            }
            .boxed_local()
            .shared();
            entries.push(RefreshEntry {
                token: refresh_token,
                refresh: refresh.clone(),
                failure,
            });
            refresh
        })
    }

    /// Sends the refresh token to the refresh endpoint, unless another tab already did.
    /// `planned` is the refresh token the callers saw when they decided to refresh.
    async fn refresh_now(&self, planned: &str) -> Result<String, ApiError> {
        let stored = self.inner.store.load();
        let now = self.server_now_ms(&stored);
        if stored.refresh.as_deref() != Some(planned) {
            // Another tab refreshed while we waited for the lock.
            if let Some(access) = usable_access(&stored, now) {
                return Ok(access.to_owned());
            }
        }
        let refresh = match live_refresh(&stored, now) {
            Ok((refresh, _)) => refresh.to_owned(),
            Err(reason) => {
                self.end_session(reason.into());
                return Err(ApiError::SessionEnded);
            }
        };
        let config = &self.inner.config;
        let url = config
            .api_url(config.refresh_path)
            .ok_or(ApiError::NotAnApiPath)?;
        let request = HttpRequest {
            method: Method::Post,
            url,
            authorization: None,
            json_body: Some(json_object(&[("refresh", &refresh)])),
        };
        // Callers stop waiting after the request timeout, but the refresh waits far longer:
        // if the server rotated the token, its answer is the only copy of the new refresh
        // token.  It does give up in the end, or one stuck connection would hold every
        // later request (and, through the lock, every tab) forever.
        let answer_limit_ms = config.request_timeout_ms.saturating_mul(REFRESH_PATIENCE);
        let response = match select(
            self.inner.transport.send(request),
            self.inner.clock.sleep(answer_limit_ms),
        )
        .await
        {
            Either::Left((response, _)) => response.map_err(|Unreachable| ApiError::Unreachable)?,
            Either::Right(((), _)) => return Err(ApiError::Unreachable),
        };

        // While we waited, the user may have signed out, or another tab refreshed: the
        // stored state is newer than our answer and wins.
        let now_stored = self.inner.store.load();
        if now_stored.refresh.as_deref() != Some(refresh.as_str()) {
            return match usable_access(&now_stored, self.server_now_ms(&now_stored)) {
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
                // If the browser will not store them, this request still gets its
                // answer; the session then lasts as long as the stored tokens do.
                let _ = self.save_tokens(
                    &access,
                    rotated.as_deref().unwrap_or(&refresh),
                    Some((&refresh, now_stored.clock_offset_ms)),
                );
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

impl From<NoSession> for EndReason {
    fn from(reason: NoSession) -> Self {
        match reason {
            NoSession::NoTokens => EndReason::NeverStarted,
            NoSession::RefreshExpired => EndReason::Expired,
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
