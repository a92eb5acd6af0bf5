//! What the notification endpoints read and write.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// One notification to the caller.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct Notification {
    pub id: Uuid,
    /// `report.returned`, `report.accepted`, `report.reopened`,
    /// `report.entered_on_behalf`, `period.due_date_set`, `period.due_date_moved`,
    /// `period.due_date_extended`, `period.locked`, `period.unlocked` or `reminder`.
    pub kind: String,
    /// In Vietnamese, as in the e-mail's subject.
    pub title: String,
    /// In Vietnamese, as in the e-mail's body.
    pub body: String,
    /// The event's facts (codes, dates, reason), by kind.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub period_id: Option<Uuid>,
    pub unit_id: Option<Uuid>,
    pub report_id: Option<Uuid>,
    /// The API path of what it is about: the report, or else the period.
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the caller marked it read; `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
    /// The e-mail's state: `none` (no address, or e-mail switched off), `pending`,
    /// `sent` or `failed`.
    pub email_status: String,
}

/// A page of the caller's notifications, newest first, with the unread count.
#[derive(Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// How many match the filter.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// How many of the caller's notifications are unread (for the bell).
    pub unread: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// How many notifications were marked read.
#[derive(Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: i64,
    pub unread: i64,
}

/// The caller's notification settings.
#[derive(Serialize, ToSchema)]
pub struct NotificationSettings {
    /// Whether notifications are also sent by e-mail.
    pub email: bool,
    /// The address they go to (`null`: none, so no e-mail whatever `email` says).
    pub email_address: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNotificationSettings {
    /// `false` switches e-mail off for the caller; in-app notifications stay.
    pub email: bool,
}

/// When the missing units of a period are reminded: on each day of `offsets_days`
/// relative to the unit's due date (negative: before it), then every
/// `repeat_every_days` after it while the report is missing.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct ReminderSchedule {
    pub period_id: Uuid,
    pub offsets_days: Vec<i32>,
    pub repeat_every_days: Option<i32>,
    pub enabled: bool,
    /// Whether this is the default (no schedule of its own was set).
    pub is_default: bool,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl ReminderSchedule {
    pub const DEFAULT_OFFSETS: [i32; 3] = [-7, -1, 0];
    pub const DEFAULT_REPEAT: i32 = 3;

    pub fn default_for(period_id: Uuid) -> Self {
        ReminderSchedule {
            period_id,
            offsets_days: Self::DEFAULT_OFFSETS.to_vec(),
            repeat_every_days: Some(Self::DEFAULT_REPEAT),
            enabled: true,
            is_default: true,
            updated_by: None,
            updated_at: None,
        }
    }

    /// The step due on a day `days_after_due` after the due date (negative before):
    /// the latest scheduled day not after it, so a day the worker missed is made up
    /// once, not repeated. `None` before the first step.
    pub fn step_for(&self, days_after_due: i64) -> Option<i64> {
        let fixed = self
            .offsets_days
            .iter()
            .map(|d| i64::from(*d))
            .filter(|d| *d <= days_after_due)
            .max();
        let repeated = self
            .repeat_every_days
            .map(i64::from)
            .filter(|r| *r > 0 && days_after_due > 0)
            .map(|r| days_after_due - days_after_due % r)
            .filter(|d| *d > 0);
        fixed.max(repeated)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutReminderSchedule {
    /// Days relative to the due date, from -365 to 365; at most 20.
    #[serde(deserialize_with = "crate::extract::whole::vec_i32")]
    #[schema(schema_with = offsets_schema)]
    pub offsets_days: Vec<i32>,
    /// Every how many days after the due date while missing (1–365); `null`: no repeat.
    #[serde(default, deserialize_with = "crate::extract::whole::option_i32")]
    #[schema(minimum = 1, maximum = 365)]
    pub repeat_every_days: Option<i32>,
    /// `false` stops the scheduled reminders of the period (sending now still works).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `offsets_days` as the document states it: at most 20 days, each within a year of
/// the due date.
fn offsets_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(-365))
                .maximum(Some(365)),
        )
        .max_items(Some(20))
        .description(Some(
            "Days relative to the due date, from -365 to 365; at most 20.",
        ))
        .build()
}

/// "Remind the missing units now", with a message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemindNow {
    /// Added to the reminder (1–2000 characters).
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub message: String,
}

/// What a reminder sent now reached.
#[derive(Serialize, ToSchema)]
pub struct RemindResult {
    /// The codes of the units reminded (those whose report is missing).
    pub units: Vec<String>,
    /// How many notifications were written (one per reporter of those units).
    pub notifications: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_step_is_the_latest_scheduled_day() {
        let s = ReminderSchedule::default_for(Uuid::nil());
        assert_eq!(s.step_for(-8), None);
        assert_eq!(s.step_for(-7), Some(-7));
        assert_eq!(s.step_for(-3), Some(-7));
        assert_eq!(s.step_for(-1), Some(-1));
        assert_eq!(s.step_for(0), Some(0));
        assert_eq!(s.step_for(2), Some(0));
        assert_eq!(s.step_for(3), Some(3));
        assert_eq!(s.step_for(7), Some(6));
    }
}
