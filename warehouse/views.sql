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

CREATE OR REPLACE VIEW v_actor_trends AS
SELECT 'day' AS grain, date_trunc('day', event_at) AS period, actor_id, any_value(actor_name) AS actor_name,
       count(DISTINCT article_id) AS articles, count(DISTINCT story_id) AS stories,
       sum(mentions) AS mentions
FROM v_actor_mentions GROUP BY ALL
UNION ALL
SELECT 'week', date_trunc('week', event_at), actor_id, any_value(actor_name),
       count(DISTINCT article_id), count(DISTINCT story_id), sum(mentions)
FROM v_actor_mentions GROUP BY ALL;

CREATE OR REPLACE VIEW v_theme_trends AS
SELECT 'day' AS grain, date_trunc('day', event_at) AS period, theme_id,
       count(DISTINCT article_id) AS articles, count(DISTINCT story_id) AS stories,
       avg(score) AS mean_score
FROM v_theme_mentions GROUP BY ALL
UNION ALL
SELECT 'week', date_trunc('week', event_at), theme_id,
       count(DISTINCT article_id), count(DISTINCT story_id), avg(score)
FROM v_theme_mentions GROUP BY ALL;

-- Actors and themes of the seed corpus seen again in new articles.
CREATE OR REPLACE VIEW v_recurring AS
WITH seen AS (
    SELECT 'actor' AS kind, actor_id AS tag_id, article_id, story_id, event_at FROM v_actor_mentions
    UNION ALL
    SELECT 'theme', theme_id, article_id, story_id, event_at FROM v_theme_mentions
), seeded AS (
    SELECT kind, tag_id, list(DISTINCT seed) AS seeds, max(weight) AS seed_weight
    FROM seed_tags GROUP BY kind, tag_id
)
SELECT s.kind, s.tag_id, s.seeds, s.seed_weight,
       min(seen.event_at) AS first_seen, max(seen.event_at) AS last_seen,
       count(DISTINCT seen.article_id) AS articles, count(DISTINCT seen.story_id) AS stories,
       count(DISTINCT seen.story_id) FILTER (WHERE seen.event_at >= now() - INTERVAL 7 DAY) AS stories_7d,
       count(DISTINCT seen.story_id) FILTER (WHERE seen.event_at >= now() - INTERVAL 30 DAY) AS stories_30d,
       count(DISTINCT seen.story_id) FILTER (WHERE seen.event_at >= now() - INTERVAL 60 DAY
                                          AND seen.event_at < now() - INTERVAL 30 DAY) AS stories_prior_30d,
       round(count(DISTINCT seen.story_id) FILTER (WHERE seen.event_at >= now() - INTERVAL 30 DAY)
             / nullif(count(DISTINCT seen.story_id) FILTER (WHERE seen.event_at >= now() - INTERVAL 60 DAY
                                                        AND seen.event_at < now() - INTERVAL 30 DAY), 0), 2)
           AS ratio_to_prior
FROM seeded s JOIN seen USING (kind, tag_id)
GROUP BY ALL;

CREATE OR REPLACE VIEW v_emerging_actors AS
SELECT name, mentions, articles, examples, refreshed_at FROM emerging_actors;

CREATE OR REPLACE VIEW v_feed_health AS
SELECT f.feed_id, coalesce(f.name, f.title) AS name, f.url, f.active, f.last_success_at,
       f.consecutive_failures, f.next_due_at, f.last_outcome, f.last_error,
       (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id) AS articles
FROM feeds f;

-- Alert log: one row per alert and destination (alert_deliveries), so each destination's
-- latest delivery state is visible; an alert not yet tried anywhere (digest, quiet hours, or
-- queued) has one row with a NULL destination. Destinations are stored masked, never as URLs.
CREATE OR REPLACE VIEW v_alert_log AS
SELECT al.alert_id, al.created_at, al.topic_id, al.severity, al.mode, al.subscriber,
       al.evidence AS matched_terms,
       al.article_id, al.story_id, a.title, a.canonical_url AS url, a.site_name AS outlet,
       coalesce(a.published_at, a.first_seen_at) AS event_at,
       al.status AS alert_status, al.attempts AS alert_attempts,
       al.last_error AS alert_last_error, al.next_attempt_at, al.sent_at AS alert_sent_at,
       d.destination, d.status AS delivery_status, d.attempts AS delivery_attempts,
       d.last_error AS delivery_last_error, d.sent_at AS delivery_sent_at
FROM alerts al
LEFT JOIN articles a USING (article_id)
LEFT JOIN alert_deliveries d USING (alert_id);
