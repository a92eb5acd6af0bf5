-- Report writes and the changes of a period they must not race, serialised on a
-- transaction-level advisory lock per period instead of the period's row: every
-- writer of a period share-locking the one `periods` row made each lock a MultiXact
-- that the next writer had to extend, and a period lock/unlock wait on all of them
-- through it. A report write holds the lock shared; a lock, unlock, edit or due date
-- extension of the period holds it exclusively, so either waits for the other to
-- commit, as before.
--
-- The key: class 'perd' (0x70657264) and a hash of the period id; two periods whose
-- hashes collide only wait for each other a little more often.

-- What a report write checks, in one round trip: the period as it stands once the
-- shared lock is held (a function's statement takes its own snapshot, after the
-- lock; a statement that took the lock in its own select list would read from a
-- snapshot taken before it), whether the unit is active (its row held FOR SHARE, so a
-- deactivation waits for the write), and the unit's due date (its extension, else
-- the period's).
CREATE FUNCTION report_write_gate(p_period uuid, p_unit uuid)
RETURNS TABLE (period periods, active boolean, unit_due_date date)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(1885696612, hashtext(p_period::text));
    RETURN QUERY
        SELECT p, u.active, coalesce(e.due_date, p.due_date)
          FROM periods p
          JOIN org_units u ON u.id = p_unit
          LEFT JOIN due_date_extensions e ON e.period_id = p.id AND e.unit_id = p_unit
         WHERE p.id = p_period
           FOR SHARE OF u;
END;
$$;

-- The exclusive side, taken before a period change reads the period.
CREATE FUNCTION period_writes_exclusive(p_period uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(1885696612, hashtext(p_period::text));
$$;

-- Whoever changes a period row or a due date extension — the service, or SQL run by
-- hand — holds the lock exclusively from that statement on, so the guarantee does not
-- rest on every writer remembering to take it.
CREATE FUNCTION period_writes_exclusive_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'periods' THEN
        PERFORM period_writes_exclusive(NEW.id);
    ELSE
        PERFORM period_writes_exclusive(NEW.period_id);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER periods_writes_exclusive
    BEFORE UPDATE ON periods
    FOR EACH ROW EXECUTE FUNCTION period_writes_exclusive_trigger();
CREATE TRIGGER due_date_extensions_writes_exclusive
    BEFORE INSERT OR UPDATE ON due_date_extensions
    FOR EACH ROW EXECUTE FUNCTION period_writes_exclusive_trigger();
