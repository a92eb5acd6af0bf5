ALTER TABLE report_revisions DROP COLUMN entered_by, DROP COLUMN entry_note;
DROP TABLE reminders_sent;
DROP TABLE reminder_schedules;
DROP TABLE notification_emails;
DROP TABLE notifications;
ALTER TABLE users DROP COLUMN email_notifications;
