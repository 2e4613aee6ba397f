-- Search like a search box, in SQL, over the snapshot's full-text index (fts_main_articles).
-- Created in every published snapshot by warehouse/search.py; `spacewatch search` calls
-- search_stories, so the command and these macros can never mean different things.
--
--   words           every word must appear (AND), stemmed: "stations" finds "station"
--   "a phrase"      these words, next to each other, in this order
--   a OR b          either; OR (in capitals) binds the terms on each side of it
--   -word -"a b"    leave out articles with this word or phrase
--   ''              no words: the filters alone, newest first
-- Common words (the, of, ...) are not indexed and are ignored, as a search box does.

CREATE OR REPLACE MACRO search_articles(
    q, relevant_only := true, actors := NULL, themes := NULL, source := NULL, since := NULL,
    until := NULL
) AS TABLE
WITH tokens AS (
    SELECT pos, tok, tok = 'OR' AS is_or,
           starts_with(tok, '-') AND length(tok) > 1 AS excluded,
           lag(tok = 'OR') OVER (ORDER BY pos) AS after_or
    FROM (SELECT unnest(ts) AS tok, unnest(range(1, len(ts) + 1)) AS pos
          FROM (SELECT regexp_extract_all(coalesce(q, ''), '-?"[^"]*"?|[^\s"]+') AS ts))
), terms AS (
    -- grp: terms joined by OR share a group; a match needs one term of every group.
    SELECT pos, excluded, body, contains(tok, '"') AS phrase,
           sum(CASE WHEN excluded OR coalesce(after_or, false) THEN 0 ELSE 1 END)
               OVER (ORDER BY pos) AS grp,
           '(^|[^\pL\pN])'
               || array_to_string(regexp_extract_all(lower(strip_accents(body)), '[\pL\pN]+'),
                                  '[^\pL\pN]+')
               || '($|[^\pL\pN])' AS pattern
    FROM (SELECT *, trim(ltrim(tok, '-'), '"') AS body FROM tokens WHERE NOT is_or)
), stems AS (
    -- The index's own tokenizer and stemmer, without the words it does not index.
    SELECT DISTINCT pos, stem(w, 'english') AS term
    FROM (SELECT pos, unnest(fts_main_articles.tokenize(body)) AS w FROM terms)
    WHERE w <> '' AND w NOT IN (SELECT sw FROM fts_main_articles.stopwords)
), counted AS (
    SELECT pos, count(*) AS n FROM stems GROUP BY pos
), term_docs AS (
    SELECT s.pos, t.docid
    FROM stems s
    JOIN fts_main_articles.dict d ON d.term = s.term
    JOIN fts_main_articles.terms t ON t.termid = d.termid
    JOIN counted c ON c.pos = s.pos
    GROUP BY s.pos, t.docid
    HAVING count(DISTINCT s.term) = any_value(c.n)
), term_articles AS (
    SELECT td.pos, d.name AS article_id
    FROM term_docs td
    JOIN fts_main_articles.docs d ON d.docid = td.docid
    JOIN terms t ON t.pos = td.pos
    JOIN articles a ON a.article_id = d.name
    WHERE NOT t.phrase
       OR regexp_matches(lower(strip_accents(coalesce(a.title, '') || ' ' || coalesce(a.text, ''))),
                         t.pattern)
), groups AS (
    SELECT DISTINCT grp FROM terms JOIN counted USING (pos) WHERE NOT excluded
), matched AS (
    SELECT ta.article_id
    FROM term_articles ta JOIN terms t ON t.pos = ta.pos
    WHERE NOT t.excluded
    GROUP BY ta.article_id
    HAVING count(DISTINCT t.grp) = (SELECT count(*) FROM groups)
), candidates AS (
    SELECT article_id FROM matched
    UNION ALL
    SELECT article_id FROM articles WHERE NOT EXISTS (SELECT 1 FROM groups)
), kept AS (
    SELECT c.article_id FROM candidates c
    WHERE c.article_id NOT IN (
        SELECT ta.article_id FROM term_articles ta JOIN terms t ON t.pos = ta.pos
        WHERE t.excluded)
)
SELECT a.article_id, a.story_id,
       fts_main_articles.match_bm25(
           a.article_id, (SELECT string_agg(body, ' ') FROM terms WHERE NOT excluded)
       ) AS score,
       coalesce(a.published_at, a.first_seen_at) AS event_at,
       coalesce(a.site_name,
                (SELECT min(coalesce(f.name, f.title)) FROM article_sources s
                 JOIN feeds f USING (feed_id) WHERE s.article_id = a.article_id)) AS outlet,
       a.title, a.canonical_url AS url, tg.relevant
FROM kept k
JOIN articles a ON a.article_id = k.article_id
LEFT JOIN article_tags tg ON tg.article_id = a.article_id
WHERE (NOT relevant_only OR coalesce(tg.relevant, false))
  AND (coalesce(len(actors), 0) = 0
       OR (SELECT count(DISTINCT x.actor_id) FROM article_actors x
           WHERE x.article_id = a.article_id AND list_contains(actors, x.actor_id))
          = len(list_distinct(actors)))
  AND (coalesce(len(themes), 0) = 0
       OR (SELECT count(DISTINCT x.theme_id) FROM article_themes x
           WHERE x.article_id = a.article_id AND list_contains(themes, x.theme_id))
          = len(list_distinct(themes)))
  AND (source IS NULL
       OR a.site_name ILIKE '%' || source || '%'
       OR EXISTS (SELECT 1 FROM article_sources s JOIN feeds f USING (feed_id)
                  WHERE s.article_id = a.article_id
                    AND coalesce(f.name, f.title, '') ILIKE '%' || source || '%'))
  AND (since IS NULL OR coalesce(a.published_at, a.first_seen_at) >= CAST(since AS TIMESTAMPTZ))
  AND (until IS NULL  -- inclusive: the whole of that (UTC) day
       OR coalesce(a.published_at, a.first_seen_at) < CAST(CAST(until AS DATE) + 1 AS TIMESTAMPTZ));

-- One row per story: its best-scoring article speaks for it (ties: the earliest), with every
-- outlet that carried it. Same arguments as search_articles.
CREATE OR REPLACE MACRO search_stories(
    q, relevant_only := true, actors := NULL, themes := NULL, source := NULL, since := NULL,
    until := NULL
) AS TABLE
SELECT round(max(m.score), 3) AS score,
       strftime(min(m.event_at), '%Y-%m-%d') AS date,
       arg_min(m.title, (-coalesce(m.score, 0), m.event_at, m.article_id)) AS title,
       list(DISTINCT m.outlet ORDER BY m.outlet) FILTER (WHERE m.outlet IS NOT NULL) AS outlets,
       count(*) AS articles,
       arg_min(m.themes, (-coalesce(m.score, 0), m.event_at, m.article_id)) AS themes,
       arg_min(m.url, (-coalesce(m.score, 0), m.event_at, m.article_id)) AS url,
       m.story_id
FROM (SELECT s.*,
             (SELECT list(th.theme_id ORDER BY th.score DESC, th.theme_id)
              FROM article_themes th WHERE th.article_id = s.article_id) AS themes
      FROM search_articles(q, relevant_only := relevant_only, actors := actors,
                           themes := themes, source := source, since := since,
                           until := until) s) m
GROUP BY m.story_id
ORDER BY score DESC NULLS LAST, date DESC, m.story_id;
