-- A refresh sent to Zoom whose answer was never stored: the connection's
-- `version` at the time, so a later invalid_grant can be told apart from an
-- ordinary dead grant ("a refresh answer from Zoom was lost"). A marker from
-- an older version means nothing: every change of tokens bumps the version.
ALTER TABLE connections ADD COLUMN refresh_sent_version BIGINT;
-- The marker as it was when the current lease was taken, restored when the
-- current attempt ends without having reached Zoom or with Zoom's refusal.
ALTER TABLE connections ADD COLUMN refresh_prior_sent_version BIGINT;
