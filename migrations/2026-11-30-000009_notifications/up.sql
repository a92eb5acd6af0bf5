-- Notifications in the app and by e-mail, reminders on a schedule per period, and
-- reports entered by a coordinator on a unit's behalf.

-- A user can switch e-mail off for themselves (in-app notifications stay).
ALTER TABLE users ADD COLUMN email_notifications boolean NOT NULL DEFAULT true;

-- One notification to one user, written in the transaction of its event.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id),
    kind        text NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    period_id   uuid REFERENCES periods (id),
    unit_id     uuid REFERENCES org_units (id),
    report_id   uuid REFERENCES reports (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

-- The e-mail outbox: one row per notification that goes out by e-mail (the user has
-- an address and did not switch e-mail off), written with it. The worker claims due
-- rows with `FOR UPDATE SKIP LOCKED` and a lease, so no two processes send one at the
-- same time, and retries with backoff until the schedule runs out (`failed`).
CREATE TABLE notification_emails (
    notification_id  uuid PRIMARY KEY REFERENCES notifications (id),
    email_to         text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    claim_token      uuid,
    last_error       text,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_emails_due_idx ON notification_emails (next_attempt_at)
    WHERE status = 'pending';

-- A period's reminder schedule: days relative to the due date (negative before it),
-- then every `repeat_every_days` after it while a unit's report is missing. A period
-- without a row follows the default: -7, -1, 0, then every 3 days.
CREATE TABLE reminder_schedules (
    period_id          uuid PRIMARY KEY REFERENCES periods (id),
    offsets_days       integer[] NOT NULL,
    repeat_every_days  integer CHECK (repeat_every_days BETWEEN 1 AND 365),
    enabled            boolean NOT NULL DEFAULT true,
    updated_by         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Every reminder sent to a unit: the key makes one step go out once, whatever the
-- number of processes.
CREATE TABLE reminders_sent (
    period_id  uuid NOT NULL REFERENCES periods (id),
    unit_id    uuid NOT NULL REFERENCES org_units (id),
    step       text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    sent_by    text NOT NULL,
    message    text,
    PRIMARY KEY (period_id, unit_id, step)
);

-- A revision entered by a coordinator on the unit's behalf (a paper or e-mailed
-- report): who entered it, and the note they had to give.
ALTER TABLE report_revisions ADD COLUMN entered_by text, ADD COLUMN entry_note text;
