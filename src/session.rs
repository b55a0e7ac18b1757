//! The session context: one [`Session`] value and the one [`ApiClient`], shared by
//! every page, plus the guard that is the only place sending users to `/signin`.

use std::cell::Cell;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use yew::prelude::*;
use yew_router::prelude::*;
use yew_router::query::Raw;

use crate::client::{ApiClient, EndReason, Session};
use crate::core::next::sign_in_query;
use crate::core::response::ApiError;
use crate::routes::Route;
use crate::storage::OtherTabsWatch;

/// What every page can read: the session and the client to call the API with.
#[derive(Clone, PartialEq)]
pub struct SessionContext {
    /// The current session.
    pub session: Session,
    /// The shared API client.
    pub client: ApiClient,
}

#[derive(PartialEq)]
struct SessionState(Session);

impl Reducible for SessionState {
    type Action = Session;

    fn reduce(self: Rc<Self>, next: Session) -> Rc<Self> {
        match (&self.0, &next) {
            // Keep the first reason: requests failing after a sign-out must not turn it
            // into "expired" (which would add `next=` to the sign-in URL).
            (Session::Ended(_), Session::Ended(_)) => self,
            _ if self.0 == next => self,
            _ => Rc::new(SessionState(next)),
        }
    }
}

/// Props of [`SessionProvider`].
#[derive(Properties, PartialEq)]
pub struct SessionProviderProps {
    /// The client the whole app shares.
    pub client: ApiClient,
    /// The app.
    #[prop_or_default]
    pub children: Html,
}

/// Provides [`SessionContext`] to its children and keeps it in step with the client.
#[function_component(SessionProvider)]
pub fn session_provider(props: &SessionProviderProps) -> Html {
    let client = props.client.clone();
    // Storage is read synchronously here, so nothing renders (or redirects) before the
    // stored session is known.
    let state = use_reducer_eq({
        let client = client.clone();
        move || SessionState(client.session())
    });
    {
        let dispatcher = state.dispatcher();
        use_effect_with(client.clone(), move |client| {
            client.on_session_change({
                let dispatcher = dispatcher.clone();
                move |session| dispatcher.dispatch(session)
            });
            // A sign-out (or sign-in) in another tab shows here at once, not only at
            // this tab's next request.
            let client = client.clone();
            let watch = OtherTabsWatch::start(move || dispatcher.dispatch(client.session()));
            move || drop(watch)
        });
    }
    let active = matches!(state.0, Session::Active { .. });
    use_effect_with((client.clone(), active), |(client, active)| {
        let stopped = Rc::new(Cell::new(false));
        if *active {
            wasm_bindgen_futures::spawn_local(keep_fresh(client.clone(), stopped.clone()));
        }
        move || stopped.set(true)
    });
    let context = SessionContext {
        session: state.0.clone(),
        client,
    };
    html! {
        <ContextProvider<SessionContext> context={context}>
            { props.children.clone() }
        </ContextProvider<SessionContext>>
    }
}

/// Never check sooner than this (a server whose tokens live shorter than the leeway
/// must not make the loop spin).
const MIN_CHECK_MS: i64 = 500;
/// Never sleep longer than this before looking at the token again (a laptop that slept,
/// a clock that was changed).
const MAX_CHECK_MS: i64 = 60_000;
/// Longest wait between retries of a failed background refresh.
const MAX_BACKOFF_MS: u32 = 30_000;

/// Refreshes the session in the background shortly before the access token expires,
/// so that requests at that moment wait for nothing.  The next wake-up always comes
/// from the token stored now (after every refresh, in any tab, and after a reload), not
/// from a fixed interval.  A timer that fires late (background tab, sleep) is harmless:
/// requests refresh on their own path then.
async fn keep_fresh(client: ApiClient, stopped: Rc<Cell<bool>>) {
    let mut backoff_ms = 1_000;
    while !stopped.get() {
        let Some(due_in_ms) = client.refresh_due_in_ms() else {
            return;
        };
        let wait = due_in_ms.clamp(MIN_CHECK_MS, MAX_CHECK_MS) as u32;
        client.sleep(wait).await;
        if stopped.get() {
            return;
        }
        match client.refresh_if_due().await {
            Ok(()) => backoff_ms = 1_000,
            Err(ApiError::SessionEnded) => return,
            Err(_) => {
                // The server is unreachable or failing: keep the tokens and try again later.
                client.sleep(backoff_ms).await;
                backoff_ms = (backoff_ms * 2).min(MAX_BACKOFF_MS);
            }
        }
    }
}

/// The session context; pages are only ever rendered inside [`SessionProvider`].
#[hook]
pub fn use_session() -> Option<SessionContext> {
    use_context::<SessionContext>()
}

/// Props of [`RequireSession`].
#[derive(Properties, PartialEq)]
pub struct RequireSessionProps {
    /// The protected content.
    #[prop_or_default]
    pub children: Html,
}

/// Renders its children only while the session is active; otherwise sends the user
/// to `/signin` (with `next` set to this page, unless the user signed out on purpose).
/// This is the only place the app navigates to the sign-in page.
#[function_component(RequireSession)]
pub fn require_session(props: &RequireSessionProps) -> Html {
    let session = use_session().map(|context| context.session);
    let navigator = use_navigator();
    // The whole address within the app, so that sign-in returns to `/items?page=2` too.
    let here = use_location().map(|location| [location.path(), location.query_str()].concat());
    let ended = match &session {
        Some(Session::Active { .. }) => None,
        Some(Session::Ended(reason)) => Some(*reason),
        None => Some(EndReason::NeverStarted),
    };
    use_effect_with(ended, move |ended| {
        if let (Some(reason), Some(navigator)) = (ended, navigator) {
            let next = match reason {
                EndReason::SignedOut => None,
                EndReason::NeverStarted | EndReason::Expired => here,
            };
            // Replace, so that Back does not return to a page that would redirect again.
            let query = sign_in_query(next.as_deref());
            let _ = navigator.replace_with_query(&Route::SignIn, Raw(query.as_str()));
        }
    });
    match ended {
        None => props.children.clone(),
        Some(_) => html! {},
    }
}

/// The state of one API call made by a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    /// Waiting for the server.
    Loading,
    /// The data arrived.
    Ready(T),
    /// The call failed.
    Failed(ApiError),
}

/// GETs `path` with the shared client when the component mounts, when `generation`
/// changes and on `retry`.  While a reload is under way the previous data stays shown.
#[hook]
pub fn use_api<T>(path: AttrValue, generation: u32) -> (Rc<Loadable<T>>, Callback<()>)
where
    T: DeserializeOwned + 'static,
{
    let client = use_session().map(|context| context.client);
    let state = use_state(|| Rc::new(Loadable::Loading));
    let attempt = use_state(|| 0u32);
    {
        let state = state.clone();
        use_effect_with((path, generation, *attempt), move |(path, _, _)| {
            // Only the newest call may show its result: an older one that fails late
            // (a timeout) must not replace what a newer one already showed.
            let newest = Rc::new(Cell::new(true));
            if let Some(client) = client {
                let path = path.clone();
                let newest = newest.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let loaded = match client.get_json::<T>(&path).await {
                        Ok(value) => Loadable::Ready(value),
                        Err(error) => Loadable::Failed(error),
                    };
                    if newest.get() {
                        state.set(Rc::new(loaded));
                    }
                });
            }
            move || newest.set(false)
        });
    }
    let retry = Callback::from(move |()| attempt.set(*attempt + 1));
    ((*state).clone(), retry)
}
