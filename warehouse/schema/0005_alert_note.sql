-- Why an alert is kept but not (yet) sent, in words for the operator and the subscriber:
-- 'stale' (older than [alerts] max_age_h when it matched), 'muted' (a topic the subscriber
-- muted) or held in the digest while the subscriber is paused. Never a URL or a token.
ALTER TABLE alerts ADD COLUMN note VARCHAR;
