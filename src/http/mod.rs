//! The HTTP surface: routes, extractors, validation and errors.
pub mod errors;
pub mod experiment_body;
pub mod extract;
pub mod middleware;
pub mod offer_body;
pub mod routes;
pub mod settings_body;
pub mod validation;
