//! Where the API lives and how its simplejwt endpoints are named.
//!
//! Every simplejwt project picks its own paths (`/api/token/`, djoser's
//! `/auth/jwt/create/`, …), so each is a build-time setting with the reference
//! backend's value as default; `trunk build` passes the environment through to cargo.

/// The settings the client needs to talk to a simplejwt backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Origin (and optional path prefix) of the API, without a trailing slash; empty means
    /// "the origin the app was served from".  Tokens are only ever sent below this base.
    pub api_base: String,
    /// Token obtain (sign-in) endpoint path.
    pub obtain_path: &'static str,
    /// Token refresh endpoint path.
    pub refresh_path: &'static str,
    /// Token blacklist endpoint path.
    pub blacklist_path: &'static str,
    /// The user model's `USERNAME_FIELD` (`username`, `email`, …).
    pub username_field: &'static str,
    /// simplejwt's `AUTH_HEADER_TYPES[0]`: the server silently ignores other schemes.
    pub auth_scheme: &'static str,
    /// How long a request may take before the user is told about a connection problem.
    pub request_timeout_ms: u32,
}

/// Where a URL handed to the client points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Below the API base: may carry the session's credentials.
    Api(String),
    /// An absolute `http(s)` URL elsewhere: fetched without credentials.
    Elsewhere(String),
    /// Neither (a relative path without `/`, `javascript:`, …).
    Invalid,
}

macro_rules! setting {
    ($name:literal, $default:literal) => {
        match option_env!($name) {
            Some(value) => value,
            None => $default,
        }
    };
}

impl Config {
    /// The settings baked in at build time (`API_BASE_URL`, `TOKEN_OBTAIN_PATH`,
    /// `TOKEN_REFRESH_PATH`, `TOKEN_BLACKLIST_PATH`, `USERNAME_FIELD`, `AUTH_HEADER_TYPE`).
    pub fn from_build_env() -> Self {
        Self {
            api_base: setting!("API_BASE_URL", "")
                .trim_end_matches('/')
                .to_owned(),
            obtain_path: setting!("TOKEN_OBTAIN_PATH", "/auth/token/"),
            refresh_path: setting!("TOKEN_REFRESH_PATH", "/auth/token/refresh/"),
            blacklist_path: setting!("TOKEN_BLACKLIST_PATH", "/auth/token/blacklist/"),
            username_field: setting!("USERNAME_FIELD", "username"),
            auth_scheme: setting!("AUTH_HEADER_TYPE", "Bearer"),
            request_timeout_ms: setting!("REQUEST_TIMEOUT_MS", "8000")
                .parse()
                .unwrap_or(8_000),
        }
    }

    /// Classifies a path or URL: only paths below the API base get credentials.
    pub fn destination(&self, path_or_url: &str) -> Destination {
        if let Some(url) = self.api_url(path_or_url) {
            return Destination::Api(url);
        }
        let below_api = |url: &str| {
            !self.api_base.is_empty()
                && url
                    .strip_prefix(self.api_base.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if below_api(path_or_url) && is_plain_path(&path_or_url[self.api_base.len()..]) {
            Destination::Api(path_or_url.to_owned())
        } else if path_or_url.starts_with("https://") || path_or_url.starts_with("http://") {
            Destination::Elsewhere(path_or_url.to_owned())
        } else {
            Destination::Invalid
        }
    }

    /// The URL of an API path, or `None` when `path` is not a plain path below the API base
    /// (an absolute or protocol-relative URL would carry the token to another origin).
    pub fn api_url(&self, path: &str) -> Option<String> {
        is_plain_path(path).then(|| [self.api_base.as_str(), path].concat())
    }
}

/// Whether `path`, appended to the API base, can only name a URL below that base.
///
/// Browsers read URLs loosely: they drop tabs and line breaks anywhere (so `/\t/host`
/// becomes the protocol-relative `//host`), treat `\` as `/`, and resolve `..` and `.`
/// segments, percent-encoded or not.  Anything of that kind is refused rather than
/// second-guessed.
fn is_plain_path(path: &str) -> bool {
    let path_part = path.split(['?', '#']).next().unwrap_or(path);
    let is_dot_segment = |segment: &str| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    };
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_control() || c.is_whitespace())
        && !path_part.split('/').any(is_dot_segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_stay_below_the_configured_base() {
        let config = Config {
            api_base: "https://api.example".into(),
            ..Config::from_build_env()
        };
        assert_eq!(
            config.api_url("/api/me/").as_deref(),
            Some("https://api.example/api/me/")
        );
        for other_origin in [
            "https://evil.example/api/",
            "//evil.example/api/",
            "/\\evil.example",
            "api/me/",
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r/evil.example/x",
            " //evil.example/x",
            "/../admin/",
            "/api/%2e%2e/admin/",
            "/api/.%2E/admin/",
            "/api/..",
            "/api/./me/",
        ] {
            assert_eq!(config.api_url(other_origin), None, "path {other_origin:?}");
        }
        // Dots inside a segment, and anything after `?`, are just data.
        assert!(config.api_url("/api/items/a..b/?q=../x").is_some());
    }

    #[test]
    fn absolute_urls_carry_credentials_only_when_plainly_below_the_base() {
        let config = Config {
            api_base: "https://example.com/api".into(),
            ..Config::from_build_env()
        };
        assert_eq!(
            config.destination("https://example.com/api/me/"),
            Destination::Api("https://example.com/api/me/".into())
        );
        for outside in [
            "https://example.com/api/../admin/",
            "https://example.com/api/%2e%2e/admin/",
            "https://example.com/api/.%2E/admin/",
            "https://example.com/api/..",
            "https://example.com/api/\t/x",
            "https://example.com/apix/",
            "https://example.com/api@evil.example/",
        ] {
            assert!(
                !matches!(config.destination(outside), Destination::Api(_)),
                "{outside:?}"
            );
        }
        assert!(!matches!(
            config.destination("/../admin/"),
            Destination::Api(_)
        ));
    }
}
