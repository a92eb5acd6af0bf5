-- Failed logins and token requests, shared by every service process so that the
-- throttle holds however many processes stand behind the load balancer. `key` is
-- `u:<hex SHA-256 of the lower-cased username or client id>` (what was typed into the
-- username field, sometimes a password, is never kept in clear) or
-- `a:<client address>`. Rows older than a day are purged by the hourly upkeep.
CREATE TABLE login_failures (
    key text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_failures_key_idx ON login_failures (key, failed_at);
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);
