-- A plan's mapping of form fields to the data element codes of a national system,
-- for the ADX export: the data set's code, and per numeric field its data element
-- and any disaggregation attributes (sex, age group) that system expects. One row
-- per plan, replaced whole by PUT /plans/{plan_id}/data-element-codes.
CREATE TABLE data_element_codes (
    plan_id    uuid PRIMARY KEY REFERENCES plans (id),
    data_set   text NOT NULL,
    -- [{"field": "staff_female", "data_element": "GE_STAFF", "attributes": {"SEX": "F"}}, ...]
    codes      jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(codes) = 'array'),
    version    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);
