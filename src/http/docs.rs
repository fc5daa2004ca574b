//! The OpenAPI 3.1 description, generated from the code (utoipa). The paths come from the
//! route table (`routes::ROUTES` and `routes::ApiDoc`, built by one macro), so a route cannot be
//! served without being described. This module holds the shapes of request and response
//! bodies that handlers build dynamically, the shared error responses and the security
//! schemes.
#![allow(dead_code)] // the types here exist to be described, not constructed
use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{IntoResponses, Modify, ToSchema};

/// Security scheme names used in the handlers' `security(...)`.
pub const KEY_SCHEME: &str = "api_key";
pub const ADMIN_SCHEME: &str = "admin_bearer";
pub const METRICS_SCHEME: &str = "metrics_bearer";

/// Adds the security schemes and makes the organization key the default requirement.
pub struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut key = ApiKeyValue::new(super::extract::KEY_HEADER);
        key.description = Some("The organization's API key (`slk_…`).".into());
        components.add_security_scheme(KEY_SCHEME, SecurityScheme::ApiKey(ApiKey::Header(key)));
        components.add_security_scheme(
            ADMIN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token (`admin.token`). The operator API answers 404 when none is configured.",
                    ))
                    .build(),
            ),
        );
        // Unless an operation says otherwise, it takes the organization's key.
        openapi.security = Some(vec![SecurityRequirement::new::<_, _, &str>(KEY_SCHEME, [])]);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            METRICS_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`metrics.token`, only when it is set."))
                    .build(),
            ),
        );
    }
}

// ---- Errors -------------------------------------------------------------------------------

/// Every error, and several answers, are `{"message": "..."}`.
#[derive(serde::Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// 422: a broken validation rule (Laravel style: `errors` maps each field to its messages),
/// or a valid request that cannot be carried out (`message` only; apply-offer adds Stripe's
/// `error` object when `debug` is on).
#[derive(serde::Serialize, ToSchema)]
pub struct Unprocessable {
    pub message: String,
    #[schema(required = false)]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// Stripe's error object (apply-offer, with `debug = true` only).
    #[schema(required = false, value_type = Option<Object>)]
    pub error: Option<Value>,
}

/// 429: the key's rate limit is exhausted.
#[derive(serde::Serialize, ToSchema)]
pub struct RateLimited {
    pub message: String,
    /// Seconds to wait, as in `Retry-After`.
    pub retry_after: u64,
}

/// Answers every keyed endpoint can give.
#[derive(IntoResponses)]
pub enum KeyedErrors {
    /// `Unauthenticated.` without a key; `Invalid API key.` for an unknown or revoked one.
    #[response(status = 401)]
    Unauthorized(Message),
    /// Too many requests for this key.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait.")))]
    TooManyRequests(RateLimited),
    /// The service is overloaded; retry shortly.
    #[response(status = 503)]
    Unavailable(Message),
}

/// Answers about a JSON request body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed JSON, or a body that is not a JSON object.
    #[response(status = 400)]
    BadRequest(Message),
    /// The body is larger than `server.max_body_bytes`.
    #[response(status = 413)]
    TooLarge(Message),
    /// The body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(Message),
    /// Validation failed.
    #[response(status = 422)]
    Invalid(Unprocessable),
}

/// Answers of the operator API besides its own.
#[derive(IntoResponses)]
pub enum AdminErrors {
    /// The bearer token is missing or wrong.
    #[response(status = 401, headers(("WWW-Authenticate" = String)))]
    Unauthorized(Message),
    /// The operator API is disabled (no `admin.token`), or the resource does not exist.
    #[response(status = 404)]
    NotFound(Message),
    /// The service is overloaded; retry shortly.
    #[response(status = 503)]
    Unavailable(Message),
}

// ---- Operations ---------------------------------------------------------------------------

#[derive(serde::Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
}

/// Each configured dependency is `ok` or `down`; `message` names what is down.
#[derive(serde::Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`
    pub status: String,
    pub database: String,
    /// Present when the queue backend is Redis.
    #[schema(required = false)]
    pub redis: Option<String>,
    #[schema(required = false)]
    pub message: Option<String>,
}

// ---- Cancel flow --------------------------------------------------------------------------

#[derive(serde::Serialize, ToSchema)]
#[schema(as = Trigger)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDoc {
    Click,
    ExitIntent,
    Hover,
}

#[derive(serde::Serialize, ToSchema)]
#[schema(as = OfferType)]
#[serde(rename_all = "snake_case")]
pub enum OfferTypeDoc {
    Discount,
    Pause,
    TrialExtension,
    Downgrade,
    Contact,
    Custom,
}

#[derive(serde::Serialize, ToSchema)]
pub struct InterceptRequest {
    #[schema(max_length = 255)]
    pub target_id: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    pub trigger: Option<TriggerDoc>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_subscription_id: Option<String>,
    /// At most 4 decimal places.
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

/// An offer as the cancel flow shows it.
#[derive(serde::Serialize, ToSchema)]
pub struct ShownOffer {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    pub value: f64,
    pub label: String,
    #[schema(value_type = Object)]
    pub config: Value,
    /// The experiment arm this offer comes from, if any.
    #[schema(value_type = Option<Object>)]
    pub experiment: Option<Value>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct InterceptResponse {
    pub offers: Vec<ShownOffer>,
    pub show_update_card: bool,
    pub show_onboarding_prompt: bool,
}

#[derive(serde::Serialize, ToSchema)]
#[schema(as = OutcomeStatus)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatusDoc {
    Saved,
    Abandoned,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OutcomeRequest {
    pub offer_id: i64,
    pub status: OutcomeStatusDoc,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ApplyOfferRequest {
    pub offer_id: i64,
    #[schema(max_length = 255)]
    pub stripe_subscription_id: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(minimum = 0)]
    pub mrr_value: Option<f64>,
}

/// 202: Stripe failed transiently; the application is queued.
#[derive(serde::Serialize, ToSchema)]
pub struct ApplicationQueued {
    pub message: String,
    pub application_id: i64,
}

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Pending,
    Retrying,
    Applied,
    Failed,
    Dead,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Application {
    pub id: i64,
    pub offer_id: i64,
    pub stripe_subscription_id: String,
    pub status: ApplicationStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub applied_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// One of `user_email` / `stripe_customer_id` is required.
#[derive(serde::Serialize, ToSchema)]
pub struct DunningRequest {
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
}

/// One of `user_email` / `stripe_customer_id` is required.
#[derive(serde::Serialize, ToSchema)]
pub struct SuccessSignalRequest {
    #[schema(max_length = 64)]
    pub event: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub stripe_customer_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SuccessRecorded {
    pub message: String,
    pub end_user_id: i64,
}

// ---- Offers -------------------------------------------------------------------------------

/// An offer as the organization manages it.
#[derive(serde::Serialize, ToSchema)]
pub struct Offer {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    pub value: f64,
    pub label: String,
    #[schema(value_type = Object)]
    pub config: Value,
    pub target_id: Option<String>,
    pub triggers: Vec<TriggerDoc>,
    pub min_mrr: Option<f64>,
    pub max_mrr: Option<f64>,
    pub priority: i64,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OfferList {
    pub data: Vec<Offer>,
}

/// A new offer. `config` is checked per type (see the README).
#[derive(serde::Serialize, ToSchema)]
pub struct OfferCreate {
    #[serde(rename = "type")]
    pub kind: OfferTypeDoc,
    #[schema(minimum = 0)]
    pub value: f64,
    #[schema(max_length = 255)]
    pub label: String,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    #[schema(max_length = 255)]
    pub target_id: Option<String>,
    pub triggers: Option<Vec<TriggerDoc>>,
    #[schema(minimum = 0)]
    pub min_mrr: Option<f64>,
    #[schema(minimum = 0)]
    pub max_mrr: Option<f64>,
    pub priority: Option<i64>,
    pub active: Option<bool>,
}

/// Only the fields named change; `null` clears an optional one.
#[derive(serde::Serialize, ToSchema)]
pub struct OfferPatch {
    #[serde(rename = "type")]
    #[schema(required = false)]
    pub kind: Option<OfferTypeDoc>,
    #[schema(minimum = 0, required = false)]
    pub value: Option<f64>,
    #[schema(max_length = 255, required = false)]
    pub label: Option<String>,
    #[schema(value_type = Option<Object>, required = false)]
    pub config: Option<Value>,
    #[schema(max_length = 255, required = false)]
    pub target_id: Option<String>,
    #[schema(required = false)]
    pub triggers: Option<Vec<TriggerDoc>>,
    #[schema(minimum = 0, required = false)]
    pub min_mrr: Option<f64>,
    #[schema(minimum = 0, required = false)]
    pub max_mrr: Option<f64>,
    #[schema(required = false)]
    pub priority: Option<i64>,
    #[schema(required = false)]
    pub active: Option<bool>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OfferDeleted {
    pub message: String,
    /// False when the offer has history and was deactivated instead.
    pub deleted: bool,
    #[schema(required = false)]
    pub active: Option<bool>,
}

// ---- Operator API -------------------------------------------------------------------------

/// Figures of one job kind, or of all of them.
#[derive(serde::Serialize, ToSchema)]
pub struct KindStats {
    /// Due now and not leased.
    pub ready: u64,
    /// Due later.
    pub scheduled: u64,
    /// Leased, lease not expired.
    pub in_flight: u64,
    pub dead: u64,
    /// How long the longest-waiting ready job has been due.
    pub oldest_due_age_seconds: Option<f64>,
    /// Retries scheduled so far.
    pub retries_total: u64,
}

/// The same figures as `saveloops queue stats`.
#[derive(serde::Serialize, ToSchema)]
pub struct QueueStats {
    pub total: KindStats,
    /// Per job kind; kinds with nothing are left out.
    pub kinds: BTreeMap<String, KindStats>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeadJob {
    /// e.g. `apply_offer:7`
    pub id: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub died_at: String,
    /// From the job's ledger (for `apply_offer`, the application's organization).
    pub organization_id: Option<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeadJobPage {
    pub data: Vec<DeadJob>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct JobSettled {
    pub message: String,
    pub id: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: i64,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub stripe_configured: bool,
    pub active_keys: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationPage {
    pub data: Vec<OrganizationSummary>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct CreateOrganizationRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
}

/// The organization and its first key. The key is shown this once.
#[derive(serde::Serialize, ToSchema)]
pub struct CreatedOrganization {
    pub id: i64,
    pub name: String,
    pub api_key: String,
    pub key_prefix: String,
}

/// The key is shown this once.
#[derive(serde::Serialize, ToSchema)]
pub struct CreatedKey {
    pub organization_id: i64,
    pub api_key: String,
    pub key_prefix: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct KeyRevoked {
    pub message: String,
    pub revoked: String,
}

// ---- Sentiment and support tickets --------------------------------------------------------

#[derive(serde::Serialize, ToSchema)]
#[schema(as = SuggestedAction)]
#[serde(rename_all = "snake_case")]
pub enum SuggestedActionDoc {
    Discount,
    Pause,
    SetupCall,
    Support,
    None,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SentimentRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
    #[schema(format = Email, max_length = 254)]
    pub user_email: Option<String>,
    #[schema(max_length = 255)]
    pub target_id: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct SentimentResponse {
    pub suggested_action: SuggestedActionDoc,
    /// The model's probability of the suggested action (0 to 1).
    pub confidence: f64,
    pub offers: Vec<ShownOffer>,
    pub create_support_ticket: bool,
    pub category: String,
    /// Polarity from -1 (furious) to 1.
    pub sentiment: f64,
    pub ticket_id: Option<i64>,
}

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Pending,
    Solved,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketDelivery {
    /// none, pending, retrying, delivered, failed or dead
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Ticket {
    pub id: i64,
    pub status: TicketStatus,
    /// urgent, high, normal or low
    pub priority: String,
    pub category: String,
    pub sentiment: f64,
    pub reason: String,
    pub user_email: Option<String>,
    pub end_user_id: Option<i64>,
    pub target_id: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub delivery: TicketDelivery,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketPageMeta {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub last_page: u64,
}

#[derive(serde::Serialize, ToSchema)]
pub struct TicketPage {
    pub data: Vec<Ticket>,
    pub meta: TicketPageMeta,
}

/// Only the fields named change; `null` clears `assignee` or `note`.
#[derive(serde::Serialize, ToSchema)]
pub struct TicketPatch {
    #[schema(required = false)]
    pub status: Option<TicketStatus>,
    #[schema(max_length = 255, required = false)]
    pub assignee: Option<String>,
    #[schema(max_length = 5000, required = false)]
    pub note: Option<String>,
}

// ---- Experiments and settings -------------------------------------------------------------

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentStatus {
    Draft,
    Running,
    Stopped,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentArm {
    #[schema(max_length = 64)]
    pub name: String,
    /// Relative share of assignments.
    #[schema(required = false)]
    pub weight: Option<i64>,
    #[schema(required = false)]
    pub control: Option<bool>,
    pub offer_ids: Vec<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub struct Experiment {
    pub id: i64,
    pub name: String,
    pub target_id: String,
    pub trigger: Option<TriggerDoc>,
    pub status: String,
    pub arms: Vec<ExperimentArm>,
    pub control_arm: Option<String>,
    pub confidence: f64,
    pub min_sample_size: i64,
    pub promoted_arm: Option<String>,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub stopped_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentList {
    pub data: Vec<Experiment>,
}

/// A new experiment (see the README for the rules on arms).
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentCreate {
    #[schema(max_length = 255)]
    pub name: String,
    #[schema(max_length = 255)]
    pub target_id: String,
    pub trigger: Option<TriggerDoc>,
    pub status: Option<ExperimentStatus>,
    #[schema(minimum = 0.5, maximum = 0.999)]
    pub confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub min_sample_size: Option<i64>,
    pub arms: Vec<ExperimentArm>,
}

/// Merged over the experiment: `status` starts or stops it; `target_id`, `trigger` and
/// `arms` change only while it is a draft.
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentPatch {
    #[schema(max_length = 255, required = false)]
    pub name: Option<String>,
    #[schema(max_length = 255, required = false)]
    pub target_id: Option<String>,
    #[schema(required = false)]
    pub trigger: Option<TriggerDoc>,
    #[schema(required = false)]
    pub status: Option<ExperimentStatus>,
    #[schema(minimum = 0.5, maximum = 0.999, required = false)]
    pub confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000, required = false)]
    pub min_sample_size: Option<i64>,
    #[schema(required = false)]
    pub arms: Option<Vec<ExperimentArm>>,
    /// Stop the experiment and keep only the winning arm's offers.
    #[schema(required = false)]
    pub promote_winner: Option<bool>,
    /// Stop the experiment and keep only this arm's offers.
    #[schema(max_length = 64, required = false)]
    pub promote_arm: Option<String>,
}

/// Per-arm exposures, saves, rates with intervals, the comparison with the control arm, and
/// the verdict.
#[derive(serde::Serialize, ToSchema)]
pub struct ExperimentResults {
    #[schema(value_type = Object)]
    pub experiment: Value,
    pub confidence: f64,
    pub min_sample_size: i64,
    pub alpha: f64,
    #[schema(value_type = Vec<Object>)]
    pub arms: Vec<Value>,
    pub verdict: String,
    pub winner: Option<String>,
    pub verdict_reason: String,
}

/// The organization's eligibility rules and experiment defaults.
#[derive(serde::Serialize, ToSchema)]
pub struct OrganizationSettings {
    pub offer_cooldown_days: Option<i64>,
    pub type_cooldown_days: Option<i64>,
    pub max_redemptions_per_user: Option<i64>,
    pub require_subscription_for_changes: bool,
    pub experiment_confidence: f64,
    pub experiment_min_sample_size: i64,
}

/// Only the fields named change; `null` clears an optional rule.
#[derive(serde::Serialize, ToSchema)]
pub struct SettingsPatch {
    #[schema(minimum = 1, required = false)]
    pub offer_cooldown_days: Option<i64>,
    #[schema(minimum = 1, required = false)]
    pub type_cooldown_days: Option<i64>,
    #[schema(minimum = 1, maximum = 1_000_000, required = false)]
    pub max_redemptions_per_user: Option<i64>,
    #[schema(required = false)]
    pub require_subscription_for_changes: Option<bool>,
    #[schema(minimum = 0.5, maximum = 0.999, required = false)]
    pub experiment_confidence: Option<f64>,
    #[schema(minimum = 1, maximum = 10_000_000, required = false)]
    pub experiment_min_sample_size: Option<i64>,
}

// ---- Rules JSON Schema states after generation ----------------------------------------------

/// What `str::trim` removes (Unicode `White_Space`), as a regular-expression class body. The
/// service trims strings before it checks them, and a string that is blank once trimmed
/// counts as absent.
const SPACE: &str =
    r"\t\n\u000B\u000C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A string that, trimmed, holds 1 to `max` characters and no NUL (PostgreSQL text cannot
/// store one; the service refuses them). With `blank_ok`, a blank string (absent) matches too.
fn text_pattern(max: usize, blank_ok: bool) -> String {
    let core = format!(
        "[^{SPACE}\\u0000](?:[^\\u0000]{{0,{}}}[^{SPACE}\\u0000])?",
        max.saturating_sub(2)
    );
    if blank_ok {
        format!("^[{SPACE}]*(?:{core})?[{SPACE}]*$")
    } else {
        format!("^[{SPACE}]*{core}[{SPACE}]*$")
    }
}

/// A blank string: what the service takes for an absent field or query parameter.
fn blank() -> Value {
    serde_json::json!({"type": "string", "pattern": format!("^[{SPACE}]*$")})
}

/// A string field: trimmed length at most `max`, no NUL; `required` refuses blank (and null).
fn text(max: usize, required: bool, description: &str) -> Value {
    let kind = if required {
        serde_json::json!("string")
    } else {
        serde_json::json!(["string", "null"])
    };
    let rule = if required {
        format!("At most {max} characters once trimmed, not blank, no NUL.")
    } else {
        format!("At most {max} characters once trimmed, no NUL; blank counts as absent.")
    };
    let description = if description.is_empty() {
        rule
    } else {
        format!("{description} {rule}")
    };
    serde_json::json!({
        "type": kind,
        "pattern": text_pattern(max, !required),
        "description": description,
    })
}

/// An optional email: a valid address, or blank / null (absent).
fn optional_email() -> Value {
    serde_json::json!({
        "anyOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            blank(),
            {"type": "null"},
        ],
        "description": "An email address (trimmed, at most 254 characters); blank or null counts as absent.",
    })
}

/// Money: at least 0, at most 10^12; kept to 4 decimal places (more are rounded half away
/// from zero).
fn money(nullable: bool) -> Value {
    serde_json::json!({
        "type": if nullable { serde_json::json!(["number", "null"]) } else { serde_json::json!("number") },
        "minimum": 0,
        "maximum": 1_000_000_000_000_i64,
        "description": "At least 0, at most 1000000000000; kept to 4 decimal places (more are rounded half away from zero).",
    })
}

fn set(doc: &mut Value, schema: &str, field: &str, value: Value) {
    if let Some(properties) = doc
        .pointer_mut(&format!("/components/schemas/{schema}/properties"))
        .and_then(Value::as_object_mut)
    {
        properties.insert(field.to_owned(), value);
    }
}

fn bound(doc: &mut Value, schema: &str, field: &str, minimum: i64, maximum: i64) {
    if let Some(property) =
        doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
    {
        property["minimum"] = minimum.into();
        property["maximum"] = maximum.into();
    }
}

/// `type` of a PATCH field that cannot be cleared: `null` is refused like a missing required
/// field, so the description does not offer it.
fn not_null(doc: &mut Value, schema: &str, field: &str) {
    let Some(property) =
        doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
    else {
        return;
    };
    if let Some(kinds) = property.get_mut("type").and_then(Value::as_array_mut) {
        kinds.retain(|kind| kind != "null");
        if kinds.len() == 1 {
            property["type"] = kinds[0].clone();
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = property.get_mut(key).and_then(Value::as_array_mut) {
            options.retain(|option| option.get("type").is_none_or(|kind| kind != "null"));
            if options.len() == 1 {
                let only = options[0].clone();
                *property = only;
                break;
            }
        }
    }
}

/// States in the description the rules the service applies that utoipa's attributes cannot:
/// trimming, blank strings counting as absent, no NUL in strings, bounds, money's 4 decimals,
/// "one of `user_email` / `stripe_customer_id`", and blank query parameters counting as absent.
pub fn refine(doc: &mut Value) {
    use crate::domain::eligibility::MAX_COOLDOWN_DAYS;
    // Request bodies: (schema, field, max, required).
    let texts: &[(&str, &str, usize, bool)] = &[
        ("InterceptRequest", "target_id", 255, true),
        ("InterceptRequest", "stripe_customer_id", 255, false),
        ("InterceptRequest", "stripe_subscription_id", 255, false),
        ("ApplyOfferRequest", "stripe_subscription_id", 255, true),
        ("DunningRequest", "stripe_customer_id", 255, false),
        ("SuccessSignalRequest", "event", 64, true),
        ("SuccessSignalRequest", "stripe_customer_id", 255, false),
        ("SentimentRequest", "reason", 2000, true),
        ("SentimentRequest", "target_id", 255, false),
        ("OfferCreate", "label", 255, true),
        ("OfferCreate", "target_id", 255, false),
        ("OfferPatch", "label", 255, true),
        ("OfferPatch", "target_id", 255, false),
        ("CreateOrganizationRequest", "name", 255, true),
        ("TicketPatch", "assignee", 255, false),
        ("TicketPatch", "note", 5000, false),
        ("ExperimentArm", "name", 64, true),
        ("ExperimentCreate", "name", 255, true),
        ("ExperimentCreate", "target_id", 255, true),
        ("ExperimentPatch", "name", 255, true),
        ("ExperimentPatch", "target_id", 255, true),
        ("ExperimentPatch", "promote_arm", 64, false),
    ];
    for (schema, field, max, required) in texts {
        let description = doc
            .pointer(&format!(
                "/components/schemas/{schema}/properties/{field}/description"
            ))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        set(doc, schema, field, text(*max, *required, &description));
    }
    for schema in [
        "InterceptRequest",
        "OutcomeRequest",
        "ApplyOfferRequest",
        "DunningRequest",
        "SuccessSignalRequest",
        "SentimentRequest",
    ] {
        set(doc, schema, "user_email", optional_email());
    }
    for schema in ["InterceptRequest", "OutcomeRequest", "ApplyOfferRequest"] {
        set(doc, schema, "mrr_value", money(true));
    }
    for schema in ["OfferCreate", "OfferPatch"] {
        set(doc, schema, "min_mrr", money(true));
        set(doc, schema, "max_mrr", money(true));
        bound(doc, schema, "priority", -1_000_000, 1_000_000);
    }
    for field in ["offer_cooldown_days", "type_cooldown_days"] {
        bound(doc, "SettingsPatch", field, 1, MAX_COOLDOWN_DAYS.into());
    }
    bound(
        doc,
        "ExperimentArm",
        "weight",
        1,
        crate::domain::experiment_draft::MAX_WEIGHT,
    );
    // A PATCH cannot clear what the resource requires.
    for (schema, field) in [
        ("OfferPatch", "type"),
        ("OfferPatch", "value"),
        ("OfferPatch", "label"),
        ("ExperimentPatch", "name"),
        ("ExperimentPatch", "target_id"),
    ] {
        not_null(doc, schema, field);
    }
    // Optional fields that are not strings: a blank string counts as absent too.
    let optional: &[(&str, &[&str])] = &[
        ("InterceptRequest", &["trigger", "mrr_value"]),
        ("OutcomeRequest", &["mrr_value"]),
        ("ApplyOfferRequest", &["mrr_value"]),
        (
            "OfferCreate",
            &[
                "config", "triggers", "min_mrr", "max_mrr", "priority", "active",
            ],
        ),
        (
            "OfferPatch",
            &[
                "config", "triggers", "min_mrr", "max_mrr", "priority", "active",
            ],
        ),
        ("TicketPatch", &["status"]),
        ("ExperimentArm", &["weight", "control"]),
        (
            "ExperimentCreate",
            &["trigger", "status", "confidence", "min_sample_size"],
        ),
        (
            "ExperimentPatch",
            &["trigger", "confidence", "min_sample_size", "promote_winner"],
        ),
        (
            "SettingsPatch",
            &[
                "offer_cooldown_days",
                "type_cooldown_days",
                "max_redemptions_per_user",
                "require_subscription_for_changes",
                "experiment_confidence",
                "experiment_min_sample_size",
            ],
        ),
    ];
    for (schema, fields) in optional {
        for field in *fields {
            if let Some(property) =
                doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}"))
            {
                let mut real = property.clone();
                let description = real
                    .as_object_mut()
                    .and_then(|real| real.remove("description"));
                let mut wrapped = serde_json::json!({"anyOf": [real, blank()]});
                let note = "A blank string counts as absent.";
                wrapped["description"] = match description.as_ref().and_then(Value::as_str) {
                    Some(text) => format!("{text} {note}").into(),
                    None => note.into(),
                };
                *property = wrapped;
            }
        }
    }
    // One of `user_email` / `stripe_customer_id`, not blank.
    for schema in ["DunningRequest", "SuccessSignalRequest"] {
        if let Some(object) = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(Value::as_object_mut)
        {
            object.insert(
                "anyOf".into(),
                serde_json::json!([
                    {"required": ["user_email"], "properties": {"user_email": {"type": "string", "format": "email", "maxLength": 254}}},
                    {"required": ["stripe_customer_id"], "properties": {"stripe_customer_id": {"type": "string", "pattern": text_pattern(255, false)}}},
                ]),
            );
        }
    }
    // Query parameters: blank counts as absent.
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for parameter in parameters {
                    if parameter.get("in").and_then(Value::as_str) != Some("query") {
                        continue;
                    }
                    let name = parameter["name"].as_str().unwrap_or("").to_owned();
                    let Some(schema) = parameter.get_mut("schema") else {
                        continue;
                    };
                    let mut real = schema.clone();
                    if let Some(kinds) = real.get_mut("type").and_then(Value::as_array_mut) {
                        kinds.retain(|kind| kind != "null");
                    }
                    if name == "from" || name == "to" {
                        real = serde_json::json!({"anyOf": [
                            {"type": "string", "format": "date"},
                            {"type": "string", "format": "date-time"},
                        ]});
                    } else if name == "target_id" {
                        real = serde_json::json!({"type": "string", "pattern": text_pattern(255, false)});
                    }
                    *schema = serde_json::json!({"anyOf": [real, blank()]});
                }
            }
        }
    }
}
