//! Request and response types of `/api/v1/webhooks`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::EventType;

/// An endpoint a city system receives events at.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    pub description: String,
    /// The events it receives.
    pub event_types: Vec<EventType>,
    /// The root of the subtree whose events it receives.
    pub unit_id: Uuid,
    pub unit_code: String,
    /// Disabled endpoints receive nothing; events meanwhile are not kept for them.
    pub enabled: bool,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why it was disabled: by whom, or after how many failed deliveries.
    pub disabled_reason: Option<String>,
    /// Deliveries in a row that ran out of retries (reset by a success).
    pub consecutive_failures: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its signing secret: returned once, at creation and at rotation.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_` + base64: the key of the signatures (Standard Webhooks). Shown only
    /// now; store it safely.
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookEndpoint {
    /// An `https://` URL (`http://` outside production). Loopback, private and
    /// link-local targets are refused unless the service allows them.
    #[schema(min_length = 1, max_length = 2000, format = "uri")]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// At least one; `webhook.test` is not subscribed to.
    #[schema(min_items = 1)]
    pub event_types: Vec<EventType>,
    /// The subtree's root, by id or code, inside the caller's scope; the caller's own
    /// unit when left out.
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    #[schema(min_length = 1, max_length = 2000, format = "uri")]
    pub url: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<EventType>>,
    /// `true` re-enables a disabled endpoint (its failure count starts again from
    /// zero); `false` disables it.
    pub enabled: Option<bool>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    pub enabled: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Where a delivery stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for an earlier event of the same report).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every retry failed; redeliver it by hand.
    Failed,
    /// The endpoint was deleted before it succeeded.
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            "cancelled" => DeliveryStatus::Cancelled,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One attempt to deliver, as the delivery log keeps it.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct DeliveryAttempt {
    pub started_at: DateTime<Utc>,
    /// From sending the request to the end of the answer (or the failure).
    pub latency_ms: i32,
    /// The endpoint's HTTP status; null when there was no answer.
    pub status_code: Option<i32>,
    /// Why it failed, when it did: a non-2xx status, a timeout, a refused connection.
    pub error: Option<String>,
    /// `scheduled` (the retry schedule) or `manual` (a redelivery).
    pub cause: String,
}

/// One event to one endpoint.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct WebhookDelivery {
    pub id: Uuid,
    /// The `webhook-id` header: the same for every attempt, so receivers can drop
    /// duplicates.
    pub message_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The body as sent: `type`, `timestamp` and `data`.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}
