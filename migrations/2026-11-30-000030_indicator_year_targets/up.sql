-- Targets that hold for one year beside an indicator's own (`target`, `source`): the
-- national strategy's 60 % for 2025 and 75 % for 2030 beside the department's 100 %.
-- A small array of `{year, value, source}` objects, validated by the service, read
-- and written with its indicator and never queried on its own, so a column rather
-- than a table (and the compilation cache's fingerprint of `indicators` covers it).
ALTER TABLE indicators
    ADD COLUMN targets jsonb NOT NULL DEFAULT '[]'::jsonb
        CONSTRAINT indicators_targets_array CHECK (jsonb_typeof(targets) = 'array');
