//! Black-box tests: the real application on port 0 against a fresh database.
mod apply_offer;
mod auth;
mod cancel_flow;
mod cli;
mod dunning;
mod eligibility;
mod experiments;
mod fake_stripe;
mod helpers;
mod http_errors;
mod offers;
mod sentiment;
