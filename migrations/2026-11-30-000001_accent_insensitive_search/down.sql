DROP INDEX IF EXISTS users_display_name_folded;
DROP INDEX IF EXISTS org_units_name_folded;
DROP FUNCTION IF EXISTS gr_fold(text);
