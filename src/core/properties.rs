//! Property-based tests of the core: whatever storage, the server or the URL hold,
//! decoding and deciding never panic and never send anything but a live access token.

use proptest::prelude::*;

use super::next::{next_from_query, sanitize_next, sign_in_query};
use super::plan::{plan, refresh_due_in_ms, refresh_leeway_ms, session_user, Plan, StoredTokens};
use super::response::{interpret_obtain, interpret_refresh, RefreshOutcome};
use super::token::decode;
use super::token::tests::token_with_claims;

/// The corpus of odd stored values kept as test data.
const ODD_TOKENS: &str = include_str!("../../tests/data/odd_tokens.txt");

fn odd_tokens() -> impl Iterator<Item = &'static str> {
    ODD_TOKENS.lines().filter(|line| !line.starts_with('#'))
}

/// JSON-ish claim values, including the wrong types and extreme numbers.
fn claim_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        (1_500_000_000i64..2_500_000_000).prop_map(|n| n.to_string()),
        "[a-z0-9]{0,8}".prop_map(|s| format!("\"{s}\"")),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ]
}

/// Tokens: well-formed with odd claims, corpus entries, and arbitrary text.
fn any_token() -> impl Strategy<Value = String> {
    let claims = (
        proptest::option::of(claim_value()),
        proptest::option::of(claim_value()),
        proptest::option::of(prop_oneof![
            Just("access"),
            Just("refresh"),
            Just("sliding"),
            Just("other")
        ]),
        proptest::option::of(claim_value()),
    )
        .prop_map(|(exp, iat, kind, user)| {
            let mut fields = Vec::new();
            if let Some(exp) = exp {
                fields.push(format!("\"exp\":{exp}"));
            }
            if let Some(iat) = iat {
                fields.push(format!("\"iat\":{iat}"));
            }
            if let Some(kind) = kind {
                fields.push(format!("\"token_type\":\"{kind}\""));
            }
            if let Some(user) = user {
                fields.push(format!("\"user_id\":{user}"));
            }
            token_with_claims(&format!("{{{}}}", fields.join(",")))
        });
    let corpus: Vec<String> = odd_tokens().map(str::to_owned).collect();
    prop_oneof![
        4 => claims,
        2 => proptest::sample::select(corpus),
        1 => ".{0,80}",
        1 => "[A-Za-z0-9_-]{0,20}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,20}",
    ]
}

fn any_stored() -> impl Strategy<Value = StoredTokens> {
    (
        proptest::option::of(any_token()),
        proptest::option::of(any_token()),
        prop_oneof![Just(0i64), -600_000i64..600_000, any::<i64>()],
    )
        .prop_map(|(access, refresh, clock_offset_ms)| StoredTokens {
            access,
            refresh,
            clock_offset_ms,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_never_panics_and_reports_what_the_claims_say(token in any_token()) {
        if let Ok(info) = decode(&token) {
            prop_assert!(info.lifetime_ms().is_none() || info.issued_at_ms.is_some());
            let _ = refresh_leeway_ms(&info);
        }
    }

    #[test]
    fn the_plan_only_ever_sends_a_live_access_token(stored in any_stored(), now in any::<i64>()) {
        // A refresh token is alive until both the server's estimated time and the local
        // clock have passed its `exp`.
        let refresh_judged_at = now.min(now.saturating_sub(stored.clock_offset_ms));
        match plan(&stored, now) {
            Plan::UseAccess(access) => {
                prop_assert_eq!(Some(&access), stored.access.as_ref());
                let info = decode(&access).unwrap();
                prop_assert!(info.may_be("access"));
                prop_assert!(now < info.expires_at_ms);
                let refresh = decode(stored.refresh.as_deref().unwrap()).unwrap();
                prop_assert!(refresh_judged_at < refresh.expires_at_ms && refresh.may_be("refresh"));
            }
            Plan::Refresh(refresh) => {
                prop_assert_eq!(Some(&refresh), stored.refresh.as_ref());
                let info = decode(&refresh).unwrap();
                prop_assert!(refresh_judged_at < info.expires_at_ms && info.may_be("refresh"));
            }
            Plan::SignedOut(_) => {
                prop_assert_eq!(refresh_due_in_ms(&stored, now), None);
            }
        }
        let _ = session_user(&stored);
        if let Some(due) = refresh_due_in_ms(&stored, now) {
            prop_assert!(due >= 0);
            prop_assert_eq!(due == 0, matches!(plan(&stored, now), Plan::Refresh(_)));
        }
    }

    #[test]
    fn next_is_always_a_same_origin_path(next in ".{0,40}") {
        let target = sanitize_next(Some(&next), "/signin");
        prop_assert!(target.starts_with('/') && !target.starts_with("//"));
        prop_assert!(!target.contains('\\') && !target.chars().any(char::is_control));
        prop_assert!(target == next || target == "/");
    }

    #[test]
    fn any_next_survives_the_sign_in_query(next in any::<String>(), junk in ".{0,20}") {
        prop_assert_eq!(next_from_query(&sign_in_query(Some(&next))), Some(next));
        // Whatever the query holds, reading it never panics.
        let _ = next_from_query(&junk);
    }

    #[test]
    fn token_responses_are_all_or_nothing(status in 100u16..600, body in prop_oneof![
        ".{0,60}",
        (any_token(), any_token()).prop_map(|(a, r)| format!(r#"{{"access":"{a}","refresh":"{r}"}}"#)),
        any_token().prop_map(|a| format!(r#"{{"access":"{a}"}}"#)),
    ]) {
        if let Ok(pair) = interpret_obtain(status, &body) {
            prop_assert!(decode(&pair.access).is_ok() && decode(&pair.refresh).is_ok());
        }
        if let RefreshOutcome::Renewed { access, refresh } = interpret_refresh(status, &body) {
            prop_assert!(decode(&access).is_ok());
            prop_assert!(refresh.is_none_or(|r| decode(&r).is_ok()));
        }
    }
}

#[test]
fn no_odd_token_is_ever_sent_as_a_bearer() {
    let now = 1_796_327_000_000;
    let live_refresh =
        token_with_claims(r#"{"token_type":"refresh","exp":1796400000,"iat":1796300000}"#);
    let mut count = 0;
    for odd in odd_tokens() {
        count += 1;
        let alone = StoredTokens {
            access: Some(odd.into()),
            refresh: Some(odd.into()),
            clock_offset_ms: 0,
        };
        assert!(
            !matches!(plan(&alone, now), Plan::UseAccess(_)),
            "{odd:?} used as a bearer"
        );
        let with_refresh = StoredTokens {
            refresh: Some(live_refresh.clone()),
            ..alone
        };
        assert_eq!(
            plan(&with_refresh, now),
            Plan::Refresh(live_refresh.clone()),
            "{odd:?}"
        );
    }
    assert!(count > 40, "the corpus is read");
}
