use yew::prelude::*;

use crate::components::{LoadStatus, ProtectedLayout};
use crate::session::{use_api, Loadable};
use crate::{Item, ItemDetail, Me};

/// `/items`: the names of `GET /api/items/`, each with its details from
/// `GET /api/items/<id>/`.  "Reload" fetches everything again at once.
#[function_component(ItemsPage)]
pub fn items_page() -> Html {
    let generation = use_state(|| 0u32);
    let (items, retry_items) = use_api::<Vec<Item>>("/api/items/".into(), *generation);
    let (me, _) = use_api::<Me>("/api/me/".into(), *generation);
    let reload = {
        let generation = generation.clone();
        Callback::from(move |_| generation.set(*generation + 1))
    };
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
                { for items.iter().map(|item| html! {
                    <ItemRow key={item.id} id={item.id} name={item.name.clone()} generation={*generation} />
                }) }
            </ul>
        },
        other => html! { <LoadStatus error={other.error()} retry={retry_items} /> },
    };
    html! {
        <ProtectedLayout title="Items">
            { owner }
            <button type="button" class="secondary" onclick={reload}>{ "Reload" }</button>
            { list }
        </ProtectedLayout>
    }
}

#[derive(Properties, PartialEq)]
struct ItemRowProps {
    id: u64,
    name: AttrValue,
    generation: u32,
}

#[function_component(ItemRow)]
fn item_row(props: &ItemRowProps) -> Html {
    let path = AttrValue::from(["/api/items/", &props.id.to_string(), "/"].concat());
    let (detail, _) = use_api::<ItemDetail>(path, props.generation);
    let stock = match &*detail {
        Loadable::Ready(detail) => {
            html! { <span class="stock">{ detail.in_stock }{ " in stock" }</span> }
        }
        Loadable::Loading => html! { <span class="stock muted">{ "…" }</span> },
        Loadable::Failed(_) => html! { <span class="stock muted">{ "unavailable" }</span> },
    };
    html! { <li><span class="name">{ props.name.clone() }</span>{ " " }{ stock }</li> }
}
