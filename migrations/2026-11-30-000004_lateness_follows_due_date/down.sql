DROP FUNCTION IF EXISTS gr_due_instant(date);
