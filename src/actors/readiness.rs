//! Answers `/ready`: can the database be reached?
use actix::prelude::*;
use sea_orm::DatabaseConnection;

pub struct Readiness {
    pub db: DatabaseConnection,
}

impl Actor for Readiness {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct CheckDatabase;

impl Handler<CheckDatabase> for Readiness {
    type Result = ResponseFuture<Result<(), String>>;

    fn handle(&mut self, _: CheckDatabase, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move { db.ping().await.map_err(|e| e.to_string()) })
    }
}
