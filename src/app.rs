//! The root component: one client, one session context, the router.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::client::ApiClient;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::pages::{HomePage, ItemsPage, NotFoundPage, SignInPage};
use crate::routes::Route;
use crate::session::SessionProvider;
use crate::storage::LocalTokenStore;
use crate::transport::FetchTransport;

/// The client the browser app uses: fetch, localStorage and the system clock.
pub fn browser_client() -> ApiClient {
    ApiClient::new(
        Config::from_build_env(),
        Rc::new(FetchTransport),
        Rc::new(LocalTokenStore),
        Rc::new(SystemClock),
    )
}

/// Renders the page of a route.
pub fn switch(route: Route) -> Html {
    match route {
        Route::Home => html! { <HomePage /> },
        Route::Items => html! { <ItemsPage /> },
        Route::SignIn => html! { <SignInPage /> },
        Route::NotFound => html! { <NotFoundPage /> },
    }
}

/// The whole app.
#[function_component(App)]
pub fn app() -> Html {
    let client = use_memo((), |()| browser_client());
    html! {
        <SessionProvider client={(*client).clone()}>
            <BrowserRouter>
                <Switch<Route> render={switch} />
            </BrowserRouter>
        </SessionProvider>
    }
}
