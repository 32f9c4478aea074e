-- The audit store on PostgreSQL (auth/builtin/audit/pgaudit): one row per
-- event, a column per filter of GET /api/audit and an index per filter,
-- each ending in (ts, id) so a filtered page is read newest first from the
-- index without sorting.
CREATE TABLE authhost_audit (
    id            text PRIMARY KEY,
    ts            bigint NOT NULL, -- unix nanoseconds
    actor_type    text NOT NULL,
    actor_id      text NOT NULL,
    action        text NOT NULL,
    outcome       text NOT NULL,
    resource_type text,            -- NULL: no resource
    resource_id   text,
    -- Lower-cased actor id and email, resource type, id and name (free
    -- text search), and the same joined with newlines for the index.
    search_fields text[] NOT NULL,
    search        text NOT NULL,
    event         bytea NOT NULL   -- the event's JSON, as exported
);

CREATE INDEX authhost_audit_ts ON authhost_audit (ts, id);
CREATE INDEX authhost_audit_actor_id ON authhost_audit (actor_id, ts, id);
CREATE INDEX authhost_audit_actor_type ON authhost_audit (actor_type, ts, id);
CREATE INDEX authhost_audit_outcome ON authhost_audit (outcome, ts, id);
CREATE INDEX authhost_audit_action ON authhost_audit (action text_pattern_ops, ts, id);
CREATE INDEX authhost_audit_resource ON authhost_audit (resource_type, resource_id, ts, id);
CREATE INDEX authhost_audit_resource_id ON authhost_audit (resource_id, ts, id);

-- Substring search uses a trigram index when pg_trgm can be installed
-- (it ships with Debian's postgresql package and is a trusted extension,
-- so a database owner may create it); without it text search scans.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX authhost_audit_search ON authhost_audit USING gin (search gin_trgm_ops);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available: audit text search will scan';
END
$$;

-- Counts of events per hour, actor type, outcome and action, so that the
-- total of a page filtered on those (the audit page's filters) sums a few
-- thousand rows instead of visiting every matching event. Log adds 1 in
-- the statement that inserts the event, on one of a few shards so that
-- concurrent writers do not queue on one row; retention adds the negative
-- count of what it deleted (shard -1) in the statement that deletes it.
CREATE TABLE authhost_audit_counts (
    hour       bigint NOT NULL, -- ts / 3600e9
    actor_type text NOT NULL,
    outcome    text NOT NULL,
    action     text NOT NULL,
    shard      smallint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (hour, actor_type, outcome, action, shard)
);
