-- Signed webhooks (Standard Webhooks) through an outbox. A change that causes an event
-- writes the event and one delivery per matching endpoint in its own transaction; a
-- delivery worker inside the service sends them, claiming due deliveries with
-- `FOR UPDATE SKIP LOCKED` and a lease, so no two processes send one at the same time.

-- A subscriber's endpoint: which events of which subtree go to which URL.
CREATE TABLE webhook_endpoints (
    id                       uuid PRIMARY KEY,
    url                      text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description              text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- `whsec_` + base64 of 32 random bytes: kept as it is, since signing needs it.
    secret                   text NOT NULL,
    -- The secret before the last rotation, still signed with until it expires, so a
    -- receiver can switch over without losing messages.
    previous_secret          text,
    previous_secret_until    timestamptz,
    event_types              text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    -- The root of the subtree whose events the endpoint receives.
    unit_id                  uuid NOT NULL REFERENCES org_units (id),
    created_by               text NOT NULL,
    enabled                  boolean NOT NULL DEFAULT true,
    disabled_at              timestamptz,
    disabled_reason          text,
    -- Deliveries that ran out of retries since the last success; too many disable it.
    consecutive_failures     integer NOT NULL DEFAULT 0,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    -- Deleted endpoints are kept (their delivery log is history) but serve no more.
    deleted_at               timestamptz
);
CREATE INDEX webhook_endpoints_unit_idx ON webhook_endpoints (unit_id) WHERE deleted_at IS NULL;

-- The outbox: one row per event that at least one endpoint wanted, never changed.
CREATE TABLE webhook_events (
    id            uuid PRIMARY KEY,
    type          text NOT NULL,
    -- The unit the event is about (a report's unit, a plan's issuing unit).
    unit_id       uuid REFERENCES org_units (id),
    -- Deliveries of one endpoint with the same key go out in the order they were made.
    ordering_key  text,
    -- The body as sent: {"type", "timestamp", "data"}.
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION webhook_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never changed or deleted', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER webhook_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON webhook_events
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_history_append_only();

-- One event to one endpoint, and where its sending stands.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    -- Creation order, for the order per report.
    seq              bigserial NOT NULL UNIQUE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id         uuid NOT NULL REFERENCES webhook_events (id),
    ordering_key     text,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    -- Every attempt ever made, and those of the current round of retries (a manual
    -- redelivery starts a new round with the full schedule).
    attempts         integer NOT NULL DEFAULT 0,
    round_attempts   integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- What the next attempt is: `scheduled`, or `manual` after a redelivery request.
    next_cause       text NOT NULL DEFAULT 'scheduled' CHECK (next_cause IN ('scheduled', 'manual')),
    -- A claim by one worker: nobody else sends it before `locked_until`; the token
    -- lets only that worker record the outcome.
    locked_until     timestamptz,
    claim_token      uuid,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (endpoint_id, ordering_key, seq)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, seq);

-- The delivery log: every attempt, as it went.
CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
    started_at   timestamptz NOT NULL,
    latency_ms   integer NOT NULL,
    status_code  integer,
    error        text,
    -- What started it: the schedule, or someone's manual redelivery.
    cause        text NOT NULL CHECK (cause IN ('scheduled', 'manual'))
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE TRIGGER webhook_attempts_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON webhook_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_history_append_only();
