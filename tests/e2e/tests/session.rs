//! The app's session, end to end: release build, headless Chromium, real simplejwt.

use std::time::Duration;

use e2e::{Backend, Browser, Lifetimes, DEMO_PASSWORD, DEMO_USER};

const ACCESS_S: u32 = 2;
const REFRESH_S: u32 = 12;

async fn sleep_s(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
}

#[tokio::test]
async fn sign_in_survives_access_expiry_with_one_refresh_then_ends_at_refresh_expiry() {
    let backend = Backend::start(Lifetimes {
        access: ACCESS_S,
        refresh: REFRESH_S,
    });
    let browser = Browser::start().await;

    // A protected page without a session goes to /signin with `next`.
    browser.open(&backend, "/items").await;
    browser.wait_for_location("/signin?next=%2Fitems").await;
    assert_eq!(
        backend.count_status_under("/api/", 401) + backend.count_status_under("/api/", 200),
        0,
        "no API call is made without a session"
    );

    // Sign in, land back on /items, see the items and who is signed in.
    browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
    browser.wait_for_location("/items").await;
    browser.wait_text("span", "Apples").await;
    browser.wait_text("strong", DEMO_USER).await;

    // The home page shows the user from the token claim and from /api/me/.
    browser.click_link("Home").await;
    browser.wait_for_location("/").await;
    browser
        .wait_xpath("//dd[@data-testid='token-user-id' and normalize-space()='1']")
        .await;
    browser
        .wait_xpath(&format!(
            "//dd[@data-testid='api-username' and normalize-space()='{DEMO_USER}']"
        ))
        .await;
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        0,
        "a fresh access token needs no refresh"
    );

    // Past access-token expiry, navigating fires several API calls at once
    // (/items loads /api/items/ and /api/me/ twice): exactly one refresh serves them all.
    // The tab's timers are held back (as in a background tab or a sleeping laptop), so
    // the background refresh does not run and the access token really expires.
    browser.hold_timers().await;
    backend.reset_counts();
    sleep_s(f64::from(ACCESS_S) + 0.5).await;
    browser.click_link("Items").await;
    browser.wait_text("span", "Eggs").await;
    browser
        .wait_xpath("//p[normalize-space()='Items of demo']")
        .await;
    browser.wait_text("strong", DEMO_USER).await;
    assert_eq!(browser.path_and_query().await, "/items", "still signed in");
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        1,
        "server counts: {}",
        backend.counts()
    );
    assert_eq!(
        backend.count_with_status("POST /auth/token/refresh/", 200),
        1
    );
    assert_eq!(
        backend.count_with_status("GET /api/items/", 200),
        1,
        "server counts: {}",
        backend.counts()
    );
    assert_eq!(
        backend.count_with_status("GET /api/me/", 200),
        2,
        "server counts: {}",
        backend.counts()
    );
    assert_eq!(
        backend.count_status_under("/api/", 401),
        0,
        "no call went out with an expired token"
    );

    // Past refresh-token expiry (timers still held: the laptop slept that long), the next
    // action lands on /signin with `next`.
    sleep_s(f64::from(REFRESH_S) + 0.5).await;
    browser.click_link("Home").await;
    browser.wait_for_location("/signin?next=%2F").await;
    browser.wait_text("button", "Sign in").await;

    // Wrong password: "Invalid credentials" in the alert, username kept.
    browser.sign_in(DEMO_USER, "not-the-password").await;
    let alert = browser.wait_xpath("//*[@role='alert']").await;
    assert_eq!(alert.text().await.unwrap(), "Invalid credentials");
    let username = browser.input_labelled("Username").await;
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some(DEMO_USER)
    );
    assert_eq!(backend.count_with_status("POST /auth/token/", 401), 1);

    browser.close().await;
}

#[tokio::test]
async fn sign_out_erases_the_session_and_blacklists_the_refresh_token() {
    let backend = Backend::start(Lifetimes {
        access: 60,
        refresh: 600,
    });
    let browser = Browser::start().await;

    browser.open(&backend, "/signin").await;
    browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
    browser.wait_for_location("/").await;
    browser.wait_text("strong", DEMO_USER).await;

    browser.sign_out().await;
    let stored: serde_json::Value = browser
        .client
        .execute("return [localStorage.getItem('yew-simplejwt.access'), localStorage.getItem('yew-simplejwt.refresh')]", vec![])
        .await
        .unwrap();
    assert_eq!(stored, serde_json::json!([null, null]), "tokens erased");
    // The blacklist call is sent after the local erase; give it a moment to arrive.
    for _ in 0..50 {
        if backend.count_with_status("POST /auth/token/blacklist/", 200) == 1 {
            break;
        }
        sleep_s(0.1).await;
    }
    assert_eq!(
        backend.count_with_status("POST /auth/token/blacklist/", 200),
        1,
        "{}",
        backend.counts()
    );

    // The protected pages are gone: visiting one asks for a sign-in again.
    browser.open(&backend, "/items").await;
    browser.wait_for_location("/signin?next=%2Fitems").await;
    browser.close().await;
}

#[tokio::test]
async fn next_only_accepts_same_origin_paths() {
    let backend = Backend::start(Lifetimes {
        access: 60,
        refresh: 600,
    });
    let browser = Browser::start().await;
    for foreign in [
        "%2F%2Fevil.example%2Fx",
        "https%3A%2F%2Fevil.example%2F",
        "javascript%3Aalert(1)",
        "%2F%5Cevil.example",
    ] {
        browser
            .client
            .goto(&format!("{}/signin?next={foreign}", backend.origin))
            .await
            .unwrap();
        browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
        browser.wait_for_location("/").await;
        browser.wait_text("strong", DEMO_USER).await;
        browser.sign_out().await;
    }

    // A same-origin page is kept whole, query included.
    browser.open(&backend, "/items?sort=name").await;
    browser
        .wait_for_location("/signin?next=%2Fitems%3Fsort%3Dname")
        .await;
    browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
    browser.wait_for_location("/items?sort=name").await;
    browser.wait_text("span", "Apples").await;
    browser.close().await;
}
