"""A 304's fresh Last-Modified, and which feed a poll record belongs to.

Found by mutation testing (make mutation): reading the wrong header for a 304's Last-Modified,
or recording a poll without its feed, passed every other test.
"""

from __future__ import annotations

from test_polling import NEW_LM, NOW, OLD_LM, POLICY, result, state

from spacewatch.extractors.models import Outcome
from spacewatch.extractors.polling import decide_update


def test_304_with_a_fresh_last_modified_takes_it_and_keeps_the_etag() -> None:
    feed = state(etag='"v1"', last_modified=OLD_LM)
    res = result(Outcome.NOT_MODIFIED, headers=(("last-modified", NEW_LM),))
    update = decide_update(feed, res, NOW, POLICY)
    assert (update.etag, update.last_modified) == ('"v1"', NEW_LM)


def test_the_poll_record_is_the_polled_feeds() -> None:
    for outcome in Outcome:
        update = decide_update(state(feed_id=41), result(outcome), NOW, POLICY)
        assert update.feed_id == 41
