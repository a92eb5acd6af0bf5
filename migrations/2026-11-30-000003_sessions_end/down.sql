ALTER TABLE service_clients DROP COLUMN IF EXISTS tokens_valid_after;
ALTER TABLE users DROP COLUMN IF EXISTS tokens_valid_after;
