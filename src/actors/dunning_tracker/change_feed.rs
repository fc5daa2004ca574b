//! Hearing other instances' changes to end users, so that cached end users are forgotten
//! as they change elsewhere and trusted longer while every change is heard.
//!
//! On PostgreSQL the changes arrive as notifications (`end_user_changes::spawn_listener`);
//! on SQLite the tracker reads the change log. Once it hears every change, it warms the
//! cache with the newest end users.
use std::time::Duration;

use actix::prelude::*;

use super::identities::newest_identities;
use super::DunningTracker;
use crate::actors::guard;
use crate::store::end_user_changes::{self, ChangeFeed};

/// End users one warm-up query reads. Small pages: the rows of a page are decoded on
/// SQLite's thread and freed on the actors' thread, and pages of 5,000 left the process
/// ~25 MB larger for good than pages of 500.
const WARM_UP_PAGE: usize = 500;

/// How an instance hears of other instances' changes to end users.
pub(super) enum Notices {
    /// PostgreSQL's notifications, on a connection to this URL.
    Listen(String),
    /// SQLite's change log.
    ReadLog,
}

impl DunningTracker {
    /// How long a cached end user is trusted now.
    pub(super) fn trust(&self) -> Duration {
        match &self.notices {
            Some((_, trust)) if self.listening => *trust,
            _ => self.ttl,
        }
    }

    /// SQLite: reads what other instances changed since the last read.
    pub(super) fn read_change_log(&mut self, ctx: &mut Context<Self>) {
        if self.reading_log {
            return;
        }
        self.reading_log = true;
        let position = self.log_position;
        let db = self.db.clone();
        let read = async move {
            match position {
                Some(after) => end_user_changes::read_log(&db, after).await,
                None => Ok((
                    end_user_changes::log_end(&db).await?,
                    vec![ChangeFeed::Listening],
                )),
            }
        };
        ctx.spawn(guard::recovering(
            fut::wrap_future(read).map(|read, act: &mut Self, ctx| {
                act.reading_log = false;
                match read {
                    Ok((next, changes)) => {
                        act.log_position = Some(next);
                        for change in changes {
                            act.hear(change, ctx);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the end-user change log");
                        act.log_position = None;
                        act.hear(ChangeFeed::Lost, ctx);
                    }
                }
            }),
            |act: &mut Self, ctx| {
                act.reading_log = false;
                act.log_position = None;
                act.hear(ChangeFeed::Lost, ctx);
            },
        ));
    }

    pub(super) fn hear(&mut self, change: ChangeFeed, ctx: &mut Context<Self>) {
        match change {
            ChangeFeed::Listening => {
                self.clock.all_changed();
                // Whatever changed while nobody listened is unknown: start afresh, from the
                // newest end users rather than from nothing.
                self.users.clear();
                self.listening = true;
                self.warm_ups += 1;
                self.warm_up(self.warm_ups, None, 0, ctx);
            }
            ChangeFeed::Lost => self.listening = false,
            // Its own announcements name changes it made: the cache already has them.
            ChangeFeed::Changed {
                origin: Some(origin),
                ..
            } if origin == self.origin => {}
            ChangeFeed::Changed { ids, .. } => {
                for id in ids {
                    self.clock.changed(id);
                    self.users.remove(id);
                }
            }
        }
    }

    /// Reads the newest end users into the cache, a page at a time, after `before` (None:
    /// from the newest), `loaded` of as many as the cache holds so far. Runs once this
    /// instance hears every change (every change after that reaches the cache), so that a
    /// restarted instance does not send its first requests' lookups to the database. A page read while a change
    /// was heard or written is dropped, as an overlapping lookup is; a newer warm-up, or
    /// losing the change feed, stops this one.
    fn warm_up(&mut self, run: u64, before: Option<i64>, loaded: usize, ctx: &mut Context<Self>) {
        let page = WARM_UP_PAGE.min(self.capacity.saturating_sub(loaded));
        if page == 0 {
            return;
        }
        let started = self.clock.read_started();
        let db = self.db.clone();
        let read = async move { newest_identities(&db, before, page).await };
        ctx.spawn(guard::recovering(
            fut::wrap_future(read).map(move |read, act: &mut Self, ctx| {
                let fresh: Vec<bool> = match &read {
                    Ok(rows) => rows
                        .iter()
                        .map(|row| act.clock.unchanged_since(started, row.id))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                act.clock.read_ended(started);
                if act.warm_ups != run || !act.listening {
                    return;
                }
                let rows = match read {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not warm the end-user cache");
                        return;
                    }
                };
                let (count, last) = (rows.len(), rows.last().map(|row| row.id));
                for (identity, _) in rows.iter().zip(&fresh).filter(|(_, &fresh)| fresh) {
                    act.remember(identity.organization_id, identity);
                }
                if count == page {
                    act.warm_up(run, last, loaded + count, ctx);
                }
            }),
            move |act: &mut Self, _| act.clock.read_ended(started),
        ));
    }
}
