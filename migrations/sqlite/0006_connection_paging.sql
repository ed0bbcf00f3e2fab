-- Paging through large orgs (issue 16).
--
-- `seq` orders connections for keyset paging: assigned once, when the row is
-- inserted, and never changed (a re-authorization updates the row in place),
-- so a connection added while a client pages lands after every row that
-- existed before, and is seen exactly once. Timestamps cannot do this: they
-- have one-second resolution and the ids are random, so two connections made
-- in the same second would sort by chance.
--
-- SQLite has no sequences, and rowid may be reused after the largest row is
-- deleted, so a one-row counter hands out the numbers. SQLite has one writer
-- at a time, so numbers are also handed out in commit order.
ALTER TABLE connections ADD COLUMN seq INTEGER;
UPDATE connections SET seq = rowid;

CREATE TABLE connection_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    last  BIGINT NOT NULL
);
INSERT INTO connection_seq (id, last) SELECT 1, COALESCE(MAX(seq), 0) FROM connections;

CREATE TRIGGER connections_assign_seq AFTER INSERT ON connections
WHEN NEW.seq IS NULL
BEGIN
    UPDATE connection_seq SET last = last + 1 WHERE id = 1;
    UPDATE connections SET seq = (SELECT last FROM connection_seq WHERE id = 1)
    WHERE rowid = NEW.rowid;
END;

-- One index per page shape, each ending in `seq` so that the keyset
-- condition and the ORDER BY are both served from it (no sort, no OFFSET):
-- the plain list, the status filter (and the per-status counts), the
-- incremental sync by `updated_at`, and the email search (exact or prefix).
CREATE INDEX connections_page ON connections (org_id, seq);
CREATE INDEX connections_page_by_status ON connections (org_id, status, seq);
CREATE INDEX connections_page_by_update ON connections (org_id, updated_at, seq);
CREATE INDEX connections_page_by_email ON connections (org_id, email, seq);
DROP INDEX connections_by_email;
