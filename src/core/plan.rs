//! Given the stored tokens and the time: can the client call the API now, must it
//! refresh first, or is there no session at all?

use super::token::{decode, TokenInfo};

/// Never wait longer than this before the end of an access token's life to refresh it.
pub const MAX_REFRESH_LEEWAY_MS: i64 = 5_000;

/// The raw strings found in storage.  Anything may be in there (an older version's
/// format, a truncated value, `undefined`): they are only trusted after decoding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredTokens {
    /// The stored access token, if any.
    pub access: Option<String>,
    /// The stored refresh token, if any.
    pub refresh: Option<String>,
    /// Estimated server clock minus local clock, in milliseconds, learnt from the `iat` of
    /// the last tokens received (0 when unknown).  See [`clock_offset_ms`].
    pub clock_offset_ms: i64,
}

/// Why there is no session to work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// Nothing usable was stored: the user never signed in (or storage was wiped).
    NoTokens,
    /// The refresh token's `exp` has passed: only a new sign-in helps.
    RefreshExpired,
}

/// What the client must do before an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Send the request with this access token.
    UseAccess(String),
    /// Get a new access token with this refresh token first.
    Refresh(String),
    /// There is no session.
    SignedOut(NoSession),
}

/// How long before an access token's `exp` the client refreshes it.
///
/// A tenth of the token's lifetime, at most [`MAX_REFRESH_LEEWAY_MS`]: a 5-minute
/// token is refreshed 5 s early, a 2-second test token 200 ms early, so that short
/// lifetimes do not turn into a refresh on every request.
pub fn refresh_leeway_ms(access: &TokenInfo) -> i64 {
    access
        .lifetime_ms()
        .map_or(MAX_REFRESH_LEEWAY_MS, |lifetime| {
            (lifetime / 10).clamp(0, MAX_REFRESH_LEEWAY_MS)
        })
}

/// The access token, decoded, when it is an access token still comfortably valid at `now_ms`.
pub fn usable_access(stored: &StoredTokens, now_ms: i64) -> Option<&str> {
    let access = stored.access.as_deref()?;
    let info = decode(access).ok()?;
    let usable = info.may_be("access") && now_ms < info.expires_at_ms - refresh_leeway_ms(&info);
    usable.then_some(access)
}

/// The refresh token and its claims, when it is readable, of the right kind and unexpired.
///
/// `now_ms` is the server's estimated time (local clock plus the stored offset).  The
/// token counts as expired only when it is by that estimate *and* by the local clock: an
/// offset learnt before the device clock was corrected must not end a session the server
/// would still accept, and erring the other way costs at most one refresh answered 401.
pub fn live_refresh(stored: &StoredTokens, now_ms: i64) -> Result<(&str, TokenInfo), NoSession> {
    let refresh = stored.refresh.as_deref().ok_or(NoSession::NoTokens)?;
    let info = decode(refresh).map_err(|_| NoSession::NoTokens)?;
    if !info.may_be("refresh") {
        return Err(NoSession::NoTokens);
    }
    let local_now_ms = now_ms.saturating_sub(stored.clock_offset_ms);
    if now_ms.min(local_now_ms) >= info.expires_at_ms {
        return Err(NoSession::RefreshExpired);
    }
    Ok((refresh, info))
}

/// Decides what to do before an authenticated request at `now_ms`.
pub fn plan(stored: &StoredTokens, now_ms: i64) -> Plan {
    let refresh = match live_refresh(stored, now_ms) {
        Ok((refresh, _)) => refresh,
        Err(reason) => return Plan::SignedOut(reason),
    };
    match usable_access(stored, now_ms) {
        Some(access) => Plan::UseAccess(access.to_owned()),
        None => Plan::Refresh(refresh.to_owned()),
    }
}

/// How far the server's clock is ahead of ours, judged from a token just received.
///
/// simplejwt stamps `iat` with its own clock (whole seconds, rounded down), so at the
/// moment a fresh token arrives the server's time is between `iat` and `iat` + 1 s plus
/// the network delay.  Taking the later end means a skewed local clock makes the client
/// refresh up to a second early, never late; without this a client clock minutes ahead
/// sees every token as expired (a refresh storm, or a sign-out), and one minutes behind
/// sends expired tokens.
pub fn clock_offset_ms(fresh_token: &TokenInfo, local_now_ms: i64) -> i64 {
    fresh_token
        .issued_at_ms
        .map_or(0, |iat| (iat + 1_000).saturating_sub(local_now_ms))
}

/// The clock offset to keep with a newly stored pair.  `replaced` is the refresh token
/// sent to get it and the offset kept so far; `None` for a sign-in, whose tokens are all
/// fresh.
///
/// Every token's `iat` is at most the server's time when the answer left, so the token
/// with the latest `iat` gives the best estimate.  simplejwt 5.0 to 5.4 copied the sent
/// refresh token's `iat` into the access token made by the refresh endpoint (fixed in
/// simplejwt PR #888): that `iat` is as old as the sign-in or the last rotation, and
/// believing it would put the server's clock minutes or hours in the past (no refresh
/// before expiry, a 401 and a retry at every expiry).  So an `iat` equal to the sent
/// refresh token's is not learnt from (nor is the sent token itself, kept when rotation
/// is off); with no fresh `iat` at all the previous offset stays.
pub fn clock_offset_for_pair(
    access: &str,
    refresh: &str,
    replaced: Option<(&str, i64)>,
    local_now_ms: i64,
) -> i64 {
    let (sent_refresh, previous_offset_ms) = replaced.unzip();
    let copied_iat = sent_refresh
        .and_then(|token| decode(token).ok())
        .and_then(|info| info.issued_at_ms);
    [access, refresh]
        .into_iter()
        .filter_map(|token| decode(token).ok())
        .filter(|info| info.issued_at_ms.is_some() && info.issued_at_ms != copied_iat)
        .map(|info| clock_offset_ms(&info, local_now_ms))
        .max()
        .or(previous_offset_ms)
        .unwrap_or(0)
}

/// Milliseconds of server time until the access token should be refreshed: 0 when
/// that is now, `None` when there is no live session to keep.
pub fn refresh_due_in_ms(stored: &StoredTokens, now_ms: i64) -> Option<i64> {
    live_refresh(stored, now_ms).ok()?;
    let due_at = stored
        .access
        .as_deref()
        .and_then(|access| decode(access).ok())
        .filter(|info| info.may_be("access"))
        .map_or(now_ms, |info| info.expires_at_ms - refresh_leeway_ms(&info));
    Some(due_at.saturating_sub(now_ms).max(0))
}

/// Whose session this is, read from the tokens (access first, then refresh).
pub fn session_user(stored: &StoredTokens) -> Option<String> {
    [&stored.access, &stored.refresh]
        .into_iter()
        .flatten()
        .find_map(|token| decode(token).ok()?.user_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::token::tests::{simplejwt_token, token_with_claims};

    const NOW_S: i64 = 1_800_000_000;
    const NOW: i64 = NOW_S * 1000;

    fn stored(access: Option<String>, refresh: Option<String>) -> StoredTokens {
        StoredTokens {
            access,
            refresh,
            clock_offset_ms: 0,
        }
    }

    fn live_pair() -> StoredTokens {
        stored(
            Some(simplejwt_token("access", NOW_S - 10, NOW_S + 290)),
            Some(simplejwt_token("refresh", NOW_S - 10, NOW_S + 86_000)),
        )
    }

    #[test]
    fn a_fresh_access_token_is_used_as_is() {
        let tokens = live_pair();
        assert_eq!(
            plan(&tokens, NOW),
            Plan::UseAccess(tokens.access.clone().unwrap())
        );
    }

    #[test]
    fn an_expired_access_token_means_refresh() {
        let tokens = live_pair();
        let refresh = tokens.refresh.clone().unwrap();
        assert_eq!(plan(&tokens, NOW + 291_000), Plan::Refresh(refresh));
    }

    #[test]
    fn an_access_token_about_to_expire_is_refreshed_early() {
        let tokens = live_pair();
        // Lifetime 300 s: leeway capped at 5 s.
        assert!(matches!(plan(&tokens, NOW + 284_000), Plan::UseAccess(_)));
        assert!(matches!(plan(&tokens, NOW + 285_000), Plan::Refresh(_)));
    }

    #[test]
    fn the_leeway_scales_down_for_short_lived_tokens() {
        let short = decode_info(&simplejwt_token("access", NOW_S, NOW_S + 2));
        assert_eq!(refresh_leeway_ms(&short), 200);
        let no_iat = decode_info(&token_with_claims(r#"{"exp":5}"#));
        assert_eq!(refresh_leeway_ms(&no_iat), MAX_REFRESH_LEEWAY_MS);
        let inverted = decode_info(&simplejwt_token("access", NOW_S + 10, NOW_S));
        assert_eq!(refresh_leeway_ms(&inverted), 0);
    }

    fn decode_info(token: &str) -> TokenInfo {
        decode(token).unwrap()
    }

    #[test]
    fn a_missing_or_odd_access_token_with_a_live_refresh_token_means_refresh() {
        let refresh = live_pair().refresh;
        for access in [
            None,
            Some("undefined".to_owned()),
            Some("abc.def".to_owned()),
        ] {
            assert!(matches!(
                plan(&stored(access, refresh.clone()), NOW),
                Plan::Refresh(_)
            ));
        }
        // A refresh token stored where the access token belongs is not sent as a bearer.
        let swapped = stored(refresh.clone(), refresh);
        assert!(matches!(plan(&swapped, NOW), Plan::Refresh(_)));
    }

    #[test]
    fn no_session_without_a_usable_refresh_token() {
        let access = live_pair().access;
        assert_eq!(
            plan(&stored(None, None), NOW),
            Plan::SignedOut(NoSession::NoTokens)
        );
        assert_eq!(
            plan(&stored(access.clone(), None), NOW),
            Plan::SignedOut(NoSession::NoTokens)
        );
        assert_eq!(
            plan(&stored(access.clone(), Some("garbage".into())), NOW),
            Plan::SignedOut(NoSession::NoTokens)
        );
        // An access token in the refresh slot would only earn a 401 "wrong type".
        assert_eq!(
            plan(&stored(access.clone(), access), NOW),
            Plan::SignedOut(NoSession::NoTokens)
        );
    }

    #[test]
    fn an_expired_refresh_token_ends_the_session() {
        let tokens = live_pair();
        assert_eq!(
            plan(&tokens, NOW + 86_000_000),
            Plan::SignedOut(NoSession::RefreshExpired)
        );
    }

    #[test]
    fn a_refresh_token_expires_by_both_clocks_or_not_at_all() {
        let mut tokens = live_pair();
        let after_refresh_exp = NOW + 86_001_000;
        // The offset says the server is two days ahead, but the local clock (since
        // corrected) says the refresh token still has a day: ask the server.
        tokens.clock_offset_ms = 2 * 86_400_000;
        assert!(matches!(
            plan(&tokens, NOW + tokens.clock_offset_ms),
            Plan::Refresh(_)
        ));
        // Past `exp` by both clocks: over.
        assert_eq!(
            plan(&tokens, after_refresh_exp + tokens.clock_offset_ms),
            Plan::SignedOut(NoSession::RefreshExpired)
        );
        // Local clock ahead (negative offset): the server's estimate decides.
        tokens.clock_offset_ms = -600_000;
        assert_eq!(
            plan(&tokens, after_refresh_exp),
            Plan::SignedOut(NoSession::RefreshExpired)
        );
        assert!(matches!(
            plan(&tokens, NOW),
            Plan::Refresh(_) | Plan::UseAccess(_)
        ));
    }

    #[test]
    fn the_refresh_is_due_a_leeway_before_access_expiry() {
        let tokens = live_pair();
        assert_eq!(refresh_due_in_ms(&tokens, NOW), Some(285_000));
        assert_eq!(refresh_due_in_ms(&tokens, NOW + 290_000), Some(0));
        let refresh_only = stored(None, tokens.refresh.clone());
        assert_eq!(refresh_due_in_ms(&refresh_only, NOW), Some(0));
        assert_eq!(refresh_due_in_ms(&stored(tokens.access, None), NOW), None);
    }

    #[test]
    fn the_clock_offset_errs_towards_refreshing_early() {
        let fresh = decode_info(&simplejwt_token("access", NOW_S, NOW_S + 300));
        // Local clock five minutes ahead of the server: the offset is about -5 min.
        assert_eq!(clock_offset_ms(&fresh, NOW + 300_000), -299_000);
        assert_eq!(clock_offset_ms(&fresh, NOW - 300_000), 301_000);
        assert_eq!(
            clock_offset_ms(&decode_info(&token_with_claims(r#"{"exp":1}"#)), NOW),
            0
        );
    }

    #[test]
    fn a_stale_copied_iat_is_not_learnt_from() {
        let sent = simplejwt_token("refresh", NOW_S - 3_600, NOW_S + 80_000);
        // simplejwt < 5.5: the new access token carries the sent refresh token's iat.
        let copied = simplejwt_token("access", NOW_S - 3_600, NOW_S + 300);
        let rotated = simplejwt_token("refresh", NOW_S, NOW_S + 86_400);
        let replaced = Some((sent.as_str(), 42));
        // Rotation on: the rotated refresh token's fresh iat wins.
        assert_eq!(
            clock_offset_for_pair(&copied, &rotated, replaced, NOW),
            1_000
        );
        // Rotation off (the sent token is kept): nothing fresh, the previous offset stays.
        assert_eq!(clock_offset_for_pair(&copied, &sent, replaced, NOW), 42);
        // Current simplejwt: a fresh access iat is learnt from, whatever came before.
        let fresh = simplejwt_token("access", NOW_S + 120, NOW_S + 420);
        assert_eq!(clock_offset_for_pair(&fresh, &sent, replaced, NOW), 121_000);
        // A sign-in learns from its tokens; issuers without iat leave the offset alone.
        assert_eq!(clock_offset_for_pair(&fresh, &rotated, None, NOW), 121_000);
        let no_iat = token_with_claims(r#"{"exp":1}"#);
        assert_eq!(clock_offset_for_pair(&no_iat, &no_iat, None, NOW), 0);
    }

    #[test]
    fn the_user_comes_from_the_access_token_or_else_the_refresh_token() {
        let alice = token_with_claims(r#"{"exp":1,"user_id":"alice"}"#);
        let bob = token_with_claims(r#"{"exp":1,"sub":"bob"}"#);
        assert_eq!(
            session_user(&stored(Some(alice.clone()), Some(bob.clone()))).as_deref(),
            Some("alice")
        );
        assert_eq!(
            session_user(&stored(Some("junk".into()), Some(bob))).as_deref(),
            Some("bob")
        );
        assert_eq!(session_user(&stored(None, None)), None);
    }
}
