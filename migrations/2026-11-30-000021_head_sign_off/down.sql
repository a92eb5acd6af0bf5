DROP TABLE revision_approvals;
UPDATE reports SET status = 'draft' WHERE status = 'awaiting_approval';
ALTER TABLE reports DROP CONSTRAINT reports_status_check;
ALTER TABLE reports ADD CONSTRAINT reports_status_check
    CHECK (status IN ('draft', 'submitted', 'returned', 'accepted'));
ALTER TABLE users DROP COLUMN unit_head;
ALTER TABLE plans DROP COLUMN head_sign_off;
