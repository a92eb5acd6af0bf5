-- Files attached to a unit's report: signed scans, minutes, decisions. The bytes live
-- in the object store under `storage_key` (never derived from the file name); this row
-- is written after them, in the transaction that acknowledges the upload, so a file
-- whose row never committed is an orphan the sweeper removes.
CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    report_id uuid NOT NULL REFERENCES reports (id),
    -- What inside the report the file belongs to: the report itself, or (later) one
    -- task progress entry of it, named by `subject_id`.
    subject text NOT NULL DEFAULT 'report' CHECK (subject IN ('report', 'task_progress')),
    subject_id uuid,
    kind text NOT NULL CHECK (kind IN ('signed_report', 'minutes', 'decision', 'other')),
    file_name text NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 255),
    content_type text NOT NULL,
    size_bytes bigint NOT NULL CHECK (size_bytes > 0),
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key text NOT NULL UNIQUE,
    -- The revision the file was frozen with when the report was submitted; NULL while
    -- the report is a draft (and the file may still be removed).
    revision integer,
    uploaded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((subject = 'report') = (subject_id IS NULL))
);

CREATE INDEX attachments_report ON attachments (report_id, created_at);

-- A file submitted with a revision is history: never removed, never changed.
CREATE FUNCTION attachments_keep_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.revision IS NOT NULL THEN
        RAISE EXCEPTION 'attachment % was submitted with revision % and is kept', OLD.id, OLD.revision
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER attachments_keep_frozen BEFORE UPDATE OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_keep_frozen();
