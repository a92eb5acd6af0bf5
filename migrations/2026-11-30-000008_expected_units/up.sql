-- The units expected to report for a period, as data the coordinating office sees and
-- edits. A row is one span of membership: added (by default when the period was
-- created, by a coordinator with a reason, or because the unit was created in the
-- plan's tree while the period was open) and perhaps removed later, with a reason.
-- Rows are never deleted: the history of the set stays readable.
CREATE TABLE period_expected_units (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    period_id      uuid NOT NULL REFERENCES periods (id),
    unit_id        uuid NOT NULL REFERENCES org_units (id),
    origin         text NOT NULL CHECK (origin IN ('default', 'added', 'new_unit')),
    reason         text CHECK (reason IS NULL OR length(btrim(reason)) BETWEEN 1 AND 2000),
    added_by       text,
    added_at       timestamptz NOT NULL DEFAULT now(),
    removed_at     timestamptz,
    removed_by     text,
    removal_reason text CHECK (removal_reason IS NULL OR length(btrim(removal_reason)) BETWEEN 1 AND 2000),
    CHECK (origin <> 'added' OR (reason IS NOT NULL AND added_by IS NOT NULL)),
    CHECK ((removed_at IS NULL) = (removal_reason IS NULL))
);

-- At most one current membership per unit and period; the compilation looks it up.
CREATE UNIQUE INDEX period_expected_units_current
    ON period_expected_units (period_id, unit_id) WHERE removed_at IS NULL;

-- Existing periods: the set completeness counted until now (the active units of the
-- plan's tree, its issuing unit aside), so no figure changes.
INSERT INTO period_expected_units (period_id, unit_id, origin)
SELECT p.id, u.id, 'default'
FROM periods p
JOIN plans pl ON pl.id = p.plan_id
JOIN org_units i ON i.id = pl.issuing_unit_id
JOIN org_units u ON u.path LIKE i.path || '%' AND u.id <> i.id AND u.active;

-- The compilation's fingerprint reads every row of a period, removed ones too.
CREATE INDEX period_expected_units_period ON period_expected_units (period_id);
