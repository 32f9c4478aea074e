-- The key-value table behind store.Store. Keys are bytea so that any byte
-- string is a key and keys sort bytewise, as every backend's scans do.
CREATE TABLE authhost_kv (
    key        bytea PRIMARY KEY,
    value      bytea NOT NULL,
    expires_at timestamptz
);

-- The sweeper finds expired keys without reading the table.
CREATE INDEX authhost_kv_expires ON authhost_kv (expires_at) WHERE expires_at IS NOT NULL;

-- store.Counter: one atomic increment that keeps the counter's expiry. It
-- runs at READ COMMITTED, where every statement sees the latest committed
-- row, so two first increments racing on a missing key end with one insert
-- and one update, never a lost count.
CREATE FUNCTION authhost_kv_incr(k bytea, delta bigint, ttl_us bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cur bytea;
    exp timestamptz;
    txt text;
    n   bigint;
BEGIN
    LOOP
        SELECT value, expires_at INTO cur, exp FROM authhost_kv WHERE key = k FOR UPDATE;
        IF FOUND AND (exp IS NULL OR exp > now()) THEN
            txt := convert_from(cur, 'UTF8');
            IF txt !~ '^[+-]?[0-9]+$' THEN
                RAISE EXCEPTION 'value of the key is not a counter' USING ERRCODE = '22P02';
            END IF;
            n := txt::bigint + delta;
            UPDATE authhost_kv SET value = convert_to(n::text, 'UTF8') WHERE key = k;
            RETURN n;
        END IF;
        INSERT INTO authhost_kv (key, value, expires_at)
        VALUES (k, convert_to(delta::text, 'UTF8'),
                CASE WHEN ttl_us > 0 THEN now() + ttl_us * interval '1 microsecond' END)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
        WHERE authhost_kv.expires_at IS NOT NULL AND authhost_kv.expires_at <= now();
        IF FOUND THEN
            RETURN delta;
        END IF;
    END LOOP;
END
$$;
