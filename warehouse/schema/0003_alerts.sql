-- Alerts: a transactional outbox. Rows are written in the same transaction that stores and
-- tags the article that triggers them, so nothing is lost if the process dies; delivery reads
-- them later. At most one alert per (topic, story, subscriber): syndicated copies and the same
-- article reached from several feeds never alert twice, and a changed rule does not re-alert.

CREATE SEQUENCE alert_id_seq START 1;

CREATE TABLE alerts (
    alert_id        BIGINT PRIMARY KEY DEFAULT nextval('alert_id_seq'),
    topic_id        VARCHAR NOT NULL,
    rule_version    VARCHAR NOT NULL,
    story_id        BIGINT NOT NULL,
    article_id      BIGINT NOT NULL,
    subscriber      VARCHAR NOT NULL,   -- the subscriber's name, never its URLs
    mode            VARCHAR NOT NULL,   -- 'immediate' or 'digest'
    severity        VARCHAR NOT NULL,
    evidence        VARCHAR[] NOT NULL,
    status          VARCHAR NOT NULL,   -- 'pending', 'sent', 'failed', 'digest'
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error      VARCHAR,            -- masked: no URL or token
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    UNIQUE (topic_id, story_id, subscriber)
);

-- Per-destination delivery state, so a destination that already accepted an alert is not
-- sent it again when another destination of the same subscriber is retried.
CREATE TABLE alert_deliveries (
    alert_id    BIGINT NOT NULL,
    destination VARCHAR NOT NULL,      -- a masked label, e.g. 'mailto://***@127.0.0.1'
    status      VARCHAR NOT NULL,      -- 'sent' or 'failed'
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  VARCHAR,
    sent_at     TIMESTAMPTZ,
    PRIMARY KEY (alert_id, destination)
);

ALTER TABLE runs ADD COLUMN alerts_new INTEGER;

-- When each subscriber last received a digest.
CREATE TABLE digests (
    subscriber VARCHAR PRIMARY KEY,
    last_sent_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE runs ADD COLUMN alerts_sent INTEGER;
ALTER TABLE runs ADD COLUMN alerts_deferred INTEGER;
ALTER TABLE runs ADD COLUMN alerts_failed INTEGER;
