-- Digests get per-destination delivery state, as immediate alerts have (alert_deliveries):
-- a destination that failed is retried with backoff and a cap on attempts, and one that
-- already has the slot's digest is never sent it again.

CREATE TABLE digest_deliveries (
    subscriber      VARCHAR NOT NULL,
    slot            TIMESTAMPTZ NOT NULL,   -- the digest hour this digest belongs to
    destination     VARCHAR NOT NULL,       -- a label, as in alert_deliveries: never a URL
    status          VARCHAR NOT NULL,       -- 'sent' or 'failed'
    attempts        INTEGER NOT NULL DEFAULT 0,
    alerts          INTEGER,                -- alerts in the last digest sent or tried
    last_error      VARCHAR,                -- masked
    next_attempt_at TIMESTAMPTZ,            -- failed: not retried before this
    sent_at         TIMESTAMPTZ,
    PRIMARY KEY (subscriber, slot, destination)
);

-- Destinations used to be stored as Apprise's `url(privacy=True)`, which keeps tokens in the
-- host, path, query and +header/-field values. Reduce every stored one to its scheme and a
-- hash of the old text (still unique per alert), and strip URLs out of stored error text.
UPDATE alert_deliveries
SET destination = regexp_extract(destination, '^([A-Za-z][A-Za-z0-9+.-]*)', 1)
                  || '#' || left(md5(destination), 6)
WHERE destination LIKE '%://%';
UPDATE health_notices
SET destination = regexp_extract(destination, '^([A-Za-z][A-Za-z0-9+.-]*)', 1)
                  || '#' || left(md5(destination), 6)
WHERE destination LIKE '%://%';
UPDATE alert_deliveries
SET last_error = regexp_replace(last_error, '[A-Za-z][A-Za-z0-9+.-]*://[^ ;]*', '(URL removed)', 'g')
WHERE last_error LIKE '%://%';
UPDATE health_notices
SET last_error = regexp_replace(last_error, '[A-Za-z][A-Za-z0-9+.-]*://[^ ;]*', '(URL removed)', 'g')
WHERE last_error LIKE '%://%';
UPDATE alerts
SET last_error = regexp_replace(last_error, '[A-Za-z][A-Za-z0-9+.-]*://[^ ;]*', '(URL removed)', 'g')
WHERE last_error LIKE '%://%';
