-- The multi-choice answers of a report (JSON arrays) beside its numbers, texts and
-- yes/no answers, so that an indicator can count the reports whose answer holds an
-- option (`count(areas has "law") / count()`) without reading the documents. Few
-- fields are multi-choice, so an object of code → array rather than an array by
-- layout position: arrays of arrays must be rectangular in PostgreSQL.

ALTER TABLE report_figures ADD COLUMN arrays jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE OR REPLACE FUNCTION report_figures_extract(r reports) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    vals jsonb := CASE WHEN jsonb_typeof(r.data->'values') = 'object'
                       THEN r.data->'values' ELSE '{}'::jsonb END;
    ks text[];
    ns numeric[];
    ts text[];
    bs boolean[];
    arr jsonb;
BEGIN
    SELECT coalesce(array_agg(e.k ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'number' THEN e.v::numeric END
                              ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'string' THEN e.v #>> '{}' END
                              ORDER BY e.k), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(e.v) = 'boolean' THEN e.v::boolean END
                              ORDER BY e.k), '{}'),
           coalesce(jsonb_object_agg(e.k, e.v) FILTER (WHERE jsonb_typeof(e.v) = 'array'),
                    '{}'::jsonb)
      INTO ks, ns, ts, bs, arr
      FROM jsonb_each(vals) AS e(k, v)
     -- A JSON null is no answer, as a missing key is: neither is in the layout.
     WHERE jsonb_typeof(e.v) <> 'null';
    INSERT INTO report_figures
        (report_id, period_id, unit_id, form_id, status, layout_id, nums, texts, bools, arrays, lists)
    VALUES (r.id, r.period_id, r.unit_id, r.form_id, r.status, report_value_layout(ks), ns, ts, bs,
            arr,
            CASE WHEN jsonb_typeof(r.data->'lists') = 'object'
                 THEN r.data->'lists' ELSE '{}'::jsonb END)
    ON CONFLICT (report_id) DO UPDATE SET
        period_id = EXCLUDED.period_id, unit_id = EXCLUDED.unit_id,
        form_id = EXCLUDED.form_id, status = EXCLUDED.status,
        layout_id = EXCLUDED.layout_id, nums = EXCLUDED.nums, texts = EXCLUDED.texts,
        bools = EXCLUDED.bools, arrays = EXCLUDED.arrays,
        lists = EXCLUDED.lists;
END;
$$;

-- The reports written before this migration.
SELECT report_figures_extract(r) FROM reports r;
