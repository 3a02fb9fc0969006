"""The reader's comment path, through the real form POST on a post's page.

What is asserted is what a reader's browser gets: the parsed page, the status code, the
redirect and the cookies; the database is read only to learn ids and stored values.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from comment_helpers import (
    WP_ALLOWED_TAGS,
    add_comment,
    all_comments,
    approve,
    by_id,
    comment_data,
    comment_id_from,
    discussion_form,
    elements,
    get_comment,
    page,
    parent_map,
    post_comment,
    set_discussion,
    text,
    with_class,
)
from conftest import (
    count_statements,
    create_post,
    create_user,
    login,
    make_app,
    recorded_statements,
)
from flask import Flask
from flask.testing import FlaskClient

from blog.comments import tokens
from blog.extensions import db
from blog.models import utcnow
from blog.moderation import CommentStatus
from blog.sanitize import DEFAULT_COMMENT_WHITELIST


@pytest.fixture
def post(app: Flask, admin: str) -> tuple[int, str]:
    return create_post(app, admin, title="On gardens")


@pytest.fixture
def path(post: tuple[int, str]) -> str:
    return post[1]


@pytest.fixture
def post_id(post: tuple[int, str]) -> int:
    return post[0]


@pytest.fixture
def custom_app(app: Flask, database_uri: str, tmp_path: Path):
    """Apps with config overrides on the same database; the ``app`` fixture empties it."""
    made: list[Flask] = []

    def build(**overrides: object) -> Flask:
        new = make_app(database_uri, tmp_path / f"custom-{len(made)}", **overrides)
        made.append(new)
        return new

    yield build
    for built in made:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()


def comment_form(response):
    return by_id(page(response), "commentform")


# --- the form ---------------------------------------------------------------------------


def test_post_page_has_the_wordpress_comment_form(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    root = page(response)
    form = by_id(root, "commentform")
    assert form is not None and form.tag == "form"
    assert form.get("method") == "post"
    names = {e.get("name") for e in form.iter() if e.get("name")}
    assert {"author", "email", "url", "comment", "comment_parent"} <= names
    assert by_id(root, "comment_parent").get("value") == "0"
    assert form.find(".//textarea[@name='comment']") is not None


def test_form_carries_a_csrf_token_when_csrf_is_on(custom_app, admin: str, post) -> None:
    app = custom_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    form = comment_form(client.get(post[1]))
    token = form.find(".//input[@name='csrf_token']")
    assert token is not None and token.get("value")
    refused = client.post(post[1], data=comment_data())
    assert refused.status_code == 400
    assert "security token is missing" in refused.get_data(as_text=True)
    assert all_comments(app) == []
    accepted = client.post(post[1], data=comment_data(csrf_token=token.get("value")))
    assert accepted.status_code == 303


def test_allowed_tags_line_is_wordpress_s(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    raw = response.get_data(as_text=True)
    assert "&lt;a href=" in raw  # escaped in the markup, never live tags
    assert text(by_id(page(response), "allowed-tags")) == WP_ALLOWED_TAGS


DEFAULT_WHITELIST_TEXT = "\n".join(
    " ".join([tag, *sorted(attrs)]) for tag, attrs in DEFAULT_COMMENT_WHITELIST.items()
)


@pytest.mark.parametrize(
    ("whitelist", "line", "comment", "kept", "gone"),
    [
        pytest.param(
            "\n".join(x for x in DEFAULT_WHITELIST_TEXT.splitlines() if x != "b"),
            WP_ALLOWED_TAGS.replace(" <b>", ""),
            "<b>bold</b> <strong>strong</strong>",
            ["<strong>strong</strong>", "bold"],
            ["<b>"],
            id="remove-b",
        ),
        pytest.param(
            "b\nul\nli",
            "<b> <ul> <li>",
            "<ul><li>one</li></ul><em>emphasis</em>",
            ["<ul><li>one</li></ul>", "emphasis"],
            ["<em>"],
            id="add-ul-li-drop-the-rest",
        ),
        pytest.param(
            "a href\nABBR   title",
            '<a href=""> <abbr title="">',
            '<a href="https://example.org/" title="t">x</a> <abbr title="T">y</abbr>',
            ['<a href="https://example.org/" rel="nofollow ugc">x</a>', '<abbr title="T">y</abbr>'],
            ['title="t"'],
            id="attributes-follow-the-setting",
        ),
    ],
)
def test_whitelist_setting_changes_the_line_and_the_sanitizer_together(
    app: Flask,
    client: FlaskClient,
    admin: str,
    path: str,
    whitelist: str,
    line: str,
    comment: str,
    kept: list[str],
    gone: list[str],
) -> None:
    admin_client = app.test_client()
    login(admin_client, admin)
    saved = admin_client.post(
        "/admin/settings/discussion", data=discussion_form(comment_whitelist=whitelist)
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)

    assert text(by_id(page(client.get(path)), "allowed-tags")) == line
    stored = get_comment(app, comment_id_from(post_comment(client, path, comment=comment)))
    for fragment in kept:
        assert fragment in stored.content_html
    for fragment in gone:
        assert fragment not in stored.content_html


# --- posting and who sees what ----------------------------------------------------------


def test_post_answers_303_to_the_comment_and_shows_it_held_to_its_author_only(
    app: Flask, client: FlaskClient, path: str
) -> None:
    response = post_comment(client, path, comment="Held for now.")
    comment_id = comment_id_from(response)
    assert response.headers["Location"] == f"{path}#comment-{comment_id}"
    assert get_comment(app, comment_id).status == CommentStatus.PENDING
    held_cookie = _cookie_names(response)["comment_held"]
    assert "HttpOnly" in held_cookie and "SameSite=Lax" in held_cookie
    # Sent back to this post's pages only: the reader's other pages stay cacheable.
    assert f"Path={path}" in held_cookie

    mine = page(client.get(path))
    shown = by_id(mine, f"comment-{comment_id}")
    assert shown is not None
    assert "Held for now." in text(shown)
    assert "Your comment is awaiting moderation." in text(shown)

    stranger = app.test_client()
    assert by_id(page(stranger.get(path)), f"comment-{comment_id}") is None
    assert "Held for now." not in stranger.get(path).get_data(as_text=True)


@pytest.mark.parametrize(
    "cookie",
    [
        "WzFd.forged-signature",
        "not-even-a-token",
        "WzEsMiwzXQ",  # [1,2,3] unsigned
    ],
)
def test_a_forged_held_comment_cookie_shows_nothing(
    app: Flask, client: FlaskClient, path: str, cookie: str
) -> None:
    comment_id = comment_id_from(post_comment(client, path, comment="Only mine."))
    other = app.test_client()
    other.set_cookie("comment_held", cookie)
    body = other.get(path)
    assert body.status_code == 200
    assert by_id(page(body), f"comment-{comment_id}") is None


def test_a_tampered_held_comment_cookie_shows_nothing(
    app: Flask, client: FlaskClient, path: str
) -> None:
    victim = app.test_client()
    theirs = comment_id_from(post_comment(victim, path, comment="Someone else's."))
    mine = comment_id_from(post_comment(client, path, comment="Mine.", email="me@example.org"))
    signature = client.get_cookie("comment_held", path=path).value.rsplit(".", 1)[1]
    # Swap the payload for one naming the other comment, keeping the signature.
    forged = base64.urlsafe_b64encode(json.dumps([theirs]).encode()).decode().rstrip("=")
    client.set_cookie("comment_held", f"{forged}.{signature}", path=path)
    root = page(client.get(path))
    assert by_id(root, f"comment-{theirs}") is None
    assert by_id(root, f"comment-{mine}") is None


def test_approved_comments_show_to_everyone_and_counts_update(
    app: Flask, client: FlaskClient, path: str
) -> None:
    comment_id = comment_id_from(post_comment(client, path, comment="Now public."))
    assert "0 comments" in text(page(client.get("/")))
    approve(app, comment_id)
    stranger = app.test_client()
    root = page(stranger.get(path))
    shown = by_id(root, f"comment-{comment_id}")
    assert shown is not None and "Now public." in text(shown)
    assert "awaiting moderation" not in text(shown)
    assert "1 response to “On gardens”" in text(root)
    assert "1 comment" in text(page(stranger.get("/")))
    approve_second = comment_id_from(
        post_comment(client, path, comment="Another.", email="other@example.org")
    )
    approve(app, approve_second)
    assert "2 comments" in text(page(stranger.get("/")))


# --- sanitizing on write ----------------------------------------------------------------

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    '"><script>alert(1)</script>',
    "<img src=x onerror=alert(1)>",
    "<b onmouseover=alert(1)>hover</b>",
    '<a href="http://ok.example/" onclick="alert(1)">x</a>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav&#9;ascript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript&colon;alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="//evil.example/">protocol-relative</a>',
    '<blockquote cite="javascript:alert(1)">q</blockquote>',
    '<q cite="data:text/html,x">y</q>',
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<svg><a xlink:href=javascript:alert(1)><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=javascript:alert(1)>x</math>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<iframe src=javascript:alert(1)></iframe>",
    "<object data=javascript:alert(1)></object><embed src=x>",
    "<style>body{display:none}</style>",
    "<!--<script>alert(1)//-->",
    '<a href="http://ok.example/" style="x" class="button" id="commentform">dress-up</a>',
    "<form action=http://evil.example/><input name=password></form>",
    "<b><i>unclosed <a href='http://ok.example/'>link",
    "</div></li></ol><script>alert(1)</script>",
    "<textarea><script>alert(1)</script></textarea>",
    "javascript:alert(1) www.example.org",
    "<details open ontoggle=alert(1)>",
]


def _assert_harmless(root, container) -> None:
    """Nothing in ``container`` (and nothing on the page) can run script or leave its box."""
    allowed = {**{t: set(a) for t, a in DEFAULT_COMMENT_WHITELIST.items()}, "p": set(), "br": set()}
    for element in container.iter():
        if element is container:
            continue
        assert element.tag in allowed, element.tag
        for name, value in element.attrib.items():
            assert name in allowed[element.tag] | ({"rel"} if element.tag == "a" else set()), name
            if name in ("href", "cite"):
                assert re.match(r"(https?://[^/]|mailto:)", value), value
    # The whole page: the site's own script only, no handler, frame, svg or math anywhere.
    scripts = elements(root, "script")
    assert [s.get("src") for s in scripts] == ["/static/blog.js"]
    for element in root.iter():
        assert element.tag not in {"iframe", "svg", "math", "object", "embed", "style", "img"} or (
            element.tag == "img" and "avatar" in (element.get("class") or "")
        ), element.tag
        for name in element.attrib:
            assert not name.lower().startswith("on"), (element.tag, name)
        for name in ("href", "src", "action", "cite", "formaction"):
            value = html_lib.unescape(element.get(name) or "")
            assert not re.match(r"\s*(javascript|data|vbscript):", value, re.I), value
    assert len([f for f in elements(root, "form") if f.get("id") == "commentform"]) == 1


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_through_the_form_leave_nothing_dangerous_on_the_page(
    app: Flask, client: FlaskClient, path: str, attack: str
) -> None:
    typed = "safe words\n" + attack
    comment_id = comment_id_from(post_comment(client, path, comment=typed))
    approve(app, comment_id)
    stored = get_comment(app, comment_id)
    assert stored.content == typed  # the raw text is kept as typed

    served = app.test_client().get(path)
    raw = served.get_data(as_text=True)
    # The page prints the stored HTML as it is: sanitized once, on write.
    assert f'<div class="comment-content">{stored.content_html}</div>' in raw
    root = page(served)
    article = by_id(root, f"comment-{comment_id}")
    assert article is not None
    content = next(with_class(article, "comment-content"))
    assert "safe words" in text(content)
    _assert_harmless(root, content)


@pytest.mark.parametrize("role", ["admin", "editor", "author", "moderator", "subscriber"])
def test_logged_in_commenters_of_every_role_go_through_the_same_sanitizer(
    app: Flask, client: FlaskClient, admin: str, role: str
) -> None:
    """No role gets WordPress's unfiltered_html for comments: admins are sanitized too."""
    create_user(app, "writer", role)
    _, path = create_post(app, admin if role in ("moderator", "subscriber") else "writer")
    assert login(client, "writer").status_code == 302
    typed = "safe words\n" + "\n".join(ATTACKS)
    response = post_comment(client, path, comment=typed, author="", email="")
    comment_id = comment_id_from(response)
    approve(app, comment_id)
    root = page(app.test_client().get(path))
    content = next(with_class(by_id(root, f"comment-{comment_id}"), "comment-content"))
    assert "safe words" in text(content)
    _assert_harmless(root, content)


@pytest.mark.parametrize(
    "name",
    ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "Ann & <b>Bob</b>"],
)
def test_author_name_is_plain_text(app: Flask, client: FlaskClient, path: str, name: str) -> None:
    comment_id = comment_id_from(post_comment(client, path, author=name))
    approve(app, comment_id)
    root = page(app.test_client().get(path))
    article = by_id(root, f"comment-{comment_id}")
    author = next(with_class(article, "comment-author"))
    assert text(author) == " ".join(name.split())
    assert list(author) == []  # no element made from the name
    _assert_harmless(root, next(with_class(article, "comment-content")))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ann.example/blog", "https://ann.example/blog"),
        ("ann.example", "http://ann.example"),
        ('http://ann.example/"onmouseover="alert(1)', 'http://ann.example/"onmouseover="alert(1)'),
    ],
)
def test_website_is_an_escaped_http_link(
    app: Flask, client: FlaskClient, path: str, url: str, shown: str
) -> None:
    comment_id = comment_id_from(post_comment(client, path, url=url))
    approve(app, comment_id)
    root = page(app.test_client().get(path))
    link = next(with_class(by_id(root, f"comment-{comment_id}"), "comment-author")).find("a")
    assert link is not None
    assert link.get("href") == shown
    assert set(link.attrib) == {"href", "rel"}


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "mailto:ann@example.org",
        "ftp://files.example/",
        "http://",
        "http:///path",
        "https://exa mple.org/",
    ],
)
def test_website_must_be_http(app: Flask, client: FlaskClient, path: str, url: str) -> None:
    response = post_comment(client, path, url=url, comment="Visit me.")
    assert response.status_code == 400
    form = comment_form(response)
    error = text(form.find(".//p[@class='comment-form-url']"))
    assert "website must be an http:// or https:// address" in error
    assert "Visit me." in text(form.find(".//textarea"))
    assert all_comments(app) == []


def test_email_is_never_published(app: Flask, client: FlaskClient, path: str) -> None:
    comment_id = comment_id_from(post_comment(client, path, email="Secret.Person@example.org"))
    approve(app, comment_id)
    raw = app.test_client().get(path).get_data(as_text=True).lower()
    assert "secret.person" not in raw
    assert "secret.person%40" not in raw


# --- limits and bad characters ----------------------------------------------------------

LIMIT_CASES = [
    ("author", "Name", 245, lambda n: "N" * n),
    ("email", "Email", 100, lambda n: "e" * 64 + "@" + "d" * (n - 69) + ".org"),
    ("url", "Website", 200, lambda n: "https://example.org/" + "p" * (n - 20)),
    ("comment", "Comment", 65_525, lambda n: ("word " * n)[: n - 1] + "!"),
    ("comment", "Comment", 65_525, lambda n: "😀" * n),
]


@pytest.mark.parametrize(("field", "label", "limit", "make"), LIMIT_CASES)
def test_field_at_its_limit_is_accepted(
    app: Flask, client: FlaskClient, path: str, field: str, label: str, limit: int, make
) -> None:
    value = make(limit)
    assert len(value) == limit
    comment_id = comment_id_from(post_comment(client, path, **{field: value}))
    stored = get_comment(app, comment_id)
    assert getattr(stored, "content" if field == "comment" else field) == value


@pytest.mark.parametrize(("field", "label", "limit", "make"), LIMIT_CASES)
def test_field_over_its_limit_is_refused_and_kept(
    app: Flask, client: FlaskClient, path: str, field: str, label: str, limit: int, make
) -> None:
    value = make(limit + 1)
    response = post_comment(client, path, **{field: value})
    assert response.status_code == 400
    form = comment_form(response)
    errors = text(by_id(page(response), "comment-errors"))
    assert f"{label} is too long: {limit + 1:,} characters, the limit is {limit:,}" in errors
    if field == "comment":
        assert "".join(form.find(".//textarea").itertext()) == value
    else:
        assert form.find(f".//input[@name='{field}']").get("value") == value
    assert all_comments(app) == []


@pytest.mark.parametrize("typed", ["\n\nStarts with blank lines.", "<b>tags</b> & ampersands"])
def test_refused_form_keeps_the_text_exactly(client: FlaskClient, path: str, typed: str) -> None:
    response = post_comment(client, path, author="", comment=typed)
    assert response.status_code == 400
    assert "".join(comment_form(response).find(".//textarea").itertext()) == typed


def _raw_post(client: FlaskClient, path: str, body: bytes):
    return client.post(path, data=body, content_type="application/x-www-form-urlencoded")


def _encoded(**fields: str) -> bytes:
    from urllib.parse import quote

    data = {
        "author": "Ann",
        "email": "ann@example.org",
        "comment": "Hello",
        "comment_parent": "0",
        **fields,
    }
    return "&".join(f"{k}={v if '%' in v else quote(v)}" for k, v in data.items()).encode()


@pytest.mark.parametrize(
    ("field", "value", "label", "message"),
    [
        ("comment", "a%00b", "Comment", "contains a NUL character"),
        ("author", "Ann%00", "Name", "contains a NUL character"),
        ("email", "ann%00@example.org", "Email", "contains a NUL character"),
        ("url", "http://a.example/%00", "Website", "contains a NUL character"),
        ("comment", "bell%07", "Comment", "contains a control character (U+0007)"),
        ("comment", "esc%1B[2J", "Comment", "contains a control character (U+001B)"),
        ("author", "del%7F", "Name", "contains a control character (U+007F)"),
        ("comment", "nel%C2%85", "Comment", "contains a control character (U+0085)"),
    ],
)
def test_nul_and_control_characters_get_a_clear_400(
    app: Flask, client: FlaskClient, path: str, field: str, value: str, label: str, message: str
) -> None:
    response = _raw_post(client, path, _encoded(**{field: value}))
    assert response.status_code == 400
    errors = text(by_id(page(response), "comment-errors"))
    assert f"{label} {message}" in errors
    assert all_comments(app) == []


def test_tab_and_newlines_are_ordinary_text(app: Flask, client: FlaskClient, path: str) -> None:
    comment_id = comment_id_from(
        _raw_post(client, path, _encoded(comment="one%09two%0D%0Athree%0A%0Afour"))
    )
    stored = get_comment(app, comment_id)
    assert stored.content == "one\ttwo\r\nthree\n\nfour"


@pytest.mark.parametrize(
    "body",
    [
        b"author=Ann&email=ann%40example.org&comment=lone \xed\xa0\x80 surrogate&comment_parent=0",
        b"author=\xff\xfe&email=ann%40example.org&comment=latin-1 bytes&comment_parent=0",
    ],
)
def test_a_body_that_is_not_utf8_gets_a_clear_400(
    app: Flask, client: FlaskClient, path: str, body: bytes
) -> None:
    """Werkzeug cannot decode such a body at all and hands over an empty form."""
    response = _raw_post(client, path, body)
    assert response.status_code == 400
    errors = text(by_id(page(response), "comment-errors"))
    assert "not sent as valid UTF-8 text" in errors
    assert all_comments(app) == []


def test_a_percent_encoded_lone_surrogate_stays_literal_text(
    app: Flask, client: FlaskClient, path: str
) -> None:
    """Werkzeug keeps an escape that is not UTF-8 as the literal text "%ED%A0%80"."""
    comment_id = comment_id_from(_raw_post(client, path, _encoded(comment="x%ED%A0%80y")))
    stored = get_comment(app, comment_id)
    assert stored.content == "x%ED%A0%80y"
    assert stored.content.encode("utf-8")  # nothing a database or page could choke on
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("comment", "lone \ud800 high"),
        ("author", "lone \udfff low"),
        ("email", "a\ud83d@example.org"),
        ("url", "http://a.example/\udc00"),
    ],
)
def test_lone_surrogates_are_refused_by_the_service(field: str, value: str) -> None:
    """The web form cannot carry them (see above); the API and the importer can."""
    from blog.services.comments import CommentInput, check_fields

    data = CommentInput(content="fine", author="Ann", email="ann@example.org")
    if field == "comment":
        data.content = value
    else:
        setattr(data, field, value)
    (refusal,) = check_fields(data)
    assert refusal.field == field
    assert "contains an invalid character (a lone surrogate)" in refusal.message


@pytest.mark.parametrize("value", ["99999999999999999999999", "-1", "abc", "1e3"])
def test_a_strange_comment_parent_is_refused_not_a_500(
    app: Flask, client: FlaskClient, path: str, value: str
) -> None:
    response = post_comment(client, path, comment_parent=value)
    assert response.status_code == 400
    assert all_comments(app) == []


# --- required fields, registration, closed posts ----------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"author": ""}, "Please enter your name."),
        ({"email": ""}, "Please enter your email address."),
        ({"author": "   ", "email": " "}, "Please enter your name."),
        ({"email": "not-an-email"}, "Please enter a valid email address."),
        ({"email": "ann@localhost"}, "Please enter a valid email address."),
        ({"comment": ""}, "type"),
        ({"comment": "   \n  "}, "type"),
        ({"comment": "<script>only script</script>"}, "type"),
    ],
)
def test_required_fields(
    app: Flask, client: FlaskClient, path: str, fields: dict, message: str
) -> None:
    response = post_comment(client, path, **fields)
    assert response.status_code == 400
    assert message in text(by_id(page(response), "comment-errors"))
    assert all_comments(app) == []


def test_every_problem_is_reported_at_once(app: Flask, client: FlaskClient, path: str) -> None:
    response = post_comment(client, path, email="not-an-email", comment="  ")
    assert response.status_code == 400
    errors = text(by_id(page(response), "comment-errors"))
    assert "Please enter a valid email address." in errors
    assert "Please type a comment." in errors


def test_the_form_does_not_cut_what_is_pasted(client: FlaskClient, path: str) -> None:
    """No maxlength: a browser would silently cut a long paste; the server says so instead."""
    form = comment_form(client.get(path))
    for field in form.iter():
        if field.get("name") in ("author", "email", "url", "comment"):
            assert field.get("maxlength") is None


def test_name_and_email_optional_when_the_setting_is_off(
    app: Flask, client: FlaskClient, path: str
) -> None:
    set_discussion(app, require_name_email=False)
    form = comment_form(client.get(path))
    assert form.find(".//input[@name='author']").get("required") is None
    comment_id = comment_id_from(post_comment(client, path, author="", email=""))
    assert get_comment(app, comment_id).author == ""
    # A bad email is still refused when one is given.
    assert post_comment(client, path, author="", email="nope", comment="x").status_code == 400


def test_comment_registration_replaces_the_form_with_a_login_link(
    app: Flask, client: FlaskClient, path: str
) -> None:
    set_discussion(app, comment_registration=True)
    root = page(client.get(path))
    assert by_id(root, "commentform") is None
    must = next(with_class(root, "must-log-in"))
    assert must.find("a").get("href").startswith("/login?next=")
    refused = post_comment(client, path)
    assert refused.status_code == 403
    assert "You must be logged in to post a comment." in text(page(refused))
    assert all_comments(app) == []

    create_user(app, "reader", "subscriber", email="reader@example.org")
    login(client, "reader")
    assert comment_form(client.get(path)) is not None
    comment_id = comment_id_from(post_comment(client, path, author="", email=""))
    stored = get_comment(app, comment_id)
    assert (stored.author, stored.email) == ("reader", "reader@example.org")


def _closed_post(app: Flask, admin: str, how: str) -> str:
    if how == "per-post":
        return create_post(app, admin, title="Closed", comments_open=False)[1]
    set_discussion(app, close_comments_for_old_posts=True, close_comments_days_old=14)
    return create_post(app, admin, title="Old", published_at=utcnow() - timedelta(days=30))[1]


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("per-post", "Comments are closed."),
        ("by-age", "Comments on this post closed 14 days after publishing."),
    ],
)
def test_closed_comments_show_no_form_and_refuse_posts(
    app: Flask, client: FlaskClient, admin: str, how: str, message: str
) -> None:
    path = _closed_post(app, admin, how)
    root = page(client.get(path))
    assert by_id(root, "commentform") is None
    assert message in text(next(with_class(root, "no-comments")))
    refused = post_comment(client, path)
    assert refused.status_code == 403
    assert message in text(page(refused))
    assert all_comments(app) == []


def test_old_post_stays_open_when_closing_by_age_is_off(
    app: Flask, client: FlaskClient, admin: str
) -> None:
    path = create_post(app, admin, title="Old", published_at=utcnow() - timedelta(days=300))[1]
    assert comment_form(client.get(path)) is not None
    assert post_comment(client, path).status_code == 303


# --- replies and threads ----------------------------------------------------------------


def test_reply_nests_under_its_parent(
    app: Flask, client: FlaskClient, path: str, post_id: int
) -> None:
    parent = add_comment(app, post_id, "The parent.")
    reply = comment_id_from(post_comment(client, path, comment="The reply.", comment_parent=parent))
    assert get_comment(app, reply).parent_id == parent
    approve(app, reply)
    root = page(app.test_client().get(path))
    parents = parent_map(root)
    li = parents[by_id(root, f"comment-{reply}")]
    children = parents[li]
    assert children.tag == "ol" and children.get("class") == "children"
    assert parents[children] is parents[by_id(root, f"comment-{parent}")]
    assert parents[children].get("id") == f"li-comment-{parent}"
    assert "depth-2" in li.get("class")


@pytest.mark.parametrize("kind", ["other-post", "held", "spam", "trash", "missing"])
def test_replies_only_to_approved_comments_of_the_same_post(
    app: Flask, client: FlaskClient, admin: str, path: str, post_id: int, kind: str
) -> None:
    if kind == "other-post":
        other_id = create_post(app, admin, title="Elsewhere")[0]
        parent = add_comment(app, other_id, "On another post.")
    elif kind == "missing":
        parent = 987654
    else:
        status = {"held": "pending", "spam": "spam", "trash": "trash"}[kind]
        parent = add_comment(app, post_id, "Not public.", status=CommentStatus(status))
    before = len(all_comments(app))
    response = post_comment(client, path, comment="A reply.", comment_parent=parent)
    assert response.status_code == 400
    assert "You can only reply to a published comment on this post." in text(
        by_id(page(response), "comment-errors")
    )
    assert len(all_comments(app)) == before


@pytest.mark.parametrize(("depth", "thread"), [(2, True), (3, True), (5, False)])
def test_deep_replies_are_flattened_to_the_thread_depth(
    app: Flask, client: FlaskClient, path: str, post_id: int, depth: int, thread: bool
) -> None:
    set_discussion(app, thread_comments_depth=depth, thread_comments=thread)
    chain = [add_comment(app, post_id, "level 1")]
    for level in range(2, 6):
        chain.append(add_comment(app, post_id, f"level {level}", parent_id=chain[-1]))
    root = page(client.get(path))
    shown = depth if thread else 1
    parents = parent_map(root)
    for level, comment_id in enumerate(chain, start=1):
        li = parents[by_id(root, f"comment-{comment_id}")]
        assert f"depth-{min(level, shown)}" in li.get("class").split()
        holder = parents[li]
        if level == 1 or shown == 1:
            assert holder.get("class") == "comment-list"
        else:
            expected_parent = chain[min(level, shown) - 2]
            assert parents[holder].get("id") == f"li-comment-{expected_parent}"
    # As WordPress, Reply links stop at the deepest level (none at all without threading)...
    for level, comment_id in enumerate(chain, start=1):
        links = list(with_class(by_id(root, f"comment-{comment_id}"), "comment-reply-link"))
        assert len(links) == (1 if min(level, shown) < shown else 0)
    # ...but a reply to the deepest comment is still accepted (and flattened).
    assert post_comment(client, path, comment_parent=chain[-1]).status_code == 303


def test_replytocom_preselects_the_parent_server_side(
    app: Flask, client: FlaskClient, path: str, post_id: int
) -> None:
    parent = add_comment(app, post_id, "Answer me.", author="Carol")
    root = page(client.get(f"{path}?replytocom={parent}"))
    assert by_id(root, "comment_parent").get("value") == str(parent)
    assert "Reply to Carol" in text(by_id(root, "reply-title"))
    cancel = by_id(root, "cancel-comment-reply-link")
    assert cancel.get("hidden") is None
    reply_link = next(with_class(by_id(root, f"comment-{parent}"), "comment-reply-link"))
    assert reply_link.get("href") == f"?replytocom={parent}#respond"


@pytest.mark.parametrize("kind", ["held", "unknown", "other-post", "garbage", "huge"])
def test_replytocom_ignores_what_cannot_be_answered(
    app: Flask, client: FlaskClient, admin: str, path: str, post_id: int, kind: str
) -> None:
    if kind == "held":
        target = str(comment_id_from(post_comment(client, path, comment="My own held one.")))
    elif kind == "other-post":
        target = str(add_comment(app, create_post(app, admin, title="Other")[0]))
    else:
        target = {"unknown": "424242", "garbage": "x'", "huge": "9" * 30}[kind]
    root = page(client.get(f"{path}?replytocom={target}"))
    assert by_id(root, "comment_parent").get("value") == "0"
    assert "Leave a Reply" in text(by_id(root, "reply-title"))


# --- comment pages ----------------------------------------------------------------------


@pytest.fixture
def five_threads(app: Flask, post_id: int) -> list[int]:
    base = utcnow() - timedelta(hours=1)
    ids = []
    for n in range(5):
        ids.append(add_comment(app, post_id, f"thread {n}", created_at=base + timedelta(minutes=n)))
    # A reply to the first thread travels with it.
    ids.append(
        add_comment(app, post_id, "reply", parent_id=ids[0], created_at=base + timedelta(hours=2))
    )
    return ids


def _shown_ids(response) -> list[int]:
    root = page(response)
    return [
        int(e.get("id").removeprefix("comment-"))
        for e in root.iter("article")
        if (e.get("id") or "").startswith("comment-")
    ]


@pytest.mark.parametrize(
    ("settings", "query", "expected", "label"),
    [
        ({"default_comments_page": "newest"}, "", [4], "Comment page 3 of 3"),
        ({"default_comments_page": "oldest"}, "", [0, 5, 1], "Comment page 1 of 3"),
        ({}, "?cpage=2", [2, 3], "Comment page 2 of 3"),
        ({}, "?cpage=1", [0, 5, 1], "Comment page 1 of 3"),
        ({"comment_order": "desc"}, "?cpage=1", [1, 0, 5], "Comment page 1 of 3"),
        ({"comment_order": "desc"}, "?cpage=2", [3, 2], "Comment page 2 of 3"),
        ({"comment_order": "desc", "default_comments_page": "oldest"}, "", [1, 0, 5], "1 of 3"),
        ({}, "?cpage=99", [4], "Comment page 3 of 3"),
        ({"comments_per_page": 10}, "", [0, 5, 1, 2, 3, 4], None),
    ],
)
def test_comment_paging(
    app: Flask,
    client: FlaskClient,
    path: str,
    five_threads: list[int],
    settings: dict,
    query: str,
    expected: list[int],
    label: str | None,
) -> None:
    set_discussion(app, **{"page_comments": True, "comments_per_page": 2, **settings})
    response = client.get(path + query)
    assert response.status_code == 200
    assert _shown_ids(response) == [five_threads[i] for i in expected]
    pager = list(with_class(page(response), "comment-pager"))
    if label is None:
        assert pager == []
    else:
        assert label in text(pager[0])


def test_all_comments_on_one_page_when_paging_is_off(
    client: FlaskClient, path: str, five_threads: list[int]
) -> None:
    assert _shown_ids(client.get(path + "?cpage=2")) == [
        five_threads[i] for i in (0, 5, 1, 2, 3, 4)
    ]


def test_redirect_after_posting_points_at_the_comment_s_page(
    app: Flask, admin: str, client: FlaskClient, path: str, five_threads: list[int]
) -> None:
    set_discussion(app, page_comments=True, comments_per_page=2)
    login(client, admin)  # an admin's comment is approved at once
    response = post_comment(client, path, comment="Sixth thread.")
    comment_id = comment_id_from(response)
    assert response.headers["Location"] == f"{path}?cpage=3#comment-{comment_id}"


# --- cookies: remember me ---------------------------------------------------------------


def _cookie_names(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_remember_sets_cookies_only_when_ticked_and_clears_them_when_not(
    client: FlaskClient, path: str
) -> None:
    unticked = post_comment(client, path, comment="No cookies please.")
    assert not {"comment_author", "comment_author_email", "comment_author_url"} & set(
        _cookie_names(unticked)
    )

    ticked = post_comment(
        client,
        path,
        comment="Remember me.",
        url="https://ann.example/",
        remember="y",
    )
    cookies = _cookie_names(ticked)
    assert {"comment_author", "comment_author_email", "comment_author_url"} <= set(cookies)
    assert all("HttpOnly" in cookies[name] for name in ("comment_author", "comment_author_email"))
    form = comment_form(client.get(path))
    assert form.find(".//input[@name='author']").get("value") == "Ann Reader"
    assert form.find(".//input[@name='email']").get("value") == "ann@example.org"
    assert form.find(".//input[@name='url']").get("value") == "https://ann.example/"
    assert form.find(".//input[@name='remember']").get("checked") is not None

    cleared = post_comment(client, path, comment="Forget me now.")
    cookies = _cookie_names(cleared)
    assert {"comment_author", "comment_author_email", "comment_author_url"} <= set(cookies)
    assert all("Max-Age=0" in cookies[name] for name in ("comment_author", "comment_author_email"))
    form = comment_form(client.get(path))
    assert form.find(".//input[@name='author']").get("value") == ""
    assert form.find(".//input[@name='remember']").get("checked") is None


def test_a_forged_remember_cookie_is_ignored(client: FlaskClient, path: str) -> None:
    client.set_cookie("comment_author", "Mallory.not-signed")
    form = comment_form(client.get(path))
    assert form.find(".//input[@name='author']").get("value") == ""


# --- anti-abuse -------------------------------------------------------------------------


def _stamp(app: Flask, post_id: int, seconds_ago: float) -> str:
    """The form's token for a reader, as if the page had been made ``seconds_ago``."""
    return tokens.issue(app.config["SECRET_KEY"], post_id, at=time.time() - seconds_ago)


@pytest.mark.parametrize("stamp", ["missing", "forged", "fresh"])
def test_time_trap_turns_fast_or_stampless_posts_into_spam(
    custom_app, admin: str, post, stamp: str
) -> None:
    app = custom_app(COMMENT_MIN_FILL_SECONDS=30)
    client = app.test_client()
    fields = {}
    if stamp == "forged":
        fields["csrf_token"] = "MTIzNDU.forged.signature"
    elif stamp == "fresh":
        fields["csrf_token"] = (
            comment_form(client.get(post[1])).find(".//input[@name='csrf_token']").get("value")
        )
    response = post_comment(client, post[1], **fields)
    comment = get_comment(app, comment_id_from(response))
    assert comment.status == CommentStatus.SPAM
    assert any(
        "likely a bot" in reason and "less than 30 s" in reason for reason in comment.reasons
    )
    # Spam is never shown, not even to the one who sent it.
    assert by_id(page(client.get(post[1])), f"comment-{comment.id}") is None


def test_time_trap_lets_a_patient_reader_through(custom_app, admin: str, post) -> None:
    app = custom_app(COMMENT_MIN_FILL_SECONDS=30)
    response = post_comment(app.test_client(), post[1], csrf_token=_stamp(app, post[0], 45))
    comment = get_comment(app, comment_id_from(response))
    assert comment.status == CommentStatus.PENDING
    assert comment.reasons == ["first comment from this email"]


def test_a_refused_form_keeps_its_time_stamp(custom_app, admin: str, post) -> None:
    """A reader who forgot their name and fixes it at once is not taken for a bot."""
    app = custom_app(COMMENT_MIN_FILL_SECONDS=30)
    client = app.test_client()
    stamp = _stamp(app, post[0], 45)
    refused = post_comment(client, post[1], author="", csrf_token=stamp)
    assert refused.status_code == 400
    kept = comment_form(refused).find(".//input[@name='csrf_token']").get("value")
    assert kept == stamp
    comment = get_comment(app, comment_id_from(post_comment(client, post[1], csrf_token=kept)))
    assert comment.status == CommentStatus.PENDING


def test_flood_is_refused_with_the_wordpress_message(custom_app, admin: str, post) -> None:
    app = custom_app(COMMENT_FLOOD_SECONDS=60)
    client = app.test_client()
    assert post_comment(client, post[1], comment="First.").status_code == 303
    again = post_comment(client, post[1], comment="Second, too soon.", email="b@example.org")
    # WordPress's answer: 429, with how long to wait; the form keeps the text.
    assert again.status_code == 429
    assert 55 <= int(again.headers["Retry-After"]) <= 60
    assert "You are posting comments too quickly." in text(by_id(page(again), "comment-errors"))
    assert "Second, too soon." in again.get_data(as_text=True)
    assert len(all_comments(app)) == 1


def test_duplicate_is_refused(app: Flask, client: FlaskClient, path: str) -> None:
    assert post_comment(client, path, comment="Same words.").status_code == 303
    again = post_comment(client, path, comment="Same words.")
    assert again.status_code == 409  # WordPress's answer to a duplicate
    assert "Retry-After" not in again.headers
    assert "already said that" in text(by_id(page(again), "comment-errors"))
    assert "Same words." in again.get_data(as_text=True)
    # Someone else may say the same thing.
    other = post_comment(
        app.test_client(), path, comment="Same words.", author="Zed", email="zed@example.org"
    )
    assert other.status_code == 303


def test_two_anonymous_readers_may_say_the_same_thing(
    app: Flask, client: FlaskClient, path: str
) -> None:
    set_discussion(app, require_name_email=False)
    assert post_comment(client, path, author="", email="", comment="Thanks!").status_code == 303
    other = post_comment(app.test_client(), path, author="Zed", email="", comment="Thanks!")
    assert other.status_code == 303


def test_rate_limit_answers_429(custom_app, admin: str, post) -> None:
    app = custom_app(RATELIMIT_ENABLED=True, COMMENT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    codes = [
        post_comment(client, post[1], comment=f"Comment {n}", email=f"r{n}@example.org").status_code
        for n in range(3)
    ]
    assert codes == [303, 303, 429]
    limited = post_comment(client, post[1], comment="Again.")
    assert limited.status_code == 429
    assert "Too many requests" in text(page(limited))
    assert client.get(post[1]).status_code == 200  # reading is never limited
    assert len(all_comments(app)) == 2


# --- the post page's queries ------------------------------------------------------------


def test_post_page_loads_its_comments_in_one_query(
    app: Flask, client: FlaskClient, admin: str
) -> None:
    counts = {}
    for size in (3, 30):
        post_id, path = create_post(app, admin, title=f"With {size}")
        ids: list[int] = []
        for n in range(size):
            parent = ids[n // 3] if n >= 3 else None
            ids.append(add_comment(app, post_id, f"c{n}", parent_id=parent, author=f"A{n}"))
        # The reader also has a held comment of their own on each page.
        comment_id_from(post_comment(client, path, comment=f"mine on {size}"))
        client.get(path)  # warm-up: settings and the like
        counts[size] = count_statements(app, client, path)
        assert len(_shown_ids(client.get(path))) == size + 1
    assert counts[3] == counts[30]


def test_website_too_long_once_http_is_added_is_refused(
    app: Flask, client: FlaskClient, path: str
) -> None:
    typed = "example.org/" + "p" * 188
    assert len(typed) == 200
    response = post_comment(client, path, url=typed)
    assert response.status_code == 400
    assert "Website is too long once http:// is added: 207 characters" in text(
        by_id(page(response), "comment-errors")
    )
    assert comment_form(response).find(".//input[@name='url']").get("value") == typed


def test_the_import_path_uses_the_same_checks_and_sanitizer(app: Flask, post_id: int) -> None:
    """What the WordPress importer will call: no way in skips the sanitizer or the limits."""
    from blog.models import Post
    from blog.sanitize import DEFAULT_COMMENT_WHITELIST
    from blog.services import comments as comment_service

    when = datetime(2020, 1, 2, 3, 4, tzinfo=UTC)
    with app.app_context():
        post = db.session.get(Post, post_id)
        data = comment_service.CommentInput(
            content='<b>kept</b><script>alert(1)</script><a href="javascript:x">y</a>',
            author="Importer",
            email="imp@example.org",
        )
        comment = comment_service.import_comment(
            post, data, CommentStatus.APPROVED, when, DEFAULT_COMMENT_WHITELIST
        )
        db.session.commit()
        assert comment.content_html == "<p><b>kept</b><a>y</a></p>"
        assert comment.created_at == when
        assert db.session.get(Post, post_id).comment_count == 1
        for bad in ({"content": "x" * 65_526}, {"content": "nul\x00"}, {"author": "a" * 246}):
            fields = {"content": "fine", **bad}
            with pytest.raises(comment_service.CommentRefused):
                comment_service.import_comment(
                    post,
                    comment_service.CommentInput(**fields),
                    CommentStatus.APPROVED,
                    when,
                    DEFAULT_COMMENT_WHITELIST,
                )


@pytest.mark.parametrize(("proxies", "stored_ip"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_reader_s_address_behind_a_trusted_proxy(
    custom_app, admin: str, post, proxies: int, stored_ip: str
) -> None:
    """X-Forwarded-For counts only when PROXY_FIX says a proxy stands in front."""
    app = custom_app(PROXY_FIX=proxies)
    client = app.test_client()
    response = client.post(post[1], data=comment_data(), headers={"X-Forwarded-For": "203.0.113.9"})
    assert get_comment(app, comment_id_from(response)).ip == stored_ip


@pytest.mark.parametrize(
    ("role", "offered"), [("admin", False), ("subscriber", True), (None, True)]
)
def test_the_approval_mail_is_offered_only_to_whoever_must_wait(app, admin, role, offered):
    """A moderator's comment publishes at once: no 'Email me when it is approved'."""
    _, path = create_post(app, admin, title="Offers")
    client = app.test_client()
    if role is not None:
        create_user(app, f"u-{role}", role)
        login(client, f"u-{role}")
    body = client.get(path).get_data(as_text=True)
    assert ('name="notify"' in body) is offered
    assert 'name="notify_replies"' in body


def test_a_comment_post_asks_the_database_little(app: Flask, client: FlaskClient, admin: str):
    """Counted, not timed: a new commenter's history is one statement, asked before the
    lock and once more inside it; the post's tags are not read for a page never shown."""
    _, path = create_post(app, admin, title="Counted", tags=["gardens"])
    post_comment(client, path, comment="A first one, to warm the settings up.")
    with recorded_statements(app) as statements:
        response = post_comment(client, path, comment="Counted.", email="new@example.org")
    assert comment_id_from(response)
    history = [s for s in statements if "lower(comments.email)" in s]
    assert len(history) == 2, history
    assert not [s for s in statements if "post_tags" in s]
    # post, versions, history, lock (PostgreSQL: one per post, address and email), history,
    # spam model, insert, fragment, post counts, tallies, the log.
    assert len(statements) <= 15, "\n".join(statements)


def test_a_refused_comment_shows_the_post_with_its_tags(app: Flask, client: FlaskClient, admin):
    _, path = create_post(app, admin, title="Tagged", tags=["gardens"])
    refused = post_comment(client, path, comment="")
    assert refused.status_code == 400
    tags = [a.text for a in elements(page(refused), "a") if a.get("rel") == "tag"]
    assert tags == ["gardens"]
