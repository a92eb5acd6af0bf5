DROP TABLE IF EXISTS due_date_extensions;
DROP FUNCTION IF EXISTS gr_due_instant(date);
