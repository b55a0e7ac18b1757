//! The app's routes.

use yew_router::prelude::*;

/// Every page of the app.
#[derive(Routable, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Protected home: who is signed in.
    #[at("/")]
    Home,
    /// Protected list of items.
    #[at("/items")]
    Items,
    /// The sign-in form.
    #[at("/signin")]
    SignIn,
    /// Anything else.
    #[not_found]
    #[at("/404")]
    NotFound,
}
