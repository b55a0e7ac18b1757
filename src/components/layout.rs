use yew::prelude::*;
use yew_router::prelude::*;

use crate::routes::Route;
use crate::session::{use_api, use_session, Loadable, RequireSession};
use crate::Me;

/// Props of [`ProtectedLayout`].
#[derive(Properties, PartialEq)]
pub struct ProtectedLayoutProps {
    /// The page's heading.
    pub title: AttrValue,
    /// The page's content.
    #[prop_or_default]
    pub children: Html,
}

/// The frame of every protected page: the session guard, navigation, who is signed in
/// and the "Sign out" button.
#[function_component(ProtectedLayout)]
pub fn protected_layout(props: &ProtectedLayoutProps) -> Html {
    html! {
        <RequireSession>
            <header class="bar">
                <nav aria-label="Main">
                    <Link<Route> to={Route::Home}>{ "Home" }</Link<Route>>
                    <Link<Route> to={Route::Items}>{ "Items" }</Link<Route>>
                </nav>
                <SignedInAs />
                <SignOutButton />
            </header>
            <main>
                <h1>{ props.title.clone() }</h1>
                { props.children.clone() }
            </main>
        </RequireSession>
    }
}

#[function_component(SignedInAs)]
fn signed_in_as() -> Html {
    let (me, _) = use_api::<Me>("/api/me/".into(), 0);
    match &*me {
        Loadable::Ready(me) => {
            html! { <span class="who">{ "Signed in as " }<strong>{ me.username.clone() }</strong></span> }
        }
        _ => html! { <span class="who" /> },
    }
}

#[function_component(SignOutButton)]
fn sign_out_button() -> Html {
    let client = use_session().map(|context| context.client);
    let onclick = Callback::from(move |_| {
        if let Some(client) = client.clone() {
            wasm_bindgen_futures::spawn_local(async move { client.sign_out().await });
        }
    });
    html! { <button type="button" class="secondary" {onclick}>{ "Sign out" }</button> }
}
