//! The ceiling for `POST /api/v1/intercept`: the least an actix-web app can do for the same
//! request. It reads the same JSON body into an object, checks the key header, validates
//! `target_id` and answers a fixed intercept-shaped response. Same framework, same worker
//! count (one per core), same request-id header on the way out.
//!
//! With `DATABASE_URL` set it is the **durable-write ceiling**: what a team would build
//! without Saveloops. Each request also inserts its row (the key, the email, target, trigger
//! and MRR) into that database through a pool, one INSERT per request in its own
//! transaction, and is answered after the commit. SQLite is opened as Saveloops opens it (WAL,
//! `synchronous = NORMAL`, five connections, a busy timeout); PostgreSQL with ten
//! connections and its default, synchronous commit.
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Map, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone)]
enum Rows {
    None,
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

const CREATE_SQLITE: &str = "CREATE TABLE IF NOT EXISTS ceiling_intercepts (\
    id INTEGER PRIMARY KEY AUTOINCREMENT, api_key TEXT NOT NULL, user_email TEXT, \
    target_id TEXT NOT NULL, trigger TEXT, mrr_value DOUBLE PRECISION, \
    created_at TIMESTAMPTZ NOT NULL)";
const CREATE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS ceiling_intercepts (\
    id BIGSERIAL PRIMARY KEY, api_key TEXT NOT NULL, user_email TEXT, \
    target_id TEXT NOT NULL, trigger TEXT, mrr_value DOUBLE PRECISION, \
    created_at TIMESTAMPTZ NOT NULL)";
const INSERT_SQLITE: &str = "INSERT INTO ceiling_intercepts \
    (api_key, user_email, target_id, trigger, mrr_value, created_at) VALUES (?, ?, ?, ?, ?, ?)";
const INSERT_POSTGRES: &str = "INSERT INTO ceiling_intercepts \
    (api_key, user_email, target_id, trigger, mrr_value, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

async fn connect() -> Rows {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return Rows::None;
    };
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(&url)
            .expect("a SQLite URL")
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .expect("SQLite opens");
        sqlx::query(CREATE_SQLITE)
            .execute(&pool)
            .await
            .expect("table created");
        Rows::Sqlite(pool)
    } else {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(&url)
            .await
            .expect("PostgreSQL connects");
        sqlx::query(CREATE_POSTGRES)
            .execute(&pool)
            .await
            .expect("table created");
        Rows::Postgres(pool)
    }
}

/// The request's row, committed (one statement is its own transaction).
async fn insert(rows: &Rows, key: &str, body: &Map<String, Value>) -> Result<(), sqlx::Error> {
    let email = body.get("user_email").and_then(Value::as_str);
    let target = body.get("target_id").and_then(Value::as_str).unwrap_or("");
    let trigger = body.get("trigger").and_then(Value::as_str);
    let mrr = body.get("mrr_value").and_then(Value::as_f64);
    let now = chrono::Utc::now();
    // The same row on either database; only the placeholders differ.
    macro_rules! insert_into {
        ($pool:expr, $sql:expr) => {
            sqlx::query($sql)
                .bind(key)
                .bind(email)
                .bind(target)
                .bind(trigger)
                .bind(mrr)
                .bind(now)
                .execute($pool)
                .await
                .map(|_| ())
        };
    }
    match rows {
        Rows::None => Ok(()),
        Rows::Sqlite(pool) => insert_into!(pool, INSERT_SQLITE),
        Rows::Postgres(pool) => insert_into!(pool, INSERT_POSTGRES),
    }
}

async fn intercept(
    req: HttpRequest,
    rows: web::Data<Rows>,
    body: web::Json<Map<String, Value>>,
) -> HttpResponse {
    let key = req
        .headers()
        .get("X-Knot-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| k.starts_with("slk_"));
    let Some(key) = key else {
        return HttpResponse::Unauthorized().json(json!({"message": "Unauthenticated."}));
    };
    if !body.get("target_id").is_some_and(Value::is_string) {
        return HttpResponse::UnprocessableEntity()
            .json(json!({"message": "The target id field is required."}));
    }
    if let Err(e) = insert(&rows, key, &body).await {
        return HttpResponse::InternalServerError().json(json!({"message": e.to_string()}));
    }
    let mut response = HttpResponse::Ok().json(json!({
        "offers": [
            {"id": 1, "type": "discount", "value": 20, "label": "20% off",
             "config": {"duration": "once"}, "experiment": null},
            {"id": 2, "type": "pause", "value": 1, "label": "Take a month off",
             "config": {"behavior": "void"}, "experiment": null}
        ],
        "show_update_card": false,
        "show_onboarding_prompt": true,
    }));
    response.headers_mut().insert(
        HeaderName::from_static("x-request-id"),
        HeaderValue::from_static("0000000000000000"),
    );
    response
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(18090);
    let rows = web::Data::new(connect().await);
    HttpServer::new(move || {
        App::new()
            .app_data(rows.clone())
            .app_data(web::JsonConfig::default().limit(65536))
            .route("/api/v1/intercept", web::post().to(intercept))
            .route("/health", web::get().to(HttpResponse::Ok))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
