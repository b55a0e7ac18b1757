//! Where the user may be sent after signing in.
//!
//! `next` arrives in the URL, so anybody can craft it: only a path on this same origin
//! is honoured, never another host (`//evil.example`, `https://…`), a script
//! (`javascript:`), or the sign-in page itself (which would loop).

/// Where to go when `next` is missing or not acceptable.
pub const HOME: &str = "/";

/// Returns `next` when it is a same-origin path other than the sign-in page, else `/`.
pub fn sanitize_next<'a>(next: Option<&'a str>, signin_path: &str) -> &'a str {
    let Some(next) = next else { return HOME };
    let same_origin_path = next.starts_with('/')
        // `//host` and `/\host` are protocol-relative URLs in browsers.
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    let path_only = next.split(['?', '#']).next().unwrap_or(next);
    let is_signin = path_only.trim_end_matches('/') == signin_path.trim_end_matches('/');
    if same_origin_path && !is_signin {
        next
    } else {
        HOME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_paths_are_kept() {
        for ok in ["/", "/items", "/items?page=2#top", "/a/b/c"] {
            assert_eq!(sanitize_next(Some(ok), "/signin"), ok);
        }
    }

    #[test]
    fn everything_else_falls_back_home() {
        for bad in [
            "",
            "items",
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "/items\n",
            "/\tx",
            "/signin",
            "/signin/",
            "/signin?next=/signin",
        ] {
            assert_eq!(sanitize_next(Some(bad), "/signin"), HOME, "input {bad:?}");
        }
        assert_eq!(sanitize_next(None, "/signin"), HOME);
    }
}
