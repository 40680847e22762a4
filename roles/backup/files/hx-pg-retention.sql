-- hx_retention: tables whose old rows the retention job (hx-pg-retention) removes.
-- Installed by the hx backup role; applied to every hx database on each run (idempotent).
--
-- A service registers a table once, as the database owner:
--   SELECT hx_retention.register('usage_events', 'created_at');                       -- DELETE old rows
--   SELECT hx_retention.register('usage_daily', 'day', 'drop-partitions');            -- daily partitions
-- Daily partitions are named <table>_pYYYYMMDD; a partition whose whole day is older than the
-- retention is dropped, and older rows left elsewhere (a default partition) are deleted.
-- Only tables owned by the database's owner are pruned: registering cannot reach further than
-- the owner's own tables.

CREATE SCHEMA IF NOT EXISTS hx_retention;
COMMENT ON SCHEMA hx_retention IS 'Tables pruned to databases.postgres.retention_days (hx backup role)';

CREATE TABLE IF NOT EXISTS hx_retention.policy (
    table_name text PRIMARY KEY,
    time_column name NOT NULL,
    method text NOT NULL DEFAULT 'delete' CHECK (method IN ('delete', 'drop-partitions')),
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION hx_retention.register(tbl regclass, time_column name, method text DEFAULT 'delete')
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    column_type regtype;
BEGIN
    SELECT a.atttypid::regtype INTO column_type
      FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = time_column AND NOT a.attisdropped;
    IF column_type IS NULL THEN
        RAISE EXCEPTION 'hx_retention: % has no column %', tbl, time_column;
    END IF;
    IF column_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
        RAISE EXCEPTION 'hx_retention: %.% is %, not a timestamp or date', tbl, time_column, column_type;
    END IF;
    INSERT INTO hx_retention.policy (table_name, time_column, method)
    VALUES (tbl::text, time_column, method)
    ON CONFLICT ON CONSTRAINT policy_pkey
    DO UPDATE SET time_column = EXCLUDED.time_column, method = EXCLUDED.method;
END $$;

CREATE OR REPLACE FUNCTION hx_retention.prune(retention_days integer)
RETURNS TABLE (table_name text, partitions_dropped integer, rows_deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
    part record;
    rel regclass;
    cutoff timestamptz := now() - make_interval(days => retention_days);
    db_owner oid := (SELECT datdba FROM pg_database WHERE datname = current_database());
BEGIN
    IF retention_days < 1 THEN
        RAISE EXCEPTION 'hx_retention: retention_days must be at least 1 (got %)', retention_days;
    END IF;
    FOR p IN SELECT * FROM hx_retention.policy ORDER BY 1 LOOP
        rel := to_regclass(p.table_name);
        IF rel IS NULL THEN
            RAISE WARNING 'hx_retention: % is registered but does not exist; skipped', p.table_name;
            CONTINUE;
        END IF;
        IF (SELECT relowner FROM pg_class WHERE oid = rel) <> db_owner THEN
            RAISE WARNING 'hx_retention: % is not owned by the database owner; skipped', p.table_name;
            CONTINUE;
        END IF;
        table_name := p.table_name;
        partitions_dropped := 0;
        IF p.method = 'drop-partitions' THEN
            FOR part IN
                SELECT c.oid::regclass AS child, to_date(substring(c.relname FROM '_p([0-9]{8})$'), 'YYYYMMDD') AS day
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = rel
                   AND c.relname ~ ('^' || (SELECT relname FROM pg_class WHERE oid = rel) || '_p[0-9]{8}$')
            LOOP
                -- The partition holds one day: drop it once the whole day is older than the cutoff.
                IF part.day + 1 <= cutoff::date THEN
                    EXECUTE format('DROP TABLE %s', part.child);
                    partitions_dropped := partitions_dropped + 1;
                END IF;
            END LOOP;
        END IF;
        EXECUTE format('DELETE FROM %s WHERE %I < $1', rel, p.time_column) USING cutoff;
        GET DIAGNOSTICS rows_deleted = ROW_COUNT;
        RETURN NEXT;
    END LOOP;
END $$;

-- The database owner registers its tables; only the job (a superuser) prunes.
DO $$
DECLARE
    owner name := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA hx_retention TO %I', owner);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON hx_retention.policy TO %I', owner);
    EXECUTE format('GRANT EXECUTE ON FUNCTION hx_retention.register(regclass, name, text) TO %I', owner);
    REVOKE EXECUTE ON FUNCTION hx_retention.prune(integer) FROM PUBLIC;
END $$;
