-- A plan's number (số ký hiệu) restarts every year: the department's 2025 plan may be
-- "12/KH-SVHTT" as its 2024 plan was. Unique per issuing unit and year, so next
-- year's plan can be a copy of this year's under the same number.
DROP INDEX plans_number_key;
CREATE UNIQUE INDEX plans_number_key ON plans (issuing_unit_id, year, document_number);
