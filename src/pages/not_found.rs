use yew::prelude::*;
use yew_router::prelude::*;

use crate::routes::Route;

/// Any unknown path.
#[function_component(NotFoundPage)]
pub fn not_found_page() -> Html {
    html! {
        <main class="narrow">
            <h1>{ "Page not found" }</h1>
            <p>{ "There is nothing at this address." }</p>
            <Link<Route> to={Route::Home}>{ "Go to the home page" }</Link<Route>>
        </main>
    }
}
