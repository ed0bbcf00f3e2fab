-- API key lifecycle: scopes (space-separated; existing keys keep every
-- scope, which is what they could do before) and an optional expiry.
-- `label` and `last_used_at` exist since 0001.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'tokens:read connect credentials admin';
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
