//! The dashboard's members, their invitations, sessions and failed sign-ins. Tokens arrive
//! here already hashed (`domain::member::token_digest`); nothing secret is stored in clear.
use chrono::{DateTime, Utc};
use entity::{member, member_session, organization, sign_in_failure};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::domain::member::{fresh_token, token_digest, Role, INVITE_LIFETIME, LAST_OWNER};
use crate::domain::Email;

/// Why a member could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddMemberError {
    #[error("there is no organization {0}")]
    NoOrganization(i64),
    #[error("The email has already been taken.")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// A member just added, with the one-time token of their invitation (shown once).
#[derive(Debug, Clone)]
pub struct Invited {
    pub member: member::Model,
    pub invite_token: String,
}

/// Adds a member, who has no password until the invitation is used.
pub async fn add_member(
    db: &DatabaseConnection,
    organization_id: i64,
    email: &Email,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Invited, AddMemberError> {
    if organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .is_none()
    {
        return Err(AddMemberError::NoOrganization(organization_id));
    }
    let invite_token = fresh_token();
    let row = member::ActiveModel {
        organization_id: Set(organization_id),
        email: Set(email.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        password_hash: Set(None),
        invite_token_hash: Set(Some(token_digest(&invite_token))),
        invite_expires_at: Set(Some(now + INVITE_LIFETIME)),
        created_at: Set(now),
        ..Default::default()
    };
    // The email is unique: a second insert of it conflicts and inserts nothing.
    let inserted = member::Entity::insert(row)
        .on_conflict(
            OnConflict::column(member::Column::Email)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Err(AddMemberError::EmailTaken);
    }
    let member = by_email(db, email.as_str())
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
    Ok(Invited {
        member,
        invite_token,
    })
}

/// The organization's members, oldest first.
pub async fn list_members(
    db: &DatabaseConnection,
    organization_id: i64,
) -> Result<Vec<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .order_by_asc(member::Column::Id)
        .all(db)
        .await
}

pub async fn by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::Email.eq(email))
        .one(db)
        .await
}

/// The member an unexpired invitation token belongs to.
pub async fn invited(
    db: &DatabaseConnection,
    invite_token: &str,
    now: DateTime<Utc>,
) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::InviteTokenHash.eq(token_digest(invite_token)))
        .filter(member::Column::InviteExpiresAt.gt(now))
        .one(db)
        .await
}

/// Sets the password of the member an invitation names, and spends the invitation: only the
/// first of two concurrent uses changes anything. Answers whether it did.
pub async fn accept_invitation(
    db: &DatabaseConnection,
    invite_token: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = member::Entity::update_many()
        .col_expr(member::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(
            member::Column::InviteTokenHash,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            member::Column::InviteExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(member::Column::InviteTokenHash.eq(token_digest(invite_token)))
        .filter(member::Column::InviteExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Opens a session for the member (the token is stored as its digest).
pub async fn open_session(
    db: &DatabaseConnection,
    member_id: i64,
    session_token: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    member_session::ActiveModel {
        token_hash: Set(token_digest(session_token)),
        member_id: Set(member_id),
        expires_at: Set(expires_at),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The member an unexpired session belongs to, and when the session expires.
pub async fn session_member(
    db: &DatabaseConnection,
    session_token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(member::Model, DateTime<Utc>)>, DbErr> {
    let Some(session) = member_session::Entity::find_by_id(token_digest(session_token))
        .filter(member_session::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(member::Entity::find_by_id(session.member_id)
        .one(db)
        .await?
        .map(|member| (member, session.expires_at)))
}

/// Ends a session (and, while at it, every expired one).
pub async fn close_session(
    db: &DatabaseConnection,
    session_token: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    member_session::Entity::delete_many()
        .filter(
            Condition::any()
                .add(member_session::Column::TokenHash.eq(token_digest(session_token)))
                .add(member_session::Column::ExpiresAt.lte(now)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The most failures any of the subjects had since `since`.
pub async fn failures_since(
    db: &DatabaseConnection,
    subjects: &[String],
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut most = 0;
    for subject in subjects {
        let count = sign_in_failure::Entity::find()
            .filter(sign_in_failure::Column::Subject.eq(subject.as_str()))
            .filter(sign_in_failure::Column::At.gt(since))
            .count(db)
            .await?;
        most = most.max(count);
    }
    Ok(most)
}

/// Counts a failed sign-in against each subject, and forgets failures older than `forget`.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    subjects: &[String],
    now: DateTime<Utc>,
    forget: DateTime<Utc>,
) -> Result<(), DbErr> {
    sign_in_failure::Entity::delete_many()
        .filter(sign_in_failure::Column::At.lte(forget))
        .exec(db)
        .await?;
    sign_in_failure::Entity::insert_many(subjects.iter().map(|subject| {
        sign_in_failure::ActiveModel {
            subject: Set(subject.clone()),
            at: Set(now),
            ..Default::default()
        }
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Why a member could not be changed, removed or sent a new link.
#[derive(Debug, thiserror::Error)]
pub enum MemberChangeError {
    #[error("Member {0} not found.")]
    NotFound(i64),
    /// The change would leave the organization without an owner who can sign in.
    #[error("{}", LAST_OWNER)]
    LastOwner,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The organization's member `id`, read inside `txn` after a write to the organization's row
/// that changes nothing, so that changes of its members take turns and the last-owner rule
/// holds under concurrency: PostgreSQL locks the row until the commit; on SQLite the
/// transaction holds the write lock from its first statement (waiting its turn then, rather
/// than failing later on a stale read).
async fn locked_member(
    txn: &DatabaseTransaction,
    organization_id: i64,
    id: i64,
) -> Result<member::Model, MemberChangeError> {
    organization::Entity::update_many()
        .col_expr(
            organization::Column::Name,
            Expr::col(organization::Column::Name),
        )
        .filter(organization::Column::Id.eq(organization_id))
        .exec(txn)
        .await?;
    member::Entity::find_by_id(id)
        .filter(member::Column::OrganizationId.eq(organization_id))
        .one(txn)
        .await?
        .ok_or(MemberChangeError::NotFound(id))
}

/// Whether taking `target`'s owner rights away would leave no active owner.
async fn is_last_active_owner(
    txn: &DatabaseTransaction,
    target: &member::Model,
) -> Result<bool, DbErr> {
    if !(target.role == Role::Owner.as_str() && target.password_hash.is_some()) {
        return Ok(false);
    }
    let others = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(target.organization_id))
        .filter(member::Column::Role.eq(Role::Owner.as_str()))
        .filter(member::Column::PasswordHash.is_not_null())
        .filter(member::Column::Id.ne(target.id))
        .count(txn)
        .await?;
    Ok(others == 0)
}

/// Gives a member another role; the last active owner keeps theirs.
pub async fn change_role(
    db: &DatabaseConnection,
    organization_id: i64,
    id: i64,
    role: Role,
) -> Result<member::Model, MemberChangeError> {
    let txn = db.begin().await?;
    let target = locked_member(&txn, organization_id, id).await?;
    if role != Role::Owner && is_last_active_owner(&txn, &target).await? {
        return Err(MemberChangeError::LastOwner);
    }
    let mut row: member::ActiveModel = target.into();
    row.role = Set(role.as_str().to_owned());
    let changed = row.update(&txn).await?;
    txn.commit().await?;
    Ok(changed)
}

/// Removes a member: their row goes, and with it (by the foreign key's cascade, and here
/// explicitly) every session they had, so that their next page load asks them to sign in.
/// The last active owner cannot be removed.
pub async fn remove_member(
    db: &DatabaseConnection,
    organization_id: i64,
    id: i64,
) -> Result<member::Model, MemberChangeError> {
    let txn = db.begin().await?;
    let target = locked_member(&txn, organization_id, id).await?;
    if is_last_active_owner(&txn, &target).await? {
        return Err(MemberChangeError::LastOwner);
    }
    member_session::Entity::delete_many()
        .filter(member_session::Column::MemberId.eq(id))
        .exec(&txn)
        .await?;
    member::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(target)
}

/// A new one-time link for a member who forgot their password (or whose password an owner
/// wants gone): the old password stops working now and their sessions end; the link sets a
/// new one. The last active owner may have one too (the link is the way back in).
pub async fn reissue_invitation(
    db: &DatabaseConnection,
    organization_id: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Invited, MemberChangeError> {
    let txn = db.begin().await?;
    let target = locked_member(&txn, organization_id, id).await?;
    let invite_token = fresh_token();
    member_session::Entity::delete_many()
        .filter(member_session::Column::MemberId.eq(id))
        .exec(&txn)
        .await?;
    let mut row: member::ActiveModel = target.into();
    row.password_hash = Set(None);
    row.invite_token_hash = Set(Some(token_digest(&invite_token)));
    row.invite_expires_at = Set(Some(now + INVITE_LIFETIME));
    let member = row.update(&txn).await?;
    txn.commit().await?;
    Ok(Invited {
        member,
        invite_token,
    })
}
