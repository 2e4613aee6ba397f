-- Stable views for analysts. Recreated on every open for writing (they hold no data), so they
-- may change between versions without a migration; their columns are documented in
-- docs/warehouse.md and are a contract.

CREATE OR REPLACE VIEW v_articles AS
SELECT a.article_id, a.story_id, a.canonical_url AS url, a.title, a.author, a.site_name,
       a.published_at, a.first_seen_at,
       coalesce(a.published_at, a.first_seen_at) AS event_at,
       coalesce(t.language, a.language) AS language,
       a.word_count, a.extraction_method,
       t.relevant, t.relevance, t.themes_judged, t.seed_similarity_max,
       (SELECT list(th.theme_id ORDER BY th.score DESC, th.theme_id) FROM article_themes th
         WHERE th.article_id = a.article_id) AS themes,
       (SELECT list(ac.actor_id ORDER BY ac.mentions DESC, ac.actor_id) FROM article_actors ac
         WHERE ac.article_id = a.article_id) AS actors,
       t.tagger_version,
       a.text
FROM articles a LEFT JOIN article_tags t USING (article_id);

CREATE OR REPLACE VIEW v_actor_mentions AS
SELECT ac.article_id, a.story_id, ac.actor_id, r.name AS actor_name, r.kind AS actor_kind,
       ac.mentions, ac.evidence, ac.via,
       coalesce(a.published_at, a.first_seen_at) AS event_at, a.title, a.site_name,
       a.canonical_url AS url, t.relevant
FROM article_actors ac
JOIN articles a USING (article_id)
LEFT JOIN article_tags t USING (article_id)
LEFT JOIN registry_actors r USING (actor_id);

CREATE OR REPLACE VIEW v_theme_mentions AS
SELECT th.article_id, a.story_id, th.theme_id, th.score, th.evidence,
       coalesce(a.published_at, a.first_seen_at) AS event_at, a.title, a.site_name,
       a.canonical_url AS url, t.relevant
FROM article_themes th
JOIN articles a USING (article_id)
LEFT JOIN article_tags t USING (article_id);

-- Trends count each story once per period. Periods are UTC days, ISO weeks (Monday) and
-- calendar months. Days and weeks use epoch arithmetic: date_trunc on TIMESTAMPTZ goes through
-- ICU's calendar per row and was the largest cost at a million articles (bench/analysts.py);
-- months are truncated from the per-day rows, a few per story. 345600 s: Monday 1970-01-05.
-- Distinct counts are done in two steps (period × tag × story, then period × tag), which gives
-- the same numbers as count(DISTINCT ...) since a tag is stored once per article. Counts are
-- BIGINT (a bare sum() would be HUGEINT, which Parquet stores as a double).
-- The *_relevant variants count space-policy articles only (article_tags.relevant), as
-- `spacewatch report` does: a China spike there is not Lunar New Year crowds.
CREATE OR REPLACE VIEW v_actor_trends AS
WITH per_day AS (
    SELECT to_timestamp(floor(epoch(coalesce(a.published_at, a.first_seen_at)) / 86400) * 86400)
               AS day,
           ac.actor_id, a.story_id, count(*) AS articles, sum(ac.mentions) AS mentions
    FROM article_actors ac JOIN articles a USING (article_id)
    GROUP BY ALL
), per_story AS (
    SELECT 'week' AS grain,
           to_timestamp(floor((epoch(day) - 345600) / 604800) * 604800 + 345600) AS period,
           actor_id, story_id, articles, mentions
    FROM per_day
    UNION ALL
    SELECT 'month', timezone('UTC', date_trunc('month', timezone('UTC', day))), actor_id,
           story_id, articles, mentions
    FROM per_day
), periods AS (
    SELECT 'day' AS grain, day AS period, actor_id, sum(articles)::BIGINT AS articles,
           count(*) AS stories, sum(mentions)::BIGINT AS mentions
    FROM per_day GROUP BY day, actor_id
    UNION ALL
    SELECT grain, period, actor_id, sum(articles)::BIGINT, count(*), sum(mentions)::BIGINT
    FROM (SELECT grain, period, actor_id, story_id, sum(articles) AS articles,
                 sum(mentions) AS mentions
          FROM per_story GROUP BY ALL)
    GROUP BY grain, period, actor_id
)
SELECT p.grain, p.period, p.actor_id, r.name AS actor_name, p.articles, p.stories, p.mentions
FROM periods p LEFT JOIN registry_actors r USING (actor_id);

CREATE OR REPLACE VIEW v_actor_trends_relevant AS
WITH per_day AS (
    SELECT to_timestamp(floor(epoch(coalesce(a.published_at, a.first_seen_at)) / 86400) * 86400)
               AS day,
           ac.actor_id, a.story_id, count(*) AS articles, sum(ac.mentions) AS mentions
    FROM article_actors ac JOIN articles a USING (article_id)
    JOIN article_tags t USING (article_id) WHERE t.relevant
    GROUP BY ALL
), per_story AS (
    SELECT 'week' AS grain,
           to_timestamp(floor((epoch(day) - 345600) / 604800) * 604800 + 345600) AS period,
           actor_id, story_id, articles, mentions
    FROM per_day
    UNION ALL
    SELECT 'month', timezone('UTC', date_trunc('month', timezone('UTC', day))), actor_id,
           story_id, articles, mentions
    FROM per_day
), periods AS (
    SELECT 'day' AS grain, day AS period, actor_id, sum(articles)::BIGINT AS articles,
           count(*) AS stories, sum(mentions)::BIGINT AS mentions
    FROM per_day GROUP BY day, actor_id
    UNION ALL
    SELECT grain, period, actor_id, sum(articles)::BIGINT, count(*), sum(mentions)::BIGINT
    FROM (SELECT grain, period, actor_id, story_id, sum(articles) AS articles,
                 sum(mentions) AS mentions
          FROM per_story GROUP BY ALL)
    GROUP BY grain, period, actor_id
)
SELECT p.grain, p.period, p.actor_id, r.name AS actor_name, p.articles, p.stories, p.mentions
FROM periods p LEFT JOIN registry_actors r USING (actor_id);

CREATE OR REPLACE VIEW v_theme_trends AS
WITH per_day AS (
    SELECT to_timestamp(floor(epoch(coalesce(a.published_at, a.first_seen_at)) / 86400) * 86400)
               AS day,
           th.theme_id, a.story_id, count(*) AS articles, sum(th.score) AS score_sum
    FROM article_themes th JOIN articles a USING (article_id)
    GROUP BY ALL
), per_story AS (
    SELECT 'week' AS grain,
           to_timestamp(floor((epoch(day) - 345600) / 604800) * 604800 + 345600) AS period,
           theme_id, story_id, articles, score_sum
    FROM per_day
    UNION ALL
    SELECT 'month', timezone('UTC', date_trunc('month', timezone('UTC', day))), theme_id,
           story_id, articles, score_sum
    FROM per_day
), per_period AS (
    SELECT grain, period, theme_id, story_id, sum(articles) AS articles,
           sum(score_sum) AS score_sum
    FROM per_story GROUP BY ALL
)
SELECT 'day' AS grain, day AS period, theme_id, sum(articles)::BIGINT AS articles,
       count(*) AS stories, sum(score_sum) / sum(articles) AS mean_score
FROM per_day GROUP BY day, theme_id
UNION ALL
SELECT grain, period, theme_id, sum(articles)::BIGINT, count(*), sum(score_sum) / sum(articles)
FROM per_period GROUP BY grain, period, theme_id;

CREATE OR REPLACE VIEW v_theme_trends_relevant AS
WITH per_day AS (
    SELECT to_timestamp(floor(epoch(coalesce(a.published_at, a.first_seen_at)) / 86400) * 86400)
               AS day,
           th.theme_id, a.story_id, count(*) AS articles, sum(th.score) AS score_sum
    FROM article_themes th JOIN articles a USING (article_id)
    JOIN article_tags t USING (article_id) WHERE t.relevant
    GROUP BY ALL
), per_story AS (
    SELECT 'week' AS grain,
           to_timestamp(floor((epoch(day) - 345600) / 604800) * 604800 + 345600) AS period,
           theme_id, story_id, articles, score_sum
    FROM per_day
    UNION ALL
    SELECT 'month', timezone('UTC', date_trunc('month', timezone('UTC', day))), theme_id,
           story_id, articles, score_sum
    FROM per_day
), per_period AS (
    SELECT grain, period, theme_id, story_id, sum(articles) AS articles,
           sum(score_sum) AS score_sum
    FROM per_story GROUP BY ALL
)
SELECT 'day' AS grain, day AS period, theme_id, sum(articles)::BIGINT AS articles,
       count(*) AS stories, sum(score_sum) / sum(articles) AS mean_score
FROM per_day GROUP BY day, theme_id
UNION ALL
SELECT grain, period, theme_id, sum(articles)::BIGINT, count(*), sum(score_sum) / sum(articles)
FROM per_period GROUP BY grain, period, theme_id;

-- Actors and themes of the seed corpus seen again in new articles. Counted per story first (a
-- story is in a window when any of its articles is), then per tag: the same numbers as distinct
-- counts over every mention, without a distinct set per group.
CREATE OR REPLACE VIEW v_recurring AS
WITH seeded AS (
    SELECT kind, tag_id, list(DISTINCT seed) AS seeds, max(weight) AS seed_weight
    FROM seed_tags GROUP BY kind, tag_id
), seen AS (
    SELECT 'actor' AS kind, ac.actor_id AS tag_id, a.story_id,
           coalesce(a.published_at, a.first_seen_at) AS event_at
    FROM article_actors ac JOIN articles a USING (article_id)
    UNION ALL
    SELECT 'theme', th.theme_id, a.story_id, coalesce(a.published_at, a.first_seen_at)
    FROM article_themes th JOIN articles a USING (article_id)
), per_story AS (
    SELECT kind, tag_id, story_id, min(event_at) AS first_seen, max(event_at) AS last_seen,
           count(*) AS articles,
           bool_or(event_at >= now() - INTERVAL 60 DAY AND event_at < now() - INTERVAL 30 DAY)
               AS in_prior_30d
    FROM seen WHERE (kind, tag_id) IN (SELECT kind, tag_id FROM seeded)
    GROUP BY kind, tag_id, story_id
)
SELECT s.kind, s.tag_id, s.seeds, s.seed_weight,
       min(p.first_seen) AS first_seen, max(p.last_seen) AS last_seen,
       sum(p.articles)::BIGINT AS articles, count(*) AS stories,
       count(*) FILTER (WHERE p.last_seen >= now() - INTERVAL 7 DAY) AS stories_7d,
       count(*) FILTER (WHERE p.last_seen >= now() - INTERVAL 30 DAY) AS stories_30d,
       count(*) FILTER (WHERE p.in_prior_30d) AS stories_prior_30d,
       round(count(*) FILTER (WHERE p.last_seen >= now() - INTERVAL 30 DAY)
             / nullif(count(*) FILTER (WHERE p.in_prior_30d), 0), 2) AS ratio_to_prior
FROM seeded s JOIN per_story p USING (kind, tag_id)
GROUP BY s.kind, s.tag_id, s.seeds, s.seed_weight;

CREATE OR REPLACE VIEW v_emerging_actors AS
SELECT name, mentions, articles, examples, refreshed_at FROM emerging_actors;

CREATE OR REPLACE VIEW v_feed_health AS
SELECT f.feed_id, coalesce(f.name, f.title) AS name, f.url, f.active, f.last_success_at,
       f.consecutive_failures, f.next_due_at, f.last_outcome, f.last_error,
       (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id) AS articles
FROM feeds f;

-- Alert log: one row per alert and destination (alert_deliveries), so each destination's
-- latest delivery state is visible; an alert not yet tried anywhere (digest, quiet hours, or
-- queued) has one row with a NULL destination. Destinations are labels, never URLs or tokens.
CREATE OR REPLACE VIEW v_alert_log AS
SELECT al.alert_id, al.created_at, al.topic_id, al.severity, al.mode, al.subscriber,
       al.evidence AS matched_terms,
       al.article_id, al.story_id, a.title, a.canonical_url AS url, a.site_name AS outlet,
       coalesce(a.published_at, a.first_seen_at) AS event_at,
       al.status AS alert_status, al.attempts AS alert_attempts,
       al.last_error AS alert_last_error, al.note AS alert_note, al.next_attempt_at,
       al.sent_at AS alert_sent_at,
       d.destination, d.status AS delivery_status, d.attempts AS delivery_attempts,
       d.last_error AS delivery_last_error, d.sent_at AS delivery_sent_at
FROM alerts al
LEFT JOIN articles a USING (article_id)
LEFT JOIN alert_deliveries d USING (alert_id);
