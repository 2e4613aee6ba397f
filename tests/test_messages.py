"""Message formatters: what a subscriber can act on, escaped for each format (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from spacewatch.alerts.messages import (
    AlertView,
    Message,
    format_alert,
    format_digest,
    link_url,
    make_snippet,
)
from spacewatch.alerts.rules import build_rule, describe_rule

URL = "https://news.example.org/story?id=1&x=(2)"
WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def alert(title: str | None = "Lunar base plans", text: str | None = None, evidence: tuple[str, ...] = ("lunar base",), **kw: object) -> AlertView:
    return AlertView(
        alert_id=kw.pop("alert_id", 7),  # type: ignore[arg-type]
        topic_id="lunar_station",
        topic_name="Lunar station",
        severity="info",
        title=title,
        url=kw.pop("url", URL),  # type: ignore[arg-type]
        site_name=kw.pop("site_name", "Frontier Wire"),  # type: ignore[arg-type]
        published_at=WHEN,
        evidence=evidence,
        excerpt=text,
        subscriber="desk",
        outlets=kw.pop("outlets", ("Frontier Wire", "Lunar Ledger", "Orbital Desk")),  # type: ignore[arg-type]
        first_seen_at=datetime(2026, 3, 1, 10, 5, tzinfo=UTC),
        actors=("CNSA", "Roscosmos"),
        rule_text="theme moon_base_ilrs",
    )


def test_rule_in_words() -> None:
    rule = build_rule({"id": "m", "name": "M", "themes": ["mars_crewed_landing"], "min_relevance": 0.6, "actors": ["spacex", "nasa"]})
    assert describe_rule(rule) == "theme mars_crewed_landing with relevance >= 0.6, any of actors spacex, nasa"
    rule = build_rule({"id": "k", "name": "K", "all_themes": ["a", "b"], "keywords": "asat OR jamming", "none_actors": ["esa"], "relevant_only": False})
    assert describe_rule(rule) == "all of themes a, b, keywords asat OR jamming, none of actors esa, including articles not judged policy-relevant"


def test_alert_carries_link_outlets_first_seen_actors_rule_and_how_to_stop() -> None:
    m = format_alert(alert(text="Officials said the lunar base would open in 2030."))
    for body in (m.markdown, m.slack, m.text, m.html):
        assert "Frontier Wire, Lunar Ledger, Orbital Desk" in body and "3:" in body
        assert "2026-03-01 10:05 UTC" in body  # first seen
        assert "CNSA, Roscosmos" in body
        assert "moon" in body and "theme" in body  # the rule in words
        assert "muted" in body and "paused" in body and "desk" in body
    assert f"[Read the article]({link_url(URL)})" in m.markdown
    assert f"<{link_url(URL)}|Read the article>" in m.slack
    assert f"Link: {URL}" in m.text
    # The URL is visible text in the HTML, so the e-mail's plain-text part (made from it) keeps it.
    assert f">{URL.replace('&', '&amp;')}</a>" in m.html


def test_highlights_never_nest_and_evidence_names_only_what_is_shown() -> None:
    text = "Intro. " * 80 + "The Moon base of the ILRS was shown." + " Filler." * 80
    snippet = make_snippet(text, ("moon base", "moon", "ILRS", "never in the text"), title="Plans")
    assert snippet.shown == ("moon base", "ILRS")  # 'moon' only inside 'moon base': one span
    assert snippet.hidden == 2
    m = format_alert(alert(title="Plans", text=text, evidence=("moon base", "moon", "ILRS", "never in the text")))
    assert "<mark>Moon base</mark>" in m.html and "<mark><mark>" not in m.html
    assert "never in the text" not in m.html + m.markdown + m.text + m.slack
    assert "(+2 more not quoted)" in m.text


def test_digest_has_snippets_outlet_counts_links_and_how_to_stop() -> None:
    a = alert(text="The lunar base was approved by the council.")
    b = alert(alert_id=8, title="Single", text="Another lunar base story.", outlets=("Orbital Desk",), url="https://x.example/b")
    m = format_digest("desk", [a, b], WHEN)
    for body in (m.markdown, m.text, m.html, m.slack):
        assert "3 outlets" in body and "1 outlet:" in body
        assert "approved by the council" in body and "Another" in body
        assert "muted" in body and "paused" in body
    assert "<mark>lunar base</mark>" in m.html
    assert "Link: https://x.example/b" in m.text and "Link: https://x.example/b" in m.html


def test_body_for_picks_the_format_each_destination_takes() -> None:
    m = Message("t", "md", "<p>h</p>", "txt", "slk")
    assert m.body_for(["html", "text"], "E-Mail") == ("<p>h</p>", "html")
    assert m.body_for(["markdown", "text"], "Slack") == ("slk", "markdown")
    assert m.body_for(["text", "markdown"], "Discord") == ("md", "markdown")
    assert m.body_for(["html", "markdown"], "Telegram") == ("<p>h</p>", "html")
    assert m.body_for(["text"], "SMS") == ("txt", "text")


# --- properties: feed text never injects mentions, links or markup ----------------------------

_DANGER = st.sampled_from(
    ["@channel", "@here", "@everyone", "<!channel>", "<!here|x>", "<@U123>", "<@&42>", "<#C1>",
     "!channel>", "@U99>", "[x](http://evil.example)", "](javascript:alert(1))", "http://evil.example",
     "https://evil.example/a|b>", "www.evil.example", "<script>", "</mark>", "<mark>", "**", "\\", "`",
     "&lt;", "&gt;", "&#64;", "\n", "> ", "|", "*", "_", "moon", "Moon base"]
)
feed_text = st.lists(st.one_of(_DANGER, st.text(max_size=8)), max_size=14).map("".join)
_MENTION = re.compile(r"@[\w!#&]")


def _unescaped(markdown: str, char: str) -> list[int]:
    """Positions of `char` not escaped by an odd run of backslashes."""
    found = []
    for i, c in enumerate(markdown):
        if c == char:
            run = 0
            while i - run - 1 >= 0 and markdown[i - run - 1] == "\\":
                run += 1
            if run % 2 == 0:
                found.append(i)
    return found


def _check_markdown(md: str, urls: set[str]) -> None:
    assert not _MENTION.search(md)
    quotes = re.sub(r"(?m)^ *> ", "", md)  # our own block quotes
    assert not _unescaped(quotes, "<") and not _unescaped(quotes, ">")
    # Every unescaped '[' opens one of our links, to the story itself.
    for pos in _unescaped(md, "["):
        close = md.index("](", pos)
        target = md[close + 2 : md.index(")", close)]
        assert target in urls, (target, md)
    assert md.count("://") == sum(md.count(u) for u in urls)
    assert not re.search(r"(?i)www\.", md)


def _check_slack(sl: str, urls: set[str]) -> None:
    assert not _MENTION.search(sl)
    # The only angle brackets are our own links; a stray '>' would let Apprise rebuild
    # '!channel>' or '@U1>' into a real mention.
    without = re.sub(r"<(" + "|".join(re.escape(u) for u in urls) + r")\|[^<>\n]*>", "", sl)
    without = re.sub(r"(?m)^> ", "", without)
    assert "<" not in without and ">" not in without, without
    assert without.count("://") == 0


def _check_html(body: str) -> None:
    ours = r"</?(h1|h2|p|b|mark|ul|li|blockquote|small|br)>|<a href=\"[^\"<>]*\">|</a>"
    assert "<" not in re.sub(ours, "", body)
    # Highlights are flat: no <mark> opens before the previous one closed.
    assert not re.search(r"<mark>(?:(?!</mark>).)*<mark>", body, re.S)


@settings(max_examples=300, deadline=None)
@given(title=feed_text, text=feed_text, evidence=st.lists(feed_text, max_size=4), outlet=feed_text)
def test_alert_never_leaks_a_mention_a_link_or_markup(title: str, text: str, evidence: list[str], outlet: str) -> None:
    m = format_alert(alert(title=title or None, text=text, evidence=tuple(evidence), site_name=outlet, outlets=(outlet,)))
    _check_markdown(m.markdown, {link_url(URL)})
    _check_slack(m.slack, {link_url(URL)})
    _check_html(m.html)
    assert not _MENTION.search(m.text) and not _MENTION.search(m.title)
    assert m.text.count("://") == 1 and "](" not in m.title and "<" not in m.title


@settings(max_examples=150, deadline=None)
@given(titles=st.lists(feed_text, min_size=1, max_size=3), text=feed_text, evidence=st.lists(feed_text, max_size=3))
def test_digest_never_leaks_a_mention_a_link_or_markup(titles: list[str], text: str, evidence: list[str]) -> None:
    alerts = [alert(alert_id=i, title=t or None, text=text, evidence=tuple(evidence), url=f"https://news.example.org/{i}") for i, t in enumerate(titles)]
    m = format_digest("desk", alerts, WHEN)
    urls = {link_url(a.url) for a in alerts}
    _check_markdown(m.markdown, urls)
    _check_slack(m.slack, urls)
    _check_html(m.html)


@settings(max_examples=300, deadline=None)
@given(text=feed_text, evidence=st.lists(feed_text, max_size=5), title=feed_text)
def test_snippet_names_only_evidence_it_shows(text: str, evidence: list[str], title: str) -> None:
    s = make_snippet(text, evidence, title)
    spans = list(s.spans)
    assert all(a < b <= c for (a, b), (c, _) in pairwise(spans))  # flat, ordered
    shown_in = (s.text + "\n" + " ".join(title.split())).lower()
    for phrase in s.shown:
        assert phrase.lower() in shown_in


def test_each_apprise_plugin_is_given_the_rendering_of_its_own_format() -> None:
    import apprise

    from spacewatch.alerts.sending import plugin_formats as _formats

    m = Message("t", "md", "<p>h</p>", "txt", "slk")
    expected = {
        "mailto://127.0.0.1:2525?from=alerts@example.com&to=desk@example.com": "<p>h</p>",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ": "slk",
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js": "md",
        "tgram://123456789:abcdefg_hijklmnop/12315544": "<p>h</p>",
        "json://127.0.0.1:9/hook": "md",
        "json://127.0.0.1:9/hook?format=text": "txt",
    }
    for url, body in expected.items():
        plugin = apprise.Apprise.instantiate(url)
        assert plugin is not None, url
        assert m.body_for(_formats(plugin), plugin.service_name)[0] == body, url


def test_email_plain_text_part_carries_the_link() -> None:
    from receivers import smtp_server

    from spacewatch.alerts.delivery import destinations, send_with_timeout
    from spacewatch.config import SubscriberConfig

    with smtp_server() as smtp:
        sub = SubscriberConfig(name="desk", urls=(smtp.url(),), topics=())
        targets, problems = destinations(sub, 0)
        assert not problems
        assert send_with_timeout(targets[0], format_alert(alert(text="The lunar base.")), 20) is None
    (mail,) = smtp.messages
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    html_part = mail.get_body(preferencelist=("html",)).get_content()
    assert URL in plain and "Frontier Wire, Lunar Ledger, Orbital Desk" in plain
    assert f'href="{URL.replace("&", "&amp;")}"' in html_part
