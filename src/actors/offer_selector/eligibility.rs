//! Which of the candidate offers an end user may have, who that end user is, and which
//! experiment arm gets the credit for an offer: what intercept, applications and outcomes
//! all ask.
use std::collections::HashMap;

use actix::dev::Request;
use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::catalog::CatalogData;
use crate::actors::dunning_tracker::{DunningTracker, EndUserState, Identify};
use crate::actors::Failure;
use crate::domain::eligibility::{self, Facts, Ineligible, Rules};
use crate::store::experiments::{self, Exposure};

/// Checks the eligibility of the candidate offers (positions in the catalog). The end
/// user's acceptances and offers' totals are read only when some candidate has a rule that
/// needs them, through indexed queries.
pub(super) async fn check_offers(
    db: &DatabaseConnection,
    catalog: &CatalogData,
    organization_id: i64,
    candidates: &[usize],
    end_user_id: Option<i64>,
    subscription_known: bool,
) -> Result<Vec<Result<(), Ineligible>>, Failure> {
    let rules: Vec<Rules> = candidates
        .iter()
        .map(|&i| {
            let o = &catalog.offers[i];
            Rules::resolve(&o.rules, &catalog.settings, o.kind)
        })
        .collect();
    let history_for = end_user_id.filter(|_| rules.iter().any(Rules::needs_history));
    let capped: Vec<i64> = candidates
        .iter()
        .zip(&rules)
        .filter(|(_, r)| r.needs_total())
        .map(|(&i, _)| catalog.offers[i].id)
        .collect();
    let history = async {
        match history_for {
            Some(user) => crate::store::eligibility::history(db, organization_id, user, |id| {
                catalog.kind_of(id)
            })
            .await
            .map(Some),
            None => Ok(None),
        }
    };
    let totals = async {
        if capped.is_empty() {
            Ok(HashMap::new())
        } else {
            crate::store::eligibility::totals(db, &capped).await
        }
    };
    let (history, totals) = futures_util::future::try_join(history, totals).await?;
    let now = Utc::now();
    Ok(candidates
        .iter()
        .zip(&rules)
        .map(|(&i, rules)| {
            let o = &catalog.offers[i];
            eligibility::check(
                o.id,
                o.kind,
                rules,
                Facts {
                    now,
                    history: history.as_deref(),
                    total: totals.get(&o.id).copied().unwrap_or(0),
                    subscription_known,
                },
            )
        })
        .collect())
}

pub(super) async fn identify(
    request: Option<Request<DunningTracker, Identify>>,
) -> Result<Option<EndUserState>, Failure> {
    match request {
        Some(request) => {
            Ok(Some(request.await.map_err(|e| {
                anyhow::anyhow!("dunning tracker unavailable: {e}")
            })??))
        }
        None => Ok(None),
    }
}

/// The arm an outcome or application of this offer belongs to: a known end user's own
/// recorded assignment, when the offer is in that arm; for an anonymous one, the arm that
/// holds the offer.
pub(super) async fn attribution(
    db: &DatabaseConnection,
    catalog: &CatalogData,
    offer_id: i64,
    end_user_id: Option<i64>,
) -> Result<Option<Exposure>, Failure> {
    let Some((experiment, arm)) = catalog.running_with_offer(offer_id) else {
        return Ok(None);
    };
    match end_user_id {
        Some(user) => Ok(experiments::assigned_arm(db, experiment.id, user)
            .await?
            .filter(|assigned| *assigned == experiment.arms[arm].name)
            .map(|_| experiment.exposure(arm))),
        None => Ok(Some(experiment.exposure(arm))),
    }
}
