//! "Never sign a user out by mistake": the client under bursts, server rejections,
//! faults, skewed clocks and odd stored state, against the real simplejwt backend
//! (rotation + blacklist on).  Counts are the server's.

use std::time::{Duration, Instant};

use e2e::{Backend, Browser, Lifetimes, DEMO_PASSWORD, DEMO_USER};
use fantoccini::Locator;

const ACCESS_KEY: &str = "yew-simplejwt.access";
const REFRESH_KEY: &str = "yew-simplejwt.refresh";
/// A Reload on /items fires the list, /api/me/ and one call per item (24) at once.
const CALLS_PER_RELOAD: u64 = 26;
const CONNECTION_PROBLEM: &str =
    "Connection problem: the server could not be reached. Please try again.";
const STORAGE_REFUSED: &str = "Your browser would not let this site keep you signed in";

async fn sleep_s(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
}

async fn signed_in_at(backend: &Backend, browser: &Browser, path: &str) {
    let next = path.replace('/', "%2F");
    browser.open(backend, &format!("/signin?next={next}")).await;
    browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
    browser.wait_for_location(path).await;
    browser.wait_text("strong", DEMO_USER).await;
}

/// A fresh backend (refresh lifetime 10 min) and browser, signed in on a loaded /items.
async fn signed_in_on_items(access_lifetime_s: u32) -> (Backend, Browser) {
    signed_in_on_items_with(access_lifetime_s, &[]).await
}

/// Like [`signed_in_on_items`], with extra backend settings.
async fn signed_in_on_items_with(
    access_lifetime_s: u32,
    settings: &[(&str, &str)],
) -> (Backend, Browser) {
    let backend = Backend::start_with(
        Lifetimes {
            access: access_lifetime_s,
            refresh: 600,
        },
        settings,
    );
    let browser = Browser::start().await;
    signed_in_at(&backend, &browser, "/items").await;
    browser.wait_text("span", "Yogurt").await;
    (backend, browser)
}

/// Waits until the server has answered `n` API calls with `status` (since the last reset).
async fn wait_for_api_answers(backend: &Backend, status: u16, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while backend.count_status_under("/api/", status) < n {
        assert!(
            Instant::now() < deadline,
            "server counts: {}",
            backend.counts()
        );
        sleep_s(0.05).await;
    }
}

/// Waits until the items page shows its owner and every item's details.
async fn wait_until_items_loaded(browser: &Browser) {
    browser
        .wait_xpath("//p[starts-with(normalize-space(), 'Items of ')]")
        .await;
    browser
        .wait_xpath("//ul[@class='items'][li][not(.//span[contains(@class, 'muted')])]")
        .await;
}

async fn click_reload(browser: &Browser) {
    browser
        .wait_text("button", "Reload")
        .await
        .click()
        .await
        .unwrap();
}

async fn tokens(browser: &Browser) -> (Option<String>, Option<String>) {
    (
        browser.local_storage(ACCESS_KEY).await,
        browser.local_storage(REFRESH_KEY).await,
    )
}

/// No panic, no uncaught error and no token in anything the page logged.
async fn assert_clean_console(browser: &Browser, tokens_seen: &[String]) {
    for line in browser.console_lines().await {
        let lower = line.to_lowercase();
        assert!(
            !lower.contains("panicked")
                && !lower.contains("unreachable")
                && !lower.starts_with("uncaught"),
            "the page reported: {line}"
        );
        for token in tokens_seen {
            assert!(!line.contains(token.as_str()), "a token was logged: {line}");
        }
    }
}

#[tokio::test]
async fn bursts_at_expiry_share_one_refresh_round_after_round() {
    const ROUNDS: u64 = 20;
    let (backend, browser) = signed_in_on_items(2).await;
    let mut seen_tokens = Vec::new();

    // Timers held: the background refresh does not run, so every burst meets an
    // expired access token, as in a tab that was in the background.
    browser.hold_timers().await;
    for round in 1..=ROUNDS {
        backend.reset_counts();
        sleep_s(2.4).await;
        click_reload(&browser).await;
        wait_for_api_answers(&backend, 200, CALLS_PER_RELOAD).await;
        assert_eq!(
            backend.count_with_status("POST /auth/token/refresh/", 200),
            1,
            "round {round}: {}",
            backend.counts()
        );
        assert_eq!(
            backend.count("POST /auth/token/refresh/"),
            1,
            "round {round}"
        );
        assert_eq!(backend.count_status_under("/api/", 401), 0, "round {round}");
        assert_eq!(
            browser.path_and_query().await,
            "/items",
            "round {round}: still signed in"
        );
        if let (Some(access), Some(refresh)) = tokens(&browser).await {
            seen_tokens.extend([access, refresh]);
        }
    }
    browser.release_timers().await;
    browser.wait_text("span", "Yogurt").await;
    assert_eq!(browser.path_and_query().await, "/items");
    assert!(
        !browser.path_and_query().await.contains("eyJ"),
        "no token in the URL"
    );
    assert_clean_console(&browser, &seen_tokens).await;
    browser.close().await;
}

#[tokio::test]
async fn two_tabs_at_expiry_refresh_once_between_them() {
    let (backend, browser) = signed_in_on_items(2).await;
    browser.hold_timers().await;
    let first_tab = browser.client.window().await.unwrap();
    let second_tab = browser.open_tab().await;
    browser.open(&backend, "/items").await;
    browser.wait_text("span", "Yogurt").await;
    browser.hold_timers().await;

    for round in 1..=3 {
        sleep_s(2.4).await;
        backend.reset_counts();
        // The second tab's refresh is slow, so the first tab's burst comes while it is
        // on the wire: both tabs hold the same, soon blacklisted, refresh token.
        backend.slow_down("/auth/token/refresh/", 1.0);
        browser
            .client
            .switch_to_window(second_tab.clone())
            .await
            .unwrap();
        click_reload(&browser).await;
        sleep_s(0.3).await;
        browser
            .client
            .switch_to_window(first_tab.clone())
            .await
            .unwrap();
        click_reload(&browser).await;
        wait_for_api_answers(&backend, 200, 2 * CALLS_PER_RELOAD).await;
        assert_eq!(
            backend.count("POST /auth/token/refresh/"),
            1,
            "round {round}: {}",
            backend.counts()
        );
        assert_eq!(backend.count_status_under("/api/", 401), 0, "round {round}");
        for tab in [&first_tab, &second_tab] {
            browser.client.switch_to_window(tab.clone()).await.unwrap();
            assert_eq!(
                browser.path_and_query().await,
                "/items",
                "round {round}: both tabs signed in"
            );
        }
    }
    browser.close().await;
}

#[tokio::test]
async fn signing_out_in_one_tab_signs_out_the_others_at_once() {
    let (backend, browser) = signed_in_on_items(300).await;
    let first_tab = browser.client.window().await.unwrap();
    browser.open_tab().await;
    browser.open(&backend, "/items").await;
    // Every call of this tab answered before counting starts, or its late answers would
    // be taken for requests of the first tab.
    wait_until_items_loaded(&browser).await;
    backend.reset_counts();

    browser.sign_out().await;
    browser.client.switch_to_window(first_tab).await.unwrap();
    // Without any action there: the other tab's sign-out is seen through storage.
    browser.wait_for_location("/signin?next=%2Fitems").await;
    assert_eq!(tokens(&browser).await, (None, None));
    assert_eq!(
        backend.count_status_under("/api/", 200) + backend.count_status_under("/api/", 401),
        0,
        "the first tab made no request to notice: {}",
        backend.counts()
    );
    browser.close().await;
}

#[tokio::test]
async fn signing_in_in_one_tab_lets_a_waiting_sign_in_page_go_on() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;
    browser.open(&backend, "/signin?next=%2Fitems").await;
    let waiting_tab = browser.client.window().await.unwrap();
    browser.wait_text("button", "Sign in").await;

    browser.open_tab().await;
    signed_in_at(&backend, &browser, "/").await;
    browser.client.switch_to_window(waiting_tab).await.unwrap();
    browser.wait_for_location("/items").await;
    browser.wait_text("span", "Yogurt").await;

    // A signed-in user who opens the sign-in page goes straight on as well.
    browser.open(&backend, "/signin?next=%2F").await;
    browser.wait_for_location("/").await;
    browser.wait_text("strong", DEMO_USER).await;
    browser.close().await;
}

#[tokio::test]
async fn a_rejected_access_token_costs_one_refresh_and_one_retry() {
    let (backend, browser) = signed_in_on_items(300).await;
    rejected_access_costs_one_refresh_and_one_retry(backend, browser, 401).await;
}

/// DRF with SessionAuthentication listed before JWTAuthentication (a common setup)
/// answers a refused token with 403 and simplejwt's `token_not_valid` body.
#[tokio::test]
async fn a_rejected_access_token_answered_403_is_treated_like_401() {
    let (backend, browser) = signed_in_on_items_with(300, &[("SESSION_AUTH_FIRST", "1")]).await;
    rejected_access_costs_one_refresh_and_one_retry(backend, browser, 403).await;
}

async fn rejected_access_costs_one_refresh_and_one_retry(
    backend: Backend,
    browser: Browser,
    refusal_status: u16,
) {
    sleep_s(1.1).await; // the current token's `iat` is now before the switch's second

    // The server stops accepting the current access token (as after a signing-key
    // change, or a LEEWAY/clock difference), though the client thinks it valid.
    backend.reset_counts();
    backend.reject_access("issued-before-now");
    click_reload(&browser).await;
    wait_for_api_answers(&backend, 200, CALLS_PER_RELOAD).await;
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        1,
        "{}",
        backend.counts()
    );
    assert_eq!(
        backend.count_status_under("/api/", refusal_status),
        CALLS_PER_RELOAD,
        "each call tried once with the old token: {}",
        backend.counts()
    );
    assert_eq!(browser.path_and_query().await, "/items");

    // When even the new token is refused, the retry's 401 ends the session: once.
    backend.reset_counts();
    backend.reject_access("all");
    click_reload(&browser).await;
    browser.wait_for_location("/signin?next=%2Fitems").await;
    sleep_s(1.0).await;
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        1,
        "{}",
        backend.counts()
    );
    assert_eq!(tokens(&browser).await, (None, None), "tokens erased");
    browser.close().await;
}

#[tokio::test]
async fn a_refresh_answered_401_ends_the_session_once_and_signin_stays_quiet() {
    let (backend, browser) = signed_in_on_items(2).await;
    browser.hold_timers().await;
    sleep_s(2.4).await;
    backend.reset_counts();
    backend.fault("/auth/token/refresh/", "401", 100);
    click_reload(&browser).await;
    browser.wait_for_location("/signin?next=%2Fitems").await;
    // Give any loop time to show itself.
    browser.release_timers().await;
    sleep_s(3.0).await;
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        1,
        "{}",
        backend.counts()
    );
    assert_eq!(
        backend.count_status_under("/api/", 200) + backend.count_status_under("/api/", 401),
        0
    );
    assert_eq!(
        browser.path_and_query().await,
        "/signin?next=%2Fitems",
        "no redirect loop"
    );
    browser.wait_text("button", "Sign in").await;
    browser.close().await;
}

#[tokio::test]
async fn the_session_is_refreshed_in_the_background_before_the_access_token_expires() {
    const ACCESS_S: f64 = 4.0;
    let (backend, browser) = signed_in_on_items(4).await;
    let signed_in_at_s = backend
        .events()
        .iter()
        .find(|(_, key)| key == "POST /auth/token/ 200")
        .map(|(t, _)| *t)
        .expect("sign-in seen by the server");

    // Idle: the app refreshes on its own, before the access token expires.
    sleep_s(ACCESS_S + 0.5).await;
    let refreshes: Vec<f64> = backend
        .events()
        .iter()
        .filter(|(_, key)| key.starts_with("POST /auth/token/refresh/"))
        .map(|(t, _)| *t)
        .collect();
    assert!(
        !refreshes.is_empty(),
        "no background refresh: {:?}",
        backend.events()
    );
    let first = refreshes[0] - signed_in_at_s;
    assert!(
        first < ACCESS_S && first > ACCESS_S / 2.0,
        "first refresh {first:.2} s after sign-in"
    );

    // A burst now waits for no refresh.
    backend.reset_counts();
    click_reload(&browser).await;
    wait_for_api_answers(&backend, 200, CALLS_PER_RELOAD).await;
    assert_eq!(backend.count_status_under("/api/", 401), 0);

    // After a page reload the schedule comes from the stored token again.
    browser.client.refresh().await.unwrap();
    browser.wait_text("span", "Yogurt").await;
    backend.reset_counts();
    sleep_s(ACCESS_S + 0.5).await;
    let after_reload = backend.count_with_status("POST /auth/token/refresh/", 200);
    assert!(
        (1..=3).contains(&after_reload),
        "{after_reload} refreshes in one lifetime after a reload"
    );
    assert_eq!(backend.count_status_under("/api/", 401), 0);
    assert_eq!(browser.path_and_query().await, "/items");
    browser.close().await;
}

#[tokio::test]
async fn a_skewed_client_clock_keeps_the_session_without_a_refresh_storm() {
    const ACCESS_S: u32 = 3;
    for shift_minutes in [7i64, -7] {
        let backend = Backend::start(Lifetimes {
            access: ACCESS_S,
            refresh: 300,
        });
        let browser = Browser::start_with_clock_shift(shift_minutes * 60_000).await;
        signed_in_at(&backend, &browser, "/items").await;
        browser.wait_text("span", "Yogurt").await;
        backend.reset_counts();
        // Three access lifetimes of use, a Reload every 1.5 s.
        for _ in 0..6 {
            sleep_s(1.5).await;
            click_reload(&browser).await;
        }
        sleep_s(1.0).await;
        let refreshes = backend.count("POST /auth/token/refresh/");
        assert!(
            (2..=8).contains(&refreshes),
            "clock {shift_minutes:+} min: {refreshes} refreshes in ~3 lifetimes: {}",
            backend.counts()
        );
        assert_eq!(
            backend.count_with_status("POST /auth/token/refresh/", 401),
            0
        );
        assert_eq!(
            browser.path_and_query().await,
            "/items",
            "clock {shift_minutes:+} min: still signed in"
        );
        assert!(tokens(&browser).await.1.is_some());
        browser.close().await;
    }
}

/// An earlier load that fails late must not replace what a later load showed: Reload while
/// the first load hangs, the second shows the items (it must not queue behind the hung
/// request for the same URL), and the first one's timeout (8 s) changes nothing on the page.
#[tokio::test]
async fn a_late_failure_of_an_earlier_load_leaves_the_newer_data_shown() {
    let (backend, browser) = signed_in_on_items(300).await;
    backend.reset_counts();
    backend.fault("/api/items/", "hang", 1); // answered after 10 s; the page gives up at 8 s
    click_reload(&browser).await;
    sleep_s(1.0).await;
    click_reload(&browser).await;
    // Everything of both reloads but the hanging call.
    wait_for_api_answers(&backend, 200, 2 * CALLS_PER_RELOAD - 1).await;
    sleep_s(9.5).await; // past the first load's timeout and the server's late answer
    assert_eq!(
        backend.count("GET /api/items/"),
        2,
        "both loads reached the server: {}",
        backend.counts()
    );
    let alerts = browser
        .client
        .find_all(Locator::XPath("//*[@role='alert']"))
        .await
        .unwrap();
    assert!(alerts.is_empty(), "the stale failure was not shown");
    browser.wait_text("span", "Yogurt").await;
    browser.close().await;
}

#[tokio::test]
async fn faults_keep_the_tokens_show_a_connection_problem_and_recover() {
    let (backend, browser) = signed_in_on_items(300).await;

    let problem_then_recovery = |what: &'static str| {
        let browser = &browser;
        async move {
            let alert = browser.wait_xpath("//*[@role='alert']").await;
            assert_eq!(alert.text().await.unwrap(), CONNECTION_PROBLEM, "{what}");
            assert_eq!(
                browser.path_and_query().await,
                "/items",
                "{what}: the user stays"
            );
            browser
                .wait_text("button", "Try again")
                .await
                .click()
                .await
                .unwrap();
            browser.wait_text("span", "Yogurt").await;
        }
    };

    // Network unreachable.
    let before = tokens(&browser).await;
    browser.set_offline(true).await;
    click_reload(&browser).await;
    let alert = browser.wait_xpath("//*[@role='alert']").await;
    assert_eq!(alert.text().await.unwrap(), CONNECTION_PROBLEM);
    assert_eq!(tokens(&browser).await, before, "offline: tokens kept");
    browser.set_offline(false).await;
    browser
        .wait_text("button", "Try again")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("span", "Yogurt").await;

    // The API answers 502 with an HTML page.
    backend.fault("/api/items/", "502-html", 1);
    click_reload(&browser).await;
    problem_then_recovery("API 502").await;

    // The refresh endpoint answers 500, then 502 with HTML (a refresh is forced by the
    // server rejecting the current access token).
    for mode in ["500", "502-html"] {
        sleep_s(1.1).await;
        let before = tokens(&browser).await;
        backend.reject_access("issued-before-now");
        backend.fault("/auth/token/refresh/", mode, 1);
        click_reload(&browser).await;
        let alert = browser.wait_xpath("//*[@role='alert']").await;
        assert_eq!(
            alert.text().await.unwrap(),
            CONNECTION_PROBLEM,
            "refresh {mode}"
        );
        assert_eq!(
            tokens(&browser).await,
            before,
            "refresh {mode}: tokens kept"
        );
        browser
            .wait_text("button", "Try again")
            .await
            .click()
            .await
            .unwrap();
        browser.wait_text("span", "Yogurt").await;
        assert_ne!(
            tokens(&browser).await.1,
            before.1,
            "refresh {mode}: recovered with a rotated token"
        );
    }

    // The refresh hangs for 10 s: requests time out (8 s), the server's late answer
    // (which rotated the token) is still stored, and nobody is signed out.
    sleep_s(1.1).await;
    backend.reset_counts();
    backend.reject_access("issued-before-now");
    backend.fault("/auth/token/refresh/", "hang", 1);
    let before = tokens(&browser).await;
    click_reload(&browser).await;
    let alert = browser.wait_xpath("//*[@role='alert']").await;
    assert_eq!(
        alert.text().await.unwrap(),
        CONNECTION_PROBLEM,
        "hang: timed out"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokens(&browser).await.1 == before.1 {
        assert!(
            Instant::now() < deadline,
            "the late refresh answer was not stored"
        );
        sleep_s(0.2).await;
    }
    browser
        .wait_text("button", "Try again")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("span", "Yogurt").await;
    assert_eq!(
        backend.count("POST /auth/token/refresh/"),
        1,
        "{}",
        backend.counts()
    );
    assert_eq!(
        backend.count_with_status("POST /auth/token/refresh/", 401),
        0
    );
    assert_eq!(browser.path_and_query().await, "/items");
    browser.close().await;
}

/// Signs in on `/signin?next=%2Fitems` and expects the page to stay there and say that the
/// browser refused to store the session (the server did issue tokens).
async fn sign_in_is_refused_by_the_browser(backend: &Backend, browser: &Browser) {
    browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
    let alert = browser.wait_xpath("//*[@role='alert']").await;
    assert!(
        alert.text().await.unwrap().starts_with(STORAGE_REFUSED),
        "{:?}",
        alert.text().await
    );
    assert_eq!(backend.count_with_status("POST /auth/token/", 200), 1);
    assert_eq!(browser.path_and_query().await, "/signin?next=%2Fitems");
    assert_clean_console(browser, &[]).await;
}

/// Another script of this origin has filled localStorage: the server accepts the sign-in,
/// the browser refuses the tokens, and the user is told so.
#[tokio::test]
async fn a_sign_in_into_full_storage_says_why_it_did_not_go_on() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;
    browser.open(&backend, "/signin?next=%2Fitems").await;
    browser.wait_text("button", "Sign in").await;
    let filled = browser
        .client
        .execute(
            r#"let i = 0;
               for (let size = 1 << 20; size >= 1; size = size >> 1) {
                 const chunk = 'x'.repeat(size);
                 for (;;) { try { localStorage.setItem('other-app.' + (i++), chunk); } catch (e) { break; } }
               }
               return i;"#,
            vec![],
        )
        .await
        .unwrap();
    assert!(filled.as_u64().unwrap() > 0);
    sign_in_is_refused_by_the_browser(&backend, &browser).await;
    assert_eq!(tokens(&browser).await, (None, None), "nothing half-way");
    browser.close().await;
}

/// A browser set to block site data throws a SecurityError on `window.localStorage`: the
/// app still renders (signed out) and explains why signing in cannot work.
#[tokio::test]
async fn blocked_site_data_still_renders_the_sign_in_page() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;
    let block = r#"Object.defineProperty(window, 'localStorage', { configurable: true, get() {
        throw new DOMException('Access is denied for this document.', 'SecurityError');
    } });"#;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": block }),
        )
        .await;
    browser.open(&backend, "/items").await;
    browser.wait_for_location("/signin?next=%2Fitems").await;
    sign_in_is_refused_by_the_browser(&backend, &browser).await;
    browser.close().await;
}

#[tokio::test]
async fn odd_stored_state_gives_one_refresh_or_a_clean_sign_in_never_a_crash() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;
    signed_in_at(&backend, &browser, "/").await;

    // Each case: what to store, given a live refresh token; and whether the session survives.
    type Case = (
        &'static str,
        fn(&str) -> (Option<String>, Option<String>),
        bool,
    );
    let cases: [Case; 9] = [
        ("no access token", |r| (None, Some(r.into())), true),
        (
            "truncated access token",
            |r| (Some(r[..r.len() / 2].into()), Some(r.into())),
            true,
        ),
        (
            "refresh token stored as the access token",
            |r| (Some(r.into()), Some(r.into())),
            true,
        ),
        (
            "JSON-quoted values (older builds)",
            |r| (None, Some(format!("\"{r}\""))),
            true,
        ),
        (
            "the string undefined",
            |_| (Some("undefined".into()), Some("undefined".into())),
            false,
        ),
        (
            "payload not base64",
            |_| {
                (
                    Some("a.%%%.b".into()),
                    Some("eyJhbGciOiJIUzI1NiJ9.%%%.x".into()),
                )
            },
            false,
        ),
        (
            "payload not JSON",
            |_| (None, Some("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln".into())),
            false,
        ),
        (
            "no exp claim",
            |_| {
                (
                    None,
                    Some("eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2ln".into()),
                )
            },
            false,
        ),
        (
            "a very long junk value",
            |_| (Some("x".repeat(200_000)), Some("y.".repeat(100_000))),
            false,
        ),
    ];
    for (name, make, survives) in cases {
        let refresh = match browser.local_storage(REFRESH_KEY).await {
            Some(refresh) => refresh,
            None => {
                signed_in_at(&backend, &browser, "/").await;
                browser.local_storage(REFRESH_KEY).await.expect("signed in")
            }
        };
        let (access, stored_refresh) = make(&refresh);
        browser
            .set_local_storage(ACCESS_KEY, access.as_deref())
            .await;
        browser
            .set_local_storage(REFRESH_KEY, stored_refresh.as_deref())
            .await;
        backend.reset_counts();
        browser.open(&backend, "/items").await;
        if survives {
            browser.wait_text("span", "Yogurt").await;
            assert_eq!(
                backend.count_with_status("POST /auth/token/refresh/", 200),
                1,
                "{name}"
            );
        } else {
            browser.wait_for_location("/signin?next=%2Fitems").await;
            browser.wait_text("button", "Sign in").await;
            assert_eq!(
                backend.count("POST /auth/token/refresh/"),
                0,
                "{name}: nothing sent"
            );
            assert_eq!(tokens(&browser).await, (None, None), "{name}: cleaned up");
        }
        assert_clean_console(&browser, &[]).await;
    }
    browser.close().await;
}

#[tokio::test]
async fn bad_token_responses_store_nothing_half_way() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;
    browser.open(&backend, "/signin").await;
    for mode in [
        "200-empty",
        "200-not-json",
        "200-missing-fields",
        "200-huge",
    ] {
        backend.fault("/auth/token/", mode, 1);
        browser.sign_in(DEMO_USER, DEMO_PASSWORD).await;
        let alert = browser.wait_xpath("//*[@role='alert']").await;
        assert_eq!(
            alert.text().await.unwrap(),
            "The server sent an unexpected answer. Please try again.",
            "{mode}"
        );
        assert_eq!(
            tokens(&browser).await,
            (None, None),
            "{mode}: nothing stored"
        );
        assert_eq!(browser.path_and_query().await, "/signin");
    }

    signed_in_at(&backend, &browser, "/items").await;
    browser.wait_text("span", "Yogurt").await;
    for mode in [
        "200-empty",
        "200-not-json",
        "200-missing-fields",
        "200-huge",
    ] {
        sleep_s(1.1).await;
        let before = tokens(&browser).await;
        backend.reject_access("issued-before-now");
        backend.fault("/auth/token/refresh/", mode, 1);
        click_reload(&browser).await;
        let alert = browser.wait_xpath("//*[@role='alert']").await;
        assert_eq!(
            alert.text().await.unwrap(),
            "The server sent an unexpected answer.",
            "refresh {mode}"
        );
        assert_eq!(
            tokens(&browser).await,
            before,
            "refresh {mode}: the stored pair is untouched"
        );
        browser
            .wait_text("button", "Try again")
            .await
            .click()
            .await
            .unwrap();
        browser.wait_text("span", "Yogurt").await;
        backend.reject_access("off");
    }
    browser.close().await;
}

#[tokio::test]
async fn sign_out_completes_even_when_the_blacklist_call_fails_and_the_old_token_is_dead() {
    let backend = Backend::start(Lifetimes {
        access: 300,
        refresh: 600,
    });
    let browser = Browser::start().await;

    // The blacklist endpoint fails: the sign-out still happens locally.
    signed_in_at(&backend, &browser, "/").await;
    backend.fault("/auth/token/blacklist/", "500", 1);
    browser.sign_out().await;
    assert_eq!(tokens(&browser).await, (None, None));

    // It works: the server now rejects the old refresh token.
    signed_in_at(&backend, &browser, "/").await;
    let (_, refresh) = tokens(&browser).await;
    let refresh = refresh.expect("signed in");
    browser.sign_out().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while backend.count_with_status("POST /auth/token/blacklist/", 200) == 0 {
        assert!(Instant::now() < deadline, "{}", backend.counts());
        sleep_s(0.1).await;
    }
    let body = format!("{{\"refresh\":\"{refresh}\"}}");
    let (status, answer) = backend.raw_request_with("POST", "/auth/token/refresh/", &body);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("blacklisted"), "{answer}");
    assert_clean_console(&browser, &[refresh]).await;
    browser.close().await;
}
