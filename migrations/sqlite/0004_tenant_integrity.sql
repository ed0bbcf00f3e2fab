-- When the grant behind a connection was last given; a deauthorization
-- from before this instant is about an earlier grant and is ignored.
ALTER TABLE connections ADD COLUMN authorized_at BIGINT;
UPDATE connections SET authorized_at = updated_at WHERE authorized_at IS NULL;

-- Zoom webhook events already acted on, by the hash of their payload
-- signature, so a replay or a retry changes nothing.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_by_age ON webhook_events (received_at);

-- Admin sessions end after 30 idle minutes.
ALTER TABLE admin_sessions ADD COLUMN last_seen_at BIGINT;
UPDATE admin_sessions SET last_seen_at = created_at WHERE last_seen_at IS NULL;
