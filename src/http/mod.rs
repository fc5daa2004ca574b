//! The HTTP surface: routes, extractors, validation and errors.
pub mod errors;
pub mod extract;
pub mod middleware;
pub mod offer_body;
pub mod routes;
pub mod validation;
