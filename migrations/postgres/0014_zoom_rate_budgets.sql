-- Zoom API rate budgets that every replica draws from (the proxy, issue 21).
-- A bucket is one Zoom account's limit of one kind ("acct:light:qps",
-- "acct:heavy+resource_intensive:day"); a row counts the permits handed out
-- in one window of the database's clock, in milliseconds.
CREATE TABLE zoom_rate_windows (
    bucket TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX zoom_rate_windows_end ON zoom_rate_windows (window_end);

-- Zoom answered 429 for a bucket: nobody sends on it until `until_ms`.
CREATE TABLE zoom_rate_holds (
    bucket TEXT PRIMARY KEY,
    until_ms BIGINT NOT NULL,
    reason TEXT NOT NULL
);
