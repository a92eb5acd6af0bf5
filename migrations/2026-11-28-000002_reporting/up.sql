-- The reporting regime: plans with their versioned forms, indicators and periods;
-- unit reports with immutable revisions; idempotency keys for safe retries.

CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    year             integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    document_number  text NOT NULL CHECK (length(document_number) BETWEEN 1 AND 100),
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 1000),
    issue_date       date,
    legal_basis      text NOT NULL DEFAULT '',
    issuing_unit_id  uuid NOT NULL REFERENCES org_units (id),
    status           text NOT NULL CHECK (status IN ('draft', 'active', 'closed')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX plans_number_key ON plans (issuing_unit_id, document_number);
CREATE INDEX plans_year_idx ON plans (year);

-- Every save of a form is a new version; reports point at the version they were made with.
CREATE TABLE forms (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    version     integer NOT NULL CHECK (version >= 1),
    definition  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    UNIQUE (plan_id, version)
);

CREATE TABLE indicators (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id),
    code        text NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    formula     text NOT NULL,
    -- A fraction: 1.0 is 100 %.
    target      double precision NOT NULL CHECK (target >= 0 AND target <= 1),
    direction   text NOT NULL CHECK (direction IN ('at_least', 'at_most')),
    source      text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1,
    UNIQUE (plan_id, code)
);

CREATE TABLE periods (
    id            uuid PRIMARY KEY,
    plan_id       uuid NOT NULL REFERENCES plans (id),
    kind          text NOT NULL CHECK (kind IN ('semi_annual', 'annual', 'ad_hoc')),
    code          text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name          text NOT NULL DEFAULT '',
    window_start  date NOT NULL,
    window_end    date NOT NULL,
    due_date      date NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'locked')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1,
    UNIQUE (plan_id, code),
    CHECK (window_start <= window_end),
    CHECK (due_date >= window_start)
);
CREATE INDEX periods_code_idx ON periods (code);

CREATE TABLE reports (
    id              uuid PRIMARY KEY,
    period_id       uuid NOT NULL REFERENCES periods (id),
    unit_id         uuid NOT NULL REFERENCES org_units (id),
    form_id         uuid NOT NULL REFERENCES forms (id),
    status          text NOT NULL CHECK (status IN ('draft', 'submitted', 'returned', 'accepted')),
    data            jsonb NOT NULL,
    -- Bumped by every write; the ETag is derived from it.
    version         integer NOT NULL DEFAULT 1,
    revision        integer,
    submitted_at    timestamptz,
    submitted_by    text,
    late            boolean,
    reviewed_at     timestamptz,
    reviewed_by     text,
    review_comment  text,
    -- Who wrote what is in the audit log; the row keeps only the times.
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (period_id, unit_id)
);
CREATE INDEX reports_period_status_idx ON reports (period_id, status);
CREATE INDEX reports_unit_idx ON reports (unit_id);

-- Every submission freezes one revision; nothing may change or delete it.
CREATE TABLE report_revisions (
    report_id     uuid NOT NULL REFERENCES reports (id),
    number        integer NOT NULL CHECK (number >= 1),
    form_id       uuid NOT NULL REFERENCES forms (id),
    data          jsonb NOT NULL,
    warnings      jsonb NOT NULL DEFAULT '[]'::jsonb,
    submitted_at  timestamptz NOT NULL,
    submitted_by  text NOT NULL,
    late          boolean NOT NULL,
    PRIMARY KEY (report_id, number)
);

CREATE FUNCTION report_revisions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'report revisions are immutable';
END;
$$;
CREATE TRIGGER report_revisions_no_update_or_delete
    BEFORE UPDATE OR DELETE OR TRUNCATE ON report_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION report_revisions_immutable();

-- Reports are never hard-deleted either.
CREATE FUNCTION reports_no_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'reports are never deleted';
END;
$$;
CREATE TRIGGER reports_no_delete
    BEFORE DELETE OR TRUNCATE ON reports
    FOR EACH STATEMENT EXECUTE FUNCTION reports_no_delete();

-- Idempotency-Key records: the first response to a key is replayed to its retries.
CREATE TABLE idempotency_keys (
    principal_id      uuid NOT NULL,
    key               text NOT NULL,
    request_hash      bytea NOT NULL,
    state             text NOT NULL CHECK (state IN ('in_flight', 'done')),
    response_status   integer,
    response_type     text,
    response_headers  jsonb,
    response_body     bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
