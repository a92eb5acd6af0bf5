-- The tasks (nhiệm vụ) of a plan, as data: what section III of a plan assigns, to
-- which lead unit, with which cooperating units, by when (a due date, or the periods
-- the task spans), and what it should produce. Progress is not kept here: each unit
-- reports it inside its report for the period (`reports.data -> 'tasks'`), so that it
-- is drafted, submitted, frozen in revisions and reviewed with the report.
CREATE TABLE plan_tasks (
    id                   uuid PRIMARY KEY,
    plan_id              uuid NOT NULL REFERENCES plans (id),
    code                 text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
    title_vi             text NOT NULL CHECK (length(btrim(title_vi)) BETWEEN 1 AND 500),
    description_vi       text NOT NULL DEFAULT '' CHECK (length(description_vi) <= 4000),
    plan_section         text NOT NULL DEFAULT '' CHECK (length(plan_section) <= 200),
    lead_unit_id         uuid NOT NULL REFERENCES org_units (id),
    cooperating_unit_ids uuid[] NOT NULL DEFAULT '{}',
    due_date             date,
    period_ids           uuid[] NOT NULL DEFAULT '{}',
    expected_output      text NOT NULL DEFAULT '' CHECK (length(expected_output) <= 2000),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              int4 NOT NULL DEFAULT 1,
    UNIQUE (plan_id, code)
);

-- A unit's own tasks (as lead) are looked up when its report is checked.
CREATE INDEX plan_tasks_lead_unit ON plan_tasks (lead_unit_id);
