//! The HTTP surface: routes, extractors, authentication, rate limits and errors. Bodies
//! are parsed by the domain's rules; handlers send actors domain types.
pub mod auth;
pub mod cors;
pub mod dashboard;
pub mod docs;
pub mod embed;
pub mod errors;
pub mod extract;
pub mod middleware;
pub mod query;
pub mod rate_limit;
pub mod routes;
pub mod session;
