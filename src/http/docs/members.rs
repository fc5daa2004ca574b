//! Bodies of the dashboard's members: adding one (with the one-time invitation link) and the list.

use utoipa::ToSchema;

#[derive(serde::Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Everything: offers, experiments, settings, members, tickets, analytics.
    Owner,
    /// Tickets, and the analytics overview to read.
    Support,
}

/// A member to add: they get a one-time link to set their password.
#[derive(serde::Deserialize, ToSchema)]
pub struct MemberCreate {
    /// Their email address, which they sign in with (one account per address).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub role: MemberRole,
}

/// A member's new role.
#[derive(serde::Deserialize, ToSchema)]
pub struct MemberPatch {
    pub role: MemberRole,
}

/// A member of the organization; never a password hash or a token.
#[derive(serde::Serialize, ToSchema)]
pub struct Member {
    pub id: i64,
    pub organization_id: i64,
    #[schema(format = Email)]
    pub email: String,
    pub role: MemberRole,
    /// Whether they have set their password (used their invitation).
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A member just added, with the one-time link that sets their password (shown this once).
#[derive(serde::Serialize, ToSchema)]
pub struct MemberInvited {
    pub id: i64,
    pub organization_id: i64,
    #[schema(format = Email)]
    pub email: String,
    pub role: MemberRole,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Open it in a browser to set the password; it works once, until `invite_expires_at`.
    pub invite_url: String,
    #[schema(format = DateTime)]
    pub invite_expires_at: String,
}

/// The organization's members, oldest first.
#[derive(serde::Serialize, ToSchema)]
pub struct MemberList {
    pub data: Vec<Member>,
}
