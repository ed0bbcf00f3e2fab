-- Issue 12: the outbox of events to the CRM (Standard Webhooks v1).
-- A row is written in the same transaction as the change it reports;
-- the delivery worker claims rows with a lease on the database's clock.
CREATE TABLE events (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    org_id           TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until_ms   BIGINT,
    last_error       TEXT,
    settled_at       BIGINT
);
CREATE INDEX events_by_org ON events (org_id, seq);
CREATE INDEX events_due ON events (status, next_attempt_ms);
