use yew::prelude::*;

use crate::core::response::ApiError;
use crate::session::Loadable;

/// Props of [`LoadStatus`].
#[derive(Properties, PartialEq)]
pub struct LoadStatusProps {
    /// The failure, if the call failed; `None` while loading.
    pub error: Option<ApiError>,
    /// Tries the call again.
    pub retry: Callback<()>,
}

/// "Loading…" or an error with a "Try again" button, for a call that has no data yet.
#[function_component(LoadStatus)]
pub fn load_status(props: &LoadStatusProps) -> Html {
    match props.error {
        // The session guard is already on its way to /signin.
        Some(ApiError::SessionEnded) => html! {},
        Some(error) => {
            let retry = props.retry.reform(|_| ());
            html! {
                <div class="problem">
                    <p role="alert">{ error.message() }</p>
                    <button type="button" onclick={retry}>{ "Try again" }</button>
                </div>
            }
        }
        None => html! { <p aria-busy="true" class="muted">{ "Loading…" }</p> },
    }
}

impl<T> Loadable<T> {
    /// The failure, when the call failed.
    pub fn error(&self) -> Option<ApiError> {
        match self {
            Loadable::Failed(error) => Some(*error),
            _ => None,
        }
    }
}
