DROP TRIGGER due_date_extensions_writes_exclusive ON due_date_extensions;
DROP TRIGGER periods_writes_exclusive ON periods;
DROP FUNCTION period_writes_exclusive_trigger();
DROP FUNCTION period_writes_exclusive(uuid);
DROP FUNCTION report_write_gate(uuid, uuid);
