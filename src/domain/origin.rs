//! Browser origins an organization allows to call the cancel flow (`allowed_origins` in its
//! settings): exact origins, stored as browsers serialize them in the `Origin` header, so
//! that a request's origin is allowed when it equals one of them.

/// Most origins an organization lists.
pub const MAX_ALLOWED_ORIGINS: usize = 20;
/// Longest origin accepted, as sent.
pub const MAX_ORIGIN_LEN: usize = 255;
/// Hosts for which `http://` is accepted (local development); every other origin is `https://`.
pub const LOCAL_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Why a string is not an origin the organization can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginProblem {
    /// `*` anywhere: every origin is listed exactly.
    Wildcard,
    /// A path (even `/`), query or fragment after the host and port.
    Path,
    /// `http://` for a host that is not local.
    Insecure,
    /// Anything else: no scheme, another scheme, a user name, a bad host or port.
    Malformed,
}

impl OriginProblem {
    /// The rule broken, as the end of a Laravel-style message (`The allowed origins.0 field …`).
    pub fn rule(self) -> &'static str {
        match self {
            OriginProblem::Wildcard => {
                "must not contain a wildcard: list each origin exactly"
            }
            OriginProblem::Path => {
                "must be an origin without a path, query or fragment (not even a trailing slash)"
            }
            OriginProblem::Insecure => {
                "must use https:// (http:// only for localhost, 127.0.0.1 and [::1])"
            }
            OriginProblem::Malformed => {
                "must be an origin such as https://app.example.com: a scheme, an ASCII host name (punycode for international names) and an optional port"
            }
        }
    }
}

/// Reads an origin as an organization lists it and answers it as a browser sends it:
/// scheme and host in lower case, the scheme's default port left out (`https://App.Example.com:443`
/// → `https://app.example.com`).
pub fn normalize_origin(raw: &str) -> Result<String, OriginProblem> {
    if raw.contains('*') {
        return Err(OriginProblem::Wildcard);
    }
    let (scheme, rest) = raw.split_once("://").ok_or(OriginProblem::Malformed)?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(OriginProblem::Malformed),
    };
    if rest.contains(['/', '?', '#']) {
        return Err(OriginProblem::Path);
    }
    let (host, port) = split_port(rest)?;
    let host = host.to_ascii_lowercase();
    if !(LOCAL_HOSTS.contains(&host.as_str()) || is_host_name(&host)) {
        return Err(OriginProblem::Malformed);
    }
    if scheme == "http" && !LOCAL_HOSTS.contains(&host.as_str()) {
        return Err(OriginProblem::Insecure);
    }
    Ok(match port {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The origin of an absolute URL (`https://App.example.com/account?tab=1` →
/// `https://app.example.com`), by the rules of a listed origin: where an organization may
/// send its end users back to.
pub fn origin_of_url(url: &str) -> Result<String, OriginProblem> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(OriginProblem::Malformed);
    }
    let (scheme, rest) = url.split_once("://").ok_or(OriginProblem::Malformed)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    normalize_origin(&format!("{scheme}://{}", &rest[..end]))
}

/// Whether `origin` (a request's `Origin` header) is one an organization could list, exactly
/// as written: preflights echo only such origins.
pub fn is_listable(origin: &str) -> bool {
    origin.len() <= MAX_ORIGIN_LEN && normalize_origin(origin).is_ok_and(|o| o == origin)
}

/// `host[:port]`, the port a decimal 1–65535 without leading zeros.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), OriginProblem> {
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: only `[::1]` is accepted, as a local host.
        Some(_) => match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                match after {
                    "" => (host, None),
                    _ => (
                        host,
                        Some(after.strip_prefix(':').ok_or(OriginProblem::Malformed)?),
                    ),
                }
            }
            None => return Err(OriginProblem::Malformed),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None => None,
        Some(digits) => {
            let valid = !digits.is_empty()
                && !digits.starts_with('0')
                && digits.bytes().all(|b| b.is_ascii_digit());
            let port = valid
                .then(|| digits.parse::<u16>().ok())
                .flatten()
                .ok_or(OriginProblem::Malformed)?;
            Some(port)
        }
    };
    Ok((host, port))
}

/// An ASCII host name (lower case): dot-separated labels of 1–63 letters, digits and
/// hyphens, no hyphen first or last, at most 253 characters, no trailing dot. Dotted IPv4
/// addresses are of this form too.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urls_origin_follows_the_listed_origins_rules() {
        assert_eq!(
            origin_of_url("https://App.example.com/account?tab=1#x"),
            Ok("https://app.example.com".into())
        );
        assert_eq!(
            origin_of_url("http://localhost:8080"),
            Ok("http://localhost:8080".into())
        );
        assert_eq!(
            origin_of_url("http://app.example.com/"),
            Err(OriginProblem::Insecure)
        );
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "https://a b.com/",
            "https://x.com/\n",
        ] {
            assert!(origin_of_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_are_kept_as_browsers_send_them() {
        for (raw, normal) in [
            ("https://app.example.com", "https://app.example.com"),
            ("HTTPS://App.Example.COM", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            (
                "https://app.example.com:8443",
                "https://app.example.com:8443",
            ),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
            ("https://localhost", "https://localhost"),
            ("http://localhost:3000", "http://localhost:3000"),
            ("http://127.0.0.1:80", "http://127.0.0.1"),
            ("http://[::1]:5173", "http://[::1]:5173"),
            ("https://10.0.0.7", "https://10.0.0.7"),
        ] {
            assert_eq!(normalize_origin(raw).as_deref(), Ok(normal), "{raw}");
        }
    }

    #[test]
    fn what_is_not_an_exact_origin_is_refused_saying_why() {
        use OriginProblem::*;
        for (raw, problem) in [
            ("*", Wildcard),
            ("https://*.example.com", Wildcard),
            ("https://app.example.com/", Path),
            ("https://app.example.com/cancel", Path),
            ("https://app.example.com?x=1", Path),
            ("https://app.example.com#top", Path),
            ("http://app.example.com", Insecure),
            ("http://10.0.0.7", Insecure),
            ("app.example.com", Malformed),
            ("null", Malformed),
            ("ftp://app.example.com", Malformed),
            ("https://", Malformed),
            ("https://user@app.example.com", Malformed),
            ("https://app.example.com.", Malformed),
            ("https://app..example.com", Malformed),
            ("https://-app.example.com", Malformed),
            ("https://app_1.example.com", Malformed),
            ("https://bücher.example", Malformed),
            ("https://app.example.com:", Malformed),
            ("https://app.example.com:0", Malformed),
            ("https://app.example.com:0443", Malformed),
            ("https://app.example.com:65536", Malformed),
            ("https://app.example.com:1:2", Malformed),
            ("https://[::2]", Malformed),
            ("https://[::1", Malformed),
            ("https://[::1]x", Malformed),
            (" https://app.example.com", Malformed),
            ("https://app.example.com ", Malformed),
        ] {
            assert_eq!(normalize_origin(raw), Err(problem), "{raw}");
        }
    }

    #[test]
    fn only_origins_written_as_browsers_send_them_are_listable() {
        assert!(is_listable("https://app.example.com"));
        assert!(is_listable("http://localhost:3000"));
        assert!(!is_listable("https://App.example.com"));
        assert!(!is_listable("https://app.example.com:443"));
        assert!(!is_listable("null"));
        assert!(!is_listable("http://evil.example"));
    }
}
