//! MemberDesk: the dashboard's people. Adds members and their one-time invitations, sets a
//! password from an invitation, signs in (throttled by account and by address), finds the
//! member a session cookie belongs to, signs out. Argon2id runs on the blocking pool, never on
//! the actors' thread.
use actix::prelude::*;
use chrono::{DateTime, Utc};
use entity::member;
use sea_orm::DatabaseConnection;

use super::{guard, Failure};
use crate::clock::Clock;
use crate::domain::member::{
    csrf_token, decoy_hash, fresh_token, hash_password, password_matches, throttle_subjects, Role,
    LAST_OWNER, MAX_FAILED_SIGN_INS, SESSION_LIFETIME, THROTTLE_WINDOW,
};
use crate::domain::Email;
use crate::store::members::{self, AddMemberError, MemberChangeError};

pub struct MemberDesk {
    db: DatabaseConnection,
    clock: Clock,
}

impl MemberDesk {
    pub fn new(db: DatabaseConnection, clock: Clock) -> Self {
        MemberDesk { db, clock }
    }
}

impl Actor for MemberDesk {
    type Context = Context<Self>;
}

/// A member as the dashboard and the API show them: never a hash or a token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberView {
    pub id: i64,
    pub organization_id: i64,
    pub email: String,
    pub role: &'static str,
    /// Whether the member has set a password (used their invitation).
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl MemberView {
    fn of(row: &member::Model) -> MemberView {
        MemberView {
            id: row.id,
            organization_id: row.organization_id,
            email: row.email.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Support).as_str(),
            active: row.password_hash.is_some(),
            created_at: row.created_at,
        }
    }

    pub fn role(&self) -> Role {
        Role::parse(self.role).unwrap_or(Role::Support)
    }
}

/// A member added, with their invitation's token (shown once) and its expiry.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub member: MemberView,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Someone signed in: the cookie's token, the forms' CSRF token, and the member.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
    pub member: MemberView,
}

/// How a sign-in ended.
#[derive(Debug, Clone)]
pub enum SignInOutcome {
    SignedIn(SignedIn),
    /// Wrong address or password (the two are not told apart).
    Refused,
    /// Too many failures for the account or the address: try again later.
    Throttled,
}

fn salt() -> [u8; 16] {
    use rand::RngCore;
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::Unexpected(anyhow::anyhow!("password hashing stopped: {e}")))
}

#[derive(Message)]
#[rtype(result = "Result<Invitation, Failure>")]
pub struct AddMember {
    pub organization_id: i64,
    pub email: Email,
    pub role: Role,
}

impl Handler<AddMember> for MemberDesk {
    type Result = ResponseFuture<Result<Invitation, Failure>>;

    fn handle(&mut self, msg: AddMember, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            match members::add_member(&db, msg.organization_id, &msg.email, msg.role, now).await {
                Ok(invited) => Ok(Invitation {
                    expires_at: invited.member.invite_expires_at.unwrap_or(now),
                    member: MemberView::of(&invited.member),
                    token: invited.invite_token,
                }),
                Err(AddMemberError::EmailTaken) => {
                    let mut errors = crate::domain::validation::ValidationErrors::default();
                    errors.add("email", "The email has already been taken.");
                    Err(Failure::Invalid(errors))
                }
                Err(e @ AddMemberError::NoOrganization(_)) => Err(Failure::NotFound(e.to_string())),
                Err(AddMemberError::Database(e)) => Err(e.into()),
            }
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<Vec<MemberView>, Failure>")]
pub struct ListMembers {
    pub organization_id: i64,
}

impl Handler<ListMembers> for MemberDesk {
    type Result = ResponseFuture<Result<Vec<MemberView>, Failure>>;

    fn handle(&mut self, msg: ListMembers, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        guard(async move {
            let rows = members::list_members(&db, msg.organization_id).await?;
            Ok(rows.iter().map(MemberView::of).collect())
        })
    }
}

/// The member an unexpired, unused invitation names (None: no such invitation).
#[derive(Message)]
#[rtype(result = "Result<Option<MemberView>, Failure>")]
pub struct FindInvitation {
    pub token: String,
}

impl Handler<FindInvitation> for MemberDesk {
    type Result = ResponseFuture<Result<Option<MemberView>, Failure>>;

    fn handle(&mut self, msg: FindInvitation, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            Ok(members::invited(&db, &msg.token, now)
                .await?
                .as_ref()
                .map(MemberView::of))
        })
    }
}

/// Sets the password an invitation asks for (already checked against the domain's rules);
/// answers false when the invitation is unknown, used or expired.
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub struct AcceptInvitation {
    pub token: String,
    pub password: String,
}

impl Handler<AcceptInvitation> for MemberDesk {
    type Result = ResponseFuture<Result<bool, Failure>>;

    fn handle(&mut self, msg: AcceptInvitation, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            if members::invited(&db, &msg.token, now).await?.is_none() {
                return Ok(false);
            }
            let salt = salt();
            let password = msg.password;
            let hash = blocking(move || hash_password(&password, salt))
                .await?
                .map_err(|e| Failure::Unexpected(anyhow::anyhow!("hashing a password: {e}")))?;
            Ok(members::accept_invitation(&db, &msg.token, &hash, now).await?)
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<SignInOutcome, Failure>")]
pub struct SignIn {
    pub email: String,
    pub password: String,
    pub client_address: String,
}

impl Handler<SignIn> for MemberDesk {
    type Result = ResponseFuture<Result<SignInOutcome, Failure>>;

    fn handle(&mut self, msg: SignIn, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            let subjects = throttle_subjects(&msg.email, &msg.client_address);
            let since = now - THROTTLE_WINDOW;
            if members::failures_since(&db, &subjects, since).await? >= MAX_FAILED_SIGN_INS {
                return Ok(SignInOutcome::Throttled);
            }
            let found = match Email::parse(&msg.email) {
                Ok(email) => members::by_email(&db, email.as_str()).await?,
                Err(_) => None,
            };
            let stored = found
                .as_ref()
                .and_then(|m| m.password_hash.clone())
                .unwrap_or_else(|| decoy_hash().to_owned());
            let password = msg.password;
            let matches = blocking(move || password_matches(&password, &stored)).await?;
            let member = match found {
                Some(member) if matches && member.password_hash.is_some() => member,
                _ => {
                    members::record_failure(&db, &subjects, now, since).await?;
                    return Ok(SignInOutcome::Refused);
                }
            };
            let session_token = fresh_token();
            let expires_at = now + SESSION_LIFETIME;
            members::open_session(&db, member.id, &session_token, now, expires_at).await?;
            Ok(SignInOutcome::SignedIn(SignedIn {
                csrf_token: csrf_token(&session_token),
                session_token,
                expires_at,
                member: MemberView::of(&member),
            }))
        })
    }
}

/// The member signed in with this session cookie (None: unknown or expired).
#[derive(Message)]
#[rtype(result = "Result<Option<SignedIn>, Failure>")]
pub struct FindSession {
    pub token: String,
}

impl Handler<FindSession> for MemberDesk {
    type Result = ResponseFuture<Result<Option<SignedIn>, Failure>>;

    fn handle(&mut self, msg: FindSession, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            let Some((member, expires_at)) = members::session_member(&db, &msg.token, now).await?
            else {
                return Ok(None);
            };
            Ok(Some(SignedIn {
                csrf_token: csrf_token(&msg.token),
                session_token: msg.token,
                expires_at,
                member: MemberView::of(&member),
            }))
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), Failure>")]
pub struct SignOut {
    pub token: String,
}

impl Handler<SignOut> for MemberDesk {
    type Result = ResponseFuture<Result<(), Failure>>;

    fn handle(&mut self, msg: SignOut, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move { Ok(members::close_session(&db, &msg.token, now).await?) })
    }
}

/// What an owner does to another member (or to themselves).
#[derive(Debug, Clone)]
pub enum MemberChange {
    /// Another role; the last active owner keeps theirs.
    Role(Role),
    /// Removed, with every session they had; never the last active owner.
    Remove,
    /// A new one-time link to set a password: the old password and sessions end now.
    Reset,
}

/// What a change answers: the member as they are now (as they were, when removed) and, for a
/// reset, their new invitation.
#[derive(Debug, Clone)]
pub struct MemberChanged {
    pub member: MemberView,
    pub invitation: Option<Invitation>,
}

#[derive(Message)]
#[rtype(result = "Result<MemberChanged, Failure>")]
pub struct ChangeMember {
    pub organization_id: i64,
    pub member_id: i64,
    pub change: MemberChange,
}

impl Handler<ChangeMember> for MemberDesk {
    type Result = ResponseFuture<Result<MemberChanged, Failure>>;

    fn handle(&mut self, msg: ChangeMember, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let now = self.clock.now();
        guard(async move {
            let (org, id) = (msg.organization_id, msg.member_id);
            let changed = match msg.change {
                MemberChange::Role(role) => members::change_role(&db, org, id, role)
                    .await
                    .map(|row| (row, None)),
                MemberChange::Remove => members::remove_member(&db, org, id)
                    .await
                    .map(|row| (row, None)),
                MemberChange::Reset => members::reissue_invitation(&db, org, id, now)
                    .await
                    .map(|invited| (invited.member, Some(invited.invite_token))),
            };
            match changed {
                Ok((row, token)) => {
                    let member = MemberView::of(&row);
                    tracing::info!(organization = org, member = id, "a member was changed");
                    Ok(MemberChanged {
                        invitation: token.map(|token| Invitation {
                            expires_at: row.invite_expires_at.unwrap_or(now),
                            member: member.clone(),
                            token,
                        }),
                        member,
                    })
                }
                Err(e @ MemberChangeError::NotFound(_)) => Err(Failure::NotFound(e.to_string())),
                Err(MemberChangeError::LastOwner) => Err(Failure::Refused(LAST_OWNER.to_owned())),
                Err(MemberChangeError::Database(e)) => Err(e.into()),
            }
        })
    }
}
