//! Changes to end users, announced to every instance through PostgreSQL's LISTEN/NOTIFY.
//!
//! A transaction that changes end users' payment health or identity also sends one
//! notification naming them; PostgreSQL delivers it at commit, to every listening session.
//! Each instance's DunningTracker listens and forgets the end users it names (unless the
//! notification names that tracker as its origin: its own writes already updated its cache),
//! so that an
//! instance may trust its cached end users for much longer than the cache TTL without
//! showing another instance's change late. While the listener is not connected nothing is
//! announced to it, so the tracker then falls back to the TTL, and after a (re)connection it
//! drops everything it cached: what changed in between is unknown.
//!
//! SQLite has no notifications: there the transaction appends a row to `end_user_changes`
//! instead, and each instance reads the new rows every `LOG_POLL_INTERVAL` (the table is
//! in commit order, SQLite having one writer at a time).
//! Rows older than `LOG_RETENTION` are deleted; an instance whose reads failed starts afresh.
use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use entity::end_user_change;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use tokio::sync::oneshot;

use crate::store::database::stored_time;

/// The notification channel.
pub const CHANNEL: &str = "saveloops_end_users";
/// PostgreSQL refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_000;
/// SQLite: how often an instance reads the change log, and how long rows are kept.
pub const LOG_POLL_INTERVAL: Duration = Duration::from_millis(250);
const LOG_RETENTION: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// SQLite: how often an instance deletes rows older than `LOG_RETENTION`.
pub const LOG_PRUNE_INTERVAL: Duration = Duration::from_secs(60);
/// Most rows one read of the log takes (the next read goes on from there).
const LOG_READ_LIMIT: u64 = 500;
/// Waits between attempts to connect the listener.
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// What the listener tells the tracker.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub enum ChangeFeed {
    /// Listening (again): changes are announced from now on, what happened before is unknown.
    Listening,
    /// Not listening: changes may go unannounced.
    Lost,
    /// These end users of the organization changed; `origin` is the announcing tracker's
    /// (None: not named, or announced by a version that did not name it).
    Changed {
        organization_id: i64,
        ids: Vec<i64>,
        origin: Option<u64>,
    },
}

/// Announces, within `conn`'s transaction (so at its commit), that these end users changed
/// (`(organization, end user)` pairs). `origin` names the announcing tracker, so that it can
/// tell its own announcements (whose changes it already knows) from other instances'.
pub async fn announce<C: ConnectionTrait>(
    conn: &C,
    origin: Option<u64>,
    changed: &[(i64, i64)],
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    for statement in announcements(backend, origin, changed, Utc::now()) {
        conn.execute_raw(statement).await?;
    }
    Ok(())
}

/// The statements that announce the changes, to run in the transaction that makes them.
pub fn announcements(
    backend: DbBackend,
    origin: Option<u64>,
    changed: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Vec<Statement> {
    payloads(origin, changed)
        .into_iter()
        .map(|payload| match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ),
            _ => backend.build(
                Query::insert()
                    .into_table(end_user_change::Entity)
                    .columns([
                        end_user_change::Column::Payload,
                        end_user_change::Column::CreatedAt,
                    ])
                    .values_panic([payload.into(), stored_time(backend, now).into()]),
            ),
        })
        .collect()
}

/// SQLite: where an instance's reading of the change log starts (nothing before it is
/// of interest: the cache starts empty).
pub async fn log_end<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let last: Option<Option<i64>> = end_user_change::Entity::find()
        .select_only()
        .expr(Expr::col(end_user_change::Column::Id).max())
        .into_tuple()
        .one(conn)
        .await?;
    Ok(last.flatten().unwrap_or(0))
}

/// SQLite: the changes logged after `after` (this instance's own among them, named as its
/// own), and where the next read starts.
pub async fn read_log<C: ConnectionTrait>(
    conn: &C,
    after: i64,
) -> Result<(i64, Vec<ChangeFeed>), DbErr> {
    let rows = end_user_change::Entity::find()
        .filter(end_user_change::Column::Id.gt(after))
        .order_by_asc(end_user_change::Column::Id)
        .limit(LOG_READ_LIMIT)
        .all(conn)
        .await?;
    let next = rows.last().map_or(after, |row| row.id);
    let changes = rows.iter().flat_map(|row| parse(&row.payload)).collect();
    Ok((next, changes))
}

/// SQLite: deletes rows every instance has had time to read.
pub async fn prune_log<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    end_user_change::Entity::delete_many()
        .filter(end_user_change::Column::CreatedAt.lt(Utc::now() - LOG_RETENTION))
        .exec(conn)
        .await?;
    Ok(())
}

/// `org:id,id;org:id;@origin`, split so that no payload reaches PostgreSQL's limit (each part
/// names the origin). The origin comes last, as a part that versions which do not know it
/// skip as unparsable.
pub fn payloads(origin: Option<u64>, changed: &[(i64, i64)]) -> Vec<String> {
    let mut by_org: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(organization_id, id) in changed {
        by_org.entry(organization_id).or_default().push(id);
    }
    let mut payloads = Vec::new();
    let mut current = String::new();
    for (organization_id, ids) in by_org {
        let mut open = false;
        for id in ids {
            if current.len() + 42 > MAX_PAYLOAD {
                payloads.push(std::mem::take(&mut current));
                open = false;
            }
            if !open {
                if !current.is_empty() {
                    current.push(';');
                }
                current.push_str(&format!("{organization_id}:{id}"));
                open = true;
            } else {
                current.push_str(&format!(",{id}"));
            }
        }
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    if let Some(origin) = origin {
        for payload in &mut payloads {
            payload.push_str(&format!(";@{origin:x}"));
        }
    }
    payloads
}

/// Reads a payload back; parts that do not parse are skipped.
fn parse(payload: &str) -> Vec<ChangeFeed> {
    let origin = payload
        .rsplit(';')
        .next()
        .and_then(|last| last.strip_prefix('@'))
        .and_then(|origin| u64::from_str_radix(origin, 16).ok());
    payload
        .split(';')
        .filter_map(|part| {
            let (org, ids) = part.split_once(':')?;
            Some(ChangeFeed::Changed {
                organization_id: org.parse().ok()?,
                ids: ids.split(',').filter_map(|id| id.parse().ok()).collect(),
                origin,
            })
        })
        .collect()
}

/// Listens on a connection of its own, on a thread of its own, until the returned handle is
/// dropped (with the tracker that holds it). The thread's own runtime also owns the
/// listener's connection, so that closing it never depends on an arbiter that is shutting
/// down.
pub fn spawn_listener(url: String, tracker: Recipient<ChangeFeed>) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let started = std::thread::Builder::new()
        .name("end-user-changes".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match runtime {
                Ok(runtime) => runtime.block_on(async move {
                    tokio::select! {
                        _ = listen(url, tracker) => {}
                        _ = stopped => {}
                    }
                }),
                Err(e) => {
                    tracing::error!(error = %e, "could not start the end-user change listener")
                }
            }
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "could not start the end-user change listener");
    }
    stop
}

/// Listens for as long as the tracker runs, reconnecting with backoff.
async fn listen(url: String, tracker: Recipient<ChangeFeed>) {
    let mut wait = RECONNECT_MIN;
    while tracker.connected() {
        match connect(&url).await {
            Ok(mut listener) => {
                wait = RECONNECT_MIN;
                tracker.do_send(ChangeFeed::Listening);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notice)) => {
                            for change in parse(notice.payload()) {
                                tracker.do_send(change);
                            }
                        }
                        // Reconnected by the listener: notices may have been lost.
                        Ok(None) => tracker.do_send(ChangeFeed::Listening),
                        Err(e) => {
                            tracing::warn!(error = %e, "end-user change listener lost its connection");
                            tracker.do_send(ChangeFeed::Lost);
                            break;
                        }
                    }
                    if !tracker.connected() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?wait, "could not listen for end-user changes");
                tracker.do_send(ChangeFeed::Lost);
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT_MAX);
    }
}

async fn connect(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_under_the_limit() {
        let changed: Vec<(i64, i64)> = (0..2_000)
            .map(|i| (1 + i % 3, 1_000_000_000_000 + i))
            .collect();
        let payloads = payloads(Some(0xfeed), &changed);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < MAX_PAYLOAD));
        let mut back: Vec<(i64, i64)> = payloads
            .iter()
            .flat_map(|p| parse(p))
            .flat_map(|change| match change {
                ChangeFeed::Changed {
                    organization_id,
                    ids,
                    origin,
                } => ids
                    .into_iter()
                    .map(move |id| {
                        assert_eq!(origin, Some(0xfeed));
                        (organization_id, id)
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        back.sort_unstable();
        let mut expected = changed.clone();
        expected.sort_unstable();
        assert_eq!(back, expected);
        assert_eq!(
            super::payloads(None, &[(7, 1), (7, 2), (8, 3)]),
            vec!["7:1,2;8:3"]
        );
        assert_eq!(super::payloads(Some(255), &[(7, 1)]), vec!["7:1;@ff"]);
        // A payload without an origin (an older version's) still parses, naming none.
        assert!(matches!(
            &parse("7:1,2")[..],
            [ChangeFeed::Changed {
                organization_id: 7,
                origin: None,
                ..
            }]
        ));
    }
}
