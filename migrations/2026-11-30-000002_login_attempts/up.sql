-- A login attempt is counted before its password is checked (and uncounted when it
-- succeeds), so concurrent guesses cannot all slip under the limit: `attempt` names
-- the rows one attempt wrote. Keys gain a third kind, `p:<username digest>@<address>`:
-- a username is throttled only from the addresses that failed, so no one can lock a
-- colleague out from elsewhere.
ALTER TABLE login_failures ADD COLUMN attempt uuid;
CREATE INDEX login_failures_attempt_idx ON login_failures (attempt);
