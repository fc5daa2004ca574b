//! The summary's statements that do not read the rollups (dunning), for SQLite and PostgreSQL.
use sea_orm::{DatabaseBackend, Statement, Value as DbValue};

/// `$n` placeholders for PostgreSQL, `?n` for SQLite.
pub(super) fn statement(backend: DatabaseBackend, sql: &str, values: Vec<DbValue>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

pub(super) const DUNNING_SQL: &str = "SELECT 'dunning' AS dimension, CAST(NULL AS TEXT) AS k, \
        CAST(NULL AS TEXT) AS status, \
        CAST(COUNT(DISTINCT end_user_id) AS BIGINT) AS n, \
        CAST(COUNT(DISTINCT CASE WHEN recovered_at IS NOT NULL THEN end_user_id END) AS BIGINT) AS mrr \
     FROM dunning_episodes \
     WHERE organization_id = $1 AND started_at >= $2 AND started_at < $3";
