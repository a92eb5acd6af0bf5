-- When a period's due date moves, every submitted report's `late` is decided again
-- against it, in the transaction that moves it (`reports.late` stays a column, so the
-- `late` filter and the compilation read it as they always did). The due moment of a
-- date is the end of that day in Vietnam (UTC+7, no daylight saving).
CREATE FUNCTION gr_due_instant(d date) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT ((d + 1)::timestamp - interval '7 hours') AT TIME ZONE 'UTC' $$;
