//! Query-string parameters, validated with the same Laravel-style 422 errors as bodies.
use std::collections::HashMap;

use actix_web::HttpRequest;

use super::errors::{ApiError, ValidationErrors};
use crate::domain::fields::attribute;
use crate::domain::paging::{PageRequest, MAX_PAGE};

/// Largest page an operator listing serves.
pub const MAX_PER_PAGE: u64 = 500;
pub const DEFAULT_PER_PAGE: u64 = 50;

pub struct Query {
    params: HashMap<String, String>,
    pub errors: ValidationErrors,
}

impl Query {
    /// The request's query string; 400 when it cannot be decoded.
    pub fn of(req: &HttpRequest) -> Result<Query, ApiError> {
        let params =
            actix_web::web::Query::<HashMap<String, String>>::from_query(req.query_string())
                .map_err(|_| ApiError::BadRequest("The query string could not be read.".into()))?
                .into_inner();
        Ok(Query {
            params,
            errors: ValidationErrors::default(),
        })
    }

    /// The parameter when present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// An integer within `min..=max`, or `default` when absent.
    pub fn integer(&mut self, name: &str, default: u64, min: u64, max: u64) -> u64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        let field = attribute(name);
        match raw.parse::<i64>() {
            Err(_) => {
                self.errors
                    .add(name, format!("The {field} field must be an integer."));
                default
            }
            Ok(n) if n < min as i64 => {
                self.errors
                    .add(name, format!("The {field} field must be at least {min}."));
                default
            }
            Ok(n) if n as u64 > max => {
                self.errors.add(
                    name,
                    format!("The {field} field must not be greater than {max}."),
                );
                default
            }
            Ok(n) => n as u64,
        }
    }

    /// An integer within `min..=max` (Laravel's `integer|between`), or `default` when absent.
    pub fn integer_between(&mut self, name: &str, default: u64, min: u64, max: u64) -> u64 {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            Ok(_) => {
                let field = attribute(name);
                self.errors.add(
                    name,
                    format!("The {field} field must be between {min} and {max}."),
                );
                default
            }
            // Not an integer, or out of `u64`: the same messages as `integer`.
            Err(_) => self.integer(name, default, min, max),
        }
    }

    /// `page` (1 to `MAX_PAGE`, default 1) and `per_page` (1 to 500, default 50).
    pub fn page(&mut self) -> PageRequest {
        PageRequest {
            page: self.integer("page", 1, 1, MAX_PAGE),
            per_page: self.integer("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
