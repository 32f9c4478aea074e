-- Free-text search of the audit store (auth/builtin/audit/pgaudit) by
-- term: a term is one lower-cased search field (actor id or email,
-- resource type, id or name). An event matches a text when one of its
-- terms contains it, so a search first finds the few distinct terms that
-- contain the text (a small table) and then the events holding one of
-- them, through a GIN index on the event's terms. Searching the events'
-- text directly, even with a trigram index, visits every event sharing a
-- common trigram ("per" in "person0042"), which is most of them.
--
-- Log adds an event's terms in the statement that inserts it; retention
-- leaves them (a term without events matches nothing).
CREATE TABLE authhost_audit_terms (
    term text PRIMARY KEY
);

INSERT INTO authhost_audit_terms
    SELECT DISTINCT unnest(search_fields) FROM authhost_audit
    ON CONFLICT DO NOTHING;

CREATE INDEX authhost_audit_search_fields ON authhost_audit USING gin (search_fields);

-- The trigram index of 0002 on the events' joined text is replaced by the
-- terms: the planner chose it for common texts ("example.com"), where it
-- intersects posting lists of most events, and it costs every insert.
DROP INDEX IF EXISTS authhost_audit_search;

-- Finding the terms uses a trigram index when pg_trgm is installed (see
-- 0002); without it the terms table is scanned, which stays cheap while
-- the terms are few (thousands of users and resources, not millions).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX authhost_audit_terms_trgm ON authhost_audit_terms USING gin (term gin_trgm_ops);
    END IF;
END
$$;
