-- Refresh follows use (issue 13). The background refresher only refreshes
-- ahead of time what was used recently, plus a keep-alive for refresh
-- tokens older than a configured age; everything else waits for a caller.

-- When a token of this connection was last handed out (unix seconds),
-- written in batches, never once per call.
ALTER TABLE connections ADD COLUMN last_used_at BIGINT;
-- When the current refresh token was issued: authorization, or the last
-- refresh that rotated it. The keep-alive is driven by its age.
ALTER TABLE connections ADD COLUMN refresh_issued_at BIGINT;

-- Existing rows count as used now, so that the first hour after the upgrade
-- behaves as before and unused connections drop out gradually instead of all
-- waiting on Zoom at once.
UPDATE connections
SET last_used_at = CAST(FLOOR(EXTRACT(EPOCH FROM now())) AS BIGINT),
    refresh_issued_at = COALESCE(last_refreshed_at, authorized_at, created_at);

-- The sweep pages through these in key order (keyset), so a page costs the
-- same at a thousand or a million rows, and rows that are neither used nor
-- old are never read. Partial: only active connections are ever refreshed.
-- The old sweep's index: it ranged over every expired token, which at
-- scale is every idle connection. Dropped so no planner picks it instead.
DROP INDEX connections_by_expiry;
CREATE INDEX connections_by_use ON connections (last_used_at, id)
    WHERE status = 'active';
CREATE INDEX connections_by_refresh_age ON connections (refresh_issued_at, id)
    WHERE status = 'active';

-- The deployment-wide budget of background token-endpoint calls: one row
-- per second of the database's clock, claimed with one conditional upsert.
CREATE TABLE refresh_rate_slots (
    at_second BIGINT PRIMARY KEY,
    used      BIGINT NOT NULL
);
