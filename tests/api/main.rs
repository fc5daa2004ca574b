//! Black-box tests: the real application on port 0 against a fresh database.
mod auth;
mod cancel_flow;
mod cli;
mod dunning;
mod helpers;
mod http_errors;
mod offers;
