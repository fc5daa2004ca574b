//! Black-box tests: the real application on port 0 against a fresh database.
// A test binary exports nothing: its modules' `pub` items are for their siblings.
#![allow(unreachable_pub)]
mod analytics;
mod analytics_rollups;
mod apply_offer;
mod architecture;
mod auth;
mod browser;
mod cancel_flow;
mod card_update;
mod cli;
mod cors;
mod dashboard;
mod dashboard_admin;
mod dashboard_support;
mod dunning;
mod eligibility;
mod experiments;
mod fake_stripe;
mod hardening;
mod helpers;
mod http_errors;
mod members;
mod members_admin;
mod metrics;
mod offers;
mod openapi;
mod operator;
mod ops_files;
mod ops_pages;
mod ops_support;
mod rate_limit;
mod readiness;
mod sentiment;
mod sessions;
mod stripe_webhooks;
mod widget;
