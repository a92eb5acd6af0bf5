//! The notification worker: scheduled reminders and the e-mail outbox. Both read the
//! time they are given, so tests move the clock instead of waiting.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::mail::{self, Mailer};
use super::{Note, store};
use crate::AppState;
use crate::config::NotifySettings;
use crate::db::Pool;
use crate::error::{ApiError, ApiResult};

const BATCH: i64 = 20;
const LEASE: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs the worker in this process unless it is switched off. E-mail is sent only
/// when an SMTP host is set; reminders are written either way.
pub fn spawn(state: actix_web::web::Data<AppState>) {
    let settings = state.settings.notify.clone();
    if !settings.worker {
        tracing::info!("notification worker off in this process");
        return;
    }
    let mailer = match settings.smtp.as_ref().map(mail::mailer).transpose() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "SMTP settings unusable: e-mail stays off");
            None
        }
    };
    if mailer.is_none() {
        tracing::info!("e-mail notifications off (set GEREPORT_SMTP_HOST to turn them on)");
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(settings.poll);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now = Utc::now();
            if let Err(e) = remind_due(&state.pool, now).await {
                tracing::warn!(error = %e, "sending reminders failed");
            }
            if let Some(m) = &mailer
                && let Err(e) = send_due_emails(&state.pool, m, &settings, now).await
            {
                tracing::warn!(error = %e, "sending e-mails failed");
            }
        }
    });
}

/// The calendar day in Việt Nam (UTC+7) at `now`: due dates are Vietnamese days.
pub fn local_day(now: DateTime<Utc>) -> NaiveDate {
    (now + chrono::Duration::hours(7)).date_naive()
}

/// Writes the scheduled reminders due at `now` to the reporters of every unit whose
/// report is missing; each (period, unit, step) once, however many processes run it.
/// Returns how many units were reminded.
pub async fn remind_due(pool: &Pool, now: DateTime<Utc>) -> ApiResult<usize> {
    let today = local_day(now);
    let mut conn = crate::db::conn(pool).await?;
    let periods = store::open_periods(&mut conn, today).await?;
    let mut reminded = 0;
    for p in periods {
        let schedule = store::schedule(&mut conn, p.id).await?;
        if !schedule.enabled {
            continue;
        }
        let units = store::expected_units(&mut conn, p.id).await?;
        for u in units.into_iter().filter(|u| u.missing) {
            let after = (today - u.due_date).num_days();
            let Some(step) = schedule.step_for(after) else {
                continue;
            };
            let key = format!("d{step:+}");
            let note = super::reminder_note(
                p.id,
                &p.code,
                &p.name,
                &u.unit_code,
                u.due_date,
                -after,
                None,
            );
            if remind(
                &mut conn,
                p.id,
                u.unit_id,
                &key,
                "reminder schedule",
                None,
                now,
                &note,
            )
            .await?
            {
                reminded += 1;
            }
        }
    }
    Ok(reminded)
}

/// One reminder to one unit, in one transaction: the step's record and the
/// notifications go together; `false` when the step had already been sent.
#[allow(clippy::too_many_arguments)]
pub async fn remind(
    conn: &mut AsyncPgConnection,
    period_id: Uuid,
    unit_id: Uuid,
    step: &str,
    by: &str,
    message: Option<&str>,
    now: DateTime<Utc>,
    note: &Note,
) -> ApiResult<bool> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        if !store::claim_step(conn, period_id, unit_id, step, by, message, now).await? {
            return Ok(false);
        }
        store::to_reporters(conn, &[unit_id], note).await?;
        Ok(true)
    })
    .await
}

/// Claims the e-mails due at `now`, sends them and records each attempt: sent, due
/// again after the next wait of the retry schedule, or failed when it ran out.
/// Returns how many were claimed.
pub async fn send_due_emails(
    pool: &Pool,
    mailer: &Mailer,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let Some(smtp) = &settings.smtp else {
        return Ok(0);
    };
    let token = Uuid::new_v4();
    let claimed = {
        let mut conn = crate::db::conn(pool).await?;
        store::claim_emails(&mut conn, now, BATCH, LEASE, token).await?
    };
    let n = claimed.len();
    for c in claimed {
        let outcome = match mail::message(&smtp.from, &c.email_to, &c.title, &c.body) {
            Ok(m) => mail::send(mailer, m).await.err().map(|e| (e, true)),
            // A message that cannot be made will not be made on a retry either.
            Err(e) => Some((e, false)),
        };
        let retry_at = match &outcome {
            Some((_, true)) => {
                crate::config::next_retry(&settings.retry_schedule, c.email_attempts, now)
            }
            _ => None,
        };
        let error = outcome.map(|(e, _)| e);
        if let Some(e) = &error {
            tracing::warn!(notification = %c.id, error = %e, retry = retry_at.is_some(), "e-mail not sent");
        }
        let mut conn = crate::db::conn(pool).await?;
        store::record_email(&mut conn, c.id, token, error.as_deref(), retry_at, now).await?;
    }
    Ok(n)
}
