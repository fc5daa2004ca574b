//! JSON Schema fragments for the input rules utoipa's attributes cannot state: trimmed text
//! without NUL, blank strings counting as absent, optional emails and money.

use serde_json::Value;

/// What `str::trim` removes (Unicode `White_Space`), as a regular-expression class body. The
/// service trims strings before it checks them, and a string that is blank once trimmed
/// counts as absent.
pub(super) const SPACE: &str =
    r"\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A string that, trimmed, holds 1 to `max` characters and no NUL (PostgreSQL text cannot
/// store one; the service refuses them). With `blank_ok`, a blank string (absent) matches too.
pub(super) fn text_pattern(max: usize, blank_ok: bool) -> String {
    let core = format!(
        "[^{SPACE}\\u0000](?:[^\\u0000]{{0,{}}}[^{SPACE}\\u0000])?",
        max.saturating_sub(2)
    );
    if blank_ok {
        format!("^[{SPACE}]*(?:{core})?[{SPACE}]*$")
    } else {
        format!("^[{SPACE}]*{core}[{SPACE}]*$")
    }
}

/// A blank string: what the service takes for an absent field or query parameter.
pub(super) fn blank() -> Value {
    serde_json::json!({"type": "string", "pattern": format!("^[{SPACE}]*$")})
}

/// A string field: trimmed length at most `max`, no NUL; `required` refuses blank (and null).
pub(super) fn text(max: usize, required: bool, description: &str) -> Value {
    let kind = if required {
        serde_json::json!("string")
    } else {
        serde_json::json!(["string", "null"])
    };
    let rule = if required {
        format!("At most {max} characters once trimmed, not blank, no NUL.")
    } else {
        format!("At most {max} characters once trimmed, no NUL; blank counts as absent.")
    };
    let description = if description.is_empty() {
        rule
    } else {
        format!("{description} {rule}")
    };
    serde_json::json!({
        "type": kind,
        "pattern": text_pattern(max, !required),
        "description": description,
    })
}

/// An optional email: a valid address, or blank / null (absent).
pub(super) fn optional_email() -> Value {
    serde_json::json!({
        "anyOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            blank(),
            {"type": "null"},
        ],
        "description": "An email address (trimmed, at most 254 characters); blank or null counts as absent.",
    })
}

/// Money: at least 0, at most 10^12; kept to 4 decimal places (more are rounded half away
/// from zero).
pub(super) fn money(nullable: bool) -> Value {
    serde_json::json!({
        "type": if nullable { serde_json::json!(["number", "null"]) } else { serde_json::json!("number") },
        "minimum": 0,
        "maximum": 1_000_000_000_000_i64,
        "description": "At least 0, at most 1000000000000; kept to 4 decimal places (more are rounded half away from zero).",
    })
}

/// `allowed_origins` in a settings PATCH: at most 20 exact origins (`crate::domain::origin`),
/// or null / a blank string (none). Scheme and host may be in any case (they are stored in
/// lower case), so the pattern spells both cases out: JSON Schema patterns take no flags.
pub(super) fn allowed_origins() -> Value {
    use crate::domain::origin::{MAX_ALLOWED_ORIGINS, MAX_ORIGIN_LEN};
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let port = "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?";
    let pattern = format!(
        r"^(?:[Hh][Tt][Tt][Pp][Ss]://(?:{label}(?:\.{label})*|\[::1\])|[Hh][Tt][Tt][Pp]://(?:[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]|127\.0\.0\.1|\[::1\])){port}$"
    );
    serde_json::json!({
        "anyOf": [
            {
                "type": "array",
                "maxItems": MAX_ALLOWED_ORIGINS,
                "items": {"type": "string", "maxLength": MAX_ORIGIN_LEN, "pattern": pattern},
            },
            {"type": "null"},
            blank(),
        ],
        "description": format!(
            "Replaces the list of browser origins allowed to call the cancel flow's routes (CORS): at most {MAX_ALLOWED_ORIGINS} exact origins of at most {MAX_ORIGIN_LEN} characters, each a scheme, a host and an optional port with no path, query, fragment or trailing slash, and no wildcard; https:// (http:// only for localhost, 127.0.0.1 and [::1]). Stored as browsers send them: scheme and host in lower case, without the default port; repeats kept once. `null`, `[]` or a blank string: no origin."
        ),
    })
}
