//! What the server's answers mean, as typed outcomes a page can render.

use serde::Deserialize;

use super::token::decode;

/// A freshly issued access + refresh token pair: both always come from the same response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: String,
}

/// Why signing in did not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInError {
    /// The server answered 401: wrong username or password, or an inactive account.
    InvalidCredentials,
    /// The server answered 400: a field was missing.
    MissingFields,
    /// No answer, or a 5xx: the server could not be reached.
    Unreachable,
    /// Another 4xx (rate limit, forbidden, …).
    Refused,
    /// A 2xx whose body was not a token pair.
    BadResponse,
    /// The server accepted the credentials, but the browser would not store the session.
    StorageUnavailable,
}

impl SignInError {
    /// A message for the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::InvalidCredentials => "Invalid credentials",
            Self::MissingFields => "Please enter both username and password.",
            Self::Unreachable => "The server could not be reached. Please try again.",
            Self::Refused => "The server refused the sign-in. Please try again later.",
            Self::BadResponse => "The server sent an unexpected answer. Please try again.",
            Self::StorageUnavailable => {
                "Your browser would not let this site keep you signed in (site data is blocked \
                 or storage is full). Allow site data for this site and try again."
            }
        }
    }
}

/// Why an API call did not return data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiError {
    /// The session is over (refresh token expired or rejected); the user must sign in.
    SessionEnded,
    /// No answer from the server (offline, DNS, connection refused, CORS).
    Unreachable,
    /// The server answered with this 5xx status.
    ServerFault(u16),
    /// The server refused the request with this 4xx status (not 401).
    Refused(u16),
    /// A success status with a body the client could not read.
    BadResponse,
    /// The client was asked to send credentials somewhere other than the API.
    NotAnApiPath,
}

impl ApiError {
    /// A message for the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::SessionEnded => "Your session has ended. Please sign in again.",
            Self::Unreachable | Self::ServerFault(_) => {
                "Connection problem: the server could not be reached. Please try again."
            }
            Self::Refused(403) => "You are not allowed to see this.",
            Self::Refused(404) => "Not found.",
            Self::Refused(_) => "The server refused the request.",
            Self::BadResponse => "The server sent an unexpected answer.",
            Self::NotAnApiPath => "This address is not part of the API.",
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access: Option<String>,
    #[serde(default)]
    refresh: Option<String>,
}

fn is_server_fault(status: u16) -> bool {
    status >= 500
}

/// Token responses are a few hundred bytes; anything this large is not one.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

fn parse_tokens(body: &str) -> Option<TokenResponse> {
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return None;
    }
    let parsed: TokenResponse = serde_json::from_str(body).ok()?;
    // A token the client cannot read would only fail later, half-way through a session.
    let readable = |t: &Option<String>| t.as_deref().is_none_or(|t| decode(t).is_ok());
    (readable(&parsed.access) && readable(&parsed.refresh)).then_some(parsed)
}

/// Interprets the answer to a token-obtain (sign-in) request.
pub fn interpret_obtain(status: u16, body: &str) -> Result<TokenPair, SignInError> {
    match status {
        200..=299 => match parse_tokens(body) {
            Some(TokenResponse {
                access: Some(access),
                refresh: Some(refresh),
            }) => Ok(TokenPair { access, refresh }),
            _ => Err(SignInError::BadResponse),
        },
        401 => Err(SignInError::InvalidCredentials),
        400 => Err(SignInError::MissingFields),
        s if is_server_fault(s) => Err(SignInError::Unreachable),
        _ => Err(SignInError::Refused),
    }
}

/// What a refresh request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new access token, and a new refresh token when the server rotates them.
    Renewed {
        /// The new access token.
        access: String,
        /// The new refresh token (rotation on), or `None` (rotation off: keep the current one).
        refresh: Option<String>,
    },
    /// 401: the refresh token is blacklisted, expired, invalid or its user is gone.
    /// The only answer that ends a session.
    Rejected,
    /// Anything else: the session may be fine, the request was not.
    Failed(ApiError),
}

/// Interprets the answer to a refresh request.
pub fn interpret_refresh(status: u16, body: &str) -> RefreshOutcome {
    match status {
        200..=299 => match parse_tokens(body) {
            Some(TokenResponse {
                access: Some(access),
                refresh,
            }) => RefreshOutcome::Renewed { access, refresh },
            _ => RefreshOutcome::Failed(ApiError::BadResponse),
        },
        401 => RefreshOutcome::Rejected,
        s if is_server_fault(s) => RefreshOutcome::Failed(ApiError::ServerFault(s)),
        s => RefreshOutcome::Failed(ApiError::Refused(s)),
    }
}

/// What an authenticated API response means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// Success: the body.
    Body(String),
    /// 401: the access token was not accepted.
    Unauthorized,
    /// Any other failure.
    Failed(ApiError),
}

/// The `code` of a DRF error body.
#[derive(Deserialize)]
struct ErrorCode {
    #[serde(default)]
    code: Option<String>,
}

/// Whether a 403's body is simplejwt refusing the token rather than the user being forbidden.
///
/// DRF turns an authentication failure into 403 (not 401) when the view's first
/// authentication class sends no `WWW-Authenticate` header, as `SessionAuthentication`
/// does; many projects list it before `JWTAuthentication`.  simplejwt's body still says
/// `"code":"token_not_valid"`, so that, not the status, tells an expired or rejected
/// access token from a real permission denial.
fn is_token_refusal(body: &str) -> bool {
    body.len() <= MAX_TOKEN_RESPONSE_BYTES
        // serde would also read a struct from a JSON array; DRF sends an object.
        && body.trim_start().starts_with('{')
        && serde_json::from_str::<ErrorCode>(body)
            .is_ok_and(|error| error.code.as_deref() == Some("token_not_valid"))
}

/// Interprets the answer to an authenticated API request.
pub fn interpret_api(status: u16, body: String) -> ApiOutcome {
    match status {
        200..=299 => ApiOutcome::Body(body),
        401 => ApiOutcome::Unauthorized,
        403 if is_token_refusal(&body) => ApiOutcome::Unauthorized,
        s if is_server_fault(s) => ApiOutcome::Failed(ApiError::ServerFault(s)),
        s => ApiOutcome::Failed(ApiError::Refused(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::token::tests::simplejwt_token;

    fn access() -> String {
        simplejwt_token("access", 100, 400)
    }
    fn refresh() -> String {
        simplejwt_token("refresh", 100, 86_500)
    }

    #[test]
    fn obtain_200_gives_a_pair() {
        let body = format!(r#"{{"refresh":"{}","access":"{}"}}"#, refresh(), access());
        assert_eq!(
            interpret_obtain(200, &body),
            Ok(TokenPair {
                access: access(),
                refresh: refresh()
            })
        );
    }

    #[test]
    fn obtain_failures_map_to_what_the_user_should_hear() {
        let wrong = r#"{"detail":"No active account found with the given credentials"}"#;
        assert_eq!(
            interpret_obtain(401, wrong),
            Err(SignInError::InvalidCredentials)
        );
        assert_eq!(
            SignInError::InvalidCredentials.message(),
            "Invalid credentials"
        );
        let missing = r#"{"username":["This field is required."]}"#;
        assert_eq!(
            interpret_obtain(400, missing),
            Err(SignInError::MissingFields)
        );
        assert_eq!(
            interpret_obtain(500, "<html>oops</html>"),
            Err(SignInError::Unreachable)
        );
        assert_eq!(interpret_obtain(502, ""), Err(SignInError::Unreachable));
        assert_eq!(interpret_obtain(429, "{}"), Err(SignInError::Refused));
    }

    #[test]
    fn obtain_200_without_a_readable_pair_is_a_bad_response() {
        let access_only = format!(r#"{{"access":"{}"}}"#, access());
        let junk_refresh = format!(r#"{{"access":"{}","refresh":"nope"}}"#, access());
        for body in [
            "",
            "null",
            "[]",
            "{}",
            "<html></html>",
            &access_only,
            &junk_refresh,
            r#"{"access":1}"#,
        ] {
            assert_eq!(
                interpret_obtain(200, body),
                Err(SignInError::BadResponse),
                "body {body:?}"
            );
        }
    }

    #[test]
    fn a_very_large_token_response_is_a_bad_response() {
        let padded = format!(
            r#"{{"refresh":"{}","access":"{}","padding":"{}"}}"#,
            refresh(),
            access(),
            "x".repeat(MAX_TOKEN_RESPONSE_BYTES)
        );
        assert_eq!(
            interpret_obtain(200, &padded),
            Err(SignInError::BadResponse)
        );
        assert_eq!(
            interpret_refresh(200, &padded),
            RefreshOutcome::Failed(ApiError::BadResponse)
        );
    }

    #[test]
    fn refresh_with_rotation_gives_both_tokens() {
        let body = format!(r#"{{"access":"{}","refresh":"{}"}}"#, access(), refresh());
        assert_eq!(
            interpret_refresh(200, &body),
            RefreshOutcome::Renewed {
                access: access(),
                refresh: Some(refresh())
            }
        );
    }

    #[test]
    fn refresh_without_rotation_keeps_the_current_refresh_token() {
        let body = format!(r#"{{"access":"{}"}}"#, access());
        assert_eq!(
            interpret_refresh(200, &body),
            RefreshOutcome::Renewed {
                access: access(),
                refresh: None
            }
        );
    }

    #[test]
    fn only_a_401_from_refresh_ends_the_session() {
        let blacklisted = r#"{"detail":"Token is blacklisted","code":"token_not_valid"}"#;
        assert_eq!(
            interpret_refresh(401, blacklisted),
            RefreshOutcome::Rejected
        );
        assert_eq!(
            interpret_refresh(500, ""),
            RefreshOutcome::Failed(ApiError::ServerFault(500))
        );
        assert_eq!(
            interpret_refresh(502, "<html>"),
            RefreshOutcome::Failed(ApiError::ServerFault(502))
        );
        assert_eq!(
            interpret_refresh(400, "{}"),
            RefreshOutcome::Failed(ApiError::Refused(400))
        );
        assert_eq!(
            interpret_refresh(200, "{}"),
            RefreshOutcome::Failed(ApiError::BadResponse)
        );
        assert_eq!(
            interpret_refresh(200, "not json"),
            RefreshOutcome::Failed(ApiError::BadResponse)
        );
    }

    #[test]
    fn api_statuses() {
        assert_eq!(
            interpret_api(200, "[]".into()),
            ApiOutcome::Body("[]".into())
        );
        assert_eq!(interpret_api(401, String::new()), ApiOutcome::Unauthorized);
        // DRF with SessionAuthentication listed first answers 403 for a refused token.
        let refused_token = r#"{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is expired"}]}"#;
        assert_eq!(
            interpret_api(403, refused_token.into()),
            ApiOutcome::Unauthorized
        );
        // A real permission denial stays one, whatever its body.
        for forbidden in [
            r#"{"detail":"You do not have permission to perform this action."}"#,
            r#"{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}"#,
            r#"["token_not_valid"]"#,
            "<html>token_not_valid</html>",
            "",
        ] {
            assert_eq!(
                interpret_api(403, forbidden.into()),
                ApiOutcome::Failed(ApiError::Refused(403)),
                "{forbidden}"
            );
        }
        assert_eq!(
            interpret_api(503, String::new()),
            ApiOutcome::Failed(ApiError::ServerFault(503))
        );
        assert_eq!(
            interpret_api(404, String::new()),
            ApiOutcome::Failed(ApiError::Refused(404))
        );
    }
}
