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

/// The name of the sign-in page's query parameter.
const NEXT_PARAM: &str = "next";

/// The query of the sign-in page (without `?`) that brings the user back to `next`:
/// `next=%2Fitems`, or nothing without `next`.
pub fn sign_in_query(next: Option<&str>) -> String {
    let Some(next) = next else {
        return String::new();
    };
    let mut query = String::with_capacity(NEXT_PARAM.len() + 1 + next.len() * 3);
    query.push_str(NEXT_PARAM);
    query.push('=');
    for byte in next.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            query.push(char::from(byte));
        } else {
            query.push('%');
            query.push(char::from(HEX[usize::from(byte >> 4)]));
            query.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
    query
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The `next` parameter of a query string (with or without its leading `?`), decoded
/// as `application/x-www-form-urlencoded`.  `None` when it is absent or not UTF-8.
pub fn next_from_query(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name)?.as_str() == NEXT_PARAM).then(|| form_decode(value))?
    })
}

/// `+` is a space and `%XX` a byte; a `%` not followed by two hex digits stays as it is.
fn form_decode(text: &str) -> Option<String> {
    let hex_value = |digit: u8| char::from(digit).to_digit(16);
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'+' => b' ',
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(high), Some(low)) => {
                    i += 2;
                    // Two hex digits: at most 255.
                    (high * 16 + low) as u8
                }
                _ => b'%',
            },
            other => other,
        };
        decoded.push(byte);
        i += 1;
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_survives_the_round_trip_through_the_query() {
        for next in [
            "/",
            "/items",
            "/items?page=2&sort=name",
            "/a b/ü/%41",
            "/x+y",
        ] {
            let query = sign_in_query(Some(next));
            assert!(
                query
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%=".contains(&b)),
                "{query}"
            );
            assert_eq!(next_from_query(&query).as_deref(), Some(next));
            assert_eq!(
                next_from_query(&["?", &query].concat()).as_deref(),
                Some(next)
            );
        }
        assert_eq!(sign_in_query(Some("/items")), "next=%2Fitems");
        assert_eq!(sign_in_query(None), "");
    }

    #[test]
    fn next_is_read_like_a_browser_form() {
        assert_eq!(
            next_from_query("?a=1&next=%2Fitems&next=%2F").as_deref(),
            Some("/items")
        );
        assert_eq!(next_from_query("n%65xt=/a+b").as_deref(), Some("/a b"));
        assert_eq!(next_from_query("next=/100%").as_deref(), Some("/100%"));
        assert_eq!(next_from_query("next=%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(next_from_query("next").as_deref(), Some(""));
        assert_eq!(next_from_query("?nextx=/a&xnext=/b"), None);
        assert_eq!(next_from_query(""), None);
        assert_eq!(next_from_query("next=%FF%FE"), None, "not UTF-8");
    }

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
