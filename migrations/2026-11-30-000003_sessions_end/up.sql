-- Access tokens issued before this instant are refused: a logout, a password change
-- or reset, a deactivation, a role or scope change (users) and a secret rotation or
-- revocation (service clients) end the principal's access tokens in every service
-- process within the principal cache's lifetime (seconds), not at their expiry.
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
ALTER TABLE service_clients ADD COLUMN tokens_valid_after timestamptz;
