-- Search by name ignores Vietnamese diacritics and case: `thu vien` finds "Thư viện".
-- unaccent() is only STABLE (its dictionary could change), so an index needs an
-- IMMUTABLE wrapper that names the dictionary explicitly; both extensions are trusted
-- and ship with PostgreSQL's contrib.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE FUNCTION gr_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

-- Substring search (`LIKE '%…%'`) over the folded text uses trigram indexes.
CREATE INDEX org_units_name_folded ON org_units USING gin (gr_fold(name) gin_trgm_ops);
CREATE INDEX users_display_name_folded ON users USING gin (gr_fold(display_name) gin_trgm_ops);
