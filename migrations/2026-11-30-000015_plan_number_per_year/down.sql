DROP INDEX plans_number_key;
CREATE UNIQUE INDEX plans_number_key ON plans (issuing_unit_id, document_number);
