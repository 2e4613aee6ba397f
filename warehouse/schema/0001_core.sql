-- Core pipeline: feeds and their poll history, articles with their sources, runs.
-- Relations are documented in docs/warehouse.md rather than declared as foreign keys: DuckDB
-- foreign keys slow bulk inserts and forbid the in-place updates the poller needs.

CREATE SEQUENCE feed_id_seq START 1;
CREATE SEQUENCE poll_id_seq START 1;
CREATE SEQUENCE article_id_seq START 1;
CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE feeds (
    feed_id                INTEGER PRIMARY KEY DEFAULT nextval('feed_id_seq'),
    configured_url         VARCHAR NOT NULL UNIQUE,
    url                    VARCHAR NOT NULL,
    name                   VARCHAR,
    title                  VARCHAR,
    site_url               VARCHAR,
    active                 BOOLEAN NOT NULL DEFAULT TRUE,
    etag                   VARCHAR,
    last_modified          VARCHAR,
    body_hash              VARCHAR,
    created_at             TIMESTAMPTZ NOT NULL,
    last_polled_at         TIMESTAMPTZ,
    last_success_at        TIMESTAMPTZ,
    last_outcome           VARCHAR,
    last_error             VARCHAR,
    consecutive_failures   INTEGER NOT NULL DEFAULT 0,
    next_due_at            TIMESTAMPTZ,
    pending_redirect_url   VARCHAR,
    pending_redirect_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE feed_polls (
    poll_id       BIGINT NOT NULL DEFAULT nextval('poll_id_seq'),
    run_id        BIGINT,
    feed_id       INTEGER NOT NULL,
    polled_at     TIMESTAMPTZ NOT NULL,
    url           VARCHAR NOT NULL,
    final_url     VARCHAR,
    outcome       VARCHAR NOT NULL,
    unchanged     BOOLEAN NOT NULL DEFAULT FALSE,
    http_status   SMALLINT,
    duration_ms   INTEGER,
    bytes         BIGINT,
    entries       INTEGER,
    new_entries   INTEGER,
    error         VARCHAR,
    bozo_reason   VARCHAR,
    retry_after_s DOUBLE
);

CREATE TABLE articles (
    article_id        BIGINT PRIMARY KEY,
    canonical_url     VARCHAR NOT NULL UNIQUE,
    url               VARCHAR NOT NULL,
    story_id          BIGINT NOT NULL,
    title             VARCHAR,
    author            VARCHAR,
    published_at      TIMESTAMPTZ,
    first_seen_at     TIMESTAMPTZ NOT NULL,
    language          VARCHAR,
    site_name         VARCHAR,
    description       VARCHAR,
    text              VARCHAR,
    extraction_method VARCHAR NOT NULL,
    fetch_outcome     VARCHAR,
    http_status       SMALLINT,
    fetch_error       VARCHAR,
    content_hash      VARCHAR,
    word_count        INTEGER NOT NULL DEFAULT 0,
    run_id            BIGINT
);

CREATE TABLE article_sources (
    feed_id            INTEGER NOT NULL,
    guid               VARCHAR NOT NULL,
    article_id         BIGINT NOT NULL,
    link               VARCHAR,
    entry_title        VARCHAR,
    entry_published_at TIMESTAMPTZ,
    first_seen_at      TIMESTAMPTZ NOT NULL,
    run_id             BIGINT,
    PRIMARY KEY (feed_id, guid)
);

-- MinHash signature and its LSH band keys, for finding syndicated copies of a story.
CREATE TABLE article_fingerprints (
    article_id BIGINT PRIMARY KEY,
    signature  BLOB NOT NULL
);

CREATE TABLE article_bands (
    band       TINYINT NOT NULL,
    band_hash  BIGINT NOT NULL,
    article_id BIGINT NOT NULL
);

CREATE TABLE runs (
    run_id             BIGINT PRIMARY KEY,
    flow_run_id        VARCHAR,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ,
    status             VARCHAR NOT NULL,
    feeds_due          INTEGER,
    feeds_polled       INTEGER,
    feeds_ok           INTEGER,
    feeds_not_modified INTEGER,
    feeds_unchanged    INTEGER,
    feeds_failed       INTEGER,
    feeds_skipped      INTEGER,
    entries_seen       INTEGER,
    entries_new        INTEGER,
    articles_new       INTEGER,
    articles_duplicate INTEGER,
    articles_extracted INTEGER,
    articles_fallback  INTEGER,
    articles_empty     INTEGER,
    pages_failed       INTEGER,
    stories_new        INTEGER,
    syndicated_copies  INTEGER,
    poll_s             DOUBLE,
    articles_s         DOUBLE,
    extract_s          DOUBLE,
    store_s            DOUBLE,
    total_s            DOUBLE,
    error              VARCHAR
);
