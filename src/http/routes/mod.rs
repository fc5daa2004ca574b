//! One module per endpoint family.
pub mod applications;
pub mod cancel_flow;
pub mod dunning;
pub mod experiments;
pub mod health;
pub mod offers;
pub mod sentiment;
pub mod settings;
pub mod tickets;

use actix_web::web;

use super::errors::ApiError;

/// Every route the service serves.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/ready", web::get().to(health::ready))
        .service(
            web::scope("/api/v1")
                .route("/intercept", web::post().to(cancel_flow::intercept))
                .route("/intercept/outcome", web::post().to(cancel_flow::outcome))
                .route(
                    "/intercept/apply-offer",
                    web::post().to(applications::apply_offer),
                )
                .route(
                    "/intercept/applications/{id}",
                    web::get().to(applications::application),
                )
                .route("/intercept/sentiment", web::post().to(sentiment::sentiment))
                .route("/tickets", web::get().to(tickets::list))
                .route("/tickets/{id}", web::get().to(tickets::get))
                .route("/tickets/{id}", web::patch().to(tickets::update))
                .route("/dunning", web::post().to(dunning::dunning))
                .route("/success-signal", web::post().to(dunning::success_signal))
                .route("/offers", web::get().to(offers::list))
                .route("/offers", web::post().to(offers::create))
                .route("/offers/{id}", web::get().to(offers::get))
                .route("/offers/{id}", web::patch().to(offers::update))
                .route("/offers/{id}", web::delete().to(offers::delete))
                .route("/experiments", web::get().to(experiments::list))
                .route("/experiments", web::post().to(experiments::create))
                .route("/experiments/{id}", web::get().to(experiments::get))
                .route("/experiments/{id}", web::patch().to(experiments::update))
                .route(
                    "/experiments/{id}/results",
                    web::get().to(experiments::results),
                )
                .route("/settings", web::get().to(settings::get))
                .route("/settings", web::patch().to(settings::update)),
        );
}

/// Path ids that are not positive integers name nothing: 404, not a parse error.
pub fn path_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("{what} {raw} not found.")))
}
