use web_sys::HtmlInputElement;
use yew::prelude::*;
use yew_router::prelude::*;
use yew_router::query::Raw;

use crate::client::Session;
use crate::core::next::{next_from_query, sanitize_next};
use crate::core::response::SignInError;
use crate::routes::Route;
use crate::session::use_session;

fn input_value(input: &NodeRef) -> String {
    input
        .cast::<HtmlInputElement>()
        .map(|input| input.value())
        .unwrap_or_default()
}

/// `/signin`: the username + password form.  It makes no authenticated calls.
#[function_component(SignInPage)]
pub fn sign_in_page() -> Html {
    let context = use_session();
    let signed_in = matches!(
        context.as_ref().map(|context| &context.session),
        Some(Session::Active { .. })
    );
    let client = context.map(|context| context.client);
    let navigator = use_navigator();
    let next = use_location().and_then(|location| next_from_query(location.query_str()));
    // Whether the session started here or in another tab (or was already there), the
    // user goes on to `next`.
    use_effect_with(signed_in, {
        let navigator = navigator.clone();
        let next = next.clone();
        move |signed_in| {
            if let (true, Some(navigator)) = (*signed_in, navigator) {
                let target = sanitize_next(next.as_deref(), "/signin");
                let target = target.split('#').next().unwrap_or(target);
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                let route = Route::recognize(path).unwrap_or(Route::Home);
                let _ = navigator.replace_with_query(&route, Raw(query));
            }
        }
    });
    let username = use_node_ref();
    let password = use_node_ref();
    let busy = use_state(|| false);
    let error = use_state(|| None::<SignInError>);

    let onsubmit = {
        let (username, password, busy, error) = (
            username.clone(),
            password.clone(),
            busy.clone(),
            error.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let (Some(client), false) = (client.clone(), *busy) else {
                return;
            };
            let name = input_value(&username);
            let secret = input_value(&password);
            if name.trim().is_empty() || secret.is_empty() {
                error.set(Some(SignInError::MissingFields));
                return;
            }
            busy.set(true);
            error.set(None);
            let (password, busy, error) = (password.clone(), busy.clone(), error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match client.sign_in(name.trim(), &secret).await {
                    // The session context turns active, and the effect above moves on.
                    Ok(()) => {}
                    Err(failure) => {
                        if failure == SignInError::InvalidCredentials {
                            if let Some(input) = password.cast::<HtmlInputElement>() {
                                input.set_value("");
                            }
                        }
                        error.set(Some(failure));
                    }
                }
                busy.set(false);
            });
        })
    };

    html! {
        <main class="narrow">
            <h1>{ "Sign in" }</h1>
            <form {onsubmit} aria-busy={(*busy).to_string()} novalidate=true>
                <label for="username">{ "Username" }</label>
                <input id="username" name="username" type="text" autocomplete="username" ref={username} required=true />
                <label for="password">{ "Password" }</label>
                <input id="password" name="password" type="password" autocomplete="current-password" ref={password} required=true />
                if let Some(failure) = *error {
                    <p role="alert" class="error">{ failure.message() }</p>
                }
                <button type="submit" disabled={*busy}>
                    { if *busy { "Signing in…" } else { "Sign in" } }
                </button>
            </form>
        </main>
    }
}
