use yew::prelude::*;

use crate::components::{LoadStatus, ProtectedLayout};
use crate::session::{use_api, Loadable};
use crate::{Item, Me};

/// `/items`: the names of `GET /api/items/`, loaded at the same time as the owner.
#[function_component(ItemsPage)]
pub fn items_page() -> Html {
    let (items, retry_items) = use_api::<Vec<Item>>("/api/items/");
    let (me, _) = use_api::<Me>("/api/me/");
    let owner = match &*me {
        Loadable::Ready(me) => {
            html! { <p class="muted">{ "Items of " }{ me.username.clone() }</p> }
        }
        _ => html! {},
    };
    let list = match &*items {
        Loadable::Ready(items) if items.is_empty() => html! { <p>{ "No items yet." }</p> },
        Loadable::Ready(items) => html! {
            <ul class="items">
                { for items.iter().map(|item| html! { <li key={item.id}>{ item.name.clone() }</li> }) }
            </ul>
        },
        other => html! { <LoadStatus error={other.error()} retry={retry_items} /> },
    };
    html! {
        <ProtectedLayout title="Items">
            { owner }
            { list }
        </ProtectedLayout>
    }
}
