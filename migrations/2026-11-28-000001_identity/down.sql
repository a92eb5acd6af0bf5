DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
DROP TABLE refresh_tokens;
DROP TABLE service_clients;
DROP TABLE users;
DROP TABLE org_units;
