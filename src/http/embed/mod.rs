//! The cancel-flow widget, served by the service itself: `GET /embed/v1/saveloops.js`.
//!
//! The script is compiled into the binary, so what is served is what was tested. It is
//! answered with a strong ETag (304 to a matching `If-None-Match`), cacheable by browsers and
//! CDNs, gzipped for clients that accept it, and with `Access-Control-Allow-Origin: *` so that
//! a host page can load it with `integrity` and `crossorigin="anonymous"` (Subresource
//! Integrity needs a CORS answer for a script from another origin).
use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

/// The widget's path.
pub const PATH: &str = "/embed/v1/saveloops.js";

/// The widget's source, as served.
pub const SCRIPT: &str = include_str!("saveloops.js");

/// How long a browser or CDN may use its copy before asking again (with the ETag).
const CACHE_CONTROL: &str = "public, max-age=3600";

struct Served {
    etag: String,
    gzipped: Vec<u8>,
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let digest = Sha256::digest(SCRIPT.as_bytes());
        Served {
            etag: format!("\"{}\"", hex::encode(&digest[..16])),
            gzipped: gzip(SCRIPT.as_bytes()),
        }
    })
}

/// The gzipped script (what the 15 kB budget counts).
pub fn gzipped() -> &'static [u8] {
    &served().gzipped
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("gzip into memory cannot fail")
}

/// The Subresource Integrity value of the served script (`sha384-…`), for the host page's
/// `<script integrity>`; `saveloops embed-sri` prints it and the README states it.
pub fn integrity() -> String {
    let digest = Sha384::digest(SCRIPT.as_bytes());
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Serves the widget on GET and HEAD.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .route(web::get().to(widget))
            .route(web::head().to(widget)),
    );
}

fn accepts_gzip(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn matches_etag(request: &HttpRequest, etag: &str) -> bool {
    request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

async fn widget(request: HttpRequest) -> HttpResponse {
    let served = served();
    let mut answer = if matches_etag(&request, &served.etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    answer
        .insert_header((header::ETAG, served.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        ))
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        ));
    if matches_etag(&request, &served.etag) {
        return answer.finish();
    }
    if accepts_gzip(&request) {
        answer
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(served.gzipped.as_slice())
    } else {
        answer.body(SCRIPT)
    }
}
