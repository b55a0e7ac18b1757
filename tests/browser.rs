//! wasm-bindgen-test tests in headless Chromium: the browser seams and a page, for real.
//!
//! `scripts/test` starts the reference backend and compiles these tests with
//! `BROWSER_TEST_API` set to its origin (cross-origin, so CORS is exercised too).
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen_test::*;
use yew_simplejwt::client::{ApiClient, Session, TokenStore};
use yew_simplejwt::clock::SystemClock;
use yew_simplejwt::config::Config;
use yew_simplejwt::core::plan::StoredTokens;
use yew_simplejwt::core::response::{ApiError, SignInError};
use yew_simplejwt::storage::{LocalTokenStore, ACCESS_KEY, REFRESH_KEY};
use yew_simplejwt::transport::FetchTransport;
use yew_simplejwt::Me;

wasm_bindgen_test_configure!(run_in_browser);

const API: &str = match option_env!("BROWSER_TEST_API") {
    Some(api) => api,
    None => "",
};

fn local_storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn client_for(api_base: &str) -> ApiClient {
    let config = Config {
        api_base: api_base.to_owned(),
        ..Config::from_build_env()
    };
    ApiClient::new(
        config,
        Rc::new(FetchTransport),
        Rc::new(LocalTokenStore),
        Rc::new(SystemClock),
    )
}

#[wasm_bindgen_test]
fn storage_round_trip() {
    let store = LocalTokenStore;
    store.clear();
    assert_eq!(store.load(), StoredTokens::default());
    assert_eq!(store.save("access-value", "refresh-value", 1_500), Ok(()));
    assert_eq!(
        local_storage().get_item(ACCESS_KEY).unwrap().as_deref(),
        Some("access-value")
    );
    assert_eq!(
        store.load(),
        StoredTokens {
            access: Some("access-value".into()),
            refresh: Some("refresh-value".into()),
            clock_offset_ms: 1_500,
        }
    );
    store.clear();
    assert_eq!(store.load(), StoredTokens::default());
    assert_eq!(local_storage().get_item(REFRESH_KEY).unwrap(), None);
}

#[wasm_bindgen_test]
fn storage_reads_json_quoted_values_from_gloo_typed_writes() {
    local_storage()
        .set_item(ACCESS_KEY, "\"quoted-access\"")
        .unwrap();
    local_storage().set_item(REFRESH_KEY, "undefined").unwrap();
    let loaded = LocalTokenStore.load();
    assert_eq!(loaded.access.as_deref(), Some("quoted-access"));
    assert_eq!(loaded.refresh.as_deref(), Some("undefined"));
    // Unreadable tokens are no session, not a panic.
    assert_eq!(
        client_for(API).session(),
        Session::Ended(yew_simplejwt::client::EndReason::NeverStarted)
    );
    LocalTokenStore.clear();
}

#[wasm_bindgen_test]
async fn client_signs_in_and_calls_the_real_backend_through_fetch() {
    assert!(
        !API.is_empty(),
        "BROWSER_TEST_API must name the backend (scripts/test sets it)"
    );
    LocalTokenStore.clear();
    let client = client_for(API);
    assert_eq!(
        client.get_json::<Me>("/api/me/").await,
        Err(ApiError::SessionEnded)
    );
    assert_eq!(
        client.sign_in("demo", "wrong").await,
        Err(SignInError::InvalidCredentials)
    );
    assert_eq!(LocalTokenStore.load(), StoredTokens::default());

    client.sign_in("demo", "demo-password").await.unwrap();
    assert!(matches!(
        client.session(),
        Session::Active { user_id: Some(_) }
    ));
    let me: Me = client.get_json("/api/me/").await.unwrap();
    assert_eq!(me.username, "demo");

    client.sign_out().await;
    assert_eq!(LocalTokenStore.load(), StoredTokens::default());
}

#[wasm_bindgen_test]
async fn the_token_goes_only_to_the_api_origin() {
    LocalTokenStore.clear();
    let client = client_for(API);
    client.sign_in("demo", "demo-password").await.unwrap();
    // The backend tells whether a request carried an Authorization header.
    let to_api = client.get("/__test__/echo-auth/").await.unwrap();
    assert_eq!(
        to_api, r#"{"authorization": true}"#,
        "control: the API gets the token"
    );
    // The same server under another name is another origin: no token.
    let other_origin = API.replace("127.0.0.1", "localhost");
    assert_ne!(other_origin, API);
    let elsewhere = client
        .get(&format!("{other_origin}/__test__/echo-auth/"))
        .await
        .unwrap();
    assert_eq!(elsewhere, r#"{"authorization": false}"#);
    client.sign_out().await;
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_a_typed_error() {
    LocalTokenStore.clear();
    // Port 9 (discard) is closed on the test machine: fetch fails without an answer.
    let client = client_for("http://127.0.0.1:9");
    assert_eq!(
        client.sign_in("demo", "demo-password").await,
        Err(SignInError::Unreachable)
    );
}

#[wasm_bindgen_test]
async fn the_sign_in_page_mounts_with_accessible_controls() {
    use yew::prelude::*;
    use yew_router::prelude::*;
    use yew_simplejwt::pages::SignInPage;
    use yew_simplejwt::session::SessionProvider;

    #[function_component(Harness)]
    fn harness() -> Html {
        let client = use_memo((), |()| client_for(API));
        html! {
            <SessionProvider client={(*client).clone()}>
                <BrowserRouter><SignInPage /></BrowserRouter>
            </SessionProvider>
        }
    }

    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<Harness>::with_root(root.clone()).render();
    yew::platform::time::sleep(Duration::from_millis(50)).await;

    let labels: Vec<String> = (0..2)
        .filter_map(|i| root.query_selector_all("label").unwrap().item(i))
        .filter_map(|node| node.text_content())
        .collect();
    assert_eq!(labels, ["Username", "Password"]);
    let username = root
        .query_selector("label[for=username] + input#username")
        .unwrap();
    assert!(username.is_some(), "the Username label points at its input");
    let button = root.query_selector("button[type=submit]").unwrap().unwrap();
    assert_eq!(button.text_content().as_deref(), Some("Sign in"));
    assert!(
        root.query_selector("[role=alert]").unwrap().is_none(),
        "no error before submitting"
    );
}
