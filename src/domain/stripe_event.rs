//! A Stripe event, read from the body Stripe signed: what it says happened, to whom, and
//! when. Only the fields Saveloops acts on are read; the rest of the event is Stripe's.
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Email, EndUserRef};

/// What an event does here. Stored with the event (`stripe_events.effect`), so that ordering
/// checks and save validation read facts with Stripe's own times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `invoice.payment_failed`, `invoice.payment_action_required`: dunning.
    PaymentFailed,
    /// `invoice.paid`, `invoice.payment_succeeded`: a payment success signal.
    PaymentSucceeded,
    /// `customer.subscription.deleted`: the end user churned.
    Churned,
    /// `customer.subscription.updated` turning `cancel_at_period_end` (or `cancel_at`) on.
    CancellationScheduled,
    /// … and off again.
    CancellationReversed,
    /// `pause_collection` set.
    PauseSet,
    /// `pause_collection` cleared.
    PauseCleared,
    /// A handled type that changed nothing Saveloops follows (say, a price change).
    Nothing,
    /// A type nobody handles: acknowledged and counted.
    Unhandled,
}

impl Effect {
    pub const ALL: [Effect; 9] = [
        Effect::PaymentFailed,
        Effect::PaymentSucceeded,
        Effect::Churned,
        Effect::CancellationScheduled,
        Effect::CancellationReversed,
        Effect::PauseSet,
        Effect::PauseCleared,
        Effect::Nothing,
        Effect::Unhandled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::PaymentFailed => "payment_failed",
            Effect::PaymentSucceeded => "payment_succeeded",
            Effect::Churned => "churned",
            Effect::CancellationScheduled => "cancellation_scheduled",
            Effect::CancellationReversed => "cancellation_reversed",
            Effect::PauseSet => "pause_set",
            Effect::PauseCleared => "pause_cleared",
            Effect::Nothing => "nothing",
            Effect::Unhandled => "unhandled",
        }
    }

    /// The newer fact that makes an event of this effect stale when the customer already has
    /// it: Stripe does not promise order, so a payment failure at or before the customer's
    /// latest success (a success at the same second settles the same invoice after the
    /// failure) flags nobody, and a success older than the latest failure does not clear
    /// the flag. (The effect, and whether one at the same second counts.)
    pub fn superseded_by(self) -> Option<(Effect, bool)> {
        match self {
            Effect::PaymentFailed => Some((Effect::PaymentSucceeded, true)),
            Effect::PaymentSucceeded => Some((Effect::PaymentFailed, false)),
            _ => None,
        }
    }
}

/// Effects that end a save: the subscription was deleted or set to cancel.
pub const CANCELLING_EFFECTS: [Effect; 2] = [Effect::Churned, Effect::CancellationScheduled];

/// Stripe's `cancellation_details` of a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationDetails {
    /// `cancellation_requested`, `payment_failed`, `payment_disputed`.
    pub reason: Option<String>,
    /// The customer's pick in the portal: `too_expensive`, `missing_features`, `switched_service`, …
    pub feedback: Option<String>,
    /// The customer's own words.
    pub comment: Option<String>,
}

/// The parts of an event Saveloops acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub created: DateTime<Utc>,
    pub customer: Option<String>,
    pub email: Option<Email>,
    pub subscription: Option<String>,
    pub effect: Effect,
    pub cancellation: CancellationDetails,
}

impl StripeEvent {
    /// The end user the event concerns (by Stripe customer, with the email when it has one).
    pub fn end_user(&self) -> Option<EndUserRef> {
        EndUserRef::new(self.email.clone(), self.customer.clone())
    }
}

/// Ids, types and Stripe's free text are cut at these lengths (the columns' sizes).
const MAX_ID: usize = 255;
const MAX_CODE: usize = 64;
/// What the reason classifier reads of a comment (the sentiment endpoint's limit).
pub const MAX_COMMENT: usize = 2000;

fn text(object: &Map<String, Value>, field: &str, max: usize) -> Option<String> {
    let value = object.get(field)?.as_str()?.trim();
    let value: String = value.chars().filter(|c| *c != '\0').take(max).collect();
    (!value.is_empty()).then_some(value)
}

/// An id field that Stripe may expand into the object it names.
fn id_of(object: &Map<String, Value>, field: &str) -> Option<String> {
    match object.get(field)? {
        Value::Object(expanded) => text(expanded, "id", MAX_ID),
        _ => text(object, field, MAX_ID),
    }
}

/// Reads a signed body as a Stripe event; the message says what is missing. A body Stripe
/// signed but that is not an event is refused (422) rather than acknowledged.
pub fn parse(body: &[u8]) -> Result<StripeEvent, String> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| format!("The body is not JSON: {e}"))?;
    let event = event
        .as_object()
        .ok_or("The body is not a Stripe event object.")?;
    let id = text(event, "id", MAX_ID).ok_or("The event has no `id`.")?;
    let kind = text(event, "type", MAX_ID).ok_or("The event has no `type`.")?;
    let created = event
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .ok_or("The event has no `created` time.")?;
    let data = event.get("data").and_then(Value::as_object);
    let empty = Map::new();
    let object = data
        .and_then(|d| d.get("object"))
        .and_then(Value::as_object)
        .ok_or("The event has no `data.object`.")?;
    let previous = data
        .and_then(|d| d.get("previous_attributes"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let is_subscription = object.get("object").and_then(Value::as_str) == Some("subscription");
    let subscription = if is_subscription {
        text(object, "id", MAX_ID)
    } else {
        id_of(object, "subscription")
    };
    let email = text(object, "customer_email", 255).and_then(|e| Email::parse(&e).ok());
    let effect = effect_of(&kind, object, previous);
    let cancellation = match effect {
        Effect::Churned | Effect::CancellationScheduled => object
            .get("cancellation_details")
            .and_then(Value::as_object)
            .map(|details| CancellationDetails {
                reason: text(details, "reason", MAX_CODE),
                feedback: text(details, "feedback", MAX_CODE),
                comment: text(details, "comment", MAX_COMMENT),
            })
            .unwrap_or_default(),
        _ => CancellationDetails::default(),
    };
    Ok(StripeEvent {
        id,
        created,
        customer: id_of(object, "customer"),
        email,
        subscription,
        effect,
        cancellation,
        kind,
    })
}

/// Whether `field` is set (neither absent nor null nor false).
fn is_set(object: &Map<String, Value>, field: &str) -> bool {
    !matches!(
        object.get(field),
        None | Some(Value::Null) | Some(Value::Bool(false))
    )
}

fn effect_of(kind: &str, object: &Map<String, Value>, previous: &Map<String, Value>) -> Effect {
    match kind {
        "invoice.payment_failed" | "invoice.payment_action_required" => Effect::PaymentFailed,
        "invoice.paid" | "invoice.payment_succeeded" => Effect::PaymentSucceeded,
        "customer.subscription.deleted" => Effect::Churned,
        "customer.subscription.updated" => {
            // The object is the subscription after the change; `previous_attributes` holds
            // the changed fields' values before it. A cancellation is either flag.
            let cancel_changed =
                previous.contains_key("cancel_at_period_end") || previous.contains_key("cancel_at");
            let cancelling = is_set(object, "cancel_at_period_end") || is_set(object, "cancel_at");
            let was_cancelling = ["cancel_at_period_end", "cancel_at"].iter().any(|field| {
                match previous.get(*field) {
                    Some(before) => !matches!(before, Value::Null | Value::Bool(false)),
                    None => is_set(object, field),
                }
            });
            if cancel_changed && cancelling != was_cancelling {
                return if cancelling {
                    Effect::CancellationScheduled
                } else {
                    Effect::CancellationReversed
                };
            }
            if previous.contains_key("pause_collection") {
                let paused = is_set(object, "pause_collection");
                let was_paused = is_set(previous, "pause_collection");
                if paused != was_paused {
                    return if paused {
                        Effect::PauseSet
                    } else {
                        Effect::PauseCleared
                    };
                }
            }
            Effect::Nothing
        }
        _ => Effect::Unhandled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value, previous: Option<Value>) -> StripeEvent {
        let mut data = json!({ "object": object });
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let body = json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_700_000_000,
                          "livemode": false, "data": data});
        parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn invoices_name_the_customer_and_its_email() {
        let e = event(
            "invoice.payment_failed",
            json!({"object": "invoice", "id": "in_1", "customer": "cus_1",
                   "customer_email": "A@Example.com", "subscription": "sub_1"}),
            None,
        );
        assert_eq!(e.effect, Effect::PaymentFailed);
        assert_eq!(e.customer.as_deref(), Some("cus_1"));
        assert_eq!(e.subscription.as_deref(), Some("sub_1"));
        assert!(e.email.is_some());
    }

    #[test]
    fn subscription_updates_read_the_change_from_previous_attributes() {
        let sub = |cancel: bool, pause: Value| {
            json!({"object": "subscription", "id": "sub_1", "customer": {"id": "cus_1"},
                   "cancel_at_period_end": cancel, "cancel_at": null, "pause_collection": pause})
        };
        let on = event(
            "customer.subscription.updated",
            sub(true, Value::Null),
            Some(json!({"cancel_at_period_end": false})),
        );
        assert_eq!(on.effect, Effect::CancellationScheduled);
        assert_eq!(on.customer.as_deref(), Some("cus_1"));
        let off = event(
            "customer.subscription.updated",
            sub(false, Value::Null),
            Some(json!({"cancel_at_period_end": true})),
        );
        assert_eq!(off.effect, Effect::CancellationReversed);
        let paused = event(
            "customer.subscription.updated",
            sub(false, json!({"behavior": "void"})),
            Some(json!({"pause_collection": null})),
        );
        assert_eq!(paused.effect, Effect::PauseSet);
        let price = event(
            "customer.subscription.updated",
            sub(false, Value::Null),
            Some(json!({"items": {}})),
        );
        assert_eq!(price.effect, Effect::Nothing);
        assert_eq!(
            event("charge.refunded", json!({"object": "charge"}), None).effect,
            Effect::Unhandled
        );
    }

    #[test]
    fn deletions_keep_cancellation_details_and_non_events_are_refused() {
        let e = event(
            "customer.subscription.deleted",
            json!({"object": "subscription", "id": "sub_1", "customer": "cus_1",
                   "cancellation_details": {"reason": "cancellation_requested",
                       "feedback": "too_expensive", "comment": "Too pricey for us"}}),
            None,
        );
        assert_eq!(e.effect, Effect::Churned);
        assert_eq!(e.cancellation.feedback.as_deref(), Some("too_expensive"));
        assert_eq!(e.cancellation.comment.as_deref(), Some("Too pricey for us"));
        assert!(parse(b"[]").is_err());
        assert!(parse(br#"{"id":"evt_1","type":"x","created":1}"#).is_err());
    }
}
