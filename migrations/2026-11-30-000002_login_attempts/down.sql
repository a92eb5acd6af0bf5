DROP INDEX IF EXISTS login_failures_attempt_idx;
ALTER TABLE login_failures DROP COLUMN IF EXISTS attempt;
