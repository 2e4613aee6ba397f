-- Tagging: relevance, themes, actors and seed similarity per article, each row stamped with
-- the version of the registries and seed corpus that produced it (`spacewatch retag` redoes
-- them after a registry change).

CREATE TABLE article_tags (
    article_id          BIGINT PRIMARY KEY,
    tagger_version      VARCHAR NOT NULL,
    tagged_at           TIMESTAMPTZ NOT NULL,
    language            VARCHAR,
    themes_judged       BOOLEAN NOT NULL,
    relevant            BOOLEAN NOT NULL,
    relevance           DOUBLE NOT NULL,
    seed_similarity_max DOUBLE,
    truncated           BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE article_themes (
    article_id     BIGINT NOT NULL,
    theme_id       VARCHAR NOT NULL,
    score          DOUBLE NOT NULL,
    evidence       VARCHAR[] NOT NULL,
    tagger_version VARCHAR NOT NULL,
    PRIMARY KEY (article_id, theme_id)
);

CREATE TABLE article_actors (
    article_id     BIGINT NOT NULL,
    actor_id       VARCHAR NOT NULL,
    mentions       INTEGER NOT NULL,
    evidence       VARCHAR[] NOT NULL,
    via            VARCHAR[] NOT NULL,
    tagger_version VARCHAR NOT NULL,
    PRIMARY KEY (article_id, actor_id)
);

CREATE TABLE article_seed_similarity (
    article_id     BIGINT NOT NULL,
    seed           VARCHAR NOT NULL,
    score          DOUBLE NOT NULL,
    tagger_version VARCHAR NOT NULL,
    PRIMARY KEY (article_id, seed)
);

-- The registries as of the last run, so analysts can join ids to names and kinds.
CREATE TABLE registry_actors (
    actor_id       VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    tagger_version VARCHAR NOT NULL
);

CREATE TABLE registry_themes (
    theme_id       VARCHAR PRIMARY KEY,
    description    VARCHAR,
    tagger_version VARCHAR NOT NULL
);

-- Names recurring in relevant articles that no registry alias covers (refreshed each run).
CREATE TABLE emerging_actors (
    name         VARCHAR PRIMARY KEY,
    mentions     INTEGER NOT NULL,
    articles     INTEGER NOT NULL,
    examples     BIGINT[] NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL
);

-- What the seed corpus itself is about: the starting point of "recurring" actors and themes.
CREATE TABLE seed_tags (
    seed           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,  -- 'actor' or 'theme'
    tag_id         VARCHAR NOT NULL,
    weight         DOUBLE NOT NULL,   -- mentions for actors, score for themes
    tagger_version VARCHAR NOT NULL,
    PRIMARY KEY (seed, kind, tag_id)
);
