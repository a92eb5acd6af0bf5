ALTER TABLE indicators DROP COLUMN targets;
