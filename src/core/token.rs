//! Reading JWTs issued by simplejwt, without checking their signature.
//!
//! The client never holds the signing key and the server is the only authority on
//! whether a token is good; the client decodes a token only to learn *when* it expires
//! and *who* it is for, so that it can refresh in time and greet the user.

use std::fmt;

use jwt_compact::UntrustedToken;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// What the client needs to know about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `exp`, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// `iat`, in milliseconds since the Unix epoch, when the issuer sent one.
    pub issued_at_ms: Option<i64>,
    /// simplejwt's `token_type` claim (`access`, `refresh`, `sliding`), when present.
    pub token_type: Option<String>,
    /// The user id claim (`user_id`, or `sub` for issuers that use it), as text.
    pub user_id: Option<String>,
}

impl TokenInfo {
    /// The token's stated lifetime, when it carries both `iat` and `exp`.
    pub fn lifetime_ms(&self) -> Option<i64> {
        self.issued_at_ms.map(|iat| self.expires_at_ms - iat)
    }

    /// Whether the token says it is of `kind`; tokens without a `token_type` claim (other
    /// issuers) are accepted for any kind.
    pub fn may_be(&self, kind: &str) -> bool {
        self.token_type.as_deref().is_none_or(|t| t == kind)
    }
}

/// Why a stored or received token could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header and JSON claims.
    Malformed,
    /// Readable, but without an `exp` claim, so the client cannot plan a refresh.
    NoExpiry,
}

#[derive(Deserialize)]
struct SimplejwtClaims {
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    user_id: Option<UserId>,
    #[serde(default)]
    sub: Option<UserId>,
}

/// simplejwt 5.5.1 sends the user id as a string, older releases as a number.
struct UserId(String);

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UserIdVisitor;
        impl Visitor<'_> for UserIdVisitor {
            type Value = UserId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or integer user id")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UserId, E> {
                Ok(UserId(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UserId, E> {
                Ok(UserId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UserId, E> {
                Ok(UserId(v.to_string()))
            }
        }
        deserializer.deserialize_any(UserIdVisitor)
    }
}

/// Decodes a token's claims.  Never panics, whatever the input.
///
/// Only the token exactly as given is read (no trimming): a token that decodes is made of
/// base64url parts and dots alone, so it is always safe to put in an `Authorization`
/// header (a line break or odd space there makes `fetch` throw).
pub fn decode(token: &str) -> Result<TokenInfo, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    let claims = untrusted
        .deserialize_claims_unchecked::<SimplejwtClaims>()
        .map_err(|_| TokenError::Malformed)?;
    let expires_at = claims.expiration.ok_or(TokenError::NoExpiry)?;
    let custom = claims.custom;
    Ok(TokenInfo {
        expires_at_ms: expires_at.timestamp_millis(),
        issued_at_ms: claims.issued_at.map(|t| t.timestamp_millis()),
        token_type: custom.token_type,
        user_id: custom.user_id.or(custom.sub).map(|id| id.0),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn b64(data: &str) -> String {
        // A tiny base64url encoder so tests can build tokens without a signing key.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let bytes = data.as_bytes();
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    /// Builds an unsigned-looking HS256 token around `claims_json`.
    pub(crate) fn token_with_claims(claims_json: &str) -> String {
        format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(claims_json),
            b64("signature-bytes")
        )
    }

    /// A simplejwt-shaped token of `kind`, issued at `iat` and expiring at `exp` (seconds).
    pub(crate) fn simplejwt_token(kind: &str, iat: i64, exp: i64) -> String {
        token_with_claims(&format!(
            r#"{{"token_type":"{kind}","exp":{exp},"iat":{iat},"jti":"0123456789abcdef0123456789abcdef","user_id":"1"}}"#
        ))
    }

    #[test]
    fn decodes_a_simplejwt_access_token() {
        let info = decode(&simplejwt_token("access", 1_700_000_000, 1_700_000_300)).unwrap();
        assert_eq!(info.expires_at_ms, 1_700_000_300_000);
        assert_eq!(info.issued_at_ms, Some(1_700_000_000_000));
        assert_eq!(info.token_type.as_deref(), Some("access"));
        assert_eq!(info.user_id.as_deref(), Some("1"));
        assert_eq!(info.lifetime_ms(), Some(300_000));
    }

    #[test]
    fn decodes_a_real_simplejwt_5_5_1_token() {
        // Issued by the reference backend; the signature is irrelevant to the client.
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwiZXhwIjoxNzk2MzI3OTg2LCJpYXQiOjE3OTYzMjc2ODYsImp0aSI6IjRmYWZlYmZiMjJkYzQ3ODdhNmIwYTQxMzdhMzdjNGQ4IiwidXNlcl9pZCI6IjEifQ.dw7jI4mEWTTcyEAyFEGZDlrr4eLnvBFUiTUkHrth0Mk";
        let info = decode(token).unwrap();
        assert_eq!(info.expires_at_ms, 1_796_327_986_000);
        assert_eq!(info.lifetime_ms(), Some(300_000));
        assert_eq!(info.user_id.as_deref(), Some("1"));
        assert!(info.may_be("access"));
        assert!(!info.may_be("refresh"));
    }

    #[test]
    fn accepts_numeric_user_ids_sub_claims_and_float_timestamps() {
        let numeric = decode(&token_with_claims(r#"{"exp":10,"user_id":42}"#)).unwrap();
        assert_eq!(numeric.user_id.as_deref(), Some("42"));
        let sub = decode(&token_with_claims(r#"{"exp":10.5,"sub":"alice"}"#)).unwrap();
        assert_eq!(sub.user_id.as_deref(), Some("alice"));
        assert_eq!(sub.expires_at_ms, 10_000);
        assert!(
            sub.may_be("refresh"),
            "tokens without token_type are not rejected by kind"
        );
    }

    #[test]
    fn rejects_odd_input_without_panicking() {
        for odd in [
            "",
            "undefined",
            "null",
            "\"quoted\"",
            "a.b",
            "a.b.c",
            "....",
            "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
            &token_with_claims("[1,2,3]"),
            &token_with_claims(r#"{"exp":"soon"}"#),
            &token_with_claims(r#"{"exp":1e300}"#),
            &token_with_claims(r#"{"exp":1,"user_id":{"nested":true}}"#),
        ] {
            assert_eq!(decode(odd), Err(TokenError::Malformed), "input {odd:?}");
        }
        assert_eq!(
            decode(&token_with_claims(r#"{"user_id":"1"}"#)),
            Err(TokenError::NoExpiry)
        );
        let good = simplejwt_token("access", 1, 2);
        for padded in [
            format!(" {good}"),
            format!("{good}\n"),
            format!("\r\n{good}"),
            format!("{good}\u{2028}"),
            good.replacen('.', ".\t", 1),
        ] {
            assert_eq!(decode(&padded), Err(TokenError::Malformed), "{padded:?}");
        }
    }
}
