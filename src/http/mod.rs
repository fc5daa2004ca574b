//! The HTTP surface: routes, extractors, validation and errors.
pub mod auth;
pub mod docs;
pub mod errors;
pub mod experiment_body;
pub mod extract;
pub mod middleware;
pub mod offer_body;
pub mod query;
pub mod rate_limit;
pub mod routes;
pub mod settings_body;
pub mod validation;
