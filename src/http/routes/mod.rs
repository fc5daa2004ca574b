//! One module per endpoint family, and the route table.
pub mod admin;
pub mod analytics;
pub mod applications;
pub mod cancel_flow;
pub mod card_update;
pub mod dunning;
pub mod experiments;
pub mod health;
pub mod members;
pub mod offers;
pub mod sentiment;
pub mod sessions;
pub mod settings;
pub mod stripe_webhooks;
pub mod tickets;

use actix_web::middleware::from_fn;
use actix_web::{web, HttpResponse};

use super::docs::{Message, RateLimited, Security, Unprocessable};
use super::errors::ApiError;
use super::{cors, middleware};

/// One served route.
#[derive(Clone, Copy)]
pub struct Endpoint {
    /// Lower case, as in OpenAPI: `get`, `post`, `patch`, `delete`.
    pub method: &'static str,
    /// The actix pattern, which is also the OpenAPI path: `/api/v1/offers/{id}`.
    pub path: &'static str,
    pub route: fn() -> actix_web::Route,
}

impl Endpoint {
    /// Whether the route takes the organization's key (and so its rate limit): every API
    /// route but the operator API, the description and Stripe's webhooks (signed by Stripe); `/health`, `/ready` and `/metrics`
    /// are outside the API.
    pub fn keyed(&self) -> bool {
        self.path.starts_with("/api/v1/")
            && !self.path.starts_with("/api/v1/admin/")
            && self.path != "/api/v1/openapi.json"
            && self.path != "/api/v1/stripe/webhooks/{endpoint_id}"
    }
}

/// Declares the route table once: `ROUTES` (what `configure` serves) and `ApiDoc` (the OpenAPI
/// description, whose paths are the same handlers' `#[utoipa::path]`). A route added here is
/// served and described; a handler without a description does not compile.
macro_rules! route_table {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        /// Every route the service serves.
        pub const ROUTES: &[Endpoint] = &[
            $(Endpoint {
                method: stringify!($method),
                path: $path,
                route: || web::$method().to($($handler)::+),
            },)*
        ];

        /// The OpenAPI description of every route in `ROUTES`.
        #[derive(utoipa::OpenApi)]
        #[openapi(
            info(
                title = "Saveloops API",
                description = "Retention offers, outcomes, Stripe application, payment health, analytics and operations. Organization endpoints authenticate with the `X-Knot-Key` header; the cancel flow's routes also take an end user's session token (`Authorization: Bearer`); the operator API takes the operator's bearer token.",
                description = "Retention offers, outcomes, Stripe application, payment health, analytics and operations. Organization endpoints authenticate with the `X-Knot-Key` header; Stripe's webhook endpoint with Stripe's signature; the cancel flow's four routes also take an end user's session token (`Authorization: Bearer`); the operator API takes the operator's bearer token.",
            ),
            paths($($($handler)::+),*),
            components(schemas(Message, Unprocessable, RateLimited)),
            modifiers(&Security),
            tags(
                (name = "cancel flow", description = "What the cancel button calls."),
                (name = "offers", description = "The organization's retention offers."),
                (name = "payment health", description = "Dunning and success signals."),
                (name = "experiments", description = "A/B tests of offers."),
                (name = "support tickets", description = "Tickets opened from cancellation reasons, for support staff."),
                (name = "analytics", description = "What the cancel flow saved."),
                (name = "members", description = "The people who sign in to the dashboard (/app): owners and support staff."),
                (name = "sessions", description = "Signing secrets and end-user session tokens, for the cancel flow in the browser."),
                (name = "stripe", description = "Stripe's webhook events in: the organization's endpoint and signing secrets."),
                (name = "operator", description = "Queue, dead jobs, organizations and keys (operator token)."),
                (name = "operations", description = "Health, readiness, metrics and this description."),
            ),
        )]
        pub struct ApiDoc;
    };
}

route_table! {
    get "/health" => health::health;
    get "/ready" => health::ready;
    get "/metrics" => health::metrics;
    get "/api/v1/openapi.json" => openapi;
    post "/api/v1/intercept" => cancel_flow::intercept;
    post "/api/v1/intercept/outcome" => cancel_flow::outcome;
    post "/api/v1/intercept/apply-offer" => applications::apply_offer;
    get "/api/v1/intercept/applications/{id}" => applications::application;
    post "/api/v1/intercept/sentiment" => sentiment::sentiment;
    post "/api/v1/intercept/update-card" => card_update::update_card;
    get "/api/v1/tickets" => tickets::list;
    get "/api/v1/tickets/{id}" => tickets::get;
    patch "/api/v1/tickets/{id}" => tickets::update;
    post "/api/v1/dunning" => dunning::dunning;
    post "/api/v1/success-signal" => dunning::success_signal;
    get "/api/v1/offers" => offers::list;
    post "/api/v1/offers" => offers::create;
    get "/api/v1/offers/{id}" => offers::get;
    patch "/api/v1/offers/{id}" => offers::update;
    delete "/api/v1/offers/{id}" => offers::delete;
    get "/api/v1/experiments" => experiments::list;
    post "/api/v1/experiments" => experiments::create;
    get "/api/v1/experiments/{id}" => experiments::get;
    patch "/api/v1/experiments/{id}" => experiments::update;
    get "/api/v1/experiments/{id}/results" => experiments::results;
    get "/api/v1/settings" => settings::get;
    patch "/api/v1/settings" => settings::update;
    get "/api/v1/analytics/summary" => analytics::summary;
    get "/api/v1/members" => members::list;
    post "/api/v1/members" => members::create;
    patch "/api/v1/members/{id}" => members::update;
    delete "/api/v1/members/{id}" => members::remove;
    post "/api/v1/members/{id}/reset" => members::reset;
    post "/api/v1/sessions" => sessions::create_session;
    get "/api/v1/signing-secrets" => sessions::list_secrets;
    post "/api/v1/signing-secrets" => sessions::create_secret;
    delete "/api/v1/signing-secrets/{kid}" => sessions::revoke_secret;
    post "/api/v1/stripe/webhooks/{endpoint_id}" => stripe_webhooks::receive;
    get "/api/v1/stripe/webhook-endpoint" => stripe_webhooks::endpoint;
    get "/api/v1/stripe/webhook-secrets" => stripe_webhooks::list_secrets;
    post "/api/v1/stripe/webhook-secrets" => stripe_webhooks::add_secret;
    delete "/api/v1/stripe/webhook-secrets/{id}" => stripe_webhooks::revoke_secret;
    get "/api/v1/admin/queue" => admin::queue;
    get "/api/v1/admin/queue/dead" => admin::dead_jobs;
    post "/api/v1/admin/queue/dead/{id}/retry" => admin::retry_dead_job;
    delete "/api/v1/admin/queue/dead/{id}" => admin::delete_dead_job;
    get "/api/v1/admin/organizations" => admin::organizations;
    post "/api/v1/admin/organizations" => admin::create_organization;
    post "/api/v1/admin/organizations/{id}/keys" => admin::create_key;
    delete "/api/v1/admin/keys/{prefix}" => admin::revoke_key;
}

/// Serves every route of `ROUTES`, one resource per path, so that a method the path does not
/// serve is answered 405 with `Allow` (a route per method made it 404). Each resource catches
/// its handlers' panics (`middleware::catch_panics`). The router tries resources in the order
/// they are registered, and a path with a `{parameter}` is matched by a regular expression (a
/// string comparison otherwise): fixed paths go first, so that the cancel flow's requests
/// never wait for expressions that cannot match them. No fixed path matches a parameterized
/// one, so the order changes no answer. The cancel flow's paths also answer CORS
/// preflights (`super::cors`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut paths: Vec<&'static str> = Vec::new();
    for endpoint in ROUTES {
        if !paths.contains(&endpoint.path) {
            paths.push(endpoint.path);
        }
    }
    paths.sort_by_key(|path| path.contains('{'));
    for path in paths {
        let resource = ROUTES
            .iter()
            .filter(|endpoint| endpoint.path == path)
            .fold(web::resource(path), |resource, endpoint| {
                resource.route((endpoint.route)())
            });
        // The cancel flow's routes answer CORS preflights (`OPTIONS`) and tell browsers
        // which origin may read their answers; every other path keeps 405 for `OPTIONS`.
        if cors::CORS_PATHS.contains(&path) {
            cfg.service(
                resource
                    .wrap(from_fn(cors::cancel_flow_cors))
                    .wrap(from_fn(middleware::catch_panics)),
            );
        } else {
            cfg.service(resource.wrap(from_fn(middleware::catch_panics)));
        }
    }
}

/// The OpenAPI description, built once.
pub fn openapi_json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        use utoipa::OpenApi;
        let mut doc =
            serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI description serializes");
        super::docs::refine(&mut doc);
        doc.to_string()
    })
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    security(()),
    responses((status = 200, description = "OpenAPI 3.1 (JSON).", content_type = "application/json", body = Object)))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_json())
}

/// Path ids that are not positive integers name nothing: 404, not a parse error.
pub fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("{what} {raw} not found.")))
}
