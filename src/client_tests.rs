//! The client against an in-memory simplejwt look-alike, with real concurrency on a
//! single-threaded executor (as in the browser).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;

use super::*;
use crate::core::token::decode;
use crate::core::token::tests::token_with_claims;

const START_MS: i64 = 1_800_000_000_000;
const ACCESS_LIFETIME_S: i64 = 300;
const REFRESH_LIFETIME_S: i64 = 86_400;

/// A future that is pending once, so that other tasks run while a request is "on the wire".
struct OnTheWire(bool);
impl Future for OnTheWire {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Default)]
struct ServerState {
    rotate: bool,
    issued: u32,
    live_refresh: HashSet<String>,
    blacklisted: HashSet<String>,
    live_access: HashSet<String>,
    refresh_calls: u32,
    blacklist_calls: u32,
    requests: Vec<HttpRequest>,
    /// Overrides the next refresh answer (status, body).
    refresh_fault: Option<(u16, &'static str)>,
    /// Rejects every access token, as a server with another signing key would.
    reject_all_access: bool,
    unreachable: bool,
    /// While set, requests stay on the wire until `release_held` is called.
    hold: bool,
    held: Vec<futures::channel::oneshot::Sender<()>>,
}

/// Behaves like simplejwt with ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION.
struct FakeSimplejwt {
    now_ms: Rc<Cell<i64>>,
    state: RefCell<ServerState>,
}

impl FakeSimplejwt {
    fn token(&self, kind: &str, lifetime_s: i64) -> String {
        let mut state = self.state.borrow_mut();
        state.issued += 1;
        let iat = self.now_ms.get() / 1000;
        token_with_claims(&format!(
            r#"{{"token_type":"{kind}","exp":{},"iat":{iat},"jti":"{}","user_id":"7"}}"#,
            iat + lifetime_s,
            state.issued
        ))
    }

    fn issue_pair(&self) -> (String, String) {
        let access = self.token("access", ACCESS_LIFETIME_S);
        let refresh = self.token("refresh", REFRESH_LIFETIME_S);
        let mut state = self.state.borrow_mut();
        state.live_access.insert(access.clone());
        state.live_refresh.insert(refresh.clone());
        (access, refresh)
    }

    fn unexpired(&self, token: &str) -> bool {
        crate::core::token::decode(token).is_ok_and(|info| self.now_ms.get() < info.expires_at_ms)
    }

    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let body_field = |name: &str| -> String {
            let body: serde_json::Value =
                serde_json::from_str(request.json_body.as_deref().unwrap_or("{}")).unwrap();
            body[name].as_str().unwrap_or_default().to_owned()
        };
        let reply = |status: u16, body: String| HttpResponse { status, body };
        match request.url.as_str() {
            "/auth/token/" if body_field("password") == "right" => {
                let (access, refresh) = self.issue_pair();
                reply(
                    200,
                    format!(r#"{{"refresh":"{refresh}","access":"{access}"}}"#),
                )
            }
            "/auth/token/" => reply(
                401,
                r#"{"detail":"No active account found with the given credentials"}"#.into(),
            ),
            "/auth/token/refresh/" => {
                let refresh = body_field("refresh");
                let fault = {
                    let mut state = self.state.borrow_mut();
                    state.refresh_calls += 1;
                    state.refresh_fault.take()
                };
                if let Some((status, body)) = fault {
                    return reply(status, body.into());
                }
                let valid = {
                    let state = self.state.borrow();
                    state.live_refresh.contains(&refresh) && !state.blacklisted.contains(&refresh)
                };
                if !valid || !self.unexpired(&refresh) {
                    return reply(
                        401,
                        r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#.into(),
                    );
                }
                if self.state.borrow().rotate {
                    self.state.borrow_mut().blacklisted.insert(refresh);
                    let (access, refresh) = self.issue_pair();
                    reply(
                        200,
                        format!(r#"{{"access":"{access}","refresh":"{refresh}"}}"#),
                    )
                } else {
                    let access = self.token("access", ACCESS_LIFETIME_S);
                    self.state.borrow_mut().live_access.insert(access.clone());
                    reply(200, format!(r#"{{"access":"{access}"}}"#))
                }
            }
            "/auth/token/blacklist/" => {
                let mut state = self.state.borrow_mut();
                state.blacklist_calls += 1;
                state.blacklisted.insert(body_field("refresh"));
                reply(200, "{}".into())
            }
            "/api/me/" => {
                let token = request
                    .authorization
                    .as_deref()
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .unwrap_or("");
                let known = self.state.borrow().live_access.contains(token);
                if known && self.unexpired(token) && !self.state.borrow().reject_all_access {
                    reply(200, r#"{"id":7,"username":"demo"}"#.into())
                } else {
                    reply(
                        401,
                        r#"{"detail":"Given token not valid for any token type"}"#.into(),
                    )
                }
            }
            _ => reply(404, String::new()),
        }
    }
}

struct FakeTransport(Rc<FakeSimplejwt>);
impl Transport for FakeTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<HttpResponse, Unreachable>> {
        let server = self.0.clone();
        Box::pin(async move {
            let held = {
                let mut state = server.state.borrow_mut();
                state.requests.push(request.clone());
                state.hold.then(|| {
                    let (release, wait) = futures::channel::oneshot::channel();
                    state.held.push(release);
                    wait
                })
            };
            match held {
                Some(wait) => drop(wait.await),
                None => OnTheWire(false).await,
            }
            if server.state.borrow().unreachable {
                return Err(Unreachable);
            }
            Ok(server.respond(&request))
        })
    }
}

#[derive(Default)]
struct MemoryStore(RefCell<StoredTokens>);
impl TokenStore for MemoryStore {
    fn load(&self) -> StoredTokens {
        self.0.borrow().clone()
    }
    fn save(
        &self,
        access: &str,
        refresh: &str,
        clock_offset_ms: i64,
    ) -> Result<(), StorageUnavailable> {
        *self.0.borrow_mut() = StoredTokens {
            access: Some(access.into()),
            refresh: Some(refresh.into()),
            clock_offset_ms,
        };
        Ok(())
    }
    fn clear(&self) {
        *self.0.borrow_mut() = StoredTokens::default();
    }
}

/// The local clock: the server's time plus a skew; timeouts fire only when a test says so.
struct FakeClock {
    server_now_ms: Rc<Cell<i64>>,
    skew_ms: Rc<Cell<i64>>,
    /// Waits up to the request timeout (a caller giving up) end at once when set.
    timeouts_fire: Rc<Cell<bool>>,
    /// Longer waits (the limit on a refresh's answer) end at once when set.
    long_waits_fire: Rc<Cell<bool>>,
    request_timeout_ms: u32,
}
impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.server_now_ms.get() + self.skew_ms.get()
    }
    fn sleep(&self, ms: u32) -> LocalBoxFuture<'static, ()> {
        let fires = if ms > self.request_timeout_ms {
            self.long_waits_fire.get()
        } else {
            self.timeouts_fire.get()
        };
        if fires {
            Box::pin(OnTheWire(false))
        } else {
            Box::pin(futures::future::pending())
        }
    }
}

struct Harness {
    now_ms: Rc<Cell<i64>>,
    skew_ms: Rc<Cell<i64>>,
    timeouts_fire: Rc<Cell<bool>>,
    long_waits_fire: Rc<Cell<bool>>,
    server: Rc<FakeSimplejwt>,
    store: Rc<MemoryStore>,
    client: ApiClient,
    sessions: Rc<RefCell<Vec<Session>>>,
}

impl Harness {
    fn new(rotate: bool) -> Self {
        let now_ms = Rc::new(Cell::new(START_MS));
        let server = Rc::new(FakeSimplejwt {
            now_ms: now_ms.clone(),
            state: RefCell::new(ServerState {
                rotate,
                ..ServerState::default()
            }),
        });
        let store = Rc::new(MemoryStore::default());
        let skew_ms = Rc::new(Cell::new(0));
        let timeouts_fire = Rc::new(Cell::new(false));
        let long_waits_fire = Rc::new(Cell::new(false));
        let client = Self::client_over(
            &server,
            &store,
            &now_ms,
            &skew_ms,
            [&timeouts_fire, &long_waits_fire],
        );
        let sessions = Rc::new(RefCell::new(Vec::new()));
        let seen = sessions.clone();
        client.on_session_change(move |session| seen.borrow_mut().push(session));
        Self {
            now_ms,
            skew_ms,
            timeouts_fire,
            long_waits_fire,
            server,
            store,
            client,
            sessions,
        }
    }

    fn client_over(
        server: &Rc<FakeSimplejwt>,
        store: &Rc<MemoryStore>,
        now_ms: &Rc<Cell<i64>>,
        skew_ms: &Rc<Cell<i64>>,
        [timeouts_fire, long_waits_fire]: [&Rc<Cell<bool>>; 2],
    ) -> ApiClient {
        let config = Config {
            api_base: String::new(),
            ..Config::from_build_env()
        };
        let clock = FakeClock {
            server_now_ms: now_ms.clone(),
            skew_ms: skew_ms.clone(),
            timeouts_fire: timeouts_fire.clone(),
            long_waits_fire: long_waits_fire.clone(),
            request_timeout_ms: config.request_timeout_ms,
        };
        ApiClient::new(
            config,
            Rc::new(FakeTransport(server.clone())),
            store.clone(),
            Rc::new(clock),
        )
    }

    /// A second client, created separately, over the same storage and server.
    fn another_client(&self) -> ApiClient {
        Self::client_over(
            &self.server,
            &self.store,
            &self.now_ms,
            &self.skew_ms,
            [&self.timeouts_fire, &self.long_waits_fire],
        )
    }

    /// A client on this harness's clock over another transport or store.
    fn client_with(&self, transport: Rc<dyn Transport>, store: Rc<dyn TokenStore>) -> ApiClient {
        let config = self.client.config().clone();
        let clock = FakeClock {
            server_now_ms: self.now_ms.clone(),
            skew_ms: self.skew_ms.clone(),
            timeouts_fire: self.timeouts_fire.clone(),
            long_waits_fire: self.long_waits_fire.clone(),
            request_timeout_ms: config.request_timeout_ms,
        };
        ApiClient::new(config, transport, store, Rc::new(clock))
    }

    fn signed_in(rotate: bool) -> Self {
        let harness = Self::new(rotate);
        block_on(harness.client.sign_in("demo", "right")).unwrap();
        harness
    }

    fn advance_s(&self, seconds: i64) {
        self.now_ms.set(self.now_ms.get() + seconds * 1000);
    }

    fn refresh_calls(&self) -> u32 {
        self.server.state.borrow().refresh_calls
    }

    /// Runs `n` GETs of /api/me/ at once and returns their results.  Requests are held on
    /// the wire until every caller is waiting, so all of them see the same stored state.
    fn concurrent_gets(&self, n: usize) -> Vec<Result<String, ApiError>> {
        let mut pool = LocalPool::new();
        self.server.state.borrow_mut().hold = true;
        let results = Rc::new(RefCell::new(Vec::new()));
        for _ in 0..n {
            let client = self.client.clone();
            let results = results.clone();
            pool.spawner()
                .spawn_local(async move {
                    let result = client.get("/api/me/").await;
                    results.borrow_mut().push(result);
                })
                .unwrap();
        }
        while results.borrow().len() < n {
            pool.run_until_stalled();
            let held = std::mem::take(&mut self.server.state.borrow_mut().held);
            assert!(
                !held.is_empty() || results.borrow().len() == n,
                "callers stalled with nothing on the wire"
            );
        }
        self.server.state.borrow_mut().hold = false;
        results.take()
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    LocalPool::new().run_until(future)
}

#[test]
fn without_tokens_no_request_carries_credentials() {
    let h = Harness::new(true);
    assert_eq!(
        block_on(h.client.get("/api/me/")),
        Err(ApiError::SessionEnded)
    );
    assert!(h.server.state.borrow().requests.is_empty());
    assert_eq!(h.client.session(), Session::Ended(EndReason::NeverStarted));
}

#[test]
fn sign_in_stores_the_pair_and_calls_carry_the_bearer_token() {
    let h = Harness::signed_in(true);
    assert_eq!(
        h.client.session(),
        Session::Active {
            user_id: Some("7".into())
        }
    );
    assert_eq!(
        h.sessions.borrow().last(),
        Some(&Session::Active {
            user_id: Some("7".into())
        })
    );
    assert_eq!(
        block_on(h.client.get("/api/me/")).unwrap(),
        r#"{"id":7,"username":"demo"}"#
    );
    let access = h.store.load().access.unwrap();
    let last = h.server.state.borrow().requests.last().cloned().unwrap();
    assert_eq!(last.authorization, Some(format!("Bearer {access}")));
    assert_eq!(h.refresh_calls(), 0);
}

#[test]
fn wrong_password_is_invalid_credentials_and_stores_nothing() {
    let h = Harness::new(true);
    assert_eq!(
        block_on(h.client.sign_in("demo", "wrong")),
        Err(SignInError::InvalidCredentials)
    );
    assert_eq!(h.store.load(), StoredTokens::default());
}

#[test]
fn concurrent_callers_at_expiry_share_one_refresh() {
    let h = Harness::signed_in(true);
    let old_refresh = h.store.load().refresh;
    h.advance_s(ACCESS_LIFETIME_S + 1);
    let results = h.concurrent_gets(25);
    assert_eq!(results.len(), 25);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(h.refresh_calls(), 1);
    assert_ne!(
        h.store.load().refresh,
        old_refresh,
        "the rotated refresh token is stored"
    );
    assert!(matches!(h.client.session(), Session::Active { .. }));
}

#[test]
fn rounds_of_expiry_never_sign_the_user_out() {
    let h = Harness::signed_in(true);
    for round in 1..=20 {
        h.advance_s(ACCESS_LIFETIME_S + 1);
        let results = h.concurrent_gets(20);
        assert!(
            results.iter().all(Result::is_ok),
            "round {round}: {results:?}"
        );
        assert_eq!(h.refresh_calls(), round);
    }
    assert!(!h
        .sessions
        .borrow()
        .iter()
        .any(|s| matches!(s, Session::Ended(_))));
}

#[test]
fn rotation_off_keeps_the_current_refresh_token() {
    let h = Harness::signed_in(false);
    let before = h.store.load();
    h.advance_s(ACCESS_LIFETIME_S + 1);
    let results = h.concurrent_gets(5);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(h.refresh_calls(), 1);
    let after = h.store.load();
    assert_eq!(after.refresh, before.refresh);
    assert_ne!(after.access, before.access);
}

#[test]
fn a_refresh_answered_401_ends_the_session_once() {
    let h = Harness::signed_in(true);
    h.server.state.borrow_mut().refresh_fault = Some((401, r#"{"detail":"Token is blacklisted"}"#));
    h.advance_s(ACCESS_LIFETIME_S + 1);
    let results = h.concurrent_gets(10);
    assert!(
        results.iter().all(|r| *r == Err(ApiError::SessionEnded)),
        "{results:?}"
    );
    assert_eq!(h.refresh_calls(), 1);
    assert_eq!(h.store.load(), StoredTokens::default());
    let first_end = h
        .sessions
        .borrow()
        .iter()
        .find(|s| matches!(s, Session::Ended(_)))
        .cloned();
    assert_eq!(first_end, Some(Session::Ended(EndReason::Expired)));
}

#[test]
fn server_faults_on_refresh_keep_the_session() {
    for (status, body) in [
        (500, ""),
        (502, "<html><body>Bad gateway</body></html>"),
        (200, "{}"),
    ] {
        let h = Harness::signed_in(true);
        let tokens = h.store.load();
        h.server.state.borrow_mut().refresh_fault = Some((status, body));
        h.advance_s(ACCESS_LIFETIME_S + 1);
        let error = block_on(h.client.get("/api/me/")).unwrap_err();
        assert_ne!(error, ApiError::SessionEnded, "status {status}");
        assert_eq!(h.store.load(), tokens, "tokens kept after {status}");
        // The next action recovers.
        assert!(block_on(h.client.get("/api/me/")).is_ok());
    }
}

#[test]
fn an_unreachable_server_keeps_the_session() {
    let h = Harness::signed_in(true);
    let tokens = h.store.load();
    h.advance_s(ACCESS_LIFETIME_S + 1);
    h.server.state.borrow_mut().unreachable = true;
    assert_eq!(
        block_on(h.client.get("/api/me/")),
        Err(ApiError::Unreachable)
    );
    assert_eq!(h.store.load(), tokens);
    h.server.state.borrow_mut().unreachable = false;
    assert!(block_on(h.client.get("/api/me/")).is_ok());
}

#[test]
fn an_api_401_refreshes_and_retries_once_then_ends_the_session() {
    let h = Harness::signed_in(true);
    h.server.state.borrow_mut().reject_all_access = true;
    let results = h.concurrent_gets(4);
    assert!(
        results.iter().all(|r| *r == Err(ApiError::SessionEnded)),
        "{results:?}"
    );
    assert_eq!(
        h.refresh_calls(),
        1,
        "siblings rejected together share one refresh"
    );
    assert_eq!(h.store.load(), StoredTokens::default());
}

#[test]
fn an_api_401_on_a_token_the_client_thought_valid_recovers_with_one_refresh() {
    let h = Harness::signed_in(true);
    // The server forgets the access token (as after a signing-key change) but the refresh stays good.
    h.server.state.borrow_mut().live_access.clear();
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(h.refresh_calls(), 1);
}

#[test]
fn an_expired_refresh_token_ends_the_session_without_asking_the_server() {
    let h = Harness::signed_in(true);
    h.advance_s(REFRESH_LIFETIME_S + 1);
    assert_eq!(
        block_on(h.client.get("/api/me/")),
        Err(ApiError::SessionEnded)
    );
    assert_eq!(h.refresh_calls(), 0);
    assert_eq!(
        h.sessions.borrow().last(),
        Some(&Session::Ended(EndReason::Expired))
    );
}

#[test]
fn sign_out_erases_tokens_then_blacklists_even_if_that_fails() {
    let h = Harness::signed_in(true);
    let refresh = h.store.load().refresh.unwrap();
    block_on(h.client.sign_out());
    assert_eq!(h.store.load(), StoredTokens::default());
    assert!(h.server.state.borrow().blacklisted.contains(&refresh));
    assert_eq!(
        h.sessions.borrow().last(),
        Some(&Session::Ended(EndReason::SignedOut))
    );

    let h = Harness::signed_in(true);
    h.server.state.borrow_mut().unreachable = true;
    block_on(h.client.sign_out());
    assert_eq!(h.store.load(), StoredTokens::default());
    assert_eq!(h.client.session(), Session::Ended(EndReason::NeverStarted));
}

#[test]
fn a_refresh_finishing_after_sign_out_does_not_bring_the_session_back() {
    let h = Harness::signed_in(true);
    h.advance_s(ACCESS_LIFETIME_S + 1);
    let mut pool = LocalPool::new();
    let client = h.client.clone();
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    pool.spawner()
        .spawn_local(async move { *slot.borrow_mut() = Some(client.get("/api/me/").await) })
        .unwrap();
    h.server.state.borrow_mut().hold = true;
    pool.run_until_stalled();
    assert_eq!(
        h.server.state.borrow().held.len(),
        1,
        "the refresh is on the wire"
    );
    h.store.clear(); // sign-out (here or in another tab) meanwhile
    h.server.state.borrow_mut().held.clear();
    pool.run();
    assert_eq!(result.take(), Some(Err(ApiError::SessionEnded)));
    assert_eq!(h.store.load(), StoredTokens::default());
}

#[test]
fn credentials_never_go_outside_the_api_base() {
    let h = Harness::signed_in(true);
    for url in [
        "https://evil.example/steal",
        "http://127.0.0.1:9/other-origin",
    ] {
        let _ = block_on(h.client.get(url));
        let last = h.server.state.borrow().requests.last().cloned().unwrap();
        assert_eq!(last.url, url);
        assert_eq!(last.authorization, None, "no token to {url}");
    }
    let before = h.server.state.borrow().requests.len();
    for invalid in ["//evil.example/steal", "relative", "javascript:alert(1)"] {
        assert_eq!(block_on(h.client.get(invalid)), Err(ApiError::NotAnApiPath));
    }
    assert_eq!(h.server.state.borrow().requests.len(), before);
}

#[test]
fn two_separately_created_clients_share_one_refresh() {
    let h = Harness::signed_in(true);
    let other = h.another_client();
    h.advance_s(ACCESS_LIFETIME_S + 1);
    let mut pool = LocalPool::new();
    h.server.state.borrow_mut().hold = true;
    let results = Rc::new(RefCell::new(Vec::new()));
    for client in [h.client.clone(), other.clone(), h.client.clone(), other] {
        let results = results.clone();
        pool.spawner()
            .spawn_local(async move {
                let result = client.get("/api/me/").await;
                results.borrow_mut().push(result);
            })
            .unwrap();
    }
    while results.borrow().len() < 4 {
        pool.run_until_stalled();
        h.server.state.borrow_mut().held.clear();
    }
    assert!(
        results.borrow().iter().all(Result::is_ok),
        "{:?}",
        results.borrow()
    );
    assert_eq!(h.refresh_calls(), 1);
}

#[test]
fn a_skewed_client_clock_keeps_the_session_with_one_refresh_per_lifetime() {
    for skew_s in [-600, -120, 120, 600] {
        let h = Harness::new(true);
        h.skew_ms.set(skew_s * 1000);
        block_on(h.client.sign_in("demo", "right")).unwrap();
        // Ten access lifetimes of calls every 10 s (server time).
        for _ in 0..(10 * ACCESS_LIFETIME_S / 10) {
            h.advance_s(10);
            assert!(
                block_on(h.client.get("/api/me/")).is_ok(),
                "skew {skew_s} s"
            );
        }
        let refreshes = h.refresh_calls();
        assert!(
            (9..=11).contains(&refreshes),
            "skew {skew_s} s: {refreshes} refreshes"
        );
        assert!(
            matches!(h.client.session(), Session::Active { .. }),
            "skew {skew_s} s"
        );
    }
}

#[test]
fn a_client_clock_ahead_by_more_than_the_refresh_lifetime_still_keeps_the_session() {
    let h = Harness::new(true);
    h.skew_ms.set((REFRESH_LIFETIME_S + 3_600) * 1000);
    block_on(h.client.sign_in("demo", "right")).unwrap();
    assert!(matches!(h.client.session(), Session::Active { .. }));
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(
        h.refresh_calls(),
        0,
        "a fresh token is not refreshed because the clock is odd"
    );
}

#[test]
fn a_hanging_refresh_times_out_for_callers_but_its_answer_is_kept() {
    let h = Harness::signed_in(true);
    h.advance_s(ACCESS_LIFETIME_S + 1);
    h.server.state.borrow_mut().hold = true;
    h.timeouts_fire.set(true);
    let mut pool = LocalPool::new();
    let result = Rc::new(RefCell::new(None));
    let slot = result.clone();
    let client = h.client.clone();
    pool.spawner()
        .spawn_local(async move { *slot.borrow_mut() = Some(client.get("/api/me/").await) })
        .unwrap();
    pool.run_until_stalled();
    assert_eq!(
        result.take(),
        Some(Err(ApiError::Unreachable)),
        "the caller gave up"
    );
    assert_eq!(h.refresh_calls(), 0, "the refresh is still on the wire");
    let old = h.store.load();

    // The server answers late; the background refresh (which waits without a timeout)
    // picks the answer up, so the rotated token is not lost.
    h.timeouts_fire.set(false);
    h.server.state.borrow_mut().hold = false;
    h.server.state.borrow_mut().held.clear();
    let client = h.client.clone();
    pool.spawner()
        .spawn_local(async move { client.refresh_if_due().await.unwrap() })
        .unwrap();
    pool.run();
    assert_eq!(h.refresh_calls(), 1);
    assert_ne!(h.store.load().refresh, old.refresh);
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(h.refresh_calls(), 1);
}

#[test]
fn the_background_refresh_is_scheduled_from_the_current_token() {
    let h = Harness::signed_in(true);
    let leeway_ms = 5_000;
    let first_due = h.client.refresh_due_in_ms().unwrap();
    assert!(
        (ACCESS_LIFETIME_S * 1000 - leeway_ms - 1_000..=ACCESS_LIFETIME_S * 1000 - leeway_ms)
            .contains(&first_due)
    );
    // Before it is due, nothing happens.
    block_on(h.client.refresh_if_due()).unwrap();
    assert_eq!(h.refresh_calls(), 0);
    // When it is due, one refresh, and the next due time comes from the new token.
    h.now_ms.set(h.now_ms.get() + first_due);
    assert_eq!(h.client.refresh_due_in_ms(), Some(0));
    block_on(h.client.refresh_if_due()).unwrap();
    assert_eq!(h.refresh_calls(), 1);
    let next_due = h.client.refresh_due_in_ms().unwrap();
    assert!(
        next_due > first_due - 2_000,
        "{next_due} follows the new token"
    );
    // A request right at the old token's expiry waits for nothing.
    h.advance_s(6);
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(h.refresh_calls(), 1);
    // Without a session there is nothing to schedule.
    block_on(h.client.sign_out());
    assert_eq!(h.client.refresh_due_in_ms(), None);
}

#[test]
fn requests_rejected_after_a_refresh_failed_share_that_failure() {
    let h = Harness::signed_in(true);
    // The server forgets the access token, and its refresh endpoint fails once.
    h.server.state.borrow_mut().live_access.clear();
    h.server.state.borrow_mut().refresh_fault = Some((500, ""));
    h.server.state.borrow_mut().hold = true;
    let mut pool = LocalPool::new();
    let results = Rc::new(RefCell::new(Vec::new()));
    for _ in 0..5 {
        let (client, results) = (h.client.clone(), results.clone());
        pool.spawner()
            .spawn_local(async move {
                let result = client.get("/api/me/").await;
                results.borrow_mut().push(result);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    let release_first = |pool: &mut LocalPool| {
        let first = h.server.state.borrow_mut().held.remove(0);
        drop(first);
        pool.run_until_stalled();
    };
    // One API answer (401) arrives: the refresh starts; then the refresh fails.
    release_first(&mut pool);
    let refresh_request = h.server.state.borrow().requests.last().cloned().unwrap();
    assert_eq!(refresh_request.url, "/auth/token/refresh/");
    h.server.state.borrow_mut().held.rotate_left(4); // the refresh answer first
    release_first(&mut pool);
    // The other four 401s arrive after the failure: no new refresh.
    while results.borrow().len() < 5 {
        release_first(&mut pool);
    }
    assert_eq!(h.refresh_calls(), 1, "no refresh storm");
    assert!(
        results
            .borrow()
            .iter()
            .all(|r| *r == Err(ApiError::ServerFault(500))),
        "{:?}",
        results.borrow()
    );
    // A request started after the failure (the user's "Try again") refreshes anew.
    h.server.state.borrow_mut().hold = false;
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(h.refresh_calls(), 2);
}

#[test]
fn api_faults_keep_the_session() {
    let h = Harness::signed_in(true);
    let tokens = h.store.load();
    h.server.state.borrow_mut().unreachable = true;
    assert_eq!(
        block_on(h.client.get("/api/me/")),
        Err(ApiError::Unreachable)
    );
    h.server.state.borrow_mut().unreachable = false;
    assert_eq!(
        block_on(h.client.get("/api/nothing-here/")),
        Err(ApiError::Refused(404))
    );
    assert_eq!(h.store.load(), tokens);
    assert!(matches!(h.client.session(), Session::Active { .. }));
}

#[test]
fn request_bodies_are_json_with_escaped_values() {
    assert_eq!(
        json_object(&[("username", "a\"b"), ("password", "p\\w")]),
        r#"{"username":"a\"b","password":"p\\w"}"#
    );
}

#[test]
fn a_corrected_client_clock_does_not_end_a_live_session() {
    let h = Harness::new(true);
    // The device clock is two days behind at sign-in (a dead battery, a restored VM) ...
    h.skew_ms.set(-2 * 86_400 * 1000);
    block_on(h.client.sign_in("demo", "right")).unwrap();
    assert!(matches!(h.client.session(), Session::Active { .. }));
    // ... and is then corrected, while the refresh token still has most of a day.
    h.skew_ms.set(0);
    h.advance_s(60);
    assert!(
        matches!(h.client.session(), Session::Active { .. }),
        "{:?}",
        h.client.session()
    );
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert_eq!(h.refresh_calls(), 1, "the server is asked, and says yes");
}

#[test]
fn a_padded_stored_token_never_reaches_the_authorization_header() {
    let pads: [fn(&str) -> String; 3] = [
        |t| format!("\n{t}"),
        |t| format!("\r\n{t}"),
        |t| format!("{t}\u{2028}"),
    ];
    for pad in pads {
        let h = Harness::signed_in(true);
        let mut stored = h.store.load();
        stored.access = stored.access.as_deref().map(pad);
        *h.store.0.borrow_mut() = stored;
        assert!(block_on(h.client.get("/api/me/")).is_ok());
        for request in &h.server.state.borrow().requests {
            if let Some(header) = &request.authorization {
                assert!(
                    header.chars().all(|c| c.is_ascii_graphic() || c == ' '),
                    "{header:?}"
                );
            }
        }
        assert_eq!(
            h.refresh_calls(),
            1,
            "an unreadable access token is replaced"
        );
    }
}

#[test]
fn a_refresh_that_never_answers_is_given_up_so_the_session_recovers() {
    let h = Harness::signed_in(true);
    h.advance_s(ACCESS_LIFETIME_S + 1);
    h.timeouts_fire.set(true);
    h.long_waits_fire.set(true);
    h.server.state.borrow_mut().hold = true;
    assert_eq!(
        block_on(h.client.get("/api/me/")),
        Err(ApiError::Unreachable)
    );
    // That refresh is never answered (a stuck connection); the network is fine again.
    let _never_answered = std::mem::take(&mut h.server.state.borrow_mut().held);
    h.server.state.borrow_mut().hold = false;
    assert!(block_on(h.client.get("/api/me/")).is_ok());
    assert!(matches!(h.client.session(), Session::Active { .. }));
    assert_eq!(h.refresh_calls(), 1, "one refresh answered: the second one");
}

/// simplejwt 5.0 to 5.4 (before its PR #888) copy the sent refresh token's `iat` into the
/// access token the refresh endpoint makes.  This transport re-mints refreshed access
/// tokens that way.
struct IatCopyingTransport(Rc<FakeSimplejwt>);

impl Transport for IatCopyingTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<HttpResponse, Unreachable>> {
        let server = self.0.clone();
        let answer = FakeTransport(server.clone()).send(request.clone());
        Box::pin(async move {
            let mut response = answer.await?;
            if request.url == "/auth/token/refresh/" && response.status == 200 {
                let sent: serde_json::Value =
                    serde_json::from_str(request.json_body.as_deref().unwrap()).unwrap();
                let sent_iat_s = decode(sent["refresh"].as_str().unwrap())
                    .unwrap()
                    .issued_at_ms
                    .unwrap()
                    / 1000;
                let mut body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
                let exp_s = decode(body["access"].as_str().unwrap())
                    .unwrap()
                    .expires_at_ms
                    / 1000;
                let old_style = token_with_claims(&format!(
                    r#"{{"token_type":"access","exp":{exp_s},"iat":{sent_iat_s},"jti":"copied{exp_s}","user_id":"7"}}"#
                ));
                server
                    .state
                    .borrow_mut()
                    .live_access
                    .insert(old_style.clone());
                body["access"] = serde_json::Value::String(old_style);
                response.body = body.to_string();
            }
            Ok(response)
        })
    }
}

#[test]
fn access_tokens_with_a_copied_iat_are_still_refreshed_before_expiry() {
    for rotate in [true, false] {
        let h = Harness::new(rotate);
        let client = h.client_with(
            Rc::new(IatCopyingTransport(h.server.clone())),
            h.store.clone(),
        );
        block_on(client.sign_in("demo", "right")).unwrap();
        // At expiry: one refresh on the request path; the new access token lives 300 s.
        h.advance_s(ACCESS_LIFETIME_S + 1);
        assert!(block_on(client.get("/api/me/")).is_ok());
        assert_eq!(h.refresh_calls(), 1, "rotate {rotate}");
        for round in 2..=4 {
            // 4 s before the new token's exp the background refresh is due ...
            h.advance_s(ACCESS_LIFETIME_S - 4);
            assert_eq!(client.refresh_due_in_ms(), Some(0), "rotate {rotate}");
            // ... and a request then refreshes first instead of earning a 401.
            let before = h.server.state.borrow().requests.len();
            assert!(block_on(client.get("/api/me/")).is_ok());
            let urls: Vec<String> = h.server.state.borrow().requests[before..]
                .iter()
                .map(|request| request.url.clone())
                .collect();
            assert_eq!(
                urls,
                ["/auth/token/refresh/", "/api/me/"],
                "rotate {rotate}"
            );
            assert_eq!(h.refresh_calls(), round, "rotate {rotate}");
        }
    }
}

/// A browser that refuses to store anything (site data blocked, quota used up).
struct RefusingStore;

impl TokenStore for RefusingStore {
    fn load(&self) -> StoredTokens {
        StoredTokens::default()
    }
    fn save(&self, _: &str, _: &str, _: i64) -> Result<(), StorageUnavailable> {
        Err(StorageUnavailable)
    }
    fn clear(&self) {}
}

#[test]
fn a_sign_in_the_browser_cannot_store_says_so() {
    let h = Harness::new(true);
    let client = h.client_with(
        Rc::new(FakeTransport(h.server.clone())),
        Rc::new(RefusingStore),
    );
    assert_eq!(
        block_on(client.sign_in("demo", "right")),
        Err(SignInError::StorageUnavailable)
    );
    assert_eq!(client.session(), Session::Ended(EndReason::NeverStarted));
}
