//! `saveloops member …`: the dashboard's members from the command line (the binary's, beside
//! `main.rs`): add, list, change a role, remove, and a new one-time link. The same store
//! functions as the MemberDesk, so the last active owner is kept here too.
use saveloops::config::Settings;
use saveloops::domain::member::{Role, ROLES};
use saveloops::domain::Email;
use saveloops::store::members::{self, MemberChangeError};
use saveloops::store::tenants;

use crate::print_json;

#[derive(clap::Subcommand)]
pub(crate) enum MemberCommand {
    /// Add a member (owner or support); prints their one-time link to set a password, as JSON.
    Add {
        #[arg(long)]
        org: i64,
        #[arg(long)]
        email: String,
        /// owner (everything) or support (tickets, and the overview to read).
        #[arg(long)]
        role: String,
        /// Where browsers reach this service (default: http://server.host:server.port).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// The organization's members.
    List {
        #[arg(long)]
        org: i64,
    },
    /// Make a member owner or support (never the last active owner support).
    Role {
        #[arg(long)]
        org: i64,
        #[arg(long)]
        id: i64,
        #[arg(long)]
        role: String,
    },
    /// Remove a member; their sessions end (never the last active owner).
    Remove {
        #[arg(long)]
        org: i64,
        #[arg(long)]
        id: i64,
    },
    /// A new one-time link to set the member's password: their old password and sessions end.
    Reset {
        #[arg(long)]
        org: i64,
        #[arg(long)]
        id: i64,
        #[arg(long)]
        base_url: Option<String>,
    },
}

pub(crate) async fn member_command(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    command: MemberCommand,
) -> anyhow::Result<()> {
    let shown = |m: &entity::member::Model| {
        serde_json::json!({
            "id": m.id, "organization_id": m.organization_id, "email": m.email, "role": m.role,
            "active": m.password_hash.is_some(), "created_at": m.created_at.to_rfc3339(),
        })
    };
    let with_link = |invited: &members::Invited, base_url: Option<String>| {
        let base = base_url
            .unwrap_or_else(|| format!("http://{}:{}", settings.server.host, settings.server.port));
        let mut out = shown(&invited.member);
        out["invite_url"] = serde_json::json!(format!(
            "{}/app/invite/{}",
            base.trim_end_matches('/'),
            invited.invite_token
        ));
        out["invite_expires_at"] =
            serde_json::json!(invited.member.invite_expires_at.map(|t| t.to_rfc3339()));
        out
    };
    let changed = |result: Result<entity::member::Model, MemberChangeError>| match result {
        Ok(member) => print_json(&shown(&member)),
        Err(e) => Err(anyhow::anyhow!(e.to_string())),
    };
    match command {
        MemberCommand::Add {
            org,
            email,
            role,
            base_url,
        } => {
            let email = Email::parse(&email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(role.trim())
                .ok_or_else(|| anyhow::anyhow!("the role must be one of {ROLES:?}"))?;
            let invited = members::add_member(db, org, &email, role, chrono::Utc::now()).await?;
            print_json(&with_link(&invited, base_url))
        }
        MemberCommand::List { org } => {
            tenants::find_organization(db, org).await?;
            let rows = members::list_members(db, org).await?;
            print_json(&serde_json::json!({
                "data": rows.iter().map(shown).collect::<Vec<_>>()
            }))
        }
        MemberCommand::Role { org, id, role } => {
            let role = Role::parse(role.trim())
                .ok_or_else(|| anyhow::anyhow!("the role must be one of {ROLES:?}"))?;
            changed(members::change_role(db, org, id, role).await)
        }
        MemberCommand::Remove { org, id } => changed(members::remove_member(db, org, id).await),
        MemberCommand::Reset { org, id, base_url } => {
            let invited = members::reissue_invitation(db, org, id, chrono::Utc::now())
                .await
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
            print_json(&with_link(&invited, base_url))
        }
    }
}
