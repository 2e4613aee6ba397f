-- Health notices: which problem of the monitor itself (a dead feed, an ingest drop, failing
-- alert delivery) was told to which operator destination and when, so a problem that lasts
-- is announced once and then every `[health] renotify_after_h`, not on every run.

CREATE TABLE health_notices (
    problem_key   VARCHAR NOT NULL,   -- 'feed_dead:3', 'ingest_drop', 'alerts_failing:desk'
    subscriber    VARCHAR NOT NULL,   -- a name from [health] notify
    destination   VARCHAR NOT NULL,   -- masked label, as in alert_deliveries
    kind          VARCHAR NOT NULL,
    summary       VARCHAR NOT NULL,   -- the problem as last seen
    first_seen_at TIMESTAMPTZ NOT NULL,
    notified_at   TIMESTAMPTZ,        -- last notice the destination accepted; NULL: none yet
    notices       INTEGER NOT NULL DEFAULT 0,
    last_error    VARCHAR,            -- masked
    resolved_at   TIMESTAMPTZ,        -- gone at a later check; if it returns, it is notified anew
    PRIMARY KEY (problem_key, subscriber, destination)
);
