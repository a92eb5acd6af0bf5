-- The unit head's sign-off (issue 15): a plan can require that a unit's report reach
-- the coordinating office only once the unit's head has approved it. A reporter's
-- submission then waits in `awaiting_approval`; the head's approval makes it
-- `submitted`.
ALTER TABLE plans ADD COLUMN head_sign_off boolean NOT NULL DEFAULT false;

-- A user who may approve the reports of their own unit.
ALTER TABLE users ADD COLUMN unit_head boolean NOT NULL DEFAULT false;

ALTER TABLE reports DROP CONSTRAINT reports_status_check;
ALTER TABLE reports ADD CONSTRAINT reports_status_check
    CHECK (status IN ('draft', 'awaiting_approval', 'submitted', 'returned', 'accepted'));

-- The approval of a revision, beside it: revisions are frozen when submitted and never
-- change, and so is an approval once given. `late` is judged at the approval, when the
-- report reaches the coordinating office.
CREATE TABLE revision_approvals (
    report_id   uuid NOT NULL,
    number      integer NOT NULL,
    approved_at timestamptz NOT NULL,
    approved_by text NOT NULL,
    late        boolean NOT NULL,
    PRIMARY KEY (report_id, number),
    FOREIGN KEY (report_id, number) REFERENCES report_revisions (report_id, number)
);
CREATE TRIGGER revision_approvals_no_update_or_delete
    BEFORE UPDATE OR DELETE OR TRUNCATE ON revision_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION report_revisions_immutable();
