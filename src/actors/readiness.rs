//! Answers `/ready`: can the database be reached, and Redis when the queue lives there?
use std::time::Duration;

use actix::prelude::*;
use redis::aio::ConnectionManager;
use sea_orm::DatabaseConnection;

/// A check that takes longer than this counts as down: a readiness probe must answer fast.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Readiness {
    pub db: DatabaseConnection,
    /// Set when the queue backend is Redis.
    pub redis: Option<ConnectionManager>,
}

impl Actor for Readiness {
    type Context = Context<Self>;
}

/// The state of one dependency: `Ok(())`, or why it is down.
pub type Check = Result<(), String>;

/// What `/ready` reports.
#[derive(Debug, Clone)]
pub struct ReadinessReport {
    pub database: Check,
    /// None when Redis is not configured.
    pub redis: Option<Check>,
}

impl ReadinessReport {
    pub fn is_ready(&self) -> bool {
        self.database.is_ok() && self.redis.as_ref().is_none_or(Result::is_ok)
    }
}

#[derive(Message)]
#[rtype(result = "ReadinessReport")]
pub struct CheckReadiness;

async fn within_timeout<F>(check: F) -> Check
where
    F: std::future::Future<Output = Check>,
{
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {} seconds",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

impl Handler<CheckReadiness> for Readiness {
    type Result = ResponseFuture<ReadinessReport>;

    fn handle(&mut self, _: CheckReadiness, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let redis = self.redis.clone();
        Box::pin(async move {
            let database = within_timeout(async { db.ping().await.map_err(|e| e.to_string()) });
            let redis = async {
                match redis {
                    None => None,
                    Some(mut conn) => Some(
                        within_timeout(async move {
                            redis::cmd("PING")
                                .query_async::<String>(&mut conn)
                                .await
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        })
                        .await,
                    ),
                }
            };
            let (database, redis) = tokio::join!(database, redis);
            ReadinessReport { database, redis }
        })
    }
}
