use yew::prelude::*;

use crate::client::Session;
use crate::components::{LoadStatus, ProtectedLayout};
use crate::session::{use_api, use_session, Loadable};
use crate::Me;

/// `/`: who is signed in, from the token and from the API.
#[function_component(HomePage)]
pub fn home_page() -> Html {
    let user_id = match use_session().map(|context| context.session) {
        Some(Session::Active { user_id }) => user_id,
        _ => None,
    };
    let (me, retry) = use_api::<Me>("/api/me/".into(), 0);
    html! {
        <ProtectedLayout title="Welcome">
            <dl class="facts">
                <dt>{ "User id (from the token)" }</dt>
                <dd data-testid="token-user-id">{ user_id.unwrap_or_else(|| "unknown".into()) }</dd>
                <dt>{ "Username (from /api/me/)" }</dt>
                <dd data-testid="api-username">
                    if let Loadable::Ready(me) = &*me { { me.username.clone() } }
                    else { <LoadStatus error={me.error()} {retry} /> }
                </dd>
            </dl>
        </ProtectedLayout>
    }
}
