-- The figures of each report, extracted once when the report is written rather than
-- every time a compilation reads it: a compilation sums short arrays instead of
-- unpacking thousands of JSON documents.
--
-- A report's `values` object becomes three arrays in the order of its sorted keys,
-- those not null (its layout): the numbers (NULL where the answer is not a number), the
-- texts (NULL where it is not a string) and the yes/no answers (NULL where it is not a
-- boolean). Layouts are shared: reports with the same keys — in
-- practice, those made with the same form version — point at one row. The rows depend
-- on the document alone, not on the form that reads them, so a new form version needs
-- no rebuild: a compilation looks up each layout's position of the codes it wants.
-- The lists (activities) are kept as they are: small beside the document.

CREATE TABLE report_value_layouts (
    id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- md5 of `codes::text`: a unique btree on the array itself would refuse forms
    -- whose codes add up to more than a btree entry holds.
    digest  text NOT NULL UNIQUE,
    codes   text[] NOT NULL
);

CREATE TABLE report_figures (
    report_id  uuid PRIMARY KEY REFERENCES reports (id),
    period_id  uuid NOT NULL,
    unit_id    uuid NOT NULL,
    -- The form version the report was made with (for reading; the arrays follow
    -- `layout_id`).
    form_id    uuid NOT NULL,
    -- The report's status, kept in step so that a compilation never reads `reports`.
    status     text NOT NULL,
    layout_id  integer NOT NULL REFERENCES report_value_layouts (id),
    nums       numeric[] NOT NULL,
    texts      text[] NOT NULL,
    -- The yes/no answers (NULL where the answer is not a boolean).
    bools      boolean[] NOT NULL,
    lists      jsonb NOT NULL
);
CREATE INDEX report_figures_period_idx ON report_figures (period_id, status);

-- The layout of a sorted key list, created on first use. Two writers with a new
-- layout at once: the second's insert waits for the first to commit, does nothing,
-- and the second look-up (a new statement, a new snapshot) finds the row.
CREATE FUNCTION report_value_layout(ks text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d text := md5(ks::text);
    lid integer;
BEGIN
    SELECT id INTO lid FROM report_value_layouts WHERE digest = d;
    IF lid IS NULL THEN
        INSERT INTO report_value_layouts (digest, codes) VALUES (d, ks)
            ON CONFLICT (digest) DO NOTHING RETURNING id INTO lid;
        IF lid IS NULL THEN
            SELECT id INTO lid FROM report_value_layouts WHERE digest = d;
        END IF;
    END IF;
    RETURN lid;
END;
$$;

-- Rebuilds one report's figures from its row. Numbers go through the same
-- `jsonb::numeric` cast the document queries used, so sums are digit for digit the same.
CREATE FUNCTION report_figures_extract(r reports) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    ks text[];
    ns numeric[];
    ts text[];
    bs boolean[];
BEGIN
    SELECT coalesce(array_agg(e.k ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'number' THEN e.v::numeric END
                              ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'string' THEN e.v #>> '{}' END
                              ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'boolean' THEN e.v::boolean END
                              ORDER BY e.k), '{}')
      INTO ks, ns, ts, bs
      FROM jsonb_each(CASE WHEN jsonb_typeof(r.data->'values') = 'object'
                           THEN r.data->'values' ELSE '{}'::jsonb END) AS e(k, v)
     -- A JSON null is no answer, as a missing key is (`jsonb_to_record` read both as
     -- SQL NULL): neither is in the layout.
     WHERE jsonb_typeof(e.v) <> 'null';
    INSERT INTO report_figures
        (report_id, period_id, unit_id, form_id, status, layout_id, nums, texts, bools, lists)
    VALUES (r.id, r.period_id, r.unit_id, r.form_id, r.status, report_value_layout(ks), ns, ts, bs,
            CASE WHEN jsonb_typeof(r.data->'lists') = 'object'
                 THEN r.data->'lists' ELSE '{}'::jsonb END)
    ON CONFLICT (report_id) DO UPDATE SET
        period_id = EXCLUDED.period_id, unit_id = EXCLUDED.unit_id,
        form_id = EXCLUDED.form_id, status = EXCLUDED.status,
        layout_id = EXCLUDED.layout_id, nums = EXCLUDED.nums, texts = EXCLUDED.texts,
        bools = EXCLUDED.bools,
        lists = EXCLUDED.lists;
END;
$$;

-- Every writer of `reports` (the service, the batch and workbook imports, SQL
-- fixtures) keeps the figures in the same transaction: a statement that sets the
-- data, form, period or unit re-extracts; one that sets only the status (submit,
-- accept, return, reopen) copies it over.
CREATE FUNCTION report_figures_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR NEW.data IS DISTINCT FROM OLD.data
       OR NEW.form_id IS DISTINCT FROM OLD.form_id
       OR NEW.period_id IS DISTINCT FROM OLD.period_id
       OR NEW.unit_id IS DISTINCT FROM OLD.unit_id THEN
        PERFORM report_figures_extract(NEW);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE report_figures SET status = NEW.status WHERE report_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_figures_keep
    AFTER INSERT OR UPDATE ON reports
    FOR EACH ROW EXECUTE FUNCTION report_figures_keep();

-- The reports written before this migration.
SELECT report_figures_extract(r) FROM reports r;
