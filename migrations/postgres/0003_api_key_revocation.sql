-- A revoked key answers 401; the row stays for the audit trail.
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
