"""The comment form fuzzed end to end (hypothesis): what an attacker can type into each field.

Each example fills the form's fields (name, email, website, comment, the parent's id) with
text made from HTML, URL-scheme and entity fragments, control characters and arbitrary
Unicode, posts it as an anonymous reader, and checks what must always hold:

- the answer is a 303 (stored) or a refusal the README names (400, 403, 409, 413, 429),
  never a 5xx;
- a refused form comes back with everything typed in it, exactly;
- a stored comment's HTML keeps to the whitelist, and the post page that shows it (to its
  author, held or not) holds no script, no event handler and no link with a scheme other
  than the allowed ones, anywhere on the page.

Bounded by ``COMMENT_FUZZ_EXAMPLES`` (default 150) and derandomized: the same examples on
every run.
"""

from __future__ import annotations

import os
import re

from comment_helpers import by_id, form_values, page
from conftest import create_post, create_user
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_sanitize import FRAGMENTS, assert_safe_comment, parse, scheme

from blog.extensions import db
from blog.models import Comment
from blog.sanitize import ALLOWED_PROTOCOLS, DEFAULT_COMMENT_WHITELIST

EXAMPLES = int(os.environ.get("COMMENT_FUZZ_EXAMPLES", "150"))
REFUSALS = {400, 403, 409, 413, 429}

pieces = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4))
# Pieces a keyboard can type: no control characters (those are refused, tested above).
printable = st.one_of(
    st.sampled_from([f for f in FRAGMENTS if f.isprintable() or f.strip(" \t\n") == ""]),
    st.text(st.characters(exclude_categories=("Cc", "Cs", "Cn", "Co")), max_size=4),
)
typed = st.one_of(st.text(max_size=60), st.lists(pieces, max_size=25).map("".join))
# Half the examples attack every field; the other half send a well-formed reader and put
# the attack in the comment alone, so that the stored path (sanitizer, page) gets as many
# examples as the refusals do.
everything = st.fixed_dictionaries(
    {
        "author": st.one_of(st.just("Mallory"), typed),
        "email": st.one_of(st.just("mallory@example.org"), typed),
        "url": st.one_of(
            st.just(""), st.sampled_from(["javascript:alert(1)", "https://ok.example/"]), typed
        ),
        "comment": typed,
        "comment_parent": st.one_of(st.just("0"), st.integers().map(str), typed),
    }
)
the_comment = st.fixed_dictionaries(
    {
        "author": st.just("Mallory"),
        "email": st.just("mallory@example.org"),
        "url": st.sampled_from(["", "https://mallory.example/"]),
        "comment": st.lists(printable, min_size=1, max_size=40).map("".join),
        "comment_parent": st.just("0"),
    }
)
forms = st.one_of(the_comment, everything)

# The page's own scripts and the attributes they are loaded by; nothing else may run.
SCRIPT_SOURCE = re.compile(r"^/static/[\w./-]+\.js(\?[\w=.-]*)?$")


def assert_page_runs_nothing_typed(html: str) -> None:
    for tag, attrs in parse(html).elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "cite", "action", "formaction", "poster", "srcset"):
                found = scheme(value)
                assert found in (None, *ALLOWED_PROTOCOLS), (tag, name, value)
        if tag == "script":
            assert SCRIPT_SOURCE.match(attrs.get("src") or ""), attrs
        assert tag not in {"iframe", "object", "embed", "base", "frame"}, (tag, attrs)
        if tag == "meta":
            assert "http-equiv" not in attrs, attrs  # no refresh to another address


def as_a_browser_reads(text: str) -> str:
    """What an HTML parser makes of ``text`` in a page: line ends become LF, NUL becomes
    U+FFFD (HTML's input stream cannot carry them as they were)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")


def test_the_comment_form_holds_against_anything_typed(app: Flask) -> None:
    create_user(app, "admin", "admin")
    post_id, path = create_post(app, "admin", title="Fuzzed form")
    seen = {"stored": 0, "refused": 0}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(fields=forms)
    def run(fields: dict[str, str]) -> None:
        client = app.test_client()  # a new reader each time: no cookie carried over
        response = client.post(path, data=fields)
        status = response.status_code
        assert status == 303 or status in REFUSALS, (status, fields)
        if status == 303:
            seen["stored"] += 1
            comment_id = int(response.location.rsplit("#comment-", 1)[1])
            with app.app_context():
                comment = db.session.scalars(select(Comment).where(Comment.id == comment_id)).one()
                assert comment.post_id == post_id
                assert comment.content == fields["comment"].strip() or comment.content
                assert_safe_comment(comment.content_html, DEFAULT_COMMENT_WHITELIST)
            shown = client.get(path)  # with the cookie that shows a held comment to its author
            assert shown.status_code == 200
            assert_page_runs_nothing_typed(shown.get_data(as_text=True))
            return
        seen["refused"] += 1
        if status in (400, 403, 409):
            form = by_id(page(response), "commentform")
            assert form is not None, status
            kept = form_values(form)
            for name in ("author", "email", "url", "comment"):
                assert kept.get(name) == as_a_browser_reads(fields[name]), name
            assert_page_runs_nothing_typed(response.get_data(as_text=True))

    run()
    # Both paths were exercised, or the run proved little.
    assert seen["stored"] >= EXAMPLES // 5 and seen["refused"] >= EXAMPLES // 5, seen
