-- Paging through large orgs (issue 16).
--
-- `seq` orders connections for keyset paging: assigned once, when the row is
-- inserted, and never changed (a re-authorization updates the row in place),
-- so a connection added while a client pages lands after every row that
-- existed before, and is seen exactly once. Timestamps cannot do this: they
-- have one-second resolution and the ids are random, so two connections made
-- in the same second would sort by chance.
ALTER TABLE connections ADD COLUMN seq BIGSERIAL NOT NULL;

-- One index per page shape, each ending in `seq` so that the keyset
-- condition and the ORDER BY are both served from it (no sort, no OFFSET):
-- the plain list, the status filter (and the per-status counts), the
-- incremental sync by `updated_at`, and the email search (exact or prefix).
-- The email index uses the "C" collation, byte order, so that a prefix is a
-- contiguous range of it whatever the database's locale; the page queries
-- compare `email COLLATE "C"` to match. The plain (org_id, email) index stays
-- for the token lookup, which compares in the default collation.
CREATE INDEX connections_page ON connections (org_id, seq);
CREATE INDEX connections_page_by_status ON connections (org_id, status, seq);
CREATE INDEX connections_page_by_update ON connections (org_id, updated_at, seq);
CREATE INDEX connections_page_by_email ON connections (org_id, email COLLATE "C", seq);
