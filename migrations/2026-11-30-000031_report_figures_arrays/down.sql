-- Back to the function of `report_figures` (without the arrays), then drop them.
CREATE OR REPLACE FUNCTION report_figures_extract(r reports) RETURNS void
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
ALTER TABLE report_figures DROP COLUMN arrays;
