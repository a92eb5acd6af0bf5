-- When a period's due date moves, every submitted report's `late` is decided again
-- against it, in the transaction that moves it (`reports.late` stays a column, so the
-- `late` filter and the compilation read it as they always did). The due moment of a
-- date is the end of that day in Vietnam (UTC+7, no daylight saving).
CREATE FUNCTION gr_due_instant(d date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT ((d + 1)::timestamp - interval '7 hours') AT TIME ZONE 'UTC' $$;

-- A unit's own extension of a period's due date, granted by the coordinating office
-- with a reason; lateness of that unit's report is decided against it.
CREATE TABLE due_date_extensions (
    period_id  uuid NOT NULL REFERENCES periods (id),
    unit_id    uuid NOT NULL REFERENCES org_units (id),
    due_date   date NOT NULL,
    reason     text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period_id, unit_id)
);
