//! The settings API: an organization's own eligibility and experiment defaults and allowed
//! origins; and whether a browser origin may call its cancel flow.
use actix::prelude::*;
use chrono::Utc;
use entity::organization_setting;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::{Map, Value};

use super::offers::rule_column;
use super::OfferSelector;
use crate::actors::{guard_act, Failure};
use crate::domain::eligibility::OrgSettings;
use crate::domain::offer_draft::{as_body, merge_patch};
use crate::domain::settings_draft::{parse_settings, settings_json};

/// The organization's own settings.
#[derive(Message)]
#[rtype(result = "Result<Value, Failure>")]
pub enum ManageSettings {
    Get {
        organization_id: i64,
    },
    Update {
        organization_id: i64,
        patch: Map<String, Value>,
    },
}

/// Whether the organization allows a browser origin (a request's `Origin` header) to call
/// its cancel flow: read from the cached catalog, so it costs no query while the catalog is
/// fresh (intercept and the rest of the cancel flow load the same catalog).
#[derive(Message)]
#[rtype(result = "Result<bool, Failure>")]
pub struct OriginAllowed {
    pub organization_id: i64,
    pub origin: String,
}

impl Handler<OriginAllowed> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<bool, Failure>>;

    fn handle(&mut self, msg: OriginAllowed, _: &mut Self::Context) -> Self::Result {
        guard_act(
            self.catalog(msg.organization_id)
                .map(move |catalog, _, _| Ok(catalog?.settings.allows_origin(&msg.origin))),
        )
    }
}

impl Handler<ManageSettings> for OfferSelector {
    type Result = ResponseActFuture<Self, Result<Value, Failure>>;

    fn handle(&mut self, msg: ManageSettings, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        match msg {
            ManageSettings::Get { organization_id } => guard_act(
                self.catalog(organization_id)
                    .map(|catalog, _, _| Ok(settings_json(&catalog?.settings))),
            ),
            ManageSettings::Update {
                organization_id,
                patch,
            } => guard_act(
                self.catalog(organization_id)
                    .then(move |catalog, _, _| {
                        fut::wrap_future(async move {
                            let current = settings_json(&catalog?.settings);
                            let body = merge_patch(as_body(&current), &patch);
                            let settings = parse_settings(&body).map_err(Failure::Invalid)?;
                            save_settings(&db, organization_id, &settings).await?;
                            Ok(settings_json(&settings))
                        })
                    })
                    .map(move |result, act: &mut Self, _| {
                        act.forget_catalog(organization_id);
                        result
                    }),
            ),
        }
    }
}

#[tracing::instrument(skip(db, settings))]
async fn save_settings(
    db: &DatabaseConnection,
    organization_id: i64,
    settings: &OrgSettings,
) -> Result<(), Failure> {
    use organization_setting::Column;
    let row = organization_setting::ActiveModel {
        organization_id: Set(organization_id),
        offer_cooldown_days: Set(rule_column(settings.offer_cooldown_days)),
        type_cooldown_days: Set(rule_column(settings.type_cooldown_days)),
        max_redemptions_per_user: Set(rule_column(settings.max_redemptions_per_user)),
        require_subscription_for_changes: Set(settings.require_subscription_for_changes),
        experiment_confidence: Set(settings.experiment_confidence),
        experiment_min_sample_size: Set(
            rule_column(Some(settings.experiment_min_sample_size)).unwrap_or(i32::MAX)
        ),
        allowed_origins: Set((!settings.allowed_origins.is_empty())
            .then(|| Value::from(settings.allowed_origins.clone()).to_string())),
        save_validation_days: Set(rule_column(Some(settings.save_validation_days))),
        updated_at: Set(Utc::now()),
    };
    organization_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::OrganizationId)
                .update_columns([
                    Column::OfferCooldownDays,
                    Column::TypeCooldownDays,
                    Column::MaxRedemptionsPerUser,
                    Column::RequireSubscriptionForChanges,
                    Column::ExperimentConfidence,
                    Column::ExperimentMinSampleSize,
                    Column::AllowedOrigins,
                    Column::SaveValidationDays,
                    Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
