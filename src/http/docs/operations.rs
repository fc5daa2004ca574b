//! Bodies of the liveness and readiness probes.

use utoipa::ToSchema;

#[derive(serde::Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
}

/// Each configured dependency is `ok` or `down`; `message` names what is down.
#[derive(serde::Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: String,
    pub database: String,
    /// Present when the queue backend is Redis.
    #[schema(required = false)]
    pub redis: Option<String>,
    #[schema(required = false)]
    pub message: Option<String>,
}
